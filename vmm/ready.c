/* SPDX-License-Identifier: ISC */
/*
 * ready.c - is the guest up?  Three probes: a line on the serial console
 * (cheap, works without network), a real SSH handshake, and the command
 * that labd runs as root with its own key to learn that the guest's boot
 * is over (cloud-init has finished: the student's account, the keys and
 * the network are in place).
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

/*
 * The guest side of ready_guest_cmd().  result.json is written by
 * cloud-init's last stage (modules:final) at every boot; the "disabled"
 * files are how it says it will not run at all.  A status line that is
 * missing or odd reads as "unknown": still waiting, never ready by
 * mistake.
 */
static const char guest_status_sh[] =
    "s=none; "
    "if command -v cloud-init >/dev/null 2>&1; then "
	"if [ -e /run/cloud-init/result.json ] || "
	"[ -e /run/cloud-init/disabled ] || "
	"[ -e /etc/cloud/cloud-init.disabled ]; then "
	    "s=$(cloud-init status 2>/dev/null | "
	    "sed -n 's/^status: *//p' | head -n 1); "
	"else s=running; fi; "
    "fi; "
    "[ -n \"$s\" ] || s=unknown; ";

int
ready_guest_cmd(const char *when_done, char *out, size_t outlen)
{
	int	n;

	if (when_done == NULL || *when_done == '\0')
		n = snprintf(out, outlen, "%secho \"labd-status: $s\"",
		    guest_status_sh);
	else
		n = snprintf(out, outlen, "%scase $s in *done|error|disabled|"
		    "none) %s ;; esac; echo \"labd-status: $s\"",
		    guest_status_sh, when_done);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

enum ready_state
ready_guest_parse(const char *output, char *status, size_t statuslen)
{
	static const char	 tag[] = "labd-status: ";
	const char		*p, *line = NULL;
	size_t			 n;

	/* The last such line: what when_done printed cannot fake it. */
	for (p = output; (p = strstr(p, tag)) != NULL; p += sizeof(tag) - 1)
		if (p == output || p[-1] == '\n')
			line = p + sizeof(tag) - 1;
	if (statuslen > 0)
		status[0] = '\0';
	if (line == NULL)
		return READY_WAIT;
	n = strcspn(line, "\r\n");
	snprintf(status, statuslen, "%.*s", (int)n, line);
	/* "done", and newer cloud-init's "degraded done". */
	if ((n >= 4 && strncmp(line + n - 4, "done", 4) == 0) ||
	    (n == 8 && strncmp(line, "disabled", 8) == 0) ||
	    (n == 4 && strncmp(line, "none", 4) == 0))
		return READY_DONE;
	if (n == 5 && strncmp(line, "error", 5) == 0)
		return READY_ERROR;
	return READY_WAIT;
}
