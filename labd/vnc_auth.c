/* SPDX-License-Identifier: ISC */
/*
 * vnc_auth.c - who a VNC client is.
 *
 * VNC authentication carries no user name: the server sends 16 random
 * bytes, the viewer sends them back DES-encrypted with the password as
 * the key.  labd tries the instructor's password and every student's
 * against the response, and the one that matches says who the client
 * is; so no two students may share a password (a UNIQUE index on
 * students.vnc_password, and the instructor's is never handed out).
 * DES needs the password itself, so labd keeps it in clear in labd.db
 * (state_dir is labd's alone), unlike the SSH passwords it keeps hashed.
 *
 * Failed tries are counted per IPv4 source address: a few are free, then
 * one try every VNC_RATE_MS, so that 8 characters cannot be guessed.
 */
#include <stdio.h>
#include <string.h>

#include <rfb/rfb.h>

#include "labd/labd.h"
#include "labd/vnc.h"
#include "vmm/vmm.h"

static char	instructor[VNC_PWLEN + 1];

void
vnc_auth_instructor(const char *pw)
{
	snprintf(instructor, sizeof(instructor), "%s", pw);
}

static int
password_taken(const char *pw)
{
	sqlite3_stmt	*st;
	int		 taken;

	if (strcmp(pw, instructor) == 0)
		return 1;
	st = db_prepare("SELECT 1 FROM students WHERE vnc_password = ?");
	sqlite3_bind_text(st, 1, pw, -1, SQLITE_STATIC);
	taken = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return taken;
}

int
vnc_password_new(char *out, size_t outlen, char *err, size_t errlen)
{
	int	i;

	if (outlen < VNC_PWLEN + 1) {
		errf(err, errlen, "VNC password: buffer too small");
		return -1;
	}
	/* 57^8 passwords: a clash is rare, and then another is drawn. */
	for (i = 0; i < 16; i++) {
		if (seed_random_password(out, VNC_PWLEN) == -1) {
			errf(err, errlen, "cannot make a VNC password");
			return -1;
		}
		if (!password_taken(out))
			return 0;
	}
	errf(err, errlen, "cannot make a VNC password no student has");
	return -1;
}

int
vnc_passwords_fill(void)
{
	sqlite3_stmt	*st, *up;
	char		 pw[VNC_PWLEN + 1], err[LABD_ERRLEN];
	int		 n = 0;

	st = db_prepare("SELECT id FROM students WHERE vnc_password IS NULL");
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (vnc_password_new(pw, sizeof(pw), err, sizeof(err)) == -1) {
			log_warnx("%s", err);
			break;
		}
		up = db_prepare("UPDATE students SET vnc_password = ?"
		    " WHERE id = ?");
		sqlite3_bind_text(up, 1, pw, -1, SQLITE_STATIC);
		sqlite3_bind_int64(up, 2, sqlite3_column_int64(st, 0));
		if (sqlite3_step(up) == SQLITE_DONE)
			n++;
		sqlite3_finalize(up);
	}
	sqlite3_finalize(st);
	explicit_bzero(pw, sizeof(pw));
	return n;
}

int
vnc_auth_match(const unsigned char *challenge, const unsigned char *response,
    size_t len, const char *const *pw, size_t n)
{
	unsigned char	buf[CHALLENGESIZE];
	char		key[VNC_PWLEN + 1];
	size_t		i;
	int		found = -1;

	if (len != CHALLENGESIZE)
		return -1;
	for (i = 0; i < n && found == -1; i++) {
		if (pw[i] == NULL || pw[i][0] == '\0')
			continue;
		memcpy(buf, challenge, sizeof(buf));
		snprintf(key, sizeof(key), "%s", pw[i]);
		rfbEncryptBytes(buf, key);
		if (memcmp(buf, response, sizeof(buf)) == 0)
			found = (int)i;
	}
	explicit_bzero(key, sizeof(key));
	explicit_bzero(buf, sizeof(buf));
	return found;
}

/* --- rate limit ------------------------------------------------------------ */

/* The address's slot, or one to take: empty, else the stalest. */
static int
rate_slot(struct vnc_rate *r, uint32_t addr, int create, int64_t now)
{
	int	i, pick = -1;

	for (i = 0; i < VNC_RATE_SLOTS; i++) {
		if (r->slot[i].fails == 0) {
			if (pick == -1 || r->slot[pick].fails != 0)
				pick = i;
			continue;
		}
		if (r->slot[i].addr == addr)
			return i;
		if (pick == -1 || (r->slot[pick].fails != 0 &&
		    r->slot[i].last_ms < r->slot[pick].last_ms))
			pick = i;
	}
	if (!create)
		return -1;
	memset(&r->slot[pick], 0, sizeof(r->slot[pick]));
	r->slot[pick].addr = addr;
	r->slot[pick].last_ms = now;
	return pick;
}

int
vnc_rate_allowed(struct vnc_rate *r, uint32_t addr, int64_t now)
{
	int	i = rate_slot(r, addr, 0, now);

	return i == -1 || r->slot[i].fails < VNC_RATE_FREE ||
	    now >= r->slot[i].next_ms;
}

void
vnc_rate_failed(struct vnc_rate *r, uint32_t addr, int64_t now)
{
	int	i = rate_slot(r, addr, 1, now);

	r->slot[i].fails++;
	r->slot[i].last_ms = now;
	if (r->slot[i].fails >= VNC_RATE_FREE)
		r->slot[i].next_ms = now + VNC_RATE_MS;
}

void
vnc_rate_passed(struct vnc_rate *r, uint32_t addr)
{
	int	i = rate_slot(r, addr, 0, 0);

	if (i != -1)
		memset(&r->slot[i], 0, sizeof(r->slot[i]));
}
