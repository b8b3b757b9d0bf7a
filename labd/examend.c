/* SPDX-License-Identifier: ISC */
/*
 * examend.c - a course's exam end: "course set C exam_end=16:00
 * collect=/root/exam" collects those paths from every ready VM of the
 * course at 16:00, then closes the students' access (allow_from=closed:
 * the ports and the gateway let nobody in but labd), and keeps the VMs
 * running for review.
 *
 * exam_end is stored as the instant of its next occurrence and fires
 * once: exam_last records the firing (before the copy starts, so that a
 * labd that stops during it does not collect twice) and exam_done, once
 * access is closed, that it finished.  A labd that starts and finds a
 * firing begun but not finished closes access at once and says so in
 * the event (interrupted): the students must not come back in because
 * labd died mid-copy, and a second folder would only muddle the record.
 * An exam end that passed while labd was down fires as soon as labd is
 * up: collecting and closing late is the safe side after an exam,
 * unlike reset_at.
 *
 * A suspended VM is resumed by the firing, waited for as a booting one
 * is, collected, and left running with the others for review.  A
 * stopped VM is collected from its disk without booting it (offline.c)
 * and stays stopped.
 *
 * The files go to state_dir/collected/COURSE/YYYYmmdd-HHMMSS/STUDENT/
 * with manifest.csv, as labctl collect writes them, unpacked by the same
 * code (proto/untar.c) with the same rules against a hostile tar.  Each
 * VM is a worker job: the guest's tar comes off the SSH channel into a
 * socketpair and a second thread unpacks from the other end, a buffer at
 * a time; the loop only counts the VMs done.  Its settings are parsed
 * in schedule.c, with reset_at's.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labd/vmjob.h"
#include "proto/client.h"
#include "proto/untar.h"

#define EXAMEND_TICK_MS		1000
#define EXAMEND_TIMEOUT_MS	(30 * 60 * 1000)	/* one VM's copy */
#define EXAMEND_DIR		"collected"
/* How long past its time a firing waits for VMs on their way to ready. */
#define EXAMEND_SETTLE_S	60
/* And past the resume of suspended ones: their RAM is read back first. */
#define EXAMEND_RESUME_S	300

static time_t	exam_started;	/* labd's start */
static json_t	*exam_woken;	/* course name: when it resumed its VMs */

/* One firing: the folder, its manifest, and the VMs still to come. */
struct exam_run {
	int64_t		 course_id;
	time_t		 fired;		/* its exam_last */
	char		 course[LABD_NAMELEN];
	char		 dir[PATH_MAX];
	int		 dirfd;
	FILE		*manifest;
	pthread_mutex_t	 lock;		/* the manifest, from the workers */
	int		 pending, collected, failed;
	json_t		*vms;		/* {vm, student, ok, files, why} */
};

/* One VM of it, in a worker. */
struct exam_vm {
	struct exam_run	*run;
	char		 vm[LABD_VMNAMELEN];
	char		 student[LABD_NAMELEN];
	int		 fd[2];		/* [0] untar reads, [1] the sink writes */
	int		 dirfd;
	long long	 sent;
	int		 cut;
	int		 untar_rc;
	struct untar_result res;
	char		 untar_err[256];
	char		 stderr_text[1024];
	char		 why[512];
};

/* --- the copy, in a worker ---------------------------------------------- */

static ssize_t
exam_read(void *arg, void *buf, size_t len)
{
	struct exam_vm	*ev = arg;
	ssize_t		 n;

	while ((n = read(ev->fd[0], buf, len)) == -1 && errno == EINTR)
		;
	return n;
}

static const char *
exam_read_err(void *arg)
{
	return strerror(errno);
}

static void
exam_row(void *arg, const char *path, long long bytes, const char *sum)
{
	struct exam_vm	*ev = arg;

	pthread_mutex_lock(&ev->run->lock);
	untar_manifest_row(ev->run->manifest, ev->student, ev->vm, path,
	    bytes, sum);
	pthread_mutex_unlock(&ev->run->lock);
}

/* The unpacking thread: to the stream's end, then what is left drained. */
static void *
exam_untar(void *arg)
{
	struct exam_vm		*ev = arg;
	struct untar_opts	 o = { .dirfd = ev->dirfd,
				    .max_bytes = LABD_COLLECT_MAX_DEFAULT,
				    .rd = exam_read, .rd_err = exam_read_err,
				    .rd_arg = ev, .on_file = exam_row,
				    .file_arg = ev };
	char			 buf[4096];

	ev->untar_rc = untar_run(&o, &ev->res, ev->untar_err,
	    sizeof(ev->untar_err));
	if (ev->untar_rc == 0)
		while (exam_read(ev, buf, sizeof(buf)) > 0)
			;
	/* A stream refused: the sink's next send fails, the copy ends. */
	shutdown(ev->fd[0], SHUT_RD);
	return NULL;
}

static int
exam_sink(void *arg, const void *buf, size_t len)
{
	struct exam_vm	*ev = arg;
	const char	*p = buf;
	ssize_t		 n;

	if (ev->sent + (long long)len > LABD_COLLECT_MAX_DEFAULT) {
		ev->cut = 1;
		return -1;
	}
	while (len > 0) {
		if ((n = send(ev->fd[1], p, len, MSG_NOSIGNAL)) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
		ev->sent += n;
	}
	return 0;
}

static int
exam_run_vm(struct vmjob *j)
{
	struct exam_vm	*ev = j->arg;
	pthread_t	 th;
	int		 rc;

	j->status = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ev->fd) == -1) {
		errf(ev->why, sizeof(ev->why), "socketpair: %s",
		    strerror(errno));
		return -1;
	}
	if (pthread_create(&th, NULL, exam_untar, ev) != 0) {
		errf(ev->why, sizeof(ev->why), "no thread to unpack");
		close(ev->fd[0]);
		close(ev->fd[1]);
		return -1;
	}
	if (j->kind == VMJOB_BACKUP)	/* stopped: its disk, offline.c */
		rc = offline_stream(j, exam_sink, ev, ev->stderr_text,
		    sizeof(ev->stderr_text), &j->status);
	else
		rc = vmm_ssh_exec_stream(j->ip, j->port, "root", j->keyfile,
		    j->cmd, j->timeout_ms, exam_sink, ev, ev->stderr_text,
		    sizeof(ev->stderr_text), &j->status, j->err,
		    sizeof(j->err));
	close(ev->fd[1]);
	pthread_join(th, NULL);
	close(ev->fd[0]);
	utf8_scrub(ev->stderr_text);
	ev->stderr_text[strcspn(ev->stderr_text, "\n")] = '\0';
	if (ev->cut)
		errf(ev->why, sizeof(ev->why), "over the cap of %lld bytes",
		    LABD_COLLECT_MAX_DEFAULT);
	else if (rc == 0 && j->status == 3 && ev->res.files == 0)
		/* Nothing named was there: no tar ran, the stream is empty. */
		errf(ev->why, sizeof(ev->why), "%s", ev->stderr_text[0] ?
		    ev->stderr_text : "nothing there");
	else if (ev->untar_rc == -1)
		errf(ev->why, sizeof(ev->why), "%s", ev->untar_err);
	else if (rc == -1)
		errf(ev->why, sizeof(ev->why), "%s", j->err);
	return ev->why[0] != '\0' ? -1 : 0;
}

/* --- the loop's side ----------------------------------------------------- */

/* The firing of exam_last FIRED is over: a restart leaves it be. */
static void
exam_mark_done(int64_t course_id, time_t fired)
{
	sqlite3_stmt	*st;

	st = db_prepare("UPDATE courses SET exam_done = ? WHERE id = ?");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)fired);
	sqlite3_bind_int64(st, 2, course_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		log_warnx("exam end: cannot record its end: %s",
		    sqlite3_errmsg(labd->db));
	sqlite3_finalize(st);
}

/* Every VM done: the manifest closed, the access closed, the event. */
static void
exam_finish(struct exam_run *run)
{
	struct course_change	 ch = { .allow_from = "closed" };
	json_t			*res = NULL;
	char			 err[LABD_MSGLEN];
	const char		*code;

	if (run->manifest != NULL && fclose(run->manifest) != 0)
		log_warn("course %s: exam end: %s/manifest.csv: %s",
		    run->course, run->dir, strerror(errno));
	if (run->dirfd != -1)
		close(run->dirfd);
	err[0] = '\0';
	code = course_set(run->course, &ch, 0, &res, err, sizeof(err));
	json_decref(res);
	exam_mark_done(run->course_id, run->fired);
	db_event(0, "course.exam_end", run->course, "%d VMs collected, %d"
	    " failed, into %s; access %s%s", run->collected, run->failed,
	    run->dir, code == NULL ? "closed" : "NOT closed: ", err);
	if (code == NULL)
		log_info("course %s: exam end: %d VMs collected, %d failed,"
		    " into %s; access closed", run->course, run->collected,
		    run->failed, run->dir);
	else
		log_warn("course %s: exam end: %d VMs collected, %d failed,"
		    " into %s; access NOT closed: %s", run->course,
		    run->collected, run->failed, run->dir, err);
	events_fire("course.exam_end", NULL, json_pack("{s:s,s:s,s:i,s:i,"
	    "s:b,s:b,s:s,s:o}", "course", run->course, "dir", run->dir,
	    "collected", run->collected, "failed", run->failed,
	    "interrupted", 0, "closed", code == NULL, "error", err, "vms",
	    run->vms));
	pthread_mutex_destroy(&run->lock);
	free(run);
}

static void
exam_vm_note(struct exam_run *run, const char *vm, const char *student,
    const struct exam_vm *ev, const char *why)
{
	json_array_append_new(run->vms, json_pack("{s:s,s:s,s:b,s:I,s:I,"
	    "s:s}", "vm", vm, "student", student, "ok", why == NULL,
	    "files", (json_int_t)(ev ? ev->res.files : 0), "bytes",
	    (json_int_t)(ev ? ev->res.bytes : 0), "why", why ? why : ""));
	if (why == NULL)
		run->collected++;
	else {
		run->failed++;
		log_warn("course %s: exam end: %s: not collected: %s",
		    run->course, vm, why);
	}
}

static void
exam_after(struct vmjob *j, struct vm *vm)
{
	struct exam_vm	*ev = j->arg;
	struct exam_run	*run = ev->run;

	exam_vm_note(run, ev->vm, ev->student, ev, j->rc == -1 ?
	    (ev->why[0] ? ev->why : j->err) : NULL);
	if (ev->dirfd != -1)
		close(ev->dirfd);
	free(ev);
	if (--run->pending == 0)
		exam_finish(run);
}

static const struct vmjob_hooks exam_hooks = {
	.after = exam_after,
	.run = exam_run_vm,
};

/* A student's name as a folder, as labctl collect checks it. */
static int
exam_student_ok(const char *s)
{
	return s[0] != '\0' && s[0] != '.' && strchr(s, '/') == NULL &&
	    strcmp(s, "manifest.csv") != 0;
}

/* One VM's copy started: 0, or -1 with why. */
static int
exam_start_vm(struct exam_run *run, struct vm *vm, json_t *paths,
    char *why, size_t whylen)
{
	struct exam_vm	*ev;
	struct vmjob	*j;
	const char	*code;

	if (vm->state != VM_READY && vm->state != VM_STOPPED) {
		errf(why, whylen, "it is %s, not ready%s%s%s",
		    vm_state_name(vm->state), vm->error[0] ? " (" : "",
		    vm->error, vm->error[0] ? ")" : "");
		return -1;
	}
	if (!exam_student_ok(vm->student)) {
		errf(why, whylen, "the student's name is no folder name");
		return -1;
	}
	ev = xcalloc(1, sizeof(*ev));
	ev->run = run;
	snprintf(ev->vm, sizeof(ev->vm), "%s", vm->name);
	snprintf(ev->student, sizeof(ev->student), "%s", vm->student);
	if ((mkdirat(run->dirfd, vm->student, 0750) == -1 && errno != EEXIST)
	    || (ev->dirfd = openat(run->dirfd, vm->student, O_RDONLY |
	    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		errf(why, whylen, "%s/: %s", vm->student, strerror(errno));
		free(ev);
		return -1;
	}
	j = xcalloc(1, sizeof(*j));
	j->timeout_ms = EXAMEND_TIMEOUT_MS;
	j->hooks = &exam_hooks;
	j->arg = ev;
	if (vm->state == VM_STOPPED)	/* read from its disk, not booted */
		code = offline_submit(vm, j, paths, why, whylen);
	else {
		j->cmd = collect_command(paths);
		code = vm_op_exec(vm, j, why, whylen);
	}
	if (code != NULL) {
		close(ev->dirfd);
		free(j->cmd);
		free(j);
		free(ev);
		return -1;
	}
	return 0;
}

/* state_dir/collected/COURSE/STAMP, made; its descriptor or -1. */
static int
exam_dir(struct exam_run *run, time_t now, char *why, size_t whylen)
{
	char		 stamp[32];
	struct tm	 tm;
	int		 fd;

	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(run->dir, sizeof(run->dir), "%s/" EXAMEND_DIR,
	    labd->cfg.state_dir);
	(void)mkdir(run->dir, 0750);
	snprintf(run->dir, sizeof(run->dir), "%s/" EXAMEND_DIR "/%s",
	    labd->cfg.state_dir, run->course);
	(void)mkdir(run->dir, 0750);
	snprintf(run->dir, sizeof(run->dir), "%s/" EXAMEND_DIR "/%s/%s",
	    labd->cfg.state_dir, run->course, stamp);
	if (mkdir(run->dir, 0750) == -1 || (fd = open(run->dir, O_RDONLY |
	    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		errf(why, whylen, "%s: %s", run->dir, strerror(errno));
		return -1;
	}
	return fd;
}

static void
exam_fire(int64_t course_id, const char *course, const char *collect,
    time_t now)
{
	struct exam_run	*run;
	struct vm	*vm;
	json_t		*paths = NULL;
	sqlite3_stmt	*st;
	char		 why[LABD_MSGLEN];
	int		 mfd;

	run = xcalloc(1, sizeof(*run));
	run->course_id = course_id;
	run->fired = now;
	snprintf(run->course, sizeof(run->course), "%s", course);
	pthread_mutex_init(&run->lock, NULL);
	run->vms = json_array();
	run->dirfd = -1;
	run->pending = 1;	/* this function's own, dropped at its end */
	if (collect[0] != '\0' && (paths = examend_paths(collect, why,
	    sizeof(why))) == NULL)
		log_warn("course %s: exam end: %s", course, why);
	if (paths != NULL && (run->dirfd = exam_dir(run, now, why,
	    sizeof(why))) == -1)
		log_warn("course %s: exam end: %s", course, why);
	st = db_prepare("UPDATE courses SET exam_last = ?, exam_dir = ?"
	    " WHERE id = ?");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	sqlite3_bind_text(st, 2, run->dir, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, course_id);
	sqlite3_step(st);
	sqlite3_finalize(st);
	if (run->dirfd != -1 && ((mfd = openat(run->dirfd, "manifest.csv",
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640)) ==
	    -1 || (run->manifest = fdopen(mfd, "w")) == NULL)) {
		log_warn("course %s: exam end: %s/manifest.csv: %s", course,
		    run->dir, strerror(errno));
		close(run->dirfd);
		run->dirfd = -1;
	}
	if (run->manifest != NULL) {
		fputs("student,vm,path,bytes,sha256\n", run->manifest);
		for (vm = vm_list(); vm != NULL; vm = vm->next) {
			if (strcmp(vm->course, course) != 0)
				continue;
			if (exam_start_vm(run, vm, paths, why, sizeof(why)) ==
			    0)
				run->pending++;
			else
				exam_vm_note(run, vm->name, vm->student, NULL,
				    why);
		}
	}
	json_decref(paths);
	log_info("course %s: exam end: collecting from %d VMs, then closing"
	    " access", course, run->pending - 1);
	if (--run->pending == 0)
		exam_finish(run);
}

/*
 * A VM of the course on its way to ready (booting, adopted by a labd
 * just started, resuming, being suspended and so to be resumed): the
 * firing waits for it, a little, rather than count it as not collected.
 */
static int
exam_settling(const char *course)
{
	struct vm	*vm;

	for (vm = vm_list(); vm != NULL; vm = vm->next)
		if (strcmp(vm->course, course) == 0 &&
		    (vm->state == VM_PROVISIONING || vm->state == VM_BOOTING ||
		    vm->state == VM_RESUMING || vm->state == VM_RESTORING ||
		    vm->state == VM_SNAPSHOTTING || vm->state == VM_QUEUED ||
		    vm->state == VM_SUSPENDING))
			return 1;
	return 0;
}

/*
 * The course's suspended VMs resumed, as labctl collect resumes them, so
 * that their files are collected; unlike labctl collect the firing does
 * not suspend them again: they stay running with the others, for review.
 * How many.
 */
static int
exam_wake(const char *course)
{
	struct vm	*vm;
	int		 n = 0;

	for (vm = vm_list(); vm != NULL; vm = vm->next) {
		if (strcmp(vm->course, course) != 0 ||
		    vm->state != VM_SUSPENDED)
			continue;
		/* Busy (a backup of its disk): the next tick tries again. */
		vm_op_start(vm, DONE_NONE);
		if (vm->state == VM_SUSPENDED)
			continue;
		log_info("course %s: exam end: resuming %s to collect it",
		    course, vm->name);
		db_event(0, "vm.start", vm->name, "%s", "exam end: resumed"
		    " to collect");
		n++;
	}
	return n;
}

/*
 * Whether a due course fires now or waits for VMs on their way to ready:
 * a minute from its time (or from labd's start, which adopts its VMs),
 * longer from a resume of its own.
 */
static int
exam_waits(const char *course, time_t end, time_t now)
{
	json_t	*w;
	time_t	 since = end < exam_started ? exam_started : end;
	int	 limit = EXAMEND_SETTLE_S;

	if (exam_wake(course) > 0)
		json_object_set_new(exam_woken, course,
		    json_integer((json_int_t)now));
	if ((w = json_object_get(exam_woken, course)) != NULL) {
		if ((time_t)json_integer_value(w) > since)
			since = (time_t)json_integer_value(w);
		limit = EXAMEND_RESUME_S;
	}
	return now - since < limit && exam_settling(course);
}

/*
 * Every armed exam end whose time has come, late ones too: once each.
 * The rows are read first: a firing, and a resume, write to the database.
 */
static int
examend_tick(struct loop *l, void *arg)
{
	sqlite3_stmt	*st;
	time_t		 now = time(NULL);
	json_t		*due = json_array(), *c;
	const char	*name;
	size_t		 i;

	st = db_prepare("SELECT id, name, exam_collect, exam_end FROM courses"
	    " WHERE exam_end > 0 AND exam_end <= ? AND exam_last < exam_end");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(due, json_pack("{s:I,s:s,s:s,s:I}",
		    "id", (json_int_t)sqlite3_column_int64(st, 0), "name",
		    db_text(st, 1), "collect", db_text(st, 2), "end",
		    (json_int_t)sqlite3_column_int64(st, 3)));
	sqlite3_finalize(st);
	json_array_foreach(due, i, c) {
		name = json_string_value(json_object_get(c, "name"));
		if (exam_waits(name, (time_t)json_integer_value(
		    json_object_get(c, "end")), now))
			continue;
		json_object_del(exam_woken, name);
		exam_fire(json_integer_value(json_object_get(c, "id")), name,
		    json_string_value(json_object_get(c, "collect")), now);
	}
	json_decref(due);
	return EXAMEND_TICK_MS;
}

/*
 * The folder of an interrupted firing says so itself, in INTERRUPTED:
 * whoever opens it later (a grader, a backup) may never see the event.
 */
static void
exam_mark_interrupted(const char *dir, time_t fired, const char *access)
{
	char	 path[PATH_MAX], at[64], now[64];
	time_t	 t = time(NULL);
	FILE	*f;
	int	 fd;

	if (dir[0] == '\0')
		return;
	strftime(at, sizeof(at), "%Y-%m-%d %H:%M:%S %z", localtime(&fired));
	strftime(now, sizeof(now), "%Y-%m-%d %H:%M:%S %z", localtime(&t));
	snprintf(path, sizeof(path), "%s/INTERRUPTED", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0640)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		log_warn("exam end: %s", path);
		if (fd != -1)
			close(fd);
		return;
	}
	fprintf(f, "fired: %s\nfound: %s\nwhy: labd stopped during the"
	    " copy; this folder may be partial and some VMs missing;"
	    " nothing was collected again (labctl collect can)\naccess: %s\n",
	    at, now, access);
	if (fclose(f) != 0)
		log_warn("exam end: %s", path);
}

/*
 * A firing begun by a labd that then died (exam_last past exam_done):
 * its folder may be partial and some VMs never copied, but the exam is
 * over.  Access is closed at once, the event says "interrupted" and so
 * does an INTERRUPTED file in the folder; nothing is collected again
 * (labctl collect can, by hand).
 */
static void
examend_recover(void)
{
	struct course_change	 ch = { .allow_from = "closed" };
	sqlite3_stmt		*st;
	json_t			*cut = json_array(), *c, *res;
	const char		*name, *dir, *code;
	char			 err[LABD_MSGLEN];
	size_t			 i;

	st = db_prepare("SELECT id, name, exam_last, exam_dir FROM courses"
	    " WHERE exam_last > exam_done");
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(cut, json_pack("{s:I,s:s,s:I,s:s}",
		    "id", (json_int_t)sqlite3_column_int64(st, 0), "name",
		    db_text(st, 1), "last", (json_int_t)sqlite3_column_int64(st,
		    2), "dir", db_text(st, 3)));
	sqlite3_finalize(st);
	json_array_foreach(cut, i, c) {
		name = json_string_value(json_object_get(c, "name"));
		dir = json_string_value(json_object_get(c, "dir"));
		err[0] = '\0';
		res = NULL;
		code = course_set(name, &ch, 0, &res, err, sizeof(err));
		json_decref(res);
		exam_mark_done(json_integer_value(json_object_get(c, "id")),
		    (time_t)json_integer_value(json_object_get(c, "last")));
		exam_mark_interrupted(dir, (time_t)json_integer_value(
		    json_object_get(c, "last")), code == NULL ? "closed" :
		    err);
		db_event(0, "course.exam_end", name, "interrupted: labd"
		    " stopped during the firing into %s, which may be"
		    " partial; not collected again; access %s%s",
		    *dir ? dir : "(no folder)", code == NULL ? "closed" :
		    "NOT closed: ", err);
		if (code == NULL)
			log_warnx("course %s: exam end: interrupted by a stop"
			    " of labd; %s may be partial, not collected again"
			    " (labctl collect can); access closed", name,
			    *dir ? dir : "(no folder)");
		else
			log_warnx("course %s: exam end: interrupted by a stop"
			    " of labd; access NOT closed: %s", name, err);
		events_fire("course.exam_end", NULL, json_pack("{s:s,s:s,"
		    "s:b,s:b,s:s}", "course", name, "dir", dir,
		    "interrupted", 1, "closed", code == NULL, "error", err));
	}
	json_decref(cut);
}

void
examend_init(void)
{
	exam_started = time(NULL);
	exam_woken = json_object();
	examend_recover();
	loop_add_timer(labd->loop, EXAMEND_TICK_MS, examend_tick, NULL);
}
