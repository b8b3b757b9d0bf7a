/* SPDX-License-Identifier: ISC */
/*
 * roster.c - a course's students from a CSV file as spreadsheets export
 * it (RFC 4180: quoted fields, "" for a quote, commas and line breaks
 * inside quotes, CRLF or LF, a UTF-8 BOM).  The instructor fixes a roster
 * once per mistake, so every bad row is reported in one go, each with the
 * physical line it starts on, and a roster with any error yields nothing:
 * a course is never half-created from it.
 *
 * Leniencies, because spreadsheets and hand edits produce them: blanks
 * around a field are dropped, a row with every field empty (a blank line,
 * ",,,") is skipped, and header names are matched without regard to case.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labd/labd.h"

#define ROSTER_MAX		1000
#define ROSTER_MAXFILE		(16 * 1024 * 1024)
#define SHOW			40	/* bytes of a bad value quoted back */

enum column { COL_ID, COL_NAME, COL_EMAIL, COL_SSH_KEY, NCOLS,
	COL_NONE	/* a header cell left empty: its cells must be too */
};

static const struct {
	const char	*name;
	int		 required;
} columns[NCOLS] = {
	[COL_ID] = { "id", 1 },
	[COL_NAME] = { "name", 1 },
	[COL_EMAIL] = { "email", 0 },
	[COL_SSH_KEY] = { "ssh_key", 0 },
};

/*
 * Key types a current OpenSSH server takes, and how many SSH strings
 * (a 4-byte length, then the bytes) their blob holds, the type included:
 * a key cut short or glued to another no longer adds up.  ssh-dss is
 * left out on purpose: OpenSSH has refused DSA keys since 7.0.
 */
static const struct {
	const char	*type;
	int		 nstrings;
} key_types[] = {
	{ "ssh-ed25519", 2 },			/* type, key */
	{ "ssh-rsa", 3 },			/* type, e, n */
	{ "ecdsa-sha2-nistp256", 3 },		/* type, curve, point */
	{ "ecdsa-sha2-nistp384", 3 },
	{ "ecdsa-sha2-nistp521", 3 },
	{ "sk-ssh-ed25519@openssh.com", 3 },	/* type, key, application */
	{ "sk-ecdsa-sha2-nistp256@openssh.com", 4 },
	{ NULL, 0 }
};

struct field {
	char	*s;
	size_t	 len, cap;
};

struct record {
	struct field	*f;
	size_t		 n, cap;
	int		 line;		/* physical line it starts on */
};

struct csv {
	const char	*p, *end;
	int		 line;
};

/* Messages one a line, as many as fit, then how many did not. */
struct errs {
	char	*buf;
	size_t	 len, cap;
	int	 n, hidden;
};

static void errs_add(struct errs *, const char *, ...) PRINTFLIKE(2, 3);

static void
errs_add(struct errs *e, const char *fmt, ...)
{
	char	msg[LABD_ERRLEN];
	size_t	need;
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e->n++;
	if (e->buf == NULL || e->cap == 0)
		return;
	if (e->len == 0) {
		/* The first one always shows, cut short if it must be. */
		snprintf(e->buf, e->cap, "%s", msg);
		e->len = strlen(e->buf);
		return;
	}
	/* Keep room for the closing "(N more errors not shown)". */
	need = 1 + strlen(msg) + 40;
	if (e->hidden > 0 || e->len + need > e->cap) {
		e->hidden++;
		return;
	}
	e->len += snprintf(e->buf + e->len, e->cap - e->len, "\n%s", msg);
}

static void
errs_close(struct errs *e)
{
	if (e->buf == NULL || e->hidden == 0)
		return;
	if (e->len + 1 < e->cap)
		snprintf(e->buf + e->len, e->cap - e->len, "\n(%d more error%s"
		    " not shown)", e->hidden, e->hidden == 1 ? "" : "s");
}

static void
field_add(struct field *f, char ch)
{
	if (f->len + 1 >= f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		f->s = xrealloc(f->s, f->cap);
	}
	f->s[f->len++] = ch;
	f->s[f->len] = '\0';
}

static struct field *
record_next_field(struct record *r)
{
	struct field	*f;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 8;
		r->f = xrealloc(r->f, r->cap * sizeof(*r->f));
		memset(r->f + r->n, 0, (r->cap - r->n) * sizeof(*r->f));
	}
	f = &r->f[r->n++];
	f->len = 0;
	field_add(f, '\0');	/* allocate, then empty it */
	f->len = 0;
	f->s[0] = '\0';
	return f;
}

static void
record_free(struct record *r)
{
	size_t	i;

	for (i = 0; i < r->cap; i++)
		free(r->f[i].s);
	free(r->f);
}

/* Consume one line break (CRLF, LF or a lone CR) if there is one. */
static int
eat_newline(struct csv *c)
{
	if (c->p < c->end && *c->p == '\r') {
		c->p++;
		if (c->p < c->end && *c->p == '\n')
			c->p++;
	} else if (c->p < c->end && *c->p == '\n')
		c->p++;
	else
		return 0;
	c->line++;
	return 1;
}

/*
 * Read one record.  1 when there is one, 0 at the end of the text, -1
 * with err when a quote is not closed or text follows a closing quote:
 * past that point nothing can be trusted, so reading stops there.
 */
static int
csv_record(struct csv *c, struct record *r, const char *fname, char *err,
    size_t errlen)
{
	struct field	*f;
	int		 open_line;

	r->n = 0;
	r->line = c->line;
	if (c->p >= c->end)
		return 0;
	for (;;) {
		f = record_next_field(r);
		while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
			c->p++;
		if (c->p < c->end && *c->p == '"') {
			open_line = c->line;
			for (c->p++;; c->p++) {
				if (c->p >= c->end) {
					errf(err, errlen, "%s line %d: a quoted"
					    " field is never closed", fname,
					    open_line);
					return -1;
				}
				if (*c->p == '"') {
					if (c->p + 1 < c->end && c->p[1] == '"') {
						field_add(f, '"');
						c->p++;
						continue;
					}
					c->p++;
					break;
				}
				if (*c->p == '\n' || (*c->p == '\r' &&
				    (c->p + 1 >= c->end || c->p[1] != '\n')))
					c->line++;
				field_add(f, *c->p);
			}
			while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
				c->p++;
			if (c->p < c->end && *c->p != ',' && *c->p != '\r' &&
			    *c->p != '\n') {
				errf(err, errlen, "%s line %d: text after the"
				    " closing quote of a field (inside quotes, a"
				    " quote is written \"\")", fname, c->line);
				return -1;
			}
		} else {
			while (c->p < c->end && *c->p != ',' && *c->p != '\r' &&
			    *c->p != '\n')
				field_add(f, *c->p++);
			while (f->len > 0 && (f->s[f->len - 1] == ' ' ||
			    f->s[f->len - 1] == '\t'))
				f->s[--f->len] = '\0';
		}
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			continue;
		}
		eat_newline(c);
		return 1;
	}
}

static int
record_blank(const struct record *r)
{
	size_t	i;

	for (i = 0; i < r->n; i++)
		if (r->f[i].len > 0)
			return 0;
	return 1;
}

static int
utf8_valid(const unsigned char *s, size_t len)
{
	size_t		i = 0, n, k;
	uint32_t	cp;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			n = 1;
			cp = s[i] & 0x1f;
		} else if ((s[i] & 0xf0) == 0xe0) {
			n = 2;
			cp = s[i] & 0x0f;
		} else if ((s[i] & 0xf8) == 0xf0) {
			n = 3;
			cp = s[i] & 0x07;
		} else
			return 0;
		for (k = 1; k <= n; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		/* No overlong forms, no surrogates, nothing past U+10FFFF. */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

/*
 * A value quoted back in a message: at most SHOW bytes, control bytes as
 * '?', and valid UTF-8 whatever the input, since the message may travel
 * in JSON.
 */
static const char *
show(const char *s, char *buf, size_t buflen)
{
	size_t	i, len = strlen(s), cut = len;
	int	ascii = !utf8_valid((const unsigned char *)s, len);

	if (len > SHOW || len + 1 > buflen) {
		/* Cut at a character boundary, leaving room for "...". */
		cut = SHOW < buflen - 1 ? SHOW : buflen - 1;
		cut = cut > 3 ? cut - 3 : 0;
		while (!ascii && cut > 0 && ((unsigned char)s[cut] & 0xc0) ==
		    0x80)
			cut--;
	}
	for (i = 0; i < cut; i++) {
		buf[i] = s[i];
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f ||
		    (ascii && (unsigned char)s[i] >= 0x80))
			buf[i] = '?';
	}
	if (cut < len) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

static int
has_control(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 1;
	return 0;
}

/* The first regex of login_valid(), to tell a typo from a reserved name. */
static int
login_shape(const char *s)
{
	size_t	i, len = strlen(s);

	if (len == 0 || len > LABD_NAMELEN - 1 ||
	    !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (i = 1; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

static int
b64_value(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/* Decode base64 of len bytes into out (room for len * 3 / 4); -1 if bad. */
static long
b64_decode(const char *s, size_t len, unsigned char *out)
{
	size_t		i, pad = 0;
	long		n = 0;
	uint32_t	acc = 0;
	int		v;

	if (len == 0 || len % 4 != 0)
		return -1;
	while (pad < 2 && s[len - 1 - pad] == '=')
		pad++;
	for (i = 0; i < len - pad; i++) {
		if ((v = b64_value(s[i])) == -1)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			out[n++] = acc >> 16;
			out[n++] = acc >> 8;
			out[n++] = acc;
			acc = 0;
		}
	}
	if (pad == 2) {
		out[n++] = acc >> 4;
	} else if (pad == 1) {
		out[n++] = acc >> 10;
		out[n++] = acc >> 2;
	}
	return n;
}

/*
 * One OpenSSH public key line: TYPE BASE64 [comment].  The base64 blob
 * starts with the key type again, which catches a key cut short or
 * pasted from the private half.
 */
static int
ssh_key_check(const char *key, char *err, size_t errlen)
{
	char		 type[64], show_buf[SHOW + 1];
	const char	*sp, *data, *dend;
	unsigned char	*blob = NULL;
	long		 n;
	uint32_t	 tlen;
	size_t		 i, off, slen;
	int		 rc = -1, k;

	if ((sp = strchr(key, ' ')) == NULL || (size_t)(sp - key) >= sizeof(type)) {
		errf(err, errlen, "'%s' is not an OpenSSH public key (TYPE"
		    " BASE64 [comment], as in ~/.ssh/id_ed25519.pub)",
		    show(key, show_buf, sizeof(show_buf)));
		return -1;
	}
	memcpy(type, key, sp - key);
	type[sp - key] = '\0';
	if (strcmp(type, "ssh-dss") == 0) {
		errf(err, errlen, "ssh-dss (DSA) keys are refused by current"
		    " OpenSSH; make one with ssh-keygen -t ed25519");
		return -1;
	}
	for (i = 0; key_types[i].type != NULL; i++)
		if (strcmp(type, key_types[i].type) == 0)
			break;
	if (key_types[i].type == NULL) {
		errf(err, errlen, "'%s' is not a key type OpenSSH takes"
		    " (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256...)",
		    show(type, show_buf, sizeof(show_buf)));
		return -1;
	}
	for (data = sp; *data == ' '; data++)
		;
	for (dend = data; *dend != '\0' && *dend != ' '; dend++)
		;
	blob = xmalloc((dend - data) / 4 * 3 + 3);
	if ((n = b64_decode(data, dend - data, blob)) < 4) {
		errf(err, errlen, "%s key: the key data is not base64 (cut"
		    " short or changed when copied?)", type);
		goto fail;
	}
	tlen = (uint32_t)blob[0] << 24 | blob[1] << 16 | blob[2] << 8 | blob[3];
	if (tlen > (uint32_t)n - 4 || tlen != strlen(type) ||
	    memcmp(blob + 4, type, tlen) != 0) {
		errf(err, errlen, "%s key: the key data does not hold a %s key"
		    " (two keys mixed up?)", type, type);
		goto fail;
	}
	for (off = 0, k = 0; off + 4 <= (size_t)n; k++) {
		slen = (uint32_t)blob[off] << 24 | blob[off + 1] << 16 |
		    blob[off + 2] << 8 | blob[off + 3];
		if (slen > (size_t)n - off - 4)
			break;
		off += 4 + slen;
	}
	if (off != (size_t)n || k != key_types[i].nstrings) {
		errf(err, errlen, "%s key: the key data is incomplete (cut"
		    " short when copied?)", type);
		goto fail;
	}
	rc = 0;
fail:
	free(blob);
	return rc;
}

/*
 * A field of text people will read, with a character that can hide or
 * reorder what is around it: 1 after adding the error, else 0.
 */
static int
unsafe_add(struct errs *e, const char *fname, int line, const char *col,
    const struct field *f)
{
	const char	*what;
	uint32_t	 cp;

	if ((what = text_unsafe(f->s, f->len, &cp)) == NULL)
		return 0;
	errs_add(e, "%s line %d: %s: holds U+%04X, %s; remove it", fname,
	    line, col, (unsigned)cp, what);
	return 1;
}

static void
check_row(struct errs *e, const char *fname, const struct record *r,
    const int *colmap, struct roster_entry *ent)
{
	const struct field	*f;
	char			 s[SHOW + 1], why[LABD_ERRLEN];
	size_t			 i;
	int			 col;

	memset(ent, 0, sizeof(*ent));
	ent->line = r->line;
	for (i = 0; i < r->n; i++) {
		f = &r->f[i];
		if ((col = colmap[i]) == COL_NONE) {
			if (f->len > 0)
				errs_add(e, "%s line %d: '%s' is in column %zu,"
				    " which has no name in the header", fname,
				    r->line, show(f->s, s, sizeof(s)), i + 1);
			continue;
		}
		if (memchr(f->s, '\0', f->len) != NULL) {
			errs_add(e, "%s line %d: %s: holds a NUL byte", fname,
			    r->line, columns[col].name);
			continue;
		}
		switch (col) {
		case COL_ID:
			if (f->len == 0)
				errs_add(e, "%s line %d: id is empty", fname,
				    r->line);
			else if (login_shape(f->s) && !login_valid(f->s))
				errs_add(e, "%s line %d: id: '%s' is a system"
				    " account name; choose another id", fname,
				    r->line, f->s);
			else if (!login_valid(f->s))
				errs_add(e, "%s line %d: id: '%s' is not a valid"
				    " login name (use a-z, 0-9, _ and -, starting"
				    " with a letter or _, at most 32)", fname,
				    r->line, show(f->s, s, sizeof(s)));
			else
				snprintf(ent->id, sizeof(ent->id), "%s", f->s);
			break;
		case COL_NAME:
			if (f->len == 0)
				errs_add(e, "%s line %d: name is empty", fname,
				    r->line);
			else if (f->len >= sizeof(ent->name))
				errs_add(e, "%s line %d: name: %zu bytes, at"
				    " most %zu", fname, r->line, f->len,
				    sizeof(ent->name) - 1);
			else if (has_control(f->s, f->len))
				errs_add(e, "%s line %d: name: holds a line break"
				    " or control character", fname, r->line);
			else if (!utf8_valid((unsigned char *)f->s, f->len))
				errs_add(e, "%s line %d: name: not valid UTF-8"
				    " (save the file as CSV UTF-8)", fname,
				    r->line);
			else if (unsafe_add(e, fname, r->line, "name", f))
				;
			else
				snprintf(ent->name, sizeof(ent->name), "%s",
				    f->s);
			break;
		case COL_EMAIL: {
			const char	*at = strchr(f->s, '@');
			size_t		 k;
			int		 ok;

			if (f->len == 0)
				break;
			ok = f->len < sizeof(ent->email) && at != NULL &&
			    at != f->s && at[1] != '\0' &&
			    strchr(at + 1, '@') == NULL &&
			    utf8_valid((unsigned char *)f->s, f->len);
			for (k = 0; ok && k < f->len; k++)
				if ((unsigned char)f->s[k] <= ' ' ||
				    f->s[k] == 0x7f || f->s[k] == ',' ||
				    f->s[k] == '<' || f->s[k] == '>')
					ok = 0;
			if (!ok)
				errs_add(e, "%s line %d: email: '%s' does not"
				    " look like an address (user@example.org)",
				    fname, r->line, show(f->s, s, sizeof(s)));
			else if (unsafe_add(e, fname, r->line, "email", f))
				;
			else
				snprintf(ent->email, sizeof(ent->email), "%s",
				    f->s);
			break;
		}
		case COL_SSH_KEY:
			if (f->len == 0)
				break;
			if (f->len >= sizeof(ent->ssh_key))
				errs_add(e, "%s line %d: ssh_key: %zu bytes, at"
				    " most %zu", fname, r->line, f->len,
				    sizeof(ent->ssh_key) - 1);
			else if (has_control(f->s, f->len))
				errs_add(e, "%s line %d: ssh_key: holds a line"
				    " break; give one key, on one line", fname,
				    r->line);
			else if (!utf8_valid((unsigned char *)f->s, f->len))
				errs_add(e, "%s line %d: ssh_key: not valid"
				    " UTF-8", fname, r->line);
			else if (unsafe_add(e, fname, r->line, "ssh_key", f))
				;
			else if (ssh_key_check(f->s, why, sizeof(why)) == -1)
				errs_add(e, "%s line %d: ssh_key: %s", fname,
				    r->line, why);
			else
				snprintf(ent->ssh_key, sizeof(ent->ssh_key),
				    "%s", f->s);
			break;
		}
	}
}

/* Map header fields to columns; 0, or -1 with the reasons added to e. */
static int
read_header(struct errs *e, const char *fname, const struct record *r,
    int *colmap)
{
	char	name[64];
	int	seen[NCOLS] = { 0 }, col, nknown = 0, errs0 = e->n;
	size_t	i, k;

	for (i = 0; i < r->n; i++) {
		snprintf(name, sizeof(name), "%s", r->f[i].s);
		for (k = 0; name[k] != '\0'; k++)
			if (name[k] >= 'A' && name[k] <= 'Z')
				name[k] += 'a' - 'A';
		for (col = 0; col < NCOLS; col++)
			if (strcmp(name, columns[col].name) == 0)
				break;
		colmap[i] = col;
		if (col < NCOLS)
			nknown++;
		else if (name[0] == '\0')
			colmap[i] = COL_NONE;
	}
	if (nknown == 0) {
		errs_add(e, "%s line %d: no header row (the first line must name"
		    " the columns: id,name,email,ssh_key)", fname, r->line);
		return -1;
	}
	for (i = 0; i < r->n; i++) {
		char	s[SHOW + 1];

		if ((col = colmap[i]) == COL_NONE)
			continue;
		if (col == NCOLS)
			errs_add(e, "%s line %d: unknown column '%s' (columns"
			    " are id, name, email and ssh_key)", fname, r->line,
			    show(r->f[i].s, s, sizeof(s)));
		else if (seen[col]++)
			errs_add(e, "%s line %d: column '%s' appears twice", fname,
			    r->line, columns[col].name);
	}
	for (col = 0; col < NCOLS; col++)
		if (columns[col].required && !seen[col])
			errs_add(e, "%s line %d: no '%s' column (the header needs"
			    " id and name; email and ssh_key are optional)",
			    fname, r->line, columns[col].name);
	return e->n == errs0 ? 0 : -1;
}

int
roster_parse(const char *text, size_t len, const char *fname,
    struct roster *ros, char *err, size_t errlen)
{
	struct csv		 c = { text, text + len, 1 };
	struct record		 r = { 0 };
	struct roster_entry	*v = NULL;
	struct errs		 e = { err, 0, errlen, 0, 0 };
	char			 msg[LABD_ERRLEN];
	int			*colmap = NULL, header = 0, rc;
	size_t			 n = 0, cap = 0, ncols = 0, i;

	ros->v = NULL;
	ros->n = 0;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (len >= 2 && (((unsigned char)text[0] == 0xff &&
	    (unsigned char)text[1] == 0xfe) || ((unsigned char)text[0] == 0xfe &&
	    (unsigned char)text[1] == 0xff))) {
		errs_add(&e, "%s: the file is UTF-16; save it as CSV UTF-8",
		    fname);
		goto fail;
	}
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		c.p += 3;
	while ((rc = csv_record(&c, &r, fname, msg, sizeof(msg))) == 1) {
		if (record_blank(&r))
			continue;
		if (!header) {
			header = 1;
			ncols = r.n;
			colmap = xcalloc(ncols, sizeof(*colmap));
			if (read_header(&e, fname, &r, colmap) == -1)
				goto fail;
			continue;
		}
		if (r.n != ncols) {
			errs_add(&e, "%s line %d: %zu field%s, the header has"
			    " %zu%s", fname, r.line, r.n, r.n == 1 ? "" : "s",
			    ncols, r.n > ncols ? " (a comma inside a field needs"
			    " quotes: \"O'Brien, Jr.\")" : "");
			continue;
		}
		if (n == ROSTER_MAX) {
			errs_add(&e, "%s line %d: more than %d students; one course"
			    " takes at most %d", fname, r.line, ROSTER_MAX,
			    ROSTER_MAX);
			break;
		}
		if (n == cap) {
			/* Entries are 8 KiB each: grow by doubling. */
			cap = cap ? cap * 2 : 32;
			v = xrealloc(v, cap * sizeof(*v));
		}
		check_row(&e, fname, &r, colmap, &v[n]);
		for (i = 0; v[n].id[0] != '\0' && i < n; i++)
			if (strcmp(v[i].id, v[n].id) == 0) {
				errs_add(&e, "%s line %d: id: '%s' is already on"
				    " line %d", fname, r.line, v[n].id,
				    v[i].line);
				break;
			}
		n++;
	}
	if (rc == -1) {
		errs_add(&e, "%s", msg);
		goto fail;
	}
	if (!header) {
		errs_add(&e, "%s: empty file (the first line must name the"
		    " columns: id,name,email,ssh_key)", fname);
		goto fail;
	}
	if (n == 0 && e.n == 0) {
		errs_add(&e, "%s: no students (only a header row)", fname);
		goto fail;
	}
	if (e.n > 0)
		goto fail;
	ros->v = v;
	ros->n = n;
	record_free(&r);
	free(colmap);
	return 0;
fail:
	errs_close(&e);
	record_free(&r);
	free(colmap);
	free(v);
	return -1;
}

int
roster_load(const char *path, struct roster *ros, char *err, size_t errlen)
{
	char	*text;
	size_t	 len;
	int	 rc;

	ros->v = NULL;
	ros->n = 0;
	if ((text = file_read(path, ROSTER_MAXFILE, &len, err, errlen)) == NULL)
		return -1;
	rc = roster_parse(text, len, path, ros, err, errlen);
	free(text);
	return rc;
}

void
roster_free(struct roster *ros)
{
	free(ros->v);
	ros->v = NULL;
	ros->n = 0;
}
