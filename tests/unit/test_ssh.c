/* SPDX-License-Identifier: ISC */
/*
 * test_ssh.c - vmm_ssh_exec against a real dropbear on loopback, and the
 * ways it must fail: no server, a server that never speaks, a bad key
 * file, a key the server does not take.
 *
 * dropbear reads the authorized keys of the user it logs in from that
 * user's home, and has no option to look elsewhere.  So the test's
 * dropbear runs in a mount namespace of its own in which a temporary
 * folder is bind-mounted over /root: root's keys there are ours, the
 * host's /root is never touched, and the mount vanishes with dropbear.
 * Without root (or where namespaces are refused) the tests that need a
 * login are skipped; the failure paths run anywhere.  The key pairs are
 * made with libssh itself, so no ssh-keygen is needed.
 */
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <libssh/libssh.h>

#include "vmm/vmm.h"
#include "tests/unit/testutil.h"

/* dropbear's exit status when it could not get its namespace. */
#define NO_NAMESPACE	99

static char	key[PATH_MAX], stranger[PATH_MAX];
static pid_t	dropbear = -1;
static uint16_t	port;

/* An ed25519 pair: the private key at path, the public line into pub. */
static void
make_key(const char *path, char *pub, size_t publen)
{
	ssh_key	 k = NULL;
	char	*b64 = NULL;

	cr_assert_eq(ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &k), SSH_OK);
	cr_assert_eq(ssh_pki_export_privkey_file(k, NULL, NULL, NULL, path),
	    SSH_OK, "cannot write %s", path);
	cr_assert_eq(ssh_pki_export_pubkey_base64(k, &b64), SSH_OK);
	snprintf(pub, publen, "ssh-ed25519 %s test@labd\n", b64);
	ssh_string_free_char(b64);
	ssh_key_free(k);
}

static void
run_quiet(char *const argv[])
{
	char	err[VMM_ERRLEN] = "";

	cr_assert_eq(vmm_run(argv, err, sizeof(err)), 0, "%s", err);
}

/*
 * Start dropbear on 127.0.0.1:port with root's home at TMP/home.  Returns
 * 1 when it answers, 0 when it cannot run here (the test then skips).
 */
static int
dropbear_start(void)
{
	char		 home[PATH_MAX], ssh[PATH_MAX + 8], auth[PATH_MAX + 32];
	char		 hostkey[PATH_MAX], pidfile[PATH_MAX], addr[32];
	char		 pub[512], banner[128], err[VMM_ERRLEN];
	char		*keygen[] = { "dropbearkey", "-t", "ed25519", "-f",
			    hostkey, NULL };
	FILE		*f;
	int		 fd, i, status;

	if (geteuid() != 0 || access("/usr/sbin/dropbear", X_OK) != 0)
		return 0;
	snprintf(home, sizeof(home), "%s/home", tmp_dir);
	snprintf(ssh, sizeof(ssh), "%s/.ssh", home);
	snprintf(auth, sizeof(auth), "%s/authorized_keys", ssh);
	snprintf(hostkey, sizeof(hostkey), "%s/host_ed25519", tmp_dir);
	/* Its own file: dropbear unlinks its pidfile when it exits. */
	snprintf(pidfile, sizeof(pidfile), "%s/dropbear.pid", tmp_dir);
	/* dropbear refuses keys in a folder others may write. */
	cr_assert_eq(mkdir(home, 0700), 0);
	cr_assert_eq(mkdir(ssh, 0700), 0);
	make_key(key, pub, sizeof(pub));
	cr_assert_not_null(f = fopen(auth, "w"));
	fputs(pub, f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(auth, 0600), 0);
	run_quiet(keygen);

	fd = tu_listen_loopback(&port);
	close(fd);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	if ((dropbear = fork()) == 0) {
		int	null = open("/dev/null", O_WRONLY);

		/* Private mounts first, or the bind would reach the host. */
		if (unshare(CLONE_NEWNS) == -1 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1 ||
		    mount(home, "/root", NULL, MS_BIND, NULL) == -1)
			_exit(NO_NAMESPACE);
		dup2(null, 1);
		dup2(null, 2);
		execl("/usr/sbin/dropbear", "dropbear", "-F", "-E", "-s", "-m",
		    "-r", hostkey, "-p", addr, "-P", pidfile, (char *)NULL);
		_exit(127);
	}
	cr_assert_gt(dropbear, 0);
	for (i = 0; i < 100; i++) {
		if (waitpid(dropbear, &status, WNOHANG) == dropbear) {
			dropbear = -1;
			cr_assert(WIFEXITED(status) &&
			    WEXITSTATUS(status) == NO_NAMESPACE,
			    "dropbear died at start");
			return 0;
		}
		if (ready_ssh_banner("127.0.0.1", port, 1000, banner,
		    sizeof(banner), err, sizeof(err)) == 0)
			return 1;
		usleep(20000);
	}
	cr_assert_fail("dropbear does not answer on %s: %s", addr, err);
	return 0;
}

static void
setup(void)
{
	char	pub[512];

	tmp_dir_setup();
	snprintf(key, sizeof(key), "%s/labd_key", tmp_dir);
	snprintf(stranger, sizeof(stranger), "%s/stranger_key", tmp_dir);
	make_key(stranger, pub, sizeof(pub));
}

static void
teardown(void)
{
	tu_stop_child(dropbear);
	dropbear = -1;
	tmp_dir_teardown();
}

/* The test needs a login: a dropbear of ours, or skip. */
static void
need_dropbear(void)
{
	if (!dropbear_start())
		cr_skip_test("needs root, dropbear and a mount namespace");
}

/* Run cmd as root with our key; the call must succeed. */
static int
exec_ok(const char *cmd, char *out, size_t outlen)
{
	char	err[VMM_ERRLEN] = "";
	int	status = -2;

	cr_assert_eq(vmm_ssh_exec("127.0.0.1", port, "root", key, cmd, 10000,
	    out, outlen, &status, err, sizeof(err)), 0, "%s: %s", cmd, err);
	return status;
}

TestSuite(ssh, .init = setup, .fini = teardown, .timeout = 60);

Test(ssh, exec_output_and_status)
{
	char	out[256];

	need_dropbear();
	cr_expect_eq(exec_ok("echo one; sleep 0.2; echo two >&2; sleep 0.2;"
	    " echo three; exit 3", out, sizeof(out)), 3);
	/* Both streams, in the order written (the writes are far apart). */
	cr_expect_str_eq(out, "one\ntwo\nthree\n");
	cr_expect_eq(exec_ok("id -u", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "0\n");
	/* stdin is closed: a command that reads it ends at once. */
	cr_expect_eq(exec_ok("cat; echo done", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "done\n");
	cr_expect_eq(exec_ok("true", out, sizeof(out)), 0);
	cr_expect_str_empty(out);
}

Test(ssh, exec_killed_by_a_signal)
{
	char	out[64];

	need_dropbear();
	/* Like a shell: 128 + the signal. */
	cr_expect_eq(exec_ok("kill -9 $$", out, sizeof(out)), 128 + SIGKILL);
	cr_expect_eq(exec_ok("kill -TERM $$", out, sizeof(out)),
	    128 + SIGTERM);
}

Test(ssh, exec_output_truncated_command_finishes)
{
	char		out[64];
	long long	t0 = tu_now_ms();

	need_dropbear();
	/* 8 MiB, far past SSH's window: all must be read for it to end. */
	cr_expect_eq(exec_ok("head -c 8388608 /dev/zero | tr '\\0' x;"
	    " echo end >&2; exit 7", out, sizeof(out)), 7);
	cr_expect_eq(strlen(out), sizeof(out) - 1);
	cr_expect_eq(strspn(out, "x"), sizeof(out) - 1);
	cr_log_info("8 MiB read and dropped in %lld ms", tu_now_ms() - t0);
	/* No room at all is fine too. */
	cr_expect_eq(exec_ok("echo lost", NULL, 0), 0);
}

Test(ssh, exec_timeout)
{
	char		out[64], err[VMM_ERRLEN] = "";
	long long	t0, took;
	int		status = 0;

	need_dropbear();
	t0 = tu_now_ms();
	cr_expect_eq(vmm_ssh_exec("127.0.0.1", port, "root", key,
	    "echo started; sleep 30", 800, out, sizeof(out), &status, err,
	    sizeof(err)), -1);
	took = tu_now_ms() - t0;
	cr_expect_geq(took, 800);
	cr_expect_lt(took, 3000, "took %lld ms", took);
	cr_expect(strstr(err, "did not finish within 800 ms") != NULL,
	    "err: %s", err);
	cr_expect_str_eq(out, "started\n", "what came before the timeout");
	cr_expect_eq(status, -1);
}

Test(ssh, auth_refused)
{
	char	out[64], err[VMM_ERRLEN] = "", want[PATH_MAX + 128];
	int	status = 0;

	need_dropbear();
	cr_expect_eq(vmm_ssh_exec("127.0.0.1", port, "root", stranger, "true",
	    5000, out, sizeof(out), &status, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "cannot authenticate as root on"
	    " 127.0.0.1:%u with %s: ", port, stranger);
	cr_expect(strncmp(err, want, strlen(want)) == 0, "err: %s", err);
	cr_expect_eq(status, -1);
	/* Our key, but for a user it is not authorized for. */
	cr_expect_eq(vmm_ssh_exec("127.0.0.1", port, "nobody", key, "true",
	    5000, out, sizeof(out), &status, err, sizeof(err)), -1);
	cr_expect(strncmp(err, "cannot authenticate as nobody on ", 33) == 0,
	    "err: %s", err);
}

/* --- failures that need no server ----------------------------------------- */

Test(ssh, no_server)
{
	char		out[64] = "x", err[VMM_ERRLEN] = "", want[64];
	uint16_t	p;
	long long	t0;
	int		status = 0, fd;

	fd = tu_listen_loopback(&p);
	close(fd);	/* nothing listens there now */
	t0 = tu_now_ms();
	cr_expect_eq(vmm_ssh_exec("127.0.0.1", p, "root", stranger, "true",
	    2000, out, sizeof(out), &status, err, sizeof(err)), -1);
	cr_expect_lt(tu_now_ms() - t0, 1000);
	snprintf(want, sizeof(want), "ssh 127.0.0.1:%u: no SSH server", p);
	cr_expect(strncmp(err, want, strlen(want)) == 0, "err: %s", err);
	cr_expect_str_empty(out);
	cr_expect_eq(status, -1);
}

Test(ssh, silent_server_times_out)
{
	char		out[64], err[VMM_ERRLEN] = "";
	uint16_t	p;
	long long	t0, took;
	int		status, fd;

	/* The kernel accepts for it; nobody ever says a word. */
	fd = tu_listen_loopback(&p);
	t0 = tu_now_ms();
	cr_expect_eq(vmm_ssh_exec("127.0.0.1", p, "root", stranger, "true",
	    500, out, sizeof(out), &status, err, sizeof(err)), -1);
	took = tu_now_ms() - t0;
	close(fd);
	cr_expect_lt(took, 2500, "took %lld ms", took);
	cr_expect(strstr(err, "127.0.0.1") != NULL, "err: %s", err);
}

Test(ssh, bad_key_files)
{
	char	 out[64], err[VMM_ERRLEN] = "", path[PATH_MAX];
	int	 status;
	FILE	*f;

	/* Refused before any connection: port 1 would not answer anyway. */
	snprintf(path, sizeof(path), "%s/none", tmp_dir);
	cr_expect_eq(vmm_ssh_exec("127.0.0.1", 1, "root", path, "true", 2000,
	    out, sizeof(out), &status, err, sizeof(err)), -1);
	cr_expect(strstr(err, "cannot read the private key") != NULL &&
	    strstr(err, path) != NULL, "err: %s", err);

	snprintf(path, sizeof(path), "%s/garbage", tmp_dir);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs("-----BEGIN OPENSSH PRIVATE KEY-----\nnot base64 at all\n"
	    "-----END OPENSSH PRIVATE KEY-----\n", f);
	fclose(f);
	cr_expect_eq(vmm_ssh_exec("127.0.0.1", 1, "root", path, "true", 2000,
	    out, sizeof(out), &status, err, sizeof(err)), -1);
	cr_expect(strstr(err, "not a private key") != NULL &&
	    strstr(err, path) != NULL, "err: %s", err);
}
