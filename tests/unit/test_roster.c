/* SPDX-License-Identifier: ISC */
/*
 * test_roster.c - roster CSV parsing against golden files, byte-level
 * cases written inline (so that no checkout can turn a CRLF file into LF
 * under them), and the name patterns of names.c.
 *
 * Each tests/unit/golden/roster/NAME.csv is read with roster_load and the
 * result, one line a student or "error: " and the messages, must equal
 * NAME.out.  The runner, and how to update the files, are in testutil.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "labd/labd.h"
#include "tests/unit/testutil.h"

/* --- roster --------------------------------------------------------- */

/* A field as a C string literal would show it: quotes and bytes visible. */
static void
put_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			fprintf(f, "\\x%02x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static char *
roster_dump(const struct roster *r)
{
	char	*buf = NULL;
	size_t	 len = 0, i;
	FILE	*f = open_memstream(&buf, &len);

	for (i = 0; i < r->n; i++) {
		fprintf(f, "line %d: id=%s name=", r->v[i].line, r->v[i].id);
		put_quoted(f, r->v[i].name);
		fprintf(f, " email=");
		put_quoted(f, r->v[i].email);
		fprintf(f, " ssh_key=");
		put_quoted(f, r->v[i].ssh_key);
		fputc('\n', f);
	}
	fclose(f);
	return buf;
}

static char *
roster_render(const char *file)
{
	struct roster	r = { NULL, 0 };
	char		err[LABD_ERRLEN * 4], *out;

	if (roster_load(file, &r, err, sizeof(err)) == -1) {
		cr_expect_null(r.v, "%s: entries returned with an error", file);
		cr_expect_eq(r.n, 0, "%s: entries returned with an error", file);
		return xasprintf("error: %s\n", err);
	}
	out = roster_dump(&r);
	roster_free(&r);
	return out;
}

Test(roster, golden)
{
	cr_expect_geq(golden_run("roster", ".csv", roster_render), 30,
	    "fewer roster cases than expected: files lost?");
}

static int
parse(const char *text, size_t len, struct roster *r, char *err,
    size_t errlen)
{
	return roster_parse(text, len, "r.csv", r, err, errlen);
}

#define PARSE_OK(text, r, err)						\
	cr_assert_eq(parse(text, sizeof(text) - 1, r, err, sizeof(err)), 0,	\
	    "%s", err)

Test(roster, crlf_and_bom)
{
	static const char	text[] = "\xef\xbb\xbfid,name\r\nann,\"A, B\"\r\n"
				    "ben,\"Two\r\nLines\"\r\ncid,Cid\r\n\r\n";
	struct roster		r;
	char			err[LABD_ERRLEN];

	/* A quoted CRLF is a control character in a name, so: an error. */
	cr_assert_eq(parse(text, sizeof(text) - 1, &r, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "r.csv line 3: name: holds a line break or"
	    " control character");
	cr_expect_null(r.v);
}

Test(roster, crlf_bom_good)
{
	static const char	text[] = "\xef\xbb\xbfid,name\r\nann,\"A, B\"\r\n"
				    "ben,Ben\r\n\r\n";
	struct roster		r;
	char			err[LABD_ERRLEN];

	PARSE_OK(text, &r, err);
	cr_assert_eq(r.n, 2);
	cr_expect_str_eq(r.v[0].id, "ann");
	cr_expect_str_eq(r.v[0].name, "A, B");
	cr_expect_eq(r.v[0].line, 2);
	cr_expect_str_eq(r.v[1].id, "ben");
	cr_expect_eq(r.v[1].line, 3);
	roster_free(&r);
	cr_expect_null(r.v);
	cr_expect_eq(r.n, 0);
}

/* Line numbers count physical lines, whatever breaks them. */
Test(roster, line_numbers)
{
	static const char	text[] = "id,name\r\nann,Ann\nben,\"B\"\"en\"\r"
				    "cid,Cid\r\n../d,D\n";
	struct roster		r;
	char			err[LABD_ERRLEN];

	cr_assert_eq(parse(text, sizeof(text) - 1, &r, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "r.csv line 5: id: '../d' is not a valid login"
	    " name (use a-z, 0-9, _ and -, starting with a letter or _, at"
	    " most 32)");
}

Test(roster, nul_and_utf16)
{
	static const char	nul[] = "id,name\nann,A\0nn\n";
	static const char	u16[] = "\xff\xfei\0d\0,\0n\0";
	struct roster		r;
	char			err[LABD_ERRLEN];

	cr_expect_eq(parse(nul, sizeof(nul) - 1, &r, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "r.csv line 2: name: holds a NUL byte");
	cr_expect_eq(parse(u16, sizeof(u16) - 1, &r, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "r.csv: the file is UTF-16; save it as CSV UTF-8");
}

/* Every bad row is reported, as many as fit, then a count of the rest. */
Test(roster, errors_that_do_not_fit)
{
	char		*text, err[300], *p;
	struct roster	 r;
	size_t		 len = 0;
	int		 i, lines = 1;
	FILE		*f = open_memstream(&text, &len);

	fprintf(f, "id,name\n");
	for (i = 0; i < 50; i++)
		fprintf(f, "Bad%d,Name\n", i);
	fclose(f);
	cr_assert_eq(parse(text, len, &r, err, sizeof(err)), -1);
	for (p = err; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	cr_expect_gt(lines, 1, "err: %s", err);
	cr_expect(strstr(err, "r.csv line 2: id: 'Bad0'") == err, "%s", err);
	cr_expect(strstr(err, "more errors not shown)") != NULL, "%s", err);
	cr_expect_lt(strlen(err), sizeof(err));
	free(text);
}

/* The first message shows even when err is too small for it. */
Test(roster, tiny_err)
{
	static const char	text[] = "id,name\nBAD,x\n";
	struct roster		r;
	char			err[16];

	cr_assert_eq(parse(text, sizeof(text) - 1, &r, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "r.csv line 2: i");
}

static char *
roster_of(int n, size_t *len)
{
	char	*text;
	FILE	*f = open_memstream(&text, len);
	int	 i;

	fprintf(f, "id,name\n");
	for (i = 0; i < n; i++)
		fprintf(f, "s%d,Student %d\n", i, i);
	fclose(f);
	return text;
}

Test(roster, cap)
{
	struct roster	 r;
	char		 err[LABD_ERRLEN], *text;
	size_t		 len;

	text = roster_of(1000, &len);
	cr_assert_eq(parse(text, len, &r, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(r.n, 1000);
	cr_expect_str_eq(r.v[999].id, "s999");
	cr_expect_eq(r.v[999].line, 1001);
	roster_free(&r);
	free(text);
	text = roster_of(1001, &len);
	cr_assert_eq(parse(text, len, &r, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "r.csv line 1002: more than 1000 students; one"
	    " course takes at most 1000");
	cr_expect_null(r.v);
	free(text);
}

/* cmd_course passes strlen(text): a roster with no final newline. */
Test(roster, no_newline_and_null_err)
{
	static const char	text[] = "id,name\nann,Ann";
	struct roster		r;

	cr_assert_eq(roster_parse(text, strlen(text), "r", &r, NULL, 0), 0);
	cr_expect_eq(r.n, 1);
	roster_free(&r);
	cr_expect_eq(roster_parse("id,name\nBAD,x", 13, "r", &r, NULL, 0), -1);
}

/* --- names.c ------------------------------------------------------------ */

Test(names, name_valid)
{
	static const char *const good[] = {
		"a", "web101", "lab-2024", "a0-b1-c2",
		"abcdefghijklmnopqrstuvwxyz012345",	/* 32 */
	};
	static const char *const bad[] = {
		"", "A", "1lab", "-lab", "lab-", "lab--2", "lab_2", "lab.2",
		"../x", "lab 2", "abcdefghijklmnopqrstuvwxyz0123456", /* 33 */
		"caf\xc3\xa9",
	};
	size_t	i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_expect(name_valid(good[i]), "'%s' should be valid", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect(!name_valid(bad[i]), "'%s' should be invalid", bad[i]);
	cr_expect(!name_valid(NULL));
}

Test(names, login_valid)
{
	static const char *const good[] = {
		"alice", "_lab", "bob-2", "o_brien", "a", "systemd", "rooter",
		"abcdefghijklmnopqrstuvwxyz012345",
	};
	static const char *const bad[] = {
		"", "Alice", "2bob", "-bob", "bob.smith", "bob@x", "../x",
		"bob smith", "abcdefghijklmnopqrstuvwxyz0123456",
		"root", "daemon", "bin", "sys", "sync", "games", "man", "lp",
		"mail", "news", "uucp", "proxy", "www-data", "backup", "list",
		"irc", "nobody", "sshd", "messagebus", "systemd-network",
		"systemd-timesync", "labd", "admin", "_apt",
	};
	size_t	i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_expect(login_valid(good[i]), "'%s' should be valid", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect(!login_valid(bad[i]), "'%s' should be invalid",
		    bad[i]);
	cr_expect(!login_valid(NULL));
}

Test(names, text_unsafe)
{
	static const struct {
		const char	*s;
		uint32_t	 cp;		/* 0: safe */
	} cases[] = {
		{ "Ann", 0 },
		{ "Bj\xc3\xb6rn \xc3\x85str\xc3\xb6m", 0 },
		{ "\xc2\xa0no-break space", 0 },		/* U+00A0 */
		{ "\xe2\x80\xaf narrow", 0 },			/* U+202F */
		{ "Persian \xe2\x80\x8c ZWNJ", 0 },		/* U+200C */
		{ "emoji \xf0\x9f\x98\x80", 0 },		/* U+1F600 */
		{ "tab\there", 0x09 },
		{ "esc\x1b[2J", 0x1b },
		{ "del\x7f", 0x7f },
		{ "c1 \xc2\x80", 0x80 },
		{ "csi \xc2\x9b" "31m", 0x9b },
		{ "last c1 \xc2\x9f", 0x9f },
		{ "alm \xd8\x9c", 0x061c },
		{ "zwsp \xe2\x80\x8b", 0x200b },
		{ "lrm \xe2\x80\x8e", 0x200e },
		{ "rlm \xe2\x80\x8f", 0x200f },
		{ "lre \xe2\x80\xaa", 0x202a },
		{ "rlo \xe2\x80\xae", 0x202e },
		{ "lri \xe2\x81\xa6", 0x2066 },
		{ "pdi \xe2\x81\xa9", 0x2069 },
		{ "bom \xef\xbb\xbf", 0xfeff },
		{ "tag \xf3\xa0\x80\x81", 0xe0001 },
		{ "first wins \xe2\x80\xae \xc2\x85", 0x202e },
	};
	const char	*what;
	uint32_t	 cp;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cp = 0;
		what = text_unsafe(cases[i].s, strlen(cases[i].s), &cp);
		if (cases[i].cp == 0)
			cr_expect_null(what, "case %zu: U+%04X refused (%s)", i,
			    (unsigned)cp, what);
		else {
			cr_expect_not_null(what, "case %zu: U+%04X let through",
			    i, (unsigned)cases[i].cp);
			cr_expect_eq(cp, cases[i].cp, "case %zu: U+%04X, not"
			    " U+%04X", i, (unsigned)cp, (unsigned)cases[i].cp);
		}
	}
	/* A sequence cut by the length given is not read past it. */
	cr_expect_null(text_unsafe("x\xe2\x80\xae", 2, NULL));
}
