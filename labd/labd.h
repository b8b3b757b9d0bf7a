/* SPDX-License-Identifier: ISC */
/*
 * labd.h - labd's internal header: the daemon's shared types and the
 * prototypes of each file, grouped by file.  vmm/ and portforward/ are
 * reached only through their public headers.
 */
#ifndef LABD_LABD_H
#define LABD_LABD_H

#include <sys/types.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "labd/config.h"
#include "proto/proto.h"

#define LABD_VERSION	"0.1.0"
#define LABD_VMNAMELEN	(2 * LABD_NAMELEN + 1)
/* An error message for a reply: as much as reply_err() sends. */
#define LABD_MSGLEN	2048

#ifndef __dead
#define __dead	__attribute__((__noreturn__))
#endif
#define PRINTFLIKE(a, b) __attribute__((__format__(__printf__, a, b)))

/* log.c */
void	log_init(int foreground, int verbose);
void	log_warn(const char *, ...) PRINTFLIKE(1, 2);
void	log_warnx(const char *, ...) PRINTFLIKE(1, 2);
void	log_info(const char *, ...) PRINTFLIKE(1, 2);
void	log_debug(const char *, ...) PRINTFLIKE(1, 2);
__dead void fatal(const char *, ...) PRINTFLIKE(1, 2);
__dead void fatalx(const char *, ...) PRINTFLIKE(1, 2);

/* util.c */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);
char	*xasprintf(const char *, ...) PRINTFLIKE(1, 2);
void	 errf(char *err, size_t errlen, const char *, ...) PRINTFLIKE(3, 4);
int	 mkdir_p(const char *path, mode_t mode);
int	 rm_rf(const char *path);
/*
 * The folder path opened (O_DIRECTORY), when labd's euid owns it and
 * neither group nor others may write to it; else -1 with err naming
 * what ("run_dir"), the folder, its owner and mode.
 */
int	 dir_private_open(const char *path, const char *what, char *err,
	    size_t errlen);
int	 file_exists(const char *path);
char	*file_read(const char *path, size_t max, size_t *len, char *err,
	    size_t errlen);
int	 file_write_atomic(const char *path, const void *buf, size_t len,
	    mode_t mode, char *err, size_t errlen);
int	 file_copy(const char *from, const char *to, mode_t mode, char *err,
	    size_t errlen);
/* The same from in (left open), called from in errors. */
int	 file_copy_fd(int in, const char *from, const char *to, mode_t mode,
	    char *err, size_t errlen);
int	 run_capture(char *const argv[], char *out, size_t outlen, char *err,
	    size_t errlen);
/*
 * A TCP socket listening on IPv4 ip:port (SO_REUSEADDR: relayed
 * connections may still hold the port), socket flags such as
 * SOCK_NONBLOCK added to SOCK_CLOEXEC; -1 with err "IP:PORT: why".
 */
int	 tcp_listen(const char *ip, uint16_t port, int flags, int backlog,
	    char *err, size_t errlen);
int64_t	 now_ms(void);
/* Replace what is not UTF-8 (overlong, surrogate, cut) by '?'; the count. */
size_t	 utf8_scrub(char *);

/* loop.c: an epoll event loop with file handlers and timers */
struct loop;
typedef void	(*loop_fd_cb)(struct loop *, int fd, uint32_t events, void *arg);
/* Return the delay in ms until the next call, or -1 to remove the timer. */
typedef int	(*loop_timer_cb)(struct loop *, void *arg);
struct loop	*loop_new(void);
void		 loop_free(struct loop *);
int		 loop_add_fd(struct loop *, int fd, uint32_t events, loop_fd_cb,
		    void *arg);
int		 loop_mod_fd(struct loop *, int fd, uint32_t events);
void		 loop_del_fd(struct loop *, int fd);
long long	 loop_add_timer(struct loop *, int ms, loop_timer_cb, void *arg);
void		 loop_del_timer(struct loop *, long long id);
void		 loop_run(struct loop *);
void		 loop_stop(struct loop *);

/* worker.c: slow work (qemu-img, spawning QEMU, SSH probes) off the loop */
struct job {
	void		(*run)(struct job *);	/* in a worker thread */
	void		(*done)(struct job *);	/* back in the loop's thread */
	struct job	*next;
};
struct workers;
struct workers	*workers_new(struct loop *, int nthreads);
int		 workers_count(int configured, int ncpu);
void		 workers_submit(struct workers *, struct job *);
int		 workers_pending(struct workers *);
int		 workers_size(struct workers *);

/*
 * events.c: the bus.  kind is a control protocol event name ("vm.state");
 * data is what clients subscribed to events are sent (the bus owns it);
 * vm the VM it is about, or NULL.
 */
struct vm;
struct event {
	const char	*kind;
	struct vm	*vm;
	json_t		*data;
};
typedef void	(*event_fn)(const struct event *, void *arg);
void		 events_on(const char *kind, event_fn, void *arg);	/* NULL: all */
void		 events_off(event_fn, void *arg);
void		 events_fire(const char *kind, struct vm *, json_t *data);
/*
 * How a long operation ends, for whoever asked: fn(arg, NULL, NULL,
 * result) on success (result handed over), fn(arg, code, message, NULL)
 * with an LABD_E_* code on failure; at most once.  fn NULL: nobody asked.
 */
struct done {
	void	(*fn)(void *arg, const char *code, const char *msg,
		    json_t *result);
	void	*arg;
};
#define DONE_NONE	((struct done){ NULL, NULL })
void		 done_ok(struct done *, json_t *result);
void		 done_err(struct done *, const char *code, const char *, ...)
		    PRINTFLIKE(3, 4);

/* checkscript.c: the program a check runs in a guest, and its lines */
#define CHECK_GOALS_MAX		32
#define CHECK_GOAL_NAMELEN	33		/* [A-Za-z0-9_-], 32 at most */
#define CHECK_SCRIPT_MAX	(64 * 1024)	/* bytes of one goal script */
#define CHECK_OUTPUT_MAX	(1024 * 1024)	/* a goal's output, cut there */
#define CHECK_REASON_MAX	200		/* bytes of its last line kept */
struct check_goal {
	char		 name[CHECK_GOAL_NAMELEN];
	char		*description;
	char		*script;
};
struct check_line {
	const char	*name;		/* into the parsed line */
	int		 status;	/* 0-255 */
	int		 timeout;	/* killed by the watchdog */
	int		 cut;		/* its output reached CHECK_OUTPUT_MAX */
	int		 met;
	const char	*reason;	/* its output's last line */
};
/* The program, NUL-terminated, *len bytes; param is [0-9a-f]. */
char		*check_script(const struct check_goal *, size_t n,
		    const char *param, int timeout_s, size_t *len);
/* A "labd-check\t..." line, cut in place: 0, or -1 when not one. */
int		 check_parse_line(char *line, struct check_line *);

/* db.c: the SQLite state store */
int		 db_open(const char *path, sqlite3 **, char *err, size_t errlen);
sqlite3_stmt	*db_prepare(const char *sql);
sqlite3_stmt	*db_cached(sqlite3_stmt **slot, const char *sql);
int		 db_exec(const char *sql);
int		 db_begin(void);
int		 db_begin_read(void);
int		 db_commit(void);
void		 db_rollback(void);
const char	*db_text(sqlite3_stmt *, int col);
void		 db_event(uid_t uid, const char *kind, const char *subject,
		    const char *fmt, ...) PRINTFLIKE(4, 5);

/* control.c: the control socket and the dispatcher of its commands */
struct req {
	uint64_t	 client;	/* client id, looked up again at reply time */
	json_t		*id;		/* the request's id, echoed back */
	uid_t		 uid;		/* from SO_PEERCRED */
	gid_t		 gid;
	pid_t		 pid;
};

/*
 * A command's arguments.  The dispatcher checks every request against its
 * command's list before the handler runs: each key of "args" is listed
 * and of its type, each required key is there.  A handler reads its
 * arguments as given and checks only their values (names, ranges).
 */
enum arg_type {
	ARG_STRING,
	ARG_INTEGER,
	ARG_BOOLEAN,
	ARG_OBJECT,
	ARG_ARRAY,
};
enum arg_need {
	ARG_OPTIONAL,
	ARG_REQUIRED,
};
struct cmd_arg {
	const char	*key;
	enum arg_type	 type;
	enum arg_need	 need;
	const char	*help;
};
#define CMD_MAXARGS	18
#define CMD_CONN	0x01	/* about the connection itself, not the lab */
#define CMD_TA		0x02	/* the ta role may run it too, not only admin */
struct cmd {
	const char	*name;
	void		(*fn)(const struct req *, json_t *args);
	int		 flags;		/* CMD_* */
	const char	*help;
	struct cmd_arg	 args[CMD_MAXARGS];	/* up to the first NULL key */
};

/*
 * A connection's role, from the peer's credentials: admin may run every
 * command, ta those marked CMD_TA.  Root and labd's own user are admin.
 */
enum role {
	ROLE_NONE,
	ROLE_TA,
	ROLE_ADMIN,
};
/* The groups of the roles; (gid_t)-1 for none.  Names for messages. */
struct control_roles {
	gid_t		 admin_gid;
	gid_t		 ta_gid;
	char		 admin_group[64];
	char		 ta_group[64];
};
/*
 * Listen on path and dispatch to cmds, which is kept (not copied) until
 * control_close(); a table with a name twice, an argument twice or no
 * handler is refused.  roles NULL: root and labd's user alone.  The
 * socket's folder must be labd's and writable by nobody else.
 */
int		 control_listen(const char *path, const struct control_roles *,
		    const struct cmd *cmds, size_t ncmds, char *err,
		    size_t errlen);
void		 control_close(void);
struct req	*req_keep(const struct req *);
/*
 * A duplicate of labd's socket to r's client, whose identity the kernel
 * keeps (SO_PEERCRED): the helper acts as that client.  -1 when gone.
 */
int		 req_peer(const struct req *r);
void		 req_free(struct req *);
/* 1 when r's client has the admin role. */
int		 req_admin(const struct req *r);
/* Both take result/the message and free a kept req when done with it. */
void		 reply_ok(const struct req *, json_t *result);
/* reply_ok() with a descriptor passed along (SCM_RIGHTS); -1: not sent. */
int		 reply_ok_fd(const struct req *, json_t *result, int fd);
void		 reply_err(const struct req *, const char *code, const char *,
		    ...) PRINTFLIKE(3, 4);
/*
 * A request line checked against table, the handler not run: its command
 * with r->id and *argsp references to drop, or NULL after the error reply.
 */
const struct cmd *control_parse(const struct cmd *table, size_t n,
		    struct req *r, const char *line, size_t len,
		    json_t **argsp);
/* A struct done that replies to r when the operation ends. */
struct done	 req_done(const struct req *);
/* A string argument, or NULL when absent or not a string. */
const char	*arg_str(json_t *args, const char *key);
/* Handlers for the command table: the connection and the table itself. */
void		 control_hello(const struct req *, json_t *);
void		 control_subscribe(const struct req *, json_t *);
void		 control_help(const struct req *, json_t *);

/*
 * caller.c: who asked (uid and gid from SO_PEERCRED, groups from the user
 * database) and the files they name, opened with their rights.
 */
struct stat;
#define LABD_NGROUPS	256
struct caller {
	uid_t	uid;
	gid_t	gid;
	gid_t	groups[LABD_NGROUPS];
	int	ngroups;
	int	peer;		/* our socket to the client (req_peer()), or -1 */
};
/*
 * peer.c: uid and gid (-1: the account's), the groups looked up; peer is
 * the caller's to close.
 */
void		 caller_init(struct caller *, uid_t uid, gid_t gid, int peer);
/* path as we are: a regular file, no link, no wait on a FIFO; -1, err. */
int		 caller_open_here(const char *path, char *err, size_t errlen);
void		 caller_close(struct caller *);
/* Would the kernel grant the caller bits (04 r, 02 w, 01 x) on st? */
int		 caller_may(const struct caller *, const struct stat *,
		    unsigned bits);
/*
 * path opened read-only as the caller could (NULL: as labd itself): a
 * regular file, not a link, never blocking on a FIFO; in a worker only.
 * -1 with err.
 */
int		 caller_open(const struct caller *, const char *path, char *err,
		    size_t errlen);
/*
 * qemu-img info of fd (-f fmt unless NULL) and convert of in into out,
 * run as the caller; give: bits of the descriptors (1 in, 2 out) that
 * are labd's own files, the caller's while qemu-img runs.
 */
json_t		*caller_img_info(const struct caller *, int fd, const char *fmt,
		    int give, const char *name, char *err, size_t errlen);
int		 caller_img_convert(const struct caller *, int in,
		    const char *fmt, int out, const char *ofmt, int give,
		    const char *name, char *err, size_t errlen);
/*
 * With the helper only: the folder dir opened and tmp made in it as the
 * caller, then labd's to write (base, the name it will have, checked);
 * caller_commit() renames it to base as the caller, or removes it when
 * base is NULL.
 */
int		 caller_place(const struct caller *, const char *dir,
		    const char *tmp, const char *base, int force, int *dfd,
		    int *fd, char *err, size_t errlen);
int		 caller_commit(const struct caller *, int dfd, int fd,
		    const char *tmp, const char *base, int force, char *err,
		    size_t errlen);
/* peer.c: the helper's side of the above, in a child of it. */
int		 caller_serve_open(int peer, const char *path, char *err,
		    size_t errlen);
json_t		*caller_serve_img(int peer, const char *verb, const char *fmt,
		    const char *ofmt, const char *name, int give, const int *fds,
		    int nfds, char *err, size_t errlen);
int		 caller_serve_place(int peer, const char *dir, const char *tmp,
		    const char *base, int force, int fds[2], char *err,
		    size_t errlen);
int		 caller_serve_commit(int peer, const int *fds, int nfds,
		    const char *tmp, const char *base, int force, char *err,
		    size_t errlen);

/*
 * admit.c: NULL when nvms guests of memory_mb fit the host's memory and
 * state_dir's disk, each with a reserve; else LABD_E_FAILED and why, with
 * the numbers.  The host's room and warnings for status, and the watch
 * that logs when memory or disk runs low.
 */
const char	*admit_course(int nvms, int memory_mb, char *err,
		    size_t errlen);
json_t		*admit_status(void);
void		 admit_watch_start(void);

/*
 * boot.c: the boot queue and failed boots, as decisions that vm.c acts
 * on.  How many VMs may boot at once (max_booting 0: auto, from the
 * accelerator and ncpu); the pause before boot number tries + 1.
 */
int		 boot_limit(int max_booting, enum vmm_accel, int ncpu);
int		 boot_backoff_ms(int tries);
/* VMs provisioning or booting, and queued, in list. */
void		 boot_count(const struct vm *list, int *booting, int *queued);
/* The queued VM to start now (the first in list), or NULL. */
struct vm	*boot_next(struct vm *list, int limit, int64_t now);
/* After a failed boot, the tries-th: once more, or give up. */
enum boot_verdict {
	BOOT_RETRY,
	BOOT_GIVE_UP,
};
enum boot_verdict boot_verdict(int tries, int max_tries);
/* A QEMU gone: asked to stop, the guest powered off, or a crash. */
enum boot_exit {
	BOOT_EXIT_STOPPED,
	BOOT_EXIT_POWEROFF,
	BOOT_EXIT_CRASH,
};
enum boot_exit	 boot_exit_kind(int stopping, int guest_shutdown);
/* QMP SHUTDOWN's data says the guest powered itself off. */
int		 boot_shutdown_by_guest(json_t *data);
/* needle in the console log since *offset (moved on): 1 found. */
int		 boot_serial_scan(const char *path, off_t *offset,
		    const char *needle);
/* Its last nlines lines, cleaned, joined by " | "; "" when none. */
void		 boot_console_tail(const char *path, int nlines, char *out,
		    size_t outlen);

/* cmd.c: the command table */
const struct cmd *cmd_table(size_t *n);

/* cmd_template.c */
void	cmd_template_import(const struct req *, json_t *);
void	cmd_template_list(const struct req *, json_t *);
void	cmd_template_show(const struct req *, json_t *);
void	cmd_template_rm(const struct req *, json_t *);
void	cmd_template_from_vm(const struct req *, json_t *);
/* cmd_course.c */
void	cmd_course_create(const struct req *, json_t *);
void	cmd_course_list(const struct req *, json_t *);
void	cmd_course_access(const struct req *, json_t *);
void	cmd_course_set(const struct req *, json_t *);
void	cmd_course_show(const struct req *, json_t *);
void	cmd_course_rm(const struct req *, json_t *);
/* cmd_vm.c */
void	cmd_vm_list(const struct req *, json_t *);
void	cmd_vm_start(const struct req *, json_t *);
void	cmd_vm_stop(const struct req *, json_t *);
void	cmd_vm_reset(const struct req *, json_t *);
void	cmd_vm_snapshot(const struct req *, json_t *);
void	cmd_vm_snapshot_rm(const struct req *, json_t *);
void	cmd_vm_snapshots(const struct req *, json_t *);
void	cmd_vm_suspend(const struct req *, json_t *);
void	cmd_vm_backup(const struct req *, json_t *);
void	cmd_vm_passwd(const struct req *, json_t *);
void	cmd_vm_console(const struct req *, json_t *);
/* What vm.reset and vm.console do, for the gateway's +reset and +console. */
void	vm_reset_pristine(struct vm *, uid_t uid, struct done d);
int	vm_console_open(const struct vm *, const char **code, char *err,
	    size_t errlen);
void	cmd_vm_vnc(const struct req *, json_t *);
void	cmd_vm_exec(const struct req *, json_t *);
void	cmd_removed_list(const struct req *, json_t *);
/* check.c: course.check and course.check_last */
void	cmd_course_check(const struct req *, json_t *);
void	cmd_course_check_last(const struct req *, json_t *);
/*
 * goals ([{name, description, script}], as labctl reads a folder)
 * checked as course.check checks them: NULL, or the code with why in
 * err, what (the field, "checks") in front.
 */
const char	*check_goals_valid(json_t *goals, const char *what, char *err,
		    size_t errlen);
/* The course's stored goals (course set checks=DIR), or NULL: none. */
json_t		*check_stored(int64_t course_id);
/*
 * The gateway's +check: the course's stored goals run in vm alone, its
 * result (as course.check's) to d, stored marked as the student's.  NULL
 * when started, else the code with why in err: no stored goals, the VM
 * not ready, or a check already running in it (LABD_E_BUSY).
 */
const char	*check_vm_stored(struct vm *vm, struct done d, char *err,
		    size_t errlen);
/* param.c: every VM's parameter, /etc/labd/param and LAB_PARAM */
#define VM_PARAMLEN	16	/* hex digits */
/* vm_id's parameter into out (VM_PARAMLEN + 1 at least), made the first time; -1 when it cannot be. */
int	vm_param(int64_t vm_id, char *out, size_t outlen);
/*
 * labcheck.c: lab-check in the guest, over a virtio-serial port of each
 * VM (run_dir/VM/check.sock) that labd connects to from its loop.
 */
#define LABCHECK_LINE_MAX	128	/* bytes of a request line, newline included */
#define LABCHECK_NONCE_MAX	64
#define LABCHECK_INTERVAL_S	10	/* between the end of a run and the next */
void	labcheck_init(void);
/*
 * A non-blocking connection to the UNIX socket sock in vm's run_dir (a
 * port's host end: check.sock, agent.sock); -1 when there is none.
 */
int	vmport_connect(const char *vm, const char *sock);
/*
 * A request line (without its newline, len bytes, maybe not NUL-ended):
 * "check NONCE", NONCE 1 to LABCHECK_NONCE_MAX - 1 of [A-Za-z0-9-].
 * 0 with nonce filled, or -1 with why in err.
 */
int	labcheck_parse(const char *line, size_t len, char *nonce,
	    size_t noncelen, char *err, size_t errlen);
/*
 * agent.c: labd-agent in the guest, over a virtio-serial port of each VM
 * (run_dir/VM/agent.sock) that labd holds from its loop: the clock and
 * the sudo policy after a RAM restore without an SSH login.
 */
#define AGENT_LINE_MAX	128	/* bytes of a line from the guest, newline included */
#define AGENT_TOKEN_MAX	64
#define AGENT_RUN_MS	3000	/* a run's answer, before SSH does it instead */
enum { AGENT_HELLO = 1, AGENT_DONE };
void	agent_init(void);
/*
 * A line from the guest (without its newline, len bytes, maybe not
 * NUL-ended): "hello TOKEN" (AGENT_HELLO) or "done TOKEN STATUS"
 * (AGENT_DONE, status 0 to 255), TOKEN 1 to AGENT_TOKEN_MAX - 1 of
 * [A-Za-z0-9-]; -1 for anything else.
 */
int	agent_parse(const char *line, size_t len, char *token,
	    size_t tokenlen, int *status);
/*
 * From a worker: cmd (one line) run by vm's agent as root, its exit
 * status in status; -1 with why in err when the agent has not said hello
 * on the current connection or has not answered in timeout_ms (the
 * command may still run later).
 */
int	agent_run(const char *vm, const char *cmd, int timeout_ms,
	    int *status, char *err, size_t errlen);
/*
 * guestfiles.c: what the seed installs in every guest at its first boot:
 * /usr/local/bin/lab-check, the udev rule that lets every user open its
 * port, /etc/labd/param; and the runcmd that applies the rule.
 */
struct vmm_file;
#define GUEST_FILES_MAX	6
/* param_line: "PARAM\n", the caller's (the workers run at once); files point into it. */
size_t	guest_files(const char *param_line, struct vmm_file *files, size_t max,
	    const char *const **runcmd, size_t *nruncmd);
/* checklast.c: each VM's last check (vm.list, vm.checks, check.done) */
void	checklast_fill(json_t *list);
void	checklast_done(json_t *result);
void	cmd_vm_checks(const struct req *, json_t *);
/* collect.c: vm.collect */
void	cmd_vm_collect(const struct req *, json_t *);
/* The guest's command that tars paths (checked) to stdout; owned. */
char	*collect_command(json_t *paths);
void	cmd_removed_recover(const struct req *, json_t *);

/*
 * retain.c: disks a removal or a fresh disk would delete, kept for
 * [labd] keep_removed in state_dir/removed/ID/.  retain_keep() keeps disk
 * (a hard link) with what it was; id gets the ID, "" when keeping is off.
 * It touches no shared state: workers call it too.
 */
int	retain_keep(const char *disk, const char *vm, const char *course,
	    const char *student, const char *why, char *id, size_t idlen,
	    char *err, size_t errlen);
/* ID's meta.json, NULL (with err) when ID is not a kept disk; dir gets its folder. */
json_t	*retain_meta(const char *id, char *dir, size_t dirlen, char *err,
	    size_t errlen);
json_t	*retain_list(void);
int	 retain_newest(const char *, char *, size_t);
void	retain_purge(void);
void	retain_init(void);

/*
 * logcap.c: path cut to its last keep bytes, in place, when it is over
 * max bytes.  1 cut, 0 left as it is (or absent), -1 error.
 */
#define LOGCAP_MAX	(8LL << 20)	/* a console log's size at most */
#define LOGCAP_KEEP	(1LL << 20)	/* what a cut keeps */
int	logcap_cut(const char *path, long long max, long long keep);

/* vm.c: one VM's life, driven toward the state the database wants */
enum vm_state {
	VM_STOPPED = 0,
	VM_PROVISIONING,	/* disk and seed being made, QEMU starting */
	VM_BOOTING,		/* QEMU runs, guest not answering yet */
	VM_READY,		/* root logs in with labd's key, cloud-init is done */
	VM_STOPPING,
	VM_FAILED,
	VM_SUSPENDING,		/* RAM being saved into the disk */
	VM_SUSPENDED,		/* no QEMU; RAM in the disk, resumed on start */
	VM_RESUMING,		/* QEMU paused, RAM being loaded */
	VM_RESTORING,		/* going back to a snapshot */
	VM_SNAPSHOTTING,	/* a snapshot being taken */
	VM_QUEUED,		/* to boot when a boot slot is free (boot.c) */
	VM_PAUSED,		/* QEMU stopped it on a disk error (diskfull.c) */
};
struct waiter;
struct vm {
	int64_t		 id;
	char		 name[LABD_VMNAMELEN];
	char		 course[LABD_NAMELEN];
	char		 student[LABD_NAMELEN];
	enum vm_state	 state;
	int		 want_running;	/* the database's desired state */
	int		 want_suspended;
	int		 clock_pending;	/* set the guest's clock once it answers */
	int		 sudo_applied;	/* the sudo policy last put in the guest */
	int		 busy;		/* a worker job runs for it */
	int		 probing;	/* an SSH probe is in flight */
	int		 serial_seen;	/* the ready line has been seen */
	int		 boot_tries;	/* boots since it was last ready */
	int		 guest_off;	/* the guest powered itself off */
	int		 panicked;	/* GUEST_PANICKED came: fail the boot */
	int		 disk_why;	/* paused: enum diskfull_kind */
	enum vm_state	 paused_from;	/* paused: the state it goes back to */
	int64_t		 retry_at;	/* queued: no boot before (now_ms) */
	off_t		 serial_off;	/* console log read up to here */
	off_t		 golden_off;	/* the same, for the golden's line */
	unsigned	 gen;		/* bumped at every (re)start */
	pid_t		 pid;
	struct qmp	*qmp;
	int64_t		 boot_ms;	/* when the guest booted: its uptime */
	int64_t		 wait_ms;	/* since when it is waited for (booting) */
	int64_t		 ready_ms;
	int64_t		 stop_deadline;	/* powerdown gives up, then quit */
	char		 ready_line[128];
	char		 guest_ip[16];	/* bridge mode: its address */
	char		 probe_ip[64];
	uint16_t	 probe_port;
	int64_t		 probe_next;	/* no probe before this (now_ms) */
	char		 probe_err[256];	/* why the last probe said "not yet" */
	char		 error[512];
	/* idle.c: who is connected, how long it has been idle */
	int		 conns;		/* established TCP connections */
	time_t		 last_conn;	/* when one was last seen; 0: never */
	int64_t		 conn_ms;	/* the same, on now_ms()'s clock */
	int64_t		 active_ms;	/* became ready: idle time starts */
	int		 net_forwarded;	/* nettable.c: its ports DNAT'd (bridge) */
	struct waiter	*waiters;
	struct vm	*next;
};
const char	*vm_state_name(enum vm_state);
/* The state it is in now, with why (shown, logged) or NULL; tells all. */
void		 vm_set_state(struct vm *, enum vm_state, const char *error);

/*
 * diskfull.c: a guest that QEMU paused on a write error (BLOCK_IO_ERROR
 * with action "stop": a full host disk under werror=enospc, or another
 * I/O error) is shown as paused, and continued when there is room again.
 */
enum diskfull_kind {
	DISKFULL_NONE = 0,	/* not an error that paused the guest */
	DISKFULL_NOSPACE,	/* "disk full": continued when room is back */
	DISKFULL_ERROR,		/* "disk error": continued only by hand */
};
#define DISKFULL_MARGIN_MB	16	/* free space to continue at, at least */
enum diskfull_kind diskfull_classify(const char *event, const json_t *data);
const char	*diskfull_detail(enum diskfull_kind);
/* Hears vm.c's "vm.io-error" events: shows a VM QEMU paused as paused. */
void		 diskfull_init(void);
/* Continue a paused VM (cont): 0, or -1 with err. */
int		 diskfull_resume(struct vm *, char *err, size_t errlen);
/* From the admit watch: continue disk-full VMs that have room again. */
void		 diskfull_watch(void);
/* Should a VM paused for full disk continue with free_mb of total_mb? */
int		 diskfull_room(long long free_mb, long long total_mb);
struct vm	*vm_find(const char *name);
struct vm	*vm_by_id(int64_t id);
struct vm	*vm_list(void);
int		 vm_load_all(char *err, size_t errlen);
struct vm	*vm_add(int64_t id);
void		 vm_reconcile_all(void);
/*
 * Operations tell d (see struct done) how they ended: once the VM is
 * ready / stopped / suspended, or at once when refused.
 */
void		 vm_op_start(struct vm *, struct done d);
void		 vm_op_stop(struct vm *, int force, struct done d);
void		 vm_op_reset(struct vm *, struct done d);
void		 vm_op_snapshot(struct vm *, const char *name, struct done d);
void		 vm_op_snapshot_rm(struct vm *, const char *name, struct done d);
/* Back to a snapshot: RAM and disk without a reboot when it has RAM. */
void		 vm_op_restore(struct vm *, const char *name, struct done d);
void		 vm_op_suspend(struct vm *, struct done d);
/*
 * A copy of the disk, a command over SSH, see vmjob.h: NULL when the job
 * is submitted (its hooks report the end), else an LABD_E_* code with err
 * (j still yours).
 */
struct vmjob;
const char	*vm_op_backup(struct vm *, struct vmjob *j, char *err,
		    size_t errlen);
const char	*vm_op_exec(struct vm *, struct vmjob *j, char *err,
		    size_t errlen);
/* A ready VM gets its course's sudo setting now, if it has another. */
void		 vm_op_policy(struct vm *);
int		 vm_snapshot_find(const struct vm *, const char *name, int *ram);
json_t		*vm_snapshots_json(const struct vm *);
void		 vm_snap_rows_set(struct vm *, const struct vmm_snapshot *,
		    size_t n);
int		 vm_remove(struct vm *, char *err, size_t errlen);
json_t		*vm_to_json(const struct vm *);
int		 vm_paths(const char *name, char *vmdir, char *rundir);
int		 vm_count(int *running);

/*
 * template.c: the golden disks, their import pipeline and their rows.
 * A function that can be refused returns NULL when it did its work, else
 * the LABD_E_* code that applies with a message for a person in err; it
 * never replies itself.
 */
/* A valid name, not being imported right now (invalid, busy). */
const char	*template_name_check(const char *name, char *err,
		    size_t errlen);
/*
 * Import the next version of name from path (absolute: a profile .ini, an
 * .ova/.ovf, a disk) in a worker; done hears of the new row, or at once
 * of why not.
 */
void		 template_import(const char *name, const char *path,
		    int preallocate, uid_t uid, gid_t gid, int peer,
		    struct done done);
/*
 * The next version of name from vm's disk, copied live while it runs
 * (vm_op_backup()); done hears of the new row, or at once of why not.
 */
void		 template_from_vm(struct vm *vm, const char *name, uid_t uid,
		    struct done done);
/* Every version, oldest first within a name. */
json_t		*template_list(void);
/* NAME@V, or NAME's newest: every field, the disk, its courses and VMs. */
const char	*template_show(const char *ref, json_t **res, char *err,
		    size_t errlen);
/* NAME@V, or NAME with one version, and its folder; busy while in use. */
const char	*template_rm(const char *ref, uid_t uid, json_t **res,
		    char *err, size_t errlen);
/* The row id of ref (newest without @V) and its publish; -1: none. */
int64_t		 template_resolve(const char *ref, char *publish,
		    size_t publishlen);
/* The guest RAM of template row id, MiB; 0 when there is no such row. */
int		 template_memory_mb(int64_t id);
/* A row's publish "ssh:22,http:80" into names and ports; how many. */
size_t		 template_publish_parse(const char *publish,
		    char names[][PF_NAMELEN], uint16_t *ports, size_t max);

/*
 * course.c: courses, their students, VMs and ports in the database.  The
 * same contract as template.c's: NULL when done, else a LABD_E_* code
 * with the message in err; *res is then the result to send.
 */
/*
 * name from template tref (NAME or NAME@V) and roster (CSV text, rname
 * in its errors): all rows written or none, the VMs started; *res holds
 * the access sheet with the generated passwords.
 */
const char	*course_create(const char *name, const char *tref,
		    const char *roster, const char *rname, int overcommit,
		    uid_t uid, json_t **res, char *err, size_t errlen);
/* Every course with its template, VM count, ready count and schedule. */
json_t		*course_list(void);
/* What course.set changes: each as given, NULL when unchanged. */
struct course_change {
	const char	*reset_at;	/* "12:00, 18:00" */
	const char	*reset_to;	/* a snapshot name */
	const char	*idle_suspend;	/* "30m", "off" */
	const char	*internet;	/* on/off */
	const char	*isolation;	/* on/off */
	const char	*allow_from;	/* CIDRs, "any" */
	const char	*allow_nets;	/* private CIDRs, "none" */
	const char	*sudo;		/* on/off */
	const char	*student_reset;	/* on/off: the gateway's +reset */
	json_t		*checks;	/* goals to store, [] to clear */
	const char	*cpu_weight;	/* 1..10000, "default" */
	const char	*memory_max;	/* "512M", "auto" */
	const char	*pids_max;	/* 64..65536, "default" */
	const char	*exam_end;	/* "HH:MM[:SS]", "none" */
	const char	*collect;	/* "PATH[,PATH...]" at exam_end */
};
/* Check and store the change (network ones live first); *res: all now. */
const char	*course_set(const char *course, const struct course_change *,
		    uid_t uid, json_t **res, char *err, size_t errlen);
/* Its template, settings and VMs. */
const char	*course_show(const char *course, json_t **res, char *err,
		    size_t errlen);
/* Its rows, VMs and their files; busy while a VM of it runs. */
const char	*course_rm(const char *course, uid_t uid, json_t **res,
		    char *err, size_t errlen);
/*
 * The access sheet, one row a student, without the SSH passwords (kept
 * hashed) but with the VNC passwords (kept) when [vnc] is on.
 */
const char	*course_access(const char *course, json_t **res, char *err,
		    size_t errlen);

/* cglimit.c: each VM's limits in its cgroups (v2, or v1 where only there) */
#define LABD_CGROUP		"labd-vms"	/* each hierarchy's folder of VMs */
#define LABD_CPU_WEIGHT		100		/* v2's default: all VMs equal */
#define LABD_IO_WEIGHT		100
#define LABD_PIDS_MAX		256		/* a tiny TCG QEMU has ~10 threads */
#define LABD_PIDS_MIN		64
#define LABD_PIDS_TOP		65536
/*
 * QEMU's own beyond guest RAM and tb_size: a tiny TCG VM peaked at 236
 * MiB resident after boot (128 RAM + 32 tb + 76 of QEMU's); 128 leaves
 * QEMU half as much again for snapshots, VNC and the like.
 */
#define LABD_MEM_MARGIN_MB	128
#define LABD_MEM_MAX_BYTES	(1LL << 40)
struct cg_limits {
	long long	memory_max;	/* bytes: memory.max, limit_in_bytes */
	unsigned	cpu_weight;	/* v2 cpu.weight 1..10000 */
	unsigned	io_weight;	/* v2 io.weight 1..10000 */
	unsigned	pids_max;
};
/* "512M", "1G", "1048576" into bytes; -1 with err naming field. */
int		 cglimit_size_parse(const char *s, const char *field,
		    long long *bytes, char *err, size_t errlen);
/* memory_max=auto: guest RAM + tb_size (under TCG) + the margin, bytes. */
long long	 cglimit_memory_auto(unsigned memory_mb, unsigned tb_size_mb,
		    int tcg);
void		 cglimit_defaults(struct cg_limits *, unsigned memory_mb,
		    unsigned tb_size_mb, int tcg);
int		 cglimit_valid(const struct cg_limits *, char *err,
		    size_t errlen);
unsigned	 cglimit_v1_shares(unsigned cpu_weight);
unsigned	 cglimit_v1_blkio(unsigned io_weight);
/* As root, at start: which hierarchy each controller is used on. */
void		 cglimit_init(const char *v2_mnt, const char *v2_folder);
const char	*cglimit_mode_text(char *buf, size_t len);
json_t		*cglimit_status(void);
int		 cglimit_active(void);
/*
 * VM vm's folders made afresh with limits l: v2dir (when not NULL) and
 * one in each v1 hierarchy used, into dirs (VMM_CGROUPS_MAX of them) for
 * QEMU to join.  -1 with err, nothing left made.
 */
int		 cglimit_make(const char *vm, const char *v2dir,
		    const struct cg_limits *l, char dirs[][PATH_MAX],
		    size_t *ndirs, char *err, size_t errlen);
/* rmdir of vm's v1 folders: 1 all gone, 0 one busy. */
int		 cglimit_remove(const char *vm);

/* schedule.c: a course's scheduled resets */
int		 schedule_parse(const char *spec, int *secs, int max, char *err,
		    size_t errlen);
void		 schedule_init(void);

/*
 * A course's exam end (exam_end=HH:MM collect=PATH,...): parsed in
 * schedule.c, fired by examend.c.
 */
/*
 * "HH:MM[:SS]": the next time of day after now, local time, in *at;
 * "none": 0.  -1 with err naming exam_end.
 */
int		 examend_parse(const char *spec, time_t now, time_t *at,
		    char *err, size_t errlen);
/* "PATH[,PATH...]" as a JSON array, each checked; NULL with err. */
json_t		*examend_paths(const char *spec, char *err, size_t errlen);
void		 examend_init(void);

/* idle.c: connections on the published ports, a course's idle_suspend */
int		 idle_parse(const char *spec, int *secs, char *err,
		    size_t errlen);
void		 idle_init(void);

/*
 * gateway.c: the SSH gateway of [gateway]; nothing when it is not set.
 * Binds and reads its host key: before labd drops root.
 */
int		 gateway_init(char *err, size_t errlen);
/* gw_park.c: the gateway's parked sessions, counted (labctl status). */
json_t		*gw_park_status(void);

/* wake.c: labd answers a suspended VM's ports and wakes it */
void		 wake_init(void);

/* net.c: bridge, taps, guest addresses */
int		 net_init(char *err, size_t errlen);
int		 net_subnet(uint32_t *base, int *plen);
int		 net_max_slot(void);
int		 net_guest_ip(int slot, char *out, size_t outlen);
void		 net_gateway(char *out, size_t outlen);
int		 net_prefix(void);
void		 net_tap_name(int64_t vm_id, char *out, size_t outlen);
int		 net_tap_ensure(int64_t vm_id, char *err, size_t errlen);
void		 net_tap_remove(int64_t vm_id);
/* 1: IPv4 forwarding was on before labd; 0: labd turned it on. */
int		 net_host_routes(void);
/* nettable.c: the nftables table "labd", conntrack */
int		 net_table_init(char *err, size_t errlen);
/* Render the table from the database, apply it when it changed. */
int		 net_sync(char *err, size_t errlen);
void		 net_resync(const char *why);	/* net_sync, failure logged */
int		 net_conntrack(void (*)(void *, uint32_t src, uint16_t sport,
		    uint32_t dst, uint16_t dport, int established), void *);

/*
 * vnc.c: [vnc], the wall and each student's screen (the VNC thread is
 * vnc_server.c); off while [vnc] listen is unset.
 */
int		 vnc_init(char *err, size_t errlen);
/* How to reach vm's screen; its student's password for an admin. */
const char	*vnc_info(const char *vm, int admin, json_t **res, char *err,
		    size_t errlen);
json_t		*vnc_status(void);	/* null when off */

/* keys.c: labd's management key, the courses' gateway keys */
int		 keys_init(const char *state_dir, char *err, size_t errlen);
const char	*keys_public(void);
const char	*keys_private(void);	/* the private key's file */
/* The ed25519 key at priv (made when missing); pub may be NULL. */
int		 keys_load_or_make(const char *priv, const char *what,
		    const char *comment, char *pub, size_t publen, char *err,
		    size_t errlen);
/* The course's gateway key: its public line and private key's file. */
int		 keys_gateway(const char *course, char *pub, size_t publen,
		    char *priv, size_t privlen, char *err, size_t errlen);
void		 keys_gateway_rm(const char *course);

/* main.c: the daemon's one instance */
struct labd {
	struct labd_config	 cfg;
	struct loop		*loop;
	struct workers		*workers;
	sqlite3			*db;
	enum vmm_accel		 accel;
	char			 accel_note[256];
	int			 ksm;		/* labd turned KSM on */
	int64_t			 started_ms;
	int			 foreground;
};
extern struct labd *labd;

#endif /* LABD_LABD_H */
