/* SPDX-License-Identifier: ISC */
/*
 * test_seed.c - the cloud-init NoCloud seed and its passwords.
 *
 * The rendering is compared byte for byte with the files in golden/vmm/, as
 * the tiny guest's boot script parses exactly that shape; network-config
 * is also fed to the guest's own parser (seed.awk under busybox awk).  The
 * ISO is made with the real genisoimage and read back with isoinfo and by
 * hand (the volume label, which is how cloud-init finds the seed).
 * LABD_GOLDEN_UPDATE=1 rewrites the golden files, as testutil.h says.
 */
#include <sys/stat.h>

#include <crypt.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "vmm/vmm.h"
#include "tests/unit/testutil.h"

static const char alice_key[] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0b3Br"
    "ZXlhbGljZWxhcHRvcGtleWtleWtleQ alice@laptop";
static const char mgmt_key[] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG1nbXRr"
    "ZXltZ210a2V5bWdtdGtleW1nbXRrZXk labd@host";
static const char alice_hash[] = "$6$saltsaltsaltsalt$Wq3jM1q9wK5l7vXo0Zb2u1"
    "mO9dJ4cVbqk8G3p2XyZ0e1f2g3h4i5j6k7l8m9n0o1p2q3r4s5t6u7v8w9x0y1z2";

static const char *alice_keys[] = {
	alice_key,
	"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC0 \"quoted\" comment",
};

static const struct vmm_user alice = {
	.name = "alice",
	.gecos = "Alice \"Al\" O'Brien, Jr. \\ III",
	.passwd_hash = alice_hash,
	.keys = alice_keys,
	.nkeys = 2,
};

static const struct vmm_seed demo = {
	.instance_id = "demo-alice-1-1764000000",
	.hostname = "demo-alice",
	.users = &alice,
	.nusers = 1,
	.mgmt_key = mgmt_key,
};

static const struct vmm_net bridge_net = {
	.mac = "52:54:00:12:34:56",
	.address = "10.77.0.9/16",
	.gateway = "10.77.0.1",
	.dns = "10.77.0.1",
};

/* demo in bridge mode: the same seed and a network-config. */
static const struct vmm_seed demo_bridge = {
	.instance_id = "demo-alice-1-1764000000",
	.hostname = "demo-alice",
	.users = &alice,
	.nusers = 1,
	.mgmt_key = mgmt_key,
	.net = &bridge_net,
};

TestSuite(seed, .init = tmp_dir_setup, .fini = tmp_dir_teardown,
    .timeout = 30);

Test(seed, userdata_golden)
{
	char	*ud = seed_render_userdata(&demo);

	cr_assert_not_null(ud);
	golden_check("vmm", "user-data.golden", ud);
	free(ud);
}

Test(seed, metadata_golden)
{
	char	*md = seed_render_metadata(&demo);

	cr_assert_not_null(md);
	golden_check("vmm", "meta-data.golden", md);
	free(md);
}

Test(seed, locked_user_without_keys_or_root)
{
	struct vmm_user	 bob = { .name = "bob" };
	struct vmm_seed	 s = {
		.instance_id = "i-1", .hostname = "demo-bob",
		.users = &bob, .nusers = 1,
	};
	char		*ud = seed_render_userdata(&s);

	cr_assert_not_null(ud);
	cr_expect_str_eq(ud,
	    "#cloud-config\n"
	    "hostname: \"demo-bob\"\n"
	    "ssh_pwauth: true\n"
	    "disable_root: false\n"
	    "updates:\n"
	    "  network:\n"
	    "    when: [\"boot\"]\n"
	    "users:\n"
	    "  - name: \"bob\"\n"
	    "    shell: \"/bin/bash\"\n"
	    "    lock_passwd: true\n");
	free(ud);
}

Test(seed, control_characters_and_bad_utf8_are_replaced)
{
	/* A tab, a newline that would start a YAML key, Latin-1 bytes, C1. */
	struct vmm_user	 u = {
		.name = "carol",
		.gecos = "Carol\tM\xfcller\nroot: x \xc2\x85"
		    " J\xc3\xb6rg \xe2\x82\xac",
	};
	struct vmm_seed	 s = {
		.instance_id = "i\r\n-2", .hostname = "h",
		.users = &u, .nusers = 1,
	};
	char		*ud = seed_render_userdata(&s), *md;

	cr_assert_not_null(ud);
	/* Valid UTF-8 (ö, €) survives; nothing escapes its line. */
	cr_expect(strstr(ud, "    gecos: \"Carol M?ller root: x   J\xc3\xb6rg"
	    " \xe2\x82\xac\"\n") != NULL, "got:\n%s", ud);
	free(ud);
	md = seed_render_metadata(&s);
	cr_expect_str_eq(md, "instance-id: \"i  -2\"\nlocal-hostname: \"h\"\n");
	free(md);
}

Test(seed, create_makes_a_cidata_iso)
{
	char		 iso[PATH_MAX], cmd[PATH_MAX * 2], err[VMM_ERRLEN] = "";
	char		 pvd[2048], *ud, *listing, *got;
	struct stat	 st;
	int		 fd;

	cr_assert_eq(vmm_path(iso, sizeof(iso), tmp_dir, "seed.iso"), 0);
	cr_assert_eq(seed_create(&demo, iso, err, sizeof(err)), 0,
	    "seed_create: %s", err);
	cr_expect_eq(tmp_dir_count(), 1, "temporary files left behind");
	cr_assert_eq(stat(iso, &st), 0);
	cr_expect_eq(st.st_mode & 077, 0, "a password hash readable by all");

	/* The primary volume descriptor: sector 16, label at byte 40. */
	cr_assert_geq(fd = open(iso, O_RDONLY), 0);
	cr_assert_eq(pread(fd, pvd, sizeof(pvd), 16 * 2048), 2048);
	close(fd);
	cr_expect_eq(pvd[0], 1);
	cr_expect(memcmp(pvd + 1, "CD001", 5) == 0);
	cr_expect(memcmp(pvd + 40, "cidata                          ", 32) == 0,
	    "volume id: %.32s", pvd + 40);

	if (access("/usr/bin/isoinfo", X_OK) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "isoinfo -R -f -i '%s' | sort", iso);
	listing = cmd_read(cmd);
	cr_expect_str_eq(listing, "/meta-data\n/user-data\n");
	free(listing);
	/* What the guest reads is what we rendered. */
	snprintf(cmd, sizeof(cmd), "isoinfo -R -x /user-data -i '%s'", iso);
	got = cmd_read(cmd);
	ud = seed_render_userdata(&demo);
	cr_expect_str_eq(got, ud);
	free(got);
	free(ud);
	snprintf(cmd, sizeof(cmd), "isoinfo -d -i '%s'", iso);
	got = cmd_read(cmd);
	cr_expect(strstr(got, "Volume id: cidata\n") != NULL, "%s", got);
	free(got);
}

Test(seed, netconfig_full_golden)
{
	char	 err[VMM_ERRLEN] = "";
	char	*nc = seed_render_netconfig(&demo_bridge, err, sizeof(err));

	cr_assert_not_null(nc, "%s", err);
	golden_check("vmm", "network-config.golden", nc);
	free(nc);
}

Test(seed, netconfig_minimal_golden)
{
	struct vmm_net	 n = { .address = "10.77.0.9/16" };
	struct vmm_seed	 s = { .instance_id = "i", .hostname = "h", .net = &n };
	char		 err[VMM_ERRLEN] = "";
	char		*nc = seed_render_netconfig(&s, err, sizeof(err));

	cr_assert_not_null(nc, "%s", err);
	golden_check("vmm", "network-config-minimal.golden", nc);
	free(nc);
}

/* What is written is what was parsed: a lower-case MAC. */
Test(seed, netconfig_canonical_and_edge_prefixes)
{
	static const struct {
		struct vmm_net	 net;
		const char	*want;		/* a line of the output */
	} ok[] = {
		{ { .mac = "52:54:00:AB:cD:eF", .address = "10.0.2.20/24" },
		    "      macaddress: \"52:54:00:ab:cd:ef\"\n" },
		{ { .address = "192.168.7.3/32" }, "      - \"192.168.7.3/32\"\n" },
		{ { .address = "192.168.7.0/31", .gateway = "192.168.7.1" },
		    "        via: \"192.168.7.1\"\n" },
		{ { .address = "10.0.0.1/0", .gateway = "192.168.1.1" },
		    "      - \"10.0.0.1/0\"\n" },
		{ { .address = "10.77.0.9/16", .dns = "9.9.9.9" },
		    "        - \"9.9.9.9\"\n" },
	};
	struct vmm_seed	 s = { .instance_id = "i", .hostname = "h" };
	char		 err[VMM_ERRLEN];
	char		*nc;
	size_t		 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		s.net = &ok[i].net;
		err[0] = '\0';
		nc = seed_render_netconfig(&s, err, sizeof(err));
		cr_expect_not_null(nc, "%s refused: %s", ok[i].net.address, err);
		if (nc == NULL)
			continue;
		cr_expect(strstr(nc, ok[i].want) != NULL, "%s: no %s in:\n%s",
		    ok[i].net.address, ok[i].want, nc);
		cr_expect_eq(strstr(nc, "routes:") != NULL,
		    ok[i].net.gateway != NULL);
		cr_expect_eq(strstr(nc, "nameservers:") != NULL,
		    ok[i].net.dns != NULL);
		cr_expect_eq(strstr(nc, "set-name: eth0") != NULL,
		    ok[i].net.mac != NULL);
		free(nc);
	}
}

Test(seed, netconfig_bad_input_refused)
{
	static const struct {
		struct vmm_net	 net;
		const char	*why;		/* in the message */
	} bad[] = {
		{ { .address = NULL }, "address \"\"" },
		{ { .address = "" }, "address \"\" is not IPv4" },
		{ { .address = "10.77.0.9" }, "address \"10.77.0.9\" is not" },
		{ { .address = "10.77.0.9/" }, "is not IPv4" },
		{ { .address = "10.77.0.9/33" }, "is not IPv4" },
		{ { .address = "10.77.0.9/016" }, "is not IPv4" },
		{ { .address = "10.77.0.9/+6" }, "is not IPv4" },
		{ { .address = "10.77.0.9/16 " }, "is not IPv4" },
		{ { .address = "10.77.0.256/16" }, "is not IPv4" },
		{ { .address = "010.77.0.9/16" }, "is not IPv4" },
		{ { .address = "10.77.9/16" }, "is not IPv4" },
		{ { .address = "fd00::9/64" }, "is not IPv4" },
		{ { .address = "10.77.0.9/16\"\n  evil: x" }, "is not IPv4" },
		{ { .address = "10.77.0.0/16" }, "the subnet's network address" },
		{ { .address = "10.77.255.255/16" }, "subnet's broadcast address" },
		{ { .address = "127.0.0.2/8" }, "not one a guest can have" },
		{ { .address = "0.0.0.9/8" }, "not one a guest can have" },
		{ { .address = "224.0.0.9/24" }, "not one a guest can have" },
		{ { .address = "10.77.0.9/16", .gateway = "10.78.0.1" },
		    "gateway 10.78.0.1 is not in the subnet of 10.77.0.9/16" },
		{ { .address = "10.77.0.9/16", .gateway = "10.77.0.9" },
		    "gateway 10.77.0.9 is the address itself" },
		{ { .address = "10.77.0.9/32", .gateway = "10.77.0.1" },
		    "not in the subnet" },
		{ { .address = "10.77.0.9/16", .gateway = "gw.lab" },
		    "gateway \"gw.lab\" is not" },
		{ { .address = "10.77.0.9/16", .gateway = "" }, "gateway \"\"" },
		{ { .address = "10.77.0.9/16", .dns = "10.77.0" }, "DNS server" },
		{ { .address = "10.77.0.9/16", .dns = "255.255.255.255" },
		    "DNS server" },
		{ { .address = "10.77.0.9/16", .mac = "52:54:00:12:34" }, "MAC" },
		{ { .address = "10.77.0.9/16", .mac = "52-54-00-12-34-56" },
		    "MAC \"52-54-00-12-34-56\"" },
		{ { .address = "10.77.0.9/16", .mac = "52:54:00:12:34:5g" },
		    "MAC" },
		{ { .address = "10.77.0.9/16", .mac = "52:54:00:12:34:567" },
		    "MAC" },
		{ { .address = "10.77.0.9/16", .mac = "53:54:00:12:34:56" },
		    "not a unicast MAC" },
	};
	struct vmm_seed	 s = { .instance_id = "i", .hostname = "h" };
	char		 err[VMM_ERRLEN];
	char		*nc;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s.net = &bad[i].net;
		err[0] = '\0';
		nc = seed_render_netconfig(&s, err, sizeof(err));
		cr_expect_null(nc, "case %zu accepted:\n%s", i, nc);
		free(nc);
		cr_expect(strncmp(err, "network-config: ", 16) == 0 &&
		    strstr(err, bad[i].why) != NULL, "case %zu: want \"%s\","
		    " got \"%s\"", i, bad[i].why, err);
	}
	s.net = NULL;
	cr_expect_null(seed_render_netconfig(&s, err, sizeof(err)));
	cr_expect_str_eq(err, "network-config: no network given");
}

/*
 * The contract with the tiny guest: its own parser, under busybox awk as
 * in the guest, reads what we render (and what a person might write).
 */
static char *
tiny_parse_netconfig(const char *text)
{
	char	 awk[PATH_MAX * 2], nc[PATH_MAX], cmd[PATH_MAX * 4];
	char	*out, *p;
	FILE	*f;

	golden_find();
	snprintf(awk, sizeof(awk), "%s/../../../templates/tiny/rootfs/seed.awk",
	    golden_root);
	cr_assert_eq(vmm_path(nc, sizeof(nc), tmp_dir, "network-config"), 0);
	cr_assert_not_null(f = fopen(nc, "w"));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "busybox awk -f '%s' '%s' | head -n 1", awk,
	    nc);
	out = cmd_read(cmd);
	for (p = out; *p != '\0'; p++)
		if (*p == '\037')
			*p = '|';
	return out;
}

Test(seed, netconfig_read_by_the_tiny_guest)
{
	static const struct {
		const char	*text;
		const char	*want;
	} hand[] = {
		/* Plain scalars, flow lists, gateway4, a "network:" on top. */
		{ "network:\n  version: 2\n  ethernets:\n    eth0:\n"
		  "      addresses: [10.0.2.20/24]\n      gateway4: 10.0.2.2\n"
		  "      nameservers: {addresses: [10.0.2.3]}\n",
		  "N|10.0.2.20/24|10.0.2.2||\n" },
		{ "version: 2\nethernets:\n    id0:\n        match:\n"
		  "            macaddress: 52:54:00:AB:CD:EF  # the NIC\n"
		  "        addresses:\n          - fe80::9/64\n"
		  "          - '10.0.2.21/24'\n        routes:\n"
		  "          - to: 10.1.0.0/16\n            via: 10.0.2.9\n"
		  "          - via: 10.0.2.2\n            to: default\n"
		  "        nameservers:\n          addresses: [10.0.2.3, "
		  "\"2001:db8::1\", 10.0.2.4]\n",
		  "N|10.0.2.21/24|10.0.2.2|10.0.2.3 10.0.2.4|52:54:00:ab:cd:ef\n" },
		{ "version: 1\nconfig: []\n", "X|version \"1\" is not 2\n" },
		{ "version: 2\nethernets:\n  ens3:\n    dhcp4: true\n",
		  "X|interface ens3 has no match: macaddress and the guest has"
		  " only eth0\n" },
		{ "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n",
		  "X|no static IPv4 address (dhcp4 is not supported)\n" },
		{ "version: 2\nethernets:\n  eth0:\n    addresses:\n"
		  "      - \"10.0.2.300/24\"\n",
		  "X|address \"10.0.2.300/24\" is not IPv4/prefix\n" },
	};
	char		 err[VMM_ERRLEN] = "", *nc, *got;
	struct vmm_net	 n = { .address = "10.77.0.9/16" };
	struct vmm_seed	 s = { .instance_id = "i", .hostname = "h", .net = &n };
	size_t		 i;

	if (access("/bin/busybox", X_OK) != 0)
		cr_skip_test("busybox not installed");
	cr_assert_not_null(nc = seed_render_netconfig(&demo_bridge, err,
	    sizeof(err)), "%s", err);
	got = tiny_parse_netconfig(nc);
	cr_expect_str_eq(got,
	    "N|10.77.0.9/16|10.77.0.1|10.77.0.1|52:54:00:12:34:56\n");
	free(got);
	free(nc);

	cr_assert_not_null(nc = seed_render_netconfig(&s, err, sizeof(err)));
	got = tiny_parse_netconfig(nc);
	cr_expect_str_eq(got, "N|10.77.0.9/16|||\n");
	free(got);
	free(nc);

	for (i = 0; i < sizeof(hand) / sizeof(hand[0]); i++) {
		got = tiny_parse_netconfig(hand[i].text);
		cr_expect_str_eq(got, hand[i].want, "case %zu", i);
		free(got);
	}
}

Test(seed, create_with_network_config)
{
	char		 iso[PATH_MAX], cmd[PATH_MAX * 2], err[VMM_ERRLEN] = "";
	char		*got, *want;

	cr_assert_eq(vmm_path(iso, sizeof(iso), tmp_dir, "seed.iso"), 0);
	cr_assert_eq(seed_create(&demo_bridge, iso, err, sizeof(err)), 0,
	    "seed_create: %s", err);
	cr_expect_eq(tmp_dir_count(), 1, "temporary files left behind");
	if (access("/usr/bin/isoinfo", X_OK) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "isoinfo -R -f -i '%s' | sort", iso);
	got = cmd_read(cmd);
	cr_expect_str_eq(got, "/meta-data\n/network-config\n/user-data\n");
	free(got);
	snprintf(cmd, sizeof(cmd), "isoinfo -R -x /network-config -i '%s'", iso);
	got = cmd_read(cmd);
	want = seed_render_netconfig(&demo_bridge, err, sizeof(err));
	cr_expect_str_eq(got, want);
	free(got);
	free(want);
	/* The other two are those of the same seed without a network. */
	snprintf(cmd, sizeof(cmd), "isoinfo -R -x /user-data -i '%s'", iso);
	got = cmd_read(cmd);
	want = seed_render_userdata(&demo);
	cr_expect_str_eq(got, want);
	free(got);
	free(want);
	snprintf(cmd, sizeof(cmd), "isoinfo -R -x /meta-data -i '%s'", iso);
	got = cmd_read(cmd);
	want = seed_render_metadata(&demo);
	cr_expect_str_eq(got, want);
	free(got);
	free(want);
}

Test(seed, create_refuses_a_bad_network_before_writing)
{
	struct vmm_net	 n = bridge_net;
	struct vmm_seed	 s = demo_bridge;
	char		 iso[PATH_MAX], err[VMM_ERRLEN] = "";

	n.gateway = "10.78.0.1";
	s.net = &n;
	cr_assert_eq(vmm_path(iso, sizeof(iso), tmp_dir, "seed.iso"), 0);
	cr_expect_eq(seed_create(&s, iso, err, sizeof(err)), -1);
	cr_expect(strstr(err, "seed.iso: network-config: gateway 10.78.0.1")
	    != NULL, "err: %s", err);
	cr_expect_eq(tmp_dir_count(), 0, "something was written");
}

Test(seed, create_replaces_and_fails_cleanly)
{
	char		 iso[PATH_MAX], bad[PATH_MAX], err[VMM_ERRLEN] = "";
	struct stat	 st1, st2;

	cr_assert_eq(vmm_path(iso, sizeof(iso), tmp_dir, "seed.iso"), 0);
	cr_assert_eq(seed_create(&demo, iso, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(stat(iso, &st1), 0);
	cr_assert_eq(seed_create(&demo, iso, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(stat(iso, &st2), 0);
	cr_expect_neq(st1.st_ino, st2.st_ino, "not renamed into place");
	cr_expect_eq(tmp_dir_count(), 1);

	cr_assert_eq(vmm_path(bad, sizeof(bad), tmp_dir,
	    "nonexistent/seed.iso"), 0);
	cr_expect_eq(seed_create(&demo, bad, err, sizeof(err)), -1);
	cr_expect(strstr(err, "nonexistent/seed.iso") != NULL, "err: %s", err);
	cr_expect_eq(tmp_dir_count(), 1);
}

Test(seed, hash_password_verifies)
{
	char			 h1[256], h2[256], small[20];
	struct crypt_data	*cd = calloc(1, sizeof(*cd));
	const char		*v;

	cr_assert_eq(seed_hash_password("correct horse", h1, sizeof(h1)), 0);
	cr_expect(strncmp(h1, "$6$", 3) == 0, "hash: %s", h1);
	cr_expect_eq(strchr(h1 + 3, '$') - (h1 + 3), 16, "salt of %s", h1);
	cr_expect_eq(strspn(h1 + 3, "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz"), 16);
	/* crypt_r with the hash as setting gives the hash back: it verifies. */
	v = crypt_r("correct horse", h1, cd);
	cr_assert_not_null(v);
	cr_expect_str_eq(v, h1);
	v = crypt_r("correct horsf", h1, cd);
	cr_expect(v == NULL || strcmp(v, h1) != 0);
	/* A fresh salt every time. */
	cr_assert_eq(seed_hash_password("correct horse", h2, sizeof(h2)), 0);
	cr_expect_str_neq(h1, h2);
	cr_expect_eq(seed_hash_password("x", small, sizeof(small)), -1);
	free(cd);
}

Test(seed, random_password_alphabet_and_length)
{
	static const char	 alphabet[] = "abcdefghijkmnopqrstuvwxyz"
				    "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	char			 pw[64], other[64], big[4097];
	int			 seen[256] = { 0 };
	size_t			 i, distinct = 0;

	cr_assert_eq(seed_random_password(pw, 12), 0);
	cr_expect_eq(strlen(pw), 12);
	cr_expect_eq(strspn(pw, alphabet), 12, "%s", pw);
	cr_assert_eq(seed_random_password(other, 12), 0);
	cr_expect_str_neq(pw, other);
	cr_assert_eq(seed_random_password(pw, 0), 0);
	cr_expect_str_empty(pw);

	/* 4096 draws: never an ambiguous one, and the whole alphabet used. */
	cr_assert_eq(seed_random_password(big, 4096), 0);
	cr_expect_eq(strlen(big), 4096);
	cr_expect_null(strpbrk(big, "0O1lI"), "ambiguous character drawn");
	cr_expect_eq(strspn(big, alphabet), 4096);
	for (i = 0; i < 4096; i++)
		if (seen[(unsigned char)big[i]]++ == 0)
			distinct++;
	cr_expect_eq(distinct, strlen(alphabet), "only %zu characters used",
	    distinct);
}

/* write_files in base64, runcmd as quoted items; a bad path renders nothing. */
static const char odd_content[] = "#!/bin/sh\n\techo \"a\\b\" 'c' $x\n";
static const struct vmm_file demo_files[] = {
	{ "/etc/labd/param", "4137abcd\n", 9, 0644 },
	{ "/usr/local/bin/lab-check", odd_content, sizeof(odd_content) - 1,
	  0755 },
};
static const char *const demo_runcmd[] = { "udevadm trigger; true" };

Test(seed, write_files_and_runcmd)
{
	struct vmm_seed	 s = demo;
	struct vmm_file	 bad = { "/etc/../shadow", "x", 1, 0644 };
	char		*ud;

	s.files = demo_files;
	s.nfiles = 2;
	s.runcmd = demo_runcmd;
	s.nruncmd = 1;
	cr_assert_not_null(ud = seed_render_userdata(&s));
	cr_expect_not_null(strstr(ud, "write_files:\n"
	    "  - path: \"/etc/labd/param\"\n"
	    "    permissions: \"0644\"\n"
	    "    encoding: \"b64\"\n"
	    "    content: \"NDEzN2FiY2QK\"\n"
	    "  - path: \"/usr/local/bin/lab-check\"\n"
	    "    permissions: \"0755\"\n"), "%s", ud);
	cr_expect_not_null(strstr(ud, "runcmd:\n  - \"udevadm trigger; true\"\n"),
	    "%s", ud);
	free(ud);
	s.files = &bad;
	s.nfiles = 1;
	cr_expect_null(seed_render_userdata(&s));
	bad.path = "relative/path";
	cr_expect_null(seed_render_userdata(&s));
	bad.path = "/etc/labd/";
	cr_expect_null(seed_render_userdata(&s));
	bad.path = "/etc/la bd";
	cr_expect_null(seed_render_userdata(&s));
	bad.path = "/etc/labd/param";
	bad.mode = 010000;
	cr_expect_null(seed_render_userdata(&s));
}

/* The tiny guest's seed.awk gives each file back, its bytes intact. */
Test(seed, write_files_read_by_the_tiny_guest)
{
	struct vmm_seed	 s = demo;
	char		 awk[PATH_MAX * 2], ud[PATH_MAX], md[PATH_MAX];
	char		 cmd[PATH_MAX * 6], *text, *got;
	FILE		*f;

	if (access("/bin/busybox", X_OK) != 0)
		cr_skip_test("busybox not installed");
	s.files = demo_files;
	s.nfiles = 2;
	s.runcmd = demo_runcmd;
	s.nruncmd = 1;
	golden_find();
	snprintf(awk, sizeof(awk), "%s/../../../templates/tiny/rootfs/seed.awk",
	    golden_root);
	cr_assert_eq(vmm_path(ud, sizeof(ud), tmp_dir, "user-data"), 0);
	cr_assert_eq(vmm_path(md, sizeof(md), tmp_dir, "meta-data"), 0);
	cr_assert_not_null(text = seed_render_userdata(&s));
	cr_assert_not_null(f = fopen(ud, "w"));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	free(text);
	cr_assert_not_null(text = seed_render_metadata(&s));
	cr_assert_not_null(f = fopen(md, "w"));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	free(text);
	/* Path, mode and encoding of each F record, then its content decoded. */
	snprintf(cmd, sizeof(cmd), "busybox awk -f '%s' '%s' '%s' | busybox awk"
	    " -F '\\037' '$1 == \"F\" { print $2, $3, $4 }'", awk, md, ud);
	got = cmd_read(cmd);
	cr_expect_str_eq(got, "/etc/labd/param 0644 b64\n"
	    "/usr/local/bin/lab-check 0755 b64\n");
	free(got);
	snprintf(cmd, sizeof(cmd), "busybox awk -f '%s' '%s' '%s' | busybox awk"
	    " -F '\\037' '$1 == \"F\" { print $5 }' | tail -n 1 |"
	    " busybox base64 -d", awk, md, ud);
	got = cmd_read(cmd);
	cr_expect_str_eq(got, odd_content);
	free(got);
	/* Users are read as before. */
	snprintf(cmd, sizeof(cmd), "busybox awk -f '%s' '%s' '%s' | busybox awk"
	    " -F '\\037' '$1 == \"U\" || $1 == \"K\" { n++ } END { print n }'",
	    awk, md, ud);
	got = cmd_read(cmd);
	cr_expect_str_eq(got, "5\n");
	free(got);
}

/* The one base64 of labd (seed files, check scripts): RFC 4648 vectors. */
Test(seed, base64_vectors_and_lines)
{
	static const struct { const char *in, *out; } v[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	unsigned char	 in[60];
	char		 out[128];
	size_t		 i, n;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		n = vmm_base64((const unsigned char *)v[i].in, strlen(v[i].in),
		    out, 0);
		cr_expect_str_eq(out, v[i].out);
		cr_expect_eq(n, strlen(v[i].out));
		cr_expect_leq(n + 1, vmm_base64_size(strlen(v[i].in), 0));
	}
	/* 60 bytes are 80 characters: a line of 76, one of 4. */
	memset(in, 0xff, sizeof(in));
	n = vmm_base64(in, sizeof(in), out, 76);
	cr_expect_eq(n, 82);
	cr_expect_eq(out[76], '\n');
	cr_expect_str_eq(out + 77, "////\n");
	cr_expect_leq(n + 1, vmm_base64_size(sizeof(in), 76));
	/* Nothing at all: no line. */
	cr_expect_eq(vmm_base64(in, 0, out, 76), 0);
	cr_expect_str_eq(out, "");
}
