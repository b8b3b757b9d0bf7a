/* SPDX-License-Identifier: ISC */
/*
 * vmm.h - the public face of the vmm library: everything about one VM.
 *
 * qcow2 overlays on a template, the cloud-init NoCloud seed, the QEMU
 * command line, spawning QEMU so that it outlives its parent, a native QMP
 * client and the readiness probes.  The library knows nothing of labd, the
 * control socket, the database or courses: callers hand it plain paths and
 * numbers.
 *
 * Conventions: functions return 0 on success and -1 on failure (or a
 * pointer / NULL) and write a message a person can act on into the
 * caller's err buffer of errlen bytes.  Nothing here exits the process.
 * Every child (qemu, qemu-img, genisoimage) is exec'd with an argv array,
 * never through a shell.  Functions are safe to call from worker threads
 * unless they take a struct qmp, which belongs to one thread at a time.
 */
#ifndef LABD_VMM_H
#define LABD_VMM_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define VMM_ERRLEN	512
/* The files of a VM's run_dir that others open, by name. */
#define VMM_QMP_SOCK	"qmp.sock"
#define VMM_SERIAL_SOCK	"serial.sock"	/* the serial console: labctl, labtui */
#define VMM_CHECK_SOCK	"check.sock"	/* lab-check's port (labd/labcheck.c) */
#define VMM_CHECK_PORT	"org.labd.check"	/* its name in the guest */
#define VMM_AGENT_SOCK	"agent.sock"	/* labd-agent's port (labd/agent.c) */
#define VMM_AGENT_PORT	"org.labd.agent"	/* its name in the guest */
/* The golden's flag: /sys/firmware/qemu_fw_cfg/by_name/<this>/raw. */
#define VMM_FW_CFG_GOLDEN	"opt/org.labd/golden"

/* accel.c */
enum vmm_accel {
	VMM_ACCEL_AUTO = 0,
	VMM_ACCEL_KVM,
	VMM_ACCEL_TCG,
};
/* "auto" | "kvm" | "tcg"; -1 on anything else. */
int		 vmm_accel_parse(const char *, enum vmm_accel *);
const char	*vmm_accel_name(enum vmm_accel);
/*
 * Resolve AUTO: KVM when /dev/kvm opens and a VM can be created in it,
 * else TCG.  When it falls back, why gets the reason (for the caller's one
 * warning); otherwise why is set to "".  KVM or TCG asked for explicitly is
 * returned as is.
 */
enum vmm_accel	 vmm_accel_resolve(enum vmm_accel, char *why, size_t whylen);

/* overlay.c */
/*
 * Create a qcow2 overlay at path whose backing file is backing (absolute
 * path; its format is probed once with qemu-img info and recorded with -F).
 * The file is made under a temporary name in the same folder and renamed
 * into place, so path either does not exist or is a complete overlay.
 * qemu_img may be NULL for "qemu-img".
 */
int	 overlay_create(const char *qemu_img, const char *backing,
	    const char *path, char *err, size_t errlen);
/* Fill backing with the overlay's backing file name (qemu-img info --output=json). */
int	 overlay_backing(const char *qemu_img, const char *path,
	    char *backing, size_t backinglen, char *err, size_t errlen);
/* Bytes actually allocated on the host for a file (st_blocks * 512), -1 on error. */
long long overlay_disk_usage(const char *path);

/* seed.c */
struct vmm_user {
	const char	 *name;		/* login name, already validated */
	const char	 *gecos;	/* free text, may be NULL */
	const char	 *passwd_hash;	/* crypt(3) hash, NULL = locked */
	const char	**keys;		/* authorized keys */
	size_t		  nkeys;
};

/* The guest's one NIC, configured statically through network-config. */
struct vmm_net {
	const char	*mac;		/* the NIC's MAC, "52:54:00:..", may be NULL */
	const char	*address;	/* "10.77.0.9/16" */
	const char	*gateway;	/* "10.77.0.1", may be NULL */
	const char	*dns;		/* "10.77.0.1", may be NULL */
};

/*
 * A file cloud-init writes once per instance (write_files), in base64 so
 * that any byte survives YAML; the tiny template's seed.sh does the same.
 */
struct vmm_file {
	const char	*path;		/* absolute, [A-Za-z0-9/._-], no ".." */
	const char	*content;
	size_t		 len;
	unsigned	 mode;		/* 0644 */
};

struct vmm_seed {
	const char		*instance_id;	/* changes when the disk is re-created */
	const char		*hostname;
	const struct vmm_user	*users;
	size_t			 nusers;
	const char		*mgmt_key;	/* labd's public key, put in root's authorized_keys; may be NULL */
	const struct vmm_net	*net;		/* NULL: no network-config (user mode) */
	const struct vmm_file	*files;		/* write_files */
	size_t			 nfiles;
	/* runcmd: shell lines cloud-init runs once per instance, at the end (the tiny guest ignores them) */
	const char *const	*runcmd;
	size_t			 nruncmd;
};
/*
 * Render the NoCloud files.  Strings are quoted for YAML so that any name
 * ("O'Brien, Jr.") survives.  Returned strings are malloc'd; NULL when
 * out of memory or a file's path or mode is not one listed above.
 */
size_t	 vmm_base64_size(size_t n, size_t wrap);
size_t	 vmm_base64(const unsigned char *src, size_t n, char *dst,
	    size_t wrap);
char	*seed_render_userdata(const struct vmm_seed *);
char	*seed_render_metadata(const struct vmm_seed *);
/*
 * Render seed->net as a network-config version 2 (netplan): interface
 * eth0, matched by MAC and renamed eth0 when there is a MAC, the address,
 * a default route via the gateway, the DNS server.  Every field is checked
 * first: the address is dotted-quad IPv4 with a /0../32 prefix and neither
 * the subnet's network nor broadcast address, the gateway lies in the
 * subnet; no address is 0/8, 127/8 or 224.0.0.0 and up; the MAC is
 * xx:xx:xx:xx:xx:xx and unicast.  NULL with err on bad input (or when
 * seed->net is NULL, or out of memory).
 *
 * cloud-init applies network-config once per instance-id; the tiny
 * template at every boot.  A VM whose address changes needs a new
 * instance-id to be seen by cloud images.
 */
char	*seed_render_netconfig(const struct vmm_seed *, char *err,
	    size_t errlen);
/*
 * Write an ISO 9660 image labelled "cidata" holding user-data, meta-data
 * and, when seed->net is set, network-config (tmp name + rename).  A bad
 * seed->net fails before anything is written.
 */
int	 seed_create(const struct vmm_seed *, const char *path,
	    char *err, size_t errlen);
/* SHA-512 crypt hash ("$6$...") of password with a random salt. */
int	 seed_hash_password(const char *password, char *out, size_t outlen);
/* A random password of len characters from an unambiguous alphabet. */
int	 seed_random_password(char *out, size_t len);

/* qemu_argv.c */
struct vmm_fwd {
	const char	*host_ip;	/* the public IP to listen on */
	uint16_t	 host_port;
	uint16_t	 guest_port;
};

#define VMM_CGROUPS_MAX	6
struct vmm_spec {
	const char		*name;		/* VM name, [a-z0-9-], used in -name and logs */
	const char		*qemu;		/* binary, NULL = qemu-system-x86_64 */
	enum vmm_accel		 accel;		/* resolved: KVM or TCG */
	unsigned		 tb_size_mb;	/* TCG's translation cache; 0: QEMU's default */
	int			 no_mem_merge;	/* RAM not offered to KSM (mem-merge=off) */
	unsigned		 memory_mb;
	unsigned		 vcpus;
	const char		*disk;		/* qcow2 overlay */
	const char		*seed;		/* NoCloud seed image, may be NULL */
	const char		*kernel;	/* direct kernel boot, may be NULL */
	const char		*initrd;	/* may be NULL */
	const char		*append;	/* may be NULL */
	const char		*firmware;	/* "bios" or "uefi"; NULL = bios */
	const char		*run_dir;	/* qmp.sock, serial.sock, vnc.sock, pid live here */
	const char		*log_dir;	/* serial.log and qemu.log live here */
	/*
	 * Who QEMU runs as.  With uid != 0 and labd root, QEMU is exec'd
	 * already as uid:gid with the groups given (and no others), so that
	 * its sandbox can deny privilege changes and new processes.  uid 0:
	 * QEMU runs as the caller.
	 */
	uid_t			 uid;
	gid_t			 gid;
	const gid_t		*groups;
	size_t			 ngroups;
	const char		*cgroup;	/* cgroup v2 folder QEMU joins (made here); may be NULL */
	/*
	 * Further cgroup folders QEMU joins, made (and limited) by the
	 * caller: the VM's folder in each cgroup v1 hierarchy, or a v2
	 * folder whose limits the caller wrote (cgroup then NULL).
	 */
	const char *const	*cgroups;
	size_t			 ncgroups;
	/*
	 * With uid and sock_gid set, run_dir becomes uid's with group
	 * sock_gid (set-group-ID, 2770) and QEMU's umask 007: its sockets and
	 * pidfile are then the group's too, for a labd that is not root.
	 */
	gid_t			 sock_gid;
	/*
	 * With fds_given, the caller opened the disk (read-write and
	 * read-only), the seed, serial.log and qemu.log: fds[VMM_SPEC_*],
	 * -1 where the spec names none.  vmm_spawn() uses them (and closes
	 * none) instead of opening the files by name.
	 */
	int			 fds_given;
	int			 fds[5];
	int			 restrict_net;	/* user networking with restrict=on */
	const char		*tap;		/* bridge mode: this tap, not user networking */
	const struct vmm_fwd	*fwds;
	size_t			 nfwd;
	const char		*mac;		/* may be NULL: derived from name */
	int			 start_paused;	/* -S: the guest waits for "cont" */
	/*
	 * The golden's boot of a guest that boots from its own disk
	 * (labd/golden.c): fw_cfg file VMM_FW_CFG_GOLDEN holds "1".
	 */
	int			 fw_cfg_golden;
	/*
	 * The collector appliance (labd/offline.c): the disk read-only, no
	 * NIC, no screen, -no-reboot, seed the raw paths disk, and a
	 * virtio-serial port "labd.collect" on chan_fd, a connected
	 * stream socket the caller keeps (vmm_spawn() hands QEMU a copy).
	 */
	int			 offline;
	int			 chan_fd;
};
#define VMM_COLLECT_PORT	"labd.collect"
#define VMM_SPEC_DISK_RW	0
#define VMM_SPEC_DISK_RO	1
#define VMM_SPEC_SEED		2
#define VMM_SPEC_SERIAL		3
#define VMM_SPEC_LOG		4
/*
 * Open spec's disk, seed, serial log and qemu.log into spec->fds (the
 * caller's rights, regular files only, never through a symlink) and set
 * fds_given; vmm_spec_close_fds() closes them.  -1 with err.
 */
int	  vmm_spec_open_fds(struct vmm_spec *, char *err, size_t errlen);
void	  vmm_spec_close_fds(struct vmm_spec *);
/* The MAC QEMU's NIC gets when spec.mac is NULL: 52:54:00 + a hash of name. */
void	  vmm_mac(const char *name, char *out, size_t outlen);
/*
 * NULL-terminated argv for QEMU; free with vmm_argv_free().  The disk, the
 * seed, the serial log and the tap are not named but passed as descriptors
 * (fdsets, tap fd=), opened by vmm_spawn() with the caller's rights.
 */
char	**qemu_argv_build(const struct vmm_spec *, char *err, size_t errlen);
void	  vmm_argv_free(char **);
/* The file name of one of a VM's runtime files: run_dir + "/" + leaf. */
int	  vmm_path(char *out, size_t outlen, const char *dir, const char *leaf);

/* proc.c */
/*
 * Start QEMU for spec in its own session so that it outlives the caller.
 * Returns when QEMU is set up (its monitor answers) with its pid in *pid.
 * On failure err holds the last lines QEMU wrote to qemu.log.
 */
int	 vmm_spawn(const struct vmm_spec *, pid_t *pid, char *err, size_t errlen);
/*
 * Is the QEMU of run_dir alive?  Reads run_dir/pid, checks the process
 * exists and that its command line is a QEMU with -name vm_name (so that
 * a recycled pid is never adopted).  1 alive (pid filled), 0 not, -1 error.
 */
int	 vmm_alive(const char *run_dir, const char *vm_name, pid_t *pid);
/* SIGTERM, wait up to timeout_ms, then SIGKILL; removes the pidfile. */
int	 vmm_kill(const char *run_dir, const char *vm_name, int timeout_ms,
	    char *err, size_t errlen);
/* Run argv (argv[0] looked up in PATH), wait for it; stderr captured into err on failure. */
int	 vmm_run(char *const argv[], char *err, size_t errlen);

/* qmp.c */
struct qmp;
typedef void (*qmp_event_cb)(void *arg, const char *event, json_t *data);
/* Connect to a QMP socket, read the greeting, negotiate capabilities. */
struct qmp	*qmp_open(const char *path, int timeout_ms, char *err, size_t errlen);
/* The same over an already connected fd (tests use socketpair()); takes the fd. */
struct qmp	*qmp_open_fd(int fd, int timeout_ms, char *err, size_t errlen);
void		 qmp_close(struct qmp *);
int		 qmp_fd(const struct qmp *);
/*
 * Run one command and wait (up to the timeout given at open) for its
 * reply.  args is borrowed and may be NULL.  On success *ret (if not NULL)
 * gets a new reference to the "return" value.  Events read while waiting
 * are queued for qmp_dispatch().
 */
int		 qmp_execute(struct qmp *, const char *cmd, json_t *args,
		    json_t **ret, char *err, size_t errlen);
/*
 * qmp_execute() with fd handed to QEMU along with the command (SCM_RIGHTS
 * on the command's first byte), for add-fd and getfd.  fd stays the
 * caller's; QEMU gets its own copy.
 */
int		 qmp_execute_fd(struct qmp *, int fd, const char *cmd,
		    json_t *args, json_t **ret, char *err, size_t errlen);
/*
 * Hand queued events and any that can be read without blocking to cb.
 * Returns the number dispatched, -1 when the peer has gone (EOF or error).
 */
int		 qmp_dispatch(struct qmp *, qmp_event_cb, void *arg);
/* query-status: fills status ("running", "paused", "shutdown", ...). */
int		 qmp_query_status(struct qmp *, char *status, size_t statuslen,
		    char *err, size_t errlen);
int		 qmp_powerdown(struct qmp *, char *err, size_t errlen);
int		 qmp_quit(struct qmp *, char *err, size_t errlen);

/* snapshot.c: internal qcow2 snapshots of a VM's disk (node "disk0") */
#define VMM_SNAPNAMELEN	64
struct vmm_snapshot {
	char		name[VMM_SNAPNAMELEN];
	int64_t		date_sec;	/* when it was taken, host clock */
	int64_t		vm_clock_ms;	/* the guest's run time at the snapshot */
	uint64_t	vm_state_size;	/* bytes of RAM and devices, 0 = disk only */
};
/* [A-Za-z0-9][A-Za-z0-9._-]{0,62}, not all digits (QEMU reads those as ids). */
int	snapshot_name_valid(const char *);
/*
 * Live, over QMP, on a running or paused QEMU: the snapshot-save,
 * snapshot-load and snapshot-delete jobs on node "disk0" (the RAM and
 * device state are stored in disk0 too; the read-only seed is left out).
 * Each waits for its job to conclude within timeout_ms, dismisses it and
 * reports the job's own error.  save and load keep the run state: a
 * running guest is paused while its RAM is written or read, then runs on.
 * save replaces a snapshot of the same name.
 */
int	snapshot_save(struct qmp *, const char *name, int timeout_ms,
	    char *err, size_t errlen);
int	snapshot_load(struct qmp *, const char *name, int timeout_ms,
	    char *err, size_t errlen);
int	snapshot_delete(struct qmp *, const char *name, int timeout_ms,
	    char *err, size_t errlen);
/* The snapshots of node disk0, oldest first; *out is malloc'd (NULL when none). */
int	snapshot_list(struct qmp *, struct vmm_snapshot **out, size_t *n,
	    char *err, size_t errlen);
/* Offline, with qemu-img snapshot on a stopped VM's disk: disk state alone. */
int	snapshot_offline_create(const char *qemu_img, const char *disk,
	    const char *name, char *err, size_t errlen);
int	snapshot_offline_apply(const char *qemu_img, const char *disk,
	    const char *name, char *err, size_t errlen);
int	snapshot_offline_delete(const char *qemu_img, const char *disk,
	    const char *name, char *err, size_t errlen);
int	snapshot_offline_list(const char *qemu_img, const char *disk,
	    struct vmm_snapshot **out, size_t *n, char *err, size_t errlen);

/* backup.c: a standalone copy of a VM's disk (node "disk0") */
/*
 * The copy is a qcow2 with no backing file and no snapshots, written into
 * fd: an empty regular file the caller made and opened read-write (and
 * renames into place afterwards), so that QEMU, running as another user,
 * never needs to open anything by name.  *vsize gets the disk's virtual
 * size.
 *
 * Live, on a running QEMU: blockdev-backup sync=full of disk0 into fd
 * (passed with add-fd, opened as /dev/fdset/N), the point in time when
 * the job started, while the guest runs on; it waits up to timeout_ms
 * for the job, then undoes everything it added to QEMU.  As consistent
 * as a power cut at that instant: flush the guest's cache first.
 */
int	backup_live(struct qmp *, const char *qemu_img, int fd, int timeout_ms,
	    uint64_t *vsize, char *err, size_t errlen);
/* Offline, on a stopped VM's disk: qemu-img convert -O qcow2 into fd. */
int	backup_offline(const char *qemu_img, const char *disk, int fd,
	    uint64_t *vsize, char *err, size_t errlen);

/* ssh.c */
/*
 * Run cmd on the guest over SSH (libssh) as user, authenticated with the
 * private key in keyfile.  out gets stdout and stderr (truncated to
 * outlen), *status the command's exit status.  0 when the command ran
 * (whatever its status), -1 with err when it could not be run within
 * timeout_ms.
 */
int	vmm_ssh_exec(const char *ip, uint16_t port, const char *user,
	    const char *keyfile, const char *cmd, int timeout_ms, char *out,
	    size_t outlen, int *status, char *err, size_t errlen);
/*
 * The same with the command made by mkcmd(arg, cmd, cmdlen) once the
 * login is done, just before it is sent: for a command that depends on
 * the moment it runs (setting the guest's clock), as a login under
 * emulation takes a second or two.  mkcmd returns -1 to give up.
 */
typedef int (*vmm_ssh_cmd_fn)(void *arg, char *cmd, size_t cmdlen);
int	vmm_ssh_exec_fn(const char *ip, uint16_t port, const char *user,
	    const char *keyfile, vmm_ssh_cmd_fn mkcmd, void *arg,
	    int timeout_ms, char *out, size_t outlen, int *status, char *err,
	    size_t errlen);
/*
 * vmm_ssh_exec() with in (inlen bytes) as the command's standard input:
 * for what is too long for a command line (dropbear takes 9000 bytes).
 */
int	vmm_ssh_exec_input(const char *ip, uint16_t port, const char *user,
	    const char *keyfile, const char *cmd, const char *in, size_t inlen,
	    int timeout_ms, char *out, size_t outlen, int *status, char *err,
	    size_t errlen);
/*
 * vmm_ssh_exec() whose standard output goes to sink(arg, buf, len) as it
 * arrives, for output that is data rather than words (a tar stream);
 * out gets stderr alone.  A sink that returns -1 ends the command: the
 * call returns -1 with err "stopped by the receiver", the sink's own
 * error being the caller's to tell.
 */
typedef int (*vmm_ssh_sink_fn)(void *arg, const void *buf, size_t len);
int	vmm_ssh_exec_stream(const char *ip, uint16_t port, const char *user,
	    const char *keyfile, const char *cmd, int timeout_ms,
	    vmm_ssh_sink_fn sink, void *arg, char *out, size_t outlen,
	    int *status, char *err, size_t errlen);

/* ready.c */
/* Has the serial log at path a line containing needle?  1 yes, 0 not yet, -1 error. */
int	 ready_serial_seen(const char *path, const char *needle);
/*
 * Connect with libssh to ip:port and read the server's banner within
 * timeout_ms.  0 and banner filled ("SSH-2.0-dropbear_..."), -1 with err.
 */
int	 ready_ssh_banner(const char *ip, uint16_t port, int timeout_ms,
	    char *banner, size_t bannerlen, char *err, size_t errlen);
/*
 * Has the guest finished its boot?  ready_guest_cmd() writes into out
 * the command (POSIX sh, for root over SSH) that prints one line,
 * "labd-status: S", S being cloud-init's own status ("done", "error",
 * "disabled", "running", "not run") or "none" in a guest without
 * cloud-init.  It is cheap while cloud-init runs: `cloud-init status`, a
 * Python program that takes seconds under emulation, runs only once
 * /run/cloud-init/result.json says the last stage is over.  when_done,
 * when not NULL, is a command run (as root) before the line is printed
 * once the boot is over.  -1 when out is too small.
 */
enum ready_state {
	READY_WAIT = 0,		/* still booting: ask again later */
	READY_DONE,		/* cloud-init done, disabled or absent */
	READY_ERROR,		/* cloud-init over, with errors: usable */
};
int	 ready_guest_cmd(const char *when_done, char *out, size_t outlen);
/* The state in that command's output; status gets S ("" when no line). */
enum ready_state ready_guest_parse(const char *output, char *status,
	    size_t statuslen);

/* img.c: qemu-img on regular files only, in limits, with a timeout */
/*
 * Who a tool runs as: the identity a child takes before exec (labd, as
 * root, passes a client's for the client's own files).  NULL: as we are.
 */
struct vmm_cred {
	uid_t		 uid;
	gid_t		 gid;
	const gid_t	*groups;
	size_t		 ngroups;
};
/*
 * qemu-img info --output=json of fd (a regular file), -f fmt unless fmt
 * is NULL (then probed), run as cred; name is how err calls the file.
 */
json_t	*img_info_fd(const char *qemu_img, const struct vmm_cred *, int fd,
	    const char *fmt, const char *name, char *err, size_t errlen);
/*
 * qemu-img convert -f fmt -O ofmt [-o opts] of in into out, run as cred:
 * out is emptied and written, and must be writable by cred.
 */
int	img_convert_fd(const char *qemu_img, const struct vmm_cred *, int in,
	    const char *fmt, int out, const char *ofmt, const char *opts,
	    const char *name, char *err, size_t errlen);

/* ova.c: .ova archives, a tar of an OVF descriptor and its disks */
#define OVA_NAMELEN	256
struct tar_entry {
	char		name[OVA_NAMELEN];	/* a plain name, "./" dropped */
	uint64_t	size;
	uint64_t	offset;			/* of its data in the archive */
};
struct ovf_info {
	unsigned	memory_mb;		/* 0: the descriptor does not say */
	unsigned	vcpus;			/* 0: the descriptor does not say */
	int		uefi;			/* VMware's firmware = efi */
	char		disk[OVA_NAMELEN];	/* the first disk's file */
};
/* The regular files of a tar; a damaged archive or a name that is a path: -1. */
int	tar_index(int fd, const char *fname, struct tar_entry **, size_t *n,
	    char *err, size_t errlen);
int	ovf_parse(const char *xml, size_t len, const char *fname,
	    struct ovf_info *, char *err, size_t errlen);
/*
 * An .ovf file, open on fd and called path, whose disk lies beside it:
 * disk gets that disk's path (for the caller to open).
 */
int	ovf_load(int fd, const char *path, struct ovf_info *, char *disk,
	    size_t disklen, char *err, size_t errlen);
/*
 * The .ova open on fd (called path in errors): the descriptor and its
 * first disk unpacked into dir; disk gets its path.  fd stays open.
 */
int	ova_extract(int fd, const char *path, const char *dir,
	    struct ovf_info *, char *disk, size_t disklen, char *err,
	    size_t errlen);

#endif /* LABD_VMM_H */
