/* SPDX-License-Identifier: ISC */
/*
 * param.c - every VM's parameter (vm_params): 16 random hex digits, made
 * the first time it is asked for and kept as long as the VM exists, so
 * that an exercise can differ per student ("your port is 4137") and its
 * check knows the expected answer.
 *
 * It is random rather than derived from a course secret: as stable and
 * as unguessable, with no MAC to get right.  Two readers ask for it: the
 * seed (vmjob.c), which writes it to /etc/labd/param at the guest's first
 * boot, and a check (check.c), which writes it there again (a VM seeded
 * before the seed carried it) and gives it to the goals as LAB_PARAM.
 * Both get the same value, as both come here.
 */
#include <sys/random.h>

#include <stdio.h>

#include "labd/labd.h"

int
vm_param(int64_t vm_id, char *out, size_t outlen)
{
	sqlite3_stmt	*st;
	unsigned char	 rnd[VM_PARAMLEN / 2];
	size_t		 i;
	int		 rc = -1;

	if (outlen < VM_PARAMLEN + 1)
		return -1;
	st = db_prepare("SELECT param FROM vm_params WHERE vm_id = ?");
	sqlite3_bind_int64(st, 1, vm_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(out, outlen, "%s", db_text(st, 0));
		sqlite3_finalize(st);
		return 0;
	}
	sqlite3_finalize(st);
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -1;
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(out + 2 * i, 3, "%02x", rnd[i]);
	st = db_prepare("INSERT INTO vm_params(vm_id, param) VALUES (?, ?)");
	sqlite3_bind_int64(st, 1, vm_id);
	sqlite3_bind_text(st, 2, out, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_DONE)
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}
