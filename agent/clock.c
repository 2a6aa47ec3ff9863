/* agent/clock.c: 64-bit time. The build sets _TIME_BITS=64, so time_t is 64 bits on armhf too. */
#include <errno.h>

#include "clock.h"
#include "stop.h"

int64_t clock_ms_of(const struct timespec *ts)
{
        return (int64_t) ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
}

int64_t clock_now_ms(void)
{
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return clock_ms_of(&ts);
}

void clock_sleep_ms(int64_t ms)
{
        struct timespec ts;

        if (ms <= 0)
                return;
        ts.tv_sec = (time_t) (ms / 1000);
        ts.tv_nsec = (long) (ms % 1000) * 1000000;
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stop_requested())
                ;
}

const char *clock_rfc3339(int64_t t, char *buf, size_t size)
{
        time_t tt = (time_t) t;
        struct tm tm;

        if (size > 0)
                buf[0] = '\0';
        if ((int64_t) tt != t || !gmtime_r(&tt, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
                if (size > 0)
                        buf[0] = '\0';
        }
        return buf;
}
