/* SPDX-License-Identifier: ISC */
/*
 * offline.c - the files of a STOPPED VM, read from its disk without
 * booting it, as the same tar stream the online collect gets over SSH.
 *
 * The guest's filesystem is never mounted on the host: an ext4 image a
 * student could have shaped is kernel attack surface, and labd runs
 * unprivileged anyway.  Instead a collector appliance boots (built by
 * templates/collector/build.sh: the tiny template's Debian kernel and a
 * busybox initramfs): the same confined QEMU as the VM's own (its uid,
 * cgroup and sandbox, vmm_spawn()), with the VM's overlay read-only, no
 * NIC, 128 MiB, and a raw disk of the paths.  Its /init mounts the ext4
 * read-only, expands the paths' globs under it and writes "tar -cf -" to
 * a virtio-serial port whose other end is a socketpair held here, read a
 * buffer at a time into the caller's sink: collect.c's frames to labctl,
 * or examend.c's unpacking.  Then it prints tar's status and stderr on
 * its console (serial.log) and reboots, which ends QEMU (-no-reboot),
 * which ends the stream.
 *
 * The VM stays stopped meanwhile: the job is vm_op_backup()'s, so the VM
 * is busy (a start waits) and its state does not change.  The appliance
 * runs under the VM's own name and run_dir, so that a labd restarted
 * during it adopts it as a stray QEMU of a stopped VM and stops it.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labd/vmjob.h"

#define OFFLINE_DIR		"offline"	/* in the VM's folder */
#define OFFLINE_MEMORY_MB	128
#define OFFLINE_APPEND		"console=ttyS0 quiet loglevel=3 panic=-1"
#define OFFLINE_HEAD		"labd-collect 1"
#define OFFLINE_STDERR		"labd-collect-stderr"
#define OFFLINE_STATUS		"labd-collect-status "
#define OFFLINE_LOG_MAX		(64 * 1024)	/* the console's tail */
#define OFFLINE_BUF		(64 * 1024)

#ifndef LABD_SHAREDIR
#define LABD_SHAREDIR		"/usr/local/share/labd"
#endif

/*
 * The folder of the collector appliance: [vmm] collector, or else where
 * make install put it (LABD_SHAREDIR) when it is there; "" when neither.
 */
static const char *
offline_dir(void)
{
	if (labd->cfg.collector[0] != '\0')
		return labd->cfg.collector;
	if (access(LABD_SHAREDIR "/collector-initrd", R_OK) == 0 &&
	    access(LABD_SHAREDIR "/collector-vmlinuz", R_OK) == 0)
		return LABD_SHAREDIR;
	return "";
}

/*
 * The paths disk's text: a header, one path a line, "end", NULs to a
 * whole number of sectors.  The paths were checked by collect_path_check
 * (no "..", no space or newline): one line each, as they are.
 */
char *
offline_paths_text(json_t *paths, size_t *len)
{
	json_t	*p;
	size_t	 i, n = sizeof(OFFLINE_HEAD "\nend\n");
	char	*s, *at;

	json_array_foreach(paths, i, p)
		n += json_string_length(p) + 1;
	n = (n + 4095) / 4096 * 4096;
	s = xcalloc(1, n);
	at = s + sprintf(s, "%s\n", OFFLINE_HEAD);
	json_array_foreach(paths, i, p)
		at += sprintf(at, "%s\n", json_string_value(p));
	memcpy(at, "end\n", 4);
	*len = n;
	return s;
}

/*
 * What the appliance said on its console, from text: tar's status into
 * *status and its stderr into errtext.  0, or -1 when it never got as
 * far as its status line (a crash, a timeout).
 */
int
offline_console_parse(const char *text, int *status, char *errtext,
    size_t errtextlen)
{
	const char	*b, *e = NULL, *line, *nl;
	size_t		 n = 0, len;

	if (errtextlen > 0)
		errtext[0] = '\0';
	*status = -1;
	/*
	 * The last status line: tar's stderr comes before it and may hold
	 * a file name of the guest's, which can hold a newline and look
	 * like one.
	 */
	if (strncmp(text, OFFLINE_STATUS, strlen(OFFLINE_STATUS)) == 0)
		e = text;
	for (line = text; (line = strstr(line, "\n" OFFLINE_STATUS)) != NULL;
	    line++)
		e = line + 1;
	if (e == NULL)
		return -1;
	if (sscanf(e + strlen(OFFLINE_STATUS), "%d", status) != 1)
		return -1;
	/* The last stderr block before it: kernel lines may precede. */
	for (b = NULL, line = text; line < e; line = nl + 1) {
		if ((nl = strchr(line, '\n')) == NULL || nl > e)
			break;
		if (strncmp(line, OFFLINE_STDERR, strlen(OFFLINE_STDERR)) == 0)
			b = nl + 1;
	}
	if (b == NULL || errtextlen == 0)
		return 0;
	for (line = b; line < e && n + 1 < errtextlen; line = nl + 1) {
		nl = strchr(line, '\n');
		len = (size_t)(nl - line);
		if (len > 0 && line[len - 1] == '\r')
			len--;	/* the serial line's CRLF */
		if (len > errtextlen - n - 2)
			len = errtextlen - n - 2;
		memcpy(errtext + n, line, len);
		n += len;
		errtext[n++] = '\n';
	}
	errtext[n] = '\0';
	return 0;
}

/* The appliance's console, its tail, parsed. */
static int
offline_console(const char *dir, int *status, char *errtext, size_t errlen)
{
	char	 path[PATH_MAX], *buf;
	ssize_t	 n;
	off_t	 end;
	int	 fd, rc;

	snprintf(path, sizeof(path), "%s/serial.log", dir);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	buf = xmalloc(OFFLINE_LOG_MAX + 1);
	if ((end = lseek(fd, 0, SEEK_END)) > OFFLINE_LOG_MAX)
		(void)lseek(fd, end - OFFLINE_LOG_MAX, SEEK_SET);
	else
		(void)lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, OFFLINE_LOG_MAX);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	rc = offline_console_parse(buf, status, errtext, errlen);
	free(buf);
	return rc;
}

/* The paths disk, in the appliance's folder, written afresh. */
static int
offline_files(struct vmjob *j, const char *dir, char *paths)
{
	char	 log[PATH_MAX];
	int	 fd;

	if (mkdir_p(dir, 0750) == -1) {
		errf(j->err, sizeof(j->err), "cannot create %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	snprintf(paths, PATH_MAX, "%s/paths", dir);
	snprintf(log, sizeof(log), "%s/serial.log", dir);
	(void)unlink(log);	/* this run's console alone */
	(void)unlink(paths);
	if ((fd = open(paths, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0640)) == -1 || write(fd, j->input, j->inlen) !=
	    (ssize_t)j->inlen) {
		errf(j->err, sizeof(j->err), "cannot write %s: %s", paths,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* The appliance started on chan: 0, or -1 with j->err. */
static int
offline_spawn(struct vmjob *j, const char *dir, int chan)
{
	struct vmdef	*d = &j->def;
	char		 disk[PATH_MAX], paths[PATH_MAX], kernel[PATH_MAX],
			 initrd[PATH_MAX];
	const char	*appliance = offline_dir();	/* asked once: two access() */
	struct vmm_spec	 spec = {
		.name = d->name,
		.memory_mb = OFFLINE_MEMORY_MB,
		.vcpus = 1,
		.disk = disk,
		.seed = paths,
		.kernel = kernel,
		.initrd = initrd,
		.append = OFFLINE_APPEND,
		.run_dir = d->run_dir,
		.log_dir = dir,
		.offline = 1,
		.chan_fd = chan,
	};

	snprintf(kernel, sizeof(kernel), "%s/collector-vmlinuz", appliance);
	snprintf(initrd, sizeof(initrd), "%s/collector-initrd", appliance);
	if (access(kernel, R_OK) == -1 || access(initrd, R_OK) == -1) {
		errf(j->err, sizeof(j->err), "no collector appliance in %s"
		    " (make collector; [vmm] collector in labd.ini): %s",
		    appliance, strerror(errno));
		return -1;
	}
	vmm_path(disk, sizeof(disk), d->vm_dir, "disk.qcow2");
	if (!file_exists(disk)) {
		errf(j->err, sizeof(j->err), "%s has no disk yet: it never"
		    " started", d->name);
		return -1;
	}
	if (offline_files(j, dir, paths) == -1 ||
	    confine_share(d, j->err, sizeof(j->err)) == -1 ||
	    mkdir_p(d->run_dir, 0700) == -1)
		return -1;
	return priv_spawn(d, &spec, &j->pid, j->err, sizeof(j->err));
}

/* The port to sink until its end, the deadline or the sink's refusal. */
static int
offline_pour(struct vmjob *j, int fd, int (*sink)(void *, const void *,
    size_t), void *arg)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	int64_t		 until = now_ms() + j->timeout_ms, left;
	char		*buf = xmalloc(OFFLINE_BUF);
	ssize_t		 n;
	int		 rc = -1;

	for (;;) {
		if ((left = until - now_ms()) <= 0) {
			errf(j->err, sizeof(j->err), "timed out after %d s",
			    j->timeout_ms / 1000);
			break;
		}
		if (poll(&pfd, 1, (int)left) == -1 && errno != EINTR)
			break;
		if ((n = read(fd, buf, OFFLINE_BUF)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			errf(j->err, sizeof(j->err), "the collector's port:"
			    " %s", strerror(errno));
			break;
		}
		if (n == 0) {
			rc = 0;
			break;
		}
		if (sink(arg, buf, (size_t)n) == -1) {
			errf(j->err, sizeof(j->err), "the copy was cut");
			break;
		}
	}
	free(buf);
	return rc;
}

int
offline_stream(struct vmjob *j, int (*sink)(void *, const void *, size_t),
    void *arg, char *errtext, size_t errtextlen, int *status)
{
	char	 dir[PATH_MAX], e[VMM_ERRLEN];
	int	 sv[2], rc;

	*status = -1;
	if (errtextlen > 0)
		errtext[0] = '\0';
	snprintf(dir, sizeof(dir), "%s/" OFFLINE_DIR, j->def.vm_dir);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		errf(j->err, sizeof(j->err), "socketpair: %s",
		    strerror(errno));
		return -1;
	}
	rc = offline_spawn(j, dir, sv[1]);
	/* QEMU holds the only other end now: its exit is our EOF. */
	close(sv[1]);
	if (rc == 0)
		rc = offline_pour(j, sv[0], sink, arg);
	close(sv[0]);
	/* Gone already when it finished; its pidfile and cgroup cleared. */
	if (priv_kill(j->def.name, 3000, e, sizeof(e)) == -1)
		log_warnx("%s: the collector appliance: %s", j->def.name, e);
	if (rc == 0 && offline_console(dir, status, errtext,
	    errtextlen) == -1) {
		errf(j->err, sizeof(j->err), "the collector appliance ended"
		    " without its status (see %s/serial.log)", dir);
		rc = -1;
	}
	if (rc == 0 && *status == 2) {
		errtext[strcspn(errtext, "\n")] = '\0';
		errf(j->err, sizeof(j->err), "the disk could not be read: %s",
		    errtext);
		rc = -1;
	}
	return rc;
}

/*
 * A job of vm.collect's or the exam end's, with paths, on a stopped VM:
 * the VM busy meanwhile, its run hook calling offline_stream().  NULL
 * when submitted; else the LABD_E_* code with err, j still the caller's.
 */
const char *
offline_submit(struct vm *vm, struct vmjob *j, json_t *paths, char *err,
    size_t errlen)
{
	const char	*code;

	if (vm->state != VM_STOPPED) {
		errf(err, errlen, "%s is %s, not stopped", vm->name,
		    vm_state_name(vm->state));
		return LABD_E_INVALID;
	}
	if (offline_dir()[0] == '\0') {
		errf(err, errlen, "%s is stopped and labd has no collector"
		    " appliance to read its disk ([vmm] collector in"
		    " labd.ini); start it to collect", vm->name);
		return LABD_E_INVALID;
	}
	j->input = offline_paths_text(paths, &j->inlen);
	if ((code = vm_op_backup(vm, j, err, errlen)) != NULL) {
		free(j->input);
		j->input = NULL;
	}
	return code;
}
