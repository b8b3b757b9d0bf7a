/* SPDX-License-Identifier: ISC */
/*
 * test_ova.c - .ova archives: the OVF scan against golden descriptors
 * (VMware and VirtualBox exports, and the ways one goes wrong), the tar
 * reader against archives built here byte by byte (a name that escapes,
 * a truncated or garbled archive, links, pax and GNU long names) and by
 * the real tar, and ova_extract end to end with a manifest.
 *
 * Each tests/unit/golden/ova/NAME.ovf is parsed and the result, one line
 * of memory, vCPUs, firmware and disk or "error: MESSAGE", must equal
 * NAME.out.  The runner, and how to update the files, are in testutil.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "labd/labd.h"
#include "tests/unit/testutil.h"

/* --- the OVF scan --------------------------------------------------------- */

static char *
ovf_render(const char *file)
{
	struct ovf_info	 info;
	char		 err[LABD_ERRLEN], *xml;
	size_t		 len;

	if ((xml = file_read(file, 1 << 20, &len, err, sizeof(err))) == NULL)
		return xasprintf("error: %s\n", err);
	if (ovf_parse(xml, len, file, &info, err, sizeof(err)) == -1) {
		free(xml);
		cr_expect_eq(info.memory_mb + info.vcpus + info.disk[0], 0,
		    "%s: a result came back with the error", file);
		return xasprintf("error: %s\n", err);
	}
	free(xml);
	return xasprintf("memory_mb=%u vcpus=%u firmware=%s disk=\"%s\"\n",
	    info.memory_mb, info.vcpus, info.uefi ? "uefi" : "bios", info.disk);
}

Test(ovf, golden)
{
	cr_expect_geq(golden_run("ova", ".ovf", ovf_render), 30,
	    "fewer OVF cases than expected: files lost?");
}

Test(ovf, nul_and_garbage_never_crash)
{
	static const char	text[] = "<Envelope>\0</Envelope>";
	static const char	chars[] = "<>/=\"'&;!?[]-aE \n\x01";
	struct ovf_info		info;
	char			err[LABD_ERRLEN], junk[4096];
	size_t			i;
	unsigned		seed = 7;

	cr_expect_eq(ovf_parse(text, sizeof(text) - 1, "n.ovf", &info, err,
	    sizeof(err)), -1);
	cr_expect(strstr(err, "NUL") != NULL, "%s", err);
	/* Random bytes with plenty of '<', '>', '"' and '&': an error, no crash. */
	for (i = 0; i < 2000; i++) {
		size_t	k, n = rand_r(&seed) % sizeof(junk);

		for (k = 0; k < n; k++)
			junk[k] = chars[rand_r(&seed) % (sizeof(chars) - 1)];
		ovf_parse(junk, n, "junk.ovf", &info, err, sizeof(err));
	}
}

Test(ovf, error_fits_a_small_buffer)
{
	static const char	text[] = "<Envelope><References>";
	struct ovf_info		info;
	char			err[16];

	cr_expect_eq(ovf_parse(text, sizeof(text) - 1, "long-name.ovf", &info,
	    err, sizeof(err)), -1);
	cr_expect_eq(strlen(err), sizeof(err) - 1);
}

/* --- tar archives built byte by byte --------------------------------------- */

TestSuite(tar, .init = tmp_dir_setup, .fini = tmp_dir_teardown);
TestSuite(ova, .init = tmp_dir_setup, .fini = tmp_dir_teardown);

struct tarbuf {
	char	*buf;
	size_t	 len;
};

static void
tb_put(struct tarbuf *t, const void *p, size_t n)
{
	if (n == 0)
		return;
	t->buf = tu_realloc(t->buf, t->len + n);
	memcpy(t->buf + t->len, p, n);
	t->len += n;
}

/* A ustar header as GNU tar writes one, with a checksum that holds. */
static void
tb_header(unsigned char *h, const char *name, size_t size, char type)
{
	unsigned	sum = 0;
	int		i;

	memset(h, 0, 512);
	strncpy((char *)h, name, 100);
	snprintf((char *)h + 100, 8, "%07o", 0644);
	snprintf((char *)h + 108, 8, "%07o", 0);
	snprintf((char *)h + 116, 8, "%07o", 0);
	snprintf((char *)h + 124, 12, "%011zo", size);
	snprintf((char *)h + 136, 12, "%011o", 0);
	h[156] = type;
	memcpy(h + 257, "ustar\0" "00", 8);
	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
}

static void
tb_add(struct tarbuf *t, const char *name, const void *data, size_t size,
    char type)
{
	unsigned char	h[512], pad[512] = { 0 };

	tb_header(h, name, size, type);
	tb_put(t, h, 512);
	tb_put(t, data, size);
	if (size % 512)
		tb_put(t, pad, 512 - size % 512);
}

static void
tb_end(struct tarbuf *t)
{
	unsigned char	zero[1024] = { 0 };

	tb_put(t, zero, sizeof(zero));
}

/* Write the archive to tmp_dir/leaf; its path, static. */
static const char *
tb_write(struct tarbuf *t, const char *leaf, size_t len)
{
	static char	path[PATH_MAX + 64];
	FILE		*f;

	snprintf(path, sizeof(path), "%s/%s", tmp_dir, leaf);
	cr_assert_not_null(f = fopen(path, "w"), "%s", path);
	cr_assert(len == 0 || fwrite(t->buf, 1, len, f) == len);
	cr_assert_eq(fclose(f), 0);
	return path;
}

/* tar_index on a file: -1 or the number of members; err filled. */
static int
index_file(const char *path, struct tar_entry **v, char *err, size_t errlen)
{
	size_t	n;
	int	fd, rc;

	cr_assert_neq(fd = open(path, O_RDONLY), -1, "%s", path);
	rc = tar_index(fd, path, v, &n, err, errlen);
	close(fd);
	return rc == -1 ? -1 : (int)n;
}

/* The archive of t must be refused with an error holding want. */
static void
refused(struct tarbuf *t, size_t len, const char *want)
{
	struct tar_entry	*v = NULL;
	char			 err[LABD_ERRLEN];
	const char		*path = tb_write(t, "x.ova", len);

	cr_expect_eq(index_file(path, &v, err, sizeof(err)), -1,
	    "accepted an archive that should fail with \"%s\"", want);
	cr_expect_null(v);
	cr_expect(strstr(err, want) != NULL, "want \"%s\" in: %s", want, err);
	cr_expect(strstr(err, "x.ova") != NULL, "the file is not named: %s",
	    err);
	free(t->buf);
}

Test(tar, index_plain)
{
	struct tarbuf		 t = { 0 };
	struct tar_entry	*v;
	char			 err[LABD_ERRLEN], big[700];
	int			 n;

	memset(big, 'v', sizeof(big));
	tb_add(&t, "a.ovf", "<Envelope/>", 11, '0');
	tb_add(&t, "./b.vmdk", big, sizeof(big), '0');
	tb_add(&t, "./", NULL, 0, '5');
	tb_add(&t, "empty.mf", NULL, 0, '0');
	tb_end(&t);
	n = index_file(tb_write(&t, "ok.ova", t.len), &v, err, sizeof(err));
	cr_assert_eq(n, 3, "%s", err);
	cr_expect_str_eq(v[0].name, "a.ovf");
	cr_expect_eq(v[0].offset, 512);
	cr_expect_eq(v[0].size, 11);
	cr_expect_str_eq(v[1].name, "b.vmdk", "\"./\" is dropped");
	cr_expect_eq(v[1].offset, 1536);
	cr_expect_eq(v[1].size, 700);
	cr_expect_str_eq(v[2].name, "empty.mf");
	cr_expect_eq(v[2].size, 0);
	free(v);
	free(t.buf);
}

Test(tar, no_end_blocks_is_accepted_on_a_boundary)
{
	struct tarbuf		 t = { 0 };
	struct tar_entry	*v;
	char			 err[LABD_ERRLEN];

	tb_add(&t, "a.ovf", "<Envelope/>", 11, '0');
	cr_expect_eq(index_file(tb_write(&t, "a.ova", t.len), &v, err,
	    sizeof(err)), 1, "%s", err);
	free(v);
	free(t.buf);
}

Test(tar, parent_escape_is_refused)
{
	struct tarbuf	t = { 0 };

	tb_add(&t, "x.ovf", "<Envelope/>", 11, '0');
	tb_add(&t, "../evil.vmdk", "boom", 4, '0');
	tb_end(&t);
	refused(&t, t.len, "\"../evil.vmdk\" would escape");
}

Test(tar, absolute_name_is_refused)
{
	struct tarbuf	t = { 0 };

	tb_add(&t, "/etc/cron.d/evil", "* * * * * root x\n", 17, '0');
	tb_end(&t);
	refused(&t, t.len, "\"/etc/cron.d/evil\" would escape");
}

Test(tar, subfolder_is_refused)
{
	struct tarbuf	t = { 0 };

	tb_add(&t, "disks/x.vmdk", "d", 1, '0');
	tb_end(&t);
	refused(&t, t.len, "\"disks/x.vmdk\" would escape");
}

Test(tar, dotdot_alone_is_refused)
{
	struct tarbuf	t = { 0 };

	tb_add(&t, "..", "d", 1, '0');
	tb_end(&t);
	refused(&t, t.len, "\"..\" would escape");
}

Test(tar, control_characters_are_refused_and_not_echoed)
{
	struct tarbuf	t = { 0 };

	tb_add(&t, "x\033[2J.vmdk", "d", 1, '0');
	tb_end(&t);
	refused(&t, t.len, "\"x?[2J.vmdk\" has control characters");
}

Test(tar, links_and_devices_are_refused)
{
	struct tarbuf	t = { 0 };

	tb_add(&t, "x.vmdk", NULL, 0, '2');
	tb_end(&t);
	refused(&t, t.len, "\"x.vmdk\" is a link");
	memset(&t, 0, sizeof(t));
	tb_add(&t, "x.vmdk", NULL, 0, '1');
	tb_end(&t);
	refused(&t, t.len, "is a link");
	memset(&t, 0, sizeof(t));
	tb_add(&t, "null", NULL, 0, '3');
	tb_end(&t);
	refused(&t, t.len, "is of type '3'");
	memset(&t, 0, sizeof(t));
	tb_add(&t, "folder", NULL, 0, '5');
	tb_end(&t);
	refused(&t, t.len, "is a folder");
}

Test(tar, duplicate_is_refused)
{
	struct tarbuf	t = { 0 };

	tb_add(&t, "x.vmdk", "a", 1, '0');
	tb_add(&t, "./x.vmdk", "b", 1, '0');
	tb_end(&t);
	refused(&t, t.len, "\"./x.vmdk\" appears twice");
}

Test(tar, truncated_data_is_refused)
{
	struct tarbuf	t = { 0 };
	char		data[5000];

	memset(data, 'd', sizeof(data));
	tb_add(&t, "x.ovf", "<Envelope/>", 11, '0');
	tb_add(&t, "x.vmdk", data, sizeof(data), '0');
	tb_end(&t);
	/* Cut in the middle of x.vmdk's data. */
	refused(&t, 1024 + 3000, "truncated: member \"x.vmdk\" needs 5000"
	    " bytes");
}

Test(tar, truncated_header_is_refused)
{
	struct tarbuf	t = { 0 };

	tb_add(&t, "x.ovf", "<Envelope/>", 11, '0');
	tb_add(&t, "x.vmdk", "d", 1, '0');
	refused(&t, 1024 + 100, "truncated: it ends inside the header at"
	    " offset 1024");
}

Test(tar, bad_checksum_is_refused)
{
	struct tarbuf	t = { 0 };

	tb_add(&t, "x.ovf", "<Envelope/>", 11, '0');
	tb_add(&t, "x.vmdk", "d", 1, '0');
	tb_end(&t);
	t.buf[1024 + 3] ^= 0x20;	/* x.vmdk's name, checksum kept */
	refused(&t, t.len, "garbled header at offset 1024");
}

Test(tar, text_is_not_a_tar)
{
	struct tarbuf		 t = { 0 };
	struct tar_entry	*v;
	char			 text[2048], err[LABD_ERRLEN];

	memset(text, 'a', sizeof(text));
	memcpy(text, "This is a README, not an appliance.\n", 36);
	tb_put(&t, text, sizeof(text));
	refused(&t, t.len, "is not a tar archive");
	memset(&t, 0, sizeof(t));
	tb_put(&t, "not an appliance\n", 17);
	refused(&t, t.len, "is not a tar archive");
	memset(&t, 0, sizeof(t));
	tb_put(&t, "", 0);
	cr_expect_eq(index_file(tb_write(&t, "empty.ova", 0), &v, err,
	    sizeof(err)), 0, "an empty file is an empty archive: %s", err);
	free(v);
}

Test(tar, huge_base256_size_is_truncated_not_overflowed)
{
	struct tarbuf	t = { 0 };
	unsigned char	h[512];
	unsigned	sum = 0;
	int		i;

	tb_header(h, "x.vmdk", 0, '0');
	/* 2^62 bytes in GNU base 256, then the checksum again. */
	memset(h + 124, 0, 12);
	h[124] = 0x80;
	h[128] = 0x40;
	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
	tb_put(&t, h, 512);
	tb_end(&t);
	refused(&t, t.len, "truncated: member \"x.vmdk\" needs"
	    " 4611686018427387904 bytes");
}

Test(tar, pax_path_that_escapes_is_refused)
{
	struct tarbuf	t = { 0 };
	static const char pax[] = "27 path=../../root/.bashrc\n";

	tb_add(&t, "PaxHeaders/x", pax, sizeof(pax) - 1, 'x');
	tb_add(&t, "harmless.vmdk", "d", 1, '0');
	tb_end(&t);
	refused(&t, t.len, "\"../../root/.bashrc\" would escape");
}

Test(tar, garbled_pax_is_refused)
{
	struct tarbuf	t = { 0 };
	static const char pax[] = "99 path=x.vmdk\n";

	tb_add(&t, "PaxHeaders/x", pax, sizeof(pax) - 1, 'x');
	tb_add(&t, "x.vmdk", "d", 1, '0');
	tb_end(&t);
	refused(&t, t.len, "garbled pax header at offset 0");
}

/*
 * A record's length must cover its own digits: "\n1 ab" once sent the
 * search for '=' past the end of the header (fuzz_tar, under ASan).
 */
Test(tar, pax_record_shorter_than_its_length_is_refused)
{
	static const char *bad[] = { "\n1 ab", "2 ab\n", "+7 a=b\n",
	    " 7 a=b\n", "3 =\n" };
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tarbuf	t = { 0 };

		tb_add(&t, "PaxHeaders/x", bad[i], strlen(bad[i]), 'x');
		tb_add(&t, "x.vmdk", "d", 1, '0');
		tb_end(&t);
		refused(&t, t.len, "garbled pax header at offset 0");
	}
}

Test(tar, gnu_long_name_that_escapes_is_refused)
{
	struct tarbuf	t = { 0 };
	char		name[300];

	memset(name, 'a', sizeof(name));
	memcpy(name, "../", 3);
	name[200] = '\0';
	tb_add(&t, "././@LongLink", name, strlen(name) + 1, 'L');
	tb_add(&t, "aaaa", "d", 1, '0');
	tb_end(&t);
	refused(&t, t.len, "would escape");
}

Test(tar, header_without_member_is_refused)
{
	struct tarbuf	t = { 0 };
	static const char pax[] = "15 path=x.vmdk\n";

	tb_add(&t, "PaxHeaders/x", pax, sizeof(pax) - 1, 'x');
	tb_end(&t);
	refused(&t, t.len, "ends after a header that announces a member");
}

/* GNU tar's own formats, long names included (pax 'x' and GNU 'L'). */
Test(tar, real_tar_formats)
{
	static const char	*formats[] = { "ustar", "gnu", "pax" };
	struct tar_entry	*v;
	char			 err[LABD_ERRLEN], cmd[PATH_MAX * 4], *out;
	char			 longname[160];
	size_t			 i;
	int			 n;

	memset(longname, 'l', sizeof(longname));
	strcpy(longname + 140, ".vmdk");
	snprintf(cmd, sizeof(cmd), "cd %s && printf '<Envelope/>' > a.ovf &&"
	    " head -c 3000 /dev/urandom > b.vmdk && printf x > %s &&"
	    " echo done", tmp_dir, longname);
	free(cmd_read(cmd));
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		snprintf(cmd, sizeof(cmd), "cd %s && tar --format=%s -cf %s.ova"
		    " a.ovf b.vmdk %s 2>&1; echo rc=$?", tmp_dir, formats[i],
		    formats[i], strcmp(formats[i], "ustar") ? longname : "");
		out = cmd_read(cmd);
		cr_assert(strstr(out, "rc=0") != NULL, "%s", out);
		free(out);
		snprintf(cmd, sizeof(cmd), "%s/%s.ova", tmp_dir, formats[i]);
		n = index_file(cmd, &v, err, sizeof(err));
		cr_assert_eq(n, strcmp(formats[i], "ustar") ? 3 : 2, "%s: %s",
		    formats[i], err);
		cr_expect_str_eq(v[0].name, "a.ovf");
		cr_expect_eq(v[0].size, 11);
		cr_expect_str_eq(v[1].name, "b.vmdk");
		cr_expect_eq(v[1].size, 3000);
		if (n == 3)
			cr_expect_str_eq(v[2].name, longname, "%s", formats[i]);
		free(v);
	}
}

/* --- ova_extract ---------------------------------------------------------- */

static const char ovf_text[] =
    "<?xml version=\"1.0\"?>\n"
    "<Envelope xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\""
    " xmlns:ovf=\"http://schemas.dmtf.org/ovf/envelope/1\""
    " xmlns:rasd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
    "CIM_ResourceAllocationSettingData\">\n"
    "  <References><File ovf:id=\"f1\" ovf:href=\"lab-disk1.vmdk\"/>"
    "</References>\n"
    "  <DiskSection><Disk ovf:diskId=\"d1\" ovf:fileRef=\"f1\"/>"
    "</DiskSection>\n"
    "  <VirtualSystem ovf:id=\"lab\"><VirtualHardwareSection>\n"
    "    <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>"
    "<rasd:ResourceType>4</rasd:ResourceType>"
    "<rasd:VirtualQuantity>256</rasd:VirtualQuantity></Item>\n"
    "    <Item><rasd:ResourceType>3</rasd:ResourceType>"
    "<rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>\n"
    "  </VirtualHardwareSection></VirtualSystem>\n"
    "</Envelope>\n";

/* 200 KiB with a zero run in the middle, where the copy leaves a hole. */
static char *
disk_bytes(size_t *len)
{
	size_t	n = 200 * 1024, i;
	char	*d = tu_realloc(NULL, n);

	for (i = 0; i < n; i++)
		d[i] = (char)(i * 7 + 1);
	memset(d + 64 * 1024, 0, 128 * 1024);
	*len = n;
	return d;
}

static char *
sha256_of(const char *path)
{
	char	cmd[PATH_MAX + 32], *out;

	snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
	out = cmd_read(cmd);
	out[64] = '\0';
	return out;
}

/* An .ova of the OVF and the disk, with a manifest when mf is set. */
static const char *
ova_build(const char *ovf, const char *disk_name, int mf, int corrupt)
{
	struct tarbuf	 t = { 0 };
	char		 path[PATH_MAX + 64], *d, *sum_ovf, *sum_disk, *line;
	const char	*ova;
	size_t		 len;
	FILE		*f;

	d = disk_bytes(&len);
	snprintf(path, sizeof(path), "%s/plain-ovf", tmp_dir);
	f = fopen(path, "w");
	fputs(ovf, f);
	fclose(f);
	sum_ovf = sha256_of(path);
	snprintf(path, sizeof(path), "%s/plain-disk", tmp_dir);
	f = fopen(path, "w");
	fwrite(d, 1, len, f);
	fclose(f);
	sum_disk = sha256_of(path);
	tb_add(&t, "lab.ovf", ovf, strlen(ovf), '0');
	if (mf) {
		/* ovftool's spelling for one line, VirtualBox's for the other. */
		line = xasprintf("SHA256(lab.ovf)= %s\nSHA256 (%s) = %s\n",
		    sum_ovf, disk_name, sum_disk);
		tb_add(&t, "lab.mf", line, strlen(line), '0');
		free(line);
	}
	if (corrupt)
		d[100] ^= 1;
	tb_add(&t, disk_name, d, len, '0');
	tb_end(&t);
	ova = tb_write(&t, "lab.ova", t.len);
	free(t.buf);
	free(d);
	free(sum_ovf);
	free(sum_disk);
	return ova;
}

static const char *
out_dir(void)
{
	static char	dir[PATH_MAX + 16];

	snprintf(dir, sizeof(dir), "%s/out", tmp_dir);
	cr_assert_eq(mkdir(dir, 0700), 0);
	return dir;
}

/* ova_extract() of the file ova, opened here. */
static int
extract(const char *ova, const char *dir, struct ovf_info *info, char *disk,
    size_t disklen, char *err, size_t errlen)
{
	int	fd, rc;

	cr_assert_neq(fd = open(ova, O_RDONLY | O_CLOEXEC), -1, "%s", ova);
	rc = ova_extract(fd, ova, dir, info, disk, disklen, err, errlen);
	close(fd);
	return rc;
}

Test(ova, extract_with_manifest)
{
	struct ovf_info	 info;
	struct stat	 sb;
	char		 err[LABD_ERRLEN], disk[PATH_MAX], want[PATH_MAX + 32];
	char		*got, *exp;
	const char	*ova = ova_build(ovf_text, "lab-disk1.vmdk", 1, 0);
	const char	*dir = out_dir();
	size_t		 len;

	cr_assert_eq(extract(ova, dir, &info, disk, sizeof(disk), err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_eq(info.memory_mb, 256);
	cr_expect_eq(info.vcpus, 2);
	snprintf(want, sizeof(want), "%s/lab-disk1.vmdk", dir);
	cr_expect_str_eq(disk, want);
	exp = disk_bytes(&len);
	cr_assert_not_null(got = file_read(disk, 1 << 20, &len, err,
	    sizeof(err)), "%s", err);
	cr_expect_eq(len, 200 * 1024);
	cr_expect_eq(memcmp(got, exp, len), 0, "the disk differs");
	cr_assert_eq(stat(disk, &sb), 0);
	cr_expect_lt(sb.st_blocks * 512, 150 * 1024, "the zeros were written"
	    " (%lld bytes allocated), not left as a hole",
	    (long long)sb.st_blocks * 512);
	free(got);
	free(exp);
	/* Only the descriptor and the disk came out. */
	snprintf(want, sizeof(want), "ls %s | wc -l", dir);
	got = cmd_read(want);
	cr_expect_str_eq(got, "2\n");
	free(got);
}

Test(ova, manifest_mismatch_is_refused)
{
	struct ovf_info	 info;
	char		 err[LABD_ERRLEN], disk[PATH_MAX];
	const char	*ova = ova_build(ovf_text, "lab-disk1.vmdk", 1, 1);

	cr_expect_eq(extract(ova, out_dir(), &info, disk, sizeof(disk),
	    err, sizeof(err)), -1);
	cr_expect(strstr(err, "lab-disk1.vmdk does not match its SHA256 in"
	    " lab.mf") != NULL, "%s", err);
}

Test(ova, missing_disk_is_named)
{
	struct ovf_info	 info;
	char		 err[LABD_ERRLEN], disk[PATH_MAX];
	const char	*ova = ova_build(ovf_text, "other.vmdk", 0, 0);

	cr_expect_eq(extract(ova, out_dir(), &info, disk, sizeof(disk),
	    err, sizeof(err)), -1);
	cr_expect(strstr(err, "lab.ovf names the disk lab-disk1.vmdk, which is"
	    " not in the archive") != NULL, "%s", err);
}

Test(ova, garbled_ovf_is_named)
{
	struct ovf_info	 info;
	char		 err[LABD_ERRLEN], disk[PATH_MAX];
	const char	*ova = ova_build("<Envelope><References>\n",
			    "lab-disk1.vmdk", 0, 0);

	cr_expect_eq(extract(ova, out_dir(), &info, disk, sizeof(disk),
	    err, sizeof(err)), -1);
	cr_expect(strstr(err, "lab.ova: lab.ovf: the file ends inside"
	    " <References>") != NULL, "%s", err);
}

Test(ova, no_descriptor_is_refused)
{
	struct tarbuf	 t = { 0 };
	struct ovf_info	 info;
	char		 err[LABD_ERRLEN], disk[PATH_MAX];
	const char	*ova;

	tb_add(&t, "disk.vmdk", "d", 1, '0');
	tb_end(&t);
	ova = tb_write(&t, "nothing.ova", t.len);
	free(t.buf);
	cr_expect_eq(extract(ova, out_dir(), &info, disk, sizeof(disk),
	    err, sizeof(err)), -1);
	cr_expect(strstr(err, "nothing.ova holds no .ovf descriptor: not an"
	    " OVA (members: disk.vmdk)") != NULL, "%s", err);
}

/* Its disk's path, beside it: the disk is for the caller to open. */
Test(ova, ovf_beside_its_disk)
{
	struct ovf_info	 info;
	char		 err[LABD_ERRLEN], disk[PATH_MAX], path[PATH_MAX + 32];
	FILE		*f;
	int		 fd;

	snprintf(path, sizeof(path), "%s/lab.ovf", tmp_dir);
	f = fopen(path, "w");
	fputs(ovf_text, f);
	fclose(f);
	cr_assert_neq(fd = open(path, O_RDONLY | O_CLOEXEC), -1);
	cr_assert_eq(ovf_load(fd, path, &info, disk, sizeof(disk), err,
	    sizeof(err)), 0, "%s", err);
	close(fd);
	snprintf(path, sizeof(path), "%s/lab-disk1.vmdk", tmp_dir);
	cr_expect_str_eq(disk, path);
	cr_expect_eq(info.memory_mb, 256);
}
