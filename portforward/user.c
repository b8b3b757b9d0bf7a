/* SPDX-License-Identifier: ISC */
/*
 * user.c - the user-mode backend: a plan rule becomes the value of a QEMU
 * "-netdev user,hostfwd=..." option (or of the monitor's hostfwd_add).
 * That value sits inside a comma-separated option string, so the listen
 * address is checked to be a plain IPv4 address first: a stray comma
 * would smuggle in options of its own.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

#include "portforward/portforward.h"

int
pf_user_hostfwd(const struct pf_rule *r, char *out, size_t outlen)
{
	struct in_addr	a;
	int		n;

	if (outlen > 0)
		out[0] = '\0';
	if (inet_pton(AF_INET, r->listen_ip, &a) != 1 || r->port == 0 ||
	    r->guest_port == 0)
		return -1;
	/* An empty guest address: QEMU's user network picks the guest's. */
	n = snprintf(out, outlen, "tcp:%s:%u-:%u", r->listen_ip, r->port,
	    r->guest_port);
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}
