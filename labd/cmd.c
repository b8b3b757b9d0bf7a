/* SPDX-License-Identifier: ISC */
/*
 * cmd.c - the control protocol's command table.  Each entry names the
 * command, its handler, its help and its arguments (key, type, required
 * or not, help).  main.c hands the table to control.c, whose dispatcher
 * checks every request against the arguments before the handler runs,
 * and whose "help" lists the table as it is: adding a command here is all
 * it takes to document it.
 */
#include <string.h>
#include <unistd.h>

#include "labd/labd.h"
#include "labd/vmjob.h"

static void	cmd_status(const struct req *, json_t *);
static void	cmd_events_list(const struct req *, json_t *);

/* Arguments many commands share. */
#define SPEC_VM		{ "vm", ARG_STRING, ARG_REQUIRED, \
			  "the VM, COURSE-STUDENT" }
#define SPEC_WAIT	{ "wait", ARG_BOOLEAN, ARG_OPTIONAL, \
			  "false: reply at once rather than when the VM is" \
			  " there (default true)" }
#define SPEC_COURSE	{ "course", ARG_STRING, ARG_REQUIRED, "the course" }
#define SPEC_SETTING(key, help) \
			{ key, ARG_STRING, ARG_OPTIONAL, help }

static const struct cmd cmds[] = {
	{ .name = "hello", .fn = control_hello, .flags = CMD_CONN | CMD_TA,
	  .help = "protocol and daemon version" },
	{ .name = "events.subscribe", .fn = control_subscribe,
	  .flags = CMD_CONN | CMD_TA,
	  .help = "receive state changes and progress on this connection"
	  " as {\"event\":...} lines" },
	{ .name = "help", .fn = control_help, .flags = CMD_TA,
	  .help = "this table: each command, its help and its arguments" },
	{ .name = "events.list", .fn = cmd_events_list, .flags = CMD_TA,
	  .help = "the event log, newest last: who did what, when (course"
	  " and VM operations, wakes, gateway logins and logouts)",
	  .args = {
		{ "limit", ARG_INTEGER, ARG_OPTIONAL,
		  "at most this many, the newest (default 50, up to 10000)" },
		{ "kind", ARG_STRING, ARG_OPTIONAL,
		  "only these: a kind (gateway.login) or its start (gateway.)" },
	  } },
	{ .name = "status", .fn = cmd_status, .flags = CMD_TA,
	  .help = "daemon version, uptime, accelerator, VMs running/total" },
	{ .name = "template.import", .fn = cmd_template_import,
	  .help = "register a template from a profile .ini, an .ova/.ovf"
	  " appliance (its memory and vCPUs) or a disk image (qcow2, raw,"
	  " vmdk, vdi, vhdx, vhd); a new version each time",
	  .args = {
		{ "name", ARG_STRING, ARG_REQUIRED, "the template's name" },
		{ "path", ARG_STRING, ARG_REQUIRED,
		  "the file, an absolute path on the labd host" },
		{ "preallocate", ARG_BOOLEAN, ARG_OPTIONAL,
		  "qcow2 metadata allocated up front" },
	  } },
	{ .name = "template.list", .fn = cmd_template_list, .flags = CMD_TA,
	  .help = "every template version" },
	{ .name = "template.show", .fn = cmd_template_show, .flags = CMD_TA,
	  .help = "every field of a version, the disk's mode and sizes, and"
	  " the courses and VMs that use it",
	  .args = {
		{ "name", ARG_STRING, ARG_REQUIRED,
		  "NAME@V, or NAME for the newest" },
	  } },
	{ .name = "template.from_vm", .fn = cmd_template_from_vm,
	  .help = "the VM's disk, flattened (live while it runs), as the"
	  " next version of template name, with the hardware, kernel and"
	  " ports of the VM's template; source vm:VM",
	  .args = {
		SPEC_VM,
		{ "name", ARG_STRING, ARG_REQUIRED, "the template's name" },
	  } },
	{ .name = "template.rm", .fn = cmd_template_rm,
	  .help = "remove a version; refused (busy) while a course uses it",
	  .args = {
		{ "name", ARG_STRING, ARG_REQUIRED,
		  "NAME@V, or NAME when it has one version" },
	  } },
	{ .name = "course.create", .fn = cmd_course_create,
	  .help = "one VM a student, started; the reply holds the generated"
	  " passwords, shown only once",
	  .args = {
		{ "name", ARG_STRING, ARG_REQUIRED, "the course's name" },
		{ "template", ARG_STRING, ARG_REQUIRED,
		  "NAME (the newest version) or NAME@V" },
		{ "roster", ARG_STRING, ARG_REQUIRED,
		  "the roster CSV's text: id,name,email,ssh_key" },
		{ "roster_name", ARG_STRING, ARG_OPTIONAL,
		  "the roster's file name, for error messages" },
		{ "overcommit", ARG_BOOLEAN, ARG_OPTIONAL,
		  "create it even when its memory or disk does not fit" },
	  } },
	{ .name = "course.list", .fn = cmd_course_list, .flags = CMD_TA,
	  .help = "courses with their VM counts" },
	{ .name = "course.show", .fn = cmd_course_show, .flags = CMD_TA,
	  .help = "a course's template, settings and VMs",
	  .args = { SPEC_COURSE } },
	{ .name = "course.rm", .fn = cmd_course_rm,
	  .help = "remove a course whose VMs are all stopped: its VMs, their"
	  " disks and snapshots, its students; its ports are freed",
	  .args = { SPEC_COURSE } },
	{ .name = "course.set", .fn = cmd_course_set,
	  .help = "change a course's settings; those not given stay",
	  .args = {
		SPEC_COURSE,
		SPEC_SETTING("reset_at", "\"12:00,18:00\": reset the running"
		    " VMs to reset_to at those times; \"\" never"),
		SPEC_SETTING("reset_to", "the snapshot of the scheduled"
		    " resets (default pristine)"),
		SPEC_SETTING("idle_suspend", "\"30m\": suspend a VM with no"
		    " connection for that long; \"off\" never"),
		SPEC_SETTING("internet", "\"on\"|\"off\": may the VMs reach"
		    " the internet"),
		SPEC_SETTING("isolation", "\"on\"|\"off\": are the VMs kept"
		    " from one another"),
		SPEC_SETTING("allow_from", "CIDR[,CIDR...]: only these may"
		    " reach the VMs' ports (labd as root); \"any\" lifts it"),
		SPEC_SETTING("allow_nets", "CIDR[,CIDR...]: private networks"
		    " its VMs reach with internet (labd as root); \"none\""),
		SPEC_SETTING("sudo", "\"on\"|\"off\": may students become root"
		    " (live in ready VMs)"),
		SPEC_SETTING("student_reset", "\"on\"|\"off\": may students"
		    " reset their VM through the gateway (ssh STUDENT+reset@)"),
		{ "checks", ARG_ARRAY, ARG_OPTIONAL,
		  "[{name, description, script}] as course.check's goals:"
		  " stored with the course for course.check without goals and"
		  " the gateway's STUDENT+check@; [] clears them" },
		SPEC_SETTING("exam_end", "\"HH:MM[:SS]\": at its next"
		    " occurrence, once, collect and close access; \"none\""),
		SPEC_SETTING("collect", "PATH[,PATH...]: what exam_end"
		    " collects into state_dir/collected/COURSE/"),
		SPEC_SETTING("cpu_weight", "1..10000 or \"default\" (100):"
		    " each VM's share of the CPU against the others', at its"
		    " next start"),
		SPEC_SETTING("memory_max", "\"512M\", \"1G\" or \"auto\""
		    " (guest RAM + tb_size + a margin): each VM's QEMU at most,"
		    " at its next start; not below the guest's RAM"),
		SPEC_SETTING("pids_max", "64..65536 or \"default\" (256):"
		    " each VM's QEMU's threads at most, at its next start"),
	  } },
	{ .name = "course.access", .fn = cmd_course_access,
	  .help = "the access sheet, one row a student",
	  .args = { SPEC_COURSE } },
	{ .name = "vm.list", .fn = cmd_vm_list, .flags = CMD_TA,
	  .help = "one object a VM; one checked has checks_met,"
	  " checks_total and checks_at (unix time) of its last check",
	  .args = {
		{ "course", ARG_STRING, ARG_OPTIONAL,
		  "only this course's VMs" },
	  } },
	{ .name = "vm.start", .fn = cmd_vm_start,
	  .help = "start, reply when ready",
	  .args = { SPEC_VM, SPEC_WAIT } },
	{ .name = "vm.stop", .fn = cmd_vm_stop,
	  .help = "ACPI powerdown (or quit with force), reply when stopped",
	  .args = {
		SPEC_VM,
		{ "force", ARG_BOOLEAN, ARG_OPTIONAL,
		  "quit QEMU at once, no powerdown" },
		SPEC_WAIT,
	  } },
	{ .name = "vm.reset", .fn = cmd_vm_reset, .flags = CMD_TA,
	  .help = "back to a snapshot: RAM and disk without a reboot when it"
	  " holds RAM; same slot, ports and credentials",
	  .args = {
		SPEC_VM,
		{ "to", ARG_STRING, ARG_OPTIONAL,
		  "the snapshot (default pristine)" },
		{ "hard", ARG_BOOLEAN, ARG_OPTIONAL,
		  "a fresh overlay from the template instead" },
		SPEC_WAIT,
	  } },
	{ .name = "vm.resume", .fn = cmd_vm_start, .flags = CMD_TA,
	  .help = "a suspended VM continues where it stopped (= vm.start)",
	  .args = { SPEC_VM, SPEC_WAIT } },
	{ .name = "vm.suspend", .fn = cmd_vm_suspend, .flags = CMD_TA,
	  .help = "RAM saved into the disk, QEMU gone; vm.resume continues",
	  .args = { SPEC_VM, SPEC_WAIT } },
	{ .name = "vm.snapshot", .fn = cmd_vm_snapshot,
	  .help = "with RAM when running, disk alone when stopped; replaces"
	  " one of the same name",
	  .args = {
		SPEC_VM,
		{ "name", ARG_STRING, ARG_REQUIRED, "the snapshot's name" },
	  } },
	{ .name = "vm.snapshots", .fn = cmd_vm_snapshots, .flags = CMD_TA,
	  .help = "name, time, size, with or without RAM",
	  .args = { SPEC_VM } },
	{ .name = "vm.snapshot_rm", .fn = cmd_vm_snapshot_rm,
	  .help = "delete a snapshot",
	  .args = {
		SPEC_VM,
		{ "name", ARG_STRING, ARG_REQUIRED, "the snapshot's name" },
	  } },
	{ .name = "vm.backup", .fn = cmd_vm_backup,
	  .help = "a standalone qcow2 of the disk, live while the VM runs;"
	  " {vm, file, bytes, virtual_size, seconds, live, synced}",
	  .args = {
		SPEC_VM,
		{ "path", ARG_STRING, ARG_REQUIRED,
		  "the file to write, an absolute path on the labd host" },
		{ "force", ARG_BOOLEAN, ARG_OPTIONAL,
		  "replace an existing file" },
	  } },
	{ .name = "vm.vnc", .fn = cmd_vm_vnc, .flags = CMD_TA,
	  .help = "how to reach the VM's screen over VNC: address, port,"
	  " and for the admin role the student's VNC password",
	  .args = {
		SPEC_VM,
	  } },
	{ .name = "vm.console", .fn = cmd_vm_console, .flags = CMD_TA,
	  .help = "the VM's serial console, a connected socket passed with"
	  " the reply (SCM_RIGHTS); the VM must run",
	  .args = {
		SPEC_VM,
	  } },
	{ .name = "vm.passwd", .fn = cmd_vm_passwd,
	  .help = "a new password for the VM's student, set in the guest (it"
	  " must be ready) and kept hashed; {vm, user, password}",
	  .args = {
		SPEC_VM,
	  } },
	{ .name = "removed.list", .fn = cmd_removed_list,
	  .help = "disks kept after a course rm or a reset --hard;"
	  " {removed: [{id, vm, course, student, removed, expires, bytes,"
	  " why}], keep_removed}" },
	{ .name = "removed.recover", .fn = cmd_removed_recover,
	  .help = "a kept disk back as its VM's disk, which must be stopped;"
	  " the disk it replaces is kept in turn; {vm, id, kept, snapshots}",
	  .args = {
		{ "id", ARG_STRING, ARG_REQUIRED, "the kept disk's ID" },
		{ "vm", ARG_STRING, ARG_OPTIONAL,
		  "the VM to put it in (default: the one it came from)" },
	  } },
	{ .name = "course.check", .fn = cmd_course_check, .flags = CMD_TA,
	  .help = "goal scripts run as root in every ready VM of the course"
	  " (one session a VM, in parallel), exit 0 = met; stored, and"
	  " {course, started, ms, goals: [{name, description}], rows: [{vm,"
	  " student, state, error, met, results: [{goal, met, status,"
	  " reason}]}]}",
	  .args = {
		SPEC_COURSE,
		{ "goals", ARG_ARRAY, ARG_OPTIONAL,
		  "[{name, description, script}], 1 to 32, 64 KiB each;"
		  " absent: the course's stored checks (course.set checks)" },
		{ "student", ARG_STRING, ARG_OPTIONAL, "that student's VM only" },
		{ "timeout", ARG_INTEGER, ARG_OPTIONAL,
		  "seconds a goal may run, 1 to 600 (default 30)" },
	  } },
	{ .name = "course.check_last", .fn = cmd_course_check_last,
	  .flags = CMD_TA,
	  .help = "the course's last check, as course.check replied, without"
	  " running it again",
	  .args = { SPEC_COURSE } },
	{ .name = "vm.checks", .fn = cmd_vm_checks, .flags = CMD_TA,
	  .help = "the VM's last check (course.check_last's row of it):"
	  " {vm, checked, course, started, finished, state, error, met,"
	  " total, goals: [{name, description, met, status, reason}]};"
	  " checked false and no goals when never checked",
	  .args = { SPEC_VM } },
	{ .name = "vm.collect", .fn = cmd_vm_collect,
	  .help = "PATHs of a ready VM as a tar stream (tar -C / -cf - in the"
	  " guest, as root over SSH with labd's key), on a socket passed"
	  " with the reply (SCM_RIGHTS) in proto.h's frames; the reply is"
	  " {vm, student, max_bytes}; labd writes nothing",
	  .args = {
		SPEC_VM,
		{ "paths", ARG_ARRAY, ARG_REQUIRED,
		  "absolute paths in the guest, globs allowed; no . or .." },
		{ "max_bytes", ARG_INTEGER, ARG_OPTIONAL,
		  "the stream's cap (default 1 GiB)" },
		{ "timeout", ARG_INTEGER, ARG_OPTIONAL,
		  "seconds, 1 to 21600 (default 600)" },
	  } },
	{ .name = "vm.exec", .fn = cmd_vm_exec,
	  .help = "a command through the shell as root over SSH with labd's"
	  " key, on a ready VM; {vm, status, output}: stdout and stderr,"
	  " the first 64 KiB; a failing command is still ok",
	  .args = {
		SPEC_VM,
		{ "cmd", ARG_STRING, ARG_REQUIRED,
		  "the command, at most 8 KiB" },
		{ "timeout", ARG_INTEGER, ARG_OPTIONAL,
		  "seconds, 1 to 3600 (default 60)" },
	  } },
};

const struct cmd *
cmd_table(size_t *n)
{
	*n = sizeof(cmds) / sizeof(cmds[0]);
	return cmds;
}

static void
cmd_events_list(const struct req *r, json_t *args)
{
	json_t		*a = json_array(), *v;
	const char	*kind = arg_str(args, "kind");
	sqlite3_stmt	*st;
	json_int_t	 limit = 50;
	size_t		 n;

	if ((v = json_object_get(args, "limit")) != NULL)
		limit = json_integer_value(v);
	if (limit < 1 || limit > 10000) {
		json_decref(a);
		reply_err(r, LABD_E_INVALID, "limit %lld is not from 1 to"
		    " 10000", (long long)limit);
		return;
	}
	if (kind == NULL)
		kind = "";
	n = strlen(kind);
	/* The newest limit, given back oldest first. */
	st = db_prepare("SELECT ts, uid, kind, subject, detail FROM"
	    " (SELECT * FROM events WHERE ?1 = '' OR kind = ?1 OR"
	    " (substr(?1, -1) = '.' AND substr(kind, 1, ?2) = ?1)"
	    " ORDER BY id DESC LIMIT ?3) ORDER BY id");
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)n);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(a, json_pack("{s:I,s:I,s:s,s:s,s:s}",
		    "time", (json_int_t)sqlite3_column_int64(st, 0),
		    "uid", (json_int_t)sqlite3_column_int64(st, 1),
		    "kind", db_text(st, 2), "subject", db_text(st, 3),
		    "detail", db_text(st, 4)));
	sqlite3_finalize(st);
	reply_ok(r, a);
}

static void
cmd_status(const struct req *r, json_t *args)
{
	int	total, running, booting, queued;
	char	gw[64] = "";
	json_t	*o;

	total = vm_count(&running);
	boot_count(vm_list(), &booting, &queued);
	if (labd->cfg.gw_port != 0)
		snprintf(gw, sizeof(gw), "%s:%u", labd->cfg.gw_ip,
		    labd->cfg.gw_port);
	o = json_pack("{s:s,s:i,s:i,s:I,s:s,s:s,s:b,s:i,s:i,s:s,s:s,"
	    "s:s,s:s,s:i,s:o,s:o,s:s}",
	    "version", LABD_VERSION, "protocol", LABD_PROTO_VERSION,
	    "pid", (int)getpid(),
	    "uptime", (json_int_t)((now_ms() - labd->started_ms) / 1000),
	    "accel", vmm_accel_name(labd->accel),
	    "accel_note", labd->accel_note,
	    "ksm", labd->ksm,
	    "vms_total", total, "vms_running", running,
	    "state_dir", labd->cfg.state_dir, "run_dir", labd->cfg.run_dir,
	    "socket", labd->cfg.socket,
	    "network", labd->cfg.net_mode == LABD_NET_USER ? "user" : "bridge",
	    "jobs", workers_pending(labd->workers), "host", admit_status(),
	    "vnc", vnc_status(), "gateway", gw);
	/* What the VMs' limits are set in (cglimit.c); none without root. */
	json_object_set_new(o, "limits", priv_active() ? cglimit_status() :
	    json_pack("{s:s}", "mode", "none (labd not root)"));
	/* The boot queue (boot.c): what waits for a slot, and how many. */
	json_object_set_new(o, "vms_booting", json_integer(booting));
	json_object_set_new(o, "vms_queued", json_integer(queued));
	if (labd->cfg.gw_port != 0)
		json_object_set_new(o, "gateway_park", gw_park_status());
	json_object_set_new(o, "max_booting", json_integer(boot_limit(
	    labd->cfg.max_booting, labd->accel,
	    (int)sysconf(_SC_NPROCESSORS_ONLN))));
	json_object_set_new(o, "workers",
	    json_integer(workers_size(labd->workers)));
	reply_ok(r, o);
}
