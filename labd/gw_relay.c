/* SPDX-License-Identifier: ISC */
/*
 * gw_relay.c - the channels of one gateway connection, relayed between
 * the student's session (libssh's server side) and the guest's (its
 * client side), in the connection's thread.
 *
 * Each channel the student opens gets its twin on the guest: a session
 * (pty with window changes, shell, exec, subsystem such as sftp, env)
 * or a direct-tcpip forward (ssh -L), opened on the guest as the
 * student's request arrives, so that a refusal is the guest's own.
 * Exit status and exit signal come back; an EOF is passed on once what
 * came before it has; a channel closed on either side closes its twin,
 * and either session ending ends the other.  Keepalive requests are
 * answered by libssh itself.  X11 forwarding is refused.
 *
 * Agent forwarding (ssh -A) only when the student asks for it on a
 * session: the request is passed to the guest, whose sshd then opens an
 * auth-agent channel back to us each time a program in the VM uses the
 * agent; that one gets a twin opened on the student's client.  Until the
 * student asked, the guest's agent channels are refused, so a guest can
 * never reach an agent that was not offered.
 *
 * The two sessions are polled apart on purpose: the student's in an
 * ssh_event that also wakes on the guest's socket, the guest's in an
 * event of its own.  So a blocking call on the guest (opening its
 * channel inside the student's callback) runs only the guest's
 * packets, and never re-enters the student's callbacks.
 *
 * Flow control: a side is read only as far as the other side's window
 * allows, so that a write never has to wait for a window; what is not
 * read stays in libssh's channel buffer, whose window the peer then
 * sees shrink.  Writes are blocking and flushed (libssh's blocking
 * mode), so nothing waits in libssh's output after a round.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include "labd/gateway.h"

#define GW_BUFSZ	(128 * 1024)
#define GW_IDLE_MS	2000	/* a round without news: no busy loop */
#define GW_MAX_CHANNELS	64	/* a connection (OpenSSH's MaxSessions is 10) */
#define GW_AGENT_WAIT	8	/* the guest's agent channels not yet paired */

struct gw_relay;

struct gw_pair {
	ssh_channel		 sc;		/* the student's */
	ssh_channel		 gc;		/* its twin on the guest */
	int			 eof_to_s;	/* EOF passed to sc */
	int			 eof_to_g;
	int			 status, have_status;
	char			 sig[32];
	int			 have_sig, core;
	int			 done;
	struct ssh_channel_callbacks_struct scb, gcb;
	struct gw_relay		*rl;
	struct gw_pair		*next;
};

struct gw_relay {
	ssh_session		 s, g;
	ssh_event		 ev;		/* the student's, and g's socket */
	ssh_event		 gev;		/* the guest's alone */
	struct gw_pair		*pairs;
	int			 npairs;
	char			 name[96];
	char			*buf;
	struct gw_req		*login;		/* cut by the loop, maybe */
	int			 agent;		/* the student asked for -A */
	ssh_channel		 agent_wait[GW_AGENT_WAIT];
	int			 nagent_wait;
	ssh_channel		 spare;		/* open on the guest, unused */
	struct ssh_callbacks_struct gcb;	/* the guest session's */
};

/*
 * What the guest session is left with when the relay is gone: libssh
 * keeps a pointer to its callbacks, and may still look at them (its
 * log) while the session is ended.
 */
static struct ssh_callbacks_struct gw_guest_nocb = {
	.size = sizeof(struct ssh_callbacks_struct),
};

/* --- the student's requests, done on the guest --------------------------- */

static int
gw_pty(ssh_session s, ssh_channel sc, const char *term, int cols, int rows,
    int pxw, int pxh, void *arg)
{
	struct gw_pair	*p = arg;

	return ssh_channel_request_pty_size(p->gc, term, cols, rows) ==
	    SSH_OK ? 0 : -1;
}

static int
gw_winch(ssh_session s, ssh_channel sc, int cols, int rows, int pxw,
    int pxh, void *arg)
{
	struct gw_pair	*p = arg;

	return ssh_channel_change_pty_size(p->gc, cols, rows) == SSH_OK ?
	    0 : -1;
}

static int
gw_shell(ssh_session s, ssh_channel sc, void *arg)
{
	struct gw_pair	*p = arg;

	return ssh_channel_request_shell(p->gc) == SSH_OK ? 0 : -1;
}

static int
gw_exec(ssh_session s, ssh_channel sc, const char *cmd, void *arg)
{
	struct gw_pair	*p = arg;

	return ssh_channel_request_exec(p->gc, cmd) == SSH_OK ? 0 : -1;
}

static int
gw_subsystem(ssh_session s, ssh_channel sc, const char *name, void *arg)
{
	struct gw_pair	*p = arg;

	return ssh_channel_request_subsystem(p->gc, name) == SSH_OK ? 0 : -1;
}

static int
gw_env(ssh_session s, ssh_channel sc, const char *name, const char *value,
    void *arg)
{
	struct gw_pair	*p = arg;

	return ssh_channel_request_env(p->gc, name, value) == SSH_OK ? 0 : -1;
}

/*
 * ssh -A: asked of the guest on the session's twin.  The request wants
 * no reply (OpenSSH's client asks none), so the guest's word is not
 * awaited; what it does is open agent channels later, or not.
 */
static void
gw_agent_req(ssh_session s, ssh_channel sc, void *arg)
{
	struct gw_pair	*p = arg;

	if (ssh_channel_request_auth_agent(p->gc) != SSH_OK) {
		log_info("gateway: %s: cannot ask the guest for agent"
		    " forwarding: %s", p->rl->name, ssh_get_error(p->rl->g));
		return;
	}
	if (!p->rl->agent)
		log_debug("gateway: %s: agent forwarding", p->rl->name);
	p->rl->agent = 1;
}

/* The guest's channel ends its command: kept until its data has gone. */
static void
gw_exit_status(ssh_session g, ssh_channel gc, int status, void *arg)
{
	struct gw_pair	*p = arg;

	p->status = status;
	p->have_status = 1;
}

static void
gw_exit_signal(ssh_session g, ssh_channel gc, const char *sig, int core,
    const char *errmsg, const char *lang, void *arg)
{
	struct gw_pair	*p = arg;

	snprintf(p->sig, sizeof(p->sig), "%s", sig);
	p->core = core;
	p->have_sig = 1;
}

/* A pair of sc (the student's, new) and gc (the guest's, open). */
static struct gw_pair *
gw_pair_new(struct gw_relay *rl, ssh_channel sc, ssh_channel gc)
{
	struct gw_pair	*p = xcalloc(1, sizeof(*p));

	p->rl = rl;
	p->sc = sc;
	p->gc = gc;
	p->scb.userdata = p;
	p->scb.channel_pty_request_function = gw_pty;
	p->scb.channel_pty_window_change_function = gw_winch;
	p->scb.channel_shell_request_function = gw_shell;
	p->scb.channel_exec_request_function = gw_exec;
	p->scb.channel_subsystem_request_function = gw_subsystem;
	p->scb.channel_env_request_function = gw_env;
	p->scb.channel_auth_agent_req_function = gw_agent_req;
	ssh_callbacks_init(&p->scb);
	ssh_set_channel_callbacks(sc, &p->scb);
	p->gcb.userdata = p;
	p->gcb.channel_exit_status_function = gw_exit_status;
	p->gcb.channel_exit_signal_function = gw_exit_signal;
	ssh_callbacks_init(&p->gcb);
	ssh_set_channel_callbacks(gc, &p->gcb);
	p->next = rl->pairs;
	rl->pairs = p;
	rl->npairs++;
	return p;
}

void
gw_relay_spare(struct gw_relay *rl, void *gc)
{
	rl->spare = gc;
}

/*
 * A session channel: its twin is opened on the guest first, or is the
 * one a parked session's check opened (gw_park_check()).
 */
void *
gw_relay_open_session(struct gw_relay *rl)
{
	ssh_channel	 sc, gc;

	if (rl->npairs >= GW_MAX_CHANNELS)
		return NULL;
	if (rl->spare != NULL) {
		gc = rl->spare;
		rl->spare = NULL;
	} else if ((gc = ssh_channel_new(rl->g)) == NULL)
		return NULL;
	else if (ssh_channel_open_session(gc) != SSH_OK) {
		log_info("gateway: %s: the guest refused a session: %s",
		    rl->name, ssh_get_error(rl->g));
		ssh_channel_free(gc);
		return NULL;
	}
	if ((sc = ssh_channel_new(rl->s)) == NULL) {
		ssh_channel_close(gc);
		ssh_channel_free(gc);
		return NULL;
	}
	gw_pair_new(rl, sc, gc);
	return sc;
}

/*
 * What comes as a message: direct-tcpip (ssh -L), to the host and port
 * the student names, from the guest.  Anything else gets libssh's
 * default answer (a refusal, or a keepalive's reply).
 */
int
gw_relay_message(struct gw_relay *rl, void *arg)
{
	ssh_message	 msg = arg;
	ssh_channel	 sc, gc;
	const char	*host, *orig;
	int		 port, oport;

	if (ssh_message_type(msg) != SSH_REQUEST_CHANNEL_OPEN ||
	    ssh_message_subtype(msg) != SSH_CHANNEL_DIRECT_TCPIP ||
	    rl->npairs >= GW_MAX_CHANNELS)
		return 1;
	host = ssh_message_channel_request_open_destination(msg);
	port = ssh_message_channel_request_open_destination_port(msg);
	orig = ssh_message_channel_request_open_originator(msg);
	oport = ssh_message_channel_request_open_originator_port(msg);
	if (host == NULL || (gc = ssh_channel_new(rl->g)) == NULL)
		return 1;
	if (ssh_channel_open_forward(gc, host, port, orig ? orig :
	    "127.0.0.1", oport) != SSH_OK) {
		log_info("gateway: %s: the guest refused a forward to %s:%d",
		    rl->name, host, port);
		ssh_channel_free(gc);
		return 1;
	}
	if ((sc = ssh_message_channel_request_open_reply_accept(msg)) ==
	    NULL) {
		ssh_channel_close(gc);
		ssh_channel_free(gc);
		return 0;
	}
	gw_pair_new(rl, sc, gc);
	return 0;
}

/*
 * The guest's sshd opens an agent channel (libssh's client callback):
 * accepted at once, and kept until the relay's loop opens its twin on
 * the student's client, because opening it here would run the
 * student's packets inside the guest's (see the top of this file).
 */
static ssh_channel
gw_agent_open(ssh_session g, void *arg)
{
	struct gw_relay	*rl = arg;
	ssh_channel	 gc;

	if (!rl->agent || rl->nagent_wait >= GW_AGENT_WAIT ||
	    rl->npairs + rl->nagent_wait >= GW_MAX_CHANNELS) {
		log_info("gateway: %s: the guest's agent channel refused%s",
		    rl->name, rl->agent ? " (too many)" : " (no ssh -A)");
		return NULL;
	}
	if ((gc = ssh_channel_new(g)) == NULL)
		return NULL;
	rl->agent_wait[rl->nagent_wait++] = gc;
	return gc;
}

/*
 * The waiting agent channels get their twins on the student's client;
 * one the client refuses is closed on the guest.  Each is taken off the
 * list before the open, which runs the student's packets and so may add
 * another.  1 when there was one.
 */
static int
gw_agent_pair(struct gw_relay *rl)
{
	ssh_channel	 sc, gc;
	int		 any = 0;

	while (rl->nagent_wait > 0) {
		gc = rl->agent_wait[--rl->nagent_wait];
		any = 1;
		if ((sc = ssh_channel_new(rl->s)) != NULL &&
		    ssh_channel_open_auth_agent(sc) == SSH_OK) {
			gw_pair_new(rl, sc, gc);
			continue;
		}
		log_info("gateway: %s: the student's client refused an agent"
		    " channel", rl->name);
		if (sc != NULL)
			ssh_channel_free(sc);
		ssh_channel_close(gc);
		ssh_channel_free(gc);
	}
	return any;
}

/* --- moving bytes -------------------------------------------------------- */

/* From one channel's stream (stderr: is_err) into the other; moved? */
static int
gw_move(struct gw_relay *rl, ssh_channel from, ssh_channel to, int is_err)
{
	uint32_t	win = ssh_channel_window_size(to);
	int		n, moved = 0;

	while (win > 0) {
		n = ssh_channel_read_nonblocking(from, rl->buf,
		    win < GW_BUFSZ ? win : GW_BUFSZ, is_err);
		if (n <= 0)
			break;
		if ((is_err ? ssh_channel_write_stderr(to, rl->buf, n) :
		    ssh_channel_write(to, rl->buf, n)) != n)
			break;
		moved = 1;
		win = ssh_channel_window_size(to);
	}
	return moved;
}

/* Pass on what can be passed on; 1 when something moved or ended. */
static int
gw_pump(struct gw_relay *rl, struct gw_pair *p)
{
	int	moved = 0;

	if (!p->eof_to_s && !ssh_channel_is_closed(p->sc)) {
		moved |= gw_move(rl, p->gc, p->sc, 0);
		moved |= gw_move(rl, p->gc, p->sc, 1);
	}
	if (!p->eof_to_g && !ssh_channel_is_closed(p->gc))
		moved |= gw_move(rl, p->sc, p->gc, 0);
	/* EOF only once all before it is passed on (is_eof: buffers empty). */
	if (!p->eof_to_s && ssh_channel_is_eof(p->gc)) {
		ssh_channel_send_eof(p->sc);
		p->eof_to_s = moved = 1;
	}
	if (!p->eof_to_g && ssh_channel_is_eof(p->sc)) {
		ssh_channel_send_eof(p->gc);
		p->eof_to_g = moved = 1;
	}
	if (ssh_channel_is_closed(p->gc) && (p->eof_to_s ||
	    ssh_channel_poll(p->gc, 0) <= 0)) {
		/* The command ended: its status, then the student's close. */
		if (p->have_status)
			ssh_channel_request_send_exit_status(p->sc, p->status);
		else if (p->have_sig)
			ssh_channel_request_send_exit_signal(p->sc, p->sig,
			    p->core, "", "");
		if (!p->eof_to_s)
			ssh_channel_send_eof(p->sc);
		ssh_channel_close(p->sc);
		p->done = 1;
	} else if (ssh_channel_is_closed(p->sc)) {
		ssh_channel_close(p->gc);
		p->done = 1;
	}
	return moved || p->done;
}

static void
gw_pair_free(struct gw_pair *p)
{
	ssh_remove_channel_callbacks(p->sc, &p->scb);
	ssh_remove_channel_callbacks(p->gc, &p->gcb);
	ssh_channel_free(p->sc);
	ssh_channel_free(p->gc);
	free(p);
}

/* Every pair once; the finished ones freed.  1 when something moved. */
static int
gw_pump_all(struct gw_relay *rl)
{
	struct gw_pair	**pp, *p;
	int		 moved;

	moved = gw_agent_pair(rl);
	for (pp = &rl->pairs; (p = *pp) != NULL; ) {
		moved |= gw_pump(rl, p);
		if (p->done) {
			*pp = p->next;
			rl->npairs--;
			gw_pair_free(p);
		} else
			pp = &p->next;
	}
	return moved;
}

/* The guest's socket woke the student's poll: its packets are read after. */
static int
gw_guest_readable(socket_t fd, int revents, void *arg)
{
	return 0;
}

struct gw_relay *
gw_relay_new(void *student, void *guest, void *event, const char *name,
    struct gw_req *login)
{
	struct gw_relay	*rl = xcalloc(1, sizeof(*rl));

	rl->s = student;
	rl->g = guest;
	rl->ev = event;
	rl->login = login;
	snprintf(rl->name, sizeof(rl->name), "%s", name);
	rl->buf = xmalloc(GW_BUFSZ);
	/* Set now: the guest may open an agent channel at any packet. */
	rl->gcb.userdata = rl;
	rl->gcb.channel_open_request_auth_agent_function = gw_agent_open;
	ssh_callbacks_init(&rl->gcb);
	ssh_set_callbacks(rl->g, &rl->gcb);
	return rl;
}

void
gw_relay_run(struct gw_relay *rl)
{
	struct gw_pair	*p;
	char		 why[GW_MSGLEN];
	int		 moved = 1, gfd;

	gfd = ssh_get_fd(rl->g);
	if ((rl->gev = ssh_event_new()) == NULL ||
	    ssh_event_add_session(rl->gev, rl->g) != SSH_OK ||
	    ssh_event_add_fd(rl->ev, gfd, POLLIN, gw_guest_readable,
	    rl) != SSH_OK) {
		log_warnx("gateway: %s: cannot poll the guest", rl->name);
		goto done;
	}
	log_debug("gateway: %s: relaying", rl->name);
	for (;;) {
		if (ssh_event_dopoll(rl->ev, moved ? 0 : GW_IDLE_MS) ==
		    SSH_ERROR && !ssh_is_connected(rl->s))
			break;
		ssh_event_dopoll(rl->gev, 0);
		moved = gw_pump_all(rl);
		if (!ssh_is_connected(rl->s))
			break;
		if (gw_req_cut(rl->login, why, sizeof(why))) {
			log_info("gateway: %s: cut: %s", rl->name, why);
			for (p = rl->pairs; p != NULL; p = p->next) {
				ssh_channel_write_stderr(p->sc, "\r\nlabd: ", 8);
				ssh_channel_write_stderr(p->sc, why, strlen(why));
				ssh_channel_write_stderr(p->sc, "\r\n", 2);
				ssh_channel_close(p->sc);
			}
			ssh_session_set_disconnect_message(rl->s, why);
			break;
		}
		if (!ssh_is_connected(rl->g)) {
			/* The student's channels close; then the session. */
			for (p = rl->pairs; p != NULL; p = p->next)
				ssh_channel_close(p->sc);
			ssh_session_set_disconnect_message(rl->s, "the"
			    " connection to your VM ended");
			break;
		}
	}
done:
	while ((p = rl->pairs) != NULL) {
		rl->pairs = p->next;
		gw_pair_free(p);
	}
	while (rl->nagent_wait > 0)
		ssh_channel_free(rl->agent_wait[--rl->nagent_wait]);
	if (rl->spare != NULL)	/* ssh -N: no session was opened */
		ssh_channel_free(rl->spare);
	ssh_set_callbacks(rl->g, &gw_guest_nocb);
	if (rl->gev != NULL) {
		ssh_event_remove_fd(rl->ev, gfd);
		ssh_event_remove_session(rl->gev, rl->g);
		ssh_event_free(rl->gev);
	}
	free(rl->buf);
	free(rl);
}
