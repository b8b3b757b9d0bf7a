/* SPDX-License-Identifier: ISC */
/*
 * test_golden.c - instant clones' bookkeeping (labd/golden.c): the key of
 * a shape changes with what the guest sees (its files, command line,
 * RAM, CPUs) and with nothing else; the store's four answers; the seed
 * padded to the golden's size or refused; the go line a copy reads.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "labd/labd.h"
#include "labd/vmjob.h"

static char	dir[] = "/tmp/test_golden.XXXXXX";
static struct vmdef d;

static void
touch(const char *leaf, const char *text, char *path)
{
	FILE	*f;

	snprintf(path, PATH_MAX, "%s/%s", dir, leaf);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

static void
setup(void)
{
	char	path[PATH_MAX];

	cr_assert_not_null(mkdtemp(dir));
	config_defaults(&labd->cfg);
	snprintf(labd->cfg.state_dir, sizeof(labd->cfg.state_dir), "%s", dir);
	snprintf(path, sizeof(path), "%s/templates", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/templates/tiny@1", dir);
	mkdir(path, 0700);
	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "c-ann");
	touch("templates/tiny@1/disk.qcow2", "disk", d.tpl_disk);
	touch("vmlinuz", "kernel", d.kernel);
	touch("initrd", "initrd", d.initrd);
	snprintf(d.append, sizeof(d.append), "console=ttyS0 quiet");
	d.memory_mb = 128;
	d.vcpus = 1;
	snprintf(d.vm_dir, sizeof(d.vm_dir), "%s/vm", dir);
	mkdir(d.vm_dir, 0700);
	/* Where vm_paths() puts c-ann's sockets. */
	snprintf(labd->cfg.run_dir, sizeof(labd->cfg.run_dir), "%s/run", dir);
	mkdir(labd->cfg.run_dir, 0700);
	snprintf(path, sizeof(path), "%s/run/vms", dir);
	mkdir(path, 0700);
	snprintf(d.run_dir, sizeof(d.run_dir), "%s/run/vms/c-ann", dir);
	mkdir(d.run_dir, 0700);
}

static void
teardown(void)
{
	rm_rf(dir);
}

TestSuite(golden, .init = setup, .fini = teardown);

/* The template's folder, a dash, 16 hex digits. */
static void
key(char *out)
{
	size_t	n;

	golden_key(&d, out, GOLDEN_KEYLEN);
	n = strlen(out);
	cr_assert_gt(n, 17, "%s", out);
	cr_assert_eq(out[n - 17], '-', "%s", out);
	cr_assert_eq(strspn(out + n - 16, "0123456789abcdef"), 16, "%s", out);
}

Test(golden, key_follows_what_the_guest_sees)
{
	char		k0[GOLDEN_KEYLEN], k1[GOLDEN_KEYLEN], k[GOLDEN_KEYLEN];
	struct vmdef	keep = d;
	struct timespec	ts[2] = { { 0, 0 }, { 1000000, 0 } };

	key(k0);
	key(k);
	cr_expect_str_eq(k, k0, "the same shape, the same key");
	/* Not the VM's own: its name, login, ports, folders. */
	snprintf(d.name, sizeof(d.name), "c-ben");
	snprintf(d.login, sizeof(d.login), "ben");
	snprintf(d.vm_dir, sizeof(d.vm_dir), "%s/other", dir);
	d.slot = 7;
	key(k);
	cr_expect_str_eq(k, k0, "a VM of its own, the same shape");
	d = keep;
	d.memory_mb = 256;
	key(k);
	cr_expect_str_neq(k, k0, "RAM");
	d = keep;
	d.vcpus = 2;
	key(k);
	cr_expect_str_neq(k, k0, "CPUs");
	d = keep;
	snprintf(d.append, sizeof(d.append), "console=ttyS0");
	key(k);
	cr_expect_str_neq(k, k0, "command line");
	/* "ab" + "c" is not "a" + "bc": fields do not run together. */
	d = keep;
	snprintf(d.firmware, sizeof(d.firmware), "x");
	key(k);
	cr_expect_str_neq(k, k0, "firmware");
	memcpy(k1, k, sizeof(k));
	d = keep;
	snprintf(d.append, sizeof(d.append), "console=ttyS0 quietx");
	key(k);
	cr_expect_str_neq(k, k1, "the end of one field, the start of the next");
	d = keep;
	/* A template built again: same path, another file. */
	cr_assert_eq(utimensat(AT_FDCWD, d.kernel, ts, 0), 0);
	key(k);
	cr_expect_str_neq(k, k0, "a kernel of another time");
	memcpy(k0, k, sizeof(k));
	unlink(d.initrd);
	key(k);
	cr_expect_str_neq(k, k0, "no initrd any more");
}

Test(golden, key_follows_the_qemu_found_in_path)
{
	char		k0[GOLDEN_KEYLEN], k[GOLDEN_KEYLEN], bin[PATH_MAX],
			qemu[PATH_MAX];
	struct timespec	ts[2] = { { 0, 0 }, { 2000000, 0 } };

	snprintf(bin, sizeof(bin), "%s/bin", dir);
	cr_assert_eq(mkdir(bin, 0700), 0);
	touch("bin/qemu-test", "#!/bin/sh\n", qemu);
	cr_assert_eq(chmod(qemu, 0755), 0);
	cr_assert_eq(setenv("PATH", bin, 1), 0);
	snprintf(labd->cfg.qemu, sizeof(labd->cfg.qemu), "qemu-test");
	key(k0);
	key(k);
	cr_expect_str_eq(k, k0);
	/* QEMU upgraded: the same name, another file. */
	cr_assert_eq(utimensat(AT_FDCWD, qemu, ts, 0), 0);
	key(k);
	cr_expect_str_neq(k, k0, "a QEMU of another time, found in PATH");
}

Test(golden, the_store_answers)
{
	char	k[GOLDEN_KEYLEN], path[PATH_MAX], disk[PATH_MAX], err[256];

	key(k);
	cr_expect_eq(golden_have(k), GOLDEN_ABSENT);
	touch("vm/disk.qcow2", "golden", disk);
	cr_assert_eq(golden_keep(k, disk, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(access(disk, F_OK), -1, "the VM's disk became it");
	cr_assert_eq(golden_path(k, "qcow2", path, sizeof(path)), 0);
	cr_expect_eq(access(path, R_OK), 0, "%s", path);
	cr_expect_eq(golden_have(k), GOLDEN_READY);
	golden_made(k, 0);	/* a worker's attempt failed */
	cr_expect_eq(golden_have(k), GOLDEN_FAILED, "failed wins till restart");
	/* One that does not load: removed, for the next labd to make. */
	golden_discard(k);
	cr_expect_eq(access(path, F_OK), -1, "%s removed", path);
	cr_expect_eq(golden_have(k), GOLDEN_FAILED);
	/* Another shape: a guest with no golden point, kept on disk. */
	d.memory_mb = 512;
	key(k);
	cr_expect_eq(golden_have(k), GOLDEN_ABSENT);
	golden_unsupported(k, d.name);
	cr_expect_eq(golden_have(k), GOLDEN_UNSUPPORTED);
	cr_assert_eq(golden_path(k, "none", path, sizeof(path)), 0);
	cr_expect_eq(access(path, R_OK), 0, "%s", path);
}

static enum golden_have	claimed = GOLDEN_ABSENT;
static volatile int	claim_done;

static void *
claim_thread(void *arg)
{
	claimed = golden_claim(arg);
	claim_done = 1;
	return NULL;
}

Test(golden, one_makes_the_others_wait)
{
	char		k[GOLDEN_KEYLEN], k2[GOLDEN_KEYLEN], disk[PATH_MAX],
			err[256];
	pthread_t	t;

	key(k);
	cr_assert_eq(golden_claim(k), GOLDEN_ABSENT, "the first makes it");
	cr_expect_eq(golden_have(k), GOLDEN_MAKING);
	/* Another shape is not held up by this one. */
	d.vcpus = 2;
	key(k2);
	cr_expect_eq(golden_claim(k2), GOLDEN_ABSENT);
	golden_made(k2, 0);
	cr_expect_eq(golden_have(k2), GOLDEN_FAILED, "made, not ok: failed");
	/* A second VM of the shape waits for the first's golden. */
	cr_assert_eq(pthread_create(&t, NULL, claim_thread, k), 0);
	usleep(200000);
	cr_expect_eq(claim_done, 0, "it waits while the golden is made");
	touch("vm/disk.qcow2", "golden", disk);
	cr_assert_eq(golden_keep(k, disk, err, sizeof(err)), 0, "%s", err);
	golden_made(k, 1);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_expect_eq(claim_done, 1);
	cr_expect_eq(claimed, GOLDEN_READY, "then starts from it");
	cr_expect_eq(golden_claim(k), GOLDEN_READY);
}

static int
golden_files(void)
{
	char	cmd[PATH_MAX + 64];
	FILE	*p;
	int	n = -1;

	snprintf(cmd, sizeof(cmd), "ls %s/golden | wc -l", dir);
	cr_assert_not_null(p = popen(cmd, "r"));
	cr_assert_eq(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

Test(golden, one_golden_a_template_and_gone_with_it)
{
	char	k1[GOLDEN_KEYLEN], k2[GOLDEN_KEYLEN], path[PATH_MAX],
		disk[PATH_MAX], err[256];

	key(k1);
	cr_expect(strncmp(k1, "tiny@1-", 7) == 0, "named by its template: %s",
	    k1);
	touch("vm/disk.qcow2", "golden 1", disk);
	cr_assert_eq(golden_keep(k1, disk, err, sizeof(err)), 0, "%s", err);
	/* Another template's golden is not this one's to replace. */
	snprintf(path, sizeof(path), "%s/golden/tiny@10-0123456789abcdef.qcow2",
	    dir);
	touch("golden/tiny@10-0123456789abcdef.qcow2", "other", path);
	cr_expect_eq(golden_files(), 2);
	/* The same template, another QEMU: the new golden replaces it. */
	d.memory_mb = 256;
	key(k2);
	cr_assert_str_neq(k1, k2);
	touch("vm/disk.qcow2", "golden 2", disk);
	cr_assert_eq(golden_keep(k2, disk, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(golden_have(k1), GOLDEN_ABSENT, "the old one removed");
	cr_expect_eq(golden_have(k2), GOLDEN_READY);
	cr_expect_eq(golden_files(), 2, "tiny@10's stays");
	/* template rm tiny@1: its golden goes, tiny@10's stays. */
	snprintf(path, sizeof(path), "%s/templates/tiny@1", dir);
	golden_forget(path);
	cr_expect_eq(golden_have(k2), GOLDEN_ABSENT);
	cr_expect_eq(golden_files(), 1);
	snprintf(path, sizeof(path), "%s/golden/tiny@10-0123456789abcdef.qcow2",
	    dir);
	cr_expect_eq(access(path, F_OK), 0);
}

Test(golden, seed_padded_or_refused)
{
	char		path[PATH_MAX], err[256];
	struct stat	st;
	int		fd;

	touch("seed.iso", "CD001", path);
	cr_assert_eq(golden_seed_fit(path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_size, GOLDEN_SEED_CAP);
	/* Padded again: nothing changes. */
	cr_assert_eq(golden_seed_fit(path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_size, GOLDEN_SEED_CAP);
	cr_assert_geq(fd = open(path, O_WRONLY), 0);
	cr_assert_eq(ftruncate(fd, GOLDEN_SEED_CAP + 1), 0);
	close(fd);
	cr_expect_eq(golden_seed_fit(path, err, sizeof(err)), -1);
	cr_expect(strstr(err, "larger than a golden's seed disk") != NULL,
	    "%s", err);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_size, GOLDEN_SEED_CAP + 1, "left as it was");
	snprintf(path, sizeof(path), "%s/none.iso", dir);
	cr_expect_eq(golden_seed_fit(path, err, sizeof(err)), -1);
}

/*
 * A go line to d's agent socket, as a QEMU would take it: buf gets it
 * (buflen > 1), *eof whether the port was closed after it.  The socket
 * is gone after.
 */
static int
go_line(char *buf, size_t buflen, int *eof)
{
	struct sockaddr_un	sun;
	char			err[256], rest[16];
	int			l, c, n;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", d.run_dir,
	    VMM_AGENT_SOCK);
	cr_assert_geq(l = socket(AF_UNIX, SOCK_STREAM, 0), 0);
	cr_assert_eq(bind(l, (struct sockaddr *)&sun, sizeof(sun)), 0);
	cr_assert_eq(listen(l, 1), 0);
	cr_assert_eq(golden_go(d.name, "52:54:00:12:34:56", err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_geq(c = accept(l, NULL, NULL), 0);
	n = (int)read(c, buf, buflen - 1);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	*eof = read(c, rest, sizeof(rest)) == 0;
	close(c);
	close(l);
	unlink(sun.sun_path);
	return n;
}

Test(golden, the_go_line)
{
	char		buf[512], hex[2 * GOLDEN_RANDOM + 1], mac[32], err[256];
	long long	t;
	int		n, eof;
	time_t		now = time(NULL);

	n = go_line(buf, sizeof(buf), &eof);
	cr_assert_eq(sscanf(buf, "go %lld %64[0-9a-f] %31s", &t, hex, mac), 3,
	    "%s", buf);
	cr_expect(t >= now && t <= now + 5, "the host's clock: %lld", t);
	cr_expect_eq(strlen(hex), 2 * GOLDEN_RANDOM);
	cr_expect_str_eq(mac, "52:54:00:12:34:56");
	cr_expect_eq(buf[n - 1], '\n', "one whole line");
	cr_expect_eq(strchr(buf, '\n'), buf + n - 1, "and only one");
	cr_expect(eof, "the port closed after it: the guest reads one line");
	/* Two lines, two draws of the host's RNG. */
	go_line(buf, sizeof(buf), &eof);
	cr_expect(strstr(buf, hex) == NULL, "the same random bytes twice");
	/* No QEMU there: an error that names the socket. */
	cr_expect_eq(golden_go(d.name, "52:54:00:12:34:56", err,
	    sizeof(err)), -1);
	cr_expect(strstr(err, VMM_AGENT_SOCK) != NULL, "%s", err);
}

Test(golden, took_its_go_line)
{
	char	path[PATH_MAX];

	cr_expect_eq(golden_took(&d, 100), 0, "no console yet");
	touch("vm/serial.log", "tiny: eth0\r\nlabd-golden: tiny\r\n", path);
	cr_expect_eq(golden_took(&d, 100), 0, "the golden's line is not it");
	touch("vm/serial.log", "x\r\nlabd-cloned: clock RNG MAC\r\n", path);
	cr_expect_eq(golden_took(&d, 100), 1);
}
