/* agent/health.c: see health.h. */
#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "clock.h"
#include "dl.h"
#include "health.h"
#include "subprocess.h"
#include "text.h"

static size_t discard(char *p, size_t size, size_t n, void *userdata)
{
        (void) p;
        (void) userdata;
        return size * n;
}

static int64_t attempt_ms(int64_t deadline)
{
        int64_t left = deadline - clock_now_ms();

        return left > HEALTH_ATTEMPT_MAX_MS ? HEALTH_ATTEMPT_MAX_MS : left < 1 ? 1 : left;
}

static int http_once(CURL *c, const char *url, int64_t deadline, struct bp_err *err)
{
        char why[CURL_ERROR_SIZE] = "";
        long code = 0;
        CURLcode cc;

        (void) curl_easy_setopt(c, CURLOPT_URL, url);
        (void) curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        (void) curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        (void) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long) attempt_ms(deadline));
        (void) curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        (void) curl_easy_setopt(c, CURLOPT_ERRORBUFFER, why);
        cc = curl_easy_perform(c);
        if (cc != CURLE_OK)
                return bp_fail(err, -EHOSTDOWN, "%s: %s", url, why[0] ? why : curl_easy_strerror(cc));
        (void) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (code < 200 || code > 299)
                return bp_fail(err, -EHOSTDOWN, "%s: HTTP %ld", url, code);
        return 0;
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
        CURL *c = NULL;
        int r;

        if (!http && !text_has_prefix(spec, "exec:"))
                return bp_fail(err, -EINVAL, "health '%s' is neither http(s):// nor exec:", spec);
        if (http) {
                r = dl_curl(err);
                if (r < 0)
                        return r;
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                        return bp_fail(err, -ENOMEM, "libcurl could not start");
                c = curl_easy_init();
                if (!c)
                        return bp_fail(err, -ENOMEM, "out of memory");
        }
        for (;;) {
                r = http ? http_once(c, spec, deadline, err) : exec_once(spec + strlen("exec:"), deadline, err);
                if (r == 0 || !retryable(r) || clock_now_ms() + HEALTH_RETRY_MS >= deadline)
                        break;
                clock_sleep_ms(HEALTH_RETRY_MS);
        }
        if (c)
                curl_easy_cleanup(c);
        return r;
}
