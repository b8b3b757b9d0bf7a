/* SPDX-License-Identifier: ISC */
/*
 * vmm_int.h - what the files of vmm/ share among themselves and nobody
 * else: not part of the library's contract, callers use vmm.h only.
 */
#ifndef LABD_VMM_INT_H
#define LABD_VMM_INT_H

#include <stdint.h>
#include <stddef.h>

#include <jansson.h>

struct qmp;
struct vmm_cred;
struct ssh_session_struct;	/* libssh's ssh_session, without its header */

/* proc.c */
/* The monotonic clock in milliseconds: every deadline in vmm/ uses it. */
long long vmm_now_ms(void);
/* Sleep ms milliseconds, resuming after signals. */
void	 vmm_sleep_ms(int ms);
/*
 * vmm_run() with more: input (at most VMM_INPUT_MAX bytes, may be NULL)
 * is the child's whole stdin; timeout_ms > 0 kills it with SIGKILL when
 * it runs longer; with out, stdout is collected apart from stderr into
 * *out (malloc'd, NUL-terminated, at most VMM_OUTPUT_MAX bytes) so that
 * machine-readable output (qemu-img info --output=json) is not mixed
 * with warnings.
 */
#define VMM_INPUT_MAX	4096
#define VMM_OUTPUT_MAX	(4 * 1024 * 1024)
int	 vmm_run_io(char *const argv[], const char *input, int timeout_ms,
	    char **out, char *err, size_t errlen);

/*
 * The descriptors vmm_spawn() hands QEMU, at these numbers in the child
 * (0-2 are stdio, 3 the exec status pipe), named by qemu_argv_build().
 * The disk is in fdset 1 twice, read-write and read-only, since QEMU
 * opens an image again with other flags when it reopens it.
 */
#define VMM_FD_DISK_RW	4
#define VMM_FD_DISK_RO	5
#define VMM_FD_SEED	6
#define VMM_FD_SERIAL	7
#define VMM_FD_TAP	8
#define VMM_FD_CHAN	9	/* the collector's port (spec.offline) */
#define VMM_FD_COUNT	6
#define VMM_FDSET_DISK	1
#define VMM_FDSET_SEED	2
#define VMM_FDSET_SERIAL 3

/*
 * In a child between fork() and exec: every signal back to its default
 * action and none blocked (async-signal-safe).
 */
void	 vmm_child_signals(void);
/* Remove run_dir's pidfile and sockets (the files of a QEMU gone). */
void	 vmm_runtime_remove(const char *run_dir);

/*
 * What a child gets besides its argv: fds[i] open as 4 + i (a tool names
 * it /dev/fd/4, and opens it again with its own rights), hard limits on
 * its address space and CPU seconds (0: unchanged; no core file either
 * way), cred, when not NULL, the identity it takes before exec, and envp,
 * when not NULL, its whole environment (argv[0] is still looked up in
 * our PATH).
 */
#define VMM_CHILD_FDS	4
struct vmm_child {
	const struct vmm_cred	*cred;
	unsigned long long	 as_bytes;
	unsigned long		 cpu_secs;
	const int		*fds;
	size_t			 nfds;
	char *const		*envp;
};
/* vmm_run_io() for such a child; c may be NULL. */
int	 vmm_run_child(const struct vmm_child *c, char *const argv[],
	    const char *input, int timeout_ms, char **out, char *err,
	    size_t errlen);

/* img.c */
/*
 * path opened with flags, O_NOFOLLOW and O_CLOEXEC, never blocking on a
 * FIFO, and kept only when it is a regular file; -1 with err.
 */
int	 vmm_open_regular(const char *path, int flags, char *err,
	    size_t errlen);
/*
 * qemu-img (NULL: from PATH) with argv[1..]: fds[i] is /dev/fd/(4 + i) in
 * argv and names[i] (may be NULL) its name in err; run as cred (NULL: as
 * we are) in qemu-img's limits, a copy's (convert) or a quick one's.
 */
int	 img_run(const char *qemu_img, const struct vmm_cred *cred,
	    char *argv[], const int *fds, const char *const *names,
	    size_t nfds, int copy, char **out, char *err, size_t errlen);
/* qemu-img info -U --output=json of path, -f fmt unless NULL; parsed. */
json_t	*vmm_image_info(const char *qemu_img, const char *path,
	    const char *fmt, char *err, size_t errlen);

/* qmp.c */
/*
 * Change how long qmp_execute() waits for a reply; returns the old value.
 * Snapshot jobs need this: QEMU runs them in its main loop, so no command
 * is answered until the job is done, however long it takes.
 */
int	 qmp_set_timeout(struct qmp *, int timeout_ms);

/* ssh.c */
/*
 * A libssh session connected to ip:port (key exchange done, nobody
 * authenticated) within timeout_ms, with no ssh configuration read and no
 * known_hosts checked.  user may be NULL (a probe that will not log in).
 * NULL with err ("ssh IP:PORT: ...") on failure; ssh_disconnect() and
 * ssh_free() it when done.
 */
struct ssh_session_struct *vmm_ssh_connect(const char *ip, uint16_t port,
	    const char *user, int timeout_ms, char *err, size_t errlen);

#endif /* LABD_VMM_INT_H */
