/* SPDX-License-Identifier: ISC */
/*
 * fuzz_ini.c - labd.ini on any bytes: config_load() (labd/config.c over
 * proto/ini.c and iniparser) reads it from a file in a private folder,
 * over the defaults.  A file it accepts gives a configuration within its
 * bounds, and labctl's own reader (client_config_socket()) finds the
 * socket labd would listen on.
 */
#include "labd/labd.h"
#include "proto/client.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char		 path[PATH_MAX];
	struct labd_config	 c;
	char			 err[LABD_ERRLEN], sock[PATH_MAX];
	int			 i;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "%s/labd.ini", fuzz_dir());
	fuzz_write(path, data, size);
	config_defaults(&c);
	if (config_load(path, &c, err, sizeof(err)) == -1) {
		FUZZ_CHECK(FUZZ_TERMINATED(err) && err[0] != '\0',
		    "refused without a message");
		return 0;
	}
	FUZZ_CHECK(c.npublic_ips >= 1 && c.npublic_ips <= LABD_MAX_PUBLIC_IPS,
	    "%d public IPs", c.npublic_ips);
	FUZZ_CHECK(c.npublish >= 1 && c.npublish <= LABD_MAX_PUBLISH,
	    "%d services", c.npublish);
	FUZZ_CHECK(c.workers >= 0 && c.workers <= 64, "%d workers (0 auto)",
	    c.workers);
	i = workers_count(c.workers, 2);
	FUZZ_CHECK(i >= 1 && i <= 64, "%d workers at work", i);
	FUZZ_CHECK(c.subnet_plen >= 0 && c.subnet_plen <= 32, "/%d",
	    c.subnet_plen);
	FUZZ_CHECK(FUZZ_TERMINATED(c.state_dir) && FUZZ_TERMINATED(c.run_dir) &&
	    FUZZ_TERMINATED(c.socket) && FUZZ_TERMINATED(c.group) &&
	    FUZZ_TERMINATED(c.bridge) && FUZZ_TERMINATED(c.subnet) &&
	    FUZZ_TERMINATED(c.qemu) && FUZZ_TERMINATED(c.qemu_img),
	    "a string not terminated");
	for (i = 0; i < c.npublic_ips; i++)
		FUZZ_CHECK(FUZZ_TERMINATED(c.public_ips[i]), "public_ips[%d]",
		    i);
	FUZZ_CHECK(client_config_socket(path, sock, sizeof(sock), err,
	    sizeof(err)) == 0, "labctl refuses what labd took: %s", err);
	FUZZ_CHECK(strcmp(sock, c.socket) == 0, "labctl finds %s, labd"
	    " listens on %s", sock, c.socket);
	return 0;
}
