/* agent/health.c: see health.h. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "cleanup.h"
#include "clock.h"
#include "health.h"
#include "http.h"
#include "stop.h"
#include "subprocess.h"
#include "text.h"

static int64_t attempt_ms(int64_t deadline)
{
        int64_t left = deadline - clock_now_ms();

        return left > HEALTH_ATTEMPT_MAX_MS ? HEALTH_ATTEMPT_MAX_MS : left < 1 ? 1 : left;
}

/* One GET on the HTTP engine, with a registry's policy (protocols, TLS always verified, the body capped)
 * but no redirect and no retry of its own: the loop in health_check() is the retry. */
static int http_once(struct bp_http *h, const char *url, int64_t deadline, struct bp_err *err)
{
        struct bp_http_req q = {
                .method = "GET",
                .url = url,
                .max = HEALTH_BODY_MAX_BYTES,
                .https_only = text_has_prefix(url, "https://"),
                .timeout_s = HEALTH_ATTEMPT_MAX_MS / 1000,
                .once = true,
                .no_redirect = true,
        };
        char shown[512];
        int r;

        http_set_deadline(h, clock_now_ms() + attempt_ms(deadline));
        http_submit(h, &q);
        r = http_run(h, err);
        if (r == 0 && q.result < 0) {
                r = q.result;
                *err = q.err;
        } else if (r == 0 && (q.status < 200 || q.status > 299)) {
                http_url_display(url, shown, sizeof(shown));
                r = bp_fail(err, -EHOSTDOWN, "%s: HTTP %ld", shown, q.status);
        }
        http_req_reset(&q);
        /* No answer yet is what a service that is still starting gives; only a refused policy is final. */
        return r == -EIO || r == -ETIMEDOUT || r == -EAGAIN ? -EHOSTDOWN : r;
}

static int exec_once(const char *cmdline, int64_t deadline, struct bp_err *err)
{
        char buf[512], *argv[HEALTH_ARGS_MAX + 1], *save = NULL;
        size_t n = 0;
        int r;

        text_copy(buf, sizeof(buf), cmdline);
        for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
                if (n == HEALTH_ARGS_MAX)
                        return bp_fail(err, -E2BIG, "exec:%s: more than %d arguments", cmdline, HEALTH_ARGS_MAX);
                argv[n++] = t;
        }
        argv[n] = NULL;
        if (n == 0 || argv[0][0] != '/')
                return bp_fail(err, -EINVAL, "exec:%s: not an absolute path", cmdline);
        r = subprocess_run(argv, attempt_ms(deadline), /* on_line= */ NULL, NULL, err);
        if (r > 0)
                return bp_fail(err, -EHOSTDOWN, "exec:%s: exited with status %d", cmdline, r);
        return r;
}

/* A service that is not up yet answers badly or not at all; a health line that cannot run never will. */
static bool retryable(int r)
{
        return r == -EHOSTDOWN || r == -ETIMEDOUT || r == -ECHILD;
}

int health_check(const char *spec, int64_t timeout_ms, struct bp_err *err)
{
        int64_t deadline = clock_now_ms() + timeout_ms;
        bool http = text_has_prefix(spec, "http://") || text_has_prefix(spec, "https://");
        _cleanup_(http_freep) struct bp_http *h = NULL;
        int r;

        if (!http && !text_has_prefix(spec, "exec:"))
                return bp_fail(err, -EINVAL, "health is neither http(s):// nor exec:");
        if (http) {
                r = http_new(&h, err);
                if (r < 0)
                        return r;
        }
        for (;;) {
                r = http ? http_once(h, spec, deadline, err) : exec_once(spec + strlen("exec:"), deadline, err);
                if (r == 0 || !retryable(r) || clock_now_ms() + HEALTH_RETRY_MS >= deadline)
                        break;
                if (stop_requested()) /* SIGTERM: no next attempt, boardpin is putting the old pin back */
                        return bp_fail(err, -EINTR, "health check stopped: boardpin is stopping");
                clock_sleep_ms(HEALTH_RETRY_MS);
        }
        return r;
}
