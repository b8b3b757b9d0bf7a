/* SPDX-License-Identifier: ISC */
/*
 * console.c - what labctl console and labtui's console share: the
 * connection to a VM's serial socket, and the guest-to-terminal half of
 * the relay, through the filter of term.c, so that neither client can
 * forget it.
 *
 * QEMU serves the guest's ttyS0 on a UNIX stream socket,
 * run_dir/vms/VM/serial.sock, to one client at a time; the clients run on
 * the labd host and connect to it themselves, which takes access to
 * labd's run_dir.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proto/term.h"

int
console_open(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	int			fd;

	if (*path == '\0' || strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "the console socket path \"%.200s\" is"
		    " empty or too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, errlen, "cannot open the console %.300s: %s%s",
		    path, strerror(errno), errno == EACCES || errno == EPERM ?
		    " (it takes access to labd's run_dir: root or labd's own"
		    " user)" : errno == ENOENT || errno == ECONNREFUSED ?
		    " (is the VM running?)" : "");
		close(fd);
		return -1;
	}
	return fd;
}

int
console_write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	struct pollfd	 pfd = { .fd = fd, .events = POLLOUT };
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			/* A non-blocking terminal: wait until it takes more. */
			if (errno == EAGAIN && poll(&pfd, 1, -1) >= 0)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int
console_from_guest(struct term_filter *f, int sock, int out)
{
	char	buf[4096], shown[sizeof(buf) + TERM_SLACK];
	ssize_t	n;

	while ((n = read(sock, buf, sizeof(buf))) == -1 && errno == EINTR)
		;
	if (n <= 0)
		return 0;
	console_write_all(out, shown, term_filter(f, buf, n, shown));
	return 1;
}

void
console_done(struct term_filter *f, int out)
{
	char	end[TERM_END_MAX];

	console_write_all(out, end, term_filter_end(f, end));
}
