/* agent/log.h: the one sink for messages to people. stderr as "boardpin: …", or the journal with
 * structured fields when stderr is the journal ($JOURNAL_STREAM, systemd.exec(5)). stdout is for results. */
#pragma once

#include <syslog.h>

enum log_level {
        LOG_LEVEL_QUIET = 0,    /* -q: errors only */
        LOG_LEVEL_NORMAL = 1,
        LOG_LEVEL_VERBOSE = 2,  /* -v */
};

void log_set_level(enum log_level level);

/* priority is a syslog LOG_* value; service, digest and platform (each may be NULL) become
 * BOARDPIN_SERVICE=, BOARDPIN_DIGEST=, BOARDPIN_PLATFORM= in the journal. */
void log_full(int priority, const char *service, const char *digest, const char *platform, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

#define log_error(...) log_full(LOG_ERR, NULL, NULL, NULL, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, NULL, NULL, NULL, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, NULL, NULL, NULL, __VA_ARGS__)
#define log_debug(...) log_full(LOG_DEBUG, NULL, NULL, NULL, __VA_ARGS__)
