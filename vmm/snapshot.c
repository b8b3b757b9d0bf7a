/* SPDX-License-Identifier: ISC */
/*
 * snapshot.c - named points of a VM, kept in its qcow2 disk ("disk0").
 *
 * Live snapshots go through QMP's snapshot-save, snapshot-load and
 * snapshot-delete, which are jobs: the command only starts one, and we
 * poll query-jobs until it has concluded, read its error, and dismiss it
 * (a snapshot job is not dismissed by itself and would stay listed).
 * Polling rather than waiting for JOB_STATUS_CHANGE keeps the events for
 * whoever owns the connection, and cannot miss an event sent before the
 * command's reply.  QEMU 7.2 runs these jobs in its main loop, so no
 * monitor answers anything while one runs (the guest is stopped then
 * too): the QMP timeout is stretched to the job's for its duration, and
 * labd runs them from a worker on the second monitor (qmp-ctl.sock), so
 * that its event loop is not the one waiting.
 *
 * Only disk0 takes part, the RAM and device state included; the seed is
 * read-only and cannot hold a snapshot, and naming it would fail the job.
 * QEMU refuses a second snapshot of the same name and the qcow2 table
 * cannot rename one, so a save replaces an old one by deleting it first.
 * A failed snapshot-load leaves the guest stopped (runstate restore-vm)
 * whatever it was before, as its RAM may be half loaded; so a load first
 * checks that the snapshot exists and holds RAM, the usual ways it fails.
 * A job that outlives its timeout is cancelled if QEMU still can, and the
 * message says whether it did its work after all.
 *
 * Offline snapshots are qemu-img snapshot on a stopped VM's disk: the
 * disk alone.  There a new snapshot is made before the old one of the
 * same name is deleted (qemu-img allows two of one name for a while),
 * so a failure keeps the old one.
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

#define SNAP_NODE		"disk0"
/* query-jobs every 20 ms at first, backing off to 50 ms. */
#define JOB_POLL_FIRST_MS	20
#define JOB_POLL_MAX_MS		50
/* How long a timed-out job gets to honour job-cancel. */
#define JOB_CANCEL_MS		2000

/* Job ids must be unique in one QEMU, whichever thread starts the job. */
static atomic_ulong	job_seq;

int
snapshot_name_valid(const char *s)
{
	size_t	i;
	int	digits = 1;

	if (s == NULL || !((s[0] >= 'A' && s[0] <= 'Z') ||
	    (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return 0;
		if (s[i] < '0' || s[i] > '9')
			digits = 0;
	}
	return i < VMM_SNAPNAMELEN && !digits;
}

static int
check_name(const char *name, char *err, size_t errlen)
{
	if (snapshot_name_valid(name))
		return 0;
	snprintf(err, errlen, "bad snapshot name \"%s\": want a letter or"
	    " digit, then letters, digits, '.', '_' or '-', at most %d in all,"
	    " not all digits", name != NULL ? name : "", VMM_SNAPNAMELEN - 1);
	return -1;
}

/* --- the snapshot table, as QMP and qemu-img info both show it ---------- */

static int64_t
int_of(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/*
 * arr is an array of {"name", "id", "date-sec", "vm-clock-sec", ...}.
 * Sorted oldest first; the table order (creation order) breaks ties, so
 * the sort is a stable insertion sort: tables are a handful long.
 */
static int
table_parse(json_t *arr, struct vmm_snapshot **out, size_t *n, char *err,
    size_t errlen)
{
	struct vmm_snapshot	*v = NULL, t;
	json_t			*o;
	const char		*name;
	size_t			 i, j, k = 0;

	*out = NULL;
	*n = 0;
	/* No "snapshots" at all is how QEMU says there are none. */
	if (json_array_size(arr) == 0)
		return 0;
	if ((v = calloc(json_array_size(arr), sizeof(*v))) == NULL) {
		snprintf(err, errlen, "snapshot table: out of memory");
		return -1;
	}
	json_array_foreach(arr, i, o) {
		name = json_string_value(json_object_get(o, "name"));
		/* Made by someone else and not nameable through this API. */
		if (name == NULL || strlen(name) >= VMM_SNAPNAMELEN)
			continue;
		snprintf(v[k].name, sizeof(v[k].name), "%s", name);
		v[k].date_sec = int_of(o, "date-sec");
		v[k].vm_clock_ms = int_of(o, "vm-clock-sec") * 1000 +
		    int_of(o, "vm-clock-nsec") / 1000000;
		v[k].vm_state_size = (uint64_t)int_of(o, "vm-state-size");
		for (j = k; j > 0 && v[j - 1].date_sec > v[j].date_sec; j--) {
			t = v[j - 1];
			v[j - 1] = v[j];
			v[j] = t;
		}
		k++;
	}
	if (k == 0) {
		free(v);
		return 0;
	}
	*out = v;
	*n = k;
	return 0;
}

static const struct vmm_snapshot *
table_find(const struct vmm_snapshot *v, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

/* --- live, over QMP ----------------------------------------------------- */

int
snapshot_list(struct qmp *q, struct vmm_snapshot **out, size_t *n,
    char *err, size_t errlen)
{
	json_t		*args, *nodes = NULL, *node, *found = NULL;
	const char	*nn;
	size_t		 i;
	int		 rc = -1;

	*out = NULL;
	*n = 0;
	/* flat: each node once, not again inside every node above it. */
	if ((args = json_pack("{s:b}", "flat", 1)) == NULL) {
		snprintf(err, errlen, "query-named-block-nodes: out of memory");
		return -1;
	}
	if (qmp_execute(q, "query-named-block-nodes", args, &nodes, err,
	    errlen) == -1)
		goto fail;
	json_array_foreach(nodes, i, node) {
		nn = json_string_value(json_object_get(node, "node-name"));
		if (nn != NULL && strcmp(nn, SNAP_NODE) == 0)
			found = node;
	}
	if (found == NULL) {
		snprintf(err, errlen, "QEMU has no block node %s (a VM without"
		    " a disk?)", SNAP_NODE);
		goto fail;
	}
	rc = table_parse(json_object_get(json_object_get(found, "image"),
	    "snapshots"), out, n, err, errlen);
fail:
	json_decref(args);
	json_decref(nodes);
	return rc;
}

/* The job of that id in a query-jobs reply, or NULL. */
static json_t *
job_find(json_t *jobs, const char *id)
{
	json_t		*job;
	const char	*jid;
	size_t		 i;

	json_array_foreach(jobs, i, job) {
		jid = json_string_value(json_object_get(job, "id"));
		if (jid != NULL && strcmp(jid, id) == 0)
			return job;
	}
	return NULL;
}

/*
 * Poll until job id has concluded: 1 with *job (its query-jobs entry, a
 * new reference), 0 when deadline came first, -1 with err.  A query that
 * fails once deadline has passed is a timeout too: QEMU answers nothing
 * while the job runs.
 */
static int
job_wait(struct qmp *q, const char *id, long long deadline, json_t **job,
    char *err, size_t errlen)
{
	json_t		*jobs, *j;
	const char	*status;
	long long	 left;
	int		 pause = JOB_POLL_FIRST_MS, concluded;

	*job = NULL;
	for (;;) {
		if ((left = deadline - vmm_now_ms()) <= 0)
			return 0;
		qmp_set_timeout(q, (int)left);
		if (qmp_execute(q, "query-jobs", NULL, &jobs, err,
		    errlen) == -1)
			return vmm_now_ms() >= deadline ? 0 : -1;
		if ((j = job_find(jobs, id)) == NULL) {
			snprintf(err, errlen, "job %s is gone from QEMU before"
			    " it concluded", id);
			json_decref(jobs);
			return -1;
		}
		status = json_string_value(json_object_get(j, "status"));
		if ((concluded = status != NULL &&
		    strcmp(status, "concluded") == 0))
			*job = json_incref(j);
		json_decref(jobs);
		if (concluded)
			return 1;
		if ((left = deadline - vmm_now_ms()) <= 0)
			return 0;
		vmm_sleep_ms(left < pause ? (int)left : pause);
		if ((pause *= 2) > JOB_POLL_MAX_MS)
			pause = JOB_POLL_MAX_MS;
	}
}

/* One of job-dismiss or job-cancel on id; the error is not wanted. */
static int
job_command(struct qmp *q, const char *cmd, const char *id)
{
	json_t	*args;
	char	 why[VMM_ERRLEN];
	int	 rc;

	if ((args = json_pack("{s:s}", "id", id)) == NULL)
		return -1;
	rc = qmp_execute(q, cmd, args, NULL, why, sizeof(why));
	json_decref(args);
	return rc;
}

/*
 * A job past its time: ask QEMU to cancel it, give it a moment to
 * conclude, dismiss it if it did, and say in how what became of it.  A
 * job that QEMU was still running when we gave up may well have done
 * its work (cancel is refused once it has concluded).
 */
static void
job_abandon(struct qmp *q, const char *id, char *how, size_t howlen)
{
	json_t		*job = NULL;
	const char	*jerr;
	char		 why[VMM_ERRLEN];
	int		 cancelled;

	qmp_set_timeout(q, JOB_CANCEL_MS);
	cancelled = job_command(q, "job-cancel", id) == 0;
	if (job_wait(q, id, vmm_now_ms() + JOB_CANCEL_MS, &job, why,
	    sizeof(why)) != 1) {
		snprintf(how, howlen, "%sQEMU may still be running it",
		    cancelled ? "cancelled, but " : "");
		return;
	}
	if ((jerr = json_string_value(json_object_get(job, "error"))) == NULL)
		snprintf(how, howlen, "it completed late");
	else if (cancelled)
		snprintf(how, howlen, "cancelled");
	else
		snprintf(how, howlen, "it failed late: %s", jerr);
	json_decref(job);
	job_command(q, "job-dismiss", id);
}

/*
 * Run snapshot-VERB (cmd) for tag on disk0, the RAM too when vmstate,
 * and wait for its end until deadline (timeout_ms after the caller began,
 * for the message).
 */
static int
job_run(struct qmp *q, const char *cmd, const char *tag, int vmstate,
    long long deadline, int timeout_ms, char *err, size_t errlen)
{
	json_t		*args = NULL, *job = NULL;
	const char	*jerr;
	char		 id[64], why[VMM_ERRLEN];
	long long	 left;
	int		 old, r, rc = -1;

	if ((left = deadline - vmm_now_ms()) <= 0) {
		snprintf(err, errlen, "snapshot \"%s\": %s: not started within"
		    " %d ms", tag, cmd, timeout_ms);
		return -1;
	}
	old = qmp_set_timeout(q, (int)left);
	/* The pid keeps ids of a restarted labd apart from leftovers. */
	snprintf(id, sizeof(id), "labd-%s-%d-%lu", cmd + strlen("snapshot-"),
	    (int)getpid(), atomic_fetch_add(&job_seq, 1) + 1);
	if ((args = json_pack("{s:s,s:s,s:[s]}", "job-id", id, "tag", tag,
	    "devices", SNAP_NODE)) == NULL ||
	    (vmstate && json_object_set_new(args, "vmstate",
	    json_string(SNAP_NODE)) == -1)) {
		snprintf(err, errlen, "%s: out of memory", cmd);
		goto fail;
	}
	if (qmp_execute(q, cmd, args, NULL, why, sizeof(why)) == 0)
		r = job_wait(q, id, deadline, &job, why, sizeof(why));
	else
		r = vmm_now_ms() >= deadline ? 0 : -1;
	/* why already names the QMP command that failed. */
	if (r == -1) {
		snprintf(err, errlen, "snapshot \"%s\": %s", tag, why);
		goto fail;
	}
	if (r == 0) {
		job_abandon(q, id, why, sizeof(why));
		snprintf(err, errlen, "snapshot \"%s\": %s: not done within %d"
		    " ms (%s)", tag, cmd, timeout_ms, why);
		goto fail;
	}
	if ((jerr = json_string_value(json_object_get(job, "error"))) != NULL)
		snprintf(err, errlen, "snapshot \"%s\": %s: %s", tag, cmd,
		    jerr);
	/* Done, or failed for good: a lost dismiss changes neither. */
	qmp_set_timeout(q, old);
	job_command(q, "job-dismiss", id);
	rc = jerr != NULL ? -1 : 0;
fail:
	qmp_set_timeout(q, old);
	json_decref(args);
	json_decref(job);
	return rc;
}

int
snapshot_save(struct qmp *q, const char *name, int timeout_ms, char *err,
    size_t errlen)
{
	struct vmm_snapshot	*v = NULL;
	size_t			 n;
	long long		 deadline = vmm_now_ms() + timeout_ms;
	int			 rc = -1;

	if (check_name(name, err, errlen) == -1 ||
	    snapshot_list(q, &v, &n, err, errlen) == -1)
		return -1;
	if (table_find(v, n, name) != NULL && job_run(q, "snapshot-delete",
	    name, 0, deadline, timeout_ms, err, errlen) == -1)
		goto fail;
	rc = job_run(q, "snapshot-save", name, 1, deadline, timeout_ms, err,
	    errlen);
fail:
	free(v);
	return rc;
}

int
snapshot_load(struct qmp *q, const char *name, int timeout_ms, char *err,
    size_t errlen)
{
	struct vmm_snapshot		*v = NULL;
	const struct vmm_snapshot	*sn;
	char				 status[32], why[VMM_ERRLEN];
	size_t				 n, len;
	long long			 deadline = vmm_now_ms() + timeout_ms;
	int				 rc = -1;

	if (check_name(name, err, errlen) == -1 ||
	    snapshot_list(q, &v, &n, err, errlen) == -1)
		return -1;
	if ((sn = table_find(v, n, name)) == NULL) {
		snprintf(err, errlen, "no snapshot \"%s\" on %s", name,
		    SNAP_NODE);
		goto fail;
	}
	if (sn->vm_state_size == 0) {
		snprintf(err, errlen, "snapshot \"%s\" holds the disk alone"
		    " (taken with the VM stopped): apply it offline, with the"
		    " VM stopped", name);
		goto fail;
	}
	if ((rc = job_run(q, "snapshot-load", name, 1, deadline, timeout_ms,
	    err, errlen)) == -1 && qmp_query_status(q, status, sizeof(status),
	    why, sizeof(why)) == 0 && strcmp(status, "restore-vm") == 0) {
		len = strlen(err);
		snprintf(err + len, errlen - len, "; the guest is left stopped"
		    " (restore-vm), its RAM may be half loaded");
	}
fail:
	free(v);
	return rc;
}

int
snapshot_delete(struct qmp *q, const char *name, int timeout_ms, char *err,
    size_t errlen)
{
	if (check_name(name, err, errlen) == -1)
		return -1;
	/* A name that is not there: QEMU 7.2 reports success. */
	return job_run(q, "snapshot-delete", name, 0,
	    vmm_now_ms() + timeout_ms, timeout_ms, err, errlen);
}

/* --- offline, with qemu-img --------------------------------------------- */

int
snapshot_offline_list(const char *qemu_img, const char *disk,
    struct vmm_snapshot **out, size_t *n, char *err, size_t errlen)
{
	json_t	*info;
	int	 rc;

	*out = NULL;
	*n = 0;
	if ((info = vmm_image_info(qemu_img, disk, "qcow2", err, errlen)) ==
	    NULL)
		return -1;
	rc = table_parse(json_object_get(info, "snapshots"), out, n, err,
	    errlen);
	json_decref(info);
	return rc;
}

/*
 * qemu-img snapshot OP WHAT DISK; WHAT is a valid name or an id.  The
 * command has no -f: the format is named in --image-opts.
 */
static int
img_snapshot(const char *qemu_img, const char *op, const char *what,
    const char *disk, char *err, size_t errlen)
{
	char	*argv[] = { NULL, "snapshot", "-q", "--image-opts",
		    (char *)op, (char *)what,
		    "driver=qcow2,file.driver=file,file.filename=/dev/fd/4",
		    NULL };
	int	 fd, rc;

	if ((fd = vmm_open_regular(disk, O_RDONLY, err, errlen)) == -1)
		return -1;
	rc = img_run(qemu_img, NULL, argv, &fd, &disk, 1, 0, NULL, err,
	    errlen);
	close(fd);
	return rc;
}

static void
ids_free(char **ids, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

/*
 * Check name, then find the ids of its snapshots in table order, oldest
 * first (*ids is malloc'd).  qemu-img lets two snapshots share a name;
 * -a takes an id, all digits, which it cannot take for one of our names.
 */
static int
name_ids(const char *qemu_img, const char *disk, const char *name,
    char ***ids, size_t *n, char *err, size_t errlen)
{
	json_t		*info, *o;
	const char	*nm, *id;
	char		**nids;
	size_t		 i;
	int		 rc = -1;

	*ids = NULL;
	*n = 0;
	if (check_name(name, err, errlen) == -1 ||
	    (info = vmm_image_info(qemu_img, disk, "qcow2", err, errlen)) ==
	    NULL)
		return -1;
	json_array_foreach(json_object_get(info, "snapshots"), i, o) {
		nm = json_string_value(json_object_get(o, "name"));
		id = json_string_value(json_object_get(o, "id"));
		if (nm == NULL || id == NULL || strcmp(nm, name) != 0)
			continue;
		if ((nids = reallocarray(*ids, *n + 1, sizeof(*nids))) ==
		    NULL || (nids[*n] = strdup(id)) == NULL) {
			if (nids != NULL)
				*ids = nids;
			snprintf(err, errlen, "%s: out of memory", disk);
			goto fail;
		}
		*ids = nids;
		(*n)++;
	}
	rc = 0;
fail:
	if (rc == -1) {
		ids_free(*ids, *n);
		*ids = NULL;
		*n = 0;
	}
	json_decref(info);
	return rc;
}

/*
 * Delete the n oldest snapshots called name.  qemu-img snapshot -d takes
 * a name only (no id), and deletes the first of that name in the table,
 * which is the oldest.
 */
static int
delete_oldest(const char *qemu_img, const char *disk, const char *name,
    size_t n, char *err, size_t errlen)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (img_snapshot(qemu_img, "-d", name, disk, err,
		    errlen) == -1)
			return -1;
	return 0;
}

/*
 * qemu-img snapshot OP (-c, -a or -d) on name.  A new snapshot replaces
 * the old ones of its name, whose deletion follows its creation; a name
 * that is not there is no error for -d, as for the live delete.
 */
static int
offline(const char *qemu_img, const char *disk, const char *name,
    const char *op, char *err, size_t errlen)
{
	char	**ids = NULL;
	size_t	  n;
	int	  rc = -1;

	if (name_ids(qemu_img, disk, name, &ids, &n, err, errlen) == -1)
		return -1;
	switch (op[1]) {
	case 'c':
		if (img_snapshot(qemu_img, "-c", name, disk, err,
		    errlen) == -1)
			goto fail;
		rc = delete_oldest(qemu_img, disk, name, n, err, errlen);
		break;
	case 'a':
		/* qemu-img's own word for this: "No such file or directory". */
		if (n == 0) {
			snprintf(err, errlen, "no snapshot \"%s\" in %s", name,
			    disk);
			goto fail;
		}
		rc = img_snapshot(qemu_img, "-a", ids[n - 1], disk, err,
		    errlen);
		break;
	case 'd':
		rc = delete_oldest(qemu_img, disk, name, n, err, errlen);
		break;
	}
fail:
	ids_free(ids, n);
	return rc;
}

int
snapshot_offline_create(const char *qemu_img, const char *disk,
    const char *name, char *err, size_t errlen)
{
	return offline(qemu_img, disk, name, "-c", err, errlen);
}

int
snapshot_offline_apply(const char *qemu_img, const char *disk,
    const char *name, char *err, size_t errlen)
{
	return offline(qemu_img, disk, name, "-a", err, errlen);
}

int
snapshot_offline_delete(const char *qemu_img, const char *disk,
    const char *name, char *err, size_t errlen)
{
	return offline(qemu_img, disk, name, "-d", err, errlen);
}
