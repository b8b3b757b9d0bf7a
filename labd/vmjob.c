/*
 * vmjob.c - the worker side of a VM's life: everything slow that vm.c
 * must not do in the event loop.  A job touches only its own struct vmjob
 * (a copy of the VM's definition, made in the loop's thread) and reports
 * back through it; vm.c's done() applies the result.
 *
 * Snapshots live inside the VM's qcow2 disk.  With the guest running they
 * hold its RAM too (QMP snapshot-save on the second monitor, qmp-ctl.sock,
 * so that the loop keeps its own connection for events); with the guest
 * stopped they hold the disk alone (qemu-img snapshot).  Suspend is a RAM
 * snapshot and a QEMU that quits; resume is a QEMU started paused that
 * loads it and continues.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "labd/vmjob.h"

/* --- the definition, from the database ---------------------------------- */

int
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
vmjob_spawn(struct vmjob *j, int paused)
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
		.start_paused = paused,
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

/* --- snapshots, suspend and resume --------------------------------------- */

/* A QMP connection of the worker's own, on the second monitor. */
static struct qmp *
vmjob_qmp(struct vmjob *j)
{
	char	path[PATH_MAX];

	vmm_path(path, sizeof(path), j->def.run_dir, "qmp-ctl.sock");
	return qmp_open(path, VM_SNAP_TIMEOUT_MS, j->err, sizeof(j->err));
}

static int
vmjob_disk(struct vmjob *j, char *disk)
{
	return vmm_path(disk, PATH_MAX, j->def.vm_dir, "disk.qcow2");
}

/* The size of the RAM state just saved, for the listing. */
static void
vmjob_state_size(struct vmjob *j, struct qmp *q)
{
	struct vmm_snapshot	*v = NULL;
	size_t			 n = 0, i;
	char			 err[VMM_ERRLEN];

	if (snapshot_list(q, &v, &n, err, sizeof(err)) == -1)
		return;
	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, j->snap) == 0)
			j->state_size = v[i].vm_state_size;
	free(v);
}

static int
vmjob_snapshot(struct vmjob *j)
{
	struct qmp	*q;
	char		 disk[PATH_MAX];
	int		 rc;

	if (!j->running) {
		j->ram = 0;
		vmjob_disk(j, disk);
		return snapshot_offline_create(labd->cfg.qemu_img, disk,
		    j->snap, j->err, sizeof(j->err));
	}
	if ((q = vmjob_qmp(j)) == NULL)
		return -1;
	j->ram = 1;
	if ((rc = snapshot_save(q, j->snap, VM_SNAP_TIMEOUT_MS, j->err,
	    sizeof(j->err))) == 0)
		vmjob_state_size(j, q);
	qmp_close(q);
	return rc;
}

static int
vmjob_snapdel(struct vmjob *j)
{
	struct qmp	*q;
	char		 disk[PATH_MAX];
	int		 rc;

	if (!j->running) {
		vmjob_disk(j, disk);
		return snapshot_offline_delete(labd->cfg.qemu_img, disk,
		    j->snap, j->err, sizeof(j->err));
	}
	if ((q = vmjob_qmp(j)) == NULL)
		return -1;
	rc = snapshot_delete(q, j->snap, VM_SNAP_TIMEOUT_MS, j->err,
	    sizeof(j->err));
	qmp_close(q);
	return rc;
}

/*
 * QEMU started paused on the VM's disk, its RAM loaded from snap, then
 * running: the guest continues where snap left it, without a boot.
 */
static int
vmjob_spawn_from(struct vmjob *j, const char *snap, int delete_after)
{
	struct qmp	*q;
	int		 rc = -1;

	if (vmjob_spawn(j, 1) == -1)
		return -1;
	j->booted = 1;
	if ((q = vmjob_qmp(j)) == NULL)
		goto kill;
	if (snapshot_load(q, snap, VM_SNAP_TIMEOUT_MS, j->err,
	    sizeof(j->err)) == -1 ||
	    qmp_execute(q, "cont", NULL, NULL, j->err, sizeof(j->err)) == -1)
		goto kill;
	/* The RAM is back in the guest: its copy on disk has done its job. */
	if (delete_after && snapshot_delete(q, snap, VM_SNAP_TIMEOUT_MS,
	    j->err, sizeof(j->err)) == -1)
		log_warnx("%s: %s (the snapshot stays on the disk)",
		    j->def.name, j->err);
	rc = 0;
	qmp_close(q);
	return rc;
kill:
	if (q != NULL)
		qmp_close(q);
	vmm_kill(j->def.run_dir, j->def.name, 2000, NULL, 0);
	j->booted = 0;
	return -1;
}

static int
vmjob_restore(struct vmjob *j)
{
	struct vmdef	*d = &j->def;
	struct qmp	*q;
	char		 disk[PATH_MAX];
	int		 rc;

	vmjob_disk(j, disk);
	if (j->ram && j->running) {
		/* The fast path: RAM and disk back in place, no reboot. */
		if ((q = vmjob_qmp(j)) == NULL)
			return -1;
		rc = snapshot_load(q, j->snap, VM_SNAP_TIMEOUT_MS, j->err,
		    sizeof(j->err));
		qmp_close(q);
		return rc;
	}
	if (j->running && vmm_kill(d->run_dir, d->name, 5000, j->err,
	    sizeof(j->err)) == -1)
		return -1;
	if (j->ram)
		return vmjob_spawn_from(j, j->snap, 0);
	if (snapshot_offline_apply(labd->cfg.qemu_img, disk, j->snap, j->err,
	    sizeof(j->err)) == -1)
		return -1;
	if (vmjob_spawn(j, 0) == -1)
		return -1;
	j->booted = 1;
	return 0;
}

static int
vmjob_suspend(struct vmjob *j)
{
	struct vmdef	*d = &j->def;
	struct qmp	*q;
	char		 err[VMM_ERRLEN];

	if ((q = vmjob_qmp(j)) == NULL)
		return -1;
	if (snapshot_save(q, VM_SUSPEND_SNAP, VM_SNAP_TIMEOUT_MS, j->err,
	    sizeof(j->err)) == -1) {
		qmp_close(q);
		return -1;
	}
	/* The RAM is safe on disk: QEMU may go, and its memory with it. */
	if (qmp_quit(q, err, sizeof(err)) == -1)
		log_warnx("%s: quit: %s", d->name, err);
	qmp_close(q);
	return vmm_kill(d->run_dir, d->name, 10000, j->err, sizeof(j->err));
}

static int
vmjob_resume(struct vmjob *j)
{
	return vmjob_spawn_from(j, VM_SUSPEND_SNAP, 1);
}

/*
 * After a RAM restore the guest's clock says the snapshot's time; a guest
 * that thinks it is still yesterday breaks TLS and make.  Set it over SSH
 * with labd's key, trying for a while: the guest may be busy waking up.
 */
static int
vmjob_clock(struct vmjob *j)
{
	char	cmd[128], out[256];
	int	status = -1, i;

	for (i = 0; i < 20; i++) {
		snprintf(cmd, sizeof(cmd), "date -u -s @%lld >/dev/null &&"
		    " date -u +%%s", (long long)time(NULL));
		if (vmm_ssh_exec(j->ip, j->port, "root", j->keyfile, cmd,
		    VM_PROBE_TIMEOUT_MS, out, sizeof(out), &status, j->err,
		    sizeof(j->err)) == 0 && status == 0)
			return 0;
		if (status > 0)
			errf(j->err, sizeof(j->err), "date -s exited with"
			    " status %d: %s", status, out);
		usleep(250 * 1000);
	}
	return -1;
}

void
vmjob_run(struct job *job)
{
	struct vmjob	*j = (struct vmjob *)job;
	struct vmdef	*d = &j->def;
	char		 disk[PATH_MAX], banner[256];

	switch (j->kind) {
	case VMJOB_START:
		j->rc = vmjob_spawn(j, 0);
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
		j->rc = vmjob_spawn(j, 0);
		break;
	case VMJOB_KILL:
		j->rc = vmm_kill(d->run_dir, d->name, 5000, j->err,
		    sizeof(j->err));
		break;
	case VMJOB_PROBE:
		j->rc = ready_ssh_banner(j->ip, j->port, VM_PROBE_TIMEOUT_MS,
		    banner, sizeof(banner), j->err, sizeof(j->err));
		break;
	case VMJOB_SNAPSHOT:
		j->rc = vmjob_snapshot(j);
		break;
	case VMJOB_SNAPDEL:
		j->rc = vmjob_snapdel(j);
		break;
	case VMJOB_RESTORE:
		j->rc = vmjob_restore(j);
		break;
	case VMJOB_SUSPEND:
		j->rc = vmjob_suspend(j);
		break;
	case VMJOB_RESUME:
		j->rc = vmjob_resume(j);
		break;
	case VMJOB_CLOCK:
		j->rc = vmjob_clock(j);
		break;
	}
}

