/*
 * cmd.c - the control protocol's command table.  Each entry names the
 * command, its handler and its help; "help" on the socket is printed from
 * this table, so adding a command here is all it takes to document it.
 */
#include <string.h>
#include <unistd.h>

#include "labd/labd.h"

static void	cmd_status(const struct req *, json_t *);
static void	cmd_help(const struct req *, json_t *);

static const struct cmd cmds[] = {
	{ "status", cmd_status,
	  "daemon version, uptime, accelerator, VMs running/total" },
	{ "help", cmd_help, "this table" },
	{ "template.import", cmd_template_import,
	  "{name, path, preallocate?}: register a template from a profile"
	  " .ini, an .ova/.ovf appliance (its memory and vCPUs) or a disk"
	  " image (qcow2, raw, vmdk, vdi, vhdx, vhd); a new version each time;"
	  " preallocate: qcow2 metadata allocated up front" },
	{ "template.list", cmd_template_list, "every template version" },
	{ "template.show", cmd_template_show,
	  "{name}: NAME@V (default the newest): every field, the disk's"
	  " mode and sizes, and the courses and VMs that use it" },
	{ "template.from_vm", cmd_template_from_vm,
	  "{vm, name}: the VM's disk, flattened (live while it runs), as the"
	  " next version of template name, with the hardware, kernel and"
	  " ports of the VM's template; source vm:VM" },
	{ "template.rm", cmd_template_rm,
	  "{name}: NAME@V, or NAME when it has one version; refused (busy)"
	  " while a course uses it" },
	{ "course.create", cmd_course_create,
	  "{name, template, roster, roster_name}: one VM a student, started;"
	  " the reply holds the generated passwords, shown only once" },
	{ "course.list", cmd_course_list, "courses with their VM counts" },
	{ "course.show", cmd_course_show,
	  "{course}: its template, settings and VMs" },
	{ "course.rm", cmd_course_rm,
	  "{course}: remove a course whose VMs are all stopped: its VMs,"
	  " their disks and snapshots, its students; its ports are freed" },
	{ "course.set", cmd_course_set,
	  "{course, reset_at?, reset_to?, idle_suspend?, internet?,"
	  " isolation?, allow_from?, sudo?}: reset_at \"12:00,"
	  " 18:00\" resets the running VMs to reset_to (default pristine) at"
	  " those times; idle_suspend \"30m\" suspends a VM with no"
	  " connection for that long (\"off\" never); sudo \"on\"|\"off\":"
	  " may students become root (live in ready VMs)" },
	{ "course.access", cmd_course_access,
	  "{course}: the access sheet, one row a student" },
	{ "vm.list", cmd_vm_list, "{course?}: one object a VM" },
	{ "vm.start", cmd_vm_start, "{vm, wait?}: start, reply when ready" },
	{ "vm.stop", cmd_vm_stop,
	  "{vm, force?}: ACPI powerdown (or quit with force), reply when"
	  " stopped" },
	{ "vm.reset", cmd_vm_reset,
	  "{vm, to?, hard?}: back to snapshot \"to\" (default pristine):"
	  " RAM and disk without a reboot when it holds RAM; hard: a fresh"
	  " overlay from the template; same slot, ports and credentials" },
	{ "vm.resume", cmd_vm_start,
	  "{vm}: a suspended VM continues where it stopped (= vm.start)" },
	{ "vm.suspend", cmd_vm_suspend,
	  "{vm}: RAM saved into the disk, QEMU gone; vm.resume continues" },
	{ "vm.snapshot", cmd_vm_snapshot,
	  "{vm, name}: with RAM when running, disk alone when stopped;"
	  " replaces one of the same name" },
	{ "vm.snapshots", cmd_vm_snapshots,
	  "{vm}: name, time, size, with or without RAM" },
	{ "vm.snapshot_rm", cmd_vm_snapshot_rm, "{vm, name}" },
	{ "vm.backup", cmd_vm_backup,
	  "{vm, path, force?}: a standalone qcow2 of the disk at path"
	  " (absolute; an existing file only with force), live while the VM"
	  " runs; {vm, file, bytes, virtual_size, seconds, live, synced}" },
	{ "vm.exec", cmd_vm_exec,
	  "{vm, cmd, timeout?}: cmd (at most 8 KiB) through the shell as root"
	  " over SSH with labd's key, on a ready VM, within timeout seconds"
	  " (default 60, at most 3600); {vm, status, output}: stdout and"
	  " stderr, the first 64 KiB; a failing command is still ok" },
};

const struct cmd *
cmd_find(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

const struct cmd *
cmd_table(size_t *n)
{
	*n = sizeof(cmds) / sizeof(cmds[0]);
	return cmds;
}

/* A string argument, or NULL when absent or not a string. */
const char *
arg_str(json_t *args, const char *key)
{
	return json_string_value(json_object_get(args, key));
}

static void
cmd_help(const struct req *r, json_t *args)
{
	json_t	*o = json_object();
	size_t	 i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		json_object_set_new(o, cmds[i].name, json_string(cmds[i].help));
	reply_ok(r, o);
}

static void
cmd_status(const struct req *r, json_t *args)
{
	int	total, running;

	total = vm_count(&running);
	reply_ok(r, json_pack("{s:s,s:i,s:i,s:I,s:s,s:s,s:b,s:i,s:i,s:s,s:s,"
	    "s:s,s:s,s:i}",
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
	    "jobs", workers_pending(labd->workers)));
}
