/* SPDX-License-Identifier: ISC */
/*
 * fuzz.h - what the libFuzzer harnesses share: the entry point's
 * prototype, a check that turns a broken promise into a crash the fuzzer
 * keeps, and a private folder for parsers that read a file by name.
 *
 * Each harness calls a parser's real entry point; when the parser
 * accepts an input, it also checks what the parser's header promises
 * about the result, so that a wrong answer is found, not only a crash.
 * tests/fuzz/run sets TMPDIR to a folder of build/fuzz/ and removes it.
 */
#ifndef LABD_FUZZ_H
#define LABD_FUZZ_H

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A promise the parser broke: abort, so that libFuzzer keeps the input. */
#define FUZZ_CHECK(cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

/* Set-up that cannot fail unless the machine is broken. */
static inline void
fuzz_must(int ok, const char *what)
{
	if (!ok) {
		perror(what);
		abort();
	}
}

/* This process's own folder under $TMPDIR, made on first use. */
static inline const char *
fuzz_dir(void)
{
	static char	 dir[PATH_MAX];
	const char	*tmp;

	if (dir[0] == '\0') {
		if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
			tmp = "/tmp";
		snprintf(dir, sizeof(dir), "%s/labd-fuzz.XXXXXX", tmp);
		fuzz_must(mkdtemp(dir) != NULL, "mkdtemp");
	}
	return dir;
}

/* All of data to fd. */
static inline void
fuzz_write_fd(int fd, const uint8_t *data, size_t size)
{
	size_t	off = 0;
	ssize_t	n;

	while (off < size) {
		n = write(fd, data + off, size - off);
		if (n == -1 && errno == EINTR)
			continue;
		fuzz_must(n > 0, "write");
		off += (size_t)n;
	}
}

/* data as the file path, replacing what was there. */
static inline void
fuzz_write(const char *path, const uint8_t *data, size_t size)
{
	int	fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	fuzz_must(fd != -1, path);
	fuzz_write_fd(fd, data, size);
	close(fd);
}

/* A NUL-terminated string is within its buffer. */
#define FUZZ_TERMINATED(buf)	(memchr((buf), '\0', sizeof(buf)) != NULL)

#endif /* LABD_FUZZ_H */
