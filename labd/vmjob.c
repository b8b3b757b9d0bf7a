/* SPDX-License-Identifier: ISC */
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
 *
 * A backup is a standalone copy of the disk (vmm's backup.c) at a path a
 * client names, written by labd, usually root, for someone else: so the
 * folder is opened once, checked for what the kernel would let the asker
 * do there, and everything after goes through that descriptor (a temp
 * file made in it, renamed in it), never through the name again.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <net/if.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "labd/vmjob.h"

/* The seed's shape: 2 has write_files (lab-check, /etc/labd/param). */
#define VMJOB_SEED_VERSION	"2"

static int	vmjob_sync(struct vmjob *, int tries);

/* --- the definition, from the database ---------------------------------- */

int
vmdef_load(int64_t id, struct vmdef *d, char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	int		 rc = -1;

	memset(d, 0, sizeof(*d));
	st = db_prepare("SELECT v.name, s.login, s.name, s.ssh_key,"
	    " s.pw_hash, c.internet, v.generation, t.disk, t.kernel, t.initrd,"
	    " t.append, t.firmware, t.memory_mb, t.vcpus, v.slot, c.name,"
	    " c.cpu_weight, c.memory_max, c.pids_max, t.ready_line,"
	    " t.instant_clone FROM vms v JOIN students s ON s.id = v.student_id"
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
	d->slot = sqlite3_column_int(st, 14);
	snprintf(d->course, sizeof(d->course), "%s", db_text(st, 15));
	snprintf(d->ready_line, sizeof(d->ready_line), "%s", db_text(st, 19));
	if ((d->instant_clone = profile_clone_parse(db_text(st, 20))) == -1)
		d->instant_clone = TPL_CLONE_AUTO;
	/* The course's limits where it set them (0: the default). */
	cglimit_defaults(&d->limits, d->memory_mb, labd->cfg.tb_size_mb,
	    labd->accel == VMM_ACCEL_TCG);
	if (sqlite3_column_int(st, 16) > 0)
		d->limits.cpu_weight = (unsigned)sqlite3_column_int(st, 16);
	if (sqlite3_column_int64(st, 17) > 0)
		d->limits.memory_max = sqlite3_column_int64(st, 17);
	if (sqlite3_column_int(st, 18) > 0)
		d->limits.pids_max = (unsigned)sqlite3_column_int(st, 18);
	/* The gateway logs in as the student with it (gateway.c). */
	if (keys_gateway(db_text(st, 15), d->gw_key, sizeof(d->gw_key), NULL,
	    0, err, errlen) == -1) {
		sqlite3_finalize(st);
		goto done;
	}
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
	if (vm_param(id, d->param, sizeof(d->param)) == -1) {
		errf(err, errlen, "vm %s: cannot make its parameter", d->name);
		goto done;
	}
	rc = 0;
done:
	sqlite3_finalize(st);
	return rc;
}


/*
 * What the seed says of the network: "user" (no network-config), or in
 * bridge mode the slot's address, "10.77.0.9/16".
 */
static int
vmjob_netaddr(struct vmjob *j, char *addr, size_t addrlen)
{
	struct vmdef	*d = &j->def;
	size_t		 n;

	if (labd->cfg.net_mode != LABD_NET_BRIDGE) {
		snprintf(addr, addrlen, "user");
		return 0;
	}
	if (net_guest_ip(d->slot, addr, addrlen) == -1) {
		errf(j->err, sizeof(j->err), "%s: slot %d has no address in"
		    " subnet %s", d->name, d->slot, labd->cfg.subnet);
		return -1;
	}
	n = strlen(addr);
	snprintf(addr + n, addrlen - n, "/%d", net_prefix());
	return 0;
}

/* A small file of the VM's folder, its first line; "" when absent. */
static void
vmjob_note(struct vmjob *j, const char *leaf, char *out, size_t outlen)
{
	char	path[PATH_MAX], err[128], *buf;
	size_t	len;

	out[0] = '\0';
	vmm_path(path, sizeof(path), j->def.vm_dir, leaf);
	if ((buf = file_read(path, 1024, &len, err, sizeof(err))) == NULL)
		return;
	buf[strcspn(buf, "\n")] = '\0';
	snprintf(out, outlen, "%s", buf);
	free(buf);
}

/*
 * The seed, and beside it what it was made with: its instance-id (kept,
 * so that a seed made again for a new address is not a new machine to
 * the guest) and its network ("seed.net").
 */
static int
vmjob_seed(struct vmjob *j, const char *path, const char *netaddr)
{
	struct vmdef	*d = &j->def;
	const char	*keys[2];
	char		 instance[128], hostname[64], note[PATH_MAX], line[256];
	struct vmm_user	 user = {
		.name = d->login,
		.gecos = d->gecos[0] ? d->gecos : NULL,
		.passwd_hash = d->pw_hash[0] ? d->pw_hash : NULL,
		.keys = keys,
	};
	struct vmm_file	 files[GUEST_FILES_MAX];
	char		 pline[VM_PARAMLEN + 2];
	struct vmm_seed	 seed = {
		.instance_id = instance,
		.hostname = hostname,
		.users = &user,
		.nusers = 1,
		.mgmt_key = keys_public(),
		.files = files,
	};
	char		 gw[INET_ADDRSTRLEN], mac[18];
	struct vmm_net	 net = { .mac = mac, .address = netaddr,
			    .gateway = gw, .dns = gw };
	size_t		 i;

	/* lab-check, its device's rule, the parameter (guestfiles.c). */
	snprintf(pline, sizeof(pline), "%s\n", d->param);
	seed.nfiles = guest_files(pline, files, GUEST_FILES_MAX,
	    &seed.runcmd, &seed.nruncmd);
	if (d->ssh_key[0] != '\0')
		keys[user.nkeys++] = d->ssh_key;
	if (d->gw_key[0] != '\0')
		keys[user.nkeys++] = d->gw_key;
	/* Bridge mode: the slot's address, static, through network-config. */
	if (strcmp(netaddr, "user") != 0) {
		net_gateway(gw, sizeof(gw));
		vmm_mac(d->name, mac, sizeof(mac));
		seed.net = &net;
	}

	/* A host name is at most 63 characters of [a-z0-9-]. */
	snprintf(hostname, sizeof(hostname), "%s", d->name);
	for (i = 0; hostname[i] != '\0'; i++)
		if (hostname[i] == '_')
			hostname[i] = '-';
	vmjob_note(j, "instance-id", instance, sizeof(instance));
	if (instance[0] == '\0') {
		snprintf(instance, sizeof(instance), "%s-%d-%lld", d->name,
		    d->generation, (long long)time(NULL));
		vmm_path(note, sizeof(note), d->vm_dir, "instance-id");
		snprintf(line, sizeof(line), "%s\n", instance);
		if (file_write_atomic(note, line, strlen(line), 0640, j->err,
		    sizeof(j->err)) == -1)
			return -1;
	}
	if (seed_create(&seed, path, j->err, sizeof(j->err)) == -1)
		return -1;
	vmm_path(note, sizeof(note), d->vm_dir, "seed.gw");
	if (file_write_atomic(note, d->gw_key, strlen(d->gw_key), 0640,
	    j->err, sizeof(j->err)) == -1)
		return -1;
	vmm_path(note, sizeof(note), d->vm_dir, "seed.version");
	if (file_write_atomic(note, VMJOB_SEED_VERSION "\n",
	    sizeof(VMJOB_SEED_VERSION), 0640, j->err, sizeof(j->err)) == -1)
		return -1;
	vmm_path(note, sizeof(note), d->vm_dir, "seed.net");
	snprintf(line, sizeof(line), "%s\n", netaddr);
	return file_write_atomic(note, line, strlen(line), 0640, j->err,
	    sizeof(j->err));
}

/* QEMU killed, and its cgroup folder with it. */
static int
vmjob_kill(struct vmjob *j, int timeout_ms, char *err, size_t errlen)
{
	return priv_kill(j->def.name, timeout_ms, err, errlen);
}

static int
vmjob_spawn(struct vmjob *j, int paused)
{
	struct vmdef	*d = &j->def;
	struct vmm_fwd	 fwds[LABD_MAX_GUEST_PORTS];
	char		 disk[PATH_MAX], seed[PATH_MAX], log[PATH_MAX],
			 old[PATH_MAX], tap[IFNAMSIZ], netaddr[64], have[64],
			 gw[512], version[16], append[sizeof(d->append) + 16];
	size_t		 i;
	struct vmm_spec	 spec = {
		.name = d->name,
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
		.restrict_net = !d->internet,
		.fwds = fwds,
		.nfwd = d->nrules,
		.start_paused = paused,
	};

	/*
	 * Only the golden's own boot: its copies' reboots are boots.  A
	 * kernel labd boots gets the word on its command line; a guest that
	 * boots from its own disk reads the flag from fw_cfg.
	 */
	if (j->golden && d->kernel[0] != '\0') {
		snprintf(append, sizeof(append), "%s %s", d->append, GOLDEN_ARG);
		spec.append = append;
	} else if (j->golden)
		spec.fw_cfg_golden = 1;
	for (i = 0; i < d->nrules; i++) {
		fwds[i].host_ip = d->rules[i].listen_ip;
		fwds[i].host_port = d->rules[i].port;
		fwds[i].guest_port = d->rules[i].guest_port;
	}
	if (vmm_alive(d->run_dir, d->name, &j->pid) == 1)
		return 0;	/* already runs: adopt it */
	if (confine_share(d, j->err, sizeof(j->err)) == -1)
		return -1;
	if (labd->cfg.net_mode == LABD_NET_BRIDGE) {
		net_tap_name(d->id, tap, sizeof(tap));
		spec.tap = tap;
		if (priv_tap_ensure(d->id, j->err, sizeof(j->err)) == -1)
			return -1;
	}
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
	/*
	 * A seed made for another network (labd switched modes, or the
	 * subnet changed) is made again; a seed from before seed.net
	 * existed was made for user mode.
	 */
	if (vmjob_netaddr(j, netaddr, sizeof(netaddr)) == -1)
		return -1;
	vmjob_note(j, "seed.net", have, sizeof(have));
	if (have[0] == '\0')
		snprintf(have, sizeof(have), "user");
	/* And one made before its course had a gateway key, or another. */
	vmjob_note(j, "seed.gw", gw, sizeof(gw));
	/*
	 * And one of an older shape (before lab-check and the parameter):
	 * its instance-id is kept, so a guest applies the new one only on
	 * a fresh disk (reset --hard), but then it has lab-check.
	 */
	vmjob_note(j, "seed.version", version, sizeof(version));
	if ((!file_exists(seed) || strcmp(have, netaddr) != 0 ||
	    strcmp(gw, d->gw_key) != 0 || strcmp(version,
	    VMJOB_SEED_VERSION) != 0) && vmjob_seed(j, seed, netaddr) == -1)
		return -1;
	if (j->clone && golden_seed_fit(seed, j->err, sizeof(j->err)) == -1)
		return -1;
	/* Keep the last boot's console, start this one's from empty. */
	vmm_path(log, sizeof(log), d->vm_dir, "serial.log");
	vmm_path(old, sizeof(old), d->vm_dir, "serial.log.1");
	rename(log, old);
	return priv_spawn(d, &spec, &j->pid, j->err, sizeof(j->err));
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

/*
 * Before a RAM snapshot: what the guest no longer needs should not be
 * saved.  It writes out its dirty pages and drops its clean page cache
 * (read back from the disk when wanted).  Memory a guest frees is zero
 * only once it is zeroed (a kernel booted with init_on_free=1, as the
 * tiny template's is) or reported to QEMU, which gives it back to the
 * host (free page reporting, vmm's qemu_argv.c); savevm stores a zero
 * page in a few bytes.  A guest reports about every 2 s, so a guest with
 * the driver and without init_on_free gets a round's time.  Best effort:
 * a guest that does not answer is saved as it is, and the snapshot goes
 * on.  By labd-agent when it answers (no login), which tells by the exit
 * status alone: TRIM_REPORTS when the guest reports.
 */
#define TRIM_DROP	"sync; echo 3 >/proc/sys/vm/drop_caches;" \
			" grep -qw init_on_free=1 /proc/cmdline ||" \
			" for d in /sys/bus/virtio/drivers/virtio_balloon/" \
			"virtio*; do [ -e \"$d\" ] &&"
#define TRIM_CMD	TRIM_DROP " echo labd-reporting; break; done; true"
#define TRIM_AGENT_CMD	TRIM_DROP " exit 10; break; done; true"
#define TRIM_REPORTS	10
#define TRIM_TIMEOUT_MS	10000
#define TRIM_REPORT_MS	3000	/* the kernel's reporting delay is 2 s */

static void
vmjob_trim(struct vmjob *j)
{
	char	out[256], err[VMM_ERRLEN];
	int	status = -1;

	if (j->port == 0)
		return;
	if (agent_run(j->def.name, TRIM_AGENT_CMD, AGENT_RUN_MS, &status,
	    err, sizeof(err)) == 0 && (status == 0 || status == TRIM_REPORTS)) {
		if (status == TRIM_REPORTS)
			usleep(TRIM_REPORT_MS * 1000);
		return;
	}
	status = -1;
	if (vmm_ssh_exec(j->ip, j->port, "root", j->keyfile, TRIM_CMD,
	    TRIM_TIMEOUT_MS, out, sizeof(out), &status, err,
	    sizeof(err)) == -1 || status != 0) {
		log_warnx("%s: the guest's memory is saved as it is (its"
		    " caches could not be dropped: %s)", j->def.name,
		    status > 0 ? "the command failed" : err);
		return;
	}
	if (strstr(out, "labd-reporting") != NULL)
		usleep(TRIM_REPORT_MS * 1000);
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
	vmjob_trim(j);
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
	vmjob_kill(j, 2000, NULL, 0);
	j->booted = 0;
	return -1;
}

static int
vmjob_restore(struct vmjob *j)
{
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
		/*
		 * The clock and the policy before the reply, so that the VM
		 * is never ready with yesterday's time or the sudo of the
		 * day the snapshot was taken.  Two quick tries: a guest
		 * whose SSH does not answer at once gets a patient sync job
		 * after (j->policy_set stays 0).
		 */
		if (rc == 0 && j->port != 0) {
			j->set_clock = 1;
			if (vmjob_sync(j, 2) == 0)
				j->policy_set = 1;
			j->err[0] = '\0';
		}
		return rc;
	}
	if (j->running && vmjob_kill(j, 5000, j->err,
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

	vmjob_trim(j);
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
	return vmjob_kill(j, 10000, j->err, sizeof(j->err));
}

static int
vmjob_resume(struct vmjob *j)
{
	return vmjob_spawn_from(j, VM_SUSPEND_SNAP, 1);
}

/* --- the guest's side: readiness, policy, clock -------------------------- */

/*
 * The course's policy, as a command for root in the guest: whether the
 * student may become root with sudo.  It is made true at every boot (with
 * the readiness probe) and after every RAM restore (with the clock),
 * since a snapshot holds the policy of the day it was taken.  "on" is a
 * rule of labd's own in /etc/sudoers.d (written under a name with a dot,
 * which sudo skips, and renamed: sudo never reads half a file); "off"
 * takes it away and the student out of the groups that sudo's stock rules
 * name.  Nothing is run when the guest already agrees, and the checks are
 * shell builtins: right after a restore under emulation every program
 * started costs a noticeable fraction of a second.  The login is a
 * validated roster id: nothing to quote away.
 */
static int
vmjob_policy(const struct vmjob *j, char *out, size_t outlen)
{
	const char	*l = j->login;
	int		 n;

	if (j->sudo)
		n = snprintf(out, outlen, "if [ -d /etc/sudoers.d ]; then"
		    " r='%s ALL=(ALL) NOPASSWD:ALL' f=/etc/sudoers.d/90-labd"
		    " x=; { read -r x <$f; } 2>/dev/null;"
		    " [ \"$x\" = \"$r\" ] ||"
		    " { printf '%%s\\n' \"$r\" >/etc/sudoers.d/.90-labd &&"
		    " chmod 0440 /etc/sudoers.d/.90-labd &&"
		    " mv -f /etc/sudoers.d/.90-labd $f; }; fi", l);
	else
		n = snprintf(out, outlen, "f=/etc/sudoers.d/90-labd;"
		    " [ ! -e $f ] || rm -f $f;"
		    " while IFS=: read -r g _ _ m; do case $g,$m, in"
		    " sudo,*|admin,*|wheel,*) case ,$m, in *,%s,*)"
		    " gpasswd -d '%s' $g >/dev/null 2>&1;; esac;; esac;"
		    " done </etc/group; true", l, l);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/*
 * Root's login with labd's key, and the command that says whether the
 * boot is over (vmm's ready_guest_cmd); once it is, the policy is put in
 * place before the answer comes back, so that a VM is never ready (nor
 * its pristine snapshot taken) with another policy than its course's.
 */
static int
vmjob_probe(struct vmjob *j)
{
	char	policy[512], cmd[2048], out[1024];
	int	status = -1;

	j->ready = READY_WAIT;
	if (vmjob_policy(j, policy, sizeof(policy)) == -1 ||
	    ready_guest_cmd(policy, cmd, sizeof(cmd)) == -1) {
		errf(j->err, sizeof(j->err), "the probe command is too long");
		return -1;
	}
	if (vmm_ssh_exec(j->ip, j->port, "root", j->keyfile, cmd,
	    VM_GUEST_TIMEOUT_MS, out, sizeof(out), &status, j->err,
	    sizeof(j->err)) == -1)
		return -1;
	j->ready = ready_guest_parse(out, j->ci_status, sizeof(j->ci_status));
	if (j->ci_status[0] == '\0') {
		utf8_scrub(out);
		errf(j->err, sizeof(j->err), "the readiness command printed no"
		    " status (exit %d): %.200s", status, out);
	}
	return 0;
}

/* The sync's command, made once logged in: the clock is the time it runs. */
struct sync_cmd {
	const char	*policy;
	int		 set_clock;
};

static int
sync_mkcmd(void *arg, char *cmd, size_t cmdlen)
{
	struct sync_cmd	*c = arg;
	struct timespec	 ts;
	int		 n;

	if (!c->set_clock)
		n = snprintf(cmd, cmdlen, "%s", c->policy);
	else {
		/* Rounded to the nearest second: date -s takes no more. */
		clock_gettime(CLOCK_REALTIME, &ts);
		n = snprintf(cmd, cmdlen, "%s; date -u -s @%lld >/dev/null",
		    c->policy, (long long)ts.tv_sec + (ts.tv_nsec >= 500000000));
	}
	return n < 0 || (size_t)n >= cmdlen ? -1 : 0;
}

/*
 * After a RAM restore the guest's clock says the snapshot's time; a guest
 * that thinks it is still yesterday breaks TLS and make.  Set it (with
 * set_clock) and the course's policy: by labd-agent when the guest has
 * one that answers (agent.c: no login, a few ms of the guest's time),
 * else over SSH with labd's key, trying up to tries times: the guest may
 * be busy waking up.
 */
static int
vmjob_sync(struct vmjob *j, int tries)
{
	char		policy[512], out[256], cmd[1024], why[VMM_ERRLEN];
	struct sync_cmd	c = { policy, j->set_clock };
	int		status = -1, i;

	if (vmjob_policy(j, policy, sizeof(policy)) == -1) {
		errf(j->err, sizeof(j->err), "the policy command is too long");
		return -1;
	}
	if (sync_mkcmd(&c, cmd, sizeof(cmd)) == 0) {
		if (agent_run(j->def.name, cmd, AGENT_RUN_MS, &status, why,
		    sizeof(why)) == 0 && status == 0) {
			log_debug("%s: %s set by labd-agent", j->def.name,
			    j->set_clock ? "clock and sudo policy" :
			    "sudo policy");
			return 0;
		}
		if (status > 0)
			errf(why, sizeof(why), "it exited with status %d",
			    status);
		log_debug("%s: labd-agent: %s; over SSH instead", j->def.name,
		    why);
		status = -1;
	}
	for (i = 0; i < tries; i++) {
		if (i > 0)
			usleep(250 * 1000);
		if (vmm_ssh_exec_fn(j->ip, j->port, "root", j->keyfile,
		    sync_mkcmd, &c, VM_PROBE_TIMEOUT_MS, out, sizeof(out),
		    &status, j->err, sizeof(j->err)) == 0 && status == 0)
			return 0;
		if (status > 0)
			errf(j->err, sizeof(j->err), "%s exited with status"
			    " %d: %s", j->set_clock ? "date -s" : "the policy",
			    status, out);
	}
	return -1;
}

/* --- exec: a command as root over SSH ----------------------------------- */


/*
 * labctl exec: j->cmd as root with labd's key, once, no retry (the
 * command may not be idempotent).  0 when it ran, whatever its status;
 * -1 with j->err when it could not be run or did not end in time.
 */
static int
vmjob_exec(struct vmjob *j)
{
	j->output = xmalloc(VM_EXEC_OUTPUT_MAX + 1);
	j->status = -1;
	if (vmm_ssh_exec_input(j->ip, j->port, "root", j->keyfile, j->cmd,
	    j->input, j->inlen, j->timeout_ms, j->output,
	    VM_EXEC_OUTPUT_MAX + 1, &j->status, j->err, sizeof(j->err)) == -1)
		return -1;
	utf8_scrub(j->output);
	return 0;
}

/* --- backups -------------------------------------------------------------- */

static atomic_uint	backup_seq;

/*
 * labd's own folders are no place for a copy, whoever asks: a --force
 * there would overwrite a VM's disk.  real gets dfd's path.
 */
static int
backup_not_ours(struct vmjob *j, int dfd, char *real, size_t reallen)
{
	char		 link[64], own[PATH_MAX];
	const char	*mine[] = { labd->cfg.state_dir, labd->cfg.run_dir };
	ssize_t		 n;
	size_t		 i, len;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", dfd);
	if ((n = readlink(link, real, reallen - 1)) == -1) {
		errf(j->err, sizeof(j->err), "%s: %s", link, strerror(errno));
		return -1;
	}
	real[n] = '\0';
	for (i = 0; i < sizeof(mine) / sizeof(mine[0]); i++) {
		if (realpath(mine[i], own) == NULL)
			continue;
		len = strlen(own);
		if (strncmp(real, own, len) == 0 && (real[len] == '\0' ||
		    real[len] == '/')) {
			errf(j->err, sizeof(j->err), "%s is inside labd's own"
			    " %s: write the copy elsewhere", real, own);
			return -1;
		}
	}
	return 0;
}

/*
 * labd without the helper (run by an ordinary user): would the kernel
 * let j->uid make and replace base in the folder dfd?  Search on every
 * folder above it, search and write on it; in a sticky folder (/tmp) only
 * their own file is replaced.
 */
static int
backup_allowed(struct vmjob *j, int dfd, const char *base,
    const struct stat *old)
{
	struct caller	 c;
	struct stat	 sb;
	char		 real[PATH_MAX], up[PATH_MAX], *slash;

	if (backup_not_ours(j, dfd, real, sizeof(real)) == -1)
		return -1;
	if (j->uid == 0 || j->uid == geteuid())
		return 0;
	caller_init(&c, j->uid, (gid_t)-1, -1);
	/* The folders above, by name: a race here only ever refuses. */
	snprintf(up, sizeof(up), "%s", real);
	while ((slash = strrchr(up, '/')) != NULL) {
		slash[slash == up ? 1 : 0] = '\0';
		if (stat(up, &sb) == -1 || !caller_may(&c, &sb, 01)) {
			errf(j->err, sizeof(j->err), "you (uid %d) may not"
			    " enter %s", (int)j->uid, up);
			return -1;
		}
		if (slash == up)
			break;
	}
	if (fstat(dfd, &sb) == -1) {
		errf(j->err, sizeof(j->err), "%s: %s", real, strerror(errno));
		return -1;
	}
	if (!caller_may(&c, &sb, 03)) {
		errf(j->err, sizeof(j->err), "you (uid %d) may not write in %s",
		    (int)j->uid, real);
		return -1;
	}
	if (old != NULL && (sb.st_mode & S_ISVTX) && old->st_uid != j->uid &&
	    sb.st_uid != j->uid) {
		errf(j->err, sizeof(j->err), "%s/%s is not yours to replace",
		    real, base);
		return -1;
	}
	return 0;
}

/*
 * Ask the guest to write out its page cache, so that a file saved a
 * moment ago is in the copy.  With labd's key, as the clock is set;
 * without it the copy is what a power cut would leave.
 */
static void
vmjob_guest_sync(struct vmjob *j)
{
	char	out[256], err[VMM_ERRLEN];
	int	status = -1;

	if (j->port == 0)
		return;
	if (vmm_ssh_exec(j->ip, j->port, "root", j->keyfile, "sync",
	    VM_PROBE_TIMEOUT_MS * 5, out, sizeof(out), &status, err,
	    sizeof(err)) == 0 && status == 0)
		j->synced = 1;
	else
		log_warnx("%s: the guest did not flush its cache before the"
		    " backup: %s", j->def.name, status > 0 ? out : err);
}

/* Put tmp at base in dfd; without force never over an existing file. */
static int
backup_rename(struct vmjob *j, int dfd, const char *tmp, const char *base)
{
	if (j->force) {
		if (renameat(dfd, tmp, dfd, base) == 0)
			return 0;
	} else {
		if (renameat2(dfd, tmp, dfd, base, RENAME_NOREPLACE) == 0)
			return 0;
		/* A file system without RENAME_NOREPLACE: link refuses too. */
		if (errno == EINVAL && linkat(dfd, tmp, dfd, base, 0) == 0) {
			unlinkat(dfd, tmp, 0);
			return 0;
		}
	}
	if (errno == EEXIST)
		errf(j->err, sizeof(j->err), "%s was created meanwhile: not"
		    " replaced (--force replaces it)", j->target);
	else
		errf(j->err, sizeof(j->err), "cannot rename the copy to %s:"
		    " %s", j->target, strerror(errno));
	return -1;
}

/* A temp name beside base, unique in this labd; -1 with j->err. */
static int
backup_tmp(struct vmjob *j, const char *base, char *tmp, size_t tmplen)
{
	if ((size_t)snprintf(tmp, tmplen, ".%s.labd-%d-%u", base,
	    (int)getpid(), atomic_fetch_add(&backup_seq, 1) + 1) < tmplen)
		return 0;
	tmp[0] = '\0';
	errf(j->err, sizeof(j->err), "%s: file name too long", base);
	return -1;
}

/*
 * labd's own way to the temp file: the folder opened, base checked, tmp
 * made, the asker's rights checked against modes (see backup_allowed()).
 */
static int
backup_open(struct vmjob *j, const char *dir, const char *base, char *tmp,
    size_t tmplen, int *dfdp, int *fdp)
{
	struct stat	 old;
	int		 dfd, exists;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		errf(j->err, sizeof(j->err), "cannot open the folder %s: %s",
		    dir, strerror(errno));
		return -1;
	}
	exists = fstatat(dfd, base, &old, AT_SYMLINK_NOFOLLOW) == 0;
	if (exists && !j->force)
		errf(j->err, sizeof(j->err), "%s exists: not replaced (--force"
		    " replaces it)", j->target);
	else if (exists && !S_ISREG(old.st_mode))
		errf(j->err, sizeof(j->err), "%s exists and is not a regular"
		    " file: not replaced", j->target);
	if ((exists && (!j->force || !S_ISREG(old.st_mode))) ||
	    (!j->trusted && backup_allowed(j, dfd, base, exists ? &old :
	    NULL) == -1) || backup_tmp(j, base, tmp, tmplen) == -1) {
		close(dfd);
		return -1;
	}
	if ((*fdp = openat(dfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		errf(j->err, sizeof(j->err), "cannot create %s/%s: %s", dir,
		    tmp, strerror(errno));
		tmp[0] = '\0';
		close(dfd);
		return -1;
	}
	*dfdp = dfd;
	return 0;
}

/* The disk, live or not, into fd; -1 with j->err. */
static int
backup_write(struct vmjob *j, int fd)
{
	struct qmp	*q;
	char		 disk[PATH_MAX];
	int		 rc;

	if (j->running) {
		vmjob_guest_sync(j);
		if ((q = vmjob_qmp(j)) == NULL)
			return -1;
		rc = backup_live(q, labd->cfg.qemu_img, fd,
		    VM_BACKUP_TIMEOUT_MS, &j->vsize, j->err, sizeof(j->err));
		qmp_close(q);
		return rc;
	}
	vmjob_disk(j, disk);
	return backup_offline(labd->cfg.qemu_img, disk, fd, &j->vsize,
	    j->err, sizeof(j->err));
}

/*
 * The copy itself, into a temp file beside the target, renamed at last.
 * A client's target is the helper's to make and rename, as the client
 * (caller.c): the kernel checks their rights, and the copy is theirs.
 */
static int
vmjob_backup_copy(struct vmjob *j)
{
	struct caller	 who = { .uid = j->uid, .peer = j->peer };
	struct stat	 sb;
	char		 dir[PATH_MAX], real[PATH_MAX], tmp[NAME_MAX + 1] = "";
	char		*base;
	int		 dfd = -1, fd = -1, helper, rc = -1;

	snprintf(dir, sizeof(dir), "%s", j->target);
	if ((base = strrchr(dir, '/')) == NULL) {
		errf(j->err, sizeof(j->err), "%s: not an absolute path",
		    j->target);
		return -1;
	}
	*base++ = '\0';
	if (dir[0] == '\0')
		snprintf(dir, sizeof(dir), "/");
	if ((helper = !j->trusted && priv_active())) {
		if (backup_tmp(j, base, tmp, sizeof(tmp)) == -1 ||
		    caller_place(&who, dir, tmp, base, j->force, &dfd, &fd,
		    j->err, sizeof(j->err)) == -1)
			return -1;
		if (backup_not_ours(j, dfd, real, sizeof(real)) == -1)
			goto fail;
	} else if (backup_open(j, dir, base, tmp, sizeof(tmp), &dfd,
	    &fd) == -1)
		return -1;
	if (backup_write(j, fd) == -1)
		goto fail;
	if (fsync(fd) == -1 || fstat(fd, &sb) == -1) {
		errf(j->err, sizeof(j->err), "cannot write %s/%s: %s", dir,
		    tmp, strerror(errno));
		goto fail;
	}
	if (helper ? caller_commit(&who, dfd, fd, tmp, base, j->force, j->err,
	    sizeof(j->err)) : backup_rename(j, dfd, tmp, base)) {
		if (helper)
			tmp[0] = '\0';	/* the helper removed it */
		goto fail;
	}
	tmp[0] = '\0';
	fsync(dfd);
	j->bytes = (long long)sb.st_size;
	rc = 0;
fail:
	if (tmp[0] != '\0' && helper)
		caller_commit(&who, dfd, fd, tmp, NULL, 0, real, sizeof(real));
	else if (tmp[0] != '\0')
		unlinkat(dfd, tmp, 0);
	if (fd != -1)
		close(fd);
	close(dfd);
	return rc;
}

static int
vmjob_backup(struct vmjob *j)
{
	long long	t0 = now_ms();
	int		rc;

	rc = j->hooks->prepare != NULL ? j->hooks->prepare(j) : 0;
	if (rc == 0)
		rc = vmjob_backup_copy(j);
	j->ms = now_ms() - t0;
	if (j->hooks->finish != NULL) {
		j->rc = rc;
		rc = j->hooks->finish(j);
	}
	return rc;
}

/* --- instant clones (golden.c) -------------------------------------------- */

/*
 * Whether d's shape may have a golden: labd.ini lets it, and its template
 * says so (instant_clone = yes: the flag goes in fw_cfg when it boots from
 * its own disk) or, by default, boots a kernel labd gives a command line
 * (the flag goes there) and says when it is ready.
 */
static int
vmjob_golden_shape(const struct vmdef *d)
{
	if (!labd->cfg.instant_clone || d->instant_clone == TPL_CLONE_NO)
		return 0;
	return d->instant_clone == TPL_CLONE_YES || (d->kernel[0] != '\0' &&
	    d->ready_line[0] != '\0');
}

/* And a fresh VM of it, with no QEMU: it may start from the golden. */
static int
vmjob_clonable(struct vmjob *j, const char *disk)
{
	pid_t	pid;

	return vmjob_golden_shape(&j->def) && !file_exists(disk) &&
	    vmm_alive(j->def.run_dir, j->def.name, &pid) != 1;
}

/*
 * The golden of this VM's shape, made from this VM: booted with
 * GOLDEN_ARG, saved at its golden point, QEMU gone, the disk kept as the
 * golden.  1 made; 0 the guest has no golden point and this VM simply
 * booted (its QEMU runs); -1 failed (no QEMU, no disk left).
 */
static int
vmjob_golden(struct vmjob *j, const char *key, const char *disk)
{
	struct vmdef	*d = &j->def;
	struct qmp	*q = NULL;
	char		 err[VMM_ERRLEN];
	long long	 t0 = now_ms();
	int		 rc;

	if (overlay_create(labd->cfg.qemu_img, d->tpl_disk, disk, j->err,
	    sizeof(j->err)) == -1)
		return -1;
	j->golden = 1;
	rc = vmjob_spawn(j, 0);
	j->golden = 0;
	if (rc == -1)
		goto fail;
	switch (golden_wait(d, d->ready_line, 1000 * (labd->cfg.boot_timeout <
	    GOLDEN_WAIT_MAX_S ? labd->cfg.boot_timeout : GOLDEN_WAIT_MAX_S),
	    j->err, sizeof(j->err))) {
	case 0:
		golden_unsupported(key, d->name);
		return 0;
	case -1:
		goto fail;
	}
	if ((q = vmjob_qmp(j)) == NULL || snapshot_save(q, GOLDEN_SNAP,
	    VM_SNAP_TIMEOUT_MS, j->err, sizeof(j->err)) == -1)
		goto fail;
	if (qmp_quit(q, err, sizeof(err)) == -1)
		log_warnx("%s: quit: %s", d->name, err);
	qmp_close(q);
	q = NULL;
	if (vmjob_kill(j, 10000, j->err, sizeof(j->err)) == -1 ||
	    golden_keep(key, disk, j->err, sizeof(j->err)) == -1)
		goto fail;
	log_info("%s: made the golden of its shape (%s) in %.1f s", d->name,
	    key, (double)(now_ms() - t0) / 1000);
	return 1;
fail:
	if (q != NULL)
		qmp_close(q);
	vmjob_kill(j, 2000, NULL, 0);
	unlink(disk);
	return -1;
}

/*
 * A fresh VM started from a copy of its shape's golden, made first when
 * there is none.  0: it runs (a copy; or the golden's maker, booted, when
 * its guest has no golden point); 1: its shape boots, the caller boots
 * it; -1: failed, nothing runs and no disk is left (the caller boots it).
 */
static int
vmjob_clone(struct vmjob *j, const char *disk)
{
	struct vmdef		*d = &j->def;
	struct qmp		*q = NULL;
	enum golden_have	 have;
	char			 key[GOLDEN_KEYLEN], golden[PATH_MAX], mac[32];
	int			 i, rc = -1;

	golden_key(d, key, sizeof(key));
	if (golden_path(key, "qcow2", golden, sizeof(golden)) == -1)
		return 1;
	if (mkdir_p(d->vm_dir, 0750) == -1) {
		errf(j->err, sizeof(j->err), "cannot create %s: %s",
		    d->vm_dir, strerror(errno));
		return -1;
	}
	j->clone = 1;
	/* The others of its shape wait while this one makes the golden. */
	if ((have = golden_claim(key)) == GOLDEN_ABSENT) {
		rc = vmjob_golden(j, key, disk);
		golden_made(key, rc != -1);
		if (rc != 1) {
			j->clone = 0;
			return rc;	/* 0: booted as it is; -1 */
		}
		have = GOLDEN_READY;
		rc = -1;
	}
	if (have != GOLDEN_READY) {
		j->clone = 0;
		return 1;
	}
	if (file_copy(golden, disk, 0600, j->err, sizeof(j->err)) == -1 ||
	    vmjob_spawn(j, 1) == -1)
		goto fail;
	if ((q = vmjob_qmp(j)) == NULL)
		goto fail;
	/*
	 * A golden this QEMU cannot load (one of an older QEMU or labd
	 * whose machine differs) is removed, for a new one to be made at
	 * labd's next start; until then the shape boots.
	 */
	if (snapshot_load(q, GOLDEN_SNAP, VM_SNAP_TIMEOUT_MS, j->err,
	    sizeof(j->err)) == -1) {
		golden_discard(key);
		goto fail;
	}
	if (qmp_execute(q, "cont", NULL, NULL, j->err, sizeof(j->err)) == -1)
		goto fail;
	/* The guest waits for its go line: sent again if it was lost. */
	vmm_mac(d->name, mac, sizeof(mac));
	for (i = 0; ; i++) {
		if (golden_go(d->name, mac, j->err, sizeof(j->err)) == 0 &&
		    golden_took(d, GOLDEN_GO_MS) == 1)
			break;
		if (i == 2) {
			if (j->err[0] == '\0')
				errf(j->err, sizeof(j->err), "the guest did"
				    " not take its go line");
			goto fail;
		}
	}
	j->err[0] = '\0';
	/* Its RAM is in the guest: the copy on disk has done its job. */
	if (snapshot_delete(q, GOLDEN_SNAP, VM_SNAP_TIMEOUT_MS, j->err,
	    sizeof(j->err)) == -1)
		log_warnx("%s: %s (the golden stays in its disk)", d->name,
		    j->err);
	j->err[0] = '\0';
	rc = 0;
	goto out;
fail:
	vmjob_kill(j, 2000, NULL, 0);
	unlink(disk);
out:
	if (q != NULL)
		qmp_close(q);
	j->clone = 0;
	return rc;
}

/* Start: from a golden when it can, else a boot (or adopt QEMU). */
static int
vmjob_start(struct vmjob *j)
{
	char	disk[PATH_MAX];

	vmjob_disk(j, disk);
	if (vmjob_clonable(j, disk)) {
		switch (vmjob_clone(j, disk)) {
		case 0:
			return 0;
		case -1:
			log_warnx("%s: not started from a golden (%s): it"
			    " boots", j->def.name, j->err);
			j->err[0] = '\0';
			break;
		}
	}
	return vmjob_spawn(j, 0);
}

void
vmjob_run(struct job *job)
{
	struct vmjob	*j = (struct vmjob *)job;
	struct vmdef	*d = &j->def;
	char		 disk[PATH_MAX];

	switch (j->kind) {
	case VMJOB_START:
		j->rc = vmjob_start(j);
		break;
	case VMJOB_RESET:
		vmm_path(disk, sizeof(disk), d->vm_dir, "disk.qcow2");
		if (vmjob_kill(j, 5000, j->err,
		    sizeof(j->err)) == -1) {
			j->rc = -1;
			break;
		}
		/*
		 * The old disk kept a while first, for labctl recover.
		 * overlay_create renames over the old disk: never no disk
		 * (but for a golden's copy, made where the old one was).
		 * A VM that never started has none: the spawn makes it.
		 */
		if (file_exists(disk) && retain_keep(disk, d->name, d->course,
		    d->login, "reset --hard", NULL, 0, j->err,
		    sizeof(j->err)) == -1) {
			j->rc = -1;
			break;
		}
		/* A fresh disk: a golden's copy, when its shape has one. */
		if (vmjob_golden_shape(d)) {
			unlink(disk);
			j->rc = vmjob_start(j);
			break;
		}
		if (file_exists(disk) && overlay_create(labd->cfg.qemu_img,
		    d->tpl_disk, disk, j->err, sizeof(j->err)) == -1) {
			j->rc = -1;
			break;
		}
		j->rc = vmjob_spawn(j, 0);
		break;
	case VMJOB_KILL:
		j->rc = vmjob_kill(j, 5000, j->err,
		    sizeof(j->err));
		break;
	case VMJOB_PROBE:
		j->rc = vmjob_probe(j);
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
	case VMJOB_SYNC:
		j->rc = vmjob_sync(j, 20);
		break;
	case VMJOB_BACKUP:	/* or its own read of the disk (offline.c) */
		j->rc = j->hooks->run != NULL ? j->hooks->run(j) :
		    vmjob_backup(j);
		break;
	case VMJOB_EXEC:
		j->rc = j->hooks->run != NULL ? j->hooks->run(j) :
		    vmjob_exec(j);
		break;
	}
}

