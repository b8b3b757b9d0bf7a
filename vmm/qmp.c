/* SPDX-License-Identifier: ISC */
/*
 * qmp.c - a native client of the QEMU Machine Protocol.
 *
 * QMP is JSON objects, one a line, over the monitor socket: a greeting,
 * then capabilities negotiation, then commands and their replies, with
 * asynchronous events ({"event": ...}) interleaved anywhere.  The stream
 * is read into a buffer and cut at newlines, so a message split across
 * reads (or several in one read) is handled the same way.
 *
 * Every command carries an id that the reply echoes.  One command is in
 * flight at a time, but a command that timed out may still be answered
 * later, so a reply with another id is dropped rather than taken for the
 * answer to the next command.  Events that arrive while a command waits
 * are queued for qmp_dispatch(), which labd calls when the socket is
 * readable.
 *
 * A command may carry one file descriptor (qmp_execute_fd()): QEMU, which
 * runs as an unprivileged user and cannot open our files by name, takes
 * the descriptors that come with a command's bytes (SCM_RIGHTS) for that
 * command, e.g. add-fd.  So the descriptor rides on the command's first
 * byte, never ahead of it on a line of its own.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "vmm/vmm.h"
#include "vmm/vmm_int.h"

/* No sane QMP message comes near this; a peer that sends one is broken. */
#define QMP_LINE_MAX	(8 * 1024 * 1024)
/* Events nobody dispatches are dropped past this, oldest first. */
#define QMP_EVENTS_MAX	1024

struct qmp {
	int		 fd;
	int		 timeout_ms;
	int		 eof;
	long long	 next_id;
	char		*buf;
	size_t		 len, cap;
	json_t		*events;	/* array of queued event objects */
};

enum {
	READ_MSG = 1,	/* *msg holds a message */
	READ_NONE = 0,	/* nothing complete yet (non-blocking only) */
	READ_EOF = -1,
	READ_ERR = -2,	/* err filled */
};

/*
 * One complete message from the buffer, if there is one.  Blank lines
 * are skipped; a line that is not a JSON object is a protocol error.
 */
static int
take_line(struct qmp *q, json_t **msg, char *err, size_t errlen)
{
	json_error_t	 je;
	char		*nl;
	size_t		 linelen, used;

	for (;;) {
		if (q->len == 0 ||
		    (nl = memchr(q->buf, '\n', q->len)) == NULL)
			return READ_NONE;
		used = nl - q->buf + 1;
		linelen = used - 1;
		while (linelen > 0 && (q->buf[linelen - 1] == '\r' ||
		    q->buf[linelen - 1] == ' ' || q->buf[linelen - 1] == '\t'))
			linelen--;
		*msg = linelen == 0 ? NULL :
		    json_loadb(q->buf, linelen, 0, &je);
		memmove(q->buf, q->buf + used, q->len - used);
		q->len -= used;
		if (linelen == 0)
			continue;
		if (*msg == NULL || !json_is_object(*msg)) {
			snprintf(err, errlen, "QMP: bad message: %s",
			    *msg == NULL ? je.text : "not an object");
			json_decref(*msg);
			*msg = NULL;
			return READ_ERR;
		}
		return READ_MSG;
	}
}

/* Read what the socket has; wait up to timeout_ms (0: do not wait). */
static int
fill(struct qmp *q, int timeout_ms, char *err, size_t errlen)
{
	struct pollfd	 pfd = { q->fd, POLLIN, 0 };
	char		*nb;
	size_t		 ncap;
	ssize_t		 n;
	int		 r;

	if (q->eof)
		return READ_EOF;
	if (q->cap - q->len < 4096) {
		if (q->cap >= QMP_LINE_MAX) {
			snprintf(err, errlen, "QMP: message longer than %d"
			    " bytes", QMP_LINE_MAX);
			return READ_ERR;
		}
		ncap = q->cap == 0 ? 16384 : q->cap * 2;
		if ((nb = realloc(q->buf, ncap)) == NULL) {
			snprintf(err, errlen, "QMP: out of memory");
			return READ_ERR;
		}
		q->buf = nb;
		q->cap = ncap;
	}
	while ((r = poll(&pfd, 1, timeout_ms)) == -1 && errno == EINTR)
		;
	if (r == -1) {
		snprintf(err, errlen, "QMP: poll: %s", strerror(errno));
		return READ_ERR;
	}
	if (r == 0)
		return READ_NONE;
	while ((n = recv(q->fd, q->buf + q->len, q->cap - q->len,
	    MSG_DONTWAIT)) == -1 && errno == EINTR)
		;
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return READ_NONE;
		if (errno == ECONNRESET) {
			q->eof = 1;
			return READ_EOF;
		}
		snprintf(err, errlen, "QMP: read: %s", strerror(errno));
		return READ_ERR;
	}
	if (n == 0) {
		q->eof = 1;
		return READ_EOF;
	}
	q->len += n;
	return READ_MSG;
}

/* The next message, waiting until deadline (a vmm_now_ms() time). */
static int
next_msg(struct qmp *q, long long deadline, json_t **msg, char *err,
    size_t errlen)
{
	long long	left;
	int		r;

	for (;;) {
		if ((r = take_line(q, msg, err, errlen)) != READ_NONE)
			return r;
		if ((left = deadline - vmm_now_ms()) <= 0)
			return READ_NONE;
		if ((r = fill(q, (int)left, err, errlen)) == READ_EOF ||
		    r == READ_ERR)
			return r;
	}
}

static void
queue_event(struct qmp *q, json_t *msg)
{
	if (json_array_size(q->events) >= QMP_EVENTS_MAX)
		json_array_remove(q->events, 0);
	json_array_append(q->events, msg);
}

static int
send_all(struct qmp *q, const char *s, size_t len, long long deadline,
    char *err, size_t errlen)
{
	struct pollfd	pfd = { q->fd, POLLOUT, 0 };
	size_t		off = 0;
	ssize_t		n;
	long long	left;

	while (off < len) {
		n = send(q->fd, s + off, len - off, MSG_NOSIGNAL |
		    MSG_DONTWAIT);
		if (n >= 0) {
			off += n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			if (errno == EPIPE || errno == ECONNRESET)
				q->eof = 1;
			snprintf(err, errlen, "%s", strerror(errno));
			return -1;
		}
		if ((left = deadline - vmm_now_ms()) <= 0) {
			snprintf(err, errlen, "socket stays full");
			return -1;
		}
		poll(&pfd, 1, (int)left);
	}
	return 0;
}

/*
 * send_all() of s whose first byte carries fd as SCM_RIGHTS ancillary
 * data.  The kernel sends the descriptor with the first segment that
 * leaves, however short; the rest of s follows as plain bytes.
 */
static int
send_with_fd(struct qmp *q, const char *s, size_t len, int fd,
    long long deadline, char *err, size_t errlen)
{
	struct pollfd	 pfd = { q->fd, POLLOUT, 0 };
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*c;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cm;
	ssize_t		 n;
	long long	 left;

	for (;;) {
		memset(&msg, 0, sizeof(msg));
		memset(&cm, 0, sizeof(cm));
		iov.iov_base = (void *)s;
		iov.iov_len = len;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
		if ((n = sendmsg(q->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT)) >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			if (errno == EPIPE || errno == ECONNRESET)
				q->eof = 1;
			snprintf(err, errlen, "%s", strerror(errno));
			return -1;
		}
		if ((left = deadline - vmm_now_ms()) <= 0) {
			snprintf(err, errlen, "socket stays full");
			return -1;
		}
		poll(&pfd, 1, (int)left);
	}
	return send_all(q, s + n, len - n, deadline, err, errlen);
}

/*
 * Send cmd (with fd when it is not -1) and wait for its reply.  Returns
 * 1 with *reply, 0 when the peer closed while we waited (err filled), -1
 * on error, on timeout or when it had closed before we asked (err
 * filled).
 */
static int
transact(struct qmp *q, int fd, const char *cmd, json_t *args,
    json_t **reply, char *err, size_t errlen)
{
	json_t		*req = NULL, *msg = NULL, *id;
	char		*text = NULL, why[VMM_ERRLEN];
	long long	 deadline = vmm_now_ms() + q->timeout_ms, myid;
	int		 r, rc = -1;

	*reply = NULL;
	if (q->eof) {
		/* Closed before we asked: no sign that cmd did anything. */
		snprintf(err, errlen, "%s: QMP connection closed", cmd);
		return -1;
	}
	myid = q->next_id++;
	if ((req = json_pack("{s:s,s:I}", "execute", cmd, "id",
	    (json_int_t)myid)) == NULL ||
	    (args != NULL && json_object_set(req, "arguments", args) == -1) ||
	    (text = json_dumps(req, JSON_COMPACT)) == NULL) {
		snprintf(err, errlen, "%s: cannot encode the command", cmd);
		goto fail;
	}
	/* To QMP the newline is whitespace; it keeps the stream one a line. */
	if ((fd == -1 ? send_all(q, text, strlen(text), deadline, why,
	    sizeof(why)) : send_with_fd(q, text, strlen(text), fd, deadline,
	    why, sizeof(why))) == -1 ||
	    send_all(q, "\n", 1, deadline, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: cannot send: %s", cmd, why);
		rc = q->eof ? 0 : -1;
		goto fail;
	}
	for (;;) {
		r = next_msg(q, deadline, &msg, why, sizeof(why));
		if (r == READ_NONE) {
			snprintf(err, errlen, "%s: no reply within %d ms", cmd,
			    q->timeout_ms);
			goto fail;
		}
		if (r == READ_EOF) {
			snprintf(err, errlen, "%s: QMP connection closed", cmd);
			rc = 0;
			goto fail;
		}
		if (r == READ_ERR) {
			snprintf(err, errlen, "%s: %s", cmd, why);
			goto fail;
		}
		if (json_object_get(msg, "event") != NULL) {
			queue_event(q, msg);
		} else if (json_object_get(msg, "return") != NULL ||
		    json_object_get(msg, "error") != NULL) {
			/*
			 * No id at all: QEMU could not parse the request
			 * far enough to see it; ours is the only one out.
			 */
			id = json_object_get(msg, "id");
			if (id == NULL || (json_is_integer(id) &&
			    json_integer_value(id) == myid)) {
				*reply = msg;
				msg = NULL;
				rc = 1;
				goto fail;
			}
		}
		/* Anything else (a stale reply, an unknown key) is dropped. */
		json_decref(msg);
		msg = NULL;
	}
fail:
	json_decref(msg);
	json_decref(req);
	free(text);
	return rc;
}

int
qmp_execute_fd(struct qmp *q, int fd, const char *cmd, json_t *args,
    json_t **ret, char *err, size_t errlen)
{
	json_t		*reply, *e;
	const char	*desc;

	if (ret != NULL)
		*ret = NULL;
	if (transact(q, fd, cmd, args, &reply, err, errlen) != 1)
		return -1;
	if ((e = json_object_get(reply, "error")) != NULL) {
		desc = json_string_value(json_object_get(e, "desc"));
		snprintf(err, errlen, "%s: %s", cmd, desc != NULL ? desc :
		    "error without a description");
		json_decref(reply);
		return -1;
	}
	if (ret != NULL)
		*ret = json_incref(json_object_get(reply, "return"));
	json_decref(reply);
	return 0;
}

int
qmp_execute(struct qmp *q, const char *cmd, json_t *args, json_t **ret,
    char *err, size_t errlen)
{
	return qmp_execute_fd(q, -1, cmd, args, ret, err, errlen);
}

struct qmp *
qmp_open_fd(int fd, int timeout_ms, char *err, size_t errlen)
{
	struct qmp	*q;
	json_t		*msg = NULL;
	char		 why[VMM_ERRLEN];
	int		 r;

	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->events = json_array()) == NULL) {
		snprintf(err, errlen, "QMP: out of memory");
		free(q);
		close(fd);
		return NULL;
	}
	q->fd = fd;
	q->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
	q->next_id = 1;

	r = next_msg(q, vmm_now_ms() + q->timeout_ms, &msg, why, sizeof(why));
	if (r == READ_NONE) {
		/* A chardev socket serves one client; others wait unheard. */
		snprintf(err, errlen, "QMP: no greeting within %d ms (is"
		    " another client connected?)", q->timeout_ms);
		goto fail;
	}
	if (r == READ_EOF) {
		snprintf(err, errlen, "QMP: closed before the greeting");
		goto fail;
	}
	if (r == READ_ERR) {
		snprintf(err, errlen, "%s", why);
		goto fail;
	}
	if (json_object_get(msg, "QMP") == NULL) {
		snprintf(err, errlen, "QMP: the peer's first message is not a"
		    " QMP greeting");
		goto fail;
	}
	json_decref(msg);
	msg = NULL;
	if (qmp_execute(q, "qmp_capabilities", NULL, NULL, err, errlen) == -1)
		goto fail;
	return q;
fail:
	json_decref(msg);
	qmp_close(q);
	return NULL;
}

struct qmp *
qmp_open(const char *path, int timeout_ms, char *err, size_t errlen)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: path too long for a socket", path);
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, errlen, "cannot connect to %s: %s", path,
		    strerror(errno));
		close(fd);
		return NULL;
	}
	return qmp_open_fd(fd, timeout_ms, err, errlen);
}

void
qmp_close(struct qmp *q)
{
	if (q == NULL)
		return;
	if (q->fd != -1)
		close(q->fd);
	json_decref(q->events);
	free(q->buf);
	free(q);
}

int
qmp_fd(const struct qmp *q)
{
	return q->fd;
}

int
qmp_set_timeout(struct qmp *q, int timeout_ms)
{
	int	old = q->timeout_ms;

	q->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
	return old;
}

static void
deliver(json_t *msg, qmp_event_cb cb, void *arg)
{
	const char	*name;

	if ((name = json_string_value(json_object_get(msg, "event"))) != NULL)
		cb(arg, name, json_object_get(msg, "data"));
}

int
qmp_dispatch(struct qmp *q, qmp_event_cb cb, void *arg)
{
	json_t	*msg;
	char	 why[VMM_ERRLEN];
	int	 n = 0, r;

	while (json_array_size(q->events) > 0) {
		msg = json_incref(json_array_get(q->events, 0));
		json_array_remove(q->events, 0);
		deliver(msg, cb, arg);
		json_decref(msg);
		n++;
	}
	for (;;) {
		while ((r = take_line(q, &msg, why, sizeof(why))) == READ_MSG) {
			/* Late replies to timed-out commands land here too. */
			if (json_object_get(msg, "event") != NULL) {
				deliver(msg, cb, arg);
				n++;
			}
			json_decref(msg);
		}
		if (r == READ_ERR)
			return -1;
		if ((r = fill(q, 0, why, sizeof(why))) == READ_NONE)
			return n;
		if (r == READ_EOF || r == READ_ERR)
			return -1;
	}
}

int
qmp_query_status(struct qmp *q, char *status, size_t statuslen, char *err,
    size_t errlen)
{
	json_t		*ret;
	const char	*s;

	if (qmp_execute(q, "query-status", NULL, &ret, err, errlen) == -1)
		return -1;
	if ((s = json_string_value(json_object_get(ret, "status"))) == NULL) {
		snprintf(err, errlen, "query-status: no status in the reply");
		json_decref(ret);
		return -1;
	}
	snprintf(status, statuslen, "%s", s);
	json_decref(ret);
	return 0;
}

int
qmp_powerdown(struct qmp *q, char *err, size_t errlen)
{
	return qmp_execute(q, "system_powerdown", NULL, NULL, err, errlen);
}

int
qmp_quit(struct qmp *q, char *err, size_t errlen)
{
	json_t		*reply = NULL, *e;
	const char	*desc;
	int		 r;

	/* QEMU may close before its reply gets out: that is success too. */
	if ((r = transact(q, -1, "quit", NULL, &reply, err, errlen)) != 1)
		return r == 0 ? 0 : -1;
	if ((e = json_object_get(reply, "error")) != NULL) {
		desc = json_string_value(json_object_get(e, "desc"));
		snprintf(err, errlen, "quit: %s", desc != NULL ? desc :
		    "error without a description");
		json_decref(reply);
		return -1;
	}
	json_decref(reply);
	return 0;
}
