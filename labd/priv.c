/* SPDX-License-Identifier: ISC */
/*
 * priv.c - the privileged helper: what labd does as root, in a process of
 * its own, in the style of OpenBSD's vmd.
 *
 * Started as root, labd forks this helper before it starts its workers.
 * The helper answers requests on a SOCK_SEQPACKET socketpair: a request
 * is one JSON object with descriptors, the first of which is a socket of
 * the caller's own, where the answer goes.  For each request the helper
 * forks a child that does the work, answers and exits, so that a slow
 * request (a QEMU taking half a minute to set up) holds up no other and
 * the helper itself never blocks on anything but its socket.
 *
 * A request names a VM by its name and id, nothing more: its run folder,
 * uid, cgroup and tap are derived here from the configuration, never
 * taken from the request, and the files the daemon owns (disk, seed,
 * logs) come as descriptors the daemon opened.  So a daemon that went
 * wrong can make the helper start or stop a VM's QEMU, but not run
 * another program, open a file or take another uid.
 *
 * The helper ends when the daemon does (end of file on its socket).
 * Without root there is no helper, and the same work runs in labd.
 */
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <net/if.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labd/labd.h"
#include "labd/vmjob.h"
#include "portforward/portforward.h"

#define PRIV_DAEMON_UID	LABD_DAEMON_UID
#define PRIV_DAEMON_GID	LABD_DAEMON_GID

#define PRIV_MSG_MAX	(64 * 1024)
/* nftables text of 300 VMs is some 100 KiB. */
#define PRIV_NFT_MAX	(16 * 1024 * 1024)
#define NET_CT_PATH	"/proc/net/nf_conntrack"
#define PRIV_FDS_MAX	8
/* A spawn waits for QEMU to set up (60 s at most in vmm/spawn.c). */
#define PRIV_TIMEOUT_MS	120000

static int		priv_fd = -1;	/* the daemon's end; -1: no helper */
static pthread_mutex_t	priv_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * A QEMU that exited is a zombie until init reaps it, and its cgroup
 * cannot go before: such folders are tried again every SWEEP_MS, up to
 * SWEEP_TRIES times.
 */
#define SWEEP_MS	500
#define SWEEP_TRIES	40
#define SWEEP_MAX	256

/* Folders to remove, named by VM; workers and the loop share them. */
static struct {
	char	name[72];	/* a VM name: at most 64 characters */
	int	tries;
} pending[SWEEP_MAX];
static pthread_mutex_t	pending_lock = PTHREAD_MUTEX_INITIALIZER;

static void	pending_drop(const char *);


int
priv_active(void)
{
	return priv_fd != -1;
}

/* --- messages --------------------------------------------------------------- */

/* One message: text and up to PRIV_FDS_MAX descriptors. */
static int
msg_send(int fd, const char *text, const int *fds, int nfds)
{
	struct msghdr	 mh = { 0 };
	struct iovec	 iov = { (void *)text, strlen(text) };
	char		 cbuf[CMSG_SPACE(sizeof(int) * PRIV_FDS_MAX)];
	struct cmsghdr	*cm;

	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	while (sendmsg(fd, &mh, MSG_NOSIGNAL) == -1)
		if (errno != EINTR)
			return -1;
	return 0;
}

/* 1 and the text (NUL-terminated) and descriptors, 0 at end of file. */
static int
msg_recv(int fd, char *buf, size_t buflen, int *fds, int *nfds)
{
	struct msghdr	 mh = { 0 };
	struct iovec	 iov = { buf, buflen - 1 };
	char		 cbuf[CMSG_SPACE(sizeof(int) * PRIV_FDS_MAX)];
	struct cmsghdr	*cm;
	ssize_t		 n;

	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	*nfds = 0;
	while ((n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC)) == -1)
		if (errno != EINTR)
			return -1;
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS) {
			*nfds = (int)((cm->cmsg_len - CMSG_LEN(0)) /
			    sizeof(int));
			memcpy(fds, CMSG_DATA(cm), sizeof(int) * *nfds);
		}
	if (n == 0 && *nfds == 0)
		return 0;
	buf[n] = '\0';
	/* A message cut short is refused, not half read. */
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		errno = EMSGSIZE;
		return -1;
	}
	return 1;
}

static void
close_fds(const int *fds, int nfds)
{
	int	i;

	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

/*
 * The daemon's side: send req with fds, wait for the answer on a socket
 * of this call's own.  The answer's "error", if any, goes to err.
 */
json_t *
priv_request(json_t *req, const int *fds, int nfds, int *rfds, int nr,
    int ms, char *err, size_t errlen)
{
	char		*text = NULL, *buf = NULL;
	int		 sp[2] = { -1, -1 }, all[PRIV_FDS_MAX], n = 0, i;
	int		 got[PRIV_FDS_MAX];
	json_t		*rep = NULL;

	for (i = 0; i < nr; i++)
		rfds[i] = -1;
	json_error_t	 je;
	struct pollfd	 pfd;
	const char	*e;

	if (nfds + 1 > PRIV_FDS_MAX || (text = json_dumps(req,
	    JSON_COMPACT)) == NULL || strlen(text) >= PRIV_MSG_MAX) {
		errf(err, errlen, "request to the privileged helper too large");
		goto done;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1) {
		errf(err, errlen, "socketpair: %s", strerror(errno));
		goto done;
	}
	all[0] = sp[1];
	for (i = 0; i < nfds; i++)
		all[i + 1] = fds[i];
	pthread_mutex_lock(&priv_lock);
	i = msg_send(priv_fd, text, all, nfds + 1);
	pthread_mutex_unlock(&priv_lock);
	close(sp[1]);
	sp[1] = -1;
	if (i == -1) {
		errf(err, errlen, "labd's privileged helper: %s",
		    strerror(errno));
		goto done;
	}
	pfd.fd = sp[0];
	pfd.events = POLLIN;
	while ((i = poll(&pfd, 1, ms > 0 ? ms : PRIV_TIMEOUT_MS)) == -1 &&
	    errno == EINTR)
		;
	if (i != 1 || (buf = malloc(PRIV_MSG_MAX)) == NULL ||
	    msg_recv(sp[0], buf, PRIV_MSG_MAX, got, &n) != 1) {
		errf(err, errlen, "labd's privileged helper did not answer");
		goto done;
	}
	for (i = 0; i < n; i++)
		if (i < nr)
			rfds[i] = got[i];
		else
			close(got[i]);
	if ((rep = json_loads(buf, 0, &je)) == NULL ||
	    !json_is_object(rep)) {
		errf(err, errlen, "labd's privileged helper: a garbled answer");
		json_decref(rep);
		rep = NULL;
		goto done;
	}
	if ((e = json_string_value(json_object_get(rep, "error"))) != NULL) {
		errf(err, errlen, "%s", e);
		json_decref(rep);
		rep = NULL;
	}
done:
	if (sp[0] != -1)
		close(sp[0]);
	if (sp[1] != -1)
		close(sp[1]);
	free(text);
	free(buf);
	return rep;
}

/* --- the helper's side ------------------------------------------------------- */

/* A VM name as labd makes them: [a-z0-9][a-z0-9_-]*, at most 64. */
static int
name_ok(const char *s)
{
	size_t	i;

	if (s == NULL || s[0] == '\0' || strlen(s) > 64 ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

/* The answer, with the descriptors of with that are not -1. */
static void
answer(int fd, json_t *rep, const int *with, int nwith)
{
	char	*text;
	int	 n = 0, i, send[PRIV_FDS_MAX];

	if (rep == NULL)
		rep = json_pack("{s:s}", "error", "out of memory");
	for (i = 0; i < nwith && n < PRIV_FDS_MAX; i++)
		if (with[i] != -1)
			send[n++] = with[i];
	if (json_object_get(rep, "error") != NULL)
		n = 0;
	if ((text = json_dumps(rep, JSON_COMPACT)) != NULL) {
		msg_send(fd, text, send, n);
		free(text);
	}
	json_decref(rep);
}

static json_t *
failed(const char *fmt, ...)
{
	char	buf[LABD_ERRLEN];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return json_pack("{s:s}", "error", buf);
}

/* The optional string field key of o, or NULL. */
static const char *
opt_str(json_t *o, const char *key)
{
	const char	*s = json_string_value(json_object_get(o, key));

	return s != NULL && s[0] != '\0' ? s : NULL;
}

/*
 * The host's part of every spawn, from labd.ini and the accelerator found
 * at start, whoever spawns: the helper takes none of it from the daemon.
 */
static void
spec_host(struct vmm_spec *s)
{
	s->qemu = labd->cfg.qemu;
	s->accel = labd->accel;
	s->tb_size_mb = labd->cfg.tb_size_mb;
	s->no_mem_merge = labd->cfg.ksm == LABD_KSM_OFF;
}

#define PRIV_FWDS_MAX	LABD_MAX_GUEST_PORTS
/* A spawn's descriptors: the spec's five, and the collector's port. */
#define PRIV_SPAWN_FDS	6
#define PRIV_CHAN_BIT	(1 << 5)

/* spawn: the daemon's spec, checked, and the rest derived here. */
static json_t *
do_spawn(json_t *req, const int *fds, int nfds)
{
	struct vmm_spec	 s = { 0 };
	struct vmm_fwd	 fwds[PRIV_FWDS_MAX];
	struct cg_limits lim;
	struct confine_cg cg;
	char		 vmdir[PATH_MAX], rundir[PATH_MAX], disk[PATH_MAX],
			 seed[PATH_MAX], tap[IFNAMSIZ], err[VMM_ERRLEN];
	gid_t		 groups[4];
	json_t		*a, *f, *l;
	json_int_t	 id = json_integer_value(json_object_get(req, "id"));
	json_int_t	 mask = json_integer_value(json_object_get(req, "fds"));
	size_t		 i;
	int		 k = 0;
	pid_t		 pid;

	s.name = json_string_value(json_object_get(req, "name"));
	if (!name_ok(s.name) || id <= 0 || id >= (json_int_t)LABD_UIDS)
		return failed("spawn: bad VM name or id");
	if (vm_paths(s.name, vmdir, rundir) == -1)
		return failed("%s: path too long", s.name);
	spec_host(&s);
	s.memory_mb = (unsigned)json_integer_value(json_object_get(req,
	    "memory_mb"));
	s.vcpus = (unsigned)json_integer_value(json_object_get(req, "vcpus"));
	/* QEMU opens these as the VM's own user: they give nothing more. */
	s.kernel = opt_str(req, "kernel");
	s.initrd = opt_str(req, "initrd");
	s.append = opt_str(req, "append");
	s.firmware = opt_str(req, "firmware");
	s.mac = opt_str(req, "mac");
	s.restrict_net = json_is_true(json_object_get(req, "restrict"));
	s.start_paused = json_is_true(json_object_get(req, "paused"));
	s.fw_cfg_golden = json_is_true(json_object_get(req, "golden"));
	s.offline = json_is_true(json_object_get(req, "offline"));
	s.run_dir = rundir;
	s.log_dir = vmdir;
	/* Its sockets and pidfile are for the daemon's group to use. */
	s.sock_gid = PRIV_DAEMON_GID;
	/* The files are the daemon's, passed open: these name them in logs. */
	snprintf(disk, sizeof(disk), "%s/disk.qcow2", vmdir);
	snprintf(seed, sizeof(seed), "%s/seed.iso", vmdir);
	s.fds_given = 1;
	for (i = 0; i < sizeof(s.fds) / sizeof(s.fds[0]); i++)
		s.fds[i] = (mask & (1 << i)) && k < nfds ? fds[k++] : -1;
	if (s.fds[VMM_SPEC_LOG] == -1 || s.fds[VMM_SPEC_SERIAL] == -1)
		return failed("%s: no log descriptors", s.name);
	if (s.offline && ((mask & PRIV_CHAN_BIT) == 0 || k >= nfds ||
	    s.fds[VMM_SPEC_DISK_RW] != -1))
		return failed("%s: a collector wants its port and a read-only"
		    " disk", s.name);
	if (s.offline)
		s.chan_fd = fds[k++];
	s.disk = s.fds[VMM_SPEC_DISK_RW] != -1 ||
	    s.fds[VMM_SPEC_DISK_RO] != -1 ? disk : NULL;
	s.seed = s.fds[VMM_SPEC_SEED] != -1 ? seed : NULL;
	if (json_is_true(json_object_get(req, "tap"))) {
		net_tap_name(id, tap, sizeof(tap));
		s.tap = tap;
	}
	a = json_object_get(req, "fwds");
	if (json_array_size(a) > PRIV_FWDS_MAX)
		return failed("%s: too many port forwards", s.name);
	json_array_foreach(a, i, f) {
		fwds[i].host_ip = json_string_value(json_array_get(f, 0));
		fwds[i].host_port = (uint16_t)json_integer_value(
		    json_array_get(f, 1));
		fwds[i].guest_port = (uint16_t)json_integer_value(
		    json_array_get(f, 2));
	}
	s.fwds = fwds;
	s.nfwd = json_array_size(a);
	/* The daemon's limits, checked in confine_user() (cglimit_valid). */
	l = json_object_get(req, "limits");
	lim.memory_max = json_integer_value(json_object_get(l, "memory_max"));
	lim.cpu_weight = (unsigned)json_integer_value(json_object_get(l,
	    "cpu_weight"));
	lim.io_weight = (unsigned)json_integer_value(json_object_get(l,
	    "io_weight"));
	lim.pids_max = (unsigned)json_integer_value(json_object_get(l,
	    "pids_max"));
	if (confine_user(s.name, id, &s, groups, &lim, &cg, err,
	    sizeof(err)) == -1 || vmm_spawn(&s, &pid, err, sizeof(err)) == -1)
		return failed("%s", err);
	return json_pack("{s:i}", "pid", (int)pid);
}

static json_t *
do_kill(json_t *req)
{
	const char	*name = json_string_value(json_object_get(req, "name"));
	char		 rundir[PATH_MAX], err[VMM_ERRLEN];
	int		 ms = (int)json_integer_value(json_object_get(req, "ms"));

	if (!name_ok(name) || vm_paths(name, NULL, rundir) == -1)
		return failed("kill: bad VM name");
	if (vmm_kill(rundir, name, ms, err, sizeof(err)) == -1)
		return failed("%s", err);
	return json_pack("{s:b}", "gone", confine_cgroup_remove(name));
}

static json_t *
do_release(json_t *req)
{
	const char	*name = json_string_value(json_object_get(req, "name"));

	if (!name_ok(name))
		return failed("release: bad VM name");
	return json_pack("{s:b}", "gone", confine_cgroup_remove(name));
}

/* nft: the text comes in a memfd (it may be larger than a message). */
static json_t *
do_nft(json_t *req, const int *fds, int nfds)
{
	char		*text;
	struct stat	 st;
	char		 err[LABD_ERRLEN];
	ssize_t		 n;
	off_t		 got = 0;

	if (nfds != 1 || fstat(fds[0], &st) == -1 ||
	    st.st_size > PRIV_NFT_MAX || (text = malloc(st.st_size + 1)) ==
	    NULL)
		return failed("nft: no text");
	while (got < st.st_size && (n = pread(fds[0], text + got,
	    st.st_size - got, got)) > 0)
		got += n;
	text[got] = '\0';
	if (nft_apply(text, err, sizeof(err)) == -1) {
		free(text);
		return failed("%s", err);
	}
	free(text);
	return json_pack("{}");
}

static json_t *
do_tables(json_t *req)
{
	char	err[LABD_ERRLEN];
	int	r;

	r = nft_tables_present(json_is_true(json_object_get(req, "bridge")),
	    err, sizeof(err));
	if (r == -1)
		return failed("%s", err);
	return json_pack("{s:b}", "present", r);
}

static json_t *
do_tap(json_t *req)
{
	json_int_t	id = json_integer_value(json_object_get(req, "id"));
	char		err[LABD_ERRLEN];

	if (id <= 0 || id >= (json_int_t)LABD_UIDS)
		return failed("tap: bad VM id");
	if (json_is_true(json_object_get(req, "remove"))) {
		net_tap_remove(id);
		return json_pack("{}");
	}
	if (net_tap_ensure(id, err, sizeof(err)) == -1)
		return failed("%s", err);
	return json_pack("{}");
}

/*
 * A client's files (caller.c): fds[0] is the daemon's socket to the
 * client, whose identity the kernel gives; the rest are the request's.
 */
static json_t *
serve_caller(const char *op, json_t *req, const int *fds, int nfds,
    int out[2])
{
	char		 err[LABD_ERRLEN];
	const char	*s = opt_str(req, "base");
	int		 force = json_is_true(json_object_get(req, "force"));
	json_t		*rep;

	if (nfds < 1)
		return failed("%s: no client", op);
	if (strcmp(op, "open") == 0)
		rep = (out[0] = caller_serve_open(fds[0], opt_str(req, "path"),
		    err, sizeof(err))) == -1 ? NULL : json_object();
	else if (strcmp(op, "img") == 0)
		rep = caller_serve_img(fds[0], opt_str(req, "verb") != NULL ?
		    opt_str(req, "verb") : "", opt_str(req, "fmt"),
		    opt_str(req, "ofmt"), opt_str(req, "name") != NULL ?
		    opt_str(req, "name") : "the disk", (int)json_integer_value(
		    json_object_get(req, "give")), fds + 1, nfds - 1, err,
		    sizeof(err));
	else if (strcmp(op, "place") == 0)
		rep = caller_serve_place(fds[0], opt_str(req, "dir"),
		    opt_str(req, "tmp"), s, force, out, err, sizeof(err)) == -1 ?
		    NULL : json_object();
	else
		rep = caller_serve_commit(fds[0], fds + 1, nfds - 1,
		    opt_str(req, "tmp"), s, force, err, sizeof(err)) == -1 ?
		    NULL : json_object();
	if (rep == NULL) {
		out[0] = out[1] = -1;
		return failed("%s", err);
	}
	return rep;
}

/* One request, in a child of the helper: do it, answer, exit. */
static void
serve(const char *text, int *fds, int nfds)
{
	json_t		*req, *rep;
	json_error_t	 je;
	const char	*op;
	int		 ct = -1, out[2] = { -1, -1 };

	signal(SIGCHLD, SIG_DFL);
	if ((req = json_loads(text, 0, &je)) == NULL ||
	    (op = json_string_value(json_object_get(req, "op"))) == NULL)
		rep = failed("a garbled request");
	else if (strcmp(op, "spawn") == 0)
		rep = do_spawn(req, fds + 1, nfds - 1);
	else if (strcmp(op, "kill") == 0)
		rep = do_kill(req);
	else if (strcmp(op, "release") == 0)
		rep = do_release(req);
	else if (strcmp(op, "nft") == 0)
		rep = do_nft(req, fds + 1, nfds - 1);
	else if (strcmp(op, "tables") == 0)
		rep = do_tables(req);
	else if (strcmp(op, "tap") == 0)
		rep = do_tap(req);
	else if (strcmp(op, "open") == 0 || strcmp(op, "img") == 0 ||
	    strcmp(op, "place") == 0 || strcmp(op, "commit") == 0)
		rep = serve_caller(op, req, fds + 1, nfds - 1, out);
	else if (strcmp(op, "conntrack") == 0) {
		/* The table is root's to open; the daemon reads it by fd. */
		if ((ct = open(NET_CT_PATH, O_RDONLY | O_CLOEXEC)) == -1)
			rep = failed("%s: %s", NET_CT_PATH, strerror(errno));
		else
			rep = json_pack("{}");
	} else
		rep = failed("unknown request %.32s", op);
	if (ct != -1)
		out[0] = ct;
	answer(fds[0], rep, out, 2);
	json_decref(req);
	_exit(0);
}

static void
helper_main(int fd)
{
	char	*buf;
	int	 fds[PRIV_FDS_MAX], nfds, r;
	pid_t	 pid;

	/* Nothing of the daemon's: its lock, socket and database stay there. */
	if (dup2(fd, 3) == -1)
		_exit(1);
	close_range(4, ~0U, 0);
	fd = 3;
	/* Children reap themselves; each request's child resets this. */
	signal(SIGCHLD, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	if ((buf = malloc(PRIV_MSG_MAX)) == NULL)
		_exit(1);
	for (;;) {
		if ((r = msg_recv(fd, buf, PRIV_MSG_MAX, fds, &nfds)) == 0)
			_exit(0);	/* the daemon is gone */
		if (r == -1 || nfds == 0) {
			close_fds(fds, nfds);
			if (r == -1 && errno != EMSGSIZE)
				_exit(1);
			continue;
		}
		if ((pid = fork()) == 0) {
			close(fd);
			serve(buf, fds, nfds);
		}
		if (pid == -1)
			answer(fds[0], failed("fork: %s", strerror(errno)),
			    NULL, 0);
		close_fds(fds, nfds);
	}
}

/* The helper gone is labd unable to start or stop a VM: stop too. */
static void
priv_lost(struct loop *l, int fd, uint32_t events, void *arg)
{
	fatalx("labd's privileged helper is gone");
}

int
priv_start(char *err, size_t errlen)
{
	int	sp[2];
	pid_t	pid;

	if (geteuid() != 0)
		return 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1) {
		errf(err, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		errf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		close(sp[0]);
		helper_main(sp[1]);
	}
	close(sp[1]);
	priv_fd = sp[0];
	/* The daemon never reads here: readable means the helper is gone. */
	loop_add_fd(labd->loop, priv_fd, EPOLLIN, priv_lost, NULL);
	log_info("privileged helper started as pid %d", (int)pid);
	return 0;
}

/* --- the daemon lets go of root ---------------------------------------------- */

/* nftw() callback: everything under state_dir becomes the daemon's. */
static int
own_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (st->st_uid != PRIV_DAEMON_UID &&
	    lchown(path, PRIV_DAEMON_UID, (gid_t)-1) == -1) {
		log_warn("chown %s", path);
		return -1;
	}
	return 0;
}

/*
 * A VM's run folder from before: its group the daemon's (set-group-ID),
 * its sockets and pidfile open to that group, so that the daemon still
 * reaches a QEMU that has run since an older labd started it.
 */
static void
own_run_folder(int vmsfd, const char *name)
{
	struct stat	 st;
	struct dirent	*de;
	DIR		*d;
	int		 fd;

	if ((fd = openat(vmsfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return;
	if (fchown(fd, (uid_t)-1, PRIV_DAEMON_GID) == -1 ||
	    fchmod(fd, 02770) == -1)
		log_warn("run folder %s", name);
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || S_ISLNK(st.st_mode))
			continue;
		if (fchownat(dirfd(d), de->d_name, (uid_t)-1, PRIV_DAEMON_GID,
		    AT_SYMLINK_NOFOLLOW) == -1 ||
		    fchmodat(dirfd(d), de->d_name, S_ISSOCK(st.st_mode) ?
		    0770 : 0640, 0) == -1)
			log_warn("%s/%s", name, de->d_name);
	}
	closedir(d);
}

int
priv_drop(char *err, size_t errlen)
{
	char		 path[PATH_MAX];
	gid_t		 vmgroup = (gid_t)labd->cfg.uid_base;
	struct dirent	*de;
	DIR		*d;
	int		 fd;

	if (!priv_active())
		return 0;
	if (nftw(labd->cfg.state_dir, own_one, 16, FTW_PHYS) != 0) {
		errf(err, errlen, "cannot give %s to uid %u",
		    labd->cfg.state_dir, (unsigned)PRIV_DAEMON_UID);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/vms", labd->cfg.run_dir);
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fchown(fd, PRIV_DAEMON_UID,
	    PRIV_DAEMON_GID) == -1 || fchmod(fd, 0711) == -1) {
		errf(err, errlen, "cannot give %s to uid %u: %s", path,
		    (unsigned)PRIV_DAEMON_UID, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if ((d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				own_run_folder(fd, de->d_name);
		closedir(d);
	}
	close(fd);
	if (setgroups(1, &vmgroup) == -1 ||
	    setresgid(PRIV_DAEMON_GID, PRIV_DAEMON_GID, PRIV_DAEMON_GID) ==
	    -1 || setresuid(PRIV_DAEMON_UID, PRIV_DAEMON_UID,
	    PRIV_DAEMON_UID) == -1) {
		errf(err, errlen, "cannot become uid %u: %s",
		    (unsigned)PRIV_DAEMON_UID, strerror(errno));
		return -1;
	}
	log_info("running as uid %u gid %u; root stays with the helper only",
	    (unsigned)PRIV_DAEMON_UID, (unsigned)PRIV_DAEMON_GID);
	return 0;
}

/* --- the calls ---------------------------------------------------------------- */

int
priv_spawn(const struct vmdef *d, struct vmm_spec *spec, pid_t *pid,
    char *err, size_t errlen)
{
	gid_t		 groups[4];
	struct confine_cg cg;
	json_t		*req, *rep, *fwds;
	int		 fds[PRIV_SPAWN_FDS], nfds = 0, mask = 0, rc = -1;
	size_t		 i;

	/* It starts again: its folder is not to be swept from under it. */
	pending_drop(d->name);
	spec_host(spec);
	if (!priv_active()) {
		if (confine_user(d->name, d->id, spec, groups, &d->limits,
		    &cg, err, errlen) == -1)
			return -1;
		return vmm_spawn(spec, pid, err, errlen);
	}
	/* The daemon opens its own files; the helper gets descriptors. */
	if (vmm_spec_open_fds(spec, err, errlen) == -1)
		return -1;
	for (i = 0; i < sizeof(spec->fds) / sizeof(spec->fds[0]); i++)
		if (spec->fds[i] != -1) {
			fds[nfds++] = spec->fds[i];
			mask |= 1 << i;
		}
	if (spec->offline) {
		fds[nfds++] = spec->chan_fd;
		mask |= PRIV_CHAN_BIT;
	}
	fwds = json_array();
	for (i = 0; i < spec->nfwd; i++)
		json_array_append_new(fwds, json_pack("[s,i,i]",
		    spec->fwds[i].host_ip, spec->fwds[i].host_port,
		    spec->fwds[i].guest_port));
	req = json_pack("{s:s,s:s,s:I,s:i,s:i,s:s?,s:s?,s:s?,s:s?,s:s?,s:b,"
	    "s:b,s:b,s:o,s:i,s:b}", "op", "spawn", "name", d->name, "id",
	    (json_int_t)d->id, "memory_mb", (int)spec->memory_mb, "vcpus",
	    (int)spec->vcpus, "kernel", spec->kernel, "initrd", spec->initrd,
	    "append", spec->append, "firmware", spec->firmware, "mac",
	    spec->mac, "restrict", spec->restrict_net, "paused",
	    spec->start_paused, "tap", spec->tap != NULL, "fwds", fwds,
	    "fds", mask, "offline", spec->offline);
	json_object_set_new(req, "golden", json_boolean(spec->fw_cfg_golden));
	json_object_set_new(req, "limits", json_pack("{s:I,s:i,s:i,s:i}",
	    "memory_max", (json_int_t)d->limits.memory_max, "cpu_weight",
	    (int)d->limits.cpu_weight, "io_weight", (int)d->limits.io_weight,
	    "pids_max", (int)d->limits.pids_max));
	if ((rep = priv_request(req, fds, nfds, NULL, 0, 0, err,
	    errlen)) != NULL) {
		*pid = (pid_t)json_integer_value(json_object_get(rep, "pid"));
		rc = 0;
	}
	json_decref(req);
	json_decref(rep);
	vmm_spec_close_fds(spec);
	return rc;
}

int
priv_kill(const char *name, int timeout_ms, char *err, size_t errlen)
{
	char	 rundir[PATH_MAX], e[LABD_ERRLEN];
	json_t	*req, *rep;

	if (!priv_active()) {
		if (vm_paths(name, NULL, rundir) == -1) {
			errf(err, errlen, "%s: path too long", name);
			return -1;
		}
		if (vmm_kill(rundir, name, timeout_ms, err, errlen) == -1)
			return -1;
		priv_cgroup_release(name);
		return 0;
	}
	req = json_pack("{s:s,s:s,s:i}", "op", "kill", "name", name, "ms",
	    timeout_ms);
	rep = priv_request(req, NULL, 0, NULL, 0, 0, e, sizeof(e));
	json_decref(req);
	if (rep == NULL) {
		if (err != NULL)
			errf(err, errlen, "%s", e);
		return -1;
	}
	if (!json_is_true(json_object_get(rep, "gone")))
		priv_cgroup_release(name);
	json_decref(rep);
	return 0;
}

int
priv_release(const char *name)
{
	char	 e[LABD_ERRLEN];
	json_t	*req, *rep;
	int	 gone;

	if (!priv_active())
		return confine_cgroup_remove(name);
	req = json_pack("{s:s,s:s}", "op", "release", "name", name);
	rep = priv_request(req, NULL, 0, NULL, 0, 0, e, sizeof(e));
	json_decref(req);
	/* A helper that cannot answer: the next start removes it. */
	gone = rep == NULL || json_is_true(json_object_get(rep, "gone"));
	json_decref(rep);
	return gone;
}

int
priv_nft_apply(const char *text, char *err, size_t errlen)
{
	json_t	*req, *rep;
	size_t	 len = strlen(text), off = 0;
	ssize_t	 n;
	int	 fd;

	if (!priv_active())
		return nft_apply(text, err, errlen);
	if ((fd = memfd_create("labd-nft", MFD_CLOEXEC)) == -1) {
		errf(err, errlen, "memfd_create: %s", strerror(errno));
		return -1;
	}
	while (off < len && (n = write(fd, text + off, len - off)) > 0)
		off += (size_t)n;
	if (off != len) {
		errf(err, errlen, "memfd: %s", strerror(errno));
		close(fd);
		return -1;
	}
	req = json_pack("{s:s}", "op", "nft");
	rep = priv_request(req, &fd, 1, NULL, 0, 0, err, errlen);
	close(fd);
	json_decref(req);
	json_decref(rep);
	return rep != NULL ? 0 : -1;
}

int
priv_nft_tables_present(int bridge_mode, char *err, size_t errlen)
{
	json_t	*req, *rep;
	int	 r;

	if (!priv_active())
		return nft_tables_present(bridge_mode, err, errlen);
	req = json_pack("{s:s,s:b}", "op", "tables", "bridge", bridge_mode);
	rep = priv_request(req, NULL, 0, NULL, 0, 0, err, errlen);
	json_decref(req);
	if (rep == NULL)
		return -1;
	r = json_is_true(json_object_get(rep, "present"));
	json_decref(rep);
	return r;
}

int
priv_tap_ensure(int64_t vm_id, char *err, size_t errlen)
{
	json_t	*req, *rep;

	if (!priv_active())
		return net_tap_ensure(vm_id, err, errlen);
	req = json_pack("{s:s,s:I}", "op", "tap", "id", (json_int_t)vm_id);
	rep = priv_request(req, NULL, 0, NULL, 0, 0, err, errlen);
	json_decref(req);
	json_decref(rep);
	return rep != NULL ? 0 : -1;
}

void
priv_tap_remove(int64_t vm_id)
{
	char	 err[LABD_ERRLEN];
	json_t	*req, *rep;

	if (!priv_active()) {
		net_tap_remove(vm_id);
		return;
	}
	req = json_pack("{s:s,s:I,s:b}", "op", "tap", "id", (json_int_t)vm_id,
	    "remove", 1);
	if ((rep = priv_request(req, NULL, 0, NULL, 0, 0, err,
	    sizeof(err))) == NULL)
		log_warnx("tap of VM %lld: %s", (long long)vm_id, err);
	json_decref(req);
	json_decref(rep);
}

FILE *
priv_conntrack_open(void)
{
	char	 err[LABD_ERRLEN];
	json_t	*req, *rep;
	FILE	*f;
	int	 fd = -1;

	if (!priv_active())
		return fopen(NET_CT_PATH, "re");
	req = json_pack("{s:s}", "op", "conntrack");
	rep = priv_request(req, NULL, 0, &fd, 1, 0, err, sizeof(err));
	json_decref(req);
	json_decref(rep);
	if (rep == NULL || fd == -1) {
		if (fd != -1)
			close(fd);
		return NULL;
	}
	if ((f = fdopen(fd, "r")) == NULL)
		close(fd);
	return f;
}

/* --- cgroup folders left by QEMUs gone -------------------------------------- */

/* Forget vm_name's pending removal: it is about to start again. */
static void
pending_drop(const char *vm_name)
{
	size_t	i;

	pthread_mutex_lock(&pending_lock);
	for (i = 0; i < SWEEP_MAX; i++)
		if (strcmp(pending[i].name, vm_name) == 0)
			pending[i].name[0] = '\0';
	pthread_mutex_unlock(&pending_lock);
}

/* Loop timer: the folders whose QEMU has been reaped since. */
static int
sweep(struct loop *l, void *arg)
{
	size_t	i;

	pthread_mutex_lock(&pending_lock);
	for (i = 0; i < SWEEP_MAX; i++) {
		if (pending[i].name[0] == '\0')
			continue;
		if (priv_release(pending[i].name) ||
		    ++pending[i].tries >= SWEEP_TRIES)
			pending[i].name[0] = '\0';
	}
	pthread_mutex_unlock(&pending_lock);
	return SWEEP_MS;
}


void
priv_cgroup_release(const char *vm_name)
{
	size_t	i, free_slot = SWEEP_MAX;

	if (!confine_cgroups() || priv_release(vm_name))
		return;
	pthread_mutex_lock(&pending_lock);
	for (i = 0; i < SWEEP_MAX; i++) {
		if (strcmp(pending[i].name, vm_name) == 0)
			break;
		if (pending[i].name[0] == '\0' && free_slot == SWEEP_MAX)
			free_slot = i;
	}
	if (i == SWEEP_MAX && free_slot != SWEEP_MAX)
		i = free_slot;
	if (i != SWEEP_MAX) {
		snprintf(pending[i].name, sizeof(pending[i].name), "%s",
		    vm_name);
		pending[i].tries = 0;
	}
	/* A full list: the folder goes at the VM's next start instead. */
	pthread_mutex_unlock(&pending_lock);
}

void
priv_sweep_start(void)
{
	if (confine_cgroups())
		loop_add_timer(labd->loop, SWEEP_MS, sweep, NULL);
}
