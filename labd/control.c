/* SPDX-License-Identifier: ISC */
/*
 * control.c - the control socket: JSON lines over a UNIX socket, and the
 * dispatcher of the command table main.c hands to control_listen().
 *
 * The peer's identity comes from SO_PEERCRED, never from the message.  A
 * malformed request gets an error reply; an oversized line or a client
 * that does not read its replies is disconnected.  Neither ever stalls
 * another client or the daemon: reads and writes are non-blocking and
 * output is buffered per connection.
 *
 * Every request is checked against its command's argument list here, once,
 * before the handler runs; the handlers check only values.  This file
 * knows the commands only through the table, so that it calls nothing of
 * cmd*.c and the handlers can call it (reply_ok, reply_err) freely.
 *
 * Replies to long operations are sent later, from a kept copy of the
 * request that names the connection by id: if the client has gone by
 * then, the reply is dropped.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/epoll.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labd/labd.h"

#define CONTROL_MAX_OUT	(16 * 1024 * 1024)	/* unread replies before we drop */

struct conn {
	uint64_t	 id;
	int		 fd;
	uid_t		 uid;
	gid_t		 gid;
	pid_t		 pid;
	char		*in;
	size_t		 inlen, incap;
	char		*out;
	size_t		 outlen, outcap;
	int		 subscribed;
	struct conn	*next;
};

static int		 listen_fd = -1;
static char		 listen_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static gid_t		 admin_gid = (gid_t)-1;
static struct conn	*conns;
static uint64_t		 next_conn_id;
static const struct cmd	*cmds;		/* control_listen()'s table */
static size_t		 ncmds;

static const struct {
	const char	*name;		/* in help */
	const char	*phrase;	/* in "must be ..." */
} arg_types[] = {
	[ARG_STRING] =	{ "string", "a string" },
	[ARG_INTEGER] =	{ "integer", "an integer" },
	[ARG_BOOLEAN] =	{ "boolean", "a boolean" },
	[ARG_OBJECT] =	{ "object", "an object" },
	[ARG_ARRAY] =	{ "array", "an array" },
};
#define NARG_TYPES	(sizeof(arg_types) / sizeof(arg_types[0]))

static void	conn_free(struct conn *);

static struct conn *
conn_by_id(uint64_t id)
{
	struct conn	*c;

	for (c = conns; c != NULL; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

/* May this uid drive labd?  root, our own user, or a member of the group. */
static int
conn_allowed(uid_t uid, gid_t gid)
{
	struct passwd	 pw, *pwp;
	char		 buf[4096];
	gid_t		 groups[256];
	int		 ngroups = 256, i;

	if (uid == 0 || uid == geteuid())
		return 1;
	if (admin_gid == (gid_t)-1)
		return 0;
	if (gid == admin_gid)
		return 1;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) != 0 || pwp == NULL)
		return 0;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &ngroups) == -1)
		return 0;
	for (i = 0; i < ngroups; i++)
		if (groups[i] == admin_gid)
			return 1;
	return 0;
}

static void
conn_write_ready(struct loop *l, struct conn *c)
{
	ssize_t	n;

	while (c->outlen > 0) {
		n = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			conn_free(c);
			return;
		}
		memmove(c->out, c->out + n, c->outlen - n);
		c->outlen -= n;
	}
	loop_mod_fd(l, c->fd, EPOLLIN | (c->outlen ? EPOLLOUT : 0));
}

static void
conn_send(struct conn *c, json_t *msg)
{
	char	*s;
	size_t	 len;

	if ((s = json_dumps(msg, JSON_COMPACT)) == NULL) {
		/* Out of memory, or a string that is not UTF-8: drop it. */
		log_warnx("client %llu: a message could not be encoded,"
		    " dropped", (unsigned long long)c->id);
		return;
	}
	len = strlen(s);
	if (c->outlen + len + 1 > CONTROL_MAX_OUT) {
		log_warnx("client %llu (uid %u) does not read its replies,"
		    " dropped", (unsigned long long)c->id, (unsigned)c->uid);
		free(s);
		conn_free(c);
		return;
	}
	if (c->outlen + len + 1 > c->outcap) {
		c->outcap = (c->outlen + len + 1) * 2;
		c->out = xrealloc(c->out, c->outcap);
	}
	memcpy(c->out + c->outlen, s, len);
	c->out[c->outlen + len] = '\n';
	c->outlen += len + 1;
	free(s);
	conn_write_ready(labd->loop, c);
}

struct req *
req_keep(const struct req *r)
{
	struct req	*k = xcalloc(1, sizeof(*k));

	*k = *r;
	k->id = r->id ? json_incref(r->id) : NULL;
	return k;
}

void
req_free(struct req *r)
{
	if (r == NULL)
		return;
	json_decref(r->id);
	free(r);
}

static void
reply_send(const struct req *r, json_t *msg)
{
	struct conn	*c = conn_by_id(r->client);

	json_object_set(msg, "id", r->id ? r->id : json_null());
	if (c != NULL)
		conn_send(c, msg);
	json_decref(msg);
}

void
reply_ok(const struct req *r, json_t *result)
{
	json_t	*msg = json_object();

	json_object_set_new(msg, "ok", json_true());
	json_object_set_new(msg, "result", result ? result : json_object());
	reply_send(r, msg);
}


void
reply_err(const struct req *r, const char *code, const char *fmt, ...)
{
	json_t	*msg = json_object();
	char	 text[2048];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	utf8_scrub(text);
	json_object_set_new(msg, "ok", json_false());
	json_object_set_new(msg, "error", json_pack("{s:s,s:s}", "code", code,
	    "message", text));
	reply_send(r, msg);
}

static void
req_done_reply(void *arg, const char *code, const char *msg, json_t *result)
{
	struct req	*k = arg;

	if (code == NULL)
		reply_ok(k, result);
	else
		reply_err(k, code, "%s", msg);
	req_free(k);
}

/* A string argument, or NULL when absent or not a string. */
const char *
arg_str(json_t *args, const char *key)
{
	return json_string_value(json_object_get(args, key));
}

struct done
req_done(const struct req *r)
{
	return (struct done){ req_done_reply, req_keep(r) };
}

/* Every event on the bus goes to the clients that subscribed. */
static void
control_event(const struct event *ev, void *arg)
{
	struct conn	*c, *next;
	json_t		*msg = json_pack("{s:s,s:O}", "event", ev->kind, "data",
			    ev->data);

	for (c = conns; c != NULL; c = next) {
		next = c->next;	/* conn_send may free c */
		if (c->subscribed)
			conn_send(c, msg);
	}
	json_decref(msg);
}

void
control_hello(const struct req *r, json_t *args)
{
	reply_ok(r, json_pack("{s:i,s:s}", "protocol", LABD_PROTO_VERSION,
	    "version", LABD_VERSION));
}

void
control_subscribe(const struct req *r, json_t *args)
{
	struct conn	*c = conn_by_id(r->client);

	if (c != NULL)
		c->subscribed = 1;
	reply_ok(r, NULL);
}

static size_t
nargs_of(const struct cmd *cmd)
{
	size_t	n = 0;

	while (n < CMD_MAXARGS && cmd->args[n].key != NULL)
		n++;
	return n;
}

/* The table as clients see it: each command, its help and arguments. */
void
control_help(const struct req *r, json_t *args)
{
	const struct cmd_arg	*a;
	json_t			*list = json_array(), *al;
	size_t			 i, k;

	for (i = 0; i < ncmds; i++) {
		al = json_array();
		for (k = 0; k < nargs_of(&cmds[i]); k++) {
			a = &cmds[i].args[k];
			json_array_append_new(al, json_pack("{s:s,s:s,s:b,s:s}",
			    "key", a->key, "type", arg_types[a->type].name,
			    "required", a->need == ARG_REQUIRED,
			    "help", a->help ? a->help : ""));
		}
		json_array_append_new(list, json_pack("{s:s,s:s,s:o,s:b}",
		    "name", cmds[i].name, "help", cmds[i].help ?
		    cmds[i].help : "", "args", al,
		    "connection", (cmds[i].flags & CMD_CONN) != 0));
	}
	reply_ok(r, list);
}

static const struct cmd *
command_find(const struct cmd *table, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(table[i].name, name) == 0)
			return &table[i];
	return NULL;
}

static const struct cmd_arg *
arg_find(const struct cmd *cmd, const char *key)
{
	size_t	i;

	for (i = 0; i < nargs_of(cmd); i++)
		if (strcmp(cmd->args[i].key, key) == 0)
			return &cmd->args[i];
	return NULL;
}

static int
arg_type_ok(enum arg_type type, json_t *v)
{
	switch (type) {
	case ARG_STRING:
		return json_is_string(v);
	case ARG_INTEGER:
		return json_is_integer(v);
	case ARG_BOOLEAN:
		return json_is_boolean(v);
	case ARG_OBJECT:
		return json_is_object(v);
	case ARG_ARRAY:
		return json_is_array(v);
	}
	return 0;
}

/*
 * args against cmd's list: the required keys there, every key listed and
 * of its type.  0, or -1 after a bad_request reply that names the command
 * and the key.
 */
static int
args_check(const struct req *r, const struct cmd *cmd, json_t *args)
{
	const struct cmd_arg	*a;
	const char		*key;
	json_t			*v;
	char			 keys[512];
	size_t			 i, n = nargs_of(cmd), len;

	for (i = 0; i < n; i++) {
		a = &cmd->args[i];
		if (a->need == ARG_REQUIRED &&
		    json_object_get(args, a->key) == NULL) {
			reply_err(r, LABD_E_BAD_REQUEST, "%s: \"%s\" is"
			    " required (%s)", cmd->name, a->key,
			    arg_types[a->type].phrase);
			return -1;
		}
	}
	json_object_foreach(args, key, v) {
		if ((a = arg_find(cmd, key)) == NULL) {
			keys[0] = '\0';
			for (i = 0; i < n; i++) {
				len = strlen(keys);
				snprintf(keys + len, sizeof(keys) - len, "%s%s",
				    i ? ", " : "", cmd->args[i].key);
			}
			reply_err(r, LABD_E_BAD_REQUEST, "%s: unknown argument"
			    " \"%.64s\"; it takes %s", cmd->name, key,
			    n ? keys : "none");
			return -1;
		}
		if (!arg_type_ok(a->type, v)) {
			reply_err(r, LABD_E_BAD_REQUEST, "%s: \"%s\" must be"
			    " %s", cmd->name, a->key,
			    arg_types[a->type].phrase);
			return -1;
		}
	}
	return 0;
}

/* A table the dispatcher can trust: every name and key once, handlers. */
static int
table_check(const struct cmd *table, size_t n, char *err, size_t errlen)
{
	const struct cmd	*c;
	size_t			 i, j, k, na;

	for (i = 0; i < n; i++) {
		c = &table[i];
		if (c->name == NULL || c->fn == NULL) {
			errf(err, errlen, "command table: entry %zu has no"
			    " name or no handler", i);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (strcmp(table[j].name, c->name) == 0) {
				errf(err, errlen, "command table: %s twice",
				    c->name);
				return -1;
			}
		na = nargs_of(c);
		for (k = 0; k < na; k++) {
			if ((size_t)c->args[k].type >= NARG_TYPES) {
				errf(err, errlen, "command table: %s: \"%s\""
				    " has no type", c->name, c->args[k].key);
				return -1;
			}
			for (j = 0; j < k; j++)
				if (strcmp(c->args[j].key, c->args[k].key) ==
				    0) {
					errf(err, errlen, "command table: %s:"
					    " \"%s\" twice", c->name,
					    c->args[k].key);
					return -1;
				}
		}
	}
	return 0;
}

/*
 * line as a request of table: its command, with r->id and *argsp (the
 * checked arguments) references for the caller to drop, or NULL after
 * the error reply.  Apart from control_dispatch() only the fuzzer
 * (tests/fuzz/fuzz_control.c) calls it, to run no handler.
 */
const struct cmd *
control_parse(const struct cmd *table, size_t n, struct req *r,
    const char *line, size_t len, json_t **argsp)
{
	json_error_t	 jerr;
	json_t		*msg, *args;
	const char	*name;
	const struct cmd *cmd = NULL;

	*argsp = NULL;
	r->id = NULL;
	if ((msg = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL || !json_is_object(msg)) {
		reply_err(r, LABD_E_BAD_REQUEST, "request is not a JSON"
		    " object: %s", msg ? "wrong type" : jerr.text);
		json_decref(msg);
		return NULL;
	}
	r->id = json_object_get(msg, "id");
	if (r->id != NULL && !json_is_integer(r->id) &&
	    !json_is_string(r->id)) {
		r->id = NULL;
		reply_err(r, LABD_E_BAD_REQUEST, "id must be a number or a"
		    " string");
		goto done;
	}
	name = json_string_value(json_object_get(msg, "cmd"));
	args = json_object_get(msg, "args");
	if (name == NULL) {
		reply_err(r, LABD_E_BAD_REQUEST, "request has no \"cmd\""
		    " string");
		goto done;
	}
	if ((cmd = command_find(table, n, name)) == NULL) {
		reply_err(r, LABD_E_UNKNOWN, "unknown command \"%.64s\""
		    " (help lists them)", name);
		goto done;
	}
	if (args != NULL && !json_is_object(args)) {
		reply_err(r, LABD_E_BAD_REQUEST, "%s: \"args\" must be an"
		    " object", cmd->name);
		cmd = NULL;
		goto done;
	}
	if (args == NULL)
		args = json_object();
	else
		json_incref(args);
	if (args_check(r, cmd, args) == -1) {
		json_decref(args);
		cmd = NULL;
		goto done;
	}
	*argsp = args;
	json_incref(r->id);	/* it outlives msg */
done:
	if (cmd == NULL)
		r->id = NULL;
	json_decref(msg);
	return cmd;
}

static void
control_dispatch(struct conn *c, const char *line, size_t len)
{
	struct req	 r = { .client = c->id, .uid = c->uid, .pid = c->pid };
	const struct cmd *cmd;
	json_t		*args;

	if ((cmd = control_parse(cmds, ncmds, &r, line, len, &args)) == NULL)
		return;
	log_debug("uid %u: %s", (unsigned)c->uid, cmd->name);
	cmd->fn(&r, args);
	json_decref(args);
	json_decref(r.id);
}

/* The first line of c is longer than a request may be: answer, hang up. */
static void
conn_too_long(struct loop *l, struct conn *c)
{
	struct req	r = { .client = c->id };
	uint64_t	id = c->id;

	reply_err(&r, LABD_E_BAD_REQUEST, "request longer than %d bytes,"
	    " connection closed", LABD_MAX_LINE);
	if ((c = conn_by_id(id)) != NULL) {
		conn_write_ready(l, c);
		if ((c = conn_by_id(id)) != NULL)
			conn_free(c);
	}
}

static void
conn_read(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct conn	*c = arg;
	uint64_t	 id = c->id;
	ssize_t		 n;
	size_t		 len;
	char		*nl, *line;

	if (events & EPOLLOUT) {
		conn_write_ready(l, c);
		if (conn_by_id(id) == NULL)
			return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if (c->incap - c->inlen < 65536) {
		c->incap = c->incap ? c->incap * 2 : 65536;
		c->in = xrealloc(c->in, c->incap);
	}
	n = recv(fd, c->in + c->inlen, c->incap - c->inlen, MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_free(c);
		return;
	}
	c->inlen += n;
	/*
	 * Dispatch every complete line; a handler may free the conn.  A
	 * line too long is refused whether or not its end has come.
	 */
	while ((c = conn_by_id(id)) != NULL) {
		nl = memchr(c->in, '\n', c->inlen);
		len = nl != NULL ? (size_t)(nl - c->in) : c->inlen;
		if (len > LABD_MAX_LINE) {
			conn_too_long(l, c);
			return;
		}
		if (nl == NULL)
			break;
		line = xmalloc(len + 1);
		memcpy(line, c->in, len);
		line[len] = '\0';
		memmove(c->in, nl + 1, c->inlen - len - 1);
		c->inlen -= len + 1;
		if (len > 0)
			control_dispatch(c, line, len);
		free(line);
	}
}

static void
conn_free(struct conn *c)
{
	struct conn	**cp;

	for (cp = &conns; *cp != NULL; cp = &(*cp)->next) {
		if (*cp == c) {
			*cp = c->next;
			break;
		}
	}
	loop_del_fd(labd->loop, c->fd);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static void
control_accept(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct conn	*c;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	int		 cfd;

	if ((cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("accept");
		return;
	}
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("SO_PEERCRED");
		close(cfd);
		return;
	}
	if (!conn_allowed(cred.uid, cred.gid)) {
		const char	*msg = "{\"id\":null,\"ok\":false,\"error\":"
		    "{\"code\":\"denied\",\"message\":\"this user may not"
		    " drive labd (not root, not in the socket's group)\"}}\n";

		log_warnx("uid %u refused on the control socket",
		    (unsigned)cred.uid);
		(void)!send(cfd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
		close(cfd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->id = ++next_conn_id;
	c->fd = cfd;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	if (loop_add_fd(l, cfd, EPOLLIN, conn_read, c) == -1) {
		log_warn("epoll add client");
		close(cfd);
		free(c);
		return;
	}
	c->next = conns;
	conns = c;
}

int
control_listen(const char *path, const char *group, const struct cmd *table,
    size_t n, char *err, size_t errlen)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct group		*gr;
	int			 fd, probe;

	if (table_check(table, n, err, errlen) == -1)
		return -1;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errf(err, errlen, "socket path %s is longer than %zu bytes",
		    path, sizeof(sun.sun_path) - 1);
		return -1;
	}
	strcpy(sun.sun_path, path);
	/* A socket that answers belongs to a running labd: never steal it. */
	if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1) {
		if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			errf(err, errlen, "another labd is listening on %s",
			    path);
			return -1;
		}
		close(probe);
	}
	unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, 64) == -1) {
		errf(err, errlen, "cannot listen on %s: %s", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (group != NULL && *group != '\0' && (gr = getgrnam(group)) != NULL) {
		admin_gid = gr->gr_gid;
		if (chown(path, (uid_t)-1, admin_gid) == -1)
			log_warn("chown %s to group %s", path, group);
	} else if (group != NULL && *group != '\0')
		log_info("group %s does not exist: only root and uid %u may"
		    " use %s", group, (unsigned)geteuid(), path);
	if (chmod(path, 0660) == -1)
		log_warn("chmod %s", path);
	if (loop_add_fd(labd->loop, fd, EPOLLIN, control_accept, NULL) == -1) {
		errf(err, errlen, "epoll: %s", strerror(errno));
		close(fd);
		return -1;
	}
	listen_fd = fd;
	cmds = table;
	ncmds = n;
	snprintf(listen_path, sizeof(listen_path), "%s", path);
	events_on(NULL, control_event, NULL);
	return 0;
}

void
control_close(void)
{
	events_off(control_event, NULL);
	while (conns != NULL)
		conn_free(conns);
	if (listen_fd != -1) {
		loop_del_fd(labd->loop, listen_fd);
		close(listen_fd);
		unlink(listen_path);
		listen_fd = -1;
	}
	cmds = NULL;
	ncmds = 0;
}
