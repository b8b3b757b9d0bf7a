/* SPDX-License-Identifier: ISC */
/*
 * removed.c - labctl removed and labctl recover: the disks labd keeps a
 * while after a course rm or a reset --hard ([labd] keep_removed), and
 * one of them put back as its VM's disk.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "labctl.h"

static void
when(long long t, char *out, size_t len)
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	localtime_r(&tt, &tm);
	strftime(out, len, "%Y-%m-%d %H:%M", &tm);
}

int
ctl_removed(struct ctl *c, int argc, char **argv)
{
	json_t	*res, *a, *m;
	size_t	 i;
	int	 rc;
	char	 removed[32], expires[32], size[16];

	if (argc != 0)
		return CTL_USAGE;
	if ((res = ctl_call(c, "removed.list", json_object(), &rc)) == NULL)
		return rc;
	if (c->json) {
		print_json(res);
		json_decref(res);
		return CTL_OK;
	}
	a = json_object_get(res, "removed");
	if (jint(res, "keep_removed") == 0)
		printf("keeping is off ([labd] keep_removed = off): removed"
		    " disks are deleted at once\n");
	else if (json_array_size(a) == 0)
		printf("no disk kept\n");
	else
		printf("%-28s %-16s %-12s %-16s %-16s %7s %s\n", "ID", "VM",
		    "STUDENT", "REMOVED", "KEPT UNTIL", "SIZE", "WHY");
	json_array_foreach(a, i, m) {
		when(jint(m, "removed"), removed, sizeof(removed));
		when(jint(m, "expires"), expires, sizeof(expires));
		fmt_size(jint(m, "bytes"), size, sizeof(size));
		printf("%-28s %-16s %-12s %-16s %-16s %7s %s\n", jstr(m, "id"),
		    jstr(m, "vm"), jstr(m, "student"), removed, expires, size,
		    jstr(m, "why"));
	}
	json_decref(res);
	return CTL_OK;
}

int
ctl_recover(struct ctl *c, int argc, char **argv)
{
	const char	*id = NULL, *vm = NULL, *v;
	json_t		*args, *res;
	int		 i, rc;

	for (i = 0; i < argc; i++) {
		if ((v = opt_value("--to", argc, argv, &i)) != NULL)
			vm = v;
		else if (argv[i][0] == '-' || id != NULL)
			return CTL_USAGE;
		else
			id = argv[i];
	}
	if (id == NULL)
		return CTL_USAGE;
	args = json_pack("{s:s}", "id", id);
	if (vm != NULL)
		json_object_set_new(args, "vm", json_string(vm));
	if ((res = ctl_call(c, "removed.recover", args, &rc)) == NULL)
		return rc;
	if (c->json)
		print_json(res);
	else {
		printf("%s: disk recovered from %s, %lld snapshots in it\n",
		    jstr(res, "vm"), jstr(res, "id"), jint(res, "snapshots"));
		if (json_is_string(json_object_get(res, "kept")))
			printf("the disk it replaced is kept as %s\n",
			    jstr(res, "kept"));
	}
	json_decref(res);
	return CTL_OK;
}
