/* SPDX-License-Identifier: ISC */
/*
 * cmd_removed.c - removed.list and removed.recover: the disks retain.c
 * keeps, and one put back as its VM's disk.  The VM must be stopped; the
 * disk it has is kept in turn, the kept one renamed into its place, and
 * the VM's snapshot rows made again from what that disk holds.  The file
 * work runs in a worker, the VM busy meanwhile.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "labd.h"

struct recover_job {
	struct job	 job;
	struct req	*r;
	int64_t		 vm_id;
	char		 vm[LABD_VMNAMELEN];
	char		 course[LABD_NAMELEN];
	char		 student[LABD_NAMELEN];
	char		 id[128];
	char		 src[PATH_MAX];		/* the kept folder */
	char		 disk[PATH_MAX];	/* the VM's disk */
	char		 kept[128];		/* the disk it replaced, kept */
	struct vmm_snapshot *snaps;
	size_t		 nsnaps;
	int		 rc;
	char		 err[LABD_ERRLEN];
};

/* In a worker: the current disk kept in turn, the old one moved back. */
static void
recover_run(struct job *job)
{
	struct recover_job	*j = (struct recover_job *)job;
	char			 from[PATH_MAX], why[256];
	char			 backing[PATH_MAX];

	j->rc = -1;
	snprintf(from, sizeof(from), "%s/disk.qcow2", j->src);
	if (overlay_backing(labd->cfg.qemu_img, from, backing,
	    sizeof(backing), j->err, sizeof(j->err)) == -1)
		return;
	if (backing[0] != '\0' && !file_exists(backing)) {
		errf(j->err, sizeof(j->err), "kept disk %s needs its"
		    " template's disk %s, which is gone", j->id, backing);
		return;
	}
	snprintf(why, sizeof(why), "replaced by labctl recover %s", j->id);
	if (retain_keep(j->disk, j->vm, j->course, j->student, why, j->kept,
	    sizeof(j->kept), j->err, sizeof(j->err)) == -1)
		return;
	if (rename(from, j->disk) == -1) {
		errf(j->err, sizeof(j->err), "cannot move %s to %s: %s", from,
		    j->disk, strerror(errno));
		return;
	}
	rm_rf(j->src);
	/* Its snapshots are in it: the listing is made again from them. */
	if (snapshot_offline_list(labd->cfg.qemu_img, j->disk, &j->snaps,
	    &j->nsnaps, j->err, sizeof(j->err)) == -1)
		log_warnx("%s: %s", j->vm, j->err);
	j->rc = 0;
}

static void
recover_done(struct job *job)
{
	struct recover_job	*j = (struct recover_job *)job;
	struct vm		*vm = vm_by_id(j->vm_id);

	if (vm != NULL)
		vm->busy = 0;
	if (j->rc == -1)
		reply_err(j->r, LABD_E_FAILED, "%s", j->err);
	else {
		if (vm != NULL)
			vm_snap_rows_set(vm, j->snaps, j->nsnaps);
		db_event(j->r->uid, "vm.recover", j->vm, "from %s%s%s",
		    j->id, j->kept[0] ? "; the disk it replaced is kept as " :
		    "", j->kept);
		log_info("%s: disk recovered from %s", j->vm, j->id);
		reply_ok(j->r, json_pack("{s:s,s:s,s:s?,s:i}", "vm", j->vm,
		    "id", j->id, "kept", j->kept[0] ? j->kept : NULL,
		    "snapshots", (int)j->nsnaps));
	}
	free(j->snaps);
	req_free(j->r);
	free(j);
}

void
cmd_removed_list(const struct req *r, json_t *args)
{
	reply_ok(r, json_pack("{s:o,s:i}", "removed", retain_list(),
	    "keep_removed", labd->cfg.keep_removed));
}

void
cmd_removed_recover(const struct req *r, json_t *args)
{
	struct recover_job	*j;
	struct vm		*vm;
	json_t			*m;
	const char		*id = arg_str(args, "id"), *to = arg_str(args,
				    "vm");
	char			 src[PATH_MAX], rundir[PATH_MAX],
				 err[LABD_ERRLEN], newest[128];
	pid_t			 pid;

	/* A VM's name stands for its newest kept disk. */
	if ((m = retain_meta(id, src, sizeof(src), err, sizeof(err))) ==
	    NULL && retain_newest(id, newest, sizeof(newest)) == 0) {
		id = newest;
		m = retain_meta(id, src, sizeof(src), err, sizeof(err));
	}
	if (m == NULL) {
		reply_err(r, LABD_E_NOT_FOUND, "%s", err);
		return;
	}
	if (to == NULL)
		to = json_string_value(json_object_get(m, "vm"));
	if ((vm = vm_find(to)) == NULL) {
		reply_err(r, LABD_E_NOT_FOUND, "VM %.64s is gone: make it"
		    " again (labctl course create with the same course and"
		    " roster), then labctl recover %s, or recover into"
		    " another VM with --to VM", to, id);
		json_decref(m);
		return;
	}
	json_decref(m);
	j = xcalloc(1, sizeof(*j));
	vm_paths(vm->name, j->disk, rundir);
	if (vm->busy || (vm->state != VM_STOPPED && vm->state != VM_FAILED) ||
	    vmm_alive(rundir, vm->name, &pid) == 1) {
		reply_err(r, LABD_E_BUSY, "%s is %s: stop it first (labctl"
		    " stop %s)", vm->name, vm_state_name(vm->state),
		    vm->name);
		free(j);
		return;
	}
	/* vm_paths() gave the VM's folder: its disk is in it. */
	if (strlen(j->disk) + sizeof("/disk.qcow2") > sizeof(j->disk)) {
		reply_err(r, LABD_E_INTERNAL, "%s: path too long", vm->name);
		free(j);
		return;
	}
	strcat(j->disk, "/disk.qcow2");
	j->job.run = recover_run;
	j->job.done = recover_done;
	j->vm_id = vm->id;
	snprintf(j->vm, sizeof(j->vm), "%s", vm->name);
	snprintf(j->course, sizeof(j->course), "%s", vm->course);
	snprintf(j->student, sizeof(j->student), "%s", vm->student);
	snprintf(j->id, sizeof(j->id), "%s", id);
	snprintf(j->src, sizeof(j->src), "%s", src);
	j->r = req_keep(r);
	vm->busy = 1;
	workers_submit(labd->workers, &j->job);
}
