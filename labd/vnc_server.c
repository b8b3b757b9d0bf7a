/* SPDX-License-Identifier: ISC */
/*
 * vnc_server.c - the VNC thread: one RFB port for the whole class.
 *
 * labd accepts the connections itself, so that it can refuse before
 * libvncserver spends anything on them: a descriptor select() could not
 * hold, more than LOBBY_MAX clients still in the handshake, more than
 * LOBBY_PER_ADDR of them from one address, an address whose wrong
 * passwords are being rate-limited.  The rest join the lobby, a
 * libvncserver screen that only authenticates: its passwordCheck tries
 * the instructor's password and every student's against the DES
 * response (vnc_auth.c), and the match says who the client is.  A client
 * still in the handshake after HANDSHAKE_MS is dropped.  Once through,
 * the client moves onto a screen of its own (vnc_view.c).
 *
 * The thread never blocks on labd: once a second it asks the loop for
 * the VMs and passwords over the socketpair and goes on with what it had
 * until the answer comes.  Its own waits are bounded: libvncserver's
 * reads of a half-sent message (rfbMaxClientWait, lowered to 1 s here)
 * and its 100 ms look for a websocket at connect; a stall costs the VNC
 * clients that much, never labd's loop.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rfb/rfb.h>

#include "labd/vnc.h"

#define LOBBY_MAX	64	/* clients in the handshake */
#define LOBBY_PER_ADDR	4	/* ... from one address */
#define VIEWS_MAX	256	/* clients through it */
#define HANDSHAKE_MS	10000
#define ASK_MS		1000	/* the loop is asked for the VMs */
#define TICK_MS		40	/* the longest wait for anything */
#define ANSWER_MAX	(VNC_MAXVMS * 160)

enum who {
	WHO_NOBODY,
	WHO_INSTRUCTOR,
	WHO_STUDENT,
};

/* A lobby client's data (cl->clientData). */
struct lobby_client {
	uint32_t	addr;		/* IPv4, host order */
	int64_t		since;
	enum who	who;
	char		vm[LABD_VMNAMELEN];	/* the student's */
};

static struct vnc_world	 world;
static struct vnc_rate	 rate;
static rfbScreenInfoPtr	 lobby;
static struct vnc_view	*views[VIEWS_MAX];
static int		 nviews;
static int		 ctl = -1;	/* the socketpair to the loop */
static int		 lsock = -1;
static char		 instructor[VNC_PWLEN + 1];
static uint32_t		 accepting_addr;	/* for new_client() */
static int64_t		 accept_rest;	/* out of descriptors: until then */
static struct vnc_web	*web;		/* noVNC; NULL: none */

static void
rfb_log(const char *fmt, ...)
{
	char	buf[512];
	size_t	len;
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	len = strlen(buf);
	while (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	log_debug("vnc: libvncserver: %s", buf);
}

/* --- the loop's answer ------------------------------------------------------- */

static void
state_ask(void)
{
	/* Nothing waits for the answer: a full pipe just skips a turn. */
	(void)send(ctl, "state", 5, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* One line: name course student state screen password, tab-separated. */
static int
state_line(char *line, struct vnc_vminfo *vi)
{
	char	*f[6], *save = NULL;
	int	 n = 0;

	memset(vi, 0, sizeof(*vi));
	for (f[n] = strtok_r(line, "\t", &save); f[n] != NULL && n < 5;
	    f[n] = strtok_r(NULL, "\t", &save))
		n++;
	if (n < 5)
		return -1;
	snprintf(vi->name, sizeof(vi->name), "%s", f[0]);
	snprintf(vi->course, sizeof(vi->course), "%s", f[1]);
	snprintf(vi->student, sizeof(vi->student), "%s", f[2]);
	snprintf(vi->state, sizeof(vi->state), "%s", f[3]);
	vi->screen = strcmp(f[4], "1") == 0;
	if (f[5] != NULL && strcmp(f[5], "-") != 0)
		snprintf(vi->password, sizeof(vi->password), "%s", f[5]);
	return 0;
}

static void
state_read(void)
{
	static char		 buf[ANSWER_MAX + 1];
	struct vnc_vminfo	*vms;
	char			*line, *save = NULL;
	ssize_t			 n;
	int			 nvms = 0;

	if ((n = recv(ctl, buf, ANSWER_MAX, MSG_DONTWAIT)) <= 0)
		return;
	buf[n] = '\0';
	vms = xcalloc(VNC_MAXVMS, sizeof(*vms));
	for (line = strtok_r(buf, "\n", &save); line != NULL &&
	    nvms < VNC_MAXVMS; line = strtok_r(NULL, "\n", &save))
		if (state_line(line, &vms[nvms]) == 0)
			nvms++;
	explicit_bzero(buf, sizeof(buf));
	if (world.vms != NULL)
		explicit_bzero(world.vms, world.nvms * sizeof(*world.vms));
	free(world.vms);
	world.vms = vms;
	world.nvms = nvms;
}

/* --- the lobby ------------------------------------------------------------------ */

static int
lobby_count(uint32_t addr, int any)
{
	rfbClientPtr		 cl;
	struct lobby_client	*lc;
	int			 n = 0;

	for (cl = lobby->clientHead; cl != NULL; cl = cl->next) {
		lc = cl->clientData;
		if (cl->sock != RFB_INVALID_SOCKET && lc != NULL &&
		    (any || lc->addr == addr))
			n++;
	}
	return n;
}

static void
lobby_gone(rfbClientPtr cl)
{
	free(cl->clientData);
	cl->clientData = NULL;
}

static enum rfbNewClientAction
new_client(rfbClientPtr cl)
{
	struct lobby_client	*lc = xcalloc(1, sizeof(*lc));

	lc->addr = accepting_addr;
	lc->since = now_ms();
	cl->clientData = lc;
	cl->clientGoneHook = lobby_gone;
	return RFB_CLIENT_ACCEPT;
}

static rfbBool
password_check(rfbClientPtr cl, const char *response, int len)
{
	struct lobby_client	*lc = cl->clientData;
	const char		*pw[1 + VNC_MAXVMS];
	int64_t			 now = now_ms();
	int			 i;

	if (lc == NULL)
		return FALSE;
	if (!vnc_rate_allowed(&rate, lc->addr, now)) {
		log_warnx("vnc: %s: too many wrong passwords, refused without"
		    " a check", cl->host);
		return FALSE;
	}
	pw[0] = instructor;
	for (i = 0; i < world.nvms; i++)
		pw[1 + i] = world.vms[i].password;
	i = vnc_auth_match(cl->authChallenge, (const unsigned char *)response,
	    len < 0 ? 0 : (size_t)len, pw, 1 + world.nvms);
	if (i == -1) {
		vnc_rate_failed(&rate, lc->addr, now);
		log_warnx("vnc: %s: wrong password", cl->host);
		return FALSE;
	}
	vnc_rate_passed(&rate, lc->addr);
	if (i == 0) {
		lc->who = WHO_INSTRUCTOR;
		log_info("vnc: %s: the instructor, on the wall", cl->host);
	} else {
		lc->who = WHO_STUDENT;
		snprintf(lc->vm, sizeof(lc->vm), "%s", world.vms[i - 1].name);
		log_info("vnc: %s: student %s, on %s", cl->host,
		    world.vms[i - 1].student, lc->vm);
	}
	return TRUE;
}

static void
lobby_accept(int64_t now)
{
	struct sockaddr_in	sin;
	socklen_t		len;
	uint32_t		addr;
	int			fd, k;

	for (k = 0; k < 32; k++) {
		len = sizeof(sin);
		if ((fd = accept4(lsock, (struct sockaddr *)&sin, &len,
		    SOCK_CLOEXEC)) == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				log_warnx("vnc: out of descriptors, not"
				    " accepting for 250 ms");
				accept_rest = now + 250;
			}
			return;
		}
		addr = ntohl(sin.sin_addr.s_addr);
		if (fd >= FD_SETSIZE || nviews >= VIEWS_MAX ||
		    lobby_count(0, 1) >= LOBBY_MAX ||
		    lobby_count(addr, 0) >= LOBBY_PER_ADDR ||
		    !vnc_rate_allowed(&rate, addr, now)) {
			close(fd);
			continue;
		}
		accepting_addr = addr;
		rfbNewClient(lobby, fd);
	}
}

/* Authenticated clients to their views; stalled ones out. */
static void
lobby_sweep(int64_t now)
{
	rfbClientPtr		 cl, next;
	struct lobby_client	*lc;

	for (cl = lobby->clientHead; cl != NULL; cl = next) {
		next = cl->next;
		lc = cl->clientData;
		if (cl->sock == RFB_INVALID_SOCKET || lc == NULL)
			continue;
		if (lc->who != WHO_NOBODY && (cl->state == RFB_INITIALISATION ||
		    cl->state == RFB_INITIALISATION_SHARED) &&
		    nviews < VIEWS_MAX) {
			views[nviews++] = vnc_view_new(&world, cl,
			    lc->who == WHO_INSTRUCTOR ? NULL : lc->vm);
		} else if (now - lc->since > HANDSHAKE_MS) {
			log_info("vnc: %s: no login within %d s, dropped",
			    cl->host, HANDSHAKE_MS / 1000);
			rfbCloseClient(cl);
		}
	}
}

/* --- the connections to the VMs --------------------------------------------- */

static void
screens_tick(int64_t now)
{
	struct vnc_vm	*v, **vp;
	int		 i;

	for (v = world.conns; v != NULL; v = v->next)
		v->need = v->fast = 0;
	for (i = 0; i < nviews; i++)
		vnc_view_needs(views[i]);
	for (vp = &world.conns; (v = *vp) != NULL;) {
		struct vnc_vminfo	*info = vnc_world_find(&world, v->name);

		if (!v->need || info == NULL || !info->screen) {
			*vp = v->next;
			vnc_vm_close(v);
			free(v);
			continue;
		}
		vnc_vm_tick(v, now);
		vp = &v->next;
	}
}

/* --- the thread ------------------------------------------------------------------- */

#define MAXPOLL	(2 + LOBBY_MAX + VIEWS_MAX + VNC_MAXVMS + 40)

static void *
vnc_main(void *arg)
{
	struct pollfd	 pfd[MAXPOLL];
	struct vnc_vm	*conn[VNC_MAXVMS], *v;
	rfbClientPtr	 cl;
	int64_t		 now, asked = 0;
	int		 n, nconn, i, j, first_conn;

	for (;;) {
		now = now_ms();
		if (now - asked >= ASK_MS) {
			state_ask();
			asked = now;
		}
		screens_tick(now);

		n = 0;
		pfd[n].fd = ctl;
		pfd[n++].events = POLLIN;
		pfd[n].fd = now >= accept_rest ? lsock : -1;
		pfd[n++].events = POLLIN;
		for (cl = lobby->clientHead; cl != NULL && n < 2 + LOBBY_MAX;
		    cl = cl->next) {
			pfd[n].fd = cl->sock;
			pfd[n++].events = POLLIN;
		}
		for (i = 0; i < nviews; i++) {
			pfd[n].fd = vnc_view_fd(views[i]);
			pfd[n++].events = POLLIN;
		}
		first_conn = n;
		nconn = 0;
		for (v = world.conns; v != NULL && nconn < VNC_MAXVMS;
		    v = v->next) {
			if (v->client == NULL)
				continue;
			conn[nconn++] = v;
			pfd[n].fd = vnc_vm_fd(v);
			pfd[n++].events = POLLIN;
		}
		n += vnc_web_pollfds(web, pfd + n, MAXPOLL - n);
		if (poll(pfd, n, TICK_MS) == -1 && errno != EINTR)
			fatal("vnc: poll");
		now = now_ms();

		if (pfd[0].revents & POLLIN)
			state_read();
		else if (pfd[0].revents & (POLLHUP | POLLERR))
			fatalx("vnc: labd's loop is gone");
		if (pfd[1].revents & POLLIN)
			lobby_accept(now);
		for (j = 0; j < nconn; j++)
			if (pfd[first_conn + j].revents)
				vnc_vm_read(conn[j]);

		vnc_web_run(web, now);
		if (lobby->clientHead != NULL) {
			rfbProcessEvents(lobby, 0);
			lobby_sweep(now);
		}
		for (i = 0; i < nviews;) {
			if (vnc_view_tick(views[i], now) == -1) {
				vnc_view_free(views[i]);
				views[i] = views[--nviews];
				continue;
			}
			i++;
		}
	}
	return NULL;
}

int
vnc_server_start(const struct vnc_opts *o, char *err, size_t errlen)
{
	pthread_t	t;
	sigset_t	all, old;
	int		argc = 1, rc;
	char		*argv[] = { "labd", NULL };

	ctl = o->ctl;
	lsock = o->listen_fd;
	snprintf(instructor, sizeof(instructor), "%s", o->instructor);
	snprintf(world.run_dir, sizeof(world.run_dir), "%s", o->run_dir);
	rfbLog = rfbErr = rfb_log;
	/* A half-sent message holds the thread this long at most. */
	rfbMaxClientWait = 1000;
	if ((lobby = rfbGetScreen(&argc, argv, 1, 1, 8, 3, 4)) == NULL) {
		errf(err, errlen, "vnc: out of memory");
		return -1;
	}
	lobby->frameBuffer = xcalloc(1, 4);
	lobby->port = lobby->ipv6port = 0;	/* labd accepts */
	lobby->autoPort = FALSE;
	lobby->httpPort = lobby->http6Port = 0;
	lobby->newClientHook = new_client;
	lobby->passwordCheck = password_check;
	/* Not NULL: VNC authentication is required. */
	lobby->authPasswdData = (void *)instructor;
	lobby->desktopName = "labd";
	rfbInitServer(lobby);
	if (o->web_fd != -1)
		web = vnc_web_new(o->web_fd, o->web_root, o->rfb_ip,
		    o->rfb_port);

	/* Signals are the loop's thread's. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&t, NULL, vnc_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errf(err, errlen, "vnc: cannot start its thread: %s",
		    strerror(rc));
		return -1;
	}
	pthread_detach(t);
	return 0;
}
