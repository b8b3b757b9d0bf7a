/* SPDX-License-Identifier: ISC */
/*
 * ini.c - labd.ini and template profiles, read with iniparser.
 *
 * iniparser 4.1 (Debian 12's libiniparser) reads the file: sections,
 * key = value, quotes, comments, '\' continuation lines, names folded to
 * lower case.  It keeps no line numbers, and a few lines it reads as
 * something other than what their author meant, without a word.  So one
 * pass over the text comes first, and it hands iniparser a copy:
 *
 *  - it notes the line of every section header and key, so that an error
 *    about a value names its line, and it refuses a key set twice
 *    (iniparser keeps the last one);
 *  - "[publish]   ; comment", the form DESIGN.md shows, reaches iniparser
 *    as "[publish]": iniparser 4.1 would take it for a key of the previous
 *    section, or for a syntax error;
 *  - it refuses what iniparser would misread: text after a section's ']'
 *    (a key named "[publish] ssh"), a section name that is empty or not a
 *    plain word ("[]" keeps the previous section), a key before any
 *    section (iniparser files it where no section lists it), a quote left
 *    open or text after the closing one (dropped), a ';' or '#' glued to
 *    a value (the value ends there), and a '\' on the last line (the
 *    line is lost);
 *  - the file must be UTF-8 text, without NUL bytes.
 *
 * The copy keeps every line where it was, so iniparser's own syntax
 * errors, which come through its error callback, carry the right line.
 * iniparser 4.1 reads only named files: the copy goes through a memfd
 * and /proc/self/fd.
 */
#include <sys/mman.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iniparser/iniparser.h>

#include "proto/client.h"

#define INI_ERRLEN	1024
#define INI_SHOW	64	/* bytes of a bad line quoted back */
#define INI_LINEMAX	1022	/* iniparser 4.1 reads a line into 1024 bytes */

/* A section header (key NULL) or a key, and the line it is on. */
struct ini_mark {
	char	*section;
	char	*key;
	int	 line;
};

struct ini_prep {
	char		*copy;		/* what iniparser reads */
	size_t		 len, cap;
	struct ini_mark	*marks;
	size_t		 nmarks, capmarks;
	char		 section[INI_LINEMAX + 1];
	int		 oom;
	int		 errline;	/* the earliest problem's line, 0: none */
	char		 err[INI_ERRLEN];
};

/* The first message iniparser gives during this thread's load. */
static _Thread_local char	ini_said[INI_ERRLEN];
static pthread_once_t		ini_once = PTHREAD_ONCE_INIT;

static int __attribute__((format(printf, 1, 2)))
ini_errback(const char *fmt, ...)
{
	va_list	ap;

	if (ini_said[0] != '\0')
		return 0;
	va_start(ap, fmt);
	vsnprintf(ini_said, sizeof(ini_said), fmt, ap);
	va_end(ap);
	return 0;
}

/* The callback is one for the process and has no argument: set it once. */
static void
ini_set_errback(void)
{
	iniparser_set_error_callback(ini_errback);
}

/* Keep the problem on the earliest line: the file is told in order. */
static void __attribute__((format(printf, 3, 4)))
prep_problem(struct ini_prep *p, int line, const char *fmt, ...)
{
	va_list	ap;

	if (p->errline != 0 && p->errline <= line)
		return;
	p->errline = line;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
}

static void
prep_append(struct ini_prep *p, const char *s, size_t n)
{
	char	*q;
	size_t	 cap;

	if (p->oom)
		return;
	if (p->len + n + 1 > p->cap) {
		cap = p->cap ? p->cap : 8192;
		while (cap < p->len + n + 1)
			cap *= 2;
		if ((q = realloc(p->copy, cap)) == NULL) {
			p->oom = 1;
			return;
		}
		p->copy = q;
		p->cap = cap;
	}
	memcpy(p->copy + p->len, s, n);
	p->len += n;
	p->copy[p->len] = '\0';
}

static void
prep_mark(struct ini_prep *p, const char *key, int line)
{
	struct ini_mark	*m;

	if (p->oom)
		return;
	if (p->nmarks == p->capmarks) {
		m = reallocarray(p->marks, p->capmarks ? p->capmarks * 2 : 32,
		    sizeof(*m));
		if (m == NULL) {
			p->oom = 1;
			return;
		}
		p->marks = m;
		p->capmarks = p->capmarks ? p->capmarks * 2 : 32;
	}
	m = &p->marks[p->nmarks];
	m->section = strdup(p->section);
	m->key = key != NULL ? strdup(key) : NULL;
	m->line = line;
	if (m->section == NULL || (key != NULL && m->key == NULL)) {
		free(m->section);
		free(m->key);
		p->oom = 1;
		return;
	}
	p->nmarks++;
}

/* The length of the UTF-8 character at s, 0 when it is not one. */
static size_t
utf8_char(const unsigned char *s, size_t left)
{
	unsigned	cp;
	size_t		n, k;

	if (s[0] < 0x80)
		return 1;
	n = (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 :
	    (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (n == 0 || n > left)
		return 0;
	cp = s[0] & (0x7f >> n);
	for (k = 1; k < n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3f);
	}
	/* No overlong forms, no surrogates, nothing past U+10FFFF. */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static int
utf8_ok(const char *s, size_t len)
{
	size_t	i, n;

	for (i = 0; i < len; i += n)
		if ((n = utf8_char((const unsigned char *)s + i, len - i)) == 0)
			return 0;
	return 1;
}

/* At most max bytes of s, not cut inside a character. */
static int
show_len(const char *s, int max)
{
	int	n = (int)strlen(s);

	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* iniparser strips with isspace(): the same here, so names agree. */
static char *
strip(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
}

/* Only blanks, or a comment, may follow a section's ']' or a closing quote. */
static int
rest_is_comment(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return *s == '\0' || *s == ';' || *s == '#';
}

static int
is_word(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ||
		    *s == '.'))
			return 0;
	return 1;
}

/*
 * A comment that starts before the last of the lines joined by '\' takes
 * the lines after it into the comment: "; was C:\labs\" would hide the
 * key below it.  last: where in s the last joined line begins.
 */
static void
prep_swallow(struct ini_prep *p, const char *s, const char *comment,
    long last, int line)
{
	if (comment != NULL && comment - s < last)
		prep_problem(p, line, "a comment that ends in '\\' takes the"
		    " next line into it");
}

/* A section header: *s is '['.  Returns 0 when it is not a good one. */
static int
prep_section(struct ini_prep *p, char *s, long last, int line)
{
	char	*e, *name;

	if ((e = strchr(s, ']')) == NULL || !rest_is_comment(e + 1)) {
		prep_problem(p, line, "'%.*s' is not a [section] line",
		    show_len(s, INI_SHOW), s);
		return 0;
	}
	prep_swallow(p, s, strpbrk(e + 1, ";#"), last, line);
	*e = '\0';
	name = strip(s + 1);
	if (!is_word(name) || strlen(name) >= sizeof(p->section)) {
		prep_problem(p, line, "'[%.*s]' is not a section name",
		    show_len(name, INI_SHOW), name);
		return 0;
	}
	lower(name);
	snprintf(p->section, sizeof(p->section), "%s", name);
	prep_mark(p, NULL, line);
	return 1;
}

/* key = value: note where the key is, refuse what iniparser would misread. */
static void
prep_key(struct ini_prep *p, char *s, long last, int line)
{
	char	*eq = strchr(s, '='), *key, *v, *c, q;

	*eq = '\0';
	key = strip(s);
	lower(key);
	if (p->section[0] == '\0') {
		prep_problem(p, line, "%.*s is outside any [section]",
		    show_len(key, INI_SHOW), key);
		return;
	}
	prep_mark(p, key, line);
	for (v = eq + 1; isspace((unsigned char)*v); v++)
		;
	if (*v == '"' || *v == '\'') {
		q = *v;
		if ((c = strchr(v + 1, q)) == NULL)
			prep_problem(p, line, "[%s] %s: the %c quote is not"
			    " closed", p->section, key, q);
		else if (!rest_is_comment(c + 1))
			prep_problem(p, line, "[%s] %s: text after the closing"
			    " quote", p->section, key);
		else
			prep_swallow(p, s, strpbrk(c + 1, ";#"), last, line);
	} else if ((c = strpbrk(v, ";#")) != NULL && c > v &&
	    !isspace((unsigned char)c[-1]))
		prep_problem(p, line, "[%s] %s: a '%c' inside a value starts a"
		    " comment there; put the value in quotes to keep it",
		    p->section, key, *c);
	else
		prep_swallow(p, s, c, last, line);
}

/*
 * One pass: join continuation lines as iniparser does, note sections and
 * keys, and copy the text for iniparser with each section header bare.
 */
static void
prep_text(struct ini_prep *p, const char *text, size_t len)
{
	const char	*phys = text, *end = text + len, *start, *nl;
	char		*buf = NULL, *s, *t;
	size_t		 blen, cap = 0, n, joined;
	int		 line = 0, first, more;

	while (phys < end && !p->oom) {
		start = phys;
		first = line + 1;
		blen = 0;
		do {
			line++;
			if ((nl = memchr(phys, '\n', end - phys)) == NULL)
				nl = end;
			n = nl - phys;
			if (!utf8_ok(phys, n))
				prep_problem(p, line, "not UTF-8 text (save the"
				    " file as UTF-8)");
			if (blen + n + 1 > cap) {
				cap = (blen + n + 1) * 2;
				if ((t = realloc(buf, cap)) == NULL) {
					p->oom = 1;
					goto done;
				}
				buf = t;
			}
			joined = blen;
			memcpy(buf + blen, phys, n);
			blen += n;
			while (blen > 0 && isspace((unsigned char)buf[blen - 1]))
				blen--;
			if ((more = blen > 0 && buf[blen - 1] == '\\'))
				blen--;
			buf[blen] = '\0';
			phys = nl < end ? nl + 1 : end;
		} while (more && phys < end);
		if (more)
			prep_problem(p, line, "ends in '\\', but no line follows"
			    " to continue it");
		s = strip(buf);
		if (*s == ';' || *s == '#')
			prep_swallow(p, s, s, (long)joined - (s - buf), first);
		else if (*s == '[') {
			if (prep_section(p, s, (long)joined - (s - buf), first)) {
				/* The header bare; its other lines empty. */
				prep_append(p, "[", 1);
				prep_append(p, p->section, strlen(p->section));
				prep_append(p, "]", 1);
				for (; first <= line; first++)
					prep_append(p, "\n", 1);
				continue;
			}
		} else if (*s != '\0' && *s != '=' && strchr(s, '=') != NULL)
			prep_key(p, s, (long)joined - (s - buf), first);
		/* Anything else is iniparser's to take or to call an error. */
		prep_append(p, start, phys - start);
	}
	/* iniparser 4.1 skips a last line of one byte that has no newline. */
	if (p->len > 0 && p->copy[p->len - 1] != '\n')
		prep_append(p, "\n", 1);
done:
	free(buf);
}

static int
mark_cmp(const void *a, const void *b)
{
	const struct ini_mark	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->section, y->section)) != 0)
		return c;
	if (x->key == NULL || y->key == NULL)
		c = (x->key != NULL) - (y->key != NULL);
	else
		c = strcmp(x->key, y->key);
	return c != 0 ? c : x->line - y->line;
}

/* Sorted by section, key and line: a key set twice sits next to itself. */
static void
prep_duplicates(struct ini_prep *p)
{
	struct ini_mark	*m, *prev;
	size_t		 i;

	if (p->nmarks > 1)
		qsort(p->marks, p->nmarks, sizeof(*p->marks), mark_cmp);
	for (i = 1; i < p->nmarks; i++) {
		m = &p->marks[i];
		prev = &p->marks[i - 1];
		if (m->key != NULL && prev->key != NULL &&
		    strcmp(m->section, prev->section) == 0 &&
		    strcmp(m->key, prev->key) == 0)
			prep_problem(p, m->line, "[%s] %s is set twice (first on"
			    " line %d)", m->section, m->key, prev->line);
	}
}

/* The line of a key, or of a section's first header; 0 if not noted. */
static int
prep_line(const struct ini_prep *p, const char *section, const char *key)
{
	struct ini_mark	 want = { (char *)section, (char *)key, 0 };
	size_t		 lo = 0, hi = p->nmarks, mid;
	const struct ini_mark	*m;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (mark_cmp(&p->marks[mid], &want) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == p->nmarks)
		return 0;
	m = &p->marks[lo];
	if (strcmp(m->section, section) != 0 || (key == NULL) !=
	    (m->key == NULL) || (key != NULL && strcmp(m->key, key) != 0))
		return 0;
	return m->line;
}

static void
prep_free(struct ini_prep *p)
{
	size_t	i;

	for (i = 0; i < p->nmarks; i++) {
		free(p->marks[i].section);
		free(p->marks[i].key);
	}
	free(p->marks);
	free(p->copy);
}

/*
 * iniparser's complaint, "iniparser: syntax error in NAME (LINE):\n->
 * TEXT\n" or "...input line too long in NAME (LINE)", as our own words.
 */
static void
ini_complaint(const char *name, int *line, char *msg, size_t msglen)
{
	const char	*p, *text;
	int		 n;

	*line = 0;
	if ((p = strstr(ini_said, name)) == NULL ||
	    sscanf(p + strlen(name), " (%d)", line) != 1) {
		*line = 0;
		snprintf(msg, msglen, "%.*s", (int)strcspn(ini_said, "\n"),
		    ini_said);
		return;
	}
	if (strstr(ini_said, "syntax error") != NULL &&
	    (text = strstr(p, "\n-> ")) != NULL) {
		text += 4;
		n = (int)strcspn(text, "\n");
		snprintf(msg, msglen, "'%.*s' is neither [section] nor key ="
		    " value", n > INI_SHOW ? show_len(text, INI_SHOW) : n, text);
	} else if (strstr(ini_said, "too long") != NULL)
		snprintf(msg, msglen, "longer than the %d bytes iniparser takes"
		    " on one line", INI_LINEMAX);
	else
		snprintf(msg, msglen, "%.*s", (int)strcspn(ini_said, "\n"),
		    ini_said);
}

/* The prepared copy through iniparser; NULL with *line and msg if refused. */
static dictionary *
ini_parse(const struct ini_prep *p, int *line, char *msg, size_t msglen)
{
	dictionary	*d;
	char		 name[64];
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	*line = 0;
	if ((fd = memfd_create("labd-ini", MFD_CLOEXEC)) == -1) {
		snprintf(msg, msglen, "memfd_create: %s", strerror(errno));
		return NULL;
	}
	while (off < p->len) {
		if ((n = write(fd, p->copy + off, p->len - off)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(msg, msglen, "memfd: %s", strerror(errno));
			close(fd);
			return NULL;
		}
		off += n;
	}
	snprintf(name, sizeof(name), "/proc/self/fd/%d", fd);
	pthread_once(&ini_once, ini_set_errback);
	ini_said[0] = '\0';
	d = iniparser_load(name);
	close(fd);
	if (d == NULL)
		ini_complaint(name, line, msg, msglen);
	return d;
}

/* One thing the file holds, for fn. */
struct ini_item {
	const char	*section;
	const char	*key;		/* NULL: the section itself */
	const char	*value;
	int		 line;
};

static int
item_cmp(const void *a, const void *b)
{
	const struct ini_item	*x = a, *y = b;

	return x->line - y->line;
}

/*
 * What iniparser read, each section and then each key with the line the
 * first pass noted, sorted back into the order of the file.
 */
static struct ini_item *
ini_items(dictionary *d, const struct ini_prep *p, size_t *np)
{
	struct ini_item	*v = NULL, *it;
	const char	**keys = NULL, *sec, **kp;
	size_t		 n = 0, cap;
	int		 nsec, nkeys, i, k;

	nsec = iniparser_getnsec(d);
	cap = (size_t)d->n + 1;
	if ((v = calloc(cap, sizeof(*v))) == NULL)
		return NULL;
	for (i = 0; i < nsec; i++) {
		sec = iniparser_getsecname(d, i);
		it = &v[n++];
		it->section = sec;
		it->line = prep_line(p, sec, NULL);
		if ((nkeys = iniparser_getsecnkeys(d, sec)) <= 0)
			continue;
		if ((kp = reallocarray(keys, nkeys, sizeof(*keys))) == NULL)
			goto fail;
		keys = kp;
		iniparser_getseckeys(d, sec, keys);
		for (k = 0; k < nkeys && n < cap; k++) {
			it = &v[n++];
			it->section = sec;
			/* iniparser names a key "section:key". */
			it->key = keys[k] + strlen(sec) + 1;
			it->value = iniparser_getstring(d, keys[k], "");
			it->line = prep_line(p, sec, it->key);
		}
	}
	free(keys);
	qsort(v, n, sizeof(*v), item_cmp);
	*np = n;
	return v;
fail:
	free(keys);
	free(v);
	return NULL;
}

/* At most max bytes from fd, NUL-terminated; NULL with err naming name. */
static char *
ini_read(int fd, const char *name, size_t max, size_t *lenp, char *err,
    size_t errlen)
{
	char	*buf = NULL, *t;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;

	for (;;) {
		if (len + 1 >= cap) {
			cap = cap ? cap * 2 : 8192;
			if ((t = realloc(buf, cap)) == NULL) {
				snprintf(err, errlen, "%s: out of memory", name);
				goto fail;
			}
			buf = t;
		}
		if ((n = read(fd, buf + len, cap - len - 1)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "cannot read %s: %s", name,
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		if ((len += n) > max) {
			snprintf(err, errlen, "%s is larger than %zu bytes", name,
			    max);
			goto fail;
		}
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
fail:
	free(buf);
	return NULL;
}

int
ini_load_fd(int fd, const char *name, size_t max, ini_fn fn, void *arg,
    int *linep, char *err, size_t errlen)
{
	struct ini_prep	*p = NULL;
	struct ini_item	*items = NULL;
	dictionary	*d = NULL;
	char		*text, msg[INI_ERRLEN];
	size_t		 len, nitems, i;
	int		 line = 0, rc = -1;

	if ((text = ini_read(fd, name, max, &len, err, errlen)) == NULL)
		return -1;
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errlen, "%s: holds a NUL byte; is it a text"
		    " file?", name);
		goto fail;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto oom;
	prep_text(p, text, len);
	prep_duplicates(p);
	if (p->oom)
		goto oom;
	/* A syntax error iniparser finds on an earlier line comes first. */
	if ((d = ini_parse(p, &line, msg, sizeof(msg))) == NULL &&
	    (p->errline == 0 || (line != 0 && line < p->errline))) {
		if (line != 0)
			snprintf(err, errlen, "%s line %d: %s", name, line, msg);
		else
			snprintf(err, errlen, "%s: %s", name, msg);
		goto fail;
	}
	if (p->errline != 0) {
		snprintf(err, errlen, "%s line %d: %s", name, p->errline,
		    p->err);
		goto fail;
	}
	if ((items = ini_items(d, p, &nitems)) == NULL)
		goto oom;
	for (i = 0; i < nitems; i++) {
		if (linep != NULL)
			*linep = items[i].line;
		msg[0] = '\0';
		if (fn(arg, items[i].section, items[i].key, items[i].value, msg,
		    sizeof(msg)) == -1) {
			if (items[i].line != 0)
				snprintf(err, errlen, "%s line %d: %s", name,
				    items[i].line, msg);
			else
				snprintf(err, errlen, "%s: %s", name, msg);
			goto fail;
		}
	}
	rc = 0;
	goto fail;
oom:
	snprintf(err, errlen, "%s: out of memory", name);
fail:
	free(items);
	if (d != NULL)
		iniparser_freedict(d);
	if (p != NULL)
		prep_free(p);
	free(p);
	free(text);
	return rc;
}

int
ini_load(const char *path, size_t max, char *base, ini_fn fn, void *arg,
    int *linep, char *err, size_t errlen)
{
	char	dir[PATH_MAX], *slash;
	int	fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		    strerror(errno));
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	/* Relative paths in the file are relative to its folder. */
	if (realpath(dir, base) == NULL) {
		snprintf(err, errlen, "%s: cannot resolve its folder: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	rc = ini_load_fd(fd, path, max, fn, arg, linep, err, errlen);
	close(fd);
	return rc;
}

/*
 * Resolve p against the folder base (absolute) and tidy it up lexically:
 * no "//", "." or "..".  base comes from realpath(), so a ".." that climbs
 * out of it means what the kernel would make of it.
 */
int
ini_path(const char *base, const char *p, char *out, size_t outlen)
{
	char	 tmp[PATH_MAX * 2], *comp, *save = NULL;
	size_t	 len = 0, back;

	if (*p == '/')
		snprintf(tmp, sizeof(tmp), "%s", p);
	else if (snprintf(tmp, sizeof(tmp), "%s/%s", base, p) >=
	    (int)sizeof(tmp))
		return -1;
	if (outlen < 2)
		return -1;
	out[0] = '\0';
	for (comp = strtok_r(tmp, "/", &save); comp != NULL;
	    comp = strtok_r(NULL, "/", &save)) {
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			back = len;
			while (back > 0 && out[back - 1] != '/')
				back--;
			len = back > 0 ? back - 1 : 0;
			out[len] = '\0';
			continue;
		}
		if (len + 1 + strlen(comp) + 1 > outlen)
			return -1;
		out[len++] = '/';
		strcpy(out + len, comp);
		len += strlen(comp);
	}
	if (len == 0)
		strcpy(out, "/");
	return 0;
}
