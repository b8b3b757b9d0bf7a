/* SPDX-License-Identifier: ISC */
/*
 * test_control.c - the control socket, driven through the event loop as
 * labd runs it: control_listen() on a socket in a private folder with a
 * stub command table, and clients that connect() to it.  Framing, lines
 * too long, malformed requests, the argument checks against the table,
 * help, events, late replies, a client that does not read its
 * replies, the socket file and its folder, and the roles a peer's groups
 * give it.  Each test runs in its own process (Criterion), so each has
 * its own loop and socket.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labd/labd.h"
#include "testutil.h"

static struct labd	 labd_instance;
struct labd		*labd = &labd_instance;

static char		 sock_path[PATH_MAX];

/* --- the stub command table ----------------------------------------------- */

/* Its arguments back, as the dispatcher let them through. */
static void
stub_echo(const struct req *r, json_t *args)
{
	reply_ok(r, json_incref(args));
}

/* A reply of args.bytes bytes: what fills a client that does not read. */
static void
stub_big(const struct req *r, json_t *args)
{
	size_t	 n = (size_t)json_integer_value(json_object_get(args, "bytes"));
	char	*s = tu_realloc(NULL, n + 1);

	memset(s, 'x', n);
	s[n] = '\0';
	reply_ok(r, json_pack("{s:s}", "blob", s));
	free(s);
}

static int
later_fire(struct loop *l, void *arg)
{
	struct req	*k = arg;

	reply_ok(k, json_pack("{s:s}", "late", "yes"));
	req_free(k);
	return -1;
}

/* Replies 50 ms later from a kept request, as the VM operations do. */
static void
stub_later(const struct req *r, json_t *args)
{
	loop_add_timer(labd->loop, 50, later_fire, req_keep(r));
}

static const struct cmd stub_cmds[] = {
	{ .name = "hello", .fn = control_hello, .flags = CMD_CONN | CMD_TA,
	  .help = "versions" },
	{ .name = "events.subscribe", .fn = control_subscribe,
	  .flags = CMD_CONN, .help = "events on this connection" },
	{ .name = "help", .fn = control_help, .help = "this table" },
	{ .name = "echo", .fn = stub_echo, .help = "its arguments back",
	  .args = {
		{ "name", ARG_STRING, ARG_REQUIRED, "a name" },
		{ "count", ARG_INTEGER, ARG_OPTIONAL, "a count" },
		{ "force", ARG_BOOLEAN, ARG_OPTIONAL, "a flag" },
		{ "opts", ARG_OBJECT, ARG_OPTIONAL, "an object" },
		{ "list", ARG_ARRAY, ARG_OPTIONAL, "an array" },
	  } },
	{ .name = "big", .fn = stub_big, .help = "a reply of that size",
	  .args = { { "bytes", ARG_INTEGER, ARG_REQUIRED, "its size" } } },
	{ .name = "later", .fn = stub_later, .help = "a reply in 50 ms" },
	{ .name = "peek", .fn = stub_echo, .flags = CMD_TA,
	  .help = "what a teaching assistant may run" },
};
#define NSTUB	(sizeof(stub_cmds) / sizeof(stub_cmds[0]))

/* --- the loop and the socket ---------------------------------------------- */

static void
loop_setup(void)
{
	tmp_dir_setup();
	snprintf(sock_path, sizeof(sock_path), "%s/labd.sock", tmp_dir);
	labd->loop = loop_new();
}

static void
control_setup(void)
{
	char	err[LABD_ERRLEN];

	loop_setup();
	cr_assert_eq(control_listen(sock_path, NULL, stub_cmds, NSTUB, err,
	    sizeof(err)), 0, "control_listen: %s", err);
}

static void
control_teardown(void)
{
	control_close();
	loop_free(labd->loop);
	tmp_dir_teardown();
}

static int
stop_cb(struct loop *l, void *arg)
{
	loop_stop(l);
	return -1;
}

/* What labd does in ms: accept, read, dispatch, write. */
static void
pump(int ms)
{
	loop_add_timer(labd->loop, ms, stop_cb, NULL);
	loop_run(labd->loop);
}

/* --- a client --------------------------------------------------------------- */

struct peer {
	int	 fd;
	char	*buf;
	size_t	 len, cap;
	size_t	 total;		/* bytes received in all */
	int	 eof;		/* labd hung up */
};

static void
peer_open(struct peer *p)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };

	memset(p, 0, sizeof(*p));
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	cr_assert_geq(p->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0), 0);
	cr_assert_eq(connect(p->fd, (struct sockaddr *)&sun, sizeof(sun)), 0,
	    "connect %s: %s", sock_path, strerror(errno));
}

static void
peer_close(struct peer *p)
{
	close(p->fd);
	free(p->buf);
	p->fd = -1;
	p->buf = NULL;
}

/* What has come, without waiting; keep says whether to keep it. */
static void
peer_drain(struct peer *p, int keep)
{
	ssize_t	n;

	for (;;) {
		if (p->cap - p->len < 65536) {
			p->cap = p->cap ? p->cap * 2 : 65536;
			p->buf = tu_realloc(p->buf, p->cap);
		}
		n = recv(p->fd, p->buf + p->len, p->cap - p->len,
		    MSG_DONTWAIT);
		if (n > 0) {
			p->total += n;
			if (keep)
				p->len += n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0 || errno != EAGAIN)
			p->eof = 1;	/* EOF, or ECONNRESET */
		return;
	}
}

/*
 * All of s, the loop running whenever the socket is full; -1 when labd
 * hung up before it had it all.
 */
static int
peer_send(struct peer *p, const char *s, size_t len)
{
	ssize_t		n;
	long long	deadline = tu_now_ms() + 10000;

	while (len > 0) {
		n = send(p->fd, s, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			cr_assert_lt(tu_now_ms(), deadline, "labd reads"
			    " nothing");
			pump(1);
			continue;
		}
		if (n == -1)
			return -1;
		s += n;
		len -= n;
	}
	return 0;
}

static void
peer_say(struct peer *p, const char *s)
{
	cr_assert_eq(peer_send(p, s, strlen(s)), 0, "send: %s",
	    strerror(errno));
}

/* The next line from labd as JSON (the loop running); NULL at EOF. */
static json_t *
peer_msg(struct peer *p)
{
	long long	 deadline = tu_now_ms() + 5000;
	json_error_t	 jerr;
	json_t		*m;
	char		*nl;
	size_t		 len;

	for (;;) {
		if (p->len > 0 && (nl = memchr(p->buf, '\n', p->len)) != NULL) {
			len = nl - p->buf;
			m = json_loadb(p->buf, len, 0, &jerr);
			cr_assert_not_null(m, "labd sent a line that is not"
			    " JSON: %s (%.*s)", jerr.text, (int)len, p->buf);
			memmove(p->buf, nl + 1, p->len - len - 1);
			p->len -= len + 1;
			return m;
		}
		if (p->eof)
			return NULL;
		cr_assert_lt(tu_now_ms(), deadline, "no reply within 5 s");
		pump(2);
		peer_drain(p, 1);
	}
}

/* One request, its reply. */
static json_t *
call(struct peer *p, const char *line)
{
	json_t	*m;

	peer_say(p, line);
	peer_say(p, "\n");
	cr_assert_not_null(m = peer_msg(p), "labd hung up on %s", line);
	return m;
}

/* Nothing more from labd within ms, and the connection still open. */
static int
peer_quiet(struct peer *p, int ms)
{
	pump(ms);
	peer_drain(p, 1);
	return p->len == 0 && !p->eof;
}

static void
expect_ok(json_t *m, long long id)
{
	cr_expect(json_is_true(json_object_get(m, "ok")), "not ok: %s",
	    json_dumps(m, JSON_COMPACT));
	cr_expect_eq(json_integer_value(json_object_get(m, "id")), id);
}

/* An error reply with that code whose message is exactly message. */
static void
expect_err(json_t *m, const char *code, const char *message)
{
	json_t	*e = json_object_get(m, "error");

	cr_assert(json_is_false(json_object_get(m, "ok")), "not an error:"
	    " %s", json_dumps(m, JSON_COMPACT));
	cr_expect_str_eq(json_string_value(json_object_get(e, "code")), code);
	if (message != NULL)
		cr_expect_str_eq(json_string_value(json_object_get(e,
		    "message")), message);
}

static const char *
err_message(json_t *m)
{
	return json_string_value(json_object_get(json_object_get(m, "error"),
	    "message"));
}

/* A string member of the reply's result. */
static const char *
result_str(json_t *m, const char *key)
{
	return json_string_value(json_object_get(json_object_get(m, "result"),
	    key));
}

TestSuite(control, .init = control_setup, .fini = control_teardown,
    .timeout = 60);

/* --- framing ---------------------------------------------------------------- */

Test(control, two_requests_in_one_write)
{
	struct peer	 p;
	json_t		*a, *b;

	peer_open(&p);
	peer_say(&p, "{\"id\":1,\"cmd\":\"hello\"}\n"
	    "{\"id\":2,\"cmd\":\"echo\",\"args\":{\"name\":\"ann\"}}\n");
	cr_assert_not_null(a = peer_msg(&p));
	cr_assert_not_null(b = peer_msg(&p));
	expect_ok(a, 1);
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(a,
	    "result"), "protocol")), LABD_PROTO_VERSION);
	expect_ok(b, 2);
	cr_expect_str_eq(result_str(b, "name"), "ann");
	json_decref(a);
	json_decref(b);
	peer_close(&p);
}

Test(control, one_request_over_two_writes)
{
	struct peer	 p;
	json_t		*m;

	peer_open(&p);
	peer_say(&p, "{\"id\":3,\"cmd\":\"ec");
	cr_expect(peer_quiet(&p, 30), "a reply before the line was whole");
	peer_say(&p, "ho\",\"args\":{\"name\":\"bea\"}}\n");
	cr_assert_not_null(m = peer_msg(&p));
	expect_ok(m, 3);
	cr_expect_str_eq(result_str(m, "name"), "bea");
	json_decref(m);
	peer_close(&p);
}

Test(control, empty_lines_are_skipped)
{
	struct peer	 p;
	json_t		*m;

	peer_open(&p);
	peer_say(&p, "\n\n{\"id\":4,\"cmd\":\"hello\"}\n\n");
	cr_assert_not_null(m = peer_msg(&p));
	expect_ok(m, 4);
	json_decref(m);
	cr_expect(peer_quiet(&p, 30), "an empty line got a reply: %.*s",
	    (int)p.len, p.buf);
	peer_close(&p);
}

/* A request of exactly LABD_MAX_LINE bytes is still one. */
Test(control, line_of_max_length_is_served)
{
	struct peer	 p;
	const char	*req = "{\"id\":5,\"cmd\":\"hello\"}";
	char		*line = tu_realloc(NULL, LABD_MAX_LINE + 1);
	json_t		*m;

	memset(line, ' ', LABD_MAX_LINE);
	memcpy(line, req, strlen(req));
	line[LABD_MAX_LINE] = '\n';
	peer_open(&p);
	cr_assert_eq(peer_send(&p, line, LABD_MAX_LINE + 1), 0);
	cr_assert_not_null(m = peer_msg(&p));
	expect_ok(m, 5);
	json_decref(m);
	m = call(&p, "{\"id\":6,\"cmd\":\"hello\"}");
	expect_ok(m, 6);
	json_decref(m);
	free(line);
	peer_close(&p);
}

static void
too_long(size_t len, int newline)
{
	struct peer	 p;
	char		*line = tu_realloc(NULL, len + 1);
	json_t		*m;
	char		 want[128];

	memset(line, 'a', len);
	line[len] = '\n';
	peer_open(&p);
	/* labd may hang up before it has read it all. */
	(void)peer_send(&p, line, len + (newline ? 1 : 0));
	free(line);
	cr_assert_not_null(m = peer_msg(&p), "closed without a word");
	snprintf(want, sizeof(want), "request longer than %d bytes,"
	    " connection closed", LABD_MAX_LINE);
	expect_err(m, LABD_E_BAD_REQUEST, want);
	cr_expect(json_is_null(json_object_get(m, "id")));
	json_decref(m);
	cr_expect_null(m = peer_msg(&p), "a second line after the refusal");
	cr_expect(p.eof, "the connection stays open");
	peer_close(&p);
}

Test(control, line_too_long_with_its_newline_closes)
{
	too_long(LABD_MAX_LINE + 1, 1);
}

Test(control, line_too_long_without_end_closes)
{
	too_long(LABD_MAX_LINE + 65536, 0);
}

/* --- malformed requests ----------------------------------------------------- */

Test(control, bad_json_is_refused_and_the_connection_lives)
{
	struct peer	 p;
	json_t		*m;

	peer_open(&p);
	m = call(&p, "{\"id\":7,\"cmd\":");
	expect_err(m, LABD_E_BAD_REQUEST, NULL);
	cr_expect_not_null(strstr(err_message(m), "not a JSON object"));
	json_decref(m);
	m = call(&p, "[1,2,3]");
	expect_err(m, LABD_E_BAD_REQUEST,
	    "request is not a JSON object: wrong type");
	json_decref(m);
	m = call(&p, "{\"id\":8,\"cmd\":\"hello\"}");
	expect_ok(m, 8);
	json_decref(m);
	peer_close(&p);
}

Test(control, request_without_cmd)
{
	struct peer	 p;
	json_t		*m;

	peer_open(&p);
	m = call(&p, "{\"id\":9}");
	expect_err(m, LABD_E_BAD_REQUEST, "request has no \"cmd\" string");
	cr_expect_eq(json_integer_value(json_object_get(m, "id")), 9);
	json_decref(m);
	m = call(&p, "{\"id\":10,\"cmd\":5}");
	expect_err(m, LABD_E_BAD_REQUEST, "request has no \"cmd\" string");
	json_decref(m);
	peer_close(&p);
}

Test(control, id_of_another_type)
{
	struct peer	 p;
	json_t		*m;

	peer_open(&p);
	m = call(&p, "{\"id\":[1],\"cmd\":\"hello\"}");
	expect_err(m, LABD_E_BAD_REQUEST, "id must be a number or a string");
	cr_expect(json_is_null(json_object_get(m, "id")));
	json_decref(m);
	m = call(&p, "{\"id\":\"s-1\",\"cmd\":\"hello\"}");
	cr_expect_str_eq(json_string_value(json_object_get(m, "id")), "s-1");
	json_decref(m);
	peer_close(&p);
}

Test(control, unknown_command)
{
	struct peer	 p;
	json_t		*m;

	peer_open(&p);
	m = call(&p, "{\"id\":11,\"cmd\":\"vm.explode\",\"args\":{}}");
	expect_err(m, LABD_E_UNKNOWN,
	    "unknown command \"vm.explode\" (help lists them)");
	json_decref(m);
	peer_close(&p);
}

/* --- the argument checks ---------------------------------------------------- */

Test(control, missing_required_argument)
{
	struct peer	 p;
	json_t		*m;

	peer_open(&p);
	m = call(&p, "{\"id\":12,\"cmd\":\"echo\"}");
	expect_err(m, LABD_E_BAD_REQUEST,
	    "echo: \"name\" is required (a string)");
	json_decref(m);
	m = call(&p, "{\"id\":13,\"cmd\":\"echo\",\"args\":{\"count\":1}}");
	expect_err(m, LABD_E_BAD_REQUEST,
	    "echo: \"name\" is required (a string)");
	json_decref(m);
	peer_close(&p);
}

Test(control, argument_of_the_wrong_type)
{
	static const struct {
		const char	*args, *message;
	} cases[] = {
		{ "{\"name\":5}", "echo: \"name\" must be a string" },
		{ "{\"name\":null}", "echo: \"name\" must be a string" },
		{ "{\"name\":\"a\",\"count\":\"1\"}",
		  "echo: \"count\" must be an integer" },
		{ "{\"name\":\"a\",\"count\":1.5}",
		  "echo: \"count\" must be an integer" },
		{ "{\"name\":\"a\",\"force\":1}",
		  "echo: \"force\" must be a boolean" },
		{ "{\"name\":\"a\",\"opts\":[]}",
		  "echo: \"opts\" must be an object" },
		{ "{\"name\":\"a\",\"list\":{}}",
		  "echo: \"list\" must be an array" },
	};
	struct peer	 p;
	char		 line[256];
	json_t		*m;
	size_t		 i;

	peer_open(&p);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(line, sizeof(line), "{\"id\":%zu,\"cmd\":\"echo\","
		    "\"args\":%s}", 100 + i, cases[i].args);
		m = call(&p, line);
		expect_err(m, LABD_E_BAD_REQUEST, cases[i].message);
		cr_expect_eq(json_integer_value(json_object_get(m, "id")),
		    (json_int_t)(100 + i));
		json_decref(m);
	}
	peer_close(&p);
}

Test(control, unknown_argument)
{
	struct peer	 p;
	json_t		*m;

	peer_open(&p);
	m = call(&p, "{\"id\":14,\"cmd\":\"echo\",\"args\":{\"name\":\"a\","
	    "\"colour\":\"red\"}}");
	expect_err(m, LABD_E_BAD_REQUEST, "echo: unknown argument \"colour\";"
	    " it takes name, count, force, opts, list");
	json_decref(m);
	m = call(&p, "{\"id\":15,\"cmd\":\"hello\",\"args\":{\"x\":1}}");
	expect_err(m, LABD_E_BAD_REQUEST,
	    "hello: unknown argument \"x\"; it takes none");
	json_decref(m);
	peer_close(&p);
}

Test(control, args_not_an_object)
{
	struct peer	 p;
	json_t		*m;

	peer_open(&p);
	m = call(&p, "{\"id\":16,\"cmd\":\"echo\",\"args\":\"name\"}");
	expect_err(m, LABD_E_BAD_REQUEST, "echo: \"args\" must be an object");
	json_decref(m);
	peer_close(&p);
}

/* The handler runs with what was given: absent optional keys stay absent. */
Test(control, optional_arguments)
{
	struct peer	 p;
	json_t		*m, *want;

	peer_open(&p);
	m = call(&p, "{\"id\":17,\"cmd\":\"echo\",\"args\":{\"name\":\"a\"}}");
	expect_ok(m, 17);
	want = json_pack("{s:s}", "name", "a");
	cr_expect(json_equal(json_object_get(m, "result"), want),
	    "the handler saw %s", json_dumps(json_object_get(m, "result"),
	    JSON_COMPACT));
	json_decref(want);
	json_decref(m);
	m = call(&p, "{\"id\":18,\"cmd\":\"echo\",\"args\":{\"name\":\"a\","
	    "\"count\":3,\"force\":false,\"opts\":{},\"list\":[1]}}");
	expect_ok(m, 18);
	want = json_pack("{s:s,s:i,s:b,s:{},s:[i]}", "name", "a", "count", 3,
	    "force", 0, "opts", "list", 1);
	cr_expect(json_equal(json_object_get(m, "result"), want));
	json_decref(want);
	json_decref(m);
	peer_close(&p);
}

/* --- help and events ------------------------------------------------------- */

Test(control, help_lists_the_table_with_its_arguments)
{
	struct peer	 p;
	json_t		*m, *list, *echo, *a;
	size_t		 i;

	peer_open(&p);
	m = call(&p, "{\"id\":19,\"cmd\":\"help\"}");
	expect_ok(m, 19);
	list = json_object_get(m, "result");
	cr_assert(json_is_array(list));
	cr_assert_eq(json_array_size(list), NSTUB);
	for (i = 0; i < NSTUB; i++) {
		json_t	*c = json_array_get(list, i);

		cr_expect_str_eq(json_string_value(json_object_get(c, "name")),
		    stub_cmds[i].name);
		cr_expect_str_eq(json_string_value(json_object_get(c, "help")),
		    stub_cmds[i].help);
		cr_expect_eq(json_is_true(json_object_get(c, "connection")),
		    (stub_cmds[i].flags & CMD_CONN) != 0, "%s",
		    stub_cmds[i].name);
		cr_expect_str_eq(json_string_value(json_object_get(c, "role")),
		    stub_cmds[i].flags & CMD_TA ? "ta" : "admin", "%s",
		    stub_cmds[i].name);
	}
	echo = json_array_get(list, 3);
	cr_assert_eq(json_array_size(json_object_get(echo, "args")), 5);
	a = json_array_get(json_object_get(echo, "args"), 0);
	cr_expect_str_eq(json_string_value(json_object_get(a, "key")), "name");
	cr_expect_str_eq(json_string_value(json_object_get(a, "type")),
	    "string");
	cr_expect(json_is_true(json_object_get(a, "required")));
	cr_expect_str_eq(json_string_value(json_object_get(a, "help")),
	    "a name");
	a = json_array_get(json_object_get(echo, "args"), 1);
	cr_expect_str_eq(json_string_value(json_object_get(a, "key")),
	    "count");
	cr_expect_str_eq(json_string_value(json_object_get(a, "type")),
	    "integer");
	cr_expect(json_is_false(json_object_get(a, "required")));
	a = json_array_get(json_object_get(echo, "args"), 4);
	cr_expect_str_eq(json_string_value(json_object_get(a, "type")),
	    "array");
	cr_expect_eq(json_array_size(json_object_get(json_array_get(list, 0),
	    "args")), 0);
	json_decref(m);
	peer_close(&p);
}

Test(control, events_go_to_subscribers_only)
{
	struct peer	 sub, other;
	json_t		*m;

	peer_open(&sub);
	peer_open(&other);
	m = call(&sub, "{\"id\":20,\"cmd\":\"events.subscribe\"}");
	expect_ok(m, 20);
	json_decref(m);
	m = call(&other, "{\"id\":21,\"cmd\":\"hello\"}");
	json_decref(m);
	events_fire("vm.state", NULL, json_pack("{s:s}", "vm", "c-ann"));
	cr_assert_not_null(m = peer_msg(&sub));
	cr_expect_str_eq(json_string_value(json_object_get(m, "event")),
	    "vm.state");
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(m,
	    "data"), "vm")), "c-ann");
	json_decref(m);
	cr_expect(peer_quiet(&other, 30), "an event reached a client that did"
	    " not subscribe");
	peer_close(&sub);
	peer_close(&other);
}

/* A reply that comes after its client left reaches nobody else. */
Test(control, late_reply_to_a_gone_client_is_dropped)
{
	struct peer	 a, b;
	json_t		*m;

	peer_open(&a);
	peer_say(&a, "{\"id\":22,\"cmd\":\"later\"}\n");
	pump(10);
	peer_close(&a);
	peer_open(&b);
	m = call(&b, "{\"id\":23,\"cmd\":\"hello\"}");
	expect_ok(m, 23);
	json_decref(m);
	cr_expect(peer_quiet(&b, 150), "another client got %.*s",
	    (int)b.len, b.buf);
	peer_close(&b);
}

/* --- a client that does not read ------------------------------------------- */

Test(control, client_that_does_not_read_is_dropped)
{
	struct peer	 slow, p;
	json_t		*m;
	long long	 deadline;
	int		 i, n = 40;	/* replies of 1 MiB: 40 MiB asked for */

	peer_open(&slow);
	for (i = 0; i < n; i++) {
		char	line[128];

		snprintf(line, sizeof(line), "{\"id\":%d,\"cmd\":\"big\","
		    "\"args\":{\"bytes\":1048576}}\n", i);
		if (peer_send(&slow, line, strlen(line)) == -1)
			break;	/* already dropped */
		pump(1);
	}
	/* labd is still there for everyone else. */
	peer_open(&p);
	m = call(&p, "{\"id\":24,\"cmd\":\"hello\"}");
	expect_ok(m, 24);
	json_decref(m);
	/* The slow one gets what was in flight, then the end. */
	deadline = tu_now_ms() + 10000;
	while (!slow.eof && tu_now_ms() < deadline) {
		pump(2);
		peer_drain(&slow, 0);
	}
	cr_expect(slow.eof, "the client that did not read is still"
	    " connected");
	cr_expect_lt(slow.total, (size_t)n * 1048576, "it got all %d"
	    " replies (%zu bytes)", n, slow.total);
	peer_close(&slow);
	peer_close(&p);
}

/* --- the table ------------------------------------------------------------ */

TestSuite(control_table, .init = loop_setup, .fini = control_teardown);

static void
table_refused(const struct cmd *table, size_t n, const char *want)
{
	char	err[LABD_ERRLEN] = "";

	cr_expect_eq(control_listen(sock_path, NULL, table, n, err,
	    sizeof(err)), -1, "a bad table was taken");
	cr_expect_str_eq(err, want);
	cr_expect_eq(access(sock_path, F_OK), -1, "it listens all the same");
}

Test(control_table, command_twice_is_refused)
{
	const struct cmd	table[] = {
		{ .name = "hello", .fn = control_hello },
		{ .name = "echo", .fn = stub_echo },
		{ .name = "echo", .fn = stub_big },
	};

	table_refused(table, 3, "command table: echo twice");
}

Test(control_table, argument_twice_is_refused)
{
	const struct cmd	table[] = {
		{ .name = "echo", .fn = stub_echo, .args = {
			{ "name", ARG_STRING, ARG_REQUIRED, NULL },
			{ "name", ARG_INTEGER, ARG_OPTIONAL, NULL },
		} },
	};

	table_refused(table, 1, "command table: echo: \"name\" twice");
}

Test(control_table, command_without_handler_is_refused)
{
	const struct cmd	table[] = {
		{ .name = "hello", .fn = control_hello },
		{ .name = "void" },
	};

	table_refused(table, 2, "command table: entry 1 has no name or no"
	    " handler");
}

Test(control_table, the_stub_table_is_taken)
{
	char	err[LABD_ERRLEN] = "";

	cr_expect_eq(control_listen(sock_path, NULL, stub_cmds, NSTUB, err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_eq(access(sock_path, F_OK), 0);
}

/* --- the socket file ------------------------------------------------------ */

TestSuite(control_socket, .init = loop_setup, .fini = control_teardown);

/* A folder others may write to is refused, and nothing is made in it. */
Test(control_socket, folder_writable_by_others_is_refused)
{
	char	err[LABD_ERRLEN] = "", want[PATH_MAX + 64];

	cr_assert_eq(chmod(tmp_dir, 0777), 0);
	cr_expect_eq(control_listen(sock_path, NULL, stub_cmds, NSTUB, err,
	    sizeof(err)), -1, "it listens in a folder anyone can write");
	snprintf(want, sizeof(want), "the control socket's folder %s is"
	    " owned by uid ", tmp_dir);
	cr_expect(strncmp(err, want, strlen(want)) == 0, "err: %s", err);
	cr_expect(strstr(err, "with mode 0777") != NULL, "err: %s", err);
	cr_expect(strstr(err, "chmod go-w it") != NULL, "err: %s", err);
	cr_expect_eq(access(sock_path, F_OK), -1, "a socket was made");
}

Test(control_socket, folder_writable_by_its_group_is_refused)
{
	char	err[LABD_ERRLEN] = "";

	cr_assert_eq(chmod(tmp_dir, 0770), 0);
	cr_expect_eq(control_listen(sock_path, NULL, stub_cmds, NSTUB, err,
	    sizeof(err)), -1, "it listens in a folder its group can write");
	cr_expect(strstr(err, "with mode 0770") != NULL, "err: %s", err);
}

/* Without a group, the socket is its owner's alone, from the start. */
Test(control_socket, no_group_means_mode_0600)
{
	struct stat	st;
	char		err[LABD_ERRLEN] = "";

	umask(0);	/* what labd inherits must not matter */
	cr_assert_eq(control_listen(sock_path, NULL, stub_cmds, NSTUB, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(lstat(sock_path, &st), 0);
	cr_expect(S_ISSOCK(st.st_mode));
	cr_expect_eq(st.st_mode & 07777, 0600, "mode %04o",
	    (unsigned)(st.st_mode & 07777));
	cr_expect_eq(umask(022), 0, "the umask was not put back");
}

/* Something else under the socket's name is left alone. */
Test(control_socket, file_in_the_way_is_kept)
{
	char	err[LABD_ERRLEN] = "";
	int	fd;

	cr_assert_geq(fd = open(sock_path, O_CREAT | O_WRONLY, 0600), 0);
	close(fd);
	cr_expect_eq(control_listen(sock_path, NULL, stub_cmds, NSTUB, err,
	    sizeof(err)), -1, "it listens over a file");
	cr_expect(strstr(err, "exists and is not a socket") != NULL, "err: %s",
	    err);
	cr_expect_eq(access(sock_path, F_OK), 0, "the file was removed");
}

/* A socket left by a labd that died is replaced. */
Test(control_socket, stale_socket_is_replaced)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	char			err[LABD_ERRLEN] = "";
	int			fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	cr_assert_geq(fd = socket(AF_UNIX, SOCK_STREAM, 0), 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	cr_expect_eq(control_listen(sock_path, NULL, stub_cmds, NSTUB, err,
	    sizeof(err)), 0, "%s", err);
}

/* --- roles ----------------------------------------------------------------- */

/* Ids no account has: /etc/group knows nothing of them. */
#define T_UID		4444
#define T_ADMIN		4242
#define T_TA		4343
#define T_OTHER		4545

static void
roles_setup(void)
{
	struct control_roles	roles = { T_ADMIN, T_TA, "admins", "tas" };
	char			err[LABD_ERRLEN];

	loop_setup();
	if (geteuid() != 0)
		cr_skip_test("needs root (a peer of another uid)");
	/* The peer, of another uid, must reach the socket. */
	cr_assert_eq(chmod(tmp_dir, 0755), 0);
	cr_assert_eq(control_listen(sock_path, &roles, stub_cmds, NSTUB, err,
	    sizeof(err)), 0, "control_listen: %s", err);
}

TestSuite(control_roles, .init = roles_setup, .fini = control_teardown,
    .timeout = 60);

/*
 * line sent by a peer of uid T_UID, effective gid gid and those groups:
 * a child takes them on, connects and writes labd's first line back over
 * a pipe while the loop runs here.  That line as JSON, NULL when labd
 * hung up without a word.
 */
static json_t *
call_as(gid_t gid, const gid_t *groups, size_t ngroups, const char *line)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct pollfd		 pfd;
	char			 buf[4096];
	size_t			 len = 0;
	ssize_t			 n;
	pid_t			 pid;
	int			 pp[2], fd, st;

	cr_assert_eq(pipe(pp), 0);
	cr_assert_neq(pid = fork(), -1);
	if (pid == 0) {
		close(pp[0]);
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
		if (setgroups(ngroups, groups) == -1 || setgid(gid) == -1 ||
		    setuid(T_UID) == -1 ||
		    (fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
		    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
			dprintf(pp[1], "child: %s", strerror(errno));
			_exit(1);
		}
		/*
		 * labd may refuse and hang up before the line is written:
		 * its answer is still there to read.
		 */
		signal(SIGPIPE, SIG_IGN);
		if (write(fd, line, strlen(line)) == (ssize_t)strlen(line))
			(void)!write(fd, "\n", 1);
		while (len < sizeof(buf) && (n = read(fd, buf + len,
		    sizeof(buf) - len)) > 0) {
			len += n;
			if (memchr(buf, '\n', len) != NULL)
				break;
		}
		(void)!write(pp[1], buf, len);
		_exit(0);
	}
	close(pp[1]);
	pfd.fd = pp[0];
	pfd.events = POLLIN;
	for (;;) {
		pump(2);
		if (poll(&pfd, 1, 0) == 1) {
			n = read(pp[0], buf + len, sizeof(buf) - 1 - len);
			if (n <= 0)
				break;
			len += n;
		}
	}
	close(pp[0]);
	buf[len] = '\0';
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", buf);
	if (len == 0)
		return NULL;
	return json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
}

Test(control_roles, ta_runs_what_the_table_marks)
{
	gid_t	 g[] = { T_OTHER, T_TA };
	json_t	*m;

	cr_assert_not_null(m = call_as(T_OTHER, g, 2,
	    "{\"id\":1,\"cmd\":\"peek\"}"));
	expect_ok(m, 1);
	json_decref(m);
	cr_assert_not_null(m = call_as(T_OTHER, g, 2,
	    "{\"id\":2,\"cmd\":\"hello\"}"));
	expect_ok(m, 2);
	json_decref(m);
}

Test(control_roles, ta_is_refused_the_rest_with_the_role_named)
{
	gid_t	 g[] = { T_TA };
	json_t	*m;

	cr_assert_not_null(m = call_as(T_OTHER, g, 1,
	    "{\"id\":3,\"cmd\":\"echo\",\"args\":{\"name\":\"x\"}}"));
	expect_err(m, LABD_E_DENIED, "echo: refused to uid 4444, whose role is"
	    " ta (group tas); it takes the admin role (group admins, root or"
	    " labd's own user)");
	cr_expect_eq(json_integer_value(json_object_get(m, "id")), 3);
	json_decref(m);
}

/* The groups are the peer's own, which no /etc/group lists here. */
Test(control_roles, admin_by_a_supplementary_group)
{
	gid_t	 g[] = { T_OTHER, T_TA, T_ADMIN };
	json_t	*m;

	cr_assert_not_null(m = call_as(T_OTHER, g, 3,
	    "{\"id\":4,\"cmd\":\"echo\",\"args\":{\"name\":\"x\"}}"));
	expect_ok(m, 4);
	json_decref(m);
}

Test(control_roles, admin_by_the_effective_gid)
{
	json_t	*m;

	cr_assert_not_null(m = call_as(T_ADMIN, NULL, 0,
	    "{\"id\":5,\"cmd\":\"echo\",\"args\":{\"name\":\"x\"}}"));
	expect_ok(m, 5);
	json_decref(m);
}

/* More groups than labd's first guess: the ta group comes last. */
Test(control_roles, many_groups)
{
	gid_t	 g[200];
	json_t	*m;
	size_t	 i;

	for (i = 0; i < 199; i++)
		g[i] = 5000 + i;
	g[199] = T_TA;
	cr_assert_not_null(m = call_as(T_OTHER, g, 200,
	    "{\"id\":6,\"cmd\":\"peek\"}"));
	expect_ok(m, 6);
	json_decref(m);
}

Test(control_roles, neither_group_is_refused_at_the_door)
{
	gid_t	 g[] = { T_OTHER };
	json_t	*m;

	cr_assert_not_null(m = call_as(T_OTHER, g, 1,
	    "{\"id\":7,\"cmd\":\"peek\"}"), "hung up without a word");
	expect_err(m, LABD_E_DENIED, "uid 4444 may not drive labd: the admin"
	    " role is group admins, root or labd's own user; the ta role is"
	    " group tas (a group joined since the login counts after the next"
	    " login)");
	cr_expect(json_is_null(json_object_get(m, "id")));
	json_decref(m);
}

/* With a ta group, connect() must work for both groups: mode 0666. */
Test(control_roles, socket_mode_with_a_ta_group)
{
	struct stat	st;

	cr_assert_eq(lstat(sock_path, &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0666, "mode %04o",
	    (unsigned)(st.st_mode & 07777));
	cr_expect_eq(st.st_gid, T_ADMIN);
}

Test(control_socket, admin_group_alone_means_0660_and_that_group)
{
	struct control_roles	roles = { T_ADMIN, (gid_t)-1, "admins", "" };
	struct stat		st;
	char			err[LABD_ERRLEN] = "";

	if (geteuid() != 0)
		cr_skip_test("needs root (chown to any group)");
	cr_assert_eq(control_listen(sock_path, &roles, stub_cmds, NSTUB, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(lstat(sock_path, &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0660, "mode %04o",
	    (unsigned)(st.st_mode & 07777));
	cr_expect_eq(st.st_gid, T_ADMIN);
}
