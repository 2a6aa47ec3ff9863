/* agent/token.c: see token.h. */
#include "token.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "dl.h"
#include "jsonio.h"
#include "text.h"

struct token_value {
        char *value;
        int64_t expires_ms;
        unsigned refs;
};

struct token_entry {
        char *scope;
        struct token_value *token;
};

struct bp_token_cache {
        struct token_entry *entries;
        size_t n, cap;
};

struct bp_token_cache *token_cache_new(void)
{
        return calloc(1, sizeof(struct bp_token_cache));
}

static void value_unref(struct token_value *v)
{
        if (v && --v->refs == 0) {
                explicit_bzero(v->value, strlen(v->value));
                free(v->value);
                free(v);
        }
}

void token_cache_free(struct bp_token_cache *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->n; i++) {
                free(c->entries[i].scope);
                value_unref(c->entries[i].token);
        }
        free(c->entries);
        free(c);
}

void token_cache_freep(struct bp_token_cache **c)
{
        token_cache_free(*c);
}

static struct token_entry *entry_find(const struct bp_token_cache *c, const char *scope)
{
        for (size_t i = 0; i < c->n; i++)
                if (strcmp(c->entries[i].scope, scope) == 0)
                        return &c->entries[i];
        return NULL;
}

const char *token_cache_find(const struct bp_token_cache *c, const char *scope, int64_t now_ms)
{
        const struct token_entry *e = entry_find(c, scope);

        return e && now_ms < e->token->expires_ms ? e->token->value : NULL;
}

int token_cache_store(struct bp_token_cache *c, const char *const *scopes, size_t n, const char *value,
                      long expires_s, int64_t now_ms)
{
        struct token_value *v = calloc(1, sizeof(*v));

        if (!v || !(v->value = strdup(value))) {
                free(v);
                return -ENOMEM;
        }
        /* Renew a little early: requests take time. */
        v->expires_ms = now_ms + ((int64_t) (expires_s > 10 ? expires_s - 5 : expires_s)) * 1000;
        v->refs = 1; /* ours until the scopes hold it */
        for (size_t i = 0; i < n; i++) {
                struct token_entry *e = entry_find(c, scopes[i]);

                if (!e) {
                        if (c->n == TOKEN_SCOPES_MAX) {
                                value_unref(v);
                                return -E2BIG;
                        }
                        if (c->n == c->cap) {
                                size_t cap = c->cap ? c->cap * 2 : 16;
                                struct token_entry *q = realloc(c->entries, cap * sizeof(*q));
                                if (!q) {
                                        value_unref(v);
                                        return -ENOMEM;
                                }
                                c->entries = q;
                                c->cap = cap;
                        }
                        e = &c->entries[c->n];
                        e->scope = strdup(scopes[i]);
                        if (!e->scope) {
                                value_unref(v);
                                return -ENOMEM;
                        }
                        e->token = NULL;
                        c->n++;
                }
                value_unref(e->token);
                e->token = v;
                v->refs++;
        }
        value_unref(v);
        return 0;
}

int token_parse_response(const char *body, size_t len, const char *content_type, const char *realm, char **ret,
                         long *ret_expires_s, struct bp_err *err)
{
        _cleanup_(jsonio_putp) json_object *o = NULL;
        struct bp_err why = { 0 };
        json_object *v;
        const char *value = NULL;
        long expires = 60;
        char ctype[128], where[256];

        text_copy_clean(ctype, sizeof(ctype), content_type ? content_type : "");
        text_copy_clean(where, sizeof(where), realm);
        if (jsonio_parse_object(body ? body : "", body ? len : 0, TOKEN_MAX_BYTES, 8, "token", &o, &why) < 0)
                return bp_fail(err, -EINVAL, "token from '%s': not a JSON object (Content-Type '%s')", where,
                               ctype);
        if ((json_object_object_get_ex(o, "token", &v) && json_object_is_type(v, json_type_string)) ||
            (json_object_object_get_ex(o, "access_token", &v) && json_object_is_type(v, json_type_string)))
                value = json_object_get_string(v);
        /* The value goes into an Authorization header: no line breaks, nothing a header cannot carry. */
        if (!value || !value[0] || strlen(value) > TOKEN_VALUE_MAX || strpbrk(value, "\r\n") ||
            (size_t) json_object_get_string_len(v) != strlen(value))
                return bp_fail(err, -EINVAL, "token from '%s': no usable 'token' or 'access_token'", where);
        if (json_object_object_get_ex(o, "expires_in", &v) && json_object_is_type(v, json_type_int)) {
                int64_t e = json_object_get_int64(v);
                /* The spec's minimum is 60 s; a day is more than any registry gives. */
                expires = e < 60 ? 60 : e > 86400 ? 86400 : (long) e;
        }
        *ret = strdup(value);
        if (!*ret)
                return bp_fail(err, -ENOMEM, "out of memory");
        *ret_expires_s = expires;
        return 0;
}

/* RFC 3986 percent-encoding of everything but unreserved characters. */
static void put_escaped(FILE *f, const char *s)
{
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                    *p == '.' || *p == '_' || *p == '~')
                        fputc(*p, f);
                else
                        fprintf(f, "%%%02X", *p);
        }
}

static int close_memstream(FILE *f, char **buf, char **ret)
{
        if (fclose(f) != 0 || !*buf) {
                free(*buf);
                return -ENOMEM;
        }
        *ret = *buf;
        return 0;
}

/* One "name=value" more on u's query, value percent-encoded by libcurl. */
static CURLUcode query_add(CURLU *u, const char *name, const char *value)
{
        char *part = NULL;
        CURLUcode uc;

        if (asprintf(&part, "%s=%s", name, value) < 0)
                return CURLUE_OUT_OF_MEMORY;
        uc = curl_url_set(u, CURLUPART_QUERY, part, CURLU_APPENDQUERY | CURLU_URLENCODE);
        free(part);
        return uc;
}

int token_request_url(const struct bp_challenge *ch, const char *const *scopes, size_t n, char **ret)
{
        CURLU *u = curl_url();
        char *scheme = NULL, *url = NULL;
        CURLUcode uc;
        int r = -EINVAL;

        if (!u)
                return -ENOMEM;
        uc = curl_url_set(u, CURLUPART_URL, ch->realm, 0);
        if (uc == CURLUE_OK)
                uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
        if (uc == CURLUE_OK && strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)
                uc = CURLUE_UNSUPPORTED_SCHEME;
        if (uc == CURLUE_OK)
                uc = query_add(u, "service", ch->service);
        for (size_t i = 0; uc == CURLUE_OK && i < n; i++)
                uc = query_add(u, "scope", scopes[i]);
        if (uc == CURLUE_OK)
                uc = curl_url_get(u, CURLUPART_URL, &url, 0);
        if (uc == CURLUE_OK) {
                *ret = strdup(url);
                r = *ret ? 0 : -ENOMEM;
        } else if (uc == CURLUE_OUT_OF_MEMORY) {
                r = -ENOMEM;
        }
        curl_free(scheme);
        curl_free(url);
        curl_url_cleanup(u);
        return r;
}

int token_refresh_form(const struct bp_challenge *ch, const char *refresh_token, const char *const *scopes,
                       size_t n, char **ret)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return -ENOMEM;
        fputs("grant_type=refresh_token&client_id=boardpin&service=", f);
        put_escaped(f, ch->service);
        fputs("&scope=", f);
        for (size_t i = 0; i < n; i++) {
                if (i)
                        fputs("%20", f);
                put_escaped(f, scopes[i]);
        }
        fputs("&refresh_token=", f);
        put_escaped(f, refresh_token);
        return close_memstream(f, &buf, ret);
}
