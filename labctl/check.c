/* SPDX-License-Identifier: ISC */
/*
 * check.c - labctl check: the goal scripts of a folder (or those stored
 * with the course, labctl course set COURSE checks=DIR) run in every
 * running VM of a course (course.check), or the last run again
 * (course.check_last), shown as a goal x student table.
 *
 * The folder is read here, on the instructor's side, so that labd never
 * opens a path a client names: each entry must be a regular executable
 * file (no symlink, no folder), at most 64 KiB of text, whose name less
 * its extension is the goal's name.  An optional first comment line
 * (after the #! line when there is one) is the goal's description.
 * Anything else is refused with the file's name, before labd is asked.
 *
 * The table says "yes" and "no" rather than marks: labctl's output is
 * ASCII throughout, for any terminal and any grep.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "labctl/labctl.h"

#define CHECK_GOALS_MAX		32
#define CHECK_NAME_MAX		32
#define CHECK_SCRIPT_MAX	(64 * 1024)
#define CHECK_TOTAL_MAX		(1024 * 1024)	/* all scripts: one request */

typedef void	check_fn(FILE *, json_t *);

static void	check_text(FILE *, json_t *);
static void	check_csv(FILE *, json_t *);
static void	check_md(FILE *, json_t *);
static void	check_json(FILE *, json_t *);

static const struct {
	const char	*name;
	check_fn	*print;
} check_formats[NCHECK_FORMATS] = {
	[CHECK_TEXT] = { "text", check_text },	/* the table, the reasons */
	[CHECK_CSV] = { "csv", check_csv },	/* the grade book */
	[CHECK_MD] = { "md", check_md },	/* a table for a report */
	[CHECK_JSON] = { "json", check_json },	/* as labd replied */
};

/* --- the goal scripts ---------------------------------------------------- */

static int
goal_name_ok(const char *s)
{
	size_t	n = strlen(s);

	return n > 0 && n <= CHECK_NAME_MAX && s[0] != '-' && strspn(s,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
	    == n;
}

/* The first comment line (after #!), without "#" and blanks; "" if none. */
static void
goal_description(const char *script, char *out, size_t outlen)
{
	const char	*p = script;
	size_t		 n;

	out[0] = '\0';
	if (strncmp(p, "#!", 2) == 0) {
		if ((p = strchr(p, '\n')) == NULL)
			return;
		p++;
	}
	if (*p != '#')
		return;
	p += strspn(p, "# \t");
	n = strcspn(p, "\r\n");
	snprintf(out, outlen, "%.*s", (int)n, p);
}

/* The script at dir/leaf, read through a descriptor that is not a link. */
static char *
goal_read(const char *dir, const char *leaf, char *err, size_t errlen)
{
	struct stat	 sb;
	char		 path[4096], *buf = NULL;
	ssize_t		 n;
	int		 fd;

	snprintf(path, sizeof(path), "%s/%s", dir, leaf);
	if (lstat(path, &sb) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (S_ISLNK(sb.st_mode) || S_ISDIR(sb.st_mode) || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: a %s, not a goal script (regular"
		    " executable files only)", path, S_ISLNK(sb.st_mode) ?
		    "symbolic link" : S_ISDIR(sb.st_mode) ? "folder" :
		    "special file");
		return NULL;
	}
	if ((sb.st_mode & 0111) == 0) {
		snprintf(err, errlen, "%s: not executable (chmod +x it, or"
		    " move it out of %s)", path, dir);
		return NULL;
	}
	if (sb.st_size > CHECK_SCRIPT_MAX || sb.st_size == 0) {
		snprintf(err, errlen, "%s: %lld bytes; a goal script is 1 to"
		    " %d KiB", path, (long long)sb.st_size,
		    CHECK_SCRIPT_MAX / 1024);
		return NULL;
	}
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf = calloc(1, CHECK_SCRIPT_MAX + 2);
	if (buf == NULL ||
	    (n = read(fd, buf, CHECK_SCRIPT_MAX + 1)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (n == 0 || n > CHECK_SCRIPT_MAX) {
		snprintf(err, errlen, "%s: a goal script is 1 to %d KiB",
		    path, CHECK_SCRIPT_MAX / 1024);
		goto fail;
	}
	if (memchr(buf, '\0', (size_t)n) != NULL) {
		snprintf(err, errlen, "%s: holds a NUL byte; a goal script is"
		    " text (a #! script)", path);
		goto fail;
	}
	close(fd);
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}

static int
leaf_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int
leaf_visible(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

json_t *
check_read_dir(const char *dir, char *err, size_t errlen)
{
	struct dirent	**ents = NULL;
	json_t		*goals = json_array(), *g;
	char		 name[CHECK_NAME_MAX + 2], desc[256], *script, *dot;
	size_t		 total = 0, k;
	int		 n = 0, i;
	struct stat	 sb;

	if (stat(dir, &sb) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a folder of goal scripts", dir);
		goto fail;
	}
	if ((n = scandir(dir, &ents, leaf_visible, leaf_cmp)) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	if (n == 0) {
		snprintf(err, errlen, "%s: no goal scripts in it", dir);
		goto fail;
	}
	if (n > CHECK_GOALS_MAX) {
		snprintf(err, errlen, "%s: %d goal scripts; at most %d", dir,
		    n, CHECK_GOALS_MAX);
		goto fail;
	}
	for (i = 0; i < n; i++) {
		if (strlen(ents[i]->d_name) > CHECK_NAME_MAX + 16) {
			snprintf(err, errlen, "%s/%s: the name is too long",
			    dir, ents[i]->d_name);
			goto fail;
		}
		snprintf(name, sizeof(name), "%.*s", CHECK_NAME_MAX + 1,
		    ents[i]->d_name);
		if ((dot = strrchr(ents[i]->d_name, '.')) != NULL &&
		    dot != ents[i]->d_name)
			snprintf(name, sizeof(name), "%.*s",
			    (int)(dot - ents[i]->d_name) > CHECK_NAME_MAX + 1 ?
			    CHECK_NAME_MAX + 1 : (int)(dot - ents[i]->d_name),
			    ents[i]->d_name);
		if (!goal_name_ok(name)) {
			snprintf(err, errlen, "%s/%s: a goal's name (the file's"
			    " name less its extension) is 1 to %d of A-Z a-z"
			    " 0-9 _ -, not starting with -", dir,
			    ents[i]->d_name, CHECK_NAME_MAX);
			goto fail;
		}
		json_array_foreach(goals, k, g)
			if (strcmp(jstr(g, "name"), name) == 0) {
				snprintf(err, errlen, "%s/%s: goal %s is there"
				    " twice", dir, ents[i]->d_name, name);
				goto fail;
			}
		if ((script = goal_read(dir, ents[i]->d_name, err,
		    errlen)) == NULL)
			goto fail;
		if ((total += strlen(script)) > CHECK_TOTAL_MAX) {
			snprintf(err, errlen, "%s: the scripts make over %d"
			    " KiB together", dir, CHECK_TOTAL_MAX / 1024);
			free(script);
			goto fail;
		}
		goal_description(script, desc, sizeof(desc));
		json_array_append_new(goals, json_pack("{s:s,s:s,s:s}", "name",
		    name, "description", desc, "script", script));
		free(script);
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return goals;
fail:
	if (ents != NULL) {
		for (i = 0; i < n; i++)
			free(ents[i]);
		free(ents);
	}
	json_decref(goals);
	return NULL;
}

/* --- rendering ----------------------------------------------------------- */

static int
row_checked(json_t *row)
{
	return strcmp(jstr(row, "state"), "checked") == 0;
}

static int
result_met(json_t *row, size_t i)
{
	json_t	*r = json_array_get(json_object_get(row, "results"), i);

	return json_is_true(json_object_get(r, "met"));
}

static size_t
width_of(json_t *rows, const char *key, size_t min)
{
	json_t	*row;
	size_t	 i, w = min;

	json_array_foreach(rows, i, row)
		if (strlen(jstr(row, key)) > w)
			w = strlen(jstr(row, key));
	return w;
}

static void
check_text(FILE *out, json_t *res)
{
	json_t		*goals = json_object_get(res, "goals");
	json_t		*rows = json_object_get(res, "rows"), *row, *g, *r;
	size_t		 i, k, ws, wv, ng = json_array_size(goals);
	size_t		 nchecked = 0;
	long long	 total = 0;
	char		 cell[32];
	time_t		 t = (time_t)jint(res, "started");
	struct tm	 tm;
	char		 when[64];

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	fprintf(out, "course %s: %s %s, %zu goal%s, %zu VM%s, %.1f s\n",
	    jstr(res, "course"), json_is_true(json_object_get(res, "last")) ?
	    "last checked" : "checked", when, ng, ng == 1 ? "" : "s",
	    json_array_size(rows), json_array_size(rows) == 1 ? "" : "s",
	    jint(res, "ms") / 1000.0);
	ws = width_of(rows, "student", strlen("student"));
	wv = width_of(rows, "vm", strlen("vm"));
	fprintf(out, "%-*s  %-*s", (int)ws, "student", (int)wv, "vm");
	json_array_foreach(goals, k, g)
		fprintf(out, "  %-*s", (int)(strlen(jstr(g, "name")) < 5 ? 5 :
		    strlen(jstr(g, "name"))), jstr(g, "name"));
	fprintf(out, "  total\n");
	json_array_foreach(rows, i, row) {
		fprintf(out, "%-*s  %-*s", (int)ws, jstr(row, "student"),
		    (int)wv, jstr(row, "vm"));
		if (row_checked(row))
			nchecked++;
		json_array_foreach(goals, k, g)
			fprintf(out, "  %-*s", (int)(strlen(jstr(g, "name")) <
			    5 ? 5 : strlen(jstr(g, "name"))),
			    !row_checked(row) ? "-" : result_met(row, k) ?
			    "yes" : "no");
		if (row_checked(row))
			fprintf(out, "  %lld/%zu\n", jint(row, "met"), ng);
		else
			fprintf(out, "  %s\n", jstr(row, "error"));
	}
	fprintf(out, "%-*s  %-*s", (int)ws, "total", (int)wv, "");
	json_array_foreach(goals, k, g) {
		snprintf(cell, sizeof(cell), "%lld/%zu", jint(g, "met"),
		    nchecked);
		total += jint(g, "met");
		fprintf(out, "  %-*s", (int)(strlen(jstr(g, "name")) < 5 ? 5 :
		    strlen(jstr(g, "name"))), cell);
	}
	fprintf(out, "  %lld/%zu\n", total, nchecked * ng);
	/* What each goal is, then why each one not met was not. */
	fprintf(out, "\ngoals:\n");
	json_array_foreach(goals, k, g) {
		fprintf(out, "  %s", jstr(g, "name"));
		if (*jstr(g, "description") != '\0')
			fprintf(out, "%*s  %s", strlen(jstr(g, "name")) < 12 ?
			    (int)(12 - strlen(jstr(g, "name"))) : 0, "",
			    jstr(g, "description"));
		fputc('\n', out);
	}
	i = 0;
	json_array_foreach(rows, k, row) {
		if (!row_checked(row))
			continue;
		json_array_foreach(json_object_get(row, "results"), ng, r) {
			if (json_is_true(json_object_get(r, "met")))
				continue;
			if (i++ == 0)
				fprintf(out, "\nnot met:\n");
			fprintf(out, "  %s %s: %s\n", jstr(row, "vm"),
			    jstr(r, "goal"), *jstr(r, "reason") != '\0' ?
			    jstr(r, "reason") : "(no output)");
		}
	}
}

/* student,vm,GOAL...,total: 1 or 0, empty cells for a VM not checked. */
static void
check_csv(FILE *out, json_t *res)
{
	json_t	*goals = json_object_get(res, "goals");
	json_t	*rows = json_object_get(res, "rows"), *row, *g;
	size_t	 i, k;

	fprintf(out, "student,vm");
	json_array_foreach(goals, k, g)
		fprintf(out, ",%s", jstr(g, "name"));
	fprintf(out, ",total\n");
	json_array_foreach(rows, i, row) {
		fprintf(out, "%s,%s", jstr(row, "student"), jstr(row, "vm"));
		json_array_foreach(goals, k, g)
			fprintf(out, ",%s", !row_checked(row) ? "" :
			    result_met(row, k) ? "1" : "0");
		if (row_checked(row))
			fprintf(out, ",%lld\n", jint(row, "met"));
		else
			fprintf(out, ",\n");
	}
}

static void
check_md(FILE *out, json_t *res)
{
	json_t	*goals = json_object_get(res, "goals");
	json_t	*rows = json_object_get(res, "rows"), *row, *g;
	size_t	 i, k, ng = json_array_size(goals);

	fprintf(out, "| student | vm |");
	json_array_foreach(goals, k, g)
		fprintf(out, " %s |", jstr(g, "name"));
	fprintf(out, " total |\n|---|---|");
	for (k = 0; k < ng; k++)
		fprintf(out, ":-:|");
	fprintf(out, "--:|\n");
	json_array_foreach(rows, i, row) {
		fprintf(out, "| %s | %s |", jstr(row, "student"),
		    jstr(row, "vm"));
		json_array_foreach(goals, k, g)
			fprintf(out, " %s |", !row_checked(row) ? "-" :
			    result_met(row, k) ? "yes" : "no");
		if (row_checked(row))
			fprintf(out, " %lld/%zu |\n", jint(row, "met"), ng);
		else
			fprintf(out, " not running |\n");
	}
}

static void
check_json(FILE *out, json_t *res)
{
	json_dumpf(res, out, JSON_INDENT(2));
	fputc('\n', out);
}

int
check_format(const char *name)
{
	size_t	i;

	for (i = 0; i < NCHECK_FORMATS; i++)
		if (strcmp(check_formats[i].name, name) == 0)
			return (int)i;
	fprintf(stderr, "labctl check: unknown format \"%s\"; use text, csv,"
	    " md or json\n", name);
	return -1;
}

void
check_print(FILE *out, int format, json_t *res)
{
	check_formats[format].print(out, res);
}

int
ctl_check(struct ctl *c, int argc, char **argv)
{
	const char	*course = NULL, *dir = NULL, *student = NULL, *v;
	char		 err[CTL_ERRLEN], *end;
	json_t		*args, *goals, *res;
	long		 timeout = 0;
	int		 k, rc, last = 0, format = CHECK_TEXT;

	for (k = 0; k < argc; k++) {
		if ((v = opt_value("--format", argc, argv, &k)) != NULL) {
			if ((format = check_format(v)) == -1)
				return CTL_USAGE;
		} else if ((v = opt_value("--student", argc, argv, &k)) != NULL)
			student = v;
		else if ((v = opt_value("--timeout", argc, argv, &k)) != NULL) {
			timeout = strtol(v, &end, 10);
			if (*end != '\0' || timeout < 1 || timeout > 600) {
				fprintf(stderr, "labctl check: --timeout is"
				    " seconds, 1 to 600\n");
				return CTL_USAGE;
			}
		} else if (strcmp(argv[k], "--last") == 0)
			last = 1;
		else if (argv[k][0] != '-' && course == NULL)
			course = argv[k];
		else if (argv[k][0] != '-' && dir == NULL)
			dir = argv[k];
		else
			return CTL_USAGE;
	}
	if (course == NULL || (last && (dir != NULL || student != NULL ||
	    timeout != 0))) {
		fprintf(stderr, "labctl check: COURSE [DIR], or COURSE"
		    " --last\n");
		return CTL_USAGE;
	}
	if (last)
		args = json_pack("{s:s}", "course", course);
	else {
		args = json_pack("{s:s}", "course", course);
		/* No folder: labd runs the course's stored checks. */
		if (dir != NULL && (goals = check_read_dir(dir, err,
		    sizeof(err))) == NULL) {
			fprintf(stderr, "labctl check: %s\n", err);
			json_decref(args);
			return CTL_FAILED;
		}
		if (dir != NULL)
			json_object_set_new(args, "goals", goals);
		if (student != NULL)
			json_object_set_new(args, "student",
			    json_string(student));
		if (timeout > 0)
			json_object_set_new(args, "timeout",
			    json_integer(timeout));
	}
	if ((res = ctl_call(c, last ? "course.check_last" : "course.check",
	    args, &rc)) == NULL)
		return rc;
	check_print(stdout, c->json ? CHECK_JSON : format, res);
	json_decref(res);
	return CTL_OK;
}
