/* agent/http.h: HTTP exchanges over libcurl's multi interface. Many transfers run at once on shared, reused
 * connections: HTTP/2 multiplexed where the server offers it, at most HTTP_HOST_CONNECTIONS_MAX connections
 * per host. Each transfer has its body capped in the write callback, is retried with backoff and per-run
 * jitter on network errors and 5xx, and waits out a 429's Retry-After, which holds back every transfer to
 * that host. One deadline, when set, covers the whole run: every attempt, wait and Retry-After. Redirects and
 * credentials are libcurl's: a redirect never leaves https for a request that asked for https only, and
 * libcurl sends credentials only to the request's own host, port and scheme. Knows nothing of registries,
 * tokens or manifests. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define HTTP_RETRIES_MAX 4         /* attempts after the first, for network errors and 5xx */
#define HTTP_RETRY_BUDGET_MS 15000 /* total backoff one transfer may spend */
#define HTTP_RETRY_AFTER_MAX_S 30  /* a longer 429 Retry-After is an error, not a wait */
#define HTTP_REDIRECTS_MAX 3
/* Per host: a multiplexing server needs one; an HTTP/1.1 registry gets this many requests at a time. */
#define HTTP_HOST_CONNECTIONS_MAX 6
#define HTTP_HEADER_MAX 2048 /* a longer header value is not believed */

enum bp_http_cred {
        BP_HTTP_CRED_NONE,
        BP_HTTP_CRED_BASIC,  /* user + password */
        BP_HTTP_CRED_BEARER, /* bearer */
};

struct bp_http;
struct bp_http_req;

typedef void (*bp_http_done_fn)(struct bp_http_req *q, void *userdata);

/* One request and, once done, its answer. The caller owns it and keeps it alive until done is called. */
struct bp_http_req {
        /* Set by the caller. Strings are borrowed until done. */
        const char *method; /* "GET", "HEAD" or "POST" */
        const char *url;
        const char *accept;  /* Accept header, or NULL */
        const char *post;    /* POST body, or NULL */
        const char *const *headers; /* more request headers, "Name: value" each, NULL-terminated, or NULL */
        size_t max;          /* body cap in bytes */
        bool https_only;     /* redirects may not leave https */
        const char *ca_file; /* extra CA bundle, or NULL */
        long timeout_s;      /* connect and low-speed limit of one attempt */
        bool once;           /* one attempt, as http_set_once() for this request only (a mirror: the
                              * registry behind it is the retry) */
        bool no_redirect;    /* a 3xx is the answer, not followed (a health check) */
        enum bp_http_cred cred;
        const char *user, *password, *bearer;
        bp_http_done_fn done;
        void *userdata;

        /* The answer. result 0: an HTTP response (any status); < 0: none, err says why, naming the URL
         * without its userinfo. Header values are cleaned for display (text_copy_clean): they are the
         * server's bytes. */
        int result;
        struct bp_err err;
        long status;
        char *body; /* NUL-terminated (not counted in len); owned, or NULL */
        size_t len;
        char content_type[128];
        char digest[128]; /* Docker-Content-Digest */
        char www_auth[HTTP_HEADER_MAX];
        char link[HTTP_HEADER_MAX];
        char host[320]; /* host[:port] that answered, after redirects */
        unsigned attempts;

        struct bp_http_xfer *xfer; /* private */
};

/* A new engine with no transfers; loads libcurl. */
int http_new(struct bp_http **ret, struct bp_err *err);
void http_free(struct bp_http *h);
void http_freep(struct bp_http **h);

/* End of the run on CLOCK_MONOTONIC (clock_now_ms()); 0: none. No attempt, backoff or Retry-After reaches
 * past it: each attempt's timeout is cut to the time left. */
void http_set_deadline(struct bp_http *h, int64_t deadline_ms);

/* once: every transfer gets one attempt only (with its own limits): no retry, backoff or Retry-After
 * wait. For a run that must not wait for the network at all (boot_wait = 0). */
void http_set_once(struct bp_http *h, bool once);

/* Queue q; it starts on the next http_run(). Its done callback may queue more. / */
void http_submit(struct bp_http *h, struct bp_http_req *q);

/* Run until every queued transfer is done, calling each one's done callback. 0, or -EIO when libcurl's multi
 * interface itself failed (then every transfer still open is done with that error). */
int http_run(struct bp_http *h, struct bp_err *err);

/* Free q's body and clear its answer, so it can be submitted again. */
void http_req_reset(struct bp_http_req *q);

/* Transfers started so far (attempts, each on a new or reused connection), and TCP connections opened. */
void http_counts(const struct bp_http *h, unsigned *ret_attempts, unsigned *ret_connections);

/* url for a message: without user or password (a secret must not reach the journal), cleaned for display.
 * Parsed by libcurl (loaded by then: http_new); a URL it cannot parse is shown as "(unparsable URL)". */
void http_url_display(const char *url, char *ret, size_t size);

/* host[:port] of url as libcurl reads it (the port only when the URL names one), or "" when it cannot parse it. */
void http_url_host(const char *url, char *ret, size_t size);

/* Seconds a Retry-After value asks for at now_s (seconds since the epoch): delta-seconds, or an HTTP date
 * (IMF-fixdate, RFC 850, asctime) counted from now_s, 0 for one in the past. 86400 (a day) for anything
 * longer or unreadable. */
long http_retry_after_s(const char *value, int64_t now_s);

/* Retry jitter: a state seeded from the machine's identity (/etc/machine-id) and this run (getrandom, pid,
 * time), so boards of a fleet that lost their registry together do not retry in lockstep. */
uint64_t http_jitter_seed(const char *machine_id, uint64_t run_nonce);
/* Backoff before attempt (1-based) under state: 250 ms doubling, plus 0..249 ms of jitter. */
int64_t http_backoff_ms(unsigned attempt, uint64_t *state);
