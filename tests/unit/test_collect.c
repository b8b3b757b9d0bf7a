/* SPDX-License-Identifier: ISC */
/*
 * test_collect.c - labctl collect's two lines of defence: the PATHs it
 * sends (proto/collect.c, which labd checks again before they reach a
 * guest's shell) and the unpacking of what a guest sends back
 * (proto/untar.c).  A guest is the student's: its tar stream is made
 * hostile here by hand (links out, "..", absolute names, devices, long
 * names and pax names that hide a "..") and nothing may land outside the
 * folder it is unpacked in.  A stream from GNU tar checks that the plain
 * case keeps contents, modes and times; sha256.c is checked against
 * FIPS 180-4's vectors and sha256sum.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labctl/labctl.h"
#include "testutil.h"

TestSuite(collect_untar, .init = tmp_dir_setup, .fini = tmp_dir_teardown);

/* --- the PATHs ------------------------------------------------------------ */

Test(collect_path, good_paths_pass)
{
	static const char	*good[] = {
		"/home/ann", "/home/ann/", "/home/*/exam.c", "/etc/hosts",
		"/root/notes~", "/srv/a[bc]?.txt", "/x/.hidden", "/x/..y",
		"/a,b/c:d=e+f@g%h", "/-dash",
	};
	char	err[256];
	size_t	i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_expect_eq(collect_path_check(good[i], err, sizeof(err)), 0,
		    "%s refused: %s", good[i], err);
}

Test(collect_path, bad_paths_are_refused_with_a_reason)
{
	static const struct {
		const char	*path, *why;
	} bad[] = {
		{ "", "absolute" },
		{ "home/ann", "absolute" },
		{ "~/x", "absolute" },
		{ "/home/../etc", "\"..\"" },
		{ "/..", "\"..\"" },
		{ "/home/ann/..", "\"..\"" },
		{ "/home/./ann", "\".\"" },
		{ "/", "whole disk" },
		{ "//", "whole disk" },
		{ "/a b", "space" },
		{ "/a\tb", "space" },
		{ "/a\nb", "control" },
		{ "/a;reboot", "\";\"" },
		{ "/a$(reboot)", "\"$\"" },
		{ "/a`reboot`", "\"`\"" },
		{ "/a|b", "\"|\"" },
		{ "/a&b", "\"&\"" },
		{ "/a>b", "\">\"" },
		{ "/a'b", "\"'\"" },
		{ "/a\"b", "\"\"\"" },
		{ "/a\\b", "\"\\\"" },
		{ "/a{b,c}", "\"{\"" },
		{ "/caf\xc3\xa9", "non-ASCII" },
	};
	char	err[256];
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_expect_eq(collect_path_check(bad[i].path, err, sizeof(err)),
		    -1, "\"%s\" taken", bad[i].path);
		cr_expect(strstr(err, bad[i].why) != NULL,
		    "\"%s\": \"%s\" does not say %s", bad[i].path, err,
		    bad[i].why);
	}
}

Test(collect_path, too_long_is_refused)
{
	char	path[LABD_COLLECT_PATHLEN + 2], err[256];

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	cr_expect_eq(collect_path_check(path, err, sizeof(err)), -1);
	cr_expect(strstr(err, "longer than") != NULL, "%s", err);
	path[LABD_COLLECT_PATHLEN] = '\0';
	cr_expect_eq(collect_path_check(path, err, sizeof(err)), 0, "%s", err);
}

Test(collect_path, names_in_the_stream_are_cleaned_or_refused)
{
	static const struct {
		const char	*in, *out;
		int		 rc;
	} cases[] = {
		{ "./home/ann/x.c", "home/ann/x.c", 0 },
		{ "home//ann/./x", "home/ann/x", 0 },
		{ "home/ann/", "home/ann", 0 },
		{ "./", "", 1 },
		{ ".", "", 1 },
		{ "/etc/passwd", NULL, -1 },
		{ "../x", NULL, -1 },
		{ "./../x", NULL, -1 },
		{ "a/../../x", NULL, -1 },
		{ "a/..", NULL, -1 },
		{ "a/..b", "a/..b", 0 },
	};
	char	out[PATH_MAX];
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_expect_eq(untar_path_clean(cases[i].in, out, sizeof(out)),
		    cases[i].rc, "%s", cases[i].in);
		if (cases[i].rc == 0)
			cr_expect_str_eq(out, cases[i].out, "%s", cases[i].in);
	}
}

/* --- sha256 --------------------------------------------------------------- */

static void
sum_of(const void *p, size_t len, size_t step, char out[65])
{
	struct sha256	s;
	size_t		i, n;

	sha256_init(&s);
	for (i = 0; i < len; i += n) {
		n = len - i < step ? len - i : step;
		sha256_update(&s, (const char *)p + i, n);
	}
	sha256_hex(&s, out);
}

Test(collect_sha256, fips_vectors_in_any_pieces)
{
	const char	*two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char		 out[65], *million;
	size_t		 step;

	sum_of("", 0, 1, out);
	cr_expect_str_eq(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	for (step = 1; step < 70; step += 17) {
		sum_of("abc", 3, step, out);
		cr_expect_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
		sum_of(two, strlen(two), step, out);
		cr_expect_str_eq(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	}
	million = tu_realloc(NULL, 1000000);
	memset(million, 'a', 1000000);
	sum_of(million, 1000000, 4093, out);
	cr_expect_str_eq(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(million);
}

/* --- a stream in memory --------------------------------------------------- */

struct mem {
	const char	*buf;
	size_t		 len, off, chunk;
};

static ssize_t
mem_read(void *arg, void *buf, size_t len)
{
	struct mem	*m = arg;
	size_t		 n = m->len - m->off;

	if (n > len)
		n = len;
	if (m->chunk > 0 && n > m->chunk)
		n = m->chunk;	/* as a socket gives it: in odd pieces */
	memcpy(buf, m->buf + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

static const char *
mem_err(void *arg)
{
	return "memory";
}

struct seen {
	int	n;
	char	paths[32][256];
	char	sums[32][65];
	long long bytes[32];
};

static void
on_file(void *arg, const char *path, long long bytes, const char *sum)
{
	struct seen	*s = arg;

	cr_assert_lt(s->n, 32);
	snprintf(s->paths[s->n], sizeof(s->paths[0]), "%s", path);
	snprintf(s->sums[s->n], sizeof(s->sums[0]), "%s", sum);
	s->bytes[s->n++] = bytes;
}

/* A stream of len bytes unpacked into tmp_dir/root: untar_run's rc. */
static int
unpack(const char *buf, size_t len, long long max, struct untar_result *res,
    struct seen *seen, char *err, size_t errlen)
{
	struct mem		 m = { buf, len, 0, 1000 };
	char			 root[PATH_MAX];
	struct untar_opts	 o = { .max_bytes = max, .rd = mem_read,
				    .rd_err = mem_err, .rd_arg = &m,
				    .on_file = on_file, .file_arg = seen };
	int			 rc;

	snprintf(root, sizeof(root), "%s/root", tmp_dir);
	mkdir(root, 0700);
	cr_assert_geq(o.dirfd = open(root, O_RDONLY | O_DIRECTORY), 0);
	rc = untar_run(&o, res, err, errlen);
	close(o.dirfd);
	return rc;
}

/* --- hand-made headers ---------------------------------------------------- */

struct tarbuf {
	char	*buf;
	size_t	 len;
};

static void
tb_add(struct tarbuf *t, const void *p, size_t n)
{
	t->buf = tu_realloc(t->buf, t->len + n);
	memcpy(t->buf + t->len, p, n);
	t->len += n;
}

/* One entry: a ustar header, then data padded to the block. */
static void
tb_entry(struct tarbuf *t, const char *name, char type, const char *link,
    const char *data, size_t size)
{
	unsigned char	h[512] = { 0 }, pad[512] = { 0 };
	unsigned	sum = 0;
	int		i;

	snprintf((char *)h, 100, "%s", name);
	snprintf((char *)h + 100, 8, "%07o", 0644);
	snprintf((char *)h + 108, 8, "%07o", 0);
	snprintf((char *)h + 116, 8, "%07o", 0);
	snprintf((char *)h + 124, 12, "%011zo", size);
	snprintf((char *)h + 136, 12, "%011o", 1600000000);
	h[156] = (unsigned char)type;
	if (link != NULL)
		snprintf((char *)h + 157, 100, "%s", link);
	memcpy(h + 257, "ustar\0" "00", 8);
	if (type == '3' || type == '4') {
		snprintf((char *)h + 329, 8, "%07o", 1);
		snprintf((char *)h + 337, 8, "%07o", 3);
	}
	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	tb_add(t, h, 512);
	if (size > 0) {
		tb_add(t, data, size);
		tb_add(t, pad, (512 - size % 512) % 512);
	}
}

static void
tb_end(struct tarbuf *t)
{
	char	zero[1024] = { 0 };

	tb_add(t, zero, sizeof(zero));
}

/* Everything under tmp_dir, as "path" lines, links marked "->". */
static char *
tree(void)
{
	char	cmd[PATH_MAX + 64];

	snprintf(cmd, sizeof(cmd), "cd %s && find . | sort", tmp_dir);
	return cmd_read(cmd);
}

Test(collect_untar, hostile_stream_stays_inside)
{
	struct tarbuf		 t = { 0 };
	struct untar_result	 res;
	struct seen		 seen = { 0 };
	struct stat		 st;
	char			 err[256], path[PATH_MAX], longname[300];
	char			 pax[128], *got;
	int			 n;

	/* A link out, then a file through it: the link is never made. */
	tb_entry(&t, "./evil", '2', "/etc", NULL, 0);
	tb_entry(&t, "./evil/passwd", '0', NULL, "root::0:0\n", 10);
	tb_entry(&t, "./up", '2', "..", NULL, 0);
	tb_entry(&t, "./up/escaped-by-link", '0', NULL, "x", 1);
	tb_entry(&t, "../escaped-dotdot", '0', NULL, "x", 1);
	tb_entry(&t, "a/../../escaped-inner", '0', NULL, "x", 1);
	tb_entry(&t, "/tmp/escaped-absolute", '0', NULL, "x", 1);
	tb_entry(&t, "./hard", '1', "/etc/shadow", NULL, 0);
	tb_entry(&t, "./dev-null", '3', NULL, NULL, 0);
	tb_entry(&t, "./fifo", '6', NULL, NULL, 0);
	/* A GNU long name that hides a "..". */
	memset(longname, 'l', sizeof(longname));
	memcpy(longname, "../", 3);
	longname[200] = '\0';
	tb_entry(&t, "././@LongLink", 'L', NULL, longname, strlen(longname) + 1);
	tb_entry(&t, "innocent", '0', NULL, "x", 1);
	/* A pax path that does the same. */
	n = snprintf(pax, sizeof(pax), "23 path=../escaped-pax\n");
	tb_entry(&t, "PaxHeaders/x", 'x', NULL, pax, (size_t)n);
	tb_entry(&t, "innocent2", '0', NULL, "x", 1);
	/* And one good file, which does arrive. */
	tb_entry(&t, "./home/ann/ok.txt", '0', NULL, "fine\n", 5);
	tb_end(&t);

	cr_assert_eq(unpack(t.buf, t.len, 1 << 20, &res, &seen, err,
	    sizeof(err)), 0, "%s", err);
	got = tree();
	cr_expect_str_eq(got, ".\n./root\n./root/evil\n./root/evil/passwd\n"
	    "./root/home\n./root/home/ann\n./root/home/ann/ok.txt\n"
	    "./root/up\n./root/up/escaped-by-link\n", "the tree:\n%s", got);
	free(got);
	snprintf(path, sizeof(path), "%s/root/evil", tmp_dir);
	cr_assert_eq(lstat(path, &st), 0);
	cr_expect(S_ISDIR(st.st_mode), "evil is a folder of ours, not a link");
	cr_expect_neq(access("/tmp/escaped-absolute", F_OK), 0);
	cr_expect_eq(res.files, 3);
	cr_expect_eq(res.skipped, 10, "skipped %d: %s", res.skipped,
	    res.notes);
	cr_expect(strstr(res.notes, "./evil: a symbolic link, not followed") !=
	    NULL, "%s", res.notes);
	cr_expect(strstr(res.notes, "../escaped-dotdot: refused") != NULL,
	    "%s", res.notes);
	cr_expect_eq(seen.n, 3);
	cr_expect_str_eq(seen.paths[2], "/home/ann/ok.txt");
	cr_expect_eq(seen.bytes[2], 5);
	free(t.buf);
}

/*
 * A pax record shorter than its own length field ("\n1 path=...") is
 * not a record: the entry keeps the name of its own header.
 */
Test(collect_untar, pax_record_shorter_than_its_length_is_ignored)
{
	struct tarbuf		 t = { 0 };
	struct untar_result	 res;
	struct seen		 seen = { 0 };
	char			 err[256], *got;
	static const char	 pax[] = "\n1 path=renamed\n";

	tb_entry(&t, "PaxHeaders/x", 'x', NULL, pax, sizeof(pax) - 1);
	tb_entry(&t, "./kept.txt", '0', NULL, "x", 1);
	tb_end(&t);
	cr_assert_eq(unpack(t.buf, t.len, 1 << 20, &res, &seen, err,
	    sizeof(err)), 0, "%s", err);
	got = tree();
	cr_expect_str_eq(got, ".\n./root\n./root/kept.txt\n", "the tree:\n%s",
	    got);
	free(got);
	cr_expect_eq(res.files, 1);
	free(t.buf);
}

Test(collect_untar, a_link_already_there_is_not_followed)
{
	struct tarbuf		 t = { 0 };
	struct untar_result	 res;
	struct seen		 seen = { 0 };
	char			 err[256], root[PATH_MAX], out[PATH_MAX];
	char			 link[PATH_MAX];

	/* Were a link in DEST (it is new, but a race could put one). */
	snprintf(root, sizeof(root), "%s/root", tmp_dir);
	snprintf(out, sizeof(out), "%s/outside", tmp_dir);
	cr_assert_eq(mkdir(root, 0700), 0);
	cr_assert_eq(mkdir(out, 0700), 0);
	snprintf(link, sizeof(link), "%s/dir", root);
	cr_assert_eq(symlink(out, link), 0);
	snprintf(link, sizeof(link), "%s/file", root);
	snprintf(out, sizeof(out), "%s/outside/target", tmp_dir);
	cr_assert_eq(symlink(out, link), 0);
	tb_entry(&t, "dir/x", '0', NULL, "x", 1);
	tb_entry(&t, "file", '0', NULL, "x", 1);
	tb_end(&t);
	cr_assert_eq(unpack(t.buf, t.len, 1 << 20, &res, &seen, err,
	    sizeof(err)), 0, "%s", err);
	snprintf(out, sizeof(out), "%s/outside", tmp_dir);
	cr_expect_eq(res.files, 0);
	cr_expect_eq(res.skipped, 2, "%s", res.notes);
	snprintf(link, sizeof(link), "ls -A %s/outside | wc -l", tmp_dir);
	cr_expect_str_eq(cmd_read(link), "0\n", "something went through a"
	    " link");
	free(t.buf);
}

Test(collect_untar, the_cap_stops_it)
{
	struct tarbuf		 t = { 0 };
	struct untar_result	 res;
	struct seen		 seen = { 0 };
	char			 err[256], big[3000];

	memset(big, 'b', sizeof(big));
	tb_entry(&t, "a", '0', NULL, big, 2000);
	tb_entry(&t, "b", '0', NULL, big, 3000);
	tb_end(&t);
	cr_expect_eq(unpack(t.buf, t.len, 4000, &res, &seen, err,
	    sizeof(err)), -1);
	cr_expect(strstr(err, "over the cap of 4000 bytes") != NULL, "%s", err);
	cr_expect_eq(res.files, 1);
	free(t.buf);
}

Test(collect_untar, broken_streams_fail)
{
	struct tarbuf		 t = { 0 };
	struct untar_result	 res;
	struct seen		 seen = { 0 };
	char			 err[256], junk[1024];

	tb_entry(&t, "a", '0', NULL, "hello", 5);
	cr_expect_eq(unpack(t.buf, 700, 1 << 20, &res, &seen, err,
	    sizeof(err)), -1, "cut in the middle");
	cr_expect(strstr(err, "ended in the middle") != NULL, "%s", err);
	memset(junk, 'j', sizeof(junk));
	cr_expect_eq(unpack(junk, sizeof(junk), 1 << 20, &res, &seen, err,
	    sizeof(err)), -1, "not tar");
	cr_expect(strstr(err, "not a tar stream") != NULL, "%s", err);
	free(t.buf);
}

/* --- GNU tar's own ------------------------------------------------------- */

Test(collect_untar, gnu_tar_keeps_contents_modes_and_times)
{
	char			 cmd[4 * PATH_MAX], path[PATH_MAX], err[256];
	char			*tarred, *want, deep[400];
	struct untar_result	 res;
	struct seen		 seen = { 0 };
	struct stat		 st;
	size_t			 len;
	int			 i;

	/* A long name (over 100 bytes) too: GNU tar's 'L' entry. */
	snprintf(deep, sizeof(deep), "src/home/ann/%s", "");
	for (i = 0; i < 6; i++)
		strcat(deep, "a-rather-long-folder-name/");
	snprintf(cmd, sizeof(cmd), "cd %s && mkdir -p src/home/ann %s &&"
	    " printf 'int main;\\n' >src/home/ann/exam.c &&"
	    " head -c 100000 /dev/urandom >src/home/ann/data.bin &&"
	    " echo deep >%sf.txt && chmod 0751 src/home/ann/exam.c &&"
	    " chmod 0600 src/home/ann/data.bin && chmod 0750 src/home/ann &&"
	    " touch -d @1500000000 src/home/ann/exam.c src/home/ann &&"
	    " tar -C src -cf src.tar ./home && echo ok", tmp_dir, deep, deep);
	cr_assert_str_eq(cmd_read(cmd), "ok\n");
	snprintf(path, sizeof(path), "%s/src.tar", tmp_dir);
	cr_assert_not_null(tarred = file_slurp(path));
	cr_assert_eq(stat(path, &st), 0);
	len = (size_t)st.st_size;
	cr_assert_eq(unpack(tarred, len, 1 << 20, &res, &seen, err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_eq(res.files, 3);
	cr_expect_eq(res.bytes, 100000 + 10 + 5);
	cr_expect_eq(res.skipped, 0, "%s", res.notes);

	snprintf(cmd, sizeof(cmd), "cd %s && diff -r src root && echo same",
	    tmp_dir);
	cr_expect_str_eq(cmd_read(cmd), "same\n");
	snprintf(path, sizeof(path), "%s/root/home/ann/exam.c", tmp_dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0751);
	cr_expect_eq(st.st_mtime, 1500000000);
	snprintf(path, sizeof(path), "%s/root/home/ann/data.bin", tmp_dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0600);
	snprintf(path, sizeof(path), "%s/root/home/ann", tmp_dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0750);
	cr_expect_eq(st.st_mtime, 1500000000, "a folder's time, set last");

	/* Each file's sum is sha256sum's. */
	for (i = 0; i < seen.n; i++) {
		snprintf(cmd, sizeof(cmd), "sha256sum '%s/root%s' | cut -c1-64",
		    tmp_dir, seen.paths[i]);
		want = cmd_read(cmd);
		want[64] = '\0';
		cr_expect_str_eq(seen.sums[i], want, "%s", seen.paths[i]);
		free(want);
	}
	free(tarred);
}
