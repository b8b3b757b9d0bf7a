/* SPDX-License-Identifier: ISC */
/*
 * plan.c - the port plan: which public (ip, port) reaches which slot.
 *
 * Slot k of a service with base b listens on b + k, so a student's port
 * is readable ("22017 is slot 17") and stays the same across restarts,
 * resets and re-provisioning: it is arithmetic, not state.  Allocation
 * hands out the lowest slots that are free in three senses: no VM holds
 * them (the caller's used[] map), every port of theirs is free on this
 * host right now, and no port of theirs is a port of another service's
 * slot on the same IP (ssh at 22000 and http at 22500 meet at 22501 once a
 * class passes 500).  When a course does not fit, the message gives the
 * numbers an instructor needs to pick another base or free ports.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portforward/portforward.h"

#define PLAN_PORT_MAX	65535

int
plan_port(uint16_t base, int slot)
{
	if (slot < 1 || base < 1 || (long)base + slot > PLAN_PORT_MAX)
		return -1;
	return base + slot;
}

int
plan_max_slot(const struct pf_service *svc, size_t nsvc)
{
	int	max = PLAN_PORT_MAX;
	size_t	i;

	if (nsvc == 0)
		return 0;
	for (i = 0; i < nsvc; i++)
		if (PLAN_PORT_MAX - svc[i].base < max)
			max = PLAN_PORT_MAX - svc[i].base;
	return max;
}

int
plan_port_free(const char *ip, uint16_t port, char *err, size_t errlen)
{
	struct sockaddr_in	sin;
	int			fd, rc, one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	if (inet_pton(AF_INET, ip, &sin.sin_addr) != 1) {
		snprintf(err, errlen, "%.64s is not an IPv4 address", ip);
		return -1;
	}
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/*
	 * SO_REUSEADDR, as QEMU's user networking (slirp) sets on its
	 * hostfwd listeners: bind() then still fails on a port that any
	 * socket listens on (0.0.0.0 included), but not on one whose last
	 * connection lingers in TIME_WAIT, which would not stop the forward
	 * either.  Without it, a course removed and made again within a
	 * minute would find its own old ports "in use" and shift.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1) {
		snprintf(err, errlen, "setsockopt: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
		rc = 1;
	else if (errno == EADDRINUSE)
		rc = 0;
	else if (errno == EADDRNOTAVAIL) {
		snprintf(err, errlen, "%s is not an address of this host (check"
		    " [network] public_ips)", ip);
		rc = -1;
	} else if (errno == EACCES) {
		snprintf(err, errlen, "%s:%u: ports below 1024 need root", ip,
		    port);
		rc = -1;
	} else {
		snprintf(err, errlen, "cannot bind %s:%u: %s", ip, port,
		    strerror(errno));
		rc = -1;
	}
	close(fd);
	return rc;
}

/*
 * Is one of slot's ports the port of another service's occupied slot on
 * the same IP (taken[] marks slots held by VMs or chosen just now)?
 */
static int
plan_crosses(const struct pf_service *svc, size_t nsvc,
    const unsigned char *taken, int max, int slot)
{
	size_t	s, t;
	long	j;

	for (s = 0; s < nsvc; s++)
		for (t = 0; t < nsvc; t++) {
			if (s == t || strcmp(svc[s].listen_ip,
			    svc[t].listen_ip) != 0)
				continue;
			j = (long)svc[s].base + slot - svc[t].base;
			if (j >= 1 && j <= max && taken[j])
				return 1;
		}
	return 0;
}

/* "ssh on 127.0.0.1 from 22001, http on 127.0.0.2 from 8001" */
static void
plan_describe(const struct pf_service *svc, size_t nsvc, int max, char *out,
    size_t outlen)
{
	size_t	i, len;

	out[0] = '\0';
	for (i = 0; i < nsvc; i++) {
		len = strlen(out);
		snprintf(out + len, outlen - len, "%s%s on %s from %u up to %d",
		    i ? ", " : "", svc[i].name, svc[i].listen_ip,
		    svc[i].base + 1, svc[i].base + max);
	}
}

/* Add "; part" or ", part" to the explanation in what. */
static void plan_append(char *, size_t, const char *, ...)
    __attribute__((__format__(__printf__, 3, 4)));

static void
plan_append(char *what, size_t len, const char *fmt, ...)
{
	size_t	n = strlen(what);
	va_list	ap;

	snprintf(what + n, len - n, "%s", strchr(what, ';') ? ", " : "; ");
	n = strlen(what);
	va_start(ap, fmt);
	vsnprintf(what + n, len - n, fmt, ap);
	va_end(ap);
}

int
plan_allocate(const struct pf_service *svc, size_t nsvc,
    const unsigned char *used, size_t nused, int count, int *slots,
    char *err, size_t errlen)
{
	unsigned char	*taken = NULL;
	char		 what[256];
	int		 max, slot, got = 0, held = 0, busy = 0, crossed = 0;
	int		 rc = -1, r, inuse;
	size_t		 s, t;

	if (count < 0) {
		snprintf(err, errlen, "cannot allocate %d slots", count);
		return -1;
	}
	if (nsvc == 0) {
		snprintf(err, errlen, "no service is published (labd.ini"
		    " [publish] is empty)");
		return -1;
	}
	for (s = 0; s < nsvc; s++)
		for (t = 0; t < s; t++)
			if (strcmp(svc[s].listen_ip, svc[t].listen_ip) == 0 &&
			    svc[s].base == svc[t].base) {
				snprintf(err, errlen, "%s and %s both have base"
				    " %s:%u", svc[t].name, svc[s].name,
				    svc[s].listen_ip, svc[s].base);
				return -1;
			}
	if (count == 0)
		return 0;
	max = plan_max_slot(svc, nsvc);
	if ((taken = calloc((size_t)max + 1, 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (slot = 1; slot <= max && (size_t)slot < nused; slot++)
		taken[slot] = used[slot] != 0;
	/*
	 * When the course fits, this stops at the count-th free slot.  When
	 * it does not, it walks every slot so that the message can say what
	 * is in the way.
	 */
	for (slot = 1; slot <= max; slot++) {
		if ((size_t)slot < nused && used[slot]) {
			held++;
			continue;
		}
		if (plan_crosses(svc, nsvc, taken, max, slot)) {
			crossed++;
			continue;
		}
		for (s = 0, inuse = 0; s < nsvc && !inuse; s++) {
			r = plan_port_free(svc[s].listen_ip,
			    (uint16_t)plan_port(svc[s].base, slot), err, errlen);
			if (r == -1)
				goto fail;
			inuse = r == 0;
		}
		if (inuse) {
			busy++;
			continue;
		}
		if (got < count) {
			slots[got] = slot;
			taken[slot] = 1;
		}
		if (++got == count)
			break;
	}
	if (got < count) {
		plan_describe(svc, nsvc, max, what, sizeof(what));
		if (busy > 0)
			plan_append(what, sizeof(what), "%d in use on the host",
			    busy);
		if (held > 0)
			plan_append(what, sizeof(what), "%d held by other VMs",
			    held);
		if (crossed > 0)
			plan_append(what, sizeof(what), "%d meet another"
			    " service's ports", crossed);
		snprintf(err, errlen, "course needs %d slots, only %d %s free"
		    " (%s); free some ports, remove a course, or set a lower"
		    " base in labd.ini [publish]", count, got,
		    got == 1 ? "is" : "are", what);
		goto fail;
	}
	rc = 0;
fail:
	free(taken);
	return rc;
}

int
plan_rules(const struct pf_service *svc, size_t nsvc, int slot,
    const char *const *guest_names, const uint16_t *guest_ports,
    size_t nguest, struct pf_rule *out, size_t outlen, char *err,
    size_t errlen)
{
	size_t	i, k, n = 0, off = 0;
	int	port;

	if (nguest > outlen) {
		snprintf(err, errlen, "template publishes %zu ports, at most %zu",
		    nguest, outlen);
		return -1;
	}
	for (i = 0; i < nguest; i++) {
		for (k = 0; k < nsvc; k++)
			if (strcmp(svc[k].name, guest_names[i]) == 0)
				break;
		if (k == nsvc)
			continue;
		if ((port = plan_port(svc[k].base, slot)) == -1) {
			snprintf(err, errlen, "slot %d has no %s port (base %u:"
			    " ports end at 65535)", slot, svc[k].name,
			    svc[k].base);
			return -1;
		}
		memset(&out[n], 0, sizeof(out[n]));
		snprintf(out[n].service, sizeof(out[n].service), "%s",
		    svc[k].name);
		snprintf(out[n].listen_ip, sizeof(out[n].listen_ip), "%s",
		    svc[k].listen_ip);
		out[n].port = (uint16_t)port;
		out[n].guest_port = guest_ports[i];
		n++;
	}
	if (n == 0 && nguest > 0) {
		off = snprintf(err, errlen, "template publishes");
		for (i = 0; i < nguest && off < errlen; i++)
			off += snprintf(err + off, errlen - off, "%s %s:%u",
			    i ? "," : "", guest_names[i], guest_ports[i]);
		if (off < errlen)
			snprintf(err + off, errlen - off, " but labd.ini"
			    " [publish] names none of them");
		return -1;
	}
	return (int)n;
}
