/* agent/metrics.c: see metrics.h. The format is Prometheus text exposition 0.0.4: every family has HELP
 * and TYPE lines and its samples together, no timestamps (the textfile collector refuses them), and
 * label values escape backslash, double quote and newline. */
#include "metrics.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "fsio.h"
#include "hold.h"
#include "text.h"

/* The commands that write the file, in the order their runs are listed. */
static const char *const commands[] = { "boot", "resolve", "upgrade" };
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* A carried line is one of ours, and short (ours are under 100 bytes). */
#define CARRIED_LINE_MAX 160

enum run_family {
        RUN_TIME,
        RUN_DURATION,
        RUN_REQUESTS,
        RUN_EXIT,
        RUN_FAMILIES_,
};

static const char *const run_names[RUN_FAMILIES_] = {
        [RUN_TIME] = "boardpin_run_timestamp_seconds",
        [RUN_DURATION] = "boardpin_run_duration_seconds",
        [RUN_REQUESTS] = "boardpin_run_requests",
        [RUN_EXIT] = "boardpin_run_exit_status",
};

static const char *const run_help[RUN_FAMILIES_] = {
        [RUN_TIME] = "When the last run of each command ended, in seconds since the epoch.",
        [RUN_DURATION] = "How long the last run of each command took, in seconds.",
        [RUN_REQUESTS] = "Registry requests the last run of each command made, by kind.",
        [RUN_EXIT] = "The exit status of the last run of each command: 0 all good, 1 a service failed, "
                     "2 usage or config error.",
};

const char *metrics_escape(const char *s, char *buf, size_t size)
{
        size_t k = 0;

        for (; *s; s++) {
                const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
                size_t n = esc ? 2 : 1;

                if (k + n >= size)
                        break;
                if (esc)
                        memcpy(buf + k, esc, 2);
                else
                        buf[k] = *s;
                k += n;
        }
        if (size > 0)
                buf[k] = '\0';
        return buf;
}

static void family(FILE *f, const char *name, const char *help)
{
        fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

static int by_service(const void *a, const void *b)
{
        const struct bp_lock_entry *const *x = a, *const *y = b;

        return strcmp((*x)->service, (*y)->service);
}

/* One sample per service; has(e) false leaves a service out of the family. */
typedef bool (*sample_fn)(FILE *f, const struct bp_lock_entry *e, const char *service);

static void per_service(FILE *f, const struct bp_lock_entry *const *v, size_t n, const char *name, const char *help,
                        sample_fn fn)
{
        char service[2 * SERVICE_NAME_MAX];

        family(f, name, help);
        for (size_t i = 0; i < n; i++)
                (void) fn(f, v[i], metrics_escape(v[i]->service, service, sizeof(service)));
}

static bool pin_info(FILE *f, const struct bp_lock_entry *e, const char *service)
{
        char platform[2 * RULES_NAME_MAX], digest[2 * REF_DIGEST_MAX];

        fprintf(f, "boardpin_pin_info{service=\"%s\",platform=\"%s\",digest=\"%s\"} 1\n", service,
                metrics_escape(e->pin.platform, platform, sizeof(platform)),
                metrics_escape(e->pin.digest, digest, sizeof(digest)));
        return true;
}

static bool held(FILE *f, const struct bp_lock_entry *e, const char *service)
{
        fprintf(f, "boardpin_held{service=\"%s\"} %d\n", service, e->has_held ? 1 : 0);
        return true;
}

static bool hold_code(FILE *f, const struct bp_lock_entry *e, const char *service)
{
        /* A hold an older boardpin wrote has no code: counted, under a name of the same fixed set. */
        const char *code = hold_name(e->held_code) ? hold_name(e->held_code) : "unknown";

        if (!e->has_held)
                return false;
        fprintf(f, "boardpin_hold{service=\"%s\",code=\"%s\"} 1\n", service, code);
        return true;
}

static bool bad(FILE *f, const struct bp_lock_entry *e, const char *service)
{
        fprintf(f, "boardpin_bad_digests{service=\"%s\"} %zu\n", service, e->n_bad);
        return true;
}

static bool pulled(FILE *f, const struct bp_lock_entry *e, const char *service)
{
        fprintf(f, "boardpin_pulled_images{service=\"%s\"} %zu\n", service, e->n_pulled);
        return true;
}

static bool upgraded(FILE *f, const struct bp_lock_entry *e, const char *service)
{
        if (e->upgraded_s <= 0)
                return false;
        fprintf(f, "boardpin_last_upgrade_timestamp_seconds{service=\"%s\"} %lld\n", service,
                (long long) e->upgraded_s);
        return true;
}

static bool check_passed(FILE *f, const struct bp_lock_entry *e, const char *service)
{
        if (e->checked_s <= 0)
                return false;
        fprintf(f, "boardpin_last_check_passed{service=\"%s\"} %d\n", service, e->check_passed ? 1 : 0);
        return true;
}

static bool check_time(FILE *f, const struct bp_lock_entry *e, const char *service)
{
        if (e->checked_s <= 0)
                return false;
        fprintf(f, "boardpin_last_check_timestamp_seconds{service=\"%s\"} %lld\n", service,
                (long long) e->checked_s);
        return true;
}

/* The samples of this run for family k. */
static void run_samples(FILE *f, enum run_family k, const struct metrics_run *run)
{
        const struct {
                const char *kind;
                unsigned n;
        } kinds[] = {
                { "head", run->heads },          { "get", run->gets },     { "blob", run->blobs },
                { "tag_pages", run->tag_pages }, { "token", run->tokens },
        };
        const char *name = run_names[k];

        switch (k) {
        case RUN_TIME:
                fprintf(f, "%s{command=\"%s\"} %lld\n", name, run->command, (long long) run->time_s);
                break;
        case RUN_DURATION:
                fprintf(f, "%s{command=\"%s\"} %lld.%03lld\n", name, run->command,
                        (long long) (run->duration_ms / 1000), (long long) (run->duration_ms % 1000));
                break;
        case RUN_REQUESTS:
                for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
                        fprintf(f, "%s{command=\"%s\",kind=\"%s\"} %u\n", name, run->command, kinds[i].kind,
                                kinds[i].n);
                break;
        default:
                fprintf(f, "%s{command=\"%s\"} %d\n", name, run->command, run->exit_status);
                break;
        }
}

/* A value as run_samples() writes one: digits, at most one '.', nothing after (a timestamp after a
 * space would make the collector refuse the whole file). */
static bool value_ok(const char *p, size_t n)
{
        size_t digits = strspn(p, "0123456789");

        if (digits == 0 || digits > 20 || digits > n)
                return false;
        if (digits == n)
                return true;
        return p[digits] == '.' && n - digits - 1 >= 1 && n - digits - 1 <= 3 &&
               strspn(p + digits + 1, "0123456789") >= n - digits - 1;
}

/* Whether line (n bytes, no newline) is a sample of family name for command exactly as run_samples()
 * writes one: the labels of the family and a plain value. */
static bool carried_ok(const char *line, size_t n, const char *name, const char *command)
{
        static const char *const kinds[] = { "head", "get", "blob", "tag_pages", "token" };
        char head[128];

        if (n >= CARRIED_LINE_MAX)
                return false;
        if (strcmp(name, run_names[RUN_REQUESTS]) != 0) {
                int k = snprintf(head, sizeof(head), "%s{command=\"%s\"} ", name, command);

                return k > 0 && (size_t) k < n && strncmp(line, head, (size_t) k) == 0 &&
                       value_ok(line + k, n - (size_t) k);
        }
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
                int k = snprintf(head, sizeof(head), "%s{command=\"%s\",kind=\"%s\"} ", name, command, kinds[i]);

                if (k > 0 && (size_t) k < n && strncmp(line, head, (size_t) k) == 0)
                        return value_ok(line + k, n - (size_t) k);
        }
        return false;
}

/* The lines of previous that are samples of family name for command, as an earlier run wrote them. */
static void carried(FILE *f, const char *previous, size_t len, const char *name, const char *command)
{
        const char *p = previous, *end;

        if (!previous)
                return;
        end = previous + len;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t n = nl ? (size_t) (nl - p) : (size_t) (end - p);

                if (nl && memchr(p, '\0', n) == NULL && carried_ok(p, n, name, command))
                        fprintf(f, "%.*s\n", (int) n, p);
                p += n + 1;
        }
}

int metrics_render(const struct bp_lock *l, const char *lock_path, const struct metrics_run *run,
                   const char *previous, size_t previous_len, char **ret, size_t *ret_len, struct bp_err *err)
{
        size_t n = l ? lock_count(l) : 0;
        _cleanup_free_ const struct bp_lock_entry **v = calloc(n + 1, sizeof(*v));
        char *text = NULL;
        size_t len = 0;
        bool known = false;
        FILE *f;

        for (size_t i = 0; i < N_COMMANDS; i++)
                known = known || strcmp(run->command, commands[i]) == 0;
        if (!known)
                return bp_fail(err, -EINVAL, "metrics: unknown command '%s'", run->command);
        if (!v || !(f = open_memstream(&text, &len)))
                return bp_fail(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
                v[i] = lock_entry(l, i);
        qsort(v, n, sizeof(*v), by_service);
        fprintf(f, "# generated by boardpin from %s - do not edit\n", lock_path);
        per_service(f, v, n, "boardpin_pin_info",
                    "The digest each service is pinned to, and its platform; always 1.", pin_info);
        per_service(f, v, n, "boardpin_held", "1 when the last upgrade saw a new digest and did not take it.",
                    held);
        per_service(f, v, n, "boardpin_hold",
                    "Why a held service's new digest was not taken, as a code (bad, too_young, phase, "
                    "unconfirmed, unsigned, low_disk, monitor_only, unknown); always 1.",
                    hold_code);
        per_service(f, v, n, "boardpin_bad_digests", "Digests on the service's bad list (they failed here).", bad);
        per_service(f, v, n, "boardpin_pulled_images", "Images of the service that boardpin pulled and keeps.",
                    pulled);
        per_service(f, v, n, "boardpin_last_upgrade_timestamp_seconds",
                    "When an upgrade last switched the service to a new digest and kept it.", upgraded);
        per_service(f, v, n, "boardpin_last_check_passed",
                    "1 when the last check of an upgrade (restart, units active, health) passed, 0 when it failed.",
                    check_passed);
        per_service(f, v, n, "boardpin_last_check_timestamp_seconds", "When the last check of an upgrade ran.",
                    check_time);
        for (size_t k = 0; k < RUN_FAMILIES_; k++) {
                family(f, run_names[k], run_help[k]);
                for (size_t i = 0; i < N_COMMANDS; i++)
                        if (strcmp(commands[i], run->command) == 0)
                                run_samples(f, (enum run_family) k, run);
                        else
                                carried(f, previous, previous_len, run_names[k], commands[i]);
        }
        if (ferror(f) | fclose(f)) {
                free(text);
                return bp_fail(err, -ENOMEM, "metrics: out of memory");
        }
        *ret = text;
        *ret_len = len;
        return 0;
}

int metrics_write(const char *path, const struct bp_lock *l, const char *lock_path, const struct metrics_run *run,
                  struct bp_err *err)
{
        _cleanup_free_ char *previous = NULL, *text = NULL;
        const char *slash = strrchr(path, '/');
        char dir[PATH_MAX];
        size_t previous_len = 0, len;
        int r;

        if (path[0] != '/' || !slash || (size_t) (slash - path) >= sizeof(dir))
                return bp_fail(err, -EINVAL, "metrics: '%s' is not an absolute path", path);
        text_copy(dir, (size_t) (slash - path) + 1, path);
        if (!dir[0])
                text_copy(dir, sizeof(dir), "/");
        /* The other commands' last runs come from the file as it is; one that cannot be read starts over. */
        if (fsio_read(path, METRICS_MAX_BYTES, &previous, &previous_len, NULL) < 0)
                previous_len = 0;
        r = metrics_render(l, lock_path, run, previous, previous_len, &text, &len, err);
        if (r < 0)
                return r;
        r = fsio_write_atomic(dir, slash + 1, text, len, 0644, err);
        if (r < 0)
                return bp_err_prefix(err, r, "metrics: ");
        return 0;
}
