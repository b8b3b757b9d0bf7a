/* SPDX-License-Identifier: ISC */
/*
 * test_boot.c - boot.c's decisions without a QEMU: how many VMs boot at
 * once, which queued VM goes next (roster order, retries after their
 * pause, busy ones skipped), the pauses between boots, when to give up,
 * a power-off told from a crash, a panic found on the console however
 * the log is cut, and the console's last lines as an error shows them.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "labd/labd.h"
#include "tests/unit/testutil.h"

/* A list of n VMs, ids 1..n in roster order, all in state st. */
static struct vm *
vms_make(int n, enum vm_state st)
{
	struct vm	*v = calloc(n, sizeof(*v));
	int		 i;

	cr_assert_not_null(v);
	for (i = 0; i < n; i++) {
		v[i].id = i + 1;
		snprintf(v[i].name, sizeof(v[i].name), "c-s%d", i + 1);
		v[i].state = st;
		v[i].next = i + 1 < n ? &v[i + 1] : NULL;
	}
	return v;
}

Test(boot, limit_auto_from_cores_and_accel)
{
	cr_expect_eq(boot_limit(0, VMM_ACCEL_TCG, 2), 2, "TCG: one a core");
	cr_expect_eq(boot_limit(0, VMM_ACCEL_KVM, 2), 4, "KVM: two a core");
	cr_expect_eq(boot_limit(0, VMM_ACCEL_TCG, 1), 1);
	cr_expect_eq(boot_limit(0, VMM_ACCEL_TCG, 0), 1, "no core count: 1");
	cr_expect_eq(boot_limit(0, VMM_ACCEL_TCG, -1), 1);
	cr_expect_eq(boot_limit(5, VMM_ACCEL_TCG, 2), 5, "a number overrides");
	cr_expect_eq(boot_limit(1, VMM_ACCEL_KVM, 64), 1);
}

Test(boot, backoff_doubles_up_to_a_minute)
{
	cr_expect_eq(boot_backoff_ms(0), 2000, "a crash of a ready VM");
	cr_expect_eq(boot_backoff_ms(1), 2000);
	cr_expect_eq(boot_backoff_ms(2), 4000);
	cr_expect_eq(boot_backoff_ms(3), 8000);
	cr_expect_eq(boot_backoff_ms(5), 32000);
	cr_expect_eq(boot_backoff_ms(6), 60000);
	cr_expect_eq(boot_backoff_ms(20), 60000);
}

Test(boot, verdict_bounded_tries)
{
	cr_expect_eq(boot_verdict(0, 3), BOOT_RETRY);
	cr_expect_eq(boot_verdict(1, 3), BOOT_RETRY);
	cr_expect_eq(boot_verdict(2, 3), BOOT_RETRY);
	cr_expect_eq(boot_verdict(3, 3), BOOT_GIVE_UP);
	cr_expect_eq(boot_verdict(4, 3), BOOT_GIVE_UP);
	cr_expect_eq(boot_verdict(1, 1), BOOT_GIVE_UP, "boot_tries 1: once");
}

Test(boot, exit_kinds)
{
	cr_expect_eq(boot_exit_kind(1, 0), BOOT_EXIT_STOPPED);
	cr_expect_eq(boot_exit_kind(1, 1), BOOT_EXIT_STOPPED,
	    "labd's powerdown is the guest's shutdown too: asked for");
	cr_expect_eq(boot_exit_kind(0, 1), BOOT_EXIT_POWEROFF);
	cr_expect_eq(boot_exit_kind(0, 0), BOOT_EXIT_CRASH);
}

static int
by_guest(const char *text)
{
	json_t	*d = json_loads(text, 0, NULL);
	int	 r;

	cr_assert_not_null(d, "%s", text);
	r = boot_shutdown_by_guest(d);
	json_decref(d);
	return r;
}

Test(boot, shutdown_by_guest)
{
	cr_expect(by_guest("{\"guest\": true, \"reason\": \"guest-shutdown\"}"));
	cr_expect_not(by_guest("{\"guest\": false, \"reason\":"
	    " \"host-signal\"}"), "SIGTERM to QEMU");
	cr_expect_not(by_guest("{\"guest\": false, \"reason\":"
	    " \"host-qmp-quit\"}"));
	cr_expect_not(by_guest("{\"guest\": true, \"reason\": \"guest-panic\"}"),
	    "a panic is not a power-off");
	cr_expect_not(by_guest("{\"reason\": \"guest-shutdown\"}"));
	cr_expect_not(boot_shutdown_by_guest(NULL));
}

Test(boot, queue_in_roster_order_within_the_limit)
{
	struct vm	*v = vms_make(5, VM_QUEUED);
	struct vm	*n;
	int		 booting, queued, order[5], k = 0;

	/* Start what the queue lets start, as vm.c's dispatch does. */
	while ((n = boot_next(v, 2, 1000)) != NULL) {
		n->state = VM_PROVISIONING;
		order[k++] = (int)n->id;
	}
	cr_expect_eq(k, 2, "two slots, two started");
	cr_expect_eq(order[0], 1);
	cr_expect_eq(order[1], 2);
	boot_count(v, &booting, &queued);
	cr_expect_eq(booting, 2);
	cr_expect_eq(queued, 3);
	/* Booting still holds the slot; ready frees it for the next. */
	v[0].state = VM_BOOTING;
	cr_expect_null(boot_next(v, 2, 1000));
	v[0].state = VM_READY;
	cr_expect_eq(boot_next(v, 2, 1000), &v[2]);
	v[2].state = VM_PROVISIONING;
	/* Failed or stopped free it too. */
	v[1].state = VM_FAILED;
	cr_expect_eq(boot_next(v, 2, 1000), &v[3]);
	v[3].state = VM_BOOTING;
	v[2].state = VM_STOPPED;
	cr_expect_eq(boot_next(v, 2, 1000), &v[4]);
	v[4].state = VM_BOOTING;
	cr_expect_null(boot_next(v, 2, 1000), "none queued");
	free(v);
}

Test(boot, retry_waits_its_pause_and_busy_is_skipped)
{
	struct vm	*v = vms_make(3, VM_QUEUED);

	v[0].retry_at = 5000;	/* a retry, not before 5 s */
	v[1].busy = 1;		/* its old QEMU still being killed */
	cr_expect_eq(boot_next(v, 1, 1000), &v[2], "the first that may go");
	v[2].state = VM_READY;
	v[1].busy = 0;
	cr_expect_eq(boot_next(v, 1, 1000), &v[1]);
	v[1].state = VM_READY;
	cr_expect_null(boot_next(v, 1, 4999), "its pause is not over");
	cr_expect_eq(boot_next(v, 1, 5000), &v[0]);
	free(v);
}

Test(boot, other_states_hold_no_slot)
{
	static const enum vm_state others[] = { VM_STOPPED, VM_READY,
	    VM_STOPPING, VM_FAILED, VM_SUSPENDING, VM_SUSPENDED, VM_RESUMING,
	    VM_RESTORING, VM_SNAPSHOTTING };
	struct vm	*v = vms_make(2, VM_QUEUED);
	size_t		 i;

	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		v[0].state = others[i];
		cr_expect_eq(boot_next(v, 1, 0), &v[1], "state %d",
		    (int)others[i]);
	}
	free(v);
}

/* A file in a fresh temp folder with text; its path (static). */
static const char *
log_write(const char *text, size_t len, int append)
{
	static char	path[64];
	int		fd;

	if (!append) {
		snprintf(path, sizeof(path), "/tmp/labd-boot-XXXXXX");
		cr_assert_neq(fd = mkstemp(path), -1);
	} else
		cr_assert_neq(fd = open(path, O_WRONLY | O_APPEND), -1);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

Test(boot, serial_scan_reads_only_what_is_new)
{
	const char	*p;
	const char	*a = "Linux version 6.1\r\nlabd-ready: x\r\n";
	off_t		 off = 0;

	p = log_write(a, strlen(a), 0);
	cr_expect_eq(boot_serial_scan(p, &off, "Kernel panic"), 0);
	cr_expect_gt(off, 0);
	cr_expect_leq(off, (off_t)strlen(a));
	/* The line cut between two writes is still found. */
	log_write("[   42.1] Kernel pa", 19, 1);
	cr_expect_eq(boot_serial_scan(p, &off, "Kernel panic"), 0);
	log_write("nic - not syncing: sysrq triggered crash\r\n", 42, 1);
	cr_expect_eq(boot_serial_scan(p, &off, "Kernel panic"), 1);
	/* Found once: the same bytes do not count again. */
	cr_expect_eq(boot_serial_scan(p, &off, "Kernel panic"), 0);
	unlink(p);
	cr_expect_eq(boot_serial_scan(p, &off, "Kernel panic"), 0, "no log");
}

Test(boot, serial_scan_new_log_and_nuls)
{
	const char	 text[] = "boot\0\0\0 Kernel panic - not syncing\n";
	const char	*p;
	off_t		 off = 1 << 20;	/* a longer log before: a new one */

	p = log_write(text, sizeof(text) - 1, 0);
	cr_expect_eq(boot_serial_scan(p, &off, "Kernel panic"), 1,
	    "found past NULs, from the start of a new log");
	unlink(p);
}

Test(boot, serial_scan_big_log)
{
	char		*big = malloc(300000);
	const char	*p;
	off_t		 off = 0;

	cr_assert_not_null(big);
	memset(big, 'x', 300000);
	/* Across the 64 KiB read boundary. */
	memcpy(big + 65536 - 5, "Kernel panic", 12);
	p = log_write(big, 300000, 0);
	cr_expect_eq(boot_serial_scan(p, &off, "Kernel panic"), 1);
	unlink(p);
	memset(big, 'x', 300000);
	p = log_write(big, 300000, 0);
	off = 0;
	cr_expect_eq(boot_serial_scan(p, &off, "Kernel panic"), 0);
	cr_expect_geq(off, 300000 - 12);
	unlink(p);
	free(big);
}

Test(boot, console_tail_last_lines_cleaned)
{
	const char	*text = "one\r\n\r\n  two  \r\n\x1b[1;31mred\x1b[0m\r\n"
	    "bell\a here\r\nKernel panic - not syncing: VFS\r\n";
	const char	*p = log_write(text, strlen(text), 0);
	char		 out[256];

	boot_console_tail(p, 3, out, sizeof(out));
	cr_expect_str_eq(out, "red | bell here | Kernel panic - not"
	    " syncing: VFS");
	boot_console_tail(p, 8, out, sizeof(out));
	cr_expect_str_eq(out, "one | two | red | bell here | Kernel panic -"
	    " not syncing: VFS");
	boot_console_tail(p, 0, out, sizeof(out));
	cr_expect_str_eq(out, "");
	boot_console_tail(p, 2, out, 10);
	cr_expect_str_eq(out, "bell here", "cut to the buffer");
	unlink(p);
	boot_console_tail(p, 3, out, sizeof(out));
	cr_expect_str_eq(out, "", "no log");
}
