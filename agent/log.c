/* agent/log.c: see log.h. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"

#define LOG_MESSAGE_MAX_BYTES 1024
/* Every field of one entry; far below the datagram size journald accepts (its socket buffer), so an
 * entry never needs the memfd path of the protocol. */
#define LOG_DATAGRAM_MAX_BYTES (LOG_MESSAGE_MAX_BYTES + 4096)

static enum log_level level = LOG_LEVEL_NORMAL;
static const char *journal_socket = LOG_JOURNAL_SOCKET;

void log_set_level(enum log_level l)
{
        level = l;
}

void log_set_journal_socket(const char *path)
{
        journal_socket = path;
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

struct datagram {
        char buf[LOG_DATAGRAM_MAX_BYTES];
        size_t len;
        bool full;
};

static void put(struct datagram *d, const void *p, size_t n)
{
        if (d->full || n > sizeof(d->buf) - d->len) {
                d->full = true;
                return;
        }
        memcpy(d->buf + d->len, p, n);
        d->len += n;
}

/* KEY=value\n; a value with a newline in it is framed KEY\n, its length as 64-bit little-endian, the
 * value, \n (JOURNAL_NATIVE_PROTOCOL.md). */
static void field(struct datagram *d, const char *key, const char *value)
{
        size_t n = strlen(value);
        uint8_t le[8];

        if (!memchr(value, '\n', n)) {
                put(d, key, strlen(key));
                put(d, "=", 1);
                put(d, value, n);
                put(d, "\n", 1);
                return;
        }
        for (int i = 0; i < 8; i++)
                le[i] = (uint8_t) ((uint64_t) n >> (8 * i));
        put(d, key, strlen(key));
        put(d, "\n", 1);
        put(d, le, sizeof(le));
        put(d, value, n);
        put(d, "\n", 1);
}

/* The unit this process runs in ("boardpin.service"), from /proc/self/cgroup, or NULL. journald finds a
 * datagram's unit by reading the sender's cgroup when it gets to the datagram; boardpin may have exited
 * by then (a boot the lock answers takes milliseconds), and the line would lose its _SYSTEMD_UNIT. So each
 * line also names the unit as OBJECT_SYSTEMD_UNIT=, which `journalctl -u` matches for root's lines, and
 * root is what journald reads from the socket's credentials, exited sender or not. */
static const char *own_unit(void)
{
        static char unit[256];
        static bool done;
        char line[512];
        FILE *f;

        if (done)
                return unit[0] ? unit : NULL;
        done = true;
        f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return NULL;
        while (fgets(line, sizeof(line), f)) {
                char *base = strrchr(line, '/');
                size_t n;

                /* cgroup v2's line, or v1's systemd hierarchy */
                if ((strncmp(line, "0::", 3) != 0 && !strstr(line, ":name=systemd:")) || !base)
                        continue;
                base++;
                n = strcspn(base, "\n");
                if (n > 8 && n < sizeof(unit) && strncmp(base + n - 8, ".service", 8) == 0) {
                        memcpy(unit, base, n);
                        unit[n] = '\0';
                }
        }
        (void) fclose(f);
        return unit[0] ? unit : NULL;
}

/* One entry to the journal socket; 0, or a negative errno when it was not taken. */
static int journal_send(int priority, const char *service, const char *digest, const char *platform,
                        const char *msg)
{
        static struct datagram d;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char prio[4];
        _cleanup_close_ int fd = -1;

        if (strlen(journal_socket) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, journal_socket, strlen(journal_socket) + 1);
        d.len = 0;
        d.full = false;
        (void) snprintf(prio, sizeof(prio), "%d", priority & LOG_PRIMASK);
        field(&d, "MESSAGE", msg);
        field(&d, "PRIORITY", prio);
        field(&d, "SYSLOG_IDENTIFIER", "boardpin");
        if (own_unit())
                field(&d, "OBJECT_SYSTEMD_UNIT", own_unit());
        if (service)
                field(&d, "BOARDPIN_SERVICE", service);
        if (digest)
                field(&d, "BOARDPIN_DIGEST", digest);
        if (platform)
                field(&d, "BOARDPIN_PLATFORM", platform);
        if (d.full)
                return -EMSGSIZE;
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (sendto(fd, d.buf, d.len, MSG_NOSIGNAL, (const struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        return 0;
}

void log_full(int priority, const char *service, const char *digest, const char *platform, const char *fmt, ...)
{
        bool journal = stderr_is_journal();
        char msg[LOG_MESSAGE_MAX_BYTES];
        va_list ap;

        if (!wanted(priority, journal))
                return;
        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (!journal) {
                (void) fprintf(stderr, "boardpin: %s\n", msg);
                return;
        }
        if (journal_send(priority, service, digest, platform, msg) < 0)
                (void) fprintf(stderr, "<%d>%s\n", priority & LOG_PRIMASK, msg);
}
