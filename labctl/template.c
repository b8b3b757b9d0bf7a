/* SPDX-License-Identifier: ISC */
/*
 * template.c - labctl's template commands: import, from-vm, list,
 * show and rm.  A template is named NAME (the newest version) or NAME@V; rm wants
 * the version spelled out as soon as there is more than one, which labd
 * enforces and explains.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "labctl/labctl.h"

int
ctl_template_import(struct ctl *c, int argc, char **argv)
{
	const char	*name = NULL, *file = NULL;
	char		 path[PATH_MAX];
	json_t		*t;
	int		 i, rc, preallocate = 0;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--preallocate") == 0)
			preallocate = 1;
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
			return CTL_USAGE;
		else if (name == NULL)
			name = argv[i];
		else if (file == NULL)
			file = argv[i];
		else
			return CTL_USAGE;
	}
	if (name == NULL || file == NULL)
		return CTL_USAGE;
	/* labd may run elsewhere in the tree: hand it an absolute path. */
	if (realpath(file, path) == NULL) {
		fprintf(stderr, "labctl: cannot read %s: %s\n", file,
		    strerror(errno));
		return CTL_FAILED;
	}
	t = ctl_call(c, "template.import", json_pack("{s:s,s:s,s:b}", "name",
	    name, "path", path, "preallocate", preallocate), &rc);
	if (t == NULL)
		return rc;
	if (c->json)
		print_json(t);
	else
		printf("template %s imported: %lld MiB, %lld vCPU, publishes"
		    " %s%s\n", jstr(t, "ref"), jint(t, "memory_mb"),
		    jint(t, "vcpus"), jstr(t, "publish"),
		    preallocate ? ", preallocated" : "");
	json_decref(t);
	return CTL_OK;
}

/* A VM the instructor prepared, published as the next version of NAME. */
int
ctl_template_from_vm(struct ctl *c, int argc, char **argv)
{
	json_t	*t;
	int	 rc;

	if (argc != 2 || argv[0][0] == '-' || argv[1][0] == '-')
		return CTL_USAGE;
	if ((t = ctl_call(c, "template.from_vm", json_pack("{s:s,s:s}", "vm",
	    argv[0], "name", argv[1]), &rc)) == NULL)
		return rc;
	if (c->json)
		print_json(t);
	else {
		printf("template %s made from %s in %.1f s%s: %lld MiB, %lld"
		    " vCPU, publishes %s\n", jstr(t, "ref"), argv[0],
		    json_real_value(json_object_get(t, "seconds")),
		    json_is_true(json_object_get(t, "live")) ? " (live)" : "",
		    jint(t, "memory_mb"), jint(t, "vcpus"), jstr(t, "publish"));
		if (json_is_true(json_object_get(t, "live")) &&
		    !json_is_true(json_object_get(t, "synced")))
			printf("note: the guest was not asked to flush its"
			    " cache first (no SSH with labd's key)\n");
	}
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

/* 1536 MiB as "1.5G", 9437184 bytes as "9.0M": sizes a person reads. */
static void
fmt_bytes(long long n, char *out, size_t len)
{
	static const char	units[] = "BKMGT";
	double			v = (double)n;
	size_t			u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) - 1) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, len, "%lldB", n);
	else
		snprintf(out, len, "%.1f%c", v, units[u]);
}

int
ctl_template_show(struct ctl *c, int argc, char **argv)
{
	json_t		*t, *course, *vm, *v;
	size_t		 i, k;
	int		 rc;
	char		 size[32], used[32], when[64];
	time_t		 created;

	if (argc != 1)
		return CTL_USAGE;
	if ((t = ctl_call(c, "template.show", json_pack("{s:s}", "name",
	    argv[0]), &rc)) == NULL)
		return rc;
	if (c->json) {
		print_json(t);
		json_decref(t);
		return CTL_OK;
	}
	created = (time_t)jint(t, "created");
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", localtime(&created));
	fmt_bytes(jint(t, "disk_size"), size, sizeof(size));
	fmt_bytes(jint(t, "disk_bytes"), used, sizeof(used));
	printf("template   %s\n", jstr(t, "ref"));
	printf("versions  ");
	json_array_foreach(json_object_get(t, "versions"), i, v)
		printf(" %s@%lld", jstr(t, "name"), json_integer_value(v));
	printf("\nmemory     %lld MiB\n", jint(t, "memory_mb"));
	printf("vcpus      %lld\n", jint(t, "vcpus"));
	printf("firmware   %s\n", jstr(t, "firmware"));
	printf("publish    %s\n", jstr(t, "publish"));
	printf("disk       %s\n", jstr(t, "disk"));
	if (*jstr(t, "disk_error"))
		printf("           MISSING: %s\n", jstr(t, "disk_error"));
	else
		printf("           %s, %s on the host, mode %s\n", size, used,
		    jstr(t, "disk_mode"));
	if (*jstr(t, "kernel"))
		printf("kernel     %s\ninitrd     %s\nappend     %s\n",
		    jstr(t, "kernel"), jstr(t, "initrd"), jstr(t, "append"));
	if (*jstr(t, "ready_line"))
		printf("ready line %s\n", jstr(t, "ready_line"));
	if (*jstr(t, "instant_clone"))
		printf("clones     %s\n", jstr(t, "instant_clone"));
	printf("sha256     %s\n", jstr(t, "sha256"));
	printf("source     %s\n", jstr(t, "source"));
	printf("created    %s\n", when);
	if (json_array_size(json_object_get(t, "courses")) == 0)
		printf("used by    no course\n");
	json_array_foreach(json_object_get(t, "courses"), i, course) {
		printf("%s course %s:", i ? "          " : "used by   ",
		    jstr(course, "name"));
		json_array_foreach(json_object_get(course, "vms"), k, vm)
			printf(" %s (%s)", jstr(vm, "name"), jstr(vm, "state"));
		putchar('\n');
	}
	json_decref(t);
	return CTL_OK;
}

int
ctl_template_rm(struct ctl *c, int argc, char **argv)
{
	json_t	*t;
	int	 rc;

	if (argc != 1)
		return CTL_USAGE;
	if ((t = ctl_call(c, "template.rm", json_pack("{s:s}", "name",
	    argv[0]), &rc)) == NULL)
		return rc;
	if (c->json)
		print_json(t);
	else {
		printf("template %s@%lld removed\n", jstr(t, "name"),
		    jint(t, "version"));
		if (*jstr(t, "warning"))
			printf("warning: %s\n", jstr(t, "warning"));
	}
	json_decref(t);
	return CTL_OK;
}
