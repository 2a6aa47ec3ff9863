/* agent/clock.h: time as boardpin counts it: 64-bit milliseconds, so that neither a 32-bit long (24.8 days
 * of uptime in ms) nor a 32-bit time_t (2038) wraps on armhf. Knows no files and no network. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds of ts, without overflow for any ts a clock returns. */
int64_t clock_ms_of(const struct timespec *ts);

/* CLOCK_MONOTONIC in milliseconds: for deadlines, timeouts and backoff. */
int64_t clock_now_ms(void);

/* Sleep ms milliseconds (<= 0: not at all), resuming after signals. */
void clock_sleep_ms(int64_t ms);

/* t as RFC 3339 UTC ("2026-12-01T07:30:00Z") in buf; "" if t cannot be represented. Returns buf. */
const char *clock_rfc3339(int64_t t, char *buf, size_t size);
