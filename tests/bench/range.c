/* tests/bench/range.c: CPU time of range_best over 1,000 and 10,000 tags of a realistic mix (semver with
 * and without 'v', floating "1.30" and "2", -alpine and -armv6 variants, pre-releases, words and junk),
 * for a few ranges: the median of several runs per call, and the ratio of the two sizes, which is 10
 * for a linear pass. Figures only, no pass or fail.
 * Build: make build/libplatform.a, then cc -std=c11 -D_GNU_SOURCE -O2 -Iplatform -Iagent tests/bench/range.c
 *        agent/version.c agent/ref.c build/libplatform.a -o build/bench-range */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "version.h"

#define BENCH_TAGS_MAX 10000
#define BENCH_RUNS 21
#define BENCH_TAG_BYTES 48

static char store[BENCH_TAGS_MAX][BENCH_TAG_BYTES];
static char *tags[BENCH_TAGS_MAX];

/* Tag i of the mix; deterministic, so runs compare. */
static void tag_make(size_t i, char *buf, size_t size)
{
        unsigned major = (unsigned) (i / 400) % 25, minor = (unsigned) (i / 20) % 40;
        unsigned patch = (unsigned) i % 20;
        static const char *const words[] = { "latest", "stable", "edge", "alpine", "nightly", "sha-1a2b3c4" };

        switch (i % 10) {
        case 0:
                (void) snprintf(buf, size, "v%u.%u.%u", major, minor, patch);
                break;
        case 1:
                (void) snprintf(buf, size, "%u.%u.%u-alpine", major, minor, patch);
                break;
        case 2:
                (void) snprintf(buf, size, "%u.%u.%u-rc.%u", major, minor, patch, (unsigned) i % 7);
                break;
        case 3:
                (void) snprintf(buf, size, "%u.%u", major, minor);
                break;
        case 4:
                (void) snprintf(buf, size, "%u.%u.%u-armv6", major, minor, patch);
                break;
        case 5:
                (void) snprintf(buf, size, "%s-%zu", words[i % 6], i);
                break;
        case 6:
                (void) snprintf(buf, size, "%u.%u.%u.%u", major, minor, patch, (unsigned) i % 3);
                break;
        default:
                (void) snprintf(buf, size, "%u.%u.%u", major, minor, patch);
                break;
        }
}

static double now_ns(void)
{
        struct timespec ts;

        (void) clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double) ts.tv_sec * 1e9 + (double) ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *) a, y = *(const double *) b;

        return (x > y) - (x < y);
}

/* Median CPU time of one range_best over the first n tags, in microseconds; *best gets its answer. */
static double time_best(const struct bp_range *r, size_t n, const char **best)
{
        double runs[BENCH_RUNS];

        *best = range_best(r, tags, n); /* untimed: the first pass pays for cold caches */
        for (size_t k = 0; k < BENCH_RUNS; k++) {
                double t0 = now_ns();

                *best = range_best(r, tags, n);
                runs[k] = (now_ns() - t0) / 1e3;
        }
        qsort(runs, BENCH_RUNS, sizeof(runs[0]), cmp_double);
        return runs[BENCH_RUNS / 2];
}

int main(void)
{
        static const char *const ranges[] = { "^1.30", "~12.5.3", ">=3 <20", "1.30.x-alpine", ">=24.0.0-rc.1",
                                              "*", "latest" };

        for (size_t i = 0; i < BENCH_TAGS_MAX; i++) {
                tag_make(i, store[i], sizeof(store[i]));
                tags[i] = store[i];
        }
        printf("%-16s %13s %13s %7s  %s\n", "range", "1000 tags us", "10000 tags us", "ratio",
               "best of 10000");
        for (size_t k = 0; k < sizeof(ranges) / sizeof(ranges[0]); k++) {
                struct bp_range *r = NULL;
                struct bp_err err = { 0 };
                const char *b1, *b10;
                double t1, t10;

                if (range_parse(ranges[k], &r, &err) < 0) {
                        fprintf(stderr, "%s\n", err.msg);
                        return 1;
                }
                t1 = time_best(r, 1000, &b1);
                t10 = time_best(r, BENCH_TAGS_MAX, &b10);
                printf("%-16s %13.1f %13.1f %7.2f  %s\n", ranges[k], t1, t10, t10 / t1, b10 ? b10 : "(none)");
                range_free(r);
        }
        return 0;
}
