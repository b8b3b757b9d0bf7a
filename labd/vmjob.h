/* SPDX-License-Identifier: ISC */
/*
 * vmjob.h - what vm.c (the loop side of a VM's life) hands to worker
 * threads and gets back: a copy of the VM's definition from the database
 * and the job's results.  The worker side is vmjob.c.
 */
#ifndef LABD_VMJOB_H
#define LABD_VMJOB_H

#include <limits.h>
#include <stdio.h>

#include "labd/labd.h"
#include "vmm/vmm.h"

#define VM_PROBE_TIMEOUT_MS	3000
/* A login and a command on a guest that may still be busy booting. */
#define VM_GUEST_TIMEOUT_MS	15000
/* cloud-init still runs: ask again after this, not at every tick. */
#define VM_PROBE_WAIT_MS	2000
#define VM_QMP_TIMEOUT_MS	5000
#define VM_SNAP_TIMEOUT_MS	(5 * 60 * 1000)	/* a few GiB of RAM under TCG */
#define VM_SUSPEND_SNAP		"labd-suspend"	/* the RAM of a suspended VM */
#define VM_EXEC_OUTPUT_MAX	(64 * 1024)	/* bytes of a command's output */
#define VM_BACKUP_TIMEOUT_MS	(60 * 60 * 1000)	/* tens of GiB, slow disks */

/* Everything a worker needs to make and run one VM, copied from the db. */
struct vmdef {
	int64_t		id;
	char		name[LABD_VMNAMELEN];
	char		login[LABD_NAMELEN];
	char		course[LABD_NAMELEN];
	char		gecos[128];
	char		ssh_key[8192];
	char		pw_hash[256];
	char		gw_key[512];	/* the course's gateway key, public */
	char		param[VM_PARAMLEN + 1];	/* /etc/labd/param (param.c) */
	int		internet;
	int		slot;
	int		generation;
	char		tpl_disk[PATH_MAX];
	char		kernel[PATH_MAX];
	char		initrd[PATH_MAX];
	char		append[1024];
	char		ready_line[128];	/* "": none */
	int		instant_clone;		/* the template's TPL_CLONE_* */
	char		firmware[8];
	unsigned	memory_mb, vcpus;
	struct cg_limits limits;	/* its course's, or the defaults */
	struct pf_rule	rules[LABD_MAX_GUEST_PORTS];
	size_t		nrules;
	char		vm_dir[PATH_MAX];
	char		run_dir[PATH_MAX];
};

enum vmjob_kind {
	VMJOB_START,	/* make what is missing, spawn (or adopt) QEMU */
	VMJOB_RESET,	/* kill, a fresh overlay from the template, spawn */
	VMJOB_KILL,	/* SIGTERM then SIGKILL */
	VMJOB_PROBE,	/* root's login with labd's key: is the boot over? */
	VMJOB_SNAPSHOT,	/* save snap: with RAM when running, else disk */
	VMJOB_SNAPDEL,	/* delete snap */
	VMJOB_RESTORE,	/* go back to snap: RAM in place, or disk + boot */
	VMJOB_SUSPEND,	/* RAM to disk, then QEMU quits */
	VMJOB_RESUME,	/* QEMU paused, RAM back from disk, continue */
	VMJOB_SYNC,	/* the course's policy (sudo), and the clock after a RAM restore */
	VMJOB_BACKUP,	/* a standalone copy of the disk at target */
	VMJOB_EXEC,	/* a command as root over SSH (labctl exec) */
};

struct vmjob;
/*
 * What the asker of a backup does around the copy.  prepare runs in the
 * worker before it; finish after it, whatever came of it (j->rc), and
 * returns the job's result; after in the loop's thread once the job is
 * over (vm NULL when the VM went meanwhile): it replies and frees arg.
 * after is required, the others may be NULL.  A backup with run does
 * that instead of the copy (offline.c's read of a stopped VM).  An exec
 * has after, and
 * run when it is not a command whose words are kept (collect.c's tar
 * stream): run then does the work in the worker and returns j->rc.
 */
struct vmjob_hooks {
	int	(*prepare)(struct vmjob *);
	int	(*finish)(struct vmjob *);
	void	(*after)(struct vmjob *, struct vm *);
	int	(*run)(struct vmjob *);
};

struct vmjob {
	struct job	 job;
	enum vmjob_kind	 kind;
	int64_t		 vm_id;
	unsigned	 gen;
	struct vmdef	 def;
	char		 ip[64];
	uint16_t	 port;
	int		 rc;
	pid_t		 pid;
	char		 err[VMM_ERRLEN];
	/* snapshots */
	char		 snap[VMM_SNAPNAMELEN];
	int		 running;	/* in: QEMU ran when the job was made */
	int		 ram;		/* in (restore) / out (snapshot) */
	int		 booted;	/* out: a new QEMU was spawned, pid set */
	int		 golden;	/* in (spawn): booted to its golden point */
	int		 clone;		/* in (spawn): the seed fits a golden's */
	uint64_t	 state_size;	/* out: bytes of RAM and devices */
	struct done	 done;		/* how it ended, for whoever asked */
	char		 keyfile[PATH_MAX];	/* labd's private key (probe, sync) */
	/* probe and sync: what the guest is made to agree with */
	char		 login[LABD_NAMELEN];	/* in: the student's account */
	int		 sudo;		/* in: the course lets students sudo */
	int		 set_clock;	/* in (sync): the clock too */
	int		 policy_set;	/* out (restore): clock and policy set */
	enum ready_state ready;		/* out (probe) */
	char		 ci_status[64];	/* out (probe): cloud-init's word */
	/* backups */
	char		 target[PATH_MAX];	/* in: absolute path of the copy */
	int		 force;		/* in: an existing target is replaced */
	int		 trusted;	/* in: labd chose target, not a client */
	uid_t		 uid;		/* in: who asked (SO_PEERCRED) */
	int		 peer;		/* in: req_peer() (not trusted): cmd_vm.c's */
	const struct vmjob_hooks *hooks;	/* in */
	void		*arg;		/* in: the hooks' own */
	int		 synced;	/* out: the guest flushed its cache */
	uint64_t	 vsize;		/* out: the disk's virtual size */
	long long	 bytes;		/* out: the copy's size */
	long long	 ms;		/* out: how long it all took */
	/* exec: in cmd, timeout_ms, hooks (after replies); out status, output */
	char		*cmd;		/* in: owned, freed with the job */
	int		 timeout_ms;	/* in */
	int		 status;	/* out: the command's exit status */
	char		*output;	/* out: stdout+stderr, UTF-8, owned */
	char		*input;		/* in: its stdin, owned; NULL: none */
	size_t		 inlen;
};


/* vmjob.c */
int	vmdef_load(int64_t id, struct vmdef *, char *err, size_t errlen);
void	vmjob_run(struct job *);

/* offline.c: collect from a stopped VM's disk, by the collector appliance */
/*
 * In the loop: j (with its hooks: run calls offline_stream()) submitted
 * on stopped vm for paths (checked).  NULL, or the LABD_E_* code with err.
 */
const char *offline_submit(struct vm *vm, struct vmjob *j, json_t *paths,
	    char *err, size_t errlen);
/* In j's worker: "tar -cf -" of j's paths into sink, as vmm_ssh_exec_stream. */
int	offline_stream(struct vmjob *j, int (*sink)(void *, const void *,
	    size_t), void *arg, char *errtext, size_t errtextlen, int *status);
/* The paths disk's text (a whole number of sectors, *len), owned. */
char	*offline_paths_text(json_t *paths, size_t *len);
/* The appliance's console: tar's status and stderr; -1 when not there. */
int	offline_console_parse(const char *text, int *status, char *errtext,
	    size_t errtextlen);

/* confine.c */
/* As root: state_dir open to the VMs' group, the cgroup folder made. */
int	confine_init(char *err, size_t errlen);
/* The template's files VM d's QEMU opens by name: readable to the VMs. */
int	confine_share(const struct vmdef *d, char *err, size_t errlen);
/* A VM's cgroup folders, made by confine_user() for its QEMU to join. */
struct confine_cg {
	char		 dirs[VMM_CGROUPS_MAX][PATH_MAX];
	const char	*ptrs[VMM_CGROUPS_MAX];
	size_t		 n;
};
/*
 * Fill s's uid, gid, groups (into groups[], room for 4) and cgroups (made
 * into cg, with limits lim) for VM name with id; with labd not root, QEMU
 * runs as labd, in no cgroup of its own.
 */
int	confine_user(const char *name, int64_t id, struct vmm_spec *s,
	    gid_t *groups, const struct cg_limits *lim, struct confine_cg *cg,
	    char *err, size_t errlen);
/* rmdir of the VM's cgroup folder: 1 gone, 0 busy (a zombie left). */
int	confine_cgroup_remove(const char *vm_name);
/* Has a VM cgroup folders to remove (labd root, some hierarchy used)? */
int	confine_cgroups(void);

/* priv.c */
/*
 * As root: fork the privileged helper, which keeps root for what needs it
 * (starting and killing QEMU as the VMs' users, their cgroups).  Not root:
 * nothing, and the calls below run in labd itself.
 */
int	priv_start(char *err, size_t errlen);
int	priv_active(void);
/*
 * Who the daemon becomes: uid uid_base (which no VM has: their ids start
 * at 1) and a group just past the VMs' range, so that what the daemon
 * makes is never the VMs' group's; its one extra group is the VMs' group
 * (uid_base), so that it can give the templates to them.
 */
#define LABD_DAEMON_UID	((uid_t)labd->cfg.uid_base)
#define LABD_DAEMON_GID	((gid_t)(labd->cfg.uid_base + LABD_UIDS))
/*
 * One request to the helper: req with fds, the answer's descriptors (up
 * to nr) in rfds (-1 where none), waiting ms at most (0: the default).
 * The answer, or NULL with the helper's error in err.
 */
json_t	*priv_request(json_t *req, const int *fds, int nfds, int *rfds,
	    int nr, int ms, char *err, size_t errlen);
/*
 * With a helper: everything labd keeps becomes the daemon's user's, and
 * labd becomes that user, without capabilities.  Call once, late.
 */
int	priv_drop(char *err, size_t errlen);
/*
 * Start VM d's QEMU as spec says (uid, cgroup and tap set on the way;
 * the QEMU binary, accelerator, tb_size and mem-merge from labd.ini).
 */
int	priv_spawn(const struct vmdef *d, struct vmm_spec *spec, pid_t *pid,
	    char *err, size_t errlen);
/* vmm_kill() of VM name, its cgroup folder removed after. */
int	priv_kill(const char *name, int timeout_ms, char *err, size_t errlen);
/*
 * What needs root in the network, done by the helper when there is one:
 * nft_apply(), nft_tables_present(), net_tap_ensure(), net_tap_remove(),
 * and the conntrack table opened for reading.
 */
int	priv_nft_apply(const char *text, char *err, size_t errlen);
int	priv_nft_tables_present(int bridge_mode, char *err, size_t errlen);
int	priv_tap_ensure(int64_t vm_id, char *err, size_t errlen);
void	priv_tap_remove(int64_t vm_id);
FILE	*priv_conntrack_open(void);
/* confine_cgroup_remove() where it can be done: 1 gone, 0 busy. */
int	priv_release(const char *name);
/* The VM's QEMU is gone: its cgroup folder too, now or a moment later. */
void	priv_cgroup_release(const char *vm_name);
/* The loop's timer that removes the folders of QEMUs reaped since. */
void	priv_sweep_start(void);

/*
 * Instant clones (golden.c): a shape's golden, a saved boot that the
 * fresh VMs of that shape start from.  vmjob.c does the spawns.
 */
#define GOLDEN_VERSION		"1"	/* of what a golden holds */
#define GOLDEN_KEYLEN		(LABD_NAMELEN + 40)	/* NAME@V-HASH */
#define GOLDEN_SNAP		"labd-golden"	/* the snapshot in its disk */
#define GOLDEN_ARG		"labd.golden"	/* on the golden's command line */
#define GOLDEN_LINE		"labd-golden:"	/* the guest waits */
#define GOLDEN_DONE_LINE	"labd-cloned:"	/* a copy took its go line */
#define GOLDEN_SEED_CAP		(8 * 1024 * 1024)
#define GOLDEN_RANDOM		32	/* bytes of the host's RNG a copy gets */
#define GOLDEN_GO_MS		5000	/* to take its go line, each of 3 tries */
#define GOLDEN_WAIT_MAX_S	180	/* for the golden point (or boot_timeout) */
enum golden_have {
	GOLDEN_ABSENT,		/* to be made (golden_claim: by the caller) */
	GOLDEN_MAKING,		/* being made by another worker */
	GOLDEN_READY,		/* state_dir/golden/KEY.qcow2 */
	GOLDEN_UNSUPPORTED,	/* the guest has no golden point: boot */
	GOLDEN_FAILED,		/* failed since labd started: boot */
};
void	golden_key(const struct vmdef *, char *key, size_t keylen);
int	golden_path(const char *key, const char *ext, char *out,
	    size_t outlen);
enum golden_have golden_have(const char *key);
/*
 * What to do for key, after waiting for another worker making it:
 * ABSENT makes it the caller's to make, who then says golden_made().
 */
enum golden_have golden_claim(const char *key);
void	golden_made(const char *key, int ok);
/* A golden that does not load: removed, and failed. */
void	golden_discard(const char *key);
/* A guest without a golden point: KEY.none. */
void	golden_unsupported(const char *key, const char *vm);
/* disk becomes key's golden, the template's older ones removed. */
int	golden_keep(const char *key, const char *disk, char *err,
	    size_t errlen);
int	golden_wait(const struct vmdef *, const char *ready_line,
	    int timeout_ms, char *err, size_t errlen);
int	golden_took(const struct vmdef *, int ms);
/* A template removed: its goldens too (tpl_dir: its folder). */
void	golden_forget(const char *tpl_dir);
int	golden_seed_fit(const char *seed, char *err, size_t errlen);
int	golden_go(const char *vm, const char *mac, char *err,
	    size_t errlen);

#endif /* LABD_VMJOB_H */
