/* SPDX-License-Identifier: ISC */
/*
 * labcheck.c - lab-check in the guest: a student runs it inside her VM
 * and reads her own goals, the text of the gateway's +check (gw_check.c).
 *
 * The channel is a virtio-serial port of each VM, org.labd.check, whose
 * host end is a UNIX socket in the VM's run_dir (check.sock, QEMU the
 * server).  labd connects to it from its loop, the way it holds qmp.sock,
 * and a tick connects again whenever QEMU is new.  The guest sees the
 * port only while labd is connected, so a guest that writes while labd
 * is away waits, and lab-check tells the student labd does not answer.
 *
 * Whatever is on the port comes from the VM, so the port can only ever
 * ask for that VM's own checks: the request is one line, "check NONCE",
 * of at most LABCHECK_LINE_MAX bytes, and the nonce, which comes back in
 * the begin and end lines, is all of it that labd keeps.  Nothing the
 * guest writes goes to the log or back out: a bad line is logged by its
 * length alone, at most once a minute.  One run at a time per VM, and
 * LABCHECK_INTERVAL_S seconds from the end of one run to the next, so
 * that a loop in the guest cannot keep labd's workers busy.
 *
 * QEMU reads nothing from the socket while no guest program holds the
 * port open: an answer to a lab-check that was interrupted waits in the
 * socket and is read by the next one, which skips it by its nonce.
 * labd's own buffer of unsent answer is capped; past the cap it is cut.
 *
 * A run is the student's, as the gateway's: stored by_student, and the
 * event is gateway.check, "from" being "lab-check".
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "labd/gateway.h"

#define LABCHECK_TICK_MS	2000
#define LABCHECK_OUT_MAX	(256 * 1024)	/* unsent answer, bytes */
#define LABCHECK_WARN_S		60		/* bad lines logged this often */

/* One VM's port, kept while the VM exists or a run of it goes on. */
struct labcheck {
	char		 vm[LABD_VMNAMELEN];
	int		 fd;		/* -1: not connected */
	char		 in[LABCHECK_LINE_MAX];
	size_t		 inlen;
	int		 skipping;	/* a line too long, dropped to its end */
	char		*out;
	size_t		 outlen, outcap;
	int		 running;
	char		 nonce[LABCHECK_NONCE_MAX];
	time_t		 last_end;	/* the last run's end */
	time_t		 warned;	/* the last bad line logged */
	struct labcheck	*next;
};

static struct labcheck	*labchecks;

int
labcheck_parse(const char *line, size_t len, char *nonce, size_t noncelen,
    char *err, size_t errlen)
{
	static const char	 ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-";
	const char		*n;
	size_t			 i, nlen;

	if (len >= LABCHECK_LINE_MAX) {
		errf(err, errlen, "request of %zu bytes: at most %d", len,
		    LABCHECK_LINE_MAX - 1);
		return -1;
	}
	if (len < 6 || memcmp(line, "check ", 6) != 0) {
		errf(err, errlen, "unknown request: want \"check NONCE\"");
		return -1;
	}
	n = line + 6;
	nlen = len - 6;
	if (nlen == 0 || nlen >= LABCHECK_NONCE_MAX || nlen >= noncelen) {
		errf(err, errlen, "nonce of %zu bytes: 1 to %d", nlen,
		    LABCHECK_NONCE_MAX - 1);
		return -1;
	}
	for (i = 0; i < nlen; i++)
		if (n[i] == '\0' || strchr(ok, n[i]) == NULL) {
			errf(err, errlen, "nonce: only A-Z a-z 0-9 and -");
			return -1;
		}
	memcpy(nonce, n, nlen);
	nonce[nlen] = '\0';
	return 0;
}

static struct labcheck *
labcheck_find(const char *vm)
{
	struct labcheck	*lc;

	for (lc = labchecks; lc != NULL; lc = lc->next)
		if (strcmp(lc->vm, vm) == 0)
			return lc;
	return NULL;
}

static void
labcheck_close(struct labcheck *lc)
{
	if (lc->fd == -1)
		return;
	loop_del_fd(labd->loop, lc->fd);
	close(lc->fd);
	lc->fd = -1;
	lc->inlen = 0;
	lc->skipping = 0;
	lc->outlen = 0;
}

/* As much of the answer as the socket takes; the rest when it can. */
static void
labcheck_flush(struct labcheck *lc)
{
	ssize_t	n;

	while (lc->fd != -1 && lc->outlen > 0) {
		n = write(lc->fd, lc->out, lc->outlen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			loop_mod_fd(labd->loop, lc->fd, EPOLLIN | EPOLLOUT);
			return;
		}
		if (n <= 0) {
			log_warn("%s: lab-check port", lc->vm);
			labcheck_close(lc);
			return;
		}
		memmove(lc->out, lc->out + n, lc->outlen - (size_t)n);
		lc->outlen -= (size_t)n;
	}
	if (lc->fd != -1)
		loop_mod_fd(labd->loop, lc->fd, EPOLLIN);
}

static void
labcheck_say(struct labcheck *lc, const char *fmt, ...) PRINTFLIKE(2, 3);

static void
labcheck_say(struct labcheck *lc, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	size_t	 n;
	int	 len;

	if (lc->fd == -1)
		return;
	va_start(ap, fmt);
	len = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (len < 0)
		fatal("vasprintf");
	n = (size_t)len;
	if (lc->outlen + n > LABCHECK_OUT_MAX)
		n = LABCHECK_OUT_MAX - lc->outlen;
	if (lc->outlen + n > lc->outcap) {
		lc->outcap = lc->outlen + n + 1024;
		lc->out = xrealloc(lc->out, lc->outcap);
	}
	memcpy(lc->out + lc->outlen, s, n);
	lc->outlen += n;
	free(s);
	labcheck_flush(lc);
}

/* msg as a line the student's terminal may show: printable ASCII. */
static void
labcheck_refuse(struct labcheck *lc, const char *nonce, const char *msg)
{
	char	safe[LABD_MSGLEN];
	size_t	i;

	for (i = 0; msg[i] != '\0' && i + 1 < sizeof(safe); i++)
		safe[i] = (unsigned char)msg[i] >= 0x20 &&
		    (unsigned char)msg[i] < 0x7f ? msg[i] : '?';
	safe[i] = '\0';
	labcheck_say(lc, "labd-check-begin %s\nlab-check: %s\n"
	    "labd-check-end %s 2\n", nonce, safe, nonce);
}

/* The run is over: the student's text, an event, the next run allowed later. */
static void
labcheck_done(void *arg, const char *code, const char *msg, json_t *result)
{
	struct labcheck	*lc = arg;
	const char	*student;
	char		*text;
	int		 all = 0;

	lc->running = 0;
	lc->last_end = time(NULL);
	if (code != NULL) {
		db_event(0, "gateway.check", lc->vm, "lab-check in the guest:"
		    " failed: %s", msg);
		labcheck_refuse(lc, lc->nonce, msg);
		return;
	}
	text = gw_check_text(result, &all);
	student = json_string_value(json_object_get(json_array_get(
	    json_object_get(result, "rows"), 0), "student"));
	db_event(0, "gateway.check", lc->vm, "%s by lab-check in the guest: %s",
	    student ? student : "?", all ? "all goals met" :
	    "not all goals met");
	events_fire("gateway.check", vm_find(lc->vm), json_pack("{s:s,s:s,"
	    "s:s,s:b}", "vm", lc->vm, "student", student ? student : "",
	    "from", "lab-check", "all_met", all));
	json_decref(result);
	labcheck_say(lc, "labd-check-begin %s\n%slabd-check-end %s %d\n",
	    lc->nonce, text, lc->nonce, all ? 0 : 1);
	free(text);
}

/* A bad line: told, and logged by its length alone, now and then. */
static void
labcheck_bad(struct labcheck *lc, size_t len, const char *why)
{
	time_t	now = time(NULL);

	/* A guest that writes and never reads fills half the buffer at most. */
	if (lc->outlen < LABCHECK_OUT_MAX / 2)
		labcheck_say(lc, "labd-check-error %s\n", why);
	if (now - lc->warned < LABCHECK_WARN_S)
		return;
	lc->warned = now;
	log_warnx("%s: lab-check port: a bad request of %zu bytes ignored"
	    " (more are not logged for %d s)", lc->vm, len, LABCHECK_WARN_S);
}

static void
labcheck_request(struct labcheck *lc, const char *line, size_t len)
{
	struct vm	*vm;
	char		 nonce[LABCHECK_NONCE_MAX], err[LABD_MSGLEN];
	time_t		 now = time(NULL), at;

	if (labcheck_parse(line, len, nonce, sizeof(nonce), err,
	    sizeof(err)) == -1) {
		labcheck_bad(lc, len, err);
		return;
	}
	if (lc->running) {
		labcheck_refuse(lc, nonce, "a check is running in this machine"
		    " already; wait for its end and try again");
		return;
	}
	if (now < (at = lc->last_end + LABCHECK_INTERVAL_S)) {
		snprintf(err, sizeof(err), "the last check ended %lld s ago;"
		    " try again in %lld s", (long long)(now - lc->last_end),
		    (long long)(at - now));
		labcheck_refuse(lc, nonce, err);
		return;
	}
	if ((vm = vm_find(lc->vm)) == NULL) {
		labcheck_refuse(lc, nonce, "this machine no longer exists");
		return;
	}
	log_info("%s: lab-check in the guest", vm->name);
	/* Running first: the run may end before check_vm_stored returns. */
	lc->running = 1;
	snprintf(lc->nonce, sizeof(lc->nonce), "%s", nonce);
	if (check_vm_stored(vm, (struct done){ labcheck_done, lc }, err,
	    sizeof(err)) != NULL) {
		lc->running = 0;
		db_event(0, "gateway.check", lc->vm, "lab-check in the guest:"
		    " refused: %s", err);
		labcheck_refuse(lc, nonce, err);
	}
}

/* Bytes from the guest, cut into lines; a line too long is dropped whole. */
static void
labcheck_input(struct labcheck *lc, const char *buf, size_t n)
{
	const char	*nl;
	size_t		 k;

	while (n > 0 && lc->fd != -1) {
		nl = memchr(buf, '\n', n);
		k = nl != NULL ? (size_t)(nl - buf) : n;
		if (!lc->skipping && lc->inlen + k < sizeof(lc->in)) {
			memcpy(lc->in + lc->inlen, buf, k);
			lc->inlen += k;
		} else if (!lc->skipping) {
			lc->skipping = 1;
			labcheck_bad(lc, lc->inlen + k, "request too long");
		}
		if (nl == NULL)
			return;
		if (!lc->skipping)
			labcheck_request(lc, lc->in, lc->inlen);
		lc->inlen = 0;
		lc->skipping = 0;
		buf += k + 1;
		n -= k + 1;
	}
}

static void
labcheck_io(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct labcheck	*lc = arg;
	char		 buf[512];
	ssize_t		 n;

	if (events & EPOLLOUT)
		labcheck_flush(lc);
	if (lc->fd == -1 || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	n = read(fd, buf, sizeof(buf));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* QEMU is gone or restarting: the tick connects again. */
		labcheck_close(lc);
		return;
	}
	labcheck_input(lc, buf, (size_t)n);
}

/* Connect to vm's port; quiet when it has none (a QEMU of an older labd). */
static void
labcheck_connect(struct labcheck *lc)
{
	int	fd;

	if ((fd = vmport_connect(lc->vm, VMM_CHECK_SOCK)) == -1)
		return;
	if (loop_add_fd(labd->loop, fd, EPOLLIN, labcheck_io, lc) == -1) {
		close(fd);
		return;
	}
	lc->fd = fd;
	log_debug("%s: lab-check port connected", lc->vm);
}

/* Ports for the VMs whose QEMU runs; entries of VMs gone, freed. */
static int
labcheck_tick(struct loop *l, void *arg)
{
	struct labcheck	**lp, *lc;
	struct vm	 *vm;

	for (vm = vm_list(); vm != NULL; vm = vm->next) {
		if (vm->state != VM_BOOTING && vm->state != VM_READY)
			continue;
		if ((lc = labcheck_find(vm->name)) == NULL) {
			lc = xcalloc(1, sizeof(*lc));
			snprintf(lc->vm, sizeof(lc->vm), "%s", vm->name);
			lc->fd = -1;
			lc->next = labchecks;
			labchecks = lc;
		}
		if (lc->fd == -1)
			labcheck_connect(lc);
	}
	for (lp = &labchecks; (lc = *lp) != NULL;) {
		if (vm_find(lc->vm) != NULL || lc->running) {
			lp = &lc->next;
			continue;
		}
		labcheck_close(lc);
		*lp = lc->next;
		free(lc->out);
		free(lc);
	}
	return LABCHECK_TICK_MS;
}

void
labcheck_init(void)
{
	loop_add_timer(labd->loop, LABCHECK_TICK_MS, labcheck_tick, NULL);
}
