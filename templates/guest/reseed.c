/* SPDX-License-Identifier: ISC */
/*
 * reseed.c - /usr/lib/labd/reseed HEX: a guest kernel's RNG given HEX's
 * bytes and reseeded at once.
 *
 * A VM that labd starts from the golden (labd/golden.c; in the guest the
 * tiny template's rcS, the Debian template's /usr/lib/labd/golden) has the
 * golden's RAM, the kernel's random pool included: every copy of it
 * would draw the same "random" numbers, host keys and TCP sequence
 * numbers included, until the pool drifted apart.  labd hands each copy
 * 32 bytes of the host's RNG; they are credited to the pool
 * (RNDADDENTROPY) and the kernel's generator is reseeded from it
 * (RNDRESEEDCRNG) before anything draws from it.  A write to
 * /dev/urandom would mix the bytes in too, but the generator would only
 * take them at its next scheduled reseed.
 *
 * Built static by the templates' build scripts: the tiny guest has no C
 * library but busybox's.
 */
#include <sys/ioctl.h>

#include <linux/random.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RESEED_MAX	64

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
main(int argc, char *argv[])
{
	struct {
		struct rand_pool_info	info;
		unsigned char		room[RESEED_MAX];	/* info.buf's */
	}		 e;
	unsigned char	*b;
	const char	*s;
	size_t		 n, i;
	int		 fd, hi, lo;

	if (argc != 2 || (n = strlen(argv[1])) == 0 || n % 2 != 0 ||
	    n / 2 > RESEED_MAX) {
		fprintf(stderr, "usage: reseed HEX (2 to %d hex digits)\n",
		    2 * RESEED_MAX);
		return 2;
	}
	s = argv[1];
	memset(&e, 0, sizeof(e));
	b = (unsigned char *)e.info.buf;
	for (i = 0; i < n / 2; i++) {
		if ((hi = hexval(s[2 * i])) == -1 ||
		    (lo = hexval(s[2 * i + 1])) == -1) {
			fprintf(stderr, "reseed: not hex: %s\n", s);
			return 2;
		}
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	e.info.entropy_count = (int)(n / 2 * 8);
	e.info.buf_size = (int)(n / 2);
	if ((fd = open("/dev/urandom", O_WRONLY)) == -1) {
		perror("reseed: /dev/urandom");
		return 1;
	}
	if (ioctl(fd, RNDADDENTROPY, &e.info) == -1) {
		perror("reseed: RNDADDENTROPY");
		return 1;
	}
	if (ioctl(fd, RNDRESEEDCRNG) == -1) {
		perror("reseed: RNDRESEEDCRNG");
		return 1;
	}
	close(fd);
	return 0;
}
