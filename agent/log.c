/* agent/log.c: see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#define SD_JOURNAL_SUPPRESS_LOCATION 1  /* the call site would be log.c for every message */
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "dl.h"

static enum log_level level = LOG_LEVEL_NORMAL;

void log_set_level(enum log_level l)
{
        level = l;
}

/* $JOURNAL_STREAM is "device:inode" of the stream systemd connected; it only counts while stderr is it. */
static bool stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

/* On a terminal stdout carries the results, so stderr gets warnings and errors (info with -v); the
 * journal gets info too, with its structured fields. */
static bool wanted(int priority, bool journal)
{
        if (priority <= LOG_WARNING)
                return priority <= LOG_ERR || level >= LOG_LEVEL_NORMAL;
        if (priority == LOG_INFO)
                return journal ? level >= LOG_LEVEL_NORMAL : level >= LOG_LEVEL_VERBOSE;
        return level >= LOG_LEVEL_VERBOSE;
}

void log_full(int priority, const char *service, const char *digest, const char *platform, const char *fmt, ...)
{
        bool journal = stderr_is_journal() && dl_systemd();
        char msg[1024];
        va_list ap;

        if (!wanted(priority, journal))
                return;
        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (journal) {
                (void) sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", priority, "SYSLOG_IDENTIFIER=boardpin",
                                       "BOARDPIN_SERVICE=%s", service ? service : "", "BOARDPIN_DIGEST=%s",
                                       digest ? digest : "", "BOARDPIN_PLATFORM=%s", platform ? platform : "",
                                       NULL);
                return;
        }
        (void) fprintf(stderr, "boardpin: %s\n", msg);
}
