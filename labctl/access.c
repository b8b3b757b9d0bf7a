/* SPDX-License-Identifier: ISC */
/*
 * access.c - the access sheet: per student the name, VM, host,
 * port, user, the ready ssh line and a ~/.ssh/config stanza.
 *
 * When labd runs the SSH gateway ([gateway] listen), a row also holds
 * its line ("ssh alice@IP", "-p PORT" when the port is not 22, and
 * alice+COURSE when alice is in more than one course): it comes first,
 * the VM's own port stays as the fallback, and the ~/.ssh/config stanza
 * goes through the gateway.  After it come the gateway's other doors
 * (gw_modes: +console, +reset when the course allows it, +check when it
 * has stored checks) in text and md; csv has the gateway column only.
 *
 * Two replies carry its rows.  course.create's hold the generated
 * passwords, this once: labd keeps only their hashes.  course.access's,
 * asked for any time later, say only whether a password was set.  Both go
 * through the same renderers, chosen from a table, so the two sheets
 * differ in the password and in nothing else.  A VM that publishes no ssh
 * service still gets its row, with the host, port, ssh line and stanza
 * left empty: the instructor sees that the student is there.
 *
 * With [vnc] on, each row also has the VNC address and the student's
 * VNC password (labd keeps those: VNC authentication needs them), on
 * both sheets: a line of its own in text, a vnc_password column in csv
 * (always there, empty when VNC is off, so a spreadsheet's columns stay
 * put), a line of the slip in md.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "labctl/labctl.h"

typedef void	sheet_fn(FILE *out, const char *course, json_t *rows);

static void	sheet_text(FILE *, const char *, json_t *);
static void	sheet_csv(FILE *, const char *, json_t *);
static void	sheet_md(FILE *, const char *, json_t *);

static const struct {
	const char	*name;
	sheet_fn	*print;
} sheet_formats[NSHEET_FORMATS] = {
	[SHEET_TEXT] = { "text", sheet_text },	/* one line a student */
	[SHEET_CSV] = { "csv", sheet_csv },	/* spreadsheet, mail merge */
	[SHEET_MD] = { "md", sheet_md },	/* a table, then the slips */
};

/*
 * Markdown gives these a meaning anywhere in running text or in a table
 * cell; a backslash makes each one literal (CommonMark escapes any ASCII
 * punctuation).  '#' matters at the end of a heading, where " #" would be
 * taken for a closing sequence.
 */
#define MD_SPECIAL	"\\`*_[]<>|#~&"

#define STANZA_LEN	512

static int
row_has_ssh(json_t *r)
{
	return jint(r, "port") > 0 && *jstr(r, "host") != '\0';
}

/* The port as text, "" for a VM that publishes no ssh. */
static void
row_port(json_t *r, char *out, size_t len)
{
	if (row_has_ssh(r))
		snprintf(out, len, "%lld", jint(r, "port"));
	else
		out[0] = '\0';
}

/* What a gateway line with a +mode does, from the mode's word. */
static const char *
mode_what(const char *line)
{
	if (line == NULL)
		return "";
	if (strstr(line, "+console@") != NULL)
		return "  (your VM's console)";
	if (strstr(line, "+reset@") != NULL)
		return "  (your VM back to pristine)";
	if (strstr(line, "+check@") != NULL)
		return "  (check your work)";
	return "";
}

static int
row_has_gateway(json_t *r)
{
	return *jstr(r, "gateway") != '\0';
}

/* The ~/.ssh/config stanza, without a final newline; "" without ssh. */
static void
row_stanza(json_t *r, char *out, size_t len)
{
	if (row_has_gateway(r)) {
		snprintf(out, len, "Host %s\n    HostName %s\n    Port %lld\n"
		    "    User %s", jstr(r, "vm"), jstr(r, "gw_host"),
		    jint(r, "gw_port"), jstr(r, "gw_user"));
		return;
	}
	if (!row_has_ssh(r)) {
		out[0] = '\0';
		return;
	}
	snprintf(out, len, "Host %s\n    HostName %s\n    Port %lld\n"
	    "    User %s", jstr(r, "vm"), jstr(r, "host"), jint(r, "port"),
	    jstr(r, "user"));
}

static int
rows_have_passwords(json_t *rows)
{
	json_t	*r;
	size_t	 i;

	json_array_foreach(rows, i, r)
		if (*jstr(r, "password") != '\0')
			return 1;
	return 0;
}

/*
 * The reminder closes a text sheet (f is its out).  A csv or md sheet is
 * data, so there it goes to stderr, where it cannot end up in the file
 * handed out.
 */
static void
note_passwords(FILE *f, json_t *rows)
{
	if (rows_have_passwords(rows))
		fprintf(f, "%sGenerated passwords are shown only this once;"
		    " labd keeps only their hashes.\n", f != stderr ? "\n" :
		    "labctl: ");
}

/* --- text ---------------------------------------------------------------- */

static void
sheet_text(FILE *out, const char *course, json_t *rows)
{
	json_t		*r, *m;
	size_t		 i, k;
	const char	*pw;

	fprintf(out, "Access sheet for course %s\n\n", course);
	json_array_foreach(rows, i, r) {
		pw = jstr(r, "password");
		if (row_has_gateway(r))
			fprintf(out, "  %-24s %-28s ", jstr(r, "name"),
			    jstr(r, "gateway"));
		else
			fprintf(out, "  %-24s %-28s ", jstr(r, "name"),
			    row_has_ssh(r) ? jstr(r, "ssh") : "-");
		if (*pw != '\0')
			fprintf(out, "password: %s\n", pw);
		else if (json_is_true(json_object_get(r, "key")))
			fprintf(out, "(ssh key)\n");
		else if (json_is_true(json_object_get(r, "password_set")))
			fprintf(out, "(password set at creation)\n");
		else
			fputc('\n', out);
		if (row_has_gateway(r) && row_has_ssh(r))
			fprintf(out, "  %-24s or: %s\n", "", jstr(r, "ssh"));
		json_array_foreach(json_object_get(r, "gw_modes"), k, m)
			fprintf(out, "  %-24s %s%s\n", "", json_string_value(m),
			    mode_what(json_string_value(m)));
		if (*jstr(r, "vnc_password") != '\0')
			fprintf(out, "  %-24s vnc %-24s password: %s\n", "",
			    jstr(r, "vnc"), jstr(r, "vnc_password"));
	}
	note_passwords(out, rows);
}

/* --- csv ----------------------------------------------------------------- */

/*
 * A cell that starts with one of these is a formula to a spreadsheet
 * (a tab or a CR first is stripped by some before they look), and a
 * formula can fetch a URL or run a command: "CSV injection".  A
 * student's name is the student's to choose, so such a cell gets a
 * leading ' (OWASP's advice), which keeps it text.
 */
#define CSV_FORMULA	"=+-@\t\r"

/*
 * One field (RFC 4180): quoted when it holds a comma, a quote or a line
 * break, a quote doubled inside; a formula kept text.
 */
static void
csv_field(FILE *out, const char *s, int last)
{
	int	quoted = strpbrk(s, ",\"\r\n") != NULL;

	if (quoted)
		fputc('"', out);
	if (*s != '\0' && strchr(CSV_FORMULA, *s) != NULL)
		fputc('\'', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	if (quoted)
		fputc('"', out);
	fputc(last ? '\n' : ',', out);
}

static void
sheet_csv(FILE *out, const char *course, json_t *rows)
{
	json_t	*r;
	size_t	 i;
	char	 port[16], stanza[STANZA_LEN];

	fprintf(out, "name,vm,host,port,user,password,gateway,ssh,"
	    "ssh_config,vnc_password\n");
	json_array_foreach(rows, i, r) {
		row_port(r, port, sizeof(port));
		row_stanza(r, stanza, sizeof(stanza));
		csv_field(out, jstr(r, "name"), 0);
		csv_field(out, jstr(r, "vm"), 0);
		csv_field(out, row_has_ssh(r) ? jstr(r, "host") : "", 0);
		csv_field(out, port, 0);
		csv_field(out, jstr(r, "user"), 0);
		csv_field(out, jstr(r, "password"), 0);
		csv_field(out, jstr(r, "gateway"), 0);
		csv_field(out, row_has_ssh(r) ? jstr(r, "ssh") : "", 0);
		csv_field(out, stanza, 0);
		csv_field(out, jstr(r, "vnc_password"), 1);
	}
	note_passwords(stderr, rows);
}

/* --- md ------------------------------------------------------------------ */

static void
md_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (strchr(MD_SPECIAL, *s) != NULL)
			fputc('\\', out);
		fputc(*s, out);
	}
}

static void
md_slip(FILE *out, json_t *r)
{
	const char	*pw = jstr(r, "password");
	char		 stanza[STANZA_LEN];
	json_t		*m;
	size_t		 k;

	fprintf(out, "\n## ");
	md_text(out, jstr(r, "name"));
	fprintf(out, "\n\n- VM: `%s`\n", jstr(r, "vm"));
	if (row_has_ssh(r))
		fprintf(out, "- Host: `%s`\n- Port: `%lld`\n", jstr(r, "host"),
		    jint(r, "port"));
	fprintf(out, "- User: `%s`\n", jstr(r, "user"));
	if (*pw != '\0')
		fprintf(out, "- Password: `%s`\n", pw);
	else if (json_is_true(json_object_get(r, "key")))
		fprintf(out, "- Password: none, log in with your own SSH key\n");
	else if (json_is_true(json_object_get(r, "password_set")))
		fprintf(out, "- Password: set when the course was created, not"
		    " shown again\n");
	if (*jstr(r, "vnc_password") != '\0')
		fprintf(out, "- Screen (VNC): `%s`, password `%s`\n",
		    jstr(r, "vnc"), jstr(r, "vnc_password"));
	if (row_has_gateway(r)) {
		row_stanza(r, stanza, sizeof(stanza));
		fprintf(out, "- Log in: `%s`\n", jstr(r, "gateway"));
		json_array_foreach(json_object_get(r, "gw_modes"), k, m)
			fprintf(out, "- `%s`%s\n", json_string_value(m),
			    mode_what(json_string_value(m)));
		if (row_has_ssh(r))
			fprintf(out, "- Or, through your VM's own port: `%s`\n",
			    jstr(r, "ssh"));
		fprintf(out, "\nOr add this to `~/.ssh/config` and log in"
		    " with `ssh %s`:\n\n```\n%s\n```\n", jstr(r, "vm"),
		    stanza);
		return;
	}
	if (!row_has_ssh(r)) {
		fprintf(out, "- SSH: not published for this VM\n");
		return;
	}
	row_stanza(r, stanza, sizeof(stanza));
	fprintf(out, "- Log in: `%s`\n\nOr add this to `~/.ssh/config` and log in"
	    " with `ssh %s`:\n\n```\n%s\n```\n", jstr(r, "ssh"),
	    jstr(r, "vm"), stanza);
}

static void
sheet_md(FILE *out, const char *course, json_t *rows)
{
	json_t	*r;
	size_t	 i;

	fprintf(out, "# Access sheet: %s\n\n| Student | VM | Command |\n"
	    "|---|---|---|\n", course);
	json_array_foreach(rows, i, r) {
		fprintf(out, "| ");
		md_text(out, jstr(r, "name"));
		fprintf(out, " | `%s` | ", jstr(r, "vm"));
		if (row_has_gateway(r))
			fprintf(out, "`%s` |\n", jstr(r, "gateway"));
		else if (row_has_ssh(r))
			fprintf(out, "`%s` |\n", jstr(r, "ssh"));
		else
			fprintf(out, "no SSH |\n");
	}
	/* A rule between slips: where the scissors go. */
	json_array_foreach(rows, i, r) {
		fprintf(out, "\n---\n");
		md_slip(out, r);
	}
	note_passwords(stderr, rows);
}

/* --- the shared entry points --------------------------------------------- */

int
sheet_format(const char *cmd, const char *name)
{
	size_t	i;

	for (i = 0; i < NSHEET_FORMATS; i++)
		if (strcmp(sheet_formats[i].name, name) == 0)
			return (int)i;
	fprintf(stderr, "labctl %s: unknown format \"%s\"; use", cmd, name);
	for (i = 0; i < NSHEET_FORMATS; i++)
		fprintf(stderr, "%s %s", i == 0 ? "" : i + 1 == NSHEET_FORMATS ?
		    " or" : ",", sheet_formats[i].name);
	fputc('\n', stderr);
	return -1;
}

void
sheet_print(FILE *out, int format, const char *course, json_t *rows)
{
	sheet_formats[format].print(out, course, rows);
}

int
ctl_access(struct ctl *c, int argc, char **argv)
{
	const char	*course = NULL, *v;
	json_t		*a;
	int		 k, rc, format = SHEET_TEXT;

	for (k = 0; k < argc; k++) {
		if ((v = opt_value("--format", argc, argv, &k)) != NULL) {
			if ((format = sheet_format("access", v)) == -1)
				return CTL_USAGE;
		} else if (argv[k][0] != '-' && course == NULL)
			course = argv[k];
		else
			return CTL_USAGE;
	}
	if (course == NULL)
		return CTL_USAGE;
	if ((a = ctl_call(c, "course.access", json_pack("{s:s}", "course",
	    course), &rc)) == NULL)
		return rc;
	if (c->json)
		print_json(a);
	else
		sheet_print(stdout, format, course, a);
	json_decref(a);
	return CTL_OK;
}
