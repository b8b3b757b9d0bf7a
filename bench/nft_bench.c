/* SPDX-License-Identifier: ISC */
/*
 * nft_bench.c - what one change of bridge mode's nftables table costs as
 * the lab grows: labd renders the whole table and applies it as one
 * transaction at every change, so the price of a change is the price of
 * the whole table.  For classes of N VMs (courses of 30, three published
 * services each, every other course with allow_from) it prints the time
 * to render and to apply, and the ratio against a class of one VM.
 *
 * Applies go to a private network namespace (unshare), never the host's.
 *
 *   nft_bench [ROUNDS]
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "portforward/portforward.h"

#define COURSE_SIZE	30
#define NSVC		3

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct class {
	struct nft_course	*courses;
	struct nft_vm		*vms;
	struct nft_fwd		*fwds;
	char			(*str)[32];
	struct nft_plan		 plan;
};

static void
class_make(struct class *c, int n)
{
	int	ncourses = (n + COURSE_SIZE - 1) / COURSE_SIZE, i, k;
	char	(*s)[32];

	c->courses = calloc(ncourses, sizeof(*c->courses));
	c->vms = calloc(n, sizeof(*c->vms));
	c->fwds = calloc((size_t)n * NSVC, sizeof(*c->fwds));
	c->str = s = calloc((size_t)ncourses + (size_t)n * 3, sizeof(*s));
	if (c->courses == NULL || c->vms == NULL || c->fwds == NULL ||
	    s == NULL) {
		perror("calloc");
		exit(1);
	}
	for (i = 0; i < ncourses; i++) {
		snprintf(*s, sizeof(*s), "course-%d", i + 1);
		c->courses[i].id = i + 1;
		c->courses[i].name = *s++;
		c->courses[i].internet = i % 2;
		c->courses[i].isolation = i % 3 != 0;
		c->courses[i].allow_from = i % 2 ? "192.0.2.0/24" : "";
	}
	for (i = 0; i < n; i++) {
		c->vms[i].course_id = i / COURSE_SIZE + 1;
		snprintf(*s, sizeof(*s), "ltap%d", i + 1);
		c->vms[i].tap = *s++;
		snprintf(*s, sizeof(*s), "10.77.%d.%d", (i + 2) / 256,
		    (i + 2) % 256);
		c->vms[i].ip = *s++;
		snprintf(*s, sizeof(*s), "52:54:00:00:%02x:%02x",
		    (i + 1) / 256, (i + 1) % 256);
		c->vms[i].mac = *s++;
		c->vms[i].forward = 1;
		for (k = 0; k < NSVC; k++) {
			struct nft_fwd	*f = &c->fwds[i * NSVC + k];

			f->vm = i;
			f->public_ip = k == 2 ? "203.0.113.11" : "203.0.113.10";
			f->port = (uint16_t)((k == 1 ? 30000 : k == 2 ? 8000 :
			    22000) + i + 1);
			f->guest_port = k == 2 ? 80 : 22;
		}
	}
	/* As labd as root renders it: the VMs' uids, no resolvers. */
	c->plan = (struct nft_plan){ 1, "labbr0", "10.77.0.0/16", c->courses,
	    ncourses, c->vms, n, c->fwds, (size_t)n * NSVC, 0, 1879048192,
	    65536, NULL, 0, 0 };
}

static void
class_free(struct class *c)
{
	free(c->courses);
	free(c->vms);
	free(c->fwds);
	free(c->str);
}

/* Mean seconds to render and to apply the class's table; its size. */
static void
measure(int n, int rounds, double *render, double *apply, size_t *bytes)
{
	struct class	 c;
	char		 err[PF_ERRLEN], *text = NULL;
	double		 t;
	int		 r;

	class_make(&c, n);
	t = now_s();
	for (r = 0; r < rounds; r++) {
		free(text);
		if ((text = nft_render(&c.plan, err, sizeof(err))) == NULL) {
			fprintf(stderr, "render %d: %s\n", n, err);
			exit(1);
		}
	}
	*render = (now_s() - t) / rounds;
	*bytes = strlen(text);
	t = now_s();
	for (r = 0; r < rounds; r++)
		if (nft_apply(text, err, sizeof(err)) == -1) {
			fprintf(stderr, "apply %d: %s\n", n, err);
			exit(1);
		}
	*apply = (now_s() - t) / rounds;
	free(text);
	class_free(&c);
}

int
main(int argc, char *argv[])
{
	static const int	 sizes[] = { 1, 30, 300, 1000 };
	double			 render, apply, base = 0;
	size_t			 bytes, i;
	int			 rounds = argc > 1 ? atoi(argv[1]) : 10;

	if (rounds < 1) {
		fprintf(stderr, "usage: nft_bench [ROUNDS]\n");
		return 2;
	}
	if (unshare(CLONE_NEWNET) == -1) {
		perror("nft_bench: unshare(CLONE_NEWNET) (needs root)");
		return 1;
	}
	printf("nft: one change = the whole table in one transaction"
	    " (mean of %d, private netns)\n", rounds);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		measure(sizes[i], rounds, &render, &apply, &bytes);
		if (i == 0)
			base = render + apply;
		printf("nft: %4d VMs (%4d ports): render %7.2f ms, apply %7.2f"
		    " ms, %7zu bytes; %.1fx a 1-VM change\n", sizes[i],
		    sizes[i] * NSVC, render * 1e3, apply * 1e3, bytes,
		    (render + apply) / base);
	}
	return 0;
}
