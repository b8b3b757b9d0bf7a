/* SPDX-License-Identifier: ISC */
/*
 * gateway.c - one SSH door for the whole class, the loop's side.
 *
 *	[gateway]
 *	listen   = 203.0.113.10:22
 *	host_key = /var/lib/labd/gateway_ed25519
 *
 * "ssh alice@IP" lands in alice's VM when she has one course,
 * "ssh alice+net101@IP" in her VM of net101; "+console" after either
 * attaches the VM's serial console, "+reset" resets it to pristine
 * after a "yes" when the course allows it (student_reset), "+check"
 * runs the course's stored checks in the VM and prints the student's
 * goals (gw_check.c), all served by labd itself (gw_serve.c), not by
 * the guest.  libssh speaks SSH in
 * threads of their own (gw_conn.c, a thread a connection, and
 * gw_relay.c for the channels); they never touch labd's state but ask
 * this file through a pipe, and wait for the answer:
 *
 *   GW_ADMIT   may this address try at all (failed logins a minute)?
 *   GW_ROUTE   which VM does this user name mean, and with which roster
 *              key or password hash does its student log in?  The
 *              course's allow_from (exam mode) applies here as on the
 *              VM's own ports.
 *   GW_FAILED  a failed login, counted against the address
 *   GW_LOGIN   the student proved who they are: a session if they hold
 *              fewer than [gateway] sessions, their VM woken when it is
 *              suspended and waited for until it is ready, refused when
 *              it is stopped or failed; gateway.login on the bus
 *              (+console: the VM running, its serial socket opened
 *              with vm.console's code; +reset: student_reset on;
 *              +check: the course has stored checks)
 *   GW_LOGOUT  the connection ended; gateway.logout on the bus
 *   GW_RESET   the student typed yes: vm.reset's way back to pristine,
 *              answered once the VM is ready again; the VM's states on
 *              the way are handed to the waiting thread as progress
 *   GW_CHECK   +check's session began: check.c's run of the stored
 *              goals in this VM alone, answered with the student's
 *              table once it is over (gw_check.c)
 *   GW_PARKED  a session to a guest, logged in ahead of time by a
 *              thread of gw_park.c, parked for the student's next login
 *              (which GW_LOGIN hands it, in r->guest) or not wanted
 *
 * The socket is bound and the host key read before labd drops root
 * (main.c), so that port 22 and a key under /etc work.  Sessions do not
 * survive a restart of labd: the connections drop with it and the
 * student connects again (the VMs keep running).
 *
 * Sessions count as connections for idle.c: the gateway's own
 * connection to a guest comes from labd, which idle.c leaves out, so a
 * VM with a gateway session has its last connection time set here,
 * every GW_TICK_MS.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "labd/gateway.h"

#define GW_TICK_MS		1000
#define GW_WAKE_TIMEOUT_MS	(5 * 60 * 1000)	/* a resume or a boot under TCG */
#define GW_BACKLOG		128
#define GW_MAX_CONNS		1024	/* threads at once, logged in or not */
#define GW_PARK_WAIT_MS		2000	/* for a parked session being made */

struct gw_sess {
	char		 vm[LABD_VMNAMELEN];
	char		 login[LABD_NAMELEN];
	char		 course[LABD_NAMELEN];
	char		 addr[INET_ADDRSTRLEN];
	int64_t		 since_ms;
	struct gw_req	*req;		/* the login's, to cut it */
	struct gw_sess	*next;
};

/* A login that waits for its VM to be ready. */
struct gw_wait {
	struct gw_req	*req;
	int64_t		 deadline;
	int64_t		 park_until;	/* waits for a parked session */
	int		 woke;		/* we asked the VM to start */
	struct gw_wait	*next;
};

/* A reset under way: its request, told of the VM's states. */
struct gw_resetting {
	struct gw_req		*req;
	struct gw_resetting	*next;
};

static int		 gw_ask[2] = { -1, -1 };
static struct gw_fails	*gw_fails;
static struct gw_sess	*gw_sessions;
static struct gw_wait	*gw_waits;
static struct gw_resetting *gw_resets;

static const char *const gw_mode_names[] = {
	[GW_MODE_SHELL] = "",
	[GW_MODE_CONSOLE] = " (+console)",
	[GW_MODE_RESET] = " (+reset)",
	[GW_MODE_CHECK] = " (+check)",
};

/* --- answers ------------------------------------------------------------ */

static void
gw_refuse(struct gw_req *r, const char *fmt, ...) PRINTFLIKE(2, 3);

static void
gw_refuse(struct gw_req *r, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	r->ok = 0;
	gw_req_answer(r);
}

static struct vm *
gw_vm(const char *name)
{
	return name[0] != '\0' ? vm_find(name) : NULL;
}

/* The course's allow_from, canonical ("" for anyone). */
static void
gw_allow_from(const char *course, char *out, size_t outlen)
{
	sqlite3_stmt	*st;

	out[0] = '\0';
	st = db_prepare("SELECT allow_from FROM courses WHERE name = ?");
	sqlite3_bind_text(st, 1, course, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(out, outlen, "%s", db_text(st, 0));
	sqlite3_finalize(st);
}

/* allow_from as the instructor set it: "closed" at an exam's end. */
static const char *
gw_allow_show(const char *canon)
{
	return strcmp(canon, LABD_ALLOW_CLOSED) == 0 ? "closed" : canon;
}

/* May the course's students reset their VMs (student_reset)? */
static int
gw_student_reset(const char *course)
{
	sqlite3_stmt	*st;
	int		 on = 0;

	st = db_prepare("SELECT student_reset FROM courses WHERE name = ?");
	sqlite3_bind_text(st, 1, course, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		on = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return on;
}

/* Has the course stored checks (course set checks=DIR)? */
static int
gw_has_checks(const char *course)
{
	sqlite3_stmt	*st;
	int		 yes;

	st = db_prepare("SELECT 1 FROM course_checks k JOIN courses c ON"
	    " c.id = k.course_id WHERE c.name = ?");
	sqlite3_bind_text(st, 1, course, -1, SQLITE_STATIC);
	yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

static int
gw_sessions_of(const char *vm)
{
	struct gw_sess	*s;
	int		 n = 0;

	for (s = gw_sessions; s != NULL; s = s->next)
		n += strcmp(s->vm, vm) == 0;
	return n;
}

/* --- the requests --------------------------------------------------------- */

static void
gw_admit(struct gw_req *r)
{
	int64_t	until, now = now_ms();

	if (gw_fail_blocked(gw_fails, r->addr, labd->cfg.gw_failures, now,
	    &until)) {
		gw_refuse(r, "too many failed logins from %s; try again in"
		    " %lld s", r->addr, (long long)((until - now + 999) / 1000));
		return;
	}
	r->ok = 1;
	gw_req_answer(r);
}

static void
gw_route(struct gw_req *r)
{
	struct gw_cand	 cands[16];
	char		*courses[16], *vms[16], allow[1024];
	char		 msg[GW_MSGLEN], err[LABD_ERRLEN];
	sqlite3_stmt	*st;
	size_t		 n = 0, i;
	int		 k;

	if (gw_user_parse(r->user, r->login, r->course, &r->mode, msg,
	    sizeof(msg)) == -1) {
		gw_fail_add(gw_fails, r->addr, now_ms());
		gw_refuse(r, "%s", msg);
		return;
	}
	st = db_prepare("SELECT c.name, v.name FROM students s"
	    " JOIN courses c ON c.id = s.course_id"
	    " JOIN vms v ON v.student_id = s.id WHERE s.login = ?"
	    " ORDER BY c.name");
	sqlite3_bind_text(st, 1, r->login, -1, SQLITE_STATIC);
	while (n < 16 && sqlite3_step(st) == SQLITE_ROW) {
		courses[n] = xstrdup(db_text(st, 0));
		vms[n] = xstrdup(db_text(st, 1));
		cands[n].course = courses[n];
		cands[n].vm = vms[n];
		n++;
	}
	sqlite3_finalize(st);
	k = gw_route_pick(r->login, r->course, cands, n, msg, sizeof(msg));
	if (k >= 0) {
		snprintf(r->course, sizeof(r->course), "%s", cands[k].course);
		snprintf(r->vm, sizeof(r->vm), "%s", cands[k].vm);
	}
	for (i = 0; i < n; i++) {
		free(courses[i]);
		free(vms[i]);
	}
	if (k < 0) {
		if (n == 0)	/* a name guessed: it counts as a failure */
			gw_fail_add(gw_fails, r->addr, now_ms());
		gw_refuse(r, "%s", msg);
		return;
	}
	gw_allow_from(r->course, allow, sizeof(allow));
	if (!gw_addr_allowed(allow, r->addr)) {
		gw_refuse(r, "course %s is in exam mode: logins from %s are not"
		    " allowed (allow_from %s)", r->course, r->addr,
		    gw_allow_show(allow));
		return;
	}
	st = db_prepare("SELECT s.ssh_key, s.pw_hash FROM students s"
	    " JOIN courses c ON c.id = s.course_id"
	    " WHERE s.login = ? AND c.name = ?");
	sqlite3_bind_text(st, 1, r->login, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->course, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(r->ssh_key, sizeof(r->ssh_key), "%s", db_text(st, 0));
		snprintf(r->pw_hash, sizeof(r->pw_hash), "%s", db_text(st, 1));
	}
	sqlite3_finalize(st);
	if (keys_gateway(r->course, NULL, 0, r->keyfile, sizeof(r->keyfile),
	    err, sizeof(err)) == -1) {
		log_warnx("gateway: %s", err);
		gw_refuse(r, "the gateway cannot reach VMs of %s just now; use"
		    " your VM's own port", r->course);
		return;
	}
	r->ok = 1;
	gw_req_answer(r);
}

/* The session begins: counted, on the bus and in the event log. */
static void
gw_login_ok(struct gw_req *r, struct vm *vm)
{
	struct gw_sess	*s;
	const char	*code, *mode = gw_mode_names[r->mode];
	char		 err[LABD_ERRLEN];
	void		*g;

	if (r->mode == GW_MODE_CONSOLE && (r->fd = vm_console_open(vm, &code,
	    err, sizeof(err))) == -1) {
		log_warnx("gateway: %s", err);
		gw_refuse(r, "your VM's console cannot be opened just now: %s",
		    err);
		return;
	}
	/* Parked while she held no session, taken only so (gw_park.c). */
	if (r->mode == GW_MODE_SHELL && gw_sessions_of(vm->name) == 0)
		r->guest = gw_park_take(vm);
	s = xcalloc(1, sizeof(*s));
	snprintf(s->vm, sizeof(s->vm), "%s", vm->name);
	snprintf(s->login, sizeof(s->login), "%s", vm->student);
	snprintf(s->course, sizeof(s->course), "%s", vm->course);
	snprintf(s->addr, sizeof(s->addr), "%s", r->addr);
	s->since_ms = now_ms();
	gw_req_ref(r);
	s->req = r;
	s->next = gw_sessions;
	gw_sessions = s;
	vm->conn_ms = now_ms();
	vm->last_conn = time(NULL);
	snprintf(r->ip, sizeof(r->ip), "%s", vm->probe_ip);
	r->port = vm->probe_port;
	log_info("gateway: %s logged in to %s from %s%s", vm->student,
	    vm->name, r->addr, mode);
	db_event(0, "gateway.login", vm->name, "%s from %s%s", vm->student,
	    r->addr, mode);
	events_fire("gateway.login", vm, json_pack("{s:s,s:s,s:s,s:s,s:i,s:s}",
	    "vm", vm->name, "student", vm->student, "course", vm->course,
	    "from", r->addr, "sessions", gw_sessions_of(vm->name),
	    "mode", r->mode == GW_MODE_CONSOLE ? "console" :
	    r->mode == GW_MODE_RESET ? "reset" : r->mode == GW_MODE_CHECK ?
	    "check" : "shell"));
	r->ok = 1;
	g = r->guest;
	if (!gw_req_hand(r))	/* the thread gave up: its session is ours */
		gw_park_free(g);
}

/*
 * A student's reset, asked, refused or failed: in the event log
 * (labctl events) and on the bus (labtui).  r->login is the student.
 */
static void
gw_reset_event(struct gw_req *r, struct vm *vm, const char *what)
{
	const char	*student = vm != NULL ? vm->student : r->login;

	db_event(0, "gateway.reset", r->vm, "%s from %s: %s", student,
	    r->addr, what);
	events_fire("gateway.reset", vm, json_pack("{s:s,s:s,s:s,s:s}",
	    "vm", r->vm, "student", student, "from", r->addr, "what", what));
}

/*
 * Where the login stands: 1 answered (either way), 0 still waiting for
 * the VM.  The session cap and allow_from are looked at again each time:
 * both may have changed while the VM woke.
 */
static int
gw_login_try(struct gw_wait *w)
{
	struct gw_req	*r = w->req;
	struct vm	*vm = gw_vm(r->vm);
	char		 allow[1024];
	int		 abandoned;

	pthread_mutex_lock(&r->mu);
	abandoned = r->abandoned;
	pthread_mutex_unlock(&r->mu);
	if (abandoned) {
		gw_refuse(r, "gone");
		return 1;
	}
	if (vm == NULL) {
		gw_refuse(r, "your VM %s no longer exists", r->vm);
		return 1;
	}
	gw_allow_from(vm->course, allow, sizeof(allow));
	if (!gw_addr_allowed(allow, r->addr)) {
		gw_refuse(r, "course %s is in exam mode: logins from %s are not"
		    " allowed (allow_from %s)", vm->course, r->addr,
		    gw_allow_show(allow));
		return 1;
	}
	if (gw_sessions_of(vm->name) >= labd->cfg.gw_sessions) {
		gw_refuse(r, "%s has %d gateway sessions open already, the most"
		    " a student may hold; close one and try again",
		    vm->student, gw_sessions_of(vm->name));
		return 1;
	}
	if (r->mode == GW_MODE_RESET) {
		/* A reset needs nothing of the VM but that it is not off. */
		if (!gw_student_reset(vm->course)) {
			gw_reset_event(r, vm, "refused, student_reset is off");
			gw_refuse(r, "course %s does not let students reset"
			    " their VMs (student_reset is off); ask your"
			    " instructor", vm->course);
			return 1;
		}
		if (vm->state != VM_STOPPED && vm->state != VM_STOPPING) {
			gw_login_ok(r, vm);
			return 1;
		}
	}
	/* Said at the login, before the VM is woken for nothing. */
	if (r->mode == GW_MODE_CHECK && !gw_has_checks(vm->course)) {
		gw_refuse(r, "course %s has no checks for you to run; ask your"
		    " instructor", vm->course);
		return 1;
	}
	switch (vm->state) {
	case VM_READY:
		if (vm->probe_port == 0 && r->mode != GW_MODE_CONSOLE)
			return 0;
		/* A session being parked: the very work a login would start. */
		if (r->mode == GW_MODE_SHELL && gw_park_making(vm->name) &&
		    gw_sessions_of(vm->name) == 0) {
			if (w->park_until == 0)
				w->park_until = now_ms() + GW_PARK_WAIT_MS;
			if (now_ms() < w->park_until)
				return 0;
		}
		gw_login_ok(r, vm);
		return 1;
	case VM_BOOTING:
		/* The console shows the boot: the day sshd is broken. */
		if (r->mode == GW_MODE_CONSOLE && vm->pid > 0) {
			gw_login_ok(r, vm);
			return 1;
		}
		break;
	case VM_STOPPED:
	case VM_STOPPING:
		gw_refuse(r, "your VM %s is stopped; ask your instructor to"
		    " start it", vm->name);
		return 1;
	case VM_FAILED:
		gw_refuse(r, "your VM %s failed to start%s%s; ask your"
		    " instructor", vm->name, vm->error[0] ? ": " : "",
		    vm->error);
		return 1;
	case VM_SUSPENDED:
		if (!w->woke && !vm->busy) {
			log_info("gateway: %s logs in to suspended %s from %s:"
			    " waking it", vm->student, vm->name, r->addr);
			db_event(0, "vm.wake", vm->name, "gateway login of %s"
			    " from %s", vm->student, r->addr);
			w->woke = 1;
			vm_op_start(vm, DONE_NONE);
		}
		break;
	default:	/* booting, resuming, restoring...: it will be ready */
		break;
	}
	if (now_ms() > w->deadline) {
		gw_refuse(r, "your VM %s was not ready within %d s; try again"
		    " in a moment", vm->name, GW_WAKE_TIMEOUT_MS / 1000);
		return 1;
	}
	return 0;
}

static void
gw_waits_check(void)
{
	struct gw_wait	**wp, *w;

	for (wp = &gw_waits; (w = *wp) != NULL; ) {
		if (gw_login_try(w)) {
			*wp = w->next;
			free(w);
		} else
			wp = &w->next;
	}
}

static void
gw_login(struct gw_req *r)
{
	struct gw_wait	*w = xcalloc(1, sizeof(*w));

	w->req = r;
	w->deadline = now_ms() + GW_WAKE_TIMEOUT_MS;
	if (gw_login_try(w)) {
		free(w);
		return;
	}
	w->next = gw_waits;
	gw_waits = w;
}

static void
gw_logout(struct gw_req *r)
{
	struct gw_sess	**sp, *s;
	struct vm	*vm;
	int64_t		 secs;

	for (sp = &gw_sessions; (s = *sp) != NULL; sp = &s->next)
		if (strcmp(s->vm, r->vm) == 0 && strcmp(s->addr, r->addr) == 0)
			break;
	if (s == NULL) {
		r->ok = 0;
		gw_req_answer(r);
		return;
	}
	*sp = s->next;
	secs = (now_ms() - s->since_ms) / 1000;
	log_info("gateway: %s logged out of %s from %s after %lld s",
	    s->login, s->vm, s->addr, (long long)secs);
	db_event(0, "gateway.logout", s->vm, "%s from %s after %lld s",
	    s->login, s->addr, (long long)secs);
	if ((vm = gw_vm(s->vm)) != NULL) {
		vm->conn_ms = now_ms();
		vm->last_conn = time(NULL);
	}
	events_fire("gateway.logout", vm, json_pack("{s:s,s:s,s:s,s:s,s:I}",
	    "vm", s->vm, "student", s->login, "course", s->course,
	    "from", s->addr, "seconds", (json_int_t)secs));
	gw_req_unref(s->req);
	/* What the student did in the VM may undo what is parked. */
	gw_park_renew(s->vm);
	free(s);
	r->ok = 1;
	gw_req_answer(r);
}

/* The reset is over: the thread hears how, once the VM is ready. */
static void
gw_reset_done(void *arg, const char *code, const char *msg, json_t *result)
{
	struct gw_req		*r = arg;
	struct gw_resetting	**pp, *p;
	char			 what[GW_MSGLEN];
	for (pp = &gw_resets; (p = *pp) != NULL; pp = &p->next)
		if (p->req == r) {
			*pp = p->next;
			free(p);
			break;
		}
	if (code != NULL) {
		snprintf(what, sizeof(what), "failed: %s", msg);
		gw_reset_event(r, gw_vm(r->vm), what);
		gw_refuse(r, "the reset failed: %s", msg);
	} else {
		/* vm_reset_pristine()'s note: a fresh disk, not pristine. */
		snprintf(r->msg, sizeof(r->msg), "%s", json_object_get(result,
		    "note") != NULL ? "is on a fresh disk from the template,"
		    " ready (it had no pristine snapshot yet)" :
		    "is back to pristine, ready");
		r->ok = 1;
		gw_req_answer(r);
	}
	json_decref(result);
}

/*
 * The student typed yes: what labctl reset VM does.  The course may
 * have turned student_reset off since the login; it is asked again.
 */
static void
gw_reset(struct gw_req *r)
{
	struct gw_resetting	*p;
	struct vm		*vm = gw_vm(r->vm);

	if (vm == NULL) {
		gw_refuse(r, "your VM %s no longer exists", r->vm);
		return;
	}
	snprintf(r->login, sizeof(r->login), "%s", vm->student);
	if (!gw_student_reset(vm->course)) {
		gw_reset_event(r, vm, "refused, student_reset is off");
		gw_refuse(r, "course %s does not let students reset their VMs"
		    " (student_reset is off); ask your instructor", vm->course);
		return;
	}
	log_info("gateway: %s resets %s from %s", vm->student, vm->name,
	    r->addr);
	gw_reset_event(r, vm, "to pristine");
	p = xcalloc(1, sizeof(*p));
	p->req = r;
	p->next = gw_resets;
	gw_resets = p;
	vm_reset_pristine(vm, 0, (struct done){ gw_reset_done, r });
}

/* The threads' requests: one pointer a write, whole (below PIPE_BUF). */
static void
gw_on_ask(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct gw_req	*r;
	ssize_t		 n;

	while ((n = read(fd, &r, sizeof(r))) == (ssize_t)sizeof(r)) {
		switch (r->kind) {
		case GW_ADMIT:
			gw_admit(r);
			break;
		case GW_ROUTE:
			gw_route(r);
			break;
		case GW_FAILED:
			gw_fail_add(gw_fails, r->addr, now_ms());
			r->ok = 1;
			gw_req_answer(r);
			break;
		case GW_LOGIN:
			gw_login(r);
			break;
		case GW_LOGOUT:
			gw_logout(r);
			break;
		case GW_RESET:
			gw_reset(r);
			break;
		case GW_CHECK:
			gw_check(r);
			break;
		case GW_PARKED:
			gw_park_done(r);
			if (gw_waits != NULL)
				gw_waits_check();
			break;
		}
	}
}

/* --- the tick: waits, and sessions as connections for idle.c ------------- */

/*
 * Each tick: the waits, and the open sessions.  A session counts as a
 * connection (idle.c); one whose course now shuts its address out
 * (allow_from set during it, as nftables cuts the ports' connections)
 * or whose VM is gone is cut.
 */
static int
gw_tick(struct loop *l, void *arg)
{
	struct gw_sess	*s;
	struct vm	*vm;
	char		 allow[1024], msg[GW_MSGLEN];

	gw_waits_check();
	gw_park_tick();
	for (s = gw_sessions; s != NULL; s = s->next) {
		if ((vm = gw_vm(s->vm)) == NULL) {
			gw_req_set_cut(s->req, "your VM was removed");
			continue;
		}
		vm->conn_ms = now_ms();
		vm->last_conn = time(NULL);
		gw_allow_from(s->course, allow, sizeof(allow));
		if (!gw_addr_allowed(allow, s->addr)) {
			snprintf(msg, sizeof(msg), "course %s is in exam mode"
			    " now: %s is not allowed (allow_from %s)",
			    s->course, s->addr, gw_allow_show(allow));
			gw_req_set_cut(s->req, msg);
		}
	}
	return GW_TICK_MS;
}

/* A VM's state changed: waits may go on, resets tell their student. */
static void
gw_vm_state(const struct event *ev, void *arg)
{
	struct gw_resetting	*p;
	struct gw_req		*r;

	if (ev->vm != NULL)
		gw_park_vm(ev->vm);
	if (gw_waits != NULL)
		gw_waits_check();
	if (ev->vm == NULL)
		return;
	for (p = gw_resets; p != NULL; p = p->next) {
		r = p->req;
		if (strcmp(r->vm, ev->vm->name) != 0)
			continue;
		pthread_mutex_lock(&r->mu);
		snprintf(r->progress, sizeof(r->progress), "%s",
		    vm_state_name(ev->vm->state));
		r->nprogress++;
		pthread_cond_signal(&r->cv);
		pthread_mutex_unlock(&r->mu);
	}
}

/* --- start-up -------------------------------------------------------------- */

int
gateway_init(char *err, size_t errlen)
{
	struct labd_config	*c = &labd->cfg;
	char			 path[PATH_MAX], e[LABD_ERRLEN];
	ssh_key			 key = NULL;
	int			 lfd = -1;

	if (c->gw_port == 0)
		return 0;
	if (c->gw_host_key[0] != '\0')
		snprintf(path, sizeof(path), "%s", c->gw_host_key);
	else
		snprintf(path, sizeof(path), "%s/gateway_ed25519",
		    c->state_dir);
	ssh_init();
	if (keys_load_or_make(path, "gateway host key", "labd-gateway", NULL,
	    0, e, sizeof(e)) == -1 ||
	    ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key) !=
	    SSH_OK) {
		errf(err, errlen, "[gateway] host_key: %s", e[0] ? e :
		    "cannot read it");
		return -1;
	}
	if ((lfd = tcp_listen(c->gw_ip, c->gw_port, 0, GW_BACKLOG, e,
	    sizeof(e))) == -1) {
		errf(err, errlen, "[gateway] listen = %s", e);
		goto fail;
	}
	if (pipe2(gw_ask, O_CLOEXEC) == -1) {
		errf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	/* The loop never waits on a thread: its end reads without blocking. */
	fcntl(gw_ask[0], F_SETFL, O_NONBLOCK);
	gw_fails = xcalloc(1, sizeof(*gw_fails));
	if (loop_add_fd(labd->loop, gw_ask[0], EPOLLIN, gw_on_ask, NULL) == -1) {
		errf(err, errlen, "gateway: %s", strerror(errno));
		goto fail;
	}
	gw_park_init(gw_sessions_of);
	events_on("vm.state", gw_vm_state, NULL);
	loop_add_timer(labd->loop, GW_TICK_MS, gw_tick, NULL);
	if (gw_listen_start(lfd, key, gw_ask[1], GW_MAX_CONNS, err,
	    errlen) == -1)
		goto fail;
	log_info("gateway listening on %s:%u (host key %s)", c->gw_ip,
	    c->gw_port, path);
	return 0;
fail:
	if (lfd != -1)
		close(lfd);
	ssh_key_free(key);
	return -1;
}
