/* SPDX-License-Identifier: ISC */
/*
 * fuzz_untar.c - untar_run(), labctl collect's unpacking of a guest's tar
 * stream, on any bytes, into a fresh folder "root" beside which a folder
 * "outside" stands.  What untar.c promises, whatever the stream: nothing
 * is made beside root or in outside, nothing in root is a link, a
 * device or a FIFO, no mode has a set-id or sticky bit, the file data
 * made stay under the cap, and a refusal comes with a message.
 */
#include <dirent.h>
#include <ftw.h>

#include "labctl/labctl.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_CAP	(256 * 1024)

struct mem {
	const uint8_t	*p;
	size_t		 len, off;
};

static ssize_t
mem_read(void *arg, void *buf, size_t len)
{
	struct mem	*m = arg;
	size_t		 n = m->len - m->off;

	/* Odd pieces, as a socket gives them. */
	if (n > len)
		n = len;
	if (n > 777)
		n = 777;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

static const char *
mem_err(void *arg)
{
	return "memory";
}

static long long	made_bytes;

static int
check_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	FUZZ_CHECK(flag != FTW_SL && flag != FTW_SLN, "a link: %s", path);
	FUZZ_CHECK(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode),
	    "not a file or folder: %s", path);
	FUZZ_CHECK((st->st_mode & 07000) == 0, "mode %o: %s",
	    (unsigned)st->st_mode, path);
	if (S_ISREG(st->st_mode))
		made_bytes += st->st_size;
	/* Readable and removable by its owner, as the teardown needs. */
	(void)chmod(path, S_ISDIR(st->st_mode) ? 0700 : 0600);
	return 0;
}

static int
remove_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	return remove(path);
}

static int
count_entries(const char *dir)
{
	int	n = 0;
	DIR	*d;

	fuzz_must((d = opendir(dir)) != NULL, dir);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n - 2;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mem		 m = { data, size, 0 };
	struct untar_result	 res;
	struct untar_opts	 o = { .max_bytes = FUZZ_CAP, .rd = mem_read,
				    .rd_err = mem_err, .rd_arg = &m };
	char			 top[PATH_MAX], root[PATH_MAX], out[PATH_MAX];
	char			 err[256];
	int			 rc;

	snprintf(top, sizeof(top), "%s/t.XXXXXX", fuzz_dir());
	fuzz_must(mkdtemp(top) != NULL, "mkdtemp");
	snprintf(root, sizeof(root), "%s/root", top);
	snprintf(out, sizeof(out), "%s/outside", top);
	fuzz_must(mkdir(root, 0700) == 0 && mkdir(out, 0700) == 0, "mkdir");
	o.dirfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fuzz_must(o.dirfd != -1, root);
	err[0] = '\0';
	rc = untar_run(&o, &res, err, sizeof(err));
	close(o.dirfd);
	FUZZ_CHECK(rc == 0 || (FUZZ_TERMINATED(err) && err[0] != '\0'),
	    "refused without a message");
	FUZZ_CHECK(res.bytes <= FUZZ_CAP, "%lld bytes over the cap",
	    res.bytes);
	FUZZ_CHECK(count_entries(top) == 2, "something beside root");
	FUZZ_CHECK(count_entries(out) == 0, "something in outside");
	made_bytes = 0;
	fuzz_must(nftw(root, check_one, 16, FTW_PHYS) == 0, "nftw");
	FUZZ_CHECK(made_bytes <= FUZZ_CAP, "%lld bytes made", made_bytes);
	fuzz_must(nftw(top, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0,
	    "remove");
	return 0;
}
