/* SPDX-License-Identifier: ISC */
/*
 * labctl.c - the instructor's command line: a client of labd's control
 * socket and nothing else.
 *
 * The commands are a table, like vmctl's: each entry names the words that
 * select it, its usage and its help, and usage() is printed from the table.
 * Every listing takes --json and then prints labd's result as it came.
 * Exit status: 0 done, 1 labd refused or an operation failed, 2 usage,
 * 3 labd could not be reached.
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "labctl/labctl.h"

static int	ctl_status(struct ctl *, int, char **);
static int	ctl_course_create(struct ctl *, int, char **);
static int	ctl_course_list(struct ctl *, int, char **);
static int	ctl_course_show(struct ctl *, int, char **);
static int	ctl_course_rm(struct ctl *, int, char **);
static int	ctl_list(struct ctl *, int, char **);
static int	ctl_start(struct ctl *, int, char **);
static int	ctl_stop(struct ctl *, int, char **);
static int	ctl_restart(struct ctl *, int, char **);
static int	ctl_reset(struct ctl *, int, char **);
static int	ctl_wait(struct ctl *, int, char **);
static int	ctl_suspend(struct ctl *, int, char **);
static int	ctl_resume(struct ctl *, int, char **);
static int	ctl_snapshot(struct ctl *, int, char **);
static int	ctl_snapshot_rm(struct ctl *, int, char **);
static int	ctl_snapshots(struct ctl *, int, char **);
static int	ctl_vnc(struct ctl *, int, char **);
static int	ctl_course_set(struct ctl *, int, char **);
static int	ctl_ports(struct ctl *, int, char **);
static int	ctl_events(struct ctl *, int, char **);
static int	ctl_backup(struct ctl *, int, char **);
static int	ctl_passwd(struct ctl *, int, char **);

static const struct ctl_cmd ctl_cmds[] = {
	{ "status", NULL, "", ctl_status,
	  "labd's version, uptime, accelerator and VM counts" },
	{ "template", "import", "NAME FILE [--preallocate]", ctl_template_import,
	  "register a template: a profile .ini, an .ova/.ovf or a disk image" },
	{ "template", "list", "", ctl_template_list,
	  "every template version" },
	{ "template", "show", "NAME[@V]", ctl_template_show,
	  "one version (default the newest), with the courses that use it" },
	{ "template", "rm", "NAME[@V]", ctl_template_rm,
	  "remove a version no course uses (NAME@V when there are several)" },
	{ "template", "from-vm", "VM NAME", ctl_template_from_vm,
	  "publish a prepared VM's disk as NAME's next version (live while"
	  " it runs)" },
	{ "course", "create", "NAME --template T --roster FILE [--wait]"
	  " [--format text|csv|md] [--overcommit]", ctl_course_create,
	  "one VM a student; prints the access sheet with the passwords" },
	{ "course", "list", "", ctl_course_list, "courses and their VMs" },
	{ "course", "show", "NAME", ctl_course_show,
	  "a course's template, settings and VMs" },
	{ "course", "rm", "NAME [--force] [--yes]", ctl_course_rm,
	  "remove a stopped course: VMs, disks, snapshots, students, ports"
	  " (--force: stop its VMs first)" },
	{ "list", NULL, "[COURSE]", ctl_list,
	  "one row a VM: name, state, address, ports, uptime" },
	{ "start", NULL, "VM|--course C", ctl_start,
	  "start and wait until ready (root logs in, cloud-init done)" },
	{ "stop", NULL, "VM|--course C [--force]", ctl_stop,
	  "ACPI power-off (--force: pull the plug)" },
	{ "restart", NULL, "VM|--course C", ctl_restart, "stop, then start" },
	{ "course", "set", "NAME reset_at=HH:MM[,HH:MM...] reset_to=SNAPSHOT"
	  " idle_suspend=30m|off internet=on|off isolation=on|off"
	  " allow_from=CIDR[,CIDR...]|any allow_nets=CIDR[,CIDR...]|none"
	  " sudo=on|off student_reset=on|off checks=DIR|none"
	  " exam_end=HH:MM[:SS]|none collect=PATH[,PATH...]"
	  " cpu_weight=N|default memory_max=SIZE|auto pids_max=N|default",
	  ctl_course_set,
	  "scheduled resets of the course's running VMs (reset_at= clears);"
	  " idle_suspend: suspend a VM with no connection for that long;"
	  " sudo: may students become root (live); student_reset: may"
	  " students reset their VM (ssh STUDENT+reset@ the gateway);"
	  " checks: DIR's goal scripts stored with the course, for labctl"
	  " check COURSE and ssh STUDENT+check@;"
	  " exam_end: at that time, once, collect the PATHs of collect="
	  " into labd's state_dir/collected/ and close access (allow_from"
	  " closed); cpu_weight, memory_max (512M, 1G), pids_max: each VM's"
	  " limits in its cgroups, from its next start" },
	{ "reset", NULL, "VM|--course C [--yes] [--to SNAPSHOT | --hard]",
	  ctl_reset,
	  "back to a snapshot (default pristine), RAM and all, no reboot;"
	  " --hard: a fresh disk from the template" },
	{ "suspend", NULL, "VM|--course C", ctl_suspend,
	  "RAM saved to disk, QEMU and its memory gone" },
	{ "resume", NULL, "VM|--course C", ctl_resume,
	  "a suspended VM continues exactly where it stopped" },
	{ "snapshot", NULL, "VM|--course C NAME", ctl_snapshot,
	  "with RAM when the VM runs, disk alone when stopped" },
	{ "snapshot", "rm", "VM|--course C [--yes] NAME", ctl_snapshot_rm,
	  "delete a snapshot" },
	{ "console", NULL, "VM", ctl_console,
	  "the VM's serial console here (on the labd host); Ctrl-] detaches" },
	{ "vnc", NULL, "VM", ctl_vnc,
	  "how to see the VM's screen over VNC: address, port, and (admin)"
	  " the student's VNC password" },
	{ "snapshots", NULL, "VM", ctl_snapshots,
	  "a VM's snapshots: name, time, RAM size, kind" },
	{ "backup", NULL, "VM FILE [--force]", ctl_backup,
	  "a standalone qcow2 copy of the disk, live while the VM runs" },
	{ "exec", NULL, "VM|--course C [--timeout SECONDS] -- CMD...", ctl_exec,
	  "run CMD as root over SSH with labd's key (default 60 s); one VM:"
	  " its output and exit status; a course: NAME: before each line" },
	{ "passwd", NULL, "VM", ctl_passwd,
	  "a new password for the VM's student, set in the guest; printed"
	  " once" },
	{ "wait", NULL, "VM|--course C [--timeout SECONDS]", ctl_wait,
	  "wait until the VMs are ready (default 300 s)" },
	{ "access", NULL, "COURSE [--format text|csv|md]", ctl_access,
	  "the access sheet again, without the passwords: ssh line and"
	  " ~/.ssh/config stanza a student" },
	{ "check", NULL, "COURSE [DIR] [--format text|csv|md|json] [--student"
	  " ID] [--timeout SECONDS] | COURSE --last", ctl_check,
	  "run DIR's goal scripts (no DIR: the course's stored checks) as"
	  " root in every running VM (exit 0 = met, 30 s each by default):"
	  " a goal x student table; --last shows the last run again" },
	{ "collect", NULL, "COURSE PATH... --to DEST [--student ID]"
	  " [--max-size SIZE] [--timeout SECONDS] [--course-end]",
	  ctl_collect,
	  "copy PATHs (absolute, globs allowed) from every VM into"
	  " DEST/STUDENT/, times and modes kept, with DEST/manifest.csv;"
	  " DEST must be new; 1G a VM by default; suspended VMs are resumed"
	  " for it; --course-end: then close the course's access"
	  " (allow_from=closed) when every VM was collected" },
	{ "ports", NULL, "", ctl_ports, "the port plan: public ip:port -> VM" },
	{ "removed", NULL, "", ctl_removed,
	  "disks kept after a course rm or a reset --hard, until keep_removed"
	  " runs out" },
	{ "recover", NULL, "ID|VM [--to VM]", ctl_recover,
	  "a kept disk back as its VM's disk (the VM stopped); the disk it"
	  " replaces is kept in turn" },
	{ "events", NULL, "[--kind KIND] [--limit N]", ctl_events,
	  "the event log, newest last (--kind gateway. : gateway logins and logouts)" },
};
#define NCMDS	(sizeof(ctl_cmds) / sizeof(ctl_cmds[0]))

static void
usage(FILE *f)
{
	size_t	i;
	char	words[64];

	fprintf(f, "usage: labctl [-c labd.ini] [-s SOCKET] [--json] COMMAND [ARGS]\n\n");
	for (i = 0; i < NCMDS; i++) {
		snprintf(words, sizeof(words), "%s%s%s", ctl_cmds[i].word1,
		    ctl_cmds[i].word2 ? " " : "",
		    ctl_cmds[i].word2 ? ctl_cmds[i].word2 : "");
		fprintf(f, "  %-16s %s\n  %-16s   %s\n", words,
		    ctl_cmds[i].usage, "", ctl_cmds[i].help);
	}
	fprintf(f, "\nThe socket is -s, else $%s, else the one labd.ini names"
	    " (-c FILE, else %s if it exists), else %s.\n", LABD_SOCKET_ENV,
	    LABD_DEFAULT_CONFIG, LABD_DEFAULT_SOCKET);
}

/* A VM's last connection: "now", "3m ago", "-" (never). */
static void
fmt_last(json_t *vm, char *out, size_t len)
{
	long long	last = jint(vm, "last_connection");
	long long	ago = (long long)time(NULL) - last;

	if (jint(vm, "connections") > 0)
		snprintf(out, len, "now");
	else if (last <= 0)
		snprintf(out, len, "-");
	else if (ago < 60)
		snprintf(out, len, "%llds ago", ago < 0 ? 0 : ago);
	else if (ago < 3600)
		snprintf(out, len, "%lldm ago", ago / 60);
	else if (ago < 86400)
		snprintf(out, len, "%lldh ago", ago / 3600);
	else
		snprintf(out, len, "%lldd ago", ago / 86400);
}

/* A course's idle_suspend: "30m", "1h30m", "off". */
static void
fmt_idle(long long s, char *out, size_t len)
{
	if (s <= 0)
		snprintf(out, len, "off");
	else if (s % 3600 == 0)
		snprintf(out, len, "%lldh", s / 3600);
	else if (s >= 3600 && s % 60 == 0)
		snprintf(out, len, "%lldh%lldm", s / 3600, s % 3600 / 60);
	else if (s % 60 == 0)
		snprintf(out, len, "%lldm", s / 60);
	else
		snprintf(out, len, "%llds", s);
}

/* "ssh 127.0.0.1:22001" for each port of a VM, joined. */
static void
fmt_ports(json_t *vm, char *out, size_t len)
{
	json_t	*p;
	size_t	 i, off = 0;

	out[0] = '\0';
	json_array_foreach(json_object_get(vm, "ports"), i, p) {
		int	n = snprintf(out + off, len - off, "%s%s:%lld->%lld",
			    i ? " " : "", jstr(p, "ip"), jint(p, "port"),
			    jint(p, "guest_port"));

		if (n < 0 || (size_t)n >= len - off)
			break;
		off += n;
	}
	if (out[0] == '\0')
		snprintf(out, len, "-");
}

/* --- option parsing shared by the VM commands ------------------------- */

/* What a VM command may take besides VM|--course C. */
#define T_FORCE		0x01	/* --force */
#define T_HARD		0x02	/* --hard */
#define T_TO		0x04	/* --to SNAPSHOT */
#define T_TIMEOUT	0x08	/* --timeout SECONDS */
#define T_NAME		0x10	/* a snapshot NAME after the VM */
#define T_CONFIRM	0x20	/* with --course: ask first, or --yes */

struct target {
	const char	*vm;
	const char	*course;
	const char	*to;
	const char	*name;
	int		 force;
	int		 hard;
	int		 yes;
	int		 timeout;
};

static int
parse_target(const char *cmd, int argc, char **argv, struct target *t,
    int allow)
{
	const char	*v;
	int		 i;

	memset(t, 0, sizeof(*t));
	t->timeout = 300;
	for (i = 0; i < argc; i++) {
		if ((v = opt_value("--course", argc, argv, &i)) != NULL)
			t->course = v;
		else if ((allow & T_TO) &&
		    (v = opt_value("--to", argc, argv, &i)) != NULL)
			t->to = v;
		else if ((allow & T_TIMEOUT) &&
		    (v = opt_value("--timeout", argc, argv, &i)) != NULL)
			t->timeout = atoi(v);
		else if ((allow & T_FORCE) && strcmp(argv[i], "--force") == 0)
			t->force = 1;
		else if ((allow & T_HARD) && strcmp(argv[i], "--hard") == 0)
			t->hard = 1;
		else if ((allow & T_CONFIRM) && strcmp(argv[i], "--yes") == 0)
			t->yes = 1;
		else if (argv[i][0] == '-') {
			fprintf(stderr, "labctl %s: unknown option %s\n", cmd,
			    argv[i]);
			return -1;
		} else if (t->vm == NULL && t->course == NULL &&
		    !((allow & T_NAME) && i == argc - 1 && i > 0))
			t->vm = argv[i];
		else if ((allow & T_NAME) && t->name == NULL)
			t->name = argv[i];
		else {
			fprintf(stderr, "labctl %s: one VM at a time (or"
			    " --course C)\n", cmd);
			return -1;
		}
	}
	if ((t->vm == NULL) == (t->course == NULL)) {
		fprintf(stderr, "labctl %s: name a VM or --course C\n", cmd);
		return -1;
	}
	if ((allow & T_NAME) && t->name == NULL) {
		fprintf(stderr, "labctl %s: name the snapshot\n", cmd);
		return -1;
	}
	return 0;
}

/*
 * A bulk command that loses students' work: what it does to how many, and
 * "yes" typed at the terminal; in a script, --yes.  0 to go ahead.
 */
static int
confirm(const char *word, const char *what, const char *course)
{
	char	line[64];

	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "labctl %s: course %s: %s; add --yes to do it"
		    " without a terminal to ask at\n", word, course, what);
		return -1;
	}
	fprintf(stderr, "course %s: %s. Type yes to go on: ", course, what);
	fflush(stderr);
	if (fgets(line, sizeof(line), stdin) == NULL ||
	    strcmp(line, "yes\n") != 0) {
		fprintf(stderr, "labctl %s: nothing done\n", word);
		return -1;
	}
	return 0;
}

/* What a bulk command would undo, for confirm(); NULL: nothing to ask. */
static const char *
bulk_loss(const char *cmd, const struct target *t, size_t n, char *buf,
    size_t len)
{
	if (strcmp(cmd, "vm.reset") == 0)
		snprintf(buf, len, "reset %zu VMs to %s: what their students"
		    " did since is lost", n, t->hard ? "fresh disks" :
		    t->to != NULL ? t->to : "pristine");
	else if (strcmp(cmd, "vm.snapshot_rm") == 0)
		snprintf(buf, len, "remove snapshot %s of %zu VMs", t->name, n);
	else
		return NULL;
	return buf;
}

/* A bar on the terminal while a bulk operation runs, nothing elsewhere. */
static void
progress(size_t done, size_t total)
{
	char	bar[41];
	size_t	w = sizeof(bar) - 1, k = total ? done * w / total : w;

	if (total < 2 || !isatty(STDERR_FILENO))
		return;
	memset(bar, '#', k);
	memset(bar + k, '.', w - k);
	bar[w] = '\0';
	fprintf(stderr, "\r[%s] %zu/%zu%s", bar, done, total,
	    done == total ? "\n" : "");
}

static size_t
nfailed(json_t *results)
{
	const char	*k;
	json_t		*v;
	size_t		 n = 0;

	json_object_foreach(results, k, v)
		if (!json_is_true(json_object_get(v, "ok")))
			n++;
	return n;
}

/*
 * Send cmd for every VM at once on one connection and collect the
 * replies as they come: labd works on them in parallel and one failure
 * does not stop the others.  Prints a line a VM, returns the exit status.
 */
static int
run_on_vms(struct ctl *c, const char *cmd, json_t *names, json_t *extra,
    const char *done_word)
{
	char	 err[CTL_ERRLEN];
	size_t	 n = json_array_size(names), i, left = n;
	long	*ids = calloc(n ? n : 1, sizeof(*ids));
	int	 rc = CTL_OK;
	json_t	*results;
	time_t	 t0 = time(NULL);

	if (ids == NULL)
		return CTL_FAILED;
	if (ctl_connect(c) == -1) {
		free(ids);
		return CTL_NOCONN;
	}
	results = json_object();
	for (i = 0; i < n; i++) {
		json_t	*args = extra ? json_deep_copy(extra) : json_object();

		json_object_set(args, "vm", json_array_get(names, i));
		ids[i] = client_send(c->conn, cmd, args, err, sizeof(err));
		json_decref(args);
		if (ids[i] == -1) {
			fprintf(stderr, "labctl: %s\n", err);
			free(ids);
			json_decref(results);
			return CTL_NOCONN;
		}
	}
	while (left > 0) {
		json_t	*msg = client_read(c->conn, err, sizeof(err));
		json_t	*rid;

		if (msg == NULL) {
			fprintf(stderr, "labctl: %s\n", err);
			rc = CTL_NOCONN;
			break;
		}
		rid = json_object_get(msg, "id");
		for (i = 0; i < n; i++) {
			if (!json_is_integer(rid) ||
			    json_integer_value(rid) != ids[i])
				continue;
			const char	*name = json_string_value(
			    json_array_get(names, i));

			if (json_is_true(json_object_get(msg, "ok"))) {
				/* What labd did instead, if it says. */
				const char	*note = jstr(json_object_get(msg,
				    "result"), "note");

				if (!c->json)
					printf("%-24s %s (%lds)%s%s\n", name,
					    done_word, (long)(time(NULL) - t0),
					    *note ? ": " : "", note);
				json_object_set_new(results, name, *note ?
				    json_pack("{s:b,s:s}", "ok", 1, "note",
				    note) : json_pack("{s:b}", "ok", 1));
			} else {
				const char	*m = jstr(json_object_get(msg,
				    "error"), "message");

				if (!c->json)
					printf("%-24s FAILED: %s\n", name, m);
				json_object_set_new(results, name,
				    json_pack("{s:b,s:s}", "ok", 0, "error",
				    m));
				rc = CTL_FAILED;
			}
			ids[i] = 0;
			left--;
			progress(n - left, n);
		}
		json_decref(msg);
	}
	if (n > 1 && !c->json)
		printf("%zu of %zu %s%s\n", n - nfailed(results), n, done_word,
		    nfailed(results) ? "; see FAILED above" : "");
	if (c->json)
		print_json(results);
	json_decref(results);
	free(ids);
	return rc;
}

static int
vm_command(struct ctl *c, const char *cmd, const char *word, int argc,
    char **argv, int allow, const char *done_word)
{
	struct target	 t;
	json_t		*names, *extra;
	char		 what[256];
	int		 rc;

	if (parse_target(word, argc, argv, &t, allow) == -1)
		return CTL_USAGE;
	if (t.vm != NULL) {
		names = json_pack("[s]", t.vm);
	} else if ((names = course_vms(c, t.course, &rc)) == NULL)
		return rc;
	if (t.course != NULL && (allow & T_CONFIRM) && !t.yes &&
	    json_array_size(names) > 0 && bulk_loss(cmd, &t,
	    json_array_size(names), what, sizeof(what)) != NULL &&
	    confirm(word, what, t.course) == -1) {
		json_decref(names);
		return CTL_USAGE;
	}
	extra = json_object();
	if (t.force)
		json_object_set_new(extra, "force", json_true());
	if (t.hard)
		json_object_set_new(extra, "hard", json_true());
	if (t.to != NULL)
		json_object_set_new(extra, "to", json_string(t.to));
	if (t.name != NULL)
		json_object_set_new(extra, "name", json_string(t.name));
	rc = run_on_vms(c, cmd, names, extra, done_word);
	json_decref(extra);
	json_decref(names);
	return rc;
}

/* --- the commands ------------------------------------------------------ */

static int
ctl_passwd(struct ctl *c, int argc, char **argv)
{
	json_t	*o;
	int	 rc;

	if (argc != 1 || argv[0][0] == '-')
		return CTL_USAGE;
	if ((o = ctl_call(c, "vm.passwd", json_pack("{s:s}", "vm", argv[0]),
	    &rc)) == NULL)
		return rc;
	if (c->json)
		print_json(o);
	else
		printf("%s: user %s, password %s\n", jstr(o, "vm"),
		    jstr(o, "user"), jstr(o, "password"));
	json_decref(o);
	return CTL_OK;
}

/* The host's room for VMs, and what runs low. */
static void
host_print(json_t *h)
{
	json_t	*w;
	size_t	 i;

	if (!json_is_object(h))
		return;
	printf("memory       %lld MiB available of %lld\n",
	    jint(h, "memory_available_mb"), jint(h, "memory_total_mb"));
	printf("disk         %lld MiB free of %lld\n", jint(h, "disk_free_mb"),
	    jint(h, "disk_total_mb"));
	printf("qemu per vm  %lld MiB beyond guest RAM (%s)\n",
	    jint(h, "vm_overhead_mb"), json_is_true(json_object_get(h,
	    "vm_overhead_measured")) ? "measured" : "estimated");
	if (jint(h, "ksm_saved_mb") > 0)
		printf("ksm saves    %lld MiB (identical guest pages merged)\n",
		    jint(h, "ksm_saved_mb"));
	json_array_foreach(json_object_get(h, "warnings"), i, w)
		printf("warning      %s\n", json_string_value(w));
}

static int
ctl_status(struct ctl *c, int argc, char **argv)
{
	json_t	*s;
	int	 rc;
	char	 up[32];

	if (argc != 0)
		return CTL_USAGE;
	if ((s = ctl_call(c, "status", NULL, &rc)) == NULL)
		return rc;
	if (c->json)
		print_json(s);
	else {
		fmt_duration(jint(s, "uptime"), up, sizeof(up));
		printf("labd %s (pid %lld), up %s\n", jstr(s, "version"),
		    jint(s, "pid"), up);
		printf("accelerator  %s%s%s%s\n", jstr(s, "accel"),
		    *jstr(s, "accel_note") ? " (" : "", jstr(s, "accel_note"),
		    *jstr(s, "accel_note") ? ")" : "");
		printf("network      %s\n", jstr(s, "network"));
		printf("ksm          %s\n", json_is_true(json_object_get(s,
		    "ksm")) ? "on (turned on by labd)" : "not turned on by labd");
		printf("vms          %lld running of %lld\n",
		    jint(s, "vms_running"), jint(s, "vms_total"));
		printf("boots        %lld booting, %lld queued (at most %lld"
		    " at once)\n", jint(s, "vms_booting"),
		    jint(s, "vms_queued"), jint(s, "max_booting"));
		printf("jobs         %lld running or waiting (%lld workers)\n",
		    jint(s, "jobs"), jint(s, "workers"));
		printf("state dir    %s\n", jstr(s, "state_dir"));
		printf("socket       %s\n", jstr(s, "socket"));
		if (*jstr(s, "gateway")) {
			json_t	*pk = json_object_get(s, "gateway_park");

			printf("gateway      %s\n", jstr(s, "gateway"));
			if (pk != NULL)
				printf("parked       %lld sessions, %lld being"
				    " made; %lld taken by logins, %lld of them"
				    " dead\n", jint(pk, "parked"),
				    jint(pk, "making"), jint(pk, "taken"),
				    jint(pk, "dead"));
		}
		printf("limits       %s\n", jstr(json_object_get(s, "limits"),
		    "mode"));
		host_print(json_object_get(s, "host"));
	}
	json_decref(s);
	return CTL_OK;
}

/* Read a whole file, NUL-terminated; NULL with a message. */
static char *
read_file(const char *path, size_t max)
{
	FILE	*f;
	char	*buf;
	size_t	 n;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "labctl: cannot read %s: %s\n", path,
		    strerror(errno));
		return NULL;
	}
	if ((buf = malloc(max + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, max + 1, f);
	fclose(f);
	if (n > max) {
		fprintf(stderr, "labctl: %s is larger than %zu bytes\n", path,
		    max);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	if (strlen(buf) != n) {
		fprintf(stderr, "labctl: %s holds a NUL byte: not a CSV"
		    " file\n", path);
		free(buf);
		return NULL;
	}
	return buf;
}

static int
ctl_wait_names(struct ctl *c, json_t *names, int timeout, FILE *out);

static int
ctl_course_create(struct ctl *c, int argc, char **argv)
{
	const char	*name = NULL, *tpl = NULL, *roster = NULL, *v;
	char		*text, rpath[PATH_MAX];
	json_t		*res, *names, *r;
	int		 i, rc, wait = 0, over = 0, format = SHEET_TEXT;
	size_t		 k;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--overcommit") == 0)
			over = 1;
		else if (strcmp(argv[i], "--template") == 0 && i + 1 < argc)
			tpl = argv[++i];
		else if (strcmp(argv[i], "--roster") == 0 && i + 1 < argc)
			roster = argv[++i];
		else if (strcmp(argv[i], "--wait") == 0)
			wait = 1;
		else if ((v = opt_value("--format", argc, argv, &i)) != NULL) {
			/* Before labd is asked: its passwords come once. */
			if ((format = sheet_format("course create", v)) == -1)
				return CTL_USAGE;
		} else if (argv[i][0] != '-' && name == NULL)
			name = argv[i];
		else
			return CTL_USAGE;
	}
	if (name == NULL || tpl == NULL || roster == NULL)
		return CTL_USAGE;
	if ((text = read_file(roster, LABD_MAX_LINE / 2)) == NULL)
		return CTL_FAILED;
	snprintf(rpath, sizeof(rpath), "%s", roster);
	res = ctl_call(c, "course.create", json_pack("{s:s,s:s,s:s,s:s,s:b}",
	    "name", name, "template", tpl, "roster", text, "roster_name",
	    basename(rpath), "overcommit", over), &rc);
	free(text);
	if (res == NULL)
		return rc;
	if (c->json)
		print_json(res);
	else
		sheet_print(stdout, format, name, json_object_get(res, "students"));
	fflush(stdout);
	if (wait) {
		names = json_array();
		json_array_foreach(json_object_get(res, "students"), k, r)
			json_array_append_new(names, json_string(jstr(r,
			    "vm")));
		/* A csv or md sheet stays a clean file: the count on stderr. */
		rc = ctl_wait_names(c, names, 600,
		    format == SHEET_TEXT ? stdout : stderr);
		json_decref(names);
	}
	json_decref(res);
	return rc;
}

/*
 * The course's stored checks, names and descriptions (labd never sends
 * the scripts back): "checks N goals: a, b" or "checks none".
 */
static void
print_checks(const char *label, json_t *goals)
{
	json_t	*g;
	size_t	 i, n = json_array_size(goals);

	if (n == 0) {
		printf("%s none\n", label);
		return;
	}
	printf("%s %zu goal%s:", label, n, n == 1 ? "" : "s");
	json_array_foreach(goals, i, g)
		printf("%s %s", i ? "," : "", jstr(g, "name"));
	putchar('\n');
}

/* A local time for a person, or "-". */
static void
fmt_when(long long t, char *out, size_t outlen)
{
	struct tm	tm;
	time_t		tt = (time_t)t;

	if (t <= 0 || localtime_r(&tt, &tm) == NULL)
		snprintf(out, outlen, "-");
	else
		strftime(out, outlen, "%Y-%m-%d %H:%M:%S", &tm);
}

/* The VMs' limits of course show and course set: " (default)" if unset. */
static void
limits_show(json_t *l, const char *indent)
{
	printf("%scpu_weight    %lld%s\n", indent, jint(l, "cpu_weight"),
	    jint(l, "cpu_weight_set") ? "" : " (default)");
	printf("%smemory_max    %lld MiB%s\n", indent, jint(l, "memory_max") >>
	    20, jint(l, "memory_max_set") ? "" : " (auto)");
	printf("%spids_max      %lld%s\n", indent, jint(l, "pids_max"),
	    jint(l, "pids_max_set") ? "" : " (default)");
	printf("%slimits in     %s\n", indent, jstr(l, "mode"));
}

/* course show's access and exam end lines. */
static void
exam_show(json_t *o)
{
	json_t		*e = json_object_get(o, "exam");
	const char	*allow = jstr(o, "allow_from");
	char		 end[32], last[32];

	fmt_when(jint(e, "end"), end, sizeof(end));
	fmt_when(jint(e, "last"), last, sizeof(last));
	printf("allow_from    %s\n", *allow == '\0' ? "any" :
	    strcmp(allow, LABD_ALLOW_CLOSED) == 0 ? "closed" : allow);
	printf("exam_end      %s%s\n", end, jint(e, "end") > 0 &&
	    jint(e, "last") >= jint(e, "end") ? " (fired)" : "");
	printf("collect       %s\n", *jstr(e, "collect") ? jstr(e, "collect") :
	    "-");
	printf("exam_last     %s%s%s\n", last, *jstr(e, "dir") ? " into " : "",
	    jstr(e, "dir"));
}

static int
ctl_course_show(struct ctl *c, int argc, char **argv)
{
	json_t	*o, *vm;
	size_t	 i;
	int	 rc;

	if (argc != 1)
		return CTL_USAGE;
	if ((o = ctl_call(c, "course.show", json_pack("{s:s}", "course",
	    argv[0]), &rc)) == NULL)
		return rc;
	if (c->json)
		print_json(o);
	else {
		printf("course        %s\n", jstr(o, "name"));
		printf("template      %s\n", jstr(o, "template"));
		printf("reset_at      %s\n", *jstr(o, "reset_at") ?
		    jstr(o, "reset_at") : "-");
		printf("reset_to      %s\n", jstr(o, "reset_to"));
		printf("idle_suspend  %lld s%s\n", jint(o, "idle_suspend"),
		    jint(o, "idle_suspend") ? "" : " (off)");
		printf("internet      %s\n", json_is_true(json_object_get(o,
		    "internet")) ? "on" : "off");
		printf("sudo          %s\n", json_is_true(json_object_get(o,
		    "sudo")) ? "on" : "off");
		printf("student_reset %s\n", json_is_true(json_object_get(o,
		    "student_reset")) ? "on" : "off");
		print_checks("checks       ", json_object_get(o, "checks"));
		exam_show(o);
		limits_show(json_object_get(o, "limits"), "");
		printf("vms           %zu\n",
		    json_array_size(json_object_get(o, "vms")));
		json_array_foreach(json_object_get(o, "vms"), i, vm)
			printf("  %-24s %-12s %s\n", jstr(vm, "name"),
			    jstr(vm, "state"), jstr(vm, "student"));
	}
	json_decref(o);
	return CTL_OK;
}

static int
ctl_course_rm(struct ctl *c, int argc, char **argv)
{
	char	*stop[] = { "--course", NULL, "--force", NULL }, what[128];
	json_t	*o, *names;
	int	 rc, i, force = 0, yes = 0;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--force") == 0)
			force = 1;
		else if (strcmp(argv[i], "--yes") == 0)
			yes = 1;
		else
			return CTL_USAGE;
	if (argc < 1 || argv[0][0] == '-')
		return CTL_USAGE;
	if (!yes) {
		if ((names = course_vms(c, argv[0], &rc)) == NULL)
			return rc;
		snprintf(what, sizeof(what), "remove %zu VMs with their disks"
		    " and snapshots", json_array_size(names));
		json_decref(names);
		if (confirm("course rm", what, argv[0]) == -1)
			return CTL_USAGE;
	}
	/*
	 * A VM that failed to start stays "failed", not "stopped": it is
	 * removed all the same.  One that still runs, labd refuses to
	 * remove, and says which.
	 */
	if (force) {
		stop[1] = argv[0];
		(void)vm_command(c, "vm.stop", "course rm", 3, stop, T_FORCE,
		    "stopped");
	}
	if ((o = ctl_call(c, "course.rm", json_pack("{s:s}", "course",
	    argv[0]), &rc)) == NULL)
		return rc;
	if (c->json)
		print_json(o);
	else
		printf("course %s removed with its %lld VMs\n",
		    jstr(o, "course"), jint(o, "vms"));
	json_decref(o);
	return CTL_OK;
}

static int
ctl_course_list(struct ctl *c, int argc, char **argv)
{
	json_t	*a, *o;
	size_t	 i;
	int	 rc;
	char	 idle[16];

	if (argc != 0)
		return CTL_USAGE;
	if ((a = ctl_call(c, "course.list", NULL, &rc)) == NULL)
		return rc;
	if (c->json)
		print_json(a);
	else {
		printf("%-20s %-20s %5s %5s %s\n", "COURSE", "TEMPLATE", "VMS",
		    "READY", "IDLE SUSPEND");
		json_array_foreach(a, i, o) {
			fmt_idle(jint(o, "idle_suspend"), idle, sizeof(idle));
			printf("%-20s %-20s %5lld %5lld %s\n", jstr(o, "name"),
			    jstr(o, "template"), jint(o, "vms"),
			    jint(o, "ready"), idle);
		}
	}
	json_decref(a);
	return CTL_OK;
}

/* course set NAME key=value...: the course's settings. */
static int
ctl_course_set(struct ctl *c, int argc, char **argv)
{
	json_t	*args, *res, *goals;
	char	*eq, idle[16], err[CTL_ERRLEN];
	int	 i, rc;

	if (argc < 2)
		return CTL_USAGE;
	args = json_pack("{s:s}", "course", argv[0]);
	for (i = 1; i < argc; i++) {
		if ((eq = strchr(argv[i], '=')) == NULL || eq == argv[i]) {
			fprintf(stderr, "labctl course set: %s is not"
			    " KEY=VALUE\n", argv[i]);
			json_decref(args);
			return CTL_USAGE;
		}
		*eq = '\0';
		/* The scripts are read here: labd never opens our paths. */
		if (strcmp(argv[i], "checks") == 0) {
			if (strcmp(eq + 1, "none") == 0)
				goals = json_array();
			else if ((goals = check_read_dir(eq + 1, err,
			    sizeof(err))) == NULL) {
				fprintf(stderr, "labctl course set: checks: %s\n",
				    err);
				json_decref(args);
				return CTL_FAILED;
			}
			json_object_set_new(args, "checks", goals);
			continue;
		}
		json_object_set_new(args, argv[i], json_string(eq + 1));
	}
	if ((res = ctl_call(c, "course.set", args, &rc)) == NULL)
		return rc;
	if (c->json)
		print_json(res);
	else {
		fmt_idle(jint(res, "idle_suspend"), idle, sizeof(idle));
		printf("course %s: reset_at \"%s\", reset_to %s, idle_suspend"
		    " %s, internet %s, isolation %s, allow_from %s, allow_nets"
		    " %s, sudo %s, student_reset %s\n",
		    jstr(res, "course"), jstr(res, "reset_at"),
		    jstr(res, "reset_to"), idle,
		    json_is_true(json_object_get(res, "internet")) ? "on" :
		    "off", json_is_true(json_object_get(res, "isolation")) ?
		    "on" : "off", *jstr(res, "allow_from") ?
		    jstr(res, "allow_from") : "any", *jstr(res, "allow_nets") ?
		    jstr(res, "allow_nets") : "none",
		    json_is_true(json_object_get(res, "sudo")) ? "on" : "off",
		    json_is_true(json_object_get(res, "student_reset")) ?
		    "on" : "off");
		print_checks("  checks ", json_object_get(res, "checks"));
		limits_show(json_object_get(res, "limits"), "  ");
		if (*jstr(res, "effect"))
			printf("  %s\n", jstr(res, "effect"));
	}
	json_decref(res);
	return CTL_OK;
}

static int
ctl_list(struct ctl *c, int argc, char **argv)
{
	json_t	*a, *vm, *args = json_object();
	size_t	 i;
	int	 rc;
	char	 up[32], ports[512], conns[16], last[32];

	if (argc > 1) {
		json_decref(args);
		return CTL_USAGE;
	}
	if (argc == 1)
		json_object_set_new(args, "course", json_string(argv[0]));
	if ((a = ctl_call(c, "vm.list", args, &rc)) == NULL)
		return rc;
	if (c->json)
		print_json(a);
	else {
		int	ipw = 0;

		/* Bridge mode: each VM's own address, in a column of its own. */
		json_array_foreach(a, i, vm)
			if (*jstr(vm, "ip") && ipw == 0)
				ipw = 15;
		printf("%-24s %-12s %-*s%s%-8s %5s %-8s %-36s %s\n", "VM", "STATE",
		    ipw, ipw ? "IP" : "", ipw ? " " : "", "UPTIME", "CONNS",
		    "LAST", "PORTS", "STUDENT");
		json_array_foreach(a, i, vm) {
			fmt_duration(jint(vm, "uptime"), up, sizeof(up));
			fmt_ports(vm, ports, sizeof(ports));
			snprintf(conns, sizeof(conns), "%lld",
			    jint(vm, "connections"));
			fmt_last(vm, last, sizeof(last));
			printf("%-24s %-12s %-*s%s%-8s %5s %-8s %-36s %s\n",
			    jstr(vm, "name"), jstr(vm, "state"), ipw,
			    jstr(vm, "ip"), ipw ? " " : "", up, conns,
			    last, ports, jstr(vm, "student"));
			if (*jstr(vm, "error"))
				printf("  error: %s\n", jstr(vm, "error"));
		}
	}
	json_decref(a);
	return CTL_OK;
}

static int
ctl_start(struct ctl *c, int argc, char **argv)
{
	return vm_command(c, "vm.start", "start", argc, argv, 0, "ready");
}

static int
ctl_stop(struct ctl *c, int argc, char **argv)
{
	return vm_command(c, "vm.stop", "stop", argc, argv, T_FORCE,
	    "stopped");
}

static int
ctl_restart(struct ctl *c, int argc, char **argv)
{
	int	rc;

	if ((rc = vm_command(c, "vm.stop", "restart", argc, argv, 0,
	    "stopped")) != CTL_OK)
		return rc;
	return vm_command(c, "vm.start", "restart", argc, argv, 0, "ready");
}

static int
ctl_reset(struct ctl *c, int argc, char **argv)
{
	return vm_command(c, "vm.reset", "reset", argc, argv, T_HARD | T_TO |
	    T_CONFIRM, "ready");
}

static int
ctl_suspend(struct ctl *c, int argc, char **argv)
{
	return vm_command(c, "vm.suspend", "suspend", argc, argv, 0,
	    "suspended");
}

static int
ctl_resume(struct ctl *c, int argc, char **argv)
{
	return vm_command(c, "vm.resume", "resume", argc, argv, 0, "ready");
}

static int
ctl_snapshot(struct ctl *c, int argc, char **argv)
{
	return vm_command(c, "vm.snapshot", "snapshot", argc, argv, T_NAME,
	    "snapshot taken");
}

static int
ctl_snapshot_rm(struct ctl *c, int argc, char **argv)
{
	return vm_command(c, "vm.snapshot_rm", "snapshot rm", argc, argv,
	    T_NAME | T_CONFIRM, "snapshot removed");
}

static int
ctl_vnc(struct ctl *c, int argc, char **argv)
{
	json_t		*o;
	const char	*pw;
	int		 rc;

	if (argc != 1)
		return CTL_USAGE;
	if ((o = ctl_call(c, "vm.vnc", json_pack("{s:s}", "vm", argv[0]),
	    &rc)) == NULL)
		return rc;
	if (c->json)
		print_json(o);
	else {
		pw = jstr(o, "password");
		printf("%s (%s, student %s)\n", jstr(o, "vm"), jstr(o, "state"),
		    jstr(o, "student"));
		printf("  viewer:   %s:%lld  (e.g. vncviewer %s::%lld)\n",
		    jstr(o, "host"), jint(o, "port"), jstr(o, "host"),
		    jint(o, "port"));
		if (*jstr(o, "web") != '\0')
			printf("  browser:  %s\n", jstr(o, "web"));
		if (*pw != '\0')
			printf("  password: %s  (the student's: it shows this VM"
			    " and no other)\n", pw);
		else
			printf("  password: the student's, on the access sheet"
			    " (labctl access, admin)\n");
		printf("  the instructor's password shows the wall of all"
		    " running VMs\n");
	}
	json_decref(o);
	return CTL_OK;
}

int
ctl_snapshots(struct ctl *c, int argc, char **argv)
{
	json_t		*a, *s;
	size_t		 i;
	int		 rc;
	char		 when[32], size[16];
	time_t		 t;
	struct tm	 tm;

	if (argc != 1)
		return CTL_USAGE;
	if ((a = ctl_call(c, "vm.snapshots", json_pack("{s:s}", "vm",
	    argv[0]), &rc)) == NULL)
		return rc;
	if (c->json)
		print_json(a);
	else {
		printf("%-20s %-20s %8s %s\n", "SNAPSHOT", "TAKEN", "RAM SIZE",
		    "KIND");
		json_array_foreach(a, i, s) {
			t = (time_t)jint(s, "created");
			localtime_r(&t, &tm);
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
			fmt_size(jint(s, "size"), size, sizeof(size));
			printf("%-20s %-20s %8s %s\n", jstr(s, "name"), when,
			    size, json_is_true(json_object_get(s, "ram")) ?
			    "disk and RAM" : "disk only");
		}
	}
	json_decref(a);
	return CTL_OK;
}

static int
ctl_backup(struct ctl *c, int argc, char **argv)
{
	const char	*vm = NULL, *file = NULL;
	char		 path[PATH_MAX], cwd[PATH_MAX], size[16], vsize[16];
	json_t		*res;
	int		 i, rc, force = 0;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0)
			force = 1;
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
			return CTL_USAGE;
		else if (vm == NULL)
			vm = argv[i];
		else if (file == NULL)
			file = argv[i];
		else
			return CTL_USAGE;
	}
	if (vm == NULL || file == NULL)
		return CTL_USAGE;
	/* labd writes it from elsewhere: an absolute path, as typed. */
	if (file[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL) {
		fprintf(stderr, "labctl: getcwd: %s\n", strerror(errno));
		return CTL_FAILED;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s%s%s", file[0] == '/' ?
	    "" : cwd, file[0] == '/' ? "" : "/", file) >= sizeof(path)) {
		fprintf(stderr, "labctl: %s: path too long\n", file);
		return CTL_FAILED;
	}
	if ((res = ctl_call(c, "vm.backup", json_pack("{s:s,s:s,s:b}", "vm",
	    vm, "path", path, "force", force), &rc)) == NULL)
		return rc;
	if (c->json)
		print_json(res);
	else {
		fmt_size(jint(res, "bytes"), size, sizeof(size));
		fmt_size(jint(res, "virtual_size"), vsize, sizeof(vsize));
		printf("%s: backup written to %s: %s (a %s disk) in %.1f s,"
		    " %s\n", vm, jstr(res, "file"), size, vsize,
		    json_real_value(json_object_get(res, "seconds")),
		    json_is_true(json_object_get(res, "live")) ?
		    "live" : "from the stopped disk");
		if (json_is_true(json_object_get(res, "live")) &&
		    !json_is_true(json_object_get(res, "synced")))
			printf("note: the guest was not asked to flush its"
			    " cache (no SSH with labd's key): the copy holds"
			    " what a power cut would have left\n");
	}
	json_decref(res);
	return CTL_OK;
}

/*
 * Poll vm.list until every VM of names is ready (or failed, or time);
 * the closing count goes to out.
 */
static int
ctl_wait_names(struct ctl *c, json_t *names, int timeout, FILE *out)
{
	time_t	 deadline = time(NULL) + timeout;
	json_t	*a, *vm, *name;
	size_t	 i, k;
	int	 rc, ready, failed;

	for (;;) {
		if ((a = ctl_call(c, "vm.list", NULL, &rc)) == NULL)
			return rc;
		ready = failed = 0;
		json_array_foreach(names, k, name) {
			int	found = 0;

			json_array_foreach(a, i, vm) {
				if (strcmp(jstr(vm, "name"),
				    json_string_value(name)) != 0)
					continue;
				found = 1;
				if (strcmp(jstr(vm, "state"), "ready") == 0)
					ready++;
				else if (strcmp(jstr(vm, "state"),
				    "failed") == 0) {
					fprintf(stderr, "labctl: %s failed:"
					    " %s\n", jstr(vm, "name"),
					    jstr(vm, "error"));
					failed++;
				}
			}
			if (!found) {
				fprintf(stderr, "labctl: no VM %s\n",
				    json_string_value(name));
				failed++;
			}
		}
		json_decref(a);
		if (failed)
			return CTL_FAILED;
		if ((size_t)ready == json_array_size(names)) {
			if (!c->json)
				fprintf(out, "%d of %zu VMs ready\n", ready,
				    json_array_size(names));
			return CTL_OK;
		}
		if (time(NULL) >= deadline) {
			fprintf(stderr, "labctl: only %d of %zu VMs ready after"
			    " %d s\n", ready, json_array_size(names), timeout);
			return CTL_FAILED;
		}
		poll(NULL, 0, 500);
	}
}

static int
ctl_wait(struct ctl *c, int argc, char **argv)
{
	struct target	 t;
	json_t		*names;
	int		 rc;

	if (parse_target("wait", argc, argv, &t, T_TIMEOUT) == -1)
		return CTL_USAGE;
	if (t.vm != NULL)
		names = json_pack("[s]", t.vm);
	else if ((names = course_vms(c, t.course, &rc)) == NULL)
		return rc;
	rc = ctl_wait_names(c, names, t.timeout, stdout);
	json_decref(names);
	return rc;
}

static int
ctl_ports(struct ctl *c, int argc, char **argv)
{
	json_t	*a, *vm, *p, *out;
	size_t	 i, k;
	int	 rc;

	if (argc != 0)
		return CTL_USAGE;
	if ((a = ctl_call(c, "vm.list", NULL, &rc)) == NULL)
		return rc;
	out = json_array();
	json_array_foreach(a, i, vm)
		json_array_foreach(json_object_get(vm, "ports"), k, p)
			json_array_append_new(out, json_pack("{s:s,s:s,s:I,"
			    "s:s,s:I}", "service", jstr(p, "service"), "ip",
			    jstr(p, "ip"), "port", (json_int_t)jint(p, "port"),
			    "vm", jstr(vm, "name"), "guest_port",
			    (json_int_t)jint(p, "guest_port")));
	if (c->json)
		print_json(out);
	else {
		char	pub[96];

		printf("%-8s %-22s %-24s %s\n", "SERVICE", "PUBLIC", "VM",
		    "GUEST PORT");
		json_array_foreach(out, i, p) {
			snprintf(pub, sizeof(pub), "%s:%lld", jstr(p, "ip"),
			    jint(p, "port"));
			printf("%-8s %-22s %-24s %lld\n", jstr(p, "service"),
			    pub, jstr(p, "vm"), jint(p, "guest_port"));
		}
	}
	json_decref(out);
	json_decref(a);
	return CTL_OK;
}

static int
ctl_events(struct ctl *c, int argc, char **argv)
{
	json_t		*a, *e, *args = json_object();
	const char	*v;
	char		 when[32], *end;
	struct tm	 tm;
	time_t		 t;
	long long	 n;
	size_t		 i;
	int		 k, rc;

	for (k = 0; k < argc; k++) {
		if ((v = opt_value("--kind", argc, argv, &k)) != NULL)
			json_object_set_new(args, "kind", json_string(v));
		else if ((v = opt_value("--limit", argc, argv, &k)) != NULL) {
			n = strtoll(v, &end, 10);
			if (*v == '\0' || *end != '\0') {
				json_decref(args);
				return CTL_USAGE;
			}
			json_object_set_new(args, "limit", json_integer(n));
		} else {
			json_decref(args);
			return CTL_USAGE;
		}
	}
	if ((a = ctl_call(c, "events.list", args, &rc)) == NULL)
		return rc;
	if (c->json)
		print_json(a);
	else {
		printf("%-19s %-20s %-24s %s\n", "TIME", "KIND", "SUBJECT",
		    "DETAIL");
		json_array_foreach(a, i, e) {
			t = (time_t)jint(e, "time");
			localtime_r(&t, &tm);
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
			printf("%-19s %-20s %-24s %s\n", when, jstr(e, "kind"),
			    jstr(e, "subject"), jstr(e, "detail"));
		}
	}
	json_decref(a);
	return CTL_OK;
}

/*
 * The socket: -s, else $LABD_SOCKET, else the one labd.ini names (-c, or
 * /etc/labd/labd.ini when it exists), else the built-in default.
 */
static const char *
ctl_socket(const char *sock, const char *conf)
{
	static char	 path[PATH_MAX];
	char		 err[CTL_ERRLEN];
	const char	*env = getenv(LABD_SOCKET_ENV);

	if (sock != NULL || (conf == NULL && env != NULL && *env != '\0'))
		return client_socket_path(sock);
	if (conf == NULL) {
		if (access(LABD_DEFAULT_CONFIG, R_OK) == -1)
			return client_socket_path(NULL);
		conf = LABD_DEFAULT_CONFIG;
	}
	if (client_config_socket(conf, path, sizeof(path), err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "labctl: %s\n", err);
		return NULL;
	}
	return path;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl		 c = { 0 };
	const struct ctl_cmd	*cmd = NULL;
	const char		*sock = NULL, *conf = NULL;
	char			 err[CTL_ERRLEN];
	int			 ch, rc, nwords, k, j;

	if (ctl_table_check(ctl_cmds, NCMDS, err, sizeof(err)) == -1) {
		fprintf(stderr, "labctl: its command table: %s\n", err);
		abort();
	}
	/* Options may follow the command too: "labctl list --json". */
	for (k = 1, j = 1; k < argc; k++) {
		if (strcmp(argv[k], "--") == 0) {	/* exec's command, as is */
			while (k < argc)
				argv[j++] = argv[k++];
			break;
		}
		if (strcmp(argv[k], "--json") == 0)
			c.json = 1;
		else
			argv[j++] = argv[k];
	}
	argc = j;
	argv[argc] = NULL;
	while ((ch = getopt_long(argc, argv, "+c:s:jh", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'j':
			c.json = 1;
			break;
		case 'h':
			usage(stdout);
			return CTL_OK;
		default:
			usage(stderr);
			return CTL_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0 || strcmp(argv[0], "help") == 0) {
		usage(argc == 0 ? stderr : stdout);
		return argc == 0 ? CTL_USAGE : CTL_OK;
	}
	if ((cmd = ctl_lookup(ctl_cmds, NCMDS, argc, argv, &nwords, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "labctl: %s\n\n", err);
		usage(stderr);
		return CTL_USAGE;
	}
	if ((c.socket = ctl_socket(sock, conf)) == NULL)
		return CTL_USAGE;
	rc = cmd->fn(&c, argc - nwords, argv + nwords);
	if (rc == CTL_USAGE && !c.rc_is_status)
		fprintf(stderr, "usage: labctl %s%s%s %s\n", cmd->word1,
		    cmd->word2 ? " " : "", cmd->word2 ? cmd->word2 : "",
		    cmd->usage);
	client_close(c.conn);
	return rc;
}
