/* SPDX-License-Identifier: ISC */
/*
 * keys.c - labd's management key.  An ed25519 key pair made once in
 * state_dir/keys/ with libssh; its public half goes into every guest's
 * seed (root's authorized_keys) so that labd can reach a VM whose student
 * changed every password.
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

int
keys_init(const char *state_dir, char *err, size_t errlen)
{
	char		 dir[PATH_MAX], priv[PATH_MAX], host[64];
	ssh_key		 key = NULL;
	char		*b64 = NULL;
	int		 rc = -1;

	snprintf(dir, sizeof(dir), "%s/keys", state_dir);
	snprintf(priv, sizeof(priv), "%s/labd_ed25519", dir);
	snprintf(keys_priv, sizeof(keys_priv), "%s", priv);
	if (mkdir_p(dir, 0700) == -1) {
		errf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (file_exists(priv)) {
		if (ssh_pki_import_privkey_file(priv, NULL, NULL, NULL, &key) !=
		    SSH_OK) {
			errf(err, errlen, "cannot read the management key %s",
			    priv);
			goto done;
		}
	} else {
		char	tmp[PATH_MAX];

		if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK) {
			errf(err, errlen, "cannot generate an ed25519 key");
			goto done;
		}
		snprintf(tmp, sizeof(tmp), "%s.tmp", priv);
		unlink(tmp);
		if (ssh_pki_export_privkey_file(key, NULL, NULL, NULL, tmp) !=
		    SSH_OK || chmod(tmp, 0600) == -1 || rename(tmp, priv) == -1) {
			errf(err, errlen, "cannot write the management key %s",
			    priv);
			unlink(tmp);
			goto done;
		}
		log_info("made the management key %s", priv);
	}
	if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK) {
		errf(err, errlen, "cannot export the management key");
		goto done;
	}
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "host");
	host[sizeof(host) - 1] = '\0';
	snprintf(keys_pub, sizeof(keys_pub), "ssh-ed25519 %s labd@%s", b64,
	    host);
	rc = 0;
done:
	free(b64);
	ssh_key_free(key);
	return rc;
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
