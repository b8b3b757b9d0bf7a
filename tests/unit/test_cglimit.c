/* SPDX-License-Identifier: ISC */
/*
 * test_cglimit.c - a VM's limits (labd/cglimit.c): course set's sizes
 * ("512M", "1G"), the memory a VM gets by default (guest RAM, TCG's
 * translation cache and QEMU's margin), the limits the helper accepts,
 * v2's weights in v1's units, as root on this host's cgroups a VM's
 * folders made with those limits and removed, and v2's files on a tree
 * shaped like a v2 mount.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "labd/labd.h"
#include "vmm/vmm.h"
#include "tests/unit/testutil.h"

static long long
size_of(const char *s)
{
	long long	b = -1;
	char		err[256];

	cr_assert_eq(cglimit_size_parse(s, "memory_max", &b, err,
	    sizeof(err)), 0, "%s: %s", s, err);
	return b;
}

Test(cglimit_size, units_are_powers_of_two)
{
	cr_assert_eq(size_of("512M"), 512LL << 20);
	cr_assert_eq(size_of("512m"), 512LL << 20);
	cr_assert_eq(size_of("512MiB"), 512LL << 20);
	cr_assert_eq(size_of("512MB"), 512LL << 20);
	cr_assert_eq(size_of("1G"), 1LL << 30);
	cr_assert_eq(size_of("2g"), 2LL << 30);
	cr_assert_eq(size_of("64K"), 64LL << 10);
	cr_assert_eq(size_of("1T"), 1LL << 40);
	cr_assert_eq(size_of("1048576"), 1048576);
}

Test(cglimit_size, bad_sizes_name_the_field)
{
	const char	*bad[] = { "", "M", "-1G", "1.5G", "1X", "1GG", "1 G",
			    "G1", "0", "0M", "2T", "99999999999999999999",
			    "18014398509481984K", "auto" };
	long long	 b = 7;
	char		 err[256];
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(cglimit_size_parse(bad[i], "memory_max", &b, err,
		    sizeof(err)), -1, "\"%s\" taken as %lld", bad[i], b);
		cr_assert(strncmp(err, "memory_max: ", 12) == 0, "%s", err);
	}
	cr_assert_eq(b, 7, "a refused size left its value");
	cr_assert_eq(cglimit_size_parse(NULL, "memory_max", &b, err,
	    sizeof(err)), -1);
}

Test(cglimit_defaults, memory_is_ram_tb_and_margin)
{
	struct cg_limits	l;

	/* A tiny guest under TCG with labd's tb_size of 32 MiB. */
	cr_assert_eq(cglimit_memory_auto(128, 32, 1),
	    (128LL + 32 + LABD_MEM_MARGIN_MB) << 20);
	/* No translation cache under KVM. */
	cr_assert_eq(cglimit_memory_auto(2048, 32, 0),
	    (2048LL + LABD_MEM_MARGIN_MB) << 20);
	/* tb_size 0 is QEMU's own default, 1 GiB reserved. */
	cr_assert_eq(cglimit_memory_auto(512, 0, 1),
	    (512LL + 1024 + LABD_MEM_MARGIN_MB) << 20);
	cglimit_defaults(&l, 128, 32, 1);
	cr_assert_eq(l.memory_max, cglimit_memory_auto(128, 32, 1));
	cr_assert_eq(l.cpu_weight, 100);
	cr_assert_eq(l.io_weight, 100);
	cr_assert_eq(l.pids_max, 256);
}

Test(cglimit_valid, defaults_pass_and_the_wrong_field_is_named)
{
	struct cg_limits	l;
	char			err[256];

	cglimit_defaults(&l, 128, 32, 1);
	cr_assert_eq(cglimit_valid(&l, err, sizeof(err)), 0, "%s", err);
	l.cpu_weight = 0;
	cr_assert_eq(cglimit_valid(&l, err, sizeof(err)), -1);
	cr_assert(strstr(err, "cpu_weight") != NULL, "%s", err);
	cglimit_defaults(&l, 128, 32, 1);
	l.pids_max = 10;
	cr_assert_eq(cglimit_valid(&l, err, sizeof(err)), -1);
	cr_assert(strstr(err, "pids_max") != NULL, "%s", err);
	cglimit_defaults(&l, 128, 32, 1);
	l.memory_max = 0;
	cr_assert_eq(cglimit_valid(&l, err, sizeof(err)), -1);
	cr_assert(strstr(err, "memory_max") != NULL, "%s", err);
	cglimit_defaults(&l, 128, 32, 1);
	l.io_weight = 20000;
	cr_assert_eq(cglimit_valid(&l, err, sizeof(err)), -1);
	cr_assert(strstr(err, "io_weight") != NULL, "%s", err);
}

Test(cglimit_v1, weights_in_v1_units)
{
	cr_assert_eq(cglimit_v1_shares(100), 1024);
	cr_assert_eq(cglimit_v1_shares(200), 2048);
	cr_assert_eq(cglimit_v1_shares(1), 10);
	cr_assert_eq(cglimit_v1_shares(10000), 102400);
	cr_assert_eq(cglimit_v1_blkio(100), 500);
	cr_assert_eq(cglimit_v1_blkio(1), 10);
	cr_assert_eq(cglimit_v1_blkio(10000), 1000);
}

/* The first line of dir/file, or "" when there is no such file. */
static void
read_line(const char *dir, const char *file, char *out, size_t len)
{
	char	 path[PATH_MAX];
	FILE	*f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((f = fopen(path, "r")) == NULL)
		return;
	if (fgets(out, (int)len, f) == NULL)
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

/* file's value in whichever of the VM's folders has it; "" in none. */
static void
value_in(char dirs[][PATH_MAX], size_t n, const char *file, char *out,
    size_t len)
{
	size_t	i;

	for (i = 0, out[0] = '\0'; i < n && out[0] == '\0'; i++)
		read_line(dirs[i], file, out, len);
}

/*
 * On this host's real cgroups, as the helper does it: a VM's folders
 * made with its limits in the files of the hierarchy each controller is
 * on (v2's names, or v1's), then removed.  No QEMU: nothing joins them.
 */
Test(cglimit_host, folders_made_with_limits_and_removed)
{
	const char		*mnt = NULL, *where;
	struct cg_limits	 l;
	json_t			*st;
	char			 dirs[VMM_CGROUPS_MAX][PATH_MAX], base[PATH_MAX],
				 v2dir[PATH_MAX], vm[64], v[64], err[256];
	size_t			 n = 0, i;
	int			 used = 0;

	cr_assert_eq(geteuid(), 0, "this test needs root: run make unit as"
	    " root");
	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
		mnt = "/sys/fs/cgroup";
	else if (access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) ==
	    0)
		mnt = "/sys/fs/cgroup/unified";
	base[0] = v2dir[0] = '\0';
	snprintf(vm, sizeof(vm), "labd-unit-%d", (int)getpid());
	if (mnt != NULL) {
		snprintf(base, sizeof(base), "%s/" LABD_CGROUP, mnt);
		cr_assert(mkdir(base, 0755) == 0 || errno == EEXIST);
		snprintf(v2dir, sizeof(v2dir), "%s/%s", base, vm);
	}
	cglimit_init(mnt, base);
	cr_assert(cglimit_active(), "neither v2 nor v1 has a controller of"
	    " ours on this host");
	cglimit_defaults(&l, 128, 32, 1);
	l.cpu_weight = 300;
	l.pids_max = 200;
	cr_assert_eq(cglimit_make(vm, mnt != NULL ? v2dir : NULL, &l, dirs,
	    &n, err, sizeof(err)), 0, "%s", err);
	st = cglimit_status();
	where = json_string_value(json_object_get(st, "memory"));
	if (strcmp(where, "none") != 0) {
		value_in(dirs, n, strcmp(where, "v2") == 0 ? "memory.max" :
		    "memory.limit_in_bytes", v, sizeof(v));
		cr_expect_eq(atoll(v), (128LL + 32 + LABD_MEM_MARGIN_MB) << 20,
		    "memory (%s): %s", where, v);
		used++;
	}
	where = json_string_value(json_object_get(st, "cpu"));
	if (strcmp(where, "none") != 0) {
		value_in(dirs, n, strcmp(where, "v2") == 0 ? "cpu.weight" :
		    "cpu.shares", v, sizeof(v));
		cr_expect_str_eq(v, strcmp(where, "v2") == 0 ? "300" : "3072",
		    "cpu (%s)", where);
		used++;
	}
	where = json_string_value(json_object_get(st, "pids"));
	if (strcmp(where, "none") != 0) {
		value_in(dirs, n, "pids.max", v, sizeof(v));
		cr_expect_str_eq(v, "200", "pids (%s)", where);
		used++;
	}
	json_decref(st);
	cr_expect(used > 0, "no controller's value was checked");
	cr_expect_eq(cglimit_remove(vm), 1);
	if (mnt != NULL)
		rmdir(v2dir);
	for (i = 0; i < n; i++)
		cr_expect_eq(access(dirs[i], F_OK), -1, "%s is left", dirs[i]);
}

/* --- cgroup v2, on a folder that looks like one ------------------------- */

static void
put_file(const char *dir, const char *file, const char *text)
{
	char	 path[PATH_MAX];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	cr_assert_not_null(f = fopen(path, "w"), "%s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

TestSuite(cglimit_v2, .init = tmp_dir_setup, .fini = tmp_dir_teardown);

/*
 * This host's controllers are on v1, so v2's files are checked on a tree
 * shaped like a v2 mount (the kernel makes a folder's files; here the
 * test does): the root offers the four controllers and has them on for
 * its children already, as systemd's hosts do.  A VM's limits must land
 * in v2's files, in v2's units, with no swap, in one folder; an
 * io.weight that is absent (no io controller below) is not an error.
 */
Test(cglimit_v2, limits_in_v2_files)
{
	static const char	*files[] = { "memory.max", "memory.swap.max",
				    "cpu.weight", "io.weight", "pids.max" };
	char			 base[PATH_MAX], vm[PATH_MAX + 8], v[64];
	char			 path[PATH_MAX + 32], err[256];
	char			 dirs[VMM_CGROUPS_MAX][PATH_MAX];
	struct cg_limits	 l;
	json_t			*st;
	size_t			 i, n = 0;

	put_file(tmp_dir, "cgroup.controllers", "cpuset cpu io memory"
	    " hugetlb pids rdma misc\n");
	put_file(tmp_dir, "cgroup.subtree_control", "cpu io memory pids\n");
	snprintf(base, sizeof(base), "%s/" LABD_CGROUP, tmp_dir);
	cr_assert_eq(mkdir(base, 0755), 0);
	put_file(base, "cgroup.subtree_control", "cpu io memory pids\n");
	snprintf(vm, sizeof(vm), "%s/vm1", base);
	cr_assert_eq(mkdir(vm, 0755), 0);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		put_file(vm, files[i], "");

	cglimit_init(tmp_dir, base);
	st = cglimit_status();
	cr_expect_str_eq(json_string_value(json_object_get(st, "mode")),
	    "cgroup v2 (memory v2, cpu v2, io v2, pids v2)");
	json_decref(st);

	cglimit_defaults(&l, 128, 32, 1);
	l.cpu_weight = 300;
	l.io_weight = 50;
	l.pids_max = 200;
	cr_assert_eq(cglimit_make("vm1", vm, &l, dirs, &n, err, sizeof(err)),
	    0, "%s", err);
	cr_expect_eq(n, 1, "one folder on v2, not one a controller");
	cr_expect_str_eq(dirs[0], vm);
	read_line(vm, "memory.max", v, sizeof(v));
	cr_expect_eq(atoll(v), (128LL + 32 + LABD_MEM_MARGIN_MB) << 20,
	    "memory.max: %s", v);
	read_line(vm, "memory.swap.max", v, sizeof(v));
	cr_expect_str_eq(v, "0", "no swap");
	read_line(vm, "cpu.weight", v, sizeof(v));
	cr_expect_str_eq(v, "300", "cpu.weight in v2's units");
	read_line(vm, "io.weight", v, sizeof(v));
	cr_expect_str_eq(v, "50", "io.weight in v2's units");
	read_line(vm, "pids.max", v, sizeof(v));
	cr_expect_str_eq(v, "200");

	/* Without io.weight (io not on below): the rest is still set. */
	snprintf(path, sizeof(path), "%s/io.weight", vm);
	cr_assert_eq(unlink(path), 0);
	l.pids_max = 300;
	cr_expect_eq(cglimit_make("vm1", vm, &l, dirs, &n, err, sizeof(err)),
	    0, "%s", err);
	read_line(vm, "pids.max", v, sizeof(v));
	cr_expect_str_eq(v, "300");
}
