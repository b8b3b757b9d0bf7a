/* SPDX-License-Identifier: ISC */
/*
 * cglimit.c - what each VM's QEMU may take: memory, CPU, I/O, processes.
 *
 * A student's busy loop or a guest that leaks must not starve the other
 * VMs of a class, so each QEMU runs under limits of its own, set in its
 * cgroups before QEMU is exec'd (confine.c, in the privileged helper):
 *
 *   memory	memory.max (and memory.swap.max 0), so that a QEMU that grows
 *		past its guest's RAM and its own needs is stopped by the
 *		kernel in its group, not by the OOM killer in another's
 *   cpu	cpu.weight: equal for all (100), so that CPU is shared by VM,
 *		not by thread
 *   io		io.weight 100, the same for the disks
 *   pids	pids.max, a bound on QEMU's threads
 *
 * Each controller is used where the host has it: on the cgroup v2
 * hierarchy when it is there (enabled in the parent's subtree_control),
 * else on its cgroup v1 hierarchy, in a folder LABD_CGROUP/VM of its own,
 * with the v1 files (memory.limit_in_bytes, cpu.shares, blkio.weight,
 * pids.max).  Hosts of today are v2; older and hybrid ones mount cpu,
 * memory, blkio and pids as v1.  What each controller uses is logged once
 * at start and shown in labctl status.
 *
 * The defaults never break a VM: memory is the guest's RAM, TCG's
 * translation cache and a margin measured on the tiny template (QEMU's
 * own peak beyond those, see LABD_MEM_MARGIN_MB); a course may set its
 * own (course set C memory_max=1G cpu_weight=200 pids_max=512), applied
 * at each VM's next start.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labd/labd.h"

enum { CG_MEMORY, CG_CPU, CG_IO, CG_PIDS, CG_COUNT };
enum { CG_NONE, CG_V1, CG_V2 };

/* Each controller by its v2 and its v1 name. */
static const struct {
	const char	*v2;
	const char	*v1;
} ctl_names[CG_COUNT] = {
	{ "memory", "memory" },
	{ "cpu", "cpu" },
	{ "io", "blkio" },
	{ "pids", "pids" },
};

/* Where each controller is, found at start (root only). */
static struct {
	int	where;			/* CG_NONE, CG_V1, CG_V2 */
	char	base[PATH_MAX];	/* v1: its hierarchy's LABD_CGROUP */
} ctl[CG_COUNT];
static char	v2_base[PATH_MAX];	/* v2's LABD_CGROUP, "" none */
static char	io_note[128];		/* why there is no io weight */

/* --- the settings, checked ---------------------------------------------- */

int
cglimit_size_parse(const char *s, const char *field, long long *bytes,
    char *err, size_t errlen)
{
	static const char	 units[] = "KMGT";
	const char		*u;
	char			*end;
	unsigned long long	 n;
	int			 shift = 0;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		goto bad;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0)
		goto bad;
	if (*end != '\0') {
		if ((u = strchr(units, toupper((unsigned char)*end))) == NULL)
			goto bad;
		shift = 10 * (int)(u - units + 1);
		end++;
		/* 512M, 512MB, 512MiB: all the same, powers of two. */
		if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0)
			end += strlen(end);
		if (*end != '\0')
			goto bad;
	}
	if (n == 0 || n > (unsigned long long)LABD_MEM_MAX_BYTES >> shift) {
		errf(err, errlen, "%s: \"%.32s\" is out of range (1 byte to"
		    " 1T)", field, s);
		return -1;
	}
	*bytes = (long long)(n << shift);
	return 0;
bad:
	errf(err, errlen, "%s: \"%.32s\" is not a size such as 512M or 1G",
	    field, s != NULL ? s : "");
	return -1;
}

/*
 * Guest RAM, TCG's translation cache (QEMU's default when tb_size is 0 is
 * 1 GiB, reserved but touched only as it fills) and QEMU's own margin.
 */
long long
cglimit_memory_auto(unsigned memory_mb, unsigned tb_size_mb, int tcg)
{
	long long	mb = (long long)memory_mb + LABD_MEM_MARGIN_MB;

	if (tcg)
		mb += tb_size_mb != 0 ? tb_size_mb : 1024;
	return mb << 20;
}

void
cglimit_defaults(struct cg_limits *l, unsigned memory_mb,
    unsigned tb_size_mb, int tcg)
{
	l->memory_max = cglimit_memory_auto(memory_mb, tb_size_mb, tcg);
	l->cpu_weight = LABD_CPU_WEIGHT;
	l->io_weight = LABD_IO_WEIGHT;
	l->pids_max = LABD_PIDS_MAX;
}

int
cglimit_valid(const struct cg_limits *l, char *err, size_t errlen)
{
	if (l->memory_max < (1LL << 20) || l->memory_max > LABD_MEM_MAX_BYTES)
		errf(err, errlen, "memory_max: %lld is out of range",
		    l->memory_max);
	else if (l->cpu_weight < 1 || l->cpu_weight > 10000)
		errf(err, errlen, "cpu_weight: %u is not 1 to 10000",
		    l->cpu_weight);
	else if (l->io_weight < 1 || l->io_weight > 10000)
		errf(err, errlen, "io_weight: %u is not 1 to 10000",
		    l->io_weight);
	else if (l->pids_max < LABD_PIDS_MIN || l->pids_max > LABD_PIDS_TOP)
		errf(err, errlen, "pids_max: %u is not %u to %u", l->pids_max,
		    LABD_PIDS_MIN, LABD_PIDS_TOP);
	else
		return 0;
	return -1;
}

/* --- where the controllers are (root, at start) -------------------------- */

/* Does the space-separated list in file path name word? */
static int
file_has_word(const char *path, const char *word)
{
	char	 buf[1024], *p, *save;
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (p = strtok_r(buf, " \n", &save); p != NULL;
	    p = strtok_r(NULL, " \n", &save))
		if (strcmp(p, word) == 0)
			return 1;
	return 0;
}

/* One line of text into dir/file; -1 with err. */
static int
cg_write(const char *dir, const char *file, char *err, size_t errlen,
    const char *fmt, ...)
{
	char	path[PATH_MAX], text[64];
	va_list	ap;
	int	fd, len, e;

	va_start(ap, fmt);
	len = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1 ||
	    write(fd, text, (size_t)len) != len) {
		e = errno;
		if (fd != -1)
			close(fd);
		errf(err, errlen, "cannot write %s to %s: %s", text, path,
		    strerror(e));
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

/* The v1 hierarchy a controller is mounted on, from /proc/self/mounts. */
static int
v1_mount(const char *name, char *out, size_t outlen)
{
	char	 line[1024], dir[512], type[32], opts[512], *p, *save;
	FILE	*f;
	int	 found = 0;

	if ((f = fopen("/proc/self/mounts", "re")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%*s %511s %31s %511s", dir, type, opts) !=
		    3 || strcmp(type, "cgroup") != 0)
			continue;
		for (p = strtok_r(opts, ",", &save); p != NULL && !found;
		    p = strtok_r(NULL, ",", &save))
			if (strcmp(p, name) == 0) {
				snprintf(out, outlen, "%s", dir);
				found = 1;
			}
	}
	fclose(f);
	return found;
}

/* Controller i on v2: offered by the root, enabled down to base. */
static int
v2_enable(const char *mnt, int i)
{
	char	path[PATH_MAX], e[LABD_ERRLEN];

	snprintf(path, sizeof(path), "%s/cgroup.controllers", mnt);
	if (!file_has_word(path, ctl_names[i].v2))
		return 0;
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", v2_base);
	if (file_has_word(path, ctl_names[i].v2))
		return 1;
	/* The root's first (systemd's hosts have it on already). */
	if (cg_write(mnt, "cgroup.subtree_control", e, sizeof(e), "+%s",
	    ctl_names[i].v2) == -1 ||
	    cg_write(v2_base, "cgroup.subtree_control", e, sizeof(e), "+%s",
	    ctl_names[i].v2) == -1) {
		log_warnx("cgroup v2 %s controller: %s", ctl_names[i].v2, e);
		return 0;
	}
	return 1;
}

void
cglimit_init(const char *v2_mnt, const char *v2_folder)
{
	char	mnt[PATH_MAX], path[PATH_MAX];
	int	i;

	snprintf(v2_base, sizeof(v2_base), "%s", v2_folder ? v2_folder : "");
	for (i = 0; i < CG_COUNT; i++) {
		ctl[i].where = CG_NONE;
		if (v2_base[0] != '\0' && v2_enable(v2_mnt, i)) {
			ctl[i].where = CG_V2;
			continue;
		}
		if (!v1_mount(ctl_names[i].v1, mnt, sizeof(mnt)))
			continue;
		snprintf(ctl[i].base, sizeof(ctl[i].base), "%s/" LABD_CGROUP,
		    mnt);
		if (mkdir(ctl[i].base, 0755) == -1 && errno != EEXIST) {
			log_warn("cannot make %s", ctl[i].base);
			continue;
		}
		ctl[i].where = CG_V1;
	}
	/* v1's blkio.weight is there only with the CFQ or BFQ scheduler. */
	snprintf(path, sizeof(path), "%s/blkio.weight", ctl[CG_IO].base);
	if (ctl[CG_IO].where == CG_V1 && access(path, F_OK) == -1) {
		snprintf(io_note, sizeof(io_note), "blkio.weight absent (no"
		    " CFQ or BFQ scheduler): no io weight");
		ctl[CG_IO].where = CG_NONE;
	}
	log_info("per-VM limits: %s", cglimit_mode_text(path, sizeof(path)));
}

const char *
cglimit_mode_text(char *buf, size_t len)
{
	static const char	*where[] = { "none", "v1", "v2" };
	size_t			 used;
	int			 i, n[3] = { 0 };

	for (i = 0; i < CG_COUNT; i++)
		n[ctl[i].where]++;
	used = (size_t)snprintf(buf, len, "%s", n[CG_V1] && n[CG_V2] ?
	    "cgroup v1+v2" : n[CG_V2] ? "cgroup v2" : n[CG_V1] ? "cgroup v1" :
	    "none");
	if (n[CG_NONE] == CG_COUNT)
		return buf;
	for (i = 0; i < CG_COUNT && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s %s",
		    i ? ", " : " (", ctl_names[i].v2, where[ctl[i].where]);
	if (used < len)
		snprintf(buf + used, len - used, ")%s%s", io_note[0] ? "; " :
		    "", io_note);
	return buf;
}

json_t *
cglimit_status(void)
{
	static const char	*where[] = { "none", "v1", "v2" };
	char			 text[256];
	json_t			*o;
	int			 i;

	o = json_pack("{s:s}", "mode", cglimit_mode_text(text, sizeof(text)));
	for (i = 0; i < CG_COUNT; i++)
		json_object_set_new(o, ctl_names[i].v2,
		    json_string(where[ctl[i].where]));
	return o;
}

int
cglimit_active(void)
{
	int	i;

	for (i = 0; i < CG_COUNT; i++)
		if (ctl[i].where != CG_NONE)
			return 1;
	return 0;
}

/* --- one VM's folders ---------------------------------------------------- */

/* An optional file (memory.swap.max without swap accounting): ENOENT ok. */
static int
cg_write_opt(const char *dir, const char *file, char *err, size_t errlen,
    long long v)
{
	if (cg_write(dir, file, err, errlen, "%lld", v) == -1 &&
	    errno != ENOENT)
		return -1;
	return 0;
}

/* Controller i's limit in folder dir, in v1's or v2's files. */
static int
cg_limit(int i, const char *dir, const struct cg_limits *l, char *err,
    size_t errlen)
{
	int	v2 = ctl[i].where == CG_V2;

	switch (i) {
	case CG_MEMORY:
		/* No swap either: memory_max is what the VM may hold. */
		if (v2)
			return cg_write(dir, "memory.max", err, errlen, "%lld",
			    l->memory_max) == -1 || cg_write_opt(dir,
			    "memory.swap.max", err, errlen, 0) == -1 ? -1 : 0;
		/*
		 * v1 refuses a memory limit above memory+swap's (EINVAL),
		 * which a folder kept from the last start may hold: memsw
		 * is lifted first, then both are set.
		 */
		return cg_write_opt(dir, "memory.memsw.limit_in_bytes", err,
		    errlen, -1) == -1 || cg_write(dir, "memory.limit_in_bytes",
		    err, errlen, "%lld", l->memory_max) == -1 ||
		    cg_write_opt(dir, "memory.memsw.limit_in_bytes", err,
		    errlen, l->memory_max) == -1 ? -1 : 0;
	case CG_CPU:
		return v2 ? cg_write(dir, "cpu.weight", err, errlen, "%u",
		    l->cpu_weight) : cg_write(dir, "cpu.shares", err, errlen,
		    "%u", cglimit_v1_shares(l->cpu_weight));
	case CG_IO:
		return v2 ? cg_write_opt(dir, "io.weight", err, errlen,
		    l->io_weight) : cg_write(dir, "blkio.weight", err, errlen,
		    "%u", cglimit_v1_blkio(l->io_weight));
	default:
		return cg_write(dir, "pids.max", err, errlen, "%u",
		    l->pids_max);
	}
}

/* v2's weight 100 is v1's 1024 shares; v1 takes 2 to 262144. */
unsigned
cglimit_v1_shares(unsigned weight)
{
	unsigned long	s = (unsigned long)weight * 1024 / 100;

	return s < 2 ? 2 : s > 262144 ? 262144 : (unsigned)s;
}

/* v2's io weight 1..10000 (100 default) to blkio's 10..1000 (500). */
unsigned
cglimit_v1_blkio(unsigned weight)
{
	unsigned long	w = (unsigned long)weight * 5;

	return w < 10 ? 10 : w > 1000 ? 1000 : (unsigned)w;
}

/* A folder made afresh: a stale one (its QEMU gone) is empty. */
static int
cg_mkdir(const char *dir, char *err, size_t errlen)
{
	rmdir(dir);
	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		errf(err, errlen, "cannot make cgroup %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
cglimit_make(const char *vm, const char *v2dir, const struct cg_limits *l,
    char dirs[][PATH_MAX], size_t *ndirs, char *err, size_t errlen)
{
	size_t	n = 0, k;
	int	i;

	if (v2dir != NULL) {
		snprintf(dirs[n], PATH_MAX, "%s", v2dir);
		if (cg_mkdir(dirs[n++], err, errlen) == -1)
			goto fail;
	}
	for (i = 0; i < CG_COUNT; i++) {
		if (ctl[i].where == CG_NONE)
			continue;
		if (ctl[i].where == CG_V2) {
			if (v2dir == NULL || cg_limit(i, v2dir, l, err,
			    errlen) == -1)
				goto fail;
			continue;
		}
		/* Two controllers may share one v1 hierarchy (cpu,cpuacct). */
		snprintf(dirs[n], PATH_MAX, "%s/%s", ctl[i].base, vm);
		for (k = 0; k < n && strcmp(dirs[k], dirs[n]) != 0; k++)
			;
		if (k == n && cg_mkdir(dirs[n++], err, errlen) == -1)
			goto fail;
		if (cg_limit(i, dirs[k], l, err, errlen) == -1)
			goto fail;
	}
	*ndirs = n;
	return 0;
fail:
	while (n > 0)
		rmdir(dirs[--n]);
	return -1;
}

int
cglimit_remove(const char *vm)
{
	char	path[PATH_MAX];
	int	i, gone = 1;

	for (i = 0; i < CG_COUNT; i++) {
		if (ctl[i].where != CG_V1)
			continue;
		snprintf(path, sizeof(path), "%s/%s", ctl[i].base, vm);
		if (rmdir(path) == -1 && errno != ENOENT) {
			if (errno != EBUSY)
				log_warn("rmdir %s", path);
			else
				gone = 0;
		}
	}
	return gone;
}
