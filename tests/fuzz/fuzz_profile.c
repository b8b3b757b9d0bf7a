/* SPDX-License-Identifier: ISC */
/*
 * fuzz_profile.c - a template profile on any bytes: profile_load()
 * (labd/profile.c over proto/ini.c) reads it from a private folder laid
 * out like tests/unit/golden/profile/, so that the seeds' disk.img,
 * vmlinuz, initrd.img and sub/ are there.  A profile it accepts names an
 * absolute disk and has hardware within its bounds.
 */
#include "labd/labd.h"
#include "tests/fuzz/fuzz.h"

#define MIN_MB		32
#define MAX_MB		(64 * 1024)
#define MAX_VCPUS	64

static const char	*profile_files[] = { "disk.img", "vmlinuz",
			    "initrd.img" };

/* The folder and its files, once; the path of the profile in it. */
static const char *
profile_path(void)
{
	static char	 path[PATH_MAX];
	char		 f[PATH_MAX];
	size_t		 i;

	if (path[0] != '\0')
		return path;
	snprintf(f, sizeof(f), "%s/sub", fuzz_dir());
	fuzz_must(mkdir(f, 0700) == 0, f);
	for (i = 0; i < sizeof(profile_files) / sizeof(profile_files[0]);
	    i++) {
		snprintf(f, sizeof(f), "%s/%s", fuzz_dir(), profile_files[i]);
		fuzz_write(f, (const uint8_t *)"x", 1);
	}
	snprintf(path, sizeof(path), "%s/template.ini", fuzz_dir());
	return path;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct template_profile	 p;
	const char		*path = profile_path();
	char			 err[LABD_ERRLEN];
	size_t			 i;

	fuzz_write(path, data, size);
	if (profile_load(path, &p, err, sizeof(err)) == -1) {
		FUZZ_CHECK(FUZZ_TERMINATED(err) && err[0] != '\0',
		    "refused without a message");
		return 0;
	}
	FUZZ_CHECK(FUZZ_TERMINATED(p.disk) && p.disk[0] == '/',
	    "disk '%s' is not absolute", p.disk);
	FUZZ_CHECK(FUZZ_TERMINATED(p.kernel) && FUZZ_TERMINATED(p.initrd) &&
	    FUZZ_TERMINATED(p.append) && FUZZ_TERMINATED(p.ready_line),
	    "a string not terminated");
	FUZZ_CHECK(p.kernel[0] != '\0' || (p.initrd[0] == '\0' &&
	    p.append[0] == '\0'), "initrd or append without a kernel");
	FUZZ_CHECK(strcmp(p.firmware, "bios") == 0 ||
	    strcmp(p.firmware, "uefi") == 0, "firmware '%.8s'", p.firmware);
	FUZZ_CHECK(p.memory_mb >= MIN_MB && p.memory_mb <= MAX_MB,
	    "memory %u MiB", p.memory_mb);
	FUZZ_CHECK(p.vcpus >= 1 && p.vcpus <= MAX_VCPUS, "%u vCPUs", p.vcpus);
	FUZZ_CHECK(p.nguest >= 1 && p.nguest <= LABD_MAX_GUEST_PORTS,
	    "%zu services", p.nguest);
	for (i = 0; i < p.nguest; i++)
		FUZZ_CHECK(p.guest_ports[i] != 0 && p.guest_names[i][0] != '\0',
		    "service %zu: '%s' port %u", i, p.guest_names[i],
		    p.guest_ports[i]);
	return 0;
}
