/* SPDX-License-Identifier: ISC */
/*
 * test_img.c - how qemu-img is run (img.c), with the real qemu-img and
 * with a stand-in script that reports what it was given: only regular
 * files reach it, opened first and handed over as /dev/fd/N; it runs in
 * its limits and as the identity asked for; its complaints name the file,
 * never /dev/fd/N.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "vmm/vmm.h"
#include "vmm/vmm_int.h"
#include "tests/unit/testutil.h"

TestSuite(img, .init = tmp_dir_setup, .fini = tmp_dir_teardown,
    .timeout = 30);

static void
path_of(char *out, size_t outlen, const char *leaf)
{
	cr_assert_eq(vmm_path(out, outlen, tmp_dir, leaf), 0);
}

static void
make_qcow2(const char *path)
{
	char	 err[VMM_ERRLEN] = "";
	char	*argv[] = { "qemu-img", "create", "-q", "-f", "qcow2",
		    (char *)path, "16M", NULL };

	cr_assert_eq(vmm_run(argv, err, sizeof(err)), 0, "%s", err);
}

/* A stand-in for qemu-img: a script that prints what it is given. */
static void
make_tool(char *out, size_t outlen, const char *body)
{
	FILE	*f;

	path_of(out, outlen, "tool");
	cr_assert_not_null(f = fopen(out, "w"));
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	cr_assert_eq(chmod(out, 0755), 0);
	/* A tool run as nobody must reach its script. */
	cr_assert_eq(chmod(tmp_dir, 0755), 0);
}

/* len bytes of s into a new file path. */
static void
put(const char *path, const char *s, size_t len)
{
	FILE	*f;

	cr_assert_not_null(f = fopen(path, "w"));
	cr_assert_eq(fwrite(s, 1, len, f), len);
	fclose(f);
}

/* The FIFO that once pinned a worker: refused before any open blocks. */
Test(img, a_fifo_named_qcow2_is_refused_at_once)
{
	char		 fifo[PATH_MAX], err[VMM_ERRLEN] = "";
	long long	 t0 = tu_now_ms();

	path_of(fifo, sizeof(fifo), "disk.qcow2");
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_expect_null(vmm_image_info(NULL, fifo, NULL, err, sizeof(err)));
	cr_expect(strstr(err, "disk.qcow2 is not a regular file") != NULL,
	    "err: %s", err);
	cr_expect_lt(tu_now_ms() - t0, 2000, "it waited on the FIFO");
}

Test(img, a_symlink_or_a_folder_is_refused)
{
	char	disk[PATH_MAX], link[PATH_MAX], err[VMM_ERRLEN] = "";

	path_of(disk, sizeof(disk), "disk.qcow2");
	path_of(link, sizeof(link), "link.qcow2");
	make_qcow2(disk);
	cr_assert_eq(symlink(disk, link), 0);
	cr_expect_null(vmm_image_info(NULL, link, NULL, err, sizeof(err)));
	cr_expect(strstr(err, "link.qcow2 is a symbolic link") != NULL,
	    "err: %s", err);
	cr_expect_null(vmm_image_info(NULL, tmp_dir, NULL, err, sizeof(err)));
	cr_expect(strstr(err, "is not a regular file") != NULL, "err: %s",
	    err);
	/* The file itself is fine, and its format named is taken. */
	cr_assert_not_null(vmm_image_info(NULL, disk, "qcow2", err,
	    sizeof(err)), "%s", err);
}

Test(img, runs_in_its_limits_with_the_file_on_fd_4)
{
	char		 tool[PATH_MAX], data[PATH_MAX], err[VMM_ERRLEN] = "";
	char		*argv[] = { NULL, "info", NULL }, *out = NULL;
	const char	*name = "data";
	int		 fd;

	make_tool(tool, sizeof(tool), "awk '/^Max address space/ { print"
	    " \"as\", $4, $5 } /^Max cpu time/ { print \"cpu\", $4, $5 }"
	    " /^Max core file size/ { print \"core\", $5, $6 }'"
	    " /proc/self/limits; cat /dev/fd/4; echo \"env $LABD_TEST_ENV"
	    " $MALLOC_ARENA_MAX\"");
	path_of(data, sizeof(data), "data");
	put(data, "handed over\n", 12);
	cr_assert_neq(fd = open(data, O_RDONLY | O_CLOEXEC), -1);
	setenv("LABD_TEST_ENV", "leaked", 1);
	cr_assert_eq(img_run(tool, NULL, argv, &fd, &name, 1, 0, &out, err,
	    sizeof(err)), 0, "%s", err);
	close(fd);
	/* None of ours, two malloc arenas: the address space stays small. */
	cr_expect(strstr(out, "env  2\n") != NULL, "%s", out);
	cr_expect(strstr(out, "as 1073741824 1073741824\n") != NULL, "%s",
	    out);
	cr_expect(strstr(out, "cpu 60 60\n") != NULL, "%s", out);
	cr_expect(strstr(out, "core 0 0\n") != NULL, "%s", out);
	cr_expect(strstr(out, "handed over\n") != NULL, "%s", out);
	free(out);
}

/* What qemu-img says of /dev/fd/4 is said of the file. */
Test(img, its_words_name_the_file)
{
	char	bad[PATH_MAX], err[VMM_ERRLEN] = "";
	int	fd;

	path_of(bad, sizeof(bad), "bad.qcow2");
	/* A qcow2 magic and version 3, then nothing of a header. */
	put(bad, "QFI\xfb\x00\x00\x00\x03", 8);
	cr_assert_neq(fd = open(bad, O_RDONLY | O_CLOEXEC), -1);
	cr_expect_null(img_info_fd(NULL, NULL, fd, "qcow2", "bad.qcow2", err,
	    sizeof(err)));
	close(fd);
	cr_expect(strstr(err, "bad.qcow2") != NULL, "err: %s", err);
	cr_expect(strstr(err, "/dev/fd/") == NULL, "err: %s", err);
}

Test(img, convert_from_fd_to_fd)
{
	char		 disk[PATH_MAX], raw[PATH_MAX], err[VMM_ERRLEN] = "";
	struct stat	 st;
	int		 in, out;

	path_of(disk, sizeof(disk), "disk.qcow2");
	path_of(raw, sizeof(raw), "disk.raw");
	make_qcow2(disk);
	cr_assert_neq(in = open(disk, O_RDONLY | O_CLOEXEC), -1);
	cr_assert_neq(out = open(raw, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600), -1);
	cr_expect_eq(img_convert_fd(NULL, NULL, in, "qcow2", out, "raw", NULL,
	    disk, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(fstat(out, &st), 0);
	cr_expect_eq(st.st_size, 16 << 20);
	close(in);
	close(out);
}

/* As root, the tool takes the identity given, and with it its rights. */
Test(img, runs_as_the_identity_given)
{
	struct vmm_cred	 nobody = { 65534, 65534, NULL, 0 };
	char		 tool[PATH_MAX], disk[PATH_MAX], err[VMM_ERRLEN] = "";
	char		*argv[] = { NULL, "info", NULL }, *out = NULL;
	int		 fd;

	if (geteuid() != 0)
		cr_skip_test("needs root to change identity");
	make_tool(tool, sizeof(tool), "echo $(id -u):$(id -g):$(id -G)");
	cr_assert_eq(img_run(tool, &nobody, argv, NULL, NULL, 0, 0, &out, err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(out, "65534:65534:65534\n");
	free(out);
	/* A root-only disk, though open here, is not nobody's to read. */
	path_of(disk, sizeof(disk), "disk.qcow2");
	make_qcow2(disk);
	cr_assert_eq(chmod(disk, 0600), 0);
	cr_assert_neq(fd = open(disk, O_RDONLY | O_CLOEXEC), -1);
	cr_expect_null(img_info_fd(NULL, &nobody, fd, "qcow2", disk, err,
	    sizeof(err)));
	close(fd);
	cr_expect(strstr(err, "Permission denied") != NULL, "err: %s", err);
}
