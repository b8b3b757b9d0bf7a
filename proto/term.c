/* SPDX-License-Identifier: ISC */
/*
 * term.c - the filter between a guest's serial console and the terminal
 * of whoever watches it (term.h says what it lets through and why).
 *
 * It follows the parser every VT-style terminal has (ECMA-48 and the
 * DEC state diagram: ground, escape, CSI, control strings) closely
 * enough to know where each sequence ends, so that it can hold one until
 * it is whole and then pass it or drop it as a unit; a terminal never
 * sees half of a sequence it would have refused.  What passes is an
 * allow list: a sequence no table here names is dropped, whatever newer
 * terminals make of it.  C0 controls inside a sequence are acted on at
 * once, as terminals do; CAN and SUB abort one; an ESC starts a new one.
 */
#include <string.h>

#include "proto/term.h"

enum {
	T_GROUND,
	T_UTF8,		/* inside a UTF-8 character */
	T_ESC,		/* after ESC */
	T_ESC_INT,	/* ESC and intermediates (0x20-0x2f) */
	T_CSI,		/* ESC [ and parameters */
	T_CSI_DROP,	/* a CSI too long: dropped up to its final byte */
	T_STR,		/* OSC, DCS, SOS, PM or APC: dropped up to its end */
	T_STR_ESC,	/* ESC inside a string: ST if '\' follows */
};

#define ESC	0x1b
#define CAN	0x18
#define SUB	0x1a
#define BEL	0x07
#define DEL	0x7f

/*
 * Modes a guest may set or reset (DECSET/DECRST with '?', SM/RM
 * without), each with what puts it back as a terminal starts.  Any other
 * mode is dropped with its whole sequence: mouse and focus reporting
 * (the terminal would type reports into the guest and, after the
 * console, into the instructor's shell), 132 columns (resizes the
 * window), and the rest nobody drawing a screen needs.
 */
static const struct {
	int		 priv;		/* 1: DEC private, "CSI ? n h" */
	unsigned	 mode;
	const char	*undo;
} term_modes[] = {
	{ 1, 1, "\033[?1l" },		/* application cursor keys */
	{ 1, 5, "\033[?5l" },		/* reverse video */
	{ 1, 6, "\033[?6l" },		/* origin mode */
	{ 1, 7, "\033[?7h" },		/* autowrap */
	{ 1, 12, "\033[?12l" },		/* blinking cursor */
	{ 1, 25, "\033[?25h" },		/* cursor shown */
	{ 1, 47, "\033[?47l" },		/* alternate screen */
	{ 1, 1047, "\033[?1047l" },
	{ 1, 1048, "" },		/* save cursor: nothing to undo */
	{ 1, 1049, "\033[?1049l" },
	{ 1, 2004, "\033[?2004l" },	/* bracketed paste */
	{ 0, 4, "\033[4l" },		/* insert mode */
};
#define NMODES		(sizeof(term_modes) / sizeof(term_modes[0]))
/* Other state a passed sequence changes, after the modes' bits. */
#define TOUCH_SCROLL	(1u << NMODES)		/* ESC [ r: scroll region */
#define TOUCH_KEYPAD	(1u << (NMODES + 1))	/* ESC =: application keypad */
#define TOUCH_CHARSET	(1u << (NMODES + 2))	/* ESC ( 0: line drawing */

/*
 * CSI finals passed with plain parameters (no '?', '<', '=', '>' and no
 * intermediate): moves, erases, inserts and deletes, scrolling, SGR,
 * save and restore of the cursor.  Not here, among others: g (clears
 * tab stops, which would stay cleared after the console),
 * n (device status: the terminal answers), c (device attributes:
 * answers), t (window operations: move, resize, report the title), x
 * (DECREQTPARM: answers), i (media copy: a printer), b (repeat: a way
 * to fill the screen a million times), q and p (with intermediates:
 * cursor style, soft reset, mode reports).
 */
static const char csi_plain[] = "@ABCDEFGHIJKLMPSTXZ`adefmrsu";

void
term_filter_init(struct term_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->state = T_GROUND;
}

/* Is "CSI ? n ; m h" (or without '?') made of modes on the list? */
static int
modes_allowed(struct term_filter *f, const unsigned char *p, size_t len,
    int priv)
{
	uint32_t	touched = 0;
	unsigned	n;
	size_t		i = 0, k, digits;

	if (len == 0)
		return 0;
	while (i <= len) {
		n = 0;
		for (digits = 0; i < len && p[i] >= '0' && p[i] <= '9';
		    i++, digits++)
			if (n < 100000)
				n = n * 10 + (p[i] - '0');
		if (digits == 0 || (i < len && p[i] != ';'))
			return 0;
		for (k = 0; k < NMODES; k++)
			if (term_modes[k].priv == priv &&
			    term_modes[k].mode == n)
				break;
		if (k == NMODES)
			return 0;
		touched |= 1u << k;
		i++;	/* past the ';', or past the end */
	}
	f->touched |= touched;
	return 1;
}

/* The held "ESC [ ..." with its final byte: may it reach the terminal? */
static int
csi_allowed(struct term_filter *f, unsigned char final)
{
	const unsigned char	*p = f->seq + 2;
	size_t			 len = f->seqlen - 2, i, nparams = 1;
	int			 prefix = 0;

	if (len > 0 && p[0] >= 0x3c && p[0] <= 0x3f) {
		prefix = p[0];
		p++;
		len--;
	}
	/* Parameters only: digits, ';' and ':'; no intermediates. */
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > ';')
			return 0;
		if (p[i] == ';')
			nparams++;
	}
	if (prefix == '?') {
		if (final == 'J' || final == 'K')	/* selective erase */
			return 1;
		if (final == 'h' || final == 'l')
			return modes_allowed(f, p, len, 1);
		return 0;
	}
	if (prefix != 0)
		return 0;
	if (final == 'h' || final == 'l')
		return modes_allowed(f, p, len, 0);
	if (final == 'T' && nparams > 1)	/* xterm: mouse highlighting */
		return 0;
	if (strchr(csi_plain, final) == NULL)
		return 0;
	if (final == 'r')
		f->touched |= TOUCH_SCROLL;
	return 1;
}

/* The held "ESC [intermediates]" with its final byte. */
static int
esc_allowed(struct term_filter *f, unsigned char final)
{
	if (f->seqlen == 1) {
		/*
		 * Save/restore cursor, keypad modes, index, next line,
		 * reverse index.  Not c (a full reset), Z (identify: the
		 * terminal answers), H (a tab stop that would stay).
		 */
		if (final == '=')
			f->touched |= TOUCH_KEYPAD;
		return strchr("78=>DEM", final) != NULL;
	}
	/* ESC ( B, ESC ) 0...: which character set G0-G3 holds. */
	if (f->seqlen == 2 && strchr("()*+", f->seq[1]) != NULL) {
		f->touched |= TOUCH_CHARSET;
		return 1;
	}
	return 0;
}

/* A complete UTF-8 character, held in seq: shown unless it is C1. */
static int
utf8_allowed(const unsigned char *s, size_t len)
{
	uint32_t	cp;
	size_t		i;

	cp = s[0] & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
	for (i = 1; i < len; i++)
		cp = cp << 6 | (s[i] & 0x3f);
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;	/* overlong, surrogate, too large */
	return cp > 0x9f;	/* U+0080-U+009F are the C1 controls */
}

/* A C0 control outside a string: the four a console needs pass. */
static size_t
c0(unsigned char b, char *out)
{
	if (b == '\r' || b == '\n' || b == '\t' || b == '\b') {
		*out = (char)b;
		return 1;
	}
	return 0;
}

static size_t
emit_held(struct term_filter *f, unsigned char final, char *out)
{
	size_t	n = f->seqlen;

	memcpy(out, f->seq, n);
	out[n++] = (char)final;
	return n;
}

static void
hold(struct term_filter *f, int state, unsigned char b)
{
	f->state = state;
	f->seq[0] = b;
	f->seqlen = 1;
}

/*
 * What b does in a sequence being held when it is not the sequence's own:
 * ESC starts another, CAN and SUB abort, other C0 act at once, DEL is
 * ignored.  1 when b was dealt with; 0 for a byte >= 0x80, which ends
 * the sequence and is read again in the ground state.
 */
static int
in_sequence(struct term_filter *f, unsigned char b, char *out, size_t *n)
{
	if (b == ESC)
		hold(f, T_ESC, b);
	else if (b == CAN || b == SUB)
		f->state = T_GROUND;
	else if (b < 0x20)
		*n += c0(b, out + *n);
	else if (b == DEL)
		;
	else {
		f->state = T_GROUND;
		return 0;
	}
	return 1;
}

size_t
term_filter(struct term_filter *f, const char *in, size_t len, char *out)
{
	const unsigned char	*s = (const unsigned char *)in;
	size_t			 i, n = 0;
	unsigned char		 b;

	for (i = 0; i < len; i++) {
		b = s[i];
again:
		switch (f->state) {
		case T_GROUND:
			if (b == ESC)
				hold(f, T_ESC, b);
			else if (b < 0x20)
				n += c0(b, out + n);
			else if (b < DEL)
				out[n++] = (char)b;
			else if (b >= 0xc2 && b <= 0xf4) {
				hold(f, T_UTF8, b);
				f->need = b < 0xe0 ? 1 : b < 0xf0 ? 2 : 3;
			}
			/* DEL, stray continuation bytes, 8-bit C1: dropped. */
			break;
		case T_UTF8:
			if ((b & 0xc0) != 0x80) {
				f->state = T_GROUND;	/* cut short */
				goto again;
			}
			f->seq[f->seqlen++] = b;
			if (--f->need > 0)
				break;
			if (utf8_allowed(f->seq, f->seqlen)) {
				memcpy(out + n, f->seq, f->seqlen);
				n += f->seqlen;
			}
			f->state = T_GROUND;
			break;
		case T_ESC:
			if (b == '[') {
				f->seq[f->seqlen++] = b;
				f->state = T_CSI;
			} else if (b == ']' || b == 'P' || b == 'X' ||
			    b == '^' || b == '_') {
				f->state = T_STR;
				f->str_c2 = 0;
			} else if (b >= 0x20 && b <= 0x2f) {
				f->seq[f->seqlen++] = b;
				f->state = T_ESC_INT;
			} else if (b >= 0x30 && b <= 0x7e) {
				if (esc_allowed(f, b))
					n += emit_held(f, b, out + n);
				f->state = T_GROUND;
			} else if (!in_sequence(f, b, out, &n))
				goto again;
			break;
		case T_ESC_INT:
			if (b >= 0x20 && b <= 0x2f) {
				/* More than one is never allowed: count only. */
				if (f->seqlen < TERM_SEQ_MAX)
					f->seq[f->seqlen++] = b;
			} else if (b >= 0x30 && b <= 0x7e) {
				if (esc_allowed(f, b))
					n += emit_held(f, b, out + n);
				f->state = T_GROUND;
			} else if (!in_sequence(f, b, out, &n))
				goto again;
			break;
		case T_CSI:
			if (b >= 0x20 && b <= 0x3f) {
				f->seq[f->seqlen++] = b;
				if (f->seqlen == TERM_SEQ_MAX)
					f->state = T_CSI_DROP;
			} else if (b >= 0x40 && b <= 0x7e) {
				if (csi_allowed(f, b))
					n += emit_held(f, b, out + n);
				f->state = T_GROUND;
			} else if (!in_sequence(f, b, out, &n))
				goto again;
			break;
		case T_CSI_DROP:
			if (b >= 0x40 && b <= 0x7e)
				f->state = T_GROUND;
			else if (b >= 0x20 && b <= 0x3f)
				;
			else if (!in_sequence(f, b, out, &n))
				goto again;
			break;
		case T_STR:
			/*
			 * Its end: BEL (xterm's for OSC), CAN, SUB, ST as
			 * ESC \ or as U+009C.  Nothing of it was passed, so
			 * an end seen early or late only decides which bytes
			 * after it are read as text.
			 */
			if (b == BEL || b == CAN || b == SUB ||
			    (f->str_c2 && b == 0x9c))
				f->state = T_GROUND;
			else if (b == ESC)
				f->state = T_STR_ESC;
			f->str_c2 = b == 0xc2;
			break;
		case T_STR_ESC:
			if (b == '\\') {
				f->state = T_GROUND;
				break;
			}
			/* The string is over; the ESC begins what follows. */
			hold(f, T_ESC, ESC);
			goto again;
		}
	}
	return n;
}

size_t
term_filter_end(struct term_filter *f, char *out)
{
	size_t	n = 0, k, len;

#define PUT(s)	do {						\
		len = strlen(s);				\
		if (n + len < TERM_END_MAX) {			\
			memcpy(out + n, (s), len);		\
			n += len;				\
		}						\
	} while (0)

	PUT("\033[0m");
	for (k = 0; k < NMODES; k++)
		if (f->touched & (1u << k))
			PUT(term_modes[k].undo);
	if (f->touched & TOUCH_SCROLL)
		PUT("\033[r");
	if (f->touched & TOUCH_KEYPAD)
		PUT("\033>");
	if (f->touched & TOUCH_CHARSET)
		PUT("\033(B");
#undef PUT
	term_filter_init(f);
	return n;
}
