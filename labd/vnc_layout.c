/* SPDX-License-Identifier: ISC */
/*
 * vnc_layout.c - the wall's geometry: a grid of tiles under a header,
 * each tile a label bar (VM and student) over the VM's screen scaled
 * down with its aspect kept; and the font the labels are drawn in
 * (rfbDrawString's format, from a console font at build time: see
 * vnc_font.py).  Pure functions of their arguments: tests/unit/test_vnc.c.
 */
#include <string.h>

#include <rfb/rfb.h>

#include "labd/vnc.h"
#include "vnc_font.h"		/* made in the build folder */

#define GAP	4		/* pixels between tiles */

void
vnc_grid_make(struct vnc_grid *g, int n, int w, int h)
{
	int	cols = 1;

	memset(g, 0, sizeof(*g));
	g->n = n;
	g->top = VNC_HEADER_H;
	if (n <= 0)
		return;
	/* The fewest columns whose square-ish rows hold them all. */
	while (cols * cols < n)
		cols++;
	g->cols = cols;
	g->rows = (n + cols - 1) / cols;
	g->cell_w = w / g->cols;
	g->cell_h = (h - g->top) / g->rows;
}

void
vnc_grid_tile(const struct vnc_grid *g, int i, struct vnc_rect *label,
    struct vnc_rect *screen)
{
	int	x, y;

	memset(label, 0, sizeof(*label));
	memset(screen, 0, sizeof(*screen));
	if (i < 0 || i >= g->n || g->cols == 0)
		return;
	x = (i % g->cols) * g->cell_w;
	y = g->top + (i / g->cols) * g->cell_h;
	label->x = screen->x = x + GAP / 2;
	label->y = y + GAP / 2;
	label->w = screen->w = g->cell_w - GAP;
	label->h = VNC_LABEL_H;
	screen->y = label->y + VNC_LABEL_H;
	screen->h = g->cell_h - GAP - VNC_LABEL_H;
	if (screen->h < 0)
		screen->h = 0;
	if (label->w < 0)
		label->w = screen->w = 0;
}

int
vnc_grid_at(const struct vnc_grid *g, int x, int y)
{
	int	c, r, i;

	if (g->cols == 0 || x < 0 || y < g->top || g->cell_w <= 0 ||
	    g->cell_h <= 0)
		return -1;
	c = x / g->cell_w;
	r = (y - g->top) / g->cell_h;
	if (c >= g->cols || r >= g->rows)
		return -1;
	i = r * g->cols + c;
	return i < g->n ? i : -1;
}

void
vnc_fill(uint32_t *dst, int dstride, const struct vnc_rect *r,
    uint32_t colour)
{
	int	x, y;

	for (y = r->y; y < r->y + r->h; y++)
		for (x = r->x; x < r->x + r->w; x++)
			dst[y * dstride + x] = colour;
}

void
vnc_scale(const uint32_t *src, int sw, int sh, int sstride, uint32_t *dst,
    int dstride, const struct vnc_rect *r, uint32_t bg)
{
	struct vnc_rect	in;
	int		x, y, sx, sy;

	vnc_fill(dst, dstride, r, bg);
	if (src == NULL || sw <= 0 || sh <= 0 || r->w <= 0 || r->h <= 0)
		return;
	/* The largest w x h of sw:sh that fits r, centred. */
	in.w = r->w;
	in.h = (int)((long long)sh * r->w / sw);
	if (in.h > r->h) {
		in.h = r->h;
		in.w = (int)((long long)sw * r->h / sh);
	}
	in.x = r->x + (r->w - in.w) / 2;
	in.y = r->y + (r->h - in.h) / 2;
	for (y = 0; y < in.h; y++) {
		sy = (int)((long long)y * sh / in.h);
		for (x = 0; x < in.w; x++) {
			sx = (int)((long long)x * sw / in.w);
			dst[(in.y + y) * dstride + in.x + x] =
			    src[sy * sstride + sx];
		}
	}
}

int
vnc_blit_diff(uint32_t *dst, int dstride, const struct vnc_rect *r,
    const uint32_t *src, struct vnc_rect *changed)
{
	uint32_t	*d;
	const uint32_t	*s;
	int		 x0 = r->w, x1 = -1, y0 = r->h, y1 = -1, x, y, a, b;

	for (y = 0; y < r->h; y++) {
		d = dst + (size_t)(r->y + y) * dstride + r->x;
		s = src + (size_t)y * r->w;
		if (memcmp(d, s, (size_t)r->w * 4) == 0)
			continue;
		for (a = 0; a < r->w && d[a] == s[a]; a++)
			;
		for (b = r->w - 1; b > a && d[b] == s[b]; b--)
			;
		if (a < x0)
			x0 = a;
		if (b > x1)
			x1 = b;
		if (y < y0)
			y0 = y;
		y1 = y;
		for (x = a; x <= b; x++)
			d[x] = s[x];
	}
	if (y1 < 0)
		return 0;
	changed->x = r->x + x0;
	changed->y = r->y + y0;
	changed->w = x1 - x0 + 1;
	changed->h = y1 - y0 + 1;
	return 1;
}

rfbFontDataPtr
vnc_font(void)
{
	static rfbFontData	font;
	static int		meta[256 * 5];
	int			c;

	if (font.data != NULL)
		return &font;
	/*
	 * rfbDrawChar() draws a glyph from (x, y - height + 1 - meta y):
	 * y is the baseline, the bottom row.  Characters outside ASCII
	 * have no width and draw nothing.
	 */
	for (c = 32; c < 127; c++) {
		meta[c * 5] = (c - 32) * VNC_FONT_H;
		meta[c * 5 + 1] = VNC_FONT_W;
		meta[c * 5 + 2] = VNC_FONT_H;
	}
	font.metaData = meta;
	font.data = (unsigned char *)vnc_glyphs;
	return &font;
}
