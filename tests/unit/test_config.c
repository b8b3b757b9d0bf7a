/* SPDX-License-Identifier: ISC */
/*
 * test_config.c - labd.ini and template profiles against golden files,
 * and the ini reader under both (proto/ini.c, with iniparser).
 *
 * Each tests/unit/golden/config/NAME.ini is loaded over the defaults and
 * the result, a dump of the config or "error: MESSAGE", must equal
 * NAME.out; the same for golden/profile/.  The runner, and how to update
 * the files, are in testutil.h.  Every error message there names the
 * file, and the line, section and key where there is one.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "labd/labd.h"
#include "proto/client.h"
#include "tests/unit/testutil.h"

/* --- labd.ini --------------------------------------------------------- */

/* The config as an ini that config_load reads back to the same config. */
static char *
config_dump(const struct labd_config *c)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f = open_memstream(&buf, &len);
	int	 i;
	struct in_addr	 sub;
	char		 subnet[INET_ADDRSTRLEN];

	fprintf(f, "[labd]\nstate_dir = \"%s\"\nrun_dir = \"%s\"\n"
	    "socket = \"%s\"\ngroup = \"%s\"\nta_group = \"%s\"\n"
	    "workers = ", c->state_dir, c->run_dir, c->socket, c->group,
	    c->ta_group);
	if (c->workers == 0)
		fprintf(f, "auto\n");
	else
		fprintf(f, "%d\n", c->workers);
	fprintf(f, "keep_removed = %ds\n", c->keep_removed);
	fprintf(f, "[network]\nmode = %s\npublic_ips = ",
	    c->net_mode == LABD_NET_USER ? "user" : "bridge");
	for (i = 0; i < c->npublic_ips; i++)
		fprintf(f, "%s%s", i ? ", " : "", c->public_ips[i]);
	/* The subnet as parsed, not as written: net.c uses that. */
	sub.s_addr = htonl(c->subnet_base);
	inet_ntop(AF_INET, &sub, subnet, sizeof(subnet));
	fprintf(f, "\nbridge = %s\nsubnet = %s/%d\n[publish]\n", c->bridge,
	    subnet, c->subnet_plen);
	for (i = 0; i < c->npublish; i++)
		fprintf(f, "%s = %s:%u\n", c->publish[i].name,
		    c->publish[i].listen_ip, c->publish[i].base);
	fprintf(f, "[vmm]\nqemu = \"%s\"\nqemu_img = \"%s\"\naccel = %s\n"
	    "uid_base = %u\nksm = %s\ntb_size = %u\n", c->qemu, c->qemu_img,
	    vmm_accel_name(c->accel), (unsigned)c->uid_base, c->ksm == LABD_KSM_AUTO ?
	    "auto" : c->ksm == LABD_KSM_ON ? "on" : "off", c->tb_size_mb);
	if (c->max_booting == 0)
		fprintf(f, "max_booting = auto\n");
	else
		fprintf(f, "max_booting = %d\n", c->max_booting);
	fprintf(f, "boot_timeout = %d\nboot_tries = %d\n", c->boot_timeout,
	    c->boot_tries);
	/* Only when set: the other files' output stays as it was. */
	if (c->ksm_pages_to_scan != LABD_KSM_PAGES_TO_SCAN)
		fprintf(f, "ksm_pages_to_scan = %u\n", c->ksm_pages_to_scan);
	/* [vnc] only when set: the other files' output stays as it was. */
	if (c->vnc_port != 0) {
		fprintf(f, "[vnc]\nlisten = %s:%u\n", c->vnc_ip, c->vnc_port);
		if (c->vnc_web_port != 0)
			fprintf(f, "web = %s:%u\n", c->vnc_web_ip,
			    c->vnc_web_port);
		fprintf(f, "password_file = \"%s\"\n", c->vnc_password_file);
	}
	/* Only when it is on: every other golden file stays as it was. */
	if (c->gw_port != 0) {
		fprintf(f, "[gateway]\nlisten = %s:%u\n", c->gw_ip,
		    c->gw_port);
		if (c->gw_host_key[0] != '\0')
			fprintf(f, "host_key = \"%s\"\n", c->gw_host_key);
		fprintf(f, "sessions = %d\nfailures = %d\n", c->gw_sessions,
		    c->gw_failures);
	}
	fclose(f);
	return buf;
}

static char *
config_render(const char *file)
{
	struct labd_config	c;
	char			err[LABD_ERRLEN];

	config_defaults(&c);
	if (config_load(file, &c, err, sizeof(err)) == -1)
		return xasprintf("error: %s\n", err);
	return config_dump(&c);
}

Test(config, golden)
{
	cr_expect_geq(golden_run("config", ".ini", config_render), 65,
	    "fewer config cases than expected: files lost?");
}

Test(config, defaults)
{
	struct labd_config	c;

	config_defaults(&c);
	cr_expect_str_eq(c.state_dir, "/var/lib/labd");
	cr_expect_str_eq(c.socket, "/run/labd/labd.sock");
	cr_expect_str_eq(c.group, "labadmin");
	cr_expect_str_eq(c.ta_group, "", "a ta role by default");
	cr_expect_eq(c.workers, 0, "workers auto");
	cr_expect_eq(c.net_mode, LABD_NET_USER);
	cr_expect_eq(c.npublic_ips, 1);
	cr_expect_str_eq(c.public_ips[0], "127.0.0.1");
	cr_expect_eq(c.npublish, 1);
	cr_expect_str_eq(c.publish[0].name, "ssh");
	cr_expect_eq(c.publish[0].base, 22000);
	cr_expect_eq(c.accel, VMM_ACCEL_AUTO);
	cr_expect_eq(c.uid_base, LABD_UID_BASE);
	cr_expect_eq(c.max_booting, 0, "max_booting is auto by default");
	cr_expect_eq(c.ksm_pages_to_scan, 1000, "KSM scans 1000 pages by default");
	cr_expect_eq(c.boot_timeout, 600);
	cr_expect_eq(c.boot_tries, 3);
	cr_expect_str_eq(c.path, "");
}

/* workers = auto: four a core, from 4 to 32; a number is kept. */
Test(config, workers_auto_from_cores)
{
	cr_expect_eq(workers_count(0, 2), 8, "2 cores: 8");
	cr_expect_eq(workers_count(0, 1), 4, "1 core: 4");
	cr_expect_eq(workers_count(0, 0), 4, "no core count: 4");
	cr_expect_eq(workers_count(0, -1), 4);
	cr_expect_eq(workers_count(0, 7), 28);
	cr_expect_eq(workers_count(0, 8), 32, "8 cores and more: 32");
	cr_expect_eq(workers_count(0, 256), 32);
	cr_expect_eq(workers_count(3, 2), 3, "a number overrides");
	cr_expect_eq(workers_count(64, 256), 64);
}

/* A failed load leaves the caller's config as it was. */
Test(config, failure_changes_nothing)
{
	struct labd_config	c, before;
	char			err[LABD_ERRLEN], path[] = "/tmp/labd-cfg-XXXXXX";
	const char		*text = "[labd]\nworkers = 9\n[network]\nmode = x\n";
	int			fd;

	cr_assert_neq(fd = mkstemp(path), -1);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	config_defaults(&c);
	before = c;
	cr_expect_eq(config_load(path, &c, err, sizeof(err)), -1);
	cr_expect(memcmp(&c, &before, sizeof(c)) == 0);
	cr_expect(strstr(err, "line 4: [network] mode: 'x' is not user or"
	    " bridge") != NULL, "err: %s", err);
	unlink(path);
}

Test(config, missing_file)
{
	struct labd_config	c;
	char			err[LABD_ERRLEN];

	config_defaults(&c);
	cr_expect_eq(config_load("/nonexistent/labd.ini", &c, err,
	    sizeof(err)), -1);
	cr_expect_str_eq(err, "cannot open /nonexistent/labd.ini: No such file"
	    " or directory");
}

/* Every good golden config, dumped and read back, comes out the same. */
/*
 * Call fn for every good golden labd.ini (good_*.ini), loaded into c;
 * the number of files.
 */
static int
each_good_config(void (*fn)(const char *name, struct labd_config *c))
{
	char		 dir[PATH_MAX + 16], err[LABD_ERRLEN];
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	golden_find();
	snprintf(dir, sizeof(dir), "%s/config", golden_root);
	cr_assert_eq(chdir(dir), 0);
	cr_assert_not_null(d = opendir("."));
	while ((de = readdir(d)) != NULL) {
		struct labd_config	c;

		if (strncmp(de->d_name, "good_", 5) != 0 ||
		    strstr(de->d_name, ".ini") == NULL)
			continue;
		config_defaults(&c);
		cr_assert_eq(config_load(de->d_name, &c, err, sizeof(err)), 0,
		    "%s: %s", de->d_name, err);
		fn(de->d_name, &c);
		n++;
	}
	closedir(d);
	return n;
}

/* Dumped and read again, a config is the same config. */
static void
reads_back(const char *name, struct labd_config *c)
{
	char	tmp[] = "/tmp/labd-cfg-XXXXXX", err[LABD_ERRLEN], *one, *two;
	int	fd;

	one = config_dump(c);
	cr_assert_neq(fd = mkstemp(tmp), -1);
	cr_assert_eq(write(fd, one, strlen(one)), (ssize_t)strlen(one));
	close(fd);
	config_defaults(c);
	cr_assert_eq(config_load(tmp, c, err, sizeof(err)), 0,
	    "%s read back: %s", name, err);
	two = config_dump(c);
	cr_expect_str_eq(one, two, "%s does not read back", name);
	unlink(tmp);
	free(one);
	free(two);
}

Test(config, dump_reads_back)
{
	cr_expect_geq(each_good_config(reads_back), 3);
}

Test(config, ini_path)
{
	static const struct {
		const char	*base, *p, *want;
	} cases[] = {
		{ "/a/b", "../c", "/a/c" },
		{ "/a/b", "c/./d/", "/a/b/c/d" },
		{ "/a/b", "/x//y/../z", "/x/z" },
		{ "/a", "../../..", "/" },
		{ "/", "state", "/state" },
		{ "/a/b", ".", "/a/b" },
	};
	char	out[PATH_MAX];
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(ini_path(cases[i].base, cases[i].p, out,
		    sizeof(out)), 0);
		cr_expect_str_eq(out, cases[i].want, "%s + %s", cases[i].base,
		    cases[i].p);
	}
	cr_expect_eq(ini_path("/a", "bcdefgh", out, 5), -1);
}

/* --- the reader: what is not an ini file, threads, labctl's socket ---- */

TestSuite(ini, .init = tmp_dir_setup, .fini = tmp_dir_teardown);

/* tmp_dir/name holding text; the path is static, one at a time. */
static const char *
tmp_ini(const char *name, const char *text)
{
	static char	path[PATH_MAX + 64];
	FILE		*f;

	snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
	cr_assert_not_null(f = fopen(path, "w"), "%s", path);
	cr_assert_eq(fwrite(text, 1, strlen(text), f), strlen(text));
	cr_assert_eq(fclose(f), 0);
	return path;
}

Test(ini, directory)
{
	struct labd_config	c;
	struct template_profile	p;
	char			err[LABD_ERRLEN], want[PATH_MAX + 64];

	snprintf(want, sizeof(want), "cannot read %s: Is a directory", tmp_dir);
	config_defaults(&c);
	cr_expect_eq(config_load(tmp_dir, &c, err, sizeof(err)), -1);
	cr_expect_str_eq(err, want);
	/* A profile opens as a regular file or not at all. */
	snprintf(want, sizeof(want), "%s is not a regular file", tmp_dir);
	cr_expect_eq(profile_load(tmp_dir, &p, err, sizeof(err)), -1);
	cr_expect_str_eq(err, want);
}

Test(ini, too_large)
{
	struct labd_config	 c;
	char			 err[LABD_ERRLEN], want[PATH_MAX + 64];
	char			*text;
	const char		*path;

	text = tu_realloc(NULL, LABD_CONFIG_MAX + 2);
	memset(text, ';', LABD_CONFIG_MAX + 1);
	text[LABD_CONFIG_MAX + 1] = '\0';
	path = tmp_ini("big.ini", text);
	free(text);
	snprintf(want, sizeof(want), "%s is larger than %d bytes", path,
	    LABD_CONFIG_MAX);
	config_defaults(&c);
	cr_expect_eq(config_load(path, &c, err, sizeof(err)), -1);
	cr_expect_str_eq(err, want);
}

/* Profiles go into JSON replies: an error quoting a cut character is scrubbed. */
Test(ini, profile_error_is_utf8)
{
	struct template_profile	 p;
	char			 err[LABD_ERRLEN], text[256];
	const char		*path;

	snprintf(text, sizeof(text), "[template]\nfirmware = %.63s\xc3\xa9\n",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	path = tmp_ini("cut.ini", text);
	cr_expect_eq(profile_load(path, &p, err, sizeof(err)), -1);
	cr_expect(strstr(err, "line 2: [template] firmware: 'aaaaaaaaaa") !=
	    NULL, "err: %s", err);
	cr_expect(strstr(err, "a?' is not bios or uefi") != NULL, "err: %s",
	    err);
}

/*
 * iniparser's error callback is one for the process: two threads that
 * load files with syntax errors at once must each get their own line.
 */
struct ini_race {
	const char	*path;
	int		 line;
	int		 wrong;
};

static void *
ini_race_run(void *arg)
{
	struct ini_race		*r = arg;
	struct labd_config	 c;
	char			 err[LABD_ERRLEN], want[32];
	int			 i;

	snprintf(want, sizeof(want), " line %d: 'oops%d' is", r->line,
	    r->line);
	for (i = 0; i < 300; i++) {
		config_defaults(&c);
		if (config_load(r->path, &c, err, sizeof(err)) != -1 ||
		    strstr(err, r->path) != err || strstr(err, want) == NULL)
			r->wrong++;
	}
	return NULL;
}

Test(ini, syntax_errors_per_thread)
{
	struct ini_race	r[2];
	pthread_t	t[2];
	int		i;

	r[0].path = xstrdup(tmp_ini("a.ini", "[labd]\noops2\n"));
	r[1].path = xstrdup(tmp_ini("b.ini", "[labd]\n\n\n\noops5\n"));
	r[0].line = 2;
	r[1].line = 5;
	for (i = 0; i < 2; i++) {
		r[i].wrong = 0;
		cr_assert_eq(pthread_create(&t[i], NULL, ini_race_run, &r[i]),
		    0);
	}
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		cr_expect_eq(r[i].wrong, 0, "%s: %d of 300 errors were wrong",
		    r[i].path, r[i].wrong);
		free((char *)r[i].path);
	}
}

/* labctl's client_config_socket against what labd makes of the file. */
Test(ini, client_socket)
{
	static const struct {
		const char	*text, *want;	/* want: "@" is tmp_dir */
	} cases[] = {
		{ "[labd]   ; labd.sock lives in run_dir\nrun_dir = run\n",
		  "@/run/labd.sock" },
		{ "[LABD]\nSocket = ./s/../x.sock\nrun_dir = /r\n",
		  "@/x.sock" },
		{ "[network]\nmode = user\n", LABD_DEFAULT_SOCKET },
		{ "", LABD_DEFAULT_SOCKET },
		/* Keys labd has and labctl does not need are not its business. */
		{ "[vmm]\nnext_year = 1\n[labd]\nsocket = /s/labd.sock\n",
		  "/s/labd.sock" },
	};
	char	out[PATH_MAX], err[LABD_ERRLEN], want[PATH_MAX + 64];
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].want[0] == '@')
			snprintf(want, sizeof(want), "%s%s", tmp_dir,
			    cases[i].want + 1);
		else
			snprintf(want, sizeof(want), "%s", cases[i].want);
		cr_expect_eq(client_config_socket(tmp_ini("s.ini",
		    cases[i].text), out, sizeof(out), err, sizeof(err)), 0,
		    "case %zu: %s", i, err);
		cr_expect_str_eq(out, want, "case %zu", i);
	}
}

Test(ini, client_socket_errors)
{
	static const struct {
		const char	*text, *want;
	} cases[] = {
		{ "[labd]\nsocket =\n", "s.ini line 2: [labd] socket: needs a"
		  " path" },
		{ "[labd]\n\nsocket\n", "s.ini line 3: 'socket' is neither"
		  " [section] nor key = value" },
		{ "[labd]\nrun_dir = /a\nrun_dir = /b\n", "s.ini line 3: [labd]"
		  " run_dir is set twice (first on line 2)" },
		{ "[labd] socket = /x\n", "s.ini line 1: '[labd] socket = /x' is"
		  " not a [section] line" },
	};
	char		 out[PATH_MAX], err[LABD_ERRLEN];
	const char	*path;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		path = tmp_ini("s.ini", cases[i].text);
		cr_expect_eq(client_config_socket(path, out, sizeof(out), err,
		    sizeof(err)), -1, "case %zu", i);
		cr_expect(strncmp(err, path, strlen(path) - 5) == 0 &&
		    strstr(err, cases[i].want) != NULL, "case %zu: %s", i, err);
	}
	cr_expect_eq(client_config_socket("/nonexistent/labd.ini", out,
	    sizeof(out), err, sizeof(err)), -1);
	cr_expect_str_eq(err, "cannot open /nonexistent/labd.ini: No such file"
	    " or directory");
}

/* Every good golden labd.ini: labctl finds the socket labd listens on. */
static void
client_finds_socket(const char *name, struct labd_config *c)
{
	char	err[LABD_ERRLEN], out[PATH_MAX];

	cr_assert_eq(client_config_socket(name, out, sizeof(out), err,
	    sizeof(err)), 0, "%s: %s", name, err);
	cr_expect_str_eq(out, c->socket, "%s", name);
}

Test(config, client_agrees)
{
	cr_expect_geq(each_good_config(client_finds_socket), 10);
}

/* --- template profiles ------------------------------------------------ */

static char *
profile_render(const char *file)
{
	struct template_profile	 p;
	char			 err[LABD_ERRLEN], *buf = NULL;
	size_t			 len = 0, i;
	FILE			*f;

	if (profile_load(file, &p, err, sizeof(err)) == -1)
		return xasprintf("error: %s\n", err);
	f = open_memstream(&buf, &len);
	fprintf(f, "path = %s\ndisk = %s\nkernel = %s\ninitrd = %s\n"
	    "append = %s\nfirmware = %s\nmemory_mb = %u\nvcpus = %u\n"
	    "publish = ", p.path, p.disk, p.kernel, p.initrd, p.append,
	    p.firmware, p.memory_mb, p.vcpus);
	for (i = 0; i < p.nguest; i++)
		fprintf(f, "%s%s:%u", i ? ", " : "", p.guest_names[i],
		    p.guest_ports[i]);
	fprintf(f, "\nready_line = %s\ninstant_clone = %s\n", p.ready_line,
	    profile_clone_name(p.instant_clone));
	fclose(f);
	return buf;
}

Test(profile, golden)
{
	cr_expect_geq(golden_run("profile", ".ini", profile_render), 32,
	    "fewer profile cases than expected: files lost?");
}

Test(profile, defaults)
{
	struct template_profile	p;

	profile_defaults(&p);
	cr_expect_eq(p.nguest, 1);
	cr_expect_str_eq(p.guest_names[0], "ssh");
	cr_expect_eq(p.guest_ports[0], 22);
	cr_expect_eq(p.vcpus, 1);
	cr_expect_str_eq(p.firmware, "bios");
	cr_expect_geq(p.memory_mb, 32);
}

/* An absolute profile path gives absolute, tidy file paths. */
Test(profile, absolute_path)
{
	struct template_profile	p;
	char			path[PATH_MAX + 64], want[PATH_MAX + 64];
	char			err[LABD_ERRLEN];

	golden_find();
	snprintf(path, sizeof(path), "%s/profile/./good_minimal.ini",
	    golden_root);
	cr_assert_eq(profile_load(path, &p, err, sizeof(err)), 0, "%s", err);
	snprintf(want, sizeof(want), "%s/profile/disk.img", golden_root);
	cr_expect_str_eq(p.disk, want);
}

/* A profile in a subfolder reaches its disk with "..". */
Test(profile, parent_folder)
{
	struct template_profile	p;
	char			want[PATH_MAX + 64], err[LABD_ERRLEN];

	golden_find();
	cr_assert_eq(chdir(golden_root), 0);
	cr_assert_eq(profile_load("profile/sub/good_parent.ini", &p, err,
	    sizeof(err)), 0, "%s", err);
	snprintf(want, sizeof(want), "%s/profile/disk.img", golden_root);
	cr_expect_str_eq(p.disk, want);
	cr_expect_eq(p.memory_mb, 512);
	cr_expect_str_eq(p.path, "profile/sub/good_parent.ini");
}

/*
 * A profile that is a link, or a FIFO: refused by name at once, nothing
 * of what it leads to quoted (the FIFO would stall a reader for good).
 */
Test(ini, profile_link_or_fifo_is_refused)
{
	struct template_profile	 p;
	char			 link[PATH_MAX + 64], fifo[PATH_MAX + 64];
	char			 err[LABD_ERRLEN];
	const char		*secret;
	long long		 t0;

	secret = tmp_ini("secret", "root:the-first-line-of-a-secret\n");
	snprintf(link, sizeof(link), "%s/x.ini", tmp_dir);
	cr_assert_eq(symlink(secret, link), 0);
	cr_expect_eq(profile_load(link, &p, err, sizeof(err)), -1);
	cr_expect(strstr(err, "x.ini is a symbolic link") != NULL, "%s", err);
	cr_expect(strstr(err, "the-first-line") == NULL, "%s", err);
	snprintf(fifo, sizeof(fifo), "%s/fifo.ini", tmp_dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	t0 = tu_now_ms();
	cr_expect_eq(profile_load(fifo, &p, err, sizeof(err)), -1);
	cr_expect(strstr(err, "fifo.ini is not a regular file") != NULL, "%s",
	    err);
	cr_expect_lt(tu_now_ms() - t0, 2000);
}

/* Each file a profile names goes to the opener, which may refuse it. */
static int
open_refuse_kernel(void *arg, const char *key, const char *path, char *err,
    size_t errlen)
{
	char	*seen = arg;

	strcat(seen, key);
	strcat(seen, " ");
	if (strcmp(key, "kernel") != 0)
		return 0;
	snprintf(err, errlen, "cannot read %s: Permission denied", path);
	return -1;
}

Test(profile, read_hands_each_file_to_open)
{
	struct template_profile	p;
	char			path[PATH_MAX + 64], err[LABD_ERRLEN];
	char			seen[64] = "", want[PATH_MAX + 128];
	int			fd;

	golden_find();
	snprintf(path, sizeof(path), "%s/profile/good_full.ini", golden_root);
	cr_assert_neq(fd = open(path, O_RDONLY | O_CLOEXEC), -1);
	cr_expect_eq(profile_read(fd, path, &p, open_refuse_kernel, seen, err,
	    sizeof(err)), -1);
	close(fd);
	cr_expect_str_eq(seen, "disk kernel ");
	snprintf(want, sizeof(want), "%s line 4: [template] kernel: cannot"
	    " read %s/profile/vmlinuz: Permission denied", path, golden_root);
	cr_expect_str_eq(err, want);
}
