/* SPDX-License-Identifier: ISC */
/*
 * test_lookup.c - labctl's lookup of a command in its table
 * (labctl/lookup.c): exact words, a two-word entry before a one-word one
 * whatever the table's order, refusals that say what a word takes, and
 * the check for entries that are there twice.
 */
#include <string.h>

#include "labctl/labctl.h"
#include "testutil.h"

static int	snap(struct ctl *c, int argc, char **argv) { return 10; }
static int	snap_rm(struct ctl *c, int argc, char **argv) { return 11; }
static int	tmpl_list(struct ctl *c, int argc, char **argv) { return 12; }
static int	tmpl_rm(struct ctl *c, int argc, char **argv) { return 13; }
static int	list(struct ctl *c, int argc, char **argv) { return 14; }

/* The same entries in two orders: the one-word entry first, then last. */
static const struct ctl_cmd forward[] = {
	{ "snapshot", NULL, "VM NAME", snap, "" },
	{ "snapshot", "rm", "VM NAME", snap_rm, "" },
	{ "template", "list", "", tmpl_list, "" },
	{ "template", "rm", "NAME", tmpl_rm, "" },
	{ "list", NULL, "[COURSE]", list, "" },
};
static const struct ctl_cmd backward[] = {
	{ "list", NULL, "[COURSE]", list, "" },
	{ "template", "rm", "NAME", tmpl_rm, "" },
	{ "template", "list", "", tmpl_list, "" },
	{ "snapshot", "rm", "VM NAME", snap_rm, "" },
	{ "snapshot", NULL, "VM NAME", snap, "" },
};
#define NTAB	(sizeof(forward) / sizeof(forward[0]))

static const struct ctl_cmd *tables[] = { forward, backward };

/* The entry "words..." selects in tab (its fn's number), or -1. */
static int
pick(const struct ctl_cmd *tab, size_t n, const char *line, int *nwords,
    char *err, size_t errlen)
{
	char			 buf[256], *argv[16], *w, *save = NULL;
	int			 argc = 0;
	const struct ctl_cmd	*c;

	snprintf(buf, sizeof(buf), "%s", line);
	for (w = strtok_r(buf, " ", &save); w != NULL && argc < 15;
	    w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	err[0] = '\0';
	*nwords = 0;
	if ((c = ctl_lookup(tab, n, argc, argv, nwords, err, errlen)) == NULL)
		return -1;
	return c->fn(NULL, 0, NULL);
}

Test(lookup, snapshot_and_snapshot_rm_in_either_order)
{
	char	err[256];
	int	nwords;
	size_t	t;

	for (t = 0; t < 2; t++) {
		cr_expect_eq(pick(tables[t], NTAB, "snapshot c-ann before",
		    &nwords, err, sizeof(err)), 10, "table %zu: %s", t, err);
		cr_expect_eq(nwords, 1);
		cr_expect_eq(pick(tables[t], NTAB, "snapshot rm c-ann before",
		    &nwords, err, sizeof(err)), 11, "table %zu: %s", t, err);
		cr_expect_eq(nwords, 2);
		/* Its arguments missing is the command's business. */
		cr_expect_eq(pick(tables[t], NTAB, "snapshot", &nwords, err,
		    sizeof(err)), 10, "table %zu: %s", t, err);
		cr_expect_eq(pick(tables[t], NTAB, "snapshot rm", &nwords,
		    err, sizeof(err)), 11, "table %zu: %s", t, err);
		cr_expect_eq(pick(tables[t], NTAB, "list rm", &nwords, err,
		    sizeof(err)), 14, "table %zu: %s", t, err);
		cr_expect_eq(nwords, 1);
	}
}

Test(lookup, two_word_commands_need_both_words)
{
	char	err[256];
	int	nwords;
	size_t	t;

	for (t = 0; t < 2; t++) {
		cr_expect_eq(pick(tables[t], NTAB, "template rm tiny@1",
		    &nwords, err, sizeof(err)), 13);
		cr_expect_eq(nwords, 2);
		cr_expect_eq(pick(tables[t], NTAB, "template", &nwords, err,
		    sizeof(err)), -1);
		cr_expect_str_eq(err, t == 0 ?
		    "\"template\" needs one of: list, rm" :
		    "\"template\" needs one of: rm, list");
		cr_expect_eq(pick(tables[t], NTAB, "template frob", &nwords,
		    err, sizeof(err)), -1);
		cr_expect_str_eq(err, t == 0 ?
		    "unknown command \"template frob\": template takes list, rm" :
		    "unknown command \"template frob\": template takes rm, list");
	}
}

Test(lookup, words_match_exactly)
{
	char	err[256];
	int	nwords;

	cr_expect_eq(pick(forward, NTAB, "frobnicate", &nwords, err,
	    sizeof(err)), -1);
	cr_expect_str_eq(err, "unknown command \"frobnicate\"");
	cr_expect_eq(pick(forward, NTAB, "snap c-ann x", &nwords, err,
	    sizeof(err)), -1, "a prefix was taken");
	cr_expect_eq(pick(forward, NTAB, "Snapshot c-ann x", &nwords, err,
	    sizeof(err)), -1, "another case was taken");
	cr_expect_eq(pick(forward, NTAB, "template ls", &nwords, err,
	    sizeof(err)), -1);
	cr_expect_eq(pick(forward, NTAB, "", &nwords, err, sizeof(err)), -1);
}

Test(lookup, the_tables_pass_the_check)
{
	char	err[256] = "";

	cr_expect_eq(ctl_table_check(forward, NTAB, err, sizeof(err)), 0,
	    "%s", err);
	cr_expect_eq(ctl_table_check(backward, NTAB, err, sizeof(err)), 0,
	    "%s", err);
}

Test(lookup, an_entry_twice_is_found_and_ambiguous)
{
	static const struct ctl_cmd one_twice[] = {
		{ "list", NULL, "", list, "" },
		{ "snapshot", "rm", "", snap_rm, "" },
		{ "list", NULL, "", snap, "" },
	};
	static const struct ctl_cmd two_twice[] = {
		{ "snapshot", "rm", "", snap_rm, "" },
		{ "snapshot", NULL, "", snap, "" },
		{ "snapshot", "rm", "", snap, "" },
	};
	char	err[256] = "";
	int	nwords;

	cr_expect_eq(ctl_table_check(one_twice, 3, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "\"list\" is there twice");
	cr_expect_eq(ctl_table_check(two_twice, 3, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "\"snapshot rm\" is there twice");
	cr_expect_eq(pick(one_twice, 3, "list", &nwords, err, sizeof(err)),
	    -1, "the first of two was taken");
	cr_expect_str_eq(err, "\"list\" is ambiguous: labctl's table has it"
	    " twice");
	cr_expect_eq(pick(two_twice, 3, "snapshot rm c-ann x", &nwords, err,
	    sizeof(err)), -1);
	cr_expect_str_eq(err, "\"snapshot rm\" is ambiguous: labctl's table"
	    " has it twice");
	/* Words that name neither twin still find the one-word entry. */
	cr_expect_eq(pick(two_twice, 3, "snapshot c-ann x", &nwords, err,
	    sizeof(err)), 10);
}

Test(lookup, an_entry_without_function_is_found)
{
	static const struct ctl_cmd bad[] = {
		{ "list", NULL, "", list, "" },
		{ "ports", NULL, "", NULL, "" },
	};
	char	err[256] = "";

	cr_expect_eq(ctl_table_check(bad, 2, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "entry 1 has no word or no function");
}
