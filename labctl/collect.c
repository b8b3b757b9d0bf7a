/* SPDX-License-Identifier: ISC */
/*
 * collect.c - labctl collect COURSE PATH... --to DEST: the students'
 * files, from every VM of a course, into DEST/STUDENT/..., with
 * DEST/manifest.csv (student, vm, path, bytes, sha256).
 *
 * labd hands each VM's tar stream over (vm.collect passes a socket with
 * its reply) and writes nothing; labctl, which runs as the instructor,
 * unpacks it with untar.c's rules, under DEST and nowhere else, with the
 * instructor's own rights.  DEST must be new (or an empty folder), so
 * that nothing there was put by anyone else and nothing is overwritten.
 *
 * One VM at a time: a stream is a guest's disk read and a host's disk
 * written, and one after the other each runs at full speed.  A suspended
 * VM is resumed for its turn and suspended again after; a stopped VM is
 * read by labd from its disk without booting it (a collector appliance,
 * labd/offline.c), into the same stream, and stays stopped.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labctl/labctl.h"

#define COLLECT_END_MAX	(64 * 1024)	/* the end frame's JSON */

/* The frames of vm.collect's socket, as untar.c's reader. */
struct frames {
	int		 fd;
	size_t		 left;		/* of the current 'D' frame */
	long long	 bytes, max;
	int		 ended;
	json_t		*end;		/* the 'E' frame's object */
	char		 err[256];
};

/* What one VM's files go with: the manifest's rows. */
struct collect_vm {
	FILE		*manifest;
	const char	*student;
	const char	*vm;
};

static int
frames_full(struct frames *f, void *buf, size_t n)
{
	char	*p = buf;
	ssize_t	 r;

	while (n > 0) {
		if ((r = read(f->fd, p, n)) == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(f->err, sizeof(f->err), "%s", r == 0 ?
			    "labd's stream was cut off" : strerror(errno));
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static ssize_t
frames_read(void *arg, void *buf, size_t len)
{
	struct frames	*f = arg;
	unsigned char	 h[5];
	json_error_t	 jerr;
	size_t		 n;
	char		*text;
	ssize_t		 r;

	while (f->left == 0) {
		if (f->ended)
			return 0;
		if (frames_full(f, h, sizeof(h)) == -1)
			return -1;
		n = (size_t)h[1] << 24 | (size_t)h[2] << 16 |
		    (size_t)h[3] << 8 | h[4];
		if (h[0] == LABD_COLLECT_END) {
			if (n > COLLECT_END_MAX || (text = malloc(n + 1)) ==
			    NULL) {
				snprintf(f->err, sizeof(f->err), "labd's end"
				    " frame is %zu bytes", n);
				return -1;
			}
			if (frames_full(f, text, n) == -1) {
				free(text);
				return -1;
			}
			text[n] = '\0';
			f->end = json_loads(text, 0, &jerr);
			free(text);
			f->ended = 1;
			return 0;
		}
		if (h[0] != LABD_COLLECT_DATA || n > LABD_COLLECT_FRAME_MAX) {
			snprintf(f->err, sizeof(f->err), "labd's stream is not"
			    " in frames (type %#x, %zu bytes)", h[0], n);
			return -1;
		}
		if (f->bytes + (long long)n > f->max) {
			snprintf(f->err, sizeof(f->err), "over the cap of %lld"
			    " bytes (--max-size)", f->max);
			return -1;
		}
		f->bytes += (long long)n;
		f->left = n;
	}
	if ((r = read(f->fd, buf, len < f->left ? len : f->left)) == -1 &&
	    errno == EINTR)
		return frames_read(arg, buf, len);
	if (r <= 0) {
		snprintf(f->err, sizeof(f->err), "%s", r == 0 ?
		    "labd's stream was cut off" : strerror(errno));
		return -1;
	}
	f->left -= (size_t)r;
	return r;
}

static const char *
frames_err(void *arg)
{
	return ((struct frames *)arg)->err;
}

static void
collect_row(void *arg, const char *path, long long bytes, const char *sum)
{
	struct collect_vm	*cv = arg;

	untar_manifest_row(cv->manifest, cv->student, cv->vm, path, bytes,
	    sum);
}

/* "10M", "1G", "4096": bytes, or -1. */
static long long
collect_size(const char *s)
{
	char		*end;
	long long	 v;
	int		 shift = 0;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v < 1)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	}
	if (*end != '\0' || v > (0x7fffffffffffffffLL >> shift))
		return -1;
	return v << shift;
}

/*
 * DEST, made or found empty, opened without following a link: its
 * descriptor, or -1 after saying why.
 */
static int
collect_dest(const char *dest)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd, empty = 1;

	if (mkdir(dest, 0777) == -1 && errno != EEXIST) {
		fprintf(stderr, "labctl: collect: %s: %s\n", dest,
		    strerror(errno));
		return -1;
	}
	if ((fd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		fprintf(stderr, "labctl: collect: %s exists and is not a"
		    " folder: choose a new folder\n", dest);
		return -1;
	}
	if ((d = fdopendir(dup(fd))) != NULL) {
		while (empty && (de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0)
				empty = 0;
		closedir(d);
	}
	if (!empty) {
		fprintf(stderr, "labctl: collect: %s exists and is not empty:"
		    " choose a new folder\n", dest);
		close(fd);
		return -1;
	}
	return fd;
}

/* A student's name as a folder: what labd allows, checked again. */
static int
collect_student_ok(const char *s)
{
	return s[0] != '\0' && s[0] != '.' && strchr(s, '/') == NULL &&
	    strcmp(s, "manifest.csv") != 0;
}

/*
 * One ready VM (or a stopped one, read offline by labd) into sdir: 0
 * collected (the line printed), -1 failed (the line printed).
 */
static int
collect_one(struct ctl *c, json_t *vm, json_t *paths, int destfd,
    FILE *manifest, long long max, int timeout)
{
	const char		*name = jstr(vm, "name");
	const char		*student = jstr(vm, "student");
	struct collect_vm	 cv = { manifest, student, name };
	struct frames		 f = { .fd = -1, .max = max };
	struct untar_opts	 o = { .max_bytes = max, .rd = frames_read,
				    .rd_err = frames_err, .rd_arg = &f,
				    .on_file = collect_row, .file_arg = &cv };
	struct untar_result	 res;
	json_t			*reply = NULL, *args;
	const char		*why = NULL, *serr;
	char			 err[CTL_ERRLEN], line[256];
	int			 rc = -1, ok;

	o.dirfd = -1;
	if (!collect_student_ok(student)) {
		printf("%s: failed: the student's name \"%s\" is no folder"
		    " name\n", name, student);
		return -1;
	}
	if ((mkdirat(destfd, student, 0777) == -1 && errno != EEXIST) ||
	    (o.dirfd = openat(destfd, student, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1) {
		printf("%s: failed: %s/: %s\n", name, student,
		    strerror(errno));
		return -1;
	}
	args = json_pack("{s:s,s:O,s:I}", "vm", name, "paths", paths,
	    "max_bytes", (json_int_t)max);
	if (timeout > 0)
		json_object_set_new(args, "timeout", json_integer(timeout));
	reply = client_call(c->conn, "vm.collect", args, NULL, NULL, err,
	    sizeof(err));
	json_decref(args);
	if (reply == NULL) {
		printf("%s: failed: %s\n", name, err);
		goto done;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		printf("%s: failed: %s\n", name, jstr(json_object_get(reply,
		    "error"), "message"));
		goto done;
	}
	if ((f.fd = client_take_fd(c->conn)) == -1) {
		printf("%s: failed: labd passed no stream\n", name);
		goto done;
	}
	ok = untar_run(&o, &res, err, sizeof(err)) == 0;
	/* What follows the tar's end is its padding, then the end frame. */
	while (ok && frames_read(&f, line, sizeof(line)) > 0)
		;
	serr = f.end != NULL ? jstr(f.end, "stderr") : "";
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(serr, "\n"), serr);
	if (f.end != NULL && jstr(f.end, "error")[0] != '\0')
		why = jstr(f.end, "error");
	else if (f.end != NULL && jint(f.end, "status") == 3 &&
	    res.files == 0)
		/* Nothing named was there: no tar ran, the stream is empty. */
		why = line[0] ? line : "nothing there";
	else if (!ok)
		why = err;
	else if (f.end == NULL)
		why = f.err[0] ? f.err : "labd's stream was cut off";
	if (why != NULL) {
		printf("%s: failed: %s", name, why);
		if (res.files > 0)
			printf(" (after %lld files, %lld bytes)", res.files,
			    res.bytes);
		putchar('\n');
		goto done;
	}
	printf("%s: collected %lld file%s, %lld bytes", name, res.files,
	    res.files == 1 ? "" : "s", res.bytes);
	if (json_is_true(json_object_get(json_object_get(reply, "result"),
	    "offline")))
		printf(" (stopped: read from its disk)");
	if (res.skipped > 0)
		printf("; %d skipped: %s", res.skipped, res.notes);
	if (line[0] != '\0')
		printf("; the guest's tar said: %s", line);
	putchar('\n');
	rc = 0;
done:
	fflush(stdout);
	fflush(manifest);
	if (f.fd != -1)
		close(f.fd);
	if (o.dirfd != -1)
		close(o.dirfd);
	json_decref(f.end);
	json_decref(reply);
	return rc;
}

/* A VM as its state allows: 0 collected, -1 not. */
static int
collect_vm(struct ctl *c, json_t *vm, json_t *paths, int destfd,
    FILE *manifest, long long max, int timeout)
{
	const char	*name = jstr(vm, "name"), *state = jstr(vm, "state");
	json_t		*res;
	int		 rc, crc;

	if (strcmp(state, "ready") == 0 || strcmp(state, "stopped") == 0)
		return collect_one(c, vm, paths, destfd, manifest, max,
		    timeout);
	if (strcmp(state, "suspended") != 0) {
		printf("%s: failed: it is %s, not ready\n", name, state);
		return -1;
	}
	/* Resumed for the copy, and put back as it was. */
	if ((res = ctl_call(c, "vm.resume", json_pack("{s:s}", "vm", name),
	    &crc)) == NULL) {
		printf("%s: failed: suspended, and could not be resumed\n",
		    name);
		return -1;
	}
	json_decref(res);
	rc = collect_one(c, vm, paths, destfd, manifest, max, timeout);
	if ((res = ctl_call(c, "vm.suspend", json_pack("{s:s}", "vm", name),
	    &crc)) == NULL)
		printf("%s: resumed for the collect, and could not be"
		    " suspended again\n", name);
	json_decref(res);
	return rc;
}

/*
 * --course-end: after a collect that got every VM, the students' access
 * closed as exam_end closes it (allow_from=closed: labd alone gets in).
 */
static int
collect_course_end(struct ctl *c, const char *course)
{
	json_t	*res;
	int	 rc;

	if ((res = ctl_call(c, "course.set", json_pack("{s:s,s:s}", "course",
	    course, "allow_from", "closed"), &rc)) == NULL)
		return rc;
	json_decref(res);
	printf("course %s: access closed (labctl course set %s"
	    " allow_from=any reopens it)\n", course, course);
	return CTL_OK;
}

static int
vm_name_cmp(const void *a, const void *b)
{
	return strcmp(jstr(*(json_t *const *)a, "name"),
	    jstr(*(json_t *const *)b, "name"));
}

int
ctl_collect(struct ctl *c, int argc, char **argv)
{
	const char	*course = NULL, *dest = NULL, *student = NULL, *v;
	json_t		*paths = json_array(), *list = NULL, *vm, **vms = NULL;
	long long	 max = LABD_COLLECT_MAX_DEFAULT;
	char		 err[CTL_ERRLEN];
	FILE		*manifest = NULL;
	size_t		 i, n = 0, done = 0;
	int		 rc = CTL_USAGE, timeout = 0, destfd = -1, mfd;
	int		 course_end = 0;

	for (i = 0; i < (size_t)argc; i++) {
		int	k = (int)i;

		if ((v = opt_value("--to", argc, argv, &k)) != NULL)
			dest = v;
		else if ((v = opt_value("--student", argc, argv, &k)) != NULL)
			student = v;
		else if ((v = opt_value("--max-size", argc, argv, &k)) !=
		    NULL) {
			if ((max = collect_size(v)) == -1) {
				fprintf(stderr, "labctl: collect: --max-size"
				    " %s: a size (4096, 500M, 2G)\n", v);
				goto done;
			}
		} else if ((v = opt_value("--timeout", argc, argv, &k)) !=
		    NULL) {
			if ((timeout = atoi(v)) < 1) {
				fprintf(stderr, "labctl: collect: --timeout"
				    " %s: whole seconds\n", v);
				goto done;
			}
		} else if (strcmp(argv[i], "--course-end") == 0)
			course_end = 1;
		else if (argv[i][0] == '-' && argv[i][1] == '-') {
			fprintf(stderr, "labctl: collect: unknown option"
			    " %s\n", argv[i]);
			goto done;
		} else if (course == NULL)
			course = argv[i];
		else
			json_array_append_new(paths, json_string(argv[i]));
		i = (size_t)k;
	}
	if (course == NULL || dest == NULL || json_array_size(paths) == 0) {
		fprintf(stderr, "usage: labctl collect COURSE PATH... --to"
		    " DEST [--student ID] [--max-size SIZE] [--timeout"
		    " SECONDS] [--course-end]\n");
		goto done;
	}
	if (course_end && student != NULL) {
		fprintf(stderr, "labctl: collect: --course-end closes the"
		    " whole course: not with --student\n");
		goto done;
	}
	rc = CTL_FAILED;
	json_array_foreach(paths, i, vm)
		if (collect_path_check(json_string_value(vm), err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "labctl: collect: %s\n", err);
			goto done;
		}
	/* The course is asked about before DEST is made. */
	if ((list = ctl_call(c, "vm.list", json_pack("{s:s}", "course",
	    course), &rc)) == NULL)
		goto done;
	rc = CTL_FAILED;
	vms = calloc(json_array_size(list) + 1, sizeof(*vms));
	json_array_foreach(list, i, vm)
		if (student == NULL || strcmp(jstr(vm, "student"), student) ==
		    0)
			vms[n++] = vm;
	if (n == 0) {
		fprintf(stderr, "labctl: collect: course %s has no VM%s%s\n",
		    course, student ? " for student " : "",
		    student ? student : "");
		goto done;
	}
	qsort(vms, n, sizeof(*vms), vm_name_cmp);
	if ((destfd = collect_dest(dest)) == -1)
		goto done;
	if ((mfd = openat(destfd, "manifest.csv", O_WRONLY | O_CREAT |
	    O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666)) == -1 ||
	    (manifest = fdopen(mfd, "w")) == NULL) {
		fprintf(stderr, "labctl: collect: %s/manifest.csv: %s\n", dest,
		    strerror(errno));
		goto done;
	}
	fputs("student,vm,path,bytes,sha256\n", manifest);
	for (i = 0; i < n; i++)
		if (collect_vm(c, vms[i], paths, destfd, manifest, max,
		    timeout) == 0)
			done++;
	if (fclose(manifest) != 0) {
		manifest = NULL;
		fprintf(stderr, "labctl: collect: %s/manifest.csv: %s\n", dest,
		    strerror(errno));
		goto done;
	}
	manifest = NULL;
	printf("%zu of %zu VMs collected into %s\n", done, n, dest);
	rc = done == n ? CTL_OK : CTL_FAILED;
	if (rc == CTL_OK && course_end)
		rc = collect_course_end(c, course);
	else if (course_end)
		printf("course %s: access left open: not every VM was"
		    " collected\n", course);
done:
	if (manifest != NULL)
		fclose(manifest);
	if (destfd != -1)
		close(destfd);
	free(vms);
	json_decref(list);
	json_decref(paths);
	return rc;
}
