/* SPDX-License-Identifier: ISC */
/*
 * test_overlay.c - qcow2 overlays made with the real qemu-img in a
 * private temporary folder.
 *
 * What matters to labd: the overlay really backs onto the template with
 * the right format recorded, it is tiny, a re-create replaces it in one
 * step, and a failure leaves nothing behind (no half-made disk, no
 * temporary file).
 */
#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "vmm/vmm.h"
#include "tests/unit/testutil.h"

static void
path_of(char *out, size_t outlen, const char *leaf)
{
	cr_assert_eq(vmm_path(out, outlen, tmp_dir, leaf), 0);
}

/* A base image of fmt, made with vmm_run (which this also exercises). */
static void
make_base(const char *leaf, const char *fmt, char *out, size_t outlen)
{
	char	 err[VMM_ERRLEN] = "";
	char	*argv[] = { "qemu-img", "create", "-q", "-f", (char *)fmt, out,
		    "64M", NULL };

	path_of(out, outlen, leaf);
	cr_assert_eq(vmm_run(argv, err, sizeof(err)), 0, "%s", err);
}

/* Everything qemu-img info --backing-chain says about path. */
static char *
chain_info(const char *path)
{
	char	cmd[PATH_MAX + 64];

	snprintf(cmd, sizeof(cmd), "qemu-img info -U --backing-chain '%s'",
	    path);
	return cmd_read(cmd);
}

TestSuite(overlay, .init = tmp_dir_setup, .fini = tmp_dir_teardown,
    .timeout = 30);

Test(overlay, create_backs_onto_qcow2_template)
{
	char		 base[PATH_MAX], disk[PATH_MAX], got[PATH_MAX];
	char		 err[VMM_ERRLEN] = "", want[PATH_MAX + 32], *info;
	struct stat	 st;
	long long	 used;

	make_base("base.qcow2", "qcow2", base, sizeof(base));
	path_of(disk, sizeof(disk), "disk.qcow2");
	cr_assert_eq(overlay_create(NULL, base, disk, err, sizeof(err)), 0,
	    "overlay_create: %s", err);

	info = chain_info(disk);
	snprintf(want, sizeof(want), "backing file: %s\n", base);
	cr_expect(strstr(info, want) != NULL, "no \"%s\" in:\n%s", want, info);
	cr_expect(strstr(info, "backing file format: qcow2\n") != NULL,
	    "format not recorded:\n%s", info);
	/* The chain goes on to the base itself, 64 MiB virtual. */
	cr_expect(strstr(info, "virtual size: 64 MiB") != NULL, "%s", info);
	free(info);

	cr_assert_eq(overlay_backing(NULL, disk, got, sizeof(got), err,
	    sizeof(err)), 0, "overlay_backing: %s", err);
	cr_expect_str_eq(got, base);

	cr_assert_eq(stat(disk, &st), 0);
	cr_expect_lt(st.st_size, 1024 * 1024, "overlay is %lld bytes",
	    (long long)st.st_size);
	cr_expect_eq(st.st_mode & 077, 0, "mode %o: readable by others",
	    st.st_mode & 0777);
	used = overlay_disk_usage(disk);
	cr_expect_gt(used, 0);
	cr_expect_lt(used, 1024 * 1024, "overlay uses %lld bytes", used);
	cr_expect_eq(tmp_dir_count(), 2, "only base and disk, no leftovers");
}

Test(overlay, raw_template_format_is_recorded)
{
	char	 base[PATH_MAX], disk[PATH_MAX], err[VMM_ERRLEN] = "", *info;

	make_base("base.raw", "raw", base, sizeof(base));
	path_of(disk, sizeof(disk), "disk.qcow2");
	cr_assert_eq(overlay_create("qemu-img", base, disk, err, sizeof(err)),
	    0, "overlay_create: %s", err);
	info = chain_info(disk);
	cr_expect(strstr(info, "backing file format: raw\n") != NULL, "%s",
	    info);
	free(info);
}

Test(overlay, recreate_replaces_the_disk)
{
	char	base1[PATH_MAX], base2[PATH_MAX], disk[PATH_MAX];
	char	got[PATH_MAX], err[VMM_ERRLEN] = "";

	make_base("one.qcow2", "qcow2", base1, sizeof(base1));
	make_base("two.qcow2", "qcow2", base2, sizeof(base2));
	path_of(disk, sizeof(disk), "disk.qcow2");
	cr_assert_eq(overlay_create(NULL, base1, disk, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(overlay_create(NULL, base2, disk, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(overlay_backing(NULL, disk, got, sizeof(got), err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(got, base2);
	cr_expect_eq(tmp_dir_count(), 3);
}

Test(overlay, missing_backing_leaves_nothing)
{
	char		 base[PATH_MAX], disk[PATH_MAX], err[VMM_ERRLEN] = "";
	struct stat	 st;

	path_of(base, sizeof(base), "nonexistent.qcow2");
	path_of(disk, sizeof(disk), "disk.qcow2");
	cr_expect_eq(overlay_create(NULL, base, disk, err, sizeof(err)), -1);
	/* Opened before qemu-img sees it: named, and why. */
	cr_expect(strstr(err, "nonexistent.qcow2: No such file") != NULL,
	    "err: %s", err);
	cr_expect_eq(stat(disk, &st), -1);
	cr_expect_eq(tmp_dir_count(), 0, "a temporary file was left behind");
}

Test(overlay, failure_keeps_the_old_disk)
{
	char	base[PATH_MAX], gone[PATH_MAX], disk[PATH_MAX];
	char	got[PATH_MAX], err[VMM_ERRLEN] = "";

	make_base("base.qcow2", "qcow2", base, sizeof(base));
	path_of(gone, sizeof(gone), "gone.qcow2");
	path_of(disk, sizeof(disk), "disk.qcow2");
	cr_assert_eq(overlay_create(NULL, base, disk, err, sizeof(err)), 0,
	    "%s", err);
	cr_expect_eq(overlay_create(NULL, gone, disk, err, sizeof(err)), -1);
	cr_assert_eq(overlay_backing(NULL, disk, got, sizeof(got), err,
	    sizeof(err)), 0, "old disk damaged: %s", err);
	cr_expect_str_eq(got, base);
	cr_expect_eq(tmp_dir_count(), 2);
}

Test(overlay, refuses_relative_backing)
{
	char	disk[PATH_MAX], err[VMM_ERRLEN] = "";

	path_of(disk, sizeof(disk), "disk.qcow2");
	cr_expect_eq(overlay_create(NULL, "base.qcow2", disk, err,
	    sizeof(err)), -1);
	cr_expect(strstr(err, "not an absolute path") != NULL, "err: %s", err);
	cr_expect_eq(tmp_dir_count(), 0);
}

Test(overlay, backing_of_a_plain_image)
{
	char	base[PATH_MAX], got[PATH_MAX], err[VMM_ERRLEN] = "";

	make_base("base.qcow2", "qcow2", base, sizeof(base));
	cr_expect_eq(overlay_backing(NULL, base, got, sizeof(got), err,
	    sizeof(err)), -1);
	cr_expect(strstr(err, "has no backing file") != NULL, "err: %s", err);
}

Test(overlay, qemu_img_missing)
{
	char	base[PATH_MAX], disk[PATH_MAX], err[VMM_ERRLEN] = "";

	make_base("base.qcow2", "qcow2", base, sizeof(base));
	path_of(disk, sizeof(disk), "disk.qcow2");
	cr_expect_eq(overlay_create("/nonexistent/qemu-img", base, disk, err,
	    sizeof(err)), -1);
	cr_expect_str_eq(err, "cannot run qemu-img: No such file or directory");
}

Test(overlay, disk_usage_of_missing_file)
{
	cr_expect_eq(overlay_disk_usage("/nonexistent/disk.qcow2"), -1);
}
