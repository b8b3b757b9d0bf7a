/* SPDX-License-Identifier: ISC */
/*
 * vnc_view.c - what one authenticated VNC client sees.
 *
 * libvncserver serves one framebuffer a screen (rfbScreenInfo) to all of
 * that screen's clients, and the wall, an instructor's zoomed VM and each
 * student's VM are different pictures: so every client that passed the
 * lobby (vnc_server.c) gets a screen of its own, without a listening
 * socket, and the client is moved onto it before the ServerInit message
 * tells it the framebuffer's size.
 *
 * The wall: the running VMs of one course, a tile each under a label
 * "VM  student", redrawn once a second, and only the tiles whose screen
 * changed (the VM connection's gen) are marked modified, so a viewer of
 * an unchanged class is sent nothing.  Tab and Shift+Tab switch course,
 * the arrows move the selection, Enter (or a click on the selected tile)
 * zooms: the framebuffer becomes the VM's, keyboard and pointer go to the
 * VM; Esc goes back (Shift+Esc sends Esc to the VM).  A VM without QEMU
 * (stopped, suspended) shows a labelled placeholder.
 *
 * A student's view is their VM's screen, always zoomed, with no key of
 * labd's own: they cannot leave it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rfb/rfb.h>
#include <rfb/keysym.h>
#include <rfb/rfbregion.h>

#include "labd/vnc.h"

#define RGB(r, g, b)	((uint32_t)(r) | (uint32_t)(g) << 8 | (uint32_t)(b) << 16)
#define C_BG		RGB(0x20, 0x22, 0x28)
#define C_HEADER	RGB(0x30, 0x50, 0x80)
#define C_LABEL		RGB(0x40, 0x44, 0x4c)
#define C_SELECTED	RGB(0xd0, 0x90, 0x20)
#define C_TEXT		RGB(0xf0, 0xf0, 0xf0)
#define C_OFF		RGB(0x10, 0x10, 0x10)
#define C_DIM		RGB(0x90, 0x90, 0x90)
#define PLACE_W		640	/* a VM without a screen */
#define PLACE_H		400
#define WALL_MS		1000
#define BAND		16	/* rows compared at once in a zoomed view */

struct tile {
	char		vm[LABD_VMNAMELEN];
	char		state[16];
	unsigned	gen;
	int		sel;
	int		drawn;
};

struct vnc_view {
	struct vnc_world	*w;
	rfbScreenInfoPtr	 screen;
	rfbClientPtr		 cl;		/* NULL once gone */
	int			 instructor;
	char			 title[96];	/* desktopName */
	/* the VM shown full size: the student's, or the instructor's zoom */
	char			 vm[LABD_VMNAMELEN];
	unsigned		 gen;
	int			 placeholder;
	char			 shown_state[16];
	/* the wall */
	char			 course[LABD_NAMELEN];
	int			 sel;
	int			 dirty;		/* redraw it all */
	int64_t			 next_wall;
	struct vnc_grid		 grid;
	struct tile		*tiles;
	int			 ntiles;
	/* keys */
	int			 shift;
	uint32_t		 swallow;	/* its key-up is labd's */
	int			 buttons;
};

static uint32_t *
fb(struct vnc_view *v)
{
	return (uint32_t *)v->screen->frameBuffer;
}

/* A new framebuffer of w x h for the screen and its client. */
static void
resize(struct vnc_view *v, int w, int h)
{
	char	*old = v->screen->frameBuffer;

	if (v->screen->width == w && v->screen->height == h)
		return;
	rfbNewFramebuffer(v->screen, xcalloc((size_t)w * h, 4), w, h, 8, 3,
	    4);
	free(old);
}

static void
text(struct vnc_view *v, const struct vnc_rect *clip, int x, int y,
    const char *s, uint32_t fg, uint32_t bg)
{
	/* rfbDrawString's y is the baseline: the glyph's bottom row. */
	rfbDrawStringWithClip(v->screen, vnc_font(), x, y + VNC_FONT_H - 1, s,
	    clip->x, clip->y, clip->x + clip->w, clip->y + clip->h, fg, bg);
}

/* --- the wall ---------------------------------------------------------------- */

/* The courses in the loop's order (it sends VMs sorted by course). */
static int
course_next(struct vnc_world *w, const char *cur, int step, char *out,
    size_t outlen)
{
	const char	*names[VNC_MAXVMS];
	int		 n = 0, i, at = 0;

	for (i = 0; i < w->nvms; i++)
		if (n == 0 || strcmp(names[n - 1], w->vms[i].course) != 0)
			names[n++] = w->vms[i].course;
	if (n == 0) {
		out[0] = '\0';
		return 0;
	}
	for (i = 0; i < n; i++)
		if (strcmp(names[i], cur) == 0)
			at = i;
	at = ((at + step) % n + n) % n;
	snprintf(out, outlen, "%s", names[at]);
	return n;
}

/* The VMs of the course shown, into v->tiles' names. */
static int
wall_members(struct vnc_view *v, char (*names)[LABD_VMNAMELEN], int max)
{
	int	i, n = 0;

	for (i = 0; i < v->w->nvms && n < max; i++)
		if (strcmp(v->w->vms[i].course, v->course) == 0)
			snprintf(names[n++], LABD_VMNAMELEN, "%s",
			    v->w->vms[i].name);
	return n;
}

static void
wall_header(struct vnc_view *v, int ncourses)
{
	struct vnc_rect	r = { 0, 0, VNC_WALL_W, VNC_HEADER_H };
	char		line[256];

	vnc_fill(fb(v), v->screen->width, &r, C_HEADER);
	if (ncourses == 0)
		snprintf(line, sizeof(line), "labd: no VMs");
	else
		snprintf(line, sizeof(line), "course %s   Tab: next of %d"
		    " courses   arrows: select   Enter: zoom   Esc: back",
		    v->course, ncourses);
	text(v, &r, 6, 4, line, C_TEXT, C_HEADER);
	rfbMarkRectAsModified(v->screen, 0, 0, r.w, r.h);
}

static void
wall_label(struct vnc_view *v, int i, struct vnc_vminfo *info)
{
	struct vnc_rect	 label, scr;
	uint32_t	 bg = v->tiles[i].sel ? C_SELECTED : C_LABEL;
	char		 line[128];

	vnc_grid_tile(&v->grid, i, &label, &scr);
	vnc_fill(fb(v), v->screen->width, &label, bg);
	snprintf(line, sizeof(line), "%s  %s", info->name, info->student);
	text(v, &label, label.x + 4, label.y + 1, line, C_TEXT, bg);
	rfbMarkRectAsModified(v->screen, label.x, label.y, label.x + label.w,
	    label.y + label.h);
}

/*
 * The VM's screen scaled into its tile.  Only the pixels that changed
 * are marked: a blinking cursor costs its few pixels, not the tile.
 */
static void
wall_screen(struct vnc_view *v, int i, struct vnc_vminfo *info,
    struct vnc_vm *conn)
{
	struct vnc_rect	 label, scr, all, changed;
	const uint32_t	*px = conn != NULL ? vnc_vm_pixels(conn) : NULL;
	uint32_t	*tile;
	char		 line[64];

	vnc_grid_tile(&v->grid, i, &label, &scr);
	if (scr.w <= 0 || scr.h <= 0)
		return;
	if (px == NULL || conn->w <= 0) {
		vnc_fill(fb(v), v->screen->width, &scr, C_OFF);
		snprintf(line, sizeof(line), "%s", info->screen ?
		    "connecting..." : info->state);
		text(v, &scr, scr.x + (scr.w - (int)strlen(line) *
		    VNC_FONT_W) / 2, scr.y + (scr.h - VNC_FONT_H) / 2, line,
		    C_DIM, C_OFF);
		rfbMarkRectAsModified(v->screen, scr.x, scr.y, scr.x + scr.w,
		    scr.y + scr.h);
		return;
	}
	tile = xcalloc((size_t)scr.w * scr.h, 4);
	all.x = all.y = 0;
	all.w = scr.w;
	all.h = scr.h;
	vnc_scale(px, conn->w, conn->h, conn->w, tile, scr.w, &all, C_OFF);
	if (vnc_blit_diff(fb(v), v->screen->width, &scr, tile, &changed))
		rfbMarkRectAsModified(v->screen, changed.x, changed.y,
		    changed.x + changed.w, changed.y + changed.h);
	free(tile);
}

static void
wall_draw(struct vnc_view *v)
{
	char		 names[VNC_MAXVMS][LABD_VMNAMELEN];
	char		 course[LABD_NAMELEN];
	struct vnc_rect	 all = { 0, 0, VNC_WALL_W, VNC_WALL_H };
	struct vnc_vminfo *info;
	struct vnc_vm	*conn;
	struct tile	*t;
	int		 n, i, ncourses, full = v->dirty;

	ncourses = course_next(v->w, v->course, 0, course, sizeof(course));
	if (strcmp(course, v->course) != 0) {
		snprintf(v->course, sizeof(v->course), "%s", course);
		full = 1;
	}
	n = wall_members(v, names, VNC_MAXVMS);
	if (n != v->ntiles)
		full = 1;
	for (i = 0; i < n && !full; i++)
		full = strcmp(names[i], v->tiles[i].vm) != 0;
	if (full) {
		free(v->tiles);
		v->tiles = xcalloc(n ? n : 1, sizeof(*v->tiles));
		v->ntiles = n;
		for (i = 0; i < n; i++)
			snprintf(v->tiles[i].vm, sizeof(v->tiles[i].vm), "%s",
			    names[i]);
		vnc_grid_make(&v->grid, n, VNC_WALL_W, VNC_WALL_H);
		vnc_fill(fb(v), VNC_WALL_W, &all, C_BG);
		rfbMarkRectAsModified(v->screen, 0, 0, all.w, all.h);
		wall_header(v, ncourses);
		v->dirty = 0;
	}
	if (v->sel >= n)
		v->sel = n > 0 ? n - 1 : 0;
	for (i = 0; i < n; i++) {
		t = &v->tiles[i];
		if ((info = vnc_world_find(v->w, t->vm)) == NULL)
			continue;
		conn = info->screen ? vnc_world_screen(v->w, t->vm) : NULL;
		/* Only what changed: the selection, the state, the screen. */
		if (!t->drawn || t->sel != (i == v->sel)) {
			t->sel = i == v->sel;
			wall_label(v, i, info);
		}
		if (!t->drawn || strcmp(t->state, info->state) != 0 ||
		    (conn != NULL && conn->gen != t->gen) ||
		    (conn == NULL) != (t->gen == 0)) {
			snprintf(t->state, sizeof(t->state), "%s",
			    info->state);
			t->gen = conn != NULL ? conn->gen : 0;
			wall_screen(v, i, info, conn);
		}
		t->drawn = 1;
	}
}

/* --- one VM full size ---------------------------------------------------------- */

static void
zoom_placeholder(struct vnc_view *v, struct vnc_vminfo *info)
{
	struct vnc_rect	all = { 0, 0, PLACE_W, PLACE_H };
	char		line[160];

	resize(v, PLACE_W, PLACE_H);
	vnc_fill(fb(v), PLACE_W, &all, C_OFF);
	snprintf(line, sizeof(line), "%s: %s", v->vm, info == NULL ?
	    "gone" : info->screen ? "connecting..." : info->state);
	text(v, &all, (PLACE_W - (int)strlen(line) * VNC_FONT_W) / 2,
	    PLACE_H / 2 - VNC_FONT_H, line, C_TEXT, C_OFF);
	rfbMarkRectAsModified(v->screen, 0, 0, PLACE_W, PLACE_H);
	v->placeholder = 1;
	snprintf(v->shown_state, sizeof(v->shown_state), "%s", info == NULL ?
	    "gone" : info->state);
}

static void
zoom_draw(struct vnc_view *v)
{
	struct vnc_vminfo *info = vnc_world_find(v->w, v->vm);
	struct vnc_vm	*conn = NULL;
	const uint32_t	*px = NULL;
	uint32_t	*dst;
	int		 y, y2, rows, resized = 0;

	if (info != NULL && info->screen)
		conn = vnc_world_screen(v->w, v->vm);
	if (conn != NULL)
		px = vnc_vm_pixels(conn);
	if (px == NULL || conn->w <= 0) {
		if (!v->placeholder || strcmp(v->shown_state, info == NULL ?
		    "gone" : info->state) != 0)
			zoom_placeholder(v, info);
		return;
	}
	if (!v->placeholder && conn->gen == v->gen && !v->dirty)
		return;
	if (v->screen->width != conn->w || v->screen->height != conn->h) {
		resize(v, conn->w, conn->h);
		resized = 1;
	}
	/* Copy, and mark only the bands of rows that differ. */
	dst = fb(v);
	for (y = 0; y < conn->h; y += BAND) {
		rows = conn->h - y < BAND ? conn->h - y : BAND;
		if (!resized && !v->placeholder && !v->dirty &&
		    memcmp(dst + (size_t)y * conn->w, px + (size_t)y * conn->w,
		    (size_t)rows * conn->w * 4) == 0)
			continue;
		for (y2 = y; y2 < y + rows; y2++)
			memcpy(dst + (size_t)y2 * conn->w, px + (size_t)y2 *
			    conn->w, (size_t)conn->w * 4);
		rfbMarkRectAsModified(v->screen, 0, y, conn->w, y + rows);
	}
	v->gen = conn->gen;
	v->placeholder = 0;
	v->dirty = 0;
}

/* --- input ---------------------------------------------------------------------- */

static void
zoom_in(struct vnc_view *v)
{
	if (v->sel < 0 || v->sel >= v->ntiles)
		return;
	snprintf(v->vm, sizeof(v->vm), "%s", v->tiles[v->sel].vm);
	v->placeholder = 0;
	v->dirty = 1;
	v->gen = 0;
	log_info("vnc: the instructor at %s zoomed into %s", v->cl->host,
	    v->vm);
}

static void
zoom_out(struct vnc_view *v)
{
	v->vm[0] = '\0';
	resize(v, VNC_WALL_W, VNC_WALL_H);
	v->dirty = 1;
	v->next_wall = 0;
}

static void
wall_key(struct vnc_view *v, uint32_t key)
{
	char	name[LABD_NAMELEN];
	int	cols = v->grid.cols > 0 ? v->grid.cols : 1, sel = v->sel;

	switch (key) {
	case XK_Tab:
	case XK_ISO_Left_Tab:
		course_next(v->w, v->course, key == XK_ISO_Left_Tab ||
		    v->shift ? -1 : 1, name, sizeof(name));
		snprintf(v->course, sizeof(v->course), "%s", name);
		v->sel = 0;
		v->dirty = 1;
		break;
	case XK_Left:
		sel--;
		break;
	case XK_Right:
		sel++;
		break;
	case XK_Up:
		sel -= cols;
		break;
	case XK_Down:
		sel += cols;
		break;
	case XK_Return:
	case XK_KP_Enter:
		v->swallow = key;
		zoom_in(v);
		return;
	default:
		return;
	}
	if (sel >= 0 && sel < v->ntiles)
		v->sel = sel;
	v->next_wall = 0;
}

static void
on_key(rfbBool down, rfbKeySym key, rfbClientPtr cl)
{
	struct vnc_view	*v = cl->screen->screenData;
	struct vnc_vm	*conn;

	if (key == XK_Shift_L || key == XK_Shift_R)
		v->shift = down;
	if (!down && key == v->swallow) {
		v->swallow = 0;
		return;
	}
	if (v->instructor && v->vm[0] == '\0') {
		if (down)
			wall_key(v, key);
		return;
	}
	if (v->instructor && down && key == XK_Escape && !v->shift) {
		v->swallow = key;
		zoom_out(v);
		return;
	}
	if ((conn = vnc_world_screen(v->w, v->vm)) != NULL &&
	    !v->placeholder)
		vnc_vm_key(conn, key, down);
}

static void
on_pointer(int buttons, int x, int y, rfbClientPtr cl)
{
	struct vnc_view	*v = cl->screen->screenData;
	struct vnc_vm	*conn;
	int		 i, pressed = buttons & ~v->buttons;

	v->buttons = buttons;
	if (v->instructor && v->vm[0] == '\0') {
		if (!(pressed & 1) || (i = vnc_grid_at(&v->grid, x, y)) == -1)
			return;
		if (i == v->sel)
			zoom_in(v);
		else
			v->sel = i;
		v->next_wall = 0;
		return;
	}
	if ((conn = vnc_world_screen(v->w, v->vm)) != NULL &&
	    !v->placeholder)
		vnc_vm_pointer(conn, x, y, buttons);
}

static void
on_gone(rfbClientPtr cl)
{
	struct vnc_view	*v = cl->screen->screenData;

	free(cl->clientData);
	cl->clientData = NULL;
	if (v != NULL)
		v->cl = NULL;
}

/* --- life ------------------------------------------------------------------------- */

/*
 * The client leaves the lobby's lists and descriptor set for the view's
 * screen.  Safe between two rfbProcessEvents() of the lobby, in the one
 * thread that runs them: nothing iterates either list meanwhile.
 */
static void
client_move(rfbClientPtr cl, rfbScreenInfoPtr to)
{
	rfbScreenInfoPtr	from = cl->screen;

	if (cl->prev != NULL)
		cl->prev->next = cl->next;
	else
		from->clientHead = cl->next;
	if (cl->next != NULL)
		cl->next->prev = cl->prev;
	FD_CLR(cl->sock, &from->allFds);
	from->scaledScreenRefCount--;

	cl->prev = NULL;
	cl->next = to->clientHead;
	if (to->clientHead != NULL)
		to->clientHead->prev = cl;
	to->clientHead = cl;
	FD_SET(cl->sock, &to->allFds);
	if (cl->sock > to->maxFd)
		to->maxFd = cl->sock;
	cl->screen = cl->scaledScreen = to;
	to->scaledScreenRefCount++;
	sraRgnDestroy(cl->modifiedRegion);
	cl->modifiedRegion = sraRgnCreateRect(0, 0, to->width, to->height);
	cl->format = to->serverFormat;
}

struct vnc_view *
vnc_view_new(struct vnc_world *w, rfbClientPtr cl, const char *vm)
{
	struct vnc_view	*v = xcalloc(1, sizeof(*v));
	struct vnc_vm	*conn;
	int		 argc = 1;
	char		*argv[] = { "labd", NULL };
	rfbScreenInfoPtr s;

	v->w = w;
	v->cl = cl;
	v->instructor = vm == NULL;
	v->dirty = 1;
	if (vm != NULL) {
		snprintf(v->vm, sizeof(v->vm), "%s", vm);
		snprintf(v->title, sizeof(v->title), "labd: %s", vm);
	} else
		snprintf(v->title, sizeof(v->title), "labd: the wall");
	s = rfbGetScreen(&argc, argv, v->instructor ? VNC_WALL_W : PLACE_W,
	    v->instructor ? VNC_WALL_H : PLACE_H, 8, 3, 4);
	if (s == NULL)
		fatalx("vnc: out of memory");
	s->frameBuffer = xcalloc((size_t)s->width * s->height, 4);
	/* No socket of its own: the lobby accepted the client. */
	s->port = s->ipv6port = 0;
	s->autoPort = FALSE;
	s->httpPort = s->http6Port = 0;
	s->alwaysShared = TRUE;
	s->desktopName = v->title;
	s->screenData = v;
	s->kbdAddEvent = on_key;
	s->ptrAddEvent = on_pointer;
	s->deferUpdateTime = 5;
	rfbInitServer(s);
	v->screen = s;
	client_move(cl, s);
	cl->clientGoneHook = on_gone;
	/*
	 * The size the client is told in ServerInit is the VM's already:
	 * not every viewer follows a change of size.  QEMU is local, its
	 * handshake quick.
	 */
	if (!v->instructor) {
		if ((conn = vnc_world_screen(w, v->vm)) != NULL &&
		    conn->client == NULL)
			vnc_vm_tick(conn, now_ms());
		zoom_draw(v);
	}
	return v;
}

int
vnc_view_tick(struct vnc_view *v, int64_t now)
{
	if (v->cl != NULL) {
		if (v->instructor && v->vm[0] == '\0') {
			if (now >= v->next_wall || v->dirty) {
				wall_draw(v);
				v->next_wall = now + WALL_MS;
			}
		} else
			zoom_draw(v);
	}
	rfbProcessEvents(v->screen, 0);
	return v->cl != NULL ? 0 : -1;
}

void
vnc_view_needs(struct vnc_view *v)
{
	struct vnc_vm	*conn;
	int		 i;

	if (v->vm[0] != '\0') {
		if ((conn = vnc_world_screen(v->w, v->vm)) != NULL)
			conn->need = conn->fast = 1;
		return;
	}
	for (i = 0; i < v->ntiles; i++)
		if ((conn = vnc_world_screen(v->w, v->tiles[i].vm)) != NULL)
			conn->need = 1;
}

int
vnc_view_fd(const struct vnc_view *v)
{
	return v->cl != NULL ? v->cl->sock : -1;
}

void
vnc_view_free(struct vnc_view *v)
{
	char	*pixels;

	if (v->cl != NULL)
		v->cl->screen->screenData = NULL;
	v->screen->screenData = NULL;
	pixels = v->screen->frameBuffer;
	rfbScreenCleanup(v->screen);
	free(pixels);
	free(v->tiles);
	free(v);
}
