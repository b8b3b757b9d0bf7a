/*
 * vm.c - one VM's life.  The database says whether a VM should run; this
 * file drives the host there and reports what it sees:
 *
 *   stopped -> provisioning (disk, seed, QEMU spawned in a worker)
 *           -> booting (QEMU runs; wait for the serial ready line, then an
 *              SSH key exchange on the forwarded port)
 *           -> ready
 *   ready/booting -> stopping (ACPI powerdown, then QMP quit) -> stopped
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

#include "labd/labd.h"

#define VM_TICK_MS		500
#define VM_PROBE_TIMEOUT_MS	3000
#define VM_QMP_TIMEOUT_MS	5000
#define VM_STOP_TIMEOUT_MS	20000
/* Generous: a full cloud image under TCG takes minutes to boot. */
#define VM_BOOT_TIMEOUT_MS	(10 * 60 * 1000)

struct waiter {
	struct req	*r;
	enum vm_state	 want;
	struct waiter	*next;
};

/* Everything a worker needs to make and run one VM, copied from the db. */
struct vmdef {
	int64_t		id;
	char		name[LABD_VMNAMELEN];
	char		login[LABD_NAMELEN];
	char		gecos[128];
	char		ssh_key[8192];
	char		pw_hash[256];
	int		internet;
	int		generation;
	char		tpl_disk[PATH_MAX];
	char		kernel[PATH_MAX];
	char		initrd[PATH_MAX];
	char		append[1024];
	char		firmware[8];
	unsigned	memory_mb, vcpus;
	struct pf_rule	rules[LABD_MAX_GUEST_PORTS];
	size_t		nrules;
	char		vm_dir[PATH_MAX];
	char		run_dir[PATH_MAX];
};

enum vmjob_kind {
	VMJOB_START,	/* make what is missing, spawn (or adopt) QEMU */
	VMJOB_RESET,	/* kill, a fresh overlay from the template, spawn */
	VMJOB_KILL,	/* SIGTERM then SIGKILL */
	VMJOB_PROBE,	/* an SSH key exchange on the forwarded port */
};

struct vmjob {
	struct job	 job;
	enum vmjob_kind	 kind;
	int64_t		 vm_id;
	unsigned	 gen;
	struct vmdef	 def;
	char		 ip[64];
	uint16_t	 port;
	int		 rc;
	pid_t		 pid;
	char		 err[VMM_ERRLEN];
};

static struct vm	*vms;
static long long	 tick_timer;

static const char *vm_state_names[] = {
	[VM_STOPPED] = "stopped",
	[VM_PROVISIONING] = "provisioning",
	[VM_BOOTING] = "booting",
	[VM_READY] = "ready",
	[VM_STOPPING] = "stopping",
	[VM_FAILED] = "failed",
};

static void	vm_submit(struct vm *, enum vmjob_kind);
static void	vm_qmp_attach(struct vm *);
static void	vm_qmp_detach(struct vm *);
static void	vm_boot_late(struct vm *);

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

static struct vm *
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

int
vm_paths(const char *name, char *vmdir, char *rundir)
{
	if (vmdir != NULL && snprintf(vmdir, PATH_MAX, "%s/vms/%s",
	    labd->cfg.state_dir, name) >= PATH_MAX)
		return -1;
	if (rundir != NULL && snprintf(rundir, PATH_MAX, "%s/vms/%s",
	    labd->cfg.run_dir, name) >= PATH_MAX)
		return -1;
	return 0;
}

/* --- the definition, from the database ---------------------------------- */

static int
vmdef_load(int64_t id, struct vmdef *d, char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	int		 rc = -1;

	memset(d, 0, sizeof(*d));
	st = db_prepare("SELECT v.name, s.login, s.name, s.ssh_key,"
	    " s.pw_hash, c.internet, v.generation, t.disk, t.kernel, t.initrd,"
	    " t.append, t.firmware, t.memory_mb, t.vcpus"
	    " FROM vms v JOIN students s ON s.id = v.student_id"
	    " JOIN courses c ON c.id = v.course_id"
	    " JOIN templates t ON t.id = c.template_id WHERE v.id = ?");
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		errf(err, errlen, "vm %lld is not in the database",
		    (long long)id);
		goto done;
	}
	d->id = id;
	snprintf(d->name, sizeof(d->name), "%s", db_text(st, 0));
	snprintf(d->login, sizeof(d->login), "%s", db_text(st, 1));
	snprintf(d->gecos, sizeof(d->gecos), "%s", db_text(st, 2));
	snprintf(d->ssh_key, sizeof(d->ssh_key), "%s", db_text(st, 3));
	snprintf(d->pw_hash, sizeof(d->pw_hash), "%s", db_text(st, 4));
	d->internet = sqlite3_column_int(st, 5);
	d->generation = sqlite3_column_int(st, 6);
	snprintf(d->tpl_disk, sizeof(d->tpl_disk), "%s", db_text(st, 7));
	snprintf(d->kernel, sizeof(d->kernel), "%s", db_text(st, 8));
	snprintf(d->initrd, sizeof(d->initrd), "%s", db_text(st, 9));
	snprintf(d->append, sizeof(d->append), "%s", db_text(st, 10));
	snprintf(d->firmware, sizeof(d->firmware), "%s", db_text(st, 11));
	d->memory_mb = sqlite3_column_int(st, 12);
	d->vcpus = sqlite3_column_int(st, 13);
	sqlite3_finalize(st);

	st = db_prepare("SELECT service, listen_ip, port, guest_port FROM ports"
	    " WHERE vm_id = ? ORDER BY id");
	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW &&
	    d->nrules < LABD_MAX_GUEST_PORTS) {
		struct pf_rule	*r = &d->rules[d->nrules++];

		snprintf(r->service, sizeof(r->service), "%s", db_text(st, 0));
		snprintf(r->listen_ip, sizeof(r->listen_ip), "%s",
		    db_text(st, 1));
		r->port = sqlite3_column_int(st, 2);
		r->guest_port = sqlite3_column_int(st, 3);
	}
	if (vm_paths(d->name, d->vm_dir, d->run_dir) == -1) {
		errf(err, errlen, "vm %s: state or run dir path too long",
		    d->name);
		goto done;
	}
	rc = 0;
done:
	sqlite3_finalize(st);
	return rc;
}

/* --- worker side: touches only its own struct vmjob --------------------- */

static int
vmjob_seed(struct vmjob *j, const char *path)
{
	struct vmdef	*d = &j->def;
	const char	*keys[1] = { d->ssh_key };
	char		 instance[128], hostname[64];
	struct vmm_user	 user = {
		.name = d->login,
		.gecos = d->gecos[0] ? d->gecos : NULL,
		.passwd_hash = d->pw_hash[0] ? d->pw_hash : NULL,
		.keys = keys,
		.nkeys = d->ssh_key[0] ? 1 : 0,
	};
	struct vmm_seed	 seed = {
		.instance_id = instance,
		.hostname = hostname,
		.users = &user,
		.nusers = 1,
		.mgmt_key = keys_public(),
	};
	size_t		 i;

	/* A host name is at most 63 characters of [a-z0-9-]. */
	snprintf(hostname, sizeof(hostname), "%s", d->name);
	for (i = 0; hostname[i] != '\0'; i++)
		if (hostname[i] == '_')
			hostname[i] = '-';
	snprintf(instance, sizeof(instance), "%s-%d-%lld", d->name,
	    d->generation, (long long)time(NULL));
	return seed_create(&seed, path, j->err, sizeof(j->err));
}

static int
vmjob_spawn(struct vmjob *j)
{
	struct vmdef	*d = &j->def;
	struct vmm_fwd	 fwds[LABD_MAX_GUEST_PORTS];
	char		 disk[PATH_MAX], seed[PATH_MAX], log[PATH_MAX],
			 old[PATH_MAX];
	size_t		 i;
	struct vmm_spec	 spec = {
		.name = d->name,
		.qemu = labd->cfg.qemu,
		.accel = labd->accel,
		.memory_mb = d->memory_mb,
		.vcpus = d->vcpus,
		.disk = disk,
		.seed = seed,
		.kernel = d->kernel[0] ? d->kernel : NULL,
		.initrd = d->initrd[0] ? d->initrd : NULL,
		.append = d->append[0] ? d->append : NULL,
		.firmware = d->firmware[0] ? d->firmware : NULL,
		.run_dir = d->run_dir,
		.log_dir = d->vm_dir,
		.runas = labd->cfg.runas[0] ? labd->cfg.runas : NULL,
		.restrict_net = !d->internet,
		.fwds = fwds,
		.nfwd = d->nrules,
	};

	for (i = 0; i < d->nrules; i++) {
		fwds[i].host_ip = d->rules[i].listen_ip;
		fwds[i].host_port = d->rules[i].port;
		fwds[i].guest_port = d->rules[i].guest_port;
	}
	if (vmm_alive(d->run_dir, d->name, &j->pid) == 1)
		return 0;	/* already runs: adopt it */
	if (mkdir_p(d->vm_dir, 0750) == -1 || mkdir_p(d->run_dir, 0700) == -1) {
		errf(j->err, sizeof(j->err), "cannot create %s or %s: %s",
		    d->vm_dir, d->run_dir, strerror(errno));
		return -1;
	}
	vmm_path(disk, sizeof(disk), d->vm_dir, "disk.qcow2");
	vmm_path(seed, sizeof(seed), d->vm_dir, "seed.iso");
	if (!file_exists(disk) && overlay_create(labd->cfg.qemu_img,
	    d->tpl_disk, disk, j->err, sizeof(j->err)) == -1)
		return -1;
	if (!file_exists(seed) && vmjob_seed(j, seed) == -1)
		return -1;
	/* Keep the last boot's console, start this one's from empty. */
	vmm_path(log, sizeof(log), d->vm_dir, "serial.log");
	vmm_path(old, sizeof(old), d->vm_dir, "serial.log.1");
	rename(log, old);
	return vmm_spawn(&spec, &j->pid, j->err, sizeof(j->err));
}

static void
vmjob_run(struct job *job)
{
	struct vmjob	*j = (struct vmjob *)job;
	struct vmdef	*d = &j->def;
	char		 disk[PATH_MAX], banner[256];

	switch (j->kind) {
	case VMJOB_START:
		j->rc = vmjob_spawn(j);
		break;
	case VMJOB_RESET:
		vmm_path(disk, sizeof(disk), d->vm_dir, "disk.qcow2");
		if (vmm_kill(d->run_dir, d->name, 5000, j->err,
		    sizeof(j->err)) == -1) {
			j->rc = -1;
			break;
		}
		/* overlay_create renames over the old disk: never no disk. */
		if (overlay_create(labd->cfg.qemu_img, d->tpl_disk, disk,
		    j->err, sizeof(j->err)) == -1) {
			j->rc = -1;
			break;
		}
		j->rc = vmjob_spawn(j);
		break;
	case VMJOB_KILL:
		j->rc = vmm_kill(d->run_dir, d->name, 5000, j->err,
		    sizeof(j->err));
		break;
	case VMJOB_PROBE:
		j->rc = ready_ssh_banner(j->ip, j->port, VM_PROBE_TIMEOUT_MS,
		    banner, sizeof(banner), j->err, sizeof(j->err));
		break;
	}
}

/* --- loop side ---------------------------------------------------------- */

static void
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
	control_event("vm.state", vm_to_json(vm));

	for (wp = &vm->waiters; (w = *wp) != NULL; ) {
		int	done = 1;

		if (st == w->want)
			reply_ok(w->r, vm_to_json(vm));
		else if (st == VM_FAILED)
			reply_err(w->r, LABD_E_FAILED, "%s: %s", vm->name,
			    vm->error);
		else if (st == VM_STOPPED && w->want == VM_READY)
			reply_err(w->r, LABD_E_FAILED, "%s stopped before it"
			    " became ready%s%s", vm->name,
			    error ? ": " : "", error ? error : "");
		else
			done = 0;
		if (done) {
			*wp = w->next;
			req_free(w->r);
			free(w);
		} else
			wp = &w->next;
	}
}

static void
vm_wait(struct vm *vm, const struct req *r, enum vm_state want)
{
	struct waiter	*w;

	if (r == NULL)
		return;
	w = xcalloc(1, sizeof(*w));
	w->r = req_keep(r);
	w->want = want;
	w->next = vm->waiters;
	vm->waiters = w;
}

static void
vm_set_desired(struct vm *vm, int running)
{
	sqlite3_stmt	*st;

	vm->want_running = running;
	st = db_prepare("UPDATE vms SET desired = ? WHERE id = ?");
	sqlite3_bind_text(st, 1, running ? "running" : "stopped", -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, vm->id);
	if (sqlite3_step(st) != SQLITE_DONE)
		log_warnx("%s: cannot record desired state", vm->name);
	sqlite3_finalize(st);
}

static void
vmjob_done(struct job *job)
{
	struct vmjob	*j = (struct vmjob *)job;
	struct vm	*vm = vm_by_id(j->vm_id);

	if (vm == NULL)
		goto done;
	if (j->kind == VMJOB_PROBE) {
		vm->probing = 0;
		if (j->gen == vm->gen && vm->state == VM_BOOTING &&
		    j->rc == 0) {
			vm->ready_ms = now_ms();
			log_info("%s: ready in %.1f s", vm->name,
			    (vm->ready_ms - vm->boot_ms) / 1000.0);
			vm_set_state(vm, VM_READY, NULL);
		}
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
		vm->pid = j->pid;
		vm->boot_ms = now_ms();
		vm->serial_seen = 0;
		vm->boot_late = 0;
		vm_qmp_attach(vm);
		vm_set_state(vm, VM_BOOTING, NULL);
		if (!vm->want_running)	/* stopped while it was starting */
			vm_op_stop(vm, 1, NULL);
		break;
	case VMJOB_KILL:
		vm->pid = 0;
		vm_set_state(vm, j->rc == 0 ? VM_STOPPED : VM_FAILED,
		    j->rc == 0 ? NULL : j->err);
		break;
	default:
		break;
	}
done:
	free(j);
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
	if (kind == VMJOB_PROBE) {
		snprintf(j->ip, sizeof(j->ip), "%s", vm->probe_ip);
		j->port = vm->probe_port;
		vm->probing = 1;
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

/* --- QMP: events and the exit of QEMU ----------------------------------- */

static void
vm_qmp_event(void *arg, const char *event, json_t *data)
{
	struct vm	*vm = arg;

	log_debug("%s: qmp event %s", vm->name, event);
	if (strcmp(event, "RESET") == 0 && vm->state == VM_READY) {
		/* The guest rebooted: the ready line of its last boot is old. */
		vm->gen++;
		vm->boot_ms = now_ms();
		vm->serial_seen = 1;
		vm_set_state(vm, VM_BOOTING, NULL);
	} else if (strcmp(event, "SHUTDOWN") == 0)
		control_event("vm.shutdown", json_pack("{s:s,s:O?}", "vm",
		    vm->name, "data", data));
}

static void
vm_exited(struct vm *vm)
{
	int	expected = vm->state == VM_STOPPING;

	vm->pid = 0;
	if (!expected) {
		/* The guest powered itself off: respect that. */
		db_event(0, "vm.exited", vm->name, "QEMU exited (state %s)",
		    vm_state_name(vm->state));
		vm_set_desired(vm, 0);
	}
	vm_set_state(vm, VM_STOPPED, NULL);
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
	vmm_path(path, sizeof(path), rundir, "qmp.sock");
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
	if (vm->state != VM_BOOTING || vm->probing || vm->busy)
		return;
	if (!vm->boot_late && now_ms() - vm->boot_ms > VM_BOOT_TIMEOUT_MS)
		vm_boot_late(vm);
	if (vm->ready_line[0] != '\0' && !vm->serial_seen) {
		vm_paths(vm->name, vmdir, NULL);
		vmm_path(log, sizeof(log), vmdir, "serial.log");
		if (ready_serial_seen(log, vm->ready_line) != 1)
			return;
		vm->serial_seen = 1;
		log_debug("%s: ready line seen after %.1f s", vm->name,
		    (now_ms() - vm->boot_ms) / 1000.0);
	}
	if (vm->probe_port == 0) {
		vm->ready_ms = now_ms();
		vm_set_state(vm, VM_READY, NULL);
		return;
	}
	vm_submit(vm, VMJOB_PROBE);
}

/*
 * The guest has not answered for too long.  It keeps booting (a slow
 * guest may still make it), but whoever waits for it is told why, with
 * where to look.
 */
static void
vm_boot_late(struct vm *vm)
{
	struct waiter	**wp, *w;
	char		  vmdir[PATH_MAX];

	vm->boot_late = 1;
	vm_paths(vm->name, vmdir, NULL);
	snprintf(vm->error, sizeof(vm->error), "not ready %d s after it was"
	    " started (%s); its console is in %s/serial.log",
	    VM_BOOT_TIMEOUT_MS / 1000, vm->serial_seen || !vm->ready_line[0] ?
	    "SSH does not answer" : "no ready line on the console", vmdir);
	log_warnx("%s: %s", vm->name, vm->error);
	for (wp = &vm->waiters; (w = *wp) != NULL; ) {
		if (w->want != VM_READY) {
			wp = &w->next;
			continue;
		}
		reply_err(w->r, LABD_E_FAILED, "%s: %s", vm->name, vm->error);
		*wp = w->next;
		req_free(w->r);
		free(w);
	}
	control_event("vm.state", vm_to_json(vm));
}

static int
vm_tick(struct loop *l, void *arg)
{
	struct vm	*vm;

	for (vm = vms; vm != NULL; vm = vm->next)
		vm_tick_one(vm);
	return VM_TICK_MS;
}

/* --- operations --------------------------------------------------------- */

void
vm_op_start(struct vm *vm, const struct req *r)
{
	if (vm->state == VM_STOPPING) {
		if (r != NULL)
			reply_err(r, LABD_E_BUSY, "%s is stopping; start it"
			    " again when it has stopped", vm->name);
		return;
	}
	vm_set_desired(vm, 1);
	if (vm->state == VM_READY) {
		if (r != NULL)
			reply_ok(r, vm_to_json(vm));
		return;
	}
	vm_wait(vm, r, VM_READY);
	if (vm->state == VM_STOPPED || vm->state == VM_FAILED) {
		vm->gen++;
		vm_set_state(vm, VM_PROVISIONING, NULL);
		vm_submit(vm, VMJOB_START);
	}
}

void
vm_op_stop(struct vm *vm, int force, const struct req *r)
{
	char	err[VMM_ERRLEN];

	vm_set_desired(vm, 0);
	if (vm->state == VM_STOPPED || vm->state == VM_FAILED) {
		vm_set_state(vm, VM_STOPPED, NULL);
		if (r != NULL)
			reply_ok(r, vm_to_json(vm));
		return;
	}
	vm_wait(vm, r, VM_STOPPED);
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
vm_op_reset(struct vm *vm, const struct req *r)
{
	if (vm->busy) {
		if (r != NULL)
			reply_err(r, LABD_E_BUSY, "%s: another operation is"
			    " running on it; try again in a moment", vm->name);
		return;
	}
	vm_set_desired(vm, 1);
	vm_wait(vm, r, VM_READY);
	/* The job kills QEMU: its QMP EOF must not look like a crash. */
	vm_qmp_detach(vm);
	vm->gen++;
	vm_set_state(vm, VM_PROVISIONING, NULL);
	vm_submit(vm, VMJOB_RESET);
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
	snprintf(vm->ready_line, sizeof(vm->ready_line), "%s", db_text(st, 4));
	sqlite3_finalize(st);

	/* Readiness is an SSH key exchange on the ssh service's port. */
	st = db_prepare("SELECT listen_ip, port FROM ports WHERE vm_id = ?"
	    " AND service = 'ssh'");
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(vm->probe_ip, sizeof(vm->probe_ip), "%s",
		    db_text(st, 0));
		vm->probe_port = sqlite3_column_int(st, 1);
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
		if (vmm_alive(rundir, vm->name, &pid) != 1)
			continue;
		vm->pid = pid;
		vm->boot_ms = now_ms() - proc_age_ms(pid);
		vm->state = VM_BOOTING;
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
			vm_op_start(vm, NULL);
		else if (!vm->want_running && (vm->state == VM_BOOTING ||
		    vm->state == VM_READY))
			vm_op_stop(vm, 0, NULL);
	}
}

json_t *
vm_to_json(const struct vm *vm)
{
	sqlite3_stmt	*st;
	json_t		*o, *ports;
	int64_t		 up = 0;

	ports = json_array();
	st = db_prepare("SELECT service, listen_ip, port, guest_port FROM ports"
	    " WHERE vm_id = ? ORDER BY id");
	sqlite3_bind_int64(st, 1, vm->id);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(ports, json_pack("{s:s,s:s,s:i,s:i}",
		    "service", db_text(st, 0), "ip", db_text(st, 1),
		    "port", sqlite3_column_int(st, 2),
		    "guest_port", sqlite3_column_int(st, 3)));
	sqlite3_finalize(st);
	if (vm->state == VM_BOOTING || vm->state == VM_READY ||
	    vm->state == VM_STOPPING)
		up = (now_ms() - vm->boot_ms) / 1000;
	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:o}",
	    "name", vm->name, "course", vm->course, "student", vm->student,
	    "state", vm_state_name(vm->state),
	    "desired", vm->want_running ? "running" : "stopped",
	    "pid", (int)vm->pid, "uptime", (json_int_t)up, "ports", ports);
	if (vm->error[0] != '\0')
		json_object_set_new(o, "error", json_string(vm->error));
	return o;
}
