/* SPDX-License-Identifier: ISC */
/*
 * test_backup.c - standalone copies of a VM's disk, and the QMP call that
 * hands QEMU a file descriptor.
 *
 * The scripted peer plays QEMU over socketpair() and reads with recvmsg,
 * so it sees the SCM_RIGHTS descriptors that come with a command: it
 * checks that one arrives with the first byte of its command (never
 * before, never later), that it is a real open file (it reads the
 * target's qcow2 header through it), and, as in test_snapshot.c, that
 * the client sends exactly the table of commands and arguments given.
 * "%N" in a step stands for the node name the client chose, "%F" for the
 * fdset id the peer gave.  The offline copy runs the real qemu-img on an
 * overlay; the live one runs once on a real QEMU under TCG (its firmware,
 * no OS), as nobody when the test is root, so that only the passed
 * descriptor can reach the target.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "vmm/vmm.h"
#include "tests/unit/testutil.h"

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0," \
	" \"minor\": 2, \"major\": 7}, \"package\": \"\"}," \
	" \"capabilities\": [\"oob\"]}}\r\n"

/* --- the scripted peer ---------------------------------------------------- */

struct step {
	const char	*cmd;		/* what the client must send next */
	const char	*args;		/* its arguments, compact, keys sorted */
	const char	*reply;		/* "return" value; "!text": an error */
	int		 want_fd;	/* a descriptor must come with it */
	int		 repeat;	/* answered while cmd keeps coming */
};

struct peer {
	int			 fd;
	const struct step	*steps;
	pthread_t		 thread;
	char			 buf[65536];
	size_t			 len;
	int			 got_fd;	/* last received, -1 none */
	size_t			 fd_at;		/* its offset in the stream */
	size_t			 line_at;	/* where the current line began */
	size_t			 total;		/* bytes read in all */
	char			 node[64];	/* the node-name the client chose */
	char			 log[2048];
	char			 failed[512];
	unsigned char		 header[4];	/* read through the fd received */
	ino_t			 fd_ino;
};

static void
p_fail(struct peer *p, const char *fmt, const char *what)
{
	if (p->failed[0] == '\0')
		snprintf(p->failed, sizeof(p->failed), fmt, what);
}

/* tmpl with %N (node name) and %F (fdset id 7) filled in. */
static void
subst(const struct peer *p, const char *tmpl, char *out, size_t outlen)
{
	size_t	o = 0;

	for (; *tmpl != '\0' && o + 1 < outlen; tmpl++) {
		if (tmpl[0] == '%' && tmpl[1] == 'N') {
			o += snprintf(out + o, outlen - o, "%s", p->node);
			tmpl++;
		} else if (tmpl[0] == '%' && tmpl[1] == 'F') {
			o += snprintf(out + o, outlen - o, "7");
			tmpl++;
		} else
			out[o++] = *tmpl;
	}
	out[o < outlen ? o : outlen - 1] = '\0';
}

/*
 * One line, read a byte at a time with recvmsg so that each descriptor
 * is seen at the byte it came with.  1 with line, 0 at EOF.
 */
static int
p_line(struct peer *p, char *line, size_t linelen)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*c;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(4 * sizeof(int))];
	}		 cm;
	char		 ch;
	size_t		 n = 0;
	ssize_t		 r;

	p->line_at = p->total;
	for (;;) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = &ch;
		iov.iov_len = 1;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		if ((r = recvmsg(p->fd, &msg, MSG_CMSG_CLOEXEC)) <= 0)
			return 0;
		for (c = CMSG_FIRSTHDR(&msg); c != NULL;
		    c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SCM_RIGHTS) {
				if (p->got_fd != -1)
					close(p->got_fd);
				memcpy(&p->got_fd, CMSG_DATA(c), sizeof(int));
				p->fd_at = p->total;
			}
		p->total++;
		if (ch == '\n')
			break;
		if (n + 1 < linelen)
			line[n++] = ch;
	}
	line[n] = '\0';
	return 1;
}

static void
p_append(struct peer *p, const char *cmd)
{
	size_t	used = strlen(p->log);

	snprintf(p->log + used, sizeof(p->log) - used, "%s%s",
	    used ? "," : "", cmd);
}

/* The descriptor that came with this command: real, open, the target. */
static void
p_take_fd(struct peer *p)
{
	struct stat	sb;

	if (p->got_fd == -1) {
		p_fail(p, "%s", "no descriptor came with the command");
		return;
	}
	if (p->fd_at != p->line_at) {
		p_fail(p, "%s", "the descriptor did not come with the"
		    " command's first byte");
		return;
	}
	if (fstat(p->got_fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		p_fail(p, "%s", "the descriptor is no open regular file");
		return;
	}
	p->fd_ino = sb.st_ino;
	if (pread(p->got_fd, p->header, sizeof(p->header), 0) !=
	    (ssize_t)sizeof(p->header))
		memset(p->header, 0, sizeof(p->header));
	close(p->got_fd);
	p->got_fd = -1;
}

static void *
peer_main(void *arg)
{
	struct peer		*p = arg;
	const struct step	*s = p->steps;
	json_t			*req, *a, *nn;
	const char		*ex;
	char			 line[8192], want[2048], reply[2048], *args;
	long long		 id;

	dprintf(p->fd, "%s", GREETING);
	if (p_line(p, line, sizeof(line)) != 1 ||
	    strstr(line, "qmp_capabilities") == NULL) {
		p_fail(p, "%s", "no qmp_capabilities");
		goto done;
	}
	req = json_loads(line, 0, NULL);
	dprintf(p->fd, "{\"return\": {}, \"id\": %lld}\r\n",
	    json_integer_value(json_object_get(req, "id")));
	json_decref(req);
	if (s->cmd == NULL)	/* no script: hang up */
		goto done;
	while (p_line(p, line, sizeof(line)) == 1) {
		if ((req = json_loads(line, 0, NULL)) == NULL ||
		    (ex = json_string_value(json_object_get(req,
		    "execute"))) == NULL) {
			p_fail(p, "not a command: %s", line);
			json_decref(req);
			break;
		}
		p_append(p, ex);
		if (s->repeat && strcmp(ex, s->cmd) != 0)
			s++;
		id = json_integer_value(json_object_get(req, "id"));
		a = json_object_get(req, "arguments");
		if ((nn = json_object_get(a, "node-name")) != NULL &&
		    strcmp(ex, "blockdev-add") == 0)
			snprintf(p->node, sizeof(p->node), "%s",
			    json_string_value(nn));
		args = a != NULL ? json_dumps(a, JSON_COMPACT |
		    JSON_SORT_KEYS) : NULL;
		if (s->cmd == NULL || strcmp(ex, s->cmd) != 0)
			p_fail(p, "unexpected %s", ex);
		else if (s->args != NULL && (subst(p, s->args, want,
		    sizeof(want)), strcmp(args ? args : "", want) != 0))
			p_fail(p, "arguments %s", args ? args : "(none)");
		else if (s->want_fd)
			p_take_fd(p);
		else if (p->got_fd != -1)
			p_fail(p, "a descriptor came with %s", ex);
		free(args);
		json_decref(req);
		if (p->failed[0] != '\0')
			break;
		subst(p, s->reply, reply, sizeof(reply));
		if (reply[0] == '!')
			dprintf(p->fd, "{\"error\": {\"class\": \"GenericError\","
			    " \"desc\": \"%s\"}, \"id\": %lld}\r\n", reply + 1,
			    id);
		else
			dprintf(p->fd, "{\"return\": %s, \"id\": %lld}\r\n",
			    reply, id);
		if (!s->repeat)
			s++;
	}
	while (s->cmd != NULL && s->repeat)
		s++;
	if (p->failed[0] == '\0' && s->cmd != NULL)
		p_fail(p, "the client stopped before %s", s->cmd);
done:
	if (p->got_fd != -1)
		close(p->got_fd);
	close(p->fd);
	return NULL;
}

static struct qmp *
peer_start(struct peer *p, const struct step *steps)
{
	struct qmp	*q;
	char		 err[VMM_ERRLEN] = "";
	int		 sv[2];

	memset(p, 0, sizeof(*p));
	p->got_fd = -1;
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	p->fd = sv[1];
	p->steps = steps;
	cr_assert_eq(pthread_create(&p->thread, NULL, peer_main, p), 0);
	q = qmp_open_fd(sv[0], 2000, err, sizeof(err));
	cr_assert_not_null(q, "qmp_open_fd: %s", err);
	return q;
}

static void
peer_finish(struct peer *p, struct qmp *q, const char *log)
{
	qmp_close(q);
	pthread_join(p->thread, NULL);
	cr_expect_str_empty(p->failed, "peer: %s (log %s)", p->failed,
	    p->log);
	if (log != NULL)
		cr_expect_str_eq(p->log, log);
}

/* A fresh empty file in tmp_dir, open read-write. */
static int
target_open(const char *leaf, char *path, size_t pathlen)
{
	int	fd;

	snprintf(path, pathlen, "%s/%s", tmp_dir, leaf);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	cr_assert_neq(fd, -1, "%s: %s", path, strerror(errno));
	return fd;
}

#define STEP(c, a, r)	{ .cmd = (c), .args = (a), .reply = (r) }
#define STEP_FD(c, a, r) { .cmd = (c), .args = (a), .reply = (r), \
	.want_fd = 1 }
#define FLAT		"{\"flat\":true}"
#define NO_LEFTOVERS \
	STEP("query-jobs", NULL, "[]"), \
	STEP("query-named-block-nodes", FLAT, \
	    "[{\"node-name\": \"disk0\", \"image\": {}}]"), \
	STEP("query-fdsets", NULL, "[]")
#define DISK0 "[{\"node-name\": \"seed0\", \"image\": {\"virtual-size\":" \
	" 1048576}}, {\"node-name\": \"disk0\", \"image\": {\"virtual-size\":" \
	" 4194304}}]"
#define ADD_ARGS "{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\"," \
	"\"filename\":\"/dev/fdset/%F\"},\"node-name\":\"%N\"}"
#define BACKUP_ARGS "{\"auto-dismiss\":false,\"device\":\"disk0\"," \
	"\"job-id\":\"%N-job\",\"sync\":\"full\",\"target\":\"%N\"}"
#define JOB(status, extra) "[{\"id\": \"%N-job\", \"type\": \"backup\"," \
	" \"status\": \"" status "\", \"current-progress\": 1," \
	" \"total-progress\": 4" extra "}]"

/* --- qmp_execute_fd --------------------------------------------------------- */

TestSuite(qmp_fd, .init = tmp_dir_setup, .fini = tmp_dir_teardown,
    .timeout = 30);

Test(qmp_fd, the_descriptor_rides_on_its_command)
{
	const struct step	 steps[] = {
		STEP("query-status", NULL, "{\"status\": \"running\"}"),
		STEP_FD("add-fd", "{\"opaque\":\"x\"}",
		    "{\"fdset-id\": 3, \"fd\": 25}"),
		STEP("query-fdsets", NULL, "[]"),
		{ .cmd = NULL },
	};
	struct peer		 p;
	struct qmp		*q = peer_start(&p, steps);
	struct stat		 sb;
	json_t			*ret = NULL, *args;
	char			 err[VMM_ERRLEN] = "", path[PATH_MAX];
	int			 fd = target_open("t", path, sizeof(path));

	cr_assert_eq(write(fd, "QFI\xfb", 4), 4);
	cr_assert_eq(qmp_execute(q, "query-status", NULL, NULL, err,
	    sizeof(err)), 0, "%s", err);
	args = json_pack("{s:s}", "opaque", "x");
	cr_assert_eq(qmp_execute_fd(q, fd, "add-fd", args, &ret, err,
	    sizeof(err)), 0, "%s", err);
	json_decref(args);
	cr_expect_eq(json_integer_value(json_object_get(ret, "fdset-id")), 3);
	json_decref(ret);
	/* Ours still: the peer got a copy. */
	cr_expect_eq(fcntl(fd, F_GETFD), FD_CLOEXEC);
	cr_assert_eq(qmp_execute(q, "query-fdsets", NULL, NULL, err,
	    sizeof(err)), 0, "%s", err);
	peer_finish(&p, q, "query-status,add-fd,query-fdsets");
	cr_assert_eq(fstat(fd, &sb), 0);
	cr_expect_eq(p.fd_ino, sb.st_ino, "the peer got another file");
	cr_expect_eq(memcmp(p.header, "QFI\xfb", 4), 0, "the peer could not"
	    " read the file through the descriptor");
	close(fd);
}

Test(qmp_fd, a_bad_descriptor_sends_nothing)
{
	const struct step	 steps[] = {
		STEP("query-status", NULL, "{\"status\": \"running\"}"),
		{ .cmd = NULL },
	};
	struct peer		 p;
	struct qmp		*q = peer_start(&p, steps);
	char			 err[VMM_ERRLEN] = "", path[PATH_MAX];
	int			 fd = target_open("t", path, sizeof(path));

	close(fd);	/* a number that is no descriptor any more */
	cr_expect_eq(qmp_execute_fd(q, fd, "add-fd", NULL, NULL, err,
	    sizeof(err)), -1);
	cr_expect(strstr(err, "add-fd: cannot send: Bad file descriptor") !=
	    NULL, "err: %s", err);
	/* Nothing of it went out: the connection is as good as before. */
	cr_expect_eq(qmp_execute(q, "query-status", NULL, NULL, err,
	    sizeof(err)), 0, "%s", err);
	peer_finish(&p, q, "query-status");
}

Test(qmp_fd, a_peer_that_has_gone)
{
	const struct step	 steps[] = { { .cmd = NULL } };
	struct peer		 p;
	struct qmp		*q = peer_start(&p, steps);
	char			 err[VMM_ERRLEN] = "", path[PATH_MAX];
	int			 fd = target_open("t", path, sizeof(path));

	pthread_join(p.thread, NULL);	/* it hangs up at once */
	cr_expect_eq(qmp_execute_fd(q, fd, "add-fd", NULL, NULL, err,
	    sizeof(err)), -1, "no SIGPIPE, an error");
	cr_expect(strstr(err, "add-fd") != NULL, "err: %s", err);
	qmp_close(q);
	close(fd);
}

/* --- backup_live against the scripted peer ------------------------------------ */

TestSuite(backup_qmp, .init = tmp_dir_setup, .fini = tmp_dir_teardown,
    .timeout = 30);

Test(backup_qmp, the_whole_conversation)
{
	const struct step	 steps[] = {
		NO_LEFTOVERS,
		STEP("query-named-block-nodes", FLAT, DISK0),
		STEP_FD("add-fd", "{\"opaque\":\"labd-backup\"}",
		    "{\"fdset-id\": %F, \"fd\": 30}"),
		STEP("blockdev-add", ADD_ARGS, "{}"),
		STEP("blockdev-backup", BACKUP_ARGS, "{}"),
		STEP("query-jobs", NULL, JOB("running", "")),
		STEP("query-jobs", NULL, JOB("concluded", "")),
		STEP("job-dismiss", "{\"id\":\"%N-job\"}", "{}"),
		STEP("blockdev-del", "{\"node-name\":\"%N\"}", "{}"),
		STEP("remove-fd", "{\"fdset-id\":%F}", "{}"),
		{ .cmd = NULL },
	};
	struct peer		 p;
	struct qmp		*q = peer_start(&p, steps);
	char			 err[VMM_ERRLEN] = "", path[PATH_MAX], *out;
	char			 cmd[PATH_MAX + 64];
	uint64_t		 vsize = 0;
	int			 fd = target_open("copy.qcow2", path,
				    sizeof(path));

	cr_assert_eq(backup_live(q, NULL, fd, 10000, &vsize, err,
	    sizeof(err)), 0, "%s", err);
	peer_finish(&p, q, "query-jobs,query-named-block-nodes,query-fdsets,"
	    "query-named-block-nodes,add-fd,blockdev-add,blockdev-backup,"
	    "query-jobs,query-jobs,job-dismiss,blockdev-del,remove-fd");
	cr_expect_eq(vsize, 4194304);
	cr_expect_eq(strncmp(p.node, "labd-backup-", 12), 0, "node %s",
	    p.node);
	cr_expect_lt(strlen(p.node), 32, "QEMU's node names stop at 31");
	/* The target was a qcow2 of disk0's size before QEMU got it. */
	cr_expect_eq(memcmp(p.header, "QFI\xfb", 4), 0, "not formatted first");
	snprintf(cmd, sizeof(cmd), "qemu-img info --output=json %s", path);
	out = cmd_read(cmd);
	cr_expect(strstr(out, "\"virtual-size\": 4194304") != NULL, "%s", out);
	cr_expect(strstr(out, "\"format\": \"qcow2\"") != NULL, "%s", out);
	free(out);
	close(fd);
}

Test(backup_qmp, the_jobs_error_and_everything_undone)
{
	const struct step	 steps[] = {
		NO_LEFTOVERS,
		STEP("query-named-block-nodes", FLAT, DISK0),
		STEP_FD("add-fd", NULL, "{\"fdset-id\": %F, \"fd\": 30}"),
		STEP("blockdev-add", ADD_ARGS, "{}"),
		STEP("blockdev-backup", BACKUP_ARGS, "{}"),
		STEP("query-jobs", NULL, JOB("concluded",
		    ", \"error\": \"No space left on device\"")),
		STEP("job-dismiss", "{\"id\":\"%N-job\"}", "{}"),
		STEP("blockdev-del", "{\"node-name\":\"%N\"}", "{}"),
		STEP("remove-fd", "{\"fdset-id\":%F}", "{}"),
		{ .cmd = NULL },
	};
	struct peer		 p;
	struct qmp		*q = peer_start(&p, steps);
	char			 err[VMM_ERRLEN] = "", path[PATH_MAX];
	uint64_t		 vsize = 0;
	int			 fd = target_open("c", path, sizeof(path));

	cr_expect_eq(backup_live(q, NULL, fd, 10000, &vsize, err,
	    sizeof(err)), -1);
	cr_expect_str_eq(err, "blockdev-backup: No space left on device");
	peer_finish(&p, q, "query-jobs,query-named-block-nodes,query-fdsets,"
	    "query-named-block-nodes,add-fd,blockdev-add,blockdev-backup,"
	    "query-jobs,job-dismiss,blockdev-del,remove-fd");
	close(fd);
}

Test(backup_qmp, a_refused_target_node_gives_the_fd_back)
{
	const struct step	 steps[] = {
		NO_LEFTOVERS,
		STEP("query-named-block-nodes", FLAT, DISK0),
		STEP_FD("add-fd", NULL, "{\"fdset-id\": %F, \"fd\": 30}"),
		STEP("blockdev-add", ADD_ARGS, "!Could not open '/dev/fdset/7':"
		    " Permission denied"),
		STEP("remove-fd", "{\"fdset-id\":%F}", "{}"),
		{ .cmd = NULL },
	};
	struct peer		 p;
	struct qmp		*q = peer_start(&p, steps);
	char			 err[VMM_ERRLEN] = "", path[PATH_MAX];
	uint64_t		 vsize = 0;
	int			 fd = target_open("c", path, sizeof(path));

	cr_expect_eq(backup_live(q, NULL, fd, 10000, &vsize, err,
	    sizeof(err)), -1);
	cr_expect(strstr(err, "blockdev-add: Could not open") != NULL,
	    "err: %s", err);
	peer_finish(&p, q, "query-jobs,query-named-block-nodes,query-fdsets,"
	    "query-named-block-nodes,add-fd,blockdev-add,remove-fd");
	close(fd);
}

Test(backup_qmp, a_job_past_its_time_is_cancelled)
{
	const struct step	 steps[] = {
		NO_LEFTOVERS,
		STEP("query-named-block-nodes", FLAT, DISK0),
		STEP_FD("add-fd", NULL, "{\"fdset-id\": %F, \"fd\": 30}"),
		STEP("blockdev-add", ADD_ARGS, "{}"),
		STEP("blockdev-backup", BACKUP_ARGS, "{}"),
		{ .cmd = "query-jobs", .reply = JOB("running", ""),
		  .repeat = 1 },
		STEP("job-cancel", "{\"id\":\"%N-job\"}", "{}"),
		STEP("query-jobs", NULL, JOB("concluded",
		    ", \"error\": \"Operation canceled\"")),
		STEP("job-dismiss", "{\"id\":\"%N-job\"}", "{}"),
		STEP("blockdev-del", "{\"node-name\":\"%N\"}", "{}"),
		STEP("remove-fd", "{\"fdset-id\":%F}", "{}"),
		{ .cmd = NULL },
	};
	struct peer		 p;
	struct qmp		*q = peer_start(&p, steps);
	char			 err[VMM_ERRLEN] = "", path[PATH_MAX];
	uint64_t		 vsize = 0;
	int			 fd = target_open("c", path, sizeof(path));

	cr_expect_eq(backup_live(q, NULL, fd, 1000, &vsize, err, sizeof(err)),
	    -1);
	cr_expect(strstr(err, "not done within 1000 ms: cancelled") != NULL,
	    "err: %s", err);
	peer_finish(&p, q, NULL);
	cr_expect(strstr(p.log, "blockdev-backup,query-jobs,query-jobs,") !=
	    NULL, "polled more than once: %s", p.log);
	cr_expect(strstr(p.log, ",query-jobs,job-cancel,query-jobs,"
	    "job-dismiss,blockdev-del,remove-fd") != NULL, "log %s", p.log);
	close(fd);
}

Test(backup_qmp, leftovers_of_a_dead_labd_are_cleared_first)
{
	const struct step	 steps[] = {
		STEP("query-jobs", NULL, "[{\"id\": \"labd-backup-9-1-job\","
		    " \"status\": \"concluded\"}, {\"id\": \"other\","
		    " \"status\": \"running\"}]"),
		STEP("job-dismiss", "{\"id\":\"labd-backup-9-1-job\"}", "{}"),
		STEP("query-named-block-nodes", FLAT,
		    "[{\"node-name\": \"labd-backup-9-1\"},"
		    " {\"node-name\": \"#block123\"}]"),
		STEP("blockdev-del", "{\"node-name\":\"labd-backup-9-1\"}",
		    "{}"),
		STEP("query-fdsets", NULL, "[{\"fdset-id\": 2, \"fds\":"
		    " [{\"fd\": 20, \"opaque\": \"labd-backup\"}]},"
		    " {\"fdset-id\": 3, \"fds\": [{\"fd\": 21}]}]"),
		STEP("remove-fd", "{\"fdset-id\":2}", "{}"),
		/* And then there is no disk0 to copy. */
		STEP("query-named-block-nodes", FLAT,
		    "[{\"node-name\": \"seed0\", \"image\": {}}]"),
		{ .cmd = NULL },
	};
	struct peer		 p;
	struct qmp		*q = peer_start(&p, steps);
	char			 err[VMM_ERRLEN] = "", path[PATH_MAX];
	uint64_t		 vsize = 0;
	int			 fd = target_open("c", path, sizeof(path));

	cr_expect_eq(backup_live(q, NULL, fd, 10000, &vsize, err,
	    sizeof(err)), -1);
	cr_expect(strstr(err, "no block node disk0") != NULL, "err: %s", err);
	peer_finish(&p, q, "query-jobs,job-dismiss,query-named-block-nodes,"
	    "blockdev-del,query-fdsets,remove-fd,query-named-block-nodes");
	close(fd);
}

/* --- backup_offline with the real qemu-img ------------------------------------- */

TestSuite(backup_offline, .init = tmp_dir_setup, .fini = tmp_dir_teardown,
    .timeout = 60);

/* Run a command (argv ends with NULL); 0 when it exits 0. */
static int
run(char *const argv[])
{
	char	err[VMM_ERRLEN] = "";
	int	rc = vmm_run(argv, err, sizeof(err));

	if (rc == -1)
		cr_log_warn("%s %s: %s", argv[0], argv[1], err);
	return rc;
}
#define RUN(...)	run((char *[]){ __VA_ARGS__, NULL })

Test(backup_offline, flattens_the_chain)
{
	char		 base[PATH_MAX], overlay[PATH_MAX], path[PATH_MAX];
	char		 err[VMM_ERRLEN] = "", cmd[PATH_MAX + 64], *out;
	uint64_t	 vsize = 0;
	int		 fd;

	/* A template with 0xaa at 0, an overlay on it with 0xbb at 1M. */
	snprintf(base, sizeof(base), "%s/base.qcow2", tmp_dir);
	snprintf(overlay, sizeof(overlay), "%s/overlay.qcow2", tmp_dir);
	cr_assert_eq(RUN("qemu-img", "create", "-q", "-f", "qcow2", base,
	    "8M"), 0);
	cr_assert_eq(RUN("qemu-io", "-f", "qcow2", "-c", "write -P 0xaa 0 64k",
	    base), 0);
	cr_assert_eq(RUN("qemu-img", "create", "-q", "-f", "qcow2", "-F",
	    "qcow2", "-b", base, overlay), 0);
	cr_assert_eq(RUN("qemu-io", "-f", "qcow2", "-c",
	    "write -P 0xbb 1M 64k", overlay), 0);

	fd = target_open("copy.qcow2", path, sizeof(path));
	cr_assert_eq(backup_offline(NULL, overlay, fd, &vsize, err,
	    sizeof(err)), 0, "%s", err);
	close(fd);
	cr_expect_eq(vsize, 8 << 20);
	snprintf(cmd, sizeof(cmd), "qemu-img info --output=json %s", path);
	out = cmd_read(cmd);
	cr_expect(strstr(out, "backing") == NULL, "still backed: %s", out);
	cr_expect(strstr(out, "\"format\": \"qcow2\"") != NULL, "%s", out);
	free(out);
	cr_expect_eq(RUN("qemu-io", "-r", "-f", "qcow2", "-c",
	    "read -P 0xaa 0 64k", path), 0, "the template's data");
	cr_expect_eq(RUN("qemu-io", "-r", "-f", "qcow2", "-c",
	    "read -P 0xbb 1M 64k", path), 0, "the overlay's data");
	/* Without its template the copy still reads whole. */
	cr_assert_eq(unlink(base), 0);
	cr_expect_eq(RUN("qemu-io", "-r", "-f", "qcow2", "-c",
	    "read -P 0xaa 0 64k", path), 0);
}

Test(backup_offline, a_missing_disk_is_named)
{
	char		 path[PATH_MAX], missing[PATH_MAX], err[VMM_ERRLEN] = "";
	uint64_t	 vsize = 0;
	int		 fd = target_open("copy.qcow2", path, sizeof(path));

	snprintf(missing, sizeof(missing), "%s/none.qcow2", tmp_dir);
	cr_expect_eq(backup_offline(NULL, missing, fd, &vsize, err,
	    sizeof(err)), -1);
	cr_expect(strstr(err, missing) != NULL, "err: %s", err);
	close(fd);
}

/* --- live, on a real QEMU under TCG ---------------------------------------------- */

static char	vm_name[64];

static void
qemu_setup(void)
{
	tmp_dir_setup();
	snprintf(vm_name, sizeof(vm_name), "bak-%d", (int)getpid());
}

static void
qemu_teardown(void)
{
	char	err[VMM_ERRLEN];

	vmm_kill(tmp_dir, vm_name, 500, err, sizeof(err));
	tmp_dir_teardown();
}

TestSuite(backup_qemu, .init = qemu_setup, .fini = qemu_teardown,
    .timeout = 90);

Test(backup_qemu, a_running_guests_disk_through_the_fd)
{
	struct vmm_spec	 s = {
		.name = vm_name,
		.accel = VMM_ACCEL_TCG,
		.memory_mb = 64,
		.vcpus = 1,
		.run_dir = tmp_dir,
		.log_dir = tmp_dir,
		.restrict_net = 1,
	};
	struct qmp	*q;
	char		 disk[PATH_MAX], priv[PATH_MAX], path[PATH_MAX];
	char		 sock[PATH_MAX], cmd[PATH_MAX + 64], status[32];
	char		 err[VMM_ERRLEN] = "", *out;
	uint64_t	 vsize = 0;
	long long	 t0;
	pid_t		 pid;
	int		 fd;

	snprintf(disk, sizeof(disk), "%s/disk.qcow2", tmp_dir);
	cr_assert_eq(RUN("qemu-img", "create", "-q", "-f", "qcow2", disk,
	    "16M"), 0);
	cr_assert_eq(RUN("qemu-io", "-f", "qcow2", "-c",
	    "write -P 0x5a 2M 256k", disk), 0);
	if (geteuid() == 0) {
		/*
		 * QEMU as a user of its own can open neither its disk nor
		 * the target by name: both reach it as descriptors.
		 */
		s.uid = 1879048301;
		s.gid = 1879048301;
	}
	s.disk = disk;
	cr_assert_eq(vmm_spawn(&s, &pid, err, sizeof(err)), 0, "spawn: %s",
	    err);
	snprintf(priv, sizeof(priv), "%s/private", tmp_dir);
	cr_assert_eq(mkdir(priv, 0700), 0);
	snprintf(path, sizeof(path), "%s/copy.qcow2", priv);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	cr_assert_neq(fd, -1);

	cr_assert_eq(vmm_path(sock, sizeof(sock), tmp_dir, "qmp-ctl.sock"), 0);
	q = qmp_open(sock, 10000, err, sizeof(err));
	cr_assert_not_null(q, "%s", err);
	t0 = tu_now_ms();
	cr_assert_eq(backup_live(q, NULL, fd, 30000, &vsize, err, sizeof(err)),
	    0, "%s", err);
	cr_log_info("live backup of a 16 MiB disk: %lld ms",
	    tu_now_ms() - t0);
	cr_expect_eq(vsize, 16 << 20);
	cr_expect_eq(qmp_query_status(q, status, sizeof(status), err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(status, "running", "the guest was left %s", status);
	/* Nothing of ours stays in QEMU. */
	cr_assert_eq(qmp_execute(q, "query-fdsets", NULL, NULL, err,
	    sizeof(err)), 0);
	cr_expect_eq(backup_live(q, NULL, fd, 30000, &vsize, err,
	    sizeof(err)), 0, "a second one on the same QEMU: %s", err);
	qmp_close(q);
	close(fd);

	snprintf(cmd, sizeof(cmd), "qemu-img info --output=json %s", path);
	out = cmd_read(cmd);
	cr_expect(strstr(out, "backing") == NULL, "%s", out);
	free(out);
	cr_expect_eq(RUN("qemu-io", "-r", "-f", "qcow2", "-c",
	    "read -P 0x5a 2M 256k", path), 0, "the data is not in the copy");
	snprintf(cmd, sizeof(cmd), "qemu-img check -q %s", path);
	cr_expect_eq(system(cmd), 0);
}
