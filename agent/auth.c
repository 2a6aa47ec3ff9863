/* agent/auth.c: see auth.h. */
#include "auth.h"

#include <errno.h>
#include <limits.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "dl.h"
#include "text.h"

/* Registries send a few hundred bytes; curl caps a whole header line at 100 KiB (CURL_MAX_HTTP_HEADER). */
#define AUTH_HEADER_MAX_BYTES (16 * 1024)
/* config.json is three levels deep ({"auths": {"host": {"auth": …}}}); 16 leaves room for other keys
 * and stops a file of 10000 '[' long before json-c's default of 32. */
#define AUTH_JSON_MAX_DEPTH 16

/* ---- WWW-Authenticate ---- */

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

/* ---- auth files ---- */

static void json_object_putp(json_object **o)
{
        json_object_put(*o);
}

static void json_tokener_freep(struct json_tokener **t)
{
        if (*t)
                json_tokener_free(*t);
}

/* "\u0000" decodes to a NUL that json-c keeps in values but cuts keys at, so a key could seem to say
 * something it does not; an escape is a backslash preceded by an even run of backslashes. */
static bool has_escaped_nul(const char *text, size_t len)
{
        for (const char *p = text; (p = memmem(p, len - (size_t) (p - text), "\\u0000", 6)); p++) {
                size_t run = 0;

                while (p - run > text && p[-(ptrdiff_t) run - 1] == '\\')
                        run++;
                if (run % 2 == 0)
                        return true;
        }
        return false;
}

static int parse_json(const char *path, const char *text, size_t len, json_object **ret, struct bp_err *err)
{
        _cleanup_(json_tokener_freep) struct json_tokener *tok = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        enum json_tokener_error jerr;
        size_t end;

        if (len > AUTH_FILE_MAX_BYTES)
                return bp_fail(err, -EINVAL, "%s: over %d bytes", path, AUTH_FILE_MAX_BYTES);
        if (memchr(text, '\0', len) || has_escaped_nul(text, len))
                return bp_fail(err, -EINVAL, "%s: has a NUL character", path);
        tok = json_tokener_new_ex(AUTH_JSON_MAX_DEPTH);
        if (!tok)
                return bp_fail(err, -ENOMEM, "out of memory");
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, text, (int) len);
        jerr = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        if (jerr != json_tokener_success)
                return bp_fail(err, -EINVAL, "%s: bad JSON at byte %zu: %s", path, end,
                               jerr == json_tokener_continue ? "unexpected end" : json_tokener_error_desc(jerr));
        while (end < len && strchr(" \t\r\n", text[end]))
                end++;
        if (end < len)
                return bp_fail(err, -EINVAL, "%s: text after the JSON at byte %zu", path, end);
        if (!json_object_is_type(o, json_type_object))
                return bp_fail(err, -EINVAL, "%s: not a JSON object", path);
        *ret = steal_ptr(&o);
        return 0;
}

static bool is_docker_hub(const char *h, size_t n)
{
        static const char *const names[] = { "docker.io", "index.docker.io", "registry-1.docker.io" };

        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strlen(names[i]) == n && strncasecmp(h, names[i], n) == 0)
                        return true;
        return false;
}

/* How well an "auths" key names host: 2 a bare host, 1 a URL (scheme and path dropped, as docker's
 * ConvertToHostname does), 0 not at all. A bare key with a path ("quay.io/org") is for that
 * namespace only (containers-auth.json(5)), so it never matches a host alone. */
static int key_rank(const char *key, const char *host)
{
        const char *h = key;
        size_t n, hn = strlen(host);
        bool url = true;

        if (strncasecmp(key, "https://", 8) == 0)
                h = key + 8;
        else if (strncasecmp(key, "http://", 7) == 0)
                h = key + 7;
        else
                url = false;
        n = url ? strcspn(h, "/") : strlen(h);
        if (n == 0)
                return 0;
        if (!(is_docker_hub(h, n) && is_docker_hub(host, hn)) && !(n == hn && strncasecmp(h, host, n) == 0))
                return 0;
        return url ? 1 : 2;
}

/* The best entry of auths for host, or NULL; null entries count as absent. */
static json_object *find_entry(json_object *auths, const char *host, const char **ret_key)
{
        json_object *best = NULL;
        int best_rank = 0;

        json_object_object_foreach(auths, key, val) {
                int rank = key_rank(key, host);

                if (val && rank > best_rank) {
                        best = val, best_rank = rank;
                        *ret_key = key;
                }
        }
        return best;
}

struct entry_ctx {
        const char *path;
        const char *key;
        struct bp_err *err;
};

static int entry_fail(const struct entry_ctx *e, const char *field, const char *why)
{
        char key[72];

        text_copy_clean(key, sizeof(key), e->key);
        return bp_fail(e->err, -EINVAL, "%s: auths.\"%s\"%s%s: %s", e->path, key, field[0] ? "." : "", field, why);
}

/* Member name of entry as a string: 0 with *ret NULL when absent or null, -EINVAL for another type. */
static int get_string(const struct entry_ctx *e, json_object *entry, const char *name, const char **ret,
                      size_t *ret_len)
{
        json_object *v = NULL;

        *ret = NULL;
        if (!json_object_object_get_ex(entry, name, &v) || !v)
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return entry_fail(e, name, "not a string");
        *ret = json_object_get_string(v);
        *ret_len = (size_t) json_object_get_string_len(v);
        return 0;
}

static int copy_field(const struct entry_ctx *e, const char *field, char *dst, size_t size, const char *src,
                      size_t n)
{
        char why[48];

        if (n >= size) {
                (void) snprintf(why, sizeof(why), "too long (over %zu bytes)", size - 1);
                return entry_fail(e, field, why);
        }
        memcpy(dst, src, n);
        dst[n] = '\0';
        return 0;
}

/* Standard base64 with padding, as Go's base64.StdEncoding writes it. *ret is NUL-terminated. */
static int base64_decode(const char *in, size_t n, unsigned char **ret, size_t *ret_len)
{
        _cleanup_free_ unsigned char *buf = NULL;
        size_t pad = 0;

        if (n == 0 || n % 4 != 0 || n > INT_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                bool alpha = (in[i] >= 'A' && in[i] <= 'Z') || (in[i] >= 'a' && in[i] <= 'z') ||
                             (in[i] >= '0' && in[i] <= '9') || in[i] == '+' || in[i] == '/';

                if (alpha && pad == 0)
                        continue;
                if (in[i] != '=' || i < n - 2)
                        return -EINVAL;
                pad++;
        }
        buf = malloc(n / 4 * 3 + 1);
        if (!buf)
                return -ENOMEM;
        /* EVP_DecodeBlock counts the zero bytes that padding stands for; the '=' count says how many. */
        if (EVP_DecodeBlock(buf, (const unsigned char *) in, (int) n) != (int) (n / 4 * 3))
                return -EINVAL;
        *ret_len = n / 4 * 3 - pad;
        buf[*ret_len] = '\0';
        *ret = steal_ptr(&buf);
        return 0;
}

static void erase(unsigned char *p, size_t n)
{
        if (p)
                explicit_bzero(p, n);
        free(p);
}

/* "auth": base64 of "user:password"; the password may itself have ':'. */
static int decode_auth(const struct entry_ctx *e, const char *b64, size_t n, struct bp_credentials *c)
{
        unsigned char *raw = NULL;
        size_t len = 0;
        char *colon;
        int r;

        r = base64_decode(b64, n, &raw, &len);
        if (r == -ENOMEM)
                return bp_fail(e->err, r, "out of memory");
        if (r < 0)
                return entry_fail(e, "auth", "not base64");
        colon = memchr(raw, ':', len);
        if (memchr(raw, '\0', len))
                r = entry_fail(e, "auth", "decodes to a NUL byte");
        else if (!colon)
                r = entry_fail(e, "auth", "does not decode to 'user:password'");
        else
                r = copy_field(e, "auth (user)", c->username, sizeof(c->username), (char *) raw,
                               (size_t) (colon - (char *) raw));
        if (r == 0)
                r = copy_field(e, "auth (password)", c->password, sizeof(c->password), colon + 1,
                               len - (size_t) (colon + 1 - (char *) raw));
        erase(raw, len);
        return r;
}

static int read_entry(const struct entry_ctx *e, json_object *entry, struct bp_credentials *c)
{
        const char *auth, *user, *pass, *token;
        size_t auth_n = 0, user_n = 0, pass_n = 0, token_n = 0;
        int r;

        if (!json_object_is_type(entry, json_type_object))
                return entry_fail(e, "", "not an object");
        if ((r = get_string(e, entry, "auth", &auth, &auth_n)) < 0 ||
            (r = get_string(e, entry, "username", &user, &user_n)) < 0 ||
            (r = get_string(e, entry, "password", &pass, &pass_n)) < 0 ||
            (r = get_string(e, entry, "identitytoken", &token, &token_n)) < 0)
                return r;
        /* docker's "auth" wins over "username"/"password" when both are there (cli/config/configfile). */
        if (auth && auth_n > 0)
                r = decode_auth(e, auth, auth_n, c);
        else if ((r = copy_field(e, "username", c->username, sizeof(c->username), user ? user : "", user_n)) == 0)
                r = copy_field(e, "password", c->password, sizeof(c->password), pass ? pass : "", pass_n);
        if (r == 0 && token)
                r = copy_field(e, "identitytoken", c->identity_token, sizeof(c->identity_token), token, token_n);
        return r;
}

static int no_credentials(const char *path, const char *host, json_object *root, struct bp_err *err)
{
        char show[72];
        bool helper = json_object_object_get_ex(root, "credsStore", NULL) ||
                      json_object_object_get_ex(root, "credHelpers", NULL);

        text_copy_clean(show, sizeof(show), host);
        return bp_fail(err, -ENOENT, "%s: no credentials for '%s'%s", path, show,
                       helper ? " (it names a credential helper, which boardpin does not run)" : "");
}

int auth_file_lookup(const char *path, const char *text, size_t len, const char *host,
                     struct bp_credentials *ret, struct bp_err *err)
{
        _cleanup_(json_object_putp) json_object *root = NULL;
        json_object *auths = NULL, *entry;
        struct bp_credentials c = { 0 };
        struct entry_ctx e = { .path = path, .err = err };
        int r;

        if (!host || host[0] == '\0')
                return bp_fail(err, -EINVAL, "%s: no registry host to look up", path);
        r = dl_crypto(err);
        if (r < 0)
                return r;
        r = parse_json(path, text, len, &root, err);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(root, "auths", &auths) || !auths)
                return no_credentials(path, host, root, err);
        if (!json_object_is_type(auths, json_type_object))
                return bp_fail(err, -EINVAL, "%s: \"auths\" is not an object", path);
        entry = find_entry(auths, host, &e.key);
        if (!entry)
                return no_credentials(path, host, root, err);
        r = read_entry(&e, entry, &c);
        if (r == 0 && c.username[0] == '\0' && c.password[0] == '\0' && c.identity_token[0] == '\0')
                r = no_credentials(path, host, root, err);
        if (r == 0)
                *ret = c;
        explicit_bzero(&c, sizeof(c));
        return r;
}

int auth_basic_value(const struct bp_credentials *c, char *buf, size_t size)
{
        char raw[sizeof(c->username) + sizeof(c->password)];
        size_t u = strnlen(c->username, sizeof(c->username) - 1);
        size_t p = strnlen(c->password, sizeof(c->password) - 1);
        size_t n = u + 1 + p;

        if (!buf || size < (n + 2) / 3 * 4 + 1)
                return -ENOBUFS;
        if (dl_crypto(NULL) < 0)
                return -ENOENT;
        memcpy(raw, c->username, u);
        raw[u] = ':';
        memcpy(raw + u + 1, c->password, p);
        (void) EVP_EncodeBlock((unsigned char *) buf, (const unsigned char *) raw, (int) n);
        explicit_bzero(raw, sizeof(raw));
        return 0;
}
