/* agent/registry.c: see registry.h. */
#include "registry.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "authfile.h"
#include "challenge.h"
#include "cleanup.h"
#include "dl.h"
#include "manifest.h"
#include "rootfs.h"
#include "text.h"

#ifndef BOARDPIN_VERSION
#define BOARDPIN_VERSION "unknown"
#endif

#define TOKENS_MAX 64
#define TAGS_MAX 100000
#define TAG_PAGES_MAX 1000
#define TAGS_PAGE_MAX_BYTES (4 * 1024 * 1024)

struct token {
        char scope[512];
        char *value;
        struct timespec expires;        /* CLOCK_MONOTONIC */
};

struct bp_registry {
        char host[REF_DOMAIN_MAX];
        char base[REF_DOMAIN_MAX + 16];         /* "https://host", or "http://host" when insecure */
        char *ca_file;
        long timeout_s;
        CURL *curl;                             /* one handle: its connection is reused */
        char curl_error[CURL_ERROR_SIZE];       /* libcurl's detail for the last failure */
        bool have_creds;
        struct bp_credentials creds;
        struct bp_challenge challenge;          /* the last one the registry sent; scheme NONE before */
        struct token tokens[TOKENS_MAX];
        size_t n_tokens;
        char wanted[TOKENS_MAX][REF_PATH_MAX + 32];     /* scopes the run will need: one token for all */
        size_t n_wanted;
        struct bp_registry_stats stats;
};

struct response {
        long status;
        char *body;
        size_t len, cap, max;
        bool too_big;
        char content_type[128];
        char digest[96];
        char www_auth[2048];
        char location[2048];
        char link[2048];
        long retry_after;
};

static void response_done(struct response *r)
{
        free(r->body);
        memset(r, 0, sizeof(*r));
}

void blob_done(struct bp_blob *b)
{
        free(b->data);
        memset(b, 0, sizeof(*b));
}

/* The cap lives here, not in CURLOPT_MAXFILESIZE: Debian 12's libcurl 7.88 does not stop a chunked body. */
static size_t on_body(char *p, size_t size, size_t n, void *userdata)
{
        struct response *r = userdata;
        size_t k = size * n;

        if (r->len + k > r->max) {
                r->too_big = true;
                return 0;
        }
        if (r->len + k + 1 > r->cap) {
                size_t cap = r->cap ? r->cap : 16384;
                char *q;
                while (cap < r->len + k + 1)
                        cap *= 2;
                q = realloc(r->body, cap);
                if (!q)
                        return 0;
                r->body = q;
                r->cap = cap;
        }
        memcpy(r->body + r->len, p, k);
        r->len += k;
        r->body[r->len] = '\0';
        return k;
}

static void header_value(char *dst, size_t size, const char *line, size_t n, const char *name)
{
        size_t k = strlen(name);
        char tmp[2048];

        if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
                return;
        n -= k + 1;
        if (n >= sizeof(tmp))
                return;                 /* an overlong header is not believed */
        memcpy(tmp, line + k + 1, n);
        tmp[n] = '\0';
        tmp[strcspn(tmp, "\r\n")] = '\0';
        text_copy(dst, size, text_trim(tmp));
}

static size_t on_header(char *p, size_t size, size_t n, void *userdata)
{
        struct response *r = userdata;
        size_t k = size * n;
        char ra[32] = "";

        if (k >= 5 && strncmp(p, "HTTP/", 5) == 0) {    /* a new response (after 100 Continue): start over */
                r->content_type[0] = r->digest[0] = r->www_auth[0] = r->location[0] = r->link[0] = '\0';
                r->retry_after = -1;
        }
        header_value(r->content_type, sizeof(r->content_type), p, k, "Content-Type");
        header_value(r->digest, sizeof(r->digest), p, k, "Docker-Content-Digest");
        header_value(r->www_auth, sizeof(r->www_auth), p, k, "WWW-Authenticate");
        header_value(r->location, sizeof(r->location), p, k, "Location");
        header_value(r->link, sizeof(r->link), p, k, "Link");
        header_value(ra, sizeof(ra), p, k, "Retry-After");
        if (ra[0]) {
                unsigned long long v;
                r->retry_after = text_parse_u64(ra, 10, 86400, &v) == 0 ? (long) v : RETRY_AFTER_MAX_S + 1;
        }
        return k;
}

static void sha256_digest(const void *data, size_t len, char ret[static REF_DIGEST_MAX])
{
        unsigned char md[32];
        unsigned int n = 0;

        (void) EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
        memcpy(ret, "sha256:", 7);
        for (unsigned i = 0; i < 32; i++)
                (void) snprintf(ret + 7 + 2 * i, 3, "%02x", md[i]);
}

static long now_ms(void)
{
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* "host[:port]" of an absolute URL in ret; "" when it has none. */
static void url_host(const char *url, char ret[static REF_DOMAIN_MAX + 8])
{
        CURLU *u = curl_url();
        char *h = NULL, *port = NULL;

        ret[0] = '\0';
        if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) {
                (void) curl_url_get(u, CURLUPART_PORT, &port, 0);
                (void) snprintf(ret, REF_DOMAIN_MAX + 8, "%.*s%s%.6s", REF_DOMAIN_MAX - 1, h, port ? ":" : "",
                                port ? port : "");
        }
        curl_free(h);
        curl_free(port);
        curl_url_cleanup(u);
}

/* base + relative Location -> absolute URL in ret (malloc'd). */
static int resolve_location(const char *base, const char *location, char **ret)
{
        CURLU *u = curl_url();
        char *s = NULL;
        int r = -EINVAL;

        if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
            curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK) {
                *ret = strdup(s);
                r = *ret ? 0 : -ENOMEM;
        }
        curl_free(s);
        curl_url_cleanup(u);
        return r;
}

/* One exchange, no retries, no redirects. *ret_curl gets libcurl's result. */
static int exchange(struct bp_registry *reg, const char *method, const char *url, const char *accept,
                    const char *authorization, const char *post, size_t max, struct response *resp,
                    CURLcode *ret_curl)
{
        struct curl_slist *h = NULL;
        char line[4096];
        CURL *c = reg->curl;
        CURLcode cc;

        response_done(resp);
        resp->max = max;
        resp->retry_after = -1;
        if (accept) {
                (void) snprintf(line, sizeof(line), "Accept: %s", accept);
                h = curl_slist_append(h, line);
        }
        if (authorization) {
                (void) snprintf(line, sizeof(line), "Authorization: %s", authorization);
                h = curl_slist_append(h, line);
        }
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
        if (post)
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
        else if (strcmp(method, "HEAD") != 0)
                curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
        reg->curl_error[0] = '\0';
        curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
        cc = curl_easy_perform(c);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(h);
        (void) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
        *ret_curl = cc;
        if (cc == CURLE_OK)
                return 0;
        if (cc == CURLE_WRITE_ERROR && resp->too_big)
                return -EFBIG;
        return -EIO;
}

/* libcurl's own detail ("SSL: certificate subject name 'wrong.example' does not match …") when it has one. */
static const char *curl_why(const struct bp_registry *reg, CURLcode cc)
{
        return reg->curl_error[0] ? reg->curl_error : curl_easy_strerror(cc);
}

/* Worth another try. A timeout is not: a registry that stalled once stalls again, and each try would
 * cost the whole low-speed limit on the boot path. */
static bool curl_transient(CURLcode cc)
{
        return cc == CURLE_COULDNT_CONNECT || cc == CURLE_RECV_ERROR ||
               cc == CURLE_SEND_ERROR || cc == CURLE_GOT_NOTHING || cc == CURLE_PARTIAL_FILE ||
               cc == CURLE_HTTP2 || cc == CURLE_HTTP2_STREAM;
}

/* exchange() with retries: network errors and 5xx with exponential backoff and jitter, 429 after its
 * Retry-After; and redirects, where credentials never follow to another host. */
static int request_post(struct bp_registry *reg, const char *method, const char *url0, const char *accept,
                        const char *authorization, const char *post, size_t max, struct response *resp,
                        struct bp_err *err)
{
        _cleanup_free_ char *url = strdup(url0);
        char origin[REF_DOMAIN_MAX + 8], here[REF_DOMAIN_MAX + 8];
        long start = now_ms();
        unsigned attempt = 0, redirects = 0;

        if (!url)
                return bp_fail(err, -ENOMEM, "out of memory");
        url_host(url0, origin);
        for (;;) {
                CURLcode cc;
                const char *auth;
                int r;
                long wait = 0;

                url_host(url, here);
                auth = strcasecmp(here, origin) == 0 ? authorization : NULL;
                r = exchange(reg, method, url, accept, auth, post, max, resp, &cc);

                if (r == -EFBIG)
                        return bp_fail(err, r, "%s: response larger than %zu bytes", url, max);
                if (r < 0 && !curl_transient(cc))
                        return bp_fail(err, r, "%s: %s", url, curl_why(reg, cc));
                if (r == 0 && resp->status >= 300 && resp->status < 400 && resp->status != 304 && resp->location[0]) {
                        char *next = NULL;
                        if (++redirects > REDIRECTS_MAX)
                                return bp_fail(err, -ELOOP, "%s: more than %d redirects", url0, REDIRECTS_MAX);
                        if (resolve_location(url, resp->location, &next) < 0)
                                return bp_fail(err, -EINVAL, "%s: bad redirect '%.200s'", url, resp->location);
                        free(url);
                        url = next;
                        if (post) {     /* as browsers do: a redirected POST becomes a GET */
                                post = NULL;
                                method = "GET";
                        }
                        continue;
                }
                if (r == 0 && resp->status == 429) {
                        if (resp->retry_after > RETRY_AFTER_MAX_S)
                                return bp_fail(err, -EAGAIN, "%s: rate limited (429), retry after %lds", url,
                                               resp->retry_after);
                        wait = (resp->retry_after >= 0 ? resp->retry_after : 1) * 1000L;
                } else if (r < 0 || resp->status >= 500) {
                        wait = (250L << attempt) + (random() % 250);
                } else {
                        return 0;
                }
                if (attempt++ >= RETRIES_MAX || now_ms() - start + wait > RETRY_BUDGET_MS) {
                        if (r < 0)
                                return bp_fail(err, r, "%s: %s (after %u attempts)", url, curl_why(reg, cc),
                                               attempt);
                        return bp_fail(err, -EIO, "%s: HTTP %ld (after %u attempts)", url, resp->status, attempt);
                }
                sleep_ms(wait);
        }
}

static int request(struct bp_registry *reg, const char *method, const char *url, const char *accept,
                   const char *authorization, size_t max, struct response *resp, struct bp_err *err)
{
        return request_post(reg, method, url, accept, authorization, NULL, max, resp, err);
}

static void token_clear(struct token *t)
{
        free(t->value);
        memset(t, 0, sizeof(*t));
}

static bool token_fresh(const struct token *t)
{
        struct timespec now;

        (void) clock_gettime(CLOCK_MONOTONIC, &now);
        return t->value && (now.tv_sec < t->expires.tv_sec);
}

static struct token *token_find(struct bp_registry *reg, const char *scope)
{
        for (size_t i = 0; i < reg->n_tokens; i++)
                if (strcmp(reg->tokens[i].scope, scope) == 0)
                        return &reg->tokens[i];
        return NULL;
}

/* The body as a JSON object, or NULL: depth-limited, a NUL byte refused. Owned by the caller. */
static json_object *body_object(const struct response *resp)
{
        json_tokener *tok;
        json_object *o = NULL;

        if (resp->len == 0 || memchr(resp->body, '\0', resp->len) || !(tok = json_tokener_new_ex(MANIFEST_JSON_DEPTH)))
                return NULL;
        o = json_tokener_parse_ex(tok, resp->body, (int) resp->len);
        json_tokener_free(tok);
        if (o && !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                o = NULL;
        }
        return o;
}

/* The token endpoint's answer: {"token": …} or {"access_token": …}, "expires_in" seconds. */
static int parse_token(const struct response *resp, const char *realm, char **ret, long *ret_expires,
                       struct bp_err *err)
{
        json_object *o = body_object(resp), *v;
        const char *value = NULL;
        long expires = 60;
        int r = 0;

        if (!o) {
                r = bp_fail(err, -EINVAL, "token from '%s': not a JSON object (Content-Type '%s')", realm,
                            resp->content_type);
                goto out;
        }
        if ((json_object_object_get_ex(o, "token", &v) && json_object_is_type(v, json_type_string)) ||
            (json_object_object_get_ex(o, "access_token", &v) && json_object_is_type(v, json_type_string)))
                value = json_object_get_string(v);
        if (!value || !value[0] || strlen(value) > 8192 || strpbrk(value, "\r\n")) {
                r = bp_fail(err, -EINVAL, "token from '%s': no usable 'token' or 'access_token'", realm);
                goto out;
        }
        if (json_object_object_get_ex(o, "expires_in", &v) && json_object_is_type(v, json_type_int)) {
                int64_t e = json_object_get_int64(v);
                /* The spec's minimum is 60 s; a day is more than any registry gives. */
                expires = e < 60 ? 60 : e > 86400 ? 86400 : (long) e;
        }
        *ret = strdup(value);
        *ret_expires = expires;
        if (!*ret)
                r = bp_fail(err, -ENOMEM, "out of memory");
out:
        json_object_put(o);
        return r;
}

static void token_store(struct bp_registry *reg, const char *scope, const char *value, long expires)
{
        struct token *t = token_find(reg, scope);
        char *copy = strdup(value);

        if (!copy)
                return;         /* not cached: the next request asks again */
        if (!t) {
                if (reg->n_tokens == TOKENS_MAX)
                        token_clear(&reg->tokens[--reg->n_tokens]);
                t = &reg->tokens[reg->n_tokens++];
                text_copy(t->scope, sizeof(t->scope), scope);
        }
        free(t->value);
        t->value = copy;
        (void) clock_gettime(CLOCK_MONOTONIC, &t->expires);
        t->expires.tv_sec += expires - 5;       /* renew a little early: requests take time */
}

/* "&scope=…" for scope and every announced scope without a fresh token, so one token request serves
 * all the images of a run on this registry. */
static char *scope_query(struct bp_registry *reg, const char *scope)
{
        char *q = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&q, &len);

        if (!f)
                return NULL;
        for (size_t i = 0; i <= reg->n_wanted; i++) {
                const char *s = i == reg->n_wanted ? scope : reg->wanted[i];
                const struct token *t = token_find(reg, s);
                char *esc;

                if (i < reg->n_wanted && (strcmp(s, scope) == 0 || (t && token_fresh(t))))
                        continue;
                esc = curl_easy_escape(reg->curl, s, 0);
                if (esc)
                        fprintf(f, "&scope=%s", esc);
                curl_free(esc);
        }
        return fclose(f) == 0 ? q : NULL;
}

/* docker's "identitytoken" is an OAuth2 refresh token: it is exchanged with a POST to the realm
 * (grant_type=refresh_token), never sent as a Basic password. scopes is the "&scope=…" query of
 * scope_query(); OAuth wants them in one space-separated field. */
static int fetch_token_oauth(struct bp_registry *reg, const char *scopes, struct response *resp, struct bp_err *err)
{
        const struct bp_challenge *ch = &reg->challenge;
        _cleanup_free_ char *form = NULL, *joined = strdup(scopes);
        char *service = curl_easy_escape(reg->curl, ch->service, 0);
        char *token = curl_easy_escape(reg->curl, reg->creds.identity_token, 0);
        int r;

        /* "&scope=a&scope=b" -> "a%20b": the values are escaped already. */
        if (joined) {
                char *o = joined;
                for (const char *p = scopes; *p;) {
                        if (strncmp(p, "&scope=", 7) == 0) {
                                if (o != joined)
                                        o += sprintf(o, "%%20");
                                p += 7;
                        } else {
                                *o++ = *p++;
                        }
                }
                *o = '\0';
        }
        r = joined && service && token ?
                    asprintf(&form, "grant_type=refresh_token&client_id=boardpin&service=%s&scope=%s&refresh_token=%s",
                             service, joined, token) : -1;
        curl_free(service);
        curl_free(token);
        if (r < 0)
                return bp_fail(err, -ENOMEM, "out of memory");
        return request_post(reg, "POST", ch->realm, "application/json", NULL, form, TOKEN_MAX_BYTES, resp, err);
}

static int fetch_token(struct bp_registry *reg, const char *scope, struct bp_err *err)
{
        const struct bp_challenge *ch = &reg->challenge;
        _cleanup_free_ char *url = NULL, *value = NULL, *scopes = scope_query(reg, scope);
        char *esc_service = curl_easy_escape(reg->curl, ch->service, 0);
        char basic[1100], hdr[1200];
        struct response resp = { 0 };
        long expires = 60;
        int r;

        r = scopes ? asprintf(&url, "%s%sservice=%s%s", ch->realm, strchr(ch->realm, '?') ? "&" : "?",
                              esc_service ? esc_service : "", scopes) : -1;
        curl_free(esc_service);
        if (r < 0)
                return bp_fail(err, -ENOMEM, "out of memory");
        /* Credentials go to the realm the registry named: that is the token flow. */
        if (reg->have_creds && auth_basic_value(&reg->creds, basic, sizeof(basic)) == 0)
                (void) snprintf(hdr, sizeof(hdr), "Basic %s", basic);
        else
                hdr[0] = '\0';
        reg->stats.tokens++;
        if (reg->have_creds && reg->creds.identity_token[0])
                r = fetch_token_oauth(reg, scopes, &resp, err);
        else
                r = request(reg, "GET", url, "application/json", hdr[0] ? hdr : NULL, TOKEN_MAX_BYTES, &resp, err);
        if (r == 0 && resp.status != 200)
                r = bp_fail(err, -EACCES, "token from '%s': HTTP %ld", ch->realm, resp.status);
        if (r == 0)
                r = parse_token(&resp, ch->realm, &value, &expires, err);
        response_done(&resp);
        if (r < 0)
                return r;
        token_store(reg, scope, value, expires);
        for (size_t i = 0; i < reg->n_wanted; i++)
                if (!token_find(reg, reg->wanted[i]) || !token_fresh(token_find(reg, reg->wanted[i])))
                        token_store(reg, reg->wanted[i], value, expires);
        return token_find(reg, scope) ? 0 : bp_fail(err, -ENOMEM, "out of memory");
}

void registry_announce(struct bp_registry *reg, const char *repo)
{
        char scope[sizeof(reg->wanted[0])];

        if (reg->n_wanted == TOKENS_MAX ||
            snprintf(scope, sizeof(scope), "repository:%s:pull", repo) >= (int) sizeof(scope))
                return;
        for (size_t i = 0; i < reg->n_wanted; i++)
                if (strcmp(reg->wanted[i], scope) == 0)
                        return;
        text_copy(reg->wanted[reg->n_wanted++], sizeof(reg->wanted[0]), scope);
}

/* The Authorization value for scope under the last challenge: NULL while the registry asked for none. */
static int authorization_for(struct bp_registry *reg, const char *scope, bool refresh, char **ret,
                             struct bp_err *err)
{
        char basic[1100];
        struct token *t;
        int r;

        *ret = NULL;
        switch (reg->challenge.scheme) {
        case BP_AUTH_NONE:
                return 0;
        case BP_AUTH_BASIC:
                if (!reg->have_creds)
                        return bp_fail(err, -EACCES, "%s wants a user name and password; the auth file has none for it",
                                       reg->host);
                if (auth_basic_value(&reg->creds, basic, sizeof(basic)) < 0)
                        return bp_fail(err, -EINVAL, "%s: credentials too long", reg->host);
                return asprintf(ret, "Basic %s", basic) < 0 ? bp_fail(err, -ENOMEM, "out of memory") : 0;
        case BP_AUTH_BEARER:
                t = token_find(reg, scope);
                if (!t || refresh || !token_fresh(t)) {
                        r = fetch_token(reg, scope, err);
                        if (r < 0)
                                return r;
                        t = token_find(reg, scope);
                }
                return asprintf(ret, "Bearer %s", t->value) < 0 ? bp_fail(err, -ENOMEM, "out of memory") : 0;
        }
        return 0;
}

/* A request to the registry under repo's pull scope. Once a registry has challenged, credentials go with
 * the first try; a 401 gets one retry with a fresh challenge and token, never a loop. */
static int authed(struct bp_registry *reg, const char *method, const char *path, const char *repo,
                  const char *accept, size_t max, struct response *resp, struct bp_err *err)
{
        _cleanup_free_ char *url = NULL;
        char scope[REF_PATH_MAX + 32];
        bool retried = false;
        int r;

        if (asprintf(&url, "%s%s", reg->base, path) < 0)
                return bp_fail(err, -ENOMEM, "out of memory");
        (void) snprintf(scope, sizeof(scope), "repository:%s:pull", repo);
        for (;;) {
                _cleanup_free_ char *authorization = NULL;
                struct bp_challenge ch;

                r = authorization_for(reg, scope, retried, &authorization, err);
                if (r < 0)
                        return r;
                r = request(reg, method, url, accept, authorization, max, resp, err);
                if (r < 0 || resp->status != 401)
                        return r;
                if (retried)
                        return bp_fail(err, -EACCES, "%s: HTTP 401 even with fresh credentials", url);
                if (!resp->www_auth[0])
                        return bp_fail(err, -EACCES, "%s: HTTP 401 without a WWW-Authenticate challenge", url);
                r = auth_parse_challenge(resp->www_auth, &ch, err);
                if (r < 0)
                        return bp_err_prefix(err, r, "%s: ", url);
                reg->challenge = ch;
                retried = true;
        }
}

static int status_error(const char *what, const struct response *resp, struct bp_err *err)
{
        if (resp->status == 404)
                return bp_fail(err, -ENOENT, "%s: not found (HTTP 404)", what);
        if (resp->status == 403)
                return bp_fail(err, -EACCES, "%s: access denied (HTTP 403)", what);
        return bp_fail(err, -EIO, "%s: HTTP %ld", what, resp->status);
}

static int take_blob(struct response *resp, const char *want_digest, const char *what, struct bp_blob *ret,
                     struct bp_err *err)
{
        char digest[REF_DIGEST_MAX];

        sha256_digest(resp->body ? resp->body : "", resp->len, digest);
        if (resp->digest[0] && strcmp(resp->digest, digest) != 0)
                return bp_fail(err, -EBADMSG, "%s: Docker-Content-Digest %.80s does not match the body's %s", what,
                               resp->digest, digest);
        if (want_digest && strcmp(want_digest, digest) != 0)
                return bp_fail(err, -EBADMSG, "%s: body's digest is %s, not the %s asked for", what, digest,
                               want_digest);
        if (!resp->body) {
                resp->body = strdup("");
                if (!resp->body)
                        return bp_fail(err, -ENOMEM, "out of memory");
        }
        memset(ret, 0, sizeof(*ret));
        ret->data = steal_ptr(&resp->body);
        ret->len = resp->len;
        text_copy(ret->digest, sizeof(ret->digest), digest);
        text_copy(ret->media_type, sizeof(ret->media_type), resp->content_type);
        return 0;
}

int registry_manifest(struct bp_registry *reg, const char *repo, const char *reference, struct bp_blob *ret,
                      struct bp_err *err)
{
        struct response resp = { 0 };
        char path[REF_PATH_MAX + REF_TAG_MAX + 32], what[REF_DOMAIN_MAX + sizeof(path)];
        int r;

        (void) snprintf(path, sizeof(path), "/v2/%s/manifests/%s", repo, reference);
        (void) snprintf(what, sizeof(what), "%s/%s%s%s", reg->host, repo, ref_digest_ok(reference) ? "@" : ":",
                        reference);
        reg->stats.gets++;
        r = authed(reg, "GET", path, repo, MT_ACCEPT, MANIFEST_MAX_BYTES, &resp, err);
        if (r == 0 && resp.status != 200)
                r = status_error(what, &resp, err);
        if (r == 0)
                r = take_blob(&resp, ref_digest_ok(reference) ? reference : NULL, what, ret, err);
        response_done(&resp);
        return r;
}

int registry_manifest_digest(struct bp_registry *reg, const char *repo, const char *reference,
                             char ret[static REF_DIGEST_MAX], struct bp_err *err)
{
        struct response resp = { 0 };
        char path[REF_PATH_MAX + REF_TAG_MAX + 32], what[REF_DOMAIN_MAX + sizeof(path)];
        struct bp_blob b;
        int r;

        (void) snprintf(path, sizeof(path), "/v2/%s/manifests/%s", repo, reference);
        (void) snprintf(what, sizeof(what), "%s/%s:%s", reg->host, repo, reference);
        reg->stats.heads++;
        r = authed(reg, "HEAD", path, repo, MT_ACCEPT, 0, &resp, err);
        if (r == 0 && resp.status != 200)
                r = status_error(what, &resp, err);
        if (r == 0 && ref_digest_ok(resp.digest)) {
                text_copy(ret, REF_DIGEST_MAX, resp.digest);
                response_done(&resp);
                return 0;
        }
        response_done(&resp);
        if (r < 0)
                return r;
        /* No usable Docker-Content-Digest: only the bytes can tell. */
        r = registry_manifest(reg, repo, reference, &b, err);
        if (r < 0)
                return r;
        text_copy(ret, REF_DIGEST_MAX, b.digest);
        blob_done(&b);
        return 0;
}

int registry_blob(struct bp_registry *reg, const char *repo, const char *digest, size_t max_bytes,
                  struct bp_blob *ret, struct bp_err *err)
{
        struct response resp = { 0 };
        char path[REF_PATH_MAX + REF_DIGEST_MAX + 32], what[REF_DOMAIN_MAX + sizeof(path)];
        int r;

        (void) snprintf(path, sizeof(path), "/v2/%s/blobs/%s", repo, digest);
        (void) snprintf(what, sizeof(what), "%s/%s blob %s", reg->host, repo, digest);
        reg->stats.blobs++;
        r = authed(reg, "GET", path, repo, NULL, max_bytes, &resp, err);
        if (r == 0 && resp.status != 200)
                r = status_error(what, &resp, err);
        if (r == 0) {
                resp.digest[0] = '\0';  /* a blob's header digest may be of the stored, not served, bytes */
                r = take_blob(&resp, digest, what, ret, err);
        }
        response_done(&resp);
        return r;
}

/* The next page from a Link header: </v2/x/tags/list?n=100&last=y>; rel="next". */
static bool next_page(const char *link, char *ret, size_t size)
{
        const char *lt = strchr(link, '<'), *gt = lt ? strchr(lt, '>') : NULL;

        if (!lt || !gt || !strstr(gt, "rel=\"next\"") || (size_t) (gt - lt - 1) >= size || lt[1] != '/')
                return false;
        memcpy(ret, lt + 1, (size_t) (gt - lt - 1));
        ret[gt - lt - 1] = '\0';
        return true;
}

static int add_tags(const struct response *resp, const char *what, char ***tags, size_t *n, struct bp_err *err)
{
        json_object *o = body_object(resp), *list;
        int r = 0;

        if (!o || !json_object_object_get_ex(o, "tags", &list)) {
                json_object_put(o);
                return bp_fail(err, -EINVAL, "%s: tag list is not {\"tags\": [...]}", what);
        }
        if (json_object_is_type(list, json_type_null)) {
                json_object_put(o);
                return 0;
        }
        if (!json_object_is_type(list, json_type_array))
                r = bp_fail(err, -EINVAL, "%s: 'tags' is not an array", what);
        for (size_t i = 0; r == 0 && i < json_object_array_length(list); i++) {
                json_object *t = json_object_array_get_idx(list, i);
                char **q;

                if (!json_object_is_type(t, json_type_string) || !ref_tag_ok(json_object_get_string(t)))
                        continue;       /* not a tag anyone can pin: skip it, keep the rest */
                if (*n >= TAGS_MAX) {
                        r = bp_fail(err, -E2BIG, "%s: more than %d tags", what, TAGS_MAX);
                        break;
                }
                q = realloc(*tags, (*n + 2) * sizeof(char *));
                if (!q) {
                        r = bp_fail(err, -ENOMEM, "out of memory");
                        break;
                }
                *tags = q;
                q[*n] = strdup(json_object_get_string(t));
                q[*n + 1] = NULL;
                if (!q[*n])
                        r = bp_fail(err, -ENOMEM, "out of memory");
                else
                        (*n)++;
        }
        json_object_put(o);
        return r;
}

static void tags_free(char **tags)
{
        for (size_t i = 0; tags && tags[i]; i++)
                free(tags[i]);
        free(tags);
}

int registry_tags(struct bp_registry *reg, const char *repo, char ***ret, size_t *ret_n, struct bp_err *err)
{
        char path[2048], what[REF_DOMAIN_MAX + REF_PATH_MAX + 16];
        char **tags = NULL;
        size_t n = 0;
        int r = 0;

        (void) snprintf(path, sizeof(path), "/v2/%s/tags/list?n=1000", repo);
        (void) snprintf(what, sizeof(what), "%s/%s", reg->host, repo);
        for (unsigned page = 0; r == 0; page++) {
                struct response resp = { 0 };

                if (page == TAG_PAGES_MAX) {
                        r = bp_fail(err, -E2BIG, "%s: more than %d pages of tags", what, TAG_PAGES_MAX);
                        break;
                }
                reg->stats.tag_pages++;
                r = authed(reg, "GET", path, repo, "application/json", TAGS_PAGE_MAX_BYTES, &resp, err);
                if (r == 0 && resp.status != 200)
                        r = status_error(what, &resp, err);
                if (r == 0)
                        r = add_tags(&resp, what, &tags, &n, err);
                if (r == 0 && !next_page(resp.link, path, sizeof(path))) {
                        response_done(&resp);
                        break;
                }
                response_done(&resp);
        }
        if (r < 0) {
                tags_free(tags);
                return r;
        }
        if (!tags && !(tags = calloc(1, sizeof(char *))))
                return bp_fail(err, -ENOMEM, "out of memory");
        *ret = tags;
        *ret_n = n;
        return 0;
}

static int load_credentials(struct bp_registry *reg, const char *path, const char *key, struct bp_err *err)
{
        int r = auth_file_read(path, key, &reg->creds, err);

        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        reg->have_creds = true;
        return 0;
}

static int setup_curl(struct bp_registry *reg, struct bp_err *err)
{
        static bool global_done;
        CURL *c;
        int r = dl_curl(err);

        if (r == 0)
                r = dl_crypto(err);
        if (r < 0)
                return r;
        if (!global_done) {
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                        return bp_fail(err, -EIO, "libcurl would not initialize");
                global_done = true;
        }
        c = reg->curl = curl_easy_init();
        if (!c)
                return bp_fail(err, -ENOMEM, "out of memory");
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, reg->curl_error);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);        /* request() follows, minding credentials */
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, reg->timeout_s < 10 ? reg->timeout_s : 10L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, reg->timeout_s);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, reg->timeout_s * 4);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "boardpin/" BOARDPIN_VERSION);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
        if (reg->ca_file)
                curl_easy_setopt(c, CURLOPT_CAINFO, reg->ca_file);
        return 0;
}

int registry_new(const struct bp_registry_opts *o, struct bp_registry **ret, struct bp_err *err)
{
        _cleanup_(registry_freep) struct bp_registry *reg = calloc(1, sizeof(*reg));
        int r;

        if (!reg)
                return bp_fail(err, -ENOMEM, "out of memory");
        if (strlen(o->host) >= sizeof(reg->host) || strpbrk(o->host, "/@?# \t\r\n"))
                /* cppcheck-suppress memleak ; cppcheck does not model _cleanup_ */
                return bp_fail(err, -EINVAL, "bad registry host '%.64s'", o->host);
        text_copy(reg->host, sizeof(reg->host), o->host);
        (void) snprintf(reg->base, sizeof(reg->base), "%s://%s", o->insecure ? "http" : "https", o->host);
        reg->timeout_s = o->timeout_s > 0 ? o->timeout_s : 30;
        if (o->ca_file && !(reg->ca_file = strdup(o->ca_file)))
                /* cppcheck-suppress memleak ; cppcheck does not model _cleanup_ */
                return bp_fail(err, -ENOMEM, "out of memory");
        r = setup_curl(reg, err);
        if (r < 0)
                return r;
        if (o->auth_file) {
                r = load_credentials(reg, o->auth_file, o->auth_key ? o->auth_key : o->host, err);
                if (r < 0)
                        return r;
        }
        *ret = steal_ptr(&reg);
        return 0;
}

void registry_free(struct bp_registry *reg)
{
        if (!reg)
                return;
        for (size_t i = 0; i < reg->n_tokens; i++)
                token_clear(&reg->tokens[i]);
        if (reg->curl)
                curl_easy_cleanup(reg->curl);
        free(reg->ca_file);
        explicit_bzero(&reg->creds, sizeof(reg->creds));
        free(reg);
}

void registry_freep(struct bp_registry **r)
{
        registry_free(*r);
}

const struct bp_registry_stats *registry_stats(const struct bp_registry *r)
{
        return &r->stats;
}
