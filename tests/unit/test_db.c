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
