/* SPDX-License-Identifier: ISC */
/*
 * labctl.h - what labctl's command files share: the connection, the
 * calls (call.c), the output helpers.  labctl.c holds the command table
 * and main; the other files of labctl/ hold groups of commands, and
 * lookup.c finds a command in the table.
 */
#ifndef LABD_LABCTL_H
#define LABD_LABCTL_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "proto/client.h"
#include "proto/proto.h"
#include "proto/untar.h"

#define CTL_ERRLEN	2048
#define CTL_OK		0
#define CTL_FAILED	1
#define CTL_USAGE	2
#define CTL_NOCONN	3

struct ctl {
	struct client_conn	*conn;
	const char		*socket;
	int			 json;
	int			 rc_is_status;	/* exec: a command's status */
};

/* An entry of the command table: the words that select it. */
struct ctl_cmd {
	const char	*word1;
	const char	*word2;		/* NULL: a one-word command */
	const char	*usage;
	int		(*fn)(struct ctl *, int, char **);
	const char	*help;
};

/* call.c */
int		 ctl_connect(struct ctl *);
/* One request, one reply; args (may be NULL) is taken over. */
json_t		*ctl_call(struct ctl *, const char *cmd, json_t *args, int *rc);
void		 print_json(json_t *);
/* The VM names of a course (a new array), NULL after labd's error. */
json_t		*course_vms(struct ctl *, const char *course, int *rc);
/* "--opt VALUE" or "--opt=VALUE" at argv[*i]; NULL when not that option. */
const char	*opt_value(const char *opt, int argc, char **argv, int *i);

/* lookup.c */
/*
 * The entry argv's words name: a two-word entry when both match, else the
 * one-word entry of argv[0]; *nwords says how many it took.  NULL with a
 * message in err when none does or the table has it twice.
 */
const struct ctl_cmd *ctl_lookup(const struct ctl_cmd *, size_t n, int argc,
		    char **argv, int *nwords, char *err, size_t errlen);
/* 0, or -1 with err naming an entry the table has twice. */
int		 ctl_table_check(const struct ctl_cmd *, size_t n, char *err,
		    size_t errlen);

/* access.c */
enum sheet_format { SHEET_TEXT, SHEET_CSV, SHEET_MD, NSHEET_FORMATS };
int	ctl_access(struct ctl *, int, char **);
/* The format called name (text, csv, md); -1 after a usage message. */
int	sheet_format(const char *cmd, const char *name);
/* Rows of course.create (with passwords) or of course.access, on out. */
void	sheet_print(FILE *out, int format, const char *course, json_t *rows);

/* check.c */
enum check_format { CHECK_TEXT, CHECK_CSV, CHECK_MD, CHECK_JSON,
	NCHECK_FORMATS };
int	ctl_check(struct ctl *, int, char **);
/* The goals of DIR for course.check; NULL with err naming the file. */
json_t	*check_read_dir(const char *dir, char *err, size_t errlen);
/* The format called name; -1 after a usage message. */
int	check_format(const char *name);
/* A course.check or course.check_last reply, on out. */
void	check_print(FILE *out, int format, json_t *res);

/* collect.c */
int	ctl_collect(struct ctl *, int, char **);

/* console.c */
int	ctl_console(struct ctl *, int, char **);

/* template.c */
int	ctl_template_import(struct ctl *, int, char **);
int	ctl_template_list(struct ctl *, int, char **);
int	ctl_template_show(struct ctl *, int, char **);
int	ctl_template_rm(struct ctl *, int, char **);
int	ctl_template_from_vm(struct ctl *, int, char **);

/* exec.c */
int	ctl_exec(struct ctl *, int, char **);

int	ctl_removed(struct ctl *, int, char **);
int	ctl_recover(struct ctl *, int, char **);

#endif /* LABD_LABCTL_H */
