/* SPDX-License-Identifier: ISC */
/*
 * cmd_vm.c - the VM commands: list, start, stop, reset, suspend, the
 * snapshots, backups, exec.  The work itself
 * is vm.c's; these check the arguments, log who asked, and let vm.c reply
 * when the VM has reached the state asked for.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labd/vmjob.h"
#include "proto/term.h"


void
cmd_vm_list(const struct req *r, json_t *args)
{
	const char	*course = arg_str(args, "course");
	struct vm	*vm;
	json_t		*a = json_array();
	int		 tx = db_begin_read() == 0;

	for (vm = vm_list(); vm != NULL; vm = vm->next)
		if (course == NULL || strcmp(vm->course, course) == 0)
			json_array_append_new(a, vm_to_json(vm));
	checklast_fill(a);
	if (tx)
		db_commit();
	if (course != NULL && json_array_size(a) == 0) {
		sqlite3_stmt	*st = db_prepare("SELECT 1 FROM courses"
		    " WHERE name = ?");
		int		 found;

		sqlite3_bind_text(st, 1, course, -1, SQLITE_STATIC);
		found = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
		if (!found) {
			json_decref(a);
			reply_err(r, LABD_E_NOT_FOUND, "course \"%.64s\" not"
			    " found", course);
			return;
		}
	}
	reply_ok(r, a);
}

/* The VM named by args.vm (the dispatcher saw it), or an error reply. */
static struct vm *
vm_arg(const struct req *r, json_t *args)
{
	const char	*name = arg_str(args, "vm");
	struct vm	*vm;

	if ((vm = vm_find(name)) == NULL) {
		reply_err(r, LABD_E_NOT_FOUND, "vm \"%.80s\" not found"
		    " (labctl list shows them)", name);
		return NULL;
	}
	return vm;
}

/* With "wait": false the reply comes at once, not when the VM gets there. */
static int
arg_wait(json_t *args)
{
	json_t	*w = json_object_get(args, "wait");

	return w == NULL || json_is_true(w);
}

void
cmd_vm_start(const struct req *r, json_t *args)
{
	struct vm	*vm = vm_arg(r, args);
	char		 err[VMM_ERRLEN];

	if (vm == NULL)
		return;
	db_event(r->uid, "vm.start", vm->name, "%s", "");
	/* Paused on a disk error: continued here, by hand (diskfull.c). */
	if (vm->state == VM_PAUSED && diskfull_resume(vm, err,
	    sizeof(err)) == -1) {
		reply_err(r, LABD_E_FAILED, "cannot continue %s: %s",
		    vm->name, err);
		return;
	}
	vm_op_start(vm, arg_wait(args) ? req_done(r) : DONE_NONE);
	if (!arg_wait(args))
		reply_ok(r, vm_to_json(vm));
}

void
cmd_vm_stop(const struct req *r, json_t *args)
{
	struct vm	*vm = vm_arg(r, args);

	if (vm == NULL)
		return;
	db_event(r->uid, "vm.stop", vm->name, "%s",
	    json_is_true(json_object_get(args, "force")) ? "force" : "");
	vm_op_stop(vm, json_is_true(json_object_get(args, "force")),
	    arg_wait(args) ? req_done(r) : DONE_NONE);
	if (!arg_wait(args))
		reply_ok(r, vm_to_json(vm));
}

/*
 * A snapshot name argument, checked: "" when absent (the dispatcher has
 * seen to required ones), NULL after an error reply.
 */
static const char *
snap_arg(const struct req *r, json_t *args, const char *key)
{
	const char	*name = arg_str(args, key);

	if (name == NULL)
		return "";
	if (!snapshot_name_valid(name) ||
	    strncmp(name, "labd-", 5) == 0) {
		reply_err(r, LABD_E_INVALID, "snapshot name \"%.64s\": use 1-63"
		    " of A-Z, a-z, 0-9, '.', '_' and '-', starting with a"
		    " letter or digit, not all digits, not starting with"
		    " labd-", name);
		return NULL;
	}
	return name;
}

/* A reply with a note for the person who asked (what was done instead). */
struct noted {
	struct done	 inner;
	char		 note[256];
};

static void
noted_reply(void *arg, const char *code, const char *msg, json_t *result)
{
	struct noted	*n = arg;

	if (code == NULL && json_is_object(result))
		json_object_set_new(result, "note", json_string(n->note));
	n->inner.fn(n->inner.arg, code, msg, result);
	free(n);
}

static struct done
noted_done(struct done inner, const char *note)
{
	struct noted	*n;

	if (inner.fn == NULL)
		return inner;
	n = xcalloc(1, sizeof(*n));
	n->inner = inner;
	snprintf(n->note, sizeof(n->note), "%s", note);
	return (struct done){ noted_reply, n };
}

#define RESET_FRESH_NOTE "it had no pristine snapshot yet (it never became" \
	" ready): reset to a fresh disk from the template, booted"

/*
 * Back to pristine: vm.reset without "to" or "hard" (labctl reset VM)
 * and the gateway's +reset.  A VM that never became ready has no
 * pristine snapshot: back to where it began is a fresh disk, which is
 * what the person wants.  uid is who asked, for the event.
 */
void
vm_reset_pristine(struct vm *vm, uid_t uid, struct done d)
{
	if (vm->busy) {
		done_err(&d, LABD_E_BUSY, "%s: another operation is running"
		    " on it; try again in a moment", vm->name);
		return;
	}
	if (!vm_snapshot_find(vm, "pristine", NULL)) {
		db_event(uid, "vm.reset", vm->name, "no pristine snapshot:"
		    " fresh overlay");
		vm_op_reset(vm, noted_done(d, RESET_FRESH_NOTE));
		return;
	}
	db_event(uid, "vm.reset", vm->name, "to %s", "pristine");
	vm_op_restore(vm, "pristine", d);
}

void
cmd_vm_reset(const struct req *r, json_t *args)
{
	struct vm	*vm = vm_arg(r, args);
	const char	*to;
	int		 hard = json_is_true(json_object_get(args, "hard"));
	int		 fresh;

	if (vm == NULL || (to = snap_arg(r, args, "to")) == NULL)
		return;
	if (hard && *to != '\0') {
		reply_err(r, LABD_E_INVALID, "vm.reset: \"hard\" makes a fresh"
		    " disk from the template; it takes no snapshot");
		return;
	}
	if (vm->busy) {
		reply_err(r, LABD_E_BUSY, "%s: another operation is running"
		    " on it; try again in a moment", vm->name);
		return;
	}
	if (!hard && *to == '\0') {
		fresh = !vm_snapshot_find(vm, "pristine", NULL);
		vm_reset_pristine(vm, r->uid, arg_wait(args) ? req_done(r) :
		    DONE_NONE);
		if (!arg_wait(args)) {
			json_t	*o = vm_to_json(vm);

			if (fresh)
				json_object_set_new(o, "note",
				    json_string(RESET_FRESH_NOTE));
			reply_ok(r, o);
		}
		return;
	}
	if (hard) {
		db_event(r->uid, "vm.reset", vm->name, "hard: fresh overlay");
		vm_op_reset(vm, arg_wait(args) ? req_done(r) : DONE_NONE);
	} else {
		db_event(r->uid, "vm.reset", vm->name, "to %s", to);
		vm_op_restore(vm, to, arg_wait(args) ? req_done(r) :
		    DONE_NONE);
	}
	if (!arg_wait(args))
		reply_ok(r, vm_to_json(vm));
}

void
cmd_vm_snapshot(const struct req *r, json_t *args)
{
	struct vm	*vm = vm_arg(r, args);
	const char	*name;

	if (vm == NULL || (name = snap_arg(r, args, "name")) == NULL)
		return;
	db_event(r->uid, "vm.snapshot", vm->name, "%s", name);
	vm_op_snapshot(vm, name, req_done(r));
}

void
cmd_vm_snapshot_rm(const struct req *r, json_t *args)
{
	struct vm	*vm = vm_arg(r, args);
	const char	*name;

	if (vm == NULL || (name = snap_arg(r, args, "name")) == NULL)
		return;
	db_event(r->uid, "vm.snapshot_rm", vm->name, "%s", name);
	vm_op_snapshot_rm(vm, name, req_done(r));
}

void
cmd_vm_snapshots(const struct req *r, json_t *args)
{
	struct vm	*vm = vm_arg(r, args);

	if (vm != NULL)
		reply_ok(r, vm_snapshots_json(vm));
}

void
cmd_vm_suspend(const struct req *r, json_t *args)
{
	struct vm	*vm = vm_arg(r, args);

	if (vm == NULL)
		return;
	db_event(r->uid, "vm.suspend", vm->name, "%s", "");
	vm_op_suspend(vm, arg_wait(args) ? req_done(r) : DONE_NONE);
	if (!arg_wait(args))
		reply_ok(r, vm_to_json(vm));
}

/* A backup's reply, once the copy is over (or refused by the host). */
static void
backup_after(struct vmjob *j, struct vm *vm)
{
	struct req	*r = j->arg;

	if (j->rc == -1)
		reply_err(r, LABD_E_FAILED, "%s: backup to %s: %s",
		    j->def.name, j->target, j->err);
	else {
		log_info("%s: backup to %s, %lld bytes in %.1f s%s",
		    j->def.name, j->target, j->bytes, j->ms / 1000.0,
		    j->running ? ", live" : "");
		reply_ok(r, json_pack("{s:s,s:s,s:I,s:I,s:f,s:b,s:b}",
		    "vm", j->def.name, "file", j->target,
		    "bytes", (json_int_t)j->bytes,
		    "virtual_size", (json_int_t)j->vsize,
		    "seconds", j->ms / 1000.0, "live", j->running,
		    "synced", j->synced));
	}
	if (j->peer != -1)
		close(j->peer);
	req_free(r);
}

static const struct vmjob_hooks backup_hooks = { .after = backup_after };

/*
 * The target as given: absolute, a file name at its end that the temp
 * name (".NAME.labd-PID-N") still fits around.  Where it may be written
 * is checked by the worker, on the folder it actually opens.
 */
static int
backup_path_ok(const struct req *r, const char *path)
{
	const char	*base;
	size_t		 i;

	if (path[0] != '/' || strlen(path) >= PATH_MAX) {
		reply_err(r, LABD_E_INVALID, "backup file \"%.200s\": give an"
		    " absolute path", path);
		return 0;
	}
	for (i = 0; path[i] != '\0'; i++)
		if ((unsigned char)path[i] < 0x20) {
			reply_err(r, LABD_E_INVALID, "backup file: a control"
			    " character in the path");
			return 0;
		}
	base = strrchr(path, '/') + 1;
	if (*base == '\0' || strcmp(base, ".") == 0 ||
	    strcmp(base, "..") == 0 || strlen(base) > NAME_MAX - 32) {
		reply_err(r, LABD_E_INVALID, "backup file \"%.200s\": end it"
		    " with a file name of at most %d characters", path,
		    NAME_MAX - 32);
		return 0;
	}
	return 1;
}

void
cmd_vm_backup(const struct req *r, json_t *args)
{
	struct vm	*vm = vm_arg(r, args);
	const char	*path = arg_str(args, "path");
	json_t		*force = json_object_get(args, "force");
	struct vmjob	*j;
	const char	*code;
	char		 err[LABD_ERRLEN];

	if (vm == NULL)
		return;
	if (!backup_path_ok(r, path))
		return;
	j = xcalloc(1, sizeof(*j));
	snprintf(j->target, sizeof(j->target), "%s", path);
	j->force = json_is_true(force);
	j->uid = r->uid;
	j->peer = req_peer(r);
	j->hooks = &backup_hooks;
	j->arg = req_keep(r);
	if ((code = vm_op_backup(vm, j, err, sizeof(err))) != NULL) {
		reply_err(r, code, "%s", err);
		if (j->peer != -1)
			close(j->peer);
		req_free(j->arg);
		free(j);
		return;
	}
	db_event(r->uid, "vm.backup", vm->name, "to %s%s", path,
	    json_is_true(force) ? " (force)" : "");
}

/* An exec's reply, once the command has run (or could not). */
static void
exec_after(struct vmjob *j, struct vm *vm)
{
	struct req	*r = j->arg;

	if (j->rc == -1)
		reply_err(r, LABD_E_FAILED, "%s: exec: %s", j->def.name,
		    j->err);
	else
		reply_ok(r, json_pack("{s:s,s:i,s:s}", "vm", j->def.name,
		    "status", j->status, "output", j->output));
	req_free(r);
}

static const struct vmjob_hooks exec_hooks = { .after = exec_after };

#define EXEC_CMD_MAX		8192	/* bytes */
#define EXEC_TIMEOUT_DEFAULT	60	/* seconds */
#define EXEC_TIMEOUT_MAX	3600

void
cmd_vm_exec(const struct req *r, json_t *args)
{
	struct vm	*vm = vm_arg(r, args);
	json_t		*c = json_object_get(args, "cmd");
	json_t		*t = json_object_get(args, "timeout");
	json_int_t	 timeout = EXEC_TIMEOUT_DEFAULT;
	struct vmjob	*j;
	const char	*code;
	char		 err[LABD_ERRLEN];

	if (vm == NULL)
		return;
	/* A NUL inside would cut the command the guest runs short. */
	if (json_string_length(c) == 0 ||
	    json_string_length(c) != strlen(json_string_value(c))) {
		reply_err(r, LABD_E_INVALID, "vm.exec: \"cmd\" is empty or"
		    " holds a NUL");
		return;
	}
	if (json_string_length(c) > EXEC_CMD_MAX) {
		reply_err(r, LABD_E_INVALID, "vm.exec: the command is %zu"
		    " bytes; at most %d", json_string_length(c), EXEC_CMD_MAX);
		return;
	}
	if (t != NULL && ((timeout = json_integer_value(t)) < 1 ||
	    timeout > EXEC_TIMEOUT_MAX)) {
		reply_err(r, LABD_E_INVALID, "vm.exec: \"timeout\" is whole"
		    " seconds, 1 to %d", EXEC_TIMEOUT_MAX);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->cmd = xstrdup(json_string_value(c));
	j->timeout_ms = (int)timeout * 1000;
	j->uid = r->uid;
	j->hooks = &exec_hooks;
	j->arg = req_keep(r);
	if ((code = vm_op_exec(vm, j, err, sizeof(err))) != NULL) {
		reply_err(r, code, "%s", err);
		req_free(j->arg);
		free(j->cmd);
		free(j);
		return;
	}
	db_event(r->uid, "vm.exec", vm->name, "%s", json_string_value(c));
}

/* --- a new password ----------------------------------------------------- */

#define PASSWD_LEN	12	/* as course.c makes them */

struct passwd_job {
	struct req	*r;
	char		 login[LABD_NAMELEN];
	char		 pw[PASSWD_LEN + 1];
	char		 hash[256];
};

/* The guest took it: the row too (a fresh disk's seed has it), and the reply. */
static void
passwd_after(struct vmjob *j, struct vm *vm)
{
	struct passwd_job	*p = j->arg;
	sqlite3_stmt		*st;

	if (j->rc == -1 || j->status != 0) {
		reply_err(p->r, LABD_E_FAILED, "%s: the guest did not take the"
		    " new password: %s", j->def.name, j->rc == -1 ? j->err :
		    j->output);
		goto done;
	}
	st = db_prepare("UPDATE students SET pw_hash = ? WHERE id ="
	    " (SELECT student_id FROM vms WHERE name = ?)");
	sqlite3_bind_text(st, 1, p->hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, j->def.name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		log_warnx("%s: the new password is in the guest but not in the"
		    " database: %s", j->def.name, sqlite3_errmsg(labd->db));
	sqlite3_finalize(st);
	reply_ok(p->r, json_pack("{s:s,s:s,s:s}", "vm", j->def.name, "user",
	    p->login, "password", p->pw));
done:
	explicit_bzero(p->pw, sizeof(p->pw));
	req_free(p->r);
	free(p);
}

static const struct vmjob_hooks passwd_hooks = { .after = passwd_after };

/*
 * A student who lost their password gets a new one: set in the guest as
 * root with labd's key (chpasswd -e: only the hash crosses), then kept
 * hashed in the database.  The VM must be ready.
 */
void
cmd_vm_passwd(const struct req *r, json_t *args)
{
	struct vm		*vm = vm_arg(r, args);
	struct passwd_job	*p;
	struct vmjob		*j;
	const char		*code;
	char			 err[LABD_ERRLEN], cmd[512];

	if (vm == NULL)
		return;
	p = xcalloc(1, sizeof(*p));
	snprintf(p->login, sizeof(p->login), "%s", vm->student);
	if (seed_random_password(p->pw, PASSWD_LEN) == -1 ||
	    seed_hash_password(p->pw, p->hash, sizeof(p->hash)) == -1 ||
	    strspn(p->hash, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789./$") != strlen(p->hash)) {
		reply_err(r, LABD_E_INTERNAL, "%s: cannot make a password",
		    vm->name);
		free(p);
		return;
	}
	/*
	 * /etc/shadow rewritten in place of chpasswd, which busybox guests
	 * may lack; the hash reaches awk in its environment.  The login is
	 * [a-z0-9_-] (roster.c), the hash [A-Za-z0-9./$]: no quote in
	 * either.  A login absent from shadow is a failure.
	 */
	snprintf(cmd, sizeof(cmd), "H='%s' awk -F: -v OFS=: -v u='%s'"
	    " '$1 == u { $2 = ENVIRON[\"H\"]; n++ } { print }"
	    " END { exit (n != 1) }' /etc/shadow >/etc/shadow.n &&"
	    " chmod 600 /etc/shadow.n && mv /etc/shadow.n /etc/shadow ||"
	    " { rm -f /etc/shadow.n; echo no such user in /etc/shadow >&2;"
	    " exit 1; }", p->hash, p->login);
	j = xcalloc(1, sizeof(*j));
	j->cmd = xstrdup(cmd);
	j->timeout_ms = 30000;
	j->uid = r->uid;
	j->hooks = &passwd_hooks;
	p->r = req_keep(r);
	j->arg = p;
	if ((code = vm_op_exec(vm, j, err, sizeof(err))) != NULL) {
		reply_err(r, code, "%s", err);
		req_free(p->r);
		free(p);
		free(j->cmd);
		free(j);
		return;
	}
	db_event(r->uid, "vm.passwd", vm->name, "for %s", p->login);
}

/*
 * A connected socket to the VM's serial console: labd connects to QEMU's
 * socket, which only labd's user reaches, for vm.console and for the
 * gateway's +console.  -1 with err and an LABD_E_* code in *code when
 * the VM does not run or the socket does not answer.
 */
int
vm_console_open(const struct vm *vm, const char **code, char *err,
    size_t errlen)
{
	char	rundir[PATH_MAX], path[PATH_MAX], e[LABD_ERRLEN];
	int	fd;

	if (vm->pid <= 0 || (vm->state != VM_READY &&
	    vm->state != VM_BOOTING)) {
		*code = LABD_E_INVALID;
		errf(err, errlen, "%s is %s: a console is there while the VM"
		    " runs", vm->name, vm_state_name(vm->state));
		return -1;
	}
	vm_paths(vm->name, NULL, rundir);
	vmm_path(path, sizeof(path), rundir, VMM_SERIAL_SOCK);
	if ((fd = console_open(path, e, sizeof(e))) == -1) {
		*code = LABD_E_FAILED;
		errf(err, errlen, "%s: %s", vm->name, e);
		return -1;
	}
	return fd;
}

/*
 * The VM's serial console, for whoever may open it (admin and ta): the
 * connected socket goes along with the reply.  The client then talks to
 * QEMU directly; labd is out of the way.
 */
void
cmd_vm_console(const struct req *r, json_t *args)
{
	struct vm	*vm = vm_arg(r, args);
	char		 err[LABD_ERRLEN];
	const char	*code;
	int		 fd;

	if (vm == NULL)
		return;
	if ((fd = vm_console_open(vm, &code, err, sizeof(err))) == -1) {
		reply_err(r, code, "%s", err);
		return;
	}
	if (reply_ok_fd(r, json_pack("{s:s}", "vm", vm->name), fd) == -1)
		reply_err(r, LABD_E_BUSY, "%s: the console could not be passed"
		    " on: read labd's other replies first", vm->name);
	else
		db_event(r->uid, "vm.console", vm->name, "%s", "opened");
	close(fd);
}

/* The screen's door: the ta role gets it without the password. */
void
cmd_vm_vnc(const struct req *r, json_t *args)
{
	struct vm	*vm = vm_arg(r, args);
	char		 err[LABD_ERRLEN];
	const char	*code;
	json_t		*res;

	if (vm == NULL)
		return;
	if ((code = vnc_info(vm->name, req_admin(r), &res, err,
	    sizeof(err))) != NULL) {
		reply_err(r, code, "%s", err);
		return;
	}
	json_object_set_new(res, "state", json_string(vm_state_name(
	    vm->state)));
	reply_ok(r, res);
}
