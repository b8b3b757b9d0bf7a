/* SPDX-License-Identifier: ISC */
/*
 * test_vnc.c - the VNC server's pure parts: the wall's grid and tiles
 * (labd/vnc_layout.c), scaling a screen into a tile, VNC authentication
 * against a list of passwords, and the rate limit on wrong passwords
 * (labd/vnc_auth.c).  The DES responses come from libvncserver's own
 * rfbEncryptBytes(), as a viewer computes them.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <rfb/rfb.h>

#include "labd/vnc.h"

/* --- the grid ------------------------------------------------------------------ */

Test(vnc_grid, square_ish)
{
	static const struct {
		int	n, cols, rows;
	} cases[] = {
		{ 1, 1, 1 }, { 2, 2, 1 }, { 3, 2, 2 }, { 4, 2, 2 },
		{ 5, 3, 2 }, { 9, 3, 3 }, { 10, 4, 3 }, { 30, 6, 5 },
	};
	struct vnc_grid	g;
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vnc_grid_make(&g, cases[i].n, VNC_WALL_W, VNC_WALL_H);
		cr_expect_eq(g.cols, cases[i].cols, "n=%d cols %d", cases[i].n,
		    g.cols);
		cr_expect_eq(g.rows, cases[i].rows, "n=%d rows %d", cases[i].n,
		    g.rows);
		cr_expect_geq(g.cols * g.rows, cases[i].n);
	}
	vnc_grid_make(&g, 0, VNC_WALL_W, VNC_WALL_H);
	cr_expect_eq(g.cols, 0);
}

/* Tiles lie inside the wall, below the header, and never overlap. */
Test(vnc_grid, tiles_fit_and_do_not_overlap)
{
	struct vnc_grid	g;
	struct vnc_rect	l[30], s[30];
	int		n, i, j;

	for (n = 1; n <= 30; n++) {
		vnc_grid_make(&g, n, VNC_WALL_W, VNC_WALL_H);
		for (i = 0; i < n; i++) {
			vnc_grid_tile(&g, i, &l[i], &s[i]);
			cr_assert(l[i].x >= 0 && l[i].y >= VNC_HEADER_H &&
			    s[i].x + s[i].w <= VNC_WALL_W &&
			    s[i].y + s[i].h <= VNC_WALL_H, "n=%d tile %d", n, i);
			cr_assert_eq(s[i].y, l[i].y + VNC_LABEL_H);
			cr_assert_gt(s[i].w, 0);
			cr_assert_gt(s[i].h, 0);
			for (j = 0; j < i; j++)
				cr_assert(s[j].x + s[j].w <= s[i].x ||
				    s[i].x + s[i].w <= s[j].x ||
				    s[j].y + s[j].h <= l[i].y ||
				    s[i].y + s[i].h <= l[j].y,
				    "n=%d: tiles %d and %d overlap", n, j, i);
		}
	}
}

Test(vnc_grid, at)
{
	struct vnc_grid	g;
	struct vnc_rect	l, s;
	int		i;

	vnc_grid_make(&g, 5, VNC_WALL_W, VNC_WALL_H);
	for (i = 0; i < 5; i++) {
		vnc_grid_tile(&g, i, &l, &s);
		cr_expect_eq(vnc_grid_at(&g, s.x + s.w / 2, s.y + s.h / 2), i);
		cr_expect_eq(vnc_grid_at(&g, l.x + 1, l.y + 1), i);
	}
	cr_expect_eq(vnc_grid_at(&g, 10, 5), -1, "the header is no tile");
	/* 3 x 2 holds 6: the sixth cell is empty. */
	vnc_grid_tile(&g, 4, &l, &s);
	cr_expect_eq(vnc_grid_at(&g, s.x + s.w + 20, s.y + 10), -1);
	cr_expect_eq(vnc_grid_at(&g, -1, 100), -1);
}

/* --- scaling ------------------------------------------------------------------------ */

Test(vnc_scale, keeps_aspect_and_centres)
{
	uint32_t	src[4 * 2] = { 1, 1, 2, 2, 1, 1, 2, 2 };	/* 4x2 */
	uint32_t	dst[20 * 20];
	struct vnc_rect	r = { 0, 0, 20, 20 };
	int		x, y;

	vnc_scale(src, 4, 2, 4, dst, 20, &r, 9);
	/* 4:2 into 20x20 is 20x10, centred: rows 5..14. */
	for (y = 0; y < 20; y++)
		for (x = 0; x < 20; x++) {
			uint32_t	want = y < 5 || y >= 15 ? 9 : x < 10 ? 1 : 2;

			cr_assert_eq(dst[y * 20 + x], want, "%d,%d: %u", x, y,
			    dst[y * 20 + x]);
		}
}

Test(vnc_scale, no_screen_is_background)
{
	uint32_t	dst[8 * 8];
	struct vnc_rect	r = { 2, 2, 4, 4 };
	int		i;

	memset(dst, 0, sizeof(dst));
	vnc_scale(NULL, 0, 0, 0, dst, 8, &r, 7);
	for (i = 0; i < 64; i++)
		cr_assert_eq(dst[i], (i / 8 >= 2 && i / 8 < 6 && i % 8 >= 2 &&
		    i % 8 < 6) ? 7u : 0u, "pixel %d", i);
}

/* Only what differs is copied and reported: a blinking cursor's pixels. */
Test(vnc_blit, only_the_changed_box)
{
	uint32_t	dst[10 * 10], src[4 * 3];
	struct vnc_rect	r = { 3, 2, 4, 3 }, ch;
	int		i;

	memset(dst, 0, sizeof(dst));
	memset(src, 0, sizeof(src));
	cr_expect_eq(vnc_blit_diff(dst, 10, &r, src, &ch), 0, "nothing new");
	src[1 * 4 + 2] = 7;		/* tile (2,1): wall (5,3) */
	src[2 * 4 + 1] = 8;		/* tile (1,2): wall (4,4) */
	cr_assert_eq(vnc_blit_diff(dst, 10, &r, src, &ch), 1);
	cr_expect(ch.x == 4 && ch.y == 3 && ch.w == 2 && ch.h == 2,
	    "box %d,%d %dx%d", ch.x, ch.y, ch.w, ch.h);
	cr_expect_eq(dst[3 * 10 + 5], 7u);
	cr_expect_eq(dst[4 * 10 + 4], 8u);
	for (i = 0; i < 100; i++)
		if (i != 35 && i != 44)
			cr_expect_eq(dst[i], 0u, "pixel %d", i);
	cr_expect_eq(vnc_blit_diff(dst, 10, &r, src, &ch), 0, "same again");
}

Test(vnc_font, has_ascii)
{
	rfbFontDataPtr	f = vnc_font();

	cr_assert_not_null(f);
	cr_expect_eq(f->metaData['A' * 5 + 1], 8);
	cr_expect_eq(f->metaData['A' * 5 + 2], 16);
	cr_expect_eq(f->metaData[200 * 5 + 1], 0, "not ASCII: no glyph");
	/* 'A' has ink, ' ' none. */
	cr_expect_neq(memcmp(f->data + f->metaData['A' * 5],
	    f->data + f->metaData[' ' * 5], 16), 0);
}

/* --- authentication ----------------------------------------------------------------- */

static void
respond(const unsigned char *challenge, const char *pw, unsigned char *out)
{
	char	key[9];

	memcpy(out, challenge, CHALLENGESIZE);
	snprintf(key, sizeof(key), "%s", pw);
	rfbEncryptBytes(out, key);
}

Test(vnc_auth, the_match_says_who)
{
	unsigned char	ch[CHALLENGESIZE], resp[CHALLENGESIZE];
	const char	*pw[] = { "Teach3r!", "annpass1", NULL, "", "benpass2" };
	int		i;

	for (i = 0; i < CHALLENGESIZE; i++)
		ch[i] = (unsigned char)(i * 37 + 11);
	respond(ch, "Teach3r!", resp);
	cr_expect_eq(vnc_auth_match(ch, resp, sizeof(resp), pw, 5), 0);
	respond(ch, "annpass1", resp);
	cr_expect_eq(vnc_auth_match(ch, resp, sizeof(resp), pw, 5), 1);
	respond(ch, "benpass2", resp);
	cr_expect_eq(vnc_auth_match(ch, resp, sizeof(resp), pw, 5), 4);
	respond(ch, "wrongpw!", resp);
	cr_expect_eq(vnc_auth_match(ch, resp, sizeof(resp), pw, 5), -1);
	/* An empty password is nobody's, even if a viewer sends one. */
	respond(ch, "", resp);
	cr_expect_eq(vnc_auth_match(ch, resp, sizeof(resp), pw, 5), -1);
	/* A short response is no match. */
	respond(ch, "annpass1", resp);
	cr_expect_eq(vnc_auth_match(ch, resp, 8, pw, 5), -1);
}

/* DES keys on 8 characters: a longer password is its first 8. */
Test(vnc_auth, eight_characters)
{
	unsigned char	ch[CHALLENGESIZE] = { 1, 2, 3 }, resp[CHALLENGESIZE];
	const char	*pw[] = { "abcdefgh" };

	respond(ch, "abcdefghXYZ", resp);
	cr_expect_eq(vnc_auth_match(ch, resp, sizeof(resp), pw, 1), 0);
}

/* Another challenge, another response: a replay does not match. */
Test(vnc_auth, replay)
{
	unsigned char	a[CHALLENGESIZE] = { 1 }, b[CHALLENGESIZE] = { 2 };
	unsigned char	resp[CHALLENGESIZE];
	const char	*pw[] = { "annpass1" };

	respond(a, "annpass1", resp);
	cr_expect_eq(vnc_auth_match(b, resp, sizeof(resp), pw, 1), -1);
}

/* --- the rate limit ---------------------------------------------------------------------- */

Test(vnc_rate, free_tries_then_one_a_pause)
{
	struct vnc_rate	*r = calloc(1, sizeof(*r));
	uint32_t	 a = 0x7f000001, b = 0x7f000002;
	int64_t		 t = 1000000;
	int		 i;

	for (i = 0; i < VNC_RATE_FREE; i++) {
		cr_expect(vnc_rate_allowed(r, a, t), "try %d", i);
		vnc_rate_failed(r, a, t);
	}
	cr_expect_not(vnc_rate_allowed(r, a, t), "after the free tries");
	cr_expect_not(vnc_rate_allowed(r, a, t + VNC_RATE_MS - 1));
	cr_expect(vnc_rate_allowed(r, b, t), "another address is not held");
	cr_expect(vnc_rate_allowed(r, a, t + VNC_RATE_MS));
	/* Wrong again: another pause. */
	vnc_rate_failed(r, a, t + VNC_RATE_MS);
	cr_expect_not(vnc_rate_allowed(r, a, t + VNC_RATE_MS + 1));
	/* The right password forgets the address. */
	vnc_rate_passed(r, a);
	cr_expect(vnc_rate_allowed(r, a, t + VNC_RATE_MS + 1));
	free(r);
}

/* More addresses than slots: the stalest is forgotten, never a crash. */
Test(vnc_rate, many_addresses)
{
	struct vnc_rate	*r = calloc(1, sizeof(*r));
	uint32_t	 i;
	int		 k;

	for (i = 0; i < 3 * VNC_RATE_SLOTS; i++)
		for (k = 0; k < VNC_RATE_FREE; k++)
			vnc_rate_failed(r, 0x0a000000 + i, 1000 + i);
	/* The newest addresses are held, the oldest were forgotten. */
	cr_expect_not(vnc_rate_allowed(r, 0x0a000000 + 3 * VNC_RATE_SLOTS - 1,
	    1000 + 3 * VNC_RATE_SLOTS));
	cr_expect(vnc_rate_allowed(r, 0x0a000000, 1000 + 3 * VNC_RATE_SLOTS));
	free(r);
}
