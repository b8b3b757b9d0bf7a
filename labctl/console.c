/* SPDX-License-Identifier: ISC */
/*
 * console.c - `labctl console VM`: the VM's serial console in this
 * terminal, detached with Ctrl-].
 *
 * QEMU serves the guest's ttyS0 on a UNIX socket in labd's run_dir,
 * which only labd's user reaches; labd connects to it for whoever may
 * (the admin and ta roles) and passes the connected socket along with
 * its reply to vm.console (SCM_RIGHTS), and labctl talks to QEMU through
 * it.  It is the instructor's way in when a student broke SSH.  What the guest
 * sends goes through the filter of proto/term.c: the student's machine
 * may draw on the instructor's terminal, not make it answer or reach the
 * clipboard or the window.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "labctl/labctl.h"
#include "proto/term.h"

/* Relay until Ctrl-] or the end of either side; why it ended, or NULL. */
static const char *
console_relay(int sock)
{
	struct term_filter	f;
	struct pollfd		pfd[2];
	char			buf[4096], *esc;
	const char		*why = NULL;
	ssize_t			n;

	term_filter_init(&f);
	pfd[0].fd = STDIN_FILENO;
	pfd[1].fd = sock;
	pfd[0].events = pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			why = "poll failed";
			break;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if ((n = read(STDIN_FILENO, buf, sizeof(buf))) <= 0)
				break;	/* end of our input */
			if ((esc = memchr(buf, CONSOLE_ESCAPE, n)) != NULL) {
				console_write_all(sock, buf, esc - buf);
				break;
			}
			if (console_write_all(sock, buf, n) == -1) {
				why = "the console closed";
				break;
			}
		}
		if ((pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    !console_from_guest(&f, sock, STDOUT_FILENO)) {
			why = "QEMU closed the console (did the VM stop?)";
			break;
		}
	}
	console_done(&f, STDOUT_FILENO);
	return why;
}

int
ctl_console(struct ctl *c, int argc, char **argv)
{
	struct termios		 saved, raw;
	json_t			*res;
	const char		*why;
	int			 rc, sock, tty = isatty(STDIN_FILENO);

	if (argc != 1 || argv[0][0] == '-')
		return CTL_USAGE;
	if ((res = ctl_call(c, "vm.console", json_pack("{s:s}", "vm",
	    argv[0]), &rc)) == NULL)
		return rc;
	json_decref(res);
	if ((sock = client_take_fd(c->conn)) == -1) {
		fprintf(stderr, "labctl: labd sent no console for %s\n",
		    argv[0]);
		return CTL_FAILED;
	}
	fprintf(stderr, "labctl: console of %s; Ctrl-] detaches\r\n",
	    argv[0]);
	if (tty) {
		tcgetattr(STDIN_FILENO, &saved);
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	why = console_relay(sock);
	if (tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	close(sock);
	fprintf(stderr, "\r\nlabctl: console of %s closed%s%s\n", argv[0],
	    why ? ": " : "", why ? why : "");
	return why ? CTL_FAILED : CTL_OK;
}
