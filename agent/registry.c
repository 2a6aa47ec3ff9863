/* agent/registry.c: see registry.h. */
#include "registry.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authfile.h"
#include "challenge.h"
#include "cleanup.h"
#include "clock.h"
#include "dl.h"
#include "jsonio.h"
#include "manifest.h"
#include "rootfs.h"
#include "text.h"
#include "token.h"

#define SCOPE_MAX (REF_PATH_MAX + 32)

enum auth_state {
        AUTH_UNKNOWN,  /* nothing answered yet: the next operation asks first, alone */
        AUTH_PROBING,  /* that one is under way; the others wait for its answer */
        AUTH_KNOWN,    /* challenge (or none) known: operations go with credentials */
        AUTH_FETCHING, /* a token request is under way; operations wait for it */
};

/* Whether the host has the referrers API. OCI distribution 1.1 forbids a 404 from a registry that has it,
 * so one 404 answers for every repository: the first referrers operation asks, the others wait for it,
 * and after a 404 they end as 404s without a request (cosign's referrers tag is then what is asked). */
enum referrers_api {
        REFERRERS_UNKNOWN, /* not asked yet */
        REFERRERS_ASKING,  /* the first is under way; the others wait in referrers_waiting */
        REFERRERS_ASK,     /* it answered, or failed in some other way: each operation asks for itself */
        REFERRERS_NONE,    /* it said 404 */
};

struct bp_registry {
        char host[REF_DOMAIN_MAX];
        char base[REF_DOMAIN_MAX + 16]; /* "https://host", or "http://host" when insecure */
        bool insecure;
        char *ca_file;
        long timeout_s;
        struct bp_http *http;
        struct bp_http *own_http;
        bool have_creds;
        struct bp_credentials creds;
        enum auth_state auth;
        struct bp_challenge challenge; /* this host's; scheme NONE before and when it asks none */
        struct bp_token_cache *tokens;
        char **wanted; /* scopes the run will need: one token for all */
        size_t n_wanted;
        struct bp_registry_op *waiting; /* FIFO, for the probe or the token */
        enum referrers_api referrers;
        struct bp_registry_op *referrers_waiting; /* FIFO, for the first referrers answer */
        struct bp_http_req token_req;
        char *token_url, *token_form;
        char **token_scopes;
        size_t n_token_scopes;
        struct bp_registry_stats stats; /* a mirror counts into its registry's */
        struct bp_registry *mirror;     /* owned, or NULL */
        bool mirror_down;               /* it failed in this run: the registry itself from now on */
        char mirror_url[512];
        void (*warn)(const char *line);
        struct bp_registry *upstream; /* in a mirror: the registry it stands in for, borrowed */
};

void blob_done(struct bp_blob *b)
{
        free(b->data);
        memset(b, 0, sizeof(*b));
}

void registry_tags_free(char **tags)
{
        for (size_t i = 0; tags && tags[i]; i++)
                free(tags[i]);
        free(tags);
}

void registry_op_done(struct bp_registry_op *op)
{
        blob_done(&op->blob);
        registry_tags_free(op->tags);
        op->tags = NULL;
        op->n_tags = 0;
        http_req_reset(&op->req);
        free(op->url);
        op->url = NULL;
        if (op->bearer)
                explicit_bzero(op->bearer, strlen(op->bearer));
        free(op->bearer);
        op->bearer = NULL;
}

struct bp_http *registry_http(const struct bp_registry *r)
{
        return r->http;
}

const struct bp_registry_stats *registry_stats(const struct bp_registry *r)
{
        return &r->stats;
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

static struct bp_registry_stats *stats_of(struct bp_registry *reg)
{
        return reg->upstream ? &reg->upstream->stats : &reg->stats;
}

static void scope_of(const char *repo, char ret[static SCOPE_MAX])
{
        (void) snprintf(ret, SCOPE_MAX, "repository:%s:pull", repo);
}

int registry_announce(struct bp_registry *reg, const char *repo)
{
        char scope[SCOPE_MAX];
        char **w;

        if (reg->mirror) {
                int r = registry_announce(reg->mirror, repo);
                if (r < 0)
                        return r;
        }
        scope_of(repo, scope);
        for (size_t i = 0; i < reg->n_wanted; i++)
                if (strcmp(reg->wanted[i], scope) == 0)
                        return 0;
        if (reg->n_wanted >= TOKEN_SCOPES_MAX)
                return -E2BIG;
        w = realloc(reg->wanted, (reg->n_wanted + 1) * sizeof(char *));
        if (!w)
                return -ENOMEM;
        reg->wanted = w;
        if (!(w[reg->n_wanted] = strdup(scope)))
                return -ENOMEM;
        reg->n_wanted++;
        return 0;
}

static void submit_to(struct bp_registry *reg, struct bp_registry_op *op);

static void referrers_answered(struct bp_registry *reg, int r);

static void op_finish(struct bp_registry_op *op, int r)
{
        struct bp_registry *origin = op->origin;

        http_req_reset(&op->req);
        if (op->referrers_first) {
                op->referrers_first = false;
                referrers_answered(op->reg, r);
        }
        if (r == -ENOENT && origin && op->absent_ok) {
                registry_op_done(op);
                op->kind = op->asked;
                op->origin = NULL;
                return submit_to(origin, op);
        }
        if (r < 0 && origin) {
                /* What the mirror said, or failed to say, is not used: the registry itself is asked. */
                (void) registry_mirror_failed(origin, op->err.msg);
                registry_op_done(op);
                op->kind = op->asked;
                op->origin = NULL;
                return submit_to(origin, op);
        }
        op->result = r;
        op->mirrored = origin != NULL;
        if (origin)
                origin->stats.mirrored++;
        if (op->done)
                op->done(op, op->userdata);
}

static void op_fail_with(struct bp_registry_op *op, const struct bp_err *err, int r)
{
        op->err = *err;
        op_finish(op, r);
}

static void op_send(struct bp_registry_op *op);

/* Every operation that waited for the probe or the token gets the same answer. / */
static void fail_waiting(struct bp_registry *reg, const struct bp_err *err, int r)
{
        struct bp_registry_op *list = reg->waiting;

        reg->waiting = NULL;
        while (list) {
                struct bp_registry_op *op = list;
                list = op->next;
                op_fail_with(op, err, r);
        }
}

static void release_waiting(struct bp_registry *reg)
{
        struct bp_registry_op *list = reg->waiting;

        reg->waiting = NULL;
        while (list) {
                struct bp_registry_op *op = list;
                list = op->next;
                op_send(op);
        }
}

static void wait_for_auth(struct bp_registry *reg, struct bp_registry_op *op, bool first)
{
        struct bp_registry_op **p = &reg->waiting;

        if (first) {
                op->next = reg->waiting;
                reg->waiting = op;
                return;
        }
        while (*p)
                p = &(*p)->next;
        op->next = NULL;
        *p = op;
}

static void on_token(struct bp_http_req *q, void *userdata);

/* One token request for scope and every scope announced or waiting that has no fresh token. */
static void fetch_token(struct bp_registry *reg, const char *scope, bool only_this)
{
        const struct bp_challenge *ch = &reg->challenge;
        struct bp_http_req *q = &reg->token_req;
        int64_t now = clock_now_ms();
        struct bp_err err = { 0 };
        size_t n = 0, cap = reg->n_wanted + 2; /* + op's scope + the NULL */
        char **s;
        int r;

        for (struct bp_registry_op *o = reg->waiting; o; o = o->next)
                cap++;
        s = calloc(cap, sizeof(char *));
        if (!s) {
                bp_fail(&err, -ENOMEM, "out of memory");
                return fail_waiting(reg, &err, -ENOMEM);
        }
#define ADD_SCOPE(x)                                           \
        do {                                                   \
                bool seen = false;                             \
                for (size_t j = 0; j < n; j++)                 \
                        seen = seen || strcmp(s[j], (x)) == 0; \
                if (!seen && (s[n] = strdup(x)))               \
                        n++;                                   \
        } while (0)
        ADD_SCOPE(scope);
        if (!only_this) {
                for (struct bp_registry_op *o = reg->waiting; o; o = o->next) {
                        char sc[SCOPE_MAX];
                        scope_of(o->repo, sc);
                        if (!token_cache_find(reg->tokens, sc, now))
                                ADD_SCOPE(sc);
                }
                for (size_t i = 0; i < reg->n_wanted; i++)
                        if (!token_cache_find(reg->tokens, reg->wanted[i], now))
                                ADD_SCOPE(reg->wanted[i]);
        }
#undef ADD_SCOPE
        registry_tags_free(reg->token_scopes); /* a NULL-terminated array of strings, as tags are */
        reg->token_scopes = s;
        reg->n_token_scopes = n;
        free(reg->token_url);
        free(reg->token_form);
        reg->token_url = reg->token_form = NULL;
        memset(q, 0, sizeof(*q));
        q->accept = "application/json";
        q->max = TOKEN_MAX_BYTES;
        q->timeout_s = reg->timeout_s;
        q->ca_file = reg->ca_file;
        q->https_only = strncasecmp(ch->realm, "https:", 6) == 0;
        q->done = on_token;
        q->userdata = reg;
        if (reg->have_creds && reg->creds.identity_token[0]) {
                /* docker's "identitytoken" is an OAuth2 refresh token: exchanged with a POST to the realm,
                 * never sent as a Basic password. */
                r = token_refresh_form(ch, reg->creds.identity_token, (const char *const *) s, n, &reg->token_form);
                q->method = "POST";
                q->url = ch->realm;
                q->post = reg->token_form;
        } else {
                r = token_request_url(ch, (const char *const *) s, n, &reg->token_url);
                q->method = "GET";
                q->url = reg->token_url;
                if (reg->have_creds) {
                        /* Credentials go to the realm the registry named: that is the token flow. / */
                        q->cred = BP_HTTP_CRED_BASIC;
                        q->user = reg->creds.username;
                        q->password = reg->creds.password;
                }
        }
        if (r == -EINVAL) {
                char realm[256];
                text_copy_clean(realm, sizeof(realm), ch->realm);
                bp_fail(&err, -EINVAL, "%s: token realm '%s' is not an http(s) URL", reg->host, realm);
                return fail_waiting(reg, &err, -EINVAL);
        }
        if (r < 0) {
                bp_fail(&err, -ENOMEM, "out of memory");
                return fail_waiting(reg, &err, -ENOMEM);
        }
        if (q->cred != BP_HTTP_CRED_NONE && !q->https_only && !reg->insecure) {
                char realm[256];
                text_copy_clean(realm, sizeof(realm), ch->realm);
                bp_fail(&err, -EPERM, "%s: token realm '%s' is plain HTTP: credentials are not sent there",
                        reg->host, realm);
                reg->auth = AUTH_KNOWN;
                return fail_waiting(reg, &err, -EPERM);
        }
        reg->auth = AUTH_FETCHING;
        stats_of(reg)->tokens++;
        http_submit(reg->http, q);
}

static void on_token(struct bp_http_req *q, void *userdata)
{
        struct bp_registry *reg = userdata;
        struct bp_err err = { 0 };
        _cleanup_free_ char *value = NULL;
        char realm[256];
        long expires = 60;
        int r = q->result;

        text_copy_clean(realm, sizeof(realm), reg->challenge.realm);
        reg->auth = AUTH_KNOWN;
        if (r < 0)
                err = q->err;
        else if (q->status != 200)
                r = bp_fail(&err, -EACCES, "token from '%s': HTTP %ld", realm, q->status);
        else
                r = token_parse_response(q->body, q->len, q->content_type, realm, &value, &expires, &err);
        if (r == 0 && token_cache_store(reg->tokens, (const char *const *) reg->token_scopes, reg->n_token_scopes,
                                        value, expires, clock_now_ms()) < 0)
                r = bp_fail(&err, -ENOMEM, "out of memory");
        if (value)
                explicit_bzero(value, strlen(value));
        http_req_reset(q);
        if (r < 0)
                return fail_waiting(reg, &err, r);
        release_waiting(reg);
}

static void on_answer(struct bp_http_req *q, void *userdata);

/* Send op with what the registry's challenge calls for, or make it wait for the probe or a token. */
static void op_send(struct bp_registry_op *op)
{
        struct bp_registry *reg = op->reg;
        struct bp_http_req *q = &op->req;
        const char *token = NULL;
        char scope[SCOPE_MAX];

        scope_of(op->repo, scope);
        switch (reg->auth) {
        case AUTH_UNKNOWN:
                reg->auth = AUTH_PROBING;
                op->probe = true;
                break;
        case AUTH_PROBING:
        case AUTH_FETCHING:
                return wait_for_auth(reg, op, false);
        case AUTH_KNOWN:
                if (reg->challenge.scheme == BP_AUTH_BASIC && !reg->have_creds) {
                        bp_fail(&op->err, -EACCES,
                                "%s wants a user name and password; the auth file has none for it", reg->host);
                        return op_finish(op, -EACCES);
                }
                if (reg->challenge.scheme == BP_AUTH_BEARER &&
                    !(token = token_cache_find(reg->tokens, scope, clock_now_ms()))) {
                        wait_for_auth(reg, op, true);
                        return fetch_token(reg, scope, false);
                }
                break;
        }
        q->method = op->kind == BP_REG_DIGEST ? "HEAD" : "GET";
        q->url = op->url;
        q->accept = op->kind == BP_REG_TAGS        ? "application/json"
                    : op->kind == BP_REG_BLOB      ? NULL
                    : op->kind == BP_REG_REFERRERS ? MT_OCI_INDEX
                                                   : MT_ACCEPT;
        q->post = NULL;
        q->max = op->kind == BP_REG_BLOB                 ? op->max
                 : op->kind == BP_REG_MANIFEST && op->max ? op->max
                 : op->kind == BP_REG_TAGS               ? TAGS_PAGE_MAX_BYTES
                 : op->kind == BP_REG_DIGEST ? 0
                                             : MANIFEST_MAX_BYTES;
        q->https_only = !reg->insecure;
        q->ca_file = reg->ca_file;
        q->timeout_s = reg->timeout_s;
        q->once = reg->upstream != NULL; /* a mirror that fails once: the registry itself is the retry */
        q->cred = BP_HTTP_CRED_NONE;
        op->had_token = false;
        if (!op->probe && reg->challenge.scheme == BP_AUTH_BASIC) {
                q->cred = BP_HTTP_CRED_BASIC;
                q->user = reg->creds.username;
                q->password = reg->creds.password;
        } else if (!op->probe && token) {
                /* A copy: the cache may replace this token while the request (or its retry) is under way. */
                free(op->bearer);
                if (!(op->bearer = strdup(token))) {
                        bp_fail(&op->err, -ENOMEM, "out of memory");
                        return op_finish(op, -ENOMEM);
                }
                q->cred = BP_HTTP_CRED_BEARER;
                q->bearer = op->bearer;
                op->had_token = true;
        }
        q->done = on_answer;
        q->userdata = op;
        http_submit(reg->http, q);
}

static int set_url(struct bp_registry_op *op, const char *path)
{
        free(op->url);
        op->url = NULL;
        return asprintf(&op->url, "%s%s", op->reg->base, path) < 0 ? -ENOMEM : 0;
}

/* "scheme://host[:port]" of u, or "" when it has none. */
static void origin_of(CURLU *u, char *ret, size_t size)
{
        char *scheme = NULL, *host = NULL, *port = NULL;

        ret[0] = '\0';
        if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
                bool has_port = curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK;
                if ((size_t) snprintf(ret, size, "%s://%s:%s", scheme, host, has_port ? port : "") >= size)
                        ret[0] = '\0';
        }
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
}

/* op->url becomes link (a Link header's target) resolved against it by libcurl, as RFC 3986 says: a path,
 * or a whole URL. Only on the same scheme, host and port: a page elsewhere would carry the registry's
 * credentials, or its tags, off to another host. */
static int next_page_url(struct bp_registry_op *op, const char *link)
{
        CURLU *u = curl_url();
        char was[REF_DOMAIN_MAX + 32], now[REF_DOMAIN_MAX + 32];
        char *url = NULL;
        int r = -EINVAL;

        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, op->url, 0) == CURLUE_OK) {
                origin_of(u, was, sizeof(was));
                if (curl_url_set(u, CURLUPART_URL, link, 0) == CURLUE_OK) {
                        origin_of(u, now, sizeof(now));
                        if (was[0] && strcasecmp(was, now) == 0 &&
                            curl_url_get(u, CURLUPART_URL, &url, 0) == CURLUE_OK) {
                                char *copy = strdup(url);
                                r = copy ? 0 : -ENOMEM;
                                if (copy) {
                                        free(op->url);
                                        op->url = copy;
                                }
                        }
                }
        }
        curl_free(url);
        curl_url_cleanup(u);
        return r;
}

static int status_error(const char *what, long status, struct bp_err *err)
{
        if (status == 404)
                return bp_fail(err, -ENOENT, "%s: not found (HTTP 404)", what);
        if (status == 403)
                return bp_fail(err, -EACCES, "%s: access denied (HTTP 403)", what);
        return bp_fail(err, -EIO, "%s: HTTP %ld", what, status);
}

static int take_blob(struct bp_http_req *q, const char *header_digest, const char *want_digest, const char *what,
                     struct bp_blob *ret, struct bp_err *err)
{
        char digest[REF_DIGEST_MAX];

        sha256_digest(q->body ? q->body : "", q->len, digest);
        if (header_digest && header_digest[0] && strcmp(header_digest, digest) != 0)
                return bp_fail(err, -EBADMSG, "%s: Docker-Content-Digest %.80s does not match the body's %s", what,
                               header_digest, digest);
        if (want_digest && strcmp(want_digest, digest) != 0)
                return bp_fail(err, -EBADMSG, "%s: body's digest is %s, not the %s asked for", what, digest,
                               want_digest);
        if (!q->body && !(q->body = strdup("")))
                return bp_fail(err, -ENOMEM, "out of memory");
        memset(ret, 0, sizeof(*ret));
        ret->data = steal_ptr(&q->body);
        ret->len = q->len;
        q->len = 0;
        text_copy(ret->digest, sizeof(ret->digest), digest);
        text_copy(ret->media_type, sizeof(ret->media_type), q->content_type);
        return 0;
}

/* A 401. From the registry's own host it brings the challenge; from anywhere else (a redirect target) it is
 * that host's business: the registry's credentials never go there, and its challenge is not the registry's. */
static void on_401(struct bp_registry *reg, struct bp_registry_op *op)
{
        struct bp_http_req *q = &op->req;
        struct bp_challenge ch;
        struct bp_err err = { 0 };
        char scope[SCOPE_MAX];
        int r;

        if (q->host[0] && strcasecmp(q->host, reg->host) != 0) {
                r = bp_fail(&op->err, -EACCES,
                            "%s: HTTP 401 from '%s', where a redirect led: no credentials "
                            "are sent there",
                            op->url, q->host);
                if (op->probe) {
                        reg->auth = AUTH_KNOWN;
                        release_waiting(reg);
                }
                return op_finish(op, r);
        }
        if (op->auth_retried) {
                r = bp_fail(&op->err, -EACCES, "%s: HTTP 401 even with fresh credentials", op->url);
                return op_finish(op, r);
        }
        if (!q->www_auth[0])
                r = bp_fail(&err, -EACCES, "%s: HTTP 401 without a WWW-Authenticate challenge", op->url);
        else if ((r = auth_parse_challenge(q->www_auth, &ch, &err)) < 0)
                bp_err_prefix(&err, r, "%s: ", op->url);
        if (r < 0) {
                if (op->probe) { /* every other operation would get the same answer */
                        reg->auth = AUTH_UNKNOWN;
                        fail_waiting(reg, &err, r);
                }
                return op_fail_with(op, &err, r);
        }
        op->auth_retried = true;
        reg->challenge = ch;
        if (reg->auth != AUTH_FETCHING)
                reg->auth = AUTH_KNOWN;
        if (ch.scheme == BP_AUTH_BASIC) {
                op->probe = false;
                op_send(op);
                return release_waiting(reg);
        }
        /* Bearer: one token for everything this run needs; after a token that did not do, one for op. */
        scope_of(op->repo, scope);
        op->probe = false;
        wait_for_auth(reg, op, true);
        if (reg->auth != AUTH_FETCHING) /* else the token under way serves it */
                fetch_token(reg, scope, op->had_token);
}

static void on_answer(struct bp_http_req *q, void *userdata)
{
        struct bp_registry_op *op = userdata;
        struct bp_registry *reg = op->reg;
        char path[2048];
        int r;

        if (q->result < 0) {
                if (op->probe) { /* the registry did not answer: nor will it for the others now */
                        reg->auth = AUTH_UNKNOWN;
                        fail_waiting(reg, &q->err, q->result);
                }
                return op_fail_with(op, &q->err, q->result);
        }
        if (q->status == 401)
                return on_401(reg, op);
        if (op->probe) { /* it asked for nothing */
                op->probe = false;
                reg->auth = AUTH_KNOWN;
                release_waiting(reg);
        }
        if (q->status != 200)
                return op_finish(op, status_error(op->what, q->status, &op->err));
        switch (op->kind) {
        case BP_REG_MANIFEST:
                r = take_blob(q, q->digest, ref_digest_ok(op->reference) ? op->reference : NULL, op->what,
                              &op->blob, &op->err);
                return op_finish(op, r);
        case BP_REG_BLOB:
                /* A blob's header digest may be of the stored, not served, bytes. */
                r = take_blob(q, NULL, op->reference, op->what, &op->blob, &op->err);
                return op_finish(op, r);
        case BP_REG_REFERRERS:
                /* Made up by the registry for this request: no digest to check it against. */
                r = take_blob(q, NULL, NULL, op->what, &op->blob, &op->err);
                return op_finish(op, r);
        case BP_REG_DIGEST:
                if (ref_digest_ok(q->digest)) {
                        text_copy(op->digest, sizeof(op->digest), q->digest);
                        return op_finish(op, 0);
                }
                /* No usable Docker-Content-Digest: only the bytes can tell. */
                op->kind = BP_REG_MANIFEST;
                stats_of(reg)->gets++;
                op->auth_retried = false;
                return op_send(op);
        case BP_REG_TAGS:
                r = registry_tags_parse(q->body, q->len, op->what, &op->tags, &op->n_tags, &op->err);
                if (r < 0)
                        return op_finish(op, r);
                if (!registry_tags_next(q->link, path, sizeof(path)))
                        break;
                if (++op->pages == TAG_PAGES_MAX)
                        return op_finish(op, bp_fail(&op->err, -E2BIG, "%s: more than %d pages of tags", op->what,
                                                     TAG_PAGES_MAX));
                r = next_page_url(op, path);
                if (r < 0)
                        return op_finish(op, r == -ENOMEM ? bp_fail(&op->err, r, "out of memory")
                                                          : bp_fail(&op->err, r,
                                                                    "%s: tag list's next page '%.200s' is not on "
                                                                    "this registry",
                                                                    op->what, path));
                stats_of(reg)->tag_pages++;
                op->auth_retried = false;
                return op_send(op);
        }
        if (!op->tags && !(op->tags = calloc(1, sizeof(char *))))
                return op_finish(op, bp_fail(&op->err, -ENOMEM, "out of memory"));
        op_finish(op, 0);
}

void registry_submit(struct bp_registry *reg, struct bp_registry_op *op)
{
        op->asked = op->kind;
        op->mirrored = false;
        op->origin = NULL;
        if (reg->mirror && !reg->mirror_down && !op->direct) {
                op->origin = reg;
                reg = reg->mirror;
        }
        submit_to(reg, op);
}

/* A referrers operation that the host's first one decides: parked while that one is under way, or
 * ended as the 404 it would get. False: send it. */
static bool referrers_held(struct bp_registry *reg, struct bp_registry_op *op)
{
        struct bp_registry_op **p = &reg->referrers_waiting;

        switch (reg->referrers) {
        case REFERRERS_UNKNOWN:
                reg->referrers = REFERRERS_ASKING;
                op->referrers_first = true;
                return false;
        case REFERRERS_ASKING:
                while (*p)
                        p = &(*p)->next;
                *p = op;
                return true;
        case REFERRERS_ASK:
                return false;
        case REFERRERS_NONE:
                op_finish(op, bp_fail(&op->err, -ENOENT, "%s: not found (no referrers API: HTTP 404 before)",
                                      op->what));
                return true;
        }
        return false;
}

static void referrers_answered(struct bp_registry *reg, int r)
{
        struct bp_registry_op *list = reg->referrers_waiting;

        reg->referrers = r == -ENOENT ? REFERRERS_NONE : REFERRERS_ASK;
        reg->referrers_waiting = NULL;
        while (list) {
                struct bp_registry_op *op = list;

                list = op->next;
                submit_to(reg, op);
        }
}

static void submit_to(struct bp_registry *reg, struct bp_registry_op *op)
{
        struct bp_registry_stats *st = stats_of(reg);
        char path[REF_PATH_MAX + REF_TAG_MAX + REF_DIGEST_MAX + 64];
        bool digest = ref_digest_ok(op->reference);

        op->reg = reg;
        op->result = 0;
        op->err.msg[0] = '\0';
        op->probe = op->auth_retried = op->had_token = op->referrers_first = false;
        op->pages = 0;
        op->next = NULL;
        memset(&op->blob, 0, sizeof(op->blob));
        op->tags = NULL;
        op->n_tags = 0;
        op->digest[0] = '\0';
        memset(&op->req, 0, sizeof(op->req));
        switch (op->kind) {
        case BP_REG_MANIFEST:
        case BP_REG_DIGEST:
                (void) snprintf(path, sizeof(path), "/v2/%s/manifests/%s", op->repo, op->reference);
                (void) snprintf(op->what, sizeof(op->what), "%s/%s%s%s", reg->host, op->repo, digest ? "@" : ":",
                                op->reference);
                if (op->kind == BP_REG_DIGEST)
                        st->heads++;
                else
                        st->gets++;
                break;
        case BP_REG_BLOB:
                (void) snprintf(path, sizeof(path), "/v2/%s/blobs/%s", op->repo, op->reference);
                (void) snprintf(op->what, sizeof(op->what), "%s/%s blob %s", reg->host, op->repo, op->reference);
                st->blobs++;
                break;
        case BP_REG_REFERRERS:
                (void) snprintf(path, sizeof(path), "/v2/%s/referrers/%s", op->repo, op->reference);
                (void) snprintf(op->what, sizeof(op->what), "%s/%s referrers of %s", reg->host, op->repo,
                                op->reference);
                if (referrers_held(reg, op))
                        return;
                st->gets++;
                break;
        case BP_REG_TAGS:
                (void) snprintf(path, sizeof(path), "/v2/%s/tags/list?n=1000", op->repo);
                (void) snprintf(op->what, sizeof(op->what), "%s/%s", reg->host, op->repo);
                st->tag_pages++;
                break;
        }
        if (set_url(op, path) < 0)
                return op_finish(op, bp_fail(&op->err, -ENOMEM, "out of memory"));
        op_send(op);
}

bool registry_tags_next(const char *link, char *ret, size_t size)
{
        const char *lt = strchr(link, '<'), *gt = lt ? strchr(lt, '>') : NULL;

        if (!lt || !gt || !strstr(gt, "rel=\"next\"") || gt == lt + 1 || (size_t) (gt - lt - 1) >= size)
                return false;
        memcpy(ret, lt + 1, (size_t) (gt - lt - 1));
        ret[gt - lt - 1] = '\0';
        return !strpbrk(ret, " \t\r\n");
}

int registry_tags_parse(const char *body, size_t len, const char *what, char ***tags, size_t *n, struct bp_err *err)
{
        _cleanup_(jsonio_putp) json_object *o = NULL;
        struct bp_err why = { 0 };
        json_object *list;

        if (jsonio_parse_object(body ? body : "", body ? len : 0, TAGS_PAGE_MAX_BYTES, MANIFEST_JSON_DEPTH, what,
                                &o, &why) < 0 ||
            !json_object_object_get_ex(o, "tags", &list))
                return bp_fail(err, -EINVAL, "%s: tag list is not {\"tags\": [...]}", what);
        if (json_object_is_type(list, json_type_null))
                return 0;
        if (!json_object_is_type(list, json_type_array))
                return bp_fail(err, -EINVAL, "%s: 'tags' is not an array", what);
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *t = json_object_array_get_idx(list, i);
                char **q;

                if (!json_object_is_type(t, json_type_string) || !ref_tag_ok(json_object_get_string(t)))
                        continue; /* not a tag anyone can pin: skip it, keep the rest */
                if (*n >= TAGS_MAX)
                        return bp_fail(err, -E2BIG, "%s: more than %d tags", what, TAGS_MAX);
                q = realloc(*tags, (*n + 2) * sizeof(char *));
                if (!q)
                        return bp_fail(err, -ENOMEM, "out of memory");
                *tags = q;
                q[*n + 1] = NULL;
                q[*n] = strdup(json_object_get_string(t));
                if (!q[*n])
                        return bp_fail(err, -ENOMEM, "out of memory");
                (*n)++;
        }
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

/* a and b, each "host[:port]", name the same place: the same address however written ("[fc00::0]" is
 * libcurl's "[fc00::]", "127.1" its "127.0.0.1"), the same name in any case, the same port number. */
static bool host_port_same(const char *a, const char *b)
{
        char ha[REF_DOMAIN_MAX], hb[REF_DOMAIN_MAX];
        const char *pa, *pb;
        unsigned long long na = 0, nb = 0;
        unsigned char xa[16], xb[16];

        pa = strchr(a[0] == '[' && strchr(a, ']') ? strchr(a, ']') : a, ':');
        pb = strchr(b[0] == '[' && strchr(b, ']') ? strchr(b, ']') : b, ':');
        if (!pa != !pb || (pa && (text_parse_u64(pa + 1, 10, 65535, &na) < 0 ||
                                  text_parse_u64(pb + 1, 10, 65535, &nb) < 0 || na != nb)))
                return false;
        (void) snprintf(ha, sizeof(ha), "%.*s", (int) (pa ? (size_t) (pa - a) : strlen(a)), a);
        (void) snprintf(hb, sizeof(hb), "%.*s", (int) (pb ? (size_t) (pb - b) : strlen(b)), b);
        if (ha[0] == '[' && hb[0] == '[') {
                ha[strlen(ha) - 1] = hb[strlen(hb) - 1] = '\0';
                return inet_pton(AF_INET6, ha + 1, xa) == 1 && inet_pton(AF_INET6, hb + 1, xb) == 1 &&
                       memcmp(xa, xb, 16) == 0;
        }
        {
                struct in_addr ia, ib;
                if (inet_aton(ha, &ia) && inet_aton(hb, &ib))
                        return ia.s_addr == ib.s_addr;
        }
        return strcasecmp(ha, hb) == 0;
}

/* libcurl's reading of a mirror URL, which the requests will follow: its host[:port] and scheme; a URL
 * with a user, query, fragment, path or another scheme is refused, as config.c refuses it. */
static int mirror_url_curl(const char *url, char ret[static REF_DOMAIN_MAX], bool *ret_plain, struct bp_err *err)
{
        CURLU *u = curl_url();
        char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *path = NULL, *query = NULL, *frag = NULL;
        int r = -EINVAL;

        if (!u)
                return bp_fail(err, -ENOMEM, "out of memory");
        if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_NO_USER &&
            curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_NO_QUERY &&
            curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_NO_FRAGMENT &&
            curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && strcmp(path, "/") == 0 &&
            (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0)) {
                CURLUcode pc = curl_url_get(u, CURLUPART_PORT, &port, 0);
                if ((pc == CURLUE_OK || pc == CURLUE_NO_PORT) &&
                    (size_t) snprintf(ret, REF_DOMAIN_MAX, "%s%s%s", host, port ? ":" : "", port ? port : "") <
                            REF_DOMAIN_MAX) {
                        *ret_plain = strcmp(scheme, "http") == 0;
                        r = 0;
                }
        }
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
        curl_free(user);
        curl_free(path);
        curl_free(query);
        curl_free(frag);
        curl_url_cleanup(u);
        return r;
}

bool registry_mirror_failed(struct bp_registry *reg, const char *why)
{
        char clean[sizeof(((struct bp_err *) 0)->msg)];

        if (!reg->mirror || reg->mirror_down)
                return false;
        reg->mirror_down = true;
        if (reg->warn) {
                char line[sizeof(clean) + sizeof(reg->mirror_url) + 2 * REF_DOMAIN_MAX + 96];
                text_copy_clean(clean, sizeof(clean), why);
                (void) snprintf(line, sizeof(line),
                                "mirror %s of %s failed (%s); asking %s itself for the rest of this run",
                                reg->mirror_url, reg->host, clean, reg->host);
                reg->warn(line);
        }
        return true;
}

/* The mirror: a registry of its own (host, auth, challenge, tokens) on the same engine. Only the auth
 * file's entry for its own host is read for it. */
static int mirror_new(struct bp_registry *reg, const struct bp_registry_opts *o, struct bp_err *err)
{
        char host[REF_DOMAIN_MAX];
        bool plain = false;
        struct bp_registry_opts m = {
                .host = host,
                .auth_key = host,
                .ca_file = o->mirror_ca_file,
                .auth_file = o->auth_file,
                .timeout_s = o->timeout_s,
                .http = reg->http,
        };
        int r;

        if (strlen(o->mirror) >= sizeof(reg->mirror_url) || !o->mirror_host || !o->mirror_host[0])
                return bp_fail(err, -EINVAL, "mirror '%.200s' of %s: too long, or not checked", o->mirror, o->host);
        r = dl_curl(err);
        if (r < 0)
                return r;
        /* The URL requests go to is libcurl's reading of it: it must be the one the config checked. */
        r = mirror_url_curl(o->mirror, host, &plain, err);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || plain != o->mirror_plain || !host_port_same(host, o->mirror_host))
                return bp_fail(err, -EINVAL, "mirror '%.200s' of %s is read otherwise by libcurl ('%.64s')",
                               o->mirror, o->host, r < 0 ? "not a URL" : host);
        m.insecure = plain;
        r = registry_new(&m, &reg->mirror, err);
        if (r < 0)
                return bp_err_prefix(err, r, "mirror of %s: ", o->host);
        reg->mirror->upstream = reg;
        text_copy(reg->mirror_url, sizeof(reg->mirror_url), o->mirror);
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
        reg->insecure = o->insecure;
        reg->timeout_s = o->timeout_s > 0 ? o->timeout_s : 30;
        if (o->ca_file && !(reg->ca_file = strdup(o->ca_file)))
                /* cppcheck-suppress memleak ; cppcheck does not model _cleanup_ */
                return bp_fail(err, -ENOMEM, "out of memory");
        if (!(reg->tokens = token_cache_new()))
                /* cppcheck-suppress memleak ; cppcheck does not model _cleanup_ */
                return bp_fail(err, -ENOMEM, "out of memory");
        r = dl_crypto(err);
        if (r < 0)
                /* cppcheck-suppress memleak ; cppcheck does not model _cleanup_ */
                return r;
        if (o->http) {
                reg->http = o->http;
        } else {
                r = http_new(&reg->own_http, err);
                if (r < 0)
                        return r;
                reg->http = reg->own_http;
        }
        if (o->auth_file) {
                r = load_credentials(reg, o->auth_file, o->auth_key ? o->auth_key : o->host, err);
                if (r < 0)
                        return r;
        }
        reg->warn = o->warn;
        if (o->mirror && o->mirror[0]) {
                r = mirror_new(reg, o, err);
                if (r < 0)
                        return r;
        }
        /* What this host asked for last time saves the probe's round trip: its 401, should it ask
         * otherwise now, says so and the request goes again. A remembered Bearer challenge is not used: its
         * token endpoint may have moved or died, and a token fetch that fails would fail the run rather
         * than cost one round trip. Basic without credentials is not used either: the host may have
         * stopped asking. */
        if (o->known &&
            (o->known->scheme == BP_AUTH_NONE || (o->known->scheme == BP_AUTH_BASIC && reg->have_creds))) {
                reg->challenge = *o->known;
                reg->challenge.scope[0] = '\0';
                reg->auth = AUTH_KNOWN;
        }
        *ret = steal_ptr(&reg);
        return 0;
}

const char *registry_api_host(const struct bp_registry *reg)
{
        return reg->host;
}

bool registry_challenge(const struct bp_registry *reg, struct bp_challenge *ret)
{
        if (reg->auth == AUTH_UNKNOWN || reg->auth == AUTH_PROBING)
                return false;
        *ret = reg->challenge;
        ret->scope[0] = '\0';
        return true;
}

void registry_free(struct bp_registry *reg)
{
        if (!reg)
                return;
        registry_free(reg->mirror); /* before the engine it runs on */
        http_free(reg->own_http);
        http_req_reset(&reg->token_req);
        token_cache_free(reg->tokens);
        registry_tags_free(reg->token_scopes);
        free(reg->token_url);
        free(reg->token_form);
        for (size_t i = 0; i < reg->n_wanted; i++)
                free(reg->wanted[i]);
        free(reg->wanted);
        free(reg->ca_file);
        explicit_bzero(&reg->creds, sizeof(reg->creds));
        free(reg);
}

void registry_freep(struct bp_registry **r)
{
        registry_free(*r);
}
