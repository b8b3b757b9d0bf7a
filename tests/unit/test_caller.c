/* SPDX-License-Identifier: ISC */
/*
 * test_caller.c - the files a client names open with the client's rights
 * (caller.c): as root, in a child that has become the client; as another
 * user, only when modes say the client could have; a regular file or
 * nothing, never waiting on a FIFO.  The identity tests need root.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "labd/labd.h"
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

	caller_init(&c, geteuid(), getegid());
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

/* labd as root: the child becomes the client, and the kernel decides. */
Test(caller, as_root_the_client_rights_decide)
{
	struct caller	c;
	char		mine[PATH_MAX], open_[PATH_MAX], fifo[PATH_MAX];
	char		err[LABD_ERRLEN];
	long long	t0;

	if (geteuid() != 0)
		cr_skip_test("needs root to take a client's identity");
	caller_init(&c, NOBODY, NOBODY);
	file_at(mine, sizeof(mine), "secret.ini", "root-only line\n", 0600);
	file_at(open_, sizeof(open_), "shared.ini", "anyone\n", 0644);
	cr_expect_eq(caller_open(&c, mine, err, sizeof(err)), -1);
	cr_expect(strstr(err, "secret.ini: Permission denied") != NULL, "%s",
	    err);
	read_back(caller_open(&c, open_, err, sizeof(err)), "anyone\n");
	/* Its group: a group-readable file of a group it is not in. */
	cr_assert_eq(chown(mine, 0, 4242), 0);
	cr_assert_eq(chmod(mine, 0640), 0);
	cr_expect_eq(caller_open(&c, mine, err, sizeof(err)), -1);
	c.groups[c.ngroups++] = 4242;
	read_back(caller_open(&c, mine, err, sizeof(err)), "root-only line\n");
	snprintf(fifo, sizeof(fifo), "%s/x.ini", tmp_dir);
	cr_assert_eq(mkfifo(fifo, 0666), 0);
	t0 = tu_now_ms();
	cr_expect_eq(caller_open(&c, fifo, err, sizeof(err)), -1);
	cr_expect(strstr(err, "x.ini is not a regular file") != NULL, "%s",
	    err);
	cr_expect_lt(tu_now_ms() - t0, 2000, "it waited on the FIFO");
}

/* labd as a user: it lets a client have only what modes give them. */
Test(caller, as_a_user_modes_decide)
{
	struct caller	c;
	char		mine[PATH_MAX], open_[PATH_MAX], sub[PATH_MAX + 8];
	char		hidden[PATH_MAX + 16], err[LABD_ERRLEN];
	FILE		*f;

	if (geteuid() != 0)
		cr_skip_test("needs root to become a user first");
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
	caller_init(&c, OTHER, OTHER);
	cr_expect_eq(caller_open(&c, mine, err, sizeof(err)), -1);
	cr_expect(strstr(err, "labd-only.ini: Permission denied") != NULL,
	    "%s", err);
	cr_expect_eq(caller_open(&c, hidden, err, sizeof(err)), -1);
	cr_expect(strstr(err, "Permission denied") != NULL, "%s", err);
	read_back(caller_open(&c, open_, err, sizeof(err)), "anyone\n");
	/* labd's own user gets what labd gets. */
	caller_init(&c, NOBODY, NOBODY);
	read_back(caller_open(&c, mine, err, sizeof(err)), "labd's line\n");
	cr_assert_eq(setresuid(-1, 0, -1), 0);
	cr_assert_eq(setresgid(-1, 0, -1), 0);
}
