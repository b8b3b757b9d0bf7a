/* SPDX-License-Identifier: ISC */
/*
 * gw_park.c - the gateway's way into a guest, made ahead of time: per
 * ready VM one libssh session to the guest's sshd, logged in as the
 * student with the course's gateway key, parked until the student's
 * next gateway login takes it.  Without it a login made a second key
 * exchange and login, the gateway's with the guest, in series with the
 * student's own; under TCG, where the guest's crypto is slow, that was
 * 145 ms of a 0.33 s login against 0.22 s direct (bench/gateway.sh).
 *
 * Who owns a session: a libssh session is never used by two threads at
 * once.  A parking thread makes one and hands it to the loop in a
 * GW_PARKED request (gw_req_hand(): taken only if the thread still
 * waits); the loop holds it and never runs it, it only closes it
 * (ssh_free(), which sends nothing and cannot block); a login's answer
 * hands it to the connection's thread, whose own it is from then on.
 *
 * When one is made: when a VM becomes ready, or is found ready by the
 * tick (adopted at start, or after a failure's pause), eagerly rather
 * than after a first login, because the first login of a lab is the
 * one a whole class waits for.  What a parked session costs is one idle
 * sshd process in the guest and one socket and libssh session in labd;
 * what its making costs is one login to the guest, so at most
 * GW_PARK_JOBS are made at once and the rest queue: 300 VMs becoming
 * ready do not start 300 handshakes together.  A login that finds one
 * being made waits for it, a little (GW_PARK_WAIT_MS, gateway.c): it is
 * the same work a fresh connect would start.
 *
 * When one is dropped: when its VM leaves ready (stopping, suspending,
 * resetting, restoring, rebooting), is removed, or its course's access
 * is closed (allow_from closed at an exam's end), and at every logout
 * of the VM's student through the gateway.  Nothing the student does
 * in the VM reaches labd, and a session logged in before they removed
 * the gateway key from authorized_keys would let them in where a fresh
 * login is refused.  So one is made only while the student holds no
 * gateway session, taken only by a login that finds none open (a
 * second terminal connects afresh), and made again at once after the
 * last logout: it is never older than what the student did through the
 * gateway.  A key removed by other ways (the VM's own port) is seen at
 * the latest when it is made again, every GW_PARK_MAX_AGE_MS, which
 * dropbear's -K 300 asks anyway: it closes a session silent for 15
 * minutes.
 *
 * A parked session is labd's own connection: idle.c does not count it,
 * gateway.c's sessions (the cap, login and logout events) never hold
 * it, so it keeps no VM awake; a VM that suspends drops it.  One that
 * died unseen (sshd killed, the guest rebooted by itself, a network
 * hiccup) is found dead when taken: gw_park_check()'s channel open
 * fails, and the login connects afresh, as it did before parking.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "labd/gateway.h"

#define GW_GUEST_TIMEOUT_S	20
#define GW_PARK_JOBS		4		/* made at once, all VMs */
#define GW_PARK_RETRY_MS	(60 * 1000)	/* after a failure */
#define GW_PARK_MAX_AGE_MS	(10 * 60 * 1000)
#define GW_PARK_GUEST_RETRY_MS	5000
#define GW_PARK_CHECK_S		3		/* a taken one's answer */
#define GW_PARK_ASK_S		60
#define GW_PARK_STACK		(512 * 1024)

enum gw_park_state {
	GW_PARK_IDLE,		/* none */
	GW_PARK_QUEUED,		/* to be made once a job is free */
	GW_PARK_MAKING,		/* a thread makes it */
	GW_PARK_READY,		/* parked: g */
};

struct gw_park {
	char			 vm[LABD_VMNAMELEN];
	enum gw_park_state	 state;
	ssh_session		 g;
	unsigned		 gen;		/* bumped at a drop */
	int64_t			 made_ms;
	int64_t			 next_try;	/* the tick's, after a failure */
	struct gw_park		*next;
};

static struct gw_park	*gw_parks;
static int		 gw_park_jobs;		/* threads at work */
static struct {
	long long	made, failed, taken, dropped;
} gw_park_n;
static atomic_llong	 gw_park_ndead;		/* taken, found dead */
static int		(*gw_park_sessions)(const char *vm);

/* --- the threads' side: logging in to a guest ----------------------------- */

/* Log in to the guest as the student with the course's gateway key. */
static ssh_session
gw_guest_once(const struct gw_req *r, int *retry, char *err, size_t errlen)
{
	ssh_session	 g;
	ssh_key		 key = NULL;
	long		 timeout = GW_GUEST_TIMEOUT_S;
	int		 off = 0, verbosity = SSH_LOG_NOLOG, port = r->port;

	if ((g = ssh_new()) == NULL) {
		errf(err, errlen, "out of memory");
		return NULL;
	}
	if (ssh_options_set(g, SSH_OPTIONS_PROCESS_CONFIG, &off) < 0 ||
	    ssh_options_set(g, SSH_OPTIONS_LOG_VERBOSITY, &verbosity) < 0 ||
	    ssh_options_set(g, SSH_OPTIONS_HOST, r->ip) < 0 ||
	    ssh_options_set(g, SSH_OPTIONS_PORT, &port) < 0 ||
	    ssh_options_set(g, SSH_OPTIONS_USER, r->login) < 0 ||
	    ssh_options_set(g, SSH_OPTIONS_TIMEOUT, &timeout) < 0 ||
	    ssh_options_set(g, SSH_OPTIONS_STRICTHOSTKEYCHECK, &off) < 0 ||
	    ssh_options_set(g, SSH_OPTIONS_KNOWNHOSTS, "/dev/null") < 0 ||
	    ssh_options_set(g, SSH_OPTIONS_GLOBAL_KNOWNHOSTS,
	    "/dev/null") < 0) {
		errf(err, errlen, "libssh: %s", ssh_get_error(g));
		goto fail;
	}
	if (ssh_connect(g) != SSH_OK) {
		errf(err, errlen, "%s", ssh_get_error(g));
		*retry = 1;
		goto fail;
	}
	if (ssh_pki_import_privkey_file(r->keyfile, NULL, NULL, NULL,
	    &key) != SSH_OK) {
		errf(err, errlen, "cannot read the gateway key %s", r->keyfile);
		goto fail;
	}
	if (ssh_userauth_publickey(g, NULL, key) != SSH_AUTH_SUCCESS) {
		errf(err, errlen, "the VM refused the gateway's key for %s",
		    r->login);
		goto fail;
	}
	ssh_key_free(key);
	return g;
fail:
	ssh_key_free(key);
	ssh_disconnect(g);
	ssh_free(g);
	return NULL;
}

/*
 * The guest's sshd may close a connection that is not yet logged in
 * when many come at once from one address (dropbear keeps a few per
 * address): and through the gateway they all come from labd.  So a
 * connection that failed before the login is tried again, a few times.
 */
ssh_session
gw_guest(const struct gw_req *r, int retry_ms, char *err, size_t errlen)
{
	ssh_session	g;
	int64_t		end = now_ms() + retry_ms;
	int		i, retry;

	for (i = 0;; i++) {
		retry = 0;
		if ((g = gw_guest_once(r, &retry, err, errlen)) != NULL ||
		    !retry || now_ms() > end)
			return g;
		usleep(i < 3 ? 100000 << i : 1000000);
	}
}

ssh_channel
gw_park_check(ssh_session g, char *err, size_t errlen)
{
	ssh_channel	ch = NULL;
	long		short_s = GW_PARK_CHECK_S, long_s = GW_GUEST_TIMEOUT_S;

	/* A guest that does not answer at once is no better than a new one. */
	ssh_options_set(g, SSH_OPTIONS_TIMEOUT, &short_s);
	if (!ssh_is_connected(g)) {
		errf(err, errlen, "closed");
		goto fail;
	}
	if ((ch = ssh_channel_new(g)) == NULL ||
	    ssh_channel_open_session(ch) != SSH_OK) {
		errf(err, errlen, "%s", ssh_get_error(g));
		goto fail;
	}
	ssh_options_set(g, SSH_OPTIONS_TIMEOUT, &long_s);
	return ch;
fail:
	atomic_fetch_add(&gw_park_ndead, 1);
	if (ch != NULL)
		ssh_channel_free(ch);
	ssh_free(g);
	return NULL;
}

/* A parking thread: the session, handed to the loop, or closed. */
static void *
gw_park_main(void *arg)
{
	struct gw_req	*r = arg;
	ssh_session	 g;
	char		 err[GW_MSGLEN];

	g = gw_guest(r, GW_PARK_GUEST_RETRY_MS, err, sizeof(err));
	r->guest = g;
	if (g == NULL)
		snprintf(r->msg, sizeof(r->msg), "%s", err);
	if (!gw_ask_until(r, GW_PARK_ASK_S, NULL, NULL) && g != NULL) {
		/* Not wanted (dropped meanwhile): it was never the loop's. */
		ssh_disconnect(g);
		ssh_free(g);
	}
	gw_req_unref(r);
	return NULL;
}

/* --- the loop's side -------------------------------------------------------- */

static struct gw_park *
gw_park_get(const char *vm, int make)
{
	struct gw_park	*p;

	for (p = gw_parks; p != NULL; p = p->next)
		if (strcmp(p->vm, vm) == 0)
			return p;
	if (!make)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	snprintf(p->vm, sizeof(p->vm), "%s", vm);
	p->next = gw_parks;
	gw_parks = p;
	return p;
}

void
gw_park_free(void *g)
{
	if (g != NULL)
		ssh_free(g);
}

/* Nothing parked nor wanted from a job under way (it is let be). */
static void
gw_park_drop(struct gw_park *p, const char *why)
{
	if (p->state == GW_PARK_IDLE)
		return;
	if (p->state == GW_PARK_READY) {
		gw_park_free(p->g);
		p->g = NULL;
		gw_park_n.dropped++;
		log_debug("gateway: %s: parked session dropped: %s", p->vm,
		    why);
	}
	p->gen++;
	p->state = GW_PARK_IDLE;
}

/* A job for p, now: 0, or -1 (the VM, its key or a thread are missing). */
static int
gw_park_spawn(struct gw_park *p)
{
	struct vm	*vm = vm_find(p->vm);
	struct gw_req	*r;
	pthread_attr_t	 attr;
	pthread_t	 t;
	char		 err[LABD_ERRLEN];
	int		 rc;

	if (vm == NULL || vm->state != VM_READY || vm->probe_port == 0)
		return -1;
	r = gw_req_new(GW_PARKED, "labd");
	snprintf(r->vm, sizeof(r->vm), "%s", vm->name);
	snprintf(r->login, sizeof(r->login), "%s", vm->student);
	snprintf(r->ip, sizeof(r->ip), "%s", vm->probe_ip);
	r->port = vm->probe_port;
	r->gen = p->gen;
	if (keys_gateway(vm->course, NULL, 0, r->keyfile, sizeof(r->keyfile),
	    err, sizeof(err)) == -1) {
		log_debug("gateway: %s: nothing parked: %s", vm->name, err);
		gw_req_unref(r);
		return -1;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, GW_PARK_STACK);
	rc = pthread_create(&t, &attr, gw_park_main, r);	/* r is its */
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		log_warnx("gateway: %s: pthread_create: %s", vm->name,
		    strerror(rc));
		gw_req_unref(r);
		return -1;
	}
	gw_park_jobs++;
	p->state = GW_PARK_MAKING;
	return 0;
}

/* The queued ones, as far as there are jobs free. */
static void
gw_park_pump(void)
{
	struct gw_park	*p;

	for (p = gw_parks; p != NULL && gw_park_jobs < GW_PARK_JOBS;
	    p = p->next) {
		if (p->state != GW_PARK_QUEUED)
			continue;
		if (gw_park_spawn(p) == -1) {
			p->state = GW_PARK_IDLE;
			p->next_try = now_ms() + GW_PARK_RETRY_MS;
		}
	}
}

/* One to be made for p: queued, and started when a job is free. */
static void
gw_park_start(struct gw_park *p)
{
	p->state = GW_PARK_QUEUED;
	gw_park_pump();
}

/* Has the VM's course closed its access (allow_from closed)? */
static int
gw_park_closed(const char *course)
{
	sqlite3_stmt	*st;
	int		 closed;

	st = db_prepare("SELECT 1 FROM courses WHERE name = ? AND"
	    " allow_from = ?");
	sqlite3_bind_text(st, 1, course, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, LABD_ALLOW_CLOSED, -1, SQLITE_STATIC);
	closed = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return closed;
}

/* What vm should have: made when ready and none, dropped when not. */
static void
gw_park_want(struct vm *vm, int closed)
{
	struct gw_park	*p;
	int64_t		 now = now_ms();

	if (vm->state != VM_READY || vm->probe_port == 0 || closed) {
		if ((p = gw_park_get(vm->name, 0)) != NULL)
			gw_park_drop(p, closed ? "access closed" :
			    vm_state_name(vm->state));
		return;
	}
	p = gw_park_get(vm->name, 1);
	if (p->state == GW_PARK_READY && now - p->made_ms > GW_PARK_MAX_AGE_MS)
		gw_park_drop(p, "made again: old");
	if (p->state == GW_PARK_IDLE && now >= p->next_try &&
	    gw_park_sessions(vm->name) == 0)
		gw_park_start(p);
}

void
gw_park_init(int (*sessions_of)(const char *vm))
{
	gw_park_sessions = sessions_of;
}

void
gw_park_vm(struct vm *vm)
{
	gw_park_want(vm, vm->state == VM_READY && gw_park_closed(vm->course));
}

void
gw_park_renew(const char *name)
{
	struct gw_park	*p;
	struct vm	*vm;

	if ((vm = vm_find(name)) == NULL)
		return;
	p = gw_park_get(name, 1);
	gw_park_drop(p, "the student logged out");
	p->next_try = 0;
	gw_park_vm(vm);
}

void
gw_park_done(struct gw_req *r)
{
	struct gw_park	*p = gw_park_get(r->vm, 0);
	ssh_session	 g = r->guest;

	gw_park_jobs--;
	if (p == NULL || p->state != GW_PARK_MAKING || p->gen != r->gen) {
		r->ok = 0;	/* dropped while it was made: the thread closes it */
		gw_req_answer(r);
	} else if (g == NULL) {
		gw_park_n.failed++;
		log_info("gateway: %s: no session parked: %s", r->vm, r->msg);
		p->state = GW_PARK_IDLE;
		p->next_try = now_ms() + GW_PARK_RETRY_MS;
		r->ok = 0;
		gw_req_answer(r);
	} else {
		r->ok = 1;
		if (gw_req_hand(r)) {
			p->g = g;
			p->state = GW_PARK_READY;
			p->made_ms = now_ms();
			gw_park_n.made++;
			log_debug("gateway: %s: a session parked", p->vm);
		} else
			p->state = GW_PARK_IDLE;
	}
	gw_park_pump();
}

void *
gw_park_take(struct vm *vm)
{
	struct gw_park	*p = gw_park_get(vm->name, 0);
	ssh_session	 g;

	if (p == NULL || p->state != GW_PARK_READY)
		return NULL;
	g = p->g;
	p->g = NULL;
	p->state = GW_PARK_IDLE;
	gw_park_n.taken++;
	return g;
}

int
gw_park_making(const char *vm)
{
	struct gw_park	*p = gw_park_get(vm, 0);

	return p != NULL && (p->state == GW_PARK_QUEUED ||
	    p->state == GW_PARK_MAKING);
}

/* Every VM as it should be; records of removed VMs go. */
void
gw_park_tick(void)
{
	struct gw_park	**pp, *p;
	struct vm	 *vm;
	sqlite3_stmt	 *st;
	char		**closed = NULL;
	size_t		  nclosed = 0, i;
	int		  shut;

	st = db_prepare("SELECT name FROM courses WHERE allow_from = ?");
	sqlite3_bind_text(st, 1, LABD_ALLOW_CLOSED, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		closed = xrealloc(closed, (nclosed + 1) * sizeof(*closed));
		closed[nclosed++] = xstrdup(db_text(st, 0));
	}
	sqlite3_finalize(st);
	for (vm = vm_list(); vm != NULL; vm = vm->next) {
		for (shut = 0, i = 0; i < nclosed && !shut; i++)
			shut = strcmp(closed[i], vm->course) == 0;
		gw_park_want(vm, shut);
	}
	for (i = 0; i < nclosed; i++)
		free(closed[i]);
	free(closed);
	for (pp = &gw_parks; (p = *pp) != NULL; ) {
		if (vm_find(p->vm) == NULL) {
			gw_park_drop(p, "the VM was removed");
			if (p->state == GW_PARK_IDLE) {
				*pp = p->next;
				free(p);
				continue;
			}
		}
		pp = &p->next;
	}
}

json_t *
gw_park_status(void)
{
	struct gw_park	*p;
	int		 parked = 0, making = 0;

	for (p = gw_parks; p != NULL; p = p->next) {
		parked += p->state == GW_PARK_READY;
		making += p->state == GW_PARK_QUEUED ||
		    p->state == GW_PARK_MAKING;
	}
	return json_pack("{s:i,s:i,s:I,s:I,s:I,s:I,s:I}",
	    "parked", parked, "making", making,
	    "made", (json_int_t)gw_park_n.made,
	    "failed", (json_int_t)gw_park_n.failed,
	    "taken", (json_int_t)gw_park_n.taken,
	    "dead", (json_int_t)atomic_load(&gw_park_ndead),
	    "dropped", (json_int_t)gw_park_n.dropped);
}
