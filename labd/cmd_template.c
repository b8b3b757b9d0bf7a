/*
 * cmd_template.c - the template commands: import, from_vm, list, show,
 * rm.  Each reads its arguments, calls the model (template.c) and
 * replies; an import ends in a worker, so its request is kept and the
 * model's completion callback replies to it.
 */
#include "labd/labd.h"

/* The end of an import, either kind: the reply to the kept request. */
static void
import_replied(void *arg, json_t *result, const char *code,
    const char *message)
{
	struct req	*r = arg;

	if (code != NULL)
		reply_err(r, code, "%s", message);
	else
		reply_ok(r, result);
	req_free(r);
}

void
cmd_template_import(const struct req *r, json_t *args)
{
	const char		*name = arg_str(args, "name");
	const char		*path = arg_str(args, "path");
	json_t			*prealloc = json_object_get(args, "preallocate");
	struct req		*k;
	const char		*code;
	char			 err[LABD_MSGLEN];

	if (name == NULL || path == NULL) {
		reply_err(r, LABD_E_BAD_REQUEST, "template.import needs \"name\""
		    " and \"path\"");
		return;
	}
	if (prealloc != NULL && !json_is_boolean(prealloc)) {
		reply_err(r, LABD_E_BAD_REQUEST, "template.import: \"preallocate\""
		    " is true or false");
		return;
	}
	k = req_keep(r);
	if ((code = template_import(name, path, json_is_true(prealloc), r->uid,
	    import_replied, k, err, sizeof(err))) != NULL) {
		req_free(k);
		reply_err(r, code, "%s", err);
	}
}

void
cmd_template_from_vm(const struct req *r, json_t *args)
{
	const char		*vmname = arg_str(args, "vm");
	const char		*name = arg_str(args, "name");
	struct vmjob		*vj;
	struct vm		*vm;
	struct req		*k;
	const char		*code;
	char			 err[LABD_MSGLEN];

	if (vmname == NULL || name == NULL) {
		reply_err(r, LABD_E_BAD_REQUEST, "template.from_vm needs"
		    " \"vm\" and \"name\"");
		return;
	}
	if ((code = template_name_check(name, err, sizeof(err))) != NULL) {
		reply_err(r, code, "%s", err);
		return;
	}
	if ((vm = vm_find(vmname)) == NULL) {
		reply_err(r, LABD_E_NOT_FOUND, "vm \"%.80s\" not found"
		    " (labctl list shows them)", vmname);
		return;
	}
	k = req_keep(r);
	if ((code = template_from_vm(vm, name, r->uid, import_replied, k, &vj,
	    err, sizeof(err))) != NULL) {
		req_free(k);
		reply_err(r, code, "%s", err);
		return;
	}
	if (vm_op_backup(vm, vj, r) == -1) {
		template_from_vm_cancel(vj);
		req_free(k);
	}
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

	if (ref == NULL) {
		reply_err(r, LABD_E_BAD_REQUEST, "needs \"name\": NAME or"
		    " NAME@VERSION");
		return;
	}
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

	if (ref == NULL) {
		reply_err(r, LABD_E_BAD_REQUEST, "needs \"name\": NAME or"
		    " NAME@VERSION");
		return;
	}
	if ((code = template_rm(ref, r->uid, &res, err, sizeof(err))) != NULL) {
		reply_err(r, code, "%s", err);
		return;
	}
	reply_ok(r, res);
}
