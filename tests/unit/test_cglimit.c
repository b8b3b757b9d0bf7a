/* SPDX-License-Identifier: ISC */
/*
 * test_cglimit.c - a VM's limits (labd/cglimit.c): course set's sizes
 * ("512M", "1G"), the memory a VM gets by default (guest RAM, TCG's
 * translation cache and QEMU's margin), the limits the helper accepts,
 * and v2's weights in v1's units.
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "labd/labd.h"

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
