/* SPDX-License-Identifier: ISC */
/*
 * boot.c - how a class comes up whole: the boot queue and what to do with
 * a boot that fails.  vm.c acts; this file only decides, from plain
 * numbers and the list of VMs, so that the decisions are tested without a
 * QEMU (tests/unit/test_boot.c).
 *
 * A boot is the costliest moment of a guest.  Thirty of them at once on
 * two cores under TCG starve each other so badly that kernels misread
 * their timers and panic ("IO-APIC + timer doesn't work!").  So at most
 * max_booting VMs are provisioning or booting at a time; the others wait
 * as "queued" and start in the order of the list, which is the order of
 * the roster (VM ids are given in roster order and the list is kept by
 * id).
 *
 * A boot fails when the guest panics (pvpanic's GUEST_PANICKED, or a
 * panic line on the console), is not ready within boot_timeout, or its
 * QEMU dies under it.  It is tried again from the VM's disk after a pause
 * that doubles each time, up to boot_tries boots; then the VM is failed,
 * with the reason and the last lines of its console.  A guest that powers
 * itself off has not failed: it asked to be off, and stays so.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labd/labd.h"

#define BOOT_BACKOFF_FIRST_MS	2000
#define BOOT_BACKOFF_MAX_MS	60000
/* Bytes of a console read at once when looking for a panic line. */
#define BOOT_SCAN_CHUNK		65536
/* Bytes from the end of the console read for its last lines. */
#define BOOT_TAIL_BYTES		8192

int
boot_limit(int max_booting, enum vmm_accel accel, int ncpu)
{
	if (max_booting > 0)
		return max_booting;
	if (ncpu < 1)
		ncpu = 1;
	return accel == VMM_ACCEL_KVM ? 2 * ncpu : ncpu;
}

/* 2 s before the second boot, 4 s before the third, ..., 60 s at most. */
int
boot_backoff_ms(int tries)
{
	int	ms = BOOT_BACKOFF_FIRST_MS;

	while (--tries > 0 && ms < BOOT_BACKOFF_MAX_MS)
		ms *= 2;
	return ms < BOOT_BACKOFF_MAX_MS ? ms : BOOT_BACKOFF_MAX_MS;
}

/* A VM that holds a boot slot: its QEMU is being made or is booting. */
static int
boot_holds_slot(const struct vm *vm)
{
	return vm->state == VM_PROVISIONING || vm->state == VM_BOOTING;
}

void
boot_count(const struct vm *list, int *booting, int *queued)
{
	const struct vm	*vm;

	*booting = *queued = 0;
	for (vm = list; vm != NULL; vm = vm->next) {
		if (boot_holds_slot(vm))
			(*booting)++;
		else if (vm->state == VM_QUEUED)
			(*queued)++;
	}
}

struct vm *
boot_next(struct vm *list, int limit, int64_t now)
{
	struct vm	*vm;
	int		 booting, queued;

	boot_count(list, &booting, &queued);
	if (booting >= limit || queued == 0)
		return NULL;
	for (vm = list; vm != NULL; vm = vm->next)
		if (vm->state == VM_QUEUED && !vm->busy && now >= vm->retry_at)
			return vm;
	return NULL;
}

enum boot_verdict
boot_verdict(int tries, int max_tries)
{
	return tries < max_tries ? BOOT_RETRY : BOOT_GIVE_UP;
}

enum boot_exit
boot_exit_kind(int stopping, int guest_shutdown)
{
	if (stopping)
		return BOOT_EXIT_STOPPED;
	return guest_shutdown ? BOOT_EXIT_POWEROFF : BOOT_EXIT_CRASH;
}

/*
 * QMP SHUTDOWN's data: {"guest": true, "reason": "guest-shutdown"} when
 * the guest itself powered off (poweroff, or the ACPI button labd
 * pressed); a signal to QEMU or a quit command is the host's doing.
 */
int
boot_shutdown_by_guest(json_t *data)
{
	const char	*reason;

	reason = json_string_value(json_object_get(data, "reason"));
	return json_is_true(json_object_get(data, "guest")) &&
	    reason != NULL && strcmp(reason, "guest-shutdown") == 0;
}

/*
 * Look for needle in what the console log at path gained since *offset;
 * *offset moves on (keeping a needle's length back, so that a line cut
 * between two reads is still found).  A log shorter than *offset is a new
 * one: read from its start.  1 found, 0 not (or no log).
 */
int
boot_serial_scan(const char *path, off_t *offset, const char *needle)
{
	struct stat	 sb;
	char		*buf;
	size_t		 nlen = strlen(needle);
	ssize_t		 n;
	off_t		 at;
	int		 fd, found = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return 0;
	if (fstat(fd, &sb) == -1 || sb.st_size == *offset) {
		close(fd);
		return 0;
	}
	if (sb.st_size < *offset)
		*offset = 0;
	buf = xmalloc(BOOT_SCAN_CHUNK + 1);
	at = *offset;
	while ((n = pread(fd, buf, BOOT_SCAN_CHUNK, at)) > 0) {
		buf[n] = '\0';
		/* The log may hold NULs: search each string in it. */
		for (ssize_t i = 0; i < n && !found; i += strlen(buf + i) + 1)
			found = strstr(buf + i, needle) != NULL;
		if (found)
			break;
		at += n;
		if ((size_t)n > nlen)
			at -= nlen;
		if ((size_t)n < BOOT_SCAN_CHUNK)
			break;
	}
	*offset = found ? sb.st_size : at;
	free(buf);
	close(fd);
	return found;
}

/*
 * The last lines (up to nlines) of the console log at path, for an error
 * a person reads: joined by " | ", control characters and escape
 * sequences dropped, blank lines skipped.  "" when there is no log.
 */
void
boot_console_tail(const char *path, int nlines, char *out, size_t outlen)
{
	char	 buf[BOOT_TAIL_BYTES + 1], *line[64], *p, *q;
	ssize_t	 n;
	off_t	 size;
	int	 fd, count = 0, i, esc = 0;
	size_t	 len;

	out[0] = '\0';
	if (nlines < 1)
		return;
	if (nlines > 64)
		nlines = 64;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return;
	size = lseek(fd, 0, SEEK_END);
	n = size < 0 ? -1 : pread(fd, buf, BOOT_TAIL_BYTES, size >
	    BOOT_TAIL_BYTES ? size - BOOT_TAIL_BYTES : 0);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	/* Printable ASCII and UTF-8 stay; ESC [ ... letter goes whole. */
	for (p = q = buf; p < buf + n; p++) {
		unsigned char	c = *p;

		if (esc) {
			if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
				esc = 0;
			continue;
		}
		if (c == 0x1b)
			esc = 1;
		else if (c == '\n' || c >= 0x20 || c == '\t')
			*q++ = c == '\t' ? ' ' : c;
	}
	*q = '\0';
	utf8_scrub(buf);
	for (p = strtok(buf, "\n"); p != NULL; p = strtok(NULL, "\n")) {
		while (*p == ' ')
			p++;
		for (q = p + strlen(p); q > p && q[-1] == ' '; q--)
			q[-1] = '\0';
		if (*p == '\0')
			continue;
		if (count == nlines) {
			memmove(line, line + 1, (nlines - 1) * sizeof(*line));
			count--;
		}
		line[count++] = p;
	}
	for (i = 0; i < count; i++) {
		len = strlen(out);
		snprintf(out + len, outlen - len, "%s%s", i ? " | " : "",
		    line[i]);
	}
}
