/* SPDX-License-Identifier: ISC */
/*
 * gw_serve.c - the gateway's sessions that labd serves itself, in the
 * connection's thread, for the day the guest's sshd is of no help:
 *
 *   alice+console@   the VM's serial console, the socket vm.console
 *                    opens (the loop opened it at the login); Ctrl-]
 *                    or the end of the session detaches
 *   alice+reset@     "type yes", then vm.reset's way back to pristine,
 *                    its progress and its end printed
 *   alice+check@     the course's stored checks run in the VM; her
 *                    goals, met or not, printed (gw_check.c made the
 *                    text); exit status 0 when all are met, else 1
 *
 * The student opens one session channel, as for a shell; a pty is
 * welcome but not needed, so that both can be scripted.  With a pty the
 * student's terminal is raw: we echo the answer to the question
 * ourselves and end lines with CR LF.  What the guest writes on its
 * console passes the filter of proto/term.c, as it does for labctl
 * console: the guest may draw, not make the terminal answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include "labd/gateway.h"
#include "proto/term.h"

#define GW_SERVE_START_MS	(60 * 1000)	/* to open and start a shell */
#define GW_ANSWER_MS		(2 * 60 * 1000)	/* to type yes */
#define GW_RESET_TIMEOUT_S	(20 * 60)	/* a fresh boot under TCG */
/* check.c's own bound: 32 goals of 30 s, the login and the copies. */
#define GW_CHECK_TIMEOUT_S	(CHECK_GOALS_MAX * 33 + 120)
#define GW_SERVE_BYE_MS		5000	/* the client's own end, at most */
#define GW_ANSWER_MAX		16
#define GW_CONSOLE_BUF		4096

struct gw_serve {
	ssh_session		 s;
	ssh_event		 ev;
	ssh_channel		 sc;		/* the one session channel */
	struct ssh_channel_callbacks_struct cb;
	int			 mode;
	int			 pty;		/* the client's terminal is raw */
	int			 started;	/* shell or exec asked */
	int			 fd;		/* +console: QEMU's socket */
	struct gw_req		*login;
	char			 vm[LABD_VMNAMELEN];
	char			 addr[INET_ADDRSTRLEN];
};

/* --- the channel's requests: a terminal and a start, nothing else ------- */

static int
sv_pty(ssh_session s, ssh_channel sc, const char *term, int cols, int rows,
    int pxw, int pxh, void *arg)
{
	struct gw_serve	*sv = arg;

	sv->pty = 1;
	return 0;
}

static int
sv_winch(ssh_session s, ssh_channel sc, int cols, int rows, int pxw,
    int pxh, void *arg)
{
	return 0;	/* the serial console has no size to tell */
}

static int
sv_shell(ssh_session s, ssh_channel sc, void *arg)
{
	struct gw_serve	*sv = arg;

	sv->started = 1;
	return 0;
}

/* A command is taken as a shell: the name said what to do. */
static int
sv_exec(ssh_session s, ssh_channel sc, const char *cmd, void *arg)
{
	struct gw_serve	*sv = arg;

	sv->started = 1;
	return 0;
}

static int
sv_env(ssh_session s, ssh_channel sc, const char *name, const char *value,
    void *arg)
{
	return 0;
}

struct gw_serve *
gw_serve_new(void *student, void *event, int mode, const char *vm,
    const char *addr, struct gw_req *login)
{
	struct gw_serve	*sv = xcalloc(1, sizeof(*sv));

	sv->s = student;
	sv->ev = event;
	sv->mode = mode;
	sv->login = login;
	/* The console's socket is ours now: the request lets it go. */
	pthread_mutex_lock(&login->mu);
	sv->fd = login->fd;
	login->fd = -1;
	pthread_mutex_unlock(&login->mu);
	snprintf(sv->vm, sizeof(sv->vm), "%s", vm);
	snprintf(sv->addr, sizeof(sv->addr), "%s", addr);
	return sv;
}

void *
gw_serve_open_session(struct gw_serve *sv)
{
	if (sv->sc != NULL || (sv->sc = ssh_channel_new(sv->s)) == NULL)
		return NULL;	/* one session: the console has one reader */
	sv->cb.userdata = sv;
	sv->cb.channel_pty_request_function = sv_pty;
	sv->cb.channel_pty_window_change_function = sv_winch;
	sv->cb.channel_shell_request_function = sv_shell;
	sv->cb.channel_exec_request_function = sv_exec;
	sv->cb.channel_env_request_function = sv_env;
	ssh_callbacks_init(&sv->cb);
	ssh_set_channel_callbacks(sv->sc, &sv->cb);
	return sv->sc;
}

/* --- saying things --------------------------------------------------------- */

/* Text to the student, each "\n" a "\r\n" on a raw terminal. */
static void
sv_write(struct gw_serve *sv, int is_err, const char *text)
{
	const char	*p, *nl;

	for (p = text; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL) {
			(is_err ? ssh_channel_write_stderr :
			    ssh_channel_write)(sv->sc, p, strlen(p));
			return;
		}
		if (nl > p)
			(is_err ? ssh_channel_write_stderr :
			    ssh_channel_write)(sv->sc, p, nl - p);
		(is_err ? ssh_channel_write_stderr : ssh_channel_write)(sv->sc,
		    sv->pty ? "\r\n" : "\n", sv->pty ? 2 : 1);
	}
}

static void
sv_say(struct gw_serve *sv, int is_err, const char *fmt, ...)
    PRINTFLIKE(3, 4);

static void
sv_say(struct gw_serve *sv, int is_err, const char *fmt, ...)
{
	char	text[GW_MSGLEN + 128];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	sv_write(sv, is_err, text);
}

/* The channel is still there to talk on. */
static int
sv_alive(struct gw_serve *sv)
{
	return ssh_is_connected(sv->s) && sv->sc != NULL &&
	    !ssh_channel_is_closed(sv->sc);
}

/* --- +console ---------------------------------------------------------------- */

/* QEMU's socket woke the poll: it is read after. */
static int
sv_console_readable(socket_t fd, int revents, void *arg)
{
	return 0;
}

/*
 * What the guest wrote, as far as the student's window takes it: 1 moved,
 * 0 nothing, -1 the console closed.
 */
static int
sv_console_out(struct gw_serve *sv, struct term_filter *f)
{
	char		 buf[GW_CONSOLE_BUF], shown[GW_CONSOLE_BUF + TERM_SLACK];
	uint32_t	 win;
	ssize_t		 n;
	size_t		 len, want;
	int		 moved = 0;

	/* The filter may add up to TERM_SLACK to what it was given. */
	while ((win = ssh_channel_window_size(sv->sc)) > TERM_SLACK) {
		want = win - TERM_SLACK < sizeof(buf) ? win - TERM_SLACK :
		    sizeof(buf);
		if ((n = read(sv->fd, buf, want)) == -1) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? moved : -1;
		}
		if (n == 0)
			return -1;
		if ((len = term_filter(f, buf, n, shown)) > 0 &&
		    ssh_channel_write(sv->sc, shown, len) != (int)len)
			return -1;
		moved = 1;
	}
	return moved;
}

/*
 * The student's keys to the console, up to a Ctrl-]: 1 moved, 0
 * nothing, -1 detach (Ctrl-], the end of the student's input).
 */
static int
sv_console_in(struct gw_serve *sv)
{
	char	buf[GW_CONSOLE_BUF], *esc;
	int	n;

	/* libssh says SSH_EOF, or 0 and is_eof, at the end: either ends it. */
	n = ssh_channel_read_nonblocking(sv->sc, buf, sizeof(buf), 0);
	if (n == SSH_ERROR || (n <= 0 && ssh_channel_is_eof(sv->sc)))
		return -1;
	if (n <= 0)
		return 0;
	if ((esc = memchr(buf, CONSOLE_ESCAPE, n)) != NULL) {
		console_write_all(sv->fd, buf, esc - buf);
		return -1;
	}
	return console_write_all(sv->fd, buf, n) == -1 ? -1 : 1;
}

/* Relay until Ctrl-] or the end of either side: the exit status. */
static int
sv_console(struct gw_serve *sv)
{
	struct term_filter	 f;
	char			 end[TERM_END_MAX], why[GW_MSGLEN];
	const char		*said = NULL;
	size_t			 len;
	int			 moved = 1, in, out, rc = 0;

	if (sv->fd == -1) {
		sv_say(sv, 1, "labd: no console for %s\n", sv->vm);
		return 1;
	}
	term_filter_init(&f);
	fcntl(sv->fd, F_SETFL, fcntl(sv->fd, F_GETFL) | O_NONBLOCK);
	if (ssh_event_add_fd(sv->ev, sv->fd, POLLIN, sv_console_readable,
	    sv) != SSH_OK) {
		sv_say(sv, 1, "labd: cannot poll the console of %s\n", sv->vm);
		return 1;
	}
	sv_say(sv, 1, "labd: the console of %s; Ctrl-] detaches\n", sv->vm);
	why[0] = '\0';
	for (;;) {
		ssh_event_dopoll(sv->ev, moved ? 0 : 1000);
		if (!sv_alive(sv))
			break;
		if (gw_req_cut(sv->login, why, sizeof(why))) {
			rc = 1;
			break;
		}
		if ((in = sv_console_in(sv)) == -1)
			break;
		if ((out = sv_console_out(sv, &f)) == -1) {
			said = "QEMU closed the console (did the VM stop?)";
			rc = 1;
			break;
		}
		moved = in || out;
	}
	ssh_event_remove_fd(sv->ev, sv->fd);
	if (sv_alive(sv)) {
		/* The terminal's modes the guest changed, put back. */
		if ((len = term_filter_end(&f, end)) > 0)
			ssh_channel_write(sv->sc, end, len);
		if (why[0] != '\0')
			said = why;
		sv_say(sv, 1, "\nlabd: the console of %s closed%s%s\n", sv->vm,
		    said ? ": " : "", said ? said : "");
	}
	log_info("gateway: %s: console of %s detached%s%s", sv->addr, sv->vm,
	    said ? ": " : "", said ? said : "");
	return rc;
}

/* --- +reset ------------------------------------------------------------------- */

/*
 * A line from the student, echoed on a raw terminal: 1 with it in line,
 * 0 when they broke off (Ctrl-C, Ctrl-D, the session's end, no answer).
 */
static int
sv_read_line(struct gw_serve *sv, char *line, size_t linelen)
{
	char	buf[256];
	size_t	len = 0;
	int64_t	end = now_ms() + GW_ANSWER_MS;
	int	n, i;

	line[0] = '\0';
	while (now_ms() < end) {
		ssh_event_dopoll(sv->ev, 1000);
		if (!sv_alive(sv))
			return 0;
		n = ssh_channel_read_nonblocking(sv->sc, buf, sizeof(buf), 0);
		if (n == SSH_ERROR)
			return 0;
		if (n <= 0 && ssh_channel_is_eof(sv->sc))
			return len > 0;	/* "yes" without a newline */
		for (i = 0; i < n; i++) {
			if (buf[i] == '\r' || buf[i] == '\n') {
				if (sv->pty)
					ssh_channel_write(sv->sc, "\r\n", 2);
				return 1;
			}
			if (buf[i] == 0x03 || buf[i] == 0x04)
				return 0;
			if (buf[i] == 0x7f || buf[i] == 0x08) {
				if (len > 0) {
					line[--len] = '\0';
					if (sv->pty)
						ssh_channel_write(sv->sc,
						    "\b \b", 3);
				}
				continue;
			}
			if ((unsigned char)buf[i] < 0x20 ||
			    (unsigned char)buf[i] >= 0x7f || len + 1 >= linelen)
				continue;
			line[len++] = buf[i];
			line[len] = '\0';
			if (sv->pty)
				ssh_channel_write(sv->sc, &buf[i], 1);
		}
	}
	return 0;
}

/* While labd works: the student's session kept alive, the states. */
static void
sv_tick(const char *progress, void *arg)
{
	struct gw_serve	*sv = arg;

	ssh_event_dopoll(sv->ev, 0);
	if (progress != NULL && sv_alive(sv))
		sv_say(sv, 0, "  %s is %s\n", sv->vm, progress);
}

/* Ask, and reset on a yes: the exit status. */
static int
sv_reset(struct gw_serve *sv)
{
	struct gw_req	*r;
	char		 answer[GW_ANSWER_MAX];
	int		 ok;

	sv_say(sv, 0, "your VM is %s.\n", sv->vm);
	sv_say(sv, 0, "reset your VM to pristine? everything since is lost."
	    " type yes: ");
	if (!sv_read_line(sv, answer, sizeof(answer)) ||
	    strcmp(answer, "yes") != 0) {
		if (sv_alive(sv))
			sv_say(sv, 1, "\nlabd: not reset: the answer was not"
			    " yes\n");
		log_info("gateway: %s: reset of %s not confirmed", sv->addr,
		    sv->vm);
		return 1;
	}
	sv_say(sv, 0, "resetting %s to pristine...\n", sv->vm);
	r = gw_req_new(GW_RESET, sv->addr);
	snprintf(r->vm, sizeof(r->vm), "%s", sv->vm);
	ok = gw_ask_until(r, GW_RESET_TIMEOUT_S, sv_tick, sv);
	if (sv_alive(sv)) {
		if (ok)
			sv_say(sv, 0, "done: %s %s\n", sv->vm, r->msg);
		else
			sv_say(sv, 1, "labd: %s\n", r->msg);
	}
	gw_req_unref(r);
	return ok ? 0 : 1;
}

/* --- +check ------------------------------------------------------------------- */

/* The checks run, the table printed: 0 when every goal is met, else 1. */
static int
sv_check(struct gw_serve *sv)
{
	struct gw_req	*r;
	int		 ok, rc;

	sv_say(sv, 1, "labd: checking your VM %s...\n", sv->vm);
	r = gw_req_new(GW_CHECK, sv->addr);
	snprintf(r->vm, sizeof(r->vm), "%s", sv->vm);
	ok = gw_ask_until(r, GW_CHECK_TIMEOUT_S, sv_tick, sv);
	if (sv_alive(sv)) {
		if (ok && r->text != NULL)
			sv_write(sv, 0, r->text);
		else
			sv_say(sv, 1, "labd: %s\n", r->msg);
	}
	rc = ok && r->all_met ? 0 : 1;
	log_info("gateway: %s: check of %s: %s", sv->addr, sv->vm, !ok ?
	    "not run" : rc == 0 ? "all goals met" : "not all goals met");
	gw_req_unref(r);
	return rc;
}

/* --- the session ----------------------------------------------------------------- */

void
gw_serve_run(struct gw_serve *sv)
{
	int64_t	end = now_ms() + GW_SERVE_START_MS;
	int	rc;

	while (!sv->started && now_ms() < end) {
		if (ssh_event_dopoll(sv->ev, 1000) == SSH_ERROR ||
		    !ssh_is_connected(sv->s))
			goto done;
		if (sv->sc != NULL && ssh_channel_is_closed(sv->sc))
			goto done;
	}
	if (!sv->started)
		goto done;
	rc = sv->mode == GW_MODE_CONSOLE ? sv_console(sv) :
	    sv->mode == GW_MODE_CHECK ? sv_check(sv) : sv_reset(sv);
	if (sv_alive(sv)) {
		ssh_channel_request_send_exit_status(sv->sc, rc);
		ssh_channel_send_eof(sv->sc);
		ssh_channel_close(sv->sc);
		/*
		 * Wait for the client to go: OpenSSH that reads our
		 * disconnect before it has dealt with the channel's close
		 * exits 255, not with the status.  (Our own close already
		 * makes ssh_channel_is_closed() true: no use asking it.)
		 */
		end = now_ms() + GW_SERVE_BYE_MS;
		while (ssh_is_connected(sv->s) && now_ms() < end)
			if (ssh_event_dopoll(sv->ev, 200) == SSH_ERROR)
				break;
	}
done:
	if (sv->sc != NULL) {
		ssh_remove_channel_callbacks(sv->sc, &sv->cb);
		ssh_channel_free(sv->sc);
	}
	if (sv->fd != -1)
		close(sv->fd);
	free(sv);
}
