/* SPDX-License-Identifier: ISC */
/*
 * netperf.c - the network bench's own client and server (bench/net.sh):
 * the throughput of one TCP stream, and new connections per second made
 * one after the other.  libc only, and built static, because the same
 * binary runs as the server inside the tiny guest.
 *
 *	netperf serve PORT
 *	netperf stream HOST PORT SECONDS|SIZE
 *	netperf connrate HOST PORT SECONDS
 *
 * The server is one process that accepts, sends one byte, reads to EOF
 * and closes, then accepts the next.  Why not the guest's own servers:
 * busybox httpd and nc fork per connection and dropbear caps unfinished
 * logins per address, so under TCG the guest's fork, not the network
 * path, would set the connection rate.  Why the byte: QEMU's user-mode
 * hostfwd accepts on the host at once and only then tries the guest, so a
 * connect() that returns proves nothing there; the byte proves the
 * guest's application took the connection, on every path alike.
 *
 * stream sends zeros (TCP does not care what) and then waits for the
 * server to close, which it does only after it has read everything: the
 * time runs from before connect() to that EOF, so no byte still sitting
 * in a buffer is counted as delivered.  connrate closes each connection
 * with SO_LINGER 0, a reset, so the client piles up no TIME_WAIT ports.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NP_ERRLEN	256
#define NP_BUFLEN	(128 * 1024)
#define NP_TIMEOUT	10	/* seconds: a stalled path fails, never hangs */
#define NP_MAXSECS	3600.0
#define NP_GREETING	'N'
#define NP_SLOW		0.5	/* seconds: slower, it likely waited out a lost SYN */

struct np_target {
	struct sockaddr_in	 sin;
	const char		*host;
	unsigned		 port;
};

static char	np_buf[NP_BUFLEN];

static double
np_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --- arguments ------------------------------------------------------------- */

static int
np_parse_port(const char *s, unsigned *port, char *err, size_t errlen)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end != '\0' || errno != 0 ||
	    v == 0 || v > 65535) {
		snprintf(err, errlen, "'%.32s' is not a port (1 to 65535)", s);
		return -1;
	}
	*port = v;
	return 0;
}

static int
np_parse_target(const char *host, const char *port, struct np_target *t,
    char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	t->sin.sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &t->sin.sin_addr) != 1) {
		snprintf(err, errlen, "'%.64s' is not an IPv4 address"
		    " (like 10.0.0.2; names are not looked up)", host);
		return -1;
	}
	if (np_parse_port(port, &t->port, err, errlen) == -1)
		return -1;
	t->sin.sin_port = htons(t->port);
	t->host = host;
	return 0;
}

static int
np_parse_secs(const char *s, double *secs, char *err, size_t errlen)
{
	char	*end;

	errno = 0;
	*secs = strtod(s, &end);
	if (!isdigit((unsigned char)*s) || *end != '\0' || errno != 0 ||
	    *secs <= 0 || *secs > NP_MAXSECS) {
		snprintf(err, errlen, "'%.32s' is not a number of seconds"
		    " (more than 0, at most %.0f)", s, NP_MAXSECS);
		return -1;
	}
	return 0;
}

/*
 * SECONDS|SIZE: a plain number is seconds, a number with B, K, M or G
 * (powers of 1024) is a size.  The suffix is required for a size so
 * that "5" can mean only one thing.
 */
static int
np_parse_amount(const char *s, double *secs, unsigned long long *bytes,
    char *err, size_t errlen)
{
	static const struct { char suffix; unsigned shift; } units[] = {
		{ 'B', 0 }, { 'K', 10 }, { 'M', 20 }, { 'G', 30 },
	};
	char			*end;
	unsigned long long	 v;
	size_t			 i;

	*secs = 0;
	*bytes = 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (toupper((unsigned char)*end) != units[i].suffix)
			continue;
		if (!isdigit((unsigned char)*s) || end[1] != '\0' ||
		    errno != 0 || v == 0 || v > (1ULL << 40) >> units[i].shift)
			break;
		*bytes = v << units[i].shift;
		return 0;
	}
	if (i < sizeof(units) / sizeof(units[0]) ||
	    np_parse_secs(s, secs, err, errlen) == -1) {
		snprintf(err, errlen, "'%.32s' is neither seconds (like 10, at"
		    " most %.0f) nor a size (like 64M, at most 1T)", s,
		    NP_MAXSECS);
		return -1;
	}
	return 0;
}

/* --- sockets --------------------------------------------------------------- */

/* A connected socket, or -1.  The timeouts also bound connect(). */
static int
np_connect(const struct np_target *t, int reset, char *err, size_t errlen)
{
	struct timeval	tv = { .tv_sec = NP_TIMEOUT };
	struct linger	lg = { .l_onoff = 1, .l_linger = 0 };
	int		fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    (reset && setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)) == -1)) {
		snprintf(err, errlen, "setsockopt: %s", strerror(errno));
		goto fail;
	}
	if (connect(fd, (struct sockaddr *)&t->sin, sizeof(t->sin)) == -1) {
		snprintf(err, errlen, "connect %s:%u: %s", t->host, t->port,
		    errno == EINPROGRESS ? "no answer in 10 s" :
		    strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/*
 * Read what the server says: the greeting (want 1) or EOF (want 0).
 * EAGAIN is SO_RCVTIMEO running out.
 */
static int
np_expect(int fd, const struct np_target *t, int want, char *err,
    size_t errlen)
{
	char	c;
	ssize_t	n;

	while ((n = read(fd, &c, 1)) == -1 && errno == EINTR)
		;
	if (n == want && (want == 0 || c == NP_GREETING))
		return 0;
	if (n == -1)
		snprintf(err, errlen, "%s:%u: waiting for the server's %s: %s",
		    t->host, t->port, want ? "greeting" : "close",
		    errno == EAGAIN ? "no answer in 10 s" : strerror(errno));
	else if (n == 0)
		snprintf(err, errlen, "%s:%u: closed before the greeting (is"
		    " netperf serve listening behind it?)", t->host, t->port);
	else
		snprintf(err, errlen, "%s:%u: unexpected data; the server is"
		    " not netperf serve", t->host, t->port);
	return -1;
}

/* --- commands -------------------------------------------------------------- */

static int
np_serve(char **argv, char *err, size_t errlen)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	struct timeval		tv = { .tv_sec = 3 * NP_TIMEOUT };
	unsigned		port;
	char			greeting = NP_GREETING;
	int			fd, c, on = 1;

	if (np_parse_port(argv[0], &port, err, errlen) == -1)
		return -1;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 128) == -1) {
		snprintf(err, errlen, "listen on port %u: %s", port,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	/* A client that resets mid-write is the normal end of connrate. */
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		if ((c = accept(fd, NULL, NULL)) == -1)
			continue;	/* EINTR, ECONNABORTED: the next one */
		/* One at a time: a peer gone silent must not wedge the rest. */
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (write(c, &greeting, 1) == 1)
			while (read(c, np_buf, sizeof(np_buf)) > 0)
				;
		close(c);
	}
	/* NOTREACHED */
}

static int
np_stream(char **argv, char *err, size_t errlen)
{
	struct np_target	t;
	unsigned long long	limit, sent = 0;
	double			secs, t0, t1;
	size_t			len;
	ssize_t			n;
	int			fd;

	if (np_parse_target(argv[0], argv[1], &t, err, errlen) == -1 ||
	    np_parse_amount(argv[2], &secs, &limit, err, errlen) == -1)
		return -1;
	t0 = np_now();
	if ((fd = np_connect(&t, 0, err, errlen)) == -1)
		return -1;
	if (np_expect(fd, &t, 1, err, errlen) == -1)
		goto fail;
	for (;;) {
		if (limit > 0 && sent >= limit)
			break;
		if (limit == 0 && np_now() - t0 >= secs)
			break;
		len = sizeof(np_buf);
		if (limit > 0 && limit - sent < len)
			len = limit - sent;
		if ((n = write(fd, np_buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s:%u: send after %llu bytes:"
			    " %s", t.host, t.port, sent, errno == EAGAIN ?
			    "stalled for 10 s" : strerror(errno));
			goto fail;
		}
		sent += n;
	}
	/* Done sending; the server closes once it has read it all. */
	if (shutdown(fd, SHUT_WR) == -1) {
		snprintf(err, errlen, "shutdown: %s", strerror(errno));
		goto fail;
	}
	if (np_expect(fd, &t, 0, err, errlen) == -1)
		goto fail;
	t1 = np_now();
	close(fd);
	printf("stream %s:%u: %llu bytes in %.3f s: %.2f Mbit/s\n", t.host,
	    t.port, sent, t1 - t0, sent * 8 / (t1 - t0) / 1e6);
	return 0;
fail:
	close(fd);
	return -1;
}

static int
np_connrate(char **argv, char *err, size_t errlen)
{
	struct np_target	t;
	unsigned long		count = 0, slow = 0;
	double			secs, t0, t1, tc, worst = 0;
	char			why[NP_ERRLEN];
	int			fd;

	if (np_parse_target(argv[0], argv[1], &t, err, errlen) == -1 ||
	    np_parse_secs(argv[2], &secs, err, errlen) == -1)
		return -1;
	t0 = t1 = np_now();
	while (t1 - t0 < secs) {
		tc = t1;
		if ((fd = np_connect(&t, 1, err, errlen)) == -1)
			goto fail;
		if (np_expect(fd, &t, 1, err, errlen) == -1) {
			close(fd);
			goto fail;
		}
		close(fd);	/* SO_LINGER 0: a reset, no TIME_WAIT */
		count++;
		t1 = np_now();
		if (t1 - tc > worst)
			worst = t1 - tc;
		if (t1 - tc > NP_SLOW)
			slow++;
	}
	/*
	 * The slow ones are said apart: a lost SYN costs a second of
	 * retransmit timer, which on a busy host says more than the mean.
	 */
	printf("connrate %s:%u: %lu connections in %.3f s, %lu over %.1f s"
	    " (slowest %.3f s): %.1f conn/s\n", t.host, t.port, count,
	    t1 - t0, slow, NP_SLOW, worst, count / (t1 - t0));
	return 0;
fail:
	/* Say how far it got: a failure after 3000 is not one at the start. */
	if (count > 0) {
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "%s (after %lu connections)", why,
		    count);
	}
	return -1;
}

/* --- main ------------------------------------------------------------------ */

static const struct np_cmd {
	const char	 *name;
	int		  argc;
	const char	 *args;
	int		(*exec)(char **, char *, size_t);
	const char	 *help;
} np_cmds[] = {
	{ "serve", 1, "PORT", np_serve,
	  "accept one at a time: send one byte, read to EOF, close" },
	{ "stream", 3, "HOST PORT SECONDS|SIZE", np_stream,
	  "send for SECONDS (10) or SIZE bytes (64M; B, K, M, G); Mbit/s" },
	{ "connrate", 3, "HOST PORT SECONDS", np_connrate,
	  "connect, read the byte, reset, again, for SECONDS; conn/s" },
};

static void
np_usage(void)
{
	const struct np_cmd	*c;

	fprintf(stderr, "usage:\n");
	for (c = np_cmds; c < np_cmds + sizeof(np_cmds) / sizeof(np_cmds[0]);
	    c++)
		fprintf(stderr, "  netperf %s %s\n      %s\n", c->name, c->args,
		    c->help);
	fprintf(stderr, "HOST is an IPv4 address; the server is netperf"
	    " serve.\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const struct np_cmd	*c;
	char			 err[NP_ERRLEN];

	if (argc < 2)
		np_usage();
	for (c = np_cmds; c < np_cmds + sizeof(np_cmds) / sizeof(np_cmds[0]);
	    c++)
		if (strcmp(argv[1], c->name) == 0)
			break;
	if (c == np_cmds + sizeof(np_cmds) / sizeof(np_cmds[0])) {
		fprintf(stderr, "netperf: no command '%.32s'\n", argv[1]);
		np_usage();
	}
	if (argc - 2 != c->argc) {
		fprintf(stderr, "netperf %s: wants %s\n", c->name, c->args);
		np_usage();
	}
	if (c->exec(argv + 2, err, sizeof(err)) == -1) {
		fprintf(stderr, "netperf %s: %s\n", c->name, err);
		return 1;
	}
	return 0;
}
