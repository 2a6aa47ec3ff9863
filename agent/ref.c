/* agent/ref.c: see ref.h. The grammar is docker's distribution/reference (reference.go, regexp.go,
 * normalize.go), checked by hand so that each rule can say which one was broken. */
#include "ref.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

#define REF_NAME_MAX_CHARS 255   /* distribution/reference NameTotalLengthMax */
#define REF_TAG_MAX_CHARS (REF_TAG_MAX - 1)

static bool is_lower_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
        return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

static bool is_lower_hex(char c)
{
        return is_digit(c) || (c >= 'a' && c <= 'f');
}

static int bad(struct bp_err *err, const char *s, const char *rule)
{
        char show[96];

        text_copy_clean(show, sizeof(show), s);
        return bp_fail(err, -EINVAL, "bad image reference '%s': %s", show, rule);
}

bool ref_digest_ok(const char *s)
{
        if (!s || !text_has_prefix(s, "sha256:"))
                return false;
        s += strlen("sha256:");
        for (size_t i = 0; i < 64; i++)
                if (!is_lower_hex(s[i]))
                        return false;
        return s[64] == '\0';
}

bool ref_tag_ok(const char *s)
{
        size_t n;

        if (!s || !(is_alnum(s[0]) || s[0] == '_'))
                return false;
        n = strnlen(s, REF_TAG_MAX);
        if (n > REF_TAG_MAX_CHARS)
                return false;
        for (size_t i = 1; i < n; i++)
                if (!is_alnum(s[i]) && !strchr("_.-", s[i]))
                        return false;
        return true;
}

/* The reason a tag is bad, for the message; NULL when it is good. */
static const char *tag_problem(const char *t)
{
        if (t[0] == '\0')
                return "empty tag after ':'";
        if (strlen(t) > REF_TAG_MAX_CHARS)
                return "tag is over 128 characters";
        if (t[0] == '.' || t[0] == '-')
                return "tag starts with '.' or '-'";
        if (!ref_tag_ok(t))
                return "tag may only have letters, digits, '_', '.' and '-'";
        return NULL;
}

static const char *digest_problem(const char *d)
{
        if (d[0] == '\0')
                return "empty digest after '@'";
        if (!text_has_prefix(d, "sha256:"))
                return "digest is not sha256";
        if (!ref_digest_ok(d))
                return "digest is not 'sha256:' and 64 lower-case hex digits";
        return NULL;
}

/* Length of the separator at c (n bytes left): one '.', one '_', "__" or a run of '-'; 0 for none. */
static size_t separator_len(const char *c, size_t n)
{
        size_t k = 0;

        while (k < n && c[k] == '-')
                k++;
        if (k > 0)
                return k;
        if (c[0] == '_' && n > 1 && c[1] == '_')
                return 2;
        return (c[0] == '.' || c[0] == '_') ? 1 : 0;
}

/* Alphanumerics joined by separators (regexp.go: pathComponent). */
static const char *component_problem(const char *c, size_t n)
{
        size_t i = 0;

        if (n == 0)
                return "empty path component ('//', or '/' at an end)";
        for (size_t k = 0; k < n; k++)
                if (c[k] >= 'A' && c[k] <= 'Z')
                        return "path must be lower-case";
        for (;;) {
                size_t run = 0, sep;

                while (i < n && is_lower_alnum(c[i]))
                        i++, run++;
                if (run == 0)
                        return "path component must start and end with a letter or digit";
                if (i == n)
                        return NULL;
                sep = separator_len(c + i, n - i);
                if (sep == 0)
                        return "path may only have a-z, 0-9, '.', '_', '__', '-' and '/'";
                i += sep;
                if (i == n || !is_lower_alnum(c[i]))
                        return "path has '..', '._', '___' or a separator at the end of a component";
        }
}

static const char *path_problem(const char *p)
{
        for (;;) {
                size_t n = strcspn(p, "/");
                const char *why = component_problem(p, n);

                if (why)
                        return why;
                if (p[n] == '\0')
                        return NULL;
                p += n + 1;
        }
}

/* [a-zA-Z0-9] or [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9], joined by '.' (regexp.go: domainName). */
static bool host_name_ok(const char *h, size_t n)
{
        size_t start = 0;

        for (size_t i = 0; i <= n; i++) {
                if (i < n && h[i] != '.') {
                        if (!is_alnum(h[i]) && h[i] != '-')
                                return false;
                        continue;
                }
                if (i == start || h[start] == '-' || h[i - 1] == '-')
                        return false;
                start = i + 1;
        }
        return true;
}

/* "[" hex and ':' "]": compressed or full IPv6, no zone (regexp.go: ipv6address). */
static bool host_ipv6_ok(const char *h, size_t n)
{
        if (n < 3 || h[0] != '[' || h[n - 1] != ']')
                return false;
        for (size_t i = 1; i < n - 1; i++)
                if (!is_lower_hex(h[i]) && !(h[i] >= 'A' && h[i] <= 'F') && h[i] != ':')
                        return false;
        return true;
}

const char *ref_domain_problem(const char *d)
{
        const char *close = d[0] == '[' ? strchr(d, ']') : NULL;
        const char *colon = strchr(close ? close : d, ':');
        size_t hn = colon ? (size_t) (colon - d) : strlen(d);
        unsigned long long port = 0;

        if (d[0] == '[' ? !host_ipv6_ok(d, hn) : !host_name_ok(d, hn))
                return "registry host is not a host name, IPv4 or [IPv6] address";
        if (colon && (text_parse_u64(colon + 1, 10, 65535, &port) < 0 || port == 0))
                return "registry port is not a number from 1 to 65535";
        return NULL;
}

/* normalize.go splitDockerDomain(): a first component with '.' or ':', or "localhost", is a registry. */
static bool looks_like_domain(const char *c, size_t n)
{
        return memchr(c, '.', n) || memchr(c, ':', n) || (n == 9 && memcmp(c, "localhost", 9) == 0);
}

/* Split name (no tag, no digest) into r->domain and r->path, with docker's defaults. */
static const char *split_name(const char *name, struct bp_ref *r)
{
        const char *slash = strchr(name, '/'), *path = name, *prefix, *why;
        size_t dn = 0, pn;

        if (slash && looks_like_domain(name, (size_t) (slash - name))) {
                dn = (size_t) (slash - name);
                path = slash + 1;
        }
        if (dn >= sizeof(r->domain))
                return "name is over 255 characters";
        memcpy(r->domain, name, dn);
        r->domain[dn] = '\0';
        why = dn > 0 ? ref_domain_problem(r->domain) : NULL;
        if (why)
                return why;
        if (dn == 0 || strcmp(r->domain, "index.docker.io") == 0)
                text_copy(r->domain, sizeof(r->domain), "docker.io");
        why = path_problem(path);
        if (why)
                return why;
        prefix = strcmp(r->domain, "docker.io") == 0 && !strchr(path, '/') ? "library/" : "";
        pn = strlen(prefix);
        if (strlen(r->domain) + 1 + pn + strlen(path) > REF_NAME_MAX_CHARS)
                return "name is over 255 characters";
        memcpy(r->path, prefix, pn);
        memcpy(r->path + pn, path, strlen(path) + 1);
        return NULL;
}

/* A bare 64-hex name is an image ID to docker, never a repository (normalize.go). */
static bool is_image_id(const char *s)
{
        for (size_t i = 0; i < 64; i++)
                if (!is_lower_hex(s[i]))
                        return false;
        return s[64] == '\0';
}

static const char *text_problem(const char *s)
{
        if (strnlen(s, REF_STRING_MAX) >= REF_STRING_MAX)
                return "longer than any valid reference";
        if (s[0] == '\0')
                return "empty";
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p <= ' ' || *p >= 0x7f)
                        return "white space, control or non-ASCII character";
        if (is_image_id(s))
                return "a 64-hex name is an image ID, not a repository";
        return NULL;
}

/* Take "@digest" and ":tag" off the end of buf, into r; buf keeps the name. */
static const char *split_suffixes(char *buf, struct bp_ref *r)
{
        char *at = strchr(buf, '@'), *colon;
        const char *why;

        if (at) {
                *at = '\0';
                why = digest_problem(at + 1);
                if (why)
                        return why;
                text_copy(r->digest, sizeof(r->digest), at + 1);
        }
        colon = strrchr(buf, ':');
        if (colon && !strchr(colon, '/')) {
                *colon = '\0';
                why = tag_problem(colon + 1);
                if (why)
                        return why;
                text_copy(r->tag, sizeof(r->tag), colon + 1);
        } else if (!at) {
                text_copy(r->tag, sizeof(r->tag), "latest");
        }
        if (buf[0] == '\0')
                return "no repository name";
        return NULL;
}

int ref_parse(const char *s, struct bp_ref *ret, struct bp_err *err)
{
        char buf[REF_STRING_MAX];
        struct bp_ref r = { 0 };
        const char *why;

        why = text_problem(s);
        if (why)
                return bad(err, s, why);
        text_copy(buf, sizeof(buf), s);
        why = split_suffixes(buf, &r);
        if (!why)
                why = split_name(buf, &r);
        if (why)
                return bad(err, s, why);
        *ret = r;
        return 0;
}

const char *ref_format(const struct bp_ref *r, char buf[static REF_STRING_MAX])
{
        (void) snprintf(buf, REF_STRING_MAX, "%s/%s%s%s%s%s", r->domain, r->path, r->tag[0] ? ":" : "", r->tag,
                        r->digest[0] ? "@" : "", r->digest);
        return buf;
}

const char *ref_name(const struct bp_ref *r, char buf[static REF_STRING_MAX])
{
        (void) snprintf(buf, REF_STRING_MAX, "%s/%s", r->domain, r->path);
        return buf;
}

const char *ref_api_host(const struct bp_ref *r)
{
        /* docker.io is a name, not a server: the v2 API for it is served by registry-1.docker.io. */
        if (strcmp(r->domain, "docker.io") == 0)
                return "registry-1.docker.io";
        return r->domain;
}
