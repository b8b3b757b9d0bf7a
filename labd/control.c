/* SPDX-License-Identifier: ISC */
/*
 * control.c - the control socket: JSON lines over a UNIX socket, and the
 * dispatcher of the command table main.c hands to control_listen().
 *
 * The peer's identity comes from SO_PEERCRED and its groups from
 * SO_PEERGROUPS, never from the message.  They give the connection its
 * role once, at accept: admin (root, labd's own user, the group of
 * [labd] group) may run every command, ta (the group of [labd] ta_group)
 * only those the table marks CMD_TA; anyone else is refused.  A
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
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labd/labd.h"

#define CONTROL_MAX_OUT	(16 * 1024 * 1024)	/* unread replies before we drop */
/*
 * Clients at once: in all, and of one uid (a script gone wrong, a user
 * who opens connections and holds them).  Past them a client is told
 * why and closed.  Out of descriptors, the listener rests a while rather
 * than fail accept() in a busy loop.
 */
#define CONTROL_MAX_CONNS	1024
#define CONTROL_MAX_PER_UID	128
#define CONTROL_REST_MS		250

struct conn {
	uint64_t	 id;
	int		 fd;
	uid_t		 uid;
	gid_t		 gid;
	pid_t		 pid;
	enum role	 role;		/* from the peer's credentials, at accept */
	char		*in;
	size_t		 inlen, incap;
	char		*out;
	size_t		 outlen, outcap;
	int		 subscribed;
	struct conn	*next;
};

static int		 listen_fd = -1;
static char		 listen_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static struct control_roles roles = { (gid_t)-1, (gid_t)-1, "", "" };
static struct conn	*conns;
static uint64_t		 next_conn_id;
static int		 nconns;
static int		 listen_resting;
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

/*
 * The peer's supplementary groups as the kernel had them when it
 * connected (SO_PEERGROUPS, Linux 4.13): the groups its process really
 * holds.  /etc/group may say otherwise: a group joined since the login,
 * one dropped with setgroups() or setpriv --clear-groups, a uid with no
 * passwd entry.  The count, or -1.
 */
static int
peer_groups(int fd, gid_t **out)
{
	socklen_t	 len = 64 * sizeof(gid_t);
	gid_t		*g = NULL;

	for (;;) {
		g = xrealloc(g, len);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) == 0) {
			*out = g;
			return (int)(len / sizeof(gid_t));
		}
		/* ERANGE: len now says how much it takes. */
		if (errno != ERANGE) {
			free(g);
			return -1;
		}
	}
}

/* What may the peer do: root and our own user all, then by group. */
static enum role
conn_role(int fd, const struct ucred *cred)
{
	enum role	 role = ROLE_NONE;
	gid_t		*groups, g;
	int		 i, n;

	if (cred->uid == 0 || cred->uid == geteuid())
		return ROLE_ADMIN;
	if ((n = peer_groups(fd, &groups)) == -1) {
		log_warn("SO_PEERGROUPS of uid %u", (unsigned)cred->uid);
		return ROLE_NONE;
	}
	/* The effective gid first (SO_PEERCRED), then the others. */
	for (i = -1; i < n && role != ROLE_ADMIN; i++) {
		g = i == -1 ? cred->gid : groups[i];
		if (roles.admin_gid != (gid_t)-1 && g == roles.admin_gid)
			role = ROLE_ADMIN;
		else if (roles.ta_gid != (gid_t)-1 && g == roles.ta_gid)
			role = ROLE_TA;
	}
	free(groups);
	return role;
}

/* Who has the admin role, for messages. */
static const char *
admin_who(char *buf, size_t len)
{
	if (roles.admin_gid != (gid_t)-1)
		snprintf(buf, len, "group %s, root or labd's own user",
		    roles.admin_group);
	else
		snprintf(buf, len, "root or labd's own user");
	return buf;
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

int
req_peer(const struct req *r)
{
	struct conn	*c = conn_by_id(r->client);

	return c != NULL ? fcntl(c->fd, F_DUPFD_CLOEXEC, 0) : -1;
}

int
req_admin(const struct req *r)
{
	struct conn	*c = conn_by_id(r->client);

	return c != NULL && c->role == ROLE_ADMIN;
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

/*
 * The reply line with fd attached (SCM_RIGHTS): sent at once, before
 * anything else, so that the descriptor rides on the reply's own first
 * bytes; the rest of a short send goes the usual way.  -1 when the client
 * is gone or has replies it has not read yet.
 */
int
reply_ok_fd(const struct req *r, json_t *result, int fd)
{
	struct conn	*c = conn_by_id(r->client);
	struct msghdr	 mh = { 0 };
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cm;
	struct cmsghdr	*cmsg;
	json_t		*msg;
	char		*s;
	ssize_t		 n;
	size_t		 len;

	if (c == NULL || c->outlen > 0) {
		json_decref(result);
		return -1;
	}
	msg = json_pack("{s:O,s:b,s:o}", "id", r->id ? r->id : json_null(),
	    "ok", 1, "result", result ? result : json_object());
	s = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (s == NULL)
		return -1;
	len = strlen(s);
	s[len++] = '\n';	/* json_dumps left room: it NUL-terminated */
	iov.iov_base = s;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	memset(&cm, 0, sizeof(cm));
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	cmsg = CMSG_FIRSTHDR(&mh);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	while ((n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT)) == -1 &&
	    errno == EINTR)
		;
	if (n == -1) {
		free(s);
		return -1;
	}
	if ((size_t)n < len) {
		c->out = xrealloc(c->out, len - n);
		c->outcap = len - n;
		memcpy(c->out, s + n, len - n);
		c->outlen = len - n;
		conn_write_ready(labd->loop, c);
	}
	free(s);
	return 0;
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
		json_array_append_new(list, json_pack("{s:s,s:s,s:o,s:b,s:s}",
		    "name", cmds[i].name, "help", cmds[i].help ?
		    cmds[i].help : "", "args", al,
		    "connection", (cmds[i].flags & CMD_CONN) != 0,
		    "role", cmds[i].flags & CMD_TA ? "ta" : "admin"));
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
	struct req	 r = { .client = c->id, .uid = c->uid, .gid = c->gid,
			    .pid = c->pid };
	const struct cmd *cmd;
	json_t		*args;
	char		 who[128];

	if ((cmd = control_parse(cmds, ncmds, &r, line, len, &args)) == NULL)
		return;
	if (c->role != ROLE_ADMIN && !(cmd->flags & CMD_TA)) {
		log_warnx("uid %u (role ta): %s refused", (unsigned)c->uid,
		    cmd->name);
		reply_err(&r, LABD_E_DENIED, "%s: refused to uid %u, whose role"
		    " is ta (group %s); it takes the admin role (%s)",
		    cmd->name, (unsigned)c->uid, roles.ta_group,
		    admin_who(who, sizeof(who)));
	} else {
		log_debug("uid %u (role %s): %s", (unsigned)c->uid,
		    c->role == ROLE_ADMIN ? "admin" : "ta", cmd->name);
		cmd->fn(&r, args);
	}
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
	nconns--;
	free(c->in);
	free(c->out);
	free(c);
}

/* One error line to a client we do not keep, then the door. */
static void
conn_turn_away(int fd, const char *code, const char *text)
{
	json_t	*msg;
	char	*s;

	msg = json_pack("{s:n,s:b,s:{s:s,s:s}}", "id", "ok", 0, "error",
	    "code", code, "message", text);
	if ((s = json_dumps(msg, JSON_COMPACT)) != NULL) {
		(void)!send(fd, s, strlen(s), MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)!send(fd, "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	free(s);
	json_decref(msg);
	close(fd);
}

/* A peer with no role: it hears why. */
static void
conn_refuse(int fd, const struct ucred *cred)
{
	char	who[128], text[512];

	log_warnx("uid %u refused on the control socket", (unsigned)cred->uid);
	snprintf(text, sizeof(text), "uid %u may not drive labd: the admin"
	    " role is %s%s%s%s", (unsigned)cred->uid,
	    admin_who(who, sizeof(who)), roles.ta_gid != (gid_t)-1 ?
	    "; the ta role is group " : "", roles.ta_gid != (gid_t)-1 ?
	    roles.ta_group : "", " (a group joined since the login counts"
	    " after the next login)");
	conn_turn_away(fd, LABD_E_DENIED, text);
}

/* Too many at once, in all or of uid: NULL when there is room. */
static const char *
conn_full(uid_t uid, char *text, size_t len)
{
	struct conn	*c;
	int		 n = 0;

	if (nconns >= CONTROL_MAX_CONNS) {
		snprintf(text, len, "labd has %d clients, its most: try again"
		    " later", nconns);
		return text;
	}
	for (c = conns; c != NULL; c = c->next)
		n += c->uid == uid;
	if (n < CONTROL_MAX_PER_UID)
		return NULL;
	snprintf(text, len, "uid %u has %d connections to labd open, the"
	    " most one user may: close some", (unsigned)uid, n);
	return text;
}

static int
listen_wake(struct loop *l, void *arg)
{
	listen_resting = 0;
	if (listen_fd != -1)
		loop_mod_fd(l, listen_fd, EPOLLIN);
	return -1;	/* once */
}

/* No descriptor to accept with: stop listening for a while, say it once. */
static void
listen_rest(struct loop *l)
{
	if (listen_resting)
		return;
	log_warn("accept: not taking clients for %d ms (%d connected)",
	    CONTROL_REST_MS, nconns);
	listen_resting = 1;
	loop_mod_fd(l, listen_fd, 0);
	loop_add_timer(l, CONTROL_REST_MS, listen_wake, NULL);
}

static void
control_accept(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct conn	*c;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	enum role	 role;
	char		 text[256];
	int		 cfd;

	if ((cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM)
			listen_rest(l);
		else if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("accept");
		return;
	}
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("SO_PEERCRED");
		close(cfd);
		return;
	}
	if ((role = conn_role(cfd, &cred)) == ROLE_NONE) {
		conn_refuse(cfd, &cred);
		return;
	}
	if (conn_full(cred.uid, text, sizeof(text)) != NULL) {
		log_warnx("uid %u turned away: %s", (unsigned)cred.uid, text);
		conn_turn_away(cfd, LABD_E_BUSY, text);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->id = ++next_conn_id;
	c->fd = cfd;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	c->role = role;
	if (loop_add_fd(l, cfd, EPOLLIN, conn_read, c) == -1) {
		log_warn("epoll add client");
		close(cfd);
		free(c);
		return;
	}
	c->next = conns;
	conns = c;
	nconns++;
}

/*
 * Bind the socket path in the folder dfd, which dir_private_open()
 * checked: nobody else can put a link or a file there, so what is
 * created, chowned and checked under the name is the socket itself.  The
 * mode comes from the umask at bind() time rather than a chmod after it;
 * the group is set with fchownat() relative to the folder, which never
 * follows a link.
 */
static int
socket_bind(int dfd, const char *path, const char *base, mode_t mode,
    gid_t gid, const char *group, char *err, size_t errlen)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct stat		 st;
	mode_t			 old;
	int			 fd, probe, rc;

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
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			errf(err, errlen, "%s exists and is not a socket;"
			    " remove it or set [labd] socket", path);
			return -1;
		}
		unlinkat(dfd, base, 0);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		errf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	old = umask(~mode & 0777);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1) {
		errf(err, errlen, "cannot listen on %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	/* The folder is the one checked, unless its path moved since. */
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
		errf(err, errlen, "%s: the socket is not where it was bound"
		    " (was its folder moved?)", path);
		goto fail;
	}
	if (gid != (gid_t)-1 &&
	    fchownat(dfd, base, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW) == -1)
		log_warn("chown %s to group %s", path, group);
	if (listen(fd, 64) == -1) {
		errf(err, errlen, "cannot listen on %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

int
control_listen(const char *path, const struct control_roles *who,
    const struct cmd *table, size_t n, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	char			 dir[PATH_MAX];
	const char		*base, *slash;
	mode_t			 mode = 0600;
	int			 fd, dfd;

	if (table_check(table, n, err, errlen) == -1)
		return -1;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errf(err, errlen, "socket path %s is longer than %zu bytes",
		    path, sizeof(sun.sun_path) - 1);
		return -1;
	}
	if ((slash = strrchr(path, '/')) == NULL) {
		snprintf(dir, sizeof(dir), ".");
		base = path;
	} else {
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 :
		    (int)(slash - path), path);
		base = slash + 1;
	}
	if (*base == '\0') {
		errf(err, errlen, "socket path %s names a folder", path);
		return -1;
	}
	if (who != NULL) {
		roles.admin_gid = who->admin_gid;
		roles.ta_gid = who->ta_gid;
		snprintf(roles.admin_group, sizeof(roles.admin_group), "%s",
		    who->admin_group);
		snprintf(roles.ta_group, sizeof(roles.ta_group), "%s",
		    who->ta_group);
	}
	/*
	 * connect() takes write access to the socket file.  With one group
	 * the file lets it alone in; a second one cannot be given without
	 * an ACL, so with a ta group anyone may connect and the peer's
	 * credentials, checked at accept, are the only door.
	 */
	if (roles.ta_gid != (gid_t)-1)
		mode = 0666;
	else if (roles.admin_gid != (gid_t)-1)
		mode = 0660;
	if ((dfd = dir_private_open(dir, "the control socket's folder", err,
	    errlen)) == -1)
		return -1;
	fd = socket_bind(dfd, path, base, mode, roles.admin_gid,
	    roles.admin_group, err, errlen);
	close(dfd);
	if (fd == -1)
		return -1;
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
	roles = (struct control_roles){ (gid_t)-1, (gid_t)-1, "", "" };
}
