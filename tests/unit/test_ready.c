/* SPDX-License-Identifier: ISC */
/*
 * test_ready.c - the readiness probes: the serial log scan and the SSH
 * handshake, against fake servers on loopback and a real dropbear.
 *
 * The fakes are the ways a port can look open without an sshd behind it
 * (QEMU's hostfwd accepts before the guest listens): accept and close,
 * accept and say nothing, send a banner and then hang up.  Each must be a
 * failure with a clear message within the timeout.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "vmm/vmm.h"
#include "tests/unit/testutil.h"

enum fake_mode { FAKE_CLOSE, FAKE_SILENT, FAKE_BANNER_ONLY };

struct fake {
	int		 lfd;
	uint16_t	 port;
	enum fake_mode	 mode;
	pthread_t	 thread;
};

static void *
fake_main(void *arg)
{
	struct fake	*f = arg;
	char		 buf[4096];
	int		 c;

	if ((c = accept(f->lfd, NULL, NULL)) == -1)
		return NULL;
	switch (f->mode) {
	case FAKE_CLOSE:
		break;
	case FAKE_SILENT:
		/* Until the client gives up. */
		while (read(c, buf, sizeof(buf)) > 0)
			;
		break;
	case FAKE_BANNER_ONLY:
		if (write(c, "SSH-2.0-fake_1.0\r\n", 18) != 18)
			break;
		usleep(50000);
		break;
	}
	close(c);
	return NULL;
}

static void
fake_start(struct fake *f, enum fake_mode mode)
{
	f->mode = mode;
	f->lfd = tu_listen_loopback(&f->port);
	cr_assert_eq(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void
fake_stop(struct fake *f)
{
	pthread_join(f->thread, NULL);
	close(f->lfd);
}

/* Probe, and check it fails within about its timeout, naming the address. */
static void
expect_probe_fails(uint16_t port, int timeout_ms, long long max_ms)
{
	char		 banner[128] = "x", err[VMM_ERRLEN] = "", where[32];
	long long	 t0 = tu_now_ms(), took;

	cr_expect_eq(ready_ssh_banner("127.0.0.1", port, timeout_ms, banner,
	    sizeof(banner), err, sizeof(err)), -1);
	took = tu_now_ms() - t0;
	cr_expect_leq(took, max_ms, "took %lld ms", took);
	snprintf(where, sizeof(where), "ssh 127.0.0.1:%u: ", port);
	cr_expect(strncmp(err, where, strlen(where)) == 0, "err: %s", err);
	cr_expect_str_empty(banner);
}

TestSuite(ready, .init = tmp_dir_setup, .fini = tmp_dir_teardown,
    .timeout = 30);

Test(ready, ssh_connection_refused)
{
	uint16_t	port;
	int		fd = tu_listen_loopback(&port);

	close(fd);	/* nothing listens there now */
	expect_probe_fails(port, 2000, 500);
}

Test(ready, ssh_accept_then_close)
{
	struct fake	f;

	fake_start(&f, FAKE_CLOSE);
	expect_probe_fails(f.port, 2000, 1000);
	fake_stop(&f);
}

Test(ready, ssh_silent_peer_times_out)
{
	struct fake	f;

	fake_start(&f, FAKE_SILENT);
	expect_probe_fails(f.port, 300, 1500);
	fake_stop(&f);
}

Test(ready, ssh_banner_alone_is_not_enough)
{
	struct fake	f;
	char		banner[128], err[VMM_ERRLEN] = "";

	fake_start(&f, FAKE_BANNER_ONLY);
	cr_expect_eq(ready_ssh_banner("127.0.0.1", f.port, 2000, banner,
	    sizeof(banner), err, sizeof(err)), -1);
	cr_expect(strstr(err, "SSH-2.0-fake_1.0") != NULL, "err: %s", err);
	fake_stop(&f);
}

Test(ready, ssh_real_dropbear)
{
	char		 key[PATH_MAX], pidfile[PATH_MAX], addr[32];
	char		 banner[128];
	char		 err[VMM_ERRLEN] = "";
	uint16_t	 port;
	pid_t		 kpid, dpid;
	int		 fd, status, i, r = -1;

	if (access("/usr/sbin/dropbear", X_OK) != 0 ||
	    access("/usr/bin/dropbearkey", X_OK) != 0)
		cr_skip_test("dropbear not installed");
	snprintf(key, sizeof(key), "%s/host_ed25519", tmp_dir);
	snprintf(pidfile, sizeof(pidfile), "%s/dropbear.pid", tmp_dir);
	if ((kpid = fork()) == 0) {
		int	null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execl("/usr/bin/dropbearkey", "dropbearkey", "-t", "ed25519",
		    "-f", key, (char *)NULL);
		_exit(127);
	}
	cr_assert_eq(waitpid(kpid, &status, 0), kpid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	fd = tu_listen_loopback(&port);
	close(fd);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	if ((dpid = fork()) == 0) {
		int	null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		/* Its pidfile in our folder: dropbear unlinks it at exit. */
		execl("/usr/sbin/dropbear", "dropbear", "-F", "-E", "-s",
		    "-r", key, "-p", addr, "-P", pidfile, (char *)NULL);
		_exit(127);
	}
	cr_assert_gt(dpid, 0);
	/* It listens a moment after it starts. */
	for (i = 0; i < 50 && r != 0; i++) {
		r = ready_ssh_banner("127.0.0.1", port, 2000, banner,
		    sizeof(banner), err, sizeof(err));
		if (r != 0)
			usleep(50000);
	}
	tu_stop_child(dpid);
	cr_expect_eq(r, 0, "probe: %s", err);
	cr_expect(strncmp(banner, "SSH-2.0-dropbear", 16) == 0, "banner: %s",
	    banner);
}

static void
write_log(const char *leaf, const char *text, size_t pad, char *path,
    size_t pathlen)
{
	FILE	*f;
	size_t	 i;

	snprintf(path, pathlen, "%s/%s", tmp_dir, leaf);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs(text, f);
	for (i = 0; i < pad; i++)
		fputc(i % 80 == 79 ? '\n' : (i % 7 == 0 ? '\0' : 'x'), f);
	fclose(f);
}

Test(ready, serial_log_scan)
{
	char	path[PATH_MAX];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/none.log", tmp_dir);
	cr_expect_eq(ready_serial_seen(path, "labd-ready"), 0, "no log yet");

	write_log("boot.log", "SeaBIOS\r\nbooting\r\n", 0, path, sizeof(path));
	cr_expect_eq(ready_serial_seen(path, "labd-ready"), 0);
	cr_assert_not_null(f = fopen(path, "a"));
	fputs("[    2.1] labd-ready demo-alice\r\n", f);
	fclose(f);
	cr_expect_eq(ready_serial_seen(path, "labd-ready"), 1);

	/* 3 MiB of console noise (NUL bytes too), the line at the end. */
	write_log("big.log", "", 3 << 20, path, sizeof(path));
	cr_assert_not_null(f = fopen(path, "a"));
	fputs("login: labd-ready\n", f);
	fclose(f);
	cr_expect_eq(ready_serial_seen(path, "labd-ready"), 1);

	/* The scan is bounded: a line 3 MiB back is not looked at. */
	write_log("old.log", "labd-ready\n", 3 << 20, path, sizeof(path));
	cr_expect_eq(ready_serial_seen(path, "labd-ready"), 0);

	/* A folder is not a log. */
	cr_expect_eq(ready_serial_seen(tmp_dir, "labd-ready"), -1);
}

/* What a guest prints back is read by its last "labd-status:" line. */
Test(ready, guest_status_parse)
{
	char	st[64];

	cr_expect_eq(ready_guest_parse("labd-status: done\n", st, sizeof(st)),
	    READY_DONE);
	cr_expect_str_eq(st, "done");
	cr_expect_eq(ready_guest_parse("labd-status: none\n", st, sizeof(st)),
	    READY_DONE, "no cloud-init (the tiny guest): ready");
	cr_expect_eq(ready_guest_parse("labd-status: disabled\n", st,
	    sizeof(st)), READY_DONE);
	cr_expect_eq(ready_guest_parse("labd-status: degraded done\r\n", st,
	    sizeof(st)), READY_DONE, "newer cloud-init's word for done with"
	    " warnings");
	cr_expect_str_eq(st, "degraded done");
	cr_expect_eq(ready_guest_parse("labd-status: error\n", st,
	    sizeof(st)), READY_ERROR);
	cr_expect_eq(ready_guest_parse("labd-status: running\n", st,
	    sizeof(st)), READY_WAIT);
	cr_expect_eq(ready_guest_parse("labd-status: not run\n", st,
	    sizeof(st)), READY_WAIT);
	cr_expect_eq(ready_guest_parse("labd-status: unknown\n", st,
	    sizeof(st)), READY_WAIT);
	/* Whatever ran before the line cannot make it ready. */
	cr_expect_eq(ready_guest_parse("labd-status: done\nlabd-status:"
	    " running\n", st, sizeof(st)), READY_WAIT);
	cr_expect_eq(ready_guest_parse("xlabd-status: done\n", st,
	    sizeof(st)), READY_WAIT, "only at the start of a line");
	cr_expect_str_eq(st, "");
	cr_expect_eq(ready_guest_parse("sh: syntax error\n", st, sizeof(st)),
	    READY_WAIT);
	cr_expect_eq(ready_guest_parse("", st, sizeof(st)), READY_WAIT);
	cr_expect_eq(ready_guest_parse("labd-status: done", st, 3),
	    READY_DONE, "a short buffer truncates the word, not the verdict");
}

/*
 * The command itself, run by a real shell against fake cloud-init
 * programs on PATH: "cloud-init status" is asked only once result.json
 * exists, and when_done runs only when the boot is over.  The paths it
 * tests (/run/cloud-init) are the host's, so each case sets PATH and
 * checks what the host has: a host with cloud-init's files is told so.
 */
static enum ready_state
run_guest_cmd(const char *fake_status, const char *when_done, char *out,
    size_t outlen)
{
	char	cmd[2048], full[4096], bin[PATH_MAX], st[64];
	FILE	*f, *p;
	size_t	n;

	snprintf(bin, sizeof(bin), "%s/bin", tmp_dir);
	mkdir(bin, 0755);
	snprintf(full, sizeof(full), "%s/cloud-init", bin);
	unlink(full);
	if (fake_status != NULL) {
		cr_assert_not_null(f = fopen(full, "w"));
		fprintf(f, "#!/bin/sh\necho 'status: %s'\n", fake_status);
		fclose(f);
		chmod(full, 0755);
	}
	cr_assert_eq(ready_guest_cmd(when_done, cmd, sizeof(cmd)), 0);
	snprintf(full, sizeof(full), "PATH=%s:/usr/bin:/bin; %s", bin, cmd);
	cr_assert_not_null(p = popen(full, "r"));
	n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	pclose(p);
	return ready_guest_parse(out, st, sizeof(st));
}

Test(ready, guest_status_command)
{
	char	out[512], small[16];

	/* No cloud-init: ready, and when_done ran. */
	cr_expect_eq(run_guest_cmd(NULL, "echo HOOK", out, sizeof(out)),
	    READY_DONE, "%s", out);
	cr_expect_not_null(strstr(out, "HOOK\n"), "%s", out);
	cr_expect_not_null(strstr(out, "labd-status: none\n"), "%s", out);

	/*
	 * A cloud-init on PATH: without its result.json (this host has
	 * none) it is still running, and neither it nor when_done ran.
	 */
	cr_assert(access("/run/cloud-init/result.json", F_OK) != 0 &&
	    access("/run/cloud-init/disabled", F_OK) != 0 &&
	    access("/etc/cloud/cloud-init.disabled", F_OK) != 0,
	    "this host runs cloud-init: the test needs a host without it");
	cr_expect_eq(run_guest_cmd("done", "echo HOOK", out, sizeof(out)),
	    READY_WAIT, "%s", out);
	cr_expect_null(strstr(out, "HOOK"), "%s", out);
	cr_expect_not_null(strstr(out, "labd-status: running\n"), "%s", out);

	cr_expect_eq(ready_guest_cmd("x", small, sizeof(small)), -1,
	    "a buffer too small is an error, not a cut command");
}
