/* SPDX-License-Identifier: ISC */
/*
 * checkscript.c - the guest's side of course.check, as text: the shell
 * program one SSH session runs in a VM (as root, on its standard input,
 * since dropbear cuts a command line at 9000 bytes), and the lines it
 * prints back.
 *
 * The program makes a folder with mktemp, writes each goal into it from
 * base64 (the scripts' bytes never meet the shell's parser), writes the
 * VM's parameter to /etc/labd/param, and runs each goal in a session of
 * its own (setsid) so that a goal that hangs is killed with everything it
 * started, its output in a file whose size ulimit -f caps.  A watchdog
 * subshell kills the goal's session after the timeout.  For each goal it
 * prints one line,
 *
 *	labd-check TAB NAME TAB STATUS TAB FLAG TAB LAST-LINE
 *
 * FLAG being "-", "timeout" or "cut" (the output reached the cap), and
 * removes its folder on the way out.  Only POSIX sh and what busybox has
 * (mktemp, base64, setsid, tail, tr, cut, wc) are used.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labd/labd.h"

static const char check_prologue[] =
"umask 077\n"
"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
"D=$(mktemp -d /tmp/labd-check.XXXXXX) || {\n"
"	echo 'labd-check-error cannot make a temporary folder'; exit 1; }\n"
"trap 'rm -rf \"$D\"' EXIT\n"
"trap 'exit 1' HUP INT TERM\n"
"labd_run() {\n"
"	f=\"$D/$1\"\n"
"	chmod 700 \"$f\"\n"
"	( ulimit -f %d; exec setsid \"$f\" ) >\"$f.out\" 2>&1 </dev/null &\n"
"	p=$!\n"
"	( sleep %d; : >\"$f.to\"; kill -9 -$p || kill -9 $p ) >/dev/null 2>&1 &\n"
"	w=$!\n"
"	wait $p; st=$?\n"
"	kill $w 2>/dev/null; wait $w 2>/dev/null\n"
"	kill -9 -$p 2>/dev/null\n"
"	fl=-\n"
"	if [ -e \"$f.to\" ]; then fl=timeout\n"
"	elif [ $(($(wc -c <\"$f.out\"))) -ge %d ]; then fl=cut; fi\n"
"	r=$(tail -n 1 \"$f.out\" | tr -d '\\000-\\037\\177' | cut -c 1-%d)\n"
"	printf 'labd-check\\t%%s\\t%%s\\t%%s\\t%%s\\n' \"$2\" \"$st\" \"$fl\" \"$r\"\n"
"	rm -f \"$f\" \"$f.out\" \"$f.to\"\n"
"}\n"
"mkdir -p /etc/labd && printf '%%s\\n' '%s' >/etc/labd/param.new &&\n"
"    chmod 644 /etc/labd/param.new && mv -f /etc/labd/param.new /etc/labd/param\n"
"LAB_PARAM='%s'; export LAB_PARAM\n";

char *
check_script(const struct check_goal *goals, size_t n, const char *param,
    int timeout_s, size_t *lenp)
{
	size_t	 i, cap, len;
	char	*s;

	cap = sizeof(check_prologue) + 2 * strlen(param) + 64;
	for (i = 0; i < n; i++)
		cap += vmm_base64_size(strlen(goals[i].script), 76) + 128 +
		    strlen(goals[i].name);
	s = xmalloc(cap);
	len = (size_t)snprintf(s, cap, check_prologue, CHECK_OUTPUT_MAX / 512,
	    timeout_s, CHECK_OUTPUT_MAX, CHECK_REASON_MAX, param, param);
	for (i = 0; i < n; i++) {
		len += (size_t)snprintf(s + len, cap - len,
		    "base64 -d >\"$D/g%zu\" <<'LABD_EOF'\n", i);
		len += vmm_base64((const unsigned char *)goals[i].script,
		    strlen(goals[i].script), s + len, 76);
		len += (size_t)snprintf(s + len, cap - len,
		    "LABD_EOF\nlabd_run g%zu '%s'\n", i, goals[i].name);
	}
	*lenp = len;
	return s;
}

int
check_parse_line(char *line, struct check_line *out)
{
	char	*f[5], *p = line, *end;
	int	 i;
	long	 v;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < 5; i++) {
		f[i] = p;
		if (i < 4) {
			if ((p = strchr(p, '\t')) == NULL)
				return -1;
			*p++ = '\0';
		}
	}
	f[4][strcspn(f[4], "\r\n")] = '\0';
	if (strcmp(f[0], "labd-check") != 0 || f[1][0] == '\0')
		return -1;
	v = strtol(f[2], &end, 10);
	if (f[2][0] == '\0' || *end != '\0' || v < 0 || v > 255)
		return -1;
	if (strcmp(f[3], "timeout") == 0)
		out->timeout = 1;
	else if (strcmp(f[3], "cut") == 0)
		out->cut = 1;
	else if (strcmp(f[3], "-") != 0)
		return -1;
	out->name = f[1];
	out->status = (int)v;
	out->reason = f[4];
	out->met = v == 0 && !out->timeout;
	return 0;
}
