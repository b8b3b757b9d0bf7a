/* SPDX-License-Identifier: ISC */
/*
 * ssh.c - running one command on a guest over SSH, with libssh.
 *
 * labd talks only to its own guests, through loopback or its own port
 * forwards, with its own key: no user or system ssh configuration is read
 * (labd's environment must not change whom it talks to or how) and no
 * known_hosts file is checked or written (every reset gives a guest a
 * host key it never had, and nothing in between can be a stranger).
 *
 * stdout and stderr are taken by a channel callback as they arrive, so
 * that out holds them in the order the server sent them and neither
 * stream can stall the other; what does not fit in out is read and
 * dropped, as a command blocked on a full window would never exit.  The
 * command's stdin is closed at once: labctl exec has nothing to feed it,
 * and a command that reads it ("cat") must not wait for the timeout.  A
 * command killed by a signal reports 128 + its number, as a shell does;
 * a server that sends no exit status at all leaves -1.
 *
 * A collect's tar stream is data, not words: vmm_ssh_exec_stream() hands
 * stdout to a sink as it comes (the flow of the SSH window then follows
 * the receiver's pace) and keeps only stderr in out.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include "vmm/vmm.h"
#include "vmm/vmm_int.h"

/* The longest command: labctl exec's, and labd's own guest commands. */
#define VMM_SSH_CMD_MAX	(64 * 1024)

/* Where the command's words go, and how it ended. */
struct ssh_run {
	char		*out;
	size_t		 outlen, used;
	int		 signo;		/* killed by this signal, 0 if not */
	vmm_ssh_sink_fn	 sink;		/* stdout, when not NULL */
	void		*sink_arg;
	int		 sink_failed;
};

/* RFC 4254 6.10 names signals without "SIG"; a shell reports 128 + n. */
static const struct {
	const char	*name;
	int		 signo;
} signals[] = {
	{ "ABRT", SIGABRT }, { "ALRM", SIGALRM }, { "FPE", SIGFPE },
	{ "HUP", SIGHUP }, { "ILL", SIGILL }, { "INT", SIGINT },
	{ "KILL", SIGKILL }, { "PIPE", SIGPIPE }, { "QUIT", SIGQUIT },
	{ "SEGV", SIGSEGV }, { "TERM", SIGTERM }, { "USR1", SIGUSR1 },
	{ "USR2", SIGUSR2 },
};

/* libssh wants whole seconds and microseconds; we count milliseconds. */
static int
set_timeout(ssh_session s, long long ms)
{
	long	sec, usec;

	if (ms <= 0)
		ms = 1;
	sec = (long)(ms / 1000);
	usec = (long)(ms % 1000) * 1000;
	if (ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &sec) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_TIMEOUT_USEC, &usec) < 0)
		return -1;
	return 0;
}

ssh_session
vmm_ssh_connect(const char *ip, uint16_t port, const char *user,
    int timeout_ms, char *err, size_t errlen)
{
	ssh_session	s;
	int		iport = port, off = 0, verbosity = SSH_LOG_NOLOG;

	if ((s = ssh_new()) == NULL) {
		snprintf(err, errlen, "ssh %s:%u: cannot make a session", ip,
		    port);
		return NULL;
	}
	if (ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &off) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_HOST, ip) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_PORT, &iport) < 0 ||
	    (user != NULL && ssh_options_set(s, SSH_OPTIONS_USER, user) < 0) ||
	    set_timeout(s, timeout_ms) == -1 ||
	    ssh_options_set(s, SSH_OPTIONS_STRICTHOSTKEYCHECK, &off) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, "/dev/null") < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS,
	    "/dev/null") < 0) {
		snprintf(err, errlen, "ssh %s:%u: %s", ip, port,
		    ssh_get_error(s));
		goto fail;
	}
	if (ssh_connect(s) != SSH_OK) {
		if (ssh_get_serverbanner(s) == NULL)
			snprintf(err, errlen, "ssh %s:%u: no SSH server"
			    " answers (%s)", ip, port, ssh_get_error(s));
		else
			snprintf(err, errlen, "ssh %s:%u: key exchange with"
			    " %s failed: %s", ip, port,
			    ssh_get_serverbanner(s), ssh_get_error(s));
		goto fail;
	}
	return s;
fail:
	ssh_free(s);
	return NULL;
}

static int
on_data(ssh_session s, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *arg)
{
	struct ssh_run	*r = arg;
	size_t		 room, n;

	/* After a sink's refusal the rest is dropped: the end is near. */
	if (!is_stderr && r->sink != NULL) {
		if (!r->sink_failed && r->sink(r->sink_arg, data, len) == -1)
			r->sink_failed = 1;
		return (int)len;
	}
	if (r->outlen > 0) {
		room = r->outlen - 1 - r->used;
		n = len < room ? len : room;
		memcpy(r->out + r->used, data, n);
		r->used += n;
		r->out[r->used] = '\0';
	}
	return (int)len;	/* all of it taken, kept or not */
}

static void
on_exit_signal(ssh_session s, ssh_channel ch, const char *name, int core,
    const char *errmsg, const char *lang, void *arg)
{
	struct ssh_run	*r = arg;
	size_t		 i;

	r->signo = SIGKILL;	/* a name we do not know: killed anyway */
	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (name != NULL && strcmp(name, signals[i].name) == 0)
			r->signo = signals[i].signo;
}

/*
 * Wait for the end of the command run on ch: 1 when it ended (*status
 * filled), 0 when deadline came first, -1 when the connection broke.
 */
static int
run_wait(ssh_session s, ssh_channel ch, const struct ssh_run *run,
    long long deadline, int *status)
{
	long long	left;
	int		r;

	/* The callbacks take the output; this only waits for its end. */
	do {
		if (run->sink_failed)
			return -1;
		if ((left = deadline - vmm_now_ms()) <= 0)
			return 0;
		if ((r = ssh_channel_poll_timeout(ch, (int)left, 0)) ==
		    SSH_ERROR)
			return -1;
	} while (r != SSH_EOF);
	/* exit-status (or exit-signal) comes after the end of the output. */
	if ((left = deadline - vmm_now_ms()) <= 0 ||
	    set_timeout(s, left) == -1)
		return 0;
	if ((r = ssh_channel_get_exit_status(ch)) >= 0)
		*status = r;
	else if (run->signo != 0)
		*status = 128 + run->signo;
	else if (deadline - vmm_now_ms() <= 0)
		return 0;
	/* Else the server closed without a word on how it ended: -1. */
	return 1;
}

static int	ssh_exec(const char *, uint16_t, const char *, const char *,
		    vmm_ssh_cmd_fn, void *, const char *, size_t, int,
		    struct ssh_run *, int *, char *, size_t);

/* All of buf on ch's standard input; the session's timeout bounds it. */
static int
ssh_write_all(ssh_channel ch, const char *buf, size_t len)
{
	int	n;

	while (len > 0) {
		n = ssh_channel_write(ch, buf, len > 32768 ? 32768 :
		    (uint32_t)len);
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* vmm_ssh_exec()'s command, as it was given. */
static int
cmd_given(void *arg, char *cmd, size_t cmdlen)
{
	return (size_t)snprintf(cmd, cmdlen, "%s", (const char *)arg) >=
	    cmdlen ? -1 : 0;
}

int
vmm_ssh_exec(const char *ip, uint16_t port, const char *user,
    const char *keyfile, const char *cmd, int timeout_ms, char *out,
    size_t outlen, int *status, char *err, size_t errlen)
{
	return vmm_ssh_exec_fn(ip, port, user, keyfile, cmd_given,
	    (void *)cmd, timeout_ms, out, outlen, status, err, errlen);
}

int
vmm_ssh_exec_fn(const char *ip, uint16_t port, const char *user,
    const char *keyfile, vmm_ssh_cmd_fn mkcmd, void *arg, int timeout_ms,
    char *out, size_t outlen, int *status, char *err, size_t errlen)
{
	struct ssh_run	run = { out, outlen, 0, 0, NULL, NULL, 0 };

	return ssh_exec(ip, port, user, keyfile, mkcmd, arg, NULL, 0,
	    timeout_ms, &run, status, err, errlen);
}

int
vmm_ssh_exec_input(const char *ip, uint16_t port, const char *user,
    const char *keyfile, const char *cmd, const char *in, size_t inlen,
    int timeout_ms, char *out, size_t outlen, int *status, char *err,
    size_t errlen)
{
	struct ssh_run	run = { out, outlen, 0, 0, NULL, NULL, 0 };

	return ssh_exec(ip, port, user, keyfile, cmd_given, (void *)cmd, in,
	    inlen, timeout_ms, &run, status, err, errlen);
}

int
vmm_ssh_exec_stream(const char *ip, uint16_t port, const char *user,
    const char *keyfile, const char *cmd, int timeout_ms,
    vmm_ssh_sink_fn sink, void *arg, char *out, size_t outlen, int *status,
    char *err, size_t errlen)
{
	struct ssh_run	run = { out, outlen, 0, 0, sink, arg, 0 };

	return ssh_exec(ip, port, user, keyfile, cmd_given, (void *)cmd, NULL,
	    0, timeout_ms, &run, status, err, errlen);
}

/*
 * The one way a command runs: in (inlen bytes, may be NULL) is its
 * standard input, written before the end of input is sent.  A long
 * input goes this way rather than in the command line, which dropbear
 * cuts at 9000 bytes.
 */
static int
ssh_exec(const char *ip, uint16_t port, const char *user,
    const char *keyfile, vmm_ssh_cmd_fn mkcmd, void *arg, const char *in,
    size_t inlen, int timeout_ms, struct ssh_run *run, int *status,
    char *err, size_t errlen)
{
	struct ssh_channel_callbacks_struct	 cb = {
		.userdata = run,
		.channel_data_function = on_data,
		.channel_exit_signal_function = on_exit_signal,
	};
	ssh_session	 s = NULL;
	ssh_channel	 ch = NULL;
	ssh_key		 key = NULL;
	char		*cmd = NULL;
	long long	 deadline;
	int		 r, opened = 0, rc = -1;

	if (run->outlen > 0)
		run->out[0] = '\0';
	*status = -1;
	if (timeout_ms <= 0)
		timeout_ms = 1;
	deadline = vmm_now_ms() + timeout_ms;
	/* Before any traffic: a bad key is our mistake, not the guest's. */
	if ((r = ssh_pki_import_privkey_file(keyfile, NULL, NULL, NULL,
	    &key)) != SSH_OK) {
		snprintf(err, errlen, "cannot read the private key %s: %s",
		    keyfile, r == SSH_EOF ? "no such file or not readable" :
		    "not a private key, or protected by a passphrase");
		return -1;
	}
	if ((s = vmm_ssh_connect(ip, port, user, timeout_ms, err,
	    errlen)) == NULL)
		goto fail;
	if ((r = ssh_userauth_publickey(s, NULL, key)) != SSH_AUTH_SUCCESS) {
		snprintf(err, errlen, "cannot authenticate as %s on %s:%u with"
		    " %s: %s", user, ip, port, keyfile, r == SSH_AUTH_DENIED ?
		    "the server refused the key" : ssh_get_error(s));
		goto fail;
	}

	ssh_callbacks_init(&cb);
	if ((ch = ssh_channel_new(s)) == NULL ||
	    ssh_set_channel_callbacks(ch, &cb) != SSH_OK ||
	    ssh_channel_open_session(ch) != SSH_OK) {
		snprintf(err, errlen, "ssh %s@%s:%u: cannot open a session: %s",
		    user, ip, port, ssh_get_error(s));
		goto fail;
	}
	opened = 1;
	if ((cmd = malloc(VMM_SSH_CMD_MAX)) == NULL ||
	    mkcmd(arg, cmd, VMM_SSH_CMD_MAX) == -1) {
		snprintf(err, errlen, "ssh %s@%s:%u: the command is too long",
		    user, ip, port);
		goto fail;
	}
	if (ssh_channel_request_exec(ch, cmd) != SSH_OK ||
	    ssh_write_all(ch, in, inlen) == -1 ||
	    ssh_channel_send_eof(ch) != SSH_OK) {
		snprintf(err, errlen, "ssh %s@%s:%u: cannot run the command:"
		    " %s", user, ip, port, ssh_get_error(s));
		goto fail;
	}
	if ((r = run_wait(s, ch, run, deadline, status)) == 0) {
		snprintf(err, errlen, "ssh %s@%s:%u: the command did not finish"
		    " within %d ms", user, ip, port, timeout_ms);
		goto fail;
	}
	if (r == -1 && run->sink_failed) {
		snprintf(err, errlen, "ssh %s@%s:%u: stopped by the receiver",
		    user, ip, port);
		goto fail;
	}
	if (r == -1) {
		snprintf(err, errlen, "ssh %s@%s:%u: connection lost while the"
		    " command ran: %s", user, ip, port, ssh_get_error(s));
		goto fail;
	}
	rc = 0;
fail:
	if (ch != NULL) {
		if (opened)
			ssh_channel_close(ch);
		ssh_channel_free(ch);
	}
	if (s != NULL) {
		ssh_disconnect(s);
		ssh_free(s);
	}
	ssh_key_free(key);
	free(cmd);
	return rc;
}
