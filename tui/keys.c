/* SPDX-License-Identifier: ISC */
/*
 * keys.c - the key table (htop's keys[] idea): every key, where it works,
 * its place in the key bar and its help.  The help screen (?) and the key
 * bar are printed from this table, so a key added here is documented.
 * Handlers return TF_* flags for the main loop.
 *
 * Actions (start, stop, reset...) apply to the marked VMs, else to the VM
 * under the cursor; in the detail view, to that VM.  What cannot be
 * undone asks y/n first, and so does any action on more than one VM (the
 * marks may be hidden by the filter).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curses.h>

#include "tui/labtui.h"

#define CTRL(c)		((c) & 0x1f)
#define KEY_ESC		27
#define ALL_MODES	(MODE_TABLE | MODE_DETAIL | MODE_HELP)

struct binding {
	int		 keys[4];	/* 0-terminated */
	const char	*name;		/* the keys as the help shows them */
	int		 modes;		/* where the key works */
	int		 bar;		/* where the key bar shows it */
	const char	*label;		/* its word in the key bar */
	int		(*fn)(struct tui *, int key);
	const char	*help;		/* fn NULL: a section title */
};

static int	key_up(struct tui *, int);
static int	key_down(struct tui *, int);
static int	key_page(struct tui *, int);
static int	key_home(struct tui *, int);
static int	key_end(struct tui *, int);
static int	key_mark(struct tui *, int);
static int	key_mark_all(struct tui *, int);
static int	key_unmark(struct tui *, int);
static int	key_filter(struct tui *, int);
static int	key_escape(struct tui *, int);
static int	key_course(struct tui *, int);
static int	key_sort(struct tui *, int);
static int	key_invert(struct tui *, int);
static int	key_detail(struct tui *, int);
static int	key_help(struct tui *, int);
static int	key_log(struct tui *, int);
static int	key_redraw(struct tui *, int);
static int	key_quit(struct tui *, int);
static int	act_start(struct tui *, int);
static int	act_stop(struct tui *, int);
static int	act_kill(struct tui *, int);
static int	act_reset(struct tui *, int);
static int	act_reset_to(struct tui *, int);
static int	act_hard(struct tui *, int);
static int	act_snapshot(struct tui *, int);
static int	act_suspend(struct tui *, int);
static int	act_resume(struct tui *, int);
static int	act_console(struct tui *, int);
static int	act_vnc(struct tui *, int);

#define SECTION(title)	{ { 0 }, title, 0, 0, NULL, NULL, NULL }
#define T		MODE_TABLE
#define TD		(MODE_TABLE | MODE_DETAIL)

static const struct binding bindings[] = {
	SECTION("Move"),
	{ { KEY_UP, 'k' }, "Up k", ALL_MODES, 0, NULL, key_up,
	  "previous VM; scrolls the detail and the help" },
	{ { KEY_DOWN, 'j' }, "Down j", ALL_MODES, 0, NULL, key_down,
	  "next VM; scrolls the detail and the help" },
	{ { KEY_PPAGE, KEY_NPAGE }, "PgUp PgDn", ALL_MODES, 0, NULL, key_page,
	  "a screen up, down" },
	{ { KEY_HOME, 'g' }, "Home g", ALL_MODES, 0, NULL, key_home,
	  "the first VM" },
	{ { KEY_END, 'G' }, "End G", ALL_MODES, 0, NULL, key_end,
	  "the last VM" },

	SECTION("Choose"),
	{ { ' ' }, "Space", T, T, "Mark", key_mark,
	  "mark or unmark the VM, then go down" },
	{ { 'a' }, "a", T, 0, NULL, key_mark_all,
	  "mark every VM shown (the course, filtered); again: unmark them" },
	{ { 'u' }, "u", T, 0, NULL, key_unmark, "unmark every VM" },
	{ { '/' }, "/", T, T, "Filter", key_filter,
	  "filter as you type (name, student, state, port, snapshot);"
	  " Enter keeps it, Esc clears it" },
	{ { KEY_ESC, KEY_LEFT }, "Esc Left", ALL_MODES, MODE_DETAIL | MODE_HELP,
	  "Back", key_escape,
	  "clear the filter; from the detail or the help: back to the table" },
	{ { 'c', 'C' }, "c C", T, T, "Course", key_course,
	  "next, previous course (all courses first); clears the marks" },
	{ { '>', '.', '<', ',' }, "> <", T, T, "Sort", key_sort,
	  "sort by the next, the previous column" },
	{ { 'i' }, "i", T, 0, NULL, key_invert, "reverse the order" },

	SECTION("Act (on the marked VMs, else the one under the cursor;"
	    " y/n for several)"),
	{ { 's' }, "s", TD, TD, "Start", act_start,
	  "start; done when the VM is ready" },
	{ { 'S' }, "S", TD, TD, "Stop", act_stop,
	  "stop: ACPI power-off (asks y/n)" },
	{ { 'K' }, "K", TD, 0, NULL, act_kill,
	  "stop at once, pulling the plug (asks y/n)" },
	{ { 'r' }, "r", TD, TD, "Reset", act_reset,
	  "reset to pristine, RAM and disk, no reboot (asks y/n)" },
	{ { 'R' }, "R", TD, 0, NULL, act_reset_to,
	  "reset to a snapshot: pick one of the VM's or type a name (asks"
	  " y/n)" },
	{ { 'H' }, "H", TD, 0, NULL, act_hard,
	  "hard reset: a fresh disk from the template; every snapshot is"
	  " lost (asks y/n)" },
	{ { 'n' }, "n", TD, 0, NULL, act_snapshot,
	  "take a snapshot (asks its name; an existing one is replaced)" },
	{ { 'z' }, "z", TD, 0, NULL, act_suspend,
	  "suspend: RAM saved to disk, QEMU gone" },
	{ { 'Z' }, "Z", TD, 0, NULL, act_resume, "resume a suspended VM" },
	{ { 'o' }, "o", TD, TD, "Console", act_console,
	  "the serial console of the VM under the cursor; Ctrl-] comes back"
	  " (needs access to labd's run_dir)" },
	{ { 'v' }, "v", TD, 0, NULL, act_vnc,
	  "the VNC address of the VM under the cursor and its student's"
	  " password, which goes to the terminal's clipboard (OSC 52)" },

	SECTION("Screens"),
	{ { '\r', '\n', KEY_ENTER }, "Enter", TD, T, "Detail", key_detail,
	  "one VM: ports, snapshots, recent events, error; Enter again: back" },
	{ { 'e' }, "e", T, T, "Events", key_log,
	  "show or hide the event log pane below the table: the latest events"
	  " of every VM and the outcome of the actions, newest first (hidden"
	  " when the terminal has fewer than 16 lines)" },
	{ { '?', KEY_F(1), 'h' }, "? F1 h", ALL_MODES, TD, "Help", key_help,
	  "this help (any other key closes it)" },
	{ { CTRL('l') }, "Ctrl-L", ALL_MODES, 0, NULL, key_redraw,
	  "repaint the whole screen" },
	{ { 'q', KEY_F(10) }, "q F10", ALL_MODES, T, "Quit", key_quit,
	  "quit; from the detail or the help: back to the table" },
};
#define NBINDINGS	(sizeof(bindings) / sizeof(bindings[0]))

/* --- moving ------------------------------------------------------------ */

static void
cursor_set(struct tui *t, long i)
{
	if (t->nview == 0)
		return;
	if (i < 0)
		i = 0;
	if ((size_t)i >= t->nview)
		i = (long)t->nview - 1;
	t->cursor = (size_t)i;
	snprintf(t->cursor_name, sizeof(t->cursor_name), "%s",
	    t->view[t->cursor]->name);
}

static int *
scroll_of(struct tui *t)
{
	return t->mode == MODE_DETAIL ? &t->detail_top : &t->help_top;
}

static int
scroll_by(struct tui *t, int n)
{
	int	*top = scroll_of(t);

	*top += n;
	if (*top < 0)
		*top = 0;
	if (t->mode == MODE_HELP && *top > keys_help_lines() -
	    draw_table_rows(t) - 1)
		*top = keys_help_lines() > draw_table_rows(t) + 1 ?
		    keys_help_lines() - draw_table_rows(t) - 1 : 0;
	return TF_DRAW;
}

static int
key_up(struct tui *t, int key)
{
	if (t->mode != MODE_TABLE)
		return scroll_by(t, -1);
	cursor_set(t, (long)t->cursor - 1);
	return TF_DRAW;
}

static int
key_down(struct tui *t, int key)
{
	if (t->mode != MODE_TABLE)
		return scroll_by(t, 1);
	cursor_set(t, (long)t->cursor + 1);
	return TF_DRAW;
}

static int
key_page(struct tui *t, int key)
{
	int	page = draw_table_rows(t) > 2 ? draw_table_rows(t) - 2 : 1;

	if (key == KEY_PPAGE)
		page = -page;
	if (t->mode != MODE_TABLE)
		return scroll_by(t, page);
	cursor_set(t, (long)t->cursor + page);
	return TF_DRAW;
}

static int
key_home(struct tui *t, int key)
{
	if (t->mode != MODE_TABLE)
		*scroll_of(t) = 0;
	else
		cursor_set(t, 0);
	return TF_DRAW;
}

static int
key_end(struct tui *t, int key)
{
	if (t->mode != MODE_TABLE)
		return scroll_by(t, 10000);
	cursor_set(t, (long)t->nview - 1);
	return TF_DRAW;
}

/* --- choosing ------------------------------------------------------------ */

static int
key_mark(struct tui *t, int key)
{
	struct vm_row	*r = model_cursor_row(t);

	if (r == NULL)
		return 0;
	r->marked = !r->marked;
	cursor_set(t, (long)t->cursor + 1);
	return TF_DRAW;
}

static int
key_mark_all(struct tui *t, int key)
{
	size_t	i, unmarked = 0;

	for (i = 0; i < t->nview; i++)
		unmarked += !t->view[i]->marked;
	for (i = 0; i < t->nview; i++)
		t->view[i]->marked = unmarked != 0;
	tui_message(t, 0, "%s %zu VMs%s%s", unmarked ? "marked" : "unmarked",
	    t->nview, *t->course ? " of course " : "", t->course);
	return TF_DRAW;
}

static int
key_unmark(struct tui *t, int key)
{
	size_t	i;

	for (i = 0; i < t->nrows; i++)
		t->rows[i]->marked = 0;
	return TF_DRAW;
}

static int
filter_done(struct tui *t, struct prompt *p, const char *text)
{
	snprintf(t->filter, sizeof(t->filter), "%s", text);
	return TF_VIEW;
}

static int
key_filter(struct tui *t, int key)
{
	struct prompt	*p = prompt_open(t, P_FILTER, filter_done, "filter:");

	snprintf(p->text, sizeof(p->text), "%s", t->filter);
	return TF_DRAW;
}

static int
key_escape(struct tui *t, int key)
{
	if (t->mode != MODE_TABLE) {
		t->mode = MODE_TABLE;
		return TF_DRAW;
	}
	if (key == KEY_LEFT || *t->filter == '\0')
		return 0;
	t->filter[0] = '\0';
	return TF_VIEW;
}

static int
key_course(struct tui *t, int key)
{
	size_t	i, cur = t->ncourses;	/* ncourses: "all" */

	if (t->ncourses == 0)
		return 0;
	for (i = 0; i < t->ncourses; i++)
		if (strcmp(t->courses[i], t->course) == 0)
			cur = i;
	/* all, the first, ..., the last, all again */
	if (key == 'c')
		cur = cur == t->ncourses ? 0 : cur + 1;
	else
		cur = cur == 0 ? t->ncourses : cur - 1;
	snprintf(t->course, sizeof(t->course), "%s", cur == t->ncourses ? "" :
	    t->courses[cur]);
	for (i = 0; i < t->nrows; i++)
		t->rows[i]->marked = 0;
	t->top = 0;
	return TF_VIEW;
}

static int
key_sort(struct tui *t, int key)
{
	int	step = key == '>' || key == '.' ? 1 : COL_N - 1;

	do
		t->sort_col = (t->sort_col + step) % COL_N;
	while (t->sort_col == COL_CONN && !t->has_conn);
	return TF_VIEW;
}

static int
key_invert(struct tui *t, int key)
{
	t->sort_rev = !t->sort_rev;
	return TF_VIEW;
}

/* --- screens ------------------------------------------------------------ */

static int
key_detail(struct tui *t, int key)
{
	struct vm_row	*r = model_cursor_row(t);

	if (t->mode == MODE_DETAIL) {
		t->mode = MODE_TABLE;
		return TF_DRAW;
	}
	if (r == NULL)
		return 0;
	t->mode = MODE_DETAIL;
	snprintf(t->detail_vm, sizeof(t->detail_vm), "%s", r->name);
	t->detail_top = 0;
	json_decref(t->detail_snaps);
	t->detail_snaps = NULL;
	json_decref(t->detail_checks);
	t->detail_checks = NULL;
	link_snapshots(t, r->name, 0);
	link_checks(t, r->name);
	return TF_DRAW;
}

static int
key_help(struct tui *t, int key)
{
	if (t->mode == MODE_HELP) {
		t->mode = MODE_TABLE;
		return TF_DRAW;
	}
	t->mode = MODE_HELP;
	t->help_top = 0;
	return TF_DRAW;
}

static int
key_log(struct tui *t, int key)
{
	t->show_log = !t->show_log;
	if (t->show_log && LINES < TUI_LOG_MINLINES)
		tui_message(t, 0, "the event log shows when the terminal has"
		    " %d lines or more", TUI_LOG_MINLINES);
	return TF_DRAW;
}

static int
key_redraw(struct tui *t, int key)
{
	return TF_DRAW | TF_FULL;
}

static int
key_quit(struct tui *t, int key)
{
	if (t->mode != MODE_TABLE) {
		t->mode = MODE_TABLE;
		return TF_DRAW;
	}
	return TF_QUIT;
}

/* --- acting ------------------------------------------------------------ */

static int
name_cmp(const void *a, const void *b)
{
	return strverscmp(*(char *const *)a, *(char *const *)b);
}

/* The VMs an action is for, as a JSON array of names. */
static json_t *
targets(struct tui *t)
{
	json_t		 *names = json_array();
	struct vm_row	 *r;
	const char	**v;
	size_t		  i, n = 0;

	if (t->mode == MODE_DETAIL) {
		if (model_find(t, t->detail_vm) != NULL)
			json_array_append_new(names,
			    json_string(t->detail_vm));
		return names;
	}
	v = tui_xcalloc(t->nrows + 1, sizeof(*v));
	for (i = 0; i < t->nrows; i++)
		if (t->rows[i]->marked)
			v[n++] = t->rows[i]->name;
	if (n == 0 && (r = model_cursor_row(t)) != NULL)
		v[n++] = r->name;
	qsort(v, n, sizeof(*v), name_cmp);
	for (i = 0; i < n; i++)
		json_array_append_new(names, json_string(v[i]));
	free(v);
	return names;
}

/* "c1-ann" or "3 VMs (c1-ann, c1-bea, ...)" */
static void
targets_text(json_t *names, char *buf, size_t len)
{
	size_t	n = json_array_size(names), i, off;

	if (n == 1) {
		snprintf(buf, len, "%s", json_string_value(json_array_get(names,
		    0)));
		return;
	}
	off = snprintf(buf, len, "%zu VMs (", n);
	for (i = 0; i < n && i < 3 && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
		    json_string_value(json_array_get(names, i)));
	if (off < len)
		snprintf(buf + off, len - off, "%s)", n > 3 ? ", ..." : "");
}

static int
confirm_done(struct tui *t, struct prompt *p, const char *text)
{
	action_run(t, p->cmd, p->what, p->extra, p->names);
	return TF_DRAW;
}

/*
 * cmd on the targets, with extra (taken over, may be NULL); y/n first
 * when confirm, or when it is for more than one VM.
 */
static int
act(struct tui *t, const char *cmd, const char *what, json_t *extra,
    int confirm)
{
	json_t		*names = targets(t);
	struct prompt	*p;
	char		 who[160];

	if (json_array_size(names) == 0) {
		tui_message(t, 1, "no VM to %s", what);
		json_decref(names);
		json_decref(extra);
		return TF_DRAW;
	}
	/* more than one VM: say how many first, marks may be out of sight */
	if (!confirm && json_array_size(names) == 1) {
		action_run(t, cmd, what, extra, names);
		json_decref(names);
		json_decref(extra);
		return TF_DRAW;
	}
	targets_text(names, who, sizeof(who));
	p = prompt_open(t, P_CONFIRM, confirm_done, "%s %s? [y/N]", what, who);
	snprintf(p->cmd, sizeof(p->cmd), "%s", cmd);
	snprintf(p->what, sizeof(p->what), "%s", what);
	p->extra = extra;
	p->names = names;
	return TF_DRAW;
}

static int
act_start(struct tui *t, int key)
{
	return act(t, "vm.start", "start", NULL, 0);
}

static int
act_stop(struct tui *t, int key)
{
	return act(t, "vm.stop", "stop", NULL, 1);
}

static int
act_kill(struct tui *t, int key)
{
	return act(t, "vm.stop", "force stop", json_pack("{s:b}", "force", 1),
	    1);
}

static int
act_reset(struct tui *t, int key)
{
	return act(t, "vm.reset", "reset to pristine", NULL, 1);
}

static int
act_hard(struct tui *t, int key)
{
	return act(t, "vm.reset", "hard reset (fresh disk)",
	    json_pack("{s:b}", "hard", 1), 1);
}

static int
act_suspend(struct tui *t, int key)
{
	return act(t, "vm.suspend", "suspend", NULL, 0);
}

static int
act_resume(struct tui *t, int key)
{
	return act(t, "vm.resume", "resume", NULL, 0);
}

/* R: the picker gave a name; now the y/n. */
static int
reset_to_done(struct tui *t, struct prompt *p, const char *text)
{
	struct prompt	*c;
	char		 who[160];

	if (*text == '\0') {
		tui_message(t, 0, "cancelled: no snapshot named");
		return TF_DRAW;
	}
	targets_text(p->names, who, sizeof(who));
	c = prompt_open(t, P_CONFIRM, confirm_done, "reset %s to \"%s\"?"
	    " [y/N]", who, text);
	snprintf(c->cmd, sizeof(c->cmd), "vm.reset");
	snprintf(c->what, sizeof(c->what), "reset to %s", text);
	c->extra = json_pack("{s:s}", "to", text);
	c->names = json_incref(p->names);
	return TF_DRAW;
}

static int
act_reset_to(struct tui *t, int key)
{
	json_t		*names = targets(t);
	struct vm_row	*r = t->mode == MODE_DETAIL ?
			    model_find(t, t->detail_vm) : model_cursor_row(t);
	struct prompt	*p;
	const char	*vm;

	if (json_array_size(names) == 0) {
		json_decref(names);
		return 0;
	}
	/* the snapshots of the VM under the cursor, else the first one */
	vm = r != NULL && (r->marked || json_array_size(names) == 1 ||
	    t->mode == MODE_DETAIL) ? r->name :
	    json_string_value(json_array_get(names, 0));
	p = prompt_open(t, P_PICK, reset_to_done, "reset to snapshot:");
	snprintf(p->vm, sizeof(p->vm), "%s", vm);
	p->names = names;
	p->loading = 1;
	link_snapshots(t, p->vm, 1);
	return TF_DRAW;
}

static int
snapshot_done(struct tui *t, struct prompt *p, const char *text)
{
	char		name[64];
	time_t		now = time(NULL);
	struct tm	tm;

	if (*text == '\0') {
		localtime_r(&now, &tm);
		strftime(name, sizeof(name), "snap-%H%M", &tm);
	} else
		snprintf(name, sizeof(name), "%s", text);
	snprintf(p->what, sizeof(p->what), "snapshot %s", name);
	p->extra = json_pack("{s:s}", "name", name);
	action_run(t, "vm.snapshot", p->what, p->extra, p->names);
	return TF_DRAW;
}

static int
act_snapshot(struct tui *t, int key)
{
	json_t		*names = targets(t);
	struct prompt	*p;
	char		 who[160];

	if (json_array_size(names) == 0) {
		json_decref(names);
		return 0;
	}
	targets_text(names, who, sizeof(who));
	p = prompt_open(t, P_TEXT, snapshot_done, "snapshot %s, name"
	    " (empty: snap-HHMM):", who);
	p->names = names;
	return TF_DRAW;
}

static int
act_console(struct tui *t, int key)
{
	struct vm_row	*r = t->mode == MODE_DETAIL ?
			    model_find(t, t->detail_vm) : model_cursor_row(t);

	if (r == NULL)
		return 0;
	return console_run(t, r->name, jstr(r->obj, "console"));
}

static int
act_vnc(struct tui *t, int key)
{
	struct vm_row	*r = t->mode == MODE_DETAIL ?
			    model_find(t, t->detail_vm) : model_cursor_row(t);

	if (r != NULL)
		link_vnc(t, r->name);
	return TF_DRAW;
}

/* --- the table's users --------------------------------------------------- */

int
keys_handle(struct tui *t, int key)
{
	size_t	i;
	int	k;

	if (key == KEY_RESIZE)
		return TF_DRAW | TF_FULL;
	if (t->prompt.kind != P_NONE)
		return prompt_key(t, key);
	for (i = 0; i < NBINDINGS; i++) {
		if (bindings[i].fn == NULL || !(bindings[i].modes & t->mode))
			continue;
		for (k = 0; k < 4 && bindings[i].keys[k] != 0; k++)
			if (bindings[i].keys[k] == key)
				return bindings[i].fn(t, key);
	}
	/* In the help, any other key goes back. */
	if (t->mode == MODE_HELP) {
		t->mode = MODE_TABLE;
		return TF_DRAW;
	}
	return 0;
}

/* One key of the bar at x, if it fits before width; the new x. */
static int
bar_entry(const struct tui *t, const struct binding *b, int y, int x,
    int width)
{
	char	key[16];
	int	kl, ll;

	snprintf(key, sizeof(key), "%s", b->name);
	key[strcspn(key, " ")] = '\0';		/* its first key */
	kl = (int)strlen(key);
	ll = (int)strlen(b->label);
	if (x + kl + ll > width)
		return x;
	attrset(draw_attr(t, CLR_TITLE));
	mvaddstr(y, x, key);
	attrset(A_NORMAL);
	mvaddstr(y, x + kl, b->label);
	return x + kl + ll + 1;
}

/*
 * The key bar: the main keys of this screen, from the table.  Like
 * htop's F1 and F10, Help comes first and Quit last, whatever the width;
 * the others in the table's order, as many as fit.
 */
void
keys_bar(const struct tui *t, int y, int width)
{
	const struct binding	*quit = NULL;
	size_t			 i, pass;
	int			 x = 0, qw = 0;

	for (i = 0; i < NBINDINGS; i++)
		if (bindings[i].fn == key_quit && (bindings[i].bar & t->mode)) {
			quit = &bindings[i];
			qw = (int)strlen(quit->label) + 2;
		}
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < NBINDINGS; i++) {
			const struct binding	*b = &bindings[i];

			if (!(b->bar & t->mode) || b->label == NULL ||
			    b == quit || (b->fn == key_help) != (pass == 0))
				continue;
			x = bar_entry(t, b, y, x, width - qw);
		}
	}
	if (quit != NULL)
		bar_entry(t, quit, y, x, width);
}

/* The help: a line emitter that counts, so that it also measures. */
struct hl {
	int	y, h, top, n;
};

static void
help_line(struct hl *l, int attr, int indent, const char *text)
{
	int	row = l->n++ - l->top;

	if (l->h <= 0 || row < 0 || row >= l->h)
		return;
	attrset(attr);
	mvaddnstr(l->y + row, indent, text, COLS - indent);
	attrset(A_NORMAL);
}

/* "name  help", the help wrapped at the screen's width. */
static void
hentry(struct hl *l, const char *name, const char *help)
{
	char		 buf[512];
	int		 w = COLS - 14, n, cut;
	const char	*p = help;

	snprintf(buf, sizeof(buf), "  %-10s", name);
	help_line(l, A_BOLD, 0, buf);
	l->n--;		/* the help goes on the same line */
	if (w < 20)
		w = 20;
	while (*p != '\0') {
		n = (int)strlen(p);
		cut = n;
		if (n > w) {
			for (cut = w; cut > 0 && p[cut] != ' '; cut--)
				;
			if (cut == 0)
				cut = w;
		}
		snprintf(buf, sizeof(buf), "%.*s", cut, p);
		help_line(l, A_NORMAL, 13, buf);
		p += cut;
		while (*p == ' ')
			p++;
	}
}

static void
help_lines(struct hl *l)
{
	char	buf[256];
	size_t	i;

	help_line(l, A_BOLD, 0, "labtui " LABTUI_VERSION " - the keys (Esc, q"
	    " or any other key closes; arrows scroll)");
	for (i = 0; i < NBINDINGS; i++) {
		if (bindings[i].fn == NULL) {
			help_line(l, A_NORMAL, 0, "");
			help_line(l, A_BOLD | A_UNDERLINE, 0, bindings[i].name);
		} else
			hentry(l, bindings[i].name, bindings[i].help);
	}
	help_line(l, A_NORMAL, 0, "");
	help_line(l, A_BOLD | A_UNDERLINE, 0, "Columns (> and < choose the sort)");
	for (i = 0; i < COL_N; i++)
		hentry(l, columns[i].title, columns[i].help);
	help_line(l, A_NORMAL, 0, "");
	help_line(l, A_BOLD | A_UNDERLINE, 0, "Notes");
	hentry(l, "bulk", "the requests go to labd at once, which works on"
	    " them in parallel; the footer shows a progress bar, then how"
	    " many went well and why the others failed");
	hentry(l, "live", "rows change with labd's events; the list is read"
	    " again every 5 s; CPU and memory come from /proc every 2 s");
	snprintf(buf, sizeof(buf), "the serial socket is RUN_DIR/vms/VM/"
	    "serial.sock on this host: run labtui as root or as labd's user"
	    " (--run-dir DIR if labd.ini moves the control socket); one"
	    " console at a time per VM");
	hentry(l, "console", buf);
	hentry(l, "colour", "NO_COLOR set: no colour, states shown with bold"
	    " and dim");
}

void
keys_help(struct tui *t, int y, int h)
{
	struct hl	l = { y, h, t->help_top, 0 };

	help_lines(&l);
}

int
keys_help_lines(void)
{
	struct hl	l = { 0, 0, 0, 0 };

	help_lines(&l);
	return l.n;
}
