/* SPDX-License-Identifier: ISC */
/*
 * lookup.c - which entry of labctl's command table the words name.
 *
 * Exact words only, and never the first entry that happens to fit: a
 * two-word entry ("snapshot rm") is taken when both words match, a
 * one-word entry ("snapshot") only when no two-word entry does, so the
 * table's order means nothing.  Anything else is refused with a message
 * that says what the first word takes.  The table is checked once for
 * entries that are there twice, which would make a lookup ambiguous.
 */
#include <stdio.h>
#include <string.h>

#include "labctl/labctl.h"

/* "import, list, show": the second words word1 takes, into out. */
static void
second_words(const struct ctl_cmd *tab, size_t n, const char *word1,
    char *out, size_t outlen)
{
	size_t	i, len;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		if (tab[i].word2 == NULL || strcmp(tab[i].word1, word1) != 0)
			continue;
		len = strlen(out);
		snprintf(out + len, outlen - len, "%s%s", len ? ", " : "",
		    tab[i].word2);
	}
}

const struct ctl_cmd *
ctl_lookup(const struct ctl_cmd *tab, size_t n, int argc, char **argv,
    int *nwords, char *err, size_t errlen)
{
	const struct ctl_cmd	*one = NULL, *two = NULL;
	size_t			 i, none = 0, ntwo = 0, nfirst = 0;
	char			 words[512];

	if (argc < 1) {
		snprintf(err, errlen, "no command");
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(tab[i].word1, argv[0]) != 0)
			continue;
		nfirst++;
		if (tab[i].word2 == NULL) {
			one = &tab[i];
			none++;
		} else if (argc > 1 && strcmp(tab[i].word2, argv[1]) == 0) {
			two = &tab[i];
			ntwo++;
		}
	}
	if (ntwo > 1 || (ntwo == 0 && none > 1)) {
		snprintf(err, errlen, "\"%s%s%s\" is ambiguous: labctl's table"
		    " has it twice", argv[0], ntwo ? " " : "",
		    ntwo ? argv[1] : "");
		return NULL;
	}
	if (two != NULL) {
		*nwords = 2;
		return two;
	}
	if (one != NULL) {
		*nwords = 1;
		return one;
	}
	if (nfirst == 0) {
		snprintf(err, errlen, "unknown command \"%s\"", argv[0]);
		return NULL;
	}
	second_words(tab, n, argv[0], words, sizeof(words));
	if (argc < 2)
		snprintf(err, errlen, "\"%s\" needs one of: %s", argv[0],
		    words);
	else
		snprintf(err, errlen, "unknown command \"%s %s\": %s takes"
		    " %s", argv[0], argv[1], argv[0], words);
	return NULL;
}

int
ctl_table_check(const struct ctl_cmd *tab, size_t n, char *err,
    size_t errlen)
{
	size_t	i, j;

	for (i = 0; i < n; i++) {
		if (tab[i].word1 == NULL || tab[i].fn == NULL) {
			snprintf(err, errlen, "entry %zu has no word or no"
			    " function", i);
			return -1;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(tab[j].word1, tab[i].word1) != 0 ||
			    (tab[j].word2 == NULL) != (tab[i].word2 == NULL))
				continue;
			if (tab[i].word2 == NULL ||
			    strcmp(tab[j].word2, tab[i].word2) == 0) {
				snprintf(err, errlen, "\"%s%s%s\" is there"
				    " twice", tab[i].word1,
				    tab[i].word2 ? " " : "",
				    tab[i].word2 ? tab[i].word2 : "");
				return -1;
			}
		}
	}
	return 0;
}
