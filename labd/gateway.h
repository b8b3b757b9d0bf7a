/* SPDX-License-Identifier: ISC */
/*
 * gateway.h - the SSH gateway's own header: what its threads (gw_conn.c,
 * gw_relay.c) and the loop's side (gateway.c) hand each other, and the
 * pure routing of user names (gw_route.c).
 *
 * The threads never touch labd's state.  A thread fills a struct gw_req,
 * writes its address into a pipe that the loop reads, and waits on the
 * request's condition variable; the loop answers from its own thread
 * (gw_req_answer()), at once or later (a login that waits for a VM to
 * wake).  A request is held by both sides (refs) until each lets it go,
 * so that a thread that gave up waiting leaves nothing dangling.
 */
#ifndef LABD_GATEWAY_H
#define LABD_GATEWAY_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include <netinet/in.h>

#include "labd/labd.h"

/* "alice+net101+console": a login, '+', a course name, '+', a mode. */
#define GW_USERLEN	(2 * LABD_NAMELEN + 8)
#define GW_MSGLEN	512

/* What a login is for: the name's last word (gw_user_parse()). */
enum gw_mode {
	GW_MODE_SHELL,		/* relayed to the guest's sshd */
	GW_MODE_CONSOLE,	/* +console: the serial console, from labd */
	GW_MODE_RESET,		/* +reset: to pristine, after a "yes" */
	GW_MODE_CHECK,		/* +check: the course's stored checks, run */
};

enum gw_req_kind {
	GW_ADMIT,	/* addr: may it try at all (failed logins)? */
	GW_ROUTE,	/* user from addr: which VM, with what credentials */
	GW_FAILED,	/* addr failed a login */
	GW_LOGIN,	/* vm for addr: cap, allow_from, wake; ip and port */
	GW_LOGOUT,	/* vm's session from addr ended */
	GW_RESET,	/* vm back to pristine: answered once it is over */
	GW_CHECK,	/* vm's checks run: answered with the table */
	GW_PARKED,	/* a parking thread's session to vm, or why not */
};

struct gw_req {
	enum gw_req_kind	 kind;
	/* in */
	char			 addr[INET_ADDRSTRLEN];
	char			 user[GW_USERLEN + 1];
	char			 vm[LABD_VMNAMELEN];
	int64_t			 since_ms;	/* logout: when it began */
	int			 mode;		/* enum gw_mode (route) */
	/* out */
	int			 ok;
	char			 msg[GW_MSGLEN];	/* why not, for the student */
	char			 login[LABD_NAMELEN];
	char			 course[LABD_NAMELEN];
	char			 ssh_key[8192];		/* roster key, may be "" */
	char			 pw_hash[256];		/* may be "" */
	char			 keyfile[PATH_MAX];	/* the course's gateway key */
	char			 ip[64];		/* the guest's sshd */
	uint16_t		 port;
	int			 fd;		/* +console's socket */
	char			 progress[64];	/* reset: the VM's state */
	int			 nprogress;	/* bumped at a change */
	char			*text;		/* check: the student's table */
	int			 all_met;	/* check: every goal met */
	void			*guest;		/* login, parked: a session handed over */
	unsigned		 gen;		/* parked: the record's, when made */
	/* between the two sides */
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	int			 answered;
	int			 abandoned;	/* the thread stopped waiting */
	int			 cut;		/* login: the loop ends the session */
	int			 refs;
	struct gw_req		*next;		/* the loop's pending list */
};

/* gw_conn.c: the listener and a thread a connection */
struct ssh_key_struct;
/*
 * Accept on lfd (bound and listening) in a thread of its own, each
 * connection in a thread; requests go to the loop through ask_fd.
 */
int	 gw_listen_start(int lfd, struct ssh_key_struct *host_key, int ask_fd,
	    int max_conns, char *err, size_t errlen);
/*
 * gw_req.c: hand r to the loop and wait for its answer, at most
 * timeout_s: r->ok, or 0 when the loop could not be asked or took too
 * long (r->msg says so).  tick, when not NULL, runs about once a second
 * while it waits, with the loop's latest r->progress when it changed
 * (else NULL).
 */
int	 gw_ask_until(struct gw_req *, int timeout_s,
	    void (*tick)(const char *progress, void *arg), void *arg);
/* gw_req.c: requests go to the loop through ask_fd. */
void	 gw_req_init(int ask_fd);
/* A request of kind from addr, held once (by its maker). */
struct gw_req	*gw_req_new(enum gw_req_kind kind, const char *addr);
/* The loop's answer: wakes the thread, drops the loop's hold. */
void	 gw_req_answer(struct gw_req *);
/*
 * The same, for an answer that hands the thread something to own (a
 * guest session): 1 when the thread was still waiting and has it, 0
 * when it gave up waiting (the loop keeps what it meant to give).
 */
int	 gw_req_hand(struct gw_req *);
void	 gw_req_unref(struct gw_req *);
void	 gw_req_ref(struct gw_req *);
/*
 * The loop ends a session it answered (allow_from changed): msg is what
 * the student is told.  gw_req_cut() is the thread's look, 1 when cut.
 */
void	 gw_req_set_cut(struct gw_req *, const char *msg);
int	 gw_req_cut(struct gw_req *, char *msg, size_t msglen);

/*
 * gw_park.c, the threads' side: log in to the guest as r->login with
 * r->keyfile at r->ip:r->port, trying again for retry_ms while the
 * connection fails before the login; the session, or NULL with why.
 */
struct ssh_session_struct;
struct ssh_channel_struct;
struct ssh_session_struct *gw_guest(const struct gw_req *r, int retry_ms,
		    char *err, size_t errlen);
/*
 * A parked session just taken by a login's thread (g, its own now): a
 * session channel opened on it, the proof that the guest still answers,
 * which the relay then uses (gw_relay_spare()); or NULL with why, g
 * freed, and the login connects afresh.
 */
struct ssh_channel_struct *gw_park_check(struct ssh_session_struct *g,
		    char *err, size_t errlen);
/*
 * gw_park.c, the loop's side: a VM's state is known or changed (parks
 * or drops); a login of the VM's student ended (what is parked may be
 * out of date: made again); a parking thread's answer (GW_PARKED); the
 * parked session of a ready VM for a shell login, or NULL; whether one
 * is being made (a login waits for it a little); the tick; a session
 * the loop holds, closed.
 */
void	 gw_park_vm(struct vm *);
void	 gw_park_renew(const char *vm);
void	 gw_park_done(struct gw_req *);
void	*gw_park_take(struct vm *);
int	 gw_park_making(const char *vm);
void	 gw_park_tick(void);
void	 gw_park_free(void *g);
/* How gw_park.c learns the gateway sessions open to a VM (gateway.c's). */
void	 gw_park_init(int (*sessions_of)(const char *vm));

/*
 * gw_relay.c: the channels of one authenticated connection.  Made when
 * the guest is logged in, before the student hears of success, so that
 * a channel the client opens right after is never missed: the
 * connection's callbacks hand channel opens and messages to it.
 */
struct gw_relay;
struct gw_relay	*gw_relay_new(void *student, void *guest, void *event,
		    const char *name, struct gw_req *login);
/* A session channel open on the guest already: the student's first. */
void		 gw_relay_spare(struct gw_relay *, void *gc);
/* The student opens a session channel: NULL refuses it. */
void		*gw_relay_open_session(struct gw_relay *);
/* ssh_message callback's work (direct-tcpip); 1: libssh's default reply. */
int		 gw_relay_message(struct gw_relay *, void *msg);
/* Relay channels both ways until either side is gone; then freed. */
void		 gw_relay_run(struct gw_relay *);

/*
 * gw_serve.c: +console, +reset and +check, served by labd itself.  Made once the
 * loop said yes to the login (login: its request, holding the console's
 * socket for +console); the one session channel the student opens is
 * its; gw_serve_run() serves it until it ends, then frees it.
 */
struct gw_serve;
struct gw_serve	*gw_serve_new(void *student, void *event, int mode,
		    const char *vm, const char *addr, struct gw_req *login);
void		*gw_serve_open_session(struct gw_serve *);
void		 gw_serve_run(struct gw_serve *);

/*
 * gw_check.c: the loop's side of +check (GW_CHECK), and the student's
 * table made of course.check's result (res): r->text, malloc'ed, what
 * the student reads (names, descriptions, met or not, the reasons, the
 * totals; no script), and whether every goal was met.
 */
void	 gw_check(struct gw_req *);
char	*gw_check_text(json_t *res, int *all_met);

/* gw_route.c: pure functions, unit-tested (tests/unit/test_gateway.c) */
/*
 * An SSH user name: "login", "login+course", either with "+console",
 * "+reset" or "+check" after it.  0 with login, course ("" when not named) and mode
 * (enum gw_mode) filled, or -1 with why in err; names that are too
 * long, hold control or non-ASCII bytes, are no valid login or course
 * name or end in a word that is no mode are refused, and quoted back
 * only as far as they are safe.
 */
int	 gw_user_parse(const char *user, char *login, char *course,
	    int *mode, char *err, size_t errlen);
/* A VM the login has: its course. */
struct gw_cand {
	const char	*course;
	const char	*vm;
};
/*
 * Which of the login's VMs (cands, n of them) the name picks: the one
 * of course, or the only one; the index, or -1 with why in msg.
 */
int	 gw_route_pick(const char *login, const char *course,
	    const struct gw_cand *cands, size_t n, char *msg, size_t msglen);
/* addr inside one of canon's networks ("10.0.0.0/8,192.0.2.7/32"); "" all. */
int	 gw_addr_allowed(const char *canon, const char *addr);
/*
 * Sliding count of failures of one address: at most max in any minute.
 * gw_fail_add() records one at now; gw_fail_blocked() says whether the
 * address has max already, and until when (ms) in *until.
 */
#define GW_FAIL_WINDOW_MS	60000
#define GW_FAIL_ADDRS		256
#define GW_FAIL_MAX		64	/* failures remembered an address */
struct gw_fails {
	struct {
		char	 addr[INET_ADDRSTRLEN];
		int64_t	 at[GW_FAIL_MAX];	/* ring of failure times */
		int	 n, head;
		int64_t	 seen;
	} a[GW_FAIL_ADDRS];
};
void	 gw_fail_add(struct gw_fails *, const char *addr, int64_t now);
int	 gw_fail_blocked(struct gw_fails *, const char *addr, int max,
	    int64_t now, int64_t *until);

#endif /* LABD_GATEWAY_H */
