/* SPDX-License-Identifier: ISC */
/*
 * link.c - labtui's two connections to labd, through proto/client.c.
 *
 *   ev   subscribed to events; also carries status, vm.list (every
 *        TUI_POLL_S) and vm.snapshots.  One connection for the events and
 *        the list keeps them in order: a list is never older than an
 *        event already applied.
 *   act  the actions on VMs, pipelined: labd answers each when its VM is
 *        done, in any order, so a bulk reset of 30 VMs is 30 requests
 *        sent at once and 30 replies matched by id (action.c).
 *
 * Nothing here blocks the screen: requests are sent with client_send()
 * and the replies read when poll() says so.  client_read() blocks until a
 * whole line has come; we make the socket non-blocking while we drain it,
 * so that it returns NULL with EAGAIN instead, and keeps the partial line
 * for the next time.
 *
 * A lost connection (labd restarted, killed) is retried every
 * TUI_RETRY_S; the header says so meanwhile, and the actions in flight
 * are reported failed, for labd may or may not have done them.
 *
 * --replay FILE reads vm objects, a status and events from a JSON-lines
 * file instead (a test and bench aid: see labtui(1)).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/client.h"
#include "proto/proto.h"
#include "tui/labtui.h"

#define LINK_MAXPEND	64

enum req_kind { REQ_SUBSCRIBE, REQ_STATUS, REQ_LIST, REQ_SNAPS_DETAIL,
	REQ_SNAPS_PICK, REQ_VNC, REQ_CHECKS };

struct pending {
	long		 id;
	enum req_kind	 kind;
	char		 vm[TUI_NAMELEN];
	double		 at;		/* when it was sent */
};

/* An unanswered request older than this no longer holds back another. */
#define LINK_STALE_S	30.0

struct link {
	char			 path[PATH_MAX];
	struct client_conn	*ev;
	struct client_conn	*act;
	struct pending		 pend[LINK_MAXPEND];
	size_t			 npend;
	double			 retry_at;
	double			 poll_at;
	int			 ever;		/* was connected once */
	char			 refusal[TUI_ERRLEN];	/* labd said why */
};

static void	vnc_shown(struct tui *, json_t *);

static int
link_request(struct tui *t, enum req_kind kind, const char *cmd, json_t *args,
    const char *vm)
{
	struct link	*l = t->link;
	struct pending	*p;
	char		 err[TUI_ERRLEN];
	double		 now = now_s();
	long		 id;
	size_t		 i;

	if (l->ev == NULL)
		return -1;
	for (i = 0; i < l->npend; ) {
		if (now - l->pend[i].at > LINK_STALE_S) {
			l->pend[i] = l->pend[--l->npend];
			continue;
		}
		/* one list, one status at a time: a slow labd is not flooded */
		if (l->pend[i].kind == kind && (kind == REQ_LIST ||
		    kind == REQ_STATUS || strcmp(l->pend[i].vm, vm ? vm : "")
		    == 0))
			return 0;
		i++;
	}
	if (l->npend == LINK_MAXPEND)
		return -1;
	if ((id = client_send(l->ev, cmd, args, err, sizeof(err))) == -1)
		return -1;	/* poll() will tell us the connection died */
	p = &l->pend[l->npend++];
	p->id = id;
	p->kind = kind;
	p->at = now;
	snprintf(p->vm, sizeof(p->vm), "%s", vm ? vm : "");
	return 0;
}

static void
link_poll_now(struct tui *t, double now)
{
	link_request(t, REQ_STATUS, "status", NULL, NULL);
	link_request(t, REQ_LIST, "vm.list", NULL, NULL);
	t->link->poll_at = now + TUI_POLL_S;
}

static int
link_connect(struct tui *t, double now)
{
	struct link	*l = t->link;
	char		 err[TUI_ERRLEN];

	l->retry_at = now + TUI_RETRY_S;
	if ((l->ev = client_open(l->path, err, sizeof(err))) == NULL ||
	    (l->act = client_open(l->path, err, sizeof(err))) == NULL) {
		client_close(l->ev);
		l->ev = NULL;
		snprintf(t->conn_err, sizeof(t->conn_err), "%s", err);
		if (*l->refusal) {
			size_t	off = strlen(t->conn_err);

			snprintf(t->conn_err + off, sizeof(t->conn_err) - off,
			    "; %s", l->refusal);
		}
		t->flags |= TF_DRAW;
		return -1;
	}
	l->npend = 0;
	l->refusal[0] = '\0';
	t->connected = 1;
	t->conn_err[0] = '\0';
	if (l->ever)
		tui_message(t, 0, "labd: connected again");
	l->ever = 1;
	link_request(t, REQ_SUBSCRIBE, "events.subscribe", NULL, NULL);
	link_poll_now(t, now);
	t->flags |= TF_DRAW;
	return 0;
}

int
link_init(struct tui *t, const char *socket_path)
{
	t->socket_path = socket_path;
	t->link = tui_xcalloc(1, sizeof(*t->link));
	snprintf(t->link->path, sizeof(t->link->path), "%s", socket_path);
	return link_connect(t, now_s());
}

static void
link_close(struct link *l)
{
	client_close(l->ev);
	client_close(l->act);
	l->ev = l->act = NULL;
	l->npend = 0;
}

static void
link_lost(struct tui *t, const char *why)
{
	struct link	*l = t->link;

	link_close(l);
	t->connected = 0;
	snprintf(t->conn_err, sizeof(t->conn_err), "%s",
	    *l->refusal ? l->refusal : why);
	l->retry_at = now_s() + TUI_RETRY_S;
	action_lost(t, "the connection to labd was lost: it may or may not"
	    " have been done");
	if (t->prompt.kind == P_PICK && t->prompt.loading)
		prompt_choices(t, t->prompt.vm, NULL);
	t->flags |= TF_DRAW;
}

void
link_free(struct tui *t)
{
	if (t->link == NULL)
		return;
	link_close(t->link);
	free(t->link);
	t->link = NULL;
}

static const char *
reply_error(json_t *msg)
{
	const char	*m = jstr(json_object_get(msg, "error"), "message");

	return *m ? m : "labd refused the request";
}

static void
link_ev_msg(struct tui *t, json_t *msg)
{
	struct link	*l = t->link;
	struct pending	 p;
	json_t		*rid, *result;
	size_t		 i;
	int		 ok;

	if (json_object_get(msg, "event") != NULL) {
		model_event(t, jstr(msg, "event"), json_object_get(msg,
		    "data"));
		return;
	}
	rid = json_object_get(msg, "id");
	ok = json_is_true(json_object_get(msg, "ok"));
	if (!json_is_integer(rid)) {
		/* id null: labd refused us outright (denied), then hangs up. */
		snprintf(l->refusal, sizeof(l->refusal), "%s",
		    reply_error(msg));
		return;
	}
	for (i = 0; i < l->npend; i++)
		if (l->pend[i].id == json_integer_value(rid))
			break;
	if (i == l->npend)
		return;
	p = l->pend[i];
	l->pend[i] = l->pend[--l->npend];
	result = json_object_get(msg, "result");
	switch (p.kind) {
	case REQ_SUBSCRIBE:
		if (!ok)
			tui_message(t, 1, "events.subscribe: %s",
			    reply_error(msg));
		break;
	case REQ_STATUS:
		if (ok) {
			json_decref(t->status);
			t->status = json_incref(result);
			t->status_at = now_s();
		}
		break;
	case REQ_LIST:
		if (ok)
			model_replace(t, result);
		else
			tui_message(t, 1, "vm.list: %s", reply_error(msg));
		break;
	case REQ_SNAPS_DETAIL:
		if (ok && strcmp(t->detail_vm, p.vm) == 0) {
			json_decref(t->detail_snaps);
			t->detail_snaps = json_incref(result);
		}
		break;
	case REQ_CHECKS:
		if (ok && strcmp(t->detail_vm, p.vm) == 0) {
			json_decref(t->detail_checks);
			t->detail_checks = json_incref(result);
		}
		break;
	case REQ_SNAPS_PICK:
		if (!ok)
			tui_message(t, 1, "vm.snapshots %s: %s", p.vm,
			    reply_error(msg));
		prompt_choices(t, p.vm, ok ? result : NULL);
		break;
	case REQ_VNC:
		if (!ok)
			tui_message(t, 1, "vnc %s: %s", p.vm, reply_error(msg));
		else
			vnc_shown(t, result);
		break;
	}
	t->flags |= TF_DRAW;
}

/*
 * Every whole line that has come; 0, or -1 when the connection is gone
 * (err says why).  The socket is non-blocking only meanwhile, so that
 * client_send() still blocks (a request is never half sent).
 */
static int
link_drain(struct tui *t, struct client_conn *c, int is_ev, char *err,
    size_t errlen)
{
	int	 fd = client_fd(c), fl = fcntl(fd, F_GETFL), rc = 0;
	json_t	*msg;

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	for (;;) {
		errno = 0;
		if ((msg = client_read(c, err, errlen)) == NULL) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (strncmp(err, "labd sent a line that is not JSON",
			    33) == 0)
				continue;	/* skipped, as labctl would */
			rc = -1;
			break;
		}
		if (is_ev)
			link_ev_msg(t, msg);
		else
			action_reply(t, msg);
		json_decref(msg);
	}
	fcntl(fd, F_SETFL, fl);
	return rc;
}

int
link_pollfds(struct tui *t, struct pollfd *pfd, int max)
{
	struct link	*l = t->link;

	if (l == NULL || l->ev == NULL || max < 2)
		return 0;
	pfd[0].fd = client_fd(l->ev);
	pfd[1].fd = client_fd(l->act);
	pfd[0].events = pfd[1].events = POLLIN;
	pfd[0].revents = pfd[1].revents = 0;
	return 2;
}

void
link_service(struct tui *t, const struct pollfd *pfd, int n)
{
	struct link	*l = t->link;
	char		 err[TUI_ERRLEN];
	int		 i;

	for (i = 0; i < n && l->ev != NULL; i++) {
		if (pfd[i].revents == 0)
			continue;
		if (pfd[i].fd == client_fd(l->ev)) {
			if (link_drain(t, l->ev, 1, err, sizeof(err)) == -1)
				link_lost(t, err);
		} else if (pfd[i].fd == client_fd(l->act)) {
			if (link_drain(t, l->act, 0, err, sizeof(err)) == -1)
				link_lost(t, err);
		}
	}
}

/* Reconnect, or poll; the time of the next thing to do. */
double
link_tick(struct tui *t, double now)
{
	struct link	*l = t->link;

	if (l == NULL)
		return now + TUI_POLL_S;
	if (l->ev == NULL) {
		if (now >= l->retry_at)
			link_connect(t, now);
		if (l->ev == NULL)
			return l->retry_at;
	}
	if (now >= l->poll_at)
		link_poll_now(t, now);
	return l->poll_at;
}

long
link_act_send(struct tui *t, const char *cmd, json_t *args, char *err,
    size_t errlen)
{
	struct link	*l = t->link;

	if (t->replay != NULL) {
		snprintf(err, errlen, "replaying %s: there is no labd to ask",
		    t->replay);
		return -1;
	}
	if (l == NULL || l->act == NULL) {
		snprintf(err, errlen, "not connected to labd");
		return -1;
	}
	return client_send(l->act, cmd, args, err, errlen);
}

/* A VM's snapshots, for the detail view or for the R picker. */
void
link_snapshots(struct tui *t, const char *vm, int for_pick)
{
	json_t	*args;
	int	 rc;

	if (t->link == NULL || t->link->ev == NULL) {
		if (for_pick)
			prompt_choices(t, vm, NULL);
		return;
	}
	if (!for_pick)
		t->detail_snaps_at = now_s();
	args = json_pack("{s:s}", "vm", vm);
	rc = link_request(t, for_pick ? REQ_SNAPS_PICK : REQ_SNAPS_DETAIL,
	    "vm.snapshots", args, vm);
	json_decref(args);
	if (rc == -1 && for_pick)
		prompt_choices(t, vm, NULL);
}

/* A VM's last check, for the detail view. */
void
link_checks(struct tui *t, const char *vm)
{
	json_t	*args;

	if (t->link == NULL || t->link->ev == NULL)
		return;
	args = json_pack("{s:s}", "vm", vm);
	link_request(t, REQ_CHECKS, "vm.checks", args, vm);
	json_decref(args);
}

/*
 * The terminal's clipboard gets text through OSC 52, which xterm, tmux
 * (set-clipboard on), kitty, foot and most others understand; the
 * sequence goes around curses, which would print it.
 */
static void
clipboard_set(const char *text)
{
	static const char	 b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char	*in = (const unsigned char *)text;
	size_t			 n = strlen(text), i;
	unsigned long		 v;
	char			 out[4];

	fputs("\033]52;c;", stdout);
	for (i = 0; i < n; i += 3) {
		v = (unsigned long)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned long)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[0] = b64[(v >> 18) & 63];
		out[1] = b64[(v >> 12) & 63];
		out[2] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		out[3] = i + 2 < n ? b64[v & 63] : '=';
		fwrite(out, 1, 4, stdout);
	}
	fputs("\a", stdout);
	fflush(stdout);
}

/* vm.vnc's answer: where to point a viewer, the student's password. */
static void
vnc_shown(struct tui *t, json_t *o)
{
	const char	*pw = jstr(o, "password");

	if (*pw == '\0') {
		tui_message(t, 0, "%s: VNC %s:%lld, the student's password is"
		    " on the access sheet", jstr(o, "vm"), jstr(o, "host"),
		    jint(o, "port"));
		return;
	}
	clipboard_set(pw);
	tui_message(t, 0, "%s: VNC %s:%lld password %s (copied to the"
	    " clipboard)", jstr(o, "vm"), jstr(o, "host"), jint(o, "port"),
	    pw);
}

/* v: the VM's VNC address and its student's password. */
void
link_vnc(struct tui *t, const char *vm)
{
	json_t	*args;

	if (t->link == NULL || t->link->ev == NULL) {
		tui_message(t, 1, "not connected to labd");
		return;
	}
	args = json_pack("{s:s}", "vm", vm);
	if (link_request(t, REQ_VNC, "vm.vnc", args, vm) == -1)
		tui_message(t, 1, "vnc %s: cannot ask labd", vm);
	json_decref(args);
}

/*
 * Where the VMs' sockets are: --run-dir, else status's run_dir (should
 * labd ever say), else the folder of its control socket (labd.sock lives
 * in run_dir unless labd.ini names another socket).
 */
const char *
link_run_dir(struct tui *t, char *buf, size_t len)
{
	char	tmp[PATH_MAX];

	if (t->run_dir_opt != NULL)
		snprintf(buf, len, "%s", t->run_dir_opt);
	else if (*jstr(t->status, "run_dir") != '\0')
		snprintf(buf, len, "%s", jstr(t->status, "run_dir"));
	else {
		snprintf(tmp, sizeof(tmp), "%s", *jstr(t->status, "socket") ?
		    jstr(t->status, "socket") : t->socket_path ?
		    t->socket_path : LABD_DEFAULT_SOCKET);
		snprintf(buf, len, "%s", dirname(tmp));
	}
	return buf;
}

/*
 * The replay file: JSON lines, '#' comments.  A vm object (it has a
 * "name") is a row as if from vm.list; {"status":{...}} is the header's;
 * {"event":...,"data":...} lines are kept in order for main.c to apply.
 */
int
link_replay_load(struct tui *t, const char *path, char *err, size_t errlen)
{
	FILE		*f;
	char		*line = NULL;
	size_t		 cap = 0;
	ssize_t		 n;
	json_error_t	 jerr;
	json_t		*o;
	int		 lineno = 0, rc = -1;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		return -1;
	}
	t->replay_events = json_array();
	while ((n = getline(&line, &cap, f)) != -1) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		if ((o = json_loads(line, 0, &jerr)) == NULL) {
			snprintf(err, errlen, "%s line %d: %s", path, lineno,
			    jerr.text);
			goto fail;
		}
		if (json_object_get(o, "event") != NULL)
			json_array_append(t->replay_events, o);
		else if (json_is_object(json_object_get(o, "status"))) {
			json_decref(t->status);
			t->status = json_incref(json_object_get(o, "status"));
		} else if (model_update(t, o) == NULL) {
			json_decref(o);
			snprintf(err, errlen, "%s line %d: not a vm object, an"
			    " event or a status", path, lineno);
			goto fail;
		}
		json_decref(o);
	}
	t->connected = 1;
	t->status_at = now_s();
	rc = 0;
fail:
	free(line);
	fclose(f);
	return rc;
}
