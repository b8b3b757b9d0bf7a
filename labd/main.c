/* SPDX-License-Identifier: ISC */
/*
 * main.c - labd: read labd.ini, open the state, adopt the VMs that still
 * run, listen on the control socket and run the event loop.
 *
 *	labd -c labd.ini [-d] [-v]
 *
 * Start-up is the only place that may exit on an error.
 */
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labd/labd.h"
#include "labd/vmjob.h"

static __dead void
usage(void)
{
	fprintf(stderr, "usage: labd [-dv] [-c labd.ini]\n"
	    "  -c FILE  configuration (default /etc/labd/labd.ini)\n"
	    "  -d       stay in the foreground, log to stderr\n"
	    "  -v       log debug messages\n");
	exit(2);
}

static void
on_signal(struct loop *l, int fd, uint32_t events, void *arg)
{
	char	buf[128];

	(void)!read(fd, buf, sizeof(buf));
	log_info("terminating; the VMs keep running");
	loop_stop(l);
}

/* SIGTERM and SIGINT end the loop through a pipe written by the handler. */
static int	sig_pipe[2] = { -1, -1 };

static void
sig_handler(int sig)
{
	int	saved = errno;

	(void)!write(sig_pipe[1], "x", 1);
	errno = saved;
}

static void
signals_init(void)
{
	struct sigaction	sa = { .sa_handler = sig_handler };

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("pipe");
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	loop_add_fd(labd->loop, sig_pipe[0], EPOLLIN, on_signal, NULL);
}

/* One labd a state dir: a second one would fight over the same VMs. */
static void
lock_state(const char *state_dir)
{
	char	path[PATH_MAX];
	int	fd;

	snprintf(path, sizeof(path), "%s/labd.lock", state_dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		fatal("cannot open %s", path);
	if (flock(fd, LOCK_EX | LOCK_NB) == -1)
		fatalx("another labd uses %s (%s is locked)", state_dir, path);
	/* fd stays open for the life of the process. */
}

/*
 * Kernel same-page merging: QEMU marks guest RAM mergeable, but the
 * kernel merges nothing until ksm/run is 1.  Thirty guests of one
 * template hold the same kernel and libraries, and the pages their
 * kernels zeroed (init_on_free): KSM gives that back.  At the kernel's
 * own pace (100 pages each 20 ms) a class of 30 is merged in many
 * minutes, so labd sets ksm_pages_to_scan as well: 1000 merged a class
 * of 30 tiny guests within 30 s of its boot, for about a tenth of a core
 * (bench/class.sh).  "off" leaves the host's settings alone (someone
 * else may use KSM).
 */
#define KSM_DIR	"/sys/kernel/mm/ksm/"

static int
ksm_write(const char *name, unsigned value)
{
	char	path[64], buf[16];
	int	fd, len, rc;

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	len = snprintf(buf, sizeof(buf), "%u", value);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		return -1;
	rc = write(fd, buf, (size_t)len) == len ? 0 : -1;
	close(fd);
	return rc;
}

static void
ksm_init(void)
{
	unsigned	scan = labd->cfg.ksm_pages_to_scan;
	int		want = labd->cfg.ksm;

	if (want == LABD_KSM_AUTO)
		want = geteuid() == 0;
	labd->ksm = 0;
	if (want != LABD_KSM_ON)
		return;
	if (ksm_write("run", 1) == -1) {
		log_warn("ksm = on, but " KSM_DIR "run cannot be set");
		return;
	}
	labd->ksm = 1;
	if (scan == 0)
		log_info("KSM on: identical guest pages are merged");
	else if (ksm_write("pages_to_scan", scan) == -1)
		log_warn("KSM on, but " KSM_DIR "pages_to_scan cannot be set"
		    " to %u", scan);
	else
		log_info("KSM on: identical guest pages are merged, %u pages"
		    " looked at each 20 ms", scan);
}

/*
 * The gid of a role's group, (gid_t)-1 for none.  A group that does not
 * exist (yet) gives its role to nobody: labd still starts, so that root
 * can mend it, and says so once.
 */
static gid_t
group_gid(const char *key, const char *name)
{
	struct group	*gr;

	if (*name == '\0')
		return (gid_t)-1;
	if ((gr = getgrnam(name)) == NULL) {
		log_info("[labd] %s: group %s does not exist: nobody has its"
		    " role (root and uid %u are admin)", key, name,
		    (unsigned)geteuid());
		return (gid_t)-1;
	}
	return gr->gr_gid;
}

/*
 * A class of 300 holds some ten descriptors a VM (QMP, logs, disks while
 * they open) and a client each: the soft limit of 1024 is not enough.
 */
static void
fd_limit_raise(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE");
	}
}

int
main(int argc, char *argv[])
{
	const char	*conf = LABD_DEFAULT_CONFIG;
	const struct cmd *cmds;
	struct control_roles roles;
	char		 err[LABD_ERRLEN], path[PATH_MAX];
	int		 ch, fd, foreground = 0, verbose = 0;
	size_t		 ncmds;

	while ((ch = getopt(argc, argv, "c:dvh")) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'd':
			foreground = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init(1, verbose);
	fd_limit_raise();
	config_defaults(&labd->cfg);
	if (access(conf, F_OK) == 0 || strcmp(conf, LABD_DEFAULT_CONFIG) != 0) {
		if (config_load(conf, &labd->cfg, err, sizeof(err)) == -1)
			fatalx("%s", err);
	} else
		log_info("no %s: running on the defaults", conf);

	if (labd->cfg.net_mode == LABD_NET_BRIDGE && geteuid() != 0)
		fatalx("%s: [network] mode = bridge needs root (labd makes the"
		    " bridge, a tap per VM and nftables rules); run labd as"
		    " root or use mode = user", conf);
	if (mkdir_p(labd->cfg.state_dir, 0750) == -1)
		fatal("cannot create %s", labd->cfg.state_dir);
	if (mkdir_p(labd->cfg.run_dir, 0755) == -1)
		fatal("cannot create %s", labd->cfg.run_dir);
	/* The VMs' sockets and pidfiles: nobody else may write there. */
	if ((fd = dir_private_open(labd->cfg.run_dir, "run_dir", err,
	    sizeof(err))) == -1)
		fatalx("%s", err);
	close(fd);
	snprintf(path, sizeof(path), "%s/templates", labd->cfg.state_dir);
	mkdir_p(path, 0755);
	snprintf(path, sizeof(path), "%s/vms", labd->cfg.state_dir);
	mkdir_p(path, 0750);
	/* Each VM's QEMU, as a user of its own, must reach its run folder. */
	snprintf(path, sizeof(path), "%s/vms", labd->cfg.run_dir);
	if (mkdir_p(path, 0711) == -1 || chmod(path, 0711) == -1)
		fatal("cannot create %s", path);
	lock_state(labd->cfg.state_dir);

	labd->accel = vmm_accel_resolve(labd->cfg.accel, labd->accel_note,
	    sizeof(labd->accel_note));
	if (labd->accel_note[0] != '\0')
		log_warnx("no KVM (%s): guests run under TCG, much slower",
		    labd->accel_note);
	ksm_init();
	if (keys_init(labd->cfg.state_dir, err, sizeof(err)) == -1)
		fatalx("%s", err);
	snprintf(path, sizeof(path), "%s/labd.db", labd->cfg.state_dir);
	if (db_open(path, &labd->db, err, sizeof(err)) == -1)
		fatalx("%s", err);

	labd->loop = loop_new();
	if (confine_init(err, sizeof(err)) == -1)
		fatalx("%s", err);
	labd->started_ms = now_ms();
	cmds = cmd_table(&ncmds);
	roles.admin_gid = group_gid("group", labd->cfg.group);
	roles.ta_gid = group_gid("ta_group", labd->cfg.ta_group);
	snprintf(roles.admin_group, sizeof(roles.admin_group), "%s",
	    labd->cfg.group);
	snprintf(roles.ta_group, sizeof(roles.ta_group), "%s",
	    labd->cfg.ta_group);
	if (control_listen(labd->cfg.socket, &roles, cmds, ncmds,
	    err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (!foreground && daemon(1, 0) == -1)
		fatal("daemon");
	log_init(foreground, verbose);
	/* The helper that keeps root: forked before any thread exists. */
	if (priv_start(err, sizeof(err)) == -1)
		fatalx("cannot start the privileged helper: %s", err);
	priv_sweep_start();
	/* Threads do not survive daemon()'s fork: start them after it. */
	labd->workers = workers_new(labd->loop, workers_count(
	    labd->cfg.workers, (int)sysconf(_SC_NPROCESSORS_ONLN)));
	labd->foreground = foreground;
	signals_init();

	if (vm_load_all(err, sizeof(err)) == -1)
		fatalx("%s", err);
	/* Bridge, taps and rules before any VM starts. */
	if (net_init(err, sizeof(err)) == -1 ||
	    net_table_init(err, sizeof(err)) == -1)
		fatalx("network: %s", err);
	/* Its password file and port while labd may still be root. */
	if (vnc_init(err, sizeof(err)) == -1)
		fatalx("%s", err);
	/* Port 22 and a host key of root's: before root is gone. */
	if (gateway_init(err, sizeof(err)) == -1)
		fatalx("%s: %s", conf, err);
	/* Root's work is the helper's from here on. */
	if (priv_drop(err, sizeof(err)) == -1)
		fatalx("%s", err);
	/* Who follows the VMs' states subscribes before any changes. */
	schedule_init();
	examend_init();
	idle_init();
	diskfull_init();
	retain_init();
	wake_init();
	labcheck_init();
	agent_init();
	admit_watch_start();
	vm_reconcile_all();
	log_info("labd %s ready on %s (%s, %s networking)", LABD_VERSION,
	    labd->cfg.socket, vmm_accel_name(labd->accel),
	    labd->cfg.net_mode == LABD_NET_USER ? "user" : "bridge");
	loop_run(labd->loop);

	control_close();
	sqlite3_close(labd->db);
	return 0;
}
