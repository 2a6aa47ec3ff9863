/* agent/challenge.c: see challenge.h. */
#include "challenge.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "text.h"

/* Registries send a few hundred bytes; curl caps a whole header line at 100 KiB (CURL_MAX_HTTP_HEADER). */
#define AUTH_HEADER_MAX_BYTES (16 * 1024)

struct chal_parse {
        const char *header;     /* the whole value, for messages */
        const char *p;
        struct bp_err *err;
};

struct chal {
        struct bp_challenge c;
        char scheme[32];        /* as sent, for the -ENOTSUP message; cut to fit */
        unsigned seen;          /* CHAL_SEEN_* bits: each parameter at most once (RFC 7235 §2.1) */
};

enum {
        CHAL_SEEN_REALM = 1 << 0,
        CHAL_SEEN_SERVICE = 1 << 1,
        CHAL_SEEN_SCOPE = 1 << 2,
};

static int chal_fail(const struct chal_parse *cp, const char *why, bool at)
{
        char show[80];

        text_copy_clean(show, sizeof(show), cp->header);
        if (!at)
                return bp_fail(cp->err, -EINVAL, "bad WWW-Authenticate header '%s': %s", show, why);
        return bp_fail(cp->err, -EINVAL, "bad WWW-Authenticate header '%s': %s at byte %zu", show, why,
                       (size_t) (cp->p - cp->header));
}

/* RFC 7230 §3.2.6 tchar */
static bool is_tchar(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static size_t token_len(const char *p)
{
        size_t n = 0;

        while (is_tchar(p[n]))
                n++;
        return n;
}

static const char *skip_ows(const char *p)
{
        while (*p == ' ' || *p == '\t')
                p++;
        return p;
}

/* The #rule allows empty list elements: ", , Bearer …". */
static const char *skip_list_sep(const char *p)
{
        while (*p == ' ' || *p == '\t' || *p == ',')
                p++;
        return p;
}

/* token68 (RFC 7235 §2.1) standing alone after the scheme, as in "Negotiate a8Zx==". */
static bool token68_at(const char *p)
{
        size_t n = 0;

        while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= '0' && p[n] <= '9') ||
               (p[n] != '\0' && strchr("-._~+/", p[n])))
                n++;
        if (n == 0)
                return false;
        while (p[n] == '=')
                n++;
        p = skip_ows(p + n);
        return *p == '\0' || *p == ',';
}

/* name BWS "=": the start of an auth-param rather than of the next challenge. */
static bool param_at(const char *p)
{
        size_t n = token_len(p);

        return n > 0 && *skip_ows(p + n) == '=';
}

/* The quoted-string at *pp, unescaped into dst of size bytes (NULL: check only); *pp moves past it.
 * -E2BIG when it does not fit, -EINVAL with *why when malformed. */
static int read_quoted(const char **pp, char *dst, size_t size, const char **why)
{
        const char *p = *pp + 1;
        size_t n = 0;

        for (; *p != '"'; p++, n++) {
                if (*p == '\\')
                        p++;
                if (*p == '\0') {
                        *why = "unterminated quoted string";
                        return -EINVAL;
                }
                if (((unsigned char) *p < 0x20 && *p != '\t') || *p == 0x7f) {
                        *why = "control character in quoted string";
                        return -EINVAL;
                }
                if (dst && n + 1 >= size)
                        return -E2BIG;
                if (dst)
                        dst[n] = *p;
        }
        if (dst)
                dst[n] = '\0';
        *pp = p + 1;
        return 0;
}

/* A quoted-string or a token at cp->p, into dst of size bytes (NULL: check only); see read_quoted(). */
static int read_value(struct chal_parse *cp, char *dst, size_t size, const char **why)
{
        size_t n = token_len(cp->p);

        if (*cp->p == '"')
                return read_quoted(&cp->p, dst, size, why);
        if (n == 0) {
                *why = "parameter without a value";
                return -EINVAL;
        }
        if (dst && n >= size)
                return -E2BIG;
        if (dst) {
                memcpy(dst, cp->p, n);
                dst[n] = '\0';
        }
        cp->p += n;
        return 0;
}

/* Where the value of parameter name (n bytes) goes in ch: NULL for parameters this scheme ignores. */
static char *param_field(struct chal *ch, const char *name, size_t n, size_t *size, unsigned *bit)
{
        if (ch->c.scheme == BP_AUTH_NONE)
                return NULL;
        if (n == 5 && strncasecmp(name, "realm", 5) == 0) {
                *size = sizeof(ch->c.realm), *bit = CHAL_SEEN_REALM;
                return ch->c.realm;
        }
        if (ch->c.scheme != BP_AUTH_BEARER)
                return NULL;
        if (n == 7 && strncasecmp(name, "service", 7) == 0) {
                *size = sizeof(ch->c.service), *bit = CHAL_SEEN_SERVICE;
                return ch->c.service;
        }
        if (n == 5 && strncasecmp(name, "scope", 5) == 0) {
                *size = sizeof(ch->c.scope), *bit = CHAL_SEEN_SCOPE;
                return ch->c.scope;
        }
        return NULL;
}

/* One auth-param: name BWS "=" BWS value. */
static int read_param(struct chal_parse *cp, struct chal *ch)
{
        const char *name = cp->p, *why = NULL;
        size_t n = token_len(name), size = 0;
        unsigned bit = 0;
        char *dst = param_field(ch, name, n, &size, &bit);
        char msg[64];
        int r;

        if (ch->seen & bit) {
                (void) snprintf(msg, sizeof(msg), "parameter '%.*s' given twice", (int) n, name);
                return chal_fail(cp, msg, true);
        }
        ch->seen |= bit;
        cp->p = skip_ows(skip_ows(name + n) + 1);
        r = read_value(cp, dst, size, &why);
        if (r == -E2BIG) {
                (void) snprintf(msg, sizeof(msg), "parameter '%.*s' too long (over %zu bytes)", (int) n, name,
                                size - 1);
                return chal_fail(cp, msg, true);
        }
        return r < 0 ? chal_fail(cp, why, true) : 0;
}

/* The auth-params of one challenge; stops at the end or at the ',' before the next challenge. */
static int read_params(struct chal_parse *cp, struct chal *ch)
{
        const char *q;
        int r;

        if (*cp->p == '\0' || *cp->p == ',')
                return 0;
        if (!param_at(cp->p))
                return chal_fail(cp, "expected name=value", true);
        for (;;) {
                r = read_param(cp, ch);
                if (r < 0)
                        return r;
                cp->p = skip_ows(cp->p);
                if (*cp->p == '\0')
                        return 0;
                if (*cp->p != ',')
                        return chal_fail(cp, "expected ',' between parameters", true);
                q = skip_list_sep(cp->p);
                if (!param_at(q))
                        return 0;
                cp->p = q;
        }
}

static enum bp_auth_scheme scheme_of(const char *s, size_t n)
{
        if (n == 6 && strncasecmp(s, "Bearer", 6) == 0)
                return BP_AUTH_BEARER;
        if (n == 5 && strncasecmp(s, "Basic", 5) == 0)
                return BP_AUTH_BASIC;
        return BP_AUTH_NONE;
}

/* The next challenge into ret: 1, 0 at the end of the header, or -EINVAL. */
static int next_challenge(struct chal_parse *cp, struct chal *ret)
{
        struct chal ch = { 0 };
        size_t n;
        int r;

        cp->p = skip_list_sep(cp->p);
        if (*cp->p == '\0')
                return 0;
        n = token_len(cp->p);
        if (n == 0)
                return chal_fail(cp, "expected an auth scheme", true);
        ch.c.scheme = scheme_of(cp->p, n);
        (void) snprintf(ch.scheme, sizeof(ch.scheme), "%.*s", (int) n, cp->p);
        cp->p += n;
        if (*cp->p != '\0' && *cp->p != ',' && *cp->p != ' ' && *cp->p != '\t')
                return chal_fail(cp, "expected a space after the auth scheme", true);
        cp->p = skip_ows(cp->p);
        if (token68_at(cp->p)) {
                cp->p += strcspn(cp->p, ",");
        } else {
                r = read_params(cp, &ch);
                if (r < 0)
                        return r;
        }
        *ret = ch;
        return 1;
}

static bool http_url_ok(const char *u)
{
        const char *host;

        if (strncasecmp(u, "https://", 8) == 0)
                host = u + 8;
        else if (strncasecmp(u, "http://", 7) == 0)
                host = u + 7;
        else
                return false;
        if (*host == '\0' || strchr("/?#", *host))
                return false;
        for (; *u; u++)
                if ((unsigned char) *u <= ' ' || (unsigned char) *u >= 0x7f)
                        return false;
        return true;
}

static int pick_challenge(struct chal_parse *cp, const struct chal *bearer, const struct chal *basic,
                          const char *other, struct bp_challenge *ret)
{
        char show[80];

        if (bearer->c.scheme == BP_AUTH_BEARER) {
                if (bearer->c.realm[0] == '\0')
                        return chal_fail(cp, "Bearer challenge without realm", false);
                if (!http_url_ok(bearer->c.realm))
                        return chal_fail(cp, "Bearer realm is not an http(s) URL", false);
                *ret = bearer->c;
                return 0;
        }
        if (basic->c.scheme == BP_AUTH_BASIC) {
                *ret = basic->c;
                return 0;
        }
        if (other[0] == '\0')
                return chal_fail(cp, "no challenge", false);
        text_copy_clean(show, sizeof(show), other);
        return bp_fail(cp->err, -ENOTSUP, "registry asks for auth scheme '%s'; only Basic and Bearer are supported",
                       show);
}

int auth_parse_challenge(const char *header, struct bp_challenge *ret, struct bp_err *err)
{
        struct chal_parse cp = { .header = header, .p = header, .err = err };
        struct chal ch, bearer = { 0 }, basic = { 0 };
        char other[sizeof(ch.scheme)] = "";
        int r;

        if (strnlen(header, AUTH_HEADER_MAX_BYTES + 1) > AUTH_HEADER_MAX_BYTES)
                return bp_fail(err, -EINVAL, "WWW-Authenticate header over %d bytes", AUTH_HEADER_MAX_BYTES);
        while ((r = next_challenge(&cp, &ch)) > 0) {
                if (ch.c.scheme == BP_AUTH_BEARER && bearer.c.scheme == BP_AUTH_NONE)
                        bearer = ch;
                else if (ch.c.scheme == BP_AUTH_BASIC && basic.c.scheme == BP_AUTH_NONE)
                        basic = ch;
                if (other[0] == '\0')
                        text_copy(other, sizeof(other), ch.scheme);
        }
        if (r < 0)
                return r;
        return pick_challenge(&cp, &bearer, &basic, other, ret);
}
