/* SPDX-License-Identifier: ISC */
/*
 * course.c - courses: a template and a roster make one VM a student.
 * Every statement about courses, their students, VMs and ports is here;
 * cmd_course.c reads the commands' arguments and replies with what this
 * returns, a result or a LABD_E_* code and a message.
 *
 * course_create() validates everything first (name, template, every
 * roster row, the port plan) and only then writes the course, its
 * students, VMs and ports in one transaction: a bad roster creates
 * nothing.  The VMs are then started; the result carries the access
 * sheet with the generated passwords, which are stored only hashed and so
 * are shown this once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "labd/labd.h"
#include "labd/vmjob.h"
#include "labd/vnc.h"

#define COURSE_PASSWORD_LEN	12

/* A course being made: what the checks found, then what was written. */
struct course_new {
	const char	*name;
	const char	*tref;
	const char	*rname;
	int64_t		 tid;
	struct roster	 ros;
	char		 gnames[LABD_MAX_GUEST_PORTS][PF_NAMELEN];
	const char	*gptrs[LABD_MAX_GUEST_PORTS];
	uint16_t	 gports[LABD_MAX_GUEST_PORTS];
	size_t		 ng;
	int		*slots;		/* one a student, from the plan */
	int64_t		*vmids;		/* one a student, once written */
	json_t		*sheet;		/* the access sheet, passwords in */
};

/* course.set's parsed values; -1: not given. */
struct course_values {
	int		 idle_secs;
	int		 inet_on;
	int		 iso_on;
	int		 sudo_on;
	int		 sreset_on;
	const char	*allow;		/* NULL, or canon's source */
	char		 canon[1024];	/* allow_from, canonical */
	const char	*nets;		/* NULL, or nets_canon's source */
	char		 nets_canon[1024];	/* allow_nets, canonical */
	int		 cpu_weight;	/* 0: default, -1: not given */
	long long	 memory_max;	/* bytes, 0: auto, -1: not given */
	int		 pids_max;	/* 0: default, -1: not given */
	int		 exam_set;	/* exam_end given */
	time_t		 exam_at;	/* its instant, 0: none */
	char		 exam_paths[8192];	/* collect, checked */
};

static int
course_exists(const char *name)
{
	sqlite3_stmt	*st;
	int		 found;

	st = db_prepare("SELECT 1 FROM courses WHERE name = ?");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

static unsigned char *
slots_used(size_t *n)
{
	sqlite3_stmt	*st;
	unsigned char	*used = xcalloc(65536, 1);

	st = db_prepare("SELECT slot FROM vms");
	while (sqlite3_step(st) == SQLITE_ROW) {
		int	slot = sqlite3_column_int(st, 0);

		if (slot >= 0 && slot < 65536)
			used[slot] = 1;
	}
	sqlite3_finalize(st);
	*n = 65536;
	return used;
}

static int64_t
insert(sqlite3_stmt *st)
{
	int	rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? sqlite3_last_insert_rowid(labd->db) : -1;
}

/*
 * The gateway's other doors for the sheet, after its line: +console
 * always, +reset when the course lets students reset, +check when it
 * has stored checks (a line that could only say "no checks" is left
 * out: print the sheet again, labctl access, once they are).
 */
static json_t *
sheet_modes(const char *course, const char *port, const char *user)
{
	sqlite3_stmt	*st;
	json_t		*a = json_array();
	int		 sreset = 0, checks = 0;

	st = db_prepare("SELECT c.student_reset, EXISTS(SELECT 1 FROM"
	    " course_checks k WHERE k.course_id = c.id) FROM courses c"
	    " WHERE c.name = ?");
	sqlite3_bind_text(st, 1, course, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		sreset = sqlite3_column_int(st, 0);
		checks = sqlite3_column_int(st, 1);
	}
	sqlite3_finalize(st);
	json_array_append_new(a, json_sprintf("ssh %s%s+console@%s", port,
	    user, labd->cfg.gw_ip));
	if (sreset)
		json_array_append_new(a, json_sprintf("ssh %s%s+reset@%s",
		    port, user, labd->cfg.gw_ip));
	if (checks)
		json_array_append_new(a, json_sprintf("ssh %s%s+check@%s",
		    port, user, labd->cfg.gw_ip));
	return a;
}

static json_t *
sheet_row(const char *vm, const char *login, const char *name,
    const struct pf_rule *rules, size_t nrules, const char *password,
    int has_key, const char *vnc_password)
{
	json_t		*o = json_pack("{s:s,s:s,s:s}", "vm", vm, "user", login,
			    "name", name);
	sqlite3_stmt	*st;
	char		 user[2 * LABD_NAMELEN], port[16] = "";
	char		 course[LABD_NAMELEN];
	size_t		 i, clen;
	int		 courses = 1;

	for (i = 0; i < nrules; i++) {
		if (strcmp(rules[i].service, "ssh") != 0)
			continue;
		json_object_set_new(o, "host", json_string(rules[i].listen_ip));
		json_object_set_new(o, "port", json_integer(rules[i].port));
		json_object_set_new(o, "ssh", json_sprintf("ssh -p %u %s@%s",
		    rules[i].port, login, rules[i].listen_ip));
	}
	if (password != NULL)
		json_object_set_new(o, "password", json_string(password));
	json_object_set_new(o, "key", json_boolean(has_key));
	/* The screen's door, on the sheet only when [vnc] is on. */
	if (labd->cfg.vnc_port != 0 && vnc_password != NULL &&
	    *vnc_password != '\0') {
		json_object_set_new(o, "vnc_password",
		    json_string(vnc_password));
		json_object_set_new(o, "vnc", json_sprintf("%s:%u",
		    labd->cfg.vnc_ip, labd->cfg.vnc_port));
	}
	if (labd->cfg.gw_port == 0)
		return o;
	/*
	 * The gateway's line: the bare login while it has one course (the
	 * row of this one is written already), else login+course.
	 */
	st = db_prepare("SELECT COUNT(*) FROM students WHERE login = ?");
	sqlite3_bind_text(st, 1, login, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		courses = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	/* The VM is COURSE-LOGIN; a course name may hold dashes too. */
	clen = strlen(vm) - strlen(login) - 1;
	if (courses > 1 && strlen(vm) > strlen(login) + 1)
		snprintf(user, sizeof(user), "%s+%.*s", login, (int)clen, vm);
	else
		snprintf(user, sizeof(user), "%s", login);
	if (labd->cfg.gw_port != 22)
		snprintf(port, sizeof(port), "-p %u ", labd->cfg.gw_port);
	json_object_set_new(o, "gw_host", json_string(labd->cfg.gw_ip));
	json_object_set_new(o, "gw_port", json_integer(labd->cfg.gw_port));
	json_object_set_new(o, "gw_user", json_string(user));
	json_object_set_new(o, "gateway", json_sprintf("ssh %s%s@%s", port,
	    user, labd->cfg.gw_ip));
	snprintf(course, sizeof(course), "%.*s", (int)clen, vm);
	json_object_set_new(o, "gw_modes", sheet_modes(course, port, user));
	return o;
}

/* --- course.create ------------------------------------------------------- */

/* The name, the template, the roster and the VM names it makes. */
static const char *
create_check(struct course_new *cn, const char *text, char *err,
    size_t errlen)
{
	char	 e[LABD_ERRLEN], publish[512], vmname[LABD_VMNAMELEN];
	size_t	 i;

	if (!name_valid(cn->name)) {
		errf(err, errlen, "course name \"%.64s\": use 1-32 of a-z, 0-9"
		    " and '-', starting with a letter", cn->name);
		return LABD_E_INVALID;
	}
	if (course_exists(cn->name)) {
		errf(err, errlen, "course %s exists", cn->name);
		return LABD_E_EXISTS;
	}
	if ((cn->tid = template_resolve(cn->tref, publish,
	    sizeof(publish))) == -1) {
		errf(err, errlen, "template \"%.64s\" not found (labctl"
		    " template list shows them)", cn->tref);
		return LABD_E_NOT_FOUND;
	}
	if (roster_parse(text, strlen(text), cn->rname, &cn->ros, e,
	    sizeof(e)) == -1) {
		errf(err, errlen, "%s", e);
		return LABD_E_INVALID;
	}
	for (i = 0; i < cn->ros.n; i++) {
		snprintf(vmname, sizeof(vmname), "%s-%s", cn->name,
		    cn->ros.v[i].id);
		/* The VM's name is the guest's host name: 63 at most. */
		if (strlen(vmname) > 63) {
			errf(err, errlen, "%s line %d: vm name %s is longer"
			    " than 63 characters (a host name); use a shorter"
			    " course name", cn->rname, cn->ros.v[i].line,
			    vmname);
			return LABD_E_INVALID;
		}
		if (vm_find(vmname) != NULL) {
			errf(err, errlen, "%s line %d: vm %s exists (course and"
			    " student names collide)", cn->rname,
			    cn->ros.v[i].line, vmname);
			return LABD_E_EXISTS;
		}
	}
	cn->ng = template_publish_parse(publish, cn->gnames, cn->gports,
	    LABD_MAX_GUEST_PORTS);
	for (i = 0; i < cn->ng; i++)
		cn->gptrs[i] = cn->gnames[i];
	return NULL;
}

/* A slot a student in the port plan (and, bridged, in the subnet). */
static const char *
create_plan(struct course_new *cn, char *err, size_t errlen)
{
	struct pf_rule	 rules[LABD_MAX_GUEST_PORTS];
	unsigned char	*used;
	char		 e[LABD_ERRLEN];
	const char	*code = NULL;
	size_t		 nused, i, inuse = 0, k;

	used = slots_used(&nused);
	cn->slots = xcalloc(cn->ros.n, sizeof(*cn->slots));
	if (plan_allocate(labd->cfg.publish, labd->cfg.npublish, used, nused,
	    (int)cn->ros.n, cn->slots, e, sizeof(e)) == -1 ||
	    plan_rules(labd->cfg.publish, labd->cfg.npublish, cn->slots[0],
	    cn->gptrs, cn->gports, cn->ng, rules, LABD_MAX_GUEST_PORTS, e,
	    sizeof(e)) == -1) {
		errf(err, errlen, "course %s: %s", cn->name, e);
		code = LABD_E_INVALID;
		goto done;
	}
	/* Bridge mode: slot k's address is the gateway's + k. */
	if (labd->cfg.net_mode != LABD_NET_BRIDGE)
		goto done;
	for (k = 0; k < nused; k++)
		inuse += used[k];
	for (i = 0; i < cn->ros.n; i++)
		if (cn->slots[i] > net_max_slot()) {
			errf(err, errlen, "course %s: %zu students do not fit"
			    " in subnet %s: it has addresses for %d VMs and %zu"
			    " are in use", cn->name, cn->ros.n,
			    labd->cfg.subnet, net_max_slot(), inuse);
			code = LABD_E_INVALID;
			goto done;
		}
done:
	free(used);
	return code;
}

/* A VM's published ports, as the plan gave them; -1: database. */
static int
create_ports(int64_t vmid, const struct pf_rule *rules, size_t nr)
{
	sqlite3_stmt	*st;
	size_t		 k;

	for (k = 0; k < nr; k++) {
		st = db_prepare("INSERT INTO ports(vm_id, service, listen_ip,"
		    " port, guest_port) VALUES (?,?,?,?,?)");
		sqlite3_bind_int64(st, 1, vmid);
		sqlite3_bind_text(st, 2, rules[k].service, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, rules[k].listen_ip, -1,
		    SQLITE_STATIC);
		sqlite3_bind_int(st, 4, rules[k].port);
		sqlite3_bind_int(st, 5, rules[k].guest_port);
		if (insert(st) == -1)
			return -1;
	}
	return 0;
}

/*
 * Student i of the roster: its row (a password made for it when it has
 * no key), its VM's and ports' rows, its line of the sheet.  Inside
 * create_write()'s transaction.
 */
static const char *
create_student(struct course_new *cn, int64_t cid, size_t i, char *err,
    size_t errlen)
{
	struct roster_entry	*e = &cn->ros.v[i];
	struct pf_rule		 rules[LABD_MAX_GUEST_PORTS];
	char			 pw[COURSE_PASSWORD_LEN + 1], hash[256];
	char			 vmname[LABD_VMNAMELEN], perr[LABD_ERRLEN];
	char			 vncpw[16];
	int			 gen_pw = e->ssh_key[0] == '\0';
	sqlite3_stmt		*st;
	int64_t			 sid;
	size_t			 nr;

	if (gen_pw && (seed_random_password(pw, COURSE_PASSWORD_LEN) == -1 ||
	    seed_hash_password(pw, hash, sizeof(hash)) == -1)) {
		errf(err, errlen, "cannot make a password");
		return LABD_E_INTERNAL;
	}
	/* Every student gets one, [vnc] on or not yet: it is kept. */
	if (vnc_password_new(vncpw, sizeof(vncpw), err, errlen) == -1)
		return LABD_E_INTERNAL;
	st = db_prepare("INSERT INTO students(course_id, login, name, email,"
	    " ssh_key, pw_hash, vnc_password) VALUES (?, ?, ?, ?, ?, ?, ?)");
	sqlite3_bind_int64(st, 1, cid);
	sqlite3_bind_text(st, 2, e->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, e->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, e->email, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, e->ssh_key, -1, SQLITE_STATIC);
	if (gen_pw)
		sqlite3_bind_text(st, 6, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, vncpw, -1, SQLITE_STATIC);
	if ((sid = insert(st)) == -1)
		goto dbfail;
	snprintf(vmname, sizeof(vmname), "%s-%s", cn->name, e->id);
	st = db_prepare("INSERT INTO vms(name, course_id, student_id, slot,"
	    " desired, created) VALUES (?, ?, ?, ?, 'running', ?)");
	sqlite3_bind_text(st, 1, vmname, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, cid);
	sqlite3_bind_int64(st, 3, sid);
	sqlite3_bind_int(st, 4, cn->slots[i]);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
	if ((cn->vmids[i] = insert(st)) == -1)
		goto dbfail;
	if ((nr = plan_rules(labd->cfg.publish, labd->cfg.npublish,
	    cn->slots[i], cn->gptrs, cn->gports, cn->ng, rules,
	    LABD_MAX_GUEST_PORTS, perr, sizeof(perr))) == (size_t)-1) {
		errf(err, errlen, "course %s: %s", cn->name, perr);
		return LABD_E_INVALID;
	}
	if (create_ports(cn->vmids[i], rules, nr) == -1)
		goto dbfail;
	json_array_append_new(cn->sheet, sheet_row(vmname, e->id, e->name,
	    rules, nr, gen_pw ? pw : NULL, !gen_pw, vncpw));
	return NULL;
dbfail:
	errf(err, errlen, "course %s: database: %s", cn->name,
	    sqlite3_errmsg(labd->db));
	return LABD_E_INTERNAL;
}

/* Everything is valid: write it all or nothing. */
static const char *
create_write(struct course_new *cn, char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	const char	*code;
	int64_t		 cid;
	size_t		 i;

	cn->sheet = json_array();
	cn->vmids = xcalloc(cn->ros.n, sizeof(*cn->vmids));
	if (db_begin() == -1) {
		errf(err, errlen, "course %s: database: %s", cn->name,
		    sqlite3_errmsg(labd->db));
		return LABD_E_INTERNAL;
	}
	st = db_prepare("INSERT INTO courses(name, template_id, internet,"
	    " created) VALUES (?, ?, 0, ?)");
	sqlite3_bind_text(st, 1, cn->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, cn->tid);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	if ((cid = insert(st)) == -1)
		goto dbfail;
	for (i = 0; i < cn->ros.n; i++)
		if ((code = create_student(cn, cid, i, err, errlen)) != NULL)
			goto fail;
	if (db_commit() == -1)
		goto dbfail;
	return NULL;
dbfail:
	errf(err, errlen, "course %s: database: %s", cn->name,
	    sqlite3_errmsg(labd->db));
	code = LABD_E_INTERNAL;
fail:
	db_rollback();
	return code;
}

/*
 * The course's gateway key now rather than at its first VM's start: a
 * VM may wait queued for long, and the key is part of the course.
 */
static const char *
create_key(const char *name, char *err, size_t errlen)
{
	char	e[LABD_ERRLEN];

	if (keys_gateway(name, NULL, 0, NULL, 0, e, sizeof(e)) == -1) {
		errf(err, errlen, "course %s: %s", name, e);
		return LABD_E_INTERNAL;
	}
	return NULL;
}

const char *
course_create(const char *name, const char *tref, const char *roster,
    const char *rname, int overcommit, uid_t uid, json_t **res, char *err,
    size_t errlen)
{
	struct course_new	 cn = { .name = name, .tref = tref,
				    .rname = rname };
	const char		*code;
	struct vm		*vm;
	size_t			 i;

	if ((code = create_check(&cn, roster, err, errlen)) != NULL ||
	    (code = create_plan(&cn, err, errlen)) != NULL ||
	    (!overcommit && (code = admit_course((int)cn.ros.n,
	    template_memory_mb(cn.tid), err, errlen)) != NULL) ||
	    (code = create_key(name, err, errlen)) != NULL)
		goto done;
	if ((code = create_write(&cn, err, errlen)) != NULL) {
		keys_gateway_rm(name);
		goto done;
	}
	db_event(uid, "course.create", name, "%zu students, template %s",
	    cn.ros.n, tref);
	log_info("course %s created: %zu VMs from %s", name, cn.ros.n, tref);
	net_resync(name);
	for (i = 0; i < cn.ros.n; i++)
		if ((vm = vm_add(cn.vmids[i])) != NULL)
			vm_op_start(vm, DONE_NONE);
	*res = json_pack("{s:s,s:s,s:o}", "course", name, "template", tref,
	    "students", cn.sheet);
	cn.sheet = NULL;
done:
	json_decref(cn.sheet);
	free(cn.vmids);
	free(cn.slots);
	roster_free(&cn.ros);
	return code;
}

/* --- the other commands -------------------------------------------------- */

json_t *
course_list(void)
{
	sqlite3_stmt	*st;
	json_t		*a = json_array();

	st = db_prepare("SELECT c.name, t.name || '@' || t.version,"
	    " (SELECT COUNT(*) FROM vms v WHERE v.course_id = c.id), c.created,"
	    " c.reset_at, c.reset_to, c.idle_suspend"
	    " FROM courses c JOIN templates t ON t.id = c.template_id"
	    " ORDER BY c.name");
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char	*cname = db_text(st, 0);
		struct vm	*vm;
		int		 ready = 0;

		for (vm = vm_list(); vm != NULL; vm = vm->next)
			if (strcmp(vm->course, cname) == 0 &&
			    vm->state == VM_READY)
				ready++;
		json_array_append_new(a, json_pack("{s:s,s:s,s:i,s:i,s:I,s:s,"
		    "s:s,s:i}", "name", cname, "template", db_text(st, 1),
		    "vms", sqlite3_column_int(st, 2), "ready", ready,
		    "created", (json_int_t)sqlite3_column_int64(st, 3),
		    "reset_at", db_text(st, 4), "reset_to", db_text(st, 5),
		    "idle_suspend", sqlite3_column_int(st, 6)));
	}
	sqlite3_finalize(st);
	return a;
}

/* "on"/"off" and their usual spellings; -1 when neither. */
static int
onoff_parse(const char *v)
{
	static const char	*on[] = { "on", "yes", "true", "1" };
	static const char	*off[] = { "off", "no", "false", "0" };
	size_t			 i;

	for (i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
		if (strcmp(v, on[i]) == 0)
			return 1;
		if (strcmp(v, off[i]) == 0)
			return 0;
	}
	return -1;
}

/* Each setting given checked, in the order course.set always had. */
static const char *
set_parse(const struct course_change *ch, struct course_values *cv,
    char *err, size_t errlen)
{
	const char	*code;
	char	e[256];
	int	secs[32];

	if (ch->reset_at != NULL && schedule_parse(ch->reset_at, secs, 32, e,
	    sizeof(e)) == -1)
		goto invalid;
	if (ch->reset_to != NULL && (!snapshot_name_valid(ch->reset_to) ||
	    strncmp(ch->reset_to, "labd-", 5) == 0)) {
		errf(err, errlen, "reset_to: \"%.64s\" is not a snapshot name",
		    ch->reset_to);
		return LABD_E_INVALID;
	}
	if (ch->idle_suspend != NULL && idle_parse(ch->idle_suspend,
	    &cv->idle_secs, e, sizeof(e)) == -1)
		goto invalid;
	if (ch->internet != NULL && (cv->inet_on = onoff_parse(ch->internet)) ==
	    -1) {
		errf(err, errlen, "internet: \"%.32s\" is not on or off",
		    ch->internet);
		return LABD_E_INVALID;
	}
	/*
	 * QEMU's user networking lets a guest with internet reach this
	 * host's own services (10.0.2.2 is its loopback): only the
	 * nftables rules that keep the VMs' uids off them close that.
	 */
	if (cv->inet_on == 1 && !priv_active()) {
		errf(err, errlen, "internet=on needs labd to run as root: the"
		    " rules that keep a guest off this host's own services are"
		    " nftables rules");
		return LABD_E_INVALID;
	}
	if (ch->isolation != NULL && (cv->iso_on = onoff_parse(ch->isolation))
	    == -1) {
		errf(err, errlen, "isolation: \"%.32s\" is not on or off",
		    ch->isolation);
		return LABD_E_INVALID;
	}
	if (ch->sudo != NULL && (cv->sudo_on = onoff_parse(ch->sudo)) == -1) {
		errf(err, errlen, "sudo: \"%.32s\" is not on or off", ch->sudo);
		return LABD_E_INVALID;
	}
	if (ch->student_reset != NULL && (cv->sreset_on =
	    onoff_parse(ch->student_reset)) == -1) {
		errf(err, errlen, "student_reset: \"%.32s\" is not on or off",
		    ch->student_reset);
		return LABD_E_INVALID;
	}
	/* The goals are checked as a run checks them; [] clears them. */
	if (ch->checks != NULL && json_array_size(ch->checks) > 0 &&
	    (code = check_goals_valid(ch->checks, "checks", err, errlen)) !=
	    NULL)
		return code;
	if (ch->checks != NULL && !json_is_array(ch->checks)) {
		errf(err, errlen, "checks: an array of goals, [] to clear");
		return LABD_E_INVALID;
	}
	if ((cv->nets = ch->allow_nets) != NULL) {
		if (strcmp(cv->nets, "none") == 0 || strcmp(cv->nets, "off") ==
		    0)
			cv->nets = "";
		if (nft_lan_parse(cv->nets, cv->nets_canon,
		    sizeof(cv->nets_canon), e, sizeof(e)) == -1) {
			errf(err, errlen, "allow_nets: %s", e);
			return LABD_E_INVALID;
		}
		if (cv->nets_canon[0] != '\0' && !priv_active()) {
			errf(err, errlen, "allow_nets needs labd to run as root:"
			    " it is enforced with nftables");
			return LABD_E_INVALID;
		}
	}
	if ((cv->allow = ch->allow_from) == NULL)
		return NULL;
	/* "any" (or empty) lifts it; else CIDRs, checked one by one. */
	if (strcmp(cv->allow, "any") == 0 || strcmp(cv->allow, "off") == 0)
		cv->allow = "";
	else if (strcmp(cv->allow, "closed") == 0)
		cv->allow = LABD_ALLOW_CLOSED;
	if (nft_cidrs_parse(cv->allow, cv->canon, sizeof(cv->canon), e,
	    sizeof(e)) == -1) {
		errf(err, errlen, "allow_from: %s", e);
		return LABD_E_INVALID;
	}
	if (cv->canon[0] != '\0' && !priv_active()) {
		errf(err, errlen, "allow_from needs labd to run as root: it is"
		    " enforced with nftables");
		return LABD_E_INVALID;
	}
	return NULL;
invalid:
	errf(err, errlen, "%s", e);
	return LABD_E_INVALID;
}

/*
 * The goals of course set checks=DIR, as given less what is not theirs
 * (only name, description, script are kept); none: cleared.  0, or -1.
 */
static int
set_checks(const char *course, json_t *checks)
{
	sqlite3_stmt	*st;
	json_t		*keep, *g;
	char		*text;
	size_t		 i;
	int		 ok;

	if (json_array_size(checks) == 0) {
		st = db_prepare("DELETE FROM course_checks WHERE course_id ="
		    " (SELECT id FROM courses WHERE name = ?)");
		sqlite3_bind_text(st, 1, course, -1, SQLITE_STATIC);
		ok = sqlite3_step(st) == SQLITE_DONE;
		sqlite3_finalize(st);
		return ok ? 0 : -1;
	}
	keep = json_array();
	json_array_foreach(checks, i, g)
		json_array_append_new(keep, json_pack("{s:O,s:O*,s:O}",
		    "name", json_object_get(g, "name"), "description",
		    json_object_get(g, "description"), "script",
		    json_object_get(g, "script")));
	text = json_dumps(keep, JSON_COMPACT);
	json_decref(keep);
	st = db_prepare("INSERT OR REPLACE INTO course_checks(course_id, goals,"
	    " updated) SELECT id, ?, ? FROM courses WHERE name = ?");
	sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 3, course, -1, SQLITE_STATIC);
	ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	free(text);
	return ok ? 0 : -1;
}

/*
 * The course's stored goals as [{name, description}]: what the
 * instructor sees in course show, never the scripts.
 */
static json_t *
course_check_goals(const char *course)
{
	sqlite3_stmt	*st;
	json_t		*goals = NULL, *out = json_array(), *g;
	size_t		 i;

	st = db_prepare("SELECT id FROM courses WHERE name = ?");
	sqlite3_bind_text(st, 1, course, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		goals = check_stored(sqlite3_column_int64(st, 0));
	sqlite3_finalize(st);
	json_array_foreach(goals, i, g)
		json_array_append_new(out, json_pack("{s:s,s:s}", "name",
		    json_string_value(json_object_get(g, "name")) ?
		    json_string_value(json_object_get(g, "name")) : "",
		    "description", json_string_value(json_object_get(g,
		    "description")) ? json_string_value(json_object_get(g,
		    "description")) : ""));
	json_decref(goals);
	return out;
}

/*
 * The UPDATE, and the firewall rules when the network settings changed,
 * committed together or not at all.
 */
static const char *
set_write(const char *course, const struct course_change *ch,
    const struct course_values *cv, char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	char		 nerr[LABD_ERRLEN];

	if (db_begin() == -1) {
		errf(err, errlen, "course %s: %s", course,
		    sqlite3_errmsg(labd->db));
		return LABD_E_INTERNAL;
	}
	st = db_prepare("UPDATE courses SET reset_at = COALESCE(?1, reset_at),"
	    " reset_to = COALESCE(?2, reset_to),"
	    " reset_last = CASE WHEN ?1 IS NULL THEN reset_last ELSE ?3 END,"
	    " idle_suspend = COALESCE(?5, idle_suspend),"
	    " internet = COALESCE(?6, internet),"
	    " isolation = COALESCE(?7, isolation),"
	    " allow_from = COALESCE(?8, allow_from),"
	    " sudo = COALESCE(?9, sudo),"
	    " allow_nets = COALESCE(?10, allow_nets),"
	    " student_reset = COALESCE(?11, student_reset),"
	    " exam_end = COALESCE(?12, exam_end),"
	    " exam_collect = COALESCE(?13, exam_collect),"
	    " cpu_weight = COALESCE(?14, cpu_weight),"
	    " memory_max = COALESCE(?15, memory_max),"
	    " pids_max = COALESCE(?16, pids_max) WHERE name = ?4");
	if (ch->reset_at != NULL)
		sqlite3_bind_text(st, 1, ch->reset_at, -1, SQLITE_STATIC);
	if (ch->reset_to != NULL)
		sqlite3_bind_text(st, 2, ch->reset_to, -1, SQLITE_STATIC);
	/* Times already past today do not fire for a schedule set now. */
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 4, course, -1, SQLITE_STATIC);
	if (ch->idle_suspend != NULL)
		sqlite3_bind_int(st, 5, cv->idle_secs);
	if (cv->inet_on != -1)
		sqlite3_bind_int(st, 6, cv->inet_on);
	if (cv->iso_on != -1)
		sqlite3_bind_int(st, 7, cv->iso_on);
	if (cv->allow != NULL)
		sqlite3_bind_text(st, 8, cv->canon, -1, SQLITE_STATIC);
	if (cv->sudo_on != -1)
		sqlite3_bind_int(st, 9, cv->sudo_on);
	if (cv->nets != NULL)
		sqlite3_bind_text(st, 10, cv->nets_canon, -1, SQLITE_STATIC);
	if (cv->sreset_on != -1)
		sqlite3_bind_int(st, 11, cv->sreset_on);
	if (cv->exam_set)
		sqlite3_bind_int64(st, 12, (sqlite3_int64)cv->exam_at);
	if (ch->collect != NULL || (cv->exam_set && cv->exam_at == 0))
		sqlite3_bind_text(st, 13, cv->exam_paths, -1, SQLITE_STATIC);
	if (cv->cpu_weight != -1)
		sqlite3_bind_int(st, 14, cv->cpu_weight);
	if (cv->memory_max != -1)
		sqlite3_bind_int64(st, 15, (sqlite3_int64)cv->memory_max);
	if (cv->pids_max != -1)
		sqlite3_bind_int(st, 16, cv->pids_max);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_finalize(st);
		errf(err, errlen, "course %s: %s", course,
		    sqlite3_errmsg(labd->db));
		db_rollback();
		return LABD_E_INTERNAL;
	}
	sqlite3_finalize(st);
	if (ch->checks != NULL && set_checks(course, ch->checks) == -1) {
		errf(err, errlen, "course %s: checks: %s", course,
		    sqlite3_errmsg(labd->db));
		db_rollback();
		return LABD_E_INTERNAL;
	}
	/*
	 * The network settings go live through nftables before the change
	 * is committed: rules that do not load leave both as they were.
	 */
	if ((ch->internet != NULL || ch->isolation != NULL ||
	    cv->allow != NULL || cv->nets != NULL) &&
	    net_sync(nerr, sizeof(nerr)) == -1) {
		db_rollback();
		errf(err, errlen, "course %s: the firewall rules did not load,"
		    " nothing changed: %s", course, nerr);
		return LABD_E_INTERNAL;
	}
	if (db_commit() == -1) {
		errf(err, errlen, "course %s: %s", course,
		    sqlite3_errmsg(labd->db));
		net_resync(course);
		return LABD_E_INTERNAL;
	}
	return NULL;
}

/* A whole number from lo to hi for field, or "default" (0). */
static int
limit_int(const char *v, const char *field, long lo, long hi, char *err,
    size_t errlen)
{
	char	*end;
	long	 n;

	if (strcmp(v, "default") == 0)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (v[0] == '\0' || *end != '\0' || errno != 0 || n < lo || n > hi) {
		errf(err, errlen, "%s: \"%.32s\" is not a number from %ld to"
		    " %ld (or default)", field, v, lo, hi);
		return -1;
	}
	return (int)n;
}

/*
 * cpu_weight, memory_max and pids_max: the VMs' limits in their cgroups,
 * at each one's next start.  A memory_max below the guest's RAM would
 * have the kernel kill QEMU as the guest boots: refused, with the numbers.
 */
static const char *
set_parse_limits(const char *course, const struct course_change *ch,
    struct course_values *cv, char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	long long	 ram = 0, aut;

	if (ch->cpu_weight != NULL && (cv->cpu_weight = limit_int(
	    ch->cpu_weight, "cpu_weight", 1, 10000, err, errlen)) == -1)
		return LABD_E_INVALID;
	if (ch->pids_max != NULL && (cv->pids_max = limit_int(ch->pids_max,
	    "pids_max", LABD_PIDS_MIN, LABD_PIDS_TOP, err, errlen)) == -1)
		return LABD_E_INVALID;
	if (ch->memory_max == NULL)
		return NULL;
	if (strcmp(ch->memory_max, "auto") == 0) {
		cv->memory_max = 0;
		return NULL;
	}
	if (cglimit_size_parse(ch->memory_max, "memory_max", &cv->memory_max,
	    err, errlen) == -1)
		return LABD_E_INVALID;
	st = db_prepare("SELECT t.memory_mb FROM courses c JOIN templates t"
	    " ON t.id = c.template_id WHERE c.name = ?");
	sqlite3_bind_text(st, 1, course, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		ram = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (cv->memory_max < (ram << 20)) {
		aut = cglimit_memory_auto((unsigned)ram, labd->cfg.tb_size_mb,
		    labd->accel == VMM_ACCEL_TCG);
		errf(err, errlen, "memory_max: %s (%lld MiB) is below the"
		    " guest's RAM of %lld MiB; QEMU needs that and its own"
		    " (auto is %lld MiB)", ch->memory_max,
		    cv->memory_max >> 20, ram, aut >> 20);
		return LABD_E_INVALID;
	}
	return NULL;
}

/*
 * exam_end and collect: a time and paths each checked, and no paths
 * without an exam end (given now, or armed already) to collect them at.
 */
static const char *
set_parse_exam(const char *course, const struct course_change *ch,
    struct course_values *cv, char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	json_t		*paths, *p;
	time_t		 armed = 0;
	size_t		 i, used = 0;

	if (ch->exam_end != NULL) {
		if (examend_parse(ch->exam_end, time(NULL), &cv->exam_at, err,
		    errlen) == -1)
			return LABD_E_INVALID;
		cv->exam_set = 1;
	}
	if (ch->collect == NULL)
		return NULL;
	if ((paths = examend_paths(ch->collect, err, errlen)) == NULL)
		return LABD_E_INVALID;
	json_array_foreach(paths, i, p)
		used += (size_t)snprintf(cv->exam_paths + used,
		    sizeof(cv->exam_paths) - used, "%s%s", i ? "," : "",
		    json_string_value(p));
	json_decref(paths);
	st = db_prepare("SELECT exam_end FROM courses WHERE name = ?");
	sqlite3_bind_text(st, 1, course, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		armed = (time_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (cv->exam_set ? cv->exam_at == 0 : armed == 0) {
		errf(err, errlen, "collect: it is done at the exam's end: give"
		    " exam_end=HH:MM with it");
		return LABD_E_INVALID;
	}
	return NULL;
}

/*
 * The limits its VMs start with: each as set (0: default) and in effect,
 * and how the host applies them (cgroup v1 or v2, or not at all).
 */
static json_t *
course_limits(const char *course)
{
	sqlite3_stmt	*st;
	struct cg_limits l = { 0 };
	json_t		*o;
	char		 mode[256];
	int		 cpu = 0, pids = 0;
	long long	 mem = 0;

	st = db_prepare("SELECT c.cpu_weight, c.memory_max, c.pids_max,"
	    " t.memory_mb FROM courses c JOIN templates t ON t.id ="
	    " c.template_id WHERE c.name = ?");
	sqlite3_bind_text(st, 1, course, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		cpu = sqlite3_column_int(st, 0);
		mem = sqlite3_column_int64(st, 1);
		pids = sqlite3_column_int(st, 2);
		cglimit_defaults(&l, (unsigned)sqlite3_column_int(st, 3),
		    labd->cfg.tb_size_mb, labd->accel == VMM_ACCEL_TCG);
	}
	sqlite3_finalize(st);
	o = json_pack("{s:i,s:I,s:i,s:i,s:I,s:i,s:i,s:s}", "cpu_weight_set",
	    cpu, "memory_max_set", (json_int_t)mem, "pids_max_set", pids,
	    "cpu_weight", cpu > 0 ? cpu : (int)l.cpu_weight,
	    "memory_max", (json_int_t)(mem > 0 ? mem : l.memory_max),
	    "pids_max", pids > 0 ? pids : (int)l.pids_max,
	    "io_weight", (int)l.io_weight,
	    "mode", priv_active() ? cglimit_mode_text(mode, sizeof(mode)) :
	    "none (labd not root)");
	return o;
}

/* What the change does, and when, for the person who made it; or NULL. */
static const char *
set_effect(const struct course_change *ch, const struct course_values *cv)
{
	if (ch->internet != NULL || ch->isolation != NULL ||
	    cv->allow != NULL || cv->nets != NULL) {
		if (labd->cfg.net_mode == LABD_NET_BRIDGE)
			return "live: the firewall rules changed now";
		else if (ch->internet != NULL || ch->isolation != NULL)
			return "internet and isolation take effect at each"
			    " VM's next start (user networking); allow_from"
			    " and allow_nets are live";
		else
			return "live: the firewall rules changed now";
	}
	if (cv->sudo_on != -1)
		return "sudo: live in every ready VM, and at every boot and"
		    " reset";
	if (cv->sreset_on != -1)
		return "student_reset: live, from the next ssh STUDENT+reset@";
	if (cv->cpu_weight != -1 || cv->memory_max != -1 ||
	    cv->pids_max != -1)
		return "limits: stored; applied at each VM's next start (labctl"
		    " restart a running one; a reset to a RAM snapshot keeps"
		    " its QEMU)";
	if (ch->checks != NULL)
		return json_array_size(ch->checks) > 0 ? "checks: stored; run"
		    " by labctl check COURSE and by ssh STUDENT+check@" :
		    "checks: cleared";
	return NULL;
}

const char *
course_set(const char *course, const struct course_change *ch, uid_t uid,
    json_t **res, char *err, size_t errlen)
{
	struct course_values	 cv = { .inet_on = -1, .iso_on = -1,
				    .sudo_on = -1, .sreset_on = -1,
				    .cpu_weight = -1, .memory_max = -1,
				    .pids_max = -1 };
	sqlite3_stmt		*st;
	struct vm		*vm;
	const char		*code, *effect;

	if (!course_exists(course)) {
		errf(err, errlen, "course \"%.64s\" not found", course);
		return LABD_E_NOT_FOUND;
	}
	if ((code = set_parse(ch, &cv, err, errlen)) != NULL ||
	    (code = set_parse_exam(course, ch, &cv, err, errlen)) != NULL ||
	    (code = set_parse_limits(course, ch, &cv, err, errlen)) != NULL ||
	    (code = set_write(course, ch, &cv, err, errlen)) != NULL)
		return code;
	/* The policy goes in every ready VM now, in the others at boot. */
	if (cv.sudo_on != -1) {
		for (vm = vm_list(); vm != NULL; vm = vm->next)
			if (strcmp(vm->course, course) == 0)
				vm_op_policy(vm);
	}
	db_event(uid, "course.set", course, "reset_at=%s reset_to=%s"
	    " idle_suspend=%s internet=%s isolation=%s allow_from=%s"
	    " allow_nets=%s sudo=%s student_reset=%s checks=%s exam_end=%s"
	    " collect=%s cpu_weight=%s memory_max=%s pids_max=%s",
	    ch->reset_at ? ch->reset_at : "(same)",
	    ch->reset_to ? ch->reset_to : "(same)",
	    ch->idle_suspend ? ch->idle_suspend : "(same)",
	    ch->internet ? ch->internet : "(same)",
	    ch->isolation ? ch->isolation : "(same)",
	    cv.allow ? cv.canon : "(same)",
	    cv.nets ? cv.nets_canon : "(same)",
	    cv.sudo_on == -1 ? "(same)" : cv.sudo_on ? "on" : "off",
	    cv.sreset_on == -1 ? "(same)" : cv.sreset_on ? "on" : "off",
	    ch->checks == NULL ? "(same)" : json_array_size(ch->checks) ?
	    "stored" : "none",
	    ch->exam_end ? ch->exam_end : "(same)",
	    ch->collect ? cv.exam_paths : "(same)",
	    ch->cpu_weight ? ch->cpu_weight : "(same)",
	    ch->memory_max ? ch->memory_max : "(same)",
	    ch->pids_max ? ch->pids_max : "(same)");
	st = db_prepare("SELECT reset_at, reset_to, idle_suspend, internet,"
	    " isolation, allow_from, sudo, allow_nets, student_reset, exam_end,"
	    " exam_collect, exam_last FROM courses WHERE name = ?");
	sqlite3_bind_text(st, 1, course, -1, SQLITE_STATIC);
	sqlite3_step(st);
	*res = json_pack("{s:s,s:s,s:s,s:i,s:b,s:b,s:s,s:b,s:s,s:b}", "course",
	    course,
	    "reset_at", db_text(st, 0), "reset_to", db_text(st, 1),
	    "idle_suspend", sqlite3_column_int(st, 2),
	    "internet", sqlite3_column_int(st, 3),
	    "isolation", sqlite3_column_int(st, 4),
	    "allow_from", db_text(st, 5),
	    "sudo", sqlite3_column_int(st, 6),
	    "allow_nets", db_text(st, 7),
	    "student_reset", sqlite3_column_int(st, 8));
	json_object_set_new(*res, "exam", json_pack("{s:I,s:s,s:I}", "end",
	    (json_int_t)sqlite3_column_int64(st, 9), "collect",
	    db_text(st, 10), "last", (json_int_t)sqlite3_column_int64(st, 11)));
	sqlite3_finalize(st);
	json_object_set_new(*res, "checks", course_check_goals(course));
	json_object_set_new(*res, "limits", course_limits(course));
	if ((effect = set_effect(ch, &cv)) != NULL)
		json_object_set_new(*res, "effect", json_string(effect));
	return NULL;
}

const char *
course_show(const char *course, json_t **res, char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	struct vm	*vm;
	json_t		*o, *vms;

	st = db_prepare("SELECT c.name, t.name || '@' || t.version, c.created,"
	    " c.reset_at, c.reset_to, c.idle_suspend, c.internet, c.sudo,"
	    " c.student_reset, c.exam_end, c.exam_collect, c.exam_last,"
	    " c.exam_dir, c.allow_from FROM courses c"
	    " JOIN templates t ON t.id = c.template_id WHERE c.name = ?");
	sqlite3_bind_text(st, 1, course, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		errf(err, errlen, "course \"%.64s\" not found", course);
		return LABD_E_NOT_FOUND;
	}
	o = json_pack("{s:s,s:s,s:I,s:s,s:s,s:i,s:b,s:b,s:b}", "name",
	    db_text(st, 0), "template", db_text(st, 1),
	    "created", (json_int_t)sqlite3_column_int64(st, 2),
	    "reset_at", db_text(st, 3), "reset_to", db_text(st, 4),
	    "idle_suspend", sqlite3_column_int(st, 5),
	    "internet", sqlite3_column_int(st, 6),
	    "sudo", sqlite3_column_int(st, 7),
	    "student_reset", sqlite3_column_int(st, 8));
	json_object_set_new(o, "exam", json_pack("{s:I,s:s,s:I,s:s}", "end",
	    (json_int_t)sqlite3_column_int64(st, 9), "collect",
	    db_text(st, 10), "last", (json_int_t)sqlite3_column_int64(st, 11),
	    "dir", db_text(st, 12)));
	json_object_set_new(o, "allow_from", json_string(db_text(st, 13)));
	sqlite3_finalize(st);
	json_object_set_new(o, "checks", course_check_goals(course));
	json_object_set_new(o, "limits", course_limits(course));
	vms = json_array();
	for (vm = vm_list(); vm != NULL; vm = vm->next)
		if (strcmp(vm->course, course) == 0)
			json_array_append_new(vms, vm_to_json(vm));
	json_object_set_new(o, "vms", vms);
	*res = o;
	return NULL;
}

/*
 * Remove a course: only when none of its VMs runs, so that nothing is
 * killed by surprise (labctl course rm --force stops them first).  The
 * rows go in one transaction, then the files; a crash in between leaves
 * files that no row names, which a later rm of the folder clears.
 */
const char *
course_rm(const char *course, uid_t uid, json_t **res, char *err,
    size_t errlen)
{
	sqlite3_stmt	*st;
	struct vm	*vm, *next;
	char		 e[LABD_ERRLEN], vmdir[PATH_MAX], rundir[PATH_MAX],
			 disk[PATH_MAX], name[LABD_VMNAMELEN],
			 student[LABD_NAMELEN];
	pid_t		 pid;
	int		 n = 0;

	if (!course_exists(course)) {
		errf(err, errlen, "course \"%.64s\" not found", course);
		return LABD_E_NOT_FOUND;
	}
	for (vm = vm_list(); vm != NULL; vm = vm->next) {
		if (strcmp(vm->course, course) != 0)
			continue;
		vm_paths(vm->name, NULL, rundir);
		if (vm->busy || (vm->state != VM_STOPPED &&
		    vm->state != VM_FAILED && vm->state != VM_SUSPENDED) ||
		    vmm_alive(rundir, vm->name, &pid) == 1) {
			errf(err, errlen, "course %s: %s is %s; stop the course"
			    " first (labctl stop --course %s, or labctl course"
			    " rm --force)", course, vm->name,
			    vm_state_name(vm->state), course);
			return LABD_E_BUSY;
		}
	}
	st = db_prepare("DELETE FROM courses WHERE name = ?");
	sqlite3_bind_text(st, 1, course, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_finalize(st);
		errf(err, errlen, "course %s: %s", course,
		    sqlite3_errmsg(labd->db));
		return LABD_E_INTERNAL;
	}
	sqlite3_finalize(st);
	for (vm = vm_list(); vm != NULL; vm = next) {
		next = vm->next;
		if (strcmp(vm->course, course) != 0)
			continue;
		vm_paths(vm->name, vmdir, rundir);
		snprintf(student, sizeof(student), "%s", vm->student);
		snprintf(name, sizeof(name), "%s", vm->name);
		if (vm_remove(vm, e, sizeof(e)) == -1) {
			log_warnx("course %s: %s", course, e);
			continue;
		}
		/* Its disk kept a while, for labctl recover. */
		if (snprintf(disk, sizeof(disk), "%s/disk.qcow2", vmdir) <
		    (int)sizeof(disk) && retain_keep(disk, name, course,
		    student, "course rm", NULL, 0, e, sizeof(e)) == -1)
			log_warnx("course %s: %s: its disk is not kept: %s",
			    course, name, e);
		rm_rf(vmdir);
		rm_rf(rundir);
		n++;
	}
	net_resync(course);
	keys_gateway_rm(course);
	db_event(uid, "course.rm", course, "%d VMs removed", n);
	log_info("course %s removed with its %d VMs", course, n);
	*res = json_pack("{s:s,s:i}", "course", course, "vms", n);
	return NULL;
}

const char *
course_access(const char *course, json_t **res, char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	json_t		*a;

	if (!course_exists(course)) {
		errf(err, errlen, "course \"%.64s\" not found", course);
		return LABD_E_NOT_FOUND;
	}
	a = json_array();
	st = db_prepare("SELECT v.name, s.login, s.name, p.listen_ip, p.port,"
	    " s.ssh_key != '', s.pw_hash IS NOT NULL, s.vnc_password FROM vms v"
	    " JOIN courses c ON c.id = v.course_id"
	    " JOIN students s ON s.id = v.student_id"
	    " LEFT JOIN ports p ON p.vm_id = v.id AND p.service = 'ssh'"
	    " WHERE c.name = ? ORDER BY v.slot");
	sqlite3_bind_text(st, 1, course, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct pf_rule	rule = { .service = "ssh" };
		json_t		*row;

		snprintf(rule.listen_ip, sizeof(rule.listen_ip), "%s",
		    db_text(st, 3));
		rule.port = sqlite3_column_int(st, 4);
		row = sheet_row(db_text(st, 0), db_text(st, 1), db_text(st, 2),
		    &rule, rule.port ? 1 : 0, NULL, sqlite3_column_int(st, 5),
		    db_text(st, 7));
		json_object_set_new(row, "password_set",
		    json_boolean(sqlite3_column_int(st, 6)));
		json_array_append_new(a, row);
	}
	sqlite3_finalize(st);
	*res = a;
	return NULL;
}
