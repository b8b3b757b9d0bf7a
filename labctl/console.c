/* SPDX-License-Identifier: ISC */
/*
 * console.c - `labctl console VM`: the VM's serial console in this
 * terminal, detached with Ctrl-].
 *
 * QEMU serves the guest's ttyS0 on a UNIX socket in labd's run_dir
 * (run_dir/vms/VM/serial.sock); labd tells where run_dir is and whether
 * the VM exists, and labctl, on the labd host, connects to the socket
 * itself.  That takes access to run_dir: root or labd's own user.  It is
 * the instructor's way in when a student broke SSH.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "labctl/labctl.h"

#define CONSOLE_ESCAPE	0x1d	/* Ctrl-] */

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

/* Relay until Ctrl-] or the end of either side; why it ended, or NULL. */
static const char *
console_relay(int sock)
{
	struct pollfd	pfd[2];
	char		buf[4096], *esc;
	ssize_t		n;

	pfd[0].fd = STDIN_FILENO;
	pfd[1].fd = sock;
	pfd[0].events = pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			return "poll failed";
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if ((n = read(STDIN_FILENO, buf, sizeof(buf))) <= 0)
				return NULL;	/* end of our input */
			if ((esc = memchr(buf, CONSOLE_ESCAPE, n)) != NULL) {
				write_all(sock, buf, esc - buf);
				return NULL;
			}
			if (write_all(sock, buf, n) == -1)
				return "the console closed";
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			if ((n = read(sock, buf, sizeof(buf))) <= 0)
				return "QEMU closed the console (did the VM stop?)";
			write_all(STDOUT_FILENO, buf, n);
		}
	}
}

int
ctl_console(struct ctl *c, int argc, char **argv)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct termios		 saved, raw;
	json_t			*vms, *vm;
	const char		*why, *state = NULL, *path = NULL;
	size_t			 i;
	int			 rc, sock, tty = isatty(STDIN_FILENO);

	if (argc != 1)
		return CTL_USAGE;
	if ((vms = ctl_call(c, "vm.list", NULL, &rc)) == NULL)
		return rc;
	json_array_foreach(vms, i, vm)
		if (strcmp(jstr(vm, "name"), argv[0]) == 0) {
			state = jstr(vm, "state");
			path = jstr(vm, "console");
		}
	if (state == NULL || (strcmp(state, "ready") != 0 &&
	    strcmp(state, "booting") != 0)) {
		fprintf(stderr, "labctl: %s %s%s\n", argv[0], state ?
		    "is " : "is not a VM (labctl list shows them)",
		    state ? state : "");
		json_decref(vms);
		return CTL_FAILED;
	}
	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path) >=
	    (int)sizeof(sun.sun_path) || *path == '\0') {
		fprintf(stderr, "labctl: console socket path too long\n");
		rc = CTL_FAILED;
		goto done;
	}
	if ((sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(sock, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "labctl: cannot open the console %s: %s%s\n",
		    sun.sun_path, strerror(errno), errno == EACCES ?
		    " (it takes root or labd's own user)" : "");
		if (sock != -1)
			close(sock);
		rc = CTL_FAILED;
		goto done;
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
	rc = why ? CTL_FAILED : CTL_OK;
done:
	json_decref(vms);
	return rc;
}
