/* SPDX-License-Identifier: ISC */
/*
 * template.c - templates: immutable golden disks with a hardware profile,
 * their import pipeline and their rows in the database.  An import copies
 * (or converts) the disk into state_dir/templates/NAME@V/ in a worker,
 * records its checksum and makes it read-only; importing the same name
 * again makes version V+1, so a template never changes under the clones
 * that use it.  A version is removed only while no course uses it, and a
 * version number is never handed out twice: "tiny@2" means one disk for
 * the life of the state.
 *
 * The source is a profile .ini, an .ova or .ovf appliance (ova.c reads
 * its hardware), a bare disk in any format qemu-img reads, or a VM: the
 * machine an instructor prepared, its disk copied flat (live while it
 * runs, see vm_op_backup()) with the hardware of its own template, and
 * finished as an import.
 *
 * Whoever asked may not be root, though labd is: every file they name is
 * opened in the worker with their rights (caller.c), and read by
 * descriptor alone.  qemu-img would take any file at all as a raw disk
 * and would follow a backing file, a data file or a vmdk extent anywhere,
 * so each disk is probed first and refused when it is text or is not the
 * whole of itself.  When the asker is not root, qemu-img reads their disk
 * as them, into a raw copy they own in a folder only labd enters (the
 * kernel opens /dev/fd/N anew with the opener's rights); the qcow2 that
 * becomes the template is then written by a qemu-img that reads that raw
 * copy with -f raw, so nothing they could have written in the meantime is
 * ever parsed as an image's tables.
 *
 * This is the model behind cmd_template.c: it knows nothing of the
 * control socket.  A refusal comes back as a LABD_E_* code and a message
 * for the asker; an import, which ends in a worker, ends with a call to
 * the asker's struct done.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "labd/vmjob.h"

/* Past this a "disk" is a mistake, not a lab machine. */
#define TEMPLATE_MAX_DISK	(4ULL << 40)

enum import_kind {
	IMPORT_DISK = 0,
	IMPORT_PROFILE,		/* a template profile .ini */
	IMPORT_OVA,		/* a tar of an OVF and its disks */
	IMPORT_OVF,		/* an OVF with its disk beside it */
	IMPORT_VM,		/* a VM's disk, copied by a vmjob */
};

struct import_job {
	struct job		 job;
	struct done		 done;		/* the asker's, told once */
	void			*arg;
	uid_t			 uid;		/* who asked: the event log */
	struct caller		 who;		/* its files open with these rights */
	int			 src_fd;	/* the files, open as who; or -1 */
	int			 disk_fd;
	int			 kernel_fd;
	int			 initrd_fd;
	int			 disk_ours;	/* disk_fd: unpacked by labd */
	const char		*code;		/* LABD_E_INVALID: input refused */
	char			 name[LABD_NAMELEN];
	int			 version;
	enum import_kind	 kind;
	int			 preallocate;
	char			 source[PATH_MAX];
	struct template_profile	 prof;	/* paths rewritten to the copies */
	char			 dir[PATH_MAX];
	char			 sha256[65];
	char			 publish[512];	/* as stored; "": from prof */
	json_t			*extra;		/* more for the reply, or NULL */
	int			 rc;
	char			 err[LABD_ERRLEN];
};

/* Names being imported right now, so that two imports never race. */
static char	importing[16][LABD_NAMELEN];

static int
importing_mark(const char *name, int on)
{
	int	i;

	for (i = 0; i < 16; i++) {
		if (on && importing[i][0] == '\0') {
			snprintf(importing[i], LABD_NAMELEN, "%s", name);
			return 0;
		}
		if (!on && strcmp(importing[i], name) == 0) {
			importing[i][0] = '\0';
			return 0;
		}
	}
	return -1;
}

static int
importing_has(const char *name)
{
	int	i;

	for (i = 0; i < 16; i++)
		if (strcmp(importing[i], name) == 0)
			return 1;
	return 0;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t	n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* A text file is no disk, though qemu-img would call it a raw one. */
static int
raw_check(int fd, const char *path, char *err, size_t errlen)
{
	unsigned char	buf[4096];
	struct stat	sb;
	ssize_t		n, i;

	if (fstat(fd, &sb) == -1 || (n = pread(fd, buf, sizeof(buf), 0)) ==
	    -1) {
		errf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	if (sb.st_size == 0) {
		errf(err, errlen, "%s is empty: not a disk image", path);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (buf[i] < 0x20 && buf[i] != '\t' && buf[i] != '\n' &&
		    buf[i] != '\r')
			break;
	if (n > 0 && i == n) {
		errf(err, errlen, "%s is not a disk image: it holds text (a"
		    " disk is qcow2, vmdk, vdi, vhdx, vhd, raw or an .ova)",
		    path);
		return -1;
	}
	if (sb.st_size % 512 != 0) {
		errf(err, errlen, "%s is not a disk image: %lld bytes is not a"
		    " whole number of 512-byte sectors", path,
		    (long long)sb.st_size);
		return -1;
	}
	return 0;
}

/*
 * What qemu-img, run as the asker, makes of the disk on fd (give: 1 when
 * it is labd's own file, the asker's while qemu-img reads it): its format in fmt
 * and virtual size in *vsize, or -1 when importing it would be wrong.  A
 * backing file, a qcow2 data file or a vmdk extent in another file would
 * bake a file of the host into the template, which every student then
 * reads; qemu-img sees the disk as /dev/fd/4, and only that may hold it.
 */
static int
disk_probe(int fd, const char *path, const struct caller *who, int give,
    char *fmt, size_t fmtlen, uint64_t *vsizep, char *err, size_t errlen)
{
	static const char	*formats[] = { "qcow2", "raw", "vmdk", "vdi",
				    "vhdx", "vpc" };
	char			 e[LABD_ERRLEN];
	const char		*format, *f;
	json_t			*info, *data, *x;
	json_int_t		 vsize;
	size_t			 i;
	int			 rc = -1;

	if ((info = caller_img_info(who, fd, NULL, give, path, e,
	    sizeof(e))) == NULL) {
		errf(err, errlen, "%s is not a disk image qemu-img can read: %s",
		    path, e);
		return -1;
	}
	if ((format = json_string_value(json_object_get(info,
	    "format"))) == NULL) {
		errf(err, errlen, "qemu-img info %s: unexpected output", path);
		goto fail;
	}
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(format, formats[i]) == 0)
			break;
	if (i == sizeof(formats) / sizeof(formats[0])) {
		errf(err, errlen, "%s is a %s image: labd imports qcow2, raw,"
		    " vmdk, vdi, vhdx and vhd", path, format);
		goto fail;
	}
	if ((f = json_string_value(json_object_get(info,
	    "backing-filename"))) != NULL) {
		errf(err, errlen, "%s has a backing file (%s): import a whole"
		    " disk (qemu-img convert -O qcow2 flattens it)", path, f);
		goto fail;
	}
	data = json_object_get(json_object_get(info, "format-specific"),
	    "data");
	if ((f = json_string_value(json_object_get(data, "data-file"))) !=
	    NULL) {
		errf(err, errlen, "%s keeps its data in another file (%s):"
		    " import a whole disk", path, f);
		goto fail;
	}
	json_array_foreach(json_object_get(data, "extents"), i, x) {
		f = json_string_value(json_object_get(x, "filename"));
		if (f != NULL && strcmp(f, "/dev/fd/4") != 0) {
			errf(err, errlen, "%s keeps its data in other files"
			    " (%s): import a disk of one file (qemu-img convert"
			    " -O qcow2 makes one)", path, f);
			goto fail;
		}
	}
	vsize = json_integer_value(json_object_get(info, "virtual-size"));
	if (vsize <= 0 || (unsigned long long)vsize > TEMPLATE_MAX_DISK) {
		errf(err, errlen, "%s: a disk of %lld bytes is beyond what labd"
		    " imports (4 TiB)", path, (long long)vsize);
		goto fail;
	}
	if (strcmp(format, "raw") == 0 && raw_check(fd, path, err,
	    errlen) == -1)
		goto fail;
	snprintf(fmt, fmtlen, "%s", format);
	*vsizep = (uint64_t)vsize;
	rc = 0;
fail:
	json_decref(info);
	return rc;
}

/* The profile's files, each opened as the asker and kept in the job. */
static int
import_open_file(void *arg, const char *key, const char *path, char *err,
    size_t errlen)
{
	struct import_job	*j = arg;
	int			*fdp;

	if (strcmp(key, "disk") == 0)
		fdp = &j->disk_fd;
	else if (strcmp(key, "kernel") == 0)
		fdp = &j->kernel_fd;
	else
		fdp = &j->initrd_fd;
	if (*fdp != -1)
		close(*fdp);
	return (*fdp = caller_open(&j->who, path, err, errlen)) == -1 ? -1 : 0;
}

static void
import_ovf(struct import_job *j, const struct ovf_info *ovf)
{
	if (ovf->memory_mb != 0)
		j->prof.memory_mb = ovf->memory_mb;
	if (ovf->vcpus != 0)
		j->prof.vcpus = ovf->vcpus;
	if (ovf->uefi)
		snprintf(j->prof.firmware, sizeof(j->prof.firmware), "uefi");
}

/*
 * Worker: the file named, opened as the asker, and what it names: a
 * profile's disk, kernel and initrd, an OVF's disk; a bare disk is its
 * own.  An .ova stays open for import_appliance().
 */
static int
import_source(struct import_job *j)
{
	struct ovf_info	ovf;

	if ((j->src_fd = caller_open(&j->who, j->source, j->err,
	    sizeof(j->err))) == -1)
		return -1;
	switch (j->kind) {
	case IMPORT_PROFILE:
		return profile_read(j->src_fd, j->source, &j->prof,
		    import_open_file, j, j->err, sizeof(j->err));
	case IMPORT_OVF:
		if (ovf_load(j->src_fd, j->source, &ovf, j->prof.disk,
		    sizeof(j->prof.disk), j->err, sizeof(j->err)) == -1)
			return -1;
		import_ovf(j, &ovf);
		if ((j->disk_fd = caller_open(&j->who, j->prof.disk, j->err,
		    sizeof(j->err))) == -1)
			return -1;
		return 0;
	case IMPORT_OVA:
		return 0;
	default:
		snprintf(j->prof.disk, sizeof(j->prof.disk), "%s", j->source);
		j->disk_fd = j->src_fd;
		j->src_fd = -1;
		return 0;
	}
}

/*
 * Worker: unpack the .ova into tmp/ova, its OVF's hardware into the
 * profile; the disk it holds is the asker's to read, as it is theirs.
 */
static int
import_appliance(struct import_job *j, const char *tmp)
{
	struct ovf_info	ovf;
	char		src[PATH_MAX];

	snprintf(src, sizeof(src), "%s/ova", tmp);
	if (mkdir(src, 0700) == -1) {
		errf(j->err, sizeof(j->err), "cannot create %s: %s", src,
		    strerror(errno));
		return -1;
	}
	if (ova_extract(j->src_fd, j->source, src, &ovf, j->prof.disk,
	    sizeof(j->prof.disk), j->err, sizeof(j->err)) == -1)
		return -1;
	import_ovf(j, &ovf);
	j->disk_ours = 1;
	if ((j->disk_fd = open(j->prof.disk, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		errf(j->err, sizeof(j->err), "cannot open %s: %s", j->prof.disk,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* The private folder a version is made in, renamed into place at last. */
static void
import_tmp(const struct import_job *j, char *tmp)
{
	snprintf(tmp, PATH_MAX, "%s/templates/.import-%s@%d",
	    labd->cfg.state_dir, j->name, j->version);
}

/* A new empty file of ours, read-write; -1 with j->err. */
static int
import_create(struct import_job *j, const char *path)
{
	int	fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		errf(j->err, sizeof(j->err), "cannot create %s: %s", path,
		    strerror(errno));
	return fd;
}

/* A qcow2's virtual size, from its header (big-endian at 24); 0: none. */
static uint64_t
qcow2_vsize(int fd)
{
	unsigned char	h[32];
	uint64_t	v = 0;
	int		i;

	if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h, "QFI\xfb", 4) != 0)
		return 0;
	for (i = 24; i < 32; i++)
		v = v << 8 | h[i];
	return v;
}

/*
 * Worker: the disk probed and written as tmp/disk.qcow2, a clean qcow2
 * from the format just probed (never probing again: the probe is what
 * was checked).  Sparse by default; preallocated metadata when asked, so
 * that reads of a large template never wait on the allocation of its
 * tables.  With the helper: through a raw copy that qemu-img as the asker
 * writes (see the top of this file).
 */
static int
import_convert(struct import_job *j, const char *tmp)
{
	char		 disk[PATH_MAX], raw[PATH_MAX], fmt[16];
	const char	*opts = j->preallocate ? "preallocation=metadata" : NULL;
	struct stat	 st;
	uint64_t	 vsize;
	int		 out = -1, rawfd = -1, rc = -1;

	if (disk_probe(j->disk_fd, j->prof.disk, &j->who, j->disk_ours, fmt,
	    sizeof(fmt), &vsize, j->err, sizeof(j->err)) == -1)
		return -1;
	snprintf(disk, sizeof(disk), "%s/disk.qcow2", tmp);
	snprintf(raw, sizeof(raw), "%s/disk.raw", tmp);
	if ((out = import_create(j, disk)) == -1)
		return -1;
	if (!priv_active()) {
		rc = img_convert_fd(labd->cfg.qemu_img, NULL, j->disk_fd, fmt,
		    out, "qcow2", opts, j->prof.disk, j->err, sizeof(j->err));
		close(out);
		return rc;
	}
	if ((rawfd = import_create(j, raw)) == -1)
		goto fail;
	if (caller_img_convert(&j->who, j->disk_fd, fmt, rawfd, "raw",
	    j->disk_ours | 2, j->prof.disk, j->err, sizeof(j->err)) == -1)
		goto fail;
	if (fstat(rawfd, &st) == -1 || (uint64_t)st.st_size != vsize) {
		errf(j->err, sizeof(j->err), "%s: its raw copy is not the %llu"
		    " bytes the disk holds", j->prof.disk,
		    (unsigned long long)vsize);
		goto fail;
	}
	if (img_convert_fd(labd->cfg.qemu_img, NULL, rawfd, "raw", out,
	    "qcow2", opts, j->prof.disk, j->err, sizeof(j->err)) == -1)
		goto fail;
	/* The asker may still write the raw copy: its size is checked too. */
	if (qcow2_vsize(out) != vsize) {
		errf(j->err, sizeof(j->err), "%s changed while it was copied",
		    j->prof.disk);
		goto fail;
	}
	rc = 0;
fail:
	if (rawfd != -1)
		close(rawfd);
	unlink(raw);
	close(out);
	return rc;
}

/*
 * A file for the template's folder: from fd when the asker's, else (a
 * VM's template's own) opened by name.
 */
static int
import_copy(struct import_job *j, int fd, const char *from, const char *to)
{
	int	rc, own = -1;

	if (fd == -1 && (fd = own = caller_open(NULL, from, j->err,
	    sizeof(j->err))) == -1)
		return -1;
	rc = file_copy_fd(fd, from, to, 0444, j->err, sizeof(j->err));
	if (own != -1)
		close(own);
	return rc;
}

/*
 * Worker: tmp holds disk.qcow2; add the kernel and initrd, record the
 * checksum, make the disk read-only and rename tmp into place.  The
 * profile's paths then name the copies.  tmp is the caller's to remove
 * on failure.
 */
static int
import_finish(struct import_job *j, const char *tmp)
{
	char	disk[PATH_MAX], path[PATH_MAX], out[256];
	char	*sum[] = { "sha256sum", disk, NULL };

	snprintf(disk, sizeof(disk), "%s/disk.qcow2", tmp);
	if (j->prof.kernel[0] != '\0') {
		snprintf(path, sizeof(path), "%s/vmlinuz", tmp);
		if (import_copy(j, j->kernel_fd, j->prof.kernel, path) == -1)
			return -1;
	}
	if (j->prof.initrd[0] != '\0') {
		snprintf(path, sizeof(path), "%s/initrd", tmp);
		if (import_copy(j, j->initrd_fd, j->prof.initrd, path) == -1)
			return -1;
	}
	if (run_capture(sum, out, sizeof(out), j->err, sizeof(j->err)) == -1)
		return -1;
	snprintf(j->sha256, sizeof(j->sha256), "%.64s", out);
	/* Immutable from now on: clones back onto it. */
	if (chmod(disk, 0444) == -1 || chmod(tmp, 0755) == -1) {
		errf(j->err, sizeof(j->err), "chmod %s: %s", disk,
		    strerror(errno));
		return -1;
	}
	rm_rf(j->dir);
	if (rename(tmp, j->dir) == -1) {
		errf(j->err, sizeof(j->err), "cannot rename %s to %s: %s", tmp,
		    j->dir, strerror(errno));
		return -1;
	}
	snprintf(j->prof.disk, sizeof(j->prof.disk), "%s/disk.qcow2", j->dir);
	if (j->prof.kernel[0] != '\0')
		snprintf(j->prof.kernel, sizeof(j->prof.kernel), "%s/vmlinuz",
		    j->dir);
	if (j->prof.initrd[0] != '\0')
		snprintf(j->prof.initrd, sizeof(j->prof.initrd), "%s/initrd",
		    j->dir);
	return 0;
}

/*
 * Worker: open what was named, as the asker; copy it into a private
 * folder (only labd enters it), then rename that into place.
 */
static void
import_run(struct job *job)
{
	struct import_job	*j = (struct import_job *)job;
	char			 tmp[PATH_MAX], path[PATH_MAX];

	j->rc = -1;
	/* Its groups looked up here: the user database may be slow. */
	caller_init(&j->who, j->who.uid, j->who.gid, j->who.peer);
	if (import_source(j) == -1) {
		j->code = LABD_E_INVALID;
		return;
	}
	import_tmp(j, tmp);
	rm_rf(tmp);
	if (mkdir_p(tmp, 0755) == -1 || chmod(tmp, 0700) == -1) {
		errf(j->err, sizeof(j->err), "cannot create %s: %s", tmp,
		    strerror(errno));
		return;
	}
	if ((j->kind == IMPORT_OVA && import_appliance(j, tmp) == -1) ||
	    import_convert(j, tmp) == -1)
		goto fail;
	/* The unpacked appliance has served: only the template stays. */
	snprintf(path, sizeof(path), "%s/ova", tmp);
	rm_rf(path);
	if (import_finish(j, tmp) == -1)
		goto fail;
	j->rc = 0;
	return;
fail:
	rm_rf(tmp);
}

static json_t *
template_json(sqlite3_stmt *st)
{
	return json_pack("{s:s,s:i,s:s,s:s,s:i,s:i,s:s,s:s,s:s,s:I}",
	    "name", db_text(st, 0), "version", sqlite3_column_int(st, 1),
	    "ref", db_text(st, 2), "disk", db_text(st, 3),
	    "memory_mb", sqlite3_column_int(st, 4),
	    "vcpus", sqlite3_column_int(st, 5), "publish", db_text(st, 6),
	    "source", db_text(st, 7), "sha256", db_text(st, 8),
	    "created", (json_int_t)sqlite3_column_int64(st, 9));
}

#define TEMPLATE_COLS \
	"name, version, name || '@' || version, disk, memory_mb, vcpus," \
	" publish, source, sha256, created"
/* The INSERT of a finished import's row; -1 with the message in msg. */
static int
import_insert(struct import_job *j, char *msg, size_t msglen)
{
	struct template_profile	*p = &j->prof;
	sqlite3_stmt		*st;
	char			 publish[512] = "";
	size_t			 i;
	int			 rc = 0;

	for (i = 0; i < p->nguest; i++) {
		size_t	len = strlen(publish);

		snprintf(publish + len, sizeof(publish) - len, "%s%s:%u",
		    i ? "," : "", p->guest_names[i], p->guest_ports[i]);
	}
	if (j->publish[0] != '\0')
		snprintf(publish, sizeof(publish), "%s", j->publish);
	st = db_prepare("INSERT INTO templates(name, version, dir, disk, kernel,"
	    " initrd, append, firmware, memory_mb, vcpus, publish, ready_line,"
	    " source, sha256, created, instant_clone) VALUES"
	    " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
	sqlite3_bind_text(st, 1, j->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, j->version);
	sqlite3_bind_text(st, 3, j->dir, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, p->disk, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, p->kernel, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, p->initrd, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, p->append, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, p->firmware[0] ? p->firmware : "bios", -1,
	    SQLITE_STATIC);
	sqlite3_bind_int(st, 9, p->memory_mb);
	sqlite3_bind_int(st, 10, p->vcpus);
	sqlite3_bind_text(st, 11, publish, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, p->ready_line, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 13, j->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 14, j->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 15, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 16, profile_clone_name(p->instant_clone), -1,
	    SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		errf(msg, msglen, "template %s: %s", j->name,
		    sqlite3_errmsg(labd->db));
		rc = -1;
	}
	sqlite3_finalize(st);
	return rc;
}

static void
import_free(struct import_job *j)
{
	if (j->src_fd != -1)
		close(j->src_fd);
	if (j->disk_fd != -1)
		close(j->disk_fd);
	if (j->kernel_fd != -1)
		close(j->kernel_fd);
	if (j->initrd_fd != -1)
		close(j->initrd_fd);
	caller_close(&j->who);
	json_decref(j->extra);
	free(j);
}

/* Loop: the worker is done; the row, the event, and the asker told. */
static void
import_done(struct job *job)
{
	struct import_job	*j = (struct import_job *)job;
	sqlite3_stmt		*st;
	char			 msg[LABD_MSGLEN];

	importing_mark(j->name, 0);
	if (j->rc == -1 && j->code != NULL) {
		/* The file named was refused: the message names it. */
		done_err(&j->done, j->code, "%s", j->err);
		goto done;
	}
	if (j->rc == -1) {
		errf(msg, sizeof(msg), "template %s: %s", j->name, j->err);
		done_err(&j->done, LABD_E_FAILED, "%s", msg);
		goto done;
	}
	if (import_insert(j, msg, sizeof(msg)) == -1) {
		done_err(&j->done, LABD_E_INTERNAL, "%s", msg);
		rm_rf(j->dir);
		goto done;
	}
	/* template_next_version() reads "version N" back from here. */
	db_event(j->uid, "template.import", j->name, "version %d from %s%s",
	    j->version, j->source, j->preallocate ? ", preallocated" : "");
	log_info("template %s@%d imported from %s", j->name, j->version,
	    j->source);
	st = db_prepare("SELECT " TEMPLATE_COLS " FROM templates WHERE name = ?"
	    " AND version = ?");
	sqlite3_bind_text(st, 1, j->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, j->version);
	if (sqlite3_step(st) == SQLITE_ROW) {
		json_t	*t = template_json(st);

		json_object_set_new(t, "preallocated",
		    json_boolean(j->preallocate));
		if (j->extra != NULL)
			json_object_update(t, j->extra);
		done_ok(&j->done, t);
	} else {
		errf(msg, sizeof(msg), "template %s vanished", j->name);
		done_err(&j->done, LABD_E_INTERNAL, "%s", msg);
	}
	sqlite3_finalize(st);
done:
	import_free(j);
}

/*
 * One past the highest version the name ever had, removed ones included:
 * the event log is append-only and remembers them, so a removed tiny@2
 * never comes back as a different tiny@2.
 */
static int
template_next_version(const char *name)
{
	sqlite3_stmt	*st;
	int		 v;

	st = db_prepare("SELECT COALESCE(MAX(v), 0) + 1 FROM ("
	    " SELECT MAX(version) AS v FROM templates WHERE name = ?1"
	    " UNION ALL SELECT MAX(CAST(substr(detail, 9) AS INTEGER))"
	    " FROM events WHERE kind = 'template.import' AND subject = ?1"
	    " AND detail LIKE 'version %')");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_step(st);
	v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * A name a new template version may take: valid, and not being imported
 * right now (two imports of one name would race for its next version).
 */
const char *
template_name_check(const char *name, char *err, size_t errlen)
{
	if (!name_valid(name)) {
		errf(err, errlen, "template name \"%.64s\": use 1-32 of a-z,"
		    " 0-9 and '-', starting with a letter", name);
		return LABD_E_INVALID;
	}
	if (importing_has(name)) {
		errf(err, errlen, "template %s is being imported", name);
		return LABD_E_BUSY;
	}
	return NULL;
}

/* The next version of j->name, its folder, and the name marked busy. */
static const char *
import_claim(struct import_job *j, char *err, size_t errlen)
{
	j->version = template_next_version(j->name);
	snprintf(j->dir, sizeof(j->dir), "%s/templates/%s@%d",
	    labd->cfg.state_dir, j->name, j->version);
	if (importing_mark(j->name, 1) == -1) {
		errf(err, errlen, "too many imports at once");
		return LABD_E_BUSY;
	}
	return NULL;
}

/* A new import_job for name from source; its asker hears from done. */
static struct import_job *
import_new(const char *name, const char *source, uid_t uid,
    struct done done)
{
	struct import_job	*j;

	j = xcalloc(1, sizeof(*j));
	snprintf(j->name, sizeof(j->name), "%s", name);
	snprintf(j->source, sizeof(j->source), "%s", source);
	j->uid = uid;
	j->done = done;
	j->src_fd = j->disk_fd = j->kernel_fd = j->initrd_fd = -1;
	j->who.peer = -1;
	profile_defaults(&j->prof);
	return j;
}

/*
 * What a file to import is goes by its name: a profile .ini has its own
 * profile; a bare disk or an appliance boots from its own boot loader
 * and publishes ssh, and an appliance's OVF sets the memory and vCPUs.
 * Nothing is opened here, in the loop: a FIFO named x.ini would stall
 * every client.  The worker opens it, as the asker.
 */
static const char *
import_start(const char *name, const char *path, int preallocate,
    uid_t uid, gid_t gid, int peer, struct done done, char *err,
    size_t errlen)
{
	struct import_job	*j;
	const char		*code;

	if ((code = template_name_check(name, err, errlen)) == NULL &&
	    path[0] != '/') {
		errf(err, errlen, "template path \"%.200s\" must be absolute",
		    path);
		code = LABD_E_INVALID;
	}
	if (code != NULL) {
		if (peer != -1)
			close(peer);
		return code;
	}
	j = import_new(name, path, uid, done);
	j->who.uid = uid;
	j->who.gid = gid;
	j->who.peer = peer;
	j->preallocate = preallocate;
	if (ends_with(path, ".ini"))
		j->kind = IMPORT_PROFILE;
	else if (ends_with(path, ".ova"))
		j->kind = IMPORT_OVA;
	else if (ends_with(path, ".ovf"))
		j->kind = IMPORT_OVF;
	if ((code = import_claim(j, err, errlen)) != NULL) {
		import_free(j);
		return code;
	}
	j->job.run = import_run;
	j->job.done = import_done;
	workers_submit(labd->workers, &j->job);
	return NULL;
}

/* --- a template from a VM ------------------------------------------------ */

/* Worker, before the copy: the private folder, empty. */
static int
from_vm_prepare(struct vmjob *vj)
{
	struct import_job	*j = vj->arg;
	char			 tmp[PATH_MAX];

	import_tmp(j, tmp);
	rm_rf(tmp);
	if (mkdir_p(tmp, 0755) == -1) {
		errf(vj->err, sizeof(vj->err), "cannot create %s: %s", tmp,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Worker, after it: finished as an import, or the folder goes. */
static int
from_vm_finish(struct vmjob *vj)
{
	struct import_job	*j = vj->arg;
	char			 tmp[PATH_MAX];

	import_tmp(j, tmp);
	if (vj->rc == 0 && import_finish(j, tmp) == 0)
		return 0;
	if (vj->rc == 0)
		snprintf(vj->err, sizeof(vj->err), "%s", j->err);
	rm_rf(tmp);
	return -1;
}

/* Loop: the row and the asker told, as an import's. */
static void
from_vm_after(struct vmjob *vj, struct vm *vm)
{
	struct import_job	*j = vj->arg;

	j->rc = vj->rc;
	snprintf(j->err, sizeof(j->err), "%s", vj->err);
	j->extra = json_pack("{s:s,s:f,s:b,s:b}", "vm", vj->def.name,
	    "seconds", vj->ms / 1000.0, "live", vj->running, "synced",
	    vj->synced);
	import_done(&j->job);
}

static const struct vmjob_hooks from_vm_hooks = {
	.prepare = from_vm_prepare,
	.finish = from_vm_finish,
	.after = from_vm_after,
};

/* The hardware, boot and ports of the template vm was made from. */
static int
from_vm_profile(const struct vm *vm, struct import_job *j)
{
	struct template_profile	*p = &j->prof;
	sqlite3_stmt		*st;
	int			 rc = -1;

	st = db_prepare("SELECT t.kernel, t.initrd, t.append, t.firmware,"
	    " t.memory_mb, t.vcpus, t.publish, t.ready_line, t.instant_clone"
	    " FROM vms v JOIN courses c ON c.id = v.course_id"
	    " JOIN templates t ON t.id = c.template_id WHERE v.id = ?");
	sqlite3_bind_int64(st, 1, vm->id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		profile_defaults(p);
		snprintf(p->kernel, sizeof(p->kernel), "%s", db_text(st, 0));
		snprintf(p->initrd, sizeof(p->initrd), "%s", db_text(st, 1));
		snprintf(p->append, sizeof(p->append), "%s", db_text(st, 2));
		snprintf(p->firmware, sizeof(p->firmware), "%s",
		    db_text(st, 3));
		p->memory_mb = sqlite3_column_int(st, 4);
		p->vcpus = sqlite3_column_int(st, 5);
		snprintf(j->publish, sizeof(j->publish), "%s", db_text(st, 6));
		snprintf(p->ready_line, sizeof(p->ready_line), "%s",
		    db_text(st, 7));
		if ((p->instant_clone = profile_clone_parse(db_text(st,
		    8))) == -1)
			p->instant_clone = TPL_CLONE_AUTO;
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

static const char *
from_vm_start(struct vm *vm, const char *name, uid_t uid,
    struct done done, char *err, size_t errlen)
{
	struct import_job	*j;
	struct vmjob		*vj;
	const char		*code;
	char			 source[LABD_VMNAMELEN + 3], tmp[PATH_MAX];

	if ((code = template_name_check(name, err, errlen)) != NULL)
		return code;
	snprintf(source, sizeof(source), "vm:%s", vm->name);
	j = import_new(name, source, uid, done);
	j->kind = IMPORT_VM;
	if (from_vm_profile(vm, j) == -1) {
		errf(err, errlen, "%s: its template is not in the database",
		    vm->name);
		import_free(j);
		return LABD_E_INTERNAL;
	}
	if ((code = import_claim(j, err, errlen)) != NULL) {
		import_free(j);
		return code;
	}
	vj = xcalloc(1, sizeof(*vj));
	import_tmp(j, tmp);
	snprintf(vj->target, sizeof(vj->target), "%s/disk.qcow2", tmp);
	vj->trusted = 1;
	vj->hooks = &from_vm_hooks;
	vj->arg = j;
	if ((code = vm_op_backup(vm, vj, err, errlen)) != NULL) {
		importing_mark(j->name, 0);
		import_free(j);
		free(vj);
	}
	return code;
}

/* Whoever asked hears of the end through done, or of the refusal now. */
void
template_import(const char *name, const char *path, int preallocate,
    uid_t uid, gid_t gid, int peer, struct done done)
{
	const char	*code;
	char		 err[LABD_MSGLEN];

	if ((code = import_start(name, path, preallocate, uid, gid, peer,
	    done, err, sizeof(err))) != NULL)
		done_err(&done, code, "%s", err);
}

void
template_from_vm(struct vm *vm, const char *name, uid_t uid,
    struct done done)
{
	const char	*code;
	char		 err[LABD_MSGLEN];

	if ((code = from_vm_start(vm, name, uid, done, err, sizeof(err))) !=
	    NULL)
		done_err(&done, code, "%s", err);
}

/* --- the rows ------------------------------------------------------------ */

json_t *
template_list(void)
{
	sqlite3_stmt	*st;
	json_t		*a = json_array();

	st = db_prepare("SELECT " TEMPLATE_COLS " FROM templates"
	    " ORDER BY name, version");
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(a, template_json(st));
	sqlite3_finalize(st);
	return a;
}

/*
 * "tiny" or "tiny@2" into its name and version (0: none given); the code
 * when the reference is malformed.
 */
static const char *
ref_parse(const char *ref, char *name, int *version, char *err,
    size_t errlen)
{
	const char	*at;
	char		*endp;
	long		 v = 0;

	if ((at = strchr(ref, '@')) != NULL) {
		errno = 0;
		v = strtol(at + 1, &endp, 10);
		if (at[1] < '1' || at[1] > '9' || *endp != '\0' || errno != 0 ||
		    v > INT_MAX)
			goto bad;
	}
	if ((at ? (size_t)(at - ref) : strlen(ref)) >= LABD_NAMELEN)
		goto bad;
	snprintf(name, LABD_NAMELEN, "%.*s",
	    (int)(at ? (size_t)(at - ref) : strlen(ref)), ref);
	if (!name_valid(name))
		goto bad;
	*version = (int)v;
	return NULL;
bad:
	errf(err, errlen, "template \"%.64s\": use NAME or NAME@VERSION, e.g."
	    " tiny@2", ref);
	return LABD_E_INVALID;
}

/*
 * The row id and version a reference means.  Without a version: the
 * newest when newest is set, else the only one (several: refused, with
 * the list, since removing "whichever" is never what was meant).
 */
static const char *
template_find(const char *name, int *version, int newest, int64_t *idp,
    char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	char		 list[512] = "";
	int64_t		 id = -1;
	int		 n = 0;
	size_t		 len;

	st = db_prepare("SELECT id, version FROM templates WHERE name = ?1"
	    " AND (?2 = 0 OR version = ?2) ORDER BY version DESC");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, *version);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n++ == 0) {
			id = sqlite3_column_int64(st, 0);
			*version = sqlite3_column_int(st, 1);
		}
		len = strlen(list);
		snprintf(list + len, sizeof(list) - len, "%s%s@%d",
		    len ? ", " : "", name, sqlite3_column_int(st, 1));
	}
	sqlite3_finalize(st);
	if (n == 0) {
		if (*version != 0)
			errf(err, errlen, "template %s@%d not found", name,
			    *version);
		else
			errf(err, errlen, "template %s not found", name);
		return LABD_E_NOT_FOUND;
	}
	if (n > 1 && !newest) {
		errf(err, errlen, "template %s has %d versions (%s): name the"
		    " one you mean", name, n, list);
		return LABD_E_INVALID;
	}
	*idp = id;
	return NULL;
}

/* The disk's size inside (its qcow2 header) and on the host. */
static void
disk_sizes(const char *path, json_t *o)
{
	struct stat	sb;
	uint64_t	vsize;
	char		mode[8];
	int		fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) == -1) {
		json_object_set_new(o, "disk_error", json_string(strerror(
		    errno)));
		if (fd != -1)
			close(fd);
		return;
	}
	vsize = qcow2_vsize(fd);
	close(fd);
	snprintf(mode, sizeof(mode), "%04o", (unsigned)(sb.st_mode & 07777));
	json_object_set_new(o, "disk_mode", json_string(mode));
	json_object_set_new(o, "disk_bytes",
	    json_integer((json_int_t)sb.st_blocks * 512));
	json_object_set_new(o, "disk_size", json_integer((json_int_t)vsize));
}

/* The courses on a template version, each with its VMs and their state. */
static json_t *
template_users(int64_t id)
{
	sqlite3_stmt	*st;
	json_t		*courses = json_array(), *c = NULL;
	const char	*cname, *vname;
	struct vm	*vm;

	st = db_prepare("SELECT c.name, v.name FROM courses c"
	    " LEFT JOIN vms v ON v.course_id = c.id WHERE c.template_id = ?"
	    " ORDER BY c.name, v.name");
	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		cname = db_text(st, 0);
		if (c == NULL || strcmp(json_string_value(json_object_get(c,
		    "name")), cname) != 0) {
			c = json_pack("{s:s,s:[]}", "name", cname, "vms");
			json_array_append_new(courses, c);
		}
		if (sqlite3_column_type(st, 1) == SQLITE_NULL)
			continue;
		vname = db_text(st, 1);
		vm = vm_find(vname);
		json_array_append_new(json_object_get(c, "vms"),
		    json_pack("{s:s,s:s}", "name", vname, "state",
		    vm ? vm_state_name(vm->state) : "unknown"));
	}
	sqlite3_finalize(st);
	return courses;
}

const char *
template_show(const char *ref, json_t **res, char *err, size_t errlen)
{
	char		 name[LABD_NAMELEN];
	int		 version;
	int64_t		 id;
	sqlite3_stmt	*st;
	const char	*code;
	json_t		*t, *versions;

	if ((code = ref_parse(ref, name, &version, err, errlen)) != NULL ||
	    (code = template_find(name, &version, 1, &id, err, errlen)) != NULL)
		return code;
	st = db_prepare("SELECT " TEMPLATE_COLS ", dir, kernel, initrd,"
	    " append, firmware, ready_line, instant_clone FROM templates"
	    " WHERE id = ?");
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		errf(err, errlen, "template %s@%d vanished", name, version);
		return LABD_E_INTERNAL;
	}
	t = template_json(st);
	json_object_set_new(t, "dir", json_string(db_text(st, 10)));
	json_object_set_new(t, "kernel", json_string(db_text(st, 11)));
	json_object_set_new(t, "initrd", json_string(db_text(st, 12)));
	json_object_set_new(t, "append", json_string(db_text(st, 13)));
	json_object_set_new(t, "firmware", json_string(db_text(st, 14)));
	json_object_set_new(t, "ready_line", json_string(db_text(st, 15)));
	json_object_set_new(t, "instant_clone", json_string(db_text(st, 16)));
	disk_sizes(db_text(st, 3), t);
	sqlite3_finalize(st);
	versions = json_array();
	st = db_prepare("SELECT version FROM templates WHERE name = ?"
	    " ORDER BY version");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(versions,
		    json_integer(sqlite3_column_int(st, 0)));
	sqlite3_finalize(st);
	json_object_set_new(t, "versions", versions);
	json_object_set_new(t, "courses", template_users(id));
	*res = t;
	return NULL;
}

/* The courses on a version, as a list for a person; their number. */
static int
template_courses(int64_t id, char *users, size_t userslen)
{
	sqlite3_stmt	*st;
	size_t		 len;
	int		 n = 0;

	users[0] = '\0';
	st = db_prepare("SELECT name FROM courses WHERE template_id = ?"
	    " ORDER BY name");
	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		len = strlen(users);
		snprintf(users + len, userslen - len, "%s%s", n++ ? ", " : "",
		    db_text(st, 0));
	}
	sqlite3_finalize(st);
	return n;
}

const char *
template_rm(const char *ref, uid_t uid, json_t **res, char *err,
    size_t errlen)
{
	char		 name[LABD_NAMELEN], dir[PATH_MAX], root[PATH_MAX],
			 users[512];
	int		 version, n;
	int64_t		 id;
	sqlite3_stmt	*st;
	const char	*code;

	if ((code = ref_parse(ref, name, &version, err, errlen)) != NULL ||
	    (code = template_find(name, &version, 0, &id, err, errlen)) != NULL)
		return code;
	if ((n = template_courses(id, users, sizeof(users))) > 0) {
		errf(err, errlen, "template %s@%d is used by course%s %s:"
		    " remove %s first", name, version, n > 1 ? "s" : "", users,
		    n > 1 ? "them" : "it");
		return LABD_E_BUSY;
	}
	st = db_prepare("SELECT dir FROM templates WHERE id = ?");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_step(st);
	snprintf(dir, sizeof(dir), "%s", db_text(st, 0));
	sqlite3_finalize(st);
	/*
	 * The row first: a crash then leaves a stray folder, never a row
	 * without its disk.
	 */
	st = db_prepare("DELETE FROM templates WHERE id = ?");
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		errf(err, errlen, "template %s@%d: %s", name, version,
		    sqlite3_errmsg(labd->db));
		sqlite3_finalize(st);
		return LABD_E_INTERNAL;
	}
	sqlite3_finalize(st);
	db_event(uid, "template.rm", name, "version %d", version);
	log_info("template %s@%d removed", name, version);
	*res = json_pack("{s:s,s:i,s:s}", "name", name, "version", version,
	    "dir", dir);
	/* Only ever a folder of ours, whatever the row said. */
	snprintf(root, sizeof(root), "%s/templates/", labd->cfg.state_dir);
	if (strncmp(dir, root, strlen(root)) != 0 || strstr(dir, "/..") != NULL)
		log_warnx("template %s@%d: %s is outside %s, left alone", name,
		    version, dir, root);
	else {
		if (rm_rf(dir) == -1) {
			log_warn("template %s@%d: cannot remove %s", name,
			    version, dir);
			json_object_set_new(*res, "warning", json_sprintf(
			    "cannot remove %s: %s", dir, strerror(errno)));
		}
		golden_forget(dir);
	}
	return NULL;
}

/*
 * What course.create builds on: "tiny" is the newest version, "tiny@2"
 * that one (laxer than ref_parse(): "tiny@2x" is tiny@2).
 */
int
template_memory_mb(int64_t id)
{
	sqlite3_stmt	*st;
	int		 mb = 0;

	st = db_prepare("SELECT memory_mb FROM templates WHERE id = ?");
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		mb = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return mb;
}

int64_t
template_resolve(const char *ref, char *publish, size_t publishlen)
{
	sqlite3_stmt	*st;
	char		 name[LABD_NAMELEN];
	const char	*at = strchr(ref, '@');
	int64_t		 id = -1;
	int		 version = 0;

	if (at != NULL) {
		if ((size_t)(at - ref) >= sizeof(name))
			return -1;
		snprintf(name, sizeof(name), "%.*s", (int)(at - ref), ref);
		version = atoi(at + 1);
		if (version <= 0)
			return -1;
	} else if (snprintf(name, sizeof(name), "%s", ref) >=
	    (int)sizeof(name))
		return -1;
	st = db_prepare("SELECT id, publish FROM templates WHERE name = ?1"
	    " AND (?2 = 0 OR version = ?2) ORDER BY version DESC LIMIT 1");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, version);
	if (sqlite3_step(st) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		snprintf(publish, publishlen, "%s", db_text(st, 1));
	}
	sqlite3_finalize(st);
	return id;
}

/* A row's publish, "ssh:22,http:80" as import_insert() writes it. */
size_t
template_publish_parse(const char *publish, char names[][PF_NAMELEN],
    uint16_t *ports, size_t max)
{
	char	buf[512], *tok, *save, *colon;
	size_t	n = 0;

	snprintf(buf, sizeof(buf), "%s", publish);
	for (tok = strtok_r(buf, ",", &save); tok != NULL && n < max;
	    tok = strtok_r(NULL, ",", &save)) {
		if ((colon = strchr(tok, ':')) == NULL)
			continue;
		*colon = '\0';
		snprintf(names[n], PF_NAMELEN, "%s", tok);
		ports[n++] = (uint16_t)atoi(colon + 1);
	}
	return n;
}
