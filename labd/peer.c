/* SPDX-License-Identifier: ISC */
/*
 * peer.c - the helper's side of caller.c: acting for whoever is at the
 * other end of the daemon's socket to a client.
 *
 * These run in a child of the privileged helper (priv.c): root, with one
 * thread, gone after one request.  The identity comes from the kernel
 * (SO_PEERCRED and SO_PEERGROUPS of the socket the daemon passed), never
 * from the request; it is taken as the effective ids only, root kept as
 * the saved uid, so that a file made as the client can then be handed to
 * the daemon to write.  The client cannot signal or trace the child
 * meanwhile: its real and saved ids stay root's, and a change of
 * identity makes a process undumpable.
 *
 * Here too: the start of the ids for "who asked", and the open of a
 * regular file, both of which caller.c uses as well.
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

void
caller_init(struct caller *c, uid_t uid, gid_t gid, int peer)
{
	struct passwd	 pw, *pwp = NULL;
	char		 buf[4096];
	int		 n = LABD_NGROUPS;

	memset(c, 0, sizeof(*c));
	c->uid = uid;
	c->gid = gid;
	c->peer = peer;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) == 0 && pwp != NULL &&
	    gid == (gid_t)-1)
		c->gid = gid = pw.pw_gid;
	if (pwp == NULL || getgrouplist(pw.pw_name, gid, c->groups,
	    &n) == -1) {
		/* No account, or more groups than we keep: the gid alone. */
		c->groups[0] = gid;
		n = 1;
	}
	c->ngroups = n;
}

int
caller_open_here(const char *path, char *err, size_t errlen)
{
	struct stat	st;
	int		fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1) {
		if (errno == ELOOP)
			errf(err, errlen, "%s is a symbolic link: name the"
			    " file itself", path);
		else
			errf(err, errlen, "cannot read %s: %s", path,
			    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    fcntl(fd, F_SETFL, 0) == -1) {
		errf(err, errlen, "%s is not a regular file", path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Who is at the other end of peer, as the kernel says; -1 with err. */
static int
peer_caller(int peer, struct caller *c, char *err, size_t errlen)
{
	struct ucred	uc;
	socklen_t	len = sizeof(uc);
	int		n;

	if (peer == -1 || getsockopt(peer, SOL_SOCKET, SO_PEERCRED, &uc,
	    &len) == -1) {
		errf(err, errlen, "no client to act for");
		return -1;
	}
	caller_init(c, uc.uid, uc.gid, -1);
	/* The groups its process holds, as control.c's roles use them. */
	len = sizeof(c->groups);
	if (getsockopt(peer, SOL_SOCKET, SO_PEERGROUPS, c->groups, &len) == 0) {
		n = (int)(len / sizeof(gid_t));
		c->ngroups = n;
	}
	return 0;
}

/* Act as c (root stays the saved uid, to come back); -1 with err. */
static int
assume(const struct caller *c, char *err, size_t errlen)
{
	if (c->uid == 0)
		return 0;
	if (syscall(SYS_setgroups, (size_t)c->ngroups, c->groups) == -1 ||
	    syscall(SYS_setresgid, -1, c->gid, -1) == -1 ||
	    syscall(SYS_setresuid, -1, c->uid, -1) == -1) {
		errf(err, errlen, "cannot act as uid %u: %s", (unsigned)c->uid,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
resume(char *err, size_t errlen)
{
	gid_t	none = 0;

	if (syscall(SYS_setresuid, -1, 0, -1) == -1 ||
	    syscall(SYS_setresgid, -1, 0, -1) == -1 ||
	    syscall(SYS_setgroups, (size_t)0, &none) == -1) {
		errf(err, errlen, "cannot become root again: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* fd, a file of the daemon's, to owner; only ever the daemon's own. */
static int
hand(int fd, uid_t uid, gid_t gid, uid_t was, char *err, size_t errlen)
{
	struct stat	st;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != was) {
		errf(err, errlen, "not a file of uid %u", (unsigned)was);
		return -1;
	}
	if (fchown(fd, uid, gid) == -1) {
		errf(err, errlen, "chown: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
caller_serve_open(int peer, const char *path, char *err, size_t errlen)
{
	struct caller	c;

	if (path == NULL || path[0] != '/') {
		errf(err, errlen, "open: not an absolute path");
		return -1;
	}
	if (peer_caller(peer, &c, err, errlen) == -1 ||
	    assume(&c, err, errlen) == -1)
		return -1;
	return caller_open_here(path, err, errlen);
}

/*
 * qemu-img as the client on fds[1] (and into fds[2]); the daemon's own
 * files among them (the bits of give) are the client's while it runs.
 */
json_t *
caller_serve_img(int peer, const char *verb, const char *fmt,
    const char *ofmt, const char *name, int give, const int *fds, int nfds,
    char *err, size_t errlen)
{
	struct caller	 c;
	struct vmm_cred	 cred;
	json_t		*info = NULL;
	uid_t		 du = LABD_DAEMON_UID;
	gid_t		 dg = LABD_DAEMON_GID;
	int		 i, given = 0, rc = -1;

	if (peer_caller(peer, &c, err, errlen) == -1)
		return NULL;
	if (nfds != (strcmp(verb, "convert") == 0 ? 2 : 1) ||
	    (nfds == 2 && (fmt == NULL || ofmt == NULL))) {
		errf(err, errlen, "img: bad request");
		return NULL;
	}
	cred.uid = c.uid;
	cred.gid = c.gid;
	cred.groups = c.groups;
	cred.ngroups = (size_t)c.ngroups;
	for (i = 0; i < nfds; i++)
		if ((give & (1 << i)) && c.uid != 0) {
			if (hand(fds[i], c.uid, c.gid, du, err, errlen) == -1)
				goto back;
			given |= 1 << i;
		}
	if (nfds == 1)
		rc = (info = img_info_fd(labd->cfg.qemu_img, c.uid != 0 ?
		    &cred : NULL, fds[0], fmt, name, err, errlen)) != NULL ?
		    0 : -1;
	else
		rc = img_convert_fd(labd->cfg.qemu_img, c.uid != 0 ? &cred :
		    NULL, fds[0], fmt, fds[1], ofmt, NULL, name, err, errlen);
back:
	for (i = 0; i < nfds; i++)
		if ((given & (1 << i)) && hand(fds[i], du, dg, c.uid, err,
		    errlen) == -1)
			rc = -1;
	if (rc == -1) {
		json_decref(info);
		return NULL;
	}
	return info != NULL ? json_pack("{s:o}", "info", info) :
	    json_object();
}

/* A plain file name: no folder, not "." or "..". */
static int
plain_name(const char *s)
{
	return s != NULL && s[0] != '\0' && strchr(s, '/') == NULL &&
	    strcmp(s, ".") != 0 && strcmp(s, "..") != 0 && strlen(s) <= NAME_MAX;
}

/*
 * A backup's copy: as the client, the folder dir opened and tmp made in
 * it (base checked as the copy's final name); then the daemon's to
 * write.  fds[0] the folder, fds[1] the file.
 */
int
caller_serve_place(int peer, const char *dir, const char *tmp,
    const char *base, int force, int fds[2], char *err, size_t errlen)
{
	struct caller	c;
	struct stat	old;

	fds[0] = fds[1] = -1;
	if (dir == NULL || dir[0] != '/' || !plain_name(tmp) ||
	    !plain_name(base)) {
		errf(err, errlen, "place: bad request");
		return -1;
	}
	if (peer_caller(peer, &c, err, errlen) == -1 ||
	    assume(&c, err, errlen) == -1)
		return -1;
	if ((fds[0] = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		if (errno == EACCES)
			errf(err, errlen, "you (uid %u) may not enter %s",
			    (unsigned)c.uid, dir);
		else
			errf(err, errlen, "cannot open the folder %s: %s", dir,
			    strerror(errno));
		return -1;
	}
	if (fstatat(fds[0], base, &old, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!force)
			errf(err, errlen, "%s/%s exists: not replaced (--force"
			    " replaces it)", dir, base);
		else if (!S_ISREG(old.st_mode))
			errf(err, errlen, "%s/%s exists and is not a regular"
			    " file: not replaced", dir, base);
		if (!force || !S_ISREG(old.st_mode))
			return -1;
	}
	if ((fds[1] = openat(fds[0], tmp, O_RDWR | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		if (errno == EACCES || errno == EROFS)
			errf(err, errlen, "you (uid %u) may not write in %s: %s",
			    (unsigned)c.uid, dir, strerror(errno));
		else
			errf(err, errlen, "cannot create %s/%s: %s", dir, tmp,
			    strerror(errno));
		return -1;
	}
	if (resume(err, errlen) == -1 || hand(fds[1], LABD_DAEMON_UID,
	    LABD_DAEMON_GID, c.uid, err, errlen) == -1) {
		unlinkat(fds[0], tmp, 0);
		return -1;
	}
	return 0;
}

/* tmp to base in dfd, never over a file; 0, or -1 with errno. */
static int
no_replace(int dfd, const char *tmp, const char *base)
{
	if (renameat2(dfd, tmp, dfd, base, RENAME_NOREPLACE) == 0)
		return 0;
	/* A file system without RENAME_NOREPLACE: link refuses too. */
	if (errno != EINVAL || linkat(dfd, tmp, dfd, base, 0) == -1)
		return -1;
	unlinkat(dfd, tmp, 0);
	return 0;
}

/*
 * The copy written: the client's again, renamed to base as the client
 * (never over a file unless force), or with base NULL removed.
 */
int
caller_serve_commit(int peer, const int *fds, int nfds, const char *tmp,
    const char *base, int force, char *err, size_t errlen)
{
	struct caller	c;

	if (nfds != 2 || !plain_name(tmp) || (base != NULL &&
	    !plain_name(base))) {
		errf(err, errlen, "commit: bad request");
		return -1;
	}
	if (peer_caller(peer, &c, err, errlen) == -1 || hand(fds[1], c.uid,
	    c.gid, LABD_DAEMON_UID, err, errlen) == -1 ||
	    assume(&c, err, errlen) == -1)
		return -1;
	if (base == NULL)
		return unlinkat(fds[0], tmp, 0);
	if (force ? renameat(fds[0], tmp, fds[0], base) :
	    no_replace(fds[0], tmp, base)) {
		if (errno == EEXIST)
			errf(err, errlen, "%s was created meanwhile: not"
			    " replaced (--force replaces it)", base);
		else
			errf(err, errlen, "cannot rename the copy to %s: %s",
			    base, strerror(errno));
		unlinkat(fds[0], tmp, 0);
		return -1;
	}
	return 0;
}
