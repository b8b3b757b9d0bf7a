/* SPDX-License-Identifier: ISC */
/*
 * prompt.c - the footer's questions: the filter (applied as it is typed),
 * a text (a snapshot's name), a y/n for what cannot be undone, and the
 * snapshot picker (a VM's snapshots to choose from, or a name to type).
 *
 * The picker narrows its list to what is typed; Enter takes the name typed
 * when it is one of the list or none matches, else the highlighted one.
 *
 * While a prompt is open it has every key.  Enter (or y) calls its done
 * function with a copy of the prompt, already closed, so that done may
 * open the next question (the picker asks y/n after it).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <curses.h>

#include "tui/labtui.h"

#define CTRL(c)	((c) & 0x1f)

struct prompt *
prompt_open(struct tui *t, enum prompt_kind kind, prompt_done_fn done,
    const char *label, ...)
{
	struct prompt	*p = &t->prompt;
	va_list		 ap;

	prompt_close(t);
	p->kind = kind;
	p->done = done;
	va_start(ap, label);
	vsnprintf(p->label, sizeof(p->label), label, ap);
	va_end(ap);
	t->flags |= TF_DRAW;
	return p;
}

void
prompt_close(struct tui *t)
{
	struct prompt	*p = &t->prompt;

	json_decref(p->extra);
	json_decref(p->names);
	json_decref(p->choices);
	memset(p, 0, sizeof(*p));
	t->flags |= TF_DRAW;
}

/* The snapshots of vm came (or NULL: none could be had). */
void
prompt_choices(struct tui *t, const char *vm, json_t *snaps)
{
	struct prompt	*p = &t->prompt;
	json_t		*s;
	size_t		 i;

	if (p->kind != P_PICK || strcmp(p->vm, vm) != 0)
		return;
	json_decref(p->choices);
	p->choices = json_array();
	/* labd's own (labd-suspend...) are not for resetting to */
	json_array_foreach(snaps, i, s)
		if (strncmp(jstr(s, "name"), "labd-", 5) != 0)
			json_array_append(p->choices, s);
	p->loading = 0;
	p->sel = 0;
	t->flags |= TF_DRAW;
}

/*
 * The picker's choices that hold the text typed so far (all of them when
 * none is typed), as indexes into choices; their number.
 */
static int
pick_visible(const struct prompt *p, int *idx, int max)
{
	json_t	*s;
	size_t	 i;
	int	 n = 0;

	json_array_foreach(p->choices, i, s)
		if (n < max && strcasestr(jstr(s, "name"), p->text) != NULL)
			idx[n++] = (int)i;
	return n;
}

/* Enter in the picker: an exact name, else the highlighted, else the text. */
static const char *
pick_result(const struct prompt *p)
{
	int	idx[256], n = pick_visible(p, idx, 256), i;

	for (i = 0; i < n; i++)
		if (strcmp(jstr(json_array_get(p->choices, idx[i]), "name"),
		    p->text) == 0)
			return p->text;
	if (n > 0 && p->sel < n)
		return jstr(json_array_get(p->choices, idx[p->sel]), "name");
	return p->text;
}

/* Remove the last character, a whole UTF-8 sequence. */
static void
text_backspace(char *s)
{
	size_t	n = strlen(s);

	while (n > 0 && ((unsigned char)s[n - 1] & 0xc0) == 0x80)
		n--;
	if (n > 0)
		n--;
	s[n] = '\0';
}

static int
text_key(struct prompt *p, int key)
{
	size_t	n = strlen(p->text);

	if (key == KEY_BACKSPACE || key == 127 || key == CTRL('h')) {
		text_backspace(p->text);
		return 1;
	}
	if (key == CTRL('u')) {
		p->text[0] = '\0';
		return 1;
	}
	if (key >= 32 && key < 256 && key != 127 && n + 1 < sizeof(p->text)) {
		p->text[n] = (char)key;
		p->text[n + 1] = '\0';
		return 1;
	}
	return 0;
}

static int
prompt_accept(struct tui *t, const char *text)
{
	struct prompt	p = t->prompt;
	char		buf[sizeof(p.text)];
	int		flags;

	snprintf(buf, sizeof(buf), "%s", text);
	/* the copy owns the references now; the prompt is closed */
	memset(&t->prompt, 0, sizeof(t->prompt));
	flags = p.done ? p.done(t, &p, buf) : 0;
	json_decref(p.extra);
	json_decref(p.names);
	json_decref(p.choices);
	return flags | TF_DRAW;
}

int
prompt_key(struct tui *t, int key)
{
	struct prompt	*p = &t->prompt;
	int		 enter = key == '\r' || key == '\n' || key == KEY_ENTER;
	int		 n, idx[256];

	if (key == KEY_RESIZE)
		return TF_DRAW | TF_FULL;
	switch (p->kind) {
	case P_CONFIRM:
		if (key == 'y' || key == 'Y')
			return prompt_accept(t, "y");
		prompt_close(t);
		tui_message(t, 0, "cancelled");
		return TF_DRAW;
	case P_FILTER:
		if (key == 27) {	/* Esc: no filter at all */
			prompt_close(t);
			t->filter[0] = '\0';
			return TF_VIEW | TF_DRAW;
		}
		if (enter)
			return prompt_accept(t, p->text);
		if (text_key(p, key))	/* filter as it is typed */
			snprintf(t->filter, sizeof(t->filter), "%s", p->text);
		return TF_VIEW | TF_DRAW;
	case P_PICK:
		n = pick_visible(p, idx, 256);
		if (key == KEY_UP || key == KEY_DOWN) {
			p->sel += key == KEY_UP ? -1 : 1;
			p->sel = p->sel >= n ? n - 1 : p->sel;
			p->sel = p->sel < 0 ? 0 : p->sel;
			return TF_DRAW;
		}
		if (enter)
			return prompt_accept(t, pick_result(p));
		if (text_key(p, key)) {
			p->sel = 0;	/* the list narrows to what is typed */
			return TF_DRAW;
		}
		/* FALLTHROUGH */
	case P_TEXT:
		if (key == 27) {
			prompt_close(t);
			tui_message(t, 0, "cancelled");
			return TF_DRAW;
		}
		if (enter)
			return prompt_accept(t, p->text);
		text_key(p, key);
		return TF_DRAW;
	case P_NONE:
		break;
	}
	return 0;
}

void
prompt_draw(struct tui *t, int y)
{
	struct prompt	*p = &t->prompt;
	int		 x;

	attrset(A_BOLD);
	mvaddnstr(y, 0, p->label, COLS);
	x = (int)strlen(p->label) + 1;
	attrset(A_NORMAL);
	if (p->kind == P_CONFIRM || x >= COLS - 1)
		return;
	mvaddnstr(y, x, p->text, COLS - x - 1);
	x += (int)strlen(p->text);
	if (x < COLS) {
		attrset(A_REVERSE);
		mvaddch(y, x, ' ');
		attrset(A_NORMAL);
	}
}

/* The picker's box over the table: the VM's snapshots, newest last. */
void
prompt_draw_pick(struct tui *t, int y, int h)
{
	struct prompt	*p = &t->prompt;
	int		 w = COLS - 4 > 64 ? 64 : COLS - 4, x = (COLS - w) / 2;
	int		 idx[256], n = pick_visible(p, idx, 256), rows, first, i;
	char		 line[256];
	json_t		*s;

	rows = n > 0 ? n : 1;
	if (rows > h - 4)
		rows = h - 4;
	if (rows < 1 || w < 20)
		return;
	first = p->sel >= rows ? p->sel - rows + 1 : 0;
	attrset(A_BOLD);
	for (i = 0; i < rows + 4; i++)
		mvhline(y + i, x, ' ', w);
	mvhline(y, x, ACS_HLINE, w);
	mvhline(y + rows + 3, x, ACS_HLINE, w);
	mvvline(y, x, ACS_VLINE, rows + 4);
	mvvline(y, x + w - 1, ACS_VLINE, rows + 4);
	mvaddch(y, x, ACS_ULCORNER);
	mvaddch(y, x + w - 1, ACS_URCORNER);
	mvaddch(y + rows + 3, x, ACS_LLCORNER);
	mvaddch(y + rows + 3, x + w - 1, ACS_LRCORNER);
	snprintf(line, sizeof(line), " snapshots of %s ", p->vm);
	mvaddnstr(y, x + 2, line, w - 4);
	attrset(A_NORMAL);
	if (p->loading)
		mvaddnstr(y + 1, x + 2, "asking labd...", w - 4);
	else if (n == 0)
		mvaddnstr(y + 1, x + 2, *p->text ? "none matches: Enter takes"
		    " the name as typed" : "none known: type a name", w - 4);
	for (i = 0; i < rows && first + i < n; i++) {
		s = json_array_get(p->choices, idx[first + i]);
		snprintf(line, sizeof(line), "%-*.*s %s", w - 16, w - 16,
		    jstr(s, "name"), json_is_true(json_object_get(s, "ram")) ?
		    "RAM+disk" : "disk");
		attrset(first + i == p->sel ? draw_attr(t, CLR_CURSOR) :
		    (int)A_NORMAL);
		mvaddnstr(y + 1 + i, x + 2, line, w - 4);
		attrset(A_NORMAL);
	}
	attrset(A_DIM);
	mvaddnstr(y + rows + 2, x + 2, "type to narrow, Up/Down to pick;"
	    " Enter asks y/n; Esc cancels", w - 4);
	attrset(A_NORMAL);
}
