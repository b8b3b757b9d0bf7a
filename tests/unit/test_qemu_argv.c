/* SPDX-License-Identifier: ISC */
/*
 * test_qemu_argv.c - the QEMU command line, and the accelerator choice
 * that feeds it.
 *
 * The argv is checked option by option (an option and its value are
 * adjacent elements), so a regression shows which option broke.  Nothing
 * here starts QEMU; test_proc.c does.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "vmm/vmm.h"

static const struct vmm_fwd fwds[] = {
	{ "127.0.0.1", 22017, 22 },
	{ "127.0.0.2", 8017, 80 },
};

static struct vmm_spec
base_spec(void)
{
	struct vmm_spec	s = {
		.name = "demo-alice",
		.accel = VMM_ACCEL_TCG,
		.memory_mb = 128,
		.vcpus = 2,
		.disk = "/var/lib/labd/vms/demo-alice/disk.qcow2",
		.seed = "/var/lib/labd/vms/demo-alice/seed.iso",
		.run_dir = "/run/labd/vms/demo-alice",
		.log_dir = "/var/lib/labd/vms/demo-alice",
		.fwds = fwds,
		.nfwd = 2,
	};

	return s;
}

static size_t
argc_of(char **argv)
{
	size_t	n = 0;

	while (argv[n] != NULL)
		n++;
	return n;
}

/* The value after the n-th (0-based) occurrence of opt, or NULL. */
static const char *
opt_nth(char **argv, const char *opt, int nth)
{
	size_t	i;

	for (i = 0; argv[i] != NULL; i++)
		if (strcmp(argv[i], opt) == 0 && nth-- == 0)
			return argv[i + 1];
	return NULL;
}

static const char *
opt(char **argv, const char *o)
{
	return opt_nth(argv, o, 0);
}

static int
has(char **argv, const char *flag)
{
	size_t	i;

	for (i = 0; argv[i] != NULL; i++)
		if (strcmp(argv[i], flag) == 0)
			return 1;
	return 0;
}

static char **
build_ok(const struct vmm_spec *s)
{
	char	  err[VMM_ERRLEN] = "";
	char	**argv = qemu_argv_build(s, err, sizeof(err));

	cr_assert_not_null(argv, "qemu_argv_build: %s", err);
	return argv;
}

TestSuite(qemu_argv);

Test(qemu_argv, full_command_line)
{
	struct vmm_spec	  s = base_spec();
	char		**argv = build_ok(&s);

	/* An exec'd binary, no shell in between. */
	cr_expect_str_eq(argv[0], "qemu-system-x86_64");
	cr_expect_str_eq(opt(argv, "-name"), "demo-alice");
	cr_expect(has(argv, "-nodefaults"));
	cr_expect(has(argv, "-no-user-config"));
	/* TCG: the accelerator with its translation cache given apart. */
	cr_expect_str_eq(opt(argv, "-machine"), "pc");
	cr_expect_str_eq(opt(argv, "-accel"), "tcg");
	cr_expect_str_eq(opt(argv, "-cpu"), "max");
	cr_expect_str_eq(opt(argv, "-m"), "128M");
	cr_expect_str_eq(opt(argv, "-smp"), "2");
	cr_expect_str_eq(opt(argv, "-display"), "none");
	/* The disk by descriptor, twice: read-write and read-only. */
	cr_expect_str_eq(opt_nth(argv, "-add-fd", 0),
	    "fd=4,set=1,opaque=disk-rw");
	cr_expect_str_eq(opt_nth(argv, "-add-fd", 1),
	    "fd=5,set=1,opaque=disk-ro");
	cr_expect_str_eq(opt_nth(argv, "-blockdev", 0),
	    "driver=qcow2,node-name=disk0,file.driver=file,"
	    "file.filename=/dev/fdset/1");
	cr_expect_str_eq(opt_nth(argv, "-device", 0),
	    "virtio-blk-pci,drive=disk0,bootindex=1");
	cr_expect_str_eq(opt_nth(argv, "-add-fd", 2), "fd=6,set=2,opaque=seed");
	cr_expect_str_eq(opt_nth(argv, "-blockdev", 1),
	    "driver=raw,node-name=seed0,read-only=on,file.driver=file,"
	    "file.filename=/dev/fdset/2");
	cr_expect_str_eq(opt_nth(argv, "-device", 1),
	    "virtio-blk-pci,drive=seed0");
	cr_expect_str_eq(opt(argv, "-netdev"), "user,id=net0,"
	    "hostfwd=tcp:127.0.0.1:22017-:22,hostfwd=tcp:127.0.0.2:8017-:80");
	cr_expect(strncmp(opt_nth(argv, "-device", 2),
	    "virtio-net-pci,netdev=net0,mac=52:54:00:", 40) == 0,
	    "nic: %s", opt_nth(argv, "-device", 2));
	/* A panic pauses the guest and is told over QMP. */
	cr_expect_str_eq(opt_nth(argv, "-device", 3), "pvpanic");
	cr_expect_str_eq(opt(argv, "-action"), "panic=pause");
	/*
	 * Free page reporting: what the guest frees goes back to the host,
	 * in a fixed slot so that no other device moves.
	 */
	cr_expect_str_eq(opt_nth(argv, "-device", 4), "virtio-balloon-pci,"
	    "free-page-reporting=on,addr=0x1e");
	cr_expect_str_eq(opt_nth(argv, "-add-fd", 3),
	    "fd=7,set=3,opaque=serial-log");
	cr_expect_null(opt_nth(argv, "-add-fd", 4));
	cr_expect_str_eq(opt_nth(argv, "-chardev", 0),
	    "socket,id=ser0,path=/run/labd/vms/demo-alice/serial.sock,"
	    "server=on,wait=off,logfile=/dev/fdset/3,logappend=on");
	cr_expect_str_eq(opt(argv, "-serial"), "chardev:ser0");
	cr_expect_str_eq(opt_nth(argv, "-chardev", 1),
	    "socket,id=qmp0,path=/run/labd/vms/demo-alice/qmp.sock,"
	    "server=on,wait=off");
	cr_expect_str_eq(opt(argv, "-mon"), "chardev=qmp0,mode=control");
	/* The second monitor, for worker threads' long jobs. */
	cr_expect_str_eq(opt_nth(argv, "-chardev", 2),
	    "socket,id=qmp1,path=/run/labd/vms/demo-alice/qmp-ctl.sock,"
	    "server=on,wait=off");
	cr_expect_str_eq(opt_nth(argv, "-mon", 1), "chardev=qmp1,mode=control");
	cr_expect_str_eq(opt(argv, "-vnc"), "unix:/run/labd/vms/demo-alice/"
	    "vnc.sock");
	/* A screen, out of the way of the other devices' PCI slots. */
	cr_expect_str_eq(opt_nth(argv, "-device", 5), "VGA,addr=0x1f");
	/* lab-check's port, below it, its socket in run_dir. */
	cr_expect_str_eq(opt_nth(argv, "-device", 6),
	    "virtio-serial-pci,id=labck0,addr=0x1d");
	cr_expect_str_eq(opt_nth(argv, "-chardev", 3),
	    "socket,id=labck,path=/run/labd/vms/demo-alice/check.sock,"
	    "server=on,wait=off");
	cr_expect_str_eq(opt_nth(argv, "-device", 7), "virtserialport,"
	    "bus=labck0.0,chardev=labck,name=org.labd.check");
	/*
	 * labd-agent's port on a device of its own, below: on lab-check's
	 * bus it would change that device's state, and older RAM
	 * snapshots would no longer load.
	 */
	cr_expect_str_eq(opt_nth(argv, "-device", 8),
	    "virtio-serial-pci,id=labag0,addr=0x1c");
	cr_expect_str_eq(opt_nth(argv, "-chardev", 4),
	    "socket,id=labag,path=/run/labd/vms/demo-alice/agent.sock,"
	    "server=on,wait=off");
	cr_expect_str_eq(opt_nth(argv, "-device", 9), "virtserialport,"
	    "bus=labag0.0,chardev=labag,name=org.labd.agent");
	cr_expect_null(opt_nth(argv, "-device", 10));
	cr_expect_null(opt_nth(argv, "-chardev", 5));
	/* QEMU is started unprivileged: it may not change that or fork. */
	cr_expect_str_eq(opt(argv, "-sandbox"), "on,obsolete=deny,"
	    "elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
	cr_expect_not(has(argv, "-daemonize"));
	cr_expect_str_eq(opt(argv, "-pidfile"), "/run/labd/vms/demo-alice/pid");
	/* Not asked for: */
	cr_expect_not(has(argv, "-kernel"));
	cr_expect_not(has(argv, "-bios"));
	cr_expect_not(has(argv, "-runas"));
	cr_expect_not(has(argv, "-S"));
	cr_expect_null(opt_nth(argv, "-blockdev", 2));
	vmm_argv_free(argv);
}

Test(qemu_argv, start_paused)
{
	struct vmm_spec	  s = base_spec();
	char		**argv;

	s.start_paused = 1;
	argv = build_ok(&s);
	cr_expect(has(argv, "-S"));
	/* A flag, not an option with a value: -sandbox follows it. */
	cr_expect_str_eq(opt(argv, "-S"), "-sandbox");
	cr_expect_str_eq(argv[argc_of(argv) - 2], "-pidfile");
	vmm_argv_free(argv);
}

Test(qemu_argv, tcg_translation_cache_size)
{
	struct vmm_spec	  s = base_spec();
	char		**argv;

	s.tb_size_mb = 32;
	argv = build_ok(&s);
	cr_expect_str_eq(opt(argv, "-machine"), "pc");
	cr_expect_str_eq(opt(argv, "-accel"), "tcg,tb-size=32");
	vmm_argv_free(argv);
	/* Under KVM the size means nothing and is not passed. */
	s.accel = VMM_ACCEL_KVM;
	argv = build_ok(&s);
	cr_expect_str_eq(opt(argv, "-machine"), "pc,accel=kvm");
	cr_expect_null(opt(argv, "-accel"));
	vmm_argv_free(argv);
}

/* ksm = off: the guest's RAM is not offered to KSM, under either. */
Test(qemu_argv, no_mem_merge)
{
	struct vmm_spec	  s = base_spec();
	char		**argv;

	s.no_mem_merge = 1;
	argv = build_ok(&s);
	cr_expect_str_eq(opt(argv, "-machine"), "pc,mem-merge=off");
	vmm_argv_free(argv);
	s.accel = VMM_ACCEL_KVM;
	argv = build_ok(&s);
	cr_expect_str_eq(opt(argv, "-machine"), "pc,accel=kvm,mem-merge=off");
	vmm_argv_free(argv);
}

/* The golden's boot of a disk-booted guest: the flag in fw_cfg, once. */
Test(qemu_argv, fw_cfg_golden)
{
	struct vmm_spec	  s = base_spec();
	char		**argv;
	size_t		  i, n = 0;

	argv = build_ok(&s);
	cr_expect_null(opt(argv, "-fw_cfg"), "fw_cfg without the golden");
	vmm_argv_free(argv);
	s.fw_cfg_golden = 1;
	argv = build_ok(&s);
	cr_expect_str_eq(opt(argv, "-fw_cfg"), "name=opt/org.labd/golden,"
	    "string=1");
	for (i = 0; argv[i] != NULL; i++)
		n += strcmp(argv[i], "-fw_cfg") == 0;
	cr_expect_eq(n, 1);
	vmm_argv_free(argv);
}

Test(qemu_argv, kvm_kernel_and_uefi)
{
	struct vmm_spec	  s = base_spec();
	char		**argv;

	s.accel = VMM_ACCEL_KVM;
	s.qemu = "/opt/qemu/bin/qemu-system-x86_64";
	s.kernel = "/srv/tpl/vmlinuz";
	s.initrd = "/srv/tpl/initrd.img";
	s.append = "console=ttyS0 root=/dev/vda rw quiet; rm -rf /";
	s.firmware = "uefi";
	argv = build_ok(&s);
	cr_expect_str_eq(argv[0], "/opt/qemu/bin/qemu-system-x86_64");
	cr_expect_str_eq(opt(argv, "-machine"), "pc,accel=kvm");
	/* KVM has no translation cache: -accel is not given twice. */
	cr_expect_null(opt(argv, "-accel"));
	cr_expect_str_eq(opt(argv, "-cpu"), "host");
	/* Page reporting under KVM too: it saves memory whatever runs it. */
	cr_expect_str_eq(opt_nth(argv, "-device", 4), "virtio-balloon-pci,"
	    "free-page-reporting=on,addr=0x1e");
	cr_expect_str_eq(opt(argv, "-kernel"), "/srv/tpl/vmlinuz");
	cr_expect_str_eq(opt(argv, "-initrd"), "/srv/tpl/initrd.img");
	/* One element, spaces and shell syntax untouched: never a shell. */
	cr_expect_str_eq(opt(argv, "-append"),
	    "console=ttyS0 root=/dev/vda rw quiet; rm -rf /");
	cr_expect_str_eq(opt(argv, "-bios"), "/usr/share/ovmf/OVMF.fd");
	vmm_argv_free(argv);
}

Test(qemu_argv, restrict_and_no_seed_no_forwards)
{
	struct vmm_spec	  s = base_spec();
	char		**argv;

	s.restrict_net = 1;
	s.seed = NULL;
	s.nfwd = 0;
	argv = build_ok(&s);
	cr_expect_str_eq(opt(argv, "-netdev"), "user,id=net0,restrict=on");
	cr_expect_null(opt_nth(argv, "-blockdev", 1), "no seed drive");
	vmm_argv_free(argv);

	s.restrict_net = 1;
	s.nfwd = 1;
	argv = build_ok(&s);
	cr_expect_str_eq(opt(argv, "-netdev"),
	    "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:22017-:22");
	vmm_argv_free(argv);
}

Test(qemu_argv, mac_is_stable_per_name)
{
	struct vmm_spec	  s = base_spec();
	char		**a, **b, **c;
	const char	 *nic_a, *nic_b, *nic_c;

	a = build_ok(&s);
	b = build_ok(&s);
	s.name = "demo-bob";
	c = build_ok(&s);
	nic_a = opt_nth(a, "-device", 2);
	nic_b = opt_nth(b, "-device", 2);
	nic_c = opt_nth(c, "-device", 2);
	cr_expect_str_eq(nic_a, nic_b);
	cr_expect_str_neq(nic_a, nic_c);
	cr_expect_eq(strlen(nic_a), strlen("virtio-net-pci,netdev=net0,mac=")
	    + 17);
	vmm_argv_free(a);
	vmm_argv_free(b);
	vmm_argv_free(c);

	s.mac = "52:54:00:aa:bb:cc";
	a = build_ok(&s);
	cr_expect_str_eq(opt_nth(a, "-device", 2),
	    "virtio-net-pci,netdev=net0,mac=52:54:00:aa:bb:cc");
	vmm_argv_free(a);
}

Test(qemu_argv, never_runas_or_daemonize)
{
	struct vmm_spec	  s = base_spec();
	char		**argv;

	/* vmm_spawn() does both before exec, whoever we are. */
	s.uid = 1879048200;
	s.gid = 1879048200;
	argv = build_ok(&s);
	cr_expect_not(has(argv, "-runas"));
	cr_expect_not(has(argv, "-daemonize"));
	/* The list always ends "-pidfile RUN/pid". */
	cr_expect_str_eq(argv[argc_of(argv) - 2], "-pidfile");
	vmm_argv_free(argv);
}

Test(qemu_argv, tap_by_descriptor)
{
	struct vmm_spec	  s = base_spec();
	char		**argv;

	s.tap = "labtap7";
	argv = build_ok(&s);
	/* vmm_spawn() opens the tap: QEMU never needs /dev/net/tun. */
	cr_expect_str_eq(opt(argv, "-netdev"), "tap,id=net0,fd=8");
	vmm_argv_free(argv);
}

/* Each of these must be refused with a message naming the problem. */
static void
expect_refused(const struct vmm_spec *s, const char *needle)
{
	char	  err[VMM_ERRLEN] = "";
	char	**argv = qemu_argv_build(s, err, sizeof(err));

	cr_expect_null(argv, "accepted, wanted refusal about \"%s\"", needle);
	vmm_argv_free(argv);
	cr_expect(strstr(err, needle) != NULL, "err \"%s\" lacks \"%s\"", err,
	    needle);
}

Test(qemu_argv, refuses_bad_input)
{
	struct vmm_spec	s;
	struct vmm_fwd	bad_fwd[] = { { "127.0.0.1,hostfwd=tcp::1-:2", 1, 2 } };
	char		longdir[96];

	s = base_spec();
	s.disk = "/srv/a,b/disk.qcow2";
	expect_refused(&s, "/srv/a,b/disk.qcow2");
	s = base_spec();
	s.seed = "/srv/seed,file.locking=off";
	expect_refused(&s, "comma");
	s = base_spec();
	s.run_dir = "/run/x,y";
	expect_refused(&s, "comma");
	s = base_spec();
	s.log_dir = "/var/log,z";
	expect_refused(&s, "comma");
	s = base_spec();
	s.kernel = "/k,ernel";
	expect_refused(&s, "comma");

	s = base_spec();
	s.name = "Demo";
	expect_refused(&s, "bad VM name");
	s.name = "-demo";
	expect_refused(&s, "bad VM name");
	s.name = "demo alice";
	expect_refused(&s, "bad VM name");
	s.name = "";
	expect_refused(&s, "bad VM name");

	s = base_spec();
	s.accel = VMM_ACCEL_AUTO;
	expect_refused(&s, "resolved");
	s = base_spec();
	s.memory_mb = 0;
	expect_refused(&s, "memory");
	s = base_spec();
	s.firmware = "coreboot";
	expect_refused(&s, "firmware");
	s = base_spec();
	s.mac = "52:54:00:zz:00:01";
	expect_refused(&s, "MAC");
	s = base_spec();
	s.fwds = bad_fwd;
	s.nfwd = 1;
	expect_refused(&s, "port forward");
	s = base_spec();
	s.run_dir = "/run/labd/vms/a-very-long-course-name-indeed-for-a-socket"
	    "-path-that-will-not-fit-into-sun-path/x";
	expect_refused(&s, "UNIX socket");
	/*
	 * 95 bytes: serial.sock would fit sun_path (108), qmp-ctl.sock, the
	 * longest name, would not; 94 bytes fit all.
	 */
	s = base_spec();
	memset(longdir, 'a', sizeof(longdir) - 1);
	memcpy(longdir, "/run/", 5);
	longdir[95] = '\0';
	s.run_dir = longdir;
	expect_refused(&s, "UNIX socket");
	longdir[94] = '\0';
	vmm_argv_free(build_ok(&s));
}

Test(qemu_argv, vmm_path)
{
	char	small[8], big[64];

	cr_expect_eq(vmm_path(big, sizeof(big), "/run/x", "qmp.sock"), 0);
	cr_expect_str_eq(big, "/run/x/qmp.sock");
	cr_expect_eq(vmm_path(small, sizeof(small), "/run/x", "qmp.sock"), -1);
}

TestSuite(accel);

Test(accel, parse_and_name)
{
	enum vmm_accel	a = VMM_ACCEL_TCG;

	cr_expect_eq(vmm_accel_parse("auto", &a), 0);
	cr_expect_eq(a, VMM_ACCEL_AUTO);
	cr_expect_eq(vmm_accel_parse("kvm", &a), 0);
	cr_expect_eq(a, VMM_ACCEL_KVM);
	cr_expect_eq(vmm_accel_parse("tcg", &a), 0);
	cr_expect_eq(a, VMM_ACCEL_TCG);
	cr_expect_eq(vmm_accel_parse("KVM", &a), -1);
	cr_expect_eq(vmm_accel_parse("", &a), -1);
	cr_expect_str_eq(vmm_accel_name(VMM_ACCEL_KVM), "kvm");
	cr_expect_str_eq(vmm_accel_name(VMM_ACCEL_TCG), "tcg");
	cr_expect_str_eq(vmm_accel_name(VMM_ACCEL_AUTO), "auto");
}

Test(accel, resolve)
{
	char		why[256] = "stale";
	enum vmm_accel	a;

	cr_expect_eq(vmm_accel_resolve(VMM_ACCEL_TCG, why, sizeof(why)),
	    VMM_ACCEL_TCG);
	cr_expect_str_empty(why);
	cr_expect_eq(vmm_accel_resolve(VMM_ACCEL_KVM, why, sizeof(why)),
	    VMM_ACCEL_KVM);
	cr_expect_str_empty(why);
	a = vmm_accel_resolve(VMM_ACCEL_AUTO, why, sizeof(why));
	cr_assert(a == VMM_ACCEL_KVM || a == VMM_ACCEL_TCG);
	/* A fallback always says why; KVM never leaves a stale reason. */
	if (a == VMM_ACCEL_TCG)
		cr_expect(strncmp(why, "/dev/kvm: ", 10) == 0 ||
		    strncmp(why, "KVM is there but QEMU cannot", 28) == 0,
		    "why: %s", why);
	else
		cr_expect_str_empty(why);
	cr_log_info("auto resolves to %s here%s%s", vmm_accel_name(a),
	    why[0] ? ": " : "", why);
	if (access("/dev/kvm", F_OK) == -1)
		cr_expect_str_eq(why, "/dev/kvm: No such file or directory");
}

/* The collector appliance: the disk read-only, no NIC, no screen, a port. */
Test(qemu_argv, offline_collector)
{
	struct vmm_spec	  s = base_spec();
	char		**argv;
	size_t		  i;

	s.offline = 1;
	s.seed = "/var/lib/labd/vms/demo-alice/offline/paths";
	argv = build_ok(&s);
	cr_expect_str_eq(opt_nth(argv, "-add-fd", 0),
	    "fd=5,set=1,opaque=disk-ro");
	cr_expect_str_eq(opt_nth(argv, "-blockdev", 0),
	    "driver=qcow2,node-name=disk0,read-only=on,file.driver=file,"
	    "file.filename=/dev/fdset/1");
	for (i = 0; argv[i] != NULL; i++) {
		cr_expect(strstr(argv[i], "disk-rw") == NULL, "%s", argv[i]);
		cr_expect(strstr(argv[i], "virtio-net") == NULL, "%s", argv[i]);
		cr_expect(strstr(argv[i], "hostfwd") == NULL, "%s", argv[i]);
		cr_expect(strstr(argv[i], "VGA") == NULL, "%s", argv[i]);
	}
	cr_expect(!has(argv, "-netdev"));
	cr_expect(!has(argv, "-vnc"));
	cr_expect_str_eq(opt(argv, "-nic"), "none");
	cr_expect(has(argv, "-no-reboot"));
	cr_expect_str_eq(opt_nth(argv, "-chardev", 0),
	    "socket,id=chan0,fd=9");
	cr_expect(has(argv, "virtserialport,chardev=chan0,name=labd.collect"));
	/* The paths disk goes where the seed goes: raw and read-only. */
	cr_expect_str_eq(opt_nth(argv, "-blockdev", 1),
	    "driver=raw,node-name=seed0,read-only=on,file.driver=file,"
	    "file.filename=/dev/fdset/2");
	cr_expect(has(argv, "-sandbox"));
	vmm_argv_free(argv);
}
