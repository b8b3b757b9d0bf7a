/* SPDX-License-Identifier: ISC */
/*
 * diskfull.c - a guest whose disk write fails on the host.  QEMU's default
 * for virtio-blk is werror=enospc: when the host file system under a VM's
 * overlay is full, QEMU stops the VM and sends BLOCK_IO_ERROR with action
 * "stop" and nospace true; the guest's write waits, unanswered, and goes
 * through once QEMU is told to "cont".  Such a VM must not look ready
 * (nothing answers) nor hung (a boot watch would kill and retry it,
 * losing what it wrote): it is shown as state "paused", detail "disk
 * full", and continued by the admit watch as soon as its file system has
 * room again (DISKFULL_MARGIN_MB, and a twentieth of the file system), or
 * by hand with labctl resume.  Another write error (action "stop" without
 * nospace, "disk error") is shown the same way and continued only by
 * hand: room on the host does not cure it.
 */
#include <sys/statvfs.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labd/labd.h"

static const char *diskfull_details[] = {
	[DISKFULL_NONE] = "",
	[DISKFULL_NOSPACE] = "disk full",
	[DISKFULL_ERROR] = "disk error",
};

const char *
diskfull_detail(enum diskfull_kind k)
{
	return diskfull_details[k];
}

/*
 * Only a BLOCK_IO_ERROR whose action is "stop" paused the guest: "report"
 * hands the error to the guest, "ignore" drops it, and neither stops the
 * VM.  nospace is there since QEMU 1.6 (Debian 12 has 7.2); reason
 * ("No space left on device") is the fallback of a QEMU that lacks it.
 */
enum diskfull_kind
diskfull_classify(const char *event, const json_t *data)
{
	const json_t	*j;
	const char	*action, *reason;

	if (event == NULL || strcmp(event, "BLOCK_IO_ERROR") != 0 ||
	    !json_is_object(data))
		return DISKFULL_NONE;
	action = json_string_value(json_object_get(data, "action"));
	if (action == NULL || strcmp(action, "stop") != 0)
		return DISKFULL_NONE;
	j = json_object_get(data, "nospace");
	if (json_is_true(j))
		return DISKFULL_NOSPACE;
	reason = json_string_value(json_object_get(data, "reason"));
	if (j == NULL && reason != NULL && strstr(reason, "No space") != NULL)
		return DISKFULL_NOSPACE;
	return DISKFULL_ERROR;
}

/* Room to continue: over the margin and over a twentieth of the fs. */
int
diskfull_room(long long free_mb, long long total_mb)
{
	return free_mb > DISKFULL_MARGIN_MB && free_mb > total_mb / 20;
}

/* Free and total MiB of the file system under vm's folder; -1 unknown. */
static int
diskfull_space(const struct vm *vm, long long *free_mb, long long *total_mb)
{
	struct statvfs	sv;
	char		vmdir[PATH_MAX];

	if (vm_paths(vm->name, vmdir, NULL) == -1 || statvfs(vmdir, &sv) == -1)
		return -1;
	*free_mb = (long long)((unsigned long long)sv.f_bavail * sv.f_frsize
	    >> 20);
	*total_mb = (long long)((unsigned long long)sv.f_blocks * sv.f_frsize
	    >> 20);
	return 0;
}

/* vm.c's "vm.io-error": a BLOCK_IO_ERROR of its QEMU, data its own. */
static void
diskfull_event(const struct event *ev, void *arg)
{
	struct vm		*vm = ev->vm;
	json_t			*data = json_object_get(ev->data, "data");
	enum diskfull_kind	 k = diskfull_classify("BLOCK_IO_ERROR", data);
	long long		 free_mb = -1, total_mb = -1;
	const char		*dev;

	/* QEMU repeats the event for every failed request: act once. */
	if (k == DISKFULL_NONE || vm->state == VM_PAUSED)
		return;
	if (vm->state != VM_READY && vm->state != VM_BOOTING) {
		/* A job (snapshot, suspend) owns the VM: it will see. */
		log_warnx("%s: %s while %s", vm->name, diskfull_detail(k),
		    vm_state_name(vm->state));
		return;
	}
	diskfull_space(vm, &free_mb, &total_mb);
	dev = json_string_value(json_object_get(data, "device"));
	if (dev == NULL || *dev == '\0')
		dev = json_string_value(json_object_get(data, "node-name"));
	log_warnx("%s: paused by QEMU: %s (%s, %lld MiB free of %lld in"
	    " %s/vms)", vm->name, diskfull_detail(k), dev ? dev : "disk",
	    free_mb, total_mb, labd->cfg.state_dir);
	db_event(0, "vm.diskfull", vm->name, "%s, %lld MiB free",
	    diskfull_detail(k), free_mb);
	events_fire("vm.diskfull", vm, json_pack("{s:s,s:s,s:I}", "vm",
	    vm->name, "detail", diskfull_detail(k), "free_mb",
	    (json_int_t)free_mb));
	vm->disk_why = k;
	vm->paused_from = vm->state;
	vm_set_state(vm, VM_PAUSED, diskfull_detail(k));
}

int
diskfull_resume(struct vm *vm, char *err, size_t errlen)
{
	if (vm->state != VM_PAUSED) {
		errf(err, errlen, "%s is %s, not paused", vm->name,
		    vm_state_name(vm->state));
		return -1;
	}
	if (vm->qmp == NULL ||
	    qmp_execute(vm->qmp, "cont", NULL, NULL, err, errlen) == -1)
		return -1;
	log_info("%s: continued after %s", vm->name,
	    diskfull_detail(vm->disk_why));
	db_event(0, "vm.continue", vm->name, "after %s",
	    diskfull_detail(vm->disk_why));
	vm->disk_why = DISKFULL_NONE;
	/* The time it stood paused is no boot time: the watch starts anew. */
	if (vm->paused_from == VM_BOOTING)
		vm->wait_ms = now_ms();
	vm_set_state(vm, vm->paused_from, NULL);
	return 0;
}

void
diskfull_watch(void)
{
	struct vm	*vm;
	long long	 free_mb, total_mb;
	char		 err[VMM_ERRLEN];

	for (vm = vm_list(); vm != NULL; vm = vm->next) {
		if (vm->state != VM_PAUSED || vm->disk_why != DISKFULL_NOSPACE ||
		    diskfull_space(vm, &free_mb, &total_mb) == -1 ||
		    !diskfull_room(free_mb, total_mb))
			continue;
		log_info("%s: %lld MiB free again: continuing it", vm->name,
		    free_mb);
		if (diskfull_resume(vm, err, sizeof(err)) == -1)
			log_warnx("%s: cannot continue: %s", vm->name, err);
	}
}

void
diskfull_init(void)
{
	events_on("vm.io-error", diskfull_event, NULL);
}
