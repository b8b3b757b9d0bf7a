/* SPDX-License-Identifier: ISC */
/*
 * overlay.c - a VM's disk: a qcow2 overlay backed by its template.
 *
 * The backing file's format is probed once, here, and written into the
 * overlay (-F): QEMU would otherwise probe it at every start, which is
 * both slow and unsafe (a raw image whose guest wrote a qcow2 header
 * would be taken for qcow2).  The overlay is made under a temporary name
 * and renamed into place, so that a reset that dies half-way leaves the
 * old disk or the new one, never a torn file or none.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "vmm/vmm.h"
#include "vmm/vmm_int.h"

/* fsync a file or folder by name: the rename must not outrun the data. */
static int
sync_path(const char *path, int dir)
{
	int	fd, rc;

	if ((fd = open(path, (dir ? O_DIRECTORY : 0) | O_RDONLY |
	    O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
overlay_create(const char *qemu_img, const char *backing, const char *path,
    char *err, size_t errlen)
{
	char		 tmp[PATH_MAX], dir[PATH_MAX], fmt[32], size[32];
	char		*argv[] = { NULL, "create", "-q", "-f", "qcow2", "-u",
			    "-F", fmt, "-b", (char *)backing, "/dev/fd/4", size,
			    NULL };
	const char	*f;
	json_t		*info = NULL;
	size_t		 i;
	int		 fd = -1, rc = -1;

	/* A relative backing name would be resolved against path's folder. */
	if (backing[0] != '/') {
		snprintf(err, errlen, "backing file %s: not an absolute path",
		    backing);
		return -1;
	}
	if ((info = vmm_image_info(qemu_img, backing, NULL, err, errlen)) ==
	    NULL)
		goto fail;
	f = json_string_value(json_object_get(info, "format"));
	if (f == NULL || f[0] == '\0' || strlen(f) >= sizeof(fmt)) {
		snprintf(err, errlen, "%s: qemu-img reports no format",
		    backing);
		goto fail;
	}
	for (i = 0; f[i] != '\0'; i++) {
		if (!((f[i] >= 'a' && f[i] <= 'z') ||
		    (f[i] >= '0' && f[i] <= '9'))) {
			snprintf(err, errlen, "%s: odd format \"%s\"", backing,
			    f);
			goto fail;
		}
	}
	snprintf(fmt, sizeof(fmt), "%s", f);
	/* -u: the size given, qemu-img never opens the backing file itself. */
	snprintf(size, sizeof(size), "%lld", (long long)json_integer_value(
	    json_object_get(info, "virtual-size")));

	/* mkstemp: a unique name even with two workers, and mode 0600. */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >=
	    (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		goto fail;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "cannot create a file next to %s: %s",
		    path, strerror(errno));
		goto fail;
	}
	if (img_run(qemu_img, NULL, argv, &fd, NULL, 1, 0, NULL, err,
	    errlen) == -1)
		goto fail;
	if (fsync(fd) == -1 || rename(tmp, path) == -1) {
		snprintf(err, errlen, "cannot put %s in place: %s", path,
		    strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	snprintf(dir, sizeof(dir), "%s", path);
	sync_path(dirname(dir), 1);
	rc = 0;
fail:
	if (fd != -1) {
		close(fd);
		unlink(tmp);
	}
	json_decref(info);
	return rc;
}

int
overlay_backing(const char *qemu_img, const char *path, char *backing,
    size_t backinglen, char *err, size_t errlen)
{
	json_t		*info;
	const char	*b;
	int		 rc = -1;

	if ((info = vmm_image_info(qemu_img, path, "qcow2", err, errlen)) ==
	    NULL)
		return -1;
	if ((b = json_string_value(json_object_get(info,
	    "backing-filename"))) == NULL) {
		snprintf(err, errlen, "%s has no backing file", path);
		goto fail;
	}
	if (strlen(b) >= backinglen) {
		snprintf(err, errlen, "%s: backing file name too long", path);
		goto fail;
	}
	snprintf(backing, backinglen, "%s", b);
	rc = 0;
fail:
	json_decref(info);
	return rc;
}

long long
overlay_disk_usage(const char *path)
{
	struct stat	st;

	if (stat(path, &st) == -1)
		return -1;
	return (long long)st.st_blocks * 512;
}
