/* SPDX-License-Identifier: ISC */
/*
 * test_snapshot.c - snapshots of a VM's disk: offline with qemu-img on a
 * real qcow2, live against a scripted QMP peer, and live on a real QEMU.
 *
 * The offline tests write a pattern with qemu-io, take a snapshot, write
 * another, and check that applying the snapshot brings the first back.
 * The scripted peer is a table of steps (the command the client must
 * send, its exact arguments, the reply), so each test reads as the QMP
 * conversation it expects; it proves the job protocol: polling
 * query-jobs by our job's id, dismissing, errors and timeouts.  The real
 * QEMU runs under TCG with a blank disk and no OS (it sits in its
 * firmware), which is enough for RAM snapshots: save, load, delete, and
 * a cold start with -S that loads a snapshot taken live and resumes.
 */
#include <sys/socket.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "vmm/vmm.h"
#include "tests/unit/testutil.h"

TestSuite(snapshot, .init = tmp_dir_setup, .fini = tmp_dir_teardown,
    .timeout = 60);

/* --- names ---------------------------------------------------------------- */

Test(snapshot, name_rules)
{
	const char	*good[] = { "pristine", "a", "Z", "7a", "a7",
		    "2024-05-01", "before.lab-3_x",
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };
	const char	*bad[] = { "", "-x", ".x", "_x", "0", "123", "a b",
		    "a/b", "a,b", "a\n", "caf\xc3\xa9", "x;rm",
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };
	size_t		 i;

	cr_assert_eq(strlen(good[7]), 63);
	cr_assert_eq(strlen(bad[12]), 64);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_expect(snapshot_name_valid(good[i]), "refused \"%s\"",
		    good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_not(snapshot_name_valid(bad[i]), "took \"%s\"",
		    bad[i]);
	cr_expect_not(snapshot_name_valid(NULL));
}

/* --- offline, on a real qcow2 -------------------------------------------- */

static char	disk[PATH_MAX];

static void
disk_make(const char *size)
{
	char	 err[VMM_ERRLEN] = "";
	char	*argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", disk,
		    (char *)size, NULL };

	snprintf(disk, sizeof(disk), "%s/disk.qcow2", tmp_dir);
	cr_assert_eq(vmm_run(argv, err, sizeof(err)), 0, "%s", err);
}

/* qemu-io -c CMD on the disk: 0 when the command did what it says. */
static int
qemu_io(const char *cmd)
{
	char	 err[VMM_ERRLEN] = "";
	char	*argv[] = { "qemu-io", "-f", "qcow2", "-c", (char *)cmd, disk,
		    NULL };

	return vmm_run(argv, err, sizeof(err));
}

Test(snapshot, offline_create_list_apply_delete)
{
	struct vmm_snapshot	*v = NULL;
	char			 err[VMM_ERRLEN] = "";
	size_t			 n = 9;
	time_t			 now = time(NULL);

	disk_make("4M");
	cr_assert_eq(snapshot_offline_list(NULL, disk, &v, &n, err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_eq(n, 0);
	cr_expect_null(v);

	cr_assert_eq(qemu_io("write -P 0xaa 0 64k"), 0);
	cr_assert_eq(snapshot_offline_create(NULL, disk, "base", err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(qemu_io("write -P 0xbb 0 64k"), 0);
	cr_assert_eq(qemu_io("read -P 0xbb 0 64k"), 0);

	cr_assert_eq(snapshot_offline_list("qemu-img", disk, &v, &n, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 1);
	cr_expect_str_eq(v[0].name, "base");
	cr_expect_eq(v[0].vm_state_size, 0, "an offline one is disk alone");
	cr_expect(v[0].date_sec >= now - 5 && v[0].date_sec <= now + 60,
	    "date %lld, now %lld", (long long)v[0].date_sec, (long long)now);
	free(v);

	cr_assert_eq(snapshot_offline_apply(NULL, disk, "base", err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_eq(qemu_io("read -P 0xaa 0 64k"), 0, "apply did not bring"
	    " back what base held");
	cr_expect_neq(qemu_io("read -P 0xbb 0 64k"), 0);

	/* Same name again: replaced, not a second "base". */
	cr_assert_eq(qemu_io("write -P 0xcc 0 64k"), 0);
	cr_assert_eq(snapshot_offline_create(NULL, disk, "base", err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(snapshot_offline_create(NULL, disk, "later", err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(qemu_io("write -P 0xdd 0 64k"), 0);
	cr_assert_eq(snapshot_offline_list(NULL, disk, &v, &n, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 2);
	cr_expect_str_eq(v[0].name, "base");
	cr_expect_str_eq(v[1].name, "later");
	free(v);
	cr_assert_eq(snapshot_offline_apply(NULL, disk, "base", err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_eq(qemu_io("read -P 0xcc 0 64k"), 0, "the new base");

	/* Delete; deleting what is gone is fine; applying it is not. */
	cr_expect_eq(snapshot_offline_delete(NULL, disk, "base", err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_eq(snapshot_offline_delete(NULL, disk, "base", err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(snapshot_offline_list(NULL, disk, &v, &n, err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_eq(n, 1);
	cr_expect_str_eq(v[0].name, "later");
	free(v);
	cr_expect_eq(snapshot_offline_apply(NULL, disk, "base", err,
	    sizeof(err)), -1);
	cr_expect(strstr(err, "no snapshot \"base\"") != NULL, "err: %s", err);
	cr_expect_eq(qemu_io("read -P 0xcc 0 64k"), 0, "a failed apply"
	    " changed the disk");
}

Test(snapshot, offline_refusals)
{
	char	err[VMM_ERRLEN] = "", missing[PATH_MAX];

	disk_make("1M");
	/* A name that would be an option to qemu-img never reaches it. */
	cr_expect_eq(snapshot_offline_create(NULL, disk, "-l", err,
	    sizeof(err)), -1);
	cr_expect(strstr(err, "bad snapshot name \"-l\"") != NULL, "err: %s",
	    err);
	cr_expect_eq(snapshot_offline_apply(NULL, disk, "42", err,
	    sizeof(err)), -1, "an all-digit name reads as an id");
	cr_expect_eq(snapshot_offline_delete(NULL, disk, "", err,
	    sizeof(err)), -1);

	snprintf(missing, sizeof(missing), "%s/none.qcow2", tmp_dir);
	cr_expect_eq(snapshot_offline_create(NULL, missing, "base", err,
	    sizeof(err)), -1);
	cr_expect(strstr(err, missing) != NULL, "err: %s", err);
	cr_expect_eq(snapshot_offline_create("/nonexistent/qemu-img", disk,
	    "base", err, sizeof(err)), -1);
	cr_expect_str_eq(err, "cannot run qemu-img: No such file or"
	    " directory");
}

/* --- live, against a scripted QMP peer ------------------------------------ */

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0," \
	" \"minor\": 2, \"major\": 7}, \"package\": \"\"}," \
	" \"capabilities\": [\"oob\"]}}\r\n"

/*
 * One exchange.  "%J" in args and reply stands for the last job-id the
 * client sent.  A reply "!text" is an error with that description.
 */
struct step {
	const char	*cmd;		/* what the client must send next */
	const char	*args;		/* its arguments (NULL: any) */
	const char	*reply;		/* the "return" value */
	int		 repeat;	/* answer while cmd keeps coming */
	const char	*before;	/* lines (events) before the reply */
	int		 hangup;	/* close after the reply */
};

struct peer {
	int			 fd;
	FILE			*in;
	const struct step	*steps;
	pthread_t		 thread;
	char			 job[64];	/* the last job-id seen */
	char			 log[2048];	/* "cmd,cmd,..." as received */
	char			 jobs[512];	/* every job-id, "," between */
	char			 failed[512];
};

static void
p_fail(struct peer *p, const char *fmt, const char *what)
{
	if (p->failed[0] == '\0')
		snprintf(p->failed, sizeof(p->failed), fmt, what);
}

/* tmpl with %J replaced by the job id. */
static void
subst(const struct peer *p, const char *tmpl, char *out, size_t outlen)
{
	const char	*hit;
	size_t		 used = 0;

	out[0] = '\0';
	while ((hit = strstr(tmpl, "%J")) != NULL) {
		used += snprintf(out + used, outlen - used, "%.*s%s",
		    (int)(hit - tmpl), tmpl, p->job);
		if (used >= outlen)
			return;
		tmpl = hit + 2;
	}
	snprintf(out + used, outlen - used, "%s", tmpl);
}

static void
append(char *buf, size_t len, const char *s)
{
	size_t	used = strlen(buf);

	snprintf(buf + used, len - used, "%s%s", used > 0 ? "," : "", s);
}

/*
 * The next command into cmd, id and args (compact, keys sorted): 1, or 0
 * at EOF, -1 when it is no command at all.
 */
static int
p_read(struct peer *p, char *cmd, size_t cmdlen, long long *id, char *args,
    size_t argslen)
{
	char		*line = NULL, *a;
	size_t		 cap = 0;
	json_t		*req, *jid;
	const char	*ex;

	if (getline(&line, &cap, p->in) == -1) {
		free(line);
		return 0;
	}
	req = json_loads(line, 0, NULL);
	free(line);
	if (req == NULL || (ex = json_string_value(json_object_get(req,
	    "execute"))) == NULL) {
		p_fail(p, "%s", "client sent something not a command");
		json_decref(req);
		return -1;
	}
	snprintf(cmd, cmdlen, "%s", ex);
	*id = json_integer_value(json_object_get(req, "id"));
	jid = json_object_get(json_object_get(req, "arguments"), "job-id");
	if (json_is_string(jid)) {
		snprintf(p->job, sizeof(p->job), "%s", json_string_value(jid));
		append(p->jobs, sizeof(p->jobs), p->job);
	}
	a = json_object_get(req, "arguments") == NULL ? NULL :
	    json_dumps(json_object_get(req, "arguments"), JSON_COMPACT |
	    JSON_SORT_KEYS);
	snprintf(args, argslen, "%s", a != NULL ? a : "");
	free(a);
	json_decref(req);
	return 1;
}

static void
p_answer(struct peer *p, const struct step *s, long long id)
{
	char	text[4096], esc[4096];
	json_t	*str;
	char	*q;

	if (s->before != NULL)
		dprintf(p->fd, "%s", s->before);
	subst(p, s->reply, text, sizeof(text));
	if (text[0] == '!') {
		str = json_string(text + 1);
		q = json_dumps(str, JSON_ENCODE_ANY);
		snprintf(esc, sizeof(esc), "%s", q);
		free(q);
		json_decref(str);
		dprintf(p->fd, "{\"error\": {\"class\": \"GenericError\","
		    " \"desc\": %s}, \"id\": %lld}\r\n", esc, id);
	} else
		dprintf(p->fd, "{\"return\": %s, \"id\": %lld}\r\n", text, id);
}

static void *
peer_main(void *arg)
{
	struct peer		*p = arg;
	const struct step	*s = p->steps;
	char			 cmd[64], args[1024], want[1024];
	long long		 id;
	int			 r;

	dprintf(p->fd, "%s", GREETING);
	if (p_read(p, cmd, sizeof(cmd), &id, args, sizeof(args)) != 1 ||
	    strcmp(cmd, "qmp_capabilities") != 0) {
		p_fail(p, "%s", "no qmp_capabilities");
		goto done;
	}
	dprintf(p->fd, "{\"return\": {}, \"id\": %lld}\r\n", id);
	while ((r = p_read(p, cmd, sizeof(cmd), &id, args,
	    sizeof(args))) == 1) {
		append(p->log, sizeof(p->log), cmd);
		while (s->cmd != NULL && s->repeat && strcmp(cmd, s->cmd) != 0)
			s++;
		if (s->cmd == NULL) {
			p_fail(p, "extra command %s", cmd);
			break;
		}
		if (strcmp(cmd, s->cmd) != 0) {
			p_fail(p, "unexpected %s", cmd);
			break;
		}
		if (s->args != NULL) {
			subst(p, s->args, want, sizeof(want));
			if (strcmp(args, want) != 0) {
				p_fail(p, "arguments %s", args);
				break;
			}
		}
		p_answer(p, s, id);
		if (s->hangup)
			break;
		if (!s->repeat)
			s++;
	}
	while (s->cmd != NULL && s->repeat)
		s++;
	if (r != -1 && s->cmd != NULL && !s[0].hangup)
		p_fail(p, "the client stopped before %s", s->cmd);
done:
	fclose(p->in);	/* closes fd */
	return NULL;
}

static struct qmp *
peer_start(struct peer *p, const struct step *steps)
{
	struct qmp	*q;
	char		 err[VMM_ERRLEN] = "";
	int		 sv[2];

	memset(p, 0, sizeof(*p));
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	p->fd = sv[1];
	p->steps = steps;
	cr_assert_not_null(p->in = fdopen(sv[1], "r"));
	cr_assert_eq(pthread_create(&p->thread, NULL, peer_main, p), 0);
	q = qmp_open_fd(sv[0], 2000, err, sizeof(err));
	cr_assert_not_null(q, "qmp_open_fd: %s", err);
	return q;
}

/* Hang up, wait for the peer, check it saw log and nothing went wrong. */
static void
peer_finish(struct peer *p, struct qmp *q, const char *log)
{
	qmp_close(q);
	pthread_join(p->thread, NULL);
	cr_expect_str_empty(p->failed, "peer: %s (log %s)", p->failed,
	    p->log);
	cr_expect_str_eq(p->log, log);
}

#define NODES(snaps) "[{\"node-name\": \"seed0\", \"image\": {}}," \
	" {\"node-name\": \"#block102\", \"image\": {}}," \
	" {\"node-name\": \"disk0\", \"image\": {\"filename\": \"d\"" \
	snaps "}}]"
#define NO_SNAPS	NODES("")
#define BASE_SNAP	NODES(", \"snapshots\": [{\"id\": \"1\", \"name\":" \
	" \"base\", \"date-sec\": 1700000000, \"date-nsec\": 0," \
	" \"vm-clock-sec\": 3, \"vm-clock-nsec\": 0," \
	" \"vm-state-size\": 4242}," \
	" {\"id\": \"2\", \"name\": \"cold\", \"date-sec\": 1700000001," \
	" \"date-nsec\": 0, \"vm-clock-sec\": 0, \"vm-clock-nsec\": 0," \
	" \"vm-state-size\": 0}]")
#define SAVE_ARGS(tag)	"{\"devices\":[\"disk0\"],\"job-id\":\"%J\"," \
	"\"tag\":\"" tag "\",\"vmstate\":\"disk0\"}"
#define DELETE_ARGS(tag) "{\"devices\":[\"disk0\"],\"job-id\":\"%J\"," \
	"\"tag\":\"" tag "\"}"
#define JOB(status, extra) "[{\"id\": \"%J\", \"type\": \"snapshot\"," \
	" \"status\": \"" status "\", \"current-progress\": 0," \
	" \"total-progress\": 1" extra "}]"
#define ID_ARGS		"{\"id\":\"%J\"}"
#define EVENT(name)	"{\"event\": \"" name "\", \"timestamp\":" \
	" {\"seconds\": 1, \"microseconds\": 0}}\r\n"
#define STEP(c, a, r)	{ .cmd = (c), .args = (a), .reply = (r) }
#define FLAT		"{\"flat\":true}"

TestSuite(snapshot_qmp, .timeout = 30);

Test(snapshot_qmp, save_polls_its_job_then_dismisses)
{
	static const struct step steps[] = {
		STEP("query-named-block-nodes", FLAT, NO_SNAPS),
		/* Like QEMU: the guest stops and resumes before the reply. */
		{ .cmd = "snapshot-save", .args = SAVE_ARGS("base"),
		    .reply = "{}", .before = EVENT("STOP") EVENT("RESUME") },
		/* Someone else's job has concluded: not ours. */
		STEP("query-jobs", NULL, "[{\"id\": \"backup-1\", \"type\":"
		    " \"backup\", \"status\": \"concluded\"}, {\"id\": \"%J\","
		    " \"type\": \"snapshot-save\", \"status\": \"running\"}]"),
		STEP("query-jobs", NULL, JOB("running", "")),
		STEP("query-jobs", NULL, JOB("waiting", "")),
		STEP("query-jobs", NULL, JOB("concluded", "")),
		STEP("job-dismiss", ID_ARGS, "{}"),
		{ .cmd = NULL },
	};
	struct peer	 p;
	struct qmp	*q = peer_start(&p, steps);
	char		 err[VMM_ERRLEN] = "";

	cr_expect_eq(snapshot_save(q, "base", 5000, err, sizeof(err)), 0,
	    "%s", err);
	peer_finish(&p, q, "query-named-block-nodes,snapshot-save,query-jobs,"
	    "query-jobs,query-jobs,query-jobs,job-dismiss");
	cr_expect(strncmp(p.job, "labd-save-", 10) == 0, "job id %s", p.job);
}

Test(snapshot_qmp, save_replaces_a_snapshot_of_the_same_name)
{
	static const struct step steps[] = {
		STEP("query-named-block-nodes", FLAT, BASE_SNAP),
		STEP("snapshot-delete", DELETE_ARGS("base"), "{}"),
		STEP("query-jobs", NULL, JOB("concluded", "")),
		STEP("job-dismiss", ID_ARGS, "{}"),
		STEP("snapshot-save", SAVE_ARGS("base"), "{}"),
		STEP("query-jobs", NULL, JOB("concluded", "")),
		STEP("job-dismiss", ID_ARGS, "{}"),
		{ .cmd = NULL },
	};
	struct peer	 p;
	struct qmp	*q = peer_start(&p, steps);
	char		 err[VMM_ERRLEN] = "", *comma;

	cr_expect_eq(snapshot_save(q, "base", 5000, err, sizeof(err)), 0,
	    "%s", err);
	peer_finish(&p, q, "query-named-block-nodes,snapshot-delete,"
	    "query-jobs,job-dismiss,snapshot-save,query-jobs,job-dismiss");
	/* Two jobs, two ids. */
	cr_assert_not_null(comma = strchr(p.jobs, ','), "jobs: %s", p.jobs);
	cr_expect(strncmp(p.jobs, "labd-delete-", 12) == 0, "%s", p.jobs);
	cr_expect(strncmp(comma + 1, "labd-save-", 10) == 0, "%s", p.jobs);
}

Test(snapshot_qmp, load_reports_the_jobs_error)
{
	static const struct step steps[] = {
		STEP("query-named-block-nodes", FLAT, BASE_SNAP),
		STEP("snapshot-load", SAVE_ARGS("base"), "{}"),
		STEP("query-jobs", NULL, JOB("concluded",
		    ", \"error\": \"Error -22 while loading VM state\"")),
		STEP("job-dismiss", ID_ARGS, "{}"),
		STEP("query-status", NULL, "{\"status\": \"restore-vm\","
		    " \"running\": false, \"singlestep\": false}"),
		{ .cmd = NULL },
	};
	struct peer	 p;
	struct qmp	*q = peer_start(&p, steps);
	char		 err[VMM_ERRLEN] = "";

	cr_expect_eq(snapshot_load(q, "base", 5000, err, sizeof(err)), -1);
	cr_expect(strstr(err, "snapshot \"base\": snapshot-load: Error -22"
	    " while loading VM state") != NULL, "err: %s", err);
	cr_expect(strstr(err, "left stopped") != NULL, "err: %s", err);
	peer_finish(&p, q, "query-named-block-nodes,snapshot-load,query-jobs,"
	    "job-dismiss,query-status");
	cr_expect(strncmp(p.job, "labd-load-", 10) == 0, "job id %s", p.job);
}

Test(snapshot_qmp, load_refuses_before_touching_the_guest)
{
	static const struct step steps[] = {
		STEP("query-named-block-nodes", FLAT, BASE_SNAP),
		STEP("query-named-block-nodes", FLAT, BASE_SNAP),
		{ .cmd = NULL },
	};
	struct peer	 p;
	struct qmp	*q = peer_start(&p, steps);
	char		 err[VMM_ERRLEN] = "";

	/* QEMU would stop the guest and leave it so: never ask. */
	cr_expect_eq(snapshot_load(q, "nope", 5000, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "no snapshot \"nope\" on disk0");
	cr_expect_eq(snapshot_load(q, "cold", 5000, err, sizeof(err)), -1);
	cr_expect(strstr(err, "\"cold\" holds the disk alone") != NULL,
	    "err: %s", err);
	cr_expect_eq(snapshot_load(q, "no way", 5000, err, sizeof(err)), -1);
	cr_expect(strstr(err, "bad snapshot name") != NULL, "err: %s", err);
	peer_finish(&p, q, "query-named-block-nodes,query-named-block-nodes");
}

Test(snapshot_qmp, timeout_cancels_and_dismisses)
{
	static const struct step steps[] = {
		STEP("snapshot-delete", DELETE_ARGS("base"), "{}"),
		{ .cmd = "query-jobs", .reply = JOB("running", ""),
		    .repeat = 1 },
		STEP("job-cancel", ID_ARGS, "{}"),
		STEP("query-jobs", NULL, JOB("aborting", "")),
		STEP("query-jobs", NULL, JOB("concluded",
		    ", \"error\": \"Job was cancelled\"")),
		STEP("job-dismiss", ID_ARGS, "{}"),
		{ .cmd = NULL },
	};
	struct peer	 p;
	struct qmp	*q = peer_start(&p, steps);
	char		 err[VMM_ERRLEN] = "";
	long long	 t0 = tu_now_ms(), took;

	cr_expect_eq(snapshot_delete(q, "base", 300, err, sizeof(err)), -1);
	took = tu_now_ms() - t0;
	cr_expect_geq(took, 300);
	cr_expect_lt(took, 1500, "took %lld ms", took);
	cr_expect_str_eq(err, "snapshot \"base\": snapshot-delete: not done"
	    " within 300 ms (cancelled)");
	qmp_close(q);
	pthread_join(p.thread, NULL);
	cr_expect_str_empty(p.failed, "peer: %s (log %s)", p.failed, p.log);
	cr_expect(strstr(p.log, "query-jobs,job-cancel,query-jobs,query-jobs,"
	    "job-dismiss") != NULL, "log: %s", p.log);
}

Test(snapshot_qmp, timeout_of_a_job_that_completes_late)
{
	static const struct step steps[] = {
		STEP("query-named-block-nodes", FLAT, NO_SNAPS),
		STEP("snapshot-save", SAVE_ARGS("late"), "{}"),
		{ .cmd = "query-jobs", .reply = JOB("running", ""),
		    .repeat = 1 },
		/* It concluded in between: too late to cancel. */
		STEP("job-cancel", ID_ARGS, "!Job 'x' in state 'concluded'"
		    " cannot accept command verb 'cancel'"),
		STEP("query-jobs", NULL, JOB("concluded", "")),
		STEP("job-dismiss", ID_ARGS, "{}"),
		{ .cmd = NULL },
	};
	struct peer	 p;
	struct qmp	*q = peer_start(&p, steps);
	char		 err[VMM_ERRLEN] = "";

	cr_expect_eq(snapshot_save(q, "late", 200, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "snapshot \"late\": snapshot-save: not done"
	    " within 200 ms (it completed late)");
	qmp_close(q);
	pthread_join(p.thread, NULL);
	cr_expect_str_empty(p.failed, "peer: %s (log %s)", p.failed, p.log);
	cr_expect(strstr(p.log, "job-cancel,query-jobs,job-dismiss") != NULL,
	    "log: %s", p.log);
}

Test(snapshot_qmp, refused_command_and_lost_connection)
{
	static const struct step steps[] = {
		STEP("snapshot-delete", DELETE_ARGS("base"),
		    "!Job ID 'x' already in use"),
		{ .cmd = "snapshot-delete", .args = DELETE_ARGS("base"),
		    .reply = "{}", .hangup = 1 },
		{ .cmd = NULL },
	};
	struct peer	 p;
	struct qmp	*q = peer_start(&p, steps);
	const char	*lost = "snapshot \"base\": query-jobs: ";
	char		 err[VMM_ERRLEN] = "";

	cr_expect_eq(snapshot_delete(q, "base", 5000, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "snapshot \"base\": snapshot-delete: Job ID"
	    " 'x' already in use");
	/* QEMU dies while the job runs. */
	cr_expect_eq(snapshot_delete(q, "base", 5000, err, sizeof(err)), -1);
	cr_expect(strncmp(err, lost, strlen(lost)) == 0, "err: %s", err);
	peer_finish(&p, q, "snapshot-delete,snapshot-delete");
}

Test(snapshot_qmp, list_picks_disk0_and_sorts_oldest_first)
{
	static const struct step steps[] = {
		STEP("query-named-block-nodes", FLAT, NODES(", \"snapshots\": ["
		    "{\"id\": \"4\", \"name\": \"c\", \"date-sec\": 300,"
		    " \"vm-clock-sec\": 5, \"vm-clock-nsec\": 250000000,"
		    " \"vm-state-size\": 1048576},"
		    "{\"id\": \"5\", \"name\": \"a\", \"date-sec\": 100,"
		    " \"vm-clock-sec\": 0, \"vm-clock-nsec\": 0,"
		    " \"vm-state-size\": 0},"
		    "{\"id\": \"6\", \"name\": \"b1\", \"date-sec\": 200},"
		    "{\"id\": \"7\", \"name\": \"b2\", \"date-sec\": 200}]")),
		STEP("query-named-block-nodes", FLAT, NO_SNAPS),
		STEP("query-named-block-nodes", FLAT,
		    "[{\"node-name\": \"seed0\", \"image\": {}}]"),
		{ .cmd = NULL },
	};
	struct peer		 p;
	struct qmp		*q = peer_start(&p, steps);
	struct vmm_snapshot	*v = NULL;
	char			 err[VMM_ERRLEN] = "";
	size_t			 n = 0;

	cr_assert_eq(snapshot_list(q, &v, &n, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_eq(n, 4);
	cr_expect_str_eq(v[0].name, "a");
	cr_expect_str_eq(v[1].name, "b1", "a tie keeps the table's order");
	cr_expect_str_eq(v[2].name, "b2");
	cr_expect_str_eq(v[3].name, "c");
	cr_expect_eq(v[3].date_sec, 300);
	cr_expect_eq(v[3].vm_clock_ms, 5250);
	cr_expect_eq(v[3].vm_state_size, 1048576);
	free(v);

	cr_assert_eq(snapshot_list(q, &v, &n, err, sizeof(err)), 0, "%s",
	    err);
	cr_expect_eq(n, 0);
	cr_expect_null(v);

	cr_expect_eq(snapshot_list(q, &v, &n, err, sizeof(err)), -1);
	cr_expect(strstr(err, "disk0") != NULL, "err: %s", err);
	peer_finish(&p, q, "query-named-block-nodes,query-named-block-nodes,"
	    "query-named-block-nodes");
}

/* --- live, on a real QEMU under TCG -------------------------------------- */

static char	vm_name[64];

static void
qemu_setup(void)
{
	tmp_dir_setup();
	snprintf(vm_name, sizeof(vm_name), "snap-%d", (int)getpid());
}

static void
qemu_teardown(void)
{
	char	err[VMM_ERRLEN];

	vmm_kill(tmp_dir, vm_name, 500, err, sizeof(err));
	tmp_dir_teardown();
}

static struct qmp *
qmp_at(const char *leaf)
{
	struct qmp	*q;
	char		 path[PATH_MAX], err[VMM_ERRLEN] = "";

	cr_assert_eq(vmm_path(path, sizeof(path), tmp_dir, leaf), 0);
	q = qmp_open(path, 10000, err, sizeof(err));
	cr_assert_not_null(q, "%s: %s", leaf, err);
	return q;
}

static void
expect_status(struct qmp *q, const char *want)
{
	char	status[32] = "", err[VMM_ERRLEN] = "";

	cr_expect_eq(qmp_query_status(q, status, sizeof(status), err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(status, want);
}

/* What the event loop's connection heard. */
struct heard {
	int	stop, resume, job;
};

static void
on_event(void *arg, const char *event, json_t *data)
{
	struct heard	*h = arg;

	h->stop += strcmp(event, "STOP") == 0;
	h->resume += strcmp(event, "RESUME") == 0;
	h->job += strcmp(event, "JOB_STATUS_CHANGE") == 0;
}

TestSuite(snapshot_qemu, .init = qemu_setup, .fini = qemu_teardown,
    .timeout = 90);

Test(snapshot_qemu, live_save_load_delete_then_resume_cold)
{
	struct vmm_spec		 s = {
		.name = vm_name,
		.accel = VMM_ACCEL_TCG,
		.memory_mb = 128,
		.vcpus = 1,
		.run_dir = tmp_dir,
		.log_dir = tmp_dir,
		.restrict_net = 1,
	};
	struct vmm_snapshot	*v = NULL;
	struct heard		 h = { 0 };
	struct qmp		*ctl, *loop;
	char			 err[VMM_ERRLEN] = "", seed[PATH_MAX];
	char			 sock[PATH_MAX];
	size_t			 n = 0;
	pid_t			 pid;
	long long		 t0, t_save, t_load;
	FILE			*f;

	disk_make("64M");
	/* A read-only seed as labd attaches one: snapshots must skip it. */
	snprintf(seed, sizeof(seed), "%s/seed.img", tmp_dir);
	cr_assert_not_null(f = fopen(seed, "w"));
	cr_assert_eq(ftruncate(fileno(f), 1 << 20), 0);
	fclose(f);
	s.disk = disk;
	s.seed = seed;
	cr_assert_eq(vmm_spawn(&s, &pid, err, sizeof(err)), 0, "spawn: %s",
	    err);
	cr_assert_eq(vmm_path(sock, sizeof(sock), tmp_dir, "qmp-ctl.sock"), 0);
	cr_expect_eq(access(sock, F_OK), 0, "no qmp-ctl.sock");
	/* Both monitors at once: the loop's and a worker's. */
	loop = qmp_at("qmp.sock");
	ctl = qmp_at("qmp-ctl.sock");
	usleep(200000);	/* let the firmware run a little */
	expect_status(ctl, "running");

	t0 = tu_now_ms();
	cr_assert_eq(snapshot_save(ctl, "base", 30000, err, sizeof(err)), 0,
	    "save: %s", err);
	t_save = tu_now_ms() - t0;
	expect_status(ctl, "running");
	cr_assert_eq(snapshot_save(ctl, "base", 30000, err, sizeof(err)), 0,
	    "save again: %s", err);
	expect_status(ctl, "running");
	cr_assert_eq(snapshot_list(ctl, &v, &n, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_eq(n, 1, "replaced, not added");
	cr_expect_str_eq(v[0].name, "base");
	cr_expect_gt(v[0].vm_state_size, 0);
	cr_expect_gt(v[0].vm_clock_ms, 0);
	cr_expect(v[0].date_sec > time(NULL) - 60 && v[0].date_sec <=
	    time(NULL) + 1, "date %lld", (long long)v[0].date_sec);
	cr_log_info("RAM state of a 128 MB guest in firmware: %llu bytes",
	    (unsigned long long)v[0].vm_state_size);
	free(v);

	t0 = tu_now_ms();
	cr_expect_eq(snapshot_load(ctl, "base", 30000, err, sizeof(err)), 0,
	    "load: %s", err);
	t_load = tu_now_ms() - t0;
	expect_status(ctl, "running");
	cr_log_info("TCG, 128 MB: save %lld ms, load %lld ms", t_save, t_load);
	cr_expect_eq(snapshot_load(ctl, "nope", 30000, err, sizeof(err)), -1);
	cr_expect(strstr(err, "no snapshot \"nope\"") != NULL, "err: %s", err);
	expect_status(ctl, "running");

	/* The event loop's monitor hears the guest stop and resume. */
	for (t0 = tu_now_ms(); tu_now_ms() - t0 < 2000 && (h.stop < 3 ||
	    h.resume < 3); usleep(20000))
		cr_assert_geq(qmp_dispatch(loop, on_event, &h), 0);
	cr_expect_geq(h.stop, 3, "STOP events: %d", h.stop);
	cr_expect_geq(h.resume, 3, "RESUME events: %d", h.resume);
	cr_expect_gt(h.job, 0);

	/* Paused stays paused, through save and load. */
	cr_assert_eq(qmp_execute(ctl, "stop", NULL, NULL, err, sizeof(err)), 0,
	    "%s", err);
	cr_expect_eq(snapshot_save(ctl, "held", 30000, err, sizeof(err)), 0,
	    "%s", err);
	expect_status(ctl, "paused");
	cr_expect_eq(snapshot_load(ctl, "held", 30000, err, sizeof(err)), 0,
	    "%s", err);
	expect_status(ctl, "paused");
	cr_expect_eq(snapshot_delete(ctl, "held", 30000, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(snapshot_list(ctl, &v, &n, err, sizeof(err)), 0, "%s",
	    err);
	cr_expect_eq(n, 1);
	free(v);
	cr_assert_eq(qmp_execute(ctl, "cont", NULL, NULL, err, sizeof(err)), 0,
	    "%s", err);

	/* qemu-img keeps off a disk in use. */
	cr_expect_eq(snapshot_offline_create(NULL, disk, "cold", err,
	    sizeof(err)), -1);
	cr_expect(strstr(err, "lock") != NULL, "err: %s", err);

	cr_expect_eq(qmp_quit(ctl, err, sizeof(err)), 0, "%s", err);
	qmp_close(ctl);
	qmp_close(loop);
	/* Waits for the exit (and signals only what still runs). */
	cr_assert_eq(vmm_kill(tmp_dir, vm_name, 5000, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(vmm_alive(tmp_dir, vm_name, &pid), 0);

	/* Stopped: a disk-only snapshot next to the live one. */
	cr_assert_eq(snapshot_offline_create(NULL, disk, "cold", err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(snapshot_offline_list(NULL, disk, &v, &n, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 2);
	cr_expect_str_eq(v[0].name, "base");
	cr_expect_gt(v[0].vm_state_size, 0);
	cr_expect_str_eq(v[1].name, "cold");
	cr_expect_eq(v[1].vm_state_size, 0);
	free(v);

	/* How labd resumes a suspended VM: -S, load, cont. */
	s.start_paused = 1;
	cr_assert_eq(vmm_spawn(&s, &pid, err, sizeof(err)), 0, "spawn -S: %s",
	    err);
	ctl = qmp_at("qmp-ctl.sock");
	expect_status(ctl, "prelaunch");
	cr_expect_eq(snapshot_load(ctl, "cold", 30000, err, sizeof(err)), -1);
	cr_expect(strstr(err, "disk alone") != NULL, "err: %s", err);
	expect_status(ctl, "prelaunch");
	cr_expect_eq(snapshot_load(ctl, "base", 30000, err, sizeof(err)), 0,
	    "load into -S: %s", err);
	expect_status(ctl, "prelaunch");
	cr_expect_eq(qmp_execute(ctl, "cont", NULL, NULL, err, sizeof(err)), 0,
	    "cont: %s", err);
	expect_status(ctl, "running");
	qmp_close(ctl);

	cr_expect_eq(vmm_kill(tmp_dir, vm_name, 3000, err, sizeof(err)), 0,
	    "%s", err);
	cr_expect_neq(access(sock, F_OK), 0, "qmp-ctl.sock left behind");
}
