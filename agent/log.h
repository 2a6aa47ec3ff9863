/* agent/log.h: the one sink for messages to people. stderr as "boardpin: …", or the journal with
 * structured fields when stderr is the journal ($JOURNAL_STREAM, systemd.exec(5)). stdout is for results.
 * The journal is written with its native datagram protocol (systemd's docs/JOURNAL_NATIVE_PROTOCOL.md),
 * not through libsystemd: loading it costs about 5 ms before the first line on an amd64 machine, more
 * than a boot the lock answers takes, and far more on a Pi Zero. */
#pragma once

#include <syslog.h>

enum log_level {
        LOG_LEVEL_QUIET = 0, /* -q: errors only */
        LOG_LEVEL_NORMAL = 1,
        LOG_LEVEL_VERBOSE = 2, /* -v */
};

#define LOG_JOURNAL_SOCKET "/run/systemd/journal/socket"

void log_set_level(enum log_level level);

/* The journal's socket, LOG_JOURNAL_SOCKET unless a test gives its own. path is borrowed. */
void log_set_journal_socket(const char *path);

/* priority is a syslog LOG_* value; service, digest and platform (each may be NULL: then the field is
 * left out) become BOARDPIN_SERVICE=, BOARDPIN_DIGEST=, BOARDPIN_PLATFORM= in the journal. When the
 * journal socket does not take the datagram, the line goes to stderr as "<priority>text", which
 * journald reads as that priority (SyslogLevelPrefix=, on by default): the fields are lost, the
 * text and its priority are not. */
void log_full(int priority, const char *service, const char *digest, const char *platform, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

#define log_error(...) log_full(LOG_ERR, NULL, NULL, NULL, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, NULL, NULL, NULL, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, NULL, NULL, NULL, __VA_ARGS__)
#define log_debug(...) log_full(LOG_DEBUG, NULL, NULL, NULL, __VA_ARGS__)
