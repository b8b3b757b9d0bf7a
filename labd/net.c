/* SPDX-License-Identifier: ISC */
/*
 * net.c - the host's side of the network: in bridge mode the bridge, a
 * tap per VM and each VM's address in the subnet.  The nftables table
 * that forwards the ports is nettable.c's.
 *
 * Addresses: the subnet's first host is the bridge (the guests' gateway),
 * slot k's VM has first host + k.  A slot never changes while its VM
 * exists, so neither does its address.  Taps are named ltapID after the
 * VM's row id, made persistent by labd and opened by QEMU by name; they
 * stay in the bridge while labd restarts and go with the VM.
 *
 * IPv4 forwarding is the whole host's switch.  A host that did not
 * forward before labd must not start routing between its other
 * interfaces because of it, so labd notes that it turned forwarding on
 * (run_dir/ip_forward.labd, holding the boot's id: a reboot resets the
 * switch and voids the note), and while the note holds, the table's
 * forward chain drops what neither comes from the bridge nor goes to it.
 * Turning it on per interface (conf/IF/forwarding) would not do: the
 * students' connections are forwarded from the uplink, which labd does
 * not know and whose forwarding would then be on for everything arriving
 * there.  The note outlives labd's restarts, which find forwarding on and
 * must not take it for the host's own; labd in user mode turns it off
 * again and drops the note.
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

#define NET_IP_FORWARD	"/proc/sys/net/ipv4/ip_forward"
#define NET_BOOT_ID	"/proc/sys/kernel/random/boot_id"
#define NET_FWD_NOTE	"ip_forward.labd"

static int	host_routes = 1;	/* forwarding was the host's own */

/* The subnet, as labd.ini's reader parsed and checked it (/8 to /29). */
int
net_subnet(uint32_t *base, int *plen)
{
	*base = labd->cfg.subnet_base;
	*plen = labd->cfg.subnet_plen;
	return *plen >= 8 && *plen <= 30 ? 0 : -1;
}

/* The largest slot that still has an address: all but net, gw, bcast. */
int
net_max_slot(void)
{
	uint32_t	base;
	int		plen;

	if (net_subnet(&base, &plen) == -1)
		return 0;
	return (int)((1u << (32 - plen)) - 3);
}

static void
addr_str(uint32_t h, char *out, size_t outlen)
{
	struct in_addr	a = { .s_addr = htonl(h) };

	inet_ntop(AF_INET, &a, out, outlen);
}

int
net_guest_ip(int slot, char *out, size_t outlen)
{
	uint32_t	base;
	int		plen;

	if (net_subnet(&base, &plen) == -1 || slot < 1 ||
	    slot > net_max_slot())
		return -1;
	addr_str(base + 1 + (uint32_t)slot, out, outlen);
	return 0;
}

void
net_gateway(char *out, size_t outlen)
{
	uint32_t	base = 0;
	int		plen;

	net_subnet(&base, &plen);
	addr_str(base + 1, out, outlen);
}

int
net_prefix(void)
{
	uint32_t	base;
	int		plen = 0;

	net_subnet(&base, &plen);
	return plen;
}

void
net_tap_name(int64_t vm_id, char *out, size_t outlen)
{
	snprintf(out, outlen, "ltap%lld", (long long)vm_id);
}

/* --- interfaces, by ioctl: nothing to exec, nothing to parse ----------- */

static int
ifreq_sock(void)
{
	return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

static int
if_up(int s, const char *name, char *err, size_t errlen)
{
	struct ifreq	ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == -1)
		goto fail;
	if (ifr.ifr_flags & IFF_UP)
		return 0;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) == -1)
		goto fail;
	return 0;
fail:
	errf(err, errlen, "%s: cannot bring it up: %s", name, strerror(errno));
	return -1;
}

/* The bridge's address: the guests' gateway, set unless it is there. */
static int
bridge_addr(int s, const char *br, char *err, size_t errlen)
{
	struct ifreq		 ifr = { 0 };
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ifr.ifr_addr;
	char			 gw[INET_ADDRSTRLEN];
	uint32_t		 base;
	int			 plen;

	if (net_subnet(&base, &plen) == -1) {
		errf(err, errlen, "subnet %s: not usable", labd->cfg.subnet);
		return -1;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", br);
	if (ioctl(s, SIOCGIFADDR, &ifr) == 0 &&
	    ntohl(sin->sin_addr.s_addr) == base + 1)
		return 0;
	memset(&ifr.ifr_addr, 0, sizeof(ifr.ifr_addr));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(base + 1);
	if (ioctl(s, SIOCSIFADDR, &ifr) == -1)
		goto fail;
	sin->sin_addr.s_addr = htonl(0xffffffffu << (32 - plen));
	if (ioctl(s, SIOCSIFNETMASK, &ifr) == -1)
		goto fail;
	addr_str(base + 1, gw, sizeof(gw));
	log_info("bridge %s: address %s/%d", br, gw, plen);
	return 0;
fail:
	errf(err, errlen, "bridge %s: cannot set its address: %s", br,
	    strerror(errno));
	return -1;
}

int
net_host_routes(void)
{
	return host_routes;
}

static void
fwd_note_path(char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", labd->cfg.run_dir, NET_FWD_NOTE);
}

/* This boot's id, "" when unknown. */
static void
boot_id(char *out, size_t outlen)
{
	char	 e[LABD_ERRLEN], *id;

	out[0] = '\0';
	if ((id = file_read(NET_BOOT_ID, 64, NULL, e, sizeof(e))) != NULL) {
		snprintf(out, outlen, "%s", id);
		free(id);
	}
}

/* Did labd turn forwarding on in this boot? */
static int
fwd_note_holds(void)
{
	char	 path[PATH_MAX], id[65], e[LABD_ERRLEN], *note;
	int	 holds;

	fwd_note_path(path, sizeof(path));
	if ((note = file_read(path, 64, NULL, e, sizeof(e))) == NULL)
		return 0;
	boot_id(id, sizeof(id));
	holds = id[0] != '\0' && strcmp(note, id) == 0;
	free(note);
	return holds;
}

/* '0' or '1'; -1 with err set. */
static int
ip_forward_get(char *err, size_t errlen)
{
	char	 e[LABD_ERRLEN], *v;
	int	 c;

	if ((v = file_read(NET_IP_FORWARD, 16, NULL, e, sizeof(e))) == NULL) {
		errf(err, errlen, "%s", e);
		return -1;
	}
	c = v[0] == '1' ? '1' : '0';
	free(v);
	return c;
}

static int
ip_forward_set(const char *v, char *err, size_t errlen)
{
	int	fd, rc = 0;

	if ((fd = open(NET_IP_FORWARD, O_WRONLY | O_CLOEXEC)) == -1 ||
	    write(fd, v, strlen(v)) != (ssize_t)strlen(v)) {
		errf(err, errlen, "cannot write %s: %s", NET_IP_FORWARD,
		    strerror(errno));
		rc = -1;
	}
	if (fd != -1)
		close(fd);
	return rc;
}

/*
 * Bridge mode routes the guests.  The note is written before forwarding
 * goes on: a labd killed in between finds forwarding off and the note,
 * and does the same again.
 */
static int
ip_forward_on(char *err, size_t errlen)
{
	char	path[PATH_MAX], id[65];
	int	c;

	if ((c = ip_forward_get(err, errlen)) == -1)
		return -1;
	if (c == '1') {
		host_routes = !fwd_note_holds();
		return 0;
	}
	fwd_note_path(path, sizeof(path));
	boot_id(id, sizeof(id));
	if (file_write_atomic(path, id, strlen(id), 0644, err, errlen) == -1 ||
	    ip_forward_set("1\n", err, errlen) == -1)
		return -1;
	host_routes = 0;
	log_info("IPv4 forwarding enabled for the bridge alone: it was off,"
	    " and the host forwards nothing else");
	return 0;
}

/*
 * User mode: forwarding that labd turned on for a bridge it no longer
 * uses goes off again.  A note of another boot is dropped.
 */
static void
ip_forward_restore(void)
{
	char	path[PATH_MAX], e[LABD_ERRLEN];

	fwd_note_path(path, sizeof(path));
	if (!file_exists(path))
		return;
	if (fwd_note_holds() && geteuid() == 0) {
		if (ip_forward_set("0\n", e, sizeof(e)) == -1) {
			log_warnx("%s", e);
			return;
		}
		log_info("IPv4 forwarding turned off again: labd had turned it"
		    " on for bridge mode, no longer in use");
	}
	if (unlink(path) == -1)
		log_warn("cannot remove %s", path);
}

/* Bridge mode: the bridge exists, has the gateway address and is up. */
static int
bridge_init(char *err, size_t errlen)
{
	const char	*br = labd->cfg.bridge;
	int		 s, rc = -1;

	if (geteuid() != 0) {
		errf(err, errlen, "[network] mode = bridge needs root (it makes"
		    " a bridge, taps and nftables rules); run labd as root or"
		    " use mode = user");
		return -1;
	}
	if ((s = ifreq_sock()) == -1) {
		errf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (if_nametoindex(br) == 0) {
		if (ioctl(s, SIOCBRADDBR, br) == -1) {
			errf(err, errlen, "cannot create bridge %s: %s", br,
			    strerror(errno));
			goto done;
		}
		log_info("bridge %s created", br);
	}
	if (bridge_addr(s, br, err, errlen) == -1 ||
	    if_up(s, br, err, errlen) == -1 ||
	    ip_forward_on(err, errlen) == -1)
		goto done;
	rc = 0;
done:
	close(s);
	return rc;
}

/*
 * The VM's tap: made persistent if missing, in the bridge, up.  Safe from
 * a worker thread; idempotent, so a restart or a respawn just checks.
 */
int
net_tap_ensure(int64_t vm_id, char *err, size_t errlen)
{
	struct ifreq	ifr = { 0 };
	char		tap[IFNAMSIZ], link[64], path[PATH_MAX];
	ssize_t		n;
	int		fd, s, rc = -1;

	net_tap_name(vm_id, tap, sizeof(tap));
	if (if_nametoindex(tap) == 0) {
		if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) == -1) {
			errf(err, errlen, "/dev/net/tun: %s", strerror(errno));
			return -1;
		}
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", tap);
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
		if (ioctl(fd, TUNSETIFF, &ifr) == -1 ||
		    ioctl(fd, TUNSETPERSIST, 1) == -1) {
			errf(err, errlen, "cannot create tap %s: %s", tap,
			    strerror(errno));
			close(fd);
			return -1;
		}
		close(fd);
	}
	if ((s = ifreq_sock()) == -1) {
		errf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* In the bridge already?  Its master link says so. */
	snprintf(path, sizeof(path), "/sys/class/net/%s/master", tap);
	n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';
	if (n <= 0 || strcmp(strrchr(link, '/') ? strrchr(link, '/') + 1 :
	    link, labd->cfg.bridge) != 0) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s",
		    labd->cfg.bridge);
		ifr.ifr_ifindex = (int)if_nametoindex(tap);
		if (ioctl(s, SIOCBRADDIF, &ifr) == -1) {
			errf(err, errlen, "cannot put tap %s in bridge %s: %s",
			    tap, labd->cfg.bridge, strerror(errno));
			goto done;
		}
	}
	if (if_up(s, tap, err, errlen) == -1)
		goto done;
	rc = 0;
done:
	close(s);
	return rc;
}

/* The VM is gone: its tap too (QEMU has closed it by now). */
void
net_tap_remove(int64_t vm_id)
{
	struct ifreq	ifr = { 0 };
	char		tap[IFNAMSIZ];
	int		fd;

	if (labd->cfg.net_mode != LABD_NET_BRIDGE)
		return;
	net_tap_name(vm_id, tap, sizeof(tap));
	if (if_nametoindex(tap) == 0)
		return;
	if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) == -1)
		return;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", tap);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) == -1 ||
	    ioctl(fd, TUNSETPERSIST, 0) == -1)
		log_warn("tap %s: cannot remove it", tap);
	close(fd);
}

int
net_init(char *err, size_t errlen)
{
	uint32_t	 base;
	int		 plen;

	if (net_subnet(&base, &plen) == -1) {
		errf(err, errlen, "subnet %s is not usable", labd->cfg.subnet);
		return -1;
	}
	if (labd->cfg.net_mode != LABD_NET_BRIDGE)
		ip_forward_restore();
	else if (bridge_init(err, errlen) == -1)
		return -1;
	return 0;
}
