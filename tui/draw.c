/* SPDX-License-Identifier: ISC */
/*
 * draw.c - the screen, built from panels (htop's idea): the header
 * (labd, the host's meters), the table of VMs, the footer (a prompt, the
 * progress of an action, or its result) and the key bar.  The detail and
 * help panels take the table's place; the snapshot picker sits over it.
 * The event log pane (e) takes the lower third of the table's place.
 *
 * Every panel writes whole lines into ncurses' virtual screen, and one
 * refresh() sends the cells that changed: no clear() (a full repaint) but
 * after a resize or the console, so nothing flickers.  The table draws
 * only the rows that are visible, whatever the number of VMs.
 *
 * Colour is optional: without has_colors(), or with NO_COLOR set, the
 * same meanings are drawn with bold, dim and reverse.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curses.h>

#include "tui/labtui.h"

#define HEADER_LINES	3	/* two lines of header, the column titles */
#define FOOTER_LINES	2	/* the message or prompt line, the key bar */
#define MARK_W		2	/* "* " before a marked row */

struct panel {
	const char	*name;
	int		 modes;		/* where it is drawn */
	void		(*draw)(struct tui *, int y, int h);
};

static void	panel_header(struct tui *, int, int);
static void	panel_table(struct tui *, int, int);
static void	panel_detail(struct tui *, int, int);
static void	panel_help(struct tui *, int, int);
static void	panel_log(struct tui *, int, int);
static void	panel_footer(struct tui *, int, int);

/*
 * Top to bottom; h 0: the lines that the others leave; LOG_H: as many as
 * draw_log_lines() says (0: not drawn).
 */
#define LOG_H	(-1)
static const struct {
	struct panel	 p;
	int		 h;
} layout[] = {
	{ { "header", MODE_TABLE | MODE_DETAIL | MODE_HELP, panel_header }, 2 },
	{ { "table", MODE_TABLE, panel_table }, 0 },
	{ { "log", MODE_TABLE, panel_log }, LOG_H },
	{ { "detail", MODE_DETAIL, panel_detail }, 0 },
	{ { "help", MODE_HELP, panel_help }, 0 },
	{ { "footer", MODE_TABLE | MODE_DETAIL | MODE_HELP, panel_footer },
	    FOOTER_LINES },
};

void
draw_init_colors(struct tui *t)
{
	const char	*nc = getenv("NO_COLOR");
	short		 bg = -1;

	t->color = has_colors() && (nc == NULL || *nc == '\0');
	if (!t->color)
		return;
	start_color();
	if (use_default_colors() == ERR)
		bg = COLOR_BLACK;
	init_pair(CLR_READY, COLOR_GREEN, bg);
	init_pair(CLR_BUSY, COLOR_YELLOW, bg);
	init_pair(CLR_FAILED, COLOR_RED, bg);
	init_pair(CLR_DIM, COLOR_BLUE, bg);
	init_pair(CLR_TITLE, COLOR_BLACK, COLOR_GREEN);
	init_pair(CLR_CURSOR, COLOR_BLACK, COLOR_CYAN);
	init_pair(CLR_MARKED, COLOR_YELLOW, bg);
	init_pair(CLR_BAR, COLOR_GREEN, bg);
}

int
draw_attr(const struct tui *t, enum tui_color c)
{
	static const int	mono[CLR_N] = {
		[CLR_NORMAL] = A_NORMAL,
		[CLR_READY] = A_NORMAL,
		[CLR_BUSY] = A_BOLD,
		[CLR_FAILED] = A_BOLD | A_UNDERLINE,
		[CLR_DIM] = A_DIM,
		[CLR_TITLE] = A_REVERSE,
		[CLR_CURSOR] = A_REVERSE,
		[CLR_MARKED] = A_BOLD,
		[CLR_BAR] = A_BOLD,
	};
	static const int	extra[CLR_N] = {
		[CLR_BUSY] = A_BOLD,
		[CLR_FAILED] = A_BOLD,
		[CLR_DIM] = A_BOLD,
		[CLR_MARKED] = A_BOLD,
	};

	if (!t->color)
		return mono[c];
	if (c == CLR_NORMAL)
		return A_NORMAL;
	return COLOR_PAIR(c) | extra[c];
}

/* s at (y, x), at most w columns; the columns written. */
static int
put(int y, int x, int attr, int w, const char *s)
{
	int	n = (int)strlen(s);

	if (w <= 0 || x >= COLS)
		return 0;
	if (x + w > COLS)
		w = COLS - x;
	if (n > w)
		n = w;
	attrset(attr);
	mvaddnstr(y, x, s, n);
	attrset(A_NORMAL);
	return n;
}

static int
putf(int y, int x, int attr, int w, const char *fmt, ...)
	__attribute__((__format__(__printf__, 5, 6)));

static int
putf(int y, int x, int attr, int w, const char *fmt, ...)
{
	char	buf[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return put(y, x, attr, w, buf);
}

/* A whole line in one attribute (a title bar). */
static void
fill(int y, int attr)
{
	attrset(attr);
	mvhline(y, 0, ' ', COLS);
	attrset(A_NORMAL);
}

static void
blank(int y)
{
	move(y, 0);
	clrtoeol();
}

/* The event log pane's lines, its title included; 0 when not shown. */
int
draw_log_lines(const struct tui *t)
{
	int	h = LINES / 3;

	if (t == NULL || !t->show_log || t->mode != MODE_TABLE ||
	    LINES < TUI_LOG_MINLINES)
		return 0;
	return h < 4 ? 4 : h;
}

/* The rows of VMs (or of the detail, the help) that fit. */
int
draw_table_rows(const struct tui *t)
{
	int	h = LINES - 2 - 1 - FOOTER_LINES - draw_log_lines(t);

	return h > 0 ? h : 0;
}

/* htop's meter: [|||||     text] in w columns. */
static int
meter(const struct tui *t, int y, int x, int w, double frac, const char *text)
{
	int	inner = w - 2, k, tl = (int)strlen(text), i;

	if (inner < 1)
		return 0;
	if (frac < 0)
		frac = 0;
	if (frac > 1)
		frac = 1;
	k = (int)(frac * inner + 0.5);
	put(y, x, A_BOLD, 1, "[");
	attrset(draw_attr(t, CLR_BAR));
	for (i = 0; i < inner; i++)
		mvaddch(y, x + 1 + i, i < k ? '|' : ' ');
	attrset(A_NORMAL);
	if (tl <= inner)
		put(y, x + 1 + inner - tl, A_NORMAL, tl, text);
	put(y, x + w - 1, A_BOLD, 1, "]");
	return w;
}

static void
panel_header(struct tui *t, int y, int h)
{
	char		 up[32], clock[16], mem[64], a[32], b[32], ksm[32];
	char		 lim[64];
	size_t		 i, running = 0, queued = 0;
	time_t		 now = time(NULL);
	struct tm	 tm;
	int		 x, w;
	const struct host *hs = &t->host;
	json_t		*warn, *vnc, *lmode;

	blank(y);
	blank(y + 1);
	localtime_r(&now, &tm);
	strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	for (i = 0; i < t->nrows; i++)
		if (strcmp(t->rows[i]->state, "ready") == 0 ||
		    strcmp(t->rows[i]->state, "booting") == 0)
			running++;
		else if (strcmp(t->rows[i]->state, "queued") == 0)
			queued++;
	x = 0;
	if (t->replay != NULL)
		x += put(y, x, A_BOLD, COLS - 10, "replay | ");
	if (!t->connected) {
		x += putf(y, x, draw_attr(t, CLR_FAILED), COLS - 10 - x,
		    "labd: %s, retrying (%s)", t->status ? "connection lost" :
		    "not connected", t->conn_err);
	} else if (t->status != NULL) {
		fmt_duration(jint(t->status, "uptime") + (long long)(now_s() -
		    t->status_at), up, sizeof(up));
		x += putf(y, x, A_BOLD, COLS - 10 - x, "labd %s",
		    jstr(t->status, "version"));
		x += putf(y, x, A_NORMAL, COLS - 10 - x, " | %s | VMs %zu/%zu"
		    " running | up %s", *jstr(t->status, "accel") ?
		    jstr(t->status, "accel") : "?", running, t->nrows, up);
		/* A class coming up: how many still wait for a boot slot. */
		if (queued > 0)
			x += putf(y, x, A_NORMAL, COLS - 10 - x, ", %zu queued",
			    queued);
	} else
		x += put(y, x, A_NORMAL, COLS - 10 - x, "labd: connecting...");
	x += putf(y, x, A_NORMAL, COLS - 10 - x, " | course: %s",
	    *t->course ? t->course : "all");
	/* Where the wall and the students' screens are, when [vnc] is on. */
	vnc = json_object_get(t->status, "vnc");
	if (t->connected && json_is_object(vnc))
		x += putf(y, x, A_NORMAL, COLS - 10 - x, " | VNC %s:%lld",
		    jstr(vnc, "host"), jint(vnc, "port"));
	if (*t->filter)
		x += putf(y, x, draw_attr(t, CLR_MARKED), COLS - 10 - x,
		    " | filter \"%s\"", t->filter);
	/*
	 * What the per-VM limits are set in, the mode's first words
	 * ("cgroup v1", "cgroup v2", "none"), last as it changes least:
	 * without them one student's busy loop can starve the class.
	 */
	lmode = json_object_get(json_object_get(t->status, "limits"), "mode");
	if (t->connected && json_is_string(lmode)) {
		snprintf(lim, sizeof(lim), "%s", json_string_value(lmode));
		lim[strcspn(lim, "(")] = '\0';
		while (*lim != '\0' && lim[strlen(lim) - 1] == ' ')
			lim[strlen(lim) - 1] = '\0';
		putf(y, x, strncmp(lim, "none", 4) == 0 ?
		    draw_attr(t, CLR_FAILED) : (int)A_NORMAL, COLS - 10 - x,
		    " | limits %s", lim);
	}
	if (COLS >= 40)
		put(y, COLS - 8, A_NORMAL, 8, clock);
	if (h < 2)
		return;
	/* The host's meters share the line; KSM only when it saves. */
	w = COLS >= 100 ? 30 : (COLS - 10) / 2 - 4;
	if (w > 30)
		w = 30;
	x = put(y + 1, 0, A_BOLD, 4, "CPU ");
	snprintf(a, sizeof(a), "%.1f%%", hs->cpu);
	x += meter(t, y + 1, x, w, hs->cpu / 100.0, a);
	x += put(y + 1, x, A_BOLD, 6, "  Mem ");
	fmt_kb(hs->mem_total_kb - hs->mem_avail_kb, a, sizeof(a));
	fmt_kb(hs->mem_total_kb, b, sizeof(b));
	snprintf(mem, sizeof(mem), "%s/%s", a, b);
	x += meter(t, y + 1, x, w, hs->mem_total_kb > 0 ?
	    (double)(hs->mem_total_kb - hs->mem_avail_kb) / hs->mem_total_kb :
	    0, mem);
	if (hs->ksm_saved_kb > 0) {
		fmt_kb(hs->ksm_saved_kb, ksm, sizeof(ksm));
		x += putf(y + 1, x, A_NORMAL, COLS - x, "  KSM saved %s", ksm);
	}
	/* labd's word on memory or disk below its reserve. */
	warn = json_array_get(json_object_get(json_object_get(t->status,
	    "host"), "warnings"), 0);
	if (json_is_string(warn) && x + 4 < COLS)
		putf(y + 1, x, draw_attr(t, CLR_FAILED), COLS - x, "  %s",
		    json_string_value(warn));
}

/* Which columns fit, and how wide: shrink the least wanted, then drop. */
struct layout_cols {
	int	n;
	int	id[COL_N];
	int	w[COL_N];
};

static int
clamp(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void
layout_columns(const struct tui *t, struct layout_cols *lc)
{
	int	want[COL_N], on[COL_N], total, i, best;

	for (i = 0; i < COL_N; i++) {
		want[i] = columns[i].width;
		on[i] = i != COL_CONN || t->has_conn;
	}
	/* as wide as the view's widest (model_view), within reason */
	want[COL_NAME] = clamp(t->widest[COL_NAME], 8, 32);
	want[COL_STUDENT] = clamp(t->widest[COL_STUDENT], 7, 16);
	want[COL_SNAPSHOT] = clamp(t->widest[COL_SNAPSHOT], 8, 20);
	for (;;) {
		total = MARK_W - 1;
		for (i = 0; i < COL_N; i++)
			if (on[i])
				total += want[i] + 1;
		if (total <= COLS)
			break;
		/* shrink the column dropped first that still can */
		best = -1;
		for (i = 0; i < COL_N; i++)
			if (on[i] && want[i] > columns[i].min &&
			    (best == -1 || columns[i].prio > columns[best].prio))
				best = i;
		if (best != -1) {
			want[best]--;
			continue;
		}
		for (i = 0; i < COL_N; i++)
			if (on[i] && columns[i].prio > 0 &&
			    (best == -1 || columns[i].prio > columns[best].prio))
				best = i;
		if (best == -1)
			break;
		on[best] = 0;
	}
	lc->n = 0;
	for (i = 0; i < COL_N; i++) {
		if (!on[i])
			continue;
		lc->id[lc->n] = i;
		lc->w[lc->n++] = want[i];
	}
}

static void
cell(int y, int x, int w, int right, int attr, const char *s)
{
	char	buf[256];

	snprintf(buf, sizeof(buf), right ? "%*.*s" : "%-*.*s", w, w, s);
	put(y, x, attr, w, buf);
}

static void
panel_table(struct tui *t, int y, int h)
{
	struct layout_cols	 lc;
	char			 text[256];
	double			 now = now_s();
	int			 rows = h - 1, i, c, x, attr, base;

	layout_columns(t, &lc);
	/* the column titles, the sorted one marked */
	fill(y, draw_attr(t, CLR_TITLE));
	x = MARK_W;
	for (c = 0; c < lc.n; c++) {
		int	id = lc.id[c];

		snprintf(text, sizeof(text), "%s%s", columns[id].title,
		    id == t->sort_col ? (t->sort_rev ? "v" : "^") : "");
		cell(y, x, lc.w[c], columns[id].right, id == t->sort_col ?
		    (int)(draw_attr(t, CLR_CURSOR) | A_BOLD) : draw_attr(t,
		    CLR_TITLE), text);
		x += lc.w[c] + 1;
	}
	/* keep the cursor in sight; fill the screen when scrolled to the end */
	if (rows < 1)
		return;
	if (t->cursor < t->top)
		t->top = t->cursor;
	if (t->cursor >= t->top + rows)
		t->top = t->cursor - rows + 1;
	if (t->top + rows > t->nview)
		t->top = t->nview > (size_t)rows ? t->nview - rows : 0;
	for (i = 0; i < rows; i++) {
		size_t		 k = t->top + i;
		struct vm_row	*r;

		blank(y + 1 + i);
		if (k >= t->nview) {
			if (i == 0)
				putf(y + 1, MARK_W, A_DIM, COLS - MARK_W,
				    "%s%s", t->nrows > 0 ? "no VM matches"
				    " (Esc clears the filter, c changes the"
				    " course)" : t->connected ? "no VMs"
				    " (labctl course create makes some)" :
				    "waiting for labd: ", t->nrows == 0 &&
				    !t->connected ? t->conn_err : "");
			continue;
		}
		r = t->view[k];
		base = k == t->cursor ? draw_attr(t, CLR_CURSOR) :
		    state_color(r->state) == CLR_DIM ? draw_attr(t, CLR_DIM) :
		    (int)A_NORMAL;
		if (k == t->cursor)
			fill(y + 1 + i, base);
		put(y + 1 + i, 0, r->marked ? base | draw_attr(t, CLR_MARKED) :
		    base, MARK_W, r->marked ? "* " : "  ");
		x = MARK_W;
		for (c = 0; c < lc.n; c++) {
			int	id = lc.id[c];

			columns[id].fmt(r, now, text, sizeof(text));
			attr = base;
			if (k != t->cursor && id == COL_STATE)
				attr = draw_attr(t, state_color(r->state));
			if (k != t->cursor && id == COL_CHECKS)
				attr = draw_attr(t, checks_color(r->checks_met,
				    r->checks_total));
			if (k != t->cursor && id == COL_NAME && r->marked)
				attr = draw_attr(t, CLR_MARKED);
			cell(y + 1 + i, x, lc.w[c], columns[id].right, attr,
			    text);
			x += lc.w[c] + 1;
		}
	}
}

/* The detail panel: lines built in order, drawn from detail_top. */
struct dl {
	struct tui	*t;
	int		 y, h, n;
};

static void
dline(struct dl *d, int attr, const char *fmt, ...)
	__attribute__((__format__(__printf__, 3, 4)));

static void
dline(struct dl *d, int attr, const char *fmt, ...)
{
	char	buf[1024];
	va_list	ap;
	int	row = d->n++ - d->t->detail_top;

	if (row < 0 || row >= d->h)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	put(d->y + row, 1, attr, COLS - 1, buf);
}

static void
detail_snapshots(struct tui *t, struct dl *d)
{
	json_t		*s;
	size_t		 i;
	char		 when[32], size[16];
	time_t		 ct;
	struct tm	 tm;

	dline(d, A_BOLD, "SNAPSHOTS%s", t->detail_snaps ? "" : t->replay ?
	    " (not in the replay)" : t->connected ? " (asking labd...)" :
	    " (labd is not connected)");
	if (t->detail_snaps == NULL)
		return;
	if (json_array_size(t->detail_snaps) == 0)
		dline(d, A_DIM, "  none");
	else
		dline(d, A_DIM, "  %-24s %-19s %-9s %s", "NAME", "CREATED",
		    "KIND", "RAM");
	json_array_foreach(t->detail_snaps, i, s) {
		ct = (time_t)jint(s, "created");
		/* labd may count in ms: a time after 2100 is in ms */
		if (ct > 4102444800LL)
			ct /= 1000;
		localtime_r(&ct, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		fmt_kb(jint(s, "size") / 1024, size, sizeof(size));
		dline(d, A_NORMAL, "  %-24s %-19s %-9s %s", jstr(s, "name"),
		    when, json_is_true(json_object_get(s, "ram")) ?
		    "RAM+disk" : "disk", json_is_true(json_object_get(s,
		    "ram")) ? size : "-");
	}
}

/* The VM's last check: when, and each goal with its reason. */
static void
detail_checks(struct tui *t, struct dl *d)
{
	json_t		*c = t->detail_checks, *g;
	size_t		 i;
	char		 line[512], when[32];
	time_t		 ct;
	struct tm	 tm;

	if (c == NULL) {
		dline(d, A_BOLD, "CHECKS%s", t->replay ? " (not in the"
		    " replay)" : t->connected ? " (asking labd...)" :
		    " (labd is not connected)");
		return;
	}
	if (!json_is_true(json_object_get(c, "checked"))) {
		dline(d, A_BOLD, "CHECKS");
		dline(d, A_DIM, "  never checked (labctl check COURSE DIR)");
		return;
	}
	ct = (time_t)jint(c, "finished");
	localtime_r(&ct, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	dline(d, A_BOLD, "CHECKS (%lld/%lld met, the run of %s)",
	    jint(c, "met"), jint(c, "total"), when);
	if (*jstr(c, "error"))
		dline(d, draw_attr(t, CLR_FAILED), "  %s", jstr(c, "error"));
	json_array_foreach(json_object_get(c, "goals"), i, g) {
		checks_goal_line(g, line, sizeof(line));
		dline(d, json_is_true(json_object_get(g, "met")) ?
		    (int)A_NORMAL : draw_attr(t, CLR_FAILED), "%s", line);
	}
}

/* "2 now", or "none, the last 3m ago", as labd counts them. */
static void
detail_connections(struct dl *d, const struct vm_row *r)
{
	long long	last = jint(r->obj, "last_connection");
	char		ago[32];

	if (r->connections > 0)
		dline(d, A_NORMAL, "users     %lld connected now",
		    r->connections);
	else if (last > 0) {
		fmt_duration((long long)time(NULL) - last > 0 ?
		    (long long)time(NULL) - last : 1, ago, sizeof(ago));
		dline(d, A_NORMAL, "users     none connected; the last one"
		    " %s ago", ago);
	} else
		dline(d, A_DIM, "users     none connected yet");
}

static void
panel_detail(struct tui *t, int y, int h)
{
	struct vm_row	*r = model_find(t, t->detail_vm);
	struct dl	 d = { t, y, h, 0 };
	json_t		*p;
	char		 up[32], mem[32], when[16];
	struct tm	 tm;
	size_t		 i;
	unsigned	 k;
	int		 j;

	for (j = 0; j < h; j++)
		blank(y + j);
	if (r == NULL) {
		dline(&d, draw_attr(t, CLR_FAILED), "VM %s is gone (not in"
		    " labd's list any more). Esc goes back.", t->detail_vm);
		return;
	}
	fill(y, draw_attr(t, CLR_TITLE));
	dline(&d, draw_attr(t, CLR_TITLE) | A_BOLD, "VM %s   course %s   "
	    "student %s", r->name, r->course, r->student);
	dline(&d, draw_attr(t, state_color(r->state)), "state     %s (labd"
	    " wants it %s)", r->state, *r->desired ? r->desired : "?");
	fmt_duration(row_uptime(r, now_s()), up, sizeof(up));
	fmt_kb(r->rss_kb, mem, sizeof(mem));
	if (r->pid > 0)
		dline(&d, A_NORMAL, "QEMU      pid %d, up %s, CPU %.1f%%,"
		    " memory %s", r->pid, up, r->cpu, mem);
	else
		dline(&d, A_DIM, "QEMU      not running");
	/* Bridge mode: the VM's own address on the lab's bridge. */
	if (*jstr(r->obj, "ip"))
		dline(&d, A_NORMAL, "address   %s (on the bridge)",
		    jstr(r->obj, "ip"));
	if (r->connections >= 0)
		detail_connections(&d, r);
	if (*r->error)
		dline(&d, draw_attr(t, CLR_FAILED), "error     %s", r->error);
	dline(&d, A_NORMAL, "%s", "");
	dline(&d, A_BOLD, "PORTS");
	if (r->nports == 0)
		dline(&d, A_DIM, "  none");
	json_array_foreach(json_object_get(r->obj, "ports"), i, p) {
		if (strcmp(jstr(p, "service"), "ssh") == 0)
			dline(&d, A_NORMAL, "  %-6s %s:%lld -> guest %lld    ssh"
			    " -p %lld %s@%s", jstr(p, "service"), jstr(p, "ip"),
			    jint(p, "port"), jint(p, "guest_port"),
			    jint(p, "port"), r->student, jstr(p, "ip"));
		else
			dline(&d, A_NORMAL, "  %-6s %s:%lld -> guest %lld",
			    jstr(p, "service"), jstr(p, "ip"), jint(p, "port"),
			    jint(p, "guest_port"));
	}
	dline(&d, A_NORMAL, "%s", "");
	detail_checks(t, &d);
	dline(&d, A_NORMAL, "%s", "");
	detail_snapshots(t, &d);
	dline(&d, A_NORMAL, "%s", "");
	dline(&d, A_BOLD, "RECENT EVENTS (seen by this labtui, newest first)");
	if (r->nev == 0)
		dline(&d, A_DIM, "  none yet");
	for (k = 0; k < r->nev && k < TUI_NEVENTS; k++) {
		const struct vm_event	*e = &r->ev[(r->nev - 1 - k) %
					    TUI_NEVENTS];

		localtime_r(&e->t, &tm);
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
		dline(&d, A_NORMAL, "  %s  %s", when, e->text);
	}
	/* do not scroll past the end */
	if (t->detail_top > 0 && d.n - t->detail_top < h) {
		t->detail_top = d.n > h ? d.n - h : 0;
		t->flags |= TF_DRAW;
	}
}

/*
 * The event log pane: what labtui heard of every VM, and the outcome of
 * its own actions, newest first.
 */
static void
panel_log(struct tui *t, int y, int h)
{
	char			 when[16];
	struct tm		 tm;
	unsigned		 k, n = t->nlog < TUI_NLOG ? t->nlog : TUI_NLOG;
	int			 j, w = 8, x;

	for (j = 0; j < h; j++)
		blank(y + j);
	fill(y, draw_attr(t, CLR_TITLE));
	putf(y, 1, draw_attr(t, CLR_TITLE) | A_BOLD, COLS - 1, "EVENTS (%u,"
	    " newest first; e hides)", n);
	if (n == 0) {
		put(y + 1, 2, A_DIM, COLS - 2, "none yet");
		return;
	}
	/* the VM column as wide as the widest name shown */
	for (k = 0; k < n && (int)k < h - 1; k++) {
		int	l = (int)strlen(t->log[(t->nlog - 1 - k) % TUI_NLOG].vm);

		if (l > w)
			w = l;
	}
	if (w > 24)
		w = 24;
	for (k = 0; k < n && (int)k < h - 1; k++) {
		const struct log_entry	*e = &t->log[(t->nlog - 1 - k) %
					    TUI_NLOG];

		localtime_r(&e->t, &tm);
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
		x = 1 + put(y + 1 + k, 1, A_DIM, COLS - 1, when) + 1;
		cell(y + 1 + k, x, w, 0, A_BOLD, e->vm);
		x += w + 1;
		put(y + 1 + k, x, e->bad ? draw_attr(t, CLR_FAILED) :
		    (int)A_NORMAL, COLS - x, e->text);
	}
}

static void
panel_help(struct tui *t, int y, int h)
{
	int	j;

	for (j = 0; j < h; j++)
		blank(y + j);
	keys_help(t, y, h);
}

static void
panel_footer(struct tui *t, int y, int h)
{
	char	text[TUI_ERRLEN + 64];
	double	frac;
	size_t	i, marked = 0;
	int	x, w;

	blank(y);
	if (t->prompt.kind != P_NONE)
		prompt_draw(t, y);
	else if (action_footer(t, text, sizeof(text), &frac)) {
		w = COLS / 3 > 40 ? 40 : COLS / 3;
		x = meter(t, y, 0, w, frac, "");
		put(y, x + 1, A_BOLD, COLS - x - 1, text);
	} else if (*t->message && now_s() - t->message_at < TUI_MSG_S)
		put(y, 0, t->message_bad ? draw_attr(t, CLR_FAILED) : (int)A_BOLD,
		    COLS, t->message);
	else {
		for (i = 0; i < t->nrows; i++)
			marked += t->rows[i]->marked != 0;
		if (marked)
			snprintf(text, sizeof(text), ", %zu marked", marked);
		else
			text[0] = '\0';
		putf(y, 0, A_DIM, COLS, "%zu of %zu VMs shown%s | sorted by"
		    " %s%s | ? for help", t->nview, t->nrows, text,
		    columns[t->sort_col].title,
		    t->sort_rev ? " (reversed)" : "");
	}
	if (h > 1) {
		blank(y + 1);
		keys_bar(t, y + 1, COLS);
	}
}

void
draw_screen(struct tui *t)
{
	size_t	i;
	int	y = 0, h, fixed = 0;

	if (COLS < 30 || LINES < 8) {
		for (y = 0; y < LINES; y++)
			blank(y);
		putf(0, 0, A_BOLD, COLS, "labtui: %dx%d is too small", COLS,
		    LINES);
		refresh();
		return;
	}
	for (i = 0; i < sizeof(layout) / sizeof(layout[0]); i++)
		if (layout[i].p.modes & t->mode)
			fixed += layout[i].h == LOG_H ? draw_log_lines(t) :
			    layout[i].h;
	for (i = 0; i < sizeof(layout) / sizeof(layout[0]); i++) {
		if (!(layout[i].p.modes & t->mode))
			continue;
		h = layout[i].h == LOG_H ? draw_log_lines(t) : layout[i].h ?
		    layout[i].h : LINES - fixed;
		if (h <= 0)
			continue;
		layout[i].p.draw(t, y, h);
		y += h;
	}
	if (t->prompt.kind == P_PICK)
		prompt_draw_pick(t, 3, draw_table_rows(t));
	refresh();
}
