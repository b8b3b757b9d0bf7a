/* SPDX-License-Identifier: ISC */
/*
 * test_plan.c - the port plan and the user-mode backend.
 *
 * Allocation is checked against the real host: the test binds a port on
 * 127.0.0.1 itself and expects the plan to step around it.  Bases are
 * picked where the test finds a run of free ports, so another labd or a
 * parallel test on this machine does not make the results flaky.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "portforward/portforward.h"

/* A base on 127.0.0.1 whose ports base+1 .. base+n are free right now. */
static uint16_t
free_base(uint16_t from, int n)
{
	char		err[PF_ERRLEN];
	unsigned	base;
	int		k;

	for (base = from; base + n <= 65535; base += n + 1) {
		for (k = 1; k <= n; k++)
			if (plan_port_free("127.0.0.1", (uint16_t)(base + k), err,
			    sizeof(err)) != 1)
				break;
		if (k > n)
			return (uint16_t)base;
	}
	cr_assert_fail("no %d free ports on 127.0.0.1 from %u", n, from);
	return 0;
}

/* Listen on 127.0.0.1:port, as a host service would. */
static int
hold_port(uint16_t port)
{
	struct sockaddr_in	sin;
	int			fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_neq(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0,
	    "bind 127.0.0.1:%u", port);
	cr_assert_eq(listen(fd, 1), 0);
	return fd;
}

static void
svc_set(struct pf_service *s, const char *name, const char *ip, uint16_t base)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->listen_ip, sizeof(s->listen_ip), "%s", ip);
	s->base = base;
}

Test(plan, port_arithmetic)
{
	struct pf_service	svc[2];

	cr_expect_eq(plan_port(22000, 17), 22017);
	cr_expect_eq(plan_port(22000, 1), 22001);
	cr_expect_eq(plan_port(65000, 535), 65535);
	cr_expect_eq(plan_port(65000, 536), -1);
	cr_expect_eq(plan_port(22000, 0), -1);
	cr_expect_eq(plan_port(22000, -3), -1);
	svc_set(&svc[0], "ssh", "127.0.0.1", 22000);
	svc_set(&svc[1], "http", "127.0.0.1", 65000);
	cr_expect_eq(plan_max_slot(svc, 1), 43535);
	cr_expect_eq(plan_max_slot(svc, 2), 535);
	cr_expect_eq(plan_max_slot(svc, 0), 0);
}

Test(plan, port_free)
{
	char		err[PF_ERRLEN];
	uint16_t	base = free_base(41000, 1);
	int		fd;

	cr_expect_eq(plan_port_free("127.0.0.1", base + 1, err, sizeof(err)),
	    1);
	fd = hold_port(base + 1);
	cr_expect_eq(plan_port_free("127.0.0.1", base + 1, err, sizeof(err)),
	    0);
	close(fd);
	/* TEST-NET-1 is nobody's address. */
	cr_expect_eq(plan_port_free("192.0.2.1", 22001, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "192.0.2.1 is not an address of this host"
	    " (check [network] public_ips)");
	cr_expect_eq(plan_port_free("localhost", 22001, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "localhost is not an IPv4 address");
}

/*
 * A port whose last connection the server (a QEMU hostfwd listener, with
 * SO_REUSEADDR) closed lingers in TIME_WAIT on the server's side: that is
 * no service, and QEMU could bind it again, so it is free.  A listener on 0.0.0.0 takes the port on every address.
 */
Test(plan, time_wait_free_wildcard_not)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	char			err[PF_ERRLEN];
	uint16_t		base = free_base(41200, 2);
	int			lfd, cfd, afd, one = 1;

	/* As QEMU's user networking listens: with SO_REUSEADDR. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(base + 1);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_neq(lfd = socket(AF_INET, SOCK_STREAM, 0), -1);
	cr_assert_eq(setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)), 0);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(listen(lfd, 1), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(base + 1);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_neq(cfd = socket(AF_INET, SOCK_STREAM, 0), -1);
	cr_assert_eq(connect(cfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_neq(afd = accept(lfd, (struct sockaddr *)&sin, &len), -1);
	close(afd);		/* the server closes first: its TIME_WAIT */
	close(lfd);
	usleep(50000);
	close(cfd);
	cr_expect_eq(plan_port_free("127.0.0.1", base + 1, err, sizeof(err)),
	    1, "a TIME_WAIT is not a service: %s", err);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(base + 2);
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	cr_assert_neq(lfd = socket(AF_INET, SOCK_STREAM, 0), -1);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(listen(lfd, 1), 0);
	cr_expect_eq(plan_port_free("127.0.0.1", base + 2, err, sizeof(err)),
	    0, "0.0.0.0:%u listens", base + 2);
	close(lfd);
}

Test(plan, lowest_first)
{
	struct pf_service	svc;
	int			slots[5];
	char			err[PF_ERRLEN];
	int			i;

	svc_set(&svc, "ssh", "127.0.0.1", free_base(42000, 5));
	cr_assert_eq(plan_allocate(&svc, 1, NULL, 0, 5, slots, err,
	    sizeof(err)), 0, "%s", err);
	for (i = 0; i < 5; i++)
		cr_expect_eq(slots[i], i + 1);
}

Test(plan, skips_used_slots)
{
	struct pf_service	svc;
	unsigned char		used[6] = { 0, 1, 1, 0, 1, 0 };
	int			slots[3];
	char			err[PF_ERRLEN];

	svc_set(&svc, "ssh", "127.0.0.1", free_base(43000, 8));
	cr_assert_eq(plan_allocate(&svc, 1, used, sizeof(used), 3, slots, err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_eq(slots[0], 3);
	cr_expect_eq(slots[1], 5);
	cr_expect_eq(slots[2], 6);
}

/* A port taken by someone else on the host costs the whole slot. */
Test(plan, skips_port_in_use)
{
	struct pf_service	svc[2];
	int			slots[3], fd;
	char			err[PF_ERRLEN];
	uint16_t		base = free_base(44000, 10);

	svc_set(&svc[0], "ssh", "127.0.0.1", base);
	svc_set(&svc[1], "http", "127.0.0.1", base + 100);
	cr_assert_eq(plan_port_free("127.0.0.1", base + 102, err,
	    sizeof(err)), 1, "pick another base: %u is busy", base + 102);
	fd = hold_port(base + 2);
	cr_assert_eq(plan_allocate(svc, 1, NULL, 0, 3, slots, err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_eq(slots[0], 1);
	cr_expect_eq(slots[1], 3);
	cr_expect_eq(slots[2], 4);
	close(fd);
	/* The http port of slot 2 in use: slot 2 goes, ssh or not. */
	fd = hold_port(base + 102);
	cr_assert_eq(plan_allocate(svc, 2, NULL, 0, 3, slots, err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_eq(slots[1], 3);
	close(fd);
}

Test(plan, refuses_with_numbers)
{
	struct pf_service	svc;
	unsigned char		used[3] = { 0, 1, 0 };
	int			slots[10], fd;
	char			err[PF_ERRLEN], want[PF_ERRLEN];

	/* 65525: slots 1..10, above the kernel's ephemeral ports. */
	svc_set(&svc, "ssh", "127.0.0.1", 65525);
	cr_assert_eq(free_base(65525, 10), 65525, "65526..65535 are not free");
	fd = hold_port(65530);
	cr_expect_eq(plan_allocate(&svc, 1, used, sizeof(used), 10, slots, err,
	    sizeof(err)), -1);
	snprintf(want, sizeof(want), "course needs 10 slots, only 8 are free"
	    " (ssh on 127.0.0.1 from 65526 up to 65535; 1 in use on the host,"
	    " 1 held by other VMs); free some ports, remove a course, or set a"
	    " lower base in labd.ini [publish]");
	cr_expect_str_eq(err, want);
	close(fd);
	cr_expect_eq(plan_allocate(&svc, 1, used, sizeof(used), 9, slots, err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_eq(slots[0], 2);
	cr_expect_eq(slots[8], 10);
}

/*
 * Two services on one IP, bases 3 apart: ssh of slot k+3 is http of slot
 * k.  Slots that would share a port are skipped.
 */
Test(plan, services_do_not_meet)
{
	struct pf_service	svc[2];
	int			slots[5], i, j;
	char			err[PF_ERRLEN];
	uint16_t		base = free_base(45000, 20);

	svc_set(&svc[0], "ssh", "127.0.0.1", base);
	svc_set(&svc[1], "http", "127.0.0.1", base + 3);
	cr_assert_eq(plan_allocate(svc, 2, NULL, 0, 5, slots, err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_eq(slots[0], 1);
	cr_expect_eq(slots[1], 2);
	cr_expect_eq(slots[2], 3);
	cr_expect_eq(slots[3], 7);
	cr_expect_eq(slots[4], 8);
	for (i = 0; i < 5; i++)
		for (j = 0; j < 5; j++)
			cr_expect_neq(base + slots[i], base + 3 + slots[j]);
}

Test(plan, same_base_refused)
{
	struct pf_service	svc[2];
	int			slots[1];
	char			err[PF_ERRLEN];

	svc_set(&svc[0], "ssh", "127.0.0.1", 22000);
	svc_set(&svc[1], "http", "127.0.0.1", 22000);
	cr_expect_eq(plan_allocate(svc, 2, NULL, 0, 1, slots, err,
	    sizeof(err)), -1);
	cr_expect_str_eq(err, "ssh and http both have base 127.0.0.1:22000");
	cr_expect_eq(plan_allocate(svc, 0, NULL, 0, 1, slots, err,
	    sizeof(err)), -1);
	cr_expect_eq(plan_allocate(svc, 1, NULL, 0, 0, slots, err,
	    sizeof(err)), 0);
}

Test(plan, bad_address_stops)
{
	struct pf_service	svc;
	int			slots[1];
	char			err[PF_ERRLEN];

	svc_set(&svc, "ssh", "192.0.2.1", 22000);
	cr_expect_eq(plan_allocate(&svc, 1, NULL, 0, 1, slots, err,
	    sizeof(err)), -1);
	cr_expect_str_eq(err, "192.0.2.1 is not an address of this host"
	    " (check [network] public_ips)");
}

Test(plan, rules_two_services)
{
	struct pf_service	svc[2];
	struct pf_rule		out[4];
	const char *const	names[] = { "ssh", "http" };
	const uint16_t		ports[] = { 22, 80 };
	char			err[PF_ERRLEN];

	svc_set(&svc[0], "http", "203.0.113.11", 8000);
	svc_set(&svc[1], "ssh", "203.0.113.10", 22000);
	cr_assert_eq(plan_rules(svc, 2, 17, names, ports, 2, out, 4, err,
	    sizeof(err)), 2, "%s", err);
	cr_expect_str_eq(out[0].service, "ssh");
	cr_expect_str_eq(out[0].listen_ip, "203.0.113.10");
	cr_expect_eq(out[0].port, 22017);
	cr_expect_eq(out[0].guest_port, 22);
	cr_expect_str_eq(out[1].service, "http");
	cr_expect_str_eq(out[1].listen_ip, "203.0.113.11");
	cr_expect_eq(out[1].port, 8017);
	cr_expect_eq(out[1].guest_port, 80);
}

Test(plan, rules_errors)
{
	struct pf_service	svc;
	struct pf_rule		out[2];
	const char *const	names[] = { "ssh", "http" };
	const uint16_t		ports[] = { 22, 80 };
	char			err[PF_ERRLEN];

	/* http has no [publish]: left unpublished, ssh alone is mapped. */
	svc_set(&svc, "ssh", "127.0.0.1", 22000);
	cr_expect_eq(plan_rules(&svc, 1, 1, names, ports, 2, out, 2, err,
	    sizeof(err)), 1);
	cr_expect_str_eq(out[0].service, "ssh");
	cr_expect_eq(out[0].port, 22001);
	svc_set(&svc, "ftp", "127.0.0.1", 21000);
	cr_expect_eq(plan_rules(&svc, 1, 1, names, ports, 2, out, 2, err,
	    sizeof(err)), -1);
	cr_expect_str_eq(err, "template publishes ssh:22, http:80 but labd.ini"
	    " [publish] names none of them");
	svc_set(&svc, "ssh", "127.0.0.1", 22000);
	cr_expect_eq(plan_rules(&svc, 1, 1, names, ports, 2, out, 1, err,
	    sizeof(err)), -1);
	cr_expect_str_eq(err, "template publishes 2 ports, at most 1");
	cr_expect_eq(plan_rules(&svc, 1, 43536, names, ports, 1, out, 1, err,
	    sizeof(err)), -1);
	cr_expect_str_eq(err, "slot 43536 has no ssh port (base 22000: ports"
	    " end at 65535)");
}

Test(user, hostfwd)
{
	struct pf_rule	r;
	char		out[64];

	memset(&r, 0, sizeof(r));
	snprintf(r.service, sizeof(r.service), "ssh");
	snprintf(r.listen_ip, sizeof(r.listen_ip), "127.0.0.1");
	r.port = 22001;
	r.guest_port = 22;
	cr_assert_eq(pf_user_hostfwd(&r, out, sizeof(out)), 0);
	cr_expect_str_eq(out, "tcp:127.0.0.1:22001-:22");
	/* Too small: nothing half-written. */
	cr_expect_eq(pf_user_hostfwd(&r, out, 10), -1);
	cr_expect_str_eq(out, "");
	/* A comma would open a new -netdev option. */
	snprintf(r.listen_ip, sizeof(r.listen_ip), "127.0.0.1,restrict=off");
	cr_expect_eq(pf_user_hostfwd(&r, out, sizeof(out)), -1);
}
