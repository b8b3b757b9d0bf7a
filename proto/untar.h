/* SPDX-License-Identifier: ISC */
/*
 * untar.h - the hostile-tar unpacker (proto/untar.c) that labctl collect
 * and labd's exam-end collection share: one set of rules for both.
 */
#ifndef PROTO_UNTAR_H
#define PROTO_UNTAR_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* sha256.c: the file sums of what was unpacked. */
struct sha256 {
	uint32_t	h[8];
	uint64_t	len;
	unsigned char	buf[64];
	size_t		used;
};
void	sha256_init(struct sha256 *);
void	sha256_update(struct sha256 *, const void *, size_t);
/* The digest in hex; s is used up. */
void	sha256_hex(struct sha256 *s, char out[65]);


/*
 * Where a tar stream comes from (rd: up to len bytes, 0 at its end, -1
 * with rd_err's text), where it goes (dirfd, which nothing leaves) and
 * who hears of each file made (its path as "/" and the name in the
 * stream, cleaned; its bytes and sha256).
 */
struct untar_opts {
	int		 dirfd;
	long long	 max_bytes;	/* of file data, all files together */
	ssize_t		(*rd)(void *arg, void *buf, size_t len);
	const char	*(*rd_err)(void *arg);
	void		*rd_arg;
	void		(*on_file)(void *arg, const char *path,
			    long long bytes, const char *sha256);
	void		*file_arg;
};
struct untar_result {
	long long	files, bytes;
	int		skipped;	/* entries not unpacked: links, ... */
	char		notes[1024];	/* the first of them, and why */
};
/* 0 at the stream's end, -1 with err (what was made so far stays). */
int	untar_run(const struct untar_opts *, struct untar_result *,
	    char *err, size_t errlen);
/*
 * A name of the stream made relative and tidy into out: 0, 1 when it is
 * the root itself ("./"), -1 when it is refused (absolute, "..").
 */
int	untar_path_clean(const char *in, char *out, size_t outlen);

/*
 * One row of manifest.csv (student,vm,path,bytes,sha256), the format
 * labctl collect and labd's exam end both write.
 */
void	untar_manifest_row(FILE *f, const char *student, const char *vm,
	    const char *path, long long bytes, const char *sum);

#endif
