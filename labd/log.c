/* SPDX-License-Identifier: ISC */
/*
 * log.c - one small logger: stderr in the foreground, syslog when
 * daemonised.  log_warn adds strerror(errno); fatal* log and exit.  They
 * are for start-up, and at run time only for what no input can cause and
 * labd cannot carry on after: memory exhausted (xmalloc) and an SQL
 * statement of labd's own that does not compile (db_prepare), both bugs
 * or a dying host.  Anything a client, a guest or the host's state can
 * cause is an error returned, logged or replied, never an exit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "labd/labd.h"

static int	log_foreground = 1;
static int	log_verbose;

void
log_init(int foreground, int verbose)
{
	log_foreground = foreground;
	log_verbose = verbose;
	if (!foreground)
		openlog("labd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static void
log_vwrite(int pri, const char *fmt, va_list ap, int with_errno)
{
	char	msg[2048];
	int	saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		size_t	len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, ": %s",
		    strerror(saved));
	}
	if (log_foreground) {
		struct timespec	ts;
		struct tm	tm;
		char		stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
		fprintf(stderr, "labd %s.%03ld %s\n", stamp,
		    ts.tv_nsec / 1000000, msg);
	} else
		syslog(pri, "%s", msg);
	errno = saved;
}

#define LOG_FN(fn, pri, with_errno, cond)		\
void							\
fn(const char *fmt, ...)				\
{							\
	va_list	ap;					\
	if (!(cond))					\
		return;					\
	va_start(ap, fmt);				\
	log_vwrite(pri, fmt, ap, with_errno);		\
	va_end(ap);					\
}

LOG_FN(log_warn, LOG_WARNING, 1, 1)
LOG_FN(log_warnx, LOG_WARNING, 0, 1)
LOG_FN(log_info, LOG_INFO, 0, 1)
LOG_FN(log_debug, LOG_DEBUG, 0, log_verbose)

void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, 1);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, 0);
	va_end(ap);
	exit(1);
}
