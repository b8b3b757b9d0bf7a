/* SPDX-License-Identifier: ISC */
/*
 * test_qmp.c - the QMP client against a scripted QEMU over socketpair().
 *
 * A thread plays QEMU: it writes what a real monitor writes (greeting,
 * replies echoing the id, events in between, partial lines) and checks
 * what the client sends.  The peer never asserts itself, as Criterion
 * asserts belong to the test's own thread; it records the first thing
 * that went wrong and the test checks that after joining it.
 */
#include <sys/socket.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "vmm/vmm.h"

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0," \
	" \"minor\": 2, \"major\": 7}, \"package\": \"\"}," \
	" \"capabilities\": [\"oob\"]}}\r\n"

struct peer {
	int		 fd;
	void		(*script)(struct peer *);
	pthread_t	 thread;
	char		 failed[256];	/* "" when the script went as planned */
	json_t		*last_args;	/* arguments of the last command read */
	char		 buf[65536];
	size_t		 len;
};

static void
p_fail(struct peer *p, const char *what)
{
	if (p->failed[0] == '\0')
		snprintf(p->failed, sizeof(p->failed), "%s", what);
}

static void
p_send(struct peer *p, const char *s)
{
	size_t	len = strlen(s), off = 0;
	ssize_t	n;

	while (off < len) {
		if ((n = write(p->fd, s + off, len - off)) <= 0) {
			p_fail(p, "peer write failed");
			return;
		}
		off += n;
	}
}

static void
p_pause(void)
{
	struct timespec	ts = { 0, 20 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/* Read one command; check it is cmd; return its id (-1 on mismatch). */
static long long
p_expect(struct peer *p, const char *cmd)
{
	json_t		*req;
	const char	*ex;
	char		*nl;
	long long	 id;
	ssize_t		 n;

	while ((nl = memchr(p->buf, '\n', p->len)) == NULL) {
		if ((n = read(p->fd, p->buf + p->len,
		    sizeof(p->buf) - p->len)) <= 0) {
			p_fail(p, "peer: EOF while expecting a command");
			return -1;
		}
		p->len += n;
	}
	req = json_loadb(p->buf, nl - p->buf, 0, NULL);
	p->len -= nl - p->buf + 1;
	memmove(p->buf, nl + 1, p->len);
	if (req == NULL) {
		p_fail(p, "peer: client sent bad JSON");
		return -1;
	}
	ex = json_string_value(json_object_get(req, "execute"));
	if (ex == NULL || strcmp(ex, cmd) != 0) {
		p_fail(p, "peer: unexpected command");
		json_decref(req);
		return -1;
	}
	if (!json_is_integer(json_object_get(req, "id"))) {
		p_fail(p, "peer: command without an integer id");
		json_decref(req);
		return -1;
	}
	id = json_integer_value(json_object_get(req, "id"));
	json_decref(p->last_args);
	p->last_args = json_incref(json_object_get(req, "arguments"));
	json_decref(req);
	return id;
}

static void
p_reply(struct peer *p, long long id, const char *ret)
{
	char	line[1024];

	snprintf(line, sizeof(line), "{\"return\": %s, \"id\": %lld}\r\n",
	    ret, id);
	p_send(p, line);
}

/* Greeting and capabilities, as every QEMU starts. */
static void
p_handshake(struct peer *p)
{
	long long	id;

	p_send(p, GREETING);
	if ((id = p_expect(p, "qmp_capabilities")) != -1)
		p_reply(p, id, "{}");
}

static void *
peer_main(void *arg)
{
	struct peer	*p = arg;

	p->script(p);
	close(p->fd);
	return NULL;
}

static struct qmp *
start(struct peer *p, void (*script)(struct peer *), int timeout_ms,
    char *err, size_t errlen)
{
	int	sv[2];

	memset(p, 0, sizeof(*p));
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	p->fd = sv[1];
	p->script = script;
	cr_assert_eq(pthread_create(&p->thread, NULL, peer_main, p), 0);
	return qmp_open_fd(sv[0], timeout_ms, err, errlen);
}

static void
finish(struct peer *p)
{
	pthread_join(p->thread, NULL);
	json_decref(p->last_args);
	cr_expect_str_empty(p->failed, "peer: %s", p->failed);
}

/* Records what qmp_dispatch delivers. */
struct seen {
	int	n;
	char	names[8][32];
	char	data[8][256];
};

static void
on_event(void *arg, const char *event, json_t *data)
{
	struct seen	*s = arg;
	char		*d;

	if (s->n >= 8)
		return;
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", event);
	d = data != NULL ? json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS) :
	    NULL;
	snprintf(s->data[s->n], sizeof(s->data[0]), "%s", d ? d : "");
	free(d);
	s->n++;
}

/* --- scripts ------------------------------------------------------------ */

/* The greeting trickles in three writes, the last one ends the line. */
static void
script_split_greeting(struct peer *p)
{
	const char	*g = GREETING;
	size_t		 len = strlen(g);
	char		 part[256];
	long long	 id;

	snprintf(part, sizeof(part), "%.*s", 10, g);
	p_send(p, part);
	p_pause();
	snprintf(part, sizeof(part), "%.*s", (int)(len - 10 - 3), g + 10);
	p_send(p, part);
	p_pause();
	p_send(p, g + len - 3);
	if ((id = p_expect(p, "qmp_capabilities")) == -1)
		return;
	/* The reply too, split inside a key. */
	snprintf(part, sizeof(part), "{\"ret");
	p_send(p, part);
	p_pause();
	snprintf(part, sizeof(part), "urn\": {}, \"id\": %lld}\n", id);
	p_send(p, part);
	p_expect(p, "query-status");
}

static void
script_event_before_reply(struct peer *p)
{
	long long	id;

	p_handshake(p);
	if ((id = p_expect(p, "query-status")) == -1)
		return;
	/* An event and the reply in one write, as QEMU often does. */
	{
		char	both[512];

		snprintf(both, sizeof(both),
		    "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2},"
		    " \"event\": \"RESET\", \"data\": {\"guest\": true,"
		    " \"reason\": \"guest-reset\"}}\r\n"
		    "{\"return\": {\"status\": \"running\", \"running\": true},"
		    " \"id\": %lld}\r\n", id);
		p_send(p, both);
	}
	p_expect(p, "system_powerdown");
}

static void
script_error_reply(struct peer *p)
{
	long long	id;
	char		line[256];

	p_handshake(p);
	if ((id = p_expect(p, "snapshot-load")) == -1)
		return;
	snprintf(line, sizeof(line), "{\"id\": %lld, \"error\": {\"class\":"
	    " \"GenericError\", \"desc\": \"Snapshot 'x' does not exist\"}}\n",
	    id);
	p_send(p, line);
	/* The connection is still usable after an error. */
	if ((id = p_expect(p, "query-status")) != -1)
		p_reply(p, id, "{\"status\": \"paused\", \"running\": false}");
}

static void
script_args_and_stale_reply(struct peer *p)
{
	long long	id;

	p_handshake(p);
	if ((id = p_expect(p, "human-monitor-command")) == -1)
		return;
	/* A reply to some earlier, timed-out command comes first. */
	p_reply(p, id + 1000, "\"stale\"");
	p_reply(p, id, "\"fresh\"");
}

static void
script_event_then_eof(struct peer *p)
{
	p_handshake(p);
	p_pause();
	p_send(p, "{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": true,"
	    " \"reason\": \"guest-shutdown\"}, \"timestamp\": {\"seconds\": 3,"
	    " \"microseconds\": 4}}\n");
	p_pause();
}

static void
script_silent(struct peer *p)
{
	p_handshake(p);
	p_expect(p, "query-status");
	/* Never answers; holds the line open until the client gives up. */
	p_pause();
	p_pause();
	p_pause();
	p_pause();
	p_pause();
	p_pause();
	p_pause();
	p_pause();
	p_pause();
	p_pause();
}

static void
script_quit_eof(struct peer *p)
{
	p_handshake(p);
	p_expect(p, "quit");
	/* QEMU exits before its reply is flushed. */
}

static void
script_quit_reply(struct peer *p)
{
	long long	id;

	p_handshake(p);
	if ((id = p_expect(p, "quit")) != -1)
		p_reply(p, id, "{}");
	p_send(p, "{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": false,"
	    " \"reason\": \"host-qmp-quit\"}, \"timestamp\": {\"seconds\": 3,"
	    " \"microseconds\": 4}}\n");
}

static void
script_not_qmp(struct peer *p)
{
	p_send(p, "{\"hello\": \"world\"}\n");
}

static void
script_garbage(struct peer *p)
{
	p_send(p, "SSH-2.0-OpenSSH_9.2\r\n");
}

static void
script_caps_refused(struct peer *p)
{
	long long	id;
	char		line[256];

	p_send(p, GREETING);
	if ((id = p_expect(p, "qmp_capabilities")) == -1)
		return;
	snprintf(line, sizeof(line), "{\"error\": {\"class\":"
	    " \"CommandNotFound\", \"desc\": \"Capabilities negotiation"
	    " is already complete\"},"
	    " \"id\": %lld}\n", id);
	p_send(p, line);
}

/* --- tests -------------------------------------------------------------- */

TestSuite(qmp, .timeout = 20);

Test(qmp, greeting_and_reply_split_across_writes)
{
	struct peer	 p;
	struct qmp	*q;
	char		 err[VMM_ERRLEN] = "";
	json_t		*ret = NULL;

	q = start(&p, script_split_greeting, 2000, err, sizeof(err));
	cr_assert_not_null(q, "qmp_open_fd: %s", err);
	cr_expect_geq(qmp_fd(q), 0);
	/* Send one more so that the peer can check we got past capabilities. */
	cr_expect_eq(qmp_execute(q, "query-status", NULL, &ret, err,
	    sizeof(err)), -1, "the peer closes without a reply");
	cr_expect(strstr(err, "query-status: ") == err, "err: %s", err);
	cr_expect_null(ret);
	qmp_close(q);
	finish(&p);
}

Test(qmp, event_interleaved_with_reply_is_queued_for_dispatch)
{
	struct peer	 p;
	struct qmp	*q;
	struct seen	 seen = { 0 };
	char		 err[VMM_ERRLEN] = "", status[32];

	q = start(&p, script_event_before_reply, 2000, err, sizeof(err));
	cr_assert_not_null(q, "qmp_open_fd: %s", err);
	cr_assert_eq(qmp_query_status(q, status, sizeof(status), err,
	    sizeof(err)), 0, "query_status: %s", err);
	cr_expect_str_eq(status, "running");
	/* The event came before the reply: nothing lost, delivered now. */
	cr_expect_eq(qmp_dispatch(q, on_event, &seen), 1);
	cr_expect_eq(seen.n, 1);
	cr_expect_str_eq(seen.names[0], "RESET");
	cr_expect_str_eq(seen.data[0],
	    "{\"guest\":true,\"reason\":\"guest-reset\"}");
	/* Nothing more: queue drained, socket empty, and it did not block. */
	cr_expect_eq(qmp_dispatch(q, on_event, &seen), 0);
	cr_expect_eq(seen.n, 1);
	/* The peer closes after powerdown without a reply. */
	cr_expect_eq(qmp_powerdown(q, err, sizeof(err)), -1);
	qmp_close(q);
	finish(&p);
}

Test(qmp, error_reply_fills_err_with_desc)
{
	struct peer	 p;
	struct qmp	*q;
	char		 err[VMM_ERRLEN] = "", status[32];
	json_t		*args = json_pack("{s:s,s:s,s:s}", "job-id", "j1",
			    "tag", "x", "vmstate", "disk0");
	json_t		*ret = json_string("untouched");

	q = start(&p, script_error_reply, 2000, err, sizeof(err));
	cr_assert_not_null(q, "qmp_open_fd: %s", err);
	json_decref(ret);
	ret = NULL;
	cr_expect_eq(qmp_execute(q, "snapshot-load", args, &ret, err,
	    sizeof(err)), -1);
	cr_expect_str_eq(err, "snapshot-load: Snapshot 'x' does not exist");
	cr_expect_null(ret);
	cr_expect_eq(qmp_query_status(q, status, sizeof(status), err,
	    sizeof(err)), 0, "after an error: %s", err);
	cr_expect_str_eq(status, "paused");
	json_decref(args);
	qmp_close(q);
	finish(&p);
}

Test(qmp, arguments_sent_and_stale_reply_skipped)
{
	struct peer	 p;
	struct qmp	*q;
	char		 err[VMM_ERRLEN] = "";
	json_t		*args = json_pack("{s:s}", "command-line",
			    "info status");
	json_t		*ret = NULL;

	q = start(&p, script_args_and_stale_reply, 2000, err, sizeof(err));
	cr_assert_not_null(q, "qmp_open_fd: %s", err);
	cr_assert_eq(qmp_execute(q, "human-monitor-command", args, &ret, err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(json_string_value(ret), "fresh");
	json_decref(ret);
	qmp_close(q);
	pthread_join(p.thread, NULL);
	cr_expect_str_empty(p.failed, "peer: %s", p.failed);
	cr_assert_not_null(p.last_args);
	cr_expect(json_equal(p.last_args, args), "the peer got other args");
	json_decref(p.last_args);
	json_decref(args);
}

Test(qmp, dispatch_delivers_events_then_reports_eof)
{
	struct peer	 p;
	struct qmp	*q;
	struct seen	 seen = { 0 };
	char		 err[VMM_ERRLEN] = "";
	int		 i, r = 0, total = 0;

	q = start(&p, script_event_then_eof, 2000, err, sizeof(err));
	cr_assert_not_null(q, "qmp_open_fd: %s", err);
	pthread_join(p.thread, NULL);	/* event written, socket closed */
	cr_expect_str_empty(p.failed, "peer: %s", p.failed);
	for (i = 0; i < 10 && (r = qmp_dispatch(q, on_event, &seen)) >= 0; i++)
		total += r;
	cr_expect_eq(r, -1, "EOF must make dispatch return -1");
	cr_expect_eq(seen.n, 1);
	cr_expect_str_eq(seen.names[0], "SHUTDOWN");
	cr_expect(strstr(seen.data[0], "guest-shutdown") != NULL);
	/* Once closed, always closed. */
	cr_expect_eq(qmp_dispatch(q, on_event, &seen), -1);
	cr_expect_eq(qmp_execute(q, "query-status", NULL, NULL, err,
	    sizeof(err)), -1);
	cr_expect(strstr(err, "closed") != NULL, "err: %s", err);
	qmp_close(q);
	json_decref(p.last_args);
	(void)total;
}

Test(qmp, execute_times_out)
{
	struct peer	 p;
	struct qmp	*q;
	char		 err[VMM_ERRLEN] = "";
	struct timespec	 t0, t1;
	long		 ms;

	q = start(&p, script_silent, 100, err, sizeof(err));
	cr_assert_not_null(q, "qmp_open_fd: %s", err);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_expect_eq(qmp_execute(q, "query-status", NULL, NULL, err,
	    sizeof(err)), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_expect_geq(ms, 90, "gave up after %ld ms", ms);
	cr_expect_lt(ms, 1000, "gave up after %ld ms", ms);
	cr_expect_str_eq(err, "query-status: no reply within 100 ms");
	qmp_close(q);
	finish(&p);
}

Test(qmp, quit_with_eof_instead_of_reply_is_success)
{
	struct peer	 p;
	struct qmp	*q;
	char		 err[VMM_ERRLEN] = "";

	q = start(&p, script_quit_eof, 2000, err, sizeof(err));
	cr_assert_not_null(q, "qmp_open_fd: %s", err);
	cr_expect_eq(qmp_quit(q, err, sizeof(err)), 0, "quit: %s", err);
	qmp_close(q);
	finish(&p);
}

Test(qmp, quit_with_reply_then_event_and_eof)
{
	struct peer	 p;
	struct qmp	*q;
	struct seen	 seen = { 0 };
	char		 err[VMM_ERRLEN] = "";
	int		 r, i;

	q = start(&p, script_quit_reply, 2000, err, sizeof(err));
	cr_assert_not_null(q, "qmp_open_fd: %s", err);
	cr_expect_eq(qmp_quit(q, err, sizeof(err)), 0, "quit: %s", err);
	pthread_join(p.thread, NULL);
	for (i = 0; i < 10 && (r = qmp_dispatch(q, on_event, &seen)) >= 0; i++)
		;
	cr_expect_eq(r, -1);
	cr_expect_eq(seen.n, 1);
	cr_expect_str_eq(seen.names[0], "SHUTDOWN");
	qmp_close(q);
	cr_expect_str_empty(p.failed, "peer: %s", p.failed);
	json_decref(p.last_args);
}

Test(qmp, quit_on_closed_connection_fails)
{
	struct peer	 p;
	struct qmp	*q;
	struct seen	 seen = { 0 };
	char		 err[VMM_ERRLEN] = "";
	int		 i;

	q = start(&p, script_event_then_eof, 2000, err, sizeof(err));
	cr_assert_not_null(q, "qmp_open_fd: %s", err);
	pthread_join(p.thread, NULL);
	for (i = 0; i < 10 && qmp_dispatch(q, on_event, &seen) >= 0; i++)
		;
	/* Nothing tells us QEMU is going away: the caller must kill it. */
	cr_expect_eq(qmp_quit(q, err, sizeof(err)), -1);
	qmp_close(q);
	json_decref(p.last_args);
}

Test(qmp, not_a_greeting)
{
	struct peer	 p;
	char		 err[VMM_ERRLEN] = "";

	cr_expect_null(start(&p, script_not_qmp, 1000, err, sizeof(err)));
	cr_expect(strstr(err, "not a QMP greeting") != NULL, "err: %s", err);
	finish(&p);
}

Test(qmp, garbage_is_a_protocol_error)
{
	struct peer	 p;
	char		 err[VMM_ERRLEN] = "";

	cr_expect_null(start(&p, script_garbage, 1000, err, sizeof(err)));
	cr_expect(strstr(err, "QMP: bad message") == err, "err: %s", err);
	finish(&p);
}

Test(qmp, capabilities_refused)
{
	struct peer	 p;
	char		 err[VMM_ERRLEN] = "";

	cr_expect_null(start(&p, script_caps_refused, 1000, err, sizeof(err)));
	cr_expect_str_eq(err, "qmp_capabilities: Capabilities negotiation"
	    " is already complete");
	finish(&p);
}

Test(qmp, open_on_missing_socket)
{
	char	err[VMM_ERRLEN] = "";

	cr_expect_null(qmp_open("/nonexistent/qmp.sock", 100, err,
	    sizeof(err)));
	cr_expect(strstr(err, "/nonexistent/qmp.sock") != NULL, "err: %s", err);
	cr_expect(strstr(err, "No such file") != NULL, "err: %s", err);
}
