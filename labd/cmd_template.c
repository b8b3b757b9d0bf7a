/* SPDX-License-Identifier: ISC */
/*
 * cmd_template.c - the template commands: import, from_vm, list, show,
 * rm.  Each reads its arguments, calls the model (template.c) and
 * replies; an import ends in a worker, so it gets a struct done that
 * replies to the kept request.
 */
#include "labd/labd.h"

void
cmd_template_import(const struct req *r, json_t *args)
{
	const char		*name = arg_str(args, "name");
	const char		*path = arg_str(args, "path");
	json_t			*prealloc = json_object_get(args, "preallocate");

	template_import(name, path, json_is_true(prealloc), r->uid, r->gid,
	    req_peer(r), req_done(r));
}

void
cmd_template_from_vm(const struct req *r, json_t *args)
{
	const char		*vmname = arg_str(args, "vm");
	const char		*name = arg_str(args, "name");
	struct vm		*vm;
	const char		*code;
	char			 err[LABD_MSGLEN];

	if ((code = template_name_check(name, err, sizeof(err))) != NULL) {
		reply_err(r, code, "%s", err);
		return;
	}
	if ((vm = vm_find(vmname)) == NULL) {
		reply_err(r, LABD_E_NOT_FOUND, "vm \"%.80s\" not found"
		    " (labctl list shows them)", vmname);
		return;
	}
	template_from_vm(vm, name, r->uid, req_done(r));
}

void
cmd_template_list(const struct req *r, json_t *args)
{
	reply_ok(r, template_list());
}

void
cmd_template_show(const struct req *r, json_t *args)
{
	const char	*ref = arg_str(args, "name");
	const char	*code;
	char		 err[LABD_MSGLEN];
	json_t		*res;

	if ((code = template_show(ref, &res, err, sizeof(err))) != NULL) {
		reply_err(r, code, "%s", err);
		return;
	}
	reply_ok(r, res);
}

void
cmd_template_rm(const struct req *r, json_t *args)
{
	const char	*ref = arg_str(args, "name");
	const char	*code;
	char		 err[LABD_MSGLEN];
	json_t		*res;

	if ((code = template_rm(ref, r->uid, &res, err, sizeof(err))) != NULL) {
		reply_err(r, code, "%s", err);
		return;
	}
	reply_ok(r, res);
}
