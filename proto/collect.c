/* SPDX-License-Identifier: ISC */
/*
 * collect.c - what a PATH of labctl collect may be.  labctl checks it to
 * refuse early with a clear message and labd checks it again, since it
 * is labd that puts it into a command line run as root in the guest.
 *
 * The pattern is tight on purpose: the guest's shell must expand the
 * globs of a path and do nothing else with it, so nothing that splits a
 * word, quotes, substitutes or redirects may be in it.  A path keeps its
 * leading "/" in that command line, so that "~" can never start a word
 * (tilde expansion); "." and ".." components are refused, so that what
 * is collected is what was named.
 */
#include <stdio.h>
#include <string.h>

#include "proto/client.h"
#include "proto/proto.h"

#define COLLECT_PATH_CHARS	"abcdefghijklmnopqrstuvwxyz" \
				"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" \
				"/._-+@%,:=~*?[]"

int
collect_path_check(const char *path, char *err, size_t errlen)
{
	const char	*p, *q;
	size_t		 n = strlen(path), bad, len;

	if (n == 0 || path[0] != '/') {
		snprintf(err, errlen, "\"%.64s\": a path in the guest is"
		    " absolute (/home/...)", path);
		return -1;
	}
	if (n > LABD_COLLECT_PATHLEN) {
		snprintf(err, errlen, "\"%.64s...\": longer than %d bytes",
		    path, LABD_COLLECT_PATHLEN);
		return -1;
	}
	if ((bad = strspn(path, COLLECT_PATH_CHARS)) != n) {
		if ((unsigned char)path[bad] <= ' ' ||
		    (unsigned char)path[bad] >= 0x7f)
			snprintf(err, errlen, "\"%.64s\": a space, control or"
			    " non-ASCII byte is not taken in a path", path);
		else
			snprintf(err, errlen, "\"%.64s\": \"%c\" is not taken"
			    " in a path (letters, digits, / . _ - + @ %% , : = ~"
			    " and the globs * ? [ ])", path, path[bad]);
		return -1;
	}
	for (p = path; *p != '\0'; p = q) {
		while (*p == '/')
			p++;
		q = p + strcspn(p, "/");
		len = (size_t)(q - p);
		if ((len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.')) {
			snprintf(err, errlen, "\"%.64s\": \"..\" and \".\" are"
			    " not taken in a path: name the folder itself",
			    path);
			return -1;
		}
	}
	if (strspn(path, "/") == n) {
		snprintf(err, errlen, "\"%.64s\": the whole disk is not"
		    " collected: name folders or files", path);
		return -1;
	}
	return 0;
}
