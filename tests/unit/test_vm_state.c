/* SPDX-License-Identifier: ISC */
/*
 * test_vm_state.c - one VM's state machine (labd/vm.c) with fake workers:
 * no QEMU, no SSH.  The test links vm.c against its own workers_submit(),
 * which queues each job instead of running it; the test then plays the
 * worker: it fills in the job's results and calls its done() on the
 * loop's thread, as worker.c would.  The database is a real one in a
 * private folder, with one template, course, student and VM.
 *
 * What is checked: the states a start goes through and the order in which
 * the bus reports them, that a struct done hears exactly once how an
 * operation ended (ok, failed, refused, removed), and the refusals that
 * need no job at all.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "labd/vmjob.h"
#include "tests/unit/testutil.h"

/* --- fake workers ----------------------------------------------------- */

#define MAXJOBS	16
static struct job	*queue[MAXJOBS];
static int		 nqueued;

void
workers_submit(struct workers *w, struct job *j)
{
	cr_assert_lt(nqueued, MAXJOBS, "too many jobs queued");
	queue[nqueued++] = j;
}

/* The oldest job queued, taken off the queue; it must be of this kind. */
static struct vmjob *
job_take(enum vmjob_kind kind)
{
	struct vmjob	*j;

	cr_assert_gt(nqueued, 0, "no job was submitted (wanted kind %d)",
	    kind);
	j = (struct vmjob *)queue[0];
	memmove(queue, queue + 1, --nqueued * sizeof(queue[0]));
	cr_assert_eq(j->kind, kind, "job of kind %d, wanted %d", j->kind,
	    kind);
	return j;
}

/* The worker's side is over: results are in, done() on the loop. */
static void
job_finish(struct vmjob *j, int rc, const char *err)
{
	j->rc = rc;
	snprintf(j->err, sizeof(j->err), "%s", err ? err : "");
	j->job.done(&j->job);
}

/* --- what the bus and the completions report ---------------------------- */

static char	states[1024];	/* "provisioning booting ready " */
static int	ndone;
static char	done_code[64], done_msg[2048], done_state[32];
static char	done_log[1024];	/* "ok:ready failed " for every completion */

static void
on_state(const struct event *ev, void *arg)
{
	const char	*st = json_string_value(json_object_get(ev->data,
			    "state"));

	cr_assert_not_null(ev->vm, "vm.state without its VM");
	cr_assert_not_null(st, "vm.state's data has no state");
	strncat(states, st, sizeof(states) - strlen(states) - 2);
	strcat(states, " ");
}

static void
on_done(void *arg, const char *code, const char *msg, json_t *result)
{
	ndone++;
	snprintf(done_code, sizeof(done_code), "%s", code ? code : "ok");
	snprintf(done_msg, sizeof(done_msg), "%s", msg ? msg : "");
	snprintf(done_state, sizeof(done_state), "%s",
	    result ? json_string_value(json_object_get(result, "state")) : "");
	strncat(done_log, done_code, sizeof(done_log) - strlen(done_log) - 40);
	if (*done_state != '\0') {
		strcat(done_log, ":");
		strcat(done_log, done_state);
	}
	strcat(done_log, " ");
	if (code == NULL)
		cr_assert_not_null(result, "success without a result");
	else
		cr_assert_null(result, "a failure with a result");
	json_decref(result);
}

static struct done
asker(void)
{
	return (struct done){ on_done, NULL };
}

/* --- a database with one VM ------------------------------------------- */

static struct vm	*vm;

static void
setup(void)
{
	char	path[PATH_MAX], err[LABD_ERRLEN];

	tmp_dir_setup();
	config_defaults(&labd->cfg);
	snprintf(labd->cfg.state_dir, sizeof(labd->cfg.state_dir), "%s/state",
	    tmp_dir);
	snprintf(labd->cfg.run_dir, sizeof(labd->cfg.run_dir), "%s/run",
	    tmp_dir);
	mkdir(labd->cfg.state_dir, 0700);
	mkdir(labd->cfg.run_dir, 0700);
	snprintf(path, sizeof(path), "%s/labd.db", tmp_dir);
	cr_assert_eq(db_open(path, &labd->db, err, sizeof(err)), 0, "%s",
	    err);
	labd->loop = loop_new();
	cr_assert_eq(db_exec(
	    "INSERT INTO templates(id, name, version, dir, disk, memory_mb,"
	    " vcpus, publish, created) VALUES (1, 'tiny', 1, '/nonexistent',"
	    " '/nonexistent/disk.qcow2', 128, 1, 'ssh:22', 0);"
	    "INSERT INTO courses(id, name, template_id, created)"
	    " VALUES (1, 'net101', 1, 0);"
	    "INSERT INTO students(id, course_id, login, name)"
	    " VALUES (1, 1, 'alice', 'Alice');"
	    "INSERT INTO vms(id, name, course_id, student_id, slot, desired,"
	    " created) VALUES (1, 'net101-alice', 1, 1, 1, 'stopped', 0);"
	    "INSERT INTO ports(vm_id, service, listen_ip, port, guest_port)"
	    " VALUES (1, 'ssh', '127.0.0.1', 22001, 22);"), 0,
	    "cannot fill the database");
	cr_assert_not_null(vm = vm_add(1), "vm_add");
	events_on("vm.state", on_state, NULL);
	states[0] = '\0';
	done_log[0] = '\0';
	ndone = 0;
	nqueued = 0;
}

static void
teardown(void)
{
	events_off(on_state, NULL);
	sqlite3_close(labd->db);
	labd->db = NULL;
	tmp_dir_teardown();
}

TestSuite(vm_state, .init = setup, .fini = teardown);

/* The loop runs its timers (the VM's tick among them) for ms. */
static int
stop_loop(struct loop *l, void *arg)
{
	loop_stop(l);
	return -1;
}

static void
run_loop(int ms)
{
	loop_add_timer(labd->loop, ms, stop_loop, NULL);
	loop_run(labd->loop);
}

/* Start, boot, answer the probe, take pristine: ready. */
static void
bring_up(void)
{
	struct vmjob	*j;

	vm_op_start(vm, asker());
	cr_expect_str_eq(vm_state_name(vm->state), "provisioning");
	job_finish(job_take(VMJOB_START), 0, NULL);
	cr_expect_str_eq(vm_state_name(vm->state), "booting");
	run_loop(700);			/* a tick: the probe goes out */
	j = job_take(VMJOB_PROBE);
	j->ready = READY_DONE;
	job_finish(j, 0, NULL);
	/* The first answer: pristine with its RAM, then ready. */
	j = job_take(VMJOB_SNAPSHOT);
	cr_expect_str_eq(j->snap, "pristine");
	cr_expect_eq(j->ram, 1);
	j->ram = 1;
	job_finish(j, 0, NULL);
}

Test(vm_state, start_reports_every_state_then_replies_once)
{
	bring_up();
	cr_expect_str_eq(states, "queued provisioning booting ready ",
	    "the bus saw: %s", states);
	cr_expect_eq(ndone, 1, "the asker heard %d times", ndone);
	cr_expect_str_eq(done_code, "ok");
	cr_expect_str_eq(done_state, "ready");
	cr_expect_eq(vm_snapshot_find(vm, "pristine", NULL), 1,
	    "pristine was not recorded");
	/* Asked again when ready: at once, no job. */
	vm_op_start(vm, asker());
	cr_expect_eq(ndone, 2);
	cr_expect_eq(nqueued, 0, "a job for a VM that is ready");
}

Test(vm_state, a_failed_start_is_an_error_for_the_asker)
{
	vm_op_start(vm, asker());
	job_finish(job_take(VMJOB_START), -1, "qemu: no such disk");
	cr_expect_str_eq(vm_state_name(vm->state), "failed");
	cr_expect_eq(ndone, 1);
	cr_expect_str_eq(done_code, LABD_E_FAILED);
	cr_expect(strstr(done_msg, "qemu: no such disk") != NULL,
	    "the reason is lost: %s", done_msg);
	cr_expect(strstr(done_msg, "net101-alice") != NULL,
	    "the VM is not named: %s", done_msg);
}

Test(vm_state, a_stop_while_booting_tells_the_start_it_never_got_there)
{
	struct done	stopper = { on_done, NULL };

	vm_op_start(vm, asker());
	job_finish(job_take(VMJOB_START), 0, NULL);
	cr_expect_str_eq(vm_state_name(vm->state), "booting");
	vm_op_stop(vm, 1, stopper);
	cr_expect_str_eq(vm_state_name(vm->state), "stopping");
	job_finish(job_take(VMJOB_KILL), 0, NULL);
	cr_expect_str_eq(vm_state_name(vm->state), "stopped");
	/* Two askers, each told once: the stop is done, the start failed. */
	cr_expect_eq(ndone, 2, "heard %d times", ndone);
	cr_expect(strstr(done_log, "ok:stopped ") != NULL, "%s", done_log);
	cr_expect(strstr(done_log, "failed ") != NULL, "%s", done_log);
	cr_expect(strstr(done_msg, "stopped before it became ready") != NULL ||
	    strcmp(done_code, "ok") == 0, "%s", done_msg);
	cr_expect_eq(vm->want_running, 0);
}

Test(vm_state, a_second_operation_is_refused_while_a_job_runs)
{
	vm_op_start(vm, DONE_NONE);
	cr_assert_str_eq(vm_state_name(vm->state), "provisioning");
	vm_op_reset(vm, asker());
	cr_expect_eq(ndone, 1);
	cr_expect_str_eq(done_code, LABD_E_BUSY);
	vm_op_snapshot(vm, "before", asker());
	cr_expect_eq(ndone, 2);
	cr_expect_str_eq(done_code, LABD_E_BUSY);
	cr_expect_eq(nqueued, 1, "only the start's job: %d", nqueued);
}

Test(vm_state, refusals_that_need_no_job)
{
	vm_op_restore(vm, "pristine", asker());
	cr_expect_str_eq(done_code, LABD_E_NOT_FOUND);
	cr_expect(strstr(done_msg, "reset --hard") != NULL,
	    "no way out offered: %s", done_msg);
	vm_op_suspend(vm, asker());
	cr_expect_str_eq(done_code, LABD_E_INVALID);
	vm_op_snapshot_rm(vm, "nothing", asker());
	cr_expect_str_eq(done_code, LABD_E_NOT_FOUND);
	cr_expect_eq(ndone, 3);
	cr_expect_eq(nqueued, 0);
	cr_expect_str_eq(vm_state_name(vm->state), "stopped");
}

Test(vm_state, a_removed_vm_tells_whoever_waits)
{
	char	err[LABD_ERRLEN];

	vm_op_start(vm, asker());
	job_finish(job_take(VMJOB_START), 0, NULL);
	/* Booting with a QEMU that is not there: it can go. */
	vm->pid = 0;
	cr_assert_eq(vm_remove(vm, err, sizeof(err)), 0, "%s", err);
	vm = NULL;
	/* The VM stops on its way out: the start never got there. */
	cr_expect_eq(ndone, 1);
	cr_expect_str_eq(done_code, LABD_E_FAILED);
	cr_expect(strstr(done_msg, "stopped before it became ready") != NULL,
	    "%s", done_msg);
	cr_expect_null(vm_find("net101-alice"), "the VM is still listed");
}

Test(vm_state, suspend_and_resume_through_the_bus)
{
	struct vmjob	*j;

	bring_up();
	states[0] = '\0';
	vm_op_suspend(vm, asker());
	cr_expect_str_eq(vm_state_name(vm->state), "suspending");
	job_finish(job_take(VMJOB_SUSPEND), 0, NULL);
	cr_expect_str_eq(done_state, "suspended");
	vm_op_start(vm, asker());
	j = job_take(VMJOB_RESUME);
	j->pid = 0;
	job_finish(j, 0, NULL);
	cr_expect_str_eq(states, "suspending suspended resuming booting ",
	    "the bus saw: %s", states);
	/* The start waits for ready: the probe after a resume says so. */
	cr_expect_eq(ndone, 2, "%s", done_log);
	run_loop(700);
	j = job_take(VMJOB_PROBE);
	j->ready = READY_DONE;
	job_finish(j, 0, NULL);
	cr_expect_str_eq(done_log, "ok:ready ok:suspended ok:ready ",
	    "%s", done_log);
}

Test(vm_state, a_stop_during_a_restore_happens_after_it)
{
	struct vmjob	*j;

	bring_up();
	vm->pid = 1;		/* a QEMU runs: the restore keeps it */
	vm_op_restore(vm, "pristine", DONE_NONE);
	cr_assert_str_eq(vm_state_name(vm->state), "restoring");
	vm_op_stop(vm, 0, asker());	/* busy: it waits for the restore */
	cr_expect_eq(ndone, 1, "%s", done_log);
	j = job_take(VMJOB_RESTORE);
	j->policy_set = 1;
	job_finish(j, 0, NULL);
	/* The restore is over: the stop goes ahead (no QMP here: a kill). */
	cr_expect_str_eq(vm_state_name(vm->state), "stopping");
	job_finish(job_take(VMJOB_KILL), 0, NULL);
	cr_expect_str_eq(vm_state_name(vm->state), "stopped");
	cr_expect_str_eq(done_log, "ok:ready ok:stopped ", "%s", done_log);
}

/* Started and booting, not answering yet. */
static void
bring_to_booting(void)
{
	vm_op_start(vm, asker());
	cr_assert_str_eq(vm_state_name(vm->state), "provisioning");
	job_finish(job_take(VMJOB_START), 0, NULL);
	cr_assert_str_eq(vm_state_name(vm->state), "booting");
}

/*
 * A panic (pvpanic's GUEST_PANICKED sets panicked): QEMU killed, the VM
 * queued for a pause, booted again from its disk; the second panic with
 * boot_tries 2 is the end: failed, the asker told why, with the console.
 */
Test(vm_state, a_panic_boots_again_then_fails_after_the_last_try)
{
	labd->cfg.boot_tries = 2;
	bring_to_booting();
	vm->panicked = 1;
	run_loop(700);
	cr_expect_str_eq(vm_state_name(vm->state), "queued");
	cr_expect(strstr(vm->error, "boot 1 of 2 failed: the guest's kernel"
	    " panicked (QMP GUEST_PANICKED); booting again from its disk in"
	    " 2 s") != NULL, "error: %s", vm->error);
	/* A probe may have gone out first: it no longer counts. */
	while (nqueued > 0 && ((struct vmjob *)queue[0])->kind == VMJOB_PROBE)
		job_finish(job_take(VMJOB_PROBE), -1, "not yet");
	job_finish(job_take(VMJOB_KILL), 0, NULL);
	cr_expect_str_eq(vm_state_name(vm->state), "queued",
	    "not before its pause");
	cr_expect_eq(nqueued, 0);
	cr_expect_eq(ndone, 0, "the start still waits: %s", done_log);
	run_loop(2200);
	cr_expect_str_eq(vm_state_name(vm->state), "provisioning");
	job_finish(job_take(VMJOB_START), 0, NULL);
	vm->panicked = 1;
	run_loop(700);
	cr_expect_str_eq(vm_state_name(vm->state), "failed");
	cr_expect(strstr(vm->error, "gave up after 2 boots; the console's"
	    " last lines: (nothing)") != NULL, "error: %s", vm->error);
	cr_expect_str_eq(done_log, "failed ", "%s", done_log);
	cr_expect(strstr(done_msg, "panicked") != NULL, "%s", done_msg);
	while (nqueued > 0 && ((struct vmjob *)queue[0])->kind == VMJOB_PROBE)
		job_finish(job_take(VMJOB_PROBE), -1, "not yet");
	job_finish(job_take(VMJOB_KILL), 0, NULL);
	cr_expect_str_eq(vm_state_name(vm->state), "failed",
	    "the kill of its QEMU keeps it failed");
}

/* Not ready within boot_timeout: the same as a panic. */
Test(vm_state, a_boot_past_its_timeout_is_tried_again)
{
	labd->cfg.boot_timeout = 1;
	bring_to_booting();
	run_loop(1700);
	cr_expect_str_eq(vm_state_name(vm->state), "queued");
	cr_expect(strstr(vm->error, "boot 1 of 3 failed: not ready 1 s after"
	    " it was started") != NULL, "error: %s", vm->error);
	vm_op_stop(vm, 0, asker());
	cr_expect_str_eq(vm_state_name(vm->state), "stopped",
	    "a queued VM stops at once");
	cr_expect_str_eq(done_log, "failed ok:stopped ", "%s", done_log);
}

/* max_booting 1: the second start waits until the first frees its slot. */
Test(vm_state, max_booting_one_queues_the_second_start)
{
	struct vm	*second;

	cr_assert_eq(db_exec(
	    "INSERT INTO students(id, course_id, login, name)"
	    " VALUES (2, 1, 'bob', 'Bob');"
	    "INSERT INTO vms(id, name, course_id, student_id, slot, desired,"
	    " created) VALUES (2, 'net101-bob', 1, 2, 2, 'stopped', 0);"), 0);
	cr_assert_not_null(second = vm_add(2));
	labd->cfg.max_booting = 1;
	vm_op_start(second, DONE_NONE);
	vm_op_start(vm, DONE_NONE);
	cr_expect_str_eq(vm_state_name(second->state), "provisioning");
	cr_expect_str_eq(vm_state_name(vm->state), "queued");
	job_finish(job_take(VMJOB_START), 0, NULL);
	cr_expect_str_eq(vm_state_name(vm->state), "queued",
	    "booting holds the slot");
	vm_op_stop(second, 1, DONE_NONE);
	job_finish(job_take(VMJOB_KILL), 0, NULL);
	cr_expect_str_eq(vm_state_name(second->state), "stopped");
	run_loop(50);
	cr_expect_str_eq(vm_state_name(vm->state), "provisioning",
	    "the slot freed, the queued one goes");
	job_finish(job_take(VMJOB_START), 0, NULL);
	labd->cfg.max_booting = 0;
}

/* --- the bus itself ----------------------------------------------------- */

static char	heard[256];

static void
hear_a(const struct event *ev, void *arg)
{
	strcat(heard, "a:");
	strcat(heard, ev->kind);
	strcat(heard, " ");
}

static void
hear_all(const struct event *ev, void *arg)
{
	strcat(heard, "all:");
	strcat(heard, ev->kind);
	strcat(heard, " ");
	cr_expect_not_null(ev->data, "an event without data");
}

Test(vm_state, the_bus_delivers_by_kind_in_order_of_subscription)
{
	heard[0] = '\0';
	events_on("x.a", hear_a, NULL);
	events_on(NULL, hear_all, NULL);
	events_fire("x.a", NULL, NULL);
	events_fire("x.b", NULL, json_pack("{s:i}", "n", 1));
	events_off(hear_a, NULL);
	events_fire("x.a", NULL, NULL);
	events_off(hear_all, NULL);
	events_fire("x.a", NULL, NULL);
	cr_expect_str_eq(heard, "a:x.a all:x.a all:x.b all:x.a ",
	    "heard: %s", heard);
}

Test(vm_state, a_done_is_told_at_most_once)
{
	struct done	d = asker();

	done_err(&d, LABD_E_BUSY, "first %d", 1);
	done_ok(&d, json_object());
	done_err(&d, LABD_E_FAILED, "third");
	cr_expect_eq(ndone, 1);
	cr_expect_str_eq(done_code, LABD_E_BUSY);
	cr_expect_str_eq(done_msg, "first 1");
}
