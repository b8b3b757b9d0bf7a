/* SPDX-License-Identifier: ISC */
/*
 * nettable.c - the nftables table "labd" (portforward/nft.c renders it),
 * kept in step with the database and the VMs' states, and the kernel's
 * connection tracking read back for idle.c.
 *
 * net_sync() renders the whole table from the database, the VMs' states
 * and the host (labd's uid, the uids QEMU runs as, the host's DNS
 * servers, whether the host forwarded before labd) and applies it as one
 * transaction when the text changed.  At start it is applied once
 * whatever the kernel holds: a labd that was down while the database
 * changed converges, and established connections keep their NAT
 * (conntrack holds it, not the rules).  labd as root keeps the table in
 * both modes: in user mode QEMU's NAT makes the guests' connections from
 * the host, as the VMs' uids, and the table holds them to the internet.
 * Not root, labd touches no nftables (user mode only; allow_from is
 * refused).  A table that someone else removed is put back, and a change
 * of the host's DNS servers taken in, within NET_WATCH_MS.  A VM's state
 * reaches this file through the event bus: vm.c does not know it exists.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "labd/labd.h"
#include "labd/vmjob.h"

#define NET_CT_PATH	"/proc/net/nf_conntrack"
#define NET_RESOLV_PATH	"/etc/resolv.conf"
#define NET_SYNC_DELAY_MS	20
#define NET_WATCH_MS		5000	/* is the table still there? */

static char	*last_text;	/* the table as last applied */
static long long sync_timer;	/* a sync is due: VM states changed */
static int	 synced;	/* applied once since start */

/* The host's DNS servers, as last read. */
static char	 resolv[PF_RESOLVERS_MAX][INET6_ADDRSTRLEN];
static size_t	 nresolv;

/* --- the host's DNS servers ---------------------------------------------- */

/*
 * The "nameserver" lines of resolv.conf that are addresses (one with a
 * "%scope" is not), at most PF_RESOLVERS_MAX: QEMU's user-mode NAT sends
 * the guests' DNS there.  1 when the list changed.
 */
static int
resolv_read(void)
{
	char		 list[PF_RESOLVERS_MAX][INET6_ADDRSTRLEN];
	char		 line[256], addr[INET6_ADDRSTRLEN + 1];
	unsigned char	 a[sizeof(struct in6_addr)];
	size_t		 n = 0;
	FILE		*f;

	memset(list, 0, sizeof(list));
	if ((f = fopen(NET_RESOLV_PATH, "re")) != NULL) {
		while (n < PF_RESOLVERS_MAX && fgets(line, sizeof(line), f)) {
			if (sscanf(line, " nameserver %46s", addr) != 1 ||
			    (inet_pton(AF_INET, addr, a) != 1 &&
			    inet_pton(AF_INET6, addr, a) != 1))
				continue;
			snprintf(list[n++], sizeof(list[0]), "%s", addr);
		}
		fclose(f);
	}
	if (n == nresolv && memcmp(list, resolv, sizeof(list)) == 0)
		return 0;
	memcpy(resolv, list, sizeof(resolv));
	nresolv = n;
	return 1;
}

/* --- the nftables table ------------------------------------------------------ */

/* Does a VM in this state take its published ports (DNAT)? */
static int
vm_forwarded(const struct vm *vm)
{
	return vm == NULL || (vm->state != VM_SUSPENDED &&
	    vm->state != VM_SUSPENDING);
}

/* The strings a plan points to, one record per row. */
struct net_course_str {
	char	name[LABD_NAMELEN];
	char	allow[PF_CIDRSLEN];
	char	nets[PF_CIDRSLEN];
};
struct net_vm_str {
	int64_t	id;
	char	tap[IFNAMSIZ];
	char	ip[INET_ADDRSTRLEN];
	char	mac[18];
};
struct net_fwd_str {
	char	ip[INET_ADDRSTRLEN];
};

struct net_rows {
	struct nft_course	*courses;
	struct net_course_str	*cstr;
	size_t			 ncourses;
	struct nft_vm		*vms;
	struct net_vm_str	*vstr;
	size_t			 nvms;
	struct nft_fwd		*fwds;
	struct net_fwd_str	*fstr;
	size_t			 nfwds;
};

static void
rows_free(struct net_rows *r)
{
	free(r->courses);
	free(r->cstr);
	free(r->vms);
	free(r->vstr);
	free(r->fwds);
	free(r->fstr);
}

/* Rows in a table, and one more: the bound of the reads that follow. */
static size_t
rows_count(const char *table)
{
	sqlite3_stmt	*st;
	char		 sql[64];
	size_t		 n;

	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
	st = db_prepare(sql);
	sqlite3_step(st);
	n = (size_t)sqlite3_column_int(st, 0) + 1;
	sqlite3_finalize(st);
	return n;
}

/* The plan's rows from the database; the VMs' DNAT from their states. */
static void
rows_load(struct net_rows *r)
{
	sqlite3_stmt	*st;
	size_t		 cap, i;

	memset(r, 0, sizeof(*r));
	cap = rows_count("courses");
	r->courses = xcalloc(cap, sizeof(*r->courses));
	r->cstr = xcalloc(cap, sizeof(*r->cstr));
	st = db_prepare("SELECT id, name, internet, isolation, allow_from,"
	    " allow_nets FROM courses ORDER BY id");
	while (sqlite3_step(st) == SQLITE_ROW && r->ncourses < cap) {
		struct nft_course	*c = &r->courses[r->ncourses];
		struct net_course_str	*cs = &r->cstr[r->ncourses++];

		snprintf(cs->name, sizeof(cs->name), "%s", db_text(st, 1));
		snprintf(cs->allow, sizeof(cs->allow), "%s", db_text(st, 4));
		c->id = sqlite3_column_int(st, 0);
		c->name = cs->name;
		c->internet = sqlite3_column_int(st, 2);
		c->isolation = sqlite3_column_int(st, 3);
		c->allow_from = cs->allow;
		snprintf(cs->nets, sizeof(cs->nets), "%s", db_text(st, 5));
		c->allow_nets = cs->nets;
	}
	sqlite3_finalize(st);

	cap = rows_count("vms");
	r->vms = xcalloc(cap, sizeof(*r->vms));
	r->vstr = xcalloc(cap, sizeof(*r->vstr));
	st = db_prepare("SELECT id, course_id, slot, name FROM vms ORDER BY id");
	while (sqlite3_step(st) == SQLITE_ROW && r->nvms < cap) {
		struct nft_vm		*v = &r->vms[r->nvms];
		struct net_vm_str	*vs = &r->vstr[r->nvms++];

		vs->id = sqlite3_column_int64(st, 0);
		net_tap_name(vs->id, vs->tap, sizeof(vs->tap));
		if (net_guest_ip(sqlite3_column_int(st, 2), vs->ip,
		    sizeof(vs->ip)) == -1)
			snprintf(vs->ip, sizeof(vs->ip), "0.0.0.0");
		vmm_mac(db_text(st, 3), vs->mac, sizeof(vs->mac));
		v->course_id = sqlite3_column_int(st, 1);
		v->tap = vs->tap;
		v->ip = vs->ip;
		v->mac = vs->mac;
		/* VM n's QEMU runs as uid_base + n (confine.c). */
		if (priv_active())
			v->uid = labd->cfg.uid_base + (uint32_t)vs->id;
		v->forward = vm_forwarded(vm_find(db_text(st, 3)));
	}
	sqlite3_finalize(st);

	cap = rows_count("ports");
	r->fwds = xcalloc(cap, sizeof(*r->fwds));
	r->fstr = xcalloc(cap, sizeof(*r->fstr));
	st = db_prepare("SELECT vm_id, listen_ip, port, guest_port FROM ports"
	    " ORDER BY vm_id, id");
	while (sqlite3_step(st) == SQLITE_ROW && r->nfwds < cap) {
		struct nft_fwd		*f = &r->fwds[r->nfwds];
		struct net_fwd_str	*fs = &r->fstr[r->nfwds];
		int64_t			 id = sqlite3_column_int64(st, 0);

		for (i = 0; i < r->nvms && r->vstr[i].id != id; i++)
			;
		if (i == r->nvms)
			continue;
		snprintf(fs->ip, sizeof(fs->ip), "%s", db_text(st, 1));
		f->vm = i;
		f->public_ip = fs->ip;
		f->port = (uint16_t)sqlite3_column_int(st, 2);
		f->guest_port = (uint16_t)sqlite3_column_int(st, 3);
		r->nfwds++;
	}
	sqlite3_finalize(st);
}

int
net_sync(char *err, size_t errlen)
{
	struct net_rows	 r;
	struct nft_plan	 plan = { 0 };
	const char	*dns[PF_RESOLVERS_MAX];
	char		*text;
	size_t		 i;
	int		 bridge = labd->cfg.net_mode == LABD_NET_BRIDGE;

	/* Bridge mode needs root: main.c refuses it otherwise. */
	if (!priv_active())
		return 0;
	rows_load(&r);
	if (!synced)
		resolv_read();
	for (i = 0; i < nresolv; i++)
		dns[i] = resolv[i];
	plan.bridge_mode = bridge;
	plan.bridge = labd->cfg.bridge;
	plan.subnet = labd->cfg.subnet;
	plan.courses = r.courses;
	plan.ncourses = r.ncourses;
	plan.vms = r.vms;
	plan.nvms = r.nvms;
	plan.fwds = r.fwds;
	plan.nfwds = r.nfwds;
	/*
	 * Of the host's own connections only labd's pass allow_from: its
	 * own uid once it drops root (priv_drop(), soon after the first
	 * rules).  The VMs' uids follow it: VM ids start at 1.
	 */
	plan.self_uid = LABD_DAEMON_UID;
	plan.vm_uid_first = labd->cfg.uid_base + 1;
	plan.vm_uids = LABD_UIDS - 1;
	plan.resolvers = dns;
	plan.nresolvers = nresolv;
	plan.host_routes = bridge ? net_host_routes() : 1;
	text = nft_render(&plan, err, errlen);
	rows_free(&r);
	if (text == NULL)
		return -1;
	if (synced && last_text != NULL && strcmp(text, last_text) == 0) {
		free(text);
		return 0;
	}
	if (priv_nft_apply(text, err, errlen) == -1) {
		free(text);
		return -1;
	}
	log_debug("nftables: table labd applied (%zu bytes)", strlen(text));
	synced = 1;
	free(last_text);
	last_text = text;
	return 0;
}

/* Sync, and say so when it fails: the rules stay as they were. */
void
net_resync(const char *why)
{
	char	err[LABD_ERRLEN];

	if (net_sync(err, sizeof(err)) == -1)
		log_warnx("nftables (%s): %s", why, err);
}

static int
sync_later(struct loop *l, void *arg)
{
	sync_timer = 0;
	net_resync("VM states");
	return -1;
}

/*
 * vm.c's hook at every change of state: suspended VMs give up DNAT.  A
 * bulk suspend or resume of a whole course changes many VMs in one go:
 * they share one transaction a moment later, long before a resumed VM
 * answers (and so before a wake relay connects through the DNAT).
 */
/* A VM whose forwarding changes with its state: the table, soon. */
static void
net_vm_state(const struct event *ev, void *arg)
{
	struct vm	*vm = ev->vm;
	int		 fwd = vm_forwarded(vm);

	if (fwd == vm->net_forwarded)
		return;
	vm->net_forwarded = fwd;
	if (labd->cfg.net_mode == LABD_NET_BRIDGE && sync_timer == 0)
		sync_timer = loop_add_timer(labd->loop, NET_SYNC_DELAY_MS,
		    sync_later, NULL);
}

/*
 * Someone else's "nft flush ruleset" (Debian's nftables.service does one
 * at every restart) takes labd's table with it, and with it every
 * student's way in.  labd looks every few seconds and puts back what it
 * last applied; and reads resolv.conf again, which DHCP on the host or
 * a change of network may rewrite.
 */
static int
net_watch(struct loop *l, void *arg)
{
	static int	 warned;
	char		 err[LABD_ERRLEN];
	int		 bridge = labd->cfg.net_mode == LABD_NET_BRIDGE;

	if (last_text == NULL)
		return NET_WATCH_MS;
	if (resolv_read())
		net_resync("the host's DNS servers changed");
	switch (priv_nft_tables_present(bridge, err, sizeof(err))) {
	case 1:
		warned = 0;
		break;
	case 0:
		log_warnx("nftables: table labd is gone (an nft flush"
		    " ruleset?); applying it again");
		db_event(0, "net.restore", "labd", "the nftables table was"
		    " gone and was applied again");
		if (priv_nft_apply(last_text, err, sizeof(err)) == -1)
			log_warnx("nftables: %s", err);
		break;
	default:
		if (!warned++)
			log_warnx("nftables: %s", err);
		break;
	}
	return NET_WATCH_MS;
}

/*
 * The table as the database and the VMs' states want it, applied once
 * whatever the kernel holds; then kept in step with every VM's state and
 * watched.  After net_init() and vm_load_all().
 */
int
net_table_init(char *err, size_t errlen)
{
	struct vm	*vm;

	for (vm = vm_list(); vm != NULL; vm = vm->next)
		vm->net_forwarded = vm_forwarded(vm);
	events_on("vm.state", net_vm_state, NULL);
	if (net_sync(err, errlen) == -1)
		return -1;
	loop_add_timer(labd->loop, NET_WATCH_MS, net_watch, NULL);
	return 0;
}

/* --- connections, bridge mode: the kernel's connection tracking ------------ */

/*
 * Call fn for each TCP connection conntrack holds whose original
 * destination is ip:port pairs the caller knows: orig src, dst, dport,
 * and whether it is ESTABLISHED.  -1 when the table cannot be read.
 */
int
net_conntrack(void (*fn)(void *, uint32_t src, uint16_t sport,
    uint32_t dst, uint16_t dport, int established), void *arg)
{
	FILE		*f;
	char		 line[512], state[32], *p;
	char		 src[64], dst[64];
	unsigned	 sport, dport;
	struct in_addr	 s, d;

	if ((f = priv_conntrack_open()) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		/* "ipv4 2 tcp 6 431999 ESTABLISHED src=.. dst=.. sport=.. dport=.. src=..." */
		if (strncmp(line, "ipv4", 4) != 0 ||
		    (p = strstr(line, " tcp ")) == NULL)
			continue;
		if (sscanf(p, " tcp %*u %*u %31s src=%63s dst=%63s sport=%u"
		    " dport=%u", state, src, dst, &sport, &dport) != 5 ||
		    inet_pton(AF_INET, src, &s) != 1 ||
		    inet_pton(AF_INET, dst, &d) != 1)
			continue;
		fn(arg, s.s_addr, (uint16_t)sport, d.s_addr, (uint16_t)dport,
		    strcmp(state, "ESTABLISHED") == 0);
	}
	fclose(f);
	return 0;
}
