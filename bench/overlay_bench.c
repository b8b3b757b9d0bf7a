/* SPDX-License-Identifier: ISC */
/*
 * overlay_bench.c - how long labd's overlay_create() takes for one clone
 * of a template, over N runs: the figure that bench/run sets against a
 * plain cp of the template and a hand-run qemu-img create -b.
 *
 *	overlay_bench TEMPLATE.qcow2 DIR N
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "vmm/vmm.h"

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char *argv[])
{
	char	path[4096], err[VMM_ERRLEN];
	double	t0, total = 0;
	int	i, n;

	if (argc != 4 || (n = atoi(argv[3])) <= 0) {
		fprintf(stderr, "usage: overlay_bench TEMPLATE DIR N\n");
		return 2;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/clone-%d.qcow2", argv[2], i);
		t0 = now();
		if (overlay_create(NULL, argv[1], path, err, sizeof(err)) ==
		    -1) {
			fprintf(stderr, "overlay_bench: %s\n", err);
			return 1;
		}
		total += now() - t0;
		printf("%lld\n", overlay_disk_usage(path));
		unlink(path);
	}
	fprintf(stderr, "%.6f\n", total / n);
	return 0;
}
