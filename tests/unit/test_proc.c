/* SPDX-License-Identifier: ISC */
/*
 * test_proc.c - running children: vmm_run with small tools, and a real
 * QEMU under TCG spawned, found, spoken to over QMP and stopped.
 *
 * The QEMU has no disk and no kernel: it sits in its firmware, which is
 * all it takes to prove the command line is accepted (sandbox included),
 * the sockets appear, the spawn hands back a pid we can trust, and QMP
 * and the kill path work.  Each QEMU lives in a private 0700 folder and
 * is named after the test process, so parallel runs do not meet.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "vmm/vmm.h"
#include "vmm/vmm_int.h"

static char	dir[PATH_MAX], vm_name[64];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_proc.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(vm_name, sizeof(vm_name), "smoke-%d", (int)getpid());
}

static void
teardown(void)
{
	DIR		*d;
	struct dirent	*e;
	char		 p[PATH_MAX * 2], err[VMM_ERRLEN];

	/* Whatever a failed test left running goes now. */
	vmm_kill(dir, vm_name, 500, err, sizeof(err));
	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static long long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
exists(const char *leaf)
{
	char		p[PATH_MAX];
	struct stat	st;

	cr_assert_eq(vmm_path(p, sizeof(p), dir, leaf), 0);
	return stat(p, &st) == 0;
}

/*
 * Gone or a zombie: the daemon is re-parented to init, which reaps it
 * whenever it likes, so kill(pid, 0) may still succeed for a while.
 */
static int
proc_gone(pid_t pid)
{
	char	 path[64], buf[512], *rp;
	FILE	*f;
	int	 gone = 1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 1;
	if (fgets(buf, sizeof(buf), f) != NULL &&
	    (rp = strrchr(buf, ')')) != NULL)
		gone = rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
	fclose(f);
	return gone;
}

/* A loopback port that nothing listens on right now. */
static uint16_t
free_port(void)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	socklen_t		len = sizeof(sin);
	int			fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_geq(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static struct vmm_fwd	smoke_fwd;

static struct vmm_spec
smoke_spec(void)
{
	struct vmm_spec	s = {
		.name = vm_name,
		.accel = VMM_ACCEL_TCG,
		.memory_mb = 32,
		.vcpus = 1,
		.run_dir = dir,
		.log_dir = dir,
		.restrict_net = 1,
	};

	return s;
}

/* Wait until vmm_alive says 0, up to ms. */
static int
gone_within(int ms)
{
	long long	deadline = now_ms() + ms;
	pid_t		pid;

	while (now_ms() < deadline) {
		if (vmm_alive(dir, vm_name, &pid) == 0)
			return 1;
		usleep(20000);
	}
	return 0;
}

/* --- vmm_run ------------------------------------------------------------ */

TestSuite(proc, .init = setup, .fini = teardown, .timeout = 60);

Test(proc, run_success_and_failures)
{
	char	 err[VMM_ERRLEN] = "";
	char	*ok[] = { "true", NULL };
	char	*fails[] = { "false", NULL };
	char	*talks[] = { "sh", "-c", "echo >&2; echo 'bad things' >&2;"
		    " echo more >&2; exit 3", NULL };
	char	*named[] = { "sh", "-c", "echo 'sh: it is me' >&2; exit 1",
		    NULL };
	char	*stdout_too[] = { "sh", "-c", "echo on stdout; exit 2", NULL };
	char	*missing[] = { "no-such-tool-labd", NULL };
	char	*killed[] = { "sh", "-c", "kill -9 $$", NULL };

	cr_expect_eq(vmm_run(ok, err, sizeof(err)), 0);
	cr_expect_eq(vmm_run(fails, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "false exited with status 1");
	cr_expect_eq(vmm_run(talks, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "sh: bad things");
	cr_expect_eq(vmm_run(named, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "sh: it is me", "not named twice: %s", err);
	cr_expect_eq(vmm_run(stdout_too, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "sh: on stdout");
	cr_expect_eq(vmm_run(missing, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "cannot run no-such-tool-labd: No such file or"
	    " directory");
	cr_expect_eq(vmm_run(killed, err, sizeof(err)), -1);
	cr_expect(strncmp(err, "sh killed by signal 9", 21) == 0, "%s", err);
}

Test(proc, run_child_gets_clean_fds_and_signals)
{
	char		 err[VMM_ERRLEN] = "";
	/* No shell in between: a shell changes its own mask as it waits. */
	char		*fds[] = { "test", "!", "-e", "/proc/self/fd/50",
			    NULL };
	char		*mask[] = { "grep", "-q", "^SigBlk:[[:space:]]*0*$",
			    "/proc/self/status", NULL };
	/*
	 * SIGPIPE is signal 13, bit 12 of SigIgn: the fourth hex digit from
	 * the right must be even.  Only that bit is checked: make leaves the
	 * C library's signals 32 and 33 ignored, and no child can undo that.
	 */
	char		*ign[] = { "grep", "-Eq",
			    "^SigIgn:[[:space:]]*[0-9a-f]*[02468ace][0-9a-f]{3}$",
			    "/proc/self/status", NULL };
	sigset_t	 set;

	/* labd's descriptors and signal state must not reach a child. */
	cr_assert_eq(dup2(0, 50), 50);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	cr_expect_eq(vmm_run(fds, err, sizeof(err)), 0, "fd 50 leaked: %s",
	    err);
	cr_expect_eq(vmm_run(mask, err, sizeof(err)), 0, "SIGTERM blocked:"
	    " %s", err);
	cr_expect_eq(vmm_run(ign, err, sizeof(err)), 0, "SIGPIPE ignored: %s",
	    err);
}

Test(proc, run_with_stdio_closed)
{
	char	 err[VMM_ERRLEN] = "";
	char	*talks[] = { "sh", "-c", "echo complaint >&2; exit 1", NULL };

	/* A daemon may have 0-2 closed: our pipes then land on them. */
	close(0);
	close(1);
	cr_expect_eq(vmm_run(talks, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "sh: complaint");
}

Test(proc, run_io_input_output_timeout)
{
	char		 err[VMM_ERRLEN] = "", *out = NULL;
	char		*cat[] = { "sh", "-c", "cat; echo warning >&2", NULL };
	char		*slow[] = { "sleep", "10", NULL };
	long long	 t0;

	/* stdin is the input, stdout comes back alone, stderr is not in it. */
	cr_assert_eq(vmm_run_io(cat, "{\"execute\":\"quit\"}\n", 0, &out,
	    err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(out, "{\"execute\":\"quit\"}\n");
	free(out);

	t0 = now_ms();
	cr_expect_eq(vmm_run_io(slow, NULL, 200, &out, err, sizeof(err)), -1);
	cr_expect_lt(now_ms() - t0, 2000, "the timeout did not stop it");
	cr_expect_str_eq(err, "sleep did not finish within 200 ms");
	cr_expect_null(out);
}

/* --- vmm_alive on files alone -------------------------------------------- */

static void
write_pidfile(const char *text)
{
	char	 p[PATH_MAX];
	FILE	*f;

	cr_assert_eq(vmm_path(p, sizeof(p), dir, "pid"), 0);
	cr_assert_not_null(f = fopen(p, "w"));
	fputs(text, f);
	fclose(f);
}

Test(proc, alive_trusts_no_stale_pidfile)
{
	char	buf[32], err[VMM_ERRLEN] = "";
	pid_t	pid = 0;

	cr_expect_eq(vmm_alive(dir, vm_name, &pid), 0, "no pidfile");
	write_pidfile("garbage\n");
	cr_expect_eq(vmm_alive(dir, vm_name, &pid), 0);
	/* A live process that is not our QEMU: a recycled pid. */
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	write_pidfile(buf);
	cr_expect_eq(vmm_alive(dir, vm_name, &pid), 0);
	cr_expect_eq(pid, 0);
	/* And vmm_kill must not shoot it; it only clears the files. */
	cr_expect_eq(vmm_kill(dir, vm_name, 100, err, sizeof(err)), 0, "%s",
	    err);
	cr_expect_not(exists("pid"));
}

/* --- a real QEMU ---------------------------------------------------------- */

Test(proc, qemu_spawn_qmp_quit)
{
	struct vmm_spec	 s = smoke_spec();
	struct qmp	*q;
	char		 err[VMM_ERRLEN] = "", status[32], banner[128];
	char		 sock[PATH_MAX];
	pid_t		 pid = 0, again = 0;
	long long	 t0;
	int		 r;

	smoke_fwd.host_ip = "127.0.0.1";
	smoke_fwd.host_port = free_port();
	smoke_fwd.guest_port = 22;
	s.fwds = &smoke_fwd;
	s.nfwd = 1;
	cr_assert_eq(vmm_spawn(&s, &pid, err, sizeof(err)), 0, "spawn: %s",
	    err);
	cr_expect_gt(pid, 1);
	cr_expect_eq(vmm_alive(dir, vm_name, &again), 1);
	cr_expect_eq(again, pid);
	cr_expect_eq(vmm_alive(dir, "smoke-other", &again), 0,
	    "a QEMU of another name is not ours");
	cr_expect(exists("qmp.sock") && exists("serial.sock") &&
	    exists("vnc.sock") && exists("serial.log") && exists("qemu.log"));

	/* Not our child: it was re-parented, so it outlives labd. */
	cr_expect_neq(getppid(), pid);

	/* A second start must refuse, not orphan the first. */
	cr_expect_eq(vmm_spawn(&s, &again, err, sizeof(err)), -1);
	cr_expect(strstr(err, "already runs") != NULL, "err: %s", err);
	cr_expect_eq(vmm_alive(dir, vm_name, &again), 1);

	/*
	 * The hostfwd port accepts although nothing listens in the guest:
	 * the SSH probe must see through that, within its timeout.
	 */
	t0 = now_ms();
	r = ready_ssh_banner("127.0.0.1", smoke_fwd.host_port, 1500, banner,
	    sizeof(banner), err, sizeof(err));
	cr_expect_eq(r, -1, "a guest without sshd looked ready");
	cr_expect_lt(now_ms() - t0, 3000, "probe took %lld ms", now_ms() - t0);
	cr_expect(strstr(err, "127.0.0.1") != NULL, "err: %s", err);

	cr_assert_eq(vmm_path(sock, sizeof(sock), dir, "qmp.sock"), 0);
	q = qmp_open(sock, 2000, err, sizeof(err));
	cr_assert_not_null(q, "qmp_open: %s", err);
	cr_assert_eq(qmp_query_status(q, status, sizeof(status), err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(status, "running");
	cr_expect_eq(qmp_execute(q, "stop", NULL, NULL, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(qmp_query_status(q, status, sizeof(status), err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(status, "paused");
	cr_expect_eq(qmp_execute(q, "no-such-command", NULL, NULL, err,
	    sizeof(err)), -1);
	cr_expect(strstr(err, "no-such-command: ") == err, "err: %s", err);

	cr_expect_eq(qmp_quit(q, err, sizeof(err)), 0, "quit: %s", err);
	qmp_close(q);
	cr_expect(gone_within(3000), "QEMU still alive after quit");
}

Test(proc, qemu_kill)
{
	struct vmm_spec	 s = smoke_spec();
	char		 err[VMM_ERRLEN] = "";
	pid_t		 pid = 0;
	long long	 t0;

	cr_assert_eq(vmm_spawn(&s, &pid, err, sizeof(err)), 0, "spawn: %s",
	    err);
	t0 = now_ms();
	cr_expect_eq(vmm_kill(dir, vm_name, 3000, err, sizeof(err)), 0, "%s",
	    err);
	cr_expect_lt(now_ms() - t0, 2000, "SIGTERM alone should do");
	cr_expect_eq(vmm_alive(dir, vm_name, &pid), 0);
	cr_expect(proc_gone(pid), "pid %d still runs", (int)pid);
	cr_expect_not(exists("pid"));
	cr_expect_not(exists("qmp.sock"));
	/* Killing what is gone is fine: reset and stop race with exits. */
	cr_expect_eq(vmm_kill(dir, vm_name, 100, err, sizeof(err)), 0, "%s",
	    err);
	/* And it starts again in the same folder (stale files cleared). */
	cr_assert_eq(vmm_spawn(&s, &pid, err, sizeof(err)), 0, "respawn: %s",
	    err);
	cr_expect_eq(vmm_kill(dir, vm_name, 3000, err, sizeof(err)), 0, "%s",
	    err);
}

Test(proc, qemu_failure_reports_its_words)
{
	struct vmm_spec	 s = smoke_spec();
	char		 err[VMM_ERRLEN] = "", log[PATH_MAX], buf[4096];
	pid_t		 pid = 0;
	int		 fd;
	ssize_t		 n;

	s.kernel = "/nonexistent/vmlinuz";
	cr_expect_eq(vmm_spawn(&s, &pid, err, sizeof(err)), -1);
	cr_expect(strncmp(err, "qemu exited with status 1: ", 27) == 0,
	    "err: %s", err);
	cr_expect(strstr(err, "/nonexistent/vmlinuz") != NULL, "err: %s", err);
	cr_expect_eq(vmm_alive(dir, vm_name, &pid), 0);
	cr_expect_not(exists("pid") || exists("qmp.sock"), "stale files left");
	/* qemu.log has the command line for whoever debugs this later. */
	cr_assert_eq(vmm_path(log, sizeof(log), dir, "qemu.log"), 0);
	cr_assert_geq(fd = open(log, O_RDONLY), 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	cr_expect(strstr(buf, " starting: qemu-system-x86_64 -name ") != NULL,
	    "log: %s", buf);

	s.kernel = NULL;
	s.qemu = "/nonexistent/qemu";
	cr_expect_eq(vmm_spawn(&s, &pid, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "cannot run /nonexistent/qemu: No such file or"
	    " directory");
}

/* One "Key:\tvalue" line of /proc/PID/status, or "" */
static void
status_line(pid_t pid, const char *key, char *out, size_t outlen)
{
	char	 path[64], line[512];
	size_t	 klen = strlen(key);
	FILE	*f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, outlen, "%s", line + klen + 2);
			break;
		}
	fclose(f);
}

Test(proc, qemu_own_uid_sandboxed_in_its_cgroup)
{
	struct vmm_spec	 s = smoke_spec();
	struct qmp	*q;
	struct stat	 st;
	gid_t		 groups[] = { 1879048192 };
	char		 err[VMM_ERRLEN] = "", v[256], cg[PATH_MAX] = "";
	char		 sock[PATH_MAX], status[32], path[64], line[512];
	const char	*mnt = "/sys/fs/cgroup/unified";
	pid_t		 pid = 0;
	FILE		*f;
	int		 incg = 0;
	long long	 t0;

	cr_assert_eq(geteuid(), 0, "this test needs root: run make check as"
	    " root");
	cr_assert_eq(chmod(dir, 0700), 0);
	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
		mnt = "/sys/fs/cgroup";
	snprintf(cg, sizeof(cg), "%s/labd-test-%d", mnt, (int)getpid());
	s.uid = 1879048300;
	s.gid = 1879048300;
	s.groups = groups;
	s.ngroups = 1;
	s.cgroup = cg;
	cr_assert_eq(vmm_spawn(&s, &pid, err, sizeof(err)), 0, "spawn: %s",
	    err);
	/* Exec'd as its own user, no root left to go back to. */
	status_line(pid, "Uid", v, sizeof(v));
	cr_expect_str_eq(v, "1879048300\t1879048300\t1879048300\t1879048300");
	status_line(pid, "Gid", v, sizeof(v));
	cr_expect_str_eq(v, "1879048300\t1879048300\t1879048300\t1879048300");
	status_line(pid, "Groups", v, sizeof(v));
	cr_expect_str_eq(v, "1879048192 ");
	status_line(pid, "CapEff", v, sizeof(v));
	cr_expect_str_eq(v, "0000000000000000");
	/* -sandbox on: no_new_privs and a seccomp filter. */
	status_line(pid, "NoNewPrivs", v, sizeof(v));
	cr_expect_str_eq(v, "1");
	status_line(pid, "Seccomp", v, sizeof(v));
	cr_expect_str_eq(v, "2");
	/* Its run_dir is its own; its serial log came as a descriptor. */
	cr_assert_eq(stat(dir, &st), 0);
	cr_expect_eq(st.st_uid, 1879048300);
	cr_expect(exists("serial.log") && exists("qmp.sock"));
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	cr_assert_not_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "0::/labd-test-", 14) == 0)
			incg = 1;
	fclose(f);
	cr_expect(incg, "QEMU is not in %s", cg);

	cr_assert_eq(vmm_path(sock, sizeof(sock), dir, "qmp.sock"), 0);
	cr_assert_not_null(q = qmp_open(sock, 2000, err, sizeof(err)), "%s",
	    err);
	cr_expect_eq(qmp_query_status(q, status, sizeof(status), err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(status, "running");
	qmp_close(q);
	cr_expect_eq(vmm_kill(dir, vm_name, 3000, err, sizeof(err)), 0, "%s",
	    err);
	cr_expect_not(exists("qmp.sock"), "root must clear what QEMU left");
	/* Until init reaps the zombie, the folder is busy. */
	for (t0 = now_ms(); rmdir(cg) == -1 && errno == EBUSY &&
	    now_ms() - t0 < 5000; )
		usleep(20000);
	cr_expect_eq(access(cg, F_OK), -1, "%s still there", cg);
}
