/*
 * portforward.h - the port plan and the backends that realise it.
 *
 * Two public IPs serve a whole class: each published service (ssh, http,
 * ...) has a listen IP and a base port, and the VM in slot k is reached on
 * base + k.  The plan is pure arithmetic plus a check that a port is free
 * on the host; persisting it is the caller's business.  The user-mode
 * backend turns a plan entry into QEMU hostfwd rules.
 *
 * Functions return 0 / -1 (or a count) and fill err with a message a
 * person can act on.  Nothing here knows of labd, courses or databases.
 */
#ifndef LABD_PORTFORWARD_H
#define LABD_PORTFORWARD_H

#include <stddef.h>
#include <stdint.h>

#define PF_ERRLEN	512
#define PF_NAMELEN	32
#define PF_IPLEN	64

/* A service published by labd.ini's [publish]: ssh = 203.0.113.10:22000 */
struct pf_service {
	char		name[PF_NAMELEN];
	char		listen_ip[PF_IPLEN];
	uint16_t	base;
};

/* One mapping of the plan: (listen_ip, port) -> (slot's VM, guest_port). */
struct pf_rule {
	char		service[PF_NAMELEN];
	char		listen_ip[PF_IPLEN];
	uint16_t	port;
	uint16_t	guest_port;
};

/* plan.c */
/* base + slot, or -1 when it does not fit in 1..65535. */
int	plan_port(uint16_t base, int slot);
/* The largest slot for which every service still has a port. */
int	plan_max_slot(const struct pf_service *, size_t nsvc);
/*
 * Is ip:port free on this host for TCP (a bind() without SO_REUSEADDR)?
 * 1 free, 0 in use, -1 error (err says why, e.g. the IP is not local).
 */
int	plan_port_free(const char *ip, uint16_t port, char *err, size_t errlen);
/*
 * Allocate count slots, lowest first, skipping slots marked in used[]
 * (used has nused entries, indexed by slot) and slots any of whose ports is
 * in use on the host.  Fills slots[0..count-1].  When the course does not
 * fit, returns -1 and err says so with the numbers ("course needs 40
 * slots, only 12 free: ssh on 127.0.0.1 uses 22001..22999 ...").
 */
int	plan_allocate(const struct pf_service *, size_t nsvc,
	    const unsigned char *used, size_t nused, int count, int *slots,
	    char *err, size_t errlen);
/*
 * The rules of one slot for the guest ports a template publishes
 * ("ssh:22,http:80" parsed by the caller into names and ports).  The
 * template says what a guest offers, labd.ini what the host publishes: a
 * guest service with no [publish] entry is left unpublished, but a
 * template none of whose services is published is an error naming them.
 * Returns the number of rules written to out (at most outlen), -1 on
 * error.
 */
int	plan_rules(const struct pf_service *, size_t nsvc, int slot,
	    const char *const *guest_names, const uint16_t *guest_ports,
	    size_t nguest, struct pf_rule *out, size_t outlen,
	    char *err, size_t errlen);

/* user.c */
/* QEMU -netdev user hostfwd value for one rule: "tcp:127.0.0.1:22001-:22". */
int	pf_user_hostfwd(const struct pf_rule *, char *out, size_t outlen);

#endif /* LABD_PORTFORWARD_H */
