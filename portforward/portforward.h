/* SPDX-License-Identifier: ISC */
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

/* nft.c */
#define PF_CIDRS_MAX	64			/* elements of an allow_from list */
#define PF_CIDRSLEN	(PF_CIDRS_MAX * 19 + 1)	/* its canon: "255.255.255.255/32," each */

struct nft_course {
	int		 id;		/* unique, > 0; sets are named c<id>_... */
	const char	*name;		/* [a-z0-9-], for comments */
	int		 internet;	/* 1: its VMs' egress is forwarded and masqueraded */
	int		 isolation;	/* 1: its VMs reach no other VM; 0: "team": they reach each other (not other courses) */
	const char	*allow_from;	/* NULL or "": anyone; else canonical "CIDR,CIDR" from nft_cidrs_parse */
	const char	*allow_nets;	/* NULL or "": none; else nft_lan_parse's: private networks its VMs reach (with internet) */
};
struct nft_vm {
	int		 course_id;
	const char	*tap;		/* "ltap7" */
	const char	*ip;		/* the guest's address, "10.77.0.9" */
	int		 forward;	/* 1: DNAT its ports; 0: not (suspended: labd listens itself) */
	const char	*mac;		/* its NIC's "52:54:00:12:34:56" (bridge mode) */
	uint32_t	 uid;		/* its QEMU's uid (user mode); 0: none */
};
struct nft_fwd {
	size_t		 vm;		/* index into plan->vms */
	const char	*public_ip;
	uint16_t	 port;		/* public port */
	uint16_t	 guest_port;
};
#define PF_RESOLVERS_MAX	8	/* the host's DNS servers a plan may name */

struct nft_plan {
	int			 bridge_mode;	/* 0: user mode: no NAT, no bridge table */
	const char		*bridge;	/* "labbr0" */
	const char		*subnet;	/* "10.77.0.0/16" */
	const struct nft_course	*courses;
	size_t			 ncourses;
	const struct nft_vm	*vms;
	size_t			 nvms;
	const struct nft_fwd	*fwds;
	size_t			 nfwds;
	/*
	 * The host's side.  Zero is the strict choice for each: a plan that
	 * leaves them out gets it.
	 */
	uint32_t		 self_uid;	/* labd's euid: its own sockets pass the allow_from gate */
	uint32_t		 vm_uid_first;	/* the uids QEMU runs as: VM n's is vm_uid_first + n */
	uint32_t		 vm_uids;	/* how many; 0: no rule for them (labd not root) */
	const char *const	*resolvers;	/* the host's DNS servers (resolv.conf), IPv4 or IPv6 */
	size_t			 nresolvers;
	int			 host_routes;	/* 1: IPv4 forwarding was on before labd; 0: labd turned it on, for the bridge alone */
};
/* The whole transaction text (malloc'd), or NULL with err set (bad input: names the field). */
char	*nft_render(const struct nft_plan *, char *err, size_t errlen);
/* Apply text as one transaction with libnftables; err gets nft's own message on failure. */
int	 nft_apply(const char *text, char *err, size_t errlen);
/*
 * 1 when the kernel holds labd's tables (inet, and bridge in bridge
 * mode), 0 when one is gone (an "nft flush ruleset"), -1 when it cannot
 * tell (err says why).
 */
int	 nft_tables_present(int bridge_mode, char *err, size_t errlen);
/* Text that removes both labd tables (and nothing else). */
const char *nft_remove_text(void);
/*
 * "10.1.2.0/24, 198.51.100.7" -> "10.1.2.0/24,198.51.100.7/32" in canon;
 * IPv4 only; an element with host bits set past its prefix, a bad prefix,
 * garbage, one overlapping an earlier element or more than PF_CIDRS_MAX
 * elements is an error naming that element.  Empty string -> empty canon,
 * 0.
 */
int	 nft_cidrs_parse(const char *list, char *canon, size_t canonlen,
	    char *err, size_t errlen);
/*
 * nft_cidrs_parse() of networks a course's VMs may reach although private
 * or link-local: each inside 10/8, 100.64/10, 169.254/16, 172.16/12 or
 * 192.168/16, else an error naming it.
 */
int	 nft_lan_parse(const char *list, char *canon, size_t canonlen,
	    char *err, size_t errlen);

#endif /* LABD_PORTFORWARD_H */
