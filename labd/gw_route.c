/* SPDX-License-Identifier: ISC */
/*
 * gw_route.c - the gateway's pure decisions: what an SSH user name
 * means, which VM it picks, whether an address may come in, and how
 * many logins an address has failed.  No state of labd, no I/O: the
 * loop's side (gateway.c) feeds them what the database says, and
 * tests/unit/test_gateway.c feeds them hostile names.
 *
 * A user name reaches us before anyone has authenticated: it is
 * whatever a scanner types.  It is checked byte by byte before any part
 * of it is used, and quoted back only in a form that cannot move a
 * terminal's cursor (printable ASCII, cut short).
 */
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labd/gateway.h"

/* What of s can be shown: printable ASCII, '?' for the rest, 40 bytes. */
static void
show(const char *s, char *out, size_t outlen)
{
	size_t	i;

	for (i = 0; s[i] != '\0' && i + 1 < outlen && i < 40; i++)
		out[i] = (s[i] > 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = '\0';
	if (s[i] != '\0' && i >= 3 && i + 1 < outlen)
		memcpy(out + i - 3, "...", 3);
}

/* The words that may end a user name, and what each asks for. */
static const struct {
	const char	*word;
	enum gw_mode	 mode;
} gw_modes[] = {
	{ "console", GW_MODE_CONSOLE },
	{ "reset", GW_MODE_RESET },
	{ "check", GW_MODE_CHECK },
};
#define GW_MODES_HINT	"+console, +reset or +check"

static int
mode_of(const char *word, size_t len)
{
	size_t	i;

	for (i = 0; i < sizeof(gw_modes) / sizeof(gw_modes[0]); i++)
		if (strlen(gw_modes[i].word) == len &&
		    strncmp(gw_modes[i].word, word, len) == 0)
			return gw_modes[i].mode;
	return -1;
}

/*
 * LOGIN[+COURSE][+console|+reset|+check].  The last part, when it is
 * one of the words, is the mode; so a course is named in front of it,
 * and a course called "console", "reset" or "check" can be named only
 * with a mode after it (alice+reset+console).
 */
int
gw_user_parse(const char *user, char *login, char *course, int *mode,
    char *err, size_t errlen)
{
	const char	*plus, *cstart, *last;
	char		 shown[48];
	size_t		 len, i, nplus = 0, clen;
	int		 m;

	login[0] = course[0] = '\0';
	*mode = GW_MODE_SHELL;
	len = strnlen(user, GW_USERLEN + 1);
	show(user, shown, sizeof(shown));
	if (len == 0) {
		errf(err, errlen, "no user name: log in as STUDENT@ or"
		    " STUDENT+COURSE@");
		return -1;
	}
	if (len > GW_USERLEN) {
		errf(err, errlen, "user name \"%s\" is too long (at most %d"
		    " bytes)", shown, GW_USERLEN);
		return -1;
	}
	for (i = 0; i < len; i++) {
		unsigned char	ch = (unsigned char)user[i];

		if (ch < 0x20 || ch >= 0x7f) {
			errf(err, errlen, "user name \"%s\" holds a control"
			    " character or a byte that is not ASCII", shown);
			return -1;
		}
		nplus += ch == '+';
	}
	if ((plus = strchr(user, '+')) == NULL) {
		if (!login_valid(user))
			goto badlogin;
		snprintf(login, LABD_NAMELEN, "%s", user);
		return 0;
	}
	if ((size_t)(plus - user) >= LABD_NAMELEN)
		goto badlogin;
	memcpy(login, user, plus - user);
	login[plus - user] = '\0';
	if (!login_valid(login)) {
		login[0] = '\0';
		goto badlogin;
	}
	last = strrchr(user, '+') + 1;
	m = mode_of(last, strlen(last));
	if (nplus > 2 || (nplus == 2 && m == -1)) {
		errf(err, errlen, "user name \"%s\": \"+%.20s\" is not a"
		    " mode; after STUDENT+COURSE comes " GW_MODES_HINT ", as"
		    " in %s+COURSE+console@", shown, last, login);
		login[0] = '\0';
		return -1;
	}
	if (m != -1) {
		*mode = m;
		if (nplus == 1)
			return 0;
	}
	/* The course: between the first '+' and the mode, or to the end. */
	cstart = plus + 1;
	clen = m != -1 ? (size_t)(last - 1 - cstart) : strlen(cstart);
	if (clen >= LABD_NAMELEN || clen == 0)
		goto badcourse;
	memcpy(course, cstart, clen);
	course[clen] = '\0';
	if (!name_valid(course))
		goto badcourse;
	return 0;
badcourse:
	errf(err, errlen, "user name \"%s\": \"%s\" is not a course name"
	    " nor " GW_MODES_HINT "; log in as %s+COURSE@ or"
	    " %s+COURSE+console@", shown, strchr(shown, '+'), login, login);
	login[0] = course[0] = '\0';
	*mode = GW_MODE_SHELL;
	return -1;
badlogin:
	errf(err, errlen, "user name \"%s\" is not a student's login (a-z,"
	    " 0-9, '_' and '-', at most 32); log in as STUDENT@ or"
	    " STUDENT+COURSE@", shown);
	return -1;
}

/* The courses of cands as "a, b, c", cut to fit. */
static void
cands_courses(const struct gw_cand *cands, size_t n, char *out, size_t outlen)
{
	size_t	i, len;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		len = strlen(out);
		snprintf(out + len, outlen - len, "%s%s", i ? ", " : "",
		    cands[i].course);
	}
}

int
gw_route_pick(const char *login, const char *course,
    const struct gw_cand *cands, size_t n, char *msg, size_t msglen)
{
	char	list[256];
	size_t	i;

	if (n == 0) {
		errf(msg, msglen, "unknown student \"%s\": no course has"
		    " this login", login);
		return -1;
	}
	cands_courses(cands, n, list, sizeof(list));
	if (course[0] != '\0') {
		for (i = 0; i < n; i++)
			if (strcmp(cands[i].course, course) == 0)
				return (int)i;
		errf(msg, msglen, "%s has no VM in course \"%s\" (%s: %s);"
		    " or did you mean " GW_MODES_HINT "?", login, course,
		    n == 1 ? "the course" : "the courses", list);
		return -1;
	}
	if (n == 1)
		return 0;
	errf(msg, msglen, "%s has VMs in several courses (%s): name one, as"
	    " in ssh %s+%s@...", login, list, login, cands[0].course);
	return -1;
}

int
gw_addr_allowed(const char *canon, const char *addr)
{
	struct in_addr	 a, n;
	const char	*p, *end, *slash;
	char		 el[32];
	uint32_t	 mask, h;
	long		 plen;

	if (canon == NULL || canon[0] == '\0')
		return 1;
	if (inet_pton(AF_INET, addr, &a) != 1)
		return 0;
	h = ntohl(a.s_addr);
	for (p = canon; *p != '\0'; p = *end ? end + 1 : end) {
		if ((end = strchr(p, ',')) == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) >= sizeof(el))
			continue;
		memcpy(el, p, end - p);
		el[end - p] = '\0';
		plen = 32;
		if ((slash = strchr(el, '/')) != NULL) {
			plen = strtol(slash + 1, NULL, 10);
			el[slash - el] = '\0';
		}
		if (plen < 0 || plen > 32 || inet_pton(AF_INET, el, &n) != 1)
			continue;
		mask = plen == 0 ? 0 : 0xffffffffu << (32 - plen);
		if ((h & mask) == (ntohl(n.s_addr) & mask))
			return 1;
	}
	return 0;
}

/* The slot of addr, a new one (the least recently seen) if none. */
static int
fail_slot(struct gw_fails *f, const char *addr, int create)
{
	int	i, old = 0;

	for (i = 0; i < GW_FAIL_ADDRS; i++) {
		if (strcmp(f->a[i].addr, addr) == 0)
			return i;
		if (f->a[i].seen < f->a[old].seen)
			old = i;
	}
	if (!create)
		return -1;
	memset(&f->a[old], 0, sizeof(f->a[old]));
	snprintf(f->a[old].addr, sizeof(f->a[old].addr), "%s", addr);
	return old;
}

/* Forget the failures older than the window. */
static void
fail_expire(struct gw_fails *f, int i, int64_t now)
{
	int	tail;

	while (f->a[i].n > 0) {
		tail = (f->a[i].head - f->a[i].n + GW_FAIL_MAX) % GW_FAIL_MAX;
		if (now - f->a[i].at[tail] < GW_FAIL_WINDOW_MS)
			break;
		f->a[i].n--;
	}
}

void
gw_fail_add(struct gw_fails *f, const char *addr, int64_t now)
{
	int	i = fail_slot(f, addr, 1);

	fail_expire(f, i, now);
	f->a[i].at[f->a[i].head] = now;
	f->a[i].head = (f->a[i].head + 1) % GW_FAIL_MAX;
	if (f->a[i].n < GW_FAIL_MAX)
		f->a[i].n++;
	f->a[i].seen = now;
}

int
gw_fail_blocked(struct gw_fails *f, const char *addr, int max, int64_t now,
    int64_t *until)
{
	int	i = fail_slot(f, addr, 0), k;

	if (i == -1)
		return 0;
	fail_expire(f, i, now);
	if (f->a[i].n < max)
		return 0;
	/* Free again when the max-th newest failure leaves the window. */
	k = (f->a[i].head - max + GW_FAIL_MAX) % GW_FAIL_MAX;
	if (until != NULL)
		*until = f->a[i].at[k] + GW_FAIL_WINDOW_MS;
	return 1;
}
