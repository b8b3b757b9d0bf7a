/* SPDX-License-Identifier: ISC */
/*
 * vm.c - one VM's life.  The database says whether a VM should run; this
 * file drives the host there and reports what it sees:
 *
 *   stopped -> queued (until a boot slot is free: boot.c)
 *           -> provisioning (disk, seed, QEMU spawned in a worker)
 *           -> booting (QEMU runs; wait for the serial ready line if the
 *              template has one, then for root's login with labd's key
 *              and cloud-init's "done"; the course's sudo policy is put
 *              in place by the same command)
 *           -> ready
 *           -> pristine (the first time: a snapshot with RAM) -> ready
 *   ready/booting -> stopping (ACPI powerdown, then QMP quit) -> stopped
 *   ready -> suspending (RAM into the disk, QEMU quits) -> suspended
 *         -> resuming (QEMU paused, RAM back, continue) -> booting -> ready
 *   ready -> restoring (RAM and disk of a snapshot, no reboot) -> ready
 *   booting/ready -> queued (a panic, a boot past boot_timeout, a QEMU
 *              that died: booted again from its disk after a pause)
 *           -> failed (after boot_tries boots)
 *   booting/ready -> stopped (the guest powered itself off)
 *
 * A VM's QEMU runs in its own session, so labd may die at any instant:
 * at start vm_load_all() adopts every QEMU that still runs (pidfile +
 * command line + QMP) and starts the ones that should run but do not.
 * Slow steps run in workers on a copy of the VM's definition (struct
 * vmdef); a generation number discards results that a later reset made
 * stale.
 */
#include <sys/epoll.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "labd/vmjob.h"

#define VM_TICK_MS		500
#define VM_STOP_TIMEOUT_MS	20000
/* Lines of the console in the error of a VM that never came up. */
#define VM_CONSOLE_LINES	8
#define VM_PANIC_LINE		"Kernel panic"

struct waiter {
	struct done	 done;
	enum vm_state	 want;
	struct waiter	*next;
};

static struct vm	*vms;
static long long	 tick_timer;
static int		 boot_kicked;	/* a dispatch of the queue is due */

static const char *vm_state_names[] = {
	[VM_STOPPED] = "stopped",
	[VM_PROVISIONING] = "provisioning",
	[VM_BOOTING] = "booting",
	[VM_READY] = "ready",
	[VM_STOPPING] = "stopping",
	[VM_FAILED] = "failed",
	[VM_SUSPENDING] = "suspending",
	[VM_SUSPENDED] = "suspended",
	[VM_RESUMING] = "resuming",
	[VM_RESTORING] = "restoring",
	[VM_SNAPSHOTTING] = "snapshotting",
	[VM_QUEUED] = "queued",
	[VM_PAUSED] = "paused",
};

static void	vm_submit(struct vm *, enum vmjob_kind);
static void	vm_submit_snap(struct vm *, enum vmjob_kind, const char *snap,
		    int ram, struct done);
static void	vm_qmp_attach(struct vm *);
static void	vm_qmp_detach(struct vm *);
static void	vm_boot_kick(void);
static void	vm_boot_dispatch(void);
static void	vm_boot_failed(struct vm *, const char *why, int qemu_gone);
static void	vm_backup_done(struct vmjob *, struct vm *);

const char *
vm_state_name(enum vm_state s)
{
	return vm_state_names[s];
}

struct vm *
vm_list(void)
{
	return vms;
}

struct vm *
vm_find(const char *name)
{
	struct vm	*vm;

	for (vm = vms; vm != NULL; vm = vm->next)
		if (strcmp(vm->name, name) == 0)
			return vm;
	return NULL;
}

struct vm *
vm_by_id(int64_t id)
{
	struct vm	*vm;

	for (vm = vms; vm != NULL; vm = vm->next)
		if (vm->id == id)
			return vm;
	return NULL;
}

int
vm_count(int *running)
{
	struct vm	*vm;
	int		 n = 0;

	*running = 0;
	for (vm = vms; vm != NULL; vm = vm->next) {
		n++;
		if (vm->state == VM_BOOTING || vm->state == VM_READY)
			(*running)++;
	}
	return n;
}

/* --- loop side ---------------------------------------------------------- */

void
vm_set_state(struct vm *vm, enum vm_state st, const char *error)
{
	struct waiter	**wp, *w;

	if (st == vm->state && error == NULL)
		return;
	vm->state = st;
	snprintf(vm->error, sizeof(vm->error), "%s", error ? error : "");
	if (error != NULL)
		log_warnx("%s: %s", vm->name, error);
	else
		log_info("%s: %s", vm->name, vm_state_name(st));
	/* No QEMU in these states: its cgroup folder goes (if empty). */
	if (st == VM_STOPPED || st == VM_SUSPENDED || st == VM_FAILED)
		priv_cgroup_release(vm->name);
	if (st == VM_READY)
		vm->boot_tries = 0;	/* up: a later failure starts anew */
	/* A boot slot may be free now. */
	if (st != VM_PROVISIONING && st != VM_BOOTING)
		vm_boot_kick();
	/* Idle time, wake listeners, forwarding rules, clients: the bus. */
	events_fire("vm.state", vm, vm_to_json(vm));

	for (wp = &vm->waiters; (w = *wp) != NULL; ) {
		if (st == w->want)
			done_ok(&w->done, vm_to_json(vm));
		else if (st == VM_FAILED)
			done_err(&w->done, LABD_E_FAILED, "%s: %s", vm->name,
			    vm->error);
		else if (st == VM_STOPPED && w->want == VM_READY)
			done_err(&w->done, LABD_E_FAILED, "%s stopped before"
			    " it became ready%s%s", vm->name,
			    error ? ": " : "", error ? error : "");
		if (w->done.fn == NULL) {
			*wp = w->next;
			free(w);
		} else
			wp = &w->next;
	}
}

static void
vm_wait(struct vm *vm, struct done d, enum vm_state want)
{
	struct waiter	*w;

	if (d.fn == NULL)
		return;
	w = xcalloc(1, sizeof(*w));
	w->done = d;
	w->want = want;
	w->next = vm->waiters;
	vm->waiters = w;
}

/* "running", "stopped" or "suspended", in the database first. */
static void
vm_set_desired(struct vm *vm, const char *desired)
{
	sqlite3_stmt	*st;

	vm->want_running = strcmp(desired, "running") == 0;
	vm->want_suspended = strcmp(desired, "suspended") == 0;
	st = db_prepare("UPDATE vms SET desired = ? WHERE id = ?");
	sqlite3_bind_text(st, 1, desired, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, vm->id);
	if (sqlite3_step(st) != SQLITE_DONE)
		log_warnx("%s: cannot record desired state", vm->name);
	sqlite3_finalize(st);
}

/* --- snapshot rows: what the VM's disk holds, for listings ------------- */

static void
snap_row_put(struct vm *vm, const char *name, int ram, uint64_t size)
{
	sqlite3_stmt	*st;

	st = db_prepare("INSERT OR REPLACE INTO snapshots(vm_id, name,"
	    " created, ram, vm_state_size) VALUES (?, ?, ?, ?, ?)");
	sqlite3_bind_int64(st, 1, vm->id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	sqlite3_bind_int(st, 4, ram);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)size);
	if (sqlite3_step(st) != SQLITE_DONE)
		log_warnx("%s: cannot record snapshot %s", vm->name, name);
	sqlite3_finalize(st);
}

/* Delete one row, or all of them when name is NULL (a new disk). */
static void
snap_row_del(struct vm *vm, const char *name)
{
	sqlite3_stmt	*st;

	st = db_prepare("DELETE FROM snapshots WHERE vm_id = ?1 AND"
	    " (?2 IS NULL OR name = ?2)");
	sqlite3_bind_int64(st, 1, vm->id);
	if (name != NULL)
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_step(st);
	sqlite3_finalize(st);
}

/* The rows again from what a disk put in place holds (recover). */
void
vm_snap_rows_set(struct vm *vm, const struct vmm_snapshot *v, size_t n)
{
	size_t	i;

	snap_row_del(vm, NULL);
	for (i = 0; i < n; i++)
		snap_row_put(vm, v[i].name, v[i].vm_state_size != 0,
		    v[i].vm_state_size);
}

/* 1 and *ram set when the VM has snapshot name, else 0. */
int
vm_snapshot_find(const struct vm *vm, const char *name, int *ram)
{
	sqlite3_stmt	*st;
	int		 found;

	st = db_prepare("SELECT ram FROM snapshots WHERE vm_id = ? AND"
	    " name = ?");
	sqlite3_bind_int64(st, 1, vm->id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	if ((found = sqlite3_step(st) == SQLITE_ROW) && ram != NULL)
		*ram = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return found;
}

json_t *
vm_snapshots_json(const struct vm *vm)
{
	sqlite3_stmt	*st;
	json_t		*a = json_array();

	st = db_prepare("SELECT name, created, ram, vm_state_size FROM"
	    " snapshots WHERE vm_id = ? ORDER BY created, id");
	sqlite3_bind_int64(st, 1, vm->id);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(a, json_pack("{s:s,s:I,s:b,s:I}",
		    "name", db_text(st, 0),
		    "created", (json_int_t)sqlite3_column_int64(st, 1),
		    "ram", sqlite3_column_int(st, 2),
		    "size", (json_int_t)sqlite3_column_int64(st, 3)));
	sqlite3_finalize(st);
	return a;
}

static void
vm_now_ready(struct vm *vm)
{
	vm->ready_ms = now_ms();
	log_info("%s: ready in %.1f s", vm->name,
	    (vm->ready_ms - vm->wait_ms) / 1000.0);
	vm_set_state(vm, VM_READY, NULL);
	vm_op_policy(vm);
}

/* A QEMU is (again) running the guest: watch it and wait for SSH. */
static void
vm_booted(struct vm *vm, pid_t pid, int fresh_boot)
{
	vm->pid = pid;
	/* A resume after a restart of labd: no start time known, this one. */
	if (fresh_boot || vm->boot_ms == 0)
		vm->boot_ms = now_ms();
	vm->wait_ms = now_ms();
	vm->serial_seen = !fresh_boot;	/* no new ready line without a boot */
	vm->guest_off = 0;
	vm->panicked = 0;
	vm->serial_off = 0;	/* the spawn began a new console log */
	vm->golden_off = 0;
	vm->probe_next = 0;
	vm->probe_err[0] = '\0';
	vm_qmp_attach(vm);
	vm_set_state(vm, VM_BOOTING, NULL);
}

/* Tell whoever asked for a snapshot job how it went, if anyone did. */
static void
vmjob_reply(struct vmjob *j, struct vm *vm, const char *what)
{
	if (j->rc == 0)
		done_ok(&j->done, vm_to_json(vm));
	else
		done_err(&j->done, LABD_E_FAILED, "%s: %s %s: %s", vm->name,
		    what, j->snap, j->err);
}

static void
vmjob_done_snap(struct vmjob *j, struct vm *vm)
{
	switch (j->kind) {
	case VMJOB_SNAPSHOT:
		if (j->rc == 0) {
			snap_row_put(vm, j->snap, j->ram, j->state_size);
			db_event(0, "vm.snapshot", vm->name, "%s%s", j->snap,
			    j->ram ? " with RAM" : " disk only");
		}
		if (strcmp(j->snap, "pristine") == 0 && vm->state == VM_BOOTING) {
			/* The first boot: ready now, pristine or not. */
			if (j->rc == -1)
				log_warnx("%s: no pristine snapshot: %s",
				    vm->name, j->err);
			vm_now_ready(vm);
		} else if (vm->state == VM_SNAPSHOTTING)
			vm_set_state(vm, j->running ? VM_READY : VM_STOPPED,
			    NULL);
		vmjob_reply(j, vm, "snapshot");
		break;
	case VMJOB_SNAPDEL:
		if (j->rc == 0)
			snap_row_del(vm, j->snap);
		vmjob_reply(j, vm, "delete snapshot");
		break;
	case VMJOB_RESTORE:
		if (j->rc == -1) {
			vmjob_reply(j, vm, "restore");
			vm->pid = 0;
			vm_set_state(vm, VM_FAILED, j->err);
			break;
		}
		db_event(0, "vm.restore", vm->name, "%s", j->snap);
		if (j->booted) {
			/* A disk-only snapshot, or RAM into a new QEMU. */
			vm_booted(vm, j->pid, !j->ram);
			if (j->ram)
				vm->clock_pending = 1;
		} else {
			vm_set_state(vm, VM_READY, NULL);
			/* The job could not set the clock and policy: retry. */
			if (!j->policy_set) {
				vm->clock_pending = 1;
				vm_submit(vm, VMJOB_SYNC);
				vm->clock_pending = 0;
			} else {
				vm->sudo_applied = j->sudo;
				vm_op_policy(vm);
			}
		}
		vmjob_reply(j, vm, "restore");
		break;
	case VMJOB_SUSPEND:
		if (j->rc == -1) {
			vm_set_desired(vm, "running");
			vm_set_state(vm, VM_READY, j->err);
			break;
		}
		vm->pid = 0;
		vm_set_state(vm, VM_SUSPENDED, NULL);
		break;
	case VMJOB_RESUME:
		if (j->rc == -1) {
			vm_set_state(vm, VM_FAILED, j->err);
			break;
		}
		vm->clock_pending = 1;
		vm_booted(vm, j->pid, 0);
		break;
	case VMJOB_SYNC:
		if (j->rc == 0) {
			vm->sudo_applied = j->sudo;
			/* course set again while this one ran: once more. */
			vm_op_policy(vm);
		}
		if (j->rc == -1)
			log_warnx("%s: cannot set the guest's %s: %s",
			    vm->name, j->set_clock ? "clock and sudo policy" :
			    "sudo policy", j->err);
		else
			log_debug("%s: guest %s set", vm->name, j->set_clock ?
			    "clock and sudo policy" : "sudo policy");
		break;
	default:
		break;
	}
}

static void
vmjob_done(struct job *job)
{
	struct vmjob	*j = (struct vmjob *)job;
	struct vm	*vm = vm_by_id(j->vm_id);

	if (j->kind == VMJOB_BACKUP) {	/* its asker replies, VM or not */
		vm_backup_done(j, vm);
		goto done;
	}
	if (j->kind == VMJOB_EXEC) {	/* never busy; its asker replies */
		j->hooks->after(j, vm);
		goto done;
	}
	if (vm == NULL)
		goto done;
	if (j->kind == VMJOB_PROBE) {
		vm->probing = 0;
		if (j->gen != vm->gen || vm->state != VM_BOOTING)
			goto done;
		if (j->rc != 0 || j->ready == READY_WAIT) {
			/* Why it is not ready yet, for a boot that takes long. */
			if (j->rc != 0 || j->ci_status[0] == '\0')
				snprintf(vm->probe_err, sizeof(vm->probe_err),
				    "%s", j->err);
			else
				snprintf(vm->probe_err, sizeof(vm->probe_err),
				    "SSH answers, cloud-init status: %s",
				    j->ci_status);
			/* Logged in: the guest is busy; ask less often. */
			if (j->rc == 0)
				vm->probe_next = now_ms() + VM_PROBE_WAIT_MS;
			goto done;
		}
		vm->probe_err[0] = '\0';
		vm->sudo_applied = j->sudo;
		if (j->ready == READY_ERROR) {
			log_warnx("%s: cloud-init finished with errors (in the"
			    " guest, cloud-init status --long tells which)",
			    vm->name);
			db_event(0, "vm.cloud-init", vm->name, "cloud-init"
			    " finished with errors");
		}
		if (vm->clock_pending) {
			vm_submit(vm, VMJOB_SYNC);
			vm->clock_pending = 0;
		}
		/* The first time it answers: pristine, with its RAM. */
		if (!vm_snapshot_find(vm, "pristine", NULL) && !vm->busy)
			vm_submit_snap(vm, VMJOB_SNAPSHOT, "pristine", 1,
			    DONE_NONE);
		else
			vm_now_ready(vm);
		goto done;
	}
	if (j->kind == VMJOB_SYNC) {
		vmjob_done_snap(j, vm);
		goto done;
	}
	vm->busy = 0;
	switch (j->kind) {
	case VMJOB_START:
	case VMJOB_RESET:
		if (j->rc == -1) {
			vm_set_state(vm, VM_FAILED, j->err);
			break;
		}
		if (j->kind == VMJOB_RESET)	/* a new disk: none of them */
			snap_row_del(vm, NULL);
		vm_booted(vm, j->pid, 1);
		if (!vm->want_running)	/* stopped while it was starting */
			vm_op_stop(vm, 1, DONE_NONE);
		break;
	case VMJOB_KILL:
		vm->pid = 0;
		if (vm->state == VM_STOPPING)
			vm_set_state(vm, j->rc == 0 ? VM_STOPPED : VM_FAILED,
			    j->rc == 0 ? NULL : j->err);
		else if (j->rc == -1)
			log_warnx("%s: %s", vm->name, j->err);
		else if (vm->state == VM_QUEUED)	/* a retry: its turn */
			vm_boot_kick();
		break;
	default:
		vmjob_done_snap(j, vm);
		/*
		 * A stop asked for during a snapshot or a restore waited for
		 * it (vm_op_stop() saw the VM busy): it is its turn now.
		 */
		if (!vm->want_running && !vm->want_suspended && !vm->busy &&
		    (vm->state == VM_READY || vm->state == VM_BOOTING))
			vm_op_stop(vm, 0, DONE_NONE);
		break;
	}
done:
	/* A VM removed meanwhile: its asker still hears of it. */
	done_err(&j->done, LABD_E_NOT_FOUND, "%s was removed", j->def.name);
	free(j->cmd);
	free(j->output);
	free(j->input);
	free(j);
}

/* The course's sudo setting, read when it is needed: course set changes it. */
static int
vm_course_sudo(const struct vm *vm)
{
	sqlite3_stmt	*st;
	int		 sudo = 1;

	st = db_prepare("SELECT c.sudo FROM courses c JOIN vms v ON"
	    " v.course_id = c.id WHERE v.id = ?");
	sqlite3_bind_int64(st, 1, vm->id);
	if (sqlite3_step(st) == SQLITE_ROW)
		sudo = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return sudo;
}

/*
 * What a job needs to reach the guest as root and make it agree with its
 * course: address, labd's key, the student's login and the sudo setting.
 */
static void
vm_job_guest(const struct vm *vm, struct vmjob *j)
{
	snprintf(j->def.name, sizeof(j->def.name), "%s", vm->name);
	snprintf(j->ip, sizeof(j->ip), "%s", vm->probe_ip);
	j->port = vm->probe_port;
	snprintf(j->keyfile, sizeof(j->keyfile), "%s", keys_private());
	snprintf(j->login, sizeof(j->login), "%s", vm->student);
	j->sudo = vm_course_sudo(vm);
}

/*
 * Make a ready VM agree with its course's sudo setting when what was last
 * put in place differs: after course set changed it, and after a job that
 * put the setting of the moment it was made in place while course set
 * changed it (and skipped the VM, not ready then).  The others agree when
 * they next become ready: the probe applies it.
 */
void
vm_op_policy(struct vm *vm)
{
	if (vm->state == VM_READY && vm->probe_port != 0 &&
	    vm_course_sudo(vm) != vm->sudo_applied)
		vm_submit(vm, VMJOB_SYNC);
}

static void
vm_submit(struct vm *vm, enum vmjob_kind kind)
{
	struct vmjob	*j = xcalloc(1, sizeof(*j));
	char		 err[LABD_ERRLEN];

	j->job.run = vmjob_run;
	j->job.done = vmjob_done;
	j->kind = kind;
	j->vm_id = vm->id;
	j->gen = vm->gen;
	if (kind == VMJOB_PROBE || kind == VMJOB_SYNC) {
		vm_job_guest(vm, j);
		if (kind == VMJOB_PROBE)
			vm->probing = 1;
		else if (vm->probe_port == 0) {
			free(j);	/* no SSH: nothing to set them with */
			return;
		}
		/* The clock too after a RAM restore; else the policy alone. */
		j->set_clock = vm->clock_pending;
	} else {
		if (vmdef_load(vm->id, &j->def, err, sizeof(err)) == -1) {
			free(j);
			vm_set_state(vm, VM_FAILED, err);
			return;
		}
		vm->busy = 1;
	}
	workers_submit(labd->workers, &j->job);
}

static void
vm_submit_snap(struct vm *vm, enum vmjob_kind kind, const char *snap, int ram,
    struct done d)
{
	struct vmjob	*j = xcalloc(1, sizeof(*j));
	char		 err[LABD_ERRLEN];

	j->job.run = vmjob_run;
	j->job.done = vmjob_done;
	j->kind = kind;
	j->vm_id = vm->id;
	j->gen = vm->gen;
	snprintf(j->snap, sizeof(j->snap), "%s", snap ? snap : "");
	j->ram = ram;
	/* A restore sets the guest's clock; a RAM snapshot trims it first. */
	if (kind == VMJOB_RESTORE || (kind != VMJOB_SNAPDEL && ram))
		vm_job_guest(vm, j);
	j->running = vm->pid != 0 && (vm->state == VM_READY ||
	    vm->state == VM_BOOTING || vm->state == VM_SNAPSHOTTING ||
	    vm->state == VM_RESTORING || vm->state == VM_SUSPENDING);
	if (vmdef_load(vm->id, &j->def, err, sizeof(err)) == -1) {
		done_err(&d, LABD_E_INTERNAL, "%s", err);
		free(j);
		return;
	}
	j->done = d;
	vm->busy = 1;
	workers_submit(labd->workers, &j->job);
}

/* --- QMP: events and the exit of QEMU ----------------------------------- */

static void
vm_qmp_event(void *arg, const char *event, json_t *data)
{
	struct vm	*vm = arg;

	log_debug("%s: qmp event %s", vm->name, event);
	if (strcmp(event, "RESET") == 0 && vm->state == VM_READY) {
		/* The guest rebooted: the ready line of its last boot is old. */
		vm->gen++;
		vm->boot_ms = vm->wait_ms = now_ms();
		vm->serial_seen = 1;
		vm_set_state(vm, VM_BOOTING, NULL);
	} else if (strcmp(event, "SHUTDOWN") == 0) {
		/* Who shut it down tells a power-off from a crash at exit. */
		if (boot_shutdown_by_guest(data))
			vm->guest_off = 1;
		events_fire("vm.shutdown", vm, json_pack("{s:s,s:O?}", "vm",
		    vm->name, "data", data));
	} else if (strcmp(event, "GUEST_PANICKED") == 0) {
		/* QEMU paused the guest (-action panic=pause): the tick acts. */
		vm->panicked = 1;
	} else if (strcmp(event, "BLOCK_IO_ERROR") == 0 &&
	    vm->state != VM_PAUSED) {
		/* diskfull.c tells whether QEMU paused it, and shows it. */
		events_fire("vm.io-error", vm, json_pack("{s:s,s:O?}", "vm",
		    vm->name, "data", data));
	}
}

/*
 * The last line QEMU wrote to its log, when it is QEMU's own (a signal
 * it got, an error): the spawn's notes are there too.  "" when none.
 */
static void
vm_qemu_last_words(struct vm *vm, char *out, size_t outlen)
{
	char	vmdir[PATH_MAX], log[PATH_MAX];

	vm_paths(vm->name, vmdir, NULL);
	vmm_path(log, sizeof(log), vmdir, "qemu.log");
	boot_console_tail(log, 1, out, outlen);
	if (strstr(out, "qemu") == NULL)
		out[0] = '\0';
}

/*
 * QEMU is gone and labd did not ask for it.  A guest that powered itself
 * off (QMP SHUTDOWN from the guest came first) stays off, as its user
 * wanted; anything else is a crash (the OOM killer, a segfault, a signal
 * from someone else), and the VM is booted again from its disk.
 */
static void
vm_exited(struct vm *vm)
{
	char		last[256], why[512];
	enum vm_state	was = vm->state;

	vm->pid = 0;
	switch (boot_exit_kind(was == VM_STOPPING, vm->guest_off)) {
	case BOOT_EXIT_STOPPED:
		vm_set_state(vm, VM_STOPPED, NULL);
		break;
	case BOOT_EXIT_POWEROFF:
		db_event(0, "vm.poweroff", vm->name, "the guest powered itself"
		    " off (state %s): it stays stopped", vm_state_name(was));
		events_fire("vm.poweroff", vm, json_pack("{s:s}", "vm",
		    vm->name));
		vm_set_desired(vm, "stopped");
		vm_set_state(vm, VM_STOPPED, NULL);
		break;
	case BOOT_EXIT_CRASH:
		vm_qemu_last_words(vm, last, sizeof(last));
		snprintf(why, sizeof(why), "QEMU died (%s)", last[0] ? last :
		    "killed, or it crashed without a word in qemu.log");
		db_event(0, "vm.crash", vm->name, "%s, state %s", why,
		    vm_state_name(was));
		events_fire("vm.crash", vm, json_pack("{s:s,s:s}", "vm",
		    vm->name, "reason", why));
		if (vm->busy || !vm->want_running) {
			/* A job on it fails and says so; no boot of our own. */
			vm_set_state(vm, VM_STOPPED, why);
			break;
		}
		vm_boot_failed(vm, why, 1);
		break;
	}
}

static void
vm_qmp_readable(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct vm	*vm = arg;
	char		 rundir[PATH_MAX];
	pid_t		 pid;

	if (qmp_dispatch(vm->qmp, vm_qmp_event, vm) != -1)
		return;
	vm_qmp_detach(vm);
	vm_paths(vm->name, NULL, rundir);
	/* QMP closes a moment before the process is gone. */
	for (int i = 0; i < 50 && vmm_alive(rundir, vm->name, &pid) == 1; i++)
		usleep(20000);
	if (vmm_alive(rundir, vm->name, &pid) == 1) {
		log_warnx("%s: QMP connection lost, QEMU (pid %d) still runs",
		    vm->name, (int)pid);
		return;
	}
	vm_exited(vm);
}

static void
vm_qmp_attach(struct vm *vm)
{
	char	rundir[PATH_MAX], path[PATH_MAX], err[VMM_ERRLEN];

	if (vm->qmp != NULL)
		return;
	vm_paths(vm->name, NULL, rundir);
	vmm_path(path, sizeof(path), rundir, VMM_QMP_SOCK);
	if ((vm->qmp = qmp_open(path, VM_QMP_TIMEOUT_MS, err,
	    sizeof(err))) == NULL) {
		log_warnx("%s: %s", vm->name, err);
		return;
	}
	loop_add_fd(labd->loop, qmp_fd(vm->qmp), EPOLLIN, vm_qmp_readable, vm);
}

static void
vm_qmp_detach(struct vm *vm)
{
	if (vm->qmp == NULL)
		return;
	loop_del_fd(labd->loop, qmp_fd(vm->qmp));
	qmp_close(vm->qmp);
	vm->qmp = NULL;
}

/* --- the tick: readiness and stop deadlines ----------------------------- */

static void
vm_tick_one(struct vm *vm)
{
	char	vmdir[PATH_MAX], log[PATH_MAX], err[VMM_ERRLEN];

	if (vm->state == VM_STOPPING && vm->stop_deadline != 0 &&
	    now_ms() > vm->stop_deadline) {
		log_info("%s: no powerdown after %d s, quitting", vm->name,
		    VM_STOP_TIMEOUT_MS / 1000);
		vm->stop_deadline = 0;
		if (vm->qmp == NULL || qmp_quit(vm->qmp, err, sizeof(err)) == -1)
			vm_submit(vm, VMJOB_KILL);
		return;
	}
	if ((vm->state != VM_BOOTING && vm->state != VM_READY) || vm->busy)
		return;
	vm_paths(vm->name, vmdir, NULL);
	vmm_path(log, sizeof(log), vmdir, "serial.log");
	/* A panic, told by pvpanic or only on the console. */
	if (vm->panicked) {
		vm_boot_failed(vm, "the guest's kernel panicked (QMP"
		    " GUEST_PANICKED)", 0);
		return;
	}
	if (boot_serial_scan(log, &vm->serial_off, VM_PANIC_LINE)) {
		vm_boot_failed(vm, "the guest's kernel panicked (\""
		    VM_PANIC_LINE "\" on its console)", 0);
		return;
	}
	if (vm->state != VM_BOOTING)
		return;
	/*
	 * A guest waiting at its golden point for a go line that no one
	 * will send: labd stopped while this VM made its shape's golden
	 * (golden.c), and adopted its QEMU since.  Booted again from its
	 * disk, which has nothing of a student's yet.
	 */
	if (boot_serial_scan(log, &vm->golden_off, GOLDEN_LINE)) {
		vm_boot_failed(vm, "it waits at its golden point (labd"
		    " stopped while it made its shape's golden)", 0);
		return;
	}
	if (now_ms() - vm->wait_ms > labd->cfg.boot_timeout * 1000LL) {
		snprintf(err, sizeof(err), "not ready %d s after it was started"
		    " (%s%s)", labd->cfg.boot_timeout,
		    vm->serial_seen || !vm->ready_line[0] ? "last probe: " :
		    "no ready line on the console",
		    vm->serial_seen || !vm->ready_line[0] ? (vm->probe_err[0] ?
		    vm->probe_err : "SSH does not answer") : "");
		vm_boot_failed(vm, err, 0);
		return;
	}
	if (vm->probing)
		return;
	if (vm->ready_line[0] != '\0' && !vm->serial_seen) {
		if (ready_serial_seen(log, vm->ready_line) != 1)
			return;
		vm->serial_seen = 1;
		log_debug("%s: ready line seen after %.1f s", vm->name,
		    (now_ms() - vm->wait_ms) / 1000.0);
	}
	if (vm->probe_port == 0) {
		vm->ready_ms = now_ms();
		vm_set_state(vm, VM_READY, NULL);
		return;
	}
	if (now_ms() < vm->probe_next)
		return;
	vm_submit(vm, VMJOB_PROBE);
}

/*
 * A boot that failed (why says how): booted again from its disk after a
 * pause, queued meanwhile, or failed after the last try, with the end of
 * its console.  QEMU, unless gone already, is killed first; the QMP
 * connection goes before, so that its end is not taken for a crash.
 */
static void
vm_boot_failed(struct vm *vm, const char *why, int qemu_gone)
{
	char	vmdir[PATH_MAX], log[PATH_MAX], tail[1024], msg[LABD_MSGLEN];
	int	delay;

	vm_qmp_detach(vm);
	vm->gen++;	/* a probe in flight no longer counts */
	vm->panicked = 0;
	if (boot_verdict(vm->boot_tries, labd->cfg.boot_tries) == BOOT_RETRY) {
		delay = boot_backoff_ms(vm->boot_tries);
		vm->retry_at = now_ms() + delay;
		if (vm->boot_tries == 0)	/* it was up: not a boot */
			snprintf(msg, sizeof(msg), "%s; booting it again"
			    " from its disk in %d s", why, delay / 1000);
		else
			snprintf(msg, sizeof(msg), "boot %d of %d failed: %s;"
			    " booting again from its disk in %d s",
			    vm->boot_tries, labd->cfg.boot_tries, why,
			    delay / 1000);
		db_event(0, "vm.retry", vm->name, "%s", msg);
		vm_set_state(vm, VM_QUEUED, msg);
	} else {
		vm_paths(vm->name, vmdir, NULL);
		vmm_path(log, sizeof(log), vmdir, "serial.log");
		boot_console_tail(log, VM_CONSOLE_LINES, tail, sizeof(tail));
		snprintf(msg, sizeof(msg), "%s; gave up after %d boots; the"
		    " console's last lines: %s", why, vm->boot_tries,
		    tail[0] ? tail : "(nothing)");
		db_event(0, "vm.failed", vm->name, "%s", msg);
		vm_set_state(vm, VM_FAILED, msg);
	}
	if (qemu_gone)
		vm->pid = 0;
	else
		vm_submit(vm, VMJOB_KILL);
}

static int
vm_boot_limit(void)
{
	return boot_limit(labd->cfg.max_booting, labd->accel,
	    (int)sysconf(_SC_NPROCESSORS_ONLN));
}

/* Start what the queue lets start now, in roster order. */
static void
vm_boot_dispatch(void)
{
	struct vm	*vm;
	int		 limit = vm_boot_limit();

	while ((vm = boot_next(vms, limit, now_ms())) != NULL) {
		vm->boot_tries++;
		vm->gen++;
		vm_set_state(vm, VM_PROVISIONING, NULL);
		vm_submit(vm, VMJOB_START);
	}
}

static int
vm_boot_timer(struct loop *l, void *arg)
{
	boot_kicked = 0;
	vm_boot_dispatch();
	return -1;
}

/*
 * A slot may have come free: dispatch from the loop, not from inside
 * vm_set_state(), which is in the middle of telling waiters.
 */
static void
vm_boot_kick(void)
{
	if (boot_kicked || labd == NULL || labd->loop == NULL)
		return;
	boot_kicked = 1;
	loop_add_timer(labd->loop, 0, vm_boot_timer, NULL);
}

static int
vm_tick(struct loop *l, void *arg)
{
	struct vm	*vm;

	for (vm = vms; vm != NULL; vm = vm->next)
		vm_tick_one(vm);
	vm_boot_dispatch();	/* pauses before a retry run out here */
	return VM_TICK_MS;
}

/* --- operations --------------------------------------------------------- */

void
vm_op_start(struct vm *vm, struct done d)
{
	if (vm->state == VM_STOPPING) {
		done_err(&d, LABD_E_BUSY, "%s is stopping; start it"
		    " again when it has stopped", vm->name);
		return;
	}
	if (vm->busy && vm->state != VM_BOOTING &&
	    vm->state != VM_PROVISIONING && vm->state != VM_QUEUED) {
		done_err(&d, LABD_E_BUSY, "%s is %s; try again in a"
		    " moment", vm->name, vm_state_name(vm->state));
		return;
	}
	if (vm->state == VM_PAUSED) {
		/* cmd_vm.c continues it (diskfull_resume()) before this. */
		done_err(&d, LABD_E_BUSY, "%s is paused (%s)", vm->name,
		    vm->error);
		return;
	}
	vm_set_desired(vm, "running");
	if (vm->state == VM_READY) {
		done_ok(&d, vm_to_json(vm));
		return;
	}
	vm_wait(vm, d, VM_READY);
	if (vm->state == VM_SUSPENDED) {
		/* Resume: the RAM it had, where it stopped. */
		vm->gen++;
		vm_set_state(vm, VM_RESUMING, NULL);
		vm_submit_snap(vm, VMJOB_RESUME, VM_SUSPEND_SNAP, 1, DONE_NONE);
	} else if (vm->state == VM_STOPPED || vm->state == VM_FAILED) {
		/* Its turn comes in roster order (vm_boot_dispatch()). */
		vm->boot_tries = 0;
		vm->retry_at = 0;
		vm_set_state(vm, VM_QUEUED, NULL);
		vm_boot_dispatch();	/* at once when a slot is free */
	}
}

void
vm_op_stop(struct vm *vm, int force, struct done d)
{
	char	err[VMM_ERRLEN];

	vm_set_desired(vm, "stopped");
	if (vm->state == VM_SUSPENDED) {
		/* Its saved RAM will not be wanted: the next start boots. */
		vm_set_state(vm, VM_STOPPED, NULL);
		vm_submit_snap(vm, VMJOB_SNAPDEL, VM_SUSPEND_SNAP, 0,
		    DONE_NONE);
		done_ok(&d, vm_to_json(vm));
		return;
	}
	/* Queued: no QEMU (a retry's old one is being killed already). */
	if (vm->state == VM_STOPPED || vm->state == VM_FAILED ||
	    vm->state == VM_QUEUED) {
		vm_set_state(vm, VM_STOPPED, NULL);
		done_ok(&d, vm_to_json(vm));
		return;
	}
	vm_wait(vm, d, VM_STOPPED);
	if (vm->busy)	/* the job's done() sees want_running == 0 */
		return;
	vm->gen++;	/* a probe in flight no longer counts */
	vm_set_state(vm, VM_STOPPING, NULL);
	if (!force && vm->qmp != NULL &&
	    qmp_powerdown(vm->qmp, err, sizeof(err)) == 0) {
		vm->stop_deadline = now_ms() + VM_STOP_TIMEOUT_MS;
		return;
	}
	vm->stop_deadline = 0;
	if (vm->qmp != NULL && qmp_quit(vm->qmp, err, sizeof(err)) == 0)
		return;	/* QMP's EOF tells us when it is gone */
	vm_qmp_detach(vm);
	vm_submit(vm, VMJOB_KILL);
}

void
vm_op_reset(struct vm *vm, struct done d)
{
	if (vm->busy) {
		done_err(&d, LABD_E_BUSY, "%s: another operation is"
		    " running on it; try again in a moment", vm->name);
		return;
	}
	vm_set_desired(vm, "running");
	vm_wait(vm, d, VM_READY);
	/* The job kills QEMU: its QMP EOF must not look like a crash. */
	vm_qmp_detach(vm);
	vm->gen++;
	/* An explicit reset boots at once, outside the queue: one boot. */
	vm->boot_tries = 1;
	vm->retry_at = 0;
	vm_set_state(vm, VM_PROVISIONING, NULL);
	vm_submit(vm, VMJOB_RESET);
}

/* No job runs on it and it is not on its way up or down. */
static int
vm_idle(const struct vm *vm)
{
	return !vm->busy && vm->state != VM_PROVISIONING &&
	    vm->state != VM_STOPPING && vm->state != VM_QUEUED;
}

/* Refuse a second operation on a VM; 1 when refused (and told). */
static int
vm_refuse_busy(struct vm *vm, struct done *d)
{
	if (vm_idle(vm))
		return 0;
	done_err(d, LABD_E_BUSY, "%s is %s; try again in a moment",
	    vm->name, vm_state_name(vm->state));
	return 1;
}

static int
vm_is_running(const struct vm *vm)
{
	return vm->pid != 0 && (vm->state == VM_READY ||
	    vm->state == VM_BOOTING);
}

void
vm_op_snapshot(struct vm *vm, const char *name, struct done d)
{
	if (vm_refuse_busy(vm, &d))
		return;
	if (vm->state == VM_SUSPENDED || vm->state == VM_FAILED) {
		done_err(&d, LABD_E_INVALID, "%s is %s: start it, or stop it,"
		    " before a snapshot", vm->name, vm_state_name(vm->state));
		return;
	}
	if (vm->state == VM_BOOTING) {
		done_err(&d, LABD_E_BUSY, "%s is still booting: a snapshot"
		    " when it is ready", vm->name);
		return;
	}
	vm_set_state(vm, VM_SNAPSHOTTING, NULL);
	vm_submit_snap(vm, VMJOB_SNAPSHOT, name, vm->pid != 0, d);
}

void
vm_op_snapshot_rm(struct vm *vm, const char *name, struct done d)
{
	if (vm_refuse_busy(vm, &d))
		return;
	if (!vm_snapshot_find(vm, name, NULL)) {
		done_err(&d, LABD_E_NOT_FOUND, "%s has no snapshot %s (labctl"
		    " snapshots %s lists them)", vm->name, name, vm->name);
		return;
	}
	if (vm->state == VM_SUSPENDED) {
		done_err(&d, LABD_E_INVALID, "%s is suspended: resume it"
		    " first", vm->name);
		return;
	}
	vm_submit_snap(vm, VMJOB_SNAPDEL, name, 0, d);
}

void
vm_op_restore(struct vm *vm, const char *name, struct done d)
{
	int	ram = 0;

	/* A queued VM may go back to a snapshot: it boots from there. */
	if ((vm->state != VM_QUEUED || vm->busy) && vm_refuse_busy(vm, &d))
		return;
	if (!vm_snapshot_find(vm, name, &ram)) {
		done_err(&d, LABD_E_NOT_FOUND, "%s has no snapshot %s%s",
		    vm->name, name, strcmp(name, "pristine") == 0 ?
		    " yet (it is taken when the VM first becomes ready; reset"
		    " --hard makes a fresh disk)" : "");
		return;
	}
	if (vm->state == VM_SUSPENDED) {
		/* Its suspended RAM is not wanted any more. */
		vm->state = VM_STOPPED;
	}
	vm_set_desired(vm, "running");
	/* A restore that kills QEMU must not look like a crash. */
	if (!ram || !vm_is_running(vm))
		vm_qmp_detach(vm);
	vm->gen++;
	vm_set_state(vm, VM_RESTORING, NULL);
	if (!ram || !vm_is_running(vm)) {
		/* It boots, or wakes in a new QEMU: reply once it answers. */
		vm_wait(vm, d, VM_READY);
		d = DONE_NONE;
	}
	vm_submit_snap(vm, VMJOB_RESTORE, name, ram, d);
}

/*
 * A standalone copy of the disk (VMJOB_BACKUP, vmjob.c) with j's target
 * and hooks: live while the VM runs, and it runs on, ready; from the disk
 * when stopped.  The VM is busy meanwhile: other operations are refused,
 * a stop waits for the copy.  When it cannot be copied now: the LABD_E_*
 * code, with err; j is then still the caller's.  NULL when submitted.
 */
const char *
vm_op_backup(struct vm *vm, struct vmjob *j, char *err, size_t errlen)
{
	if (!vm_idle(vm)) {
		errf(err, errlen, "%s is %s; try again in a moment",
		    vm->name, vm_state_name(vm->state));
		return LABD_E_BUSY;
	}
	if (vm->state == VM_SUSPENDED) {
		errf(err, errlen, "%s is suspended: resume it, or stop it,"
		    " before a copy of its disk", vm->name);
		return LABD_E_INVALID;
	}
	if (vmdef_load(vm->id, &j->def, err, errlen) == -1)
		return LABD_E_INTERNAL;
	j->job.run = vmjob_run;
	j->job.done = vmjob_done;
	j->kind = VMJOB_BACKUP;
	j->vm_id = vm->id;
	j->gen = vm->gen;
	j->running = vm_is_running(vm);
	if (vm->state == VM_READY && vm->probe_port != 0) {
		/* SSH, to have the guest flush its cache first. */
		snprintf(j->ip, sizeof(j->ip), "%s", vm->probe_ip);
		j->port = vm->probe_port;
		snprintf(j->keyfile, sizeof(j->keyfile), "%s", keys_private());
	}
	vm->busy = 1;
	workers_submit(labd->workers, &j->job);
	return NULL;
}

/*
 * A command as root over SSH with labd's key (VMJOB_EXEC, vmjob.c), with
 * j's cmd, timeout_ms and hooks.  Only on a ready VM; it does not make the
 * VM busy: a command is what a student could run too, and a stop or reset
 * meanwhile just cuts it off.  When it cannot run now: the LABD_E_* code,
 * with err; j is then still the caller's.  NULL when submitted.
 */
const char *
vm_op_exec(struct vm *vm, struct vmjob *j, char *err, size_t errlen)
{
	if (vm->state != VM_READY) {
		errf(err, errlen, "%s is %s: a command runs only on a ready"
		    " VM (labctl start %s)", vm->name,
		    vm_state_name(vm->state), vm->name);
		return LABD_E_INVALID;
	}
	if (vm->probe_port == 0) {
		errf(err, errlen, "%s has no SSH port: its template forwards"
		    " none", vm->name);
		return LABD_E_INVALID;
	}
	j->job.run = vmjob_run;
	j->job.done = vmjob_done;
	j->kind = VMJOB_EXEC;
	j->vm_id = vm->id;
	j->gen = vm->gen;
	snprintf(j->def.name, sizeof(j->def.name), "%s", vm->name);
	snprintf(j->ip, sizeof(j->ip), "%s", vm->probe_ip);
	j->port = vm->probe_port;
	snprintf(j->keyfile, sizeof(j->keyfile), "%s", keys_private());
	workers_submit(labd->workers, &j->job);
	return NULL;
}

static void
vm_backup_done(struct vmjob *j, struct vm *vm)
{
	if (vm != NULL) {
		vm->busy = 0;
		/* A stop asked for during the copy waited for it. */
		if (!vm->want_running && vm_is_running(vm))
			vm_op_stop(vm, 0, DONE_NONE);
	}
	j->hooks->after(j, vm);
}

void
vm_op_suspend(struct vm *vm, struct done d)
{
	if (vm->state == VM_SUSPENDED) {
		done_ok(&d, vm_to_json(vm));
		return;
	}
	if (vm_refuse_busy(vm, &d))
		return;
	if (vm->state != VM_READY) {
		done_err(&d, LABD_E_INVALID, "%s is %s: only a ready VM"
		    " can be suspended", vm->name,
		    vm_state_name(vm->state));
		return;
	}
	vm_set_desired(vm, "suspended");
	vm_wait(vm, d, VM_SUSPENDED);
	vm_qmp_detach(vm);	/* QEMU quits: not a crash */
	vm->gen++;
	vm_set_state(vm, VM_SUSPENDING, NULL);
	vm_submit_snap(vm, VMJOB_SUSPEND, VM_SUSPEND_SNAP, 1, DONE_NONE);
}

/*
 * Forget a VM whose course is being removed: it must have no QEMU and no
 * job.  Whoever still waits on it is told; its files are the caller's.
 */
int
vm_remove(struct vm *vm, char *err, size_t errlen)
{
	struct vm	**vp;
	struct waiter	*w;
	char		 rundir[PATH_MAX];
	pid_t		 pid;

	vm_paths(vm->name, NULL, rundir);
	if (vm->busy || vm->probing || vmm_alive(rundir, vm->name, &pid) == 1) {
		errf(err, errlen, "%s is %s: stop it first", vm->name,
		    vm->busy ? "busy" : "running");
		return -1;
	}
	vm_set_state(vm, VM_STOPPED, NULL);	/* closes wake listeners */
	vm_qmp_detach(vm);
	priv_tap_remove(vm->id);
	while ((w = vm->waiters) != NULL) {
		vm->waiters = w->next;
		done_err(&w->done, LABD_E_NOT_FOUND, "%s was removed",
		    vm->name);
		free(w);
	}
	for (vp = &vms; *vp != NULL; vp = &(*vp)->next)
		if (*vp == vm) {
			*vp = vm->next;
			break;
		}
	free(vm);
	return 0;
}

/* --- loading and adopting ----------------------------------------------- */

/* How long ago a process started, from /proc, so uptime survives labd. */
static int64_t
proc_age_ms(pid_t pid)
{
	char	 path[64], buf[1024], *p;
	double	 up;
	long long start;
	FILE	*f;
	int	 i;

	if ((f = fopen("/proc/uptime", "r")) == NULL)
		return 0;
	if (fscanf(f, "%lf", &up) != 1)
		up = 0;
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL)
		return 0;
	/* Field 22 (starttime) is the 20th after the command's ')'. */
	for (i = 0; i < 20 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%lld", &start) != 1)
		return 0;
	return (int64_t)(up * 1000) - start * 1000 / sysconf(_SC_CLK_TCK);
}

struct vm *
vm_add(int64_t id)
{
	sqlite3_stmt	*st;
	struct vm	*vm, **tail;

	st = db_prepare("SELECT v.name, c.name, s.login, v.desired,"
	    " t.ready_line FROM vms v"
	    " JOIN courses c ON c.id = v.course_id"
	    " JOIN students s ON s.id = v.student_id"
	    " JOIN templates t ON t.id = c.template_id WHERE v.id = ?");
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return NULL;
	}
	vm = xcalloc(1, sizeof(*vm));
	vm->id = id;
	snprintf(vm->name, sizeof(vm->name), "%s", db_text(st, 0));
	snprintf(vm->course, sizeof(vm->course), "%s", db_text(st, 1));
	snprintf(vm->student, sizeof(vm->student), "%s", db_text(st, 2));
	vm->want_running = strcmp(db_text(st, 3), "running") == 0;
	vm->want_suspended = strcmp(db_text(st, 3), "suspended") == 0;
	snprintf(vm->ready_line, sizeof(vm->ready_line), "%s", db_text(st, 4));
	sqlite3_finalize(st);

	if (labd->cfg.net_mode == LABD_NET_BRIDGE) {
		st = db_prepare("SELECT slot FROM vms WHERE id = ?");
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) == SQLITE_ROW)
			net_guest_ip(sqlite3_column_int(st, 0), vm->guest_ip,
			    sizeof(vm->guest_ip));
		sqlite3_finalize(st);
	}
	/*
	 * Readiness is an SSH key exchange on the ssh service's port; in
	 * bridge mode straight to the guest's address, which only the host
	 * reaches (labd's own traffic never crosses the port plan).
	 */
	st = db_prepare("SELECT p.listen_ip, p.port, p.guest_port, v.slot"
	    " FROM ports p JOIN vms v ON v.id = p.vm_id WHERE p.vm_id = ?"
	    " AND p.service = 'ssh'");
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(vm->probe_ip, sizeof(vm->probe_ip), "%s",
		    db_text(st, 0));
		vm->probe_port = sqlite3_column_int(st, 1);
		if (labd->cfg.net_mode == LABD_NET_BRIDGE &&
		    net_guest_ip(sqlite3_column_int(st, 3), vm->probe_ip,
		    sizeof(vm->probe_ip)) == 0)
			vm->probe_port = sqlite3_column_int(st, 2);
	}
	sqlite3_finalize(st);

	for (tail = &vms; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = vm;
	if (tick_timer == 0)
		tick_timer = loop_add_timer(labd->loop, VM_TICK_MS, vm_tick,
		    NULL);
	return vm;
}

int
vm_load_all(char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	struct vm	*vm;
	char		 rundir[PATH_MAX];
	pid_t		 pid;

	st = db_prepare("SELECT id FROM vms ORDER BY id");
	while (sqlite3_step(st) == SQLITE_ROW)
		vm_add(sqlite3_column_int64(st, 0));
	sqlite3_finalize(st);

	for (vm = vms; vm != NULL; vm = vm->next) {
		vm_paths(vm->name, NULL, rundir);
		if (vmm_alive(rundir, vm->name, &pid) != 1) {
			if (vm->want_suspended)
				vm->state = VM_SUSPENDED;
			continue;
		}
		vm->pid = pid;
		vm->boot_ms = now_ms() - proc_age_ms(pid);
		vm->wait_ms = now_ms();
		vm->state = VM_BOOTING;
		/*
		 * Its console may never show the ready line again: a QEMU
		 * started by a resume began a new log, and logcap may have
		 * cut the line away.  The SSH probe alone says ready.
		 */
		vm->serial_seen = 1;
		vm_qmp_attach(vm);
		log_info("%s: adopted QEMU pid %d", vm->name, (int)pid);
	}
	return 0;
}

/* Drive every VM toward what the database wants. */
void
vm_reconcile_all(void)
{
	struct vm	*vm;

	for (vm = vms; vm != NULL; vm = vm->next) {
		if (vm->busy)
			continue;
		if (vm->want_running && vm->state == VM_STOPPED)
			vm_op_start(vm, DONE_NONE);
		else if (!vm->want_running && (vm->state == VM_BOOTING ||
		    vm->state == VM_READY))
			vm_op_stop(vm, 0, DONE_NONE);
	}
}

json_t *
vm_to_json(const struct vm *vm)
{
	static sqlite3_stmt	*ports_st, *snap_st;
	sqlite3_stmt		*st;
	json_t		*o, *ports;
	int64_t		 up = 0;
	char		 rundir[PATH_MAX], console[PATH_MAX];

	ports = json_array();
	st = db_cached(&ports_st, "SELECT service, listen_ip, port, guest_port"
	    " FROM ports WHERE vm_id = ? ORDER BY id");
	sqlite3_bind_int64(st, 1, vm->id);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(ports, json_pack("{s:s,s:s,s:i,s:i}",
		    "service", db_text(st, 0), "ip", db_text(st, 1),
		    "port", sqlite3_column_int(st, 2),
		    "guest_port", sqlite3_column_int(st, 3)));
	sqlite3_reset(st);
	if (vm->pid != 0)
		up = (now_ms() - vm->boot_ms) / 1000;
	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:o}",
	    "name", vm->name, "course", vm->course, "student", vm->student,
	    "state", vm_state_name(vm->state),
	    "desired", vm->want_running ? "running" :
	    vm->want_suspended ? "suspended" : "stopped",
	    "pid", (int)vm->pid, "uptime", (json_int_t)up, "ports", ports);
	if (vm->error[0] != '\0')
		json_object_set_new(o, "error", json_string(vm->error));
	if (vm->guest_ip[0] != '\0')
		json_object_set_new(o, "ip", json_string(vm->guest_ip));
	/* Where its serial console is: clients need not know the layout. */
	vm_paths(vm->name, NULL, rundir);
	vmm_path(console, sizeof(console), rundir, VMM_SERIAL_SOCK);
	json_object_set_new(o, "console", json_string(console));
	json_object_set_new(o, "connections", json_integer(vm->conns));
	json_object_set_new(o, "last_connection",
	    json_integer((json_int_t)vm->last_conn));
	st = db_cached(&snap_st, "SELECT name FROM snapshots WHERE vm_id = ?"
	    " AND name != '" VM_SUSPEND_SNAP "' ORDER BY created DESC, id DESC"
	    " LIMIT 1");
	sqlite3_bind_int64(st, 1, vm->id);
	if (sqlite3_step(st) == SQLITE_ROW)
		json_object_set_new(o, "snapshot", json_string(db_text(st, 0)));
	sqlite3_reset(st);
	return o;
}
