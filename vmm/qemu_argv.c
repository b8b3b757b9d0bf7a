/* SPDX-License-Identifier: ISC */
/*
 * qemu_argv.c - the QEMU command line of one VM, as an argv array.
 *
 * QEMU is exec'd directly, so no shell quoting can go wrong; what can go
 * wrong is QEMU's own option syntax, "key=value,key=value", in which a
 * comma inside a file name starts a new key.  QEMU's escape (",,") is easy
 * to forget at one call site, so instead every path is refused if it has
 * a comma, and names are held to a strict pattern before they reach here.
 *
 * Sandbox: QEMU is exec'd already unprivileged (vmm_spawn() switches the
 * user and puts it in its own session), so it needs neither -runas nor
 * -daemonize, and the sandbox denies it every privilege change, every new
 * process and every resource-control call.  Files it would open by name as
 * root are opened by vmm_spawn() and handed over as descriptors: the disk,
 * the seed and the serial log through fdsets (-add-fd, /dev/fdset/N), the
 * tap with fd=; what it still opens by name (the template's backing image,
 * kernel and initrd, its sockets in run_dir) the caller makes readable to
 * its user.
 *
 * The collector appliance (spec.offline) is the same confined QEMU with
 * less in it: the VM's disk read-only, no NIC, no screen, a port.
 */
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/vmm.h"
#include "vmm/vmm_int.h"

#define QEMU_DEFAULT	"qemu-system-x86_64"
#define OVMF_PATH	"/usr/share/ovmf/OVMF.fd"
#define NAME_MAX_LEN	64
#define VMM_BALLOON_SLOT	"0x1e"	/* the VGA is in 0x1f */
#define VMM_LABCHECK_SLOT	"0x1d"	/* lab-check's virtio-serial */
#define VMM_AGENT_SLOT		"0x1c"	/* labd-agent's virtio-serial */
#define SANDBOX		"on,obsolete=deny,elevateprivileges=deny," \
			"spawn=deny,resourcecontrol=deny"

struct argv {
	char	**v;
	size_t	  n, cap;
	int	  oom;
};

static void
argv_add(struct argv *a, const char *fmt, ...)
{
	va_list	  ap;
	char	 *s, **nv;
	size_t	  ncap;

	if (a->oom)
		return;
	if (a->n + 2 > a->cap) {
		ncap = a->cap == 0 ? 64 : a->cap * 2;
		if ((nv = realloc(a->v, ncap * sizeof(*nv))) == NULL) {
			a->oom = 1;
			return;
		}
		a->v = nv;
		a->cap = ncap;
		a->v[a->n] = NULL;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1) {
		a->oom = 1;
		va_end(ap);
		return;
	}
	va_end(ap);
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static int
valid_name(const char *s)
{
	size_t	i;

	if (s == NULL || !((s[0] >= 'a' && s[0] <= 'z') ||
	    (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (i = 1; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return 0;
	return i <= NAME_MAX_LEN;
}

/* A user name for -runas: what useradd accepts, nothing more. */
static int
valid_user(const char *s)
{
	size_t	i;

	if (s == NULL || s[0] == '\0' || s[0] == '-')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return 0;
	return i <= 32;
}

static int
valid_mac(const char *s)
{
	unsigned	b[6];
	char		c;

	return strlen(s) == 17 && sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c",
	    &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &c) == 6 &&
	    (b[0] & 1) == 0;	/* a multicast MAC never gets a frame back */
}

/* 52:54:00 (QEMU's prefix) and 24 bits of FNV-1a of the name: stable. */
void
vmm_mac(const char *name, char *out, size_t outlen)
{
	uint32_t	h = 2166136261u;
	const char	*p;

	for (p = name; *p != '\0'; p++) {
		h ^= (unsigned char)*p;
		h *= 16777619u;
	}
	snprintf(out, outlen, "52:54:00:%02x:%02x:%02x", (h >> 16) & 0xff,
	    (h >> 8) & 0xff, h & 0xff);
}

/* NULL is fine (an optional file); a comma is not, nor are control bytes. */
static int
check_path(const char *what, const char *path, char *err, size_t errlen)
{
	const char	*p;

	if (path == NULL)
		return 0;
	if (path[0] == '\0') {
		snprintf(err, errlen, "%s: empty path", what);
		return -1;
	}
	for (p = path; *p != '\0'; p++) {
		if (*p == ',') {
			snprintf(err, errlen, "%s path %s has a comma, which"
			    " QEMU's option syntax cannot take", what, path);
			return -1;
		}
		if ((unsigned char)*p < 0x20) {
			snprintf(err, errlen, "%s path has a control"
			    " character", what);
			return -1;
		}
	}
	return 0;
}

/*
 * The socket files must fit a sockaddr_un, or QEMU fails obscurely;
 * LONGEST_SOCK is the longest of their names.
 */
#define LONGEST_SOCK	"/qmp-ctl.sock"
static int
check_sock_dir(const char *dir, char *err, size_t errlen)
{
	struct sockaddr_un	sun;

	if (strlen(dir) + sizeof(LONGEST_SOCK) > sizeof(sun.sun_path)) {
		snprintf(err, errlen, "run directory %s is too long for a"
		    " UNIX socket path (at most %zu bytes)", dir,
		    sizeof(sun.sun_path) - sizeof(LONGEST_SOCK));
		return -1;
	}
	return 0;
}

static int
check_spec(const struct vmm_spec *s, char *err, size_t errlen)
{
	struct in_addr	ia;
	size_t		i;

	if (!valid_name(s->name)) {
		snprintf(err, errlen, "bad VM name \"%s\": want [a-z0-9]"
		    " then [a-z0-9_-], at most %d characters",
		    s->name != NULL ? s->name : "", NAME_MAX_LEN);
		return -1;
	}
	if (s->accel != VMM_ACCEL_KVM && s->accel != VMM_ACCEL_TCG) {
		snprintf(err, errlen, "%s: accelerator must be resolved to"
		    " kvm or tcg", s->name);
		return -1;
	}
	if (s->memory_mb == 0 || s->vcpus == 0) {
		snprintf(err, errlen, "%s: memory and vcpus must be more"
		    " than 0", s->name);
		return -1;
	}
	if (s->run_dir == NULL || s->log_dir == NULL) {
		snprintf(err, errlen, "%s: no run or log directory", s->name);
		return -1;
	}
	if (check_path("disk", s->disk, err, errlen) == -1 ||
	    check_path("seed", s->seed, err, errlen) == -1 ||
	    check_path("kernel", s->kernel, err, errlen) == -1 ||
	    check_path("initrd", s->initrd, err, errlen) == -1 ||
	    check_path("run directory", s->run_dir, err, errlen) == -1 ||
	    check_path("log directory", s->log_dir, err, errlen) == -1 ||
	    check_sock_dir(s->run_dir, err, errlen) == -1)
		return -1;
	if (s->firmware != NULL && strcmp(s->firmware, "bios") != 0 &&
	    strcmp(s->firmware, "uefi") != 0) {
		snprintf(err, errlen, "%s: firmware \"%s\": want bios or uefi",
		    s->name, s->firmware);
		return -1;
	}
	if (s->mac != NULL && !valid_mac(s->mac)) {
		snprintf(err, errlen, "%s: bad MAC address \"%s\"", s->name,
		    s->mac);
		return -1;
	}
	if (s->tap != NULL && (!valid_user(s->tap) ||
	    strlen(s->tap) > 15)) {
		snprintf(err, errlen, "%s: bad tap name \"%s\"", s->name,
		    s->tap);
		return -1;
	}
	for (i = 0; i < s->nfwd; i++) {
		const struct vmm_fwd	*f = &s->fwds[i];

		/* IPv4 only: hostfwd's syntax has no brackets for IPv6. */
		if (f->host_ip == NULL || inet_pton(AF_INET, f->host_ip,
		    &ia) != 1 || f->host_port == 0 || f->guest_port == 0) {
			snprintf(err, errlen, "%s: bad port forward %s:%u ->"
			    " %u", s->name, f->host_ip ? f->host_ip : "?",
			    f->host_port, f->guest_port);
			return -1;
		}
	}
	return 0;
}

/* hostfwd=...,hostfwd=... for -netdev user. */
static char *
netdev_opts(const struct vmm_spec *s)
{
	char	*cur, *next;
	size_t	 i;

	/* A tap labd made and put in the bridge, opened by vmm_spawn(). */
	if (s->tap != NULL) {
		if (asprintf(&cur, "tap,id=net0,fd=%d", VMM_FD_TAP) == -1)
			return NULL;
		return cur;
	}
	if (asprintf(&cur, "user,id=net0%s", s->restrict_net ?
	    ",restrict=on" : "") == -1)
		return NULL;
	for (i = 0; i < s->nfwd; i++) {
		if (asprintf(&next, "%s,hostfwd=tcp:%s:%u-:%u", cur,
		    s->fwds[i].host_ip, s->fwds[i].host_port,
		    s->fwds[i].guest_port) == -1) {
			free(cur);
			return NULL;
		}
		free(cur);
		cur = next;
	}
	return cur;
}

static void
net_args(struct argv *a, const char *net, const char *mac)
{
	argv_add(a, "-netdev");
	argv_add(a, "%s", net);
	argv_add(a, "-device");
	argv_add(a, "virtio-net-pci,netdev=net0,mac=%s", mac);
}

/*
 * The collector appliance: no NIC at all, its one way out the port on a
 * socket labd holds (fd=, already connected: no socket file, no wait for
 * a client), and the end of its work, a reboot, ends QEMU.
 */
static void
offline_args(struct argv *a)
{
	argv_add(a, "-nic");
	argv_add(a, "none");
	argv_add(a, "-device");
	argv_add(a, "virtio-serial-pci");
	argv_add(a, "-chardev");
	argv_add(a, "socket,id=chan0,fd=%d", VMM_FD_CHAN);
	argv_add(a, "-device");
	argv_add(a, "virtserialport,chardev=chan0,name=" VMM_COLLECT_PORT);
	argv_add(a, "-no-reboot");
}

char **
qemu_argv_build(const struct vmm_spec *s, char *err, size_t errlen)
{
	struct argv	 a = { 0 };
	char		 mac[18], *net = NULL;
	/*
	 * QEMU offers guest RAM to KSM unless told not to.  A merged page
	 * is copied when it is written, and a RAM restore writes all the
	 * guest's pages: with KSM, a reset of a class costs three times the
	 * CPU (labd.ini(5), ksm).
	 */
	const char	*mem_merge = s->no_mem_merge ? ",mem-merge=off" : "";
	int		 kvm;

	if (check_spec(s, err, errlen) == -1)
		return NULL;
	kvm = s->accel == VMM_ACCEL_KVM;
	if (s->mac != NULL)
		snprintf(mac, sizeof(mac), "%s", s->mac);
	else
		vmm_mac(s->name, mac, sizeof(mac));
	if ((net = netdev_opts(s)) == NULL)
		goto oom;

	argv_add(&a, "%s", s->qemu != NULL ? s->qemu : QEMU_DEFAULT);
	argv_add(&a, "-name");
	argv_add(&a, "%s", s->name);
	argv_add(&a, "-nodefaults");
	argv_add(&a, "-no-user-config");
	argv_add(&a, "-machine");
	if (kvm)
		argv_add(&a, "pc,accel=kvm%s", mem_merge);
	else {
		argv_add(&a, "pc%s", mem_merge);
		argv_add(&a, "-accel");
		if (s->tb_size_mb != 0)
			argv_add(&a, "tcg,tb-size=%u", s->tb_size_mb);
		else
			argv_add(&a, "tcg");
	}
	argv_add(&a, "-cpu");
	argv_add(&a, "%s", kvm ? "host" : "max");
	argv_add(&a, "-m");
	argv_add(&a, "%uM", s->memory_mb);
	argv_add(&a, "-smp");
	argv_add(&a, "%u", s->vcpus);
	argv_add(&a, "-display");
	argv_add(&a, "none");
	if (s->firmware != NULL && strcmp(s->firmware, "uefi") == 0) {
		argv_add(&a, "-bios");
		argv_add(&a, OVMF_PATH);
	}
	if (s->kernel != NULL) {
		argv_add(&a, "-kernel");
		argv_add(&a, "%s", s->kernel);
		if (s->initrd != NULL) {
			argv_add(&a, "-initrd");
			argv_add(&a, "%s", s->initrd);
		}
		if (s->append != NULL) {
			argv_add(&a, "-append");
			argv_add(&a, "%s", s->append);
		}
	}
	if (s->disk != NULL && s->offline) {
		/* Read-only all the way down: QEMU is not even given a way. */
		argv_add(&a, "-add-fd");
		argv_add(&a, "fd=%d,set=%d,opaque=disk-ro", VMM_FD_DISK_RO,
		    VMM_FDSET_DISK);
		argv_add(&a, "-blockdev");
		argv_add(&a, "driver=qcow2,node-name=disk0,read-only=on,"
		    "file.driver=file,file.filename=/dev/fdset/%d",
		    VMM_FDSET_DISK);
		argv_add(&a, "-device");
		argv_add(&a, "virtio-blk-pci,drive=disk0");
	} else if (s->disk != NULL) {
		argv_add(&a, "-add-fd");
		argv_add(&a, "fd=%d,set=%d,opaque=disk-rw", VMM_FD_DISK_RW,
		    VMM_FDSET_DISK);
		argv_add(&a, "-add-fd");
		argv_add(&a, "fd=%d,set=%d,opaque=disk-ro", VMM_FD_DISK_RO,
		    VMM_FDSET_DISK);
		argv_add(&a, "-blockdev");
		argv_add(&a, "driver=qcow2,node-name=disk0,file.driver=file,"
		    "file.filename=/dev/fdset/%d", VMM_FDSET_DISK);
		argv_add(&a, "-device");
		argv_add(&a, "virtio-blk-pci,drive=disk0,bootindex=1");
	}
	if (s->seed != NULL) {
		argv_add(&a, "-add-fd");
		argv_add(&a, "fd=%d,set=%d,opaque=seed", VMM_FD_SEED,
		    VMM_FDSET_SEED);
		argv_add(&a, "-blockdev");
		argv_add(&a, "driver=raw,node-name=seed0,read-only=on,"
		    "file.driver=file,file.filename=/dev/fdset/%d",
		    VMM_FDSET_SEED);
		argv_add(&a, "-device");
		argv_add(&a, "virtio-blk-pci,drive=seed0");
	}
	if (s->offline)
		offline_args(&a);
	else
		net_args(&a, net, mac);
	/*
	 * A guest kernel that panics tells the pvpanic device, and QEMU
	 * stops it there (rather than let it reboot or hang unseen) and
	 * sends GUEST_PANICKED: the caller decides what comes next.
	 */
	argv_add(&a, "-device");
	argv_add(&a, "pvpanic");
	/*
	 * Free page reporting: the guest tells QEMU which of its pages are
	 * free, and QEMU gives them back to the host.  What a guest freed
	 * no longer counts in QEMU's memory, and reads as zero, which a RAM
	 * snapshot stores in a few bytes rather than a page.  A guest
	 * without the virtio_balloon driver just never uses it.  In a slot
	 * of its own, next to the VGA's, for the same reason: the disks and
	 * the NIC keep theirs.  There is no switch to leave it out: a RAM
	 * snapshot taken with it loads only into a QEMU that has it.
	 */
	argv_add(&a, "-device");
	argv_add(&a, "virtio-balloon-pci,free-page-reporting=on,"
	    "addr=" VMM_BALLOON_SLOT);
	argv_add(&a, "-action");
	argv_add(&a, "panic=pause");
	argv_add(&a, "-add-fd");
	argv_add(&a, "fd=%d,set=%d,opaque=serial-log", VMM_FD_SERIAL,
	    VMM_FDSET_SERIAL);
	argv_add(&a, "-chardev");
	argv_add(&a, "socket,id=ser0,path=%s/" VMM_SERIAL_SOCK ",server=on,"
	    "wait=off,logfile=/dev/fdset/%d,logappend=on", s->run_dir,
	    VMM_FDSET_SERIAL);
	argv_add(&a, "-serial");
	argv_add(&a, "chardev:ser0");
	argv_add(&a, "-chardev");
	argv_add(&a, "socket,id=qmp0,path=%s/qmp.sock,server=on,wait=off",
	    s->run_dir);
	argv_add(&a, "-mon");
	argv_add(&a, "chardev=qmp0,mode=control");
	/*
	 * A second monitor: labd's event loop holds qmp.sock for good (a
	 * chardev socket serves one client), and a snapshot job answers no
	 * command until it is done, so worker threads run such jobs here
	 * rather than stall the loop.  Events are sent to both monitors.
	 */
	argv_add(&a, "-chardev");
	argv_add(&a, "socket,id=qmp1,path=%s/qmp-ctl.sock,server=on,wait=off",
	    s->run_dir);
	argv_add(&a, "-mon");
	argv_add(&a, "chardev=qmp1,mode=control");
	/*
	 * The screen: a standard VGA (-nodefaults leaves none), shown only
	 * on a UNIX socket in run_dir that labd's VNC server reads
	 * (labd/vnc_vm.c); nothing of QEMU's own VNC is on the network.
	 * In the last PCI slot: -vga std would take slot 2 and move the
	 * disks and the NIC, and a RAM snapshot or a suspended VM of a
	 * labd without screens would no longer load.
	 */
	if (!s->offline) {
		argv_add(&a, "-device");
		argv_add(&a, "VGA,addr=0x1f");
		argv_add(&a, "-vnc");
		argv_add(&a, "unix:%s/vnc.sock", s->run_dir);
		/*
		 * lab-check's port (labd/labcheck.c): a virtio-serial port
		 * named org.labd.check whose host end labd connects to.  In
		 * a slot of its own below the balloon's and the VGA's, for
		 * the same reason: the disks and the NIC keep their slots.
		 * A RAM snapshot taken without it still loads (a device the
		 * stream does not name keeps its reset state).
		 */
		argv_add(&a, "-device");
		argv_add(&a, "virtio-serial-pci,id=labck0,addr="
		    VMM_LABCHECK_SLOT);
		argv_add(&a, "-chardev");
		argv_add(&a, "socket,id=labck,path=%s/" VMM_CHECK_SOCK
		    ",server=on,wait=off", s->run_dir);
		argv_add(&a, "-device");
		argv_add(&a, "virtserialport,bus=labck0.0,chardev=labck,"
		    "name=" VMM_CHECK_PORT);
		/*
		 * labd-agent's port (labd/agent.c): the clock and the sudo
		 * policy after a RAM restore, without an SSH login.  On a
		 * virtio-serial device of its own, in a slot of its own:
		 * a second port on lab-check's bus changes that device's
		 * port map, and QEMU refuses to load a RAM snapshot taken
		 * without it (virtio-console, error -22: every pristine and
		 * suspended VM of an older labd); a device the stream does
		 * not name keeps its reset state.
		 */
		argv_add(&a, "-device");
		argv_add(&a, "virtio-serial-pci,id=labag0,addr="
		    VMM_AGENT_SLOT);
		argv_add(&a, "-chardev");
		argv_add(&a, "socket,id=labag,path=%s/" VMM_AGENT_SOCK
		    ",server=on,wait=off", s->run_dir);
		argv_add(&a, "-device");
		argv_add(&a, "virtserialport,bus=labag0.0,chardev=labag,"
		    "name=" VMM_AGENT_PORT);
	}
	if (s->fw_cfg_golden) {
		argv_add(&a, "-fw_cfg");
		argv_add(&a, "name=" VMM_FW_CFG_GOLDEN ",string=1");
	}
	/* Paused before the first instruction: a snapshot is loaded first. */
	if (s->start_paused)
		argv_add(&a, "-S");
	argv_add(&a, "-sandbox");
	argv_add(&a, SANDBOX);
	argv_add(&a, "-pidfile");
	argv_add(&a, "%s/pid", s->run_dir);
	if (a.oom)
		goto oom;
	free(net);
	return a.v;
oom:
	free(net);
	vmm_argv_free(a.v);
	snprintf(err, errlen, "%s: out of memory", s->name);
	return NULL;
}

void
vmm_argv_free(char **argv)
{
	size_t	i;

	if (argv == NULL)
		return;
	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

int
vmm_path(char *out, size_t outlen, const char *dir, const char *leaf)
{
	int	n;

	n = snprintf(out, outlen, "%s/%s", dir, leaf);
	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}
