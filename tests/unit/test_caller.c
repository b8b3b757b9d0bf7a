/* SPDX-License-Identifier: ISC */
/*
 * test_caller.c - the files a client names open with the client's rights
 * (caller.c): in the helper, as whoever the kernel says is at the other
 * end of the daemon's socket; as another user, only when modes say the
 * client could have; a regular file or
 * nothing, never waiting on a FIFO.  The identity tests need root.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "labd/labd.h"
#include "labd/vmjob.h"
#include "tests/unit/testutil.h"

#define NOBODY	65534
#define OTHER	4242	/* a uid that owns nothing */

TestSuite(caller, .init = tmp_dir_setup, .fini = tmp_dir_teardown,
    .timeout = 30);

static void
file_at(char *out, size_t outlen, const char *leaf, const char *text,
    mode_t mode)
{
	FILE	*f;

	snprintf(out, outlen, "%s/%s", tmp_dir, leaf);
	cr_assert_not_null(f = fopen(out, "w"));
	fputs(text, f);
	fclose(f);
	cr_assert_eq(chmod(out, mode), 0);
	cr_assert_eq(chmod(tmp_dir, 0755), 0);
}

static void
read_back(int fd, const char *want)
{
	char	buf[64] = "";

	cr_assert_neq(fd, -1);
	cr_expect_gt(read(fd, buf, sizeof(buf) - 1), 0);
	cr_expect_str_eq(buf, want);
	close(fd);
}

Test(caller, a_link_a_fifo_a_folder_are_refused)
{
	struct caller	 c;
	char		 file[PATH_MAX], link[PATH_MAX], fifo[PATH_MAX];
	char		 err[LABD_ERRLEN];
	long long	 t0;

	caller_init(&c, geteuid(), getegid(), -1);
	file_at(file, sizeof(file), "f", "text\n", 0644);
	snprintf(link, sizeof(link), "%s/l.ini", tmp_dir);
	cr_assert_eq(symlink(file, link), 0);
	cr_expect_eq(caller_open(&c, link, err, sizeof(err)), -1);
	cr_expect(strstr(err, "l.ini is a symbolic link") != NULL, "%s", err);
	snprintf(fifo, sizeof(fifo), "%s/x.ini", tmp_dir);
	cr_assert_eq(mkfifo(fifo, 0666), 0);
	t0 = tu_now_ms();
	cr_expect_eq(caller_open(&c, fifo, err, sizeof(err)), -1);
	cr_expect(strstr(err, "x.ini is not a regular file") != NULL, "%s",
	    err);
	cr_expect_lt(tu_now_ms() - t0, 2000, "it waited on the FIFO");
	cr_expect_eq(caller_open(&c, tmp_dir, err, sizeof(err)), -1);
	cr_expect(strstr(err, "is not a regular file") != NULL, "%s", err);
	read_back(caller_open(&c, file, err, sizeof(err)), "text\n");
}

/*
 * A socket whose peer is uid with groups (SO_PEERCRED is the effective
 * ids of whoever made the pair): what the daemon hands the helper.
 */
static int
peer_of(uid_t uid, const gid_t *groups, size_t ngroups)
{
	int	sp[2];

	cr_assert_eq(setgroups(ngroups, groups), 0);
	cr_assert_eq(setresgid(-1, uid, -1), 0);
	cr_assert_eq(setresuid(-1, uid, -1), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	cr_assert_eq(setresuid(-1, 0, -1), 0);
	cr_assert_eq(setresgid(-1, 0, -1), 0);
	cr_assert_eq(setgroups(0, NULL), 0);
	close(sp[1]);
	return sp[0];
}

/*
 * The helper's child: caller_serve_open() as peer, in a child of the
 * test (it takes the peer's identity); the first line read, or the
 * error, back in out.
 */
static int
serve_open(int peer, const char *path, char *out, size_t outlen)
{
	char	err[LABD_ERRLEN] = "", buf[LABD_ERRLEN] = "";
	int	p[2], fd, status;
	pid_t	pid;

	cr_assert_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		close(p[0]);
		if ((fd = caller_serve_open(peer, path, err, sizeof(err))) ==
		    -1)
			snprintf(buf, sizeof(buf), "E %s", err);
		else if (read(fd, buf, sizeof(buf) - 1) <= 0)
			snprintf(buf, sizeof(buf), "E empty");
		_exit(write(p[1], buf, strlen(buf)) > 0 ? 0 : 1);
	}
	close(p[1]);
	memset(out, 0, outlen);
	cr_expect_gt(read(p[0], out, outlen - 1), 0);
	close(p[0]);
	waitpid(pid, &status, 0);
	return out[0] == 'E' ? -1 : 0;
}

/*
 * The helper: it acts as whoever is at the other end of the daemon's
 * socket, with the groups their process holds, and the kernel decides.
 */
Test(caller, the_helper_acts_as_the_peer)
{
	char	mine[PATH_MAX], open_[PATH_MAX], fifo[PATH_MAX];
	char	out[LABD_ERRLEN];
	gid_t	g = 4242;
	int	peer;

	if (geteuid() != 0)
		cr_assert_fail("needs root to take a client's identity");
	file_at(mine, sizeof(mine), "secret.ini", "root-only line\n", 0600);
	file_at(open_, sizeof(open_), "shared.ini", "anyone\n", 0644);
	peer = peer_of(NOBODY, NULL, 0);
	cr_expect_eq(serve_open(peer, mine, out, sizeof(out)), -1, "%s", out);
	cr_expect(strstr(out, "secret.ini: Permission denied") != NULL, "%s",
	    out);
	cr_expect_eq(serve_open(peer, open_, out, sizeof(out)), 0, "%s", out);
	cr_expect_str_eq(out, "anyone\n");
	/* Its group: a group-readable file of a group it is not in... */
	cr_assert_eq(chown(mine, 0, g), 0);
	cr_assert_eq(chmod(mine, 0640), 0);
	cr_expect_eq(serve_open(peer, mine, out, sizeof(out)), -1, "%s", out);
	close(peer);
	/* ...and one whose process holds it. */
	peer = peer_of(NOBODY, &g, 1);
	cr_expect_eq(serve_open(peer, mine, out, sizeof(out)), 0, "%s", out);
	cr_expect_str_eq(out, "root-only line\n");
	snprintf(fifo, sizeof(fifo), "%s/x.ini", tmp_dir);
	cr_assert_eq(mkfifo(fifo, 0666), 0);
	cr_expect_eq(serve_open(peer, fifo, out, sizeof(out)), -1, "%s", out);
	cr_expect(strstr(out, "x.ini is not a regular file") != NULL, "%s",
	    out);
	close(peer);
	/* Root's own client: root's rights. */
	cr_assert_eq(chmod(mine, 0600), 0);
	peer = peer_of(0, NULL, 0);
	cr_expect_eq(serve_open(peer, mine, out, sizeof(out)), 0, "%s", out);
	close(peer);
	/* No client, no identity. */
	cr_expect_eq(serve_open(-1, open_, out, sizeof(out)), -1, "%s", out);
	cr_expect(strstr(out, "no client") != NULL, "%s", out);
}

/*
 * A backup's copy: made as the client in their folder, the daemon's
 * while written, theirs again and renamed as them; never over a file
 * without force, and not at all where they may not write.
 */
Test(caller, the_helper_places_a_copy_as_the_peer)
{
	char		 dir[PATH_MAX], path[PATH_MAX], err[LABD_ERRLEN];
	struct stat	 st;
	int		 peer, fds[2], status;
	pid_t		 pid;

	if (geteuid() != 0)
		cr_assert_fail("needs root to take a client's identity");
	config_defaults(&labd->cfg);
	snprintf(dir, sizeof(dir), "%s/home", tmp_dir);
	cr_assert_eq(mkdir(dir, 0700), 0);
	cr_assert_eq(chown(dir, NOBODY, NOBODY), 0);
	cr_assert_eq(chmod(tmp_dir, 0755), 0);
	peer = peer_of(NOBODY, NULL, 0);
	/* In children: each takes the client's identity on the way. */
	if ((pid = fork()) == 0) {
		if (caller_serve_place(peer, dir, ".c.tmp", "c.qcow2", 0, fds,
		    err, sizeof(err)) == -1 || fstat(fds[1], &st) == -1 ||
		    st.st_uid != LABD_DAEMON_UID || write(fds[1], "copy", 4)
		    != 4)
			_exit(1);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	snprintf(path, sizeof(path), "%s/.c.tmp", dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_uid, LABD_DAEMON_UID, "the daemon's to write");
	if ((pid = fork()) == 0) {
		fds[0] = open(dir, O_RDONLY | O_DIRECTORY);
		fds[1] = open(path, O_RDWR);
		_exit(caller_serve_commit(peer, fds, 2, ".c.tmp", "c.qcow2", 0,
		    err, sizeof(err)) == -1 ? 1 : 0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	snprintf(path, sizeof(path), "%s/c.qcow2", dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_uid, NOBODY, "the copy is the client's");
	cr_expect_eq(st.st_size, 4);
	/* It exists now: not without force. */
	if ((pid = fork()) == 0)
		_exit(caller_serve_place(peer, dir, ".d.tmp", "c.qcow2", 0,
		    fds, err, sizeof(err)) == -1 && strstr(err, "exists: not"
		    " replaced") != NULL ? 0 : 1);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(peer);
	/* Another user may not write there, whatever the daemon may. */
	peer = peer_of(OTHER, NULL, 0);
	if ((pid = fork()) == 0)
		_exit(caller_serve_place(peer, dir, ".e.tmp", "e.qcow2", 0,
		    fds, err, sizeof(err)) == -1 && strstr(err, "may not"
		    " enter") != NULL ? 0 : 1);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	snprintf(path, sizeof(path), "%s/.e.tmp", dir);
	cr_expect_neq(stat(path, &st), 0);
	close(peer);
}

/* labd as a user: it lets a client have only what modes give them. */
Test(caller, as_a_user_modes_decide)
{
	struct caller	c;
	char		mine[PATH_MAX], open_[PATH_MAX], sub[PATH_MAX + 8];
	char		hidden[PATH_MAX + 16], err[LABD_ERRLEN];
	FILE		*f;

	if (geteuid() != 0)
		cr_assert_fail("needs root to become a user first");
	file_at(mine, sizeof(mine), "labd-only.ini", "labd's line\n", 0600);
	file_at(open_, sizeof(open_), "shared.ini", "anyone\n", 0644);
	cr_assert_eq(chown(mine, NOBODY, NOBODY), 0);
	snprintf(sub, sizeof(sub), "%s/sub", tmp_dir);
	cr_assert_eq(mkdir(sub, 0700), 0);
	cr_assert_eq(chown(sub, NOBODY, NOBODY), 0);
	/* Readable itself, but in a folder only labd's user enters. */
	snprintf(hidden, sizeof(hidden), "%s/x.ini", sub);
	cr_assert_not_null(f = fopen(hidden, "w"));
	fputs("hidden\n", f);
	fclose(f);
	cr_assert_eq(chmod(hidden, 0644), 0);
	/* Effective ids only: root comes back to clean up. */
	cr_assert_eq(setgroups(0, NULL), 0);
	cr_assert_eq(setresgid(-1, NOBODY, -1), 0);
	cr_assert_eq(setresuid(-1, NOBODY, -1), 0);
	caller_init(&c, OTHER, OTHER, -1);
	cr_expect_eq(caller_open(&c, mine, err, sizeof(err)), -1);
	cr_expect(strstr(err, "labd-only.ini: Permission denied") != NULL,
	    "%s", err);
	cr_expect_eq(caller_open(&c, hidden, err, sizeof(err)), -1);
	cr_expect(strstr(err, "Permission denied") != NULL, "%s", err);
	read_back(caller_open(&c, open_, err, sizeof(err)), "anyone\n");
	/* labd's own user gets what labd gets. */
	caller_init(&c, NOBODY, NOBODY, -1);
	read_back(caller_open(&c, mine, err, sizeof(err)), "labd's line\n");
	cr_assert_eq(setresuid(-1, 0, -1), 0);
	cr_assert_eq(setresgid(-1, 0, -1), 0);
}
