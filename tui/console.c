/* SPDX-License-Identifier: ISC */
/*
 * console.c - a VM's serial console inside labtui (o), until labd has a
 * console command of its own.
 *
 * QEMU serves the guest's ttyS0 on a UNIX stream socket,
 * RUN_DIR/vms/VM/serial.sock, to one client at a time.  labtui runs on the
 * labd host, so it connects to that socket itself, which takes read and
 * write access to labd's run_dir: root, or labd's own user.
 *
 * The screen is handed back to the terminal (def_prog_mode + endwin), the
 * terminal is put in raw mode and bytes are relayed both ways until
 * Ctrl-] (telnet's and virsh's escape); then the termios and the curses
 * screen come back.  Meanwhile the connections to labd are still read, so
 * the table is current when we return and labd never has to drop us for
 * not reading its events.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "tui/labtui.h"

#define CONSOLE_ESCAPE	0x1d	/* Ctrl-] */

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

static void
say(const char *fmt, const char *a, const char *b)
{
	char	buf[1024];
	int	n = snprintf(buf, sizeof(buf), fmt, a, b);

	if (n > 0)
		write_all(STDOUT_FILENO, buf, (size_t)n < sizeof(buf) ?
		    (size_t)n : sizeof(buf) - 1);
}

static int
console_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	int			fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%.200s...: path too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, errlen, "cannot open %.300s: %s%s", path,
		    strerror(errno), errno == EACCES || errno == EPERM ?
		    " (labtui needs access to labd's run_dir: run it as"
		    " root or as labd's user)" : errno == ENOENT ||
		    errno == ECONNREFUSED ? " (is the VM running?)" : "");
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Relay until Ctrl-], the socket's end or a quit signal.  Returns why we
 * stopped, for the footer.
 */
static const char *
console_relay(struct tui *t, int sock)
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
					write_all(sock, buf, esc - buf);
				return NULL;
			}
			if (write_all(sock, buf, n) == -1)
				return "the console closed";
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			if ((n = read(sock, buf, sizeof(buf))) <= 0)
				return "QEMU closed the console (did the VM"
				    " stop?)";
			write_all(STDOUT_FILENO, buf, n);
		}
		if (nl > 0)
			link_service(t, pfd + 2, nl);
	}
}

int
console_run(struct tui *t, const char *vm, const char *where)
{
	struct termios	 saved, raw;
	char		 dir[PATH_MAX], path[PATH_MAX + 64], err[TUI_ERRLEN];
	const char	*why;
	int		 sock;

	if (t->replay != NULL) {
		tui_message(t, 1, "console: replaying %s, there is no VM",
		    t->replay);
		return TF_DRAW;
	}
	/* Where labd says it is, unless --run-dir says to look elsewhere. */
	if (where != NULL && *where != '\0' && t->run_dir_opt == NULL)
		snprintf(path, sizeof(path), "%s", where);
	else {
		link_run_dir(t, dir, sizeof(dir));
		snprintf(path, sizeof(path), "%s/vms/%s/serial.sock", dir, vm);
	}
	if ((sock = console_connect(path, err, sizeof(err))) == -1) {
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
	why = console_relay(t, sock);
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
