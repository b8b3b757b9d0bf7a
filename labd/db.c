/* SPDX-License-Identifier: ISC */
/*
 * db.c - the state store: one SQLite database in WAL mode with foreign
 * keys on.  It holds the desired state (what exists, what should run);
 * labd reconciles the host to it.  The schema is created on first open
 * and its version kept in meta, so a later labd can migrate it.
 *
 * Only the loop's thread touches the database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "labd/labd.h"

#define DB_SCHEMA_VERSION	1

static const char *db_schema =
"CREATE TABLE IF NOT EXISTS meta("
"  key TEXT PRIMARY KEY, value TEXT);"
"CREATE TABLE IF NOT EXISTS templates("
"  id INTEGER PRIMARY KEY, name TEXT NOT NULL, version INTEGER NOT NULL,"
"  dir TEXT NOT NULL, disk TEXT NOT NULL, kernel TEXT, initrd TEXT,"
"  append TEXT, firmware TEXT NOT NULL DEFAULT 'bios',"
"  memory_mb INTEGER NOT NULL, vcpus INTEGER NOT NULL,"
"  publish TEXT NOT NULL, ready_line TEXT, source TEXT, sha256 TEXT,"
"  created INTEGER NOT NULL,"
"  instant_clone TEXT NOT NULL DEFAULT 'auto',"	/* auto | yes | no */
"  UNIQUE(name, version));"
"CREATE TABLE IF NOT EXISTS courses("
"  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
"  template_id INTEGER NOT NULL REFERENCES templates(id),"
"  internet INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL,"
"  reset_at TEXT NOT NULL DEFAULT '',"		/* "12:00, 18:00" */
"  reset_to TEXT NOT NULL DEFAULT 'pristine',"
"  reset_last INTEGER NOT NULL DEFAULT 0,"	/* when it last fired */
"  idle_suspend INTEGER NOT NULL DEFAULT 0,"	/* seconds, 0: never */
"  isolation INTEGER NOT NULL DEFAULT 1,"	/* 0: its VMs reach each other */
"  allow_from TEXT NOT NULL DEFAULT '',"	/* "CIDR,CIDR": exam mode */
"  allow_nets TEXT NOT NULL DEFAULT '',"	/* private nets, with internet */
"  sudo INTEGER NOT NULL DEFAULT 1,"		/* 0: students may not sudo */
"  student_reset INTEGER NOT NULL DEFAULT 1,"	/* the gateway's +reset */
"  exam_end INTEGER NOT NULL DEFAULT 0,"	/* its instant, 0: none */
"  exam_collect TEXT NOT NULL DEFAULT '',"	/* "PATH,PATH" */
"  exam_last INTEGER NOT NULL DEFAULT 0,"	/* when it last fired */
"  exam_dir TEXT NOT NULL DEFAULT '',"	/* and where it put the files */
"  exam_done INTEGER NOT NULL DEFAULT 0,"	/* exam_last of the last one done */
"  cpu_weight INTEGER NOT NULL DEFAULT 0,"	/* a VM's limits, 0: default */
"  memory_max INTEGER NOT NULL DEFAULT 0,"	/* bytes */
"  pids_max INTEGER NOT NULL DEFAULT 0);"
"CREATE TABLE IF NOT EXISTS students("
"  id INTEGER PRIMARY KEY,"
"  course_id INTEGER NOT NULL REFERENCES courses(id) ON DELETE CASCADE,"
"  login TEXT NOT NULL, name TEXT NOT NULL, email TEXT, ssh_key TEXT,"
"  pw_hash TEXT, vnc_password TEXT, UNIQUE(course_id, login));"
"CREATE TABLE IF NOT EXISTS vms("
"  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
"  course_id INTEGER NOT NULL REFERENCES courses(id) ON DELETE CASCADE,"
"  student_id INTEGER NOT NULL REFERENCES students(id) ON DELETE CASCADE,"
"  slot INTEGER NOT NULL UNIQUE,"
"  desired TEXT NOT NULL DEFAULT 'running'"
"    CHECK (desired IN ('running', 'stopped', 'suspended')),"
"  generation INTEGER NOT NULL DEFAULT 1, created INTEGER NOT NULL);"
"CREATE TABLE IF NOT EXISTS ports("
"  id INTEGER PRIMARY KEY,"
"  vm_id INTEGER NOT NULL REFERENCES vms(id) ON DELETE CASCADE,"
"  service TEXT NOT NULL, listen_ip TEXT NOT NULL, port INTEGER NOT NULL,"
"  guest_port INTEGER NOT NULL, UNIQUE(listen_ip, port));"
"CREATE TABLE IF NOT EXISTS snapshots("
"  id INTEGER PRIMARY KEY,"
"  vm_id INTEGER NOT NULL REFERENCES vms(id) ON DELETE CASCADE,"
"  name TEXT NOT NULL, created INTEGER NOT NULL,"
"  ram INTEGER NOT NULL, vm_state_size INTEGER NOT NULL DEFAULT 0,"
"  UNIQUE(vm_id, name));"
"CREATE TABLE IF NOT EXISTS vm_params("	/* check.c: LAB_PARAM */
"  vm_id INTEGER PRIMARY KEY REFERENCES vms(id) ON DELETE CASCADE,"
"  param TEXT NOT NULL);"
"CREATE TABLE IF NOT EXISTS check_runs("	/* check.c: course.check */
"  id INTEGER PRIMARY KEY,"
"  course_id INTEGER NOT NULL REFERENCES courses(id) ON DELETE CASCADE,"
"  started INTEGER NOT NULL, finished INTEGER NOT NULL, uid INTEGER,"
"  result TEXT NOT NULL,"		/* the reply, as JSON */
"  by_student INTEGER NOT NULL DEFAULT 0);"	/* the gateway's +check */
"CREATE TABLE IF NOT EXISTS course_checks("	/* course set checks=DIR */
"  course_id INTEGER PRIMARY KEY REFERENCES courses(id) ON DELETE CASCADE,"
"  goals TEXT NOT NULL, updated INTEGER NOT NULL);"	/* as JSON */
"CREATE TABLE IF NOT EXISTS vm_checks("	/* checklast.c: a VM's last */
"  vm_id INTEGER PRIMARY KEY REFERENCES vms(id) ON DELETE CASCADE,"
"  run_id INTEGER NOT NULL REFERENCES check_runs(id) ON DELETE CASCADE,"
"  row INTEGER NOT NULL,"			/* its index in result.rows */
"  met INTEGER NOT NULL, total INTEGER NOT NULL, finished INTEGER NOT NULL);"
"CREATE TABLE IF NOT EXISTS events("
"  id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, uid INTEGER,"
"  kind TEXT NOT NULL, subject TEXT, detail TEXT);";

/*
 * Columns added since a database may have been created: added to an
 * older database at open (CREATE TABLE IF NOT EXISTS leaves it as it was).
 */
static const struct {
	const char	*table;
	const char	*column;
	const char	*decl;
} db_columns[] = {
	{ "courses", "reset_at", "TEXT NOT NULL DEFAULT ''" },
	{ "courses", "reset_to", "TEXT NOT NULL DEFAULT 'pristine'" },
	{ "courses", "reset_last", "INTEGER NOT NULL DEFAULT 0" },
	{ "courses", "idle_suspend", "INTEGER NOT NULL DEFAULT 0" },
	{ "courses", "isolation", "INTEGER NOT NULL DEFAULT 1" },
	{ "courses", "allow_from", "TEXT NOT NULL DEFAULT ''" },
	{ "courses", "sudo", "INTEGER NOT NULL DEFAULT 1" },
	{ "courses", "allow_nets", "TEXT NOT NULL DEFAULT ''" },
	{ "courses", "student_reset", "INTEGER NOT NULL DEFAULT 1" },
	{ "check_runs", "by_student", "INTEGER NOT NULL DEFAULT 0" },
	{ "courses", "exam_end", "INTEGER NOT NULL DEFAULT 0" },
	{ "courses", "exam_collect", "TEXT NOT NULL DEFAULT ''" },
	{ "courses", "exam_last", "INTEGER NOT NULL DEFAULT 0" },
	{ "courses", "exam_dir", "TEXT NOT NULL DEFAULT ''" },
	{ "courses", "exam_done", "INTEGER NOT NULL DEFAULT 0" },
	/* A VM's limits (cglimit.c); 0: the default. */
	{ "courses", "cpu_weight", "INTEGER NOT NULL DEFAULT 0" },
	{ "courses", "memory_max", "INTEGER NOT NULL DEFAULT 0" },
	{ "courses", "pids_max", "INTEGER NOT NULL DEFAULT 0" },
	/*
	 * In clear: VNC authentication (DES of a challenge) needs the
	 * password itself.  labd.db is labd's alone (state_dir 0750).
	 */
	{ "students", "vnc_password", "TEXT" },
	/* Instant clones from the template's own disk (profile.c). */
	{ "templates", "instant_clone", "TEXT NOT NULL DEFAULT 'auto'" },
};

/*
 * A column added whose rows need a value other than its default: set
 * from another column, once, when it is added.  A firing of exam_end
 * from before exam_done existed is taken as finished: that labd would
 * not have closed access after a crash either.
 */
static const struct {
	const char	*table;
	const char	*column;
	const char	*from;
} db_fills[] = {
	{ "courses", "exam_done", "exam_last" },
};

/*
 * After the columns: two students never share a VNC password.  A VM's
 * ports are read for every row of vm.list: without an index on vm_id
 * that is a scan of all ports for each VM.
 */
static const char *db_indexes =
"CREATE UNIQUE INDEX IF NOT EXISTS students_vnc_password"
"  ON students(vnc_password);"
"CREATE INDEX IF NOT EXISTS ports_vm ON ports(vm_id);";

/*
 * Whoever stores a run (course.check, a student's own check), each of
 * its VMs' row is noted in vm_checks by the database itself, so that
 * vm.list reads every VM's last check in one small query instead of
 * parsing the runs, and no writer of check_runs can forget it.  Made
 * after db_migrate_vms(): a trigger naming vms would stop its rename.
 */
static const char *db_triggers =
"CREATE TRIGGER IF NOT EXISTS check_runs_vms AFTER INSERT ON check_runs"
" BEGIN"
"  INSERT OR REPLACE INTO vm_checks(vm_id, run_id, row, met, total,"
"    finished)"
"  SELECT v.id, NEW.id, r.key, coalesce(json_extract(r.value, '$.met'), 0),"
"    coalesce(json_array_length(r.value, '$.results'), 0), NEW.finished"
"  FROM json_each(NEW.result, '$.rows') r"
"  JOIN vms v ON v.name = json_extract(r.value, '$.vm');"
" END;";

static sqlite3	*db;

static int
db_fill_column(const char *table, const char *column, char **msg)
{
	char	sql[256];
	size_t	i;

	for (i = 0; i < sizeof(db_fills) / sizeof(db_fills[0]); i++) {
		if (strcmp(db_fills[i].table, table) != 0 ||
		    strcmp(db_fills[i].column, column) != 0)
			continue;
		snprintf(sql, sizeof(sql), "UPDATE %s SET %s = %s", table,
		    column, db_fills[i].from);
		if (sqlite3_exec(db, sql, NULL, NULL, msg) != SQLITE_OK)
			return -1;
	}
	return 0;
}

static int
db_add_columns(char **msg)
{
	sqlite3_stmt	*st;
	char		 sql[256];
	size_t		 i;

	for (i = 0; i < sizeof(db_columns) / sizeof(db_columns[0]); i++) {
		snprintf(sql, sizeof(sql), "SELECT %s FROM %s LIMIT 0",
		    db_columns[i].column, db_columns[i].table);
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
			sqlite3_finalize(st);
			continue;
		}
		snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s",
		    db_columns[i].table, db_columns[i].column,
		    db_columns[i].decl);
		if (sqlite3_exec(db, sql, NULL, NULL, msg) != SQLITE_OK ||
		    db_fill_column(db_columns[i].table, db_columns[i].column,
		    msg) == -1)
			return -1;
	}
	return 0;
}

/*
 * SQLite cannot change a CHECK constraint in place: a vms table from
 * before "suspended" existed is copied into one that allows it, in one
 * transaction, with foreign keys off while the old table goes.
 */
static const char *db_vms_migrate =
"PRAGMA foreign_keys=OFF;"
"BEGIN IMMEDIATE;"
"CREATE TABLE vms_new("
"  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
"  course_id INTEGER NOT NULL REFERENCES courses(id) ON DELETE CASCADE,"
"  student_id INTEGER NOT NULL REFERENCES students(id) ON DELETE CASCADE,"
"  slot INTEGER NOT NULL UNIQUE,"
"  desired TEXT NOT NULL DEFAULT 'running'"
"    CHECK (desired IN ('running', 'stopped', 'suspended')),"
"  generation INTEGER NOT NULL DEFAULT 1, created INTEGER NOT NULL);"
"INSERT INTO vms_new(id, name, course_id, student_id, slot, desired,"
"  generation, created) SELECT id, name, course_id, student_id, slot,"
"  desired, generation, created FROM vms;"
"DROP TABLE vms;"
"ALTER TABLE vms_new RENAME TO vms;"
"COMMIT;"
"PRAGMA foreign_keys=ON;";

static int
db_migrate_vms(char **msg)
{
	sqlite3_stmt	*st;
	int		 old = 0;

	if (sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE"
	    " type = 'table' AND name = 'vms'", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		old = strstr(db_text(st, 0), "'suspended'") == NULL;
	sqlite3_finalize(st);
	if (!old)
		return 0;
	log_info("database: vms table upgraded to allow suspended VMs");
	if (sqlite3_exec(db, db_vms_migrate, NULL, NULL, msg) != SQLITE_OK) {
		sqlite3_exec(db, "ROLLBACK; PRAGMA foreign_keys=ON;", NULL, NULL,
		    NULL);
		return -1;
	}
	return 0;
}

int
db_open(const char *path, sqlite3 **out, char *err, size_t errlen)
{
	char	*msg = NULL;
	char	 sql[128];

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		errf(err, errlen, "cannot open database %s: %s", path,
		    db ? sqlite3_errmsg(db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(db, 5000);
	/* WAL: a crash leaves either the old or the new transaction. */
	if (sqlite3_exec(db, "PRAGMA journal_mode=WAL;"
	    "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", NULL, NULL,
	    &msg) != SQLITE_OK ||
	    sqlite3_exec(db, db_schema, NULL, NULL, &msg) != SQLITE_OK ||
	    db_add_columns(&msg) == -1 || db_migrate_vms(&msg) == -1 ||
	    sqlite3_exec(db, db_indexes, NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(db, db_triggers, NULL, NULL, &msg) != SQLITE_OK) {
		errf(err, errlen, "database %s: %s", path, msg);
		sqlite3_free(msg);
		goto fail;
	}
	snprintf(sql, sizeof(sql), "INSERT OR IGNORE INTO meta VALUES"
	    "('schema', '%d');", DB_SCHEMA_VERSION);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		errf(err, errlen, "database %s: %s", path, msg);
		sqlite3_free(msg);
		goto fail;
	}
	*out = db;
	return 0;
fail:
	sqlite3_close(db);
	db = NULL;
	return -1;
}

/* A statement that must prepare: a failure is a bug in our SQL. */
sqlite3_stmt *
db_prepare(const char *sql)
{
	sqlite3_stmt	*st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fatalx("sql: %s: %s", sqlite3_errmsg(db), sql);
	return st;
}

/*
 * A statement asked for often (per VM of a listing): prepared once into
 * *slot and kept, reset and unbound at each later call.  Never finalize
 * it; the loop's thread only, like every use of the database.
 */
sqlite3_stmt *
db_cached(sqlite3_stmt **slot, const char *sql)
{
	if (*slot == NULL) {
		if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT,
		    slot, NULL) != SQLITE_OK)
			fatalx("sql: %s: %s", sqlite3_errmsg(db), sql);
	} else {
		sqlite3_reset(*slot);
		sqlite3_clear_bindings(*slot);
	}
	return *slot;
}

int
db_exec(const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_warnx("sql: %s: %s", msg, sql);
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int
db_begin(void)
{
	return db_exec("BEGIN IMMEDIATE;");
}

/*
 * A read of many rows seen as one (vm.list's two queries a VM): one
 * snapshot of the database, and one shared lock taken and dropped
 * rather than one a statement, which is most of a listing's cost at 300
 * VMs.  Ended by db_commit().
 */
int
db_begin_read(void)
{
	return db_exec("BEGIN DEFERRED;");
}

int
db_commit(void)
{
	return db_exec("COMMIT;");
}

void
db_rollback(void)
{
	db_exec("ROLLBACK;");
}

const char *
db_text(sqlite3_stmt *st, int col)
{
	const unsigned char	*s = sqlite3_column_text(st, col);

	return s ? (const char *)s : "";
}

/* The append-only log of who did what, when. */
void
db_event(uid_t uid, const char *kind, const char *subject, const char *fmt,
    ...)
{
	sqlite3_stmt	*st;
	va_list		 ap;
	char		 detail[1024];

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	st = db_prepare("INSERT INTO events(ts, uid, kind, subject, detail)"
	    " VALUES (?, ?, ?, ?, ?)");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 2, (sqlite3_int64)uid);
	sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, detail, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		log_warnx("event log: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
}
