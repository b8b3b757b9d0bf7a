/*
 * cmd_template.c - templates: immutable golden disks with a hardware
 * profile.  An import copies (or converts) the disk into
 * state_dir/templates/NAME@V/ in a worker, records its checksum and makes
 * it read-only; importing the same name again makes version V+1, so a
 * template never changes under the clones that use it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "labd/labd.h"

struct import_job {
	struct job		 job;
	struct req		*r;
	char			 name[LABD_NAMELEN];
	int			 version;
	char			 source[PATH_MAX];
	struct template_profile	 prof;	/* paths rewritten to the copies */
	char			 dir[PATH_MAX];
	char			 sha256[65];
	int			 rc;
	char			 err[LABD_ERRLEN];
};

/* Names being imported right now, so that two imports never race. */
static char	importing[16][LABD_NAMELEN];

static int
importing_mark(const char *name, int on)
{
	int	i;

	for (i = 0; i < 16; i++) {
		if (on && importing[i][0] == '\0') {
			snprintf(importing[i], LABD_NAMELEN, "%s", name);
			return 0;
		}
		if (!on && strcmp(importing[i], name) == 0) {
			importing[i][0] = '\0';
			return 0;
		}
	}
	return -1;
}

static int
importing_has(const char *name)
{
	int	i;

	for (i = 0; i < 16; i++)
		if (strcmp(importing[i], name) == 0)
			return 1;
	return 0;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t	n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* Worker: copy the files into a private folder, then rename it in place. */
static void
import_run(struct job *job)
{
	struct import_job	*j = (struct import_job *)job;
	char			 tmp[PATH_MAX], disk[PATH_MAX], path[PATH_MAX],
				 out[256];
	char			*conv[] = { labd->cfg.qemu_img, "convert", "-O",
				    "qcow2", j->prof.disk, disk, NULL };
	char			*sum[] = { "sha256sum", disk, NULL };

	j->rc = -1;
	snprintf(tmp, sizeof(tmp), "%s/templates/.import-%s@%d",
	    labd->cfg.state_dir, j->name, j->version);
	rm_rf(tmp);
	if (mkdir_p(tmp, 0755) == -1) {
		errf(j->err, sizeof(j->err), "cannot create %s: %s", tmp,
		    strerror(errno));
		return;
	}
	snprintf(disk, sizeof(disk), "%s/disk.qcow2", tmp);
	/* convert reads any format qemu-img knows and writes a clean qcow2. */
	if (run_capture(conv, NULL, 0, j->err, sizeof(j->err)) == -1)
		goto fail;
	if (j->prof.kernel[0] != '\0') {
		snprintf(path, sizeof(path), "%s/vmlinuz", tmp);
		if (file_copy(j->prof.kernel, path, 0444, j->err,
		    sizeof(j->err)) == -1)
			goto fail;
	}
	if (j->prof.initrd[0] != '\0') {
		snprintf(path, sizeof(path), "%s/initrd", tmp);
		if (file_copy(j->prof.initrd, path, 0444, j->err,
		    sizeof(j->err)) == -1)
			goto fail;
	}
	if (run_capture(sum, out, sizeof(out), j->err, sizeof(j->err)) == -1)
		goto fail;
	snprintf(j->sha256, sizeof(j->sha256), "%.64s", out);
	/* Immutable from now on: clones back onto it. */
	if (chmod(disk, 0444) == -1) {
		errf(j->err, sizeof(j->err), "chmod %s: %s", disk,
		    strerror(errno));
		goto fail;
	}
	rm_rf(j->dir);
	if (rename(tmp, j->dir) == -1) {
		errf(j->err, sizeof(j->err), "cannot rename %s to %s: %s", tmp,
		    j->dir, strerror(errno));
		goto fail;
	}
	snprintf(j->prof.disk, sizeof(j->prof.disk), "%s/disk.qcow2", j->dir);
	if (j->prof.kernel[0] != '\0')
		snprintf(j->prof.kernel, sizeof(j->prof.kernel), "%s/vmlinuz",
		    j->dir);
	if (j->prof.initrd[0] != '\0')
		snprintf(j->prof.initrd, sizeof(j->prof.initrd), "%s/initrd",
		    j->dir);
	j->rc = 0;
	return;
fail:
	rm_rf(tmp);
}

static json_t *
template_json(sqlite3_stmt *st)
{
	return json_pack("{s:s,s:i,s:s,s:s,s:i,s:i,s:s,s:s,s:s,s:I}",
	    "name", db_text(st, 0), "version", sqlite3_column_int(st, 1),
	    "ref", db_text(st, 2), "disk", db_text(st, 3),
	    "memory_mb", sqlite3_column_int(st, 4),
	    "vcpus", sqlite3_column_int(st, 5), "publish", db_text(st, 6),
	    "source", db_text(st, 7), "sha256", db_text(st, 8),
	    "created", (json_int_t)sqlite3_column_int64(st, 9));
}

#define TEMPLATE_COLS \
	"name, version, name || '@' || version, disk, memory_mb, vcpus," \
	" publish, source, sha256, created"

static void
import_done(struct job *job)
{
	struct import_job	*j = (struct import_job *)job;
	struct template_profile	*p = &j->prof;
	sqlite3_stmt		*st;
	char			 publish[512] = "";
	size_t			 i;

	importing_mark(j->name, 0);
	if (j->rc == -1) {
		reply_err(j->r, LABD_E_FAILED, "template %s: %s", j->name,
		    j->err);
		goto done;
	}
	for (i = 0; i < p->nguest; i++) {
		size_t	len = strlen(publish);

		snprintf(publish + len, sizeof(publish) - len, "%s%s:%u",
		    i ? "," : "", p->guest_names[i], p->guest_ports[i]);
	}
	st = db_prepare("INSERT INTO templates(name, version, dir, disk, kernel,"
	    " initrd, append, firmware, memory_mb, vcpus, publish, ready_line,"
	    " source, sha256, created) VALUES"
	    " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
	sqlite3_bind_text(st, 1, j->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, j->version);
	sqlite3_bind_text(st, 3, j->dir, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, p->disk, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, p->kernel, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, p->initrd, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, p->append, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, p->firmware[0] ? p->firmware : "bios", -1,
	    SQLITE_STATIC);
	sqlite3_bind_int(st, 9, p->memory_mb);
	sqlite3_bind_int(st, 10, p->vcpus);
	sqlite3_bind_text(st, 11, publish, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, p->ready_line, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 13, j->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 14, j->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 15, (sqlite3_int64)time(NULL));
	if (sqlite3_step(st) != SQLITE_DONE) {
		reply_err(j->r, LABD_E_INTERNAL, "template %s: %s", j->name,
		    sqlite3_errmsg(labd->db));
		sqlite3_finalize(st);
		rm_rf(j->dir);
		goto done;
	}
	sqlite3_finalize(st);
	db_event(j->r->uid, "template.import", j->name, "version %d from %s",
	    j->version, j->source);
	log_info("template %s@%d imported from %s", j->name, j->version,
	    j->source);
	st = db_prepare("SELECT " TEMPLATE_COLS " FROM templates WHERE name = ?"
	    " AND version = ?");
	sqlite3_bind_text(st, 1, j->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, j->version);
	if (sqlite3_step(st) == SQLITE_ROW)
		reply_ok(j->r, template_json(st));
	else
		reply_err(j->r, LABD_E_INTERNAL, "template %s vanished",
		    j->name);
	sqlite3_finalize(st);
done:
	req_free(j->r);
	free(j);
}

void
cmd_template_import(const struct req *r, json_t *args)
{
	const char		*name = arg_str(args, "name");
	const char		*path = arg_str(args, "path");
	struct import_job	*j;
	sqlite3_stmt		*st;

	if (name == NULL || path == NULL) {
		reply_err(r, LABD_E_BAD_REQUEST, "template.import needs \"name\""
		    " and \"path\"");
		return;
	}
	if (!name_valid(name)) {
		reply_err(r, LABD_E_INVALID, "template name \"%.64s\": use 1-32"
		    " of a-z, 0-9 and '-', starting with a letter", name);
		return;
	}
	if (path[0] != '/') {
		reply_err(r, LABD_E_INVALID, "template path \"%.200s\" must be"
		    " absolute", path);
		return;
	}
	if (importing_has(name)) {
		reply_err(r, LABD_E_BUSY, "template %s is being imported", name);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	snprintf(j->name, sizeof(j->name), "%s", name);
	snprintf(j->source, sizeof(j->source), "%s", path);
	if (ends_with(path, ".ini")) {
		if (profile_load(path, &j->prof, j->err, sizeof(j->err)) == -1) {
			reply_err(r, LABD_E_INVALID, "%s", j->err);
			free(j);
			return;
		}
	} else {
		/* A bare disk: boot it from its own boot loader, publish ssh. */
		profile_defaults(&j->prof);
		if (access(path, R_OK) == -1) {
			reply_err(r, LABD_E_INVALID, "cannot read %s: %s", path,
			    strerror(errno));
			free(j);
			return;
		}
		snprintf(j->prof.disk, sizeof(j->prof.disk), "%s", path);
	}
	st = db_prepare("SELECT COALESCE(MAX(version), 0) + 1 FROM templates"
	    " WHERE name = ?");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_step(st);
	j->version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	snprintf(j->dir, sizeof(j->dir), "%s/templates/%s@%d",
	    labd->cfg.state_dir, name, j->version);
	if (importing_mark(name, 1) == -1) {
		reply_err(r, LABD_E_BUSY, "too many imports at once");
		free(j);
		return;
	}
	j->r = req_keep(r);
	j->job.run = import_run;
	j->job.done = import_done;
	workers_submit(labd->workers, &j->job);
}

void
cmd_template_list(const struct req *r, json_t *args)
{
	sqlite3_stmt	*st;
	json_t		*a = json_array();

	st = db_prepare("SELECT " TEMPLATE_COLS " FROM templates"
	    " ORDER BY name, version");
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(a, template_json(st));
	sqlite3_finalize(st);
	reply_ok(r, a);
}
