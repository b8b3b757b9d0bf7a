/* SPDX-License-Identifier: ISC */
/*
 * main.c - labtui's options, its signals and its one loop.
 *
 * The loop polls the terminal and the connections to labd, and draws
 * only when something asked for it (a key, an event, a sample, the
 * one-second clock).  Drawing writes into ncurses' virtual screen and
 * doupdate() sends only the cells that changed, so the screen never
 * flickers and an idle console costs next to nothing.
 *
 * The terminal is given back on every way out: q, SIGINT/SIGTERM/SIGHUP
 * (a flag that the loop sees; then the signal is raised again so that the
 * shell sees why we stopped), and a crash (SIGSEGV, SIGABRT, SIGBUS,
 * SIGFPE, SIGILL: endwin() and the saved termios, then the signal again).
 */
#include <sys/time.h>

#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <curses.h>

#include "proto/client.h"
#include "proto/proto.h"
#include "tui/labtui.h"

static volatile sig_atomic_t	 quit_sig;
static struct termios		 saved_tio;
static int			 have_tio;
static int			 curses_on;

static void
usage(FILE *f)
{
	fprintf(f, "usage: labtui [-s SOCKET] [--run-dir DIR]\n"
	    "       labtui --replay FILE      (a test and bench aid: no labd)\n"
	    "\n"
	    "The instructor's console of labd.  The socket is -s, else $%s,\n"
	    "else %s.  Press ? inside for the keys.\n", LABD_SOCKET_ENV,
	    LABD_DEFAULT_SOCKET);
}

double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static __attribute__((__noreturn__)) void
tui_oom(void)
{
	if (curses_on)
		endwin();
	fprintf(stderr, "labtui: out of memory\n");
	exit(1);
}

void *
tui_xcalloc(size_t n, size_t size)
{
	void	*p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		tui_oom();
	return p;
}

void *
tui_xrealloc(void *p, size_t size)
{
	if ((p = realloc(p, size ? size : 1)) == NULL)
		tui_oom();
	return p;
}

char *
tui_xstrdup(const char *s)
{
	char	*p = strdup(s);

	if (p == NULL)
		tui_oom();
	return p;
}

void
tui_message(struct tui *t, int bad, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(t->message, sizeof(t->message), fmt, ap);
	va_end(ap);
	t->message_at = now_s();
	t->message_bad = bad;
	t->flags |= TF_DRAW;
}

int
tui_quit_signal(void)
{
	return quit_sig;
}

/* Leave the screen to another program (the console); resume after. */
void
tui_pause_screen(void)
{
	def_prog_mode();
	endwin();
}

void
tui_resume_screen(void)
{
	reset_prog_mode();
	clearok(curscr, TRUE);
	refresh();
}

static void
on_quit(int sig)
{
	quit_sig = sig;
}

/*
 * A crash must not leave the instructor with a terminal in raw mode and
 * the alternate screen: endwin() is not async-signal-safe, but we are
 * dying anyway and this is what htop does too; tcsetattr() is safe and
 * covers the console's raw mode.
 */
static void
on_crash(int sig)
{
	static const char	msg[] = "labtui: crashed, terminal restored\n";

	if (curses_on)
		endwin();
	if (have_tio)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
signals_init(void)
{
	struct sigaction	sa;
	static const int	quit[] = { SIGINT, SIGTERM, SIGHUP };
	static const int	crash[] = { SIGSEGV, SIGABRT, SIGBUS, SIGFPE,
				    SIGILL };
	size_t			i;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_quit;	/* no SA_RESTART: poll() wakes up */
	for (i = 0; i < sizeof(quit) / sizeof(quit[0]); i++)
		sigaction(quit[i], &sa, NULL);
	sa.sa_handler = on_crash;
	sa.sa_flags = SA_RESETHAND;
	for (i = 0; i < sizeof(crash) / sizeof(crash[0]); i++)
		sigaction(crash[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void
curses_init(struct tui *t)
{
	initscr();
	curses_on = 1;
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	leaveok(stdscr, TRUE);
	draw_init_colors(t);
}

static void
draw_timed(struct tui *t)
{
	double	t0 = now_s(), ms;

	draw_screen(t);
	ms = (now_s() - t0) * 1000;
	t->stats.frames++;
	t->stats.total_ms += ms;
	if (ms > t->stats.max_ms)
		t->stats.max_ms = ms;
}

/* Sample the host and every QEMU; rows may move when sorted by CPU. */
static void
sample(struct tui *t, double now)
{
	size_t	i;

	host_sample(&t->host);
	for (i = 0; i < t->nrows; i++)
		host_sample_vm(&t->host, t->rows[i], now);
	t->sampled_at = now;
	t->flags |= TF_DRAW;
	if (t->sort_col == COL_CPU || t->sort_col == COL_MEM ||
	    t->sort_col == COL_UPTIME)
		t->flags |= TF_VIEW;
}

/*
 * --replay: the figures a bench wants.  The first full draw of the file's
 * VMs, then its events twice: one at a time with a draw after each (the
 * worst case), and all at once with one draw (a burst as the loop sees it).
 */
struct replay_figures {
	double	first_ms;
	double	each_ms;
	double	burst_ms;
	size_t	nevents;
};

static void
replay_run(struct tui *t, struct replay_figures *f)
{
	json_t	*ev;
	size_t	 i;
	double	 t0;

	t0 = now_s();
	model_view(t);
	clearok(curscr, TRUE);
	draw_timed(t);
	f->first_ms = (now_s() - t0) * 1000;
	f->nevents = json_array_size(t->replay_events);
	t0 = now_s();
	json_array_foreach(t->replay_events, i, ev) {
		model_event(t, jstr(ev, "event"), json_object_get(ev, "data"));
		model_view(t);
		draw_timed(t);
	}
	f->each_ms = (now_s() - t0) * 1000;
	t0 = now_s();
	json_array_foreach(t->replay_events, i, ev)
		model_event(t, jstr(ev, "event"), json_object_get(ev, "data"));
	model_view(t);
	draw_timed(t);
	f->burst_ms = (now_s() - t0) * 1000;
	t->flags = 0;
	/* from here on: the frames of the keys and the clock */
	memset(&t->stats, 0, sizeof(t->stats));
}

static void
replay_print(struct tui *t, const struct replay_figures *f)
{
	fprintf(stderr, "labtui replay: %zu VMs, screen %dx%d (%d rows shown)\n",
	    t->nrows, COLS, LINES, draw_table_rows(t));
	fprintf(stderr, "labtui replay: first full draw %.2f ms\n",
	    f->first_ms);
	fprintf(stderr, "labtui replay: %zu events applied and drawn one by"
	    " one %.2f ms (%.3f ms each); as one burst %.2f ms\n", f->nevents,
	    f->each_ms, f->nevents ? f->each_ms / f->nevents : 0.0,
	    f->burst_ms);
	fprintf(stderr, "labtui replay: then %lu frames (keys, the clock):"
	    " mean %.3f ms, worst %.3f ms\n", t->stats.frames,
	    t->stats.frames ? t->stats.total_ms / t->stats.frames : 0.0,
	    t->stats.max_ms);
}

static int
loop(struct tui *t)
{
	struct pollfd	pfd[8];
	double		now, next, last_tick = 0;
	int		n, rc, ch, timeout;

	t->flags |= TF_VIEW | TF_DRAW;
	while (!quit_sig) {
		now = now_s();
		if (now - last_tick >= 1.0) {	/* the clock, the uptimes */
			last_tick = now;
			t->flags |= TF_DRAW;
		}
		if (now - t->sampled_at >= TUI_SAMPLE_S)
			sample(t, now);
		next = t->replay ? now + 1.0 : link_tick(t, now);
		if (t->flags & TF_VIEW)
			model_view(t);
		if (t->flags & TF_FULL)
			clearok(curscr, TRUE);
		if (t->flags & (TF_DRAW | TF_VIEW | TF_FULL))
			draw_timed(t);
		t->flags = 0;

		if (next > last_tick + 1.0)
			next = last_tick + 1.0;
		if (next > t->sampled_at + TUI_SAMPLE_S)
			next = t->sampled_at + TUI_SAMPLE_S;
		timeout = (int)((next - now_s()) * 1000) + 1;
		if (timeout < 0)
			timeout = 0;
		pfd[0].fd = STDIN_FILENO;
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		n = t->replay ? 0 : link_pollfds(t, pfd + 1, 7);
		rc = poll(pfd, n + 1, timeout);
		if (rc == -1 && errno != EINTR)
			return -1;
		if (rc == -1)	/* a signal: SIGWINCH is a KEY_RESIZE */
			pfd[0].revents = POLLIN;
		if (pfd[0].revents & (POLLHUP | POLLERR | POLLNVAL))
			return 0;	/* the terminal went away */
		if (pfd[0].revents & POLLIN) {
			while ((ch = getch()) != ERR) {
				t->flags |= keys_handle(t, ch);
				if (t->flags & TF_QUIT)
					return 0;
			}
		}
		if (rc > 0 && n > 0)
			link_service(t, pfd + 1, n);
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "replay", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct tui		 t;
	struct replay_figures	 fig = { 0 };
	const char		*sock = NULL;
	char			 err[TUI_ERRLEN];
	int			 ch, rc, sig;

	memset(&t, 0, sizeof(t));
	t.sort_col = COL_NAME;
	t.mode = MODE_TABLE;
	while ((ch = getopt_long(argc, argv, "s:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			sock = optarg;
			break;
		case 'r':
			t.run_dir_opt = optarg;
			break;
		case 'R':
			t.replay = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("labtui %s (protocol %d)\n", LABTUI_VERSION,
			    LABD_PROTO_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "labtui: needs a terminal (labctl is the"
		    " command line)\n");
		return 2;
	}
	setlocale(LC_ALL, "");
	if (t.replay != NULL) {
		if (link_replay_load(&t, t.replay, err, sizeof(err)) == -1) {
			fprintf(stderr, "labtui: %s\n", err);
			return 1;
		}
	} else
		link_init(&t, client_socket_path(sock));

	have_tio = tcgetattr(STDIN_FILENO, &saved_tio) == 0;
	signals_init();
	curses_init(&t);
	sample(&t, now_s());
	if (t.replay != NULL)
		replay_run(&t, &fig);
	rc = loop(&t);
	endwin();
	curses_on = 0;
	if (t.replay != NULL)
		replay_print(&t, &fig);
	sig = quit_sig;
	action_free(&t);
	link_free(&t);
	model_free(&t);
	if (sig != 0) {
		/* Let the shell see the signal, as if we had not caught it. */
		signal(sig, SIG_DFL);
		raise(sig);
	}
	return rc == 0 ? 0 : 1;
}
