/* agent/http.c: see http.h. */
#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "clock.h"
#include "dl.h"
#include "text.h"

#ifndef BOARDPIN_VERSION
#define BOARDPIN_VERSION "unknown"
#endif

/* One transfer's life beyond its request: the easy handle of the attempt under way, when it may start. */
struct bp_http_xfer {
        struct bp_http_req *q;
        struct bp_http *h;
        CURL *curl;
        struct curl_slist *headers;
        char curl_error[CURL_ERROR_SIZE];
        int64_t not_before; /* CLOCK_MONOTONIC ms */
        int64_t first_start;
        int64_t backoff_spent;
        long retry_after; /* seconds, -1 when the answer had none */
        char shown[512];  /* the URL for messages: no userinfo */
        char host[320];   /* the URL's host[:port], for a 429's hold */
        size_t cap;
        bool too_big;
        struct bp_http_xfer *next;        /* in h->waiting */
        struct bp_http_xfer *next_active; /* in h->active, while an attempt is under way */
};

/* A host that answered 429: nothing goes to it before until. */
struct host_hold {
        char host[320];
        int64_t until;
};

struct bp_http {
        CURLM *multi;
        struct bp_http_xfer *waiting; /* queued or backing off, in submission order */
        struct bp_http_xfer *active;  /* attempts under way */
        bool submitted;               /* a transfer was queued since the last look */
        bool once;                    /* one attempt per transfer */
        unsigned running;
        int64_t deadline;
        uint64_t jitter;
        struct host_hold holds[16];
        size_t n_holds;
        unsigned attempts, connections;
};

uint64_t http_jitter_seed(const char *machine_id, uint64_t run_nonce)
{
        uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a over the machine id, then the run mixed in */

        for (const char *p = machine_id ? machine_id : ""; *p; p++)
                h = (h ^ (unsigned char) *p) * 0x100000001b3ULL;
        h ^= run_nonce + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
        return h ? h : 1;
}

/* splitmix64: small, and every seed gives a different sequence. */
static uint64_t next_random(uint64_t *state)
{
        uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

int64_t http_backoff_ms(unsigned attempt, uint64_t *state)
{
        unsigned shift = attempt > 0 ? attempt - 1 : 0;

        return ((int64_t) 250 << (shift > 10 ? 10 : shift)) + (int64_t) (next_random(state) % 250);
}

static uint64_t run_seed(void)
{
        char id[64] = "";
        uint64_t nonce = 0;
        _cleanup_close_ int fd = open("/etc/machine-id", O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

        if (fd >= 0) {
                ssize_t n = read(fd, id, sizeof(id) - 1);
                id[n > 0 ? n : 0] = '\0';
        }
        if (getrandom(&nonce, sizeof(nonce), GRND_NONBLOCK) != (ssize_t) sizeof(nonce))
                nonce = 0; /* early boot without entropy: pid and time still differ per run */
        nonce ^= ((uint64_t) getpid() << 32) ^ (uint64_t) clock_now_ms();
        {
                struct timespec ts;
                (void) clock_gettime(CLOCK_REALTIME, &ts);
                nonce ^= (uint64_t) ts.tv_nsec * 0x2545f4914f6cdd1dULL;
        }
        return http_jitter_seed(id, nonce);
}

int http_new(struct bp_http **ret, struct bp_err *err)
{
        static bool global_done;
        _cleanup_(http_freep) struct bp_http *h = NULL;
        int r = dl_curl(err);

        if (r < 0)
                return r;
        if (!global_done) {
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                        return bp_fail(err, -EIO, "libcurl would not initialize");
                /* CURLOPT_NOSIGNAL is set, so a write to a connection the server closed must not kill us. */
                (void) signal(SIGPIPE, SIG_IGN);
                global_done = true;
        }
        h = calloc(1, sizeof(*h));
        if (!h)
                return bp_fail(err, -ENOMEM, "out of memory");
        h->multi = curl_multi_init();
        if (!h->multi)
                /* cppcheck-suppress memleak ; cppcheck does not model _cleanup_ */
                return bp_fail(err, -ENOMEM, "out of memory");
        if (curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long) CURLPIPE_MULTIPLEX) != CURLM_OK ||
            curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long) HTTP_HOST_CONNECTIONS_MAX) != CURLM_OK)
                /* cppcheck-suppress memleak ; cppcheck does not model _cleanup_ */
                return bp_fail(err, -ENOTSUP, "libcurl refused a connection limit (CURLMOPT_*)");
        h->jitter = run_seed();
        *ret = steal_ptr(&h);
        return 0;
}

static void xfer_end_attempt(struct bp_http_xfer *x)
{
        if (x->curl) {
                struct bp_http_xfer **p = &x->h->active;
                while (*p && *p != x)
                        p = &(*p)->next_active;
                if (*p)
                        *p = x->next_active;
                (void) curl_multi_remove_handle(x->h->multi, x->curl);
                curl_easy_cleanup(x->curl);
                x->curl = NULL;
        }
        curl_slist_free_all(x->headers);
        x->headers = NULL;
}

void http_free(struct bp_http *h)
{
        if (!h)
                return;
        /* Transfers still open belong to callers that are gone: drop them without a callback. */
        while (h->waiting || h->active) {
                struct bp_http_xfer *x = h->waiting ? h->waiting : h->active;
                if (x == h->waiting)
                        h->waiting = x->next;
                xfer_end_attempt(x); /* takes x off h->active */
                x->q->xfer = NULL;
                free(x);
        }
        if (h->multi)
                (void) curl_multi_cleanup(h->multi);
        free(h);
}

void http_freep(struct bp_http **h)
{
        http_free(*h);
}

void http_set_deadline(struct bp_http *h, int64_t deadline_ms)
{
        h->deadline = deadline_ms;
}

void http_set_once(struct bp_http *h, bool once)
{
        h->once = once;
}

void http_counts(const struct bp_http *h, unsigned *ret_attempts, unsigned *ret_connections)
{
        *ret_attempts = h->attempts;
        *ret_connections = h->connections;
}

void http_req_reset(struct bp_http_req *q)
{
        free(q->body);
        q->body = NULL;
        q->len = 0;
        q->result = 0;
        q->err.msg[0] = '\0';
        q->status = 0;
        q->content_type[0] = q->digest[0] = q->www_auth[0] = q->link[0] = q->host[0] = '\0';
        q->attempts = 0;
}

/* The cap lives here, not in CURLOPT_MAXFILESIZE: Debian 12's libcurl 7.88 does not stop a chunked body. */
static size_t on_body(char *p, size_t size, size_t n, void *userdata)
{
        struct bp_http_xfer *x = userdata;
        struct bp_http_req *q = x->q;
        size_t k = size * n;

        if (q->len + k > q->max) {
                x->too_big = true;
                return 0;
        }
        if (q->len + k + 1 > x->cap) {
                size_t cap = x->cap ? x->cap : 4096;
                char *b;
                while (cap < q->len + k + 1)
                        cap *= 2;
                b = realloc(q->body, cap);
                if (!b)
                        return 0;
                q->body = b;
                x->cap = cap;
        }
        memcpy(q->body + q->len, p, k);
        q->len += k;
        q->body[q->len] = '\0';
        return k;
}

static void header_value(char *dst, size_t size, const char *line, size_t n, const char *name)
{
        size_t k = strlen(name);
        char tmp[HTTP_HEADER_MAX];

        if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
                return;
        n -= k + 1;
        if (n >= sizeof(tmp))
                return; /* an overlong header is not believed */
        memcpy(tmp, line + k + 1, n);
        tmp[n] = '\0';
        tmp[strcspn(tmp, "\r\n")] = '\0';
        /* The server's bytes: they reach messages, the terminal and the journal. */
        text_copy_clean(dst, size, text_trim(tmp));
}

static size_t on_header(char *p, size_t size, size_t n, void *userdata)
{
        struct bp_http_xfer *x = userdata;
        struct bp_http_req *q = x->q;
        size_t k = size * n;
        char ra[32] = "";

        if (k >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new response (redirect, 100): start over */
                q->content_type[0] = q->digest[0] = q->www_auth[0] = q->link[0] = '\0';
                x->retry_after = -1;
                q->len = 0;
        }
        header_value(q->content_type, sizeof(q->content_type), p, k, "Content-Type");
        header_value(q->digest, sizeof(q->digest), p, k, "Docker-Content-Digest");
        header_value(q->www_auth, sizeof(q->www_auth), p, k, "WWW-Authenticate");
        header_value(q->link, sizeof(q->link), p, k, "Link");
        header_value(ra, sizeof(ra), p, k, "Retry-After");
        if (ra[0])
                x->retry_after = http_retry_after_s(ra, (int64_t) time(NULL));
        return k;
}

static int64_t hold_until(const struct bp_http *h, const char *host)
{
        for (size_t i = 0; i < h->n_holds; i++)
                if (strcmp(h->holds[i].host, host) == 0)
                        return h->holds[i].until;
        return 0;
}

static void hold_host(struct bp_http *h, const char *host, int64_t until)
{
        size_t i = 0;

        while (i < h->n_holds && strcmp(h->holds[i].host, host) != 0)
                i++;
        if (i == h->n_holds) {
                if (h->n_holds == sizeof(h->holds) / sizeof(h->holds[0]))
                        return; /* only the transfer itself waits then */
                h->n_holds++;
                text_copy(h->holds[i].host, sizeof(h->holds[i].host), host);
                h->holds[i].until = 0;
        }
        if (until > h->holds[i].until)
                h->holds[i].until = until;
}

/* An HTTP date (RFC 9110 5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must
 * read) in seconds since the epoch, or -1. Not libcurl's curl_getdate(): on Debian 12's armhf it returns a
 * 32-bit time_t and cannot name a date past 2038, while this file is built with a 64-bit one. boardpin
 * never calls setlocale(), so day and month names are read in the C locale, as HTTP writes them. */
static int64_t http_date_s(const char *value)
{
        static const char *const forms[] = {
                "%a, %d %b %Y %H:%M:%S GMT", /* Sun, 06 Nov 1994 08:49:37 GMT */
                "%A, %d-%b-%y %H:%M:%S GMT", /* Sunday, 06-Nov-94 08:49:37 GMT */
                "%a %b %e %H:%M:%S %Y",      /* Sun Nov  6 08:49:37 1994 */
        };

        for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
                struct tm tm = { 0 };
                const char *end = strptime(value, forms[i], &tm);
                time_t t;

                if (!end || *end != '\0')
                        continue;
                t = timegm(&tm);
                if (t != (time_t) -1)
                        return (int64_t) t;
        }
        return -1;
}

long http_retry_after_s(const char *value, int64_t now_s)
{
        unsigned long long v;
        int64_t delta, t;

        if (text_parse_u64(value, 10, 86400, &v) == 0)
                return (long) v;
        if (value[0] >= '0' && value[0] <= '9' && !strpbrk(value, " ,:"))
                return 86400; /* a number too large for text_parse_u64: no date is all digits */
        t = http_date_s(value);
        if (t < 0)
                return 86400;
        delta = t - now_s;
        return delta <= 0 ? 0 : delta > 86400 ? 86400 : (long) delta;
}

/* url parsed by libcurl, or NULL. */
static CURLU *url_parse(const char *url)
{
        CURLU *u = curl_url();

        if (u && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
                curl_url_cleanup(u);
                return NULL;
        }
        return u;
}

void http_url_host(const char *url, char *ret, size_t size)
{
        CURLU *u = url_parse(url);
        char *host = NULL, *port = NULL;

        ret[0] = '\0';
        if (u && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
                bool has_port = curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK;
                if ((size_t) snprintf(ret, size, "%s%s%s", host, has_port ? ":" : "", has_port ? port : "") >= size)
                        ret[0] = '\0';
        }
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(u);
}

void http_url_display(const char *url, char *ret, size_t size)
{
        CURLU *u = url_parse(url);
        char *s = NULL;

        if (u && curl_url_set(u, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
            curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
            curl_url_set(u, CURLUPART_OPTIONS, NULL, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK)
                text_copy_clean(ret, size, s);
        else
                text_copy(ret, size, "(unparsable URL)");
        curl_free(s);
        curl_url_cleanup(u);
}

static void finish(struct bp_http_xfer *x)
{
        struct bp_http_req *q = x->q;

        xfer_end_attempt(x);
        q->xfer = NULL;
        free(x);
        if (q->done)
                q->done(q, q->userdata);
}

static int start_attempt(struct bp_http *h, struct bp_http_xfer *x, int64_t now)
{
        struct bp_http_req *q = x->q;
        int64_t timeout_ms = (int64_t) q->timeout_s * 4000;
        long connect_s = q->timeout_s < 10 ? q->timeout_s : 10;
        CURL *c;

        if (h->deadline > 0 && h->deadline - now < timeout_ms)
                timeout_ms = h->deadline - now;
        if (timeout_ms < 1)
                timeout_ms = 1;
        c = x->curl = curl_easy_init();
        if (!c)
                return bp_fail(&q->err, -ENOMEM, "out of memory");
        if (q->accept) {
                char line[1024];
                struct curl_slist *l;
                (void) snprintf(line, sizeof(line), "Accept: %s", q->accept);
                l = curl_slist_append(NULL, line);
                if (!l)
                        return bp_fail(&q->err, -ENOMEM, "out of memory");
                x->headers = l;
        }
        for (size_t i = 0; q->headers && q->headers[i]; i++) {
                struct curl_slist *l = curl_slist_append(x->headers, q->headers[i]);

                if (!l)
                        return bp_fail(&q->err, -ENOMEM, "out of memory");
                x->headers = l;
        }
        x->too_big = false;
        x->retry_after = -1;
        x->curl_error[0] = '\0';
        q->len = 0;
        /* Each option's result counts: an option this libcurl does not know (CURLE_UNKNOWN_OPTION) would
         * otherwise leave, say, the protocol restriction out without a word. */
#define SET(opt, val)                                                                                   \
        do {                                                                                            \
                CURLcode cc_ = curl_easy_setopt(c, opt, val);                                           \
                if (cc_ != CURLE_OK)                                                                    \
                        return bp_fail(&q->err, -ENOTSUP, "libcurl refused " #opt ": %s",               \
                                       curl_easy_strerror(cc_));                                        \
        } while (0)
        SET(CURLOPT_PRIVATE, x);
        SET(CURLOPT_URL, q->url);
        SET(CURLOPT_NOSIGNAL, 1L);
        SET(CURLOPT_ERRORBUFFER, x->curl_error);
        SET(CURLOPT_PROTOCOLS_STR, "http,https");
        SET(CURLOPT_FOLLOWLOCATION, q->no_redirect ? 0L : 1L);
        SET(CURLOPT_MAXREDIRS, (long) HTTP_REDIRECTS_MAX);
        /* An https registry is never read over plain HTTP, whatever its redirects say. */
        SET(CURLOPT_REDIR_PROTOCOLS_STR, q->https_only ? "https" : "http,https");
        SET(CURLOPT_CONNECTTIMEOUT_MS, connect_s * 1000 < timeout_ms ? connect_s * 1000 : (long) timeout_ms);
        SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
        SET(CURLOPT_LOW_SPEED_TIME, q->timeout_s);
        SET(CURLOPT_TIMEOUT_MS, (long) timeout_ms);
        SET(CURLOPT_USERAGENT, "boardpin/" BOARDPIN_VERSION);
        SET(CURLOPT_WRITEFUNCTION, on_body);
        SET(CURLOPT_WRITEDATA, x);
        SET(CURLOPT_HEADERFUNCTION, on_header);
        SET(CURLOPT_HEADERDATA, x);
        SET(CURLOPT_SSL_VERIFYPEER, 1L);
        SET(CURLOPT_SSL_VERIFYHOST, 2L);
        SET(CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
        /* Wait for a connection that may multiplex rather than open another one beside it. */
        SET(CURLOPT_PIPEWAIT, 1L);
        if (q->ca_file)
                SET(CURLOPT_CAINFO, q->ca_file);
        if (x->headers)
                SET(CURLOPT_HTTPHEADER, x->headers);
        if (strcmp(q->method, "HEAD") == 0)
                SET(CURLOPT_NOBODY, 1L);
        else if (q->post)
                SET(CURLOPT_POSTFIELDS, q->post);
        /* libcurl sends these to the URL's own host only; a redirect elsewhere goes without them. */
        if (q->cred == BP_HTTP_CRED_BASIC) {
                SET(CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
                SET(CURLOPT_USERNAME, q->user);
                SET(CURLOPT_PASSWORD, q->password);
        } else if (q->cred == BP_HTTP_CRED_BEARER) {
                SET(CURLOPT_HTTPAUTH, (long) CURLAUTH_BEARER);
                SET(CURLOPT_XOAUTH2_BEARER, q->bearer);
        }
#undef SET
        if (curl_multi_add_handle(h->multi, c) != CURLM_OK)
                return bp_fail(&q->err, -ENOMEM, "out of memory");
        q->attempts++;
        h->attempts++;
        h->running++;
        x->next_active = h->active;
        h->active = x;
        return 0;
}

/* libcurl's detail ("SSL: certificate subject name 'wrong.example' does not match …") when it has one. */
static const char *curl_why(struct bp_http_xfer *x, CURLcode cc, char *buf, size_t size)
{
        text_copy_clean(buf, size, x->curl_error[0] ? x->curl_error : curl_easy_strerror(cc));
        return buf;
}

/* Worth another try. A timeout is not: a server that stalled once stalls again, and each try would cost the
 * whole low-speed limit on the boot path. */
static bool curl_transient(CURLcode cc)
{
        return cc == CURLE_COULDNT_CONNECT || cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR ||
               cc == CURLE_GOT_NOTHING || cc == CURLE_PARTIAL_FILE || cc == CURLE_HTTP2 || cc == CURLE_HTTP2_STREAM;
}

static void requeue(struct bp_http *h, struct bp_http_xfer *x, int64_t not_before)
{
        struct bp_http_xfer **p = &h->waiting;

        xfer_end_attempt(x);
        x->not_before = not_before;
        while (*p)
                p = &(*p)->next;
        x->next = NULL;
        *p = x;
}

/* One attempt ended: done, or another one later. */
static void attempt_done(struct bp_http *h, struct bp_http_xfer *x, CURLcode cc)
{
        struct bp_http_req *q = x->q;
        int64_t now = clock_now_ms(), wait;
        long conns = 0;
        char *eff = NULL, why[CURL_ERROR_SIZE];

        h->running--;
        if (curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &q->status) != CURLE_OK && cc == CURLE_OK)
                cc = CURLE_BAD_FUNCTION_ARGUMENT; /* an answer without its status is none */
        if (curl_easy_getinfo(x->curl, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK && conns > 0)
                h->connections += (unsigned) conns;
        if (curl_easy_getinfo(x->curl, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff)
                http_url_host(eff, q->host, sizeof(q->host));
        if (cc == CURLE_WRITE_ERROR && x->too_big) {
                q->result = bp_fail(&q->err, -EFBIG, "%s: response larger than %zu bytes", x->shown, q->max);
                return finish(x);
        }
        if (cc == CURLE_TOO_MANY_REDIRECTS) {
                q->result = bp_fail(&q->err, -ELOOP, "%s: more than %d redirects", x->shown, HTTP_REDIRECTS_MAX);
                return finish(x);
        }
        if (cc == CURLE_UNSUPPORTED_PROTOCOL && q->https_only) {
                q->result = bp_fail(&q->err, -EPERM, "%s: redirect away from https refused (%s)", x->shown,
                                    curl_why(x, cc, why, sizeof(why)));
                return finish(x);
        }
        if (cc != CURLE_OK && !curl_transient(cc)) {
                q->result = bp_fail(&q->err, cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO, "%s: %s", x->shown,
                                    curl_why(x, cc, why, sizeof(why)));
                return finish(x);
        }
        if (cc == CURLE_OK && q->status == 429) {
                long ra = x->retry_after >= 0 ? x->retry_after : 1;
                if (h->once || q->once || ra > HTTP_RETRY_AFTER_MAX_S ||
                    (h->deadline > 0 && now + ra * 1000 > h->deadline)) {
                        q->result = bp_fail(&q->err, -EAGAIN, "%s: rate limited (HTTP 429), retry after %lds",
                                            x->shown, ra);
                        return finish(x);
                }
                wait = ra * 1000;
                hold_host(h, x->host, now + wait); /* the whole host asked for the pause */
        } else if (cc != CURLE_OK || q->status >= 500) {
                wait = http_backoff_ms(q->attempts, &h->jitter);
        } else {
                q->result = 0;
                return finish(x);
        }
        if (h->once || q->once || q->attempts > HTTP_RETRIES_MAX ||
            x->backoff_spent + wait > HTTP_RETRY_BUDGET_MS || (h->deadline > 0 && now + wait >= h->deadline)) {
                if (cc != CURLE_OK)
                        q->result = bp_fail(&q->err, -EIO, "%s: %s (after %u attempts)", x->shown,
                                            curl_why(x, cc, why, sizeof(why)), q->attempts);
                else
                        q->result = bp_fail(&q->err, -EIO, "%s: HTTP %ld (after %u attempts)", x->shown, q->status,
                                            q->attempts);
                return finish(x);
        }
        x->backoff_spent += wait;
        requeue(h, x, now + wait);
}

void http_submit(struct bp_http *h, struct bp_http_req *q)
{
        struct bp_http_xfer *x = calloc(1, sizeof(*x));

        http_req_reset(q);
        if (!x) {
                q->result = bp_fail(&q->err, -ENOMEM, "out of memory");
                if (q->done)
                        q->done(q, q->userdata);
                return;
        }
        x->q = q;
        x->h = h;
        http_url_display(q->url, x->shown, sizeof(x->shown));
        http_url_host(q->url, x->host, sizeof(x->host));
        q->xfer = x;
        requeue(h, x, 0);
        h->submitted = true;
}

/* Start what may start now; the time until the next one may, or -1 when none waits. */
static int64_t start_due(struct bp_http *h)
{
        int64_t now = clock_now_ms(), next = -1;
        struct bp_http_xfer **p = &h->waiting;

        while (*p) {
                struct bp_http_xfer *x = *p;
                int64_t due = x->not_before > hold_until(h, x->host) ? x->not_before : hold_until(h, x->host);

                if (h->deadline > 0 && now >= h->deadline) {
                        *p = x->next;
                        x->q->result = bp_fail(&x->q->err, -ETIMEDOUT,
                                               "%s: timed out: the run's deadline passed before it could be sent",
                                               x->shown);
                        finish(x);
                        continue;
                }
                if (due > now) {
                        if (next < 0 || due - now < next)
                                next = due - now;
                        p = &x->next;
                        continue;
                }
                *p = x->next;
                int r = start_attempt(h, x, now);
                if (r < 0) {
                        x->q->result = r;
                        finish(x);
                        continue;
                }
        }
        return next;
}

/* The multi handle itself failed: every transfer still open ends with that error. */
static void fail_all(struct bp_http *h, const struct bp_err *err)
{
        while (h->waiting) {
                struct bp_http_xfer *x = h->waiting;
                h->waiting = x->next;
                x->q->err = *err;
                x->q->result = -EIO;
                finish(x);
        }
        while (h->active) {
                struct bp_http_xfer *x = h->active;
                h->running--;
                x->q->err = *err;
                x->q->result = -EIO;
                finish(x); /* takes x off h->active */
        }
}

int http_run(struct bp_http *h, struct bp_err *err)
{
        for (;;) {
                int64_t next = start_due(h);
                int still = 0, left;
                CURLMcode mc;
                CURLMsg *m;

                if (h->running == 0 && !h->waiting)
                        return 0;
                mc = curl_multi_perform(h->multi, &still);
                while (mc == CURLM_OK && (m = curl_multi_info_read(h->multi, &left))) {
                        struct bp_http_xfer *x = NULL;
                        if (m->msg != CURLMSG_DONE)
                                continue;
                        if (curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **) &x) != CURLE_OK || !x) {
                                mc = CURLM_INTERNAL_ERROR; /* a transfer that is not ours: libcurl is broken */
                                break;
                        }
                        attempt_done(h, x, m->data.result); /* may submit more */
                }
                /* What the callbacks just queued goes out now, not after the next unrelated answer: each
                 * step of a chain is a round trip of its own, and waiting here would add one. */
                if (mc == CURLM_OK && h->submitted) {
                        h->submitted = false;
                        continue;
                }
                if (mc == CURLM_OK && h->running > 0)
                        mc = curl_multi_poll(h->multi, NULL, 0, next >= 0 && next < 1000 ? (int) next : 1000, NULL);
                else if (mc == CURLM_OK && next > 0)
                        clock_sleep_ms(next);
                if (mc != CURLM_OK) {
                        bp_fail(err, -EIO, "libcurl: %s", curl_multi_strerror(mc));
                        fail_all(h, err);
                        return -EIO;
                }
        }
}
