/* SPDX-License-Identifier: ISC */
/*
 * vnc.c - the VNC server's side in labd's loop: [vnc] read at start-up
 * (the instructor's password file, while labd may still read root's
 * files; the port bound, so a port below 1024 works too), the VNC thread
 * started, and its questions answered.  The thread (vnc_server.c) asks
 * "state" once a second on a socketpair; the answer is one datagram, a
 * line a VM, sent without waiting: when the thread has not read the last
 * one yet the loop skips this one.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "labd/labd.h"
#include "labd/vnc.h"

#define ANSWER_MAX	(VNC_MAXVMS * 160)

static int	vnc_fd = -1;	/* the loop's end of the socketpair */

/* QEMU runs: its vnc.sock may answer. */
static int
vm_has_screen(const struct vm *vm)
{
	return vm != NULL && vm->pid > 0 && vm->state != VM_STOPPED &&
	    vm->state != VM_SUSPENDED && vm->state != VM_FAILED;
}

static void
vnc_answer(struct loop *l, int fd, uint32_t events, void *arg)
{
	static char	 buf[ANSWER_MAX];
	char		 req[16];
	sqlite3_stmt	*st;
	struct vm	*vm;
	const char	*pw;
	size_t		 len = 0;
	ssize_t		 n;
	int		 k, rows = 0;

	if ((n = recv(fd, req, sizeof(req), MSG_DONTWAIT)) <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			log_warnx("vnc: the VNC thread's socket closed");
			loop_del_fd(l, fd);
		}
		return;
	}
	/* Sorted by course: the wall pages through them in this order. */
	st = db_prepare("SELECT v.name, c.name, s.login, s.vnc_password"
	    " FROM vms v JOIN courses c ON c.id = v.course_id"
	    " JOIN students s ON s.id = v.student_id"
	    " ORDER BY c.name, v.slot");
	while (sqlite3_step(st) == SQLITE_ROW && rows < VNC_MAXVMS) {
		vm = vm_find(db_text(st, 0));
		pw = db_text(st, 3);
		k = snprintf(buf + len, sizeof(buf) - len, "%s\t%s\t%s\t%s\t%d"
		    "\t%s\n", db_text(st, 0), db_text(st, 1), db_text(st, 2),
		    vm != NULL ? vm_state_name(vm->state) : "unknown",
		    vm_has_screen(vm), *pw != '\0' ? pw : "-");
		if (k < 0 || (size_t)k >= sizeof(buf) - len)
			break;
		len += k;
		rows++;
	}
	sqlite3_finalize(st);
	if (send(fd, buf, len ? len : 1, MSG_DONTWAIT | MSG_NOSIGNAL) == -1 &&
	    errno != EAGAIN)
		log_warn("vnc: answer to the VNC thread");
	explicit_bzero(buf, len);
}

/* The first line of path: the instructor's password. */
static int
instructor_read(const char *path, char *pw, size_t pwlen, char *err,
    size_t errlen)
{
	char	e[LABD_ERRLEN], *text;
	size_t	len, n;

	if ((text = file_read(path, 4096, &len, e, sizeof(e))) == NULL) {
		errf(err, errlen, "[vnc] password_file: %s", e);
		return -1;
	}
	n = strcspn(text, "\r\n");
	text[n] = '\0';
	if (n == 0) {
		errf(err, errlen, "[vnc] password_file %s: its first line,"
		    " the instructor's password, is empty", path);
		free(text);
		return -1;
	}
	if (n > VNC_PWLEN)
		log_warnx("[vnc] password_file %s: VNC passwords are %d"
		    " characters; the rest of the first line does not count",
		    path, VNC_PWLEN);
	snprintf(pw, pwlen, "%.*s", VNC_PWLEN, text);
	explicit_bzero(text, len);
	free(text);
	return 0;
}

static int
vnc_listen(const char *key, const char *ip, uint16_t port, char *err,
    size_t errlen)
{
	char	e[LABD_ERRLEN];
	int	fd;

	if ((fd = tcp_listen(ip, port, SOCK_NONBLOCK, 64, e, sizeof(e))) ==
	    -1)
		errf(err, errlen, "[vnc] %s: cannot listen on %s", key, e);
	return fd;
}

/* noVNC as Debian's novnc package installs it (vnc_web.c serves it). */
#define NOVNC_DIR	"/usr/share/novnc"

int
vnc_init(char *err, size_t errlen)
{
	struct vnc_opts	 o;
	char	pw[VNC_PWLEN + 1];
	int	sp[2] = { -1, -1 }, lfd = -1, wfd = -1, n, big = 4 << 20;

	if (labd->cfg.vnc_port == 0)
		return 0;
	if (instructor_read(labd->cfg.vnc_password_file, pw, sizeof(pw), err,
	    errlen) == -1)
		return -1;
	vnc_auth_instructor(pw);
	if ((n = vnc_passwords_fill()) > 0)
		log_info("vnc: %d students got a VNC password", n);
	if ((lfd = vnc_listen("listen", labd->cfg.vnc_ip, labd->cfg.vnc_port,
	    err, errlen)) == -1)
		goto fail;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1) {
		errf(err, errlen, "vnc: socketpair: %s", strerror(errno));
		goto fail;
	}
	/* The answer is one datagram: as large as the kernel allows. */
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sp[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (loop_add_fd(labd->loop, sp[0], EPOLLIN, vnc_answer, NULL) == -1) {
		errf(err, errlen, "vnc: cannot watch its socket");
		goto fail;
	}
	memset(&o, 0, sizeof(o));
	o.ctl = sp[1];
	o.listen_fd = lfd;
	o.instructor = pw;
	o.run_dir = labd->cfg.run_dir;
	o.web_fd = -1;
	if (labd->cfg.vnc_web_port != 0) {
		if (access(NOVNC_DIR "/vnc.html", R_OK) == -1) {
			errf(err, errlen, "[vnc] web needs Debian's novnc"
			    " package (%s/vnc.html: %s)", NOVNC_DIR,
			    strerror(errno));
			goto fail;
		}
		if ((wfd = vnc_listen("web", labd->cfg.vnc_web_ip,
		    labd->cfg.vnc_web_port, err, errlen)) == -1)
			goto fail;
		o.web_fd = wfd;
		o.web_root = NOVNC_DIR;
		o.rfb_ip = labd->cfg.vnc_ip;
		o.rfb_port = labd->cfg.vnc_port;
	}
	if (vnc_server_start(&o, err, errlen) == -1) {
		loop_del_fd(labd->loop, sp[0]);
		goto fail;
	}
	vnc_fd = sp[0];
	explicit_bzero(pw, sizeof(pw));
	log_info("vnc: the wall and the students' screens on %s:%u",
	    labd->cfg.vnc_ip, labd->cfg.vnc_port);
	if (labd->cfg.vnc_web_port != 0)
		log_info("vnc: noVNC on http://%s:%u/", labd->cfg.vnc_web_ip,
		    labd->cfg.vnc_web_port);
	return 0;
fail:
	explicit_bzero(pw, sizeof(pw));
	if (lfd != -1)
		close(lfd);
	if (wfd != -1)
		close(wfd);
	if (sp[0] != -1) {
		close(sp[0]);
		close(sp[1]);
	}
	return -1;
}

const char *
vnc_info(const char *vmname, int admin, json_t **res, char *err,
    size_t errlen)
{
	sqlite3_stmt	*st;
	json_t		*o;
	const char	*pw;

	if (labd->cfg.vnc_port == 0) {
		errf(err, errlen, "VNC is off: set [vnc] listen in %s",
		    labd->cfg.path[0] ? labd->cfg.path : "labd.ini");
		return LABD_E_INVALID;
	}
	st = db_prepare("SELECT s.login, s.vnc_password FROM vms v"
	    " JOIN students s ON s.id = v.student_id WHERE v.name = ?");
	sqlite3_bind_text(st, 1, vmname, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		errf(err, errlen, "VM \"%.64s\" not found", vmname);
		return LABD_E_NOT_FOUND;
	}
	o = json_pack("{s:s,s:s,s:s,s:i}", "vm", vmname, "student",
	    db_text(st, 0), "host", labd->cfg.vnc_ip, "port",
	    labd->cfg.vnc_port);
	pw = db_text(st, 1);
	if (admin && *pw != '\0')
		json_object_set_new(o, "password", json_string(pw));
	if (labd->cfg.vnc_web_port != 0)
		json_object_set_new(o, "web", json_sprintf("http://%s:%u/",
		    labd->cfg.vnc_web_ip, labd->cfg.vnc_web_port));
	sqlite3_finalize(st);
	*res = o;
	return NULL;
}

json_t *
vnc_status(void)
{
	if (labd->cfg.vnc_port == 0)
		return json_null();
	return json_pack("{s:s,s:i}", "host", labd->cfg.vnc_ip, "port",
	    labd->cfg.vnc_port);
}
