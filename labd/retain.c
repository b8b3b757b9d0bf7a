/* SPDX-License-Identifier: ISC */
/*
 * retain.c - disks that a removal or a fresh disk would have deleted, kept
 * for a while ([labd] keep_removed, default 24 h) so that a mistake can be
 * undone: state_dir/removed/ID/disk.qcow2, with meta.json telling what it
 * was (VM, course, student, when and why).  `labctl removed` lists them,
 * `labctl recover ID` puts one back as its VM's disk (cmd_removed.c).
 *
 * A kept disk is a hard link to the old one: keeping it costs no copy and
 * no time, and its blocks are freed when the last link goes.  It is still
 * an overlay of its template's disk, which labd never deletes while a
 * course uses it; recover says so when the backing file is gone.
 * Everything here works on labd's own files, whose names labd made, and
 * touches no shared state: workers call it as well as the loop.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "labd.h"

#define RETAIN_DIR	"removed"
#define RETAIN_TICK_MS	(10 * 60 * 1000)	/* expired copies go this often */

static void
retain_root(char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/" RETAIN_DIR, labd->cfg.state_dir);
}

/* An ID is VM-EPOCH[-n]: labd's own names, nothing to climb out with. */
static int
retain_id_ok(const char *id)
{
	size_t	len = strlen(id);

	return len > 0 && len < 128 && id[0] != '.' &&
	    strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

int
retain_keep(const char *disk, const char *vm, const char *course,
    const char *student, const char *why, char *id, size_t idlen,
    char *err, size_t errlen)
{
	char	 root[PATH_MAX], dir[PATH_MAX], path[PATH_MAX], *text;
	json_t	*m;
	time_t	 now = time(NULL);
	int	 n, rc;

	if (id != NULL && idlen > 0)
		id[0] = '\0';
	if (labd->cfg.keep_removed == 0 || !file_exists(disk))
		return 0;
	retain_root(root, sizeof(root));
	if (mkdir(root, 0700) == -1 && errno != EEXIST) {
		errf(err, errlen, "cannot make %s: %s", root, strerror(errno));
		return -1;
	}
	for (n = 1; ; n++) {
		if (n == 1)
			rc = snprintf(dir, sizeof(dir), "%s/%s-%lld", root, vm,
			    (long long)now);
		else
			rc = snprintf(dir, sizeof(dir), "%s/%s-%lld-%d", root,
			    vm, (long long)now, n);
		if (rc < 0 || (size_t)rc >= sizeof(dir) - 32) {
			errf(err, errlen, "%s: path too long", root);
			return -1;
		}
		if (mkdir(dir, 0700) == 0)
			break;
		if (errno != EEXIST || n == 100) {
			errf(err, errlen, "cannot make %s: %s", dir,
			    strerror(errno));
			return -1;
		}
	}
	snprintf(path, sizeof(path), "%s/disk.qcow2", dir);
	if (link(disk, path) == -1) {
		errf(err, errlen, "cannot keep %s as %s: %s", disk, path,
		    strerror(errno));
		rmdir(dir);
		return -1;
	}
	m = json_pack("{s:s,s:s,s:s,s:I,s:s}", "vm", vm, "course", course,
	    "student", student, "removed", (json_int_t)now, "why", why);
	text = json_dumps(m, JSON_INDENT(2));
	json_decref(m);
	snprintf(path, sizeof(path), "%s/meta.json", dir);
	if (text == NULL || file_write_atomic(path, text, strlen(text), 0600,
	    err, errlen) == -1) {
		if (text == NULL)
			errf(err, errlen, "out of memory");
		free(text);
		rm_rf(dir);
		return -1;
	}
	free(text);
	if (id != NULL)
		snprintf(id, idlen, "%s", strrchr(dir, '/') + 1);
	return 0;
}

json_t *
retain_meta(const char *id, char *dir, size_t dirlen, char *err,
    size_t errlen)
{
	char		 root[PATH_MAX], path[PATH_MAX];
	json_t		*m;
	json_error_t	 je;

	retain_root(root, sizeof(root));
	if (!retain_id_ok(id)) {
		errf(err, errlen, "\"%.64s\" is not the ID of a kept disk"
		    " (labctl removed lists them)", id);
		return NULL;
	}
	snprintf(dir, dirlen, "%s/%s", root, id);
	snprintf(path, sizeof(path), "%s/meta.json", dir);
	if ((m = json_load_file(path, 0, &je)) == NULL ||
	    !json_is_object(m) ||
	    !json_is_string(json_object_get(m, "vm")) ||
	    !json_is_integer(json_object_get(m, "removed"))) {
		json_decref(m);
		errf(err, errlen, "no kept disk %.64s (labctl removed lists"
		    " them; they go after keep_removed)", id);
		return NULL;
	}
	return m;
}

json_t *
retain_list(void)
{
	char		 root[PATH_MAX], dir[PATH_MAX], disk[PATH_MAX],
			 e[LABD_ERRLEN];
	struct dirent	*de;
	json_t		*a = json_array(), *m;
	DIR		*d;
	long long	 removed;

	retain_root(root, sizeof(root));
	if ((d = opendir(root)) == NULL)
		return a;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    (m = retain_meta(de->d_name, dir, sizeof(dir), e,
		    sizeof(e))) == NULL)
			continue;
		removed = json_integer_value(json_object_get(m, "removed"));
		snprintf(disk, sizeof(disk), "%s/disk.qcow2", dir);
		json_object_set_new(m, "id", json_string(de->d_name));
		json_object_set_new(m, "bytes",
		    json_integer(overlay_disk_usage(disk)));
		json_object_set_new(m, "expires",
		    json_integer(removed + labd->cfg.keep_removed));
		json_array_append_new(a, m);
	}
	closedir(d);
	return a;
}

/* The ID of VM's newest kept disk into id; -1 when it has none. */
int
retain_newest(const char *vm, char *id, size_t idlen)
{
	json_t		*a = retain_list(), *m;
	size_t		 i;
	long long	 best = -1, t;
	const char	*v;

	json_array_foreach(a, i, m) {
		v = json_string_value(json_object_get(m, "vm"));
		t = json_integer_value(json_object_get(m, "removed"));
		if (v == NULL || strcmp(v, vm) != 0 || t <= best)
			continue;
		best = t;
		snprintf(id, idlen, "%s",
		    json_string_value(json_object_get(m, "id")));
	}
	json_decref(a);
	return best == -1 ? -1 : 0;
}

/* Kept disks older than keep_removed go (all of them when it is off). */
void
retain_purge(void)
{
	char	 dir[PATH_MAX], root[PATH_MAX];
	json_t	*a = retain_list(), *m;
	size_t	 i;
	time_t	 now = time(NULL);

	retain_root(root, sizeof(root));
	json_array_foreach(a, i, m) {
		if (json_integer_value(json_object_get(m, "expires")) > now)
			continue;
		/* The ID was checked when the list was read. */
		snprintf(dir, sizeof(dir), "%s/%s", root,
		    json_string_value(json_object_get(m, "id")));
		if (rm_rf(dir) == -1)
			log_warn("cannot remove %s", dir);
		else
			log_info("kept disk %s of %s expired",
			    json_string_value(json_object_get(m, "id")),
			    json_string_value(json_object_get(m, "vm")));
	}
	json_decref(a);
}

static int
retain_tick(struct loop *l, void *arg)
{
	retain_purge();
	return RETAIN_TICK_MS;
}

void
retain_init(void)
{
	retain_purge();
	loop_add_timer(labd->loop, RETAIN_TICK_MS, retain_tick, NULL);
}
