/* agent/authfile.c: see authfile.h. */
#include "authfile.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "dl.h"
#include "fsio.h"
#include "jsonio.h"
#include "text.h"

/* config.json is three levels deep ({"auths": {"host": {"auth": …}}}); 16 leaves room for other keys and
 * stops a file of 10000 '[' long before json-c's default of 32. */
#define AUTH_JSON_MAX_DEPTH 16

static int parse_json(const char *path, const char *text, size_t len, json_object **ret, struct bp_err *err)
{
        return jsonio_parse_object(text, len, AUTH_FILE_MAX_BYTES, AUTH_JSON_MAX_DEPTH, path, ret, err);
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
 * ConvertToHostname does), 0 not at all. A bare key with a path ("quay.io/org") is for that namespace
 * only (containers-auth.json(5)), so it never matches a host alone. */
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
        _cleanup_(jsonio_putp) json_object *root = NULL;
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

int auth_file_read(const char *path, const char *host, struct bp_credentials *ret, struct bp_err *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r;

        r = fsio_read(path, AUTH_FILE_MAX_BYTES, &text, &len, err);
        if (r < 0)
                return bp_err_prefix(err, r, "auth file ");
        r = auth_file_lookup(path, text, len, host, ret, err);
        explicit_bzero(text, len);
        return r;
}
