/* SPDX-License-Identifier: ISC */
/*
 * admit.c - whether a class fits this host, and a watch on what is left.
 *
 * A course is refused at creation, with the numbers, when its guests'
 * RAM plus QEMU's own memory a VM does not fit the memory the host has
 * available less a reserve, or when the disks it may grow to do not fit
 * the free space of state_dir less a reserve: better told now than met
 * by the OOM killer in the middle of a class.  QEMU's own memory is
 * measured on the VMs that run (resident memory beyond the guest's RAM),
 * or taken from what this accelerator costs when none runs.  A disk may
 * grow to its RAM snapshot (up to the guest's RAM) and an overlay's
 * start.  --overcommit says the instructor knows better (KSM, guests that
 * never touch all their RAM).
 *
 * Every ADMIT_WATCH_MS labd looks again; memory or disk below its
 * reserve is logged once when it happens and once when it is over, and
 * shown in status (labctl status, labtui), with QEMU's own memory as
 * measured then.
 */
#include <sys/statvfs.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labd/labd.h"

#define ADMIT_OVERHEAD_TCG_MB	128	/* QEMU beyond guest RAM, measured */
#define ADMIT_OVERHEAD_KVM_MB	64
#define ADMIT_DISK_EXTRA_MB	64	/* an overlay's start, its logs */
#define ADMIT_WATCH_MS		10000

struct room {
	long long	mem_total_mb;
	long long	mem_avail_mb;
	long long	disk_total_mb;
	long long	disk_free_mb;
};

/* The watch's last look: status reports it rather than look again. */
static struct {
	int		mem_low;
	int		disk_low;
	long long	over_mb;	/* overhead_mb() then */
	int		over_measured;
} watch;

static long long
meminfo_mb(const char *buf, const char *key)
{
	const char	*p = strstr(buf, key);

	return p != NULL ? strtoll(p + strlen(key), NULL, 10) / 1024 : -1;
}

/* What the host has; -1 with err. */
static int
room_read(struct room *r, char *err, size_t errlen)
{
	struct statvfs	 sv;
	char		 buf[4096];
	size_t		 n;
	FILE		*f;

	if ((f = fopen("/proc/meminfo", "re")) == NULL) {
		errf(err, errlen, "cannot read /proc/meminfo");
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	r->mem_total_mb = meminfo_mb(buf, "MemTotal:");
	r->mem_avail_mb = meminfo_mb(buf, "MemAvailable:");
	if (statvfs(labd->cfg.state_dir, &sv) == -1 || r->mem_total_mb < 0 ||
	    r->mem_avail_mb < 0) {
		errf(err, errlen, "cannot tell the host's free memory and disk");
		return -1;
	}
	r->disk_total_mb = (long long)((unsigned long long)sv.f_blocks *
	    sv.f_frsize >> 20);
	r->disk_free_mb = (long long)((unsigned long long)sv.f_bavail *
	    sv.f_frsize >> 20);
	return 0;
}

/* A number from one of KSM's files in sysfs; 0 when none. */
static long long
ksm_read(const char *name)
{
	char		 path[128];
	long long	 n = 0;
	FILE		*f;

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", name);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	if (fscanf(f, "%lld", &n) != 1)
		n = 0;
	fclose(f);
	return n;
}

/*
 * What KSM saves now, MiB: pages merged away (pages_sharing), and pages
 * merged with the zero page when use_zero_pages is on (ksm_zero_pages,
 * since Linux 6.10; they are not in pages_sharing).
 */
static long long
ksm_saved_mb(void)
{
	return (ksm_read("pages_sharing") + ksm_read("ksm_zero_pages")) *
	    (sysconf(_SC_PAGESIZE) / 1024) / 1024;
}

/* What is kept free: a tenth of the memory, a twentieth of the disk. */
static long long
mem_reserve(const struct room *r)
{
	return r->mem_total_mb / 10 > 1024 ? r->mem_total_mb / 10 : 1024;
}

static long long
disk_reserve(const struct room *r)
{
	return r->disk_total_mb / 20 > 2048 ? r->disk_total_mb / 20 : 2048;
}

/* A running QEMU's resident memory, MiB; -1 when it cannot be read. */
static long long
qemu_rss_mb(pid_t pid)
{
	char	path[64], line[256];
	long long kb = -1;
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtoll(line + 6, NULL, 10);
	fclose(f);
	return kb < 0 ? -1 : kb / 1024;
}

/*
 * QEMU's own memory a VM beyond its guest's RAM: the mean over the VMs
 * that are ready, or the accelerator's estimate.  *measured says which.
 */
static long long
overhead_mb(int *measured)
{
	sqlite3_stmt	*st;
	struct vm	*vm;
	long long	 sum = 0, rss;
	int		 n = 0;

	st = db_prepare("SELECT t.memory_mb FROM vms v JOIN courses c ON"
	    " c.id = v.course_id JOIN templates t ON t.id = c.template_id"
	    " WHERE v.id = ?");
	for (vm = vm_list(); vm != NULL; vm = vm->next) {
		if (vm->state != VM_READY || vm->pid <= 0 ||
		    (rss = qemu_rss_mb(vm->pid)) < 0)
			continue;
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, vm->id);
		if (sqlite3_step(st) != SQLITE_ROW)
			continue;
		rss -= sqlite3_column_int(st, 0);
		sum += rss > 0 ? rss : 0;
		n++;
	}
	sqlite3_finalize(st);
	*measured = n > 0;
	if (n > 0 && sum / n > 0)
		return sum / n;
	return labd->accel == VMM_ACCEL_KVM ? ADMIT_OVERHEAD_KVM_MB :
	    ADMIT_OVERHEAD_TCG_MB;
}

const char *
admit_course(int nvms, int memory_mb, char *err, size_t errlen)
{
	struct room	r;
	long long	over, need, have;
	int		measured;

	if (room_read(&r, err, errlen) == -1)
		return LABD_E_FAILED;
	over = overhead_mb(&measured);
	need = (long long)nvms * (memory_mb + over);
	have = r.mem_avail_mb - mem_reserve(&r);
	if (need > have) {
		errf(err, errlen, "%d VMs need about %lld MiB of memory (%d MiB"
		    " of guest RAM and %lld MiB of QEMU's own each, %s); the"
		    " host has %lld MiB available and keeps %lld MiB free, so"
		    " %lld fit: fewer students, a template with less memory,"
		    " or --overcommit (guests that never use all their RAM,"
		    " KSM)", nvms, need, memory_mb, over, measured ?
		    "measured on the VMs running" : "estimated", r.mem_avail_mb,
		    mem_reserve(&r), have > 0 ? have / (memory_mb + over) : 0);
		return LABD_E_FAILED;
	}
	need = (long long)nvms * (memory_mb + ADMIT_DISK_EXTRA_MB);
	have = r.disk_free_mb - disk_reserve(&r);
	if (need > have) {
		errf(err, errlen, "%d VMs may need %lld MiB of disk in %s (an"
		    " overlay and a RAM snapshot of up to %d MiB each); it has"
		    " %lld MiB free and keeps %lld MiB: free some space, or"
		    " --overcommit", nvms, need, labd->cfg.state_dir,
		    memory_mb + ADMIT_DISK_EXTRA_MB, r.disk_free_mb,
		    disk_reserve(&r));
		return LABD_E_FAILED;
	}
	return NULL;
}

json_t *
admit_status(void)
{
	struct room	 r;
	char		 err[128];
	json_t		*warn = json_array();

	if (room_read(&r, err, sizeof(err)) == -1)
		return json_pack("{s:o,s:s}", "warnings", warn, "error", err);
	if (r.mem_avail_mb < mem_reserve(&r))
		json_array_append_new(warn, json_sprintf("memory low: %lld MiB"
		    " available, below the %lld MiB kept free", r.mem_avail_mb,
		    mem_reserve(&r)));
	if (r.disk_free_mb < disk_reserve(&r))
		json_array_append_new(warn, json_sprintf("disk low: %lld MiB"
		    " free in %s, below the %lld MiB kept free",
		    r.disk_free_mb, labd->cfg.state_dir, disk_reserve(&r)));
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:b,s:I,s:o}",
	    "memory_total_mb", (json_int_t)r.mem_total_mb,
	    "memory_available_mb", (json_int_t)r.mem_avail_mb,
	    "disk_total_mb", (json_int_t)r.disk_total_mb,
	    "disk_free_mb", (json_int_t)r.disk_free_mb,
	    "vm_overhead_mb", (json_int_t)watch.over_mb,
	    "vm_overhead_measured", watch.over_measured, "ksm_saved_mb", (json_int_t)ksm_saved_mb(),
	    "warnings", warn);
}

/* Memory or disk below its reserve: said once, and once when over. */
/* Guests' console logs kept bounded, since a guest can write without end. */
static void
serial_logs_cap(void)
{
	struct vm	*vm;
	char		 vmdir[PATH_MAX], log[PATH_MAX];

	for (vm = vm_list(); vm != NULL; vm = vm->next) {
		if (vm->pid == 0 || vm_paths(vm->name, vmdir, NULL) == -1 ||
		    vmm_path(log, sizeof(log), vmdir, "serial.log") == -1)
			continue;
		switch (logcap_cut(log, LOGCAP_MAX, LOGCAP_KEEP)) {
		case 1:
			log_info("%s: console log over %lld MiB, cut to its"
			    " last %lld KiB", vm->name, LOGCAP_MAX >> 20,
			    LOGCAP_KEEP >> 10);
			break;
		case -1:
			log_warn("%s: cannot cut %s", vm->name, log);
			break;
		}
	}
}

static int
admit_watch(struct loop *l, void *arg)
{
	struct room	r;
	char		err[128];
	int		low;

	/* A file and a row per running VM: here, not at every status. */
	watch.over_mb = overhead_mb(&watch.over_measured);
	serial_logs_cap();
	diskfull_watch();	/* paused on a full disk, room again */
	if (room_read(&r, err, sizeof(err)) == -1)
		return ADMIT_WATCH_MS;
	low = r.mem_avail_mb < mem_reserve(&r);
	if (low != watch.mem_low) {
		if (low)
			log_warnx("memory low: %lld MiB available, below the"
			    " %lld MiB kept free: start no more VMs",
			    r.mem_avail_mb, mem_reserve(&r));
		else
			log_info("memory: %lld MiB available again",
			    r.mem_avail_mb);
		watch.mem_low = low;
	}
	low = r.disk_free_mb < disk_reserve(&r);
	if (low != watch.disk_low) {
		if (low)
			log_warnx("disk low: %lld MiB free in %s, below the"
			    " %lld MiB kept free", r.disk_free_mb,
			    labd->cfg.state_dir, disk_reserve(&r));
		else
			log_info("disk: %lld MiB free in %s again",
			    r.disk_free_mb, labd->cfg.state_dir);
		watch.disk_low = low;
	}
	return ADMIT_WATCH_MS;
}

void
admit_watch_start(void)
{
	admit_watch(labd->loop, NULL);
	loop_add_timer(labd->loop, ADMIT_WATCH_MS, admit_watch, NULL);
}
