/* SPDX-License-Identifier: ISC */
/*
 * console.c - a VM's serial console inside labtui (o).
 *
 * QEMU serves the guest's ttyS0 on a UNIX stream socket,
 * RUN_DIR/vms/VM/serial.sock, to one client at a time, which only labd's
 * user reaches.  labtui asks labd (vm.console, for the admin and ta
 * roles) on a connection of its own, and labd passes the connected
 * socket back with its reply.  With --run-dir labtui connects to the
 * socket itself, which takes labd's user or root.
 *
 * The screen is handed back to the terminal (def_prog_mode + endwin), the
 * terminal is put in raw mode and bytes are relayed both ways until
 * Ctrl-] (telnet's and virsh's escape); then the termios and the curses
 * screen come back.  Meanwhile the connections to labd are still read,
 * so the table is current when we return and labd never has to drop us
 * for not reading its events.
 *
 * What the guest sends goes through the filter of proto/term.c: a
 * student's machine may draw, not make the terminal answer or reach its
 * clipboard or window; the modes it changed are put back before the
 * screen is.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "proto/term.h"
#include "tui/labtui.h"

static void
say(const char *fmt, const char *a, const char *b)
{
	char	buf[1024];
	int	n = snprintf(buf, sizeof(buf), fmt, a, b);

	if (n > 0)
		console_write_all(STDOUT_FILENO, buf, (size_t)n < sizeof(buf) ?
		    (size_t)n : sizeof(buf) - 1);
}

/* labd's console socket for vm on a connection of our own; -1, err. */
static int
console_by_labd(struct tui *t, const char *vm, char *err, size_t errlen)
{
	struct client_conn	*c;
	json_t			*rep, *e;
	int			 fd = -1;

	if ((c = client_open(t->socket_path, err, errlen)) == NULL)
		return -1;
	rep = client_call(c, "vm.console", json_pack("{s:s}", "vm", vm), NULL,
	    NULL, err, errlen);
	if (rep != NULL && !json_is_true(json_object_get(rep, "ok"))) {
		e = json_object_get(rep, "error");
		snprintf(err, errlen, "%s", json_string_value(json_object_get(e,
		    "message")) ? json_string_value(json_object_get(e,
		    "message")) : "labd refused");
	} else if (rep != NULL && (fd = client_take_fd(c)) == -1)
		snprintf(err, errlen, "labd sent no console");
	json_decref(rep);
	client_close(c);
	return fd;
}

/*
 * Relay until Ctrl-], the socket's end or a quit signal.  Returns why we
 * stopped, for the footer.
 */
static const char *
console_relay(struct tui *t, struct term_filter *f, int sock)
{
	struct pollfd	pfd[8];
	char		buf[4096], *esc;
	ssize_t		n;
	int		nl, rc;

	for (;;) {
		if (tui_quit_signal())
			return "quit";
		pfd[0].fd = STDIN_FILENO;
		pfd[1].fd = sock;
		pfd[0].events = pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		nl = t->replay ? 0 : link_pollfds(t, pfd + 2, 6);
		if ((rc = poll(pfd, 2 + nl, 1000)) == -1) {
			if (errno == EINTR)
				continue;
			return "poll failed";
		}
		if (rc == 0) {
			link_tick(t, now_s());	/* keep polling labd */
			continue;
		}
		if (pfd[0].revents & (POLLHUP | POLLERR))
			return "the terminal went away";
		if (pfd[0].revents & POLLIN) {
			if ((n = read(STDIN_FILENO, buf, sizeof(buf))) <= 0)
				return "the terminal went away";
			if ((esc = memchr(buf, CONSOLE_ESCAPE, n)) != NULL) {
				if (esc > buf)
					console_write_all(sock, buf, esc - buf);
				return NULL;
			}
			if (console_write_all(sock, buf, n) == -1)
				return "the console closed";
		}
		if ((pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    !console_from_guest(f, sock, STDOUT_FILENO))
			return "QEMU closed the console (did the VM stop?)";
		if (nl > 0)
			link_service(t, pfd + 2, nl);
	}
}

int
console_run(struct tui *t, const char *vm, const char *where)
{
	struct termios		 saved, raw;
	struct term_filter	 f;
	char			 dir[PATH_MAX], path[PATH_MAX + 64];
	char			 err[TUI_ERRLEN];
	const char		*why;
	int			 sock;

	if (t->replay != NULL) {
		tui_message(t, 1, "console: replaying %s, there is no VM",
		    t->replay);
		return TF_DRAW;
	}
	/* Through labd, unless --run-dir says to go to the socket. */
	if (t->run_dir_opt == NULL)
		sock = console_by_labd(t, vm, err, sizeof(err));
	else {
		link_run_dir(t, dir, sizeof(dir));
		snprintf(path, sizeof(path), "%s/vms/%s/serial.sock", dir, vm);
		sock = console_open(path, err, sizeof(err));
	}
	if (sock == -1) {
		tui_message(t, 1, "console of %s: %s", vm, err);
		return TF_DRAW;
	}
	tui_pause_screen();
	tcgetattr(STDIN_FILENO, &saved);
	raw = saved;
	cfmakeraw(&raw);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
	say("\r\n[labtui: console of %s, %s; Ctrl-] comes back]\r\n", vm,
	    "press Enter for a prompt");
	term_filter_init(&f);
	why = console_relay(t, &f, sock);
	console_done(&f, STDOUT_FILENO);
	close(sock);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
	say("\r\n[labtui: back from the console of %s%s]\r\n", vm, "");
	tui_resume_screen();
	if (why != NULL)
		tui_message(t, strcmp(why, "quit") != 0, "console of %s: %s",
		    vm, why);
	else
		tui_message(t, 0, "back from the console of %s", vm);
	return TF_DRAW | TF_FULL | TF_VIEW;
}
