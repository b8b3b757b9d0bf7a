/* SPDX-License-Identifier: ISC */
/*
 * accel.c - choosing between KVM and TCG.
 *
 * "auto" means KVM when the host really can run a VM with it, not merely
 * when /dev/kvm exists: in containers and nested setups the node is often
 * present but unusable, and QEMU would then fail at start for every VM.
 * So we do what QEMU will do - open the device, check the API, create
 * (and drop) a VM - and then ask QEMU itself to set up a KVM vCPU the way
 * qemu_argv.c asks for it: nested hosts exist on which all of the former
 * works and QEMU still aborts at the first vCPU reset (QEMU 7.2 on a 6.18
 * kernel: "failed to set MSR 0x10a").  Any step failing means TCG, with
 * the reason for the caller's one warning.
 */
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/vmm.h"
#include "vmm/vmm_int.h"

/* QEMU starts, sets up its vCPU, answers QMP and quits: ~50 ms. */
#define PROBE_TIMEOUT_MS	10000
#define PROBE_QEMU		"qemu-system-x86_64"

static const struct {
	const char	*name;
	enum vmm_accel	 accel;
} accels[] = {
	{ "auto",	VMM_ACCEL_AUTO },
	{ "kvm",	VMM_ACCEL_KVM },
	{ "tcg",	VMM_ACCEL_TCG },
};

int
vmm_accel_parse(const char *s, enum vmm_accel *accel)
{
	size_t	i;

	for (i = 0; i < sizeof(accels) / sizeof(accels[0]); i++) {
		if (strcmp(s, accels[i].name) == 0) {
			*accel = accels[i].accel;
			return 0;
		}
	}
	return -1;
}

const char *
vmm_accel_name(enum vmm_accel accel)
{
	size_t	i;

	for (i = 0; i < sizeof(accels) / sizeof(accels[0]); i++)
		if (accels[i].accel == accel)
			return accels[i].name;
	return "unknown";
}

/*
 * Start a paused KVM guest with the CPU model of qemu_argv.c and quit it
 * over QMP on stdin.  A QEMU that cannot be run at all proves nothing
 * about KVM (vmm_spawn will say what is wrong), so only a QEMU that ran
 * and failed counts against KVM.
 */
static int
qemu_probe(char *why, size_t whylen)
{
	char	*argv[] = { PROBE_QEMU, "-machine", "pc,accel=kvm", "-cpu",
		    "host", "-nodefaults", "-no-user-config", "-display",
		    "none", "-m", "16", "-S", "-qmp", "stdio", NULL };
	char	 err[VMM_ERRLEN], *out = NULL;

	if (vmm_run_io(argv, "{\"execute\":\"qmp_capabilities\"}\n"
	    "{\"execute\":\"quit\"}\n", PROBE_TIMEOUT_MS, &out, err,
	    sizeof(err)) == 0) {
		free(out);
		return 0;
	}
	if (strncmp(err, "cannot run ", 11) == 0)
		return 0;
	snprintf(why, whylen, "KVM is there but QEMU cannot run a guest"
	    " with it: %s", err);
	return -1;
}

enum vmm_accel
vmm_accel_resolve(enum vmm_accel accel, char *why, size_t whylen)
{
	int	kvm = -1, vm, version;

	if (whylen > 0)
		why[0] = '\0';
	if (accel != VMM_ACCEL_AUTO)
		return accel;

	if ((kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)) == -1) {
		snprintf(why, whylen, "/dev/kvm: %s", strerror(errno));
		goto fail;
	}
	if ((version = ioctl(kvm, KVM_GET_API_VERSION, 0)) != KVM_API_VERSION) {
		if (version == -1)
			snprintf(why, whylen, "/dev/kvm: cannot get the API"
			    " version: %s", strerror(errno));
		else
			snprintf(why, whylen, "/dev/kvm: API version %d,"
			    " QEMU needs %d", version, KVM_API_VERSION);
		goto fail;
	}
	if ((vm = ioctl(kvm, KVM_CREATE_VM, 0)) == -1) {
		snprintf(why, whylen, "/dev/kvm: cannot create a VM: %s",
		    strerror(errno));
		goto fail;
	}
	close(vm);
	close(kvm);
	kvm = -1;
	if (qemu_probe(why, whylen) == -1)
		goto fail;
	return VMM_ACCEL_KVM;
fail:
	if (kvm != -1)
		close(kvm);
	return VMM_ACCEL_TCG;
}
