/* SPDX-License-Identifier: ISC */
/*
 * backup.c - a standalone copy of a VM's disk (node "disk0"): a qcow2
 * with no backing file, whatever chain the VM's disk is (an overlay on
 * its template), and without its internal snapshots, so that it can be
 * kept, moved, booted or imported as a template on its own.
 *
 * A stopped VM's disk is converted with qemu-img convert, which reads
 * through the backing chain and so flattens it.  A running VM's disk is
 * copied by its QEMU with blockdev-backup sync=full: a copy-before-write
 * filter keeps the disk as it was when the job started while the guest
 * writes on, and the guest is never paused.  That copy is what a power
 * cut at that instant would leave: what the guest had written, not what
 * it still held in its page cache, so callers flush the guest first.
 *
 * QEMU runs as an unprivileged user (-runas) and cannot open a file the
 * caller makes, so the caller hands us an open descriptor.  It reaches
 * QEMU over the monitor (add-fd, SCM_RIGHTS) into an fdset, which QEMU's
 * file driver opens as /dev/fdset/N; add-fd over getfd because getfd's
 * descriptors are for chardevs and migration, fdsets are the block
 * layer's.  qemu-img, our own child, reaches the same file as
 * /proc/PID/fd/N: nothing is opened by name after the caller's checks.
 *
 * The job is made with auto-dismiss off so that its error can still be
 * read once it has concluded, and is polled with query-jobs, as
 * snapshot.c does; unlike a snapshot job it runs in the background, so
 * the monitor answers the polls at once.  On the way out every step is
 * undone in reverse (job-dismiss, blockdev-del, which also flushes the
 * target's qcow2 tables, remove-fd).  A backup that a dead labd left in
 * QEMU (ids starting "labd-backup-") is cleared before the next one.
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "vmm/vmm.h"
#include "vmm/vmm_int.h"

#define BACKUP_SOURCE		"disk0"
#define BACKUP_PREFIX		"labd-backup-"	/* our node names and job ids */
#define BACKUP_OPAQUE		"labd-backup"	/* our fdsets' tag */
/* query-jobs every 20 ms at first, backing off to 200 ms. */
#define JOB_POLL_FIRST_MS	20
#define JOB_POLL_MAX_MS		200
/* What a cancelled or leftover job gets to conclude. */
#define JOB_CANCEL_MS		5000

/* Node names must be unique in one QEMU, whichever thread adds them. */
static atomic_ulong	backup_seq;

static int
is_ours(const char *s)
{
	return s != NULL && strncmp(s, BACKUP_PREFIX,
	    strlen(BACKUP_PREFIX)) == 0;
}

/*
 * qmp_execute_fd() with args made for the call (json_pack): qmp.c only
 * borrows them, so they are dropped here.
 */
static int
execute(struct qmp *q, int fd, const char *cmd, json_t *args, json_t **ret,
    char *err, size_t errlen)
{
	int	rc;

	rc = qmp_execute_fd(q, fd, cmd, args, ret, err, errlen);
	json_decref(args);
	return rc;
}

/* A command whose error is not wanted; 0 or -1. */
static int
quiet(struct qmp *q, const char *cmd, json_t *args)
{
	char	why[VMM_ERRLEN];

	return execute(q, -1, cmd, args, NULL, why, sizeof(why));
}

/* The query-jobs entry of job id (a new reference), NULL when gone. */
static json_t *
job_get(struct qmp *q, const char *id, char *err, size_t errlen, int *gone)
{
	json_t		*jobs, *job, *found = NULL;
	const char	*jid;
	size_t		 i;

	*gone = 0;
	if (qmp_execute(q, "query-jobs", NULL, &jobs, err, errlen) == -1)
		return NULL;
	json_array_foreach(jobs, i, job) {
		jid = json_string_value(json_object_get(job, "id"));
		if (jid != NULL && strcmp(jid, id) == 0)
			found = json_incref(job);
	}
	json_decref(jobs);
	if (found == NULL) {
		snprintf(err, errlen, "job %s is gone from QEMU before it"
		    " concluded", id);
		*gone = 1;
	}
	return found;
}

/*
 * Poll until job id has concluded: 1 with *job (a new reference), 0 when
 * deadline came first, -1 with err.
 */
static int
job_wait(struct qmp *q, const char *id, long long deadline, json_t **job,
    char *err, size_t errlen)
{
	const char	*status;
	long long	 left;
	int		 pause = JOB_POLL_FIRST_MS, gone;

	for (;;) {
		if ((*job = job_get(q, id, err, errlen, &gone)) == NULL)
			return -1;
		status = json_string_value(json_object_get(*job, "status"));
		if (status != NULL && strcmp(status, "concluded") == 0)
			return 1;
		json_decref(*job);
		*job = NULL;
		if ((left = deadline - vmm_now_ms()) <= 0)
			return 0;
		vmm_sleep_ms(left < pause ? (int)left : pause);
		if ((pause *= 2) > JOB_POLL_MAX_MS)
			pause = JOB_POLL_MAX_MS;
	}
}

/* Cancel job id, give it a moment to conclude, dismiss it. */
static void
job_drop(struct qmp *q, const char *id)
{
	json_t	*job = NULL;
	char	 why[VMM_ERRLEN];

	quiet(q, "job-cancel", json_pack("{s:s}", "id", id));
	if (job_wait(q, id, vmm_now_ms() + JOB_CANCEL_MS, &job, why,
	    sizeof(why)) == 1)
		quiet(q, "job-dismiss", json_pack("{s:s}", "id", id));
	json_decref(job);
}

/*
 * What an earlier backup left behind when its labd died: its job (cancel
 * or dismiss), its target node, its fdset.  Errors do not matter here;
 * a leftover that stays in the way fails the new backup by itself.
 */
static void
leftovers_clear(struct qmp *q)
{
	json_t		*list, *o, *fd;
	const char	*s, *st;
	char		 why[VMM_ERRLEN];
	size_t		 i, k;

	if (qmp_execute(q, "query-jobs", NULL, &list, why, sizeof(why)) == 0) {
		json_array_foreach(list, i, o) {
			if (!is_ours(s = json_string_value(json_object_get(o,
			    "id"))))
				continue;
			st = json_string_value(json_object_get(o, "status"));
			if (st != NULL && strcmp(st, "concluded") == 0)
				quiet(q, "job-dismiss", json_pack("{s:s}",
				    "id", s));
			else
				job_drop(q, s);
		}
		json_decref(list);
	}
	if (execute(q, -1, "query-named-block-nodes", json_pack("{s:b}",
	    "flat", 1), &list, why, sizeof(why)) == 0) {
		json_array_foreach(list, i, o)
			if (is_ours(s = json_string_value(json_object_get(o,
			    "node-name"))))
				quiet(q, "blockdev-del", json_pack("{s:s}",
				    "node-name", s));
		json_decref(list);
	}
	if (qmp_execute(q, "query-fdsets", NULL, &list, why, sizeof(why)) ==
	    0) {
		json_array_foreach(list, i, o)
			json_array_foreach(json_object_get(o, "fds"), k, fd)
				if ((s = json_string_value(json_object_get(fd,
				    "opaque"))) != NULL &&
				    strcmp(s, BACKUP_OPAQUE) == 0) {
					quiet(q, "remove-fd", json_pack("{s:O}",
					    "fdset-id", json_object_get(o,
					    "fdset-id")));
					break;
				}
		json_decref(list);
	}
}

/* disk0's virtual size, from the node QEMU has open. */
static int
source_size(struct qmp *q, uint64_t *vsize, char *err, size_t errlen)
{
	json_t		*nodes, *node, *img;
	const char	*nn;
	size_t		 i;
	int		 rc = -1;

	if (execute(q, -1, "query-named-block-nodes", json_pack("{s:b}",
	    "flat", 1), &nodes, err, errlen) == -1)
		return -1;
	json_array_foreach(nodes, i, node) {
		nn = json_string_value(json_object_get(node, "node-name"));
		if (nn == NULL || strcmp(nn, BACKUP_SOURCE) != 0)
			continue;
		img = json_object_get(node, "image");
		if (json_integer_value(json_object_get(img,
		    "virtual-size")) > 0) {
			*vsize = (uint64_t)json_integer_value(
			    json_object_get(img, "virtual-size"));
			rc = 0;
		}
	}
	if (rc == -1)
		snprintf(err, errlen, "QEMU has no block node %s with a size"
		    " (a VM without a disk?)", BACKUP_SOURCE);
	json_decref(nodes);
	return rc;
}

/* Format fd as an empty qcow2 of vsize bytes. */
static int
target_create(const char *qemu_img, int fd, uint64_t vsize, char *err,
    size_t errlen)
{
	char	 size[32];
	char	*argv[] = { NULL, "create", "-q", "-f", "qcow2", "/dev/fd/4",
		    size, NULL };

	snprintf(size, sizeof(size), "%llu", (unsigned long long)vsize);
	return img_run(qemu_img, NULL, argv, &fd, NULL, 1, 0, NULL, err,
	    errlen);
}

/*
 * The job itself, on a target node already added: start it, wait for
 * it, read its error, dismiss it.
 */
static int
job_run(struct qmp *q, const char *node, long long deadline, int timeout_ms,
    char *err, size_t errlen)
{
	json_t		*job = NULL;
	const char	*jerr;
	char		 id[64], why[VMM_ERRLEN];
	int		 r, rc = -1;

	snprintf(id, sizeof(id), "%s-job", node);
	if (execute(q, -1, "blockdev-backup", json_pack("{s:s,s:s,s:s,s:s,"
	    "s:b}", "job-id", id, "device", BACKUP_SOURCE, "target", node,
	    "sync", "full", "auto-dismiss", 0), NULL, err, errlen) == -1)
		return -1;
	if ((r = job_wait(q, id, deadline, &job, why, sizeof(why))) == -1) {
		snprintf(err, errlen, "blockdev-backup: %s", why);
		return -1;
	}
	if (r == 0) {
		job_drop(q, id);
		snprintf(err, errlen, "blockdev-backup: not done within %d ms:"
		    " cancelled", timeout_ms);
		return -1;
	}
	if ((jerr = json_string_value(json_object_get(job, "error"))) != NULL)
		snprintf(err, errlen, "blockdev-backup: %s", jerr);
	else
		rc = 0;
	json_decref(job);
	quiet(q, "job-dismiss", json_pack("{s:s}", "id", id));
	return rc;
}

int
backup_live(struct qmp *q, const char *qemu_img, int fd, int timeout_ms,
    uint64_t *vsize, char *err, size_t errlen)
{
	json_t		*ret = NULL;
	char		 node[32], fdset[64], why[VMM_ERRLEN];
	long long	 deadline = vmm_now_ms() + timeout_ms;
	json_int_t	 set = -1;
	int		 added = 0, rc = -1;

	leftovers_clear(q);
	if (source_size(q, vsize, err, errlen) == -1 ||
	    target_create(qemu_img, fd, *vsize, err, errlen) == -1)
		return -1;
	if (execute(q, fd, "add-fd", json_pack("{s:s}", "opaque",
	    BACKUP_OPAQUE), &ret, err, errlen) == -1)
		return -1;
	set = json_integer_value(json_object_get(ret, "fdset-id"));
	json_decref(ret);
	/* A node name is at most 31 characters. */
	snprintf(node, sizeof(node), "%s%d-%lu", BACKUP_PREFIX,
	    (int)getpid() % 10000000, (atomic_fetch_add(&backup_seq, 1) + 1) %
	    100000);
	snprintf(fdset, sizeof(fdset), "/dev/fdset/%lld", (long long)set);
	if (execute(q, -1, "blockdev-add", json_pack("{s:s,s:s,s:{s:s,s:s}}",
	    "driver", "qcow2", "node-name", node, "file", "driver", "file",
	    "filename", fdset), NULL, err, errlen) == -1)
		goto fail;
	added = 1;
	if (job_run(q, node, deadline, timeout_ms, err, errlen) == -1)
		goto fail;
	/* Closing the node writes out the qcow2 tables: the copy's end. */
	added = 0;
	if (execute(q, -1, "blockdev-del", json_pack("{s:s}", "node-name",
	    node), NULL, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "the copy is done but QEMU keeps it open:"
		    " %s", why);
		goto fail;
	}
	rc = 0;
fail:
	if (added)
		quiet(q, "blockdev-del", json_pack("{s:s}", "node-name", node));
	if (set >= 0)
		quiet(q, "remove-fd", json_pack("{s:I}", "fdset-id", set));
	return rc;
}

int
backup_offline(const char *qemu_img, const char *disk, int fd,
    uint64_t *vsize, char *err, size_t errlen)
{
	json_t	*info;
	int	 in, rc;

	/* A VM's disk is a qcow2 overlay: never probed. */
	if ((info = vmm_image_info(qemu_img, disk, "qcow2", err, errlen)) ==
	    NULL)
		return -1;
	*vsize = (uint64_t)json_integer_value(json_object_get(info,
	    "virtual-size"));
	json_decref(info);
	if ((in = vmm_open_regular(disk, O_RDONLY, err, errlen)) == -1)
		return -1;
	/* Without -U: a QEMU that still has the disk open makes this fail. */
	rc = img_convert_fd(qemu_img, NULL, in, "qcow2", fd, "qcow2", NULL,
	    disk, err, errlen);
	close(in);
	return rc;
}
