/* SPDX-License-Identifier: ISC */
/*
 * log.c - one small logger: stderr in the foreground, syslog when
 * daemonised.  log_warn adds strerror(errno); fatal* log and exit.  They
 * are for start-up, and at run time only for what no input can cause and
 * labd cannot carry on after: memory exhausted (xmalloc) and an SQL
 * statement of labd's own that does not compile (db_prepare), both bugs
 * or a dying host.  Anything a client, a guest or the host's state can
 * cause is an error returned, logged or replied, never an exit.
 *
 * A line the same as the last one, within LOG_REPEAT_MS of it, is only
 * counted, and the count is told with the next line that differs (as
 * syslogd does): a client or a guest that makes labd say one thing in a
 * loop cannot fill the disk.
 */
#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "labd/labd.h"

static int	log_foreground = 1;
static int	log_verbose;

#define LOG_REPEAT_MS	10000
static pthread_mutex_t	log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char		text[2048];
	int		pri;
	long long	first_ms;	/* when the line was last written */
	unsigned	count;		/* since written, not written again */
} last;

void
log_init(int foreground, int verbose)
{
	log_foreground = foreground;
	log_verbose = verbose;
	if (!foreground)
		openlog("labd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static void
log_emit(int pri, const char *msg)
{
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
}

/* The repeats of the last line not written yet, told; with log_lock. */
static void
log_repeats(void)
{
	char	msg[64];

	if (last.count == 0)
		return;
	snprintf(msg, sizeof(msg), "last message repeated %u time%s",
	    last.count, last.count == 1 ? "" : "s");
	last.count = 0;
	log_emit(last.pri, msg);
}

static void
log_vwrite(int pri, const char *fmt, va_list ap, int with_errno)
{
	char		msg[2048];
	int		saved = errno;
	struct timespec	ts;
	long long	now;

	/* Not util.c's now_ms(): util.c logs, and log.c calls nothing back. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		size_t	len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, ": %s",
		    strerror(saved));
	}
	pthread_mutex_lock(&log_lock);
	if (pri > LOG_CRIT && strcmp(msg, last.text) == 0 &&
	    now - last.first_ms < LOG_REPEAT_MS) {
		last.count++;
		pthread_mutex_unlock(&log_lock);
		errno = saved;
		return;
	}
	log_repeats();
	snprintf(last.text, sizeof(last.text), "%s", msg);
	last.pri = pri;
	last.first_ms = now;
	log_emit(pri, msg);
	pthread_mutex_unlock(&log_lock);
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
