/* SPDX-License-Identifier: ISC */
/*
 * test_diskfull.c - which QMP events mean QEMU paused a guest on a write
 * error, and which of those a host with room again cures (diskfull.c).
 */
#include <string.h>

#include <criterion/criterion.h>

#include "labd/labd.h"

static enum diskfull_kind
classify(const char *event, const char *data)
{
	json_t			*j = json_loads(data, 0, NULL);
	enum diskfull_kind	 k;

	cr_assert_not_null(j, "bad test JSON: %s", data);
	k = diskfull_classify(event, j);
	json_decref(j);
	return k;
}

Test(diskfull, nospace_stop_is_disk_full)
{
	cr_expect_eq(classify("BLOCK_IO_ERROR", "{\"device\": \"\","
	    " \"node-name\": \"disk0\", \"operation\": \"write\","
	    " \"action\": \"stop\", \"nospace\": true,"
	    " \"reason\": \"No space left on device\"}"), DISKFULL_NOSPACE);
	cr_expect_str_eq(diskfull_detail(DISKFULL_NOSPACE), "disk full");
}

Test(diskfull, other_error_stop_is_disk_error)
{
	cr_expect_eq(classify("BLOCK_IO_ERROR", "{\"device\": \"\","
	    " \"operation\": \"write\", \"action\": \"stop\","
	    " \"nospace\": false, \"reason\": \"Input/output error\"}"),
	    DISKFULL_ERROR);
	/* nospace false wins over a reason that says otherwise. */
	cr_expect_eq(classify("BLOCK_IO_ERROR", "{\"action\": \"stop\","
	    " \"nospace\": false, \"reason\": \"No space left on device\"}"),
	    DISKFULL_ERROR);
	cr_expect_str_eq(diskfull_detail(DISKFULL_ERROR), "disk error");
}

Test(diskfull, reason_only_qemu)
{
	cr_expect_eq(classify("BLOCK_IO_ERROR", "{\"action\": \"stop\","
	    " \"reason\": \"No space left on device\"}"), DISKFULL_NOSPACE);
	cr_expect_eq(classify("BLOCK_IO_ERROR", "{\"action\": \"stop\"}"),
	    DISKFULL_ERROR);
}

Test(diskfull, not_paused)
{
	/* report and ignore leave the guest running: nothing to show. */
	cr_expect_eq(classify("BLOCK_IO_ERROR", "{\"action\": \"report\","
	    " \"nospace\": true}"), DISKFULL_NONE);
	cr_expect_eq(classify("BLOCK_IO_ERROR", "{\"action\": \"ignore\","
	    " \"nospace\": true}"), DISKFULL_NONE);
	cr_expect_eq(classify("BLOCK_IO_ERROR", "{\"nospace\": true}"),
	    DISKFULL_NONE);
	cr_expect_eq(classify("STOP", "{}"), DISKFULL_NONE);
	cr_expect_eq(classify("GUEST_PANICKED", "{\"action\": \"stop\"}"),
	    DISKFULL_NONE);
	cr_expect_eq(diskfull_classify("BLOCK_IO_ERROR", NULL), DISKFULL_NONE);
	cr_expect_eq(diskfull_classify(NULL, NULL), DISKFULL_NONE);
}

Test(diskfull, room_to_continue)
{
	cr_expect(!diskfull_room(0, 48), "full");
	cr_expect(!diskfull_room(DISKFULL_MARGIN_MB, 48), "at the margin");
	cr_expect(diskfull_room(DISKFULL_MARGIN_MB + 1, 48), "over it");
	/* A big fs keeps a twentieth free, as the admit watch does. */
	cr_expect(!diskfull_room(400, 10000), "under a twentieth");
	cr_expect(diskfull_room(600, 10000), "over a twentieth");
}

Test(diskfull, state_name)
{
	cr_expect_str_eq(vm_state_name(VM_PAUSED), "paused");
}
