/* SPDX-License-Identifier: ISC */
/*
 * keys.c - labd's management key.  An ed25519 key pair made once in
 * state_dir/keys/ with libssh; its public half goes into every guest's
 * seed (root's authorized_keys) so that labd can reach a VM whose student
 * changed every password.
 *
 * And the gateway keys, one a course (keys/gateway-COURSE_ed25519): the
 * seed puts its public half in the student's own authorized_keys, so
 * that the SSH gateway, once the student proved who they are, logs in
 * to their VM as them.  One key a course, not one for all: a guest whose
 * student reads the key out of ~/.ssh (it is in authorized_keys, public)
 * learns nothing, and a course removed takes its key along.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "labd/labd.h"

static char	keys_pub[512];
static char	keys_priv[PATH_MAX];
static char	keys_dir[PATH_MAX];

int
keys_load_or_make(const char *priv, const char *what, const char *comment,
    char *pub, size_t publen, char *err, size_t errlen)
{
	ssh_key		 key = NULL;
	char		*b64 = NULL, tmp[PATH_MAX];
	int		 rc = -1;

	if (file_exists(priv)) {
		if (ssh_pki_import_privkey_file(priv, NULL, NULL, NULL, &key) !=
		    SSH_OK) {
			errf(err, errlen, "cannot read the %s %s", what, priv);
			goto done;
		}
	} else {
		if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK) {
			errf(err, errlen, "cannot generate an ed25519 key");
			goto done;
		}
		snprintf(tmp, sizeof(tmp), "%s.tmp", priv);
		unlink(tmp);
		/* libssh writes it 0600 already; chmod says so for certain. */
		if (ssh_pki_export_privkey_file(key, NULL, NULL, NULL, tmp) !=
		    SSH_OK || chmod(tmp, 0600) == -1 || rename(tmp, priv) == -1) {
			errf(err, errlen, "cannot write the %s %s", what, priv);
			unlink(tmp);
			goto done;
		}
		log_info("made the %s %s", what, priv);
	}
	if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK) {
		errf(err, errlen, "cannot export the %s", what);
		goto done;
	}
	if (pub != NULL)
		snprintf(pub, publen, "ssh-ed25519 %s %s", b64, comment);
	rc = 0;
done:
	free(b64);
	ssh_key_free(key);
	return rc;
}

int
keys_init(const char *state_dir, char *err, size_t errlen)
{
	char	host[64], comment[128];

	snprintf(keys_dir, sizeof(keys_dir), "%s/keys", state_dir);
	snprintf(keys_priv, sizeof(keys_priv), "%s/labd_ed25519", keys_dir);
	if (mkdir_p(keys_dir, 0700) == -1) {
		errf(err, errlen, "cannot create %s: %s", keys_dir,
		    strerror(errno));
		return -1;
	}
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "host");
	host[sizeof(host) - 1] = '\0';
	snprintf(comment, sizeof(comment), "labd@%s", host);
	return keys_load_or_make(keys_priv, "management key", comment,
	    keys_pub, sizeof(keys_pub), err, errlen);
}

/*
 * Course's gateway key: made on first use, on the loop's thread (course
 * names are validated: they make a file name).
 */
int
keys_gateway(const char *course, char *pub, size_t publen, char *priv,
    size_t privlen, char *err, size_t errlen)
{
	char	path[PATH_MAX], comment[128];

	if (!name_valid(course)) {
		errf(err, errlen, "'%.64s' is not a course name", course);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/gateway-%s_ed25519", keys_dir,
	    course);
	if (priv != NULL)
		snprintf(priv, privlen, "%s", path);
	snprintf(comment, sizeof(comment), "labd-gateway@%s", course);
	return keys_load_or_make(path, "gateway key", comment, pub, publen,
	    err, errlen);
}

/* A course removed: its gateway key goes with it. */
void
keys_gateway_rm(const char *course)
{
	char	path[PATH_MAX];

	if (!name_valid(course))
		return;
	snprintf(path, sizeof(path), "%s/gateway-%s_ed25519", keys_dir,
	    course);
	unlink(path);
}

const char *
keys_private(void)
{
	return keys_priv;
}

const char *
keys_public(void)
{
	return keys_pub[0] ? keys_pub : NULL;
}
