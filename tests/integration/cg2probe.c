/* SPDX-License-Identifier: ISC */
/*
 * cg2probe.c - labd's per-VM limits on a real cgroup v2 hierarchy, run as
 * /init's child inside a guest whose kernel mounts only cgroup v2
 * (test_cgroup2.sh): the hosts the tests run on mount the controllers as
 * v1, so this is where labd's v2 path meets a kernel.
 *
 * It does what labd does for a VM, with labd's own functions:
 * confine_init() (the v2 mount found, LABD_CGROUP made, the controllers
 * enabled down to it), confine_user() (the VM's folder and its limits),
 * then what vmm/spawn.c's child does before exec (write itself into each
 * folder's cgroup.procs through a descriptor opened by root, then become
 * the VM's user), and confine_cgroup_remove().  In between it checks what
 * the kernel made of it: the files' values, that the processes are in the
 * folder, and that the limits hold (a child that allocates past
 * memory.max is killed in its group; forks past pids.max fail).
 *
 * Prints TAP lines ("ok N - ..." / "not ok N - ...") and, last,
 * "cg2probe: N checks, F failed".  Exit 0 only when none failed.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labd/labd.h"
#include "labd/vmjob.h"

static struct labd	 labd_instance;
struct labd		*labd = &labd_instance;

#define VM		"s1"
#define VM_ID		1
#define VM2		"s2"
#define MEM_MAX		(48LL << 20)
#define CPU_WEIGHT	250u
#define IO_WEIGHT	300u
#define PIDS_MAX	LABD_PIDS_MIN
#define BUSY_MANY	8	/* one VM's busy loops against another's one */

static volatile unsigned long	spin;

static int	nchecks, nfailed;

static void
check(int cond, const char *fmt, ...)
{
	va_list	ap;

	nchecks++;
	if (!cond)
		nfailed++;
	printf("%s %d - ", cond ? "ok" : "not ok", nchecks);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* File dir/name's first line, "" when it cannot be read. */
static const char *
readf(const char *dir, const char *name)
{
	static char	 buf[4096];
	char		 path[PATH_MAX];
	FILE		*f;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "re")) == NULL)
		return buf;
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

/* The count of key in a flat-keyed file (memory.events, pids.events). */
static long long
readkey(const char *dir, const char *name, const char *key)
{
	char		 path[PATH_MAX], k[64];
	long long	 v, found = -1;
	FILE		*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fscanf(f, "%63s %lld", k, &v) == 2)
		if (strcmp(k, key) == 0)
			found = v;
	fclose(f);
	return found;
}

/*
 * A child in the VM's folders as vmm/spawn.c puts QEMU there: "0" into
 * each cgroup.procs (opened by root, here before the fork) while still
 * root, then the VM's user.  It tells the parent its /proc/self/cgroup,
 * waits for a byte, and runs what: 'm' touches 4 times memory.max, 'p'
 * forks until it cannot and exits with the count, 'b' spins in BUSY_MANY
 * processes and 'B' in one, until killed.
 */
static pid_t
vm_child(const struct confine_cg *cg, const struct vmm_spec *s, int what,
    int *tell, int *go)
{
	int	 cgfds[VMM_CGROUPS_MAX], up[2], down[2];
	size_t	 i, n = 0;
	pid_t	 pid;

	for (i = 0; i < cg->n; i++) {
		char	path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/cgroup.procs", cg->dirs[i]);
		if ((cgfds[n] = open(path, O_WRONLY | O_CLOEXEC)) == -1)
			return -1;
		n++;
	}
	if (pipe(up) == -1 || pipe(down) == -1)
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		char	 line[512] = "";
		FILE	*f;
		char	 c;
		int	 k;

		close(up[0]);
		close(down[1]);
		for (i = 0; i < n; i++)
			if (write(cgfds[i], "0\n", 2) != 2)
				_exit(100);
		/* A group of its own: 'p' ends it with kill(0). */
		if (setpgid(0, 0) == -1 ||
		    setgroups(s->ngroups, s->groups) == -1 ||
		    setgid(s->gid) == -1 || setuid(s->uid) == -1)
			_exit(101);
		if ((f = fopen("/proc/self/cgroup", "re")) != NULL) {
			if (fgets(line, sizeof(line), f) == NULL)
				line[0] = '\0';
			fclose(f);
		}
		if (write(up[1], line, strlen(line)) == -1)
			_exit(102);
		close(up[1]);
		if (read(down[0], &c, 1) != 1)
			_exit(103);
		if (what == 'b' || what == 'B') {
			for (k = 1; k < (what == 'b' ? BUSY_MANY : 1); k++)
				if (fork() == 0)
					break;
			for (;;)
				spin++;
		}
		if (what == 'm') {
			size_t	 len = (size_t)(4 * MEM_MAX);
			char	*p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (p == MAP_FAILED)
				_exit(104);
			for (i = 0; i < len; i += 4096)
				p[i] = 1;
			_exit(0);	/* not killed: the limit did not hold */
		}
		/* 'p': children that wait, until fork fails. */
		for (k = 0; k < 2 * PIDS_MAX; k++) {
			pid_t	c2 = fork();

			if (c2 == -1)
				break;
			if (c2 == 0) {
				pause();
				_exit(0);
			}
		}
		kill(0, SIGKILL);	/* its group: itself and its children */
		_exit(k);
	}
	for (i = 0; i < n; i++)
		close(cgfds[i]);
	close(up[1]);
	close(down[0]);
	*tell = up[0];
	*go = down[1];
	return pid;
}

/* The child's /proc/self/cgroup line, as it told it. */
static void
told(int fd, char *out, size_t outlen)
{
	ssize_t	 n, got = 0;

	while (got < (ssize_t)outlen - 1 &&
	    (n = read(fd, out + got, outlen - 1 - (size_t)got)) > 0)
		got += n;
	out[got > 0 ? got : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	close(fd);
}

int
main(void)
{
	struct confine_cg	 cg;
	struct cg_limits	 lim = { MEM_MAX, CPU_WEIGHT, IO_WEIGHT,
				    PIDS_MAX };
	struct confine_cg	 cg2;
	struct vmm_spec		 spec, spec2;
	gid_t			 groups[4], groups2[4];
	char			 err[LABD_ERRLEN], mode[256], line[512];
	char			 want[PATH_MAX], dir[PATH_MAX], dir2[PATH_MAX];
	int			 tell, go, tell2, go2, st, rc;
	pid_t			 pid, pid2;

	memset(&spec, 0, sizeof(spec));
	snprintf(labd->cfg.state_dir, sizeof(labd->cfg.state_dir),
	    "/tmp/state");
	labd->cfg.uid_base = LABD_UID_BASE;
	labd->accel = VMM_ACCEL_TCG;
	if (mkdir("/tmp/state", 0700) == -1 && errno != EEXIST) {
		perror("mkdir /tmp/state");
		return 1;
	}

	err[0] = '\0';
	rc = confine_init(err, sizeof(err));
	check(rc == 0, "confine_init: %s", err[0] ? err : "no error");
	check(strcmp(cglimit_mode_text(mode, sizeof(mode)), "cgroup v2"
	    " (memory v2, cpu v2, io v2, pids v2)") == 0,
	    "every controller on v2: %s", mode);
	check(confine_cgroups(), "confine_cgroups: the VMs have folders");
	snprintf(want, sizeof(want), "/sys/fs/cgroup/%s", LABD_CGROUP);
	snprintf(line, sizeof(line), "%s", readf(want, "cgroup.subtree_control"));
	check(strstr(line, "memory") && strstr(line, "cpu") &&
	    strstr(line, "io") && strstr(line, "pids"),
	    "%s's subtree_control enables the four: %s", LABD_CGROUP, line);

	err[0] = '\0';
	rc = confine_user(VM, VM_ID, &spec, groups, &lim, &cg, err,
	    sizeof(err));
	check(rc == 0, "confine_user: %s", err[0] ? err : "no error");
	snprintf(dir, sizeof(dir), "%s/%s", want, VM);
	check(cg.n == 1 && strcmp(cg.dirs[0], dir) == 0,
	    "one folder, %s: %zu, %s", dir, cg.n, cg.n ? cg.dirs[0] : "");
	check(spec.uid == LABD_UID_BASE + VM_ID && spec.gid == spec.uid,
	    "the VM's user is uid_base + its id: %u", (unsigned)spec.uid);
	check(strtoll(readf(dir, "memory.max"), NULL, 10) == MEM_MAX,
	    "memory.max %lld: %s", MEM_MAX, readf(dir, "memory.max"));
	check(access("/sys/fs/cgroup/" LABD_CGROUP "/" VM "/memory.swap.max",
	    F_OK) == -1 || strcmp(readf(dir, "memory.swap.max"), "0") == 0,
	    "memory.swap.max 0 (or no swap accounting): %s",
	    readf(dir, "memory.swap.max"));
	check(strtoul(readf(dir, "cpu.weight"), NULL, 10) == CPU_WEIGHT,
	    "cpu.weight %u: %s", CPU_WEIGHT, readf(dir, "cpu.weight"));
	/* io.weight is there with the io cost model; labd writes it when. */
	snprintf(line, sizeof(line), "%s", readf(dir, "io.weight"));
	check(access("/sys/fs/cgroup/" LABD_CGROUP "/" VM "/io.weight",
	    F_OK) == -1 || strcmp(line, "default 300") == 0,
	    "io.weight %u (or no io.weight file): %s", IO_WEIGHT, line);
	check(strtoul(readf(dir, "pids.max"), NULL, 10) == PIDS_MAX,
	    "pids.max %u: %s", PIDS_MAX, readf(dir, "pids.max"));

	/* Memory: past memory.max, the kernel kills it in its own group. */
	if ((pid = vm_child(&cg, &spec, 'm', &tell, &go)) == -1) {
		check(0, "fork the memory child: %s", strerror(errno));
	} else {
		told(tell, line, sizeof(line));
		snprintf(want, sizeof(want), "0::/%s/%s", LABD_CGROUP, VM);
		check(strcmp(line, want) == 0, "the child runs in %s: %s",
		    want, line);
		check(strtol(readf(dir, "cgroup.procs"), NULL, 10) == pid,
		    "the folder's cgroup.procs names it (%d): %s", (int)pid,
		    readf(dir, "cgroup.procs"));
		if (write(go, "g", 1) != 1)
			perror("write");
		close(go);
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
			;
		check(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		    "touching 4 x memory.max, it is killed (status %#x)", st);
		check(readkey(dir, "memory.events", "oom_kill") >= 1,
		    "by the OOM killer of its own group: memory.events"
		    " oom_kill %lld", readkey(dir, "memory.events",
		    "oom_kill"));
	}

	/* Processes: forks past pids.max fail. */
	if ((pid = vm_child(&cg, &spec, 'p', &tell, &go)) == -1) {
		check(0, "fork the pids child: %s", strerror(errno));
	} else {
		told(tell, line, sizeof(line));
		if (write(go, "g", 1) != 1)
			perror("write");
		close(go);
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
			;
		/* The group's kill reaches it too: its count is lost then. */
		check(readkey(dir, "pids.events", "max") >= 1,
		    "forks past pids.max %u are refused: pids.events max"
		    " %lld", PIDS_MAX, readkey(dir, "pids.events", "max"));
	}
	/* Its children are gone once the folder is empty. */
	for (st = 0; st < 50 && readf(dir, "cgroup.procs")[0] != '\0'; st++)
		usleep(100000);
	check(confine_cgroup_remove(VM) == 1 && access(dir, F_OK) == -1,
	    "confine_cgroup_remove: %s is gone", dir);

	/* A stale folder (its QEMU gone) is made afresh at the next start. */
	err[0] = '\0';
	lim.memory_max = 2 * MEM_MAX;
	lim.cpu_weight = 100;
	rc = confine_user(VM, VM_ID, &spec, groups, &lim, &cg, err,
	    sizeof(err));
	check(rc == 0 && strtoll(readf(dir, "memory.max"), NULL, 10) ==
	    2 * MEM_MAX, "made again with a new memory.max: %s",
	    err[0] ? err : readf(dir, "memory.max"));

	/* CPU by VM, not by process: 8 busy loops in s1 against 1 in s2. */
	err[0] = '\0';
	memset(&spec2, 0, sizeof(spec2));
	rc = confine_user(VM2, VM_ID + 1, &spec2, groups2, &lim, &cg2, err,
	    sizeof(err));
	check(rc == 0, "confine_user %s: %s", VM2, err[0] ? err : "no error");
	snprintf(dir2, sizeof(dir2), "/sys/fs/cgroup/%s/%s", LABD_CGROUP, VM2);
	if ((pid = vm_child(&cg, &spec, 'b', &tell, &go)) != -1 &&
	    (pid2 = vm_child(&cg2, &spec2, 'B', &tell2, &go2)) != -1) {
		long long	u1, u2;
		double		share;

		told(tell, line, sizeof(line));
		told(tell2, line, sizeof(line));
		if (write(go, "g", 1) != 1 || write(go2, "g", 1) != 1)
			perror("write");
		close(go);
		close(go2);
		usleep(500000);
		u1 = readkey(dir, "cpu.stat", "usage_usec");
		u2 = readkey(dir2, "cpu.stat", "usage_usec");
		sleep(3);
		u1 = readkey(dir, "cpu.stat", "usage_usec") - u1;
		u2 = readkey(dir2, "cpu.stat", "usage_usec") - u2;
		kill(-pid, SIGKILL);
		kill(-pid2, SIGKILL);
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
			;
		while (waitpid(pid2, &st, 0) == -1 && errno == EINTR)
			;
		share = u1 + u2 > 0 ? 100.0 * (double)u2 / (double)(u1 + u2) :
		    0;
		/* Equal weights: 50% each; shared by process, s2 would get 11%. */
		check(share >= 30, "cpu.weight shares the CPU by VM: %s's one"
		    " loop got %.0f%% against %d in %s (%lld and %lld us)",
		    VM2, share, BUSY_MANY, VM, u2, u1);
	} else
		check(0, "fork the busy children: %s", strerror(errno));
	for (st = 0; st < 50 && (readf(dir, "cgroup.procs")[0] != '\0' ||
	    readf(dir2, "cgroup.procs")[0] != '\0'); st++)
		usleep(100000);
	check(confine_cgroup_remove(VM) == 1 && confine_cgroup_remove(VM2) ==
	    1 && access(dir, F_OK) == -1 && access(dir2, F_OK) == -1,
	    "both removed");

	printf("cg2probe: %d checks, %d failed\n", nchecks, nfailed);
	fflush(stdout);
	return nfailed != 0;
}
