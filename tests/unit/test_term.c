/* SPDX-License-Identifier: ISC */
/*
 * test_term.c - the filter between a guest's serial console and the
 * instructor's terminal (proto/term.c): what an editor or a shell needs
 * passes, what makes a terminal answer, or changes its clipboard, title
 * or window, does not; a sequence split over reads is judged whole; and
 * random bytes, fed whole or in pieces, give the same output, which
 * filtered again is unchanged and holds none of the refused openers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/term.h"
#include "testutil.h"

/* in (len bytes) through a fresh filter in pieces of step (0: whole). */
static char *
filter_steps(const char *in, size_t len, size_t step)
{
	struct term_filter	 f;
	char			*out = tu_realloc(NULL, len + TERM_SLACK + 1);
	size_t			 i, k, n = 0, got;

	term_filter_init(&f);
	if (step == 0)
		step = len ? len : 1;
	for (i = 0; i < len; i += k) {
		k = len - i < step ? len - i : step;
		got = term_filter(&f, in + i, k, out + n);
		cr_assert_leq(got, k + TERM_SLACK, "%zu bytes out of %zu in",
		    got, k);
		n += got;
	}
	out[n] = '\0';
	return out;
}

/* what through the filter whole, and split at every place, gives want. */
static void
expect_filter(const char *what, const char *in, const char *want)
{
	char	*got;
	size_t	 len = strlen(in), at;

	got = filter_steps(in, len, 0);
	cr_expect_str_eq(got, want, "%s (whole)", what);
	free(got);
	got = filter_steps(in, len, 1);
	cr_expect_str_eq(got, want, "%s (a byte at a time)", what);
	free(got);
	/* Two reads, split at every place. */
	for (at = 1; at < len; at++) {
		struct term_filter	f;
		char			out[4096];
		size_t			n;

		cr_assert_lt(len + 2 * TERM_SLACK, sizeof(out));
		term_filter_init(&f);
		n = term_filter(&f, in, at, out);
		n += term_filter(&f, in + at, len - at, out + n);
		out[n] = '\0';
		cr_expect_str_eq(out, want, "%s (split at %zu)", what, at);
	}
}

#define PASSES(what, s)		expect_filter(what, s, s)

Test(term, text_and_the_four_controls_pass)
{
	PASSES("text", "login: root\r\nPassword: ");
	PASSES("tab and backspace", "a\tb\bc");
	expect_filter("other C0, DEL", "a\x01\x07\x0e\x0f\x7f" "b", "ab");
	expect_filter("NUL", "a\0b", "a");	/* strlen stops there */
}

Test(term, utf8_passes_whole_or_split)
{
	PASSES("two bytes", "Bj\xc3\xb6rn");
	PASSES("three bytes", "\xe2\x82\xac 5");
	PASSES("four bytes", "\xf0\x9f\x98\x80!");
	PASSES("box drawing", "\xe2\x94\x8c\xe2\x94\x80\xe2\x94\x90");
}

Test(term, bad_utf8_and_c1_are_dropped)
{
	expect_filter("8-bit CSI", "a\x9b" "6n", "a6n");
	expect_filter("8-bit OSC", "\x9d" "0;x\x07y", "0;xy");
	expect_filter("8-bit DCS", "\x90q", "q");
	expect_filter("C1 in UTF-8: CSI", "\xc2\x9b" "6n", "6n");
	expect_filter("C1 in UTF-8: NEL", "a\xc2\x85" "b", "ab");
	expect_filter("overlong", "\xc0\xaf\xe0\x80\xaf" "x", "x");
	expect_filter("surrogate", "\xed\xa0\x80" "x", "x");
	expect_filter("past U+10FFFF", "\xf4\x90\x80\x80" "x", "x");
	expect_filter("cut short", "\xe2\x82" "x", "x");
	expect_filter("stray continuation", "\x80\xbf" "x", "x");
	expect_filter("0xff", "\xff\xfe" "x", "x");
}

Test(term, what_editors_need_passes)
{
	PASSES("SGR", "\033[1;31mred\033[0m \033[38;2;10;20;30mrgb\033[m");
	PASSES("SGR with colons", "\033[4:3m");
	PASSES("cursor moves", "\033[H\033[10;20H\033[3A\033[B\033[2C\033[D"
	    "\033[5G\033[7d\033[1;1f");
	PASSES("erases", "\033[2J\033[K\033[1K\033[?2K\033[3X");
	PASSES("insert and delete", "\033[2@\033[P\033[L\033[3M");
	PASSES("scrolling", "\033[1;20r\033[S\033[2T\033M\033D\033E");
	PASSES("cursor save", "\0337\0338\033[s\033[u");
	PASSES("alternate screen, cursor", "\033[?1049h\033[?25l\033[?1049l"
	    "\033[?25h");
	PASSES("several modes at once", "\033[?1;25h");
	PASSES("keypad", "\033=\033>");
	PASSES("line drawing", "\033(0qqq\033(B");
	PASSES("insert mode", "\033[4h\033[4l");
	PASSES("bracketed paste", "\033[?2004h");
}

Test(term, strings_are_dropped)
{
	expect_filter("OSC 52 clipboard, BEL",
	    "a\033]52;c;cm0gLXJmIH4K\007b", "ab");
	expect_filter("OSC 52 clipboard, ST",
	    "a\033]52;c;cm0gLXJmIH4K\033\\b", "ab");
	expect_filter("OSC title", "\033]0;pwned\007\033]2;x\033\\ok", "ok");
	expect_filter("OSC palette", "\033]4;1;rgb:ff/00/00\007ok", "ok");
	expect_filter("OSC hyperlink", "\033]8;;http://x.example/\033\\link"
	    "\033]8;;\033\\", "link");
	expect_filter("DCS DECRQSS", "\033P$qm\033\\ok", "ok");
	expect_filter("DCS sixel", "\033Pq#0;2;0;0;0~-\033\\ok", "ok");
	expect_filter("SOS", "\033Xhidden\033\\ok", "ok");
	expect_filter("PM", "\033^hidden\033\\ok", "ok");
	expect_filter("APC", "\033_Gf=100;AAAA\033\\ok", "ok");
	expect_filter("ST as U+009C", "\033]0;t\xc2\x9cok", "ok");
	expect_filter("CAN ends it", "\033]0;t\030ok", "ok");
	/* An ESC inside a string ends it and starts what follows. */
	expect_filter("ESC in a string", "\033]0;t\033[1mb", "\033[1mb");
	expect_filter("a string across reads, none of it shown",
	    "\033]52;c;QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
	    "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\007after", "after");
}

Test(term, sequences_that_answer_or_reach_outside_are_dropped)
{
	expect_filter("DSR/CPR", "\033[6n\033[5n\033[?6nx", "x");
	expect_filter("device attributes", "\033[c\033[0c\033[>c\033[=cx",
	    "x");
	expect_filter("window ops", "\033[21t\033[14t\033[8;1;1t\033[3;0;0t"
	    "\033[9;1t\033[ty", "y");
	expect_filter("DECREQTPARM", "\033[xz", "z");
	expect_filter("media copy", "\033[5i\033[4i\033[ix", "x");
	expect_filter("repeat", "a\033[999999999bx", "ax");
	expect_filter("tab stops", "\033[3g\033Hx", "x");
	expect_filter("mouse and focus", "\033[?1000h\033[?1006h\033[?1004h"
	    "\033[?9hx", "x");
	expect_filter("an allowed mode with a refused one",
	    "\033[?25;1000hx", "x");
	expect_filter("132 columns", "\033[?3hx", "x");
	expect_filter("DECRQM", "\033[?25$px", "x");
	expect_filter("cursor style", "\033[2 qx", "x");
	expect_filter("soft reset", "\033[!px", "x");
	expect_filter("modifyOtherKeys", "\033[>4;1mx", "x");
	expect_filter("kitty keyboard query", "\033[?ux", "x");
	expect_filter("xterm version", "\033[>0qx", "x");
	expect_filter("mouse highlight", "\033[1;2;3;4;5Tx", "x");
	expect_filter("line feed mode", "\033[20hx", "x");
	expect_filter("RIS", "\033cx", "x");
	expect_filter("DECID", "\033Zx", "x");
	expect_filter("DECALN", "\033#8x", "x");
	expect_filter("UTF-8 select", "\033%Gx", "x");
	expect_filter("locking shift", "\033nx\033ox", "xx");
	expect_filter("empty mode list", "\033[?hx\033[?;25hy", "xy");
}

Test(term, how_sequences_end)
{
	expect_filter("ESC restarts a CSI", "\033[31\033[32mX", "\033[32mX");
	expect_filter("CAN aborts a CSI", "\033[31\030X", "X");
	expect_filter("SUB aborts an ESC", "\033\032X", "X");
	expect_filter("C0 inside a CSI acts at once", "\033[3\r1m",
	    "\r\033[31m");
	expect_filter("DEL inside a CSI is ignored", "\033[3\1771m",
	    "\033[31m");
	expect_filter("a byte >= 0x80 ends a CSI", "\033[3\xc3\xa9x",
	    "\xc3\xa9x");
	expect_filter("a lone ESC at the end is held", "ok\033", "ok");
}

Test(term, a_sequence_too_long_is_dropped_whole)
{
	char	in[512], want[] = "before after";
	size_t	n;

	n = (size_t)snprintf(in, sizeof(in), "before \033[");
	memset(in + n, '1', 300);
	snprintf(in + n + 300, sizeof(in) - n - 300, "mafter");
	expect_filter("300 digits of SGR", in, want);
	/* At the limit it still passes. */
	n = (size_t)snprintf(in, sizeof(in), "\033[");
	memset(in + n, '0', TERM_SEQ_MAX - 3);
	snprintf(in + n + TERM_SEQ_MAX - 3, sizeof(in) - n, "m");
	PASSES("a sequence of TERM_SEQ_MAX bytes", in);
}

Test(term, end_undoes_what_the_guest_changed)
{
	struct term_filter	 f;
	const char		*in = "\033[?1049h\033[?25l\033[1;10r\033=\033(0"
				    "\033[4h\033[31m";
	char			 out[256], end[TERM_END_MAX + 1];
	size_t			 n;

	term_filter_init(&f);
	term_filter(&f, in, strlen(in), out);
	n = term_filter_end(&f, end);
	end[n] = '\0';
	cr_expect_str_eq(end, "\033[0m\033[?25h\033[?1049l\033[4l\033[r\033>"
	    "\033(B");
	/* Nothing changed: the attributes alone. */
	n = term_filter_end(&f, end);
	end[n] = '\0';
	cr_expect_str_eq(end, "\033[0m");
	/* A refused sequence changes nothing to undo. */
	term_filter(&f, "\033[?1000h", 8, out);
	n = term_filter_end(&f, end);
	end[n] = '\0';
	cr_expect_str_eq(end, "\033[0m");
}

/* What the filter's output may never hold: the openers it refuses. */
static void
expect_clean(const char *out, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		unsigned char	b = (unsigned char)out[i];

		cr_assert(b != 0x7f && (b >= 0x20 || b == '\r' || b == '\n' ||
		    b == '\t' || b == '\b' || b == 0x1b), "byte %02x at %zu",
		    b, i);
		if (b != 0x1b)
			continue;
		cr_assert(i + 1 < len, "an ESC at the end");
		cr_assert(strchr("]PX^_cZ#%n", out[i + 1]) == NULL,
		    "ESC %c at %zu", out[i + 1], i);
		if (out[i + 1] == '[') {
			size_t	k = i + 2;

			while (k < len && (unsigned char)out[k] >= 0x20 &&
			    (unsigned char)out[k] <= 0x3f)
				k++;
			cr_assert(k < len, "a CSI without its end");
			cr_assert(strchr("nctxibgpqy", out[k]) == NULL,
			    "CSI ... %c at %zu", out[k], i);
		}
	}
}

/*
 * Hostile input: random bytes, biased to ESC, '[', ']', C1 and
 * terminators so that sequences form.  Whole or in random pieces, the
 * output is the same, clean, and unchanged when filtered again.
 */
Test(term, random_input)
{
	static const unsigned char	 hot[] = { 0x1b, '[', ']', 'P', '?',
		';', '0', '1', '6', 'n', 'm', 'h', 't', 'c', 0x07, 0x9b, 0x9c,
		0xc2, 0x9d, 0x18, '\\', 0xe2, 0x80, 'x', '\r', '\n' };
	char				*in, *whole, *again;
	size_t				 len, step, round;
	unsigned			 seed = 20240613;

	for (round = 0; round < 300; round++) {
		len = 1 + rand_r(&seed) % 2000;
		in = tu_realloc(NULL, len);
		for (size_t i = 0; i < len; i++)
			in[i] = rand_r(&seed) % 3 ? (char)hot[rand_r(&seed) %
			    sizeof(hot)] : (char)(rand_r(&seed) % 256);
		whole = filter_steps(in, len, 0);
		step = 1 + rand_r(&seed) % 17;
		again = filter_steps(in, len, step);
		cr_assert_str_eq(again, whole, "round %zu: in pieces of %zu"
		    " the output differs", round, step);
		free(again);
		expect_clean(whole, strlen(whole));
		again = filter_steps(whole, strlen(whole), 0);
		cr_assert_str_eq(again, whole, "round %zu: filtered twice, it"
		    " changes", round);
		free(again);
		free(whole);
		free(in);
	}
}
