/* SPDX-License-Identifier: ISC */
/*
 * test_db.c - the state store: a database made by an older labd (no
 * schedule or idle columns, a vms table whose CHECK knows no
 * "suspended") is brought up to date when opened, keeping its rows.
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "labd/labd.h"
#include "tests/unit/testutil.h"

/* db.c logs through log.c, which reads labd->foreground. */

static const char *old_schema =
"CREATE TABLE templates(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
" version INTEGER NOT NULL, dir TEXT NOT NULL, disk TEXT NOT NULL,"
" kernel TEXT, initrd TEXT, append TEXT, firmware TEXT NOT NULL DEFAULT"
" 'bios', memory_mb INTEGER NOT NULL, vcpus INTEGER NOT NULL, publish TEXT"
" NOT NULL, ready_line TEXT, source TEXT, sha256 TEXT, created INTEGER NOT"
" NULL, UNIQUE(name, version));"
"CREATE TABLE courses(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
" template_id INTEGER NOT NULL REFERENCES templates(id), internet INTEGER"
" NOT NULL DEFAULT 0, created INTEGER NOT NULL);"
"CREATE TABLE students(id INTEGER PRIMARY KEY, course_id INTEGER NOT NULL"
" REFERENCES courses(id) ON DELETE CASCADE, login TEXT NOT NULL, name TEXT"
" NOT NULL, email TEXT, ssh_key TEXT, pw_hash TEXT,"
" UNIQUE(course_id, login));"
"CREATE TABLE vms(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
" course_id INTEGER NOT NULL REFERENCES courses(id) ON DELETE CASCADE,"
" student_id INTEGER NOT NULL REFERENCES students(id) ON DELETE CASCADE,"
" slot INTEGER NOT NULL UNIQUE, desired TEXT NOT NULL DEFAULT 'running'"
" CHECK (desired IN ('running', 'stopped')), generation INTEGER NOT NULL"
" DEFAULT 1, created INTEGER NOT NULL);"
"INSERT INTO templates VALUES(1,'t',1,'/x','/x/d',NULL,NULL,NULL,'bios',"
" 128,1,'ssh:22',NULL,NULL,NULL,0);"
"INSERT INTO courses VALUES(1,'c',1,0,0);"
"INSERT INTO students VALUES(1,1,'ann','Ann',NULL,NULL,NULL);"
"INSERT INTO vms VALUES(7,'c-ann',1,1,1,'stopped',3,0);";

TestSuite(db, .init = tmp_dir_setup, .fini = tmp_dir_teardown);

Test(db, old_database_is_migrated)
{
	char		 path[PATH_MAX], err[LABD_ERRLEN] = "";
	sqlite3		*old, *db;
	sqlite3_stmt	*st;

	log_init(1, 0);
	snprintf(path, sizeof(path), "%s/labd.db", tmp_dir);
	cr_assert_eq(sqlite3_open(path, &old), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(old, old_schema, NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(old);

	cr_assert_eq(db_open(path, &db, err, sizeof(err)), 0, "%s", err);
	/* The row is kept, with its generation. */
	st = db_prepare("SELECT name, desired, generation FROM vms WHERE"
	    " id = 7");
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_expect_str_eq(db_text(st, 0), "c-ann");
	cr_expect_str_eq(db_text(st, 1), "stopped");
	cr_expect_eq(sqlite3_column_int(st, 2), 3);
	sqlite3_finalize(st);
	/* "suspended" is allowed now; nonsense still is not. */
	cr_expect_eq(db_exec("UPDATE vms SET desired = 'suspended'"), 0);
	cr_expect_eq(sqlite3_exec(db, "UPDATE vms SET desired = 'bogus'",
	    NULL, NULL, NULL), SQLITE_CONSTRAINT);
	/* The new course columns exist, with their defaults. */
	st = db_prepare("SELECT reset_at, reset_to, reset_last, idle_suspend"
	    " FROM courses WHERE id = 1");
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_expect_str_eq(db_text(st, 0), "");
	cr_expect_str_eq(db_text(st, 1), "pristine");
	cr_expect_eq(sqlite3_column_int(st, 2), 0);
	cr_expect_eq(sqlite3_column_int(st, 3), 0);
	sqlite3_finalize(st);
	/* Foreign keys still hold after the copy. */
	cr_expect_eq(sqlite3_exec(db, "INSERT INTO vms(name, course_id,"
	    " student_id, slot, created) VALUES ('x', 99, 99, 2, 0)", NULL,
	    NULL, NULL), SQLITE_CONSTRAINT);
	sqlite3_close(db);

	/* Opening it again changes nothing and fails nothing. */
	cr_assert_eq(db_open(path, &db, err, sizeof(err)), 0, "%s", err);
	st = db_prepare("SELECT desired FROM vms WHERE id = 7");
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_expect_str_eq(db_text(st, 0), "suspended");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/*
 * A stored check run notes each of its VMs' last result in vm_checks
 * (db.c's trigger): met and total of the VM's row, the row's index, and
 * a later run replaces it; a row of a VM that is gone is skipped.
 */
Test(db, check_run_noted_per_vm)
{
	char		 path[PATH_MAX], err[LABD_ERRLEN] = "";
	sqlite3		*old, *db;
	sqlite3_stmt	*st;

	log_init(1, 0);
	snprintf(path, sizeof(path), "%s/labd.db", tmp_dir);
	cr_assert_eq(sqlite3_open(path, &old), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(old, old_schema, NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(old);
	/* migrated first: the trigger comes after the vms table's copy */
	cr_assert_eq(db_open(path, &db, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(db_exec("INSERT INTO check_runs(course_id, started,"
	    " finished, uid, result) VALUES (1, 100, 105, 0, '{\"rows\":["
	    "{\"vm\":\"c-gone\",\"met\":1,\"results\":[{},{}]},"
	    "{\"vm\":\"c-ann\",\"met\":1,\"results\":[{},{}]}]}')"), 0);
	st = db_prepare("SELECT vm_id, row, met, total, finished FROM"
	    " vm_checks");
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_expect_eq(sqlite3_column_int(st, 0), 7);
	cr_expect_eq(sqlite3_column_int(st, 1), 1);
	cr_expect_eq(sqlite3_column_int(st, 2), 1);
	cr_expect_eq(sqlite3_column_int(st, 3), 2);
	cr_expect_eq(sqlite3_column_int(st, 4), 105);
	cr_expect_eq(sqlite3_step(st), SQLITE_DONE, "one row: c-gone has no VM");
	sqlite3_finalize(st);
	cr_assert_eq(db_exec("INSERT INTO check_runs(course_id, started,"
	    " finished, uid, result) VALUES (1, 200, 201, 0, '{\"rows\":["
	    "{\"vm\":\"c-ann\",\"met\":3,\"results\":[{},{},{}]}]}')"), 0);
	st = db_prepare("SELECT row, met, total, finished FROM vm_checks"
	    " WHERE vm_id = 7");
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_expect_eq(sqlite3_column_int(st, 0), 0);
	cr_expect_eq(sqlite3_column_int(st, 1), 3);
	cr_expect_eq(sqlite3_column_int(st, 2), 3);
	cr_expect_eq(sqlite3_column_int(st, 3), 201);
	sqlite3_finalize(st);
	/* the VM removed: its row goes with it */
	cr_assert_eq(db_exec("DELETE FROM vms WHERE id = 7"), 0);
	st = db_prepare("SELECT count(*) FROM vm_checks");
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_expect_eq(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/*
 * exam_done came after exam_last: a firing recorded by an older labd is
 * taken as finished (filled from exam_last once, when the column is
 * added), so that an upgrade does not look like a firing cut by a crash.
 */
Test(db, exam_done_filled_once)
{
	char		 path[PATH_MAX], err[LABD_ERRLEN] = "";
	sqlite3		*old, *db;
	sqlite3_stmt	*st;

	log_init(1, 0);
	snprintf(path, sizeof(path), "%s/labd.db", tmp_dir);
	cr_assert_eq(sqlite3_open(path, &old), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(old, old_schema, NULL, NULL, NULL),
	    SQLITE_OK);
	cr_assert_eq(sqlite3_exec(old, "ALTER TABLE courses ADD COLUMN"
	    " exam_last INTEGER NOT NULL DEFAULT 0;"
	    "UPDATE courses SET exam_last = 1700000000", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(old);

	cr_assert_eq(db_open(path, &db, err, sizeof(err)), 0, "%s", err);
	st = db_prepare("SELECT exam_done FROM courses WHERE id = 1");
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_expect_eq(sqlite3_column_int64(st, 0), 1700000000);
	sqlite3_finalize(st);
	/* A firing begun now, not finished: a reopen leaves it so. */
	cr_expect_eq(db_exec("UPDATE courses SET exam_last = 1800000000"), 0);
	sqlite3_close(db);
	cr_assert_eq(db_open(path, &db, err, sizeof(err)), 0, "%s", err);
	st = db_prepare("SELECT exam_last > exam_done FROM courses"
	    " WHERE id = 1");
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_expect_eq(sqlite3_column_int(st, 0), 1);
	sqlite3_finalize(st);
	sqlite3_close(db);
}
