/* SPDX-License-Identifier: ISC */
/*
 * img.c - qemu-img, run one way for every caller in vmm/ and labd.
 *
 * qemu-img parses whatever it is given, and an image is input from
 * outside: a template someone downloaded, a disk a guest has written.  So
 * it only ever sees a regular file that was opened first (O_NOFOLLOW, and
 * O_NONBLOCK so that a FIFO named disk.qcow2 cannot hang the open), handed
 * over as /dev/fd/N; the format is named (-f) whenever it is known, so a
 * raw disk whose guest wrote a qcow2 header is never taken for qcow2; and
 * it runs under hard limits: 1 GiB of address space, a CPU budget, no
 * core file, and a wall-clock timeout after which it is killed.  A tool
 * stuck on a bad file thus costs a worker seconds, never the worker.
 *
 * When labd is root and the image is a client's, the caller passes the
 * client's identity (struct vmm_cred) and qemu-img runs as them: /dev/fd/N
 * is opened anew by the kernel with the opener's rights, so a tool that
 * runs as somebody else needs the file to be readable by that somebody,
 * and a backing file or extent it would follow is read with no more
 * rights than the client has.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "vmm/vmm.h"
#include "vmm/vmm_int.h"

#define QEMU_IMG_DEFAULT	"qemu-img"
/*
 * Enough for convert with its thread pool: ~90 MB and 8 MB a thread,
 * once glibc keeps to two malloc arenas (64 MB of address space each,
 * one per thread by default, which alone would pass 1 GiB).
 */
#define IMG_AS_BYTES		(1ULL << 30)
/* info, create, snapshot: headers and tables. */
#define IMG_QUICK_CPU		60
#define IMG_QUICK_MS		(5 * 60 * 1000)
/* convert: every byte of a disk of up to some hundred GB. */
#define IMG_COPY_CPU		(30 * 60)
#define IMG_COPY_MS		(4 * 3600 * 1000)

int
vmm_open_regular(const char *path, int flags, char *err, size_t errlen)
{
	struct stat	st;
	int		fd;

	if ((fd = open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) ==
	    -1) {
		if (errno == ELOOP)
			snprintf(err, errlen, "%s is a symbolic link: name the"
			    " file itself", path);
		else
			snprintf(err, errlen, "cannot open %s: %s", path,
			    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
		snprintf(err, errlen, "%s is not a regular file", path);
		close(fd);
		return -1;
	}
	return fd;
}

/* qemu-img's words name the file by its /dev/fd name: give its own back. */
static void
err_rename(char *err, size_t errlen, const char *fdname, const char *name)
{
	char	*at, *tmp;
	size_t	 flen = strlen(fdname), from = 0;
	int	 n;

	if (name == NULL || (tmp = malloc(errlen)) == NULL)
		return;
	while ((at = strstr(err + from, fdname)) != NULL) {
		n = snprintf(tmp, errlen, "%.*s%s%s", (int)(at - err), err, name,
		    at + flen);
		memcpy(err, tmp, errlen);
		/* Past the name put in: it may hold fdname itself. */
		from = (size_t)(at - err) + strlen(name);
		if (n < 0 || (size_t)n >= errlen || from >= strlen(err))
			break;
	}
	free(tmp);
}

/* A tool's whole environment: nothing of labd's, and few malloc arenas. */
static char *const img_env[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"LC_ALL=C",
	"MALLOC_ARENA_MAX=2",
	NULL
};

int
img_run(const char *qemu_img, const struct vmm_cred *cred, char *argv[],
    const int *fds, const char *const *names, size_t nfds, int copy,
    char **out, char *err, size_t errlen)
{
	struct vmm_child	c = { .cred = cred, .as_bytes = IMG_AS_BYTES,
				    .fds = fds, .nfds = nfds, .envp = img_env };
	char			fdname[32];
	size_t			i;
	int			rc;

	argv[0] = (char *)(qemu_img != NULL ? qemu_img : QEMU_IMG_DEFAULT);
	c.cpu_secs = copy ? IMG_COPY_CPU : IMG_QUICK_CPU;
	rc = vmm_run_child(&c, argv, NULL, copy ? IMG_COPY_MS : IMG_QUICK_MS,
	    out, err, errlen);
	for (i = 0; rc == -1 && names != NULL && i < nfds; i++) {
		snprintf(fdname, sizeof(fdname), "/dev/fd/%zu", 4 + i);
		err_rename(err, errlen, fdname, names[i]);
	}
	return rc;
}

/* info of the file that is /dev/fd/4 in the child. */
static json_t *
info_run(const char *qemu_img, const struct vmm_cred *cred, int fd,
    const char *fmt, int share, const char *name, char *err, size_t errlen)
{
	char		*argv[8], *out = NULL;
	json_t		*info;
	json_error_t	 je;
	int		 n = 1;

	argv[n++] = "info";
	if (share)
		argv[n++] = "-U";
	if (fmt != NULL) {
		argv[n++] = "-f";
		argv[n++] = (char *)fmt;
	}
	argv[n++] = "--output=json";
	argv[n++] = "/dev/fd/4";
	argv[n] = NULL;
	if (img_run(qemu_img, cred, argv, &fd, &name, 1, 0, &out, err,
	    errlen) == -1)
		return NULL;
	if ((info = json_loads(out, 0, &je)) == NULL ||
	    !json_is_object(info)) {
		snprintf(err, errlen, "cannot parse qemu-img info of %s: %s",
		    name, info == NULL ? je.text : "not an object");
		json_decref(info);
		info = NULL;
	}
	free(out);
	return info;
}

/*
 * -U (force-share): the image may be open in a running QEMU, whose write
 * lock would make a plain info fail; callers read header fields (format,
 * backing file, the snapshot table) that a running QEMU rewrites rarely,
 * and only whole.
 */
json_t *
vmm_image_info(const char *qemu_img, const char *path, const char *fmt,
    char *err, size_t errlen)
{
	json_t	*info;
	int	 fd;

	if ((fd = vmm_open_regular(path, O_RDONLY, err, errlen)) == -1)
		return NULL;
	info = info_run(qemu_img, NULL, fd, fmt, 1, path, err, errlen);
	close(fd);
	return info;
}

json_t *
img_info_fd(const char *qemu_img, const struct vmm_cred *cred, int fd,
    const char *fmt, const char *name, char *err, size_t errlen)
{
	return info_run(qemu_img, cred, fd, fmt, 0, name, err, errlen);
}

int
img_convert_fd(const char *qemu_img, const struct vmm_cred *cred, int in,
    const char *fmt, int out, const char *ofmt, const char *opts,
    const char *name, char *err, size_t errlen)
{
	char		*argv[14];
	const char	*names[2] = { name, "the copy" };
	int		 fds[2] = { in, out }, n = 1;

	argv[n++] = "convert";
	argv[n++] = "-q";
	argv[n++] = "-f";
	argv[n++] = (char *)fmt;
	argv[n++] = "-O";
	argv[n++] = (char *)ofmt;
	if (opts != NULL) {
		argv[n++] = "-o";
		argv[n++] = (char *)opts;
	}
	argv[n++] = "/dev/fd/4";
	argv[n++] = "/dev/fd/5";
	argv[n] = NULL;
	return img_run(qemu_img, cred, argv, fds, names, 2, 1, NULL, err,
	    errlen);
}
