/* SPDX-License-Identifier: ISC */
/*
 * vnc_web.c - noVNC in the browser: the files of Debian's novnc package
 * (/usr/share/novnc, not a copy) over HTTP, in the VNC thread.  The
 * page's websocket goes to the RFB port, where libvncserver tells a
 * websocket from a viewer by its first bytes, and logs in with the same
 * passwords.  "/" is a page of labd's that sends the browser to
 * vnc.html with the RFB port filled in.
 *
 * libvncserver has an HTTP server of its own (httpDir), but it serves
 * one connection at a time and drops it for the next, which loses the
 * scripts a browser fetches side by side.  This one is as small: GET of
 * a file, no directory listings, no path with "..", files under the
 * package's folder only (a link leading out of it is refused), one
 * request a connection, non-blocking, at most WEB_CONNS at once, each
 * gone after WEB_IDLE_MS.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labd/vnc.h"

#define WEB_CONNS	32
#define WEB_REQMAX	4096
#define WEB_FILEMAX	(4 << 20)
#define WEB_IDLE_MS	10000

struct web_conn {
	int	 fd;			/* -1: free */
	char	 req[WEB_REQMAX];
	size_t	 len;
	char	*out;			/* the whole response */
	size_t	 outlen, sent;
	int64_t	 since;
};

struct vnc_web {
	int		 lfd;
	char		 root[PATH_MAX];	/* resolved */
	char		*index;			/* "/" */
	struct web_conn	 c[WEB_CONNS];
};

static const struct {
	const char	*ext;
	const char	*type;
} types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "application/javascript" },	/* modules need it */
	{ ".css", "text/css" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
	{ ".json", "application/json" },
	{ ".woff", "font/woff" },
	{ ".ttf", "font/ttf" },
	{ ".oga", "audio/ogg" },
	{ ".mp3", "audio/mpeg" },
};

struct vnc_web *
vnc_web_new(int lfd, const char *root, const char *rfb_ip, unsigned rfb_port)
{
	struct vnc_web	*w = xcalloc(1, sizeof(*w));
	int		 i;

	w->lfd = lfd;
	if (realpath(root, w->root) == NULL)
		snprintf(w->root, sizeof(w->root), "%s", root);
	for (i = 0; i < WEB_CONNS; i++)
		w->c[i].fd = -1;
	/* The page's own parameters go after '#': nothing is sent. */
	w->index = xasprintf("<!DOCTYPE html>\n<html><head><meta charset="
	    "\"utf-8\"><title>labd</title>\n<meta http-equiv=\"refresh\""
	    " content=\"0; url=vnc.html#host=%s&amp;port=%u&amp;resize=scale\">"
	    "\n</head><body><a href=\"vnc.html#host=%s&amp;port=%u&amp;"
	    "resize=scale\">the screens</a></body></html>\n", rfb_ip,
	    rfb_port, rfb_ip, rfb_port);
	return w;
}

static void
conn_close(struct web_conn *c)
{
	close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void
respond(struct web_conn *c, const char *status, const char *type,
    const char *body, size_t len)
{
	char	head[256];
	int	n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-cache\r\n"
	    "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
	    status, type, len);
	c->out = xmalloc(n + len);
	memcpy(c->out, head, n);
	memcpy(c->out + n, body, len);
	c->outlen = n + len;
	c->sent = 0;
}

static void
not_found(struct web_conn *c)
{
	respond(c, "404 Not Found", "text/plain", "not found\n", 10);
}

/* A path of the package: letters, digits, '.', '-', '_', '/'; no "..". */
static int
path_ok(const char *p)
{
	const char	*s;

	if (*p != '/' || strstr(p, "..") != NULL || strstr(p, "//") != NULL)
		return 0;
	for (s = p; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' ||
		    *s == '_' || *s == '/'))
			return 0;
	return 1;
}

static void
serve_file(struct vnc_web *w, struct web_conn *c, const char *path)
{
	char		 full[PATH_MAX], real[PATH_MAX], *body = NULL;
	const char	*type = "application/octet-stream", *ext;
	struct stat	 st;
	size_t		 i, rootlen = strlen(w->root), got = 0;
	ssize_t		 n;
	int		 fd = -1;

	if (!path_ok(path) || (size_t)snprintf(full, sizeof(full), "%s%s",
	    w->root, path) >= sizeof(full) || realpath(full, real) == NULL ||
	    strncmp(real, w->root, rootlen) != 0 || real[rootlen] != '/' ||
	    (fd = open(real, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > WEB_FILEMAX) {
		if (fd != -1)
			close(fd);
		not_found(c);
		return;
	}
	body = xmalloc(st.st_size + 1);
	while (got < (size_t)st.st_size &&
	    (n = read(fd, body + got, st.st_size - got)) > 0)
		got += n;
	close(fd);
	if ((ext = strrchr(path, '.')) != NULL)
		for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcmp(ext, types[i].ext) == 0)
				type = types[i].type;
	respond(c, "200 OK", type, body, got);
	free(body);
}

/* The request is in: its response. */
static void
request(struct vnc_web *w, struct web_conn *c)
{
	char	*path, *end;

	if (strncmp(c->req, "GET ", 4) != 0) {
		respond(c, "405 Method Not Allowed", "text/plain",
		    "GET only\n", 9);
		return;
	}
	path = c->req + 4;
	if ((end = strpbrk(path, " \r\n")) == NULL) {
		respond(c, "400 Bad Request", "text/plain", "bad request\n",
		    12);
		return;
	}
	*end = '\0';
	path[strcspn(path, "?#")] = '\0';
	if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0)
		respond(c, "200 OK", "text/html; charset=utf-8", w->index,
		    strlen(w->index));
	else
		serve_file(w, c, path);
}

static void
conn_run(struct vnc_web *w, struct web_conn *c, int64_t now)
{
	ssize_t	n;

	if (now - c->since > WEB_IDLE_MS) {
		conn_close(c);
		return;
	}
	if (c->out == NULL) {
		n = recv(c->fd, c->req + c->len, sizeof(c->req) - 1 - c->len,
		    MSG_DONTWAIT);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
			conn_close(c);
			return;
		}
		if (n > 0) {
			c->len += n;
			c->req[c->len] = '\0';
		}
		if (strstr(c->req, "\r\n\r\n") != NULL ||
		    strstr(c->req, "\n\n") != NULL)
			request(w, c);
		else if (c->len == sizeof(c->req) - 1)
			respond(c, "431 Request Header Fields Too Large",
			    "text/plain", "too large\n", 10);
		else
			return;
	}
	while (c->sent < c->outlen) {
		n = send(c->fd, c->out + c->sent, c->outlen - c->sent,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR)
				conn_close(c);
			return;
		}
		c->sent += n;
	}
	conn_close(c);
}

int
vnc_web_pollfds(struct vnc_web *w, struct pollfd *pfd, int max)
{
	int	i, n = 0;

	if (w == NULL || max <= 0)
		return 0;
	pfd[n].fd = w->lfd;
	pfd[n++].events = POLLIN;
	for (i = 0; i < WEB_CONNS && n < max; i++) {
		if (w->c[i].fd == -1)
			continue;
		pfd[n].fd = w->c[i].fd;
		pfd[n++].events = w->c[i].out != NULL ? POLLOUT : POLLIN;
	}
	return n;
}

void
vnc_web_run(struct vnc_web *w, int64_t now)
{
	struct web_conn	*c;
	int		 i, fd;

	if (w == NULL)
		return;
	for (i = 0; i < WEB_CONNS; i++) {
		c = &w->c[i];
		if (c->fd != -1)
			conn_run(w, c, now);
	}
	for (;;) {
		if ((fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC)) == -1)
			return;
		for (i = 0; i < WEB_CONNS && w->c[i].fd != -1; i++)
			;
		if (i == WEB_CONNS) {
			close(fd);	/* full: the browser tries again */
			continue;
		}
		w->c[i].fd = fd;
		w->c[i].since = now;
	}
}
