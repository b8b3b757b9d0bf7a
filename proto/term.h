/* SPDX-License-Identifier: ISC */
/*
 * term.h - a VM's serial console for the clients, labctl console and
 * labtui's console: what the guest may do to the terminal that shows it
 * (term.c), the socket and the relay from the guest (console.c).
 *
 * The guest is the student's: its bytes may ask the instructor's
 * terminal to answer (a device report typed back into the guest), to set
 * the clipboard (OSC 52), the window title or size, or to run a DCS
 * command.  The filter passes text, CR, LF, TAB and BS, valid UTF-8, and
 * the escape sequences editors and shells need to draw (SGR, cursor
 * moves, erases, scroll regions, the alternate screen and a few modes),
 * and drops everything else: OSC, DCS, SOS, PM and APC strings, C1
 * controls (8-bit or UTF-8), and any sequence not on its list.  It is a
 * state machine: a sequence split over two reads is judged whole.
 */
#ifndef LABD_TERM_H
#define LABD_TERM_H

#include <stddef.h>
#include <stdint.h>

#define TERM_SEQ_MAX	64	/* a longer escape sequence is dropped */
/* term_filter's out takes len + TERM_SLACK bytes: a held sequence ends. */
#define TERM_SLACK	TERM_SEQ_MAX
#define TERM_END_MAX	256	/* term_filter_end's out */

struct term_filter {
	int		 state;
	unsigned char	 seq[TERM_SEQ_MAX];	/* held: the sequence so far */
	size_t		 seqlen;
	size_t		 need;		/* UTF-8: continuation bytes to come */
	int		 str_c2;	/* in a string, the last byte was 0xc2 */
	uint32_t	 touched;	/* modes the guest changed, one bit each */
};

void	term_filter_init(struct term_filter *);
/*
 * len bytes from the guest in, what may reach the terminal in out (room
 * for len + TERM_SLACK bytes); the count put there.  A sequence not
 * finished is held until the next call.
 */
size_t	term_filter(struct term_filter *, const char *in, size_t len,
	    char *out);
/*
 * When the console closes: into out (TERM_END_MAX bytes) what puts back
 * the modes the guest changed (attributes, cursor, alternate screen,
 * scroll region, keypad...), so that the terminal is as it was; the
 * count.  The filter starts afresh.
 */
size_t	term_filter_end(struct term_filter *, char *out);

/* console.c */
#define CONSOLE_ESCAPE	0x1d	/* Ctrl-], telnet's and virsh's: detach */
/*
 * Connect to a VM's serial socket: the fd, or -1 with err saying why
 * and, for the usual reasons, what to do.
 */
int	console_open(const char *path, char *err, size_t errlen);
/* All of buf to fd, through EINTR, EAGAIN and short writes: 0 or -1. */
int	console_write_all(int fd, const void *buf, size_t len);
/*
 * One read from the guest's socket, filtered, written to out: 1, or 0
 * when the socket closed.
 */
int	console_from_guest(struct term_filter *, int sock, int out);
/* The console is over: the terminal's modes put back (term_filter_end). */
void	console_done(struct term_filter *, int out);

#endif /* LABD_TERM_H */
