/* SPDX-License-Identifier: ISC */
/*
 * nft.c - labd's nftables tables, rendered whole from the plan.
 *
 * labd owns "inet labd" (the allow_from gate, DNAT of the port plan,
 * masquerade, what VMs may reach through the host, and what the uids QEMU
 * runs as may connect to) and "bridge labd" (what VMs may send each other
 * on the bridge).  Every change renders both
 * in full and applies them as one transaction that first adds and deletes
 * them, so it works whether or not they exist, and the kernel takes all of
 * it or none.  Nothing outside these tables is touched, and every base
 * chain has policy accept: only our own drops take effect, so the host's
 * other rules (its SSH, say) are not ours to break.
 *
 * Every string that reaches the text is checked first: interface and
 * course names against a strict alphabet, addresses with inet_pton (which
 * takes digits and dots only, and one spelling per address: no leading
 * zeros, so equal strings are equal addresses), so nothing from a roster
 * or a database can smuggle nft syntax in.  Elements are written in input order, so equal
 * plans render byte-identical text and the caller may skip an apply when
 * the text did not change.
 */
#include <sys/mman.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nftables/libnftables.h>

#include "portforward/portforward.h"

#define NFT_IFNAMELEN	16	/* IFNAMSIZ, with the NUL */
#define NFT_COURSELEN	64
#define NFT_SHOW	"64"	/* bytes of a bad value quoted back */

/*
 * The connections one VM may hold through the host at once (bridge mode:
 * by its address; user mode: by its QEMU's uid).  Each is an entry of the
 * host's conntrack table, which holds nf_conntrack_max of them for every
 * VM and the host together (65536 on a host of 4 GiB, more with more
 * RAM); a student's apt, git or browser uses a few dozen at once, so 512
 * is ample for one and lets a class of a hundred VMs at full tilt leave
 * room for the host.  One VM cannot fill the table for the others.
 */
#define NFT_VM_CONNS	"512"

/*
 * What a VM may not reach even when its course has internet: the host's
 * loopback, private networks (RFC 1918, and the carrier-grade NAT range
 * RFC 6598 that a host's uplink may be in), link-local ones (a cloud's
 * metadata service is 169.254.169.254), "this network", multicast and
 * the reserved range with the broadcast address.
 */
static const char *const lan4[] = {
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
	"169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4",
	"240.0.0.0/4", NULL
};
/* Of those, what a course may open to its VMs (allow_nets). */
static const char *const lan4_open[] = {
	"10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12",
	"192.168.0.0/16", NULL
};
static const char *const lan6[] = {
	"::/127", "fc00::/7", "fe80::/10", "ff00::/8", NULL
};

/* Add then delete: works whether or not the tables exist. */
static const char nft_idiom[] =
    "table inet labd\n"
    "delete table inet labd\n"
    "table bridge labd\n"
    "delete table bridge labd\n";

static const char nft_comment[] =
    "managed by labd: rewritten whole on every change";

struct nbuf {
	char	*p;
	size_t	 len, cap;
	int	 oom;
};

static void nb_printf(struct nbuf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
nb_vprintf(struct nbuf *b, const char *fmt, va_list ap)
{
	va_list	 aq;
	char	*np;
	size_t	 ncap;
	int	 n;

	if (b->oom)
		return;
	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap == 0 ? 4096 : b->cap;
		while (b->len + n + 1 > ncap)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	b->len += n;
}

static void
nb_printf(struct nbuf *b, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	nb_vprintf(b, fmt, ap);
	va_end(ap);
}

/* One element line of a set body. */
static void nb_elem(struct nbuf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
nb_elem(struct nbuf *b, const char *fmt, ...)
{
	va_list	ap;

	nb_printf(b, "\t\t\t");
	va_start(ap, fmt);
	nb_vprintf(b, fmt, ap);
	va_end(ap);
	nb_printf(b, ",\n");
}

/*
 * A set or map; elems holds its element lines.  An empty one is declared
 * without "elements": nft refuses "elements = { }".
 */
static void
nb_set(struct nbuf *b, const char *kw, const char *name, const char *type,
    const char *flags, const char *comment, struct nbuf *elems)
{
	nb_printf(b, "\n\t%s %s {\n\t\ttype %s\n", kw, name, type);
	if (flags != NULL)
		nb_printf(b, "\t\tflags %s\n", flags);
	if (comment != NULL)
		nb_printf(b, "\t\tcomment \"%s\"\n", comment);
	if (elems->len > 0)
		nb_printf(b, "\t\telements = {\n%s\t\t}\n", elems->p);
	nb_printf(b, "\t}\n");
	if (elems->oom)
		b->oom = 1;
	free(elems->p);
	memset(elems, 0, sizeof(*elems));
}

/* --- checks ---------------------------------------------------------------- */

static int
ip4_parse(const char *s, uint32_t *h)
{
	struct in_addr	a;

	if (s == NULL || inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*h = ntohl(a.s_addr);
	return 0;
}

static uint32_t
prefix_mask(int plen)
{
	return plen == 0 ? 0 : 0xffffffffu << (32 - plen);
}

/* One "A.B.C.D[/N]"; a bare address is a /32. */
static int
cidr_parse(const char *el, uint32_t *net, int *plen, char *err,
    size_t errlen)
{
	char		 addr[INET_ADDRSTRLEN + 4], show[INET_ADDRSTRLEN];
	const char	*slash, *p;
	struct in_addr	 a;
	size_t		 alen;
	int		 n = 32;

	if (strchr(el, ':') != NULL) {
		snprintf(err, errlen, "'%." NFT_SHOW "s' is IPv6; only IPv4"
		    " addresses and networks are supported", el);
		return -1;
	}
	if ((slash = strchr(el, '/')) != NULL) {
		for (p = slash + 1, n = 0; *p >= '0' && *p <= '9' && n <= 32;
		    p++)
			n = n * 10 + (*p - '0');
		if (p == slash + 1 || p - slash > 3 || *p != '\0' || n > 32) {
			snprintf(err, errlen, "'%." NFT_SHOW "s': the prefix"
			    " is not /0 to /32", el);
			return -1;
		}
	}
	alen = slash != NULL ? (size_t)(slash - el) : strlen(el);
	if (alen < sizeof(addr))
		snprintf(addr, sizeof(addr), "%.*s", (int)alen, el);
	if (alen >= sizeof(addr) || ip4_parse(addr, net) == -1) {
		snprintf(err, errlen, "'%." NFT_SHOW "s' is not an IPv4 address"
		    " or network (A.B.C.D or A.B.C.D/N)", el);
		return -1;
	}
	if ((*net & ~prefix_mask(n)) != 0) {
		a.s_addr = htonl(*net & prefix_mask(n));
		inet_ntop(AF_INET, &a, show, sizeof(show));
		snprintf(err, errlen, "'%." NFT_SHOW "s' has host bits set past"
		    " /%d (did you mean %s/%d?)", el, n, show, n);
		return -1;
	}
	*plen = n;
	return 0;
}

/* A name of 1 to max-1 bytes, each in ok; what = the field, for err. */
static int
name_check(const char *what, const char *s, size_t max, const char *ok,
    const char *okdesc, char *err, size_t errlen)
{
	if (s == NULL || *s == '\0') {
		snprintf(err, errlen, "%s is missing", what);
		return -1;
	}
	if (strlen(s) >= max || strspn(s, ok) != strlen(s) ||
	    strcmp(s, ".") == 0 || strcmp(s, "..") == 0) {
		snprintf(err, errlen, "%s '%." NFT_SHOW "s' is not a name of"
		    " 1-%zu %s", what, s, max - 1, okdesc);
		return -1;
	}
	return 0;
}

static const char ifname_chars[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
static const char course_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789-";

static int
ifname_check(const char *what, const char *s, char *err, size_t errlen)
{
	return name_check(what, s, NFT_IFNAMELEN, ifname_chars,
	    "of A-Z, a-z, 0-9, '_', '.' and '-'", err, errlen);
}

/* "52:54:00:12:34:56": six pairs of lower-case hex, unicast. */
static int
mac_check(const char *what, const char *s, char *err, size_t errlen)
{
	size_t	i;

	if (s == NULL || *s == '\0') {
		snprintf(err, errlen, "%s is missing", what);
		return -1;
	}
	for (i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : strchr("0123456789abcdef",
		    s[i]) == NULL || s[i] == '\0')
			break;
	if (i != 17 || s[17] != '\0' || strchr("13579bdf", s[1]) != NULL) {
		snprintf(err, errlen, "%s '%." NFT_SHOW "s' is not a unicast"
		    " MAC address in lower case", what, s);
		return -1;
	}
	return 0;
}

static int
ip_check(const char *what, const char *s, uint32_t *h, char *err,
    size_t errlen)
{
	if (ip4_parse(s, h) == 0)
		return 0;
	if (s == NULL)
		snprintf(err, errlen, "%s is missing", what);
	else
		snprintf(err, errlen, "%s '%." NFT_SHOW "s' is not an IPv4"
		    " address", what, s);
	return -1;
}

static const struct nft_course *
course_find(const struct nft_plan *p, int id)
{
	size_t	i;

	for (i = 0; i < p->ncourses; i++)
		if (p->courses[i].id == id)
			return &p->courses[i];
	return NULL;
}

static const struct nft_course *
fwd_course(const struct nft_plan *p, const struct nft_fwd *f)
{
	return course_find(p, p->vms[f->vm].course_id);
}

static int
has_allow(const struct nft_course *c)
{
	return c->allow_from != NULL && c->allow_from[0] != '\0';
}

/* Private networks its VMs reach: only with internet. */
static int
has_nets(const struct nft_course *c)
{
	return c->internet && c->allow_nets != NULL &&
	    c->allow_nets[0] != '\0';
}

static int
courses_check(const struct nft_plan *p, char *err, size_t errlen)
{
	const struct nft_course	*c;
	char			 what[64], canon[PF_CIDRSLEN], e[PF_ERRLEN];
	size_t			 i, j;

	for (i = 0; i < p->ncourses; i++) {
		c = &p->courses[i];
		if (c->id <= 0) {
			snprintf(err, errlen, "courses[%zu].id %d is not above"
			    " 0", i, c->id);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (p->courses[j].id == c->id) {
				snprintf(err, errlen, "courses[%zu].id %d is"
				    " also courses[%zu]'s", i, c->id, j);
				return -1;
			}
		snprintf(what, sizeof(what), "courses[%zu].name", i);
		if (name_check(what, c->name, NFT_COURSELEN, course_chars,
		    "of a-z, 0-9 and '-'", err, errlen) == -1)
			return -1;
		if (has_allow(c) && nft_cidrs_parse(c->allow_from, canon,
		    sizeof(canon), e, sizeof(e)) == -1) {
			snprintf(err, errlen, "courses[%zu].allow_from (%s):"
			    " %s", i, c->name, e);
			return -1;
		}
		if (has_nets(c) && nft_lan_parse(c->allow_nets, canon,
		    sizeof(canon), e, sizeof(e)) == -1) {
			snprintf(err, errlen, "courses[%zu].allow_nets (%s):"
			    " %s", i, c->name, e);
			return -1;
		}
	}
	return 0;
}

/* Taps and guest addresses are embedded only in bridge mode. */
static int
vms_check(const struct nft_plan *p, char *err, size_t errlen)
{
	const struct nft_vm	*v;
	char			 what[64], e[PF_ERRLEN];
	uint32_t		 net = 0, h;
	size_t			 i, j;
	int			 plen = 0;

	if (p->bridge_mode) {
		if (ifname_check("bridge", p->bridge, err, errlen) == -1)
			return -1;
		if (p->subnet == NULL || strchr(p->subnet, '/') == NULL) {
			snprintf(err, errlen, "subnet '%." NFT_SHOW "s' is not"
			    " A.B.C.D/N", p->subnet ? p->subnet : "");
			return -1;
		}
		if (cidr_parse(p->subnet, &net, &plen, e, sizeof(e)) == -1) {
			snprintf(err, errlen, "subnet: %s", e);
			return -1;
		}
	}
	for (i = 0; i < p->nvms; i++) {
		v = &p->vms[i];
		if (course_find(p, v->course_id) == NULL) {
			snprintf(err, errlen, "vms[%zu].course_id %d is no"
			    " course of the plan", i, v->course_id);
			return -1;
		}
		if (!p->bridge_mode)
			continue;
		snprintf(what, sizeof(what), "vms[%zu].tap", i);
		if (ifname_check(what, v->tap, err, errlen) == -1)
			return -1;
		snprintf(what, sizeof(what), "vms[%zu].ip", i);
		if (ip_check(what, v->ip, &h, err, errlen) == -1)
			return -1;
		snprintf(what, sizeof(what), "vms[%zu].mac", i);
		if (mac_check(what, v->mac, err, errlen) == -1)
			return -1;
		if ((h & prefix_mask(plen)) != net) {
			snprintf(err, errlen, "vms[%zu].ip %s is outside the"
			    " subnet %s", i, v->ip, p->subnet);
			return -1;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(p->vms[j].tap, v->tap) == 0) {
				snprintf(err, errlen, "vms[%zu].tap %s is also"
				    " vms[%zu]'s", i, v->tap, j);
				return -1;
			}
			if (strcmp(p->vms[j].ip, v->ip) == 0) {
				snprintf(err, errlen, "vms[%zu].ip %s is also"
				    " vms[%zu]'s", i, v->ip, j);
				return -1;
			}
		}
	}
	return 0;
}

/* A public ip:port twice would be a duplicate key: nft says "File exists". */
static int
fwds_check(const struct nft_plan *p, char *err, size_t errlen)
{
	const struct nft_fwd	*f;
	char			 what[64];
	uint32_t		 h;
	size_t			 i, j;

	for (i = 0; i < p->nfwds; i++) {
		f = &p->fwds[i];
		if (f->vm >= p->nvms) {
			snprintf(err, errlen, "fwds[%zu].vm %zu is past the %zu"
			    " VMs of the plan", i, f->vm, p->nvms);
			return -1;
		}
		snprintf(what, sizeof(what), "fwds[%zu].public_ip", i);
		if (ip_check(what, f->public_ip, &h, err, errlen) == -1)
			return -1;
		if (f->port == 0 || f->guest_port == 0) {
			snprintf(err, errlen, "fwds[%zu]: port %u -> %u: ports"
			    " are 1-65535", i, f->port, f->guest_port);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (p->fwds[j].port == f->port &&
			    strcmp(p->fwds[j].public_ip, f->public_ip) == 0) {
				snprintf(err, errlen, "fwds[%zu]: %s:%u is"
				    " also fwds[%zu]'s", i, f->public_ip,
				    f->port, j);
				return -1;
			}
	}
	return 0;
}

/*
 * The uids of the VMs must leave out root and labd itself: their sockets
 * would be refused what the VMs are.  A resolver is an address, IPv4 or
 * IPv6, that inet_pton reads (no "%scope").
 */
static int
host_check(const struct nft_plan *p, char *err, size_t errlen)
{
	struct in6_addr	a6;
	struct in_addr	a4;
	uint32_t	last;
	size_t		i;

	if (p->vm_uids > 0) {
		last = p->vm_uid_first + (p->vm_uids - 1);
		if (p->vm_uid_first == 0 || last < p->vm_uid_first) {
			snprintf(err, errlen, "vm uids %u + %u: the range holds"
			    " root or wraps", p->vm_uid_first, p->vm_uids);
			return -1;
		}
		if (p->self_uid >= p->vm_uid_first && p->self_uid <= last) {
			snprintf(err, errlen, "self uid %u is in the vm uids"
			    " %u-%u", p->self_uid, p->vm_uid_first, last);
			return -1;
		}
	}
	if (p->nresolvers > 0 && p->resolvers == NULL) {
		snprintf(err, errlen, "plan: resolvers is NULL but counted");
		return -1;
	}
	if (p->nresolvers > PF_RESOLVERS_MAX) {
		snprintf(err, errlen, "%zu resolvers: at most %d",
		    p->nresolvers, PF_RESOLVERS_MAX);
		return -1;
	}
	for (i = 0; i < p->nresolvers; i++)
		if (p->resolvers[i] == NULL ||
		    (inet_pton(AF_INET, p->resolvers[i], &a4) != 1 &&
		    inet_pton(AF_INET6, p->resolvers[i], &a6) != 1)) {
			snprintf(err, errlen, "resolvers[%zu] '%." NFT_SHOW
			    "s' is not an IPv4 or IPv6 address", i,
			    p->resolvers[i] ? p->resolvers[i] : "");
			return -1;
		}
	return 0;
}

static int
plan_check(const struct nft_plan *p, char *err, size_t errlen)
{
	if ((p->ncourses > 0 && p->courses == NULL) ||
	    (p->nvms > 0 && p->vms == NULL) ||
	    (p->nfwds > 0 && p->fwds == NULL)) {
		snprintf(err, errlen, "plan: an array is NULL but counted");
		return -1;
	}
	if (courses_check(p, err, errlen) == -1 ||
	    vms_check(p, err, errlen) == -1 ||
	    fwds_check(p, err, errlen) == -1 ||
	    host_check(p, err, errlen) == -1)
		return -1;
	return 0;
}

/* --- sets ------------------------------------------------------------------ */

/* Per course with allow_from: who may come in, and to which ip . port. */
static void
sets_course(struct nbuf *b, const struct nft_plan *p)
{
	const struct nft_course	*c;
	struct nbuf		 e = { 0 };
	char			 canon[PF_CIDRSLEN], err[PF_ERRLEN], name[32];
	char			*el, *next;
	size_t			 i, j;

	for (i = 0; i < p->ncourses; i++) {
		c = &p->courses[i];
		if (!has_allow(c))
			continue;
		/* Checked by courses_check: cannot fail here. */
		nft_cidrs_parse(c->allow_from, canon, sizeof(canon), err,
		    sizeof(err));
		for (el = canon; el != NULL; el = next) {
			if ((next = strchr(el, ',')) != NULL)
				*next++ = '\0';
			nb_elem(&e, "%s", el);
		}
		snprintf(name, sizeof(name), "c%d_allow", c->id);
		nb_set(b, "set", name, "ipv4_addr", "interval", c->name, &e);

		for (j = 0; j < p->nfwds; j++)
			if (fwd_course(p, &p->fwds[j]) == c)
				nb_elem(&e, "%s . %u", p->fwds[j].public_ip,
				    p->fwds[j].port);
		snprintf(name, sizeof(name), "c%d_ports", c->id);
		nb_set(b, "set", name, "ipv4_addr . inet_service", NULL,
		    c->name, &e);
	}
}

static void
sets_nat(struct nbuf *b, const struct nft_plan *p)
{
	const struct nft_course	*c;
	const struct nft_fwd	*f;
	struct nbuf		 e = { 0 };
	char			 name[32];
	size_t			 i, j;

	for (i = 0; i < p->nvms; i++)
		if (course_find(p, p->vms[i].course_id)->internet)
			nb_elem(&e, "%s", p->vms[i].ip);
	nb_set(b, "set", "internet", "ipv4_addr", NULL,
	    "guests whose course has internet", &e);

	for (i = 0; i < p->nfwds; i++) {
		f = &p->fwds[i];
		if (p->vms[f->vm].forward)
			nb_elem(&e, "%s . %u : %s . %u", f->public_ip,
			    f->port, p->vms[f->vm].ip, f->guest_port);
	}
	nb_set(b, "map", "plan", "ipv4_addr . inet_service : ipv4_addr ."
	    " inet_service", NULL, "public ip . port : guest ip . port", &e);

	for (i = 0; i < p->ncourses; i++) {
		c = &p->courses[i];
		if (c->isolation)
			continue;
		for (j = 0; j < p->nvms; j++)
			if (p->vms[j].course_id == c->id)
				nb_elem(&e, "%s", p->vms[j].ip);
		snprintf(name, sizeof(name), "c%d_team_ip", c->id);
		nb_set(b, "set", name, "ipv4_addr", NULL, c->name, &e);
	}
}

static void
sets_bridge(struct nbuf *b, const struct nft_plan *p)
{
	const struct nft_course	*c;
	struct nbuf		 e = { 0 };
	char			 name[32];
	size_t			 i, j;

	for (i = 0; i < p->nvms; i++)
		nb_elem(&e, "\"%s\"", p->vms[i].tap);
	nb_set(b, "set", "taps", "ifname", NULL, NULL, &e);

	for (i = 0; i < p->nvms; i++)
		nb_elem(&e, "\"%s\" . %s", p->vms[i].tap, p->vms[i].ip);
	nb_set(b, "set", "vm_src", "ifname . ipv4_addr", NULL,
	    "the one address each tap may send from", &e);

	for (i = 0; i < p->nvms; i++)
		nb_elem(&e, "\"%s\" . %s", p->vms[i].tap, p->vms[i].mac);
	nb_set(b, "set", "vm_mac", "ifname . ether_addr", NULL,
	    "the one MAC each tap may send from", &e);

	for (i = 0; i < p->ncourses; i++) {
		c = &p->courses[i];
		if (c->isolation)
			continue;
		for (j = 0; j < p->nvms; j++)
			if (p->vms[j].course_id == c->id)
				nb_elem(&e, "\"%s\"", p->vms[j].tap);
		snprintf(name, sizeof(name), "c%d_team", c->id);
		nb_set(b, "set", name, "ifname", NULL, c->name, &e);
	}
}

/* A set that ct count keys by: the connections each key holds. */
static void
nb_countset(struct nbuf *b, const char *name, const char *type,
    const char *comment)
{
	nb_printf(b, "\n\tset %s {\n\t\ttype %s\n\t\tsize 65536\n"
	    "\t\tflags dynamic\n\t\tcomment \"%s\"\n\t}\n", name, type,
	    comment);
}

/* The resolvers of one family, in canon, each once. */
static void
resolvers_elems(struct nbuf *e, const struct nft_plan *p, int af)
{
	unsigned char	a[sizeof(struct in6_addr)];
	unsigned char	seen[PF_RESOLVERS_MAX][sizeof(struct in6_addr)];
	char		show[INET6_ADDRSTRLEN];
	size_t		i, j, n = 0;
	size_t		len = af == AF_INET ? sizeof(struct in_addr) :
			    sizeof(struct in6_addr);

	for (i = 0; i < p->nresolvers && n < PF_RESOLVERS_MAX; i++) {
		if (inet_pton(af, p->resolvers[i], a) != 1)
			continue;
		for (j = 0; j < n && memcmp(seen[j], a, len) != 0; j++)
			;
		if (j < n)
			continue;
		memcpy(seen[n++], a, len);
		inet_ntop(af, a, show, sizeof(show));
		nb_elem(e, "%s", show);
	}
}

/* What no VM reaches, the host's DNS servers, the counts per VM. */
static void
sets_host(struct nbuf *b, const struct nft_plan *p)
{
	struct nbuf	e = { 0 };
	size_t		i;

	if (!p->bridge_mode && p->vm_uids == 0)
		return;
	for (i = 0; lan4[i] != NULL; i++)
		nb_elem(&e, "%s", lan4[i]);
	nb_set(b, "set", "lan", "ipv4_addr", "interval", "not for VMs,"
	    " internet or not", &e);
	if (p->bridge_mode)
		nb_countset(b, "vm_conns", "ipv4_addr", "connections per"
		    " guest address");
	if (p->vm_uids == 0)
		return;
	for (i = 0; lan6[i] != NULL; i++)
		nb_elem(&e, "%s", lan6[i]);
	nb_set(b, "set", "lan6", "ipv6_addr", "interval", "not for VMs,"
	    " internet or not", &e);
	resolvers_elems(&e, p, AF_INET);
	nb_set(b, "set", "dns", "ipv4_addr", NULL, "the host's DNS servers",
	    &e);
	resolvers_elems(&e, p, AF_INET6);
	nb_set(b, "set", "dns6", "ipv6_addr", NULL, "the host's DNS servers",
	    &e);
	nb_countset(b, "vm_uid_conns", "uid", "connections per VM uid");
}

/* --- chains ---------------------------------------------------------------- */

/*
 * One drop per allow_from course: every packet, so a change cuts
 * sessions.  In bridge mode a guest's new connections are counted here
 * too, before anything else spends work on them.
 */
static void
rules_gate(struct nbuf *b, const struct nft_plan *p)
{
	size_t	i;

	if (p->bridge_mode)
		nb_printf(b, "\t\tiifname \"%s\" ct state new add @vm_conns"
		    " { ip saddr ct count over " NFT_VM_CONNS " } drop comment"
		    " \"connections per VM\"\n", p->bridge);
	for (i = 0; i < p->ncourses; i++)
		if (has_allow(&p->courses[i]))
			nb_printf(b, "\t\tip daddr . tcp dport @c%d_ports"
			    " ip saddr != @c%d_allow drop comment \"%s\"\n",
			    p->courses[i].id, p->courses[i].id,
			    p->courses[i].name);
}

/*
 * With br_netfilter loaded (Docker loads it) and bridge-nf-call-iptables
 * on, frames bridged between two taps also cross the inet forward hook,
 * as from the bridge to the bridge: a team's own traffic, which the
 * bridge table has let through, must pass "VM to VM via the host".
 */
static void
rules_team_ip(struct nbuf *b, const struct nft_plan *p)
{
	size_t	i;

	for (i = 0; i < p->ncourses; i++)
		if (!p->courses[i].isolation)
			nb_printf(b, "\t\tiifname \"%s\" oifname \"%s\" ip saddr"
			    " @c%d_team_ip ip daddr @c%d_team_ip accept"
			    " comment \"%s\"\n", p->bridge, p->bridge,
			    p->courses[i].id, p->courses[i].id,
			    p->courses[i].name);
}

/*
 * The host's own sockets, in output: on lo's way back in (prerouting)
 * the socket a packet came from is no longer known, so the gate judges
 * local connections here, by their owner, before the output DNAT.  Only
 * labd's own pass it: as root that is uid 0 (root may do anything
 * anyway); once labd drops root it is labd's own uid.  The host's other
 * users, and QEMU's user-mode NAT making a guest's connections, are held
 * to allow_from like anyone.  In bridge mode they reach a guest only
 * through the port plan, not at its own address.
 */
static void
rules_gate_local(struct nbuf *b, const struct nft_plan *p)
{
	const struct nft_course	*c;
	size_t			 i;

	if (p->bridge_mode)
		nb_printf(b, "\t\toifname \"%s\" ct state new meta skuid !="
		    " %u drop comment \"a guest only through the port"
		    " plan\"\n", p->bridge, p->self_uid);
	for (i = 0; i < p->ncourses; i++) {
		c = &p->courses[i];
		if (has_allow(c))
			nb_printf(b, "\t\tmeta skuid != %u ip daddr . tcp"
			    " dport @c%d_ports ip saddr != @c%d_allow drop"
			    " comment \"%s\"\n", p->self_uid, c->id, c->id,
			    c->name);
	}
}

/*
 * The uids QEMU runs as: in user mode its NAT makes every connection of
 * the guest from the host, as the VM's uid, so what the guest may reach
 * is what that uid may.  Their new connections go through vm_egress.
 */
/*
 * The private networks a course opens to its VMs (allow_nets, with
 * internet): in user mode by its VMs' uids, after the host's own
 * addresses are refused and before the private ranges are; in bridge
 * mode by their addresses, never back onto the bridge.
 */
static void
rules_nets(struct nbuf *b, const struct nft_plan *p, int bridge)
{
	const struct nft_course	*c;
	struct nbuf		 who = { 0 };
	size_t			 i, j;

	for (i = 0; i < p->ncourses; i++) {
		c = &p->courses[i];
		if (!has_nets(c))
			continue;
		for (j = 0; j < p->nvms; j++) {
			if (p->vms[j].course_id != c->id)
				continue;
			if (bridge)
				nb_printf(&who, "%s%s", who.len ? ", " : "",
				    p->vms[j].ip);
			else if (p->vms[j].uid != 0)
				nb_printf(&who, "%s%u", who.len ? ", " : "",
				    p->vms[j].uid);
		}
		if (who.len == 0)
			continue;
		if (bridge)
			nb_printf(b, "\t\tiifname \"%s\" oifname != \"%s\" ip"
			    " saddr { %s } ip daddr { %s } accept comment"
			    " \"%s: allow_nets\"\n", p->bridge, p->bridge,
			    who.p, c->allow_nets, c->name);
		else
			nb_printf(b, "\t\tmeta skuid { %s } ip daddr { %s }"
			    " accept comment \"%s: allow_nets\"\n", who.p,
			    c->allow_nets, c->name);
		free(who.p);
		memset(&who, 0, sizeof(who));
	}
}

static void
rules_egress(struct nbuf *b, const struct nft_plan *p)
{
	rules_nets(b, p, 0);
}

static void
rules_vm_out(struct nbuf *b, const struct nft_plan *p)
{
	nb_printf(b, "\t\tmeta skuid %u-%u ct state new jump vm_egress\n",
	    p->vm_uid_first, p->vm_uid_first + (p->vm_uids - 1));
}

/*
 * Forwarding: labd turns it on for the bridge; on a host that did not
 * forward before (host_routes 0) what neither comes from the bridge nor
 * goes to it is dropped, so the host does not start routing between its
 * other interfaces.  IPv4 alone: labd does not touch IPv6 forwarding.
 */
static void
rules_forward(struct nbuf *b, const struct nft_plan *p)
{
	if (!p->host_routes)
		nb_printf(b, "\t\tmeta nfproto ipv4 iifname != \"%s\" oifname"
		    " != \"%s\" drop comment \"forwarding is on for the bridge"
		    " alone\"\n", p->bridge, p->bridge);
	rules_team_ip(b, p);
	rules_nets(b, p, 1);
}

/*
 * VM to host: DNS on the bridge's address (the guests' resolver, from
 * their seed) for courses with internet; nothing else.  labd serves no
 * DHCP: a guest's address comes static in its seed.
 */
static void
rules_input(struct nbuf *b, const struct nft_plan *p)
{
	struct in_addr	a;
	char		gw[INET_ADDRSTRLEN], e[PF_ERRLEN];
	uint32_t	net = 0;
	int		plen;

	/* Checked by vms_check: cannot fail here. */
	cidr_parse(p->subnet, &net, &plen, e, sizeof(e));
	a.s_addr = htonl(net + 1);
	inet_ntop(AF_INET, &a, gw, sizeof(gw));
	nb_printf(b, "\t\tiifname \"%s\" ip saddr @internet ip daddr %s"
	    " meta l4proto { tcp, udp } th dport 53 accept comment \"DNS,"
	    " for courses with internet\"\n", p->bridge, gw);
}

static void
rules_team(struct nbuf *b, const struct nft_plan *p)
{
	size_t	i;

	for (i = 0; i < p->ncourses; i++)
		if (!p->courses[i].isolation)
			nb_printf(b, "\t\tiifname @c%d_team oifname @c%d_team"
			    " accept comment \"%s\"\n", p->courses[i].id,
			    p->courses[i].id, p->courses[i].name);
}

#define NFT_USER	0x1
#define NFT_BRIDGE	0x2
#define NFT_EGRESS	0x4	/* the plan names the VMs' uids */

/*
 * A chain: its hook line (NULL: a regular chain, jumped to), fixed rules
 * before and after the ones the plan makes.  Fixed rules are printf
 * formats whose every %s (two at most) is the bridge's name.
 */
struct nft_chain {
	int		  modes;
	const char	 *name;
	const char	 *hook;
	const char	 *first[4];
	void		(*plan_rules)(struct nbuf *, const struct nft_plan *);
	const char	 *last[8];
};

static const struct nft_chain inet_chains[] = {
	/* Before DNAT (-100), so it sees the public ip . port. */
	{ NFT_USER | NFT_BRIDGE, "gate",
	  "type filter hook prerouting priority -110; policy accept;",
	  { "iif \"lo\" accept" },	/* the host's own: gate_local's */
	  rules_gate, { NULL } },
	{ NFT_USER | NFT_BRIDGE, "gate_local",
	  "type filter hook output priority -110; policy accept;",
	  { NULL }, rules_gate_local, { NULL } },
	{ NFT_EGRESS, "vm_out",
	  "type filter hook output priority filter; policy accept;",
	  { NULL }, rules_vm_out, { NULL } },
	/*
	 * The internet and the host's DNS servers (QEMU forwards the
	 * guest's DNS to them), nothing of the host, of its networks or of
	 * link-local ones; and a cap on connections, per VM.
	 */
	{ NFT_EGRESS, "vm_egress", NULL,
	  { "add @vm_uid_conns { meta skuid ct count over " NFT_VM_CONNS " }"
	    " reject with icmpx admin-prohibited",
	    "ip daddr @dns meta l4proto { tcp, udp } th dport 53 accept",
	    "ip6 daddr @dns6 meta l4proto { tcp, udp } th dport 53 accept",
	    "fib daddr type { local, broadcast, multicast } reject with icmpx"
	    " admin-prohibited" }, rules_egress,
	  { "ip daddr @lan reject with icmpx admin-prohibited",
	    "ip6 daddr @lan6 reject with icmpx admin-prohibited" } },
	{ NFT_BRIDGE, "prerouting",
	  "type nat hook prerouting priority dstnat; policy accept;",
	  { "dnat ip to ip daddr . tcp dport map @plan" }, NULL, { NULL } },
	/* The host itself reaching a public ip:port. */
	{ NFT_BRIDGE, "output",
	  "type nat hook output priority -100; policy accept;",
	  { "dnat ip to ip daddr . tcp dport map @plan" }, NULL, { NULL } },
	{ NFT_BRIDGE, "postrouting",
	  "type nat hook postrouting priority srcnat; policy accept;",
	  { "ip saddr @internet oifname != \"%s\" masquerade" }, NULL,
	  { NULL } },
	{ NFT_BRIDGE, "forward",
	  "type filter hook forward priority filter; policy accept;",
	  { NULL }, rules_forward,
	  { "iifname \"%s\" oifname \"%s\" drop",	/* VM to VM via the host */
	    "iifname \"%s\" ct status dnat accept",	/* replies to students */
	    "iifname \"%s\" ip daddr @lan drop",	/* even with internet */
	    "iifname \"%s\" ip saddr @internet accept",
	    "iifname \"%s\" drop",
	    "oifname \"%s\" ct status dnat accept",	/* students' connections */
	    "oifname \"%s\" ct state established,related accept",
	    "oifname \"%s\" drop" } },
	{ NFT_BRIDGE, "input",
	  "type filter hook input priority filter; policy accept;",
	  { "iifname \"%s\" ct state established,related accept" },
	  rules_input, { "iifname \"%s\" drop" } },
};

static const struct nft_chain bridge_chains[] = {
	/*
	 * Anti-spoofing: a VM sends only from its own MAC (or it could take
	 * a neighbour's frames at the bridge) and its own address, so one
	 * without internet cannot borrow the address of one with it.  It
	 * sends IPv4 and ARP alone: IPv6, VLAN tags and the rest would pass
	 * every rule written for IPv4.  ARP is held to the same rule, or a
	 * VM could claim a neighbour's address to the host and receive the
	 * connections DNATed to it (0.0.0.0 is an RFC 5227 probe).  labd
	 * serves no DHCP, so a DHCP client's 0.0.0.0 gets nowhere.
	 */
	{ NFT_BRIDGE, "prerouting",
	  "type filter hook prerouting priority filter; policy accept;",
	  { "iifname @taps iifname . ether saddr != @vm_mac drop",
	    "iifname @taps ether type != { ip, arp } drop",
	    "iifname @taps ether type ip iifname . ip saddr != @vm_src drop",
	    "iifname @taps ether type arp arp saddr ip != 0.0.0.0 iifname ."
	    " arp saddr ip != @vm_src drop" }, NULL, { NULL } },
	{ NFT_BRIDGE, "forward",
	  "type filter hook forward priority filter; policy accept;",
	  { NULL }, rules_team, { "iifname @taps drop" } },
};

static void
rules_fixed(struct nbuf *b, const char *const *rules, size_t n,
    const char *br)
{
	size_t	i;

	for (i = 0; i < n && rules[i] != NULL; i++) {
		nb_printf(b, "\t\t");
		nb_printf(b, rules[i], br, br);
		nb_printf(b, "\n");
	}
}

static void
chains_emit(struct nbuf *b, const struct nft_plan *p,
    const struct nft_chain *tab, size_t n)
{
	const struct nft_chain	*c;
	const char		*br = p->bridge != NULL ? p->bridge : "";
	int			 mode = p->bridge_mode ? NFT_BRIDGE : NFT_USER;

	if (p->vm_uids > 0)
		mode |= NFT_EGRESS;
	for (c = tab; c < tab + n; c++) {
		if ((c->modes & mode) == 0)
			continue;
		nb_printf(b, "\n\tchain %s {\n", c->name);
		if (c->hook != NULL)
			nb_printf(b, "\t\t%s\n", c->hook);
		rules_fixed(b, c->first, sizeof(c->first) /
		    sizeof(c->first[0]), br);
		if (c->plan_rules != NULL)
			c->plan_rules(b, p);
		rules_fixed(b, c->last, sizeof(c->last) / sizeof(c->last[0]),
		    br);
		nb_printf(b, "\t}\n");
	}
}

/* --- the transaction ------------------------------------------------------- */

const char *
nft_remove_text(void)
{
	return nft_idiom;
}

char *
nft_render(const struct nft_plan *p, char *err, size_t errlen)
{
	struct nbuf	b = { 0 };
	size_t		i;
	int		gated = 0;

	if (plan_check(p, err, errlen) == -1)
		return NULL;
	for (i = 0; i < p->ncourses; i++)
		if (has_allow(&p->courses[i]))
			gated = 1;

	nb_printf(&b, "%s", nft_idiom);
	/* User mode, not root (no VM uids) and nobody gated: nothing to keep. */
	if (p->bridge_mode || gated || p->vm_uids > 0) {
		nb_printf(&b, "\ntable inet labd {\n\tcomment \"%s\"\n",
		    nft_comment);
		sets_course(&b, p);
		if (p->bridge_mode)
			sets_nat(&b, p);
		sets_host(&b, p);
		chains_emit(&b, p, inet_chains,
		    sizeof(inet_chains) / sizeof(inet_chains[0]));
		nb_printf(&b, "}\n");
	}
	if (p->bridge_mode) {
		nb_printf(&b, "\ntable bridge labd {\n\tcomment \"%s\"\n",
		    nft_comment);
		sets_bridge(&b, p);
		chains_emit(&b, p, bridge_chains,
		    sizeof(bridge_chains) / sizeof(bridge_chains[0]));
		nb_printf(&b, "}\n");
	}
	if (b.oom) {
		snprintf(err, errlen, "out of memory rendering the nftables"
		    " ruleset");
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* A context whose output and errors are kept, not printed. */
static struct nft_ctx *
nft_ctx_quiet(char *err, size_t errlen)
{
	struct nft_ctx	*ctx;

	if ((ctx = nft_ctx_new(NFT_CTX_DEFAULT)) == NULL) {
		snprintf(err, errlen, "nft: cannot make a libnftables context");
		return NULL;
	}
	if (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0) {
		snprintf(err, errlen, "nft: cannot buffer libnftables output");
		nft_ctx_free(ctx);
		return NULL;
	}
	return ctx;
}

/*
 * nft's message is, per error, "[FILE:L:C-C: ]Error: what", the line it
 * names and a line of carets.  Made one line for a log: "line L: Error:
 * what (in: the line)".  Without file (buffer input) the quoted line is
 * not given: libnftables 1.0.6 quotes a buffer's first line whatever the
 * error's.  -1 when msg holds no error.
 */
static int
nft_errmsg(const char *msg, const char *file, char *err, size_t errlen)
{
	struct nbuf	 b = { 0 };
	const char	*line, *nl, *next, *s, *e;
	size_t		 len, flen = file != NULL ? strlen(file) : 0;
	int		 want_src = 0, rc = -1;

	for (line = msg; line != NULL && *line != '\0'; line = next) {
		nl = strchr(line, '\n');
		len = nl != NULL ? (size_t)(nl - line) : strlen(line);
		next = nl != NULL ? nl + 1 : NULL;
		for (s = line; s < line + len && isspace((unsigned char)*s);
		    s++)
			;
		len -= s - line;
		if (len == 0 || strspn(s, "^~ \t") >= len)
			continue;
		if ((e = memmem(s, len, "Error:", 6)) != NULL) {
			if (b.len > 0)
				nb_printf(&b, "; ");
			if (file != NULL && strncmp(s, file, flen) == 0 &&
			    s[flen] == ':') {
				nb_printf(&b, "line %d: ", atoi(s + flen + 1));
				len -= e - s;
				s = e;
			}
			nb_printf(&b, "%.*s", (int)len, s);
			want_src = file != NULL;
		} else if (want_src) {
			nb_printf(&b, " (in: %.*s)", (int)len, s);
			want_src = 0;
		}
	}
	if (b.len > 0 && !b.oom) {
		snprintf(err, errlen, "nft: %s", b.p);
		rc = 0;
	}
	free(b.p);
	return rc;
}

/*
 * From a file libnftables does say where an error is, so the failed text
 * is run again from a memfd, as a dry run, for the message alone.  -1
 * when that says nothing better.
 */
static int
nft_locate(const char *text, char *err, size_t errlen)
{
	struct nft_ctx	*ctx = NULL;
	char		 path[64], e[PF_ERRLEN];
	size_t		 len = strlen(text), off;
	ssize_t		 n;
	int		 fd, rc = -1;

	if ((fd = memfd_create("labd.nft", MFD_CLOEXEC)) == -1)
		return -1;
	for (off = 0; off < len; off += n)
		if ((n = write(fd, text + off, len - off)) <= 0)
			goto fail;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if ((ctx = nft_ctx_quiet(e, sizeof(e))) == NULL)
		goto fail;
	nft_ctx_set_dry_run(ctx, true);
	if (nft_run_cmd_from_filename(ctx, path) != 0)
		rc = nft_errmsg(nft_ctx_get_error_buffer(ctx), path, err,
		    errlen);
fail:
	if (ctx != NULL)
		nft_ctx_free(ctx);
	close(fd);
	return rc;
}

int
nft_apply(const char *text, char *err, size_t errlen)
{
	struct nft_ctx	*ctx;
	const char	*msg;
	int		 rc = -1;

	if (text == NULL) {
		snprintf(err, errlen, "nft: no ruleset text");
		return -1;
	}
	if ((ctx = nft_ctx_quiet(err, errlen)) == NULL)
		return -1;
	if (nft_run_cmd_from_buffer(ctx, text) != 0) {
		msg = nft_ctx_get_error_buffer(ctx);
		if (nft_locate(text, err, errlen) == -1 &&
		    nft_errmsg(msg, NULL, err, errlen) == -1)
			snprintf(err, errlen, "nft: %s", msg != NULL &&
			    *msg != '\0' ? msg : "the transaction failed");
		goto fail;
	}
	rc = 0;
fail:
	nft_ctx_free(ctx);
	return rc;
}

/* Is line, whole, one of text's lines? */
static int
has_line(const char *text, const char *line)
{
	size_t		 n = strlen(line);
	const char	*p;

	for (p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'),
	    p = p != NULL ? p + 1 : NULL)
		if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return 1;
	return 0;
}

int
nft_tables_present(int bridge_mode, char *err, size_t errlen)
{
	struct nft_ctx	*ctx;
	const char	*out;
	int		 rc = -1;

	if ((ctx = nft_ctx_quiet(err, errlen)) == NULL)
		return -1;
	if (nft_run_cmd_from_buffer(ctx, "list tables") != 0) {
		if (nft_errmsg(nft_ctx_get_error_buffer(ctx), NULL, err,
		    errlen) == -1)
			snprintf(err, errlen, "nft: cannot list the tables");
		goto done;
	}
	out = nft_ctx_get_output_buffer(ctx);
	rc = out != NULL && has_line(out, "table inet labd") &&
	    (!bridge_mode || has_line(out, "table bridge labd"));
done:
	nft_ctx_free(ctx);
	return rc;
}

/* --- allow_from lists ------------------------------------------------------ */

int
nft_lan_parse(const char *list, char *canon, size_t canonlen, char *err,
    size_t errlen)
{
	char		 copy[PF_CIDRSLEN], e[PF_ERRLEN], *el, *next;
	uint32_t	 net, onet;
	int		 plen, oplen;
	size_t		 i;

	if (nft_cidrs_parse(list, canon, canonlen, err, errlen) == -1)
		return -1;
	snprintf(copy, sizeof(copy), "%s", canon);
	for (el = copy; el[0] != '\0'; el = next) {
		if ((next = strchr(el, ',')) != NULL)
			*next++ = '\0';
		else
			next = el + strlen(el);
		if (cidr_parse(el, &net, &plen, e, sizeof(e)) == -1)
			continue;	/* parsed above: cannot be */
		for (i = 0; lan4_open[i] != NULL; i++) {
			cidr_parse(lan4_open[i], &onet, &oplen, e, sizeof(e));
			if (plen >= oplen && (net & prefix_mask(oplen)) == onet)
				break;
		}
		if (lan4_open[i] == NULL) {
			snprintf(err, errlen, "%s is not a private or"
			    " link-local network (10/8, 100.64/10, 169.254/16,"
			    " 172.16/12, 192.168/16): the internet needs no"
			    " opening, loopback and the rest stay shut", el);
			canon[0] = '\0';
			return -1;
		}
	}
	return 0;
}

int
nft_cidrs_parse(const char *list, char *canon, size_t canonlen, char *err,
    size_t errlen)
{
	static const char	 blanks[] = " \t";
	uint32_t		 net[PF_CIDRS_MAX];
	int			 plen[PF_CIDRS_MAX], m, w;
	char			 el[64], show[INET_ADDRSTRLEN];
	const char		*p, *end, *e;
	size_t			 n = 0, k, len, used = 0;
	struct in_addr		 a;

	if (canonlen == 0) {
		snprintf(err, errlen, "no room for the canonical list");
		return -1;
	}
	canon[0] = '\0';
	if (list == NULL || list[strspn(list, blanks)] == '\0')
		return 0;
	for (p = list;; p = end + 1) {
		if ((end = strchr(p, ',')) == NULL)
			end = p + strlen(p);
		p += strspn(p, blanks);
		for (e = end; e > p && strchr(blanks, e[-1]) != NULL; e--)
			;
		len = e - p;
		if (len == 0) {
			snprintf(err, errlen, "element %zu is empty (a stray"
			    " comma?)", n + 1);
			goto fail;
		}
		snprintf(el, sizeof(el), "%.*s", (int)len, p);
		if (len >= sizeof(el)) {
			snprintf(err, errlen, "'%s...' is not an IPv4 address"
			    " or network", el);
			goto fail;
		}
		if (n == PF_CIDRS_MAX) {
			snprintf(err, errlen, "'%s': more than %d elements",
			    el, PF_CIDRS_MAX);
			goto fail;
		}
		if (cidr_parse(el, &net[n], &plen[n], err, errlen) == -1)
			goto fail;
		/* nft refuses overlapping intervals ("conflicting"). */
		for (k = 0; k < n; k++) {
			m = plen[k] < plen[n] ? plen[k] : plen[n];
			if ((net[k] & prefix_mask(m)) !=
			    (net[n] & prefix_mask(m)))
				continue;
			a.s_addr = htonl(net[k]);
			inet_ntop(AF_INET, &a, show, sizeof(show));
			snprintf(err, errlen, "'%s' overlaps %s/%d", el, show,
			    plen[k]);
			goto fail;
		}
		a.s_addr = htonl(net[n]);
		inet_ntop(AF_INET, &a, el, sizeof(el));
		w = snprintf(canon + used, canonlen - used, "%s%s/%d",
		    n > 0 ? "," : "", el, plen[n]);
		if (w < 0 || (size_t)w >= canonlen - used) {
			snprintf(err, errlen, "'%.*s': the list does not fit in"
			    " %zu bytes", (int)len, p, canonlen);
			goto fail;
		}
		used += w;
		n++;
		if (*end == '\0')
			break;
	}
	return 0;
fail:
	canon[0] = '\0';
	return -1;
}
