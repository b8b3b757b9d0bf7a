/* SPDX-License-Identifier: ISC */
/*
 * golden.c - instant clones: the VMs of a class started from one saved
 * boot, "the golden", instead of each booting on its own.
 *
 * Under TCG a boot is 5 to 7 s of a core, nearly all of it the same in
 * every VM of a class: the kernel's start, the drivers, the first mounts.
 * So the first VM of a shape (template, kernel, command line, RAM, CPUs,
 * accelerator; golden_key()) is booted once with "labd.golden" on its
 * command line.  A guest that knows the word (the tiny template's rcS)
 * stops before anything of its own identity (the seed, the network, the
 * host key), says "labd-golden:" on its console and waits on
 * labd-agent's port.  labd saves it there as a RAM snapshot in its disk
 * (snapshot-save) and keeps that disk as state_dir/golden/KEY.qcow2.
 * Every fresh VM of the shape then starts on a copy of it: QEMU paused,
 * the snapshot loaded, the guest continued, and one line on the agent's
 * port, "go TIME HEX MAC", gives it the clock, 32 bytes of the host's RNG
 * (every copy has the golden's random pool) and its NIC's address (every
 * copy has the golden's).  The guest says "labd-cloned:" and goes on to
 * read its own seed, as a boot would.
 *
 * A guest that does not know the word boots on past it and says its
 * ready line: that VM is simply booted, and the shape is marked (KEY.none)
 * so that the others boot too without trying.  A golden that fails (a
 * timeout, a panic, QEMU gone) is not tried again until labd restarts:
 * the VMs boot as before.  vmjob.c does the VM's side of all this (the
 * spawns and snapshots); this file keeps the golden's store, its key, the
 * guest's lines and the go line, and calls nothing of vmjob.c.
 *
 * The seed disk is padded to GOLDEN_SEED_CAP: a copy's kernel knows the
 * golden's seed disk's size, and must be able to read all of its own.
 */
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <dirent.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "labd/labd.h"
#include "labd/vmjob.h"

/* Shapes being made, and shapes failed since labd started, at most. */
#define GOLDEN_MAX		64
#define GOLDEN_POLL_MS		100

/*
 * What this labd knows beyond the files: the shapes whose golden a worker
 * is making (the others of the shape wait for it), and those that failed.
 */
static pthread_mutex_t	golden_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	golden_cv = PTHREAD_COND_INITIALIZER;
static char		golden_making[GOLDEN_MAX][GOLDEN_KEYLEN];
static size_t		golden_nmaking;
static char		golden_failed[GOLDEN_MAX][GOLDEN_KEYLEN];
static size_t		golden_nfailed;

static int	golden_keep_locked(const char *, const char *, char *, size_t);

static uint64_t
fnv_add(uint64_t h, const char *s)
{
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	h ^= 0xff;	/* a field's end: "ab","c" is not "a","bc" */
	return h * 0x100000001b3ULL;
}

/*
 * A file's identity: its path, size, time and inode; "" when absent.  A
 * name without a slash is looked up in PATH, as exec does (QEMU's).
 */
static uint64_t
fnv_file(uint64_t h, const char *path)
{
	struct stat	 st;
	char		 buf[128], found[PATH_MAX], *dirs, *dir, *save;
	const char	*env;

	h = fnv_add(h, path);
	if (path[0] != '\0' && strchr(path, '/') == NULL &&
	    (env = getenv("PATH")) != NULL && (dirs = strdup(env)) != NULL) {
		for (dir = strtok_r(dirs, ":", &save); dir != NULL;
		    dir = strtok_r(NULL, ":", &save)) {
			snprintf(found, sizeof(found), "%s/%s", dir, path);
			if (access(found, X_OK) == 0) {
				path = found;
				break;
			}
		}
		free(dirs);
	}
	if (path[0] == '\0' || stat(path, &st) == -1)
		return fnv_add(h, "");
	snprintf(buf, sizeof(buf), "%lld.%lld.%lld.%lld",
	    (long long)st.st_size, (long long)st.st_mtim.tv_sec,
	    (long long)st.st_mtim.tv_nsec, (long long)st.st_ino);
	return fnv_add(h, buf);
}

/*
 * The template's folder, "NAME@V", begins the golden's name: what
 * golden_forget() removes with the template, and what a new golden of
 * the same template replaces.
 */
static void
golden_prefix(const char *tpl_disk, char *out, size_t outlen)
{
	const char	*end, *start;
	size_t		 i;

	if ((end = strrchr(tpl_disk, '/')) == NULL || end == tpl_disk) {
		snprintf(out, outlen, "template");
		return;
	}
	for (start = end; start > tpl_disk && start[-1] != '/'; start--)
		;
	snprintf(out, outlen, "%.*s", (int)(end - start), start);
	for (i = 0; out[i] != '\0'; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789._@", out[i]) == NULL)
			out[i] = '_';
	if (out[0] == '\0' || out[0] == '.')
		snprintf(out, outlen, "template");
}

void
golden_key(const struct vmdef *d, char *key, size_t keylen)
{
	uint64_t	h = 0xcbf29ce484222325ULL;
	char		buf[256], prefix[LABD_NAMELEN + 16];

	/* What the guest sees of its machine, and what it runs. */
	h = fnv_add(h, GOLDEN_VERSION);
	h = fnv_file(h, labd->cfg.qemu);
	h = fnv_file(h, d->tpl_disk);
	h = fnv_file(h, d->kernel);
	h = fnv_file(h, d->initrd);
	h = fnv_add(h, d->append);
	h = fnv_add(h, d->firmware);
	snprintf(buf, sizeof(buf), "%u %u %s %u %d %d", d->memory_mb,
	    d->vcpus, vmm_accel_name(labd->accel), labd->cfg.tb_size_mb,
	    labd->cfg.net_mode, GOLDEN_SEED_CAP);
	h = fnv_add(h, buf);
	golden_prefix(d->tpl_disk, prefix, sizeof(prefix));
	snprintf(key, keylen, "%s-%016" PRIx64, prefix, h);
}

/* Goldens of the template folder prefix, but keep's. */
static void
golden_prune(const char *prefix, const char *keep)
{
	DIR		*dir;
	struct dirent	*e;
	char		 path[PATH_MAX];
	size_t		 plen = strlen(prefix), klen = keep ? strlen(keep) : 0;

	snprintf(path, sizeof(path), "%s/golden", labd->cfg.state_dir);
	if ((dir = opendir(path)) == NULL)
		return;
	while ((e = readdir(dir)) != NULL) {
		if (strncmp(e->d_name, prefix, plen) != 0 ||
		    e->d_name[plen] != '-' || (keep != NULL &&
		    strncmp(e->d_name, keep, klen) == 0 &&
		    e->d_name[klen] == '.'))
			continue;
		snprintf(path, sizeof(path), "%s/golden/%s",
		    labd->cfg.state_dir, e->d_name);
		if (unlink(path) == 0)
			log_info("golden %s removed", e->d_name);
	}
	closedir(dir);
}

void
golden_forget(const char *tpl_dir)
{
	char	disk[PATH_MAX], prefix[LABD_NAMELEN + 16];

	snprintf(disk, sizeof(disk), "%s/disk.qcow2", tpl_dir);
	golden_prefix(disk, prefix, sizeof(prefix));
	pthread_mutex_lock(&golden_mu);
	golden_prune(prefix, NULL);
	pthread_mutex_unlock(&golden_mu);
}

int
golden_path(const char *key, const char *ext, char *out, size_t outlen)
{
	int	n;

	n = snprintf(out, outlen, "%s/golden/%s.%s", labd->cfg.state_dir,
	    key, ext);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Whether key is in list (of n); its index, or -1. */
static int
golden_in(char list[][GOLDEN_KEYLEN], size_t n, const char *key)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], key) == 0)
			return (int)i;
	return -1;
}

/* Under golden_mu. */
static enum golden_have
golden_have_locked(const char *key)
{
	char	path[PATH_MAX];

	if (golden_in(golden_failed, golden_nfailed, key) != -1)
		return GOLDEN_FAILED;
	if (golden_in(golden_making, golden_nmaking, key) != -1)
		return GOLDEN_MAKING;
	if (golden_path(key, "none", path, sizeof(path)) == 0 &&
	    file_exists(path))
		return GOLDEN_UNSUPPORTED;
	if (golden_path(key, "qcow2", path, sizeof(path)) == 0 &&
	    file_exists(path))
		return GOLDEN_READY;
	return GOLDEN_ABSENT;
}

/* Under golden_mu. */
static void
golden_fail_locked(const char *key)
{
	if (golden_in(golden_failed, golden_nfailed, key) == -1 &&
	    golden_nfailed < GOLDEN_MAX)
		snprintf(golden_failed[golden_nfailed++], GOLDEN_KEYLEN, "%s",
		    key);
}

enum golden_have
golden_have(const char *key)
{
	enum golden_have	have;

	pthread_mutex_lock(&golden_mu);
	have = golden_have_locked(key);
	pthread_mutex_unlock(&golden_mu);
	return have;
}

enum golden_have
golden_claim(const char *key)
{
	enum golden_have	have;

	pthread_mutex_lock(&golden_mu);
	while ((have = golden_have_locked(key)) == GOLDEN_MAKING)
		pthread_cond_wait(&golden_cv, &golden_mu);
	if (have == GOLDEN_ABSENT) {
		if (golden_nmaking < GOLDEN_MAX)
			snprintf(golden_making[golden_nmaking++], GOLDEN_KEYLEN,
			    "%s", key);
		else
			have = GOLDEN_FAILED;	/* so many shapes: boot */
	}
	pthread_mutex_unlock(&golden_mu);
	return have;
}

void
golden_made(const char *key, int ok)
{
	int	i;

	pthread_mutex_lock(&golden_mu);
	if ((i = golden_in(golden_making, golden_nmaking, key)) != -1) {
		golden_nmaking--;
		memmove(golden_making[i], golden_making[golden_nmaking],
		    GOLDEN_KEYLEN);
	}
	if (!ok)
		golden_fail_locked(key);
	pthread_cond_broadcast(&golden_cv);
	pthread_mutex_unlock(&golden_mu);
}

void
golden_discard(const char *key)
{
	char	path[PATH_MAX];

	pthread_mutex_lock(&golden_mu);
	if (golden_path(key, "qcow2", path, sizeof(path)) == 0 &&
	    unlink(path) == 0)
		log_warnx("golden %s does not load: removed, made anew when"
		    " labd starts again", key);
	golden_fail_locked(key);
	pthread_mutex_unlock(&golden_mu);
}

void
golden_unsupported(const char *key, const char *vm)
{
	char	dir[PATH_MAX], path[PATH_MAX], err[256];

	pthread_mutex_lock(&golden_mu);
	snprintf(dir, sizeof(dir), "%s/golden", labd->cfg.state_dir);
	if (golden_path(key, "none", path, sizeof(path)) == -1 ||
	    mkdir_p(dir, 0700) == -1 || file_write_atomic(path,
	    "no golden point\n", 16, 0600, err, sizeof(err)) == -1)
		golden_fail_locked(key);
	pthread_mutex_unlock(&golden_mu);
	log_info("%s: its guest has no golden point (" GOLDEN_ARG "): the"
	    " VMs of its shape boot one by one", vm);
}

int
golden_keep(const char *key, const char *disk, char *err, size_t errlen)
{
	int	rc;

	pthread_mutex_lock(&golden_mu);
	rc = golden_keep_locked(key, disk, err, errlen);
	pthread_mutex_unlock(&golden_mu);
	return rc;
}

/* Under golden_mu: disk becomes the golden of key. */
static int
golden_keep_locked(const char *key, const char *disk, char *err,
    size_t errlen)
{
	char		 dir[PATH_MAX], path[PATH_MAX], prefix[GOLDEN_KEYLEN];
	const char	*dash;

	snprintf(dir, sizeof(dir), "%s/golden", labd->cfg.state_dir);
	if (golden_path(key, "qcow2", path, sizeof(path)) == -1) {
		errf(err, errlen, "golden path too long");
		return -1;
	}
	if (mkdir_p(dir, 0700) == -1) {
		errf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (rename(disk, path) == -1) {
		if (errno != EXDEV) {
			errf(err, errlen, "cannot keep %s as %s: %s", disk,
			    path, strerror(errno));
			return -1;
		}
		if (file_copy(disk, path, 0600, err, errlen) == -1)
			return -1;
		unlink(disk);
	}
	/* The template's older goldens (another QEMU, labd, RAM size). */
	if ((dash = strrchr(key, '-')) != NULL) {
		snprintf(prefix, sizeof(prefix), "%.*s", (int)(dash - key), key);
		golden_prune(prefix, key);
	}
	return 0;
}

/*
 * Wait for the golden boot of the VM at vm_dir/run_dir: 1 at its
 * "labd-golden:" line, 0 at its ready line (a guest without a golden
 * point), -1 on a panic, a QEMU gone or after timeout_ms.
 */
int
golden_wait(const struct vmdef *d, const char *ready_line, int timeout_ms,
    char *err, size_t errlen)
{
	char		log[PATH_MAX];
	pid_t		pid;
	long long	until = now_ms() + timeout_ms;

	vmm_path(log, sizeof(log), d->vm_dir, "serial.log");
	for (;;) {
		if (ready_serial_seen(log, GOLDEN_LINE) == 1)
			return 1;
		if (ready_line[0] != '\0' &&
		    ready_serial_seen(log, ready_line) == 1)
			return 0;
		if (ready_serial_seen(log, "Kernel panic") == 1) {
			errf(err, errlen, "the golden boot panicked");
			return -1;
		}
		if (vmm_alive(d->run_dir, d->name, &pid) != 1) {
			errf(err, errlen, "QEMU ended during the golden boot");
			return -1;
		}
		if (now_ms() >= until) {
			errf(err, errlen, "no \"%s\" within %d s", GOLDEN_LINE,
			    timeout_ms / 1000);
			return -1;
		}
		usleep(GOLDEN_POLL_MS * 1000);
	}
}

/* 1 once the copy running in d's QEMU took its go line, 0 after ms. */
int
golden_took(const struct vmdef *d, int ms)
{
	char		log[PATH_MAX];
	long long	until = now_ms() + ms;

	vmm_path(log, sizeof(log), d->vm_dir, "serial.log");
	for (;;) {
		if (ready_serial_seen(log, GOLDEN_DONE_LINE) == 1)
			return 1;
		if (now_ms() >= until)
			return 0;
		usleep(GOLDEN_POLL_MS / 2 * 1000);
	}
}

/* The seed disk padded to GOLDEN_SEED_CAP; -1 when it is larger. */
int
golden_seed_fit(const char *seed, char *err, size_t errlen)
{
	struct stat	st;

	if (stat(seed, &st) == -1) {
		errf(err, errlen, "%s: %s", seed, strerror(errno));
		return -1;
	}
	if (st.st_size > GOLDEN_SEED_CAP) {
		errf(err, errlen, "its seed (%lld bytes) is larger than a"
		    " golden's seed disk (%d)", (long long)st.st_size,
		    GOLDEN_SEED_CAP);
		return -1;
	}
	if (st.st_size < GOLDEN_SEED_CAP && truncate(seed,
	    GOLDEN_SEED_CAP) == -1) {
		errf(err, errlen, "cannot pad %s: %s", seed, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The go line for VM vm, a copy of the golden just continued: its
 * clock, 32 bytes of the host's RNG and mac, on labd-agent's port, then
 * the port closed (the guest reads one line and closes its end).
 */
int
golden_go(const char *vm, const char *mac, char *err, size_t errlen)
{
	unsigned char	rnd[GOLDEN_RANDOM];
	char		line[256], *p;
	size_t		i;
	int		fd, n, rc = -1;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		errf(err, errlen, "getrandom: %s", strerror(errno));
		return -1;
	}
	n = snprintf(line, sizeof(line), "go %lld ", (long long)time(NULL));
	p = line + n;
	for (i = 0; i < sizeof(rnd); i++, p += 2)
		snprintf(p, 3, "%02x", rnd[i]);
	snprintf(p, sizeof(line) - (size_t)(p - line), " %s\n", mac);
	explicit_bzero(rnd, sizeof(rnd));
	/* Never a wait: a port held by another client is an error. */
	if ((fd = vmport_connect(vm, VMM_AGENT_SOCK)) == -1)
		errf(err, errlen, "%s: %s: %s", vm, VMM_AGENT_SOCK,
		    strerror(errno));
	else if (send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT) !=
	    (ssize_t)strlen(line))
		errf(err, errlen, "%s: %s: %s", vm, VMM_AGENT_SOCK,
		    strerror(errno));
	else
		rc = 0;
	if (fd != -1)
		close(fd);
	explicit_bzero(line, sizeof(line));
	return rc;
}
