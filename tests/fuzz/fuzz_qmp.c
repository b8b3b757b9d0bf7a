/* SPDX-License-Identifier: ISC */
/*
 * fuzz_qmp.c - vmm/qmp.c's reader on any bytes from "QEMU": the input is
 * what the peer of a socketpair() has written before it stops writing,
 * and the client goes through what labd does with a monitor: open it
 * (greeting, qmp_capabilities), ask its status, take its events, quit.
 * The peer never waits, so neither does the client: it reads to the end.
 */
#include <sys/socket.h>

#include "vmm/vmm.h"
#include "tests/fuzz/fuzz.h"

static void
on_event(void *arg, const char *event, json_t *data)
{
	FUZZ_CHECK(event != NULL, "an event without a name");
	(*(size_t *)arg)++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qmp	*q;
	char		 err[VMM_ERRLEN], status[64];
	size_t		 off = 0, events = 0;
	ssize_t		 n;
	int		 sv[2];

	fuzz_must(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0,
	    "socketpair");
	fuzz_must(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0, "fcntl");
	/* What the socket holds; a longer input is cut there. */
	while (off < size) {
		if ((n = write(sv[1], data + off, size - off)) <= 0)
			break;
		off += (size_t)n;
	}
	shutdown(sv[1], SHUT_WR);
	if ((q = qmp_open_fd(sv[0], 1000, err, sizeof(err))) == NULL) {
		FUZZ_CHECK(FUZZ_TERMINATED(err) && err[0] != '\0',
		    "refused without a message");
		close(sv[1]);
		return 0;
	}
	if (qmp_query_status(q, status, sizeof(status), err,
	    sizeof(err)) == 0)
		FUZZ_CHECK(FUZZ_TERMINATED(status), "status not terminated");
	qmp_dispatch(q, on_event, &events);
	qmp_quit(q, err, sizeof(err));
	qmp_close(q);
	close(sv[1]);
	return 0;
}
