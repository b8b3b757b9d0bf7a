/* SPDX-License-Identifier: ISC */
/*
 * caller.c - who asked, and the files they name.
 *
 * Whoever drives labd through the control socket need not be root, and
 * labd itself is not: it runs as a user of its own, and root's work is
 * the privileged helper's (priv.c).  A path a client hands over (a
 * template profile, the disk and kernel it names, an appliance, the file
 * a backup goes to) must be opened with the client's rights, never
 * labd's: a profile that is a link to /etc/shadow, or that names a disk
 * only root may read, is the client's to use only if the client could.
 *
 * So with the helper, each such file is opened by it, in a child that
 * has taken the identity of the client: not an identity the daemon
 * names, but the one the kernel gives for the client's end of its
 * connection (SO_PEERCRED, SO_PEERGROUPS on a duplicate of the daemon's
 * socket to it).  The daemon cannot make the helper act as anyone who is
 * not connected to it.  The descriptor comes back over SCM_RIGHTS; labd
 * then reads it by descriptor alone.  qemu-img runs the same way on a
 * client's disk (its backing file is opened by name, as the client), and
 * a backup's copy is made and renamed into place as the client.
 *
 * Only regular files: the open never blocks (O_NONBLOCK: a FIFO named
 * x.ini opens at once and is refused), follows no link at the end of the
 * path (O_NOFOLLOW), and a helper's child that could still hang (a file
 * system that never answers) is given up on after a while.  This runs in
 * workers only: nothing a client names is opened in the event loop.
 *
 * labd started by an ordinary user has no helper and no other identity
 * to take.  It then opens the file as itself, and hands it over only
 * when the client could have opened it too as far as modes say: the file
 * readable to them, each folder above it searchable.  Either way, an
 * error quoting a line of a file quotes a file the client may read.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "labd/labd.h"
#include "labd/vmjob.h"

/* A file system that takes longer than this to open a file is not one. */
#define CALLER_OPEN_MS	10000

void
caller_close(struct caller *c)
{
	if (c->peer != -1)
		close(c->peer);
	c->peer = -1;
}

static int
in_groups(const struct caller *c, gid_t gid)
{
	int	i;

	for (i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return 1;
	return gid == c->gid;
}

/* The rwx bits of st that apply to the caller: owner, group or other. */
static unsigned
perm_bits(const struct caller *c, const struct stat *st)
{
	if (st->st_uid == c->uid)
		return (st->st_mode >> 6) & 07;
	if (in_groups(c, st->st_gid))
		return (st->st_mode >> 3) & 07;
	return st->st_mode & 07;
}

int
caller_may(const struct caller *c, const struct stat *st, unsigned bits)
{
	return (perm_bits(c, st) & bits) == bits;
}

/*
 * labd as itself: could the caller have opened fd, modes say?  The file
 * readable, each folder above it (by the path it has now) searchable.
 */
static int
may_reach(const struct caller *c, int fd, const char *path, char *err,
    size_t errlen)
{
	struct stat	 st;
	char		 link[64], real[PATH_MAX], *slash;
	ssize_t		 n;

	if (fstat(fd, &st) == -1 || !caller_may(c, &st, 04)) {
		errf(err, errlen, "cannot read %s: %s", path, strerror(EACCES));
		return -1;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, real, sizeof(real) - 1)) == -1) {
		errf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	real[n] = '\0';
	while ((slash = strrchr(real, '/')) != NULL) {
		slash[slash == real ? 1 : 0] = '\0';
		if (stat(real, &st) == -1 || !caller_may(c, &st, 01)) {
			errf(err, errlen, "cannot read %s: %s", path,
			    strerror(EACCES));
			return -1;
		}
		if (slash == real)
			break;
	}
	return 0;
}

/* The helper, when there is one: it answers for the client at c->peer. */
static int
by_helper(const struct caller *c)
{
	return c != NULL && priv_active();
}

int
caller_open(const struct caller *c, const char *path, char *err,
    size_t errlen)
{
	json_t	*req, *rep;
	int	 fd = -1;

	if (by_helper(c)) {
		req = json_pack("{s:s,s:s}", "op", "open", "path", path);
		rep = priv_request(req, &c->peer, 1, &fd, 1, CALLER_OPEN_MS,
		    err, errlen);
		json_decref(req);
		json_decref(rep);
		if (rep != NULL && fd == -1)
			errf(err, errlen, "cannot read %s: no descriptor came"
			    " back", path);
		return rep != NULL ? fd : -1;
	}
	if ((fd = caller_open_here(path, err, errlen)) == -1)
		return -1;
	if (c != NULL && c->uid != 0 && c->uid != geteuid() &&
	    may_reach(c, fd, path, err, errlen) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

json_t *
caller_img_info(const struct caller *c, int fd, const char *fmt,
    int give, const char *name, char *err, size_t errlen)
{
	json_t	*req, *rep, *info;

	if (!by_helper(c))
		return img_info_fd(labd->cfg.qemu_img, NULL, fd, fmt, name, err,
		    errlen);
	req = json_pack("{s:s,s:s,s:s?,s:s,s:i}", "op", "img", "verb", "info",
	    "fmt", fmt, "name", name, "give", give);
	rep = priv_request(req, (int[]){ c->peer, fd }, 2, NULL, 0, 0, err,
	    errlen);
	json_decref(req);
	if (rep == NULL)
		return NULL;
	if ((info = json_object_get(rep, "info")) == NULL ||
	    !json_is_object(info)) {
		errf(err, errlen, "qemu-img info of %s: no answer", name);
		info = NULL;
	} else
		json_incref(info);
	json_decref(rep);
	return info;
}

int
caller_img_convert(const struct caller *c, int in, const char *fmt, int out,
    const char *ofmt, int give, const char *name, char *err, size_t errlen)
{
	json_t	*req, *rep;

	if (!by_helper(c))
		return img_convert_fd(labd->cfg.qemu_img, NULL, in, fmt, out,
		    ofmt, NULL, name, err, errlen);
	req = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "op", "img", "verb",
	    "convert", "fmt", fmt, "ofmt", ofmt, "name", name, "give", give);
	rep = priv_request(req, (int[]){ c->peer, in, out }, 3, NULL, 0, 0,
	    err, errlen);
	json_decref(req);
	json_decref(rep);
	return rep != NULL ? 0 : -1;
}

int
caller_place(const struct caller *c, const char *dir, const char *tmp,
    const char *base, int force, int *dfd, int *fd, char *err, size_t errlen)
{
	json_t	*req, *rep;
	int	 got[2] = { -1, -1 };

	req = json_pack("{s:s,s:s,s:s,s:s,s:b}", "op", "place", "dir", dir,
	    "tmp", tmp, "base", base, "force", force);
	rep = priv_request(req, &c->peer, 1, got, 2, CALLER_OPEN_MS, err,
	    errlen);
	json_decref(req);
	json_decref(rep);
	if (rep != NULL && (got[0] == -1 || got[1] == -1))
		errf(err, errlen, "cannot create the copy in %s: no"
		    " descriptor came back", dir);
	if (rep == NULL || got[0] == -1 || got[1] == -1) {
		if (got[0] != -1)
			close(got[0]);
		if (got[1] != -1)
			close(got[1]);
		return -1;
	}
	*dfd = got[0];
	*fd = got[1];
	return 0;
}

int
caller_commit(const struct caller *c, int dfd, int fd, const char *tmp,
    const char *base, int force, char *err, size_t errlen)
{
	json_t	*req, *rep;

	req = json_pack("{s:s,s:s,s:s?,s:b}", "op", "commit", "tmp", tmp,
	    "base", base, "force", force);
	rep = priv_request(req, (int[]){ c->peer, dfd, fd }, 3, NULL, 0,
	    CALLER_OPEN_MS, err, errlen);
	json_decref(req);
	json_decref(rep);
	return rep != NULL ? 0 : -1;
}
