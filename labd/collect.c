/* SPDX-License-Identifier: ISC */
/*
 * collect.c - vm.collect: the files of a ready VM as a tar stream, handed
 * to the client to unpack.
 *
 * labd runs as its own unprivileged user (with root, if any, in priv.c's
 * helper) and the folder the files go to is named by the client.  Rather
 * than write a client's path, labd writes nothing at all: the reply
 * carries one end of a socketpair (SCM_RIGHTS, as vm.console does) and a
 * worker pours the guest's "tar -cf -" into the other end as it comes off
 * the SSH channel, in proto.h's frames.  labctl, running as the
 * instructor, unpacks it under the instructor's own rights and its own
 * checks.  Nothing is kept in the guest (the tar goes to stdout) nor in
 * labd (a frame at a time), and a reader that stops reading slows the
 * guest's tar rather than filling labd's memory.
 *
 * A stopped VM is read offline instead (offline.c: a collector
 * appliance boots on its disk, read-only), into the same frames; the
 * reply says "offline": true.  A suspended one is the client's to resume.
 *
 * The stream is capped (max_bytes, default 1 GiB): past it the command
 * is cut and the end frame says so.  A reader gone, or still for
 * COLLECT_STALL_S, ends the job so that a worker is never held.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labd/vmjob.h"
#include "proto/client.h"

#define COLLECT_TIMEOUT_DEFAULT	600	/* seconds, the whole copy */
#define COLLECT_TIMEOUT_MAX	(6 * 3600)
#define COLLECT_STALL_S		120	/* a reader that stopped reading */
#define COLLECT_STDERR_MAX	4096
/* dropbear cuts a command line at 9000 bytes; the rest is ours. */
#define COLLECT_PATHS_TOTAL	7000

struct collect_job {
	int		 fd;		/* our end of the socketpair */
	long long	 max;		/* bytes of tar at most */
	long long	 sent;
	int		 cut;		/* max reached */
	int		 gone;		/* the reader went away */
	char		 stderr_text[COLLECT_STDERR_MAX];
};

/* One frame, all of it, or -1 (the reader is gone or stalled). */
static int
collect_frame(int fd, char type, const void *buf, size_t len)
{
	unsigned char	 hdr[5];
	const char	*p;
	size_t		 left;
	ssize_t		 n;
	int		 part;

	hdr[0] = (unsigned char)type;
	hdr[1] = (unsigned char)(len >> 24);
	hdr[2] = (unsigned char)(len >> 16);
	hdr[3] = (unsigned char)(len >> 8);
	hdr[4] = (unsigned char)len;
	for (part = 0; part < 2; part++) {
		p = part == 0 ? (const char *)hdr : buf;
		left = part == 0 ? sizeof(hdr) : len;
		while (left > 0) {
			n = send(fd, p, left, MSG_NOSIGNAL);
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0)
				return -1;
			p += n;
			left -= (size_t)n;
		}
	}
	return 0;
}

/* The guest's stdout, in frames; past the cap, the end. */
static int
collect_sink(void *arg, const void *buf, size_t len)
{
	struct collect_job	*cj = arg;

	if (cj->sent + (long long)len > cj->max) {
		cj->cut = 1;
		return -1;
	}
	if (collect_frame(cj->fd, LABD_COLLECT_DATA, buf, len) == -1) {
		cj->gone = 1;
		return -1;
	}
	cj->sent += (long long)len;
	return 0;
}

/* The worker's part: the copy, then the end frame. */
static int
collect_run(struct vmjob *j)
{
	struct collect_job	*cj = j->arg;
	json_t			*end;
	char			*text;
	int			 rc;

	j->status = -1;
	if (j->kind == VMJOB_BACKUP)	/* stopped: offline.c reads it */
		rc = offline_stream(j, collect_sink, cj, cj->stderr_text,
		    sizeof(cj->stderr_text), &j->status);
	else
		rc = vmm_ssh_exec_stream(j->ip, j->port, "root", j->keyfile,
		    j->cmd, j->timeout_ms, collect_sink, cj, cj->stderr_text,
		    sizeof(cj->stderr_text), &j->status, j->err,
		    sizeof(j->err));
	utf8_scrub(cj->stderr_text);
	if (cj->cut)
		errf(j->err, sizeof(j->err), "over the cap of %lld bytes"
		    " (labctl collect --max-size)", cj->max);
	else if (cj->gone)
		errf(j->err, sizeof(j->err), "the receiver stopped reading");
	end = json_pack("{s:i,s:I,s:s,s:s,s:b}", "status", j->status,
	    "bytes", (json_int_t)cj->sent, "error", rc == -1 ? j->err : "",
	    "stderr", cj->stderr_text, "cut", cj->cut);
	text = json_dumps(end, JSON_COMPACT);
	json_decref(end);
	if (!cj->gone && text != NULL)
		(void)collect_frame(cj->fd, LABD_COLLECT_END, text,
		    strlen(text));
	free(text);
	/* The reader sees the end of the stream now, not at the loop's turn. */
	close(cj->fd);
	cj->fd = -1;
	return rc;
}

static void
collect_after(struct vmjob *j, struct vm *vm)
{
	struct collect_job	*cj = j->arg;

	db_event(j->uid, "vm.collect.done", j->def.name, "%lld bytes%s%s",
	    cj->sent, j->rc == -1 ? ": " : "", j->rc == -1 ? j->err : "");
	if (cj->fd != -1)
		close(cj->fd);
	free(cj);
}

static const struct vmjob_hooks collect_hooks = {
	.after = collect_after,
	.run = collect_run,
};

/*
 * The guest's command: each path's globs expanded by its shell, those
 * that name nothing said on stderr, and the rest in one tar relative to
 * "/".  "./" before each keeps a name that starts with "-" from being an
 * option; status 3 when nothing at all was there.
 */
char *
collect_command(json_t *paths)
{
	json_t	*p;
	size_t	 i, len = 0;
	char	*cmd, *at;
	static const char head[] = "set --; for f in";
	static const char tail[] = "; do if [ -e \"$f\" ] || [ -h \"$f\" ];"
	    " then set -- \"$@\" \"./${f#/}\"; else echo \"no such file:"
	    " $f\" >&2; fi; done; [ $# -gt 0 ] || exit 3;"
	    " exec tar -C / -cf - \"$@\"";

	json_array_foreach(paths, i, p)
		len += json_string_length(p) + 1;
	cmd = xmalloc(sizeof(head) + len + sizeof(tail));
	at = cmd + snprintf(cmd, sizeof(head), "%s", head);
	json_array_foreach(paths, i, p)
		at += sprintf(at, " %s", json_string_value(p));
	memcpy(at, tail, sizeof(tail));
	return cmd;
}

void
cmd_vm_collect(const struct req *r, json_t *args)
{
	struct vm		*vm = vm_find(arg_str(args, "vm"));
	json_t			*paths = json_object_get(args, "paths"), *p;
	json_t			*t = json_object_get(args, "timeout");
	json_t			*m = json_object_get(args, "max_bytes");
	struct collect_job	*cj;
	struct vmjob		*j;
	struct timeval		 tv = { COLLECT_STALL_S, 0 };
	const char		*code;
	char			 err[LABD_ERRLEN];
	json_int_t		 timeout = COLLECT_TIMEOUT_DEFAULT;
	json_int_t		 max = LABD_COLLECT_MAX_DEFAULT;
	size_t			 i, total = 0;
	int			 sv[2], offline;

	if (vm == NULL) {
		reply_err(r, LABD_E_NOT_FOUND, "vm \"%.80s\" not found"
		    " (labctl list shows them)", arg_str(args, "vm"));
		return;
	}
	if (json_array_size(paths) == 0 ||
	    json_array_size(paths) > LABD_COLLECT_PATHS_MAX) {
		reply_err(r, LABD_E_INVALID, "vm.collect: 1 to %d paths",
		    LABD_COLLECT_PATHS_MAX);
		return;
	}
	json_array_foreach(paths, i, p) {
		if (!json_is_string(p) || json_string_length(p) !=
		    strlen(json_string_value(p))) {
			reply_err(r, LABD_E_INVALID, "vm.collect: path %zu is"
			    " not a string, or holds a NUL", i + 1);
			return;
		}
		if (collect_path_check(json_string_value(p), err,
		    sizeof(err)) == -1) {
			reply_err(r, LABD_E_INVALID, "vm.collect: %s", err);
			return;
		}
		total += json_string_length(p) + 1;
	}
	if (total > COLLECT_PATHS_TOTAL) {
		reply_err(r, LABD_E_INVALID, "vm.collect: the paths are %zu"
		    " bytes together; at most %d (name their folders)", total,
		    COLLECT_PATHS_TOTAL);
		return;
	}
	if (t != NULL && ((timeout = json_integer_value(t)) < 1 ||
	    timeout > COLLECT_TIMEOUT_MAX)) {
		reply_err(r, LABD_E_INVALID, "vm.collect: \"timeout\" is whole"
		    " seconds, 1 to %d", COLLECT_TIMEOUT_MAX);
		return;
	}
	if (m != NULL && (max = json_integer_value(m)) < 1) {
		reply_err(r, LABD_E_INVALID, "vm.collect: \"max_bytes\" is at"
		    " least 1");
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		reply_err(r, LABD_E_INTERNAL, "vm.collect: socketpair: %s",
		    strerror(errno));
		return;
	}
	/* A reader that holds the socket and never reads frees the worker. */
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	(void)shutdown(sv[1], SHUT_WR);
	cj = xcalloc(1, sizeof(*cj));
	cj->fd = sv[0];
	cj->max = max;
	j = xcalloc(1, sizeof(*j));
	j->timeout_ms = (int)timeout * 1000;
	j->uid = r->uid;
	j->hooks = &collect_hooks;
	j->arg = cj;
	if ((offline = vm->state == VM_STOPPED))
		code = offline_submit(vm, j, paths, err, sizeof(err));
	else {
		j->cmd = collect_command(paths);
		code = vm_op_exec(vm, j, err, sizeof(err));
	}
	if (code != NULL) {
		reply_err(r, code, "%s", err);
		close(sv[0]);
		close(sv[1]);
		free(j->cmd);
		free(j);
		free(cj);
		return;
	}
	/* Not passed: the worker finds nobody to write to, and ends. */
	if (reply_ok_fd(r, json_pack("{s:s,s:s,s:I,s:b}", "vm", vm->name,
	    "student", vm->student, "max_bytes", max, "offline", offline),
	    sv[1]) == -1)
		reply_err(r, LABD_E_BUSY, "%s: the stream could not be passed"
		    " on: read labd's other replies first", vm->name);
	else
		db_event(r->uid, "vm.collect", vm->name, "%zu paths%s",
		    json_array_size(paths), offline ? ", offline" : "");
	close(sv[1]);
}
