/* SPDX-License-Identifier: ISC */
/*
 * test_logcap.c - a console log cut to its last part in place: what stays
 * is the end of the file from a whole line on, after a mark; a writer that
 * holds it open with O_APPEND (as QEMU does) goes on after what is kept;
 * a file under the limit, a missing one and a symlink are left alone.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "labd/labd.h"

static char	dir[] = "/tmp/test_logcap.XXXXXX";
static char	path[PATH_MAX];

static void
setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/serial.log", dir);
}

static void
teardown(void)
{
	char	cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(logcap, .init = setup, .fini = teardown);

/* lines "line N\n" for N in 0..n-1; the file's size. */
static long long
write_lines(int fd, int from, int n)
{
	FILE	*f = fdopen(dup(fd), "a");
	int	 i;

	for (i = from; i < from + n; i++)
		fprintf(f, "line %07d\n", i);
	fclose(f);
	return lseek(fd, 0, SEEK_END);
}

static char *
slurp(size_t *len)
{
	FILE	*f = fopen(path, "r");
	char	*buf;
	long	 n;

	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, n + 1);
	cr_assert_eq(fread(buf, 1, n, f), (size_t)n);
	fclose(f);
	*len = n;
	return buf;
}

Test(logcap, over_the_limit_keeps_the_end_from_a_whole_line)
{
	int	 fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0640);
	char	*buf, *second;
	size_t	 len;

	cr_assert_geq(fd, 0);
	/* 13 bytes a line: 100000 lines are 1.3 MB. */
	cr_assert_gt(write_lines(fd, 0, 100000), 1000000);
	cr_expect_eq(logcap_cut(path, 1000000, 13 * 1000 + 5), 1);
	buf = slurp(&len);
	cr_expect(strncmp(buf, "[labd: console log cut to its last 12 KiB]\n",
	    43) == 0, "starts with %.60s", buf);
	second = buf + 43;
	/* 1000 whole lines and 5 bytes were kept: the 5 bytes' line goes. */
	cr_expect(strncmp(second, "line 0099000\n", 13) == 0, "then %.20s",
	    second);
	cr_expect_eq(len, 43 + 13 * 1000);
	cr_expect(strcmp(buf + len - 13, "line 0099999\n") == 0);
	free(buf);
	/* QEMU's descriptor, O_APPEND, writes after what was kept. */
	write_lines(fd, 100000, 1);
	buf = slurp(&len);
	cr_expect_eq(len, 43 + 13 * 1001);
	cr_expect(strcmp(buf + len - 13, "line 0100000\n") == 0);
	free(buf);
	close(fd);
}

Test(logcap, under_the_limit_missing_or_a_symlink_is_left_alone)
{
	struct stat	sb;
	char		link[PATH_MAX];
	int		fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0640);

	cr_assert_geq(fd, 0);
	write_lines(fd, 0, 100);
	close(fd);
	cr_expect_eq(logcap_cut(path, 1300, 100), 0);
	cr_assert_eq(stat(path, &sb), 0);
	cr_expect_eq(sb.st_size, 1300);
	snprintf(link, sizeof(link), "%s/link.log", dir);
	cr_assert_eq(symlink(path, link), 0);
	cr_expect_eq(logcap_cut(link, 10, 5), -1, "a symlink is not followed");
	cr_assert_eq(stat(path, &sb), 0);
	cr_expect_eq(sb.st_size, 1300);
	snprintf(link, sizeof(link), "%s/none.log", dir);
	cr_expect_eq(logcap_cut(link, 10, 5), 0);
}
