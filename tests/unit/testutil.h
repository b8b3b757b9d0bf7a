/* SPDX-License-Identifier: ISC */
/*
 * testutil.h - what the unit tests share: the golden-file runner, a
 * private temporary folder per test, and small file, clock and loopback
 * socket helpers.
 *
 * The Makefile builds each tests/unit/test_*.c into its own binary, so the
 * helpers are static functions here rather than a .c file of their own;
 * each is marked unused, as no test needs them all.  Only libc and
 * Criterion: the vmm/ tests must not come to need labd.
 *
 * Golden files live in tests/unit/golden/KIND/.  LABD_GOLDEN_UPDATE=1
 * rewrites them from what the code produces now (review the result before
 * committing); LABD_GOLDEN_DIR points at the golden folder when a test
 * runs from elsewhere than the top of the tree.
 */
#ifndef LABD_TESTUTIL_H
#define LABD_TESTUTIL_H

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#define TU_UNUSED	__attribute__((unused))

/* --- memory and files ----------------------------------------------------- */

/* realloc that fails the test rather than return NULL. */
TU_UNUSED static void *
tu_realloc(void *p, size_t n)
{
	cr_assert_not_null(p = realloc(p, n), "out of memory (%zu bytes)", n);
	return p;
}

TU_UNUSED static char *
tu_strdup(const char *s)
{
	return strcpy(tu_realloc(NULL, strlen(s) + 1), s);
}

/* The whole file, NUL-terminated and malloc'd, or NULL with errno set. */
TU_UNUSED static char *
file_slurp(const char *path)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len = 0, n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	do {
		buf = tu_realloc(buf, len + 8192 + 1);
		len += n = fread(buf + len, 1, 8192, f);
	} while (n > 0);
	buf[len] = '\0';
	fclose(f);
	return buf;
}

/* stdout of a command line (test-only: a shell is fine here). */
TU_UNUSED static char *
cmd_read(const char *cmd)
{
	FILE	*f;
	char	*out = tu_realloc(NULL, 1 << 16);
	size_t	 len;

	cr_assert_not_null(f = popen(cmd, "r"), "cannot run %s", cmd);
	len = fread(out, 1, (1 << 16) - 1, f);
	out[len] = '\0';
	cr_expect_eq(pclose(f), 0, "%s failed", cmd);
	return out;
}

/* CLOCK_MONOTONIC in milliseconds, to time what a test waits for. */
TU_UNUSED static long long
tu_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * End a server the test started: SIGTERM, then SIGKILL if it is still
 * there after a second.  dropbear checks its exit flag after select()
 * returns and selects with no timeout, so a SIGTERM that lands between
 * the check and the select leaves it waiting for a connection that never
 * comes (the test then dies at Criterion's timeout; seen in CI).
 */
TU_UNUSED static void
tu_stop_child(pid_t pid)
{
	int	status, i;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (i = 0; i < 100; i++) {
		if (waitpid(pid, &status, WNOHANG) != 0)
			return;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

/* --- loopback ------------------------------------------------------------- */

/*
 * A socket listening on 127.0.0.1 at a port the kernel picked (*port).
 * Closed at once, it names a port where nothing listens; left open and
 * never accepted, a peer that connects and never hears a word.
 */
TU_UNUSED static int
tu_listen_loopback(uint16_t *port)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	socklen_t		len = sizeof(sin);
	int			fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_geq(fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(listen(fd, 4), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* --- a temporary folder per test ------------------------------------------ */

/*
 * TestSuite(name, .init = tmp_dir_setup, .fini = tmp_dir_teardown): each
 * test gets a fresh /tmp/PROGRAM.XXXXXX in tmp_dir (Criterion runs every
 * test in its own process), removed with all it holds afterwards.
 */
TU_UNUSED static char	tmp_dir[PATH_MAX];

TU_UNUSED static void
tmp_dir_setup(void)
{
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/%s.XXXXXX",
	    program_invocation_short_name);
	cr_assert_not_null(mkdtemp(tmp_dir), "mkdtemp %s: %s", tmp_dir,
	    strerror(errno));
}

TU_UNUSED static int
tmp_dir_remove_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	return remove(path);
}

/* FTW_PHYS: a link a test made is removed, never followed. */
TU_UNUSED static void
tmp_dir_teardown(void)
{
	if (nftw(tmp_dir, tmp_dir_remove_one, 8, FTW_DEPTH | FTW_PHYS) == -1 &&
	    errno != ENOENT)
		fprintf(stderr, "cannot remove %s: %s\n", tmp_dir,
		    strerror(errno));
}

/* Entries in tmp_dir: what a step left behind. */
TU_UNUSED static int
tmp_dir_count(void)
{
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	cr_assert_not_null(d = opendir(tmp_dir));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* --- golden files --------------------------------------------------------- */

TU_UNUSED static char golden_root[PATH_MAX];

/* Set golden_root to tests/unit/golden, wherever the test runs from. */
TU_UNUSED static void
golden_find(void)
{
	const char	*env = getenv("LABD_GOLDEN_DIR");
	char		 exe[PATH_MAX], try[PATH_MAX + 32], *slash;
	ssize_t		 n;

	if (env != NULL && realpath(env, golden_root) != NULL)
		return;
	if (realpath("tests/unit/golden", golden_root) != NULL)
		return;
	/* From build/.../tests/test_x, climb until the tree shows up. */
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		while ((slash = strrchr(exe, '/')) != NULL && slash != exe) {
			*slash = '\0';
			snprintf(try, sizeof(try), "%s/tests/unit/golden", exe);
			if (realpath(try, golden_root) != NULL)
				return;
		}
	}
	cr_assert_fail("cannot find tests/unit/golden (set LABD_GOLDEN_DIR)");
}

/* Replace every occurrence of from in s (malloc'd, freed) with to. */
TU_UNUSED static char *
golden_subst(char *s, const char *from, const char *to)
{
	char	*out, *p, *hit;
	size_t	 n = 0, fl = strlen(from), tl = strlen(to);

	for (p = s; (hit = strstr(p, from)) != NULL; p = hit + fl)
		n++;
	out = tu_realloc(NULL, strlen(s) + n * tl + 1);
	out[0] = '\0';
	for (p = s; (hit = strstr(p, from)) != NULL; p = hit + fl) {
		strncat(out, p, hit - p);
		strcat(out, to);
	}
	strcat(out, p);
	free(s);
	return out;
}

TU_UNUSED static size_t
golden_lines(char *s, char ***linesp)
{
	char	**v = NULL, *p, *nl;
	size_t	  n = 0;

	for (p = s; *p != '\0'; p = nl + 1) {
		v = tu_realloc(v, (n + 1) * sizeof(*v));
		v[n++] = p;
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		*nl = '\0';
	}
	*linesp = v;
	return n;
}

/* A line diff (longest common subsequence): small files, small tables. */
TU_UNUSED static void
golden_diff(const char *name, const char *want, const char *got)
{
	char	*a = tu_strdup(want), *b = tu_strdup(got), **la, **lb;
	size_t	 na = golden_lines(a, &la), nb = golden_lines(b, &lb);
	size_t	 i, j;
	int	*t;

	cr_assert_not_null(t = calloc((na + 1) * (nb + 1), sizeof(int)));
#define T(i, j)	t[(i) * (nb + 1) + (j)]
	for (i = na; i-- > 0;)
		for (j = nb; j-- > 0;)
			T(i, j) = strcmp(la[i], lb[j]) == 0 ? T(i + 1, j + 1) + 1 :
			    T(i + 1, j) > T(i, j + 1) ? T(i + 1, j) : T(i, j + 1);
	fprintf(stderr, "--- %s (expected)\n+++ %s (got)\n", name, name);
	for (i = 0, j = 0; i < na || j < nb;) {
		if (i < na && j < nb && strcmp(la[i], lb[j]) == 0) {
			fprintf(stderr, "  %s\n", la[i++]);
			j++;
		} else if (i < na && (j == nb || T(i + 1, j) >= T(i, j + 1)))
			fprintf(stderr, "- %s\n", la[i++]);
		else
			fprintf(stderr, "+ %s\n", lb[j++]);
	}
#undef T
	free(t);
	free(la);
	free(lb);
	free(a);
	free(b);
}

/*
 * got against the golden file path; label names it in messages.  With
 * LABD_GOLDEN_UPDATE set, path is rewritten with got instead.  0 when they
 * match, -1 with the difference on stderr when not.
 */
TU_UNUSED static int
golden_compare(const char *path, const char *label, const char *got)
{
	FILE	*f;
	char	*want;
	int	 rc = 0;

	if (getenv("LABD_GOLDEN_UPDATE") != NULL) {
		cr_assert_not_null(f = fopen(path, "w"), "cannot write %s: %s",
		    path, strerror(errno));
		fputs(got, f);
		cr_assert_eq(fclose(f), 0, "cannot write %s: %s", path,
		    strerror(errno));
		return 0;
	}
	if ((want = file_slurp(path)) == NULL) {
		fprintf(stderr, "%s: cannot open %s: %s\n", label, path,
		    strerror(errno));
		return -1;
	}
	if (strcmp(want, got) != 0) {
		golden_diff(label, want, got);
		rc = -1;
	}
	free(want);
	return rc;
}

/* One rendering against golden/KIND/LEAF. */
TU_UNUSED static void
golden_check(const char *kind, const char *leaf, const char *got)
{
	char	path[PATH_MAX * 2];

	golden_find();
	snprintf(path, sizeof(path), "%s/%s/%s", golden_root, kind, leaf);
	cr_expect_eq(golden_compare(path, leaf, got), 0, "%s/%s differs (diff"
	    " on stderr)", kind, leaf);
}

TU_UNUSED static int
golden_cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Render each file of golden/KIND whose name ends in EXT (render runs in
 * KIND's folder and returns malloc'd text) and compare it with its .out,
 * in which the golden folder's real path reads @GOLDEN@, so that they hold
 * no path of this machine.  Returns the number of files; fails the test
 * on any difference, after showing them all.
 */
TU_UNUSED static size_t
golden_run(const char *kind, const char *ext, char *(*render)(const char *))
{
	char		 dir[PATH_MAX + 64], out[NAME_MAX + 8];
	char		 label[NAME_MAX * 2 + 16], *got, **names = NULL;
	size_t		 n = 0, i, el = strlen(ext), nl;
	int		 bad = 0;
	DIR		*d;
	struct dirent	*de;

	golden_find();
	snprintf(dir, sizeof(dir), "%s/%s", golden_root, kind);
	cr_assert_not_null(d = opendir(dir), "cannot open %s", dir);
	while ((de = readdir(d)) != NULL) {
		nl = strlen(de->d_name);
		if (nl > el && strcmp(de->d_name + nl - el, ext) == 0) {
			names = tu_realloc(names, (n + 1) * sizeof(*names));
			names[n++] = tu_strdup(de->d_name);
		}
	}
	closedir(d);
	qsort(names, n, sizeof(*names), golden_cmp_names);
	cr_assert_eq(chdir(dir), 0, "chdir %s", dir);
	for (i = 0; i < n; i++) {
		snprintf(out, sizeof(out), "%.*s.out",
		    (int)(strlen(names[i]) - el), names[i]);
		snprintf(label, sizeof(label), "%s/%s", kind, out);
		got = golden_subst(render(names[i]), golden_root, "@GOLDEN@");
		if (golden_compare(out, label, got) == -1)
			bad++;
		free(got);
		free(names[i]);
	}
	free(names);
	cr_expect_eq(bad, 0, "%d of %zu golden files in %s differ (diff on"
	    " stderr)", bad, n, kind);
	return n;
}

#endif /* LABD_TESTUTIL_H */
