/* SPDX-License-Identifier: ISC */
/*
 * labtui.h - labtui, the instructor's console: the shared types and the
 * prototypes of each file, grouped by file.
 *
 * labtui is a client of labd's control socket and nothing else of labd
 * (proto/client.h, proto/proto.h).  It reads the host's /proc itself, for it
 * runs on the labd host, and it opens a VM's serial socket in run_dir for
 * the console.  The screen is built from panels (header, table, footer;
 * detail and help replace the table; the event log pane shares its place),
 * the keys are one table (keys.c) and the columns another (columns.c).
 */
#ifndef LABTUI_H
#define LABTUI_H

#include <poll.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "proto/client.h"

#define LABTUI_VERSION		"0.1.0"
#define TUI_NAMELEN		128
#define TUI_NEVENTS		16	/* recent events kept per VM */
#define TUI_NLOG		200	/* events kept for the event log pane */
#define TUI_LOG_MINLINES	16	/* a shorter screen hides the pane */
#define TUI_ERRLEN		512
#define TUI_RETRY_S		2.0	/* reconnect to a lost labd */
#define TUI_POLL_S		5.0	/* vm.list and status, for uptime */
#define TUI_SAMPLE_S		2.0	/* host and QEMU CPU/memory */
#define TUI_MSG_S		15.0	/* a footer message stays this long */

/* What a key handler asks of the main loop (htop's handler flags). */
#define TF_DRAW		0x01	/* draw the screen again */
#define TF_VIEW		0x02	/* rebuild the view: course, filter, sort */
#define TF_FULL		0x04	/* repaint every cell (console, Ctrl-L) */
#define TF_QUIT		0x08

enum tui_mode {
	MODE_TABLE = 0x01,
	MODE_DETAIL = 0x02,
	MODE_HELP = 0x04,
};

/* Colours (pairs) by meaning; draw.c maps them to attributes. */
enum tui_color {
	CLR_NORMAL,
	CLR_READY,	/* ready */
	CLR_BUSY,	/* booting, provisioning, restoring, resuming... */
	CLR_FAILED,	/* failed, lost connection */
	CLR_DIM,	/* stopped, suspended */
	CLR_TITLE,	/* the column titles, the key bar's keys */
	CLR_CURSOR,
	CLR_MARKED,
	CLR_BAR,	/* meters and the progress bar */
	CLR_N
};

struct vm_event {
	time_t	 t;
	char	 text[120];
};

/* One line of the event log pane: every VM, and labtui's own actions. */
struct log_entry {
	time_t	 t;
	char	 vm[TUI_NAMELEN];	/* a VM, or "course NAME" */
	char	 text[160];
	int	 bad;			/* failed: drawn as such */
};

/* One row: what labd said of a VM and what /proc says of its QEMU. */
struct vm_row {
	char		 name[TUI_NAMELEN];
	char		 course[TUI_NAMELEN];
	char		 student[TUI_NAMELEN];
	char		 state[24];
	char		 desired[24];
	char		 snapshot[TUI_NAMELEN];
	char		 error[384];
	char		 port1[64];	/* "127.0.0.1:22001" (the first) */
	int		 nports;
	json_t		*obj;		/* the last vm object, for details */
	int		 pid;
	long long	 uptime;	/* as labd said, at uptime_at */
	double		 uptime_at;
	long long	 connections;	/* -1: labd does not say */
	long long	 checks_met;	/* the last check (vm.list) */
	long long	 checks_total;	/* -1: never checked */
	long long	 checks_at;
	/* the QEMU process, sampled from /proc */
	unsigned long long ticks;
	double		 ticks_at;
	int		 ticks_pid;
	double		 cpu;		/* percent of one CPU */
	long long	 rss_kb;
	int		 marked;
	int		 seen;		/* in the last vm.list */
	struct vm_event	 ev[TUI_NEVENTS];	/* a ring, newest at nev-1 */
	unsigned	 nev;
};

enum col_id {
	COL_NAME, COL_STUDENT, COL_STATE, COL_PORTS, COL_UPTIME, COL_CPU,
	COL_MEM, COL_CONN, COL_CHECKS, COL_SNAPSHOT, COL_N
};

struct column {
	const char	*title;
	int		 width;		/* wanted; NAME and SNAPSHOT grow */
	int		 min;		/* shrink no further */
	int		 right;		/* right-aligned (numbers) */
	int		 prio;		/* dropped first when narrow: highest */
	void		(*fmt)(const struct vm_row *, double now, char *,
			    size_t);
	int		(*cmp)(const struct vm_row *, const struct vm_row *,
			    double now);
	const char	*help;
};

enum prompt_kind { P_NONE, P_FILTER, P_TEXT, P_CONFIRM, P_PICK };

struct tui;
struct prompt;
/*
 * Called with the text typed (or "y") when the prompt is accepted; the
 * prompt is already closed (p is a copy), so that it may open another.
 */
typedef int (*prompt_done_fn)(struct tui *, struct prompt *p,
		    const char *text);

struct prompt {
	enum prompt_kind kind;
	char		 label[256];
	char		 text[128];
	prompt_done_fn	 done;
	/* the action that waits for an answer */
	char		 cmd[32];
	char		 what[96];
	json_t		*extra;		/* more args of each request */
	json_t		*names;		/* the VMs it is for */
	/* P_PICK: a VM's snapshots to choose from */
	char		 vm[TUI_NAMELEN];
	json_t		*choices;
	int		 sel;
	int		 loading;
};

struct host {
	unsigned long long busy, total;	/* jiffies, last /proc/stat */
	double		 cpu;		/* percent of all CPUs */
	int		 ncpu;
	long long	 mem_total_kb;
	long long	 mem_avail_kb;
	long long	 ksm_saved_kb;	/* 0: KSM off or idle */
	long		 clk_tck;
};

struct batch;
struct link;

struct frame_stats {
	unsigned long	 frames;
	double		 total_ms;
	double		 max_ms;
};

struct tui {
	/* the model: every VM labd knows of */
	struct vm_row	**rows;
	size_t		 nrows, caprows;
	/* the view: the rows of the course, filtered and sorted */
	struct vm_row	**view;
	size_t		 nview, capview;
	char		 **courses;
	size_t		 ncourses;
	char		 course[TUI_NAMELEN];	/* "": all courses */
	char		 filter[128];
	int		 sort_col;
	int		 sort_rev;
	int		 has_conn;		/* some VM says "connections" */
	int		 widest[COL_N];		/* of the view: name, student,
						   snapshot */
	size_t		 cursor;		/* index into view */
	size_t		 top;			/* first row shown */
	char		 cursor_name[TUI_NAMELEN];

	enum tui_mode	 mode;
	char		 detail_vm[TUI_NAMELEN];
	json_t		*detail_snaps;		/* vm.snapshots, or NULL */
	double		 detail_snaps_at;
	json_t		*detail_checks;		/* vm.checks, or NULL */
	int		 detail_top;
	int		 help_top;
	struct prompt	 prompt;
	int		 show_log;		/* the event log pane (e) */
	struct log_entry log[TUI_NLOG];		/* a ring, newest at nlog-1 */
	unsigned	 nlog;

	/* labd */
	struct link	*link;
	int		 connected;
	char		 conn_err[TUI_ERRLEN];
	json_t		*status;		/* the last status result */
	double		 status_at;
	const char	*socket_path;
	const char	*run_dir_opt;		/* --run-dir, else from status */

	/* bulk actions and what they said */
	struct batch	*batches;
	char		 message[TUI_ERRLEN];
	double		 message_at;
	int		 message_bad;

	struct host	 host;
	double		 sampled_at;
	int		 color;
	int		 flags;			/* TF_* waiting for the loop */

	/* --replay: a test and bench aid, no labd */
	const char	*replay;
	json_t		*replay_events;
	struct frame_stats stats;
};

/* main.c */
double		 now_s(void);
void		 tui_message(struct tui *, int bad, const char *, ...)
		    __attribute__((__format__(__printf__, 3, 4)));
void		*tui_xcalloc(size_t, size_t);
void		*tui_xrealloc(void *, size_t);
char		*tui_xstrdup(const char *);
int		 tui_quit_signal(void);
void		 tui_pause_screen(void);
void		 tui_resume_screen(void);

/* model.c */
struct vm_row	*model_find(struct tui *, const char *name);
struct vm_row	*model_update(struct tui *, json_t *vm);
void		 model_replace(struct tui *, json_t *list);
void		 model_event(struct tui *, const char *kind, json_t *data);
void		 model_note(struct tui *, struct vm_row *, const char *, ...)
		    __attribute__((__format__(__printf__, 3, 4)));
void		 model_log(struct tui *, const char *vm, int bad,
		    const char *, ...)
		    __attribute__((__format__(__printf__, 4, 5)));
void		 model_view(struct tui *);
struct vm_row	*model_cursor_row(struct tui *);
void		 model_free(struct tui *);
int		 state_color(const char *state);
long long	 row_uptime(const struct vm_row *, double now);

/* columns.c */
extern const struct column columns[COL_N];
void		 fmt_kb(long long kb, char *, size_t);

/* checks.c: a VM's last check, as shown */
void		 checks_fmt(long long met, long long total, char *, size_t);
int		 checks_color(long long met, long long total);
void		 checks_goal_line(json_t *goal, char *, size_t);

/* link.c: the two connections to labd, or the replay file */
int		 link_init(struct tui *, const char *socket_path);
void		 link_free(struct tui *);
int		 link_pollfds(struct tui *, struct pollfd *, int max);
void		 link_service(struct tui *, const struct pollfd *, int n);
double		 link_tick(struct tui *, double now);
long		 link_act_send(struct tui *, const char *cmd, json_t *args,
		    char *err, size_t errlen);
void		 link_snapshots(struct tui *, const char *vm, int for_pick);
void		 link_checks(struct tui *, const char *vm);
void		 link_vnc(struct tui *, const char *vm);
const char	*link_run_dir(struct tui *, char *, size_t);
int		 link_replay_load(struct tui *, const char *path, char *err,
		    size_t errlen);

/* action.c: requests on VMs, pipelined, with progress */
void		 action_run(struct tui *, const char *cmd, const char *what,
		    json_t *extra, json_t *names);
void		 action_reply(struct tui *, json_t *msg);
void		 action_lost(struct tui *, const char *why);
int		 action_footer(struct tui *, char *, size_t, double *frac);
void		 action_free(struct tui *);

/* host.c: /proc and /sys of the labd host */
void		 host_sample(struct host *);
void		 host_sample_vm(const struct host *, struct vm_row *, double);

/* draw.c */
void		 draw_init_colors(struct tui *);
int		 draw_attr(const struct tui *, enum tui_color);
void		 draw_screen(struct tui *);
int		 draw_table_rows(const struct tui *);
int		 draw_log_lines(const struct tui *);

/* keys.c */
int		 keys_handle(struct tui *, int key);
void		 keys_bar(const struct tui *, int y, int width);
void		 keys_help(struct tui *, int y, int h);
int		 keys_help_lines(void);

/* prompt.c */
int		 prompt_key(struct tui *, int key);
void		 prompt_draw(struct tui *, int y);
void		 prompt_draw_pick(struct tui *, int y, int h);
void		 prompt_close(struct tui *);
struct prompt	*prompt_open(struct tui *, enum prompt_kind, prompt_done_fn,
		    const char *label, ...)
		    __attribute__((__format__(__printf__, 4, 5)));
void		 prompt_choices(struct tui *, const char *vm, json_t *snaps);

/* console.c */
/* where: the VM's "console" as labd reports it (NULL: from the run dir). */
int		 console_run(struct tui *, const char *vm, const char *where);

#endif /* LABTUI_H */
