/*
 * labctl_template.c - labctl's template commands: import and list.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labd/labctl.h"

int
ctl_template_import(struct ctl *c, int argc, char **argv)
{
	char	 path[PATH_MAX];
	json_t	*t;
	int	 rc;

	if (argc != 2)
		return CTL_USAGE;
	/* labd may run elsewhere in the tree: hand it an absolute path. */
	if (realpath(argv[1], path) == NULL) {
		fprintf(stderr, "labctl: cannot read %s: %s\n", argv[1],
		    strerror(errno));
		return CTL_FAILED;
	}
	t = ctl_call(c, "template.import", json_pack("{s:s,s:s}", "name",
	    argv[0], "path", path), &rc);
	if (t == NULL)
		return rc;
	if (c->json)
		print_json(t);
	else
		printf("template %s imported: %lld MiB, %lld vCPU, publishes"
		    " %s\n", jstr(t, "ref"), jint(t, "memory_mb"),
		    jint(t, "vcpus"), jstr(t, "publish"));
	json_decref(t);
	return CTL_OK;
}

int
ctl_template_list(struct ctl *c, int argc, char **argv)
{
	json_t	*a, *t;
	size_t	 i;
	int	 rc;

	if (argc != 0)
		return CTL_USAGE;
	if ((a = ctl_call(c, "template.list", NULL, &rc)) == NULL)
		return rc;
	if (c->json)
		print_json(a);
	else {
		printf("%-20s %7s %5s %-16s %s\n", "TEMPLATE", "MEMORY", "VCPU",
		    "PUBLISH", "SOURCE");
		json_array_foreach(a, i, t)
			printf("%-20s %6lldM %5lld %-16s %s\n", jstr(t, "ref"),
			    jint(t, "memory_mb"), jint(t, "vcpus"),
			    jstr(t, "publish"), jstr(t, "source"));
	}
	json_decref(a);
	return CTL_OK;
}
