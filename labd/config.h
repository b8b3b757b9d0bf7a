/* SPDX-License-Identifier: ISC */
/*
 * config.h - labd's inputs from files: labd.ini, template profiles and
 * course rosters.  Every error names the file, the line and the field.
 */
#ifndef LABD_CONFIG_H
#define LABD_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/vmm.h"
#include "portforward/portforward.h"

#define LABD_ERRLEN		1024
#define LABD_MAX_PUBLISH	8
#define LABD_MAX_PUBLIC_IPS	2
#define LABD_NAMELEN		33	/* 32 characters and NUL */

enum labd_netmode {
	LABD_NET_USER = 0,
	LABD_NET_BRIDGE,
};

struct labd_config {
	char			 path[PATH_MAX];	/* the file read, "" for defaults */
	/* [labd] */
	char			 state_dir[PATH_MAX];	/* default /var/lib/labd */
	char			 run_dir[PATH_MAX];	/* default /run/labd */
	char			 socket[PATH_MAX];	/* default run_dir/labd.sock */
	char			 group[64];		/* admin role's group, default labadmin (skipped if absent) */
	char			 ta_group[64];		/* ta role's group, default "": no ta role */
	int			 workers;		/* parallel VM operations, 0 auto */
	int			 keep_removed;		/* seconds a removed or replaced disk is kept, default 24 h */
	/* [network] */
	enum labd_netmode	 net_mode;		/* default user */
	char			 public_ips[LABD_MAX_PUBLIC_IPS][PF_IPLEN];
	int			 npublic_ips;		/* default 1: 127.0.0.1 */
	char			 bridge[16];		/* default labbr0 */
	char			 subnet[64];		/* default 10.77.0.0/16 */
	uint32_t		 subnet_base;		/* the same, parsed: host order */
	int			 subnet_plen;
	/* [publish] */
	struct pf_service	 publish[LABD_MAX_PUBLISH];
	int			 npublish;		/* default: ssh = first public ip:22000 */
	/* [vmm] */
	char			 qemu[PATH_MAX];	/* default qemu-system-x86_64 */
	char			 qemu_img[PATH_MAX];	/* default qemu-img */
	/* collector-vmlinuz and -initrd; "": none, no offline collect */
	char			 collector[PATH_MAX];
	enum vmm_accel		 accel;			/* default auto */
	uint32_t		 uid_base;		/* VM n runs as uid_base + n when root */
	int			 ksm;			/* LABD_KSM_*, default auto */
	unsigned		 ksm_pages_to_scan;	/* when labd turns KSM on; 0: the host's */
	unsigned		 tb_size_mb;		/* TCG translation cache, default 32; 0: QEMU's own */
	/* [vnc]: the wall and each student's screen; off while port is 0 */
	char			 vnc_ip[PF_IPLEN];
	uint16_t		 vnc_port;
	char			 vnc_web_ip[PF_IPLEN];	/* noVNC; off while web_port is 0 */
	uint16_t		 vnc_web_port;
	char			 vnc_password_file[PATH_MAX];	/* first line: the instructor's */
	/* [gateway] */
	char			 gw_ip[PF_IPLEN];	/* "": no gateway (default) */
	uint16_t		 gw_port;
	char			 gw_host_key[PATH_MAX];	/* "": state_dir/gateway_ed25519 */
	int			 gw_sessions;		/* at once per student, default 10 */
	int			 gw_failures;		/* failed logins an address a minute, default 10 */
	int			 max_booting;		/* VMs booting at once; 0: auto */
	int			 boot_timeout;		/* seconds to ready, default 600 */
	int			 boot_tries;		/* boots before failed, default 3 */
	int			 instant_clone;		/* fresh VMs from a golden, default 1 */
};
/*
 * VM n's QEMU runs as uid and gid uid_base + n (n = the VM's id, below
 * LABD_UIDS), so no two VMs share a uid.  The default lies in the range
 * systemd leaves unused (1879048192-2147483647), above the container
 * ranges, so it meets no account and no subuid range.
 */
#define LABD_UID_BASE	1879048192U
#define LABD_UIDS	65536U

/*
 * Under TCG each QEMU caches translated guest code; QEMU's own size (up to
 * 1 GiB, touched as it fills) is most of a small VM's cost.  32 MiB cut a
 * tiny VM's PSS from 239 to about 200 MiB with no boot time lost.
 */
#define LABD_TB_SIZE_MB	32

#define LABD_KEEP_REMOVED	(24 * 3600)
#define LABD_KEEP_REMOVED_MAX	(30 * 24 * 3600)

#define LABD_KSM_AUTO	-1	/* on when labd runs as root */
#define LABD_KSM_OFF	0	/* the host's setting is left as it is */
#define LABD_KSM_ON	1
#define LABD_KSM_PAGES_TO_SCAN	1000	/* ksmd each 20 ms; the kernel has 100 */

/* config.c */
void	config_defaults(struct labd_config *);
/*
 * Read labd.ini over the defaults (with iniparser: proto/ini.c).  Syntax
 * errors, unknown sections or keys, bad values, a [publish] IP that is
 * not one of public_ips: -1 with err as
 * "labd.ini line 12: [publish] ssh: port 70000 is out of range".
 */
int	config_load(const char *path, struct labd_config *, char *err, size_t errlen);
/*
 * A key's path value resolved against the ini file's folder base
 * (ini_path in proto/client.h), with "needs a path" on err.
 */
int	ini_set_path(const char *base, const char *v, char *dst, size_t dstlen,
	    char *err, size_t errlen);

/* profile.c */
#define LABD_MAX_GUEST_PORTS	8
struct template_profile {
	char		path[PATH_MAX];		/* the profile file */
	char		disk[PATH_MAX];		/* absolute, resolved against the profile's folder */
	char		kernel[PATH_MAX];	/* "" when booting from disk */
	char		initrd[PATH_MAX];
	char		append[1024];
	char		firmware[8];		/* bios | uefi */
	unsigned	memory_mb;		/* memory = 128M | 1G | 512 (MiB) */
	unsigned	vcpus;
	char		guest_names[LABD_MAX_GUEST_PORTS][PF_NAMELEN];
	uint16_t	guest_ports[LABD_MAX_GUEST_PORTS];
	size_t		nguest;			/* publish = ssh:22, http:80 */
	char		ready_line[128];	/* optional: a serial line that means "booted" */
	int		instant_clone;		/* TPL_CLONE_* */
};
/*
 * [template] instant_clone: whether labd starts its VMs from a golden
 * (labd/golden.c).  auto: when it boots a kernel labd gives a command line
 * (the flag goes there) and has a ready_line; yes: also from its own disk
 * (GRUB), the flag in fw_cfg, the guest having the golden point
 * (templates/debian/labd-golden); no: never.
 */
enum { TPL_CLONE_AUTO, TPL_CLONE_YES, TPL_CLONE_NO };
const char	*profile_clone_name(int);
int		 profile_clone_parse(const char *);	/* -1: none of them */
void	profile_defaults(struct template_profile *);
/*
 * Opens a file the profile names (key "disk", "kernel" or "initrd": path
 * is absolute) for whoever asked, and keeps it; -1 with err refuses it.
 */
typedef int (*profile_open_fn)(void *arg, const char *key, const char *path,
	    char *err, size_t errlen);
/*
 * [template] disk, memory, vcpus, publish, kernel, initrd, append,
 * firmware, ready_line from fd, called path in errors; each file it names
 * goes to open (NULL: opened and closed as labd, to see it is there).
 */
int	profile_read(int fd, const char *path, struct template_profile *,
	    profile_open_fn open, void *arg, char *err, size_t errlen);
/* The same from path, opened as labd (a regular file, no link). */
int	profile_load(const char *path, struct template_profile *, char *err, size_t errlen);

/* roster.c */
struct roster_entry {
	char	id[LABD_NAMELEN];	/* login name: [a-z_][a-z0-9_-]{0,31} */
	char	name[128];		/* free text, may hold quotes and commas */
	char	email[256];		/* may be empty */
	char	ssh_key[8192];		/* one OpenSSH public key line, may be empty */
	int	line;			/* line in the file, for messages */
};
struct roster {
	struct roster_entry	*v;
	size_t			 n;
};
/*
 * Parse roster CSV text (RFC 4180 quoting; header "id,name,email,ssh_key"
 * required, columns in any order, extra unknown columns are an error).
 * fname names the text in messages.  Every bad row is reported, one per
 * line of err ("roster.csv line 4: id: '../x' is not a valid login name"),
 * and on any error nothing is returned.  Duplicate ids are errors.
 */
int	roster_parse(const char *text, size_t len, const char *fname,
	    struct roster *, char *err, size_t errlen);
int	roster_load(const char *path, struct roster *, char *err, size_t errlen);
void	roster_free(struct roster *);

/* names.c */
/* Names that become paths or arguments: [a-z][a-z0-9-]{0,31}, no "--", no trailing '-'. */
int	name_valid(const char *);
/* Student ids: [a-z_][a-z0-9_-]{0,31}, not a system account (root, daemon, labd, ...). */
int	login_valid(const char *);
/*
 * Free text shown to people (a student's name, e-mail, key comment),
 * valid UTF-8 of len bytes: NULL when it holds no control, bidirectional
 * or invisible character; else what the first one is ("a bidirectional
 * control, ..."), its code point in *cp.
 */
const char *text_unsafe(const char *, size_t len, uint32_t *cp);

#endif /* LABD_CONFIG_H */
