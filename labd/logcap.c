/* SPDX-License-Identifier: ISC */
/*
 * logcap.c - a guest's console log kept to a bounded size.  QEMU appends
 * to serial.log for as long as the guest writes to its console, which a
 * student (or a loop printing to /dev/console) can do without end.  Past
 * LOGCAP_MAX, the file is cut to its last LOGCAP_KEEP bytes, in place:
 * QEMU's descriptor is opened O_APPEND, so its next write lands after
 * what is kept.  Lines QEMU writes while the cut runs may be lost; the
 * cut is marked in the file.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labd.h"

#define LOGCAP_MARK	"\n[labd: console log cut to its last %lld KiB]\n"

int
logcap_cut(const char *path, long long max, long long keep)
{
	struct stat	 sb;
	char		*buf, *nl, mark[96];
	ssize_t		 n;
	size_t		 got = 0, skip;
	int		 fd, mlen, rc = -1;

	if ((fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return -1;
	}
	if (sb.st_size <= max) {
		close(fd);
		return 0;
	}
	if (keep > sb.st_size)
		keep = sb.st_size;
	buf = xmalloc(keep);
	while (got < (size_t)keep && (n = pread(fd, buf + got, keep - got,
	    sb.st_size - keep + got)) > 0)
		got += n;
	mlen = snprintf(mark, sizeof(mark), LOGCAP_MARK, keep / 1024);
	/* The first whole line of what is kept starts it. */
	nl = memchr(buf, '\n', got);
	skip = nl != NULL ? (size_t)(nl - buf) + 1 : 0;
	if (ftruncate(fd, 0) == 0 && pwrite(fd, mark + 1, mlen - 1, 0) ==
	    mlen - 1 && pwrite(fd, buf + skip, got - skip, mlen - 1) ==
	    (ssize_t)(got - skip))
		rc = 1;
	free(buf);
	close(fd);
	return rc;
}
