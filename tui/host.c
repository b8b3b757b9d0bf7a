/* SPDX-License-Identifier: ISC */
/*
 * host.c - what the labd host's kernel says: the CPU and memory meters of
 * the header, KSM's savings, and each VM's QEMU process (CPU time and
 * resident memory).  labtui runs on the labd host, so it reads /proc and
 * /sys itself rather than asking labd: this costs labd nothing and is as
 * fresh as the screen.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui/labtui.h"

/* Read a small file into buf, NUL-terminated; -1 when it cannot. */
static int
slurp(const char *path, char *buf, size_t len)
{
	ssize_t	n;
	size_t	off = 0;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (off < len - 1 && (n = read(fd, buf + off, len - 1 - off)) > 0)
		off += n;
	close(fd);
	buf[off] = '\0';
	return off > 0 ? 0 : -1;
}

/* "Key:   123 kB" in a /proc file's text; -1 when absent. */
static long long
field_kb(const char *text, const char *key)
{
	const char	*p = text;
	size_t		 len = strlen(key);

	while ((p = strstr(p, key)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[len] == ':')
			return strtoll(p + len + 1, NULL, 10);
		p += len;
	}
	return -1;
}

void
host_sample(struct host *h)
{
	char			 buf[8192];
	unsigned long long	 v[10] = { 0 }, busy, total = 0;
	long long		 pages;
	int			 i;

	if (h->clk_tck == 0) {
		h->clk_tck = sysconf(_SC_CLK_TCK);
		h->ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
		if (h->clk_tck <= 0)
			h->clk_tck = 100;
	}
	/* cpu  user nice system idle iowait irq softirq steal guest gnice */
	if (slurp("/proc/stat", buf, sizeof(buf)) == 0 &&
	    sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) >= 4) {
		for (i = 0; i < 8; i++)
			total += v[i];
		busy = total - v[3] - v[4];
		if (h->total != 0 && total > h->total)
			h->cpu = 100.0 * (double)(busy - h->busy) /
			    (double)(total - h->total);
		h->busy = busy;
		h->total = total;
	}
	if (slurp("/proc/meminfo", buf, sizeof(buf)) == 0) {
		h->mem_total_kb = field_kb(buf, "MemTotal");
		h->mem_avail_kb = field_kb(buf, "MemAvailable");
	}
	/* pages_sharing: how many pages KSM saved (the kernel's own words). */
	h->ksm_saved_kb = 0;
	if (slurp("/sys/kernel/mm/ksm/pages_sharing", buf, sizeof(buf)) == 0 &&
	    (pages = strtoll(buf, NULL, 10)) > 0)
		h->ksm_saved_kb = pages * (sysconf(_SC_PAGESIZE) / 1024);
}

/*
 * One QEMU: utime+stime from /proc/PID/stat (after the command name,
 * which may hold spaces and parentheses: hence the last ')'), VmRSS from
 * /proc/PID/status.  CPU% is the time used since the last sample.
 */
void
host_sample_vm(const struct host *h, struct vm_row *r, double now)
{
	char			 path[64], buf[4096], *p;
	unsigned long long	 ut, st;

	if (r->pid <= 0) {
		r->cpu = 0;
		r->rss_kb = 0;
		r->ticks_at = 0;
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", r->pid);
	if (slurp(path, buf, sizeof(buf)) == -1 ||
	    (p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu"
	    " %llu", &ut, &st) != 2) {
		r->cpu = 0;
		r->rss_kb = 0;
		r->ticks_at = 0;
		return;
	}
	if (r->ticks_at != 0 && r->ticks_pid == r->pid && now > r->ticks_at &&
	    ut + st >= r->ticks && h->clk_tck > 0)
		r->cpu = 100.0 * (double)(ut + st - r->ticks) /
		    (double)h->clk_tck / (now - r->ticks_at);
	else
		r->cpu = 0;
	r->ticks = ut + st;
	r->ticks_at = now;
	r->ticks_pid = r->pid;
	snprintf(path, sizeof(path), "/proc/%d/status", r->pid);
	if (slurp(path, buf, sizeof(buf)) == 0)
		r->rss_kb = field_kb(buf, "VmRSS");
}
