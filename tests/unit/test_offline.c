/* SPDX-License-Identifier: ISC */
/*
 * test_offline.c - what labd and the collector appliance say to each
 * other (labd/offline.c): the paths disk labd writes, and the console
 * lines the appliance ends with (tar's status and stderr), read back from
 * a console where the kernel may have written too.  The appliance itself
 * boots in tests/integration/test_collect.sh.
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "labd/vmjob.h"

Test(offline_paths, header_lines_end_and_whole_sectors)
{
	json_t	*p = json_pack("[s,s]", "/home/*/exam", "/root/a,b.txt");
	size_t	 len;
	char	*s = offline_paths_text(p, &len);
	static const char want[] = "labd-collect 1\n/home/*/exam\n"
	    "/root/a,b.txt\nend\n";

	cr_expect_eq(len % 512, 0);
	cr_expect_geq(len, sizeof(want));
	cr_expect_eq(memcmp(s, want, sizeof(want) - 1), 0, "%s", s);
	/* The rest is NULs: nothing of the heap reaches the guest. */
	for (size_t i = sizeof(want) - 1; i < len; i++)
		cr_assert_eq(s[i], '\0', "byte %zu", i);
	free(s);
	json_decref(p);
}

Test(offline_paths, many_long_paths_fit)
{
	json_t	*p = json_array();
	char	 path[LABD_COLLECT_PATHLEN + 1];
	size_t	 len;
	char	*s;
	int	 i;

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	for (i = 0; i < LABD_COLLECT_PATHS_MAX; i++)
		json_array_append_new(p, json_string(path));
	s = offline_paths_text(p, &len);
	cr_expect_geq(len, (size_t)LABD_COLLECT_PATHS_MAX *
	    (LABD_COLLECT_PATHLEN + 1));
	cr_expect(strstr(s, "\nend\n") != NULL);
	free(s);
	json_decref(p);
}

Test(offline_console, status_and_stderr_among_kernel_lines)
{
	char	err[256];
	int	status;
	static const char log[] =
	    "[    0.812] virtio_blk virtio1: [vda] 262144 512-byte sectors\r\n"
	    "labd-collect-stderr\r\n"
	    "no such file: /root/*.txt\r\n"
	    "tar: ./x: Permission denied\r\n"
	    "labd-collect-status 1\r\n"
	    "[    4.797] reboot: Restarting system\r\n";

	cr_assert_eq(offline_console_parse(log, &status, err, sizeof(err)), 0);
	cr_expect_eq(status, 1);
	cr_expect_str_eq(err, "no such file: /root/*.txt\n"
	    "tar: ./x: Permission denied\n");
}

Test(offline_console, nothing_there_and_an_empty_stderr)
{
	char	err[256];
	int	status;

	cr_assert_eq(offline_console_parse("labd-collect-stderr\n"
	    "labd-collect-status 3\n", &status, err, sizeof(err)), 0);
	cr_expect_eq(status, 3);
	cr_expect_str_eq(err, "");
	cr_assert_eq(offline_console_parse("labd-collect-status 0\n",
	    &status, err, sizeof(err)), 0);
	cr_expect_eq(status, 0);
}

Test(offline_console, no_status_line_is_an_error)
{
	char	err[256];
	int	status;

	cr_expect_eq(offline_console_parse("", &status, err, sizeof(err)), -1);
	cr_expect_eq(offline_console_parse("Kernel panic - not syncing\n"
	    "labd-collect-stderr\n", &status, err, sizeof(err)), -1);
	cr_expect_eq(offline_console_parse("labd-collect-status x\n",
	    &status, err, sizeof(err)), -1);
	cr_expect_eq(status, -1);
}

Test(offline_console, a_long_stderr_is_cut_not_overrun)
{
	char	log[4096], err[32];
	int	status;

	snprintf(log, sizeof(log), "labd-collect-stderr\n%0900d\n"
	    "labd-collect-status 2\n", 7);
	cr_assert_eq(offline_console_parse(log, &status, err, sizeof(err)), 0);
	cr_expect_eq(status, 2);
	cr_expect_lt(strlen(err), sizeof(err));
}

/* A guest's file name in tar's stderr cannot fake the status. */
Test(offline_console, the_last_status_line_counts)
{
	char	err[256];
	int	status;

	cr_assert_eq(offline_console_parse("labd-collect-stderr\n"
	    "tar: ./x\nlabd-collect-status 0\n: Permission denied\n"
	    "labd-collect-status 1\n", &status, err, sizeof(err)), 0);
	cr_expect_eq(status, 1);
}
