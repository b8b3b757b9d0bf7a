/* SPDX-License-Identifier: ISC */
/*
 * gw_conn.c - the SSH gateway's threads: one that accepts, one a
 * connection.  A connection's thread does the key exchange (libssh's
 * server side), asks the loop (gateway.c) which VM the user name means
 * and with what the student logs in, checks the roster key or the
 * password against the hash labd keeps, asks for a session (which wakes
 * a suspended VM and waits for it), takes the session to the guest
 * that the loop parked for the student (gw_park.c) or, when there is
 * none or it is dead, logs in to the guest as the student with the
 * course's gateway key, and only then tells the student's
 * client that authentication succeeded: whatever goes wrong up to there
 * reaches the student as a banner and a disconnect message that says
 * why, and there is never a second password prompt.  The channels are
 * gw_relay.c's; for a name ending in +console, +reset or +check there is no
 * guest login, and gw_serve.c serves the session itself.
 *
 * Threads are not labd's loop: they touch no labd state, log through
 * log.c (which is safe from threads) and talk to the loop only through
 * gw_ask().  libssh is safe with threads so long as no session is
 * shared; the one ssh_bind (the host key) is used by the accepting
 * thread alone.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <crypt.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include "labd/gateway.h"

#define GW_KEX_TIMEOUT_S	30
#define GW_AUTH_TIMEOUT_MS	(2 * 60 * 1000)	/* LoginGraceTime */
#define GW_ASK_TIMEOUT_S	(6 * 60)	/* a wake under TCG, with room */
#define GW_GUEST_RETRY_MS	30000		/* tries 0.1 s to 1 s apart */
#define GW_MAX_PASSWORDS	3		/* wrong ones a connection */
#define GW_STACK		(512 * 1024)

struct gw_conn {
	ssh_session		 s;
	ssh_session		 g;		/* the guest, once logged in */
	char			 addr[INET_ADDRSTRLEN];
	struct gw_req		*route;		/* GW_ROUTE's answer */
	ssh_key			 roster;	/* the student's key, or NULL */
	int			 admitted;	/* GW_ADMIT said yes */
	int			 authed;
	int			 passwords;	/* wrong ones so far */
	ssh_event		 ev;
	struct gw_relay		*rl;		/* authed: to the guest */
	struct gw_serve		*sv;		/* authed: +console, +reset */
	struct gw_req		*login;		/* GW_LOGIN's, held while it lasts */
	char			 bye[GW_MSGLEN];
	struct ssh_server_callbacks_struct cb;
};

static ssh_bind		 gw_sshbind;
static int		 gw_lfd = -1;
static int		 gw_max_conns;
static atomic_int	 gw_nconns;

/* --- asking the loop --------------------------------------------------------- */

/*
 * Hand r to the loop and wait for its answer: r->ok, or 0 when the loop
 * could not be asked or took too long (r->msg says so).
 */
static int
gw_ask(struct gw_req *r)
{
	return gw_ask_until(r, GW_ASK_TIMEOUT_S, NULL, NULL);
}

/* A request with nothing to say back: a failure or a logout. */
static void
gw_tell(enum gw_req_kind kind, const char *addr, const char *vm)
{
	struct gw_req	*r = gw_req_new(kind, addr);

	snprintf(r->vm, sizeof(r->vm), "%s", vm);
	gw_ask(r);
	gw_req_unref(r);
}

/* --- refusing with a reason ---------------------------------------------- */

/*
 * The reason as a banner (OpenSSH prints it at its default log level)
 * and, when the connection ends, as the disconnect message (printed at
 * every level).
 */
static void
gw_bye(struct gw_conn *c, const char *msg)
{
	ssh_string	 banner;
	char		 text[GW_MSGLEN + 16];

	if (c->bye[0] != '\0')
		return;
	snprintf(c->bye, sizeof(c->bye), "%s", msg);
	snprintf(text, sizeof(text), "labd: %s\r\n", msg);
	if ((banner = ssh_string_from_char(text)) != NULL) {
		ssh_send_issue_banner(c->s, banner);
		ssh_string_free(banner);
	}
}

/* --- authentication ------------------------------------------------------ */

/* "ssh-ed25519 AAAA... comment" as a key; NULL when it is not one. */
static ssh_key
gw_key_parse(const char *line)
{
	char		 type[64], *b64;
	const char	*sp;
	ssh_key		 key = NULL;
	size_t		 n;

	if ((sp = strchr(line, ' ')) == NULL ||
	    (size_t)(sp - line) >= sizeof(type))
		return NULL;
	memcpy(type, line, sp - line);
	type[sp - line] = '\0';
	sp += strspn(sp, " ");
	n = strcspn(sp, " \t\r\n");
	b64 = xmalloc(n + 1);
	memcpy(b64, sp, n);
	b64[n] = '\0';
	if (ssh_pki_import_pubkey_base64(b64, ssh_key_type_from_name(type),
	    &key) != SSH_OK)
		key = NULL;
	free(b64);
	return key;
}

/* The answer to "which VM is user", once a connection: 0, or -1 refused. */
static int
gw_routed(struct gw_conn *c, const char *user)
{
	struct gw_req	*r;
	int		 methods = 0;

	if (c->bye[0] != '\0')
		return -1;
	if (!c->admitted) {
		r = gw_req_new(GW_ADMIT, c->addr);
		if (!gw_ask(r))
			gw_bye(c, r->msg);
		gw_req_unref(r);
		if (c->bye[0] != '\0')
			return -1;
		c->admitted = 1;
	}
	if (c->route != NULL) {
		if (strncmp(c->route->user, user, GW_USERLEN) == 0)
			return 0;
		/* Another name on the same connection: asked again. */
		gw_req_unref(c->route);
		c->route = NULL;
		ssh_key_free(c->roster);
		c->roster = NULL;
	}
	r = gw_req_new(GW_ROUTE, c->addr);
	snprintf(r->user, sizeof(r->user), "%s", user);
	if (strlen(user) > GW_USERLEN)	/* refused whole, not cut to fit */
		memset(r->user, 'x', GW_USERLEN);
	if (!gw_ask(r)) {
		gw_bye(c, r->msg);
		gw_req_unref(r);
		return -1;
	}
	c->route = r;
	if (r->ssh_key[0] != '\0' && (c->roster = gw_key_parse(r->ssh_key)) !=
	    NULL)
		methods |= SSH_AUTH_METHOD_PUBLICKEY;
	if (r->pw_hash[0] != '\0')
		methods |= SSH_AUTH_METHOD_PASSWORD;
	if (methods == 0) {
		gw_bye(c, "the roster gives you neither a key nor a password;"
		    " ask your instructor");
		return -1;
	}
	ssh_set_auth_methods(c->s, methods);
	return 0;
}

/*
 * The student proved who they are: a session from the loop (which may
 * wake the VM and wait for it), then the guest.  SSH_AUTH_SUCCESS, or
 * DENIED with the reason said.
 */
static int
gw_login(struct gw_conn *c)
{
	struct gw_req	*r = c->route, *l;
	ssh_channel	 spare = NULL;
	char		 err[512], msg[GW_MSGLEN];

	l = gw_req_new(GW_LOGIN, c->addr);
	snprintf(l->vm, sizeof(l->vm), "%s", r->vm);
	l->mode = r->mode;
	if (!gw_ask(l)) {
		gw_bye(c, l->msg);
		gw_req_unref(l);
		return SSH_AUTH_DENIED;
	}
	snprintf(r->ip, sizeof(r->ip), "%s", l->ip);
	r->port = l->port;
	c->login = l;
	if (r->mode != GW_MODE_SHELL) {
		/* labd serves it; the guest's sshd has no part in it. */
		c->sv = gw_serve_new(c->s, c->ev, r->mode, r->vm, c->addr, l);
		c->authed = 1;
		return SSH_AUTH_SUCCESS;
	}
	if (l->guest != NULL) {
		/* A parked session: the guest logged in already, if alive. */
		c->g = l->guest;
		l->guest = NULL;
		if ((spare = gw_park_check(c->g, err, sizeof(err))) == NULL) {
			log_info("gateway: %s from %s: the parked session is"
			    " dead (%s): connecting afresh", r->vm, c->addr,
			    err);
			c->g = NULL;
		} else
			log_info("gateway: %s from %s: a parked session",
			    r->vm, c->addr);
	}
	if (c->g == NULL && (c->g = gw_guest(r, GW_GUEST_RETRY_MS, err,
	    sizeof(err))) == NULL) {
		log_warnx("gateway: %s from %s: %s:%u: %s", r->vm, c->addr,
		    r->ip, r->port, err);
		gw_tell(GW_LOGOUT, c->addr, r->vm);
		snprintf(msg, sizeof(msg), "cannot reach your VM %s just now"
		    " (%s); try again in a moment", r->vm, err);
		gw_bye(c, msg);
		return SSH_AUTH_DENIED;
	}
	snprintf(msg, sizeof(msg), "%s from %s", r->vm, c->addr);
	c->rl = gw_relay_new(c->s, c->g, c->ev, msg, c->login);
	if (spare != NULL)
		gw_relay_spare(c->rl, spare);
	c->authed = 1;
	return SSH_AUTH_SUCCESS;
}

static int
gw_auth_none(ssh_session s, const char *user, void *arg)
{
	gw_routed(arg, user);
	return SSH_AUTH_DENIED;
}

static int
gw_auth_pubkey(ssh_session s, const char *user, struct ssh_key_struct *key,
    char state, void *arg)
{
	struct gw_conn	*c = arg;

	if (gw_routed(c, user) == -1)
		return SSH_AUTH_DENIED;
	if (c->roster == NULL ||
	    ssh_key_cmp(c->roster, key, SSH_KEY_CMP_PUBLIC) != 0) {
		/* Offering other keys is what clients do: no failure. */
		return SSH_AUTH_DENIED;
	}
	if (state == SSH_PUBLICKEY_STATE_NONE)
		return SSH_AUTH_SUCCESS;	/* "this key would do" */
	if (state != SSH_PUBLICKEY_STATE_VALID) {
		gw_tell(GW_FAILED, c->addr, "");
		return SSH_AUTH_DENIED;
	}
	return gw_login(c);
}

/* password against crypt(3)'s hash, compared in constant time. */
static int
gw_password_ok(const char *password, const char *hash)
{
	struct crypt_data	*cd;
	const char		*h;
	size_t			 i, n;
	unsigned char		 diff = 0;

	if (hash[0] == '\0')
		return 0;
	cd = xcalloc(1, sizeof(*cd));
	h = crypt_r(password, hash, cd);
	if (h == NULL || h[0] == '*' || (n = strlen(h)) != strlen(hash)) {
		free(cd);
		return 0;
	}
	for (i = 0; i < n; i++)
		diff |= (unsigned char)(h[i] ^ hash[i]);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return diff == 0;
}

static int
gw_auth_password(ssh_session s, const char *user, const char *password,
    void *arg)
{
	struct gw_conn	*c = arg;

	if (gw_routed(c, user) == -1)
		return SSH_AUTH_DENIED;
	if (!gw_password_ok(password, c->route->pw_hash)) {
		gw_tell(GW_FAILED, c->addr, "");
		if (++c->passwords >= GW_MAX_PASSWORDS)
			gw_bye(c, "too many wrong passwords");
		return SSH_AUTH_DENIED;
	}
	return gw_login(c);
}

/* --- channels: gw_relay.c's once logged in ------------------------------------ */

static ssh_channel
gw_open_session(ssh_session s, void *arg)
{
	struct gw_conn	*c = arg;

	if (c->sv != NULL)
		return gw_serve_open_session(c->sv);
	return c->rl != NULL ? gw_relay_open_session(c->rl) : NULL;
}

static int
gw_message(ssh_session s, ssh_message msg, void *arg)
{
	struct gw_conn	*c = arg;

	return c->rl != NULL ? gw_relay_message(c->rl, msg) : 1;
}

/* --- a connection ---------------------------------------------------------- */

static void
gw_conn_end(struct gw_conn *c)
{
	if (c->bye[0] != '\0') {
		ssh_session_set_disconnect_message(c->s, c->bye);
		log_info("gateway: %s refused: %s", c->addr, c->bye);
	}
	ssh_disconnect(c->s);
	ssh_free(c->s);
	if (c->g != NULL) {
		ssh_disconnect(c->g);
		ssh_free(c->g);
	}
	if (c->route != NULL)
		gw_req_unref(c->route);
	if (c->login != NULL)
		gw_req_unref(c->login);
	ssh_key_free(c->roster);
	free(c);
	atomic_fetch_sub(&gw_nconns, 1);
}

static void *
gw_conn_main(void *arg)
{
	struct gw_conn		*c = arg;
	struct gw_req		*r;
	struct gw_relay		*rl;
	char			 vm[LABD_VMNAMELEN];
	int64_t			 deadline, since;

	/*
	 * Callbacks first: a client may send its first requests along with
	 * the end of the key exchange, and what comes before a callback is
	 * there would wait in libssh's queue, unanswered.
	 */
	c->cb.userdata = c;
	c->cb.auth_none_function = gw_auth_none;
	c->cb.auth_pubkey_function = gw_auth_pubkey;
	c->cb.auth_password_function = gw_auth_password;
	c->cb.channel_open_request_session_function = gw_open_session;
	ssh_callbacks_init(&c->cb);
	ssh_set_server_callbacks(c->s, &c->cb);
	ssh_set_message_callback(c->s, gw_message, c);
	ssh_set_auth_methods(c->s, SSH_AUTH_METHOD_PUBLICKEY |
	    SSH_AUTH_METHOD_PASSWORD);
	if ((c->ev = ssh_event_new()) == NULL)
		goto done;
	if (ssh_handle_key_exchange(c->s) != SSH_OK) {
		log_debug("gateway: %s: key exchange: %s", c->addr,
		    ssh_get_error(c->s));
		goto done;
	}
	if (ssh_event_add_session(c->ev, c->s) != SSH_OK)
		goto done;
	deadline = now_ms() + GW_AUTH_TIMEOUT_MS;
	while (!c->authed && c->bye[0] == '\0') {
		if (ssh_event_dopoll(c->ev, 1000) == SSH_ERROR ||
		    !ssh_is_connected(c->s))
			goto done;
		if (now_ms() > deadline)
			gw_bye(c, "no login within 2 minutes");
	}
	if (!c->authed)
		goto done;
	since = now_ms();
	snprintf(vm, sizeof(vm), "%s", c->route->vm);
	if (c->sv != NULL) {
		gw_serve_run(c->sv);	/* frees it */
		c->sv = NULL;
	} else {
		rl = c->rl;
		gw_relay_run(rl);	/* frees rl */
		c->rl = NULL;
	}
	r = gw_req_new(GW_LOGOUT, c->addr);
	snprintf(r->vm, sizeof(r->vm), "%s", vm);
	r->since_ms = since;
	gw_ask(r);
	gw_req_unref(r);
done:
	if (c->ev != NULL) {
		ssh_event_remove_session(c->ev, c->s);
		ssh_event_free(c->ev);
	}
	gw_conn_end(c);
	return NULL;
}

/* --- the listener ---------------------------------------------------------- */

static void *
gw_listener(void *arg)
{
	struct sockaddr_in	 peer;
	socklen_t		 plen;
	struct gw_conn		*c;
	pthread_attr_t		 attr;
	pthread_t		 t;
	int			 fd;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, GW_STACK);
	for (;;) {
		plen = sizeof(peer);
		if ((fd = accept4(gw_lfd, (struct sockaddr *)&peer, &plen,
		    SOCK_CLOEXEC)) == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				usleep(250 * 1000);	/* no spinning */
			continue;
		}
		if (atomic_load(&gw_nconns) >= gw_max_conns) {
			close(fd);
			continue;
		}
		c = xcalloc(1, sizeof(*c));
		if (inet_ntop(AF_INET, &peer.sin_addr, c->addr,
		    sizeof(c->addr)) == NULL)
			snprintf(c->addr, sizeof(c->addr), "?");
		if ((c->s = ssh_new()) == NULL ||
		    ssh_bind_accept_fd(gw_sshbind, c->s, fd) != SSH_OK) {
			log_warnx("gateway: %s: %s", c->addr, c->s ?
			    ssh_get_error(gw_sshbind) : "out of memory");
			if (c->s != NULL)
				ssh_free(c->s);
			close(fd);
			free(c);
			continue;
		}
		{
			long	kex = GW_KEX_TIMEOUT_S;

			ssh_options_set(c->s, SSH_OPTIONS_TIMEOUT, &kex);
		}
		atomic_fetch_add(&gw_nconns, 1);
		if (pthread_create(&t, &attr, gw_conn_main, c) != 0) {
			log_warn("gateway: pthread_create");
			gw_conn_end(c);
		}
	}
	return NULL;
}

int
gw_listen_start(int lfd, struct ssh_key_struct *host_key, int ask_fd,
    int max_conns, char *err, size_t errlen)
{
	pthread_t	t;
	int		verbosity = SSH_LOG_NOLOG;

	gw_lfd = lfd;
	gw_req_init(ask_fd);
	gw_max_conns = max_conns;
	if ((gw_sshbind = ssh_bind_new()) == NULL ||
	    ssh_bind_options_set(gw_sshbind, SSH_BIND_OPTIONS_IMPORT_KEY,
	    host_key) < 0 ||
	    ssh_bind_options_set(gw_sshbind, SSH_BIND_OPTIONS_LOG_VERBOSITY,
	    &verbosity) < 0) {
		errf(err, errlen, "libssh: cannot set up the gateway's host"
		    " key");
		return -1;
	}
	if (pthread_create(&t, NULL, gw_listener, NULL) != 0) {
		errf(err, errlen, "pthread_create: %s", strerror(errno));
		return -1;
	}
	pthread_detach(t);
	return 0;
}
