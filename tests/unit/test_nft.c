/* SPDX-License-Identifier: ISC */
/*
 * test_nft.c - labd's nftables tables: rendering, input checks, and the
 * real thing in a private network namespace.
 *
 * Rendering is compared with golden files (golden/nft_*.nft).  The apply
 * tests load the text into the kernel through libnftables inside a child
 * that has unshared its network namespace, so the host's own ruleset is
 * never touched; the child reports the first failed step through a pipe
 * and its exit status, and only the parent asserts.  nft_traffic builds a
 * bridge with three "VMs" there and checks what gets through (it needs
 * ip, socat and busybox).  They need root (CI runs as root): without it
 * they fail, they never skip.
 */
#include <sys/mount.h>
#include <sys/wait.h>

#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nftables/libnftables.h>

#include "portforward/portforward.h"
#include "tests/unit/testutil.h"

/* --- plans ------------------------------------------------------------------ */

/* web-101: internet, isolated, exam room only; net-lab: a team, no internet. */
static const struct nft_course bridge_courses[] = {
	{ 1, "web-101", 1, 1, "10.1.2.0/24,198.51.100.7/32", NULL },
	{ 2, "net-lab", 0, 0, NULL, NULL },
};
static const struct nft_vm bridge_vms[] = {
	{ 1, "ltap1", "10.77.0.2", 1, "52:54:00:00:00:01", 0 },
	{ 2, "ltap2", "10.77.0.3", 1, "52:54:00:00:00:02", 0 },
	{ 2, "ltap3", "10.77.0.4", 0, "52:54:00:00:00:03", 0 },	/* suspended: labd listens */
};
static const struct nft_fwd bridge_fwds[] = {
	{ 0, "203.0.113.10", 22001, 22 },
	{ 0, "203.0.113.11", 8001, 80 },
	{ 1, "203.0.113.10", 22002, 22 },
	{ 1, "203.0.113.11", 8002, 80 },
	{ 2, "203.0.113.10", 22003, 22 },
	{ 2, "203.0.113.11", 8003, 80 },
};
/* The host's DNS servers, as resolv.conf may name them: repeats dropped. */
static const char *const resolvers[] = {
	"10.255.255.53", "127.0.0.53", "::1", "fd00:0::53", "127.0.0.53",
	"fd00::53",
};
#define VM_UIDS	1879048192, 65536	/* labd.ini's uid_base, LABD_UIDS */

/* labd as root on a host that did not forward IPv4 before it. */
static const struct nft_plan bridge_plan = {
	1, "labbr0", "10.77.0.0/16",
	bridge_courses, 2, bridge_vms, 3, bridge_fwds, 6,
	0, VM_UIDS, resolvers, 6, 0
};

/* User mode: QEMU listens on the host; exam has a room and no VM yet. */
static const struct nft_course user_courses[] = {
	{ 1, "web-101", 1, 1, "10.1.2.0/24", NULL },
	{ 2, "open", 1, 1, "", NULL },
	{ 3, "exam", 0, 1, "192.0.2.0/24,198.51.100.7/32", NULL },
};
static const struct nft_vm user_vms[] = {
	{ 1, NULL, NULL, 1, NULL, 0 },
	{ 2, NULL, NULL, 1, NULL, 0 },
};
static const struct nft_fwd user_fwds[] = {
	{ 0, "127.0.0.1", 22001, 22 },
	{ 1, "127.0.0.1", 22002, 22 },
};
static const struct nft_plan user_plan = {
	0, NULL, NULL, user_courses, 3, user_vms, 2, user_fwds, 2,
	0, VM_UIDS, resolvers, 6, 0
};
/* labd not root: no VM uids, so with nobody gated no table at all. */
static const struct nft_plan user_open_plan = {
	0, NULL, NULL, user_courses + 1, 1, user_vms + 1, 1, NULL, 0,
	0, 0, 0, NULL, 0, 0
};
/* labd as root, nobody gated: the VMs' uids alone. */
static const struct nft_plan user_root_plan = {
	0, NULL, NULL, user_courses + 1, 1, user_vms + 1, 1, NULL, 0,
	0, VM_UIDS, NULL, 0, 0
};

static char *
render_ok(const struct nft_plan *p)
{
	char	 err[PF_ERRLEN] = "", *text;

	text = nft_render(p, err, sizeof(err));
	cr_assert_not_null(text, "nft_render: %s", err);
	return text;
}

static void
golden_nft(const char *leaf, const char *got)
{
	char	path[PATH_MAX + 64];

	golden_find();
	snprintf(path, sizeof(path), "%s/%s", golden_root, leaf);
	cr_expect_eq(golden_compare(path, leaf, got), 0, "golden/%s differs"
	    " (diff on stderr)", leaf);
}

/* --- rendering ------------------------------------------------------------- */

TestSuite(nft);

Test(nft, golden_bridge)
{
	char	*a = render_ok(&bridge_plan), *b = render_ok(&bridge_plan);

	golden_nft("nft_bridge.nft", a);
	cr_expect_str_eq(a, b, "equal plans must render equal text");
	cr_expect_eq(strncmp(a, nft_remove_text(), strlen(nft_remove_text())),
	    0, "the text must open with the add/delete idiom");
	free(a);
	free(b);
}

Test(nft, golden_user)
{
	char	*a = render_ok(&user_plan);

	golden_nft("nft_user.nft", a);
	cr_expect_null(strstr(a, "table bridge labd {"), "user mode has no"
	    " bridge table");
	cr_expect_null(strstr(a, "@plan"), "user mode has no NAT");
	free(a);
}

Test(nft, golden_user_no_allow_removes)
{
	char	*a = render_ok(&user_open_plan);

	golden_nft("nft_user_open.nft", a);
	cr_expect_str_eq(a, nft_remove_text(), "no allow_from in user mode:"
	    " the text only removes the tables");
	free(a);
}

/* labd as root in user mode: the table is there for the VMs' uids alone. */
Test(nft, golden_user_root)
{
	static const char *const want[] = {
		"\n\tchain vm_out {\n\t\ttype filter hook output priority"
		" filter; policy accept;\n\t\tmeta skuid 1879048192-1879113727"
		" ct state new jump vm_egress\n\t}\n",
		"\n\tchain vm_egress {\n\t\tadd @vm_uid_conns { meta skuid ct"
		" count over 512 } reject with icmpx admin-prohibited\n",
		"\t\tfib daddr type { local, broadcast, multicast } reject with"
		" icmpx admin-prohibited\n\t\tip daddr @lan reject with icmpx"
		" admin-prohibited\n\t\tip6 daddr @lan6 reject with icmpx"
		" admin-prohibited\n\t}\n}\n",
		"\t\t\t127.0.0.0/8,\n", "\t\t\t169.254.0.0/16,\n",
		"\t\t\tfe80::/10,\n",
		"\tset dns {\n\t\ttype ipv4_addr\n\t\tcomment \"the host's DNS"
		" servers\"\n\t}\n",
	};
	char	*a = render_ok(&user_root_plan);
	size_t	 i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_expect_not_null(strstr(a, want[i]), "lacks \"%s\":\n%s",
		    want[i], a);
	cr_expect_null(strstr(a, "_allow"), "nobody is gated");
	cr_expect_null(strstr(a, "masquerade"), "user mode has no NAT");
	free(a);
}

/*
 * A host that forwarded before labd keeps doing it for others; one that
 * did not forwards for the bridge alone.
 */
Test(nft, host_routes)
{
	struct nft_plan	 p = bridge_plan;
	const char	*rule = "meta nfproto ipv4 iifname != \"labbr0\""
			    " oifname != \"labbr0\" drop";
	char		*a, *b;

	a = render_ok(&p);
	p.host_routes = 1;
	b = render_ok(&p);
	cr_expect_not_null(strstr(a, rule), "host_routes 0: %s", a);
	cr_expect_null(strstr(b, rule), "host_routes 1: %s", b);
	free(a);
	free(b);
}

/* The uids of the VMs: root and labd's own are never among them. */
Test(nft, bad_host_fields)
{
	static const char *const bad_dns[] = { "10.0.0.1", "fe80::1%eth0" };
	static const struct {
		uint32_t	 self, first, n;
		const char	*want;
	} cases[] = {
		{ 0, 0, 10, "holds root" },
		{ 0, 4294967290u, 10, "wraps" },
		{ 1879048200, 1879048192, 65536, "self uid 1879048200 is in" },
	};
	struct nft_plan	 p;
	char		 err[PF_ERRLEN], *text;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = user_plan;
		p.self_uid = cases[i].self;
		p.vm_uid_first = cases[i].first;
		p.vm_uids = cases[i].n;
		text = nft_render(&p, err, sizeof(err));
		cr_expect_null(text, "case %zu rendered", i);
		free(text);
		cr_expect_not_null(strstr(err, cases[i].want), "case %zu: %s",
		    i, err);
	}
	p = user_plan;
	p.resolvers = bad_dns;
	p.nresolvers = 2;
	text = nft_render(&p, err, sizeof(err));
	cr_expect_null(text);
	free(text);
	cr_expect_not_null(strstr(err, "resolvers[1] 'fe80::1%eth0'"), "%s",
	    err);
	p.resolvers = NULL;
	text = nft_render(&p, err, sizeof(err));
	cr_expect_null(text);
	free(text);
	cr_expect_not_null(strstr(err, "resolvers is NULL"), "%s", err);
}

Test(nft, remove_text)
{
	const char	*t = nft_remove_text();

	cr_expect_str_eq(t, "table inet labd\ndelete table inet labd\n"
	    "table bridge labd\ndelete table bridge labd\n");
	cr_expect_null(strstr(t, "flush"), "never flush anything but ours");
}

/* --- bad input -------------------------------------------------------------- */

enum bad_field {
	BAD_BRIDGE, BAD_SUBNET, BAD_TAP, BAD_VMIP, BAD_VMMAC, BAD_VMCOURSE,
	BAD_PUBIP,
	BAD_PORT, BAD_FWDVM, BAD_ALLOW, BAD_NAME, BAD_ID
};

static const struct bad_case {
	enum bad_field	 field;
	size_t		 idx;
	const char	*value;		/* or a number, for numbers */
	const char	*want[2];	/* both must be in err */
} bad_cases[] = {
	{ BAD_TAP, 1, "lt\"ap2", { "vms[1].tap", "lt\"ap2" } },
	{ BAD_TAP, 2, "lt ap3", { "vms[2].tap", "'lt ap3'" } },
	{ BAD_TAP, 0, "ltap0123456789abc", { "vms[0].tap", "1-15" } },
	{ BAD_TAP, 0, "", { "vms[0].tap", "missing" } },
	{ BAD_TAP, 1, "ltap1", { "vms[1].tap ltap1", "vms[0]" } },
	{ BAD_VMIP, 0, "10.77.0.300", { "vms[0].ip", "'10.77.0.300'" } },
	{ BAD_VMIP, 1, "10.77.0.3\" accept", { "vms[1].ip", "IPv4" } },
	{ BAD_VMIP, 2, "10.78.0.4", { "vms[2].ip 10.78.0.4", "outside" } },
	{ BAD_VMIP, 2, "10.77.0.2", { "vms[2].ip 10.77.0.2", "vms[0]" } },
	{ BAD_VMCOURSE, 0, "99", { "vms[0].course_id 99", "no course" } },
	{ BAD_VMMAC, 0, "", { "vms[0].mac", "missing" } },
	{ BAD_VMMAC, 1, "52:54:00:00:00:0G", { "vms[1].mac", "not a unicast" } },
	{ BAD_VMMAC, 1, "52:54:00:00:00:02 accept", { "vms[1].mac", "MAC" } },
	{ BAD_VMMAC, 2, "53:54:00:00:00:03", { "vms[2].mac", "unicast" } },
	{ BAD_VMMAC, 2, "52:54:00:00:00:AB", { "vms[2].mac", "lower case" } },
	{ BAD_SUBNET, 0, "10.77.0.1/16", { "subnet", "did you mean"
	    " 10.77.0.0/16" } },
	{ BAD_SUBNET, 0, "10.77.0.0/33", { "subnet", "/0 to /32" } },
	{ BAD_SUBNET, 0, "banana", { "subnet", "'banana'" } },
	{ BAD_BRIDGE, 0, "labbr0\";", { "bridge", "'labbr0\";'" } },
	{ BAD_PUBIP, 3, "203.0.113.11 ; flush ruleset", { "fwds[3].public_ip",
	    "flush ruleset" } },
	{ BAD_PUBIP, 2, "203.0.113.10", { "fwds[2]", "22001 is also"
	    " fwds[0]'s" } },
	{ BAD_PORT, 4, "0", { "fwds[4]", "1-65535" } },
	{ BAD_FWDVM, 5, "7", { "fwds[5].vm 7", "past" } },
	{ BAD_ALLOW, 0, "10.0.0.1/8", { "courses[0].allow_from",
	    "'10.0.0.1/8' has host bits" } },
	{ BAD_ALLOW, 0, "10.1.2.0/24,garbage", { "courses[0].allow_from",
	    "'garbage'" } },
	{ BAD_ALLOW, 1, "2001:db8::/32", { "courses[1].allow_from",
	    "'2001:db8::/32' is IPv6" } },
	{ BAD_ALLOW, 1, "10.0.0.0/8\"; flush ruleset", { "courses[1]",
	    "prefix" } },
	{ BAD_NAME, 1, "Net Lab", { "courses[1].name", "'Net Lab'" } },
	{ BAD_NAME, 0, "web\"101", { "courses[0].name", "web\"101" } },
	{ BAD_ID, 1, "1", { "courses[1].id 1", "courses[0]" } },
	{ BAD_ID, 0, "0", { "courses[0].id 0", "above 0" } },
};

Test(nft, bad_input_is_refused_naming_the_field)
{
	const struct bad_case	*c;
	struct nft_course	 courses[2];
	struct nft_vm		 vms[3];
	struct nft_fwd		 fwds[6];
	struct nft_plan		 p;
	char			 err[PF_ERRLEN], *text;
	size_t			 i, k;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		c = &bad_cases[i];
		memcpy(courses, bridge_courses, sizeof(courses));
		memcpy(vms, bridge_vms, sizeof(vms));
		memcpy(fwds, bridge_fwds, sizeof(fwds));
		p = bridge_plan;
		p.courses = courses;
		p.vms = vms;
		p.fwds = fwds;
		switch (c->field) {
		case BAD_BRIDGE:	p.bridge = c->value; break;
		case BAD_SUBNET:	p.subnet = c->value; break;
		case BAD_TAP:		vms[c->idx].tap = c->value; break;
		case BAD_VMIP:		vms[c->idx].ip = c->value; break;
		case BAD_VMMAC:		vms[c->idx].mac = c->value; break;
		case BAD_VMCOURSE:	vms[c->idx].course_id = atoi(c->value);
					break;
		case BAD_PUBIP:		fwds[c->idx].public_ip = c->value;
					fwds[c->idx].port = 22001; break;
		case BAD_PORT:		fwds[c->idx].port = atoi(c->value);
					break;
		case BAD_FWDVM:		fwds[c->idx].vm = atoi(c->value); break;
		case BAD_ALLOW:		courses[c->idx].allow_from = c->value;
					break;
		case BAD_NAME:		courses[c->idx].name = c->value; break;
		case BAD_ID:		courses[c->idx].id = atoi(c->value);
					break;
		}
		snprintf(err, sizeof(err), "untouched");
		text = nft_render(&p, err, sizeof(err));
		cr_expect_null(text, "case %zu (%s): rendered anyway", i,
		    c->value);
		free(text);
		for (k = 0; k < 2; k++)
			cr_expect_not_null(strstr(err, c->want[k]), "case %zu"
			    " (%s): err \"%s\" does not say \"%s\"", i,
			    c->value, err, c->want[k]);
	}
}

/* User mode embeds no tap or guest address: none is needed. */
Test(nft, user_mode_ignores_taps)
{
	char	*text = render_ok(&user_plan);

	cr_expect_not_null(strstr(text, "127.0.0.1 . 22001,"));
	free(text);
}

/* --- allow_from lists ------------------------------------------------------ */

static const struct cidr_case {
	const char	*in;
	const char	*canon;		/* NULL: an error */
	const char	*want;		/* in err */
} cidr_cases[] = {
	{ "", "", NULL },
	{ " \t ", "", NULL },
	{ "10.1.2.0/24, 198.51.100.7", "10.1.2.0/24,198.51.100.7/32", NULL },
	{ " 10.0.0.0/8 ,\t192.168.1.0/24 ", "10.0.0.0/8,192.168.1.0/24",
	    NULL },
	{ "0.0.0.0/0", "0.0.0.0/0", NULL },
	{ "198.51.100.7/32", "198.51.100.7/32", NULL },
	{ "10.0.0.0/08", "10.0.0.0/8", NULL },
	{ "10.1.2.0/24,10.1.3.0/24", "10.1.2.0/24,10.1.3.0/24", NULL },
	{ "10.0.0.1/8", NULL, "'10.0.0.1/8' has host bits set past /8 (did"
	    " you mean 10.0.0.0/8?)" },
	{ "10.1.2.0/24,10.1.2.7/23", NULL, "'10.1.2.7/23'" },
	{ "10.0.0.0/33", NULL, "'10.0.0.0/33': the prefix" },
	{ "10.0.0.0/", NULL, "'10.0.0.0/': the prefix" },
	{ "10.0.0.0/-1", NULL, "'10.0.0.0/-1'" },
	{ "10.0.0.0/008", NULL, "'10.0.0.0/008'" },
	{ "garbage", NULL, "'garbage' is not an IPv4" },
	{ "10.1.2.0/24,,10.2.0.0/16", NULL, "element 2 is empty" },
	{ "10.1.2.0/24,", NULL, "element 2 is empty" },
	{ "1.2.3.4 5.6.7.8", NULL, "'1.2.3.4 5.6.7.8'" },
	{ "1.2.3", NULL, "'1.2.3'" },
	{ "2001:db8::/32", NULL, "'2001:db8::/32' is IPv6" },
	{ "10.0.0.0/8,::1", NULL, "'::1' is IPv6" },
	{ "10.0.0.0/8,10.1.0.0/16", NULL, "'10.1.0.0/16' overlaps 10.0.0.0/8" },
	{ "10.1.0.0/16,10.0.0.0/8", NULL, "'10.0.0.0/8' overlaps 10.1.0.0/16" },
	{ "1.2.3.4,1.2.3.4/32", NULL, "'1.2.3.4/32' overlaps 1.2.3.4/32" },
};

Test(nft, cidrs_canonical)
{
	const struct cidr_case	*c;
	char			 canon[PF_CIDRSLEN], err[PF_ERRLEN];
	size_t			 i;
	int			 rc;

	for (i = 0; i < sizeof(cidr_cases) / sizeof(cidr_cases[0]); i++) {
		c = &cidr_cases[i];
		snprintf(canon, sizeof(canon), "untouched");
		err[0] = '\0';
		rc = nft_cidrs_parse(c->in, canon, sizeof(canon), err,
		    sizeof(err));
		if (c->canon != NULL) {
			cr_expect_eq(rc, 0, "'%s': %s", c->in, err);
			cr_expect_str_eq(canon, c->canon, "'%s'", c->in);
		} else {
			cr_expect_eq(rc, -1, "'%s' accepted as '%s'", c->in,
			    canon);
			cr_expect_str_eq(canon, "", "'%s': canon left set",
			    c->in);
			cr_expect_not_null(strstr(err, c->want), "'%s': err"
			    " \"%s\" does not say \"%s\"", c->in, err,
			    c->want);
		}
	}
	cr_expect_eq(nft_cidrs_parse(NULL, canon, sizeof(canon), err,
	    sizeof(err)), 0);
	cr_expect_str_eq(canon, "");
}

/* 64 elements are fine, the 65th is named; a short canon is an error. */
Test(nft, cidrs_limits)
{
	char	list[2048], canon[PF_CIDRSLEN], err[PF_ERRLEN];
	size_t	len = 0;
	int	i;

	for (i = 0; i < PF_CIDRS_MAX; i++)
		len += snprintf(list + len, sizeof(list) - len, "%s10.0.%d.0/24",
		    i > 0 ? "," : "", i);
	cr_assert_eq(nft_cidrs_parse(list, canon, sizeof(canon), err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(canon, list);
	snprintf(list + len, sizeof(list) - len, ",10.0.200.0/24");
	cr_expect_eq(nft_cidrs_parse(list, canon, sizeof(canon), err,
	    sizeof(err)), -1);
	cr_expect_not_null(strstr(err, "'10.0.200.0/24': more than 64"),
	    "err: %s", err);

	/* The whole maximum fits PF_CIDRSLEN. */
	for (i = 0, len = 0; i < PF_CIDRS_MAX; i++)
		len += snprintf(list + len, sizeof(list) - len,
		    "%s255.255.255.%d", i > 0 ? "," : "", 100 + i);
	cr_expect_eq(nft_cidrs_parse(list, canon, sizeof(canon), err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_eq(strlen(canon), (size_t)PF_CIDRS_MAX * 19 - 1);

	cr_expect_eq(nft_cidrs_parse("10.1.2.0/24,10.1.3.0/24", canon, 16,
	    err, sizeof(err)), -1);
	cr_expect_not_null(strstr(err, "'10.1.3.0/24': the list does not fit"),
	    "err: %s", err);
	cr_expect_str_eq(canon, "");
}

/* --- the real thing, in a private network namespace ------------------------ */

static int	report_fd = -1;

/* In the child: say what failed to the parent and exit. */
static void child_fail(const char *, ...) __attribute__((format(printf, 1, 2),
    noreturn));

#define REPORT_MAX	16384

static void
child_fail(const char *fmt, ...)
{
	char	msg[REPORT_MAX];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n > 0 && write(report_fd, msg, (size_t)n < sizeof(msg) ?
	    (size_t)n : sizeof(msg) - 1) == -1)
		_exit(3);
	_exit(1);
}

/* Run an nft command, its output malloc'd in *out; 0 or -1. */
static int
nft_run(const char *cmd, char **out)
{
	struct nft_ctx	*ctx;
	int		 rc;

	if ((ctx = nft_ctx_new(NFT_CTX_DEFAULT)) == NULL)
		child_fail("nft_ctx_new failed");
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	rc = nft_run_cmd_from_buffer(ctx, cmd) == 0 ? 0 : -1;
	if (out != NULL)
		*out = strdup(rc == 0 ? nft_ctx_get_output_buffer(ctx) :
		    nft_ctx_get_error_buffer(ctx));
	nft_ctx_free(ctx);
	return rc;
}

static char *
nft_list(const char *cmd)
{
	char	*out;

	if (nft_run(cmd, &out) == -1)
		child_fail("%s: %s", cmd, out);
	return out;
}

static char *
render_child(const struct nft_plan *p)
{
	char	 err[PF_ERRLEN], *text;

	if ((text = nft_render(p, err, sizeof(err))) == NULL)
		child_fail("nft_render: %s", err);
	return text;
}

static void
apply_ok(const char *what, const char *text)
{
	char	err[PF_ERRLEN];

	if (nft_apply(text, err, sizeof(err)) == -1)
		child_fail("%s: nft_apply: %s", what, err);
}

static void
want_in(const char *what, const char *hay, const char *const *needles)
{
	for (; *needles != NULL; needles++)
		if (strstr(hay, *needles) == NULL)
			child_fail("%s lacks \"%s\":\n%s", what, *needles, hay);
}

static size_t
count(const char *hay, const char *needle)
{
	size_t	n = 0;

	for (; (hay = strstr(hay, needle)) != NULL; hay++)
		n++;
	return n;
}

/* The host's own table: ours must never touch it. */
static const char foreign_text[] =
    "table inet other {\n"
    "\tchain c {\n"
    "\t\ttype filter hook input priority 0;\n"
    "\t\ttcp dport 22 accept\n"
    "\t}\n"
    "}\n";

/*
 * Fork, unshare the network namespace in the child and run body there;
 * the parent asserts the child's status and shows its report.
 */
static void
in_netns(void (*body)(void))
{
	char	msg[REPORT_MAX];
	ssize_t	n;
	size_t	len = 0;
	pid_t	pid;
	int	fds[2], status;

	cr_assert_eq(pipe(fds), 0);
	cr_assert_neq(pid = fork(), -1);
	if (pid == 0) {
		close(fds[0]);
		report_fd = fds[1];
		if (unshare(CLONE_NEWNET) == -1)
			child_fail("unshare(CLONE_NEWNET): %s: the nft tests"
			    " need root (CI runs them as root)",
			    strerror(errno));
		body();
		_exit(0);
	}
	close(fds[1]);
	while (len < sizeof(msg) - 1 && (n = read(fds[0], msg + len,
	    sizeof(msg) - 1 - len)) > 0)
		len += n;
	msg[len] = '\0';
	close(fds[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "netns child failed (status %#x): %s", status,
	    len > 0 ? msg : "(no report: it crashed)");
}

static const char *const want_inet[] = {
	"comment \"managed by labd: rewritten whole on every change\"",
	"set c1_allow {", "10.1.2.0/24", "198.51.100.7",
	"set c1_ports {", "203.0.113.10 . 22001", "203.0.113.11 . 8001",
	"set internet {", "elements = { 10.77.0.2 }",
	"map plan {", "203.0.113.10 . 22001 : 10.77.0.2 . 22",
	"203.0.113.11 . 8002 : 10.77.0.3 . 80",
	"iif \"lo\" accept",
	"ip daddr . tcp dport @c1_ports ip saddr != @c1_allow drop",
	"dnat ip to ip daddr . tcp dport map @plan",
	"ip saddr @internet oifname != \"labbr0\" masquerade",
	"iifname \"labbr0\" oifname \"labbr0\" drop",
	"oifname \"labbr0\" ct status dnat accept",
	"ip saddr @internet ip daddr 10.77.0.1 meta l4proto { tcp, udp } th"
	" dport 53 accept",
	"iifname \"labbr0\" ip daddr @lan drop",
	"meta nfproto ipv4 iifname != \"labbr0\" oifname != \"labbr0\" drop",
	"add @vm_conns { ip saddr ct count over 512 } drop",
	"oifname \"labbr0\" ct state new meta skuid != 0 drop",
	"meta skuid != 0 ip daddr . tcp dport @c1_ports ip saddr != @c1_allow"
	" drop",
	"meta skuid 1879048192-1879113727 ct state new jump vm_egress",
	"add @vm_uid_conns { meta skuid ct count over 512 } reject",
	"fib daddr type { local, broadcast, multicast } reject",
	"elements = { 10.255.255.53, 127.0.0.53 }",
	NULL
};
static const char *const want_bridge[] = {
	"set taps {", "\"ltap3\"",
	"set vm_src {", "\"ltap1\" . 10.77.0.2",
	"set c2_team {", "\"ltap2\"",
	"iifname . ip saddr != @vm_src drop",
	"iifname . arp saddr ip != @vm_src drop",
	"iifname @taps ether type != { ip, arp } drop",
	"iifname @c2_team oifname @c2_team accept",
	"iifname @taps drop",
	NULL
};

static void
body_apply(void)
{
	char	*text, *foreign, *inet, *bridge, *again, *tables, *out;

	apply_ok("foreign table", foreign_text);
	foreign = nft_list("list table inet other");
	text = render_child(&bridge_plan);
	apply_ok("first apply", text);
	inet = nft_list("list table inet labd");
	bridge = nft_list("list table bridge labd");
	apply_ok("second apply", text);
	again = nft_list("list table inet labd");
	{
		char	e[PF_ERRLEN];

		if (nft_tables_present(1, e, sizeof(e)) != 1)
			child_fail("nft_tables_present: not both tables");
		apply_ok("a flush of the whole ruleset", "flush ruleset");
		if (nft_tables_present(0, e, sizeof(e)) != 0)
			child_fail("nft_tables_present after a flush: not 0");
		apply_ok("foreign table again", foreign_text);
		apply_ok("third apply", text);
		if (nft_tables_present(1, e, sizeof(e)) != 1)
			child_fail("nft_tables_present after a re-apply");
	}

	want_in("inet labd", inet, want_inet);
	want_in("bridge labd", bridge, want_bridge);
	if (strstr(inet, "22003 :") != NULL)
		child_fail("the suspended VM's port is DNATed:\n%s", inet);
	if (strcmp(inet, again) != 0 || count(again, "chain gate {") != 1)
		child_fail("a second apply changed the table:\n%s\n---\n%s",
		    inet, again);
	free(again);
	if (strcmp(again = nft_list("list table inet other"), foreign) != 0)
		child_fail("the foreign table changed:\n%s\n---\n%s", foreign,
		    again);
	free(again);

	apply_ok("remove", nft_remove_text());
	if (nft_run("list table inet labd", &out) == 0)
		child_fail("inet labd survived the removal:\n%s", out);
	free(out);
	apply_ok("remove again", nft_remove_text());
	tables = nft_list("list tables");
	if (strstr(tables, "labd") != NULL ||
	    strstr(tables, "table inet other") == NULL)
		child_fail("after removal the tables are:\n%s", tables);
	if (strcmp(again = nft_list("list table inet other"), foreign) != 0)
		child_fail("the foreign table changed:\n%s\n---\n%s", foreign,
		    again);
	free(again);
	free(tables);
	free(text);
	free(inet);
	free(bridge);
	free(foreign);
}

Test(nft, apply_in_netns)
{
	in_netns(body_apply);
}

static void
body_user(void)
{
	static const char *const want[] = {
		"set c1_allow {", "set c1_ports {", "127.0.0.1 . 22001",
		"set c3_allow {", "192.0.2.0/24", "set c3_ports {",
		"ip daddr . tcp dport @c3_ports ip saddr != @c3_allow drop",
		NULL
	};
	char	*text, *tables, *inet;

	text = render_child(&user_plan);
	inet = render_child(&bridge_plan);
	apply_ok("bridge plan first", inet);
	free(inet);
	apply_ok("user plan", text);
	inet = nft_list("list table inet labd");
	tables = nft_list("list tables");
	want_in("inet labd", inet, want);
	if (strstr(inet, "masquerade") != NULL ||
	    strstr(inet, "c2_allow") != NULL)
		child_fail("user mode has more than the gate:\n%s", inet);
	if (strstr(tables, "table bridge labd") != NULL)
		child_fail("user mode left the bridge table:\n%s", tables);
	free(text);
	free(tables);
	free(inet);

	text = render_child(&user_open_plan);
	apply_ok("user plan without allow_from", text);
	tables = nft_list("list tables");
	if (strstr(tables, "labd") != NULL)
		child_fail("nobody gated, yet:\n%s", tables);
	free(tables);
	free(text);
}

Test(nft, apply_user_mode_in_netns)
{
	in_netns(body_user);
}

/* Insert line after the first occurrence of at (malloc'd). */
static char *
text_insert(const char *text, const char *at, const char *line)
{
	const char	*p;
	char		*out;
	size_t		 off;

	if ((p = strstr(text, at)) == NULL)
		child_fail("no \"%s\" in the text", at);
	off = p - text + strlen(at);
	if ((out = malloc(strlen(text) + strlen(line) + 1)) == NULL)
		child_fail("out of memory");
	memcpy(out, text, off);
	strcpy(out + off, line);
	strcat(out, text + off);
	return out;
}

/*
 * A failed transaction leaves the ruleset as it was: the broken text
 * first deletes both tables, then fails in the kernel (a duplicate map
 * key: "File exists") or in the parser.
 */
static void
body_atomic(void)
{
	char	*good, *other, *before, *after, *bad[2], err[PF_ERRLEN];
	size_t	 i;

	good = render_child(&bridge_plan);
	other = render_child(&user_plan);
	apply_ok("foreign table", foreign_text);
	apply_ok("good", good);
	before = nft_list("list ruleset");
	bad[0] = text_insert(good, "203.0.113.11 . 8002 : 10.77.0.3 . 80,\n",
	    "\t\t\t203.0.113.10 . 22001 : 10.77.0.4 . 22,\n");
	bad[1] = text_insert(other, "table inet labd {\n", "\tthis is not"
	    " nft\n");
	for (i = 0; i < 2; i++) {
		err[0] = '\0';
		if (nft_apply(bad[i], err, sizeof(err)) != -1)
			child_fail("broken text %zu applied", i);
		if (strstr(err, "Error") == NULL)
			child_fail("broken text %zu: err \"%s\" is not nft's",
			    i, err);
		if (i == 0 && (strstr(err, "File exists") == NULL ||
		    strstr(err, "(in: 203.0.113.10 . 22001 : 10.77.0.4 . 22,)")
		    == NULL))
			child_fail("the duplicate key did not reach the"
			    " kernel, or err does not name it: %s", err);
		if (i == 1 && strstr(err, "line 7: Error: syntax error") ==
		    NULL)
			child_fail("err does not name the broken line: %s",
			    err);
		after = nft_list("list ruleset");
		if (strcmp(before, after) != 0)
			child_fail("broken text %zu (%s) changed the ruleset:"
			    "\n%s\n---\n%s", i, err, before, after);
		free(after);
		free(bad[i]);
	}
	free(before);
	free(good);
	free(other);
}

/* allow_nets: a course with internet opens private networks to its VMs. */
static const struct nft_course nets_courses[] = {
	{ 1, "lab", 1, 1, "", "10.99.0.0/24,192.168.7.0/24" },
	{ 2, "closed", 0, 1, "", "10.98.0.0/24" },	/* no internet: nothing */
};
static const struct nft_vm nets_vms[] = {
	{ 1, "ltap1", "10.77.0.2", 1, "52:54:00:00:00:01", 1879048193 },
	{ 1, "ltap2", "10.77.0.3", 1, "52:54:00:00:00:02", 1879048194 },
	{ 2, "ltap3", "10.77.0.4", 1, "52:54:00:00:00:03", 1879048195 },
};
static const struct nft_plan nets_user_plan = {
	0, NULL, NULL, nets_courses, 2, nets_vms, 3, NULL, 0,
	0, 1879048193, 65535, resolvers, 6, 0
};
static const struct nft_plan nets_bridge_plan = {
	1, "labbr0", "10.77.0.0/16", nets_courses, 2, nets_vms, 3, NULL, 0,
	0, 1879048193, 65535, resolvers, 6, 0
};

Test(nft, allow_nets_open_private_networks_to_a_course)
{
	char	*u = render_ok(&nets_user_plan), *b = render_ok(&nets_bridge_plan);
	char	*fib, *nets, *lan;

	/* By uid, after the host's own addresses, before the private ones. */
	cr_expect_not_null(nets = strstr(u, "\t\tmeta skuid { 1879048193,"
	    " 1879048194 } ip daddr { 10.99.0.0/24,192.168.7.0/24 } accept"
	    " comment \"lab: allow_nets\"\n"), "%s", u);
	fib = strstr(u, "fib daddr type { local");
	lan = strstr(u, "ip daddr @lan reject");
	cr_expect(fib != NULL && nets != NULL && lan != NULL && fib < nets &&
	    nets < lan, "order: fib local, allow_nets, lan:\n%s", u);
	cr_expect_null(strstr(u, "10.98.0.0"), "a course without internet"
	    " opens nothing:\n%s", u);
	/* Bridge mode: by address, never back onto the bridge. */
	cr_expect_not_null(strstr(b, "iifname \"labbr0\" oifname != \"labbr0\""
	    " ip saddr { 10.77.0.2, 10.77.0.3 } ip daddr { 10.99.0.0/24,"
	    "192.168.7.0/24 } accept"), "%s", b);
	cr_expect(strstr(b, "allow_nets") < strstr(b, "ip daddr @lan drop"),
	    "before the private ranges are dropped:\n%s", b);
	cr_expect_null(strstr(b, "10.98.0.0"), "%s", b);
	free(u);
	free(b);
}

Test(nft, allow_nets_only_private_networks)
{
	static const char *const bad[] = {
		"8.8.8.0/24", "127.0.0.0/8", "10.0.0.0/7", "0.0.0.0/0",
		"224.0.0.0/4", "192.168.0.0/15", "10.1.0.0/16,1.1.1.1",
	};
	char	canon[PF_CIDRSLEN], err[PF_ERRLEN];
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_expect_eq(nft_lan_parse(bad[i], canon, sizeof(canon), err,
		    sizeof(err)), -1, "%s was taken", bad[i]);
		cr_expect_not_null(strstr(err, "is not a private or"
		    " link-local network"), "%s: %s", bad[i], err);
	}
	cr_assert_eq(nft_lan_parse(" 10.99.0.0/24, 169.254.10.0/24,172.20.0.1,"
	    "100.64.0.0/10", canon, sizeof(canon), err, sizeof(err)), 0, "%s",
	    err);
	cr_expect_str_eq(canon, "10.99.0.0/24,169.254.10.0/24,172.20.0.1/32,"
	    "100.64.0.0/10");
	cr_assert_eq(nft_lan_parse("", canon, sizeof(canon), err,
	    sizeof(err)), 0);
	cr_expect_str_eq(canon, "");
}

static void
body_nets(void)
{
	char	*text;

	text = render_child(&nets_user_plan);
	apply_ok("user plan with allow_nets", text);
	free(text);
	text = render_child(&nets_bridge_plan);
	apply_ok("bridge plan with allow_nets", text);
	free(text);
}

Test(nft, allow_nets_apply_in_netns)
{
	in_netns(body_nets);
}

Test(nft, apply_is_atomic_in_netns)
{
	in_netns(body_atomic);
}

/* nft's own message, one line per error, naming the line it refers to. */
static void
body_errmsg(void)
{
	char	err[PF_ERRLEN];

	if (nft_apply("table inet labd {\n\tset s { type ipv4_addr; flags"
	    " interval; elements = { 10.0.0.0/8, 10.1.0.0/16 } }\n}\n", err,
	    sizeof(err)) != -1)
		child_fail("overlapping intervals applied");
	if (strstr(err, "nft: line 2: Error: conflicting intervals") == NULL ||
	    strstr(err, "(in: set s {") == NULL || strchr(err, '\n') != NULL)
		child_fail("err: %s", err);
	if (nft_apply(NULL, err, sizeof(err)) != -1)
		child_fail("NULL text applied");
}

Test(nft, apply_error_message)
{
	in_netns(body_errmsg);
}

/* --- packets, in a private network ----------------------------------------- */

/*
 * The bridge plan on a real bridge: three "VMs" (namespaces on veth
 * ports, socat on port 22 answering their name) and an "outside"
 * namespace with an allowed (198.51.100.7) and another (198.51.100.8)
 * source, a private network (10.99.0.7) and a metadata service
 * (169.254.169.254); a "side" namespace that the host could route to
 * from outside if it forwarded for anyone but the bridge; a DNS stand-in
 * on the host.  Each check connects and wants an answer or none.  Run
 * with bridge-nf-call-iptables and -ip6tables on and off when
 * br_netfilter is loaded (Docker loads it), since bridged frames then
 * also cross the inet hooks.
 */
static const char traffic_lib[] =
"exec 2>&1; set -u\n"
"D=$NFT_TEST_DIR; bb=busybox; wrong=0; pids=\n"
"trap 'kill $pids 2>/dev/null' EXIT\n"
"inns() { if [ $1 = host ]; then shift; \"$@\"; else n=$1; shift;"
" ip netns exec $n \"$@\"; fi; }\n"
"tcp() { inns $1 socat -T1 - TCP:$2,connect-timeout=0.5${3:+,bind=$3}"
" </dev/null 2>/dev/null; }\n"
"udp() { echo q | inns $1 socat -t2 -T2 - UDP:$2 2>/dev/null; }\n"
"tcpas() { u=$1; shift; inns $1 setpriv --reuid=$u --regid=$u --clear-groups"
" socat -T1 - TCP:$2,connect-timeout=0.5 </dev/null 2>/dev/null; }\n"
"ping6() { inns $1 $bb ping -6 -c1 -W1 $2 >/dev/null 2>&1 && echo pong; }\n"
"check() {\n"
"	name=$1 want=$2; shift 2\n"
"	out=$(\"$@\"); got=none; [ -n \"$out\" ] && got=answer\n"
"	if [ $got = $want ]; then echo \"ok    $name\"\n"
"	else echo \"WRONG $name: want $want, got $got\"; wrong=$((wrong + 1)); fi\n"
"}\n"
"ip link set lo up\n";

static const char traffic_bridge[] =
"ip link add labbr0 type bridge && ip addr add 10.77.0.1/16 dev labbr0 &&"
" ip link set labbr0 up || exit 100\n"
"for i in 1 2 3; do\n"
"	ip netns add vm$i && ip link add ltap$i type veth peer name eth0"
" netns vm$i && ip link set ltap$i master labbr0 up &&"
" ip -n vm$i link set eth0 address 52:54:00:00:00:0$i &&"
" ip -n vm$i addr add 10.77.0.$((i + 1))/16 dev eth0 &&"
" ip -n vm$i addr add fd77::$i/64 dev eth0 nodad &&"
" ip -n vm$i link set eth0 up && ip -n vm$i link set lo up &&"
" ip -n vm$i route add default via 10.77.0.1 || exit 100\n"
"	ip netns exec vm$i socat TCP-LISTEN:22,fork,reuseaddr"
" SYSTEM:'echo vm'$i & pids=\"$pids $!\"\n"
"done\n"
"ip netns add out && ip link add wan0 type veth peer name eth0 netns out &&"
" ip addr add 198.51.100.1/24 dev wan0 && ip link set wan0 up &&"
" ip addr add 203.0.113.10/32 dev lo && ip addr add 203.0.113.11/32 dev lo &&"
" ip -n out addr add 198.51.100.7/24 dev eth0 &&"
" ip -n out addr add 198.51.100.8/24 dev eth0 &&"
" ip -n out link set eth0 up && ip -n out route add default via"
" 198.51.100.1 || exit 100\n"
"ip addr add 10.99.0.1/24 dev wan0 && ip addr add 169.254.0.1/16 dev wan0 &&"
" ip -n out addr add 10.99.0.7/24 dev eth0 &&"
" ip -n out addr add 169.254.169.254/16 dev eth0 || exit 100\n"
"ip netns add side && ip link add side0 type veth peer name eth0 netns side &&"
" ip addr add 192.0.2.1/24 dev side0 && ip link set side0 up &&"
" ip -n side addr add 192.0.2.9/24 dev eth0 && ip -n side link set eth0 up &&"
" ip -n side route add default via 192.0.2.1 || exit 100\n"
"ip netns exec out socat TCP-LISTEN:9000,fork,reuseaddr"
" SYSTEM:'echo outside' & pids=\"$pids $!\"\n"
"ip netns exec side socat TCP-LISTEN:9000,fork,reuseaddr"
" SYSTEM:'echo side' & pids=\"$pids $!\"\n"
"socat TCP-LISTEN:53,fork,reuseaddr SYSTEM:'echo dns' & pids=\"$pids $!\"\n"
/*
 * The UDP answerer reads the question first: an echo that is done before
 * socat hands it the datagram makes socat's write fail (EPIPE) and its
 * child end without an answer, a race the load of a busy host wins.
 */
"socat UDP-RECVFROM:53,fork,reuseaddr SYSTEM:'read -r q; echo dns' &"
" pids=\"$pids $!\"\n"
"echo 1 > /proc/sys/net/ipv4/ip_forward || exit 100\n"
"brnf=/proc/sys/net/bridge/bridge-nf-call-iptables\n"
"modes=0; [ -e $brnf ] && modes='1 0'\n"
"[ -e $brnf ] || echo 'note: br_netfilter is not loaded, checked without it'\n"
"sleep 0.3\n"
"for m in $modes; do\n"
"	[ -e $brnf ] && echo $m > $brnf && echo $m > ${brnf%tables}6tables\n"
"	echo \"--- bridge-nf-call-iptables=$m\"\n"
"	check 'room -> vm1 ssh' answer tcp out 203.0.113.10:22001 198.51.100.7\n"
"	check 'elsewhere -> vm1 ssh (gated)' none"
" tcp out 203.0.113.10:22001 198.51.100.8\n"
"	check 'elsewhere -> vm2 ssh (no gate)' answer"
" tcp out 203.0.113.10:22002 198.51.100.8\n"
"	check 'anyone -> vm3 (forward=0)' none tcp out 203.0.113.10:22003\n"
"	check 'host -> vm1 public port' answer tcp host 203.0.113.10:22001\n"
"	check 'host user nobody -> vm1 public port (gated)' none"
" tcpas 65534 host 203.0.113.10:22001\n"
"	check 'host user nobody -> vm2 public port (no gate)' answer"
" tcpas 65534 host 203.0.113.10:22002\n"
"	check 'host user nobody -> vm2 at its own address' none"
" tcpas 65534 host 10.77.0.3:22\n"
"	check 'host (root) -> vm2 at its own address' answer tcp host 10.77.0.3:22\n"
"	check 'private source -> vm2 ssh (replies pass)' answer"
" tcp out 203.0.113.10:22002 10.99.0.7\n"
"	check 'vm1 -> host DNS, tcp (internet)' answer tcp vm1 10.77.0.1:53\n"
"	check 'vm1 -> host DNS, udp (internet)' answer udp vm1 10.77.0.1:53\n"
"	check 'vm2 -> host DNS (no internet)' none tcp vm2 10.77.0.1:53\n"
"	check 'vm2 -> host DNS, udp (no internet)' none udp vm2 10.77.0.1:53\n"
"	check 'vm1 -> DNS on another host address' none tcp vm1 198.51.100.1:53\n"
"	check 'vm1 -> private network (internet)' none tcp vm1 10.99.0.7:9000\n"
"	check 'vm1 -> metadata (internet)' none tcp vm1 169.254.169.254:9000\n"
"	check 'vm2 -> vm3 over IPv6 (team)' none ping6 vm2 fd77::3\n"
"	check 'outside -> side through the host' none tcp out 192.0.2.9:9000\n"
"	check 'host -> side (the host itself)' answer tcp host 192.0.2.9:9000\n"
"	check 'vm2 -> vm3 (team)' answer tcp vm2 10.77.0.4:22\n"
"	check 'vm3 -> vm2 (team)' answer tcp vm3 10.77.0.3:22\n"
"	check 'vm1 -> vm2 (isolated)' none tcp vm1 10.77.0.3:22\n"
"	check 'vm2 -> vm1 (other course)' none tcp vm2 10.77.0.2:22\n"
"	check 'vm2 -> vm1 via its public port' none tcp vm2 203.0.113.10:22001\n"
"	check 'vm1 -> outside (internet)' answer tcp vm1 198.51.100.7:9000\n"
"	check 'vm2 -> outside (no internet)' none tcp vm2 198.51.100.7:9000\n"
"	check 'vm1 -> host ssh' none tcp vm1 10.77.0.1:22\n"
"	ip -n vm2 link set eth0 address 52:54:00:00:00:01\n"
"	check 'vm2 with the MAC of vm1 -> vm3 (team)' none tcp vm2 10.77.0.4:22\n"
"	ip -n vm2 link set eth0 address 52:54:00:00:00:02\n"
"	check 'vm2 with its own MAC again -> vm3' answer tcp vm2 10.77.0.4:22\n"
"	ip -n vm2 addr add 10.77.0.2/32 dev eth0\n"
"	check 'vm2 as vm1 -> outside (spoofed)' none"
" tcp vm2 198.51.100.7:9000 10.77.0.2\n"
"	inns vm1 $bb ping -c1 -W1 10.77.0.1 >/dev/null; sleep 1.2\n"
"	inns vm2 $bb arping -c1 -U -I eth0 -s 10.77.0.2 10.77.0.2 >/dev/null 2>&1\n"
"	ip -n vm2 addr del 10.77.0.2/32 dev eth0\n"
"	mac=$(ip -n vm2 -o link show eth0 | sed 's/.*ether \\([^ ]*\\).*/\\1/')\n"
"	if ip neigh show 10.77.0.2 dev labbr0 | grep -q \"$mac\"; then\n"
"		echo \"WRONG vm2's ARP for vm1's address reached the host\"\n"
"		wrong=$((wrong + 1)); else echo 'ok    ARP spoofing refused'; fi\n"
"done\n"
"printf 'start 10.77.0.4\\nend 10.77.0.4\\ninterface labbr0\\n"
"lease_file %s/leases\\npidfile %s/udhcpd.pid\\n' $D $D > $D/udhcpd.conf\n"
": > $D/leases\n"
"$bb udhcpd -f $D/udhcpd.conf >/dev/null 2>&1 & pids=\"$pids $!\"\n"
"sleep 1; ip -n vm3 addr flush dev eth0\n"
"if inns vm3 $bb udhcpc -n -q -f -i eth0 -t 4 -T 1 -A 1 -s /bin/true 2>&1 |"
" grep -q 'lease of 10.77.0.4 obtained'; then"
" echo 'WRONG a VM gets a DHCP lease from the host'; wrong=$((wrong + 1));"
" else echo 'ok    no DHCP from the host'; fi\n"
"inns vm1 bash -c 'for i in $(seq 600); do"
" echo x 2>/dev/null >/dev/udp/198.51.100.7/9; done'\n"
"n=$(grep -c 'src=10.77.0.2 dst=198.51.100.7 sport=[0-9]* dport=9 '"
" /proc/net/nf_conntrack)\n"
"if [ $n -le 512 ] && [ $n -ge 256 ]; then"
" echo \"ok    vm1 holds $n of 600 connections\"; else"
" echo \"WRONG vm1 holds $n of 600 connections\"; wrong=$((wrong + 1)); fi\n"
"echo 'ok    the end'\n"
"exit $wrong\n";

/*
 * The user plan on the host's loopback: listeners of the host (one on
 * every address, one for the gated port 22001, a DNS server on
 * 127.0.0.53), and one owned by a VM's uid as QEMU's hostfwd is.  Clients
 * run as root (labd), as nobody, and as uids in and out of the VMs'
 * range.
 */
static const char traffic_user[] =
"vm=1879048200\n"
"socat TCP-LISTEN:7000,fork,reuseaddr SYSTEM:'echo host' & pids=\"$pids $!\"\n"
"socat TCP-LISTEN:22001,bind=127.0.0.1,fork,reuseaddr SYSTEM:'echo vm1' &"
" pids=\"$pids $!\"\n"
"socat TCP-LISTEN:53,bind=127.0.0.53,fork,reuseaddr SYSTEM:'echo dns' &"
" pids=\"$pids $!\"\n"
"setpriv --reuid=$vm --regid=$vm --clear-groups socat"
" TCP-LISTEN:7100,bind=127.0.0.1,fork,reuseaddr SYSTEM:'echo fwd' &"
" pids=\"$pids $!\"\n"
"sleep 0.3\n"
"check 'root -> the host' answer tcp host 127.0.0.1:7000\n"
"check 'a VM uid -> the host' none tcpas $vm host 127.0.0.1:7000\n"
"check 'the first VM uid -> the host' none tcpas 1879048192 host 127.0.0.1:7000\n"
"check 'the uid before the range -> the host' answer"
" tcpas 1879048191 host 127.0.0.1:7000\n"
"check 'the uid past the range -> the host' answer"
" tcpas 1879113728 host 127.0.0.1:7000\n"
"check 'a VM uid -> the host DNS server' answer tcpas $vm host 127.0.0.53:53\n"
"check 'a VM uid -> another port of it' none tcpas $vm host 127.0.0.53:7000\n"
"check 'root -> a VM uid listener (hostfwd)' answer tcp host 127.0.0.1:7100\n"
"check 'root (labd) -> the gated port' answer tcp host 127.0.0.1:22001\n"
"check 'nobody -> the gated port' none tcpas 65534 host 127.0.0.1:22001\n"
"check 'a VM uid -> the gated port' none tcpas $vm host 127.0.0.1:22001\n"
"echo 'ok    the end'\n"
"exit $wrong\n";

static char		*traffic_dir;
static const struct nft_plan *traffic_plan;
static const char	*traffic_script;
static const char	*traffic_last;	/* its last line: it ran to the end */

static void
body_traffic(void)
{
	char	*text, out[REPORT_MAX], *script;
	size_t	 len = 0, n;
	FILE	*f;
	int	 status;

	/* Private mounts, so that "ip netns" keeps its files to itself. */
	if (unshare(CLONE_NEWNS) == -1 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1 ||
	    mount("tmpfs", "/run", "tmpfs", 0, NULL) == -1)
		child_fail("private mounts: %s", strerror(errno));
	text = render_child(traffic_plan);
	apply_ok("the plan", text);
	free(text);
	if (asprintf(&script, "%s%s", traffic_lib, traffic_script) == -1)
		child_fail("out of memory");
	if (setenv("NFT_TEST_DIR", traffic_dir, 1) == -1 ||
	    (f = popen(script, "r")) == NULL)
		child_fail("cannot run the traffic script: %s",
		    strerror(errno));
	while (len < sizeof(out) - 1 &&
	    (n = fread(out + len, 1, sizeof(out) - 1 - len, f)) > 0)
		len += n;
	out[len] = '\0';
	status = pclose(f);
	free(script);
	if (status != 0)
		child_fail("traffic checks (status %#x; 100: could not build"
		    " the network; needs ip, socat, busybox, setpriv):\n%s",
		    status, out);
	if (strstr(out, traffic_last) == NULL)
		child_fail("the traffic script stopped early:\n%s", out);
}

TestSuite(nft_traffic, .init = tmp_dir_setup, .fini = tmp_dir_teardown,
    .timeout = 120);

Test(nft_traffic, bridge_plan_behaves)
{
	traffic_dir = tmp_dir;
	traffic_plan = &bridge_plan;
	traffic_script = traffic_bridge;
	traffic_last = "ok    the end";
	in_netns(body_traffic);
}

Test(nft_traffic, user_plan_behaves)
{
	traffic_dir = tmp_dir;
	traffic_plan = &user_plan;
	traffic_script = traffic_user;
	traffic_last = "ok    the end";
	in_netns(body_traffic);
}
