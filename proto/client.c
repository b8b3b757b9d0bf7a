/* SPDX-License-Identifier: ISC */
/*
 * client.c - the client side of the control protocol (see client.h).
 * Blocking I/O: labctl is a one-shot program and labtui polls the fd
 * before it reads.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/client.h"
#include "proto/proto.h"

struct client_conn {
	int	 fd;
	int	 passed;	/* a descriptor labd sent (SCM_RIGHTS), or -1 */
	long	 next_id;
	char	*buf;
	size_t	 len, cap;
};

const char *
client_socket_path(const char *explicit_path)
{
	const char	*env;

	if (explicit_path != NULL && *explicit_path != '\0')
		return explicit_path;
	if ((env = getenv(LABD_SOCKET_ENV)) != NULL && *env != '\0')
		return env;
	return LABD_DEFAULT_SOCKET;
}

/* [labd] socket and run_dir of a labd.ini, resolved as labd resolves them. */
struct config_socket {
	char	base[PATH_MAX];
	char	socket[PATH_MAX];
	char	run_dir[PATH_MAX];
};

static int
config_socket_key(void *arg, const char *section, const char *key,
    const char *value, char *err, size_t errlen)
{
	struct config_socket	*x = arg;
	char			*dst;

	if (key == NULL || strcmp(section, "labd") != 0)
		return 0;
	if (strcmp(key, "socket") == 0)
		dst = x->socket;
	else if (strcmp(key, "run_dir") == 0)
		dst = x->run_dir;
	else
		return 0;
	if (*value == '\0') {
		snprintf(err, errlen, "[labd] %s: needs a path", key);
		return -1;
	}
	if (ini_path(x->base, value, dst, PATH_MAX) == -1) {
		snprintf(err, errlen, "[labd] %s: path is too long", key);
		return -1;
	}
	return 0;
}

int
client_config_socket(const char *ini, char *out, size_t outlen, char *err,
    size_t errlen)
{
	struct config_socket	 x = { 0 };
	int			 n;

	if (ini_load(ini, LABD_CONFIG_MAX, x.base, config_socket_key, &x, NULL,
	    err, errlen) == -1)
		return -1;
	if (x.socket[0] != '\0')
		n = snprintf(out, outlen, "%s", x.socket);
	else if (x.run_dir[0] != '\0')
		n = snprintf(out, outlen, "%s/labd.sock", x.run_dir);
	else
		n = snprintf(out, outlen, "%s", LABD_DEFAULT_SOCKET);
	if (n < 0 || (size_t)n >= outlen) {
		snprintf(err, errlen, "%s: the socket path is too long", ini);
		return -1;
	}
	return 0;
}

struct client_conn *
client_open(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct client_conn	*c;
	int			 fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path %s is too long", path);
		return NULL;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, errlen, "cannot connect to labd at %s: %s%s",
		    path, strerror(errno), errno == ENOENT ||
		    errno == ECONNREFUSED ? " (is labd running? -s or "
		    LABD_SOCKET_ENV " names another socket)" : "");
		close(fd);
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->fd = fd;
	c->passed = -1;
	return c;
}

void
client_close(struct client_conn *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	if (c->passed != -1)
		close(c->passed);
	free(c->buf);
	free(c);
}

int
client_take_fd(struct client_conn *c)
{
	int	fd = c->passed;

	c->passed = -1;
	return fd;
}

/*
 * read(2) that also takes a descriptor labd passes with a reply (the
 * serial console of vm.console): kept for client_take_fd(), the last one
 * sent winning.
 */
static ssize_t
read_passing(struct client_conn *c, char *buf, size_t len)
{
	struct msghdr	 mh = { 0 };
	struct iovec	 iov = { buf, len };
	union {
		struct cmsghdr	hdr;
		char		b[CMSG_SPACE(sizeof(int) * 4)];
	}		 cm;
	struct cmsghdr	*cmsg;
	ssize_t		 n;
	int		 fds[4];
	size_t		 i, k;

	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.b;
	mh.msg_controllen = sizeof(cm.b);
	if ((n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC)) <= 0)
		return n;
	for (cmsg = CMSG_FIRSTHDR(&mh); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&mh, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(fds, CMSG_DATA(cmsg), k * sizeof(int));
		for (i = 0; i < k; i++) {
			if (c->passed != -1)
				close(c->passed);
			c->passed = fds[i];
		}
	}
	return n;
}

int
client_fd(const struct client_conn *c)
{
	return c->fd;
}

json_t *
client_read(struct client_conn *c, char *err, size_t errlen)
{
	json_error_t	 jerr;
	json_t		*msg;
	char		*nl;
	ssize_t		 n;

	while (c->buf == NULL || (nl = memchr(c->buf, '\n', c->len)) == NULL) {
		if (c->cap - c->len < 65536) {
			char	*p = realloc(c->buf, c->cap + 65536);

			if (p == NULL) {
				snprintf(err, errlen, "out of memory");
				return NULL;
			}
			c->buf = p;
			c->cap += 65536;
		}
		n = read_passing(c, c->buf + c->len, c->cap - c->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "labd closed the connection%s%s",
			    n ? ": " : "", n ? strerror(errno) : "");
			return NULL;
		}
		c->len += n;
	}
	msg = json_loadb(c->buf, nl - c->buf, 0, &jerr);
	c->len -= nl + 1 - c->buf;
	memmove(c->buf, nl + 1, c->len);
	if (msg == NULL)
		snprintf(err, errlen, "labd sent a line that is not JSON: %s",
		    jerr.text);
	return msg;
}

long
client_send(struct client_conn *c, const char *cmd, json_t *args, char *err,
    size_t errlen)
{
	json_t	*req;
	char	*s;
	size_t	 len, off = 0;
	long	 id = ++c->next_id;

	req = json_pack("{s:I,s:s,s:o}", "id", (json_int_t)id, "cmd", cmd,
	    "args", args ? json_incref(args) : json_object());
	s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (s == NULL) {
		snprintf(err, errlen, "cannot encode the request");
		return -1;
	}
	len = strlen(s);
	s[len++] = '\n';	/* json_dumps left room: it NUL-terminated */
	while (off < len) {
		ssize_t	n = send(c->fd, s + off, len - off, MSG_NOSIGNAL);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "cannot send to labd: %s",
			    strerror(errno));
			free(s);
			return -1;
		}
		off += n;
	}
	free(s);
	return id;
}

json_t *
client_call(struct client_conn *c, const char *cmd, json_t *args,
    client_event_cb cb, void *arg, char *err, size_t errlen)
{
	json_t	*msg;
	long	 id;

	if ((id = client_send(c, cmd, args, err, errlen)) == -1) {
		/*
		 * labd refuses a peer with no role as it connects, with one
		 * line, and hangs up: by the time we send, the door may be
		 * shut.  That line says why, better than "Broken pipe".
		 */
		char	 rerr[64];

		msg = client_read(c, rerr, sizeof(rerr));
		if (msg != NULL && json_is_null(json_object_get(msg, "id")))
			return msg;
		json_decref(msg);
		return NULL;
	}
	for (;;) {
		json_t	*rid;

		if ((msg = client_read(c, err, errlen)) == NULL)
			return NULL;
		if (json_object_get(msg, "event") != NULL) {
			if (cb != NULL)
				cb(arg, json_string_value(json_object_get(msg,
				    "event")), json_object_get(msg, "data"));
			json_decref(msg);
			continue;
		}
		rid = json_object_get(msg, "id");
		if (json_is_integer(rid) && json_integer_value(rid) == id)
			return msg;
		/* A reply with id null: labd refused the request outright. */
		if (json_is_null(rid) || rid == NULL)
			return msg;
		json_decref(msg);
	}
}

const char *
jstr(json_t *o, const char *key)
{
	const char	*s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

long long
jint(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

void
fmt_size(long long bytes, char *out, size_t len)
{
	if (bytes <= 0)
		snprintf(out, len, "-");
	else if (bytes < 1024 * 1024)
		snprintf(out, len, "%lldK", bytes / 1024);
	else if (bytes < 1024LL * 1024 * 1024)
		snprintf(out, len, "%.1fM", bytes / 1048576.0);
	else
		snprintf(out, len, "%.1fG", bytes / 1073741824.0);
}

void
fmt_duration(long long s, char *out, size_t len)
{
	if (s <= 0)
		snprintf(out, len, "-");
	else if (s < 60)
		snprintf(out, len, "%llds", s);
	else if (s < 3600)
		snprintf(out, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(out, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}
