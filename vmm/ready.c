/*
 * ready.c - is the guest up?  Two probes: a line on the serial console
 * (cheap, works without network) and a real SSH handshake.
 *
 * A TCP connect is no proof at all with QEMU user networking: the host
 * side of a hostfwd accepts at once and only then tries the guest, so a
 * guest with no sshd yet looks "open" and closes a moment later.  The SSH
 * probe therefore runs the key exchange with libssh - only a real sshd
 * gets that far - and never authenticates.  It reads no user or system
 * ssh configuration and no known_hosts, as labd's own environment must
 * not change what a probe means.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "vmm/vmm.h"
#include "vmm/vmm_int.h"

/* A boot prints a few hundred KiB at most; the ready line is near the end. */
#define SERIAL_SCAN_MAX	(1024 * 1024)

int
ready_serial_seen(const char *path, const char *needle)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 want, got = 0, nlen = strlen(needle);
	ssize_t		 n;
	off_t		 start;
	int		 fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	start = st.st_size > SERIAL_SCAN_MAX ? st.st_size - SERIAL_SCAN_MAX : 0;
	want = (size_t)(st.st_size - start);
	if ((buf = malloc(want + 1)) == NULL)
		goto fail;
	while (got < want) {
		n = pread(fd, buf + got, want - got, start + got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;	/* truncated under us: scan what we have */
		got += n;
	}
	/* memmem: the console may carry NUL bytes and other binary noise. */
	rc = nlen == 0 || memmem(buf, got, needle, nlen) != NULL;
fail:
	free(buf);
	close(fd);
	return rc;
}

int
ready_ssh_banner(const char *ip, uint16_t port, int timeout_ms,
    char *banner, size_t bannerlen, char *err, size_t errlen)
{
	ssh_session	 s;
	const char	*b;
	int		 rc = -1;

	if (bannerlen > 0)
		banner[0] = '\0';
	if ((s = vmm_ssh_connect(ip, port, NULL, timeout_ms, err,
	    errlen)) == NULL)
		return -1;
	if ((b = ssh_get_serverbanner(s)) == NULL) {
		snprintf(err, errlen, "ssh %s:%u: connected but no banner",
		    ip, port);
		goto fail;
	}
	snprintf(banner, bannerlen, "%s", b);
	rc = 0;
fail:
	ssh_disconnect(s);
	ssh_free(s);
	return rc;
}
