/*
 * cmd_course.c - courses: a template and a roster make one VM a student.
 *
 * course.create validates everything first (name, template, every roster
 * row, the port plan) and only then writes the course, its students, VMs
 * and ports in one transaction: a bad roster creates nothing.  The VMs
 * are then started by the reconciler; the reply carries the access sheet
 * with the generated passwords, which are stored only hashed and so are
 * shown this once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "labd/labd.h"

#define COURSE_PASSWORD_LEN	12

/* "tiny" is the newest version, "tiny@2" that one. */
static int64_t
template_resolve(const char *ref, char *publish, size_t publishlen)
{
	sqlite3_stmt	*st;
	char		 name[LABD_NAMELEN];
	const char	*at = strchr(ref, '@');
	int64_t		 id = -1;
	int		 version = 0;

	if (at != NULL) {
		if ((size_t)(at - ref) >= sizeof(name))
			return -1;
		snprintf(name, sizeof(name), "%.*s", (int)(at - ref), ref);
		version = atoi(at + 1);
		if (version <= 0)
			return -1;
	} else if (snprintf(name, sizeof(name), "%s", ref) >=
	    (int)sizeof(name))
		return -1;
	st = db_prepare("SELECT id, publish FROM templates WHERE name = ?1"
	    " AND (?2 = 0 OR version = ?2) ORDER BY version DESC LIMIT 1");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, version);
	if (sqlite3_step(st) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		snprintf(publish, publishlen, "%s", db_text(st, 1));
	}
	sqlite3_finalize(st);
	return id;
}

/* "ssh:22,http:80" as stored by template.import. */
static size_t
publish_parse(const char *publish, char names[][PF_NAMELEN],
    uint16_t *ports, size_t max)
{
	char	buf[512], *tok, *save, *colon;
	size_t	n = 0;

	snprintf(buf, sizeof(buf), "%s", publish);
	for (tok = strtok_r(buf, ",", &save); tok != NULL && n < max;
	    tok = strtok_r(NULL, ",", &save)) {
		if ((colon = strchr(tok, ':')) == NULL)
			continue;
		*colon = '\0';
		snprintf(names[n], PF_NAMELEN, "%s", tok);
		ports[n++] = (uint16_t)atoi(colon + 1);
	}
	return n;
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

static int
exists(const char *sql, const char *name)
{
	sqlite3_stmt	*st = db_prepare(sql);
	int		 found;

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

static int64_t
insert(sqlite3_stmt *st)
{
	int	rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? sqlite3_last_insert_rowid(labd->db) : -1;
}

static json_t *
sheet_row(const char *vm, const char *login, const char *name,
    const struct pf_rule *rules, size_t nrules, const char *password,
    int has_key)
{
	json_t	*o = json_pack("{s:s,s:s,s:s}", "vm", vm, "user", login,
		    "name", name);
	size_t	 i;

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
	return o;
}

void
cmd_course_create(const struct req *r, json_t *args)
{
	const char	*name = arg_str(args, "name");
	const char	*tref = arg_str(args, "template");
	const char	*text = arg_str(args, "roster");
	const char	*rname = arg_str(args, "roster_name");
	char		 err[LABD_ERRLEN], publish[512], vmname[LABD_VMNAMELEN];
	char		 gnames[LABD_MAX_GUEST_PORTS][PF_NAMELEN];
	const char	*gptrs[LABD_MAX_GUEST_PORTS];
	uint16_t	 gports[LABD_MAX_GUEST_PORTS];
	struct pf_rule	 rules[LABD_MAX_GUEST_PORTS];
	struct roster	 ros = { 0 };
	unsigned char	*used = NULL;
	int		*slots = NULL;
	int64_t		 tid, cid, *vmids = NULL;
	size_t		 nused, ng, nr, i;
	json_t		*sheet = NULL;

	if (rname == NULL)
		rname = "roster";
	if (!name_valid(name)) {
		reply_err(r, LABD_E_INVALID, "course name \"%.64s\": use 1-32"
		    " of a-z, 0-9 and '-', starting with a letter", name);
		return;
	}
	if (exists("SELECT 1 FROM courses WHERE name = ?", name)) {
		reply_err(r, LABD_E_EXISTS, "course %s exists", name);
		return;
	}
	if ((tid = template_resolve(tref, publish, sizeof(publish))) == -1) {
		reply_err(r, LABD_E_NOT_FOUND, "template \"%.64s\" not found"
		    " (labctl template list shows them)", tref);
		return;
	}
	if (roster_parse(text, strlen(text), rname, &ros, err,
	    sizeof(err)) == -1) {
		reply_err(r, LABD_E_INVALID, "%s", err);
		return;
	}
	for (i = 0; i < ros.n; i++) {
		snprintf(vmname, sizeof(vmname), "%s-%s", name, ros.v[i].id);
		/* The VM's name is the guest's host name: 63 at most. */
		if (strlen(vmname) > 63) {
			reply_err(r, LABD_E_INVALID, "%s line %d: vm name %s is"
			    " longer than 63 characters (a host name); use a"
			    " shorter course name", rname, ros.v[i].line,
			    vmname);
			goto done;
		}
		if (vm_find(vmname) != NULL) {
			reply_err(r, LABD_E_EXISTS, "%s line %d: vm %s exists"
			    " (course and student names collide)", rname,
			    ros.v[i].line, vmname);
			goto done;
		}
	}
	ng = publish_parse(publish, gnames, gports, LABD_MAX_GUEST_PORTS);
	for (i = 0; i < ng; i++)
		gptrs[i] = gnames[i];
	used = slots_used(&nused);
	slots = xcalloc(ros.n, sizeof(*slots));
	if (plan_allocate(labd->cfg.publish, labd->cfg.npublish, used, nused,
	    (int)ros.n, slots, err, sizeof(err)) == -1 ||
	    plan_rules(labd->cfg.publish, labd->cfg.npublish, slots[0], gptrs,
	    gports, ng, rules, LABD_MAX_GUEST_PORTS, err, sizeof(err)) == -1) {
		reply_err(r, LABD_E_INVALID, "course %s: %s", name, err);
		goto done;
	}
	/* Bridge mode: slot k's address is the gateway's + k. */
	if (labd->cfg.net_mode == LABD_NET_BRIDGE) {
		size_t	inuse = 0, k;

		for (k = 0; k < nused; k++)
			inuse += used[k];
		for (i = 0; i < ros.n; i++)
			if (slots[i] > net_max_slot()) {
				reply_err(r, LABD_E_INVALID, "course %s: %zu"
				    " students do not fit in subnet %s: it has"
				    " addresses for %d VMs and %zu are in use",
				    name, ros.n, labd->cfg.subnet,
				    net_max_slot(), inuse);
				goto done;
			}
	}

	/* Everything is valid: write it all or nothing. */
	sheet = json_array();
	vmids = xcalloc(ros.n, sizeof(*vmids));
	if (db_begin() == -1)
		goto dberr;
	{
		sqlite3_stmt	*st = db_prepare("INSERT INTO courses(name,"
		    " template_id, internet, created) VALUES (?, ?, 0, ?)");

		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, tid);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
		if ((cid = insert(st)) == -1)
			goto dbfail;
	}
	for (i = 0; i < ros.n; i++) {
		struct roster_entry	*e = &ros.v[i];
		char			 pw[COURSE_PASSWORD_LEN + 1], hash[256];
		int			 gen_pw = e->ssh_key[0] == '\0';
		sqlite3_stmt		*st;
		int64_t			 sid;
		size_t			 k;

		if (gen_pw && (seed_random_password(pw, COURSE_PASSWORD_LEN) ==
		    -1 || seed_hash_password(pw, hash, sizeof(hash)) == -1)) {
			reply_err(r, LABD_E_INTERNAL, "cannot make a password");
			goto dbfail_noreply;
		}
		st = db_prepare("INSERT INTO students(course_id, login, name,"
		    " email, ssh_key, pw_hash) VALUES (?, ?, ?, ?, ?, ?)");
		sqlite3_bind_int64(st, 1, cid);
		sqlite3_bind_text(st, 2, e->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, e->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, e->email, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, e->ssh_key, -1, SQLITE_STATIC);
		if (gen_pw)
			sqlite3_bind_text(st, 6, hash, -1, SQLITE_STATIC);
		if ((sid = insert(st)) == -1)
			goto dbfail;
		snprintf(vmname, sizeof(vmname), "%s-%s", name, e->id);
		st = db_prepare("INSERT INTO vms(name, course_id, student_id,"
		    " slot, desired, created) VALUES (?, ?, ?, ?, 'running', ?)");
		sqlite3_bind_text(st, 1, vmname, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, cid);
		sqlite3_bind_int64(st, 3, sid);
		sqlite3_bind_int(st, 4, slots[i]);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
		if ((vmids[i] = insert(st)) == -1)
			goto dbfail;
		if ((nr = plan_rules(labd->cfg.publish, labd->cfg.npublish,
		    slots[i], gptrs, gports, ng, rules, LABD_MAX_GUEST_PORTS,
		    err, sizeof(err))) == (size_t)-1) {
			reply_err(r, LABD_E_INVALID, "course %s: %s", name, err);
			goto dbfail_noreply;
		}
		for (k = 0; k < nr; k++) {
			st = db_prepare("INSERT INTO ports(vm_id, service,"
			    " listen_ip, port, guest_port) VALUES (?,?,?,?,?)");
			sqlite3_bind_int64(st, 1, vmids[i]);
			sqlite3_bind_text(st, 2, rules[k].service, -1,
			    SQLITE_STATIC);
			sqlite3_bind_text(st, 3, rules[k].listen_ip, -1,
			    SQLITE_STATIC);
			sqlite3_bind_int(st, 4, rules[k].port);
			sqlite3_bind_int(st, 5, rules[k].guest_port);
			if (insert(st) == -1)
				goto dbfail;
		}
		json_array_append_new(sheet, sheet_row(vmname, e->id, e->name,
		    rules, nr, gen_pw ? pw : NULL, !gen_pw));
	}
	if (db_commit() == -1)
		goto dbfail;
	db_event(r->uid, "course.create", name, "%zu students, template %s",
	    ros.n, tref);
	log_info("course %s created: %zu VMs from %s", name, ros.n, tref);
	net_resync(name);
	for (i = 0; i < ros.n; i++) {
		struct vm	*vm = vm_add(vmids[i]);

		if (vm != NULL)
			vm_op_start(vm, NULL);
	}
	reply_ok(r, json_pack("{s:s,s:s,s:o}", "course", name, "template",
	    tref, "students", sheet));
	sheet = NULL;
	goto done;
dbfail:
	reply_err(r, LABD_E_INTERNAL, "course %s: database: %s", name,
	    sqlite3_errmsg(labd->db));
dbfail_noreply:
	db_rollback();
	goto done;
dberr:
	reply_err(r, LABD_E_INTERNAL, "course %s: database: %s", name,
	    sqlite3_errmsg(labd->db));
done:
	json_decref(sheet);
	free(vmids);
	free(slots);
	free(used);
	roster_free(&ros);
}

void
cmd_course_list(const struct req *r, json_t *args)
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
	reply_ok(r, a);
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

void
cmd_course_set(const struct req *r, json_t *args)
{
	const char	*course = arg_str(args, "course");
	const char	*reset_at = arg_str(args, "reset_at");
	const char	*reset_to = arg_str(args, "reset_to");
	const char	*idle = arg_str(args, "idle_suspend");
	const char	*inet = arg_str(args, "internet");
	const char	*iso = arg_str(args, "isolation");
	const char	*allow = arg_str(args, "allow_from");
	const char	*sudo = arg_str(args, "sudo");
	int		 bridge = labd->cfg.net_mode == LABD_NET_BRIDGE;
	sqlite3_stmt	*st;
	char		 err[256], canon[1024], nerr[LABD_ERRLEN];
	int		 secs[32], idle_secs = 0, inet_on = -1, iso_on = -1;
	int		 sudo_on = -1;
	struct vm	*vm;
	const char	*effect = NULL;
	json_t		*res;

	if (!exists("SELECT 1 FROM courses WHERE name = ?", course)) {
		reply_err(r, LABD_E_NOT_FOUND, "course \"%.64s\" not found",
		    course);
		return;
	}
	if (reset_at != NULL && schedule_parse(reset_at, secs, 32, err,
	    sizeof(err)) == -1) {
		reply_err(r, LABD_E_INVALID, "%s", err);
		return;
	}
	if (reset_to != NULL && (!snapshot_name_valid(reset_to) ||
	    strncmp(reset_to, "labd-", 5) == 0)) {
		reply_err(r, LABD_E_INVALID, "reset_to: \"%.64s\" is not a"
		    " snapshot name", reset_to);
		return;
	}
	if (idle != NULL && idle_parse(idle, &idle_secs, err,
	    sizeof(err)) == -1) {
		reply_err(r, LABD_E_INVALID, "%s", err);
		return;
	}
	if (inet != NULL && (inet_on = onoff_parse(inet)) == -1) {
		reply_err(r, LABD_E_INVALID, "internet: \"%.32s\" is not on or"
		    " off", inet);
		return;
	}
	if (iso != NULL && (iso_on = onoff_parse(iso)) == -1) {
		reply_err(r, LABD_E_INVALID, "isolation: \"%.32s\" is not on or"
		    " off", iso);
		return;
	}
	if (sudo != NULL && (sudo_on = onoff_parse(sudo)) == -1) {
		reply_err(r, LABD_E_INVALID, "sudo: \"%.32s\" is not on or"
		    " off", sudo);
		return;
	}
	if (allow != NULL) {
		/* "any" (or empty) lifts it; else CIDRs, checked one by one. */
		if (strcmp(allow, "any") == 0 || strcmp(allow, "off") == 0)
			allow = "";
		if (nft_cidrs_parse(allow, canon, sizeof(canon), err,
		    sizeof(err)) == -1) {
			reply_err(r, LABD_E_INVALID, "allow_from: %s", err);
			return;
		}
		if (canon[0] != '\0' && geteuid() != 0) {
			reply_err(r, LABD_E_INVALID, "allow_from needs labd to"
			    " run as root: it is enforced with nftables");
			return;
		}
	}
	if (db_begin() == -1) {
		reply_err(r, LABD_E_INTERNAL, "course %s: %s", course,
		    sqlite3_errmsg(labd->db));
		return;
	}
	st = db_prepare("UPDATE courses SET reset_at = COALESCE(?1, reset_at),"
	    " reset_to = COALESCE(?2, reset_to),"
	    " reset_last = CASE WHEN ?1 IS NULL THEN reset_last ELSE ?3 END,"
	    " idle_suspend = COALESCE(?5, idle_suspend),"
	    " internet = COALESCE(?6, internet),"
	    " isolation = COALESCE(?7, isolation),"
	    " allow_from = COALESCE(?8, allow_from),"
	    " sudo = COALESCE(?9, sudo) WHERE name = ?4");
	if (reset_at != NULL)
		sqlite3_bind_text(st, 1, reset_at, -1, SQLITE_STATIC);
	if (reset_to != NULL)
		sqlite3_bind_text(st, 2, reset_to, -1, SQLITE_STATIC);
	/* Times already past today do not fire for a schedule set now. */
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 4, course, -1, SQLITE_STATIC);
	if (idle != NULL)
		sqlite3_bind_int(st, 5, idle_secs);
	if (inet_on != -1)
		sqlite3_bind_int(st, 6, inet_on);
	if (iso_on != -1)
		sqlite3_bind_int(st, 7, iso_on);
	if (allow != NULL)
		sqlite3_bind_text(st, 8, canon, -1, SQLITE_STATIC);
	if (sudo_on != -1)
		sqlite3_bind_int(st, 9, sudo_on);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_finalize(st);
		reply_err(r, LABD_E_INTERNAL, "course %s: %s", course,
		    sqlite3_errmsg(labd->db));
		db_rollback();
		return;
	}
	sqlite3_finalize(st);
	/*
	 * The network settings go live through nftables before the change
	 * is committed: rules that do not load leave both as they were.
	 */
	if ((inet != NULL || iso != NULL || allow != NULL) &&
	    net_sync(nerr, sizeof(nerr)) == -1) {
		db_rollback();
		reply_err(r, LABD_E_INTERNAL, "course %s: the firewall rules"
		    " did not load, nothing changed: %s", course, nerr);
		return;
	}
	if (db_commit() == -1) {
		reply_err(r, LABD_E_INTERNAL, "course %s: %s", course,
		    sqlite3_errmsg(labd->db));
		net_resync(course);
		return;
	}
	if (inet != NULL || iso != NULL || allow != NULL) {
		if (bridge)
			effect = "live: the firewall rules changed now";
		else if (inet != NULL || iso != NULL)
			effect = "internet and isolation take effect at each"
			    " VM's next start (user networking); allow_from"
			    " is live";
		else
			effect = "live: the firewall rules changed now";
	}
	/* The policy is put in place in every ready VM now, the others at boot. */
	if (sudo_on != -1) {
		for (vm = vm_list(); vm != NULL; vm = vm->next)
			if (strcmp(vm->course, course) == 0)
				vm_op_policy(vm);
	}
	db_event(r->uid, "course.set", course, "reset_at=%s reset_to=%s"
	    " idle_suspend=%s internet=%s isolation=%s allow_from=%s sudo=%s",
	    reset_at ? reset_at : "(same)", reset_to ? reset_to : "(same)",
	    idle ? idle : "(same)", inet ? inet : "(same)",
	    iso ? iso : "(same)", allow ? canon : "(same)",
	    sudo_on == -1 ? "(same)" : sudo_on ? "on" : "off");
	st = db_prepare("SELECT reset_at, reset_to, idle_suspend, internet,"
	    " isolation, allow_from, sudo FROM courses WHERE name = ?");
	sqlite3_bind_text(st, 1, course, -1, SQLITE_STATIC);
	sqlite3_step(st);
	res = json_pack("{s:s,s:s,s:s,s:i,s:b,s:b,s:s,s:b}", "course", course,
	    "reset_at", db_text(st, 0), "reset_to", db_text(st, 1),
	    "idle_suspend", sqlite3_column_int(st, 2),
	    "internet", sqlite3_column_int(st, 3),
	    "isolation", sqlite3_column_int(st, 4),
	    "allow_from", db_text(st, 5),
	    "sudo", sqlite3_column_int(st, 6));
	sqlite3_finalize(st);
	if (sudo_on != -1 && effect == NULL)
		effect = "sudo: live in every ready VM, and at every boot and"
		    " reset";
	if (effect != NULL)
		json_object_set_new(res, "effect", json_string(effect));
	reply_ok(r, res);
}

void
cmd_course_show(const struct req *r, json_t *args)
{
	const char	*course = arg_str(args, "course");
	sqlite3_stmt	*st;
	struct vm	*vm;
	json_t		*o, *vms;

	st = db_prepare("SELECT c.name, t.name || '@' || t.version, c.created,"
	    " c.reset_at, c.reset_to, c.idle_suspend, c.internet, c.sudo"
	    " FROM courses c"
	    " JOIN templates t ON t.id = c.template_id WHERE c.name = ?");
	sqlite3_bind_text(st, 1, course, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		reply_err(r, LABD_E_NOT_FOUND, "course \"%.64s\" not found",
		    course);
		return;
	}
	o = json_pack("{s:s,s:s,s:I,s:s,s:s,s:i,s:b,s:b}", "name",
	    db_text(st, 0), "template", db_text(st, 1),
	    "created", (json_int_t)sqlite3_column_int64(st, 2),
	    "reset_at", db_text(st, 3), "reset_to", db_text(st, 4),
	    "idle_suspend", sqlite3_column_int(st, 5),
	    "internet", sqlite3_column_int(st, 6),
	    "sudo", sqlite3_column_int(st, 7));
	sqlite3_finalize(st);
	vms = json_array();
	for (vm = vm_list(); vm != NULL; vm = vm->next)
		if (strcmp(vm->course, course) == 0)
			json_array_append_new(vms, vm_to_json(vm));
	json_object_set_new(o, "vms", vms);
	reply_ok(r, o);
}

/*
 * Remove a course: only when none of its VMs runs, so that nothing is
 * killed by surprise (labctl course rm --force stops them first).  The
 * rows go in one transaction, then the files; a crash in between leaves
 * files that no row names, which a later rm of the folder clears.
 */
void
cmd_course_rm(const struct req *r, json_t *args)
{
	const char	*course = arg_str(args, "course");
	sqlite3_stmt	*st;
	struct vm	*vm, *next;
	char		 err[LABD_ERRLEN], vmdir[PATH_MAX], rundir[PATH_MAX];
	pid_t		 pid;
	int		 n = 0;

	if (!exists("SELECT 1 FROM courses WHERE name = ?", course)) {
		reply_err(r, LABD_E_NOT_FOUND, "course \"%.64s\" not found",
		    course);
		return;
	}
	for (vm = vm_list(); vm != NULL; vm = vm->next) {
		if (strcmp(vm->course, course) != 0)
			continue;
		vm_paths(vm->name, NULL, rundir);
		if (vm->busy || (vm->state != VM_STOPPED &&
		    vm->state != VM_FAILED && vm->state != VM_SUSPENDED) ||
		    vmm_alive(rundir, vm->name, &pid) == 1) {
			reply_err(r, LABD_E_BUSY, "course %s: %s is %s; stop the"
			    " course first (labctl stop --course %s, or"
			    " labctl course rm --force)", course, vm->name,
			    vm_state_name(vm->state), course);
			return;
		}
	}
	st = db_prepare("DELETE FROM courses WHERE name = ?");
	sqlite3_bind_text(st, 1, course, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_finalize(st);
		reply_err(r, LABD_E_INTERNAL, "course %s: %s", course,
		    sqlite3_errmsg(labd->db));
		return;
	}
	sqlite3_finalize(st);
	for (vm = vm_list(); vm != NULL; vm = next) {
		next = vm->next;
		if (strcmp(vm->course, course) != 0)
			continue;
		vm_paths(vm->name, vmdir, rundir);
		if (vm_remove(vm, err, sizeof(err)) == -1) {
			log_warnx("course %s: %s", course, err);
			continue;
		}
		rm_rf(vmdir);
		rm_rf(rundir);
		n++;
	}
	net_resync(course);
	db_event(r->uid, "course.rm", course, "%d VMs removed", n);
	log_info("course %s removed with its %d VMs", course, n);
	reply_ok(r, json_pack("{s:s,s:i}", "course", course, "vms", n));
}

void
cmd_course_access(const struct req *r, json_t *args)
{
	const char	*course = arg_str(args, "course");
	sqlite3_stmt	*st;
	json_t		*a;

	if (!exists("SELECT 1 FROM courses WHERE name = ?", course)) {
		reply_err(r, LABD_E_NOT_FOUND, "course \"%.64s\" not found",
		    course);
		return;
	}
	a = json_array();
	st = db_prepare("SELECT v.name, s.login, s.name, p.listen_ip, p.port,"
	    " s.ssh_key != '', s.pw_hash IS NOT NULL FROM vms v"
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
		    &rule, rule.port ? 1 : 0, NULL, sqlite3_column_int(st, 5));
		json_object_set_new(row, "password_set",
		    json_boolean(sqlite3_column_int(st, 6)));
		json_array_append_new(a, row);
	}
	sqlite3_finalize(st);
	reply_ok(r, a);
}
