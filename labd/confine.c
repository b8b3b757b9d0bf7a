/* SPDX-License-Identifier: ISC */
/*
 * confine.c - what each VM's QEMU runs as and in.
 *
 * When labd is root, the QEMU of VM n runs as uid and gid uid_base + n
 * ([vmm] uid_base), so that no two VMs share a user: an escaped QEMU can
 * neither signal another VM's QEMU nor read its memory through /proc.
 * Every VM QEMU also has one supplementary group, uid_base itself (no VM
 * has id 0), which is the group of state_dir: with mode 0710 it lets the
 * QEMUs through to the templates and lets them list nothing.  A
 * template's kernel, initrd and disk (the overlays' backing file), which
 * QEMU opens by name, and their folder get that group too, readable.  Their own disk, seed and
 * serial log reach them as descriptors (vmm/spawn.c), and state_dir/vms is
 * root's alone.  With /dev/kvm, the kvm group is added.
 *
 * Each QEMU also gets a cgroup v2 folder of its own, LABD_CGROUP/VM under
 * the v2 hierarchy's root (not under labd's own cgroup, so that stopping
 * labd.service leaves the VMs running), which names all its processes and
 * is where limits go (cglimit.c; with those controllers still on cgroup
 * v1, in a folder of each v1 hierarchy too).  A host without a writable
 * cgroup v2 hierarchy runs VMs without one, with one warning.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "labd/labd.h"
#include "labd/vmjob.h"

static char	cg_base[PATH_MAX];	/* "" when VMs run without cgroups */
static int	confining;		/* labd started as root */

/* 1 gone (or never there), 0 still busy. */
static int
cg_remove(const char *vm_name)
{
	char	path[PATH_MAX];
	int	gone = cglimit_remove(vm_name);

	if (cg_base[0] == '\0')
		return gone;
	snprintf(path, sizeof(path), "%s/%s", cg_base, vm_name);
	if (rmdir(path) == 0 || errno == ENOENT)
		return gone;
	if (errno != EBUSY) {
		log_warn("rmdir %s", path);
		return gone;
	}
	return 0;
}

/* The v2 hierarchy: unified only, or hybrid with v2 under unified/. */
static const char *
cgroup2_mount(void)
{
	static const char	*roots[] = { "/sys/fs/cgroup",
				    "/sys/fs/cgroup/unified" };
	char			 path[PATH_MAX];
	size_t			 i;

	for (i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		snprintf(path, sizeof(path), "%s/cgroup.controllers",
		    roots[i]);
		if (access(path, F_OK) == 0)
			return roots[i];
	}
	return NULL;
}

/*
 * The path from / to dir must be open to other users' search (x), or the
 * VMs' users cannot reach the templates under state_dir.
 */
static int
path_searchable(const char *dir, char *err, size_t errlen)
{
	char		path[PATH_MAX], *p;
	struct stat	st;

	snprintf(path, sizeof(path), "%s", dir);
	while ((p = strrchr(path, '/')) != NULL) {
		if (p == path)
			p[1] = '\0';
		else
			*p = '\0';
		if (stat(path, &st) == -1) {
			errf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		if ((st.st_mode & S_IXOTH) == 0) {
			errf(err, errlen, "%s (mode %04o) is closed to other"
			    " users, so the VMs' QEMU users cannot reach %s:"
			    " chmod o+x %s, or put state_dir elsewhere", path,
			    (unsigned)(st.st_mode & 07777), dir, path);
			return -1;
		}
		if (strcmp(path, "/") == 0)
			break;
	}
	return 0;
}

int
confine_init(char *err, size_t errlen)
{
	const char	*mnt;
	char		 path[PATH_MAX];
	struct stat	 st;
	gid_t		 g = (gid_t)labd->cfg.uid_base;

	if (geteuid() != 0)
		return 0;
	confining = 1;
	/* state_dir: root's, searchable by the VMs' group, listable by none. */
	if (path_searchable(labd->cfg.state_dir, err, errlen) == -1)
		return -1;
	if (stat(labd->cfg.state_dir, &st) == -1 ||
	    (st.st_gid != g && chown(labd->cfg.state_dir, (uid_t)-1, g) == -1) ||
	    chmod(labd->cfg.state_dir, (st.st_mode & 0700) | 0010) == -1) {
		errf(err, errlen, "cannot give %s to group %u: %s",
		    labd->cfg.state_dir, (unsigned)g, strerror(errno));
		return -1;
	}
	/* Nothing directly in state_dir may be open to that group. */
	snprintf(path, sizeof(path), "%s/labd.db", labd->cfg.state_dir);
	if (chmod(path, 0600) == -1 && errno != ENOENT) {
		errf(err, errlen, "chmod %s: %s", path, strerror(errno));
		return -1;
	}
	if ((mnt = cgroup2_mount()) == NULL)
		log_warnx("no cgroup v2 hierarchy: VMs run without a cgroup v2"
		    " folder of their own");
	else {
		snprintf(cg_base, sizeof(cg_base), "%s/" LABD_CGROUP, mnt);
		if (mkdir(cg_base, 0755) == -1 && errno != EEXIST) {
			log_warn("cannot make %s: VMs run without a cgroup v2"
			    " folder of their own", cg_base);
			cg_base[0] = '\0';
		}
	}
	cglimit_init(mnt, cg_base);
	return 0;
}

/*
 * A file QEMU opens by name, and its folder, open to the VMs' group:
 * whatever labd's umask was when the template was made.
 */
static int
share(const char *path, mode_t bits, char *err, size_t errlen)
{
	struct stat	st;
	gid_t		g = (gid_t)labd->cfg.uid_base;
	int		fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK)) == -1 || fstat(fd, &st) == -1) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if ((st.st_gid != g && fchown(fd, (uid_t)-1, g) == -1) ||
	    ((st.st_mode & bits) != bits &&
	    fchmod(fd, (st.st_mode & 07777) | bits) == -1)) {
		errf(err, errlen, "cannot open %s to the VMs' group: %s",
		    path, strerror(errno));
		goto fail;
	}
	close(fd);
	return 0;
fail:
	if (fd != -1)
		close(fd);
	return -1;
}

/* The template's files VM d's QEMU opens by name, and their folders. */
static int
share_template(const struct vmdef *d, char *err, size_t errlen)
{
	const char	*files[] = { d->tpl_disk, d->kernel, d->initrd };
	char		 dir[PATH_MAX], *p;
	size_t		 i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (files[i][0] == '\0')
			continue;
		snprintf(dir, sizeof(dir), "%s", files[i]);
		if ((p = strrchr(dir, '/')) != NULL && p != dir) {
			*p = '\0';
			if (share(dir, 0050, err, errlen) == -1)
				return -1;
		}
		if (share(files[i], 0040, err, errlen) == -1)
			return -1;
	}
	return 0;
}

int
confine_share(const struct vmdef *d, char *err, size_t errlen)
{
	if (!confining)
		return 0;
	return share_template(d, err, errlen);
}

int
confine_user(const char *name, int64_t id, struct vmm_spec *s, gid_t *groups,
    const struct cg_limits *lim, struct confine_cg *cg, char *err,
    size_t errlen)
{
	struct group	*gr;
	char		 v2dir[PATH_MAX];
	size_t		 i;

	s->uid = 0;
	s->ngroups = 0;
	s->cgroup = NULL;
	s->cgroups = NULL;
	s->ncgroups = 0;
	if (geteuid() != 0)
		return 0;
	if (id <= 0 || id >= (int64_t)LABD_UIDS) {
		errf(err, errlen, "%s: VM id %lld is outside the %u uids from"
		    " uid_base", name, (long long)id, LABD_UIDS);
		return -1;
	}
	s->uid = (uid_t)(labd->cfg.uid_base + (uint32_t)id);
	s->gid = (gid_t)s->uid;
	groups[s->ngroups++] = (gid_t)labd->cfg.uid_base;
	/* getgrnam() is not thread-safe; workers run this. */
	if (labd->accel == VMM_ACCEL_KVM) {
		struct group	 gbuf;
		char		 buf[1024];

		if (getgrnam_r("kvm", &gbuf, buf, sizeof(buf), &gr) == 0 &&
		    gr != NULL)
			groups[s->ngroups++] = gr->gr_gid;
	}
	s->groups = groups;
	if (cg_base[0] != '\0' && snprintf(v2dir, sizeof(v2dir), "%s/%s",
	    cg_base, name) >= (int)sizeof(v2dir)) {
		errf(err, errlen, "%s: cgroup path too long", name);
		return -1;
	}
	/* The folders made here, limits written, for QEMU to join. */
	if (cglimit_valid(lim, err, errlen) == -1 ||
	    cglimit_make(name, cg_base[0] != '\0' ? v2dir : NULL, lim,
	    cg->dirs, &cg->n, err, errlen) == -1)
		return -1;
	for (i = 0; i < cg->n; i++)
		cg->ptrs[i] = cg->dirs[i];
	s->cgroups = cg->ptrs;
	s->ncgroups = cg->n;
	return 0;
}

int
confine_cgroup_remove(const char *vm_name)
{
	return !confining || cg_remove(vm_name);
}

int
confine_cgroups(void)
{
	return confining && (cg_base[0] != '\0' || cglimit_active());
}

/* A VM's folders: its disks in state_dir, its sockets in run_dir. */
int
vm_paths(const char *name, char *vmdir, char *rundir)
{
	if (vmdir != NULL && snprintf(vmdir, PATH_MAX, "%s/vms/%s",
	    labd->cfg.state_dir, name) >= PATH_MAX)
		return -1;
	if (rundir != NULL && snprintf(rundir, PATH_MAX, "%s/vms/%s",
	    labd->cfg.run_dir, name) >= PATH_MAX)
		return -1;
	return 0;
}

/* A port's host end in vm's run_dir (labd.h). */
int
vmport_connect(const char *vm, const char *sock)
{
	struct sockaddr_un	sun;
	char			rundir[PATH_MAX];
	int			fd;

	if (vm_paths(vm, NULL, rundir) == -1)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s",
	    rundir, sock) >= sizeof(sun.sun_path))
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		log_warn("%s: %s: socket", vm, sock);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}
