/* agent/config.c: see config.h.
 *
 * inih splits lines into [sections] and name = value pairs. What inih would do without a word is refused
 * first, in the line reader, which also counts the lines the handler is not told about. Debian 12's
 * libinih 55 is built with INI_MAX_LINE 200, INI_ALLOW_MULTILINE, INI_ALLOW_BOM, inline ';' comments and
 * char section[MAX_SECTION = 50] (ini.c); measured with it:
 *   - a line over 198 bytes is cut, and its tail is read as a line of its own;
 *   - a section name over 48 bytes is cut to 49, so "[service a…a]" and "[service a…ab]" would merge;
 *   - an indented line continues the value of the key above it;
 *   - "key: value" is a key, and anything after "[section]" on its line is dropped;
 *   - the handler is not called for a section without keys, and gets no line number.
 * So the reader passes inih only clean lines: no BOM, no indentation, no '\r', no comment, no ':' form,
 * and it handles section headers itself. The file then reads the same whatever INI_* options inih was
 * built with: a ';' after a blank starts a comment even where inline comments are off. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "age.h"
#include "cleanup.h"
#include "fsio.h"
#include "text.h"
#include "version.h"

/* Debian's inih reads lines into char[INI_MAX_LINE = 200]: 198 bytes, '\n' and NUL. The limit stays 198
 * with an inih built with longer lines, so that a file valid on one board is valid on all. */
#define LINE_MAX_BYTES 198
/* inih keeps a section name in char[50] (MAX_SECTION in ini.c) and cuts a longer one silently. */
#define SECTION_NAME_MAX_BYTES 48
/* Enough of a user string to recognise it: a line that repeats more of it says less, not more. */
#define SHOW_MAX_BYTES 80
/* systemd's UNIT_NAME_MAX (src/basic/unit-name.h) */
#define UNIT_NAME_MAX_BYTES 255
/* A version a range could choose, to check that a template gives a valid tag before any tag is listed. */
#define TEMPLATE_PROBE_VERSION "1.0.0"

#define Q(s) show((char[SHOW_MAX_BYTES]){ 0 }, (s))

enum sect {
        SECT_NONE,
        SECT_BOARDPIN,
        SECT_REGISTRY,
        SECT_SERVICE,
};

enum key {
        K_PLATFORM,
        K_PREFER,
        K_STATE_DIR,
        K_ENV_DIR,
        K_AUTH_FILE,
        K_TIMEOUT,
        K_BOOT_WAIT,
        K_PULL,
        K_ROLLOUT,
        K_INSECURE,
        K_CA_FILE,
        K_MIRROR,
        K_IMAGE,
        K_VERSION,
        K_ENV_VAR,
        K_UNITS,
        K_HEALTH,
        K_UPGRADE,
        K_QUADLET,
        K_QUADLET_DIR,
        K_MIN_AGE,
        K_SERVICE_MIN_AGE,
        K_NOTIFY,
        K_NOTIFY_ON,
        K_SERVICE_NOTIFY,
        K_SERVICE_NOTIFY_ON,
        K_METRICS,
        K_VERIFY,
        K_REGISTRY_VERIFY,
        K_SERVICE_VERIFY,
        K_MIN_FREE,
        K_KEEP,
        K_SERVICE_KEEP,
        K_COUNT,
};

static const struct {
        const char *name;
        enum sect sect;
} keys[K_COUNT] = {
        [K_PLATFORM] = { "platform", SECT_BOARDPIN },   [K_PREFER] = { "prefer", SECT_BOARDPIN },
        [K_STATE_DIR] = { "state_dir", SECT_BOARDPIN }, [K_ENV_DIR] = { "env_dir", SECT_BOARDPIN },
        [K_AUTH_FILE] = { "auth_file", SECT_BOARDPIN }, [K_TIMEOUT] = { "timeout", SECT_BOARDPIN },
        [K_BOOT_WAIT] = { "boot_wait", SECT_BOARDPIN }, [K_PULL] = { "pull", SECT_BOARDPIN },
        [K_ROLLOUT] = { "rollout", SECT_BOARDPIN },     [K_INSECURE] = { "insecure", SECT_REGISTRY },
        [K_CA_FILE] = { "ca_file", SECT_REGISTRY },     [K_MIRROR] = { "mirror", SECT_REGISTRY },
        [K_IMAGE] = { "image", SECT_SERVICE },          [K_VERSION] = { "version", SECT_SERVICE },
        [K_ENV_VAR] = { "env_var", SECT_SERVICE },      [K_UNITS] = { "units", SECT_SERVICE },
        [K_HEALTH] = { "health", SECT_SERVICE },        [K_UPGRADE] = { "upgrade", SECT_SERVICE },
        [K_QUADLET] = { "quadlet", SECT_SERVICE },      [K_QUADLET_DIR] = { "quadlet_dir", SECT_BOARDPIN },
        [K_MIN_AGE] = { "min_age", SECT_BOARDPIN },     [K_SERVICE_MIN_AGE] = { "min_age", SECT_SERVICE },
        [K_NOTIFY] = { "notify", SECT_BOARDPIN },       [K_NOTIFY_ON] = { "notify_on", SECT_BOARDPIN },
        [K_SERVICE_NOTIFY] = { "notify", SECT_SERVICE }, [K_SERVICE_NOTIFY_ON] = { "notify_on", SECT_SERVICE },
        [K_METRICS] = { "metrics", SECT_BOARDPIN },
        [K_VERIFY] = { "verify", SECT_BOARDPIN },       [K_REGISTRY_VERIFY] = { "verify", SECT_REGISTRY },
        [K_SERVICE_VERIFY] = { "verify", SECT_SERVICE },
        [K_MIN_FREE] = { "min_free", SECT_BOARDPIN },   [K_KEEP] = { "keep", SECT_BOARDPIN },
        [K_SERVICE_KEEP] = { "keep", SECT_SERVICE },
};

struct ini_src {
        const char *path;
        const char *p, *end;
        unsigned line;
        int r;             /* the errno of err, once set */
        struct bp_err err; /* set: the reader stops, which inih takes as EOF */
        struct bp_config *c;
        size_t services_cap, registries_cap;
        unsigned *registry_line;                  /* of each [registry …] header */
        enum sect sect;                           /* of the section being read */
        char section[SECTION_NAME_MAX_BYTES + 1]; /* its name as inih keeps it: untrimmed */
        unsigned boardpin_line;                   /* of [boardpin], 0 before it */
        unsigned key_line[K_COUNT];               /* where this section set each key, 0 if not */
        unsigned tag_line[CONFIG_TAGS_MAX];
        bool version_is_range;
};

static const char *show(char buf[static SHOW_MAX_BYTES], const char *s)
{
        text_copy_clean(buf, SHOW_MAX_BYTES, s);
        return buf;
}

static int src_fail(struct ini_src *s, int r, unsigned line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int src_fail(struct ini_src *s, int r, unsigned line, const char *fmt, ...)
{
        char msg[sizeof(s->err.msg)];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        s->r = r;
        return bp_fail(&s->err, r, "%s:%u: %s", s->path, line, msg);
}

/* The message another module left in s->err gets the file and line in front. */
static int src_prefix(struct ini_src *s, int r)
{
        s->r = r;
        return bp_err_prefix(&s->err, r, "%s:%u: ", s->path, s->line);
}

static int src_oom(struct ini_src *s)
{
        s->r = -ENOMEM;
        return bp_fail(&s->err, -ENOMEM, "out of memory");
}

static bool is_blank(char ch)
{
        return ch == ' ' || ch == '\t';
}

static bool is_lower_or_digit(char ch)
{
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

/* "exec:/path arg…", split at blanks as health.c splits it, refused here rather than at the first
 * upgrade that runs it. */
static bool exec_check_ok(const char *v)
{
        const char *p = v + strlen("exec:/");
        int words = 1;

        if (!text_has_prefix(v, "exec:/") || *p == '\0' || *p == ' ' || *p == '\t')
                return false;
        for (; *p; p++)
                words += (*p == ' ' || *p == '\t') && p[1] != ' ' && p[1] != '\t' && p[1] != '\0';
        return words <= CONFIG_HEALTH_WORDS_MAX;
}

static bool has_blank(const char *v)
{
        return v[strcspn(v, " \t")] != '\0';
}

/* ---- values ---- */

static bool service_name_ok(const char *n)
{
        size_t len = strlen(n);

        if (len == 0 || len > SERVICE_NAME_MAX_CHARS || !is_lower_or_digit(n[0]))
                return false;
        for (size_t i = 1; i < len; i++)
                if (!is_lower_or_digit(n[i]) && !strchr("_.-", n[i]))
                        return false;
        return true;
}

static bool env_var_ok(const char *v)
{
        size_t len = strlen(v);

        if (len == 0 || len >= ENV_VAR_MAX || (v[0] >= '0' && v[0] <= '9'))
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((v[i] >= 'A' && v[i] <= 'Z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '_'))
                        return false;
        return true;
}

/* "foo.service", "getty@tty1.service": systemd's unit name characters and suffixes
 * (src/basic/unit-name.c, unit-def.c). A template without an instance cannot be restarted. */
static bool unit_name_ok(const char *w)
{
        static const char *const suffixes[] = { "service", "socket", "device", "mount", "automount", "swap",
                                                "target",  "path",   "timer",  "slice", "scope" };
        const char *dot = strrchr(w, '.'), *at = strchr(w, '@');
        bool suffix_ok = false;

        if (!dot || dot == w || strlen(w) > UNIT_NAME_MAX_BYTES)
                return false;
        for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
                suffix_ok |= strcmp(dot + 1, suffixes[i]) == 0;
        if (!suffix_ok)
                return false;
        for (const char *p = w; p < dot; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      strchr(":-_.\\@", *p)))
                        return false;
        if (at && (at == w || at + 1 == dot || strchr(at + 1, '@')))
                return false;
        return true;
}

/* mirror = and health = URLs, split once, here: boot reads the config and must not load libcurl for its URL
 * API, so the registry client gets the parts (struct bp_registry_conf) rather than the text to parse again.
 * RFC 3986's authority, kept to what both need: a host name, an IPv4 address or an [IPv6] one, and a port
 * in digits. */
struct http_url {
        bool plain;                /* http:// */
        char host[REF_DOMAIN_MAX]; /* host[:port] as written */
        const char *rest;          /* what follows it: "", or from the first '/', '?' or '#' */
};

enum url_fault {
        URL_OK,
        URL_NOT_HTTP,
        URL_USERINFO,
        URL_HOST,
        URL_PORT,
};

/* An '@' ahead of the query is where "user:password@" goes; parsers disagree on where the authority of
 * "http://u:p/w@host" ends, so any '@' there counts, and no part of it reaches a message. */
static const char *url_userinfo_end(const char *v)
{
        return memrchr(v, '@', strcspn(v, "?#"));
}

/* v for a message, with everything between its scheme and its last '@' left out. */
static const char *url_show(char buf[static SHOW_MAX_BYTES], const char *v)
{
        const char *at = url_userinfo_end(v), *scheme = strstr(v, "://");
        char tmp[LINE_MAX_BYTES + 1];

        if (!at)
                return show(buf, v);
        (void) snprintf(tmp, sizeof(tmp), "%.*s%s", scheme && scheme < at ? (int) (scheme + 3 - v) : 0, v, at + 1);
        return show(buf, tmp);
}

static bool host_name_ok(const char *h, size_t n)
{
        if (n == 0 || h[0] == '.' || h[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_lower_or_digit(h[i]) && !(h[i] >= 'A' && h[i] <= 'Z') && !strchr("._-", h[i]))
                        return false;
        return true;
}

static bool host_ipv6_ok(const char *h, size_t n)
{
        if (n < 4 || h[0] != '[' || h[n - 1] != ']')
                return false;
        for (size_t i = 1; i + 1 < n; i++)
                if (!strchr("0123456789abcdefABCDEF:.", h[i]))
                        return false;
        return true;
}

static enum url_fault http_url_split(const char *v, struct http_url *ret)
{
        const char *h = text_has_prefix(v, "http://")    ? v + strlen("http://")
                        : text_has_prefix(v, "https://") ? v + strlen("https://")
                                                         : NULL;
        const char *colon;
        size_t n, name;

        if (url_userinfo_end(v))
                return URL_USERINFO;
        if (!h || has_blank(v))
                return URL_NOT_HTTP;
        n = strcspn(h, "/?#");
        if (n == 0)
                return URL_NOT_HTTP;
        if (n >= sizeof(ret->host))
                return URL_HOST;
        colon = h[0] == '[' ? memchr(h, ']', n) : h;
        colon = colon ? memchr(colon, ':', n - (size_t) (colon - h)) : NULL;
        name = colon ? (size_t) (colon - h) : n;
        if (!(h[0] == '[' ? host_ipv6_ok(h, name) : host_name_ok(h, name)))
                return URL_HOST;
        if (colon) {
                char port[8];
                size_t len = n - name - 1;
                unsigned long long p;

                if (len == 0 || len >= sizeof(port))
                        return URL_PORT;
                memcpy(port, colon + 1, len);
                port[len] = '\0';
                if (text_parse_u64(port, 10, 65535, &p) < 0 || p == 0)
                        return URL_PORT;
        }
        ret->plain = h == v + strlen("http://");
        memcpy(ret->host, h, n);
        ret->host[n] = '\0';
        ret->rest = h + n;
        return URL_OK;
}

/* The message for a URL fault of key; not_http is the key's own wording for URL_NOT_HTTP. */
static int url_fail(struct ini_src *s, const char *key, const char *v, enum url_fault f, const char *not_http)
{
        char buf[SHOW_MAX_BYTES];

        switch (f) {
        case URL_USERINFO:
                return src_fail(s, -EINVAL, s->line,
                                "%s: '%s' has a user name or password before an '@' (left out here): %s", key,
                                url_show(buf, v),
                                strcmp(key, "mirror") == 0 ? "the auth file holds the mirror's credentials"
                                                           : "a health check sends none");
        case URL_HOST:
                return src_fail(s, -EINVAL, s->line, "%s: '%s' has a bad host: use a name, an IPv4 address or [IPv6]",
                                key, Q(v));
        case URL_PORT:
                return src_fail(s, -EINVAL, s->line, "%s: '%s' has a bad port: use a number 1-65535", key, Q(v));
        default:
                return src_fail(s, -EINVAL, s->line, "%s: '%s' %s", key, Q(v), not_http);
        }
}

/* A mirror's host[:port], split by http_url_split(): also a registry domain (no '_', labels as docker
 * writes them), and [IPv6] an address, not just hex and colons. */
static bool mirror_host_ok(const char *h)
{
        char a[REF_DOMAIN_MAX];
        unsigned char x[16];
        const char *close = strchr(h, ']');

        if (ref_domain_problem(h))
                return false;
        if (h[0] != '[')
                return true;
        (void) snprintf(a, sizeof(a), "%.*s", close ? (int) (close - h - 1) : 0, h + 1);
        return inet_pton(AF_INET6, a, x) == 1;
}

/* docker.io is reached under three names; a [registry] section for any of them is for all three. */
static const char *registry_canon(const char *h)
{
        if (strcmp(h, "index.docker.io") == 0 || strcmp(h, "registry-1.docker.io") == 0)
                return "docker.io";
        return h;
}

/* host[:port] exactly as the domain of an image reference would be written. */
static bool registry_host_ok(const char *h)
{
        char probe[REF_DOMAIN_MAX + 4];
        struct bp_ref r;

        if (h[0] == '\0' || strlen(h) >= REF_DOMAIN_MAX || strchr(h, '/'))
                return false;
        (void) snprintf(probe, sizeof(probe), "%s/x", h);
        if (ref_parse(probe, &r, /* err= */ NULL) < 0)
                return false;
        return strcmp(registry_canon(r.domain), registry_canon(h)) == 0;
}

/* The index of v in words (NULL-terminated), or an error naming the choices. */
static int pick(struct ini_src *s, const char *key, const char *v, const char *const *words, const char *choices)
{
        for (int i = 0; words[i]; i++)
                if (strcmp(v, words[i]) == 0)
                        return i;
        return src_fail(s, -EINVAL, s->line, "%s: '%s' is not %s", key, Q(v), choices);
}

static int boolean(struct ini_src *s, const char *key, const char *v, bool *ret)
{
        static const char *const words[] = { "yes", "true", "no", "false", NULL };
        int i = pick(s, key, v, words, "yes, no, true or false");

        if (i < 0)
                return i;
        *ret = i < 2;
        return 0;
}

static int number(struct ini_src *s, const char *key, const char *v, unsigned long long min, unsigned long long max,
                  unsigned long long *ret)
{
        unsigned long long n;
        int r = text_parse_u64(v, 10, max, &n);

        if (r == -EINVAL)
                return src_fail(s, r, s->line, "%s: '%s' is not a number", key, Q(v));
        if (r < 0 || n < min)
                return src_fail(s, -ERANGE, s->line, "%s: '%s' is out of range %llu..%llu", key, Q(v), min, max);
        *ret = n;
        return 0;
}

/* A Quadlet container unit file name: unit name characters, something before ".container", not hidden. */
static bool quadlet_unit_ok(const char *name)
{
        size_t n = strlen(name), k = strlen(".container");

        if (n <= k || n >= QUADLET_UNIT_MAX || name[0] == '.' || strcmp(name + n - k, ".container") != 0)
                return false;
        for (const char *p = name; *p; p++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@:-", *p))
                        return false;
        return true;
}

static int abs_path(struct ini_src *s, const char *key, const char *v, char *dst, size_t size)
{
        if (v[0] != '/')
                return src_fail(s, -EINVAL, s->line, "%s: '%s' is not an absolute path", key, Q(v));
        if (strlen(v) >= size)
                return src_fail(s, -ENAMETOOLONG, s->line, "%s: '%s' is too long", key, Q(v));
        text_copy(dst, size, v);
        return 0;
}

/* A duration as agent/age.h reads it ("3d", "90m", "0"), for min_age = in either section. */
static int min_age(struct ini_src *s, const char *v, int64_t *ret)
{
        int r = age_parse_duration(v, ret, &s->err);

        if (r < 0) {
                (void) bp_err_prefix(&s->err, r, "min_age: ");
                return src_prefix(s, r);
        }
        return 0;
}

/* ---- notify = and notify_on = ---- */

static const char *const event_names[] = { "rollback", "failure", "held", "upgraded", "available", NULL };

/* ntfy's topic names: letters, digits, '_' and '-', at most 64 (ntfy's docs/publish.md, "Picking a topic"). */
static bool ntfy_topic_ok(const char *t)
{
        size_t n = strlen(t);

        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_lower_or_digit(t[i]) && !(t[i] >= 'A' && t[i] <= 'Z') && t[i] != '_' && t[i] != '-')
                        return false;
        return true;
}

/* One word of notify =. The kind comes from the scheme, never from the host name. Messages name the
 * kind and host only: the topic or path is a secret and boardpin.ini is readable by all. */
static int notify_url(struct ini_src *s, const char *w, struct bp_notify_url *ret)
{
        static const char *const kinds[] = { "ntfy+", "webhook+" };
        struct http_url u;
        enum url_fault f;
        const char *inner = NULL;
        int kind = -1;

        for (int i = 0; i < 2; i++)
                if (text_has_prefix(w, kinds[i])) {
                        kind = i;
                        inner = w + strlen(kinds[i]);
                }
        if (kind < 0)
                return src_fail(s, -EINVAL, s->line,
                                "notify: a URL that is not ntfy+https://HOST/TOPIC or webhook+https://HOST/PATH");
        f = http_url_split(inner, &u);
        if (f == URL_USERINFO)
                return src_fail(s, -EINVAL, s->line,
                                "notify: a %s URL with a user name or password before an '@': the auth file holds "
                                "credentials",
                                kinds[kind]);
        if (f != URL_OK)
                return src_fail(s, -EINVAL, s->line, "notify: a %s URL that is not %shttps://HOST[:PORT]/…%s", kinds[kind],
                                kinds[kind], f == URL_HOST ? " (bad host)" : f == URL_PORT ? " (bad port)" : "");
        if (strlen(inner) >= sizeof(ret->url))
                return src_fail(s, -EINVAL, s->line, "notify: %s%s://%s…: too long", kinds[kind],
                                u.plain ? "http" : "https", Q(u.host));
        if (kind == BP_NOTIFY_NTFY && (u.rest[0] != '/' || !ntfy_topic_ok(u.rest + 1)))
                return src_fail(s, -EINVAL, s->line,
                                "notify: ntfy+%s://%s: not one topic after the host ([-_A-Za-z0-9], at most 64)",
                                u.plain ? "http" : "https", Q(u.host));
        ret->kind = kind == 0 ? BP_NOTIFY_NTFY : BP_NOTIFY_WEBHOOK;
        ret->plain = u.plain;
        text_copy(ret->host, sizeof(ret->host), u.host);
        text_copy(ret->url, sizeof(ret->url), inner);
        return 0;
}

static int notify_set(struct ini_src *s, const char *v, struct bp_notify_conf *n)
{
        char words[LINE_MAX_BYTES + 1];
        char *save = NULL;
        int r;

        text_copy(words, sizeof(words), v);
        n->n_urls = 0;
        for (char *w = strtok_r(words, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                if (n->n_urls == CONFIG_NOTIFY_URLS_MAX)
                        return src_fail(s, -E2BIG, s->line, "notify: more than %d URLs", CONFIG_NOTIFY_URLS_MAX);
                r = notify_url(s, w, &n->urls[n->n_urls]);
                if (r < 0)
                        return r;
                n->n_urls++;
        }
        n->urls_set = true;
        n->line = s->line;
        return 0;
}

static int notify_on_set(struct ini_src *s, const char *v, struct bp_notify_conf *n)
{
        char words[LINE_MAX_BYTES + 1];
        char *save = NULL;
        int r;

        text_copy(words, sizeof(words), v);
        n->on = 0;
        for (char *w = strtok_r(words, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                r = pick(s, "notify_on", w, event_names, "rollback, failure, held, upgraded or available");
                if (r < 0)
                        return r;
                n->on |= 1u << r;
        }
        n->on_set = true;
        return 0;
}

/* Plain HTTP is for a host the owner marked insecure = true, as for registries; the [registry] section
 * may come after the notify = that needs it, so this runs at the end of the file. */
static int notify_plain_check(struct ini_src *s, const struct bp_notify_conf *n)
{
        for (size_t i = 0; i < n->n_urls; i++) {
                const struct bp_notify_url *u = &n->urls[i];
                const struct bp_registry_conf *g = u->plain ? config_registry(s->c, u->host) : NULL;

                if (u->plain && !(g && g->insecure))
                        return src_fail(s, -EINVAL, n->line,
                                        "notify: %s+http://%s is plain HTTP, allowed only for a host whose "
                                        "[registry %s] says insecure = true",
                                        u->kind == BP_NOTIFY_NTFY ? "ntfy" : "webhook", u->host, u->host);
        }
        return 0;
}

/* metrics = PATH: node_exporter's textfile collector reads only *.prom files of its directory. */
static int metrics_path(struct ini_src *s, const char *v, char *dst, size_t size)
{
        size_t n = strlen(v), k = strlen(".prom");
        int r = abs_path(s, "metrics", v, dst, size);

        if (r < 0)
                return r;
        if (n <= k + 1 || strcmp(v + n - k, ".prom") != 0 || v[n - k - 1] == '/') {
                dst[0] = '\0';
                return src_fail(s, -EINVAL, s->line, "metrics: '%s' does not end in NAME.prom", Q(v));
        }
        return 0;
}

/* verify = none, or absolute paths of public keys, split at blanks. */
static int verify_set(struct ini_src *s, const char *v, struct bp_verify_conf *ret)
{
        struct bp_verify_conf vc = { .line = s->line };
        const char *p = v;

        if (strcmp(v, "none") == 0) {
                *ret = vc;
                return 0;
        }
        while (*p) {
                size_t n = strcspn(p, " \t");

                if (n == 0) {
                        p++;
                        continue;
                }
                if (*p != '/')
                        return src_fail(s, -EINVAL, s->line,
                                        "verify: '%.*s' is not an absolute path (verify = PATH... or none)",
                                        (int) (n < 64 ? n : 64), p);
                if (n >= sizeof(vc.paths[0]))
                        return src_fail(s, -ENAMETOOLONG, s->line, "verify: a path is over %d bytes",
                                        CONFIG_VERIFY_PATH_MAX - 1);
                if (vc.n_paths == CONFIG_VERIFY_KEYS_MAX)
                        return src_fail(s, -E2BIG, s->line, "verify: more than %d keys", CONFIG_VERIFY_KEYS_MAX);
                memcpy(vc.paths[vc.n_paths], p, n);
                vc.paths[vc.n_paths++][n] = '\0';
                p += n;
        }
        if (vc.n_paths == 0)
                return src_fail(s, -EINVAL, s->line, "verify: no key: name PATH... or none");
        *ret = vc;
        return 0;
}

/* min_free = SIZE (a number of bytes, or with K, M or G: KiB, MiB, GiB) or N% (1..90) of the image store's
 * filesystem. */
static int min_free(struct ini_src *s, const char *v, struct bp_config *c)
{
        static const char units[] = "KMG";
        char num[24];
        size_t n = strspn(v, "0123456789");
        const char *unit = v + n, *u;
        unsigned long long x;
        unsigned shift;

        if (n == 0 || n >= sizeof(num))
                return src_fail(s, -EINVAL, s->line, "min_free: '%s' is neither a size (512M, 2G) nor 1-%d%%", Q(v),
                                CONFIG_MIN_FREE_PERCENT_MAX);
        memcpy(num, v, n);
        num[n] = '\0';
        if (strcmp(unit, "%") == 0) {
                if (text_parse_u64(num, 10, CONFIG_MIN_FREE_PERCENT_MAX, &x) < 0 || x < 1)
                        return src_fail(s, -ERANGE, s->line, "min_free: '%s' is out of range 1..%d%%", Q(v),
                                        CONFIG_MIN_FREE_PERCENT_MAX);
                c->min_free_percent = (int) x;
                c->min_free_bytes = 0;
                return 0;
        }
        u = unit[0] ? strchr(units, unit[0]) : NULL;
        if (unit[0] && (!u || (unit[1] && strcmp(unit + 1, "iB") != 0)))
                return src_fail(s, -EINVAL, s->line, "min_free: '%s' is neither a size (512M, 2G) nor 1-%d%%", Q(v),
                                CONFIG_MIN_FREE_PERCENT_MAX);
        shift = u ? 10 * (unsigned) (u - units + 1) : 0;
        /* 1 PiB in whatever unit: far above any store, far below an overflow */
        if (text_parse_u64(num, 10, (1ULL << 50) >> shift, &x) < 0)
                return src_fail(s, -ERANGE, s->line, "min_free: '%s' is over 1 PiB", Q(v));
        c->min_free_bytes = (uint64_t) x << shift;
        c->min_free_percent = 0;
        return 0;
}

/* keep = N in either section. */
static int keep(struct ini_src *s, const char *v, int *ret)
{
        unsigned long long n;
        int r = number(s, "keep", v, 1, CONFIG_KEEP_MAX, &n);

        if (r == 0)
                *ret = (int) n;
        return r;
}

/* ---- [boardpin] ---- */

static int boardpin_set(struct ini_src *s, enum key k, const char *v)
{
        static const char *const prefer[] = { "userspace", "kernel", NULL };
        static const char *const pull[] = { "none", "docker", "podman", NULL };
        struct bp_config *c = s->c;
        unsigned long long n;
        struct bp_oci p;
        int r;

        switch (k) {
        case K_PLATFORM:
                if (strcmp(v, "auto") == 0) {
                        text_copy(c->platform, sizeof(c->platform), "auto");
                        return 0;
                }
                r = rules_parse_user(v, &p, &s->err);
                if (r < 0)
                        return src_prefix(s, r);
                (void) rules_format(&p, c->platform);
                return 0;
        case K_PREFER:
                r = pick(s, "prefer", v, prefer, "userspace or kernel");
                if (r < 0)
                        return r;
                c->prefer_kernel = r == 1;
                return 0;
        case K_STATE_DIR:
                return abs_path(s, "state_dir", v, c->state_dir, sizeof(c->state_dir));
        case K_ENV_DIR:
                return abs_path(s, "env_dir", v, c->env_dir, sizeof(c->env_dir));
        case K_AUTH_FILE:
                return abs_path(s, "auth_file", v, c->auth_file, sizeof(c->auth_file));
        case K_QUADLET_DIR:
                return abs_path(s, "quadlet_dir", v, c->quadlet_dir, sizeof(c->quadlet_dir));
        case K_TIMEOUT:
                r = number(s, "timeout", v, 1, 3600, &n);
                if (r < 0)
                        return r;
                c->timeout_s = (long) n;
                return 0;
        case K_BOOT_WAIT:
                r = number(s, "boot_wait", v, 0, 3600, &n);
                if (r < 0)
                        return r;
                c->boot_wait_s = (long) n;
                return 0;
        case K_PULL:
                r = pick(s, "pull", v, pull, "none, docker or podman");
                if (r < 0)
                        return r;
                c->pull = r == 0 ? BP_PULL_NONE : r == 1 ? BP_PULL_DOCKER : BP_PULL_PODMAN;
                return 0;
        case K_ROLLOUT:
                r = number(s, "rollout", v, 0, 100, &n);
                if (r < 0)
                        return r;
                c->rollout = (int) n;
                return 0;
        case K_MIN_AGE:
                return min_age(s, v, &c->min_age_s);
        case K_NOTIFY:
                return notify_set(s, v, &c->notify);
        case K_NOTIFY_ON:
                return notify_on_set(s, v, &c->notify);
        case K_METRICS:
                return metrics_path(s, v, c->metrics, sizeof(c->metrics));
        case K_VERIFY:
                return verify_set(s, v, &c->verify);
        case K_MIN_FREE:
                return min_free(s, v, c);
        case K_KEEP:
                return keep(s, v, &c->keep);
        default:
                return src_fail(s, -EINVAL, s->line, "unknown key '%s' in '[boardpin]'", keys[k].name);
        }
}

/* ---- [registry HOST] ---- */

static int registry_begin(struct ini_src *s, const char *host)
{
        struct bp_config *c = s->c;
        struct bp_registry_conf *g;

        if (!registry_host_ok(host))
                return src_fail(s, -EINVAL, s->line,
                                "bad registry '%s': write host[:port] as an image name does "
                                "(a host needs a '.' or ':', or is localhost)",
                                Q(host));
        for (size_t i = 0; i < c->n_registries; i++)
                if (strcmp(registry_canon(c->registries[i].host), registry_canon(host)) == 0)
                        return src_fail(s, -EINVAL, s->line, "duplicate section '[registry %s]' (first on line %u)",
                                        Q(host), s->registry_line[i]);
        if (c->n_registries == s->registries_cap) {
                size_t cap = s->registries_cap ? s->registries_cap * 2 : 4;
                struct bp_registry_conf *q = realloc(c->registries, cap * sizeof(*q));
                unsigned *l;

                if (!q)
                        return src_oom(s);
                c->registries = q;
                l = realloc(s->registry_line, cap * sizeof(*l));
                if (!l)
                        return src_oom(s);
                s->registry_line = l;
                s->registries_cap = cap;
        }
        g = &c->registries[c->n_registries];
        memset(g, 0, sizeof(*g));
        text_copy(g->host, sizeof(g->host), host);
        s->registry_line[c->n_registries++] = s->line;
        s->sect = SECT_REGISTRY;
        return 0;
}

static int registry_set(struct ini_src *s, enum key k, const char *v)
{
        struct bp_registry_conf *g = &s->c->registries[s->c->n_registries - 1];
        struct http_url u;
        enum url_fault f;

        switch (k) {
        case K_INSECURE:
                return boolean(s, "insecure", v, &g->insecure);
        case K_CA_FILE:
                return abs_path(s, "ca_file", v, g->ca_file, sizeof(g->ca_file));
        case K_MIRROR:
                f = http_url_split(v, &u);
                if (f != URL_OK)
                        return url_fail(s, "mirror", v, f, "is not an http:// or https:// URL");
                if (strlen(v) >= sizeof(g->mirror))
                        return src_fail(s, -EINVAL, s->line, "mirror: '%s' is too long", Q(v));
                if (u.rest[0] != '\0' && strcmp(u.rest, "/") != 0)
                        return src_fail(
                                s, -EINVAL, s->line,
                                "mirror: '%s' is not http[s]://HOST[:PORT]: a mirror serves /v2/ at its root",
                                Q(v));
                /* The host is the mirror's auth file key and [registry] section: a registry domain, as an
                 * image reference would write it, and a bracketed one an IPv6 address libcurl takes. */
                if (!mirror_host_ok(u.host))
                        return url_fail(s, "mirror", v, URL_HOST, NULL);
                text_copy(g->mirror_host, sizeof(g->mirror_host), u.host);
                g->mirror_plain = u.plain;
                text_copy(g->mirror, sizeof(g->mirror), v);
                return 0;
        case K_REGISTRY_VERIFY:
                return verify_set(s, v, &g->verify);
        default:
                return src_fail(s, -EINVAL, s->line, "unknown key '%s' in '[%s]'", keys[k].name, Q(s->section));
        }
}

/* ---- [service NAME] ---- */

static struct bp_service *service_current(struct ini_src *s)
{
        return &s->c->services[s->c->n_services - 1];
}

static int service_begin(struct ini_src *s, const char *name)
{
        struct bp_config *c = s->c;
        const struct bp_service *other = NULL;
        struct bp_service *v;

        if (!service_name_ok(name))
                return src_fail(s, -EINVAL, s->line,
                                "bad service name '%s': use [a-z0-9][a-z0-9_.-]*, at most "
                                "%d characters",
                                Q(name), SERVICE_NAME_MAX_CHARS);
        if (strcmp(name, SERVICE_NAME_RESERVED) == 0)
                return src_fail(s, -EINVAL, s->line,
                                "service name '%s' is reserved: its env file would be the "
                                "combined " SERVICE_NAME_RESERVED ".env; choose another name",
                                name);
        other = config_service(c, name);
        if (other)
                return src_fail(s, -EINVAL, s->line, "duplicate section '[service %s]' (first on line %u)", name,
                                other->line);
        if (c->n_services == s->services_cap) {
                size_t cap = s->services_cap ? s->services_cap * 2 : 4;
                struct bp_service *q = realloc(c->services, cap * sizeof(*q));

                if (!q)
                        return src_oom(s);
                c->services = q;
                s->services_cap = cap;
        }
        v = &c->services[c->n_services++];
        memset(v, 0, sizeof(*v));
        text_copy(v->name, sizeof(v->name), name);
        text_copy(v->version, sizeof(v->version), "latest");
        v->upgrade = true;
        v->min_age_s = -1;
        v->line = s->line;
        s->sect = SECT_SERVICE;
        return 0;
}

/* The image name goes into every env file as written; "[::1]:5000/app" cannot (systemd's EnvironmentFile=
 * and compose read brackets differently), so it is refused here, not at the first boot that writes it. */
static int image_env_check(struct ini_src *s, const struct bp_ref *ref, const char *val)
{
        char name[REF_STRING_MAX];

        (void) ref_name(ref, name);
        for (const char *p = name; *p; p++)
                if (!strchr(ENV_VALUE_CHARS, *p))
                        return src_fail(s, -EINVAL, s->line,
                                        "image '%s': '%c' cannot be written to an env file (values keep to "
                                        "[A-Za-z0-9._:/@+-]); an IPv6 registry needs a host name",
                                        Q(val), *p);
        return 0;
}

/* A run opens one registry per distinct host; past the limit, say so now, not at every boot. */
static int registry_count_check(struct ini_src *s, const struct bp_ref *ref)
{
        const struct bp_config *c = s->c;
        size_t hosts = 1; /* ref's own */

        for (size_t i = 0; i + 1 < c->n_services; i++) {
                const char *d = c->services[i].image.domain;
                bool first = true;

                if (strcmp(d, ref->domain) == 0)
                        return 0;
                for (size_t j = 0; first && j < i; j++)
                        first = strcmp(c->services[j].image.domain, d) != 0;
                hosts += first;
        }
        if (hosts > CONFIG_REGISTRIES_MAX)
                return src_fail(s, -E2BIG, s->line, "image '%s': more than %d registry hosts in one config",
                                Q(ref->domain), CONFIG_REGISTRIES_MAX);
        return 0;
}

static int image_set(struct ini_src *s, struct bp_service *v, const char *val)
{
        const char *slash = strrchr(val, '/'), *last = slash ? slash + 1 : val;
        struct bp_ref ref;
        int r;

        r = ref_parse(val, &ref, &s->err);
        if (r < 0)
                return src_prefix(s, r);
        if (ref.digest[0])
                return src_fail(s, -EINVAL, s->line,
                                "image '%s' has a digest: put the version in version =", Q(val));
        /* ref_parse() says "latest" both for "x" and "x:latest"; a ':' after the last '/' is a tag. */
        if (strchr(last, ':'))
                return src_fail(s, -EINVAL, s->line, "image '%s' has a tag: put the version in version =", Q(val));
        ref.tag[0] = '\0';
        r = image_env_check(s, &ref, val);
        if (r < 0)
                return r;
        r = registry_count_check(s, &ref);
        if (r < 0)
                return r;
        v->image = ref;
        return 0;
}

static int version_set(struct ini_src *s, struct bp_service *v, const char *val)
{
        _cleanup_(range_freep) struct bp_range *range = NULL;
        int r;

        r = range_parse(val, &range, &s->err);
        if (r < 0)
                return src_prefix(s, r);
        s->version_is_range = !range_is_exact(range);
        text_copy(v->version, sizeof(v->version), val); /* range_parse() took at most 128 */
        return 0;
}

static int tag_set(struct ini_src *s, struct bp_service *v, const char *key, const char *val)
{
        struct bp_tag_template *t;
        struct bp_oci p;
        int r;

        r = rules_parse_user(key + strlen("tag."), &p, &s->err);
        if (r < 0)
                return src_prefix(s, r);
        for (size_t i = 0; i < v->n_tags; i++)
                if (rules_equal(&v->tags[i].platform, &p)) {
                        char name[RULES_NAME_MAX];

                        return src_fail(s, -EINVAL, s->line, "duplicate key '%s': %s has a tag on line %u", Q(key),
                                        rules_format(&p, name), s->tag_line[i]);
                }
        if (v->n_tags == CONFIG_TAGS_MAX)
                return src_fail(s, -E2BIG, s->line, "more than %d tag.<platform> keys in '[%s]'", CONFIG_TAGS_MAX,
                                Q(s->section));
        if (strlen(val) >= sizeof(t->template))
                return src_fail(s, -EINVAL, s->line, "%s: '%s' is over %zu characters", Q(key), Q(val),
                                sizeof(t->template) - 1);
        t = &v->tags[v->n_tags];
        t->platform = p;
        text_copy(t->template, sizeof(t->template), val);
        s->tag_line[v->n_tags++] = s->line;
        return 0;
}

static int units_set(struct ini_src *s, struct bp_service *v, const char *val)
{
        size_t o = 0;

        for (const char *p = val + strspn(val, " \t"); *p; p += strspn(p, " \t")) {
                char word[UNIT_NAME_MAX_BYTES + 2];
                size_t n = strcspn(p, " \t");

                text_copy(word, n + 1 < sizeof(word) ? n + 1 : sizeof(word), p);
                if (n >= sizeof(word) - 1 || !unit_name_ok(word))
                        return src_fail(s, -EINVAL, s->line,
                                        "units: '%s' is not a unit name such as foo.service or foo@bar.service",
                                        Q(word));
                if (o + n + 2 > sizeof(v->units))
                        return src_fail(s, -EINVAL, s->line, "units: list over %zu characters",
                                        sizeof(v->units) - 1);
                if (o > 0)
                        v->units[o++] = ' ';
                memcpy(v->units + o, p, n);
                o += n;
                p += n;
        }
        v->units[o] = '\0';
        return 0;
}

static int service_set(struct ini_src *s, enum key k, const char *val)
{
        struct bp_service *v = service_current(s);
        struct http_url u;
        enum url_fault f;

        switch (k) {
        case K_IMAGE:
                return image_set(s, v, val);
        case K_VERSION:
                return version_set(s, v, val);
        case K_ENV_VAR:
                if (!env_var_ok(val))
                        return src_fail(s, -EINVAL, s->line,
                                        "env_var: '%s' is not [A-Z_][A-Z0-9_]*, at most %d characters", Q(val),
                                        ENV_VAR_MAX - 1);
                text_copy(v->env_var, sizeof(v->env_var), val);
                return 0;
        case K_UNITS:
                return units_set(s, v, val);
        case K_HEALTH:
                f = text_has_prefix(val, "exec:") ? exec_check_ok(val) ? URL_OK : URL_NOT_HTTP
                                                  : http_url_split(val, &u);
                if (f != URL_OK) {
                        char why[96];

                        (void) snprintf(why, sizeof(why),
                                        "is neither http(s)://... nor exec:/absolute/path [ARG...] (at most %d words)",
                                        CONFIG_HEALTH_WORDS_MAX);
                        return url_fail(s, "health", val, f, why);
                }
                if (strlen(val) >= sizeof(v->health))
                        return src_fail(s, -EINVAL, s->line, "health: '%s' is too long", Q(val));
                text_copy(v->health, sizeof(v->health), val);
                return 0;
        case K_UPGRADE: {
                static const char *const words[] = { "yes", "true", "no", "false", "notify", NULL };
                int i = pick(s, "upgrade", val, words, "yes, no or notify");

                if (i < 0)
                        return i;
                v->upgrade = i != 2 && i != 3;
                v->monitor_only = i == 4;
                return 0;
        }
        case K_SERVICE_NOTIFY:
                return notify_set(s, val, &v->notify);
        case K_SERVICE_NOTIFY_ON:
                return notify_on_set(s, val, &v->notify);
        case K_SERVICE_MIN_AGE:
                return min_age(s, val, &v->min_age_s);
        case K_SERVICE_KEEP:
                return keep(s, val, &v->keep);
        case K_QUADLET:
                if (!quadlet_unit_ok(val))
                        return src_fail(
                                s, -EINVAL, s->line,
                                "quadlet: '%s' is not a Quadlet unit file name such as vaultwarden.container",
                                Q(val));
                for (size_t i = 0; i + 1 < s->c->n_services; i++)
                        if (strcmp(s->c->services[i].quadlet, val) == 0)
                                return src_fail(s, -EINVAL, s->line,
                                                "quadlet: '%s' is already pinned by service '%s' (line %u)", Q(val),
                                                s->c->services[i].name, s->c->services[i].line);
                text_copy(v->quadlet, sizeof(v->quadlet), val);
                return 0;
        case K_SERVICE_VERIFY:
                return verify_set(s, val, &v->verify);
        default:
                return src_fail(s, -EINVAL, s->line, "unknown key '%s' in '[%s]'", keys[k].name, Q(s->section));
        }
}

static int template_check(struct ini_src *s, const struct bp_service *v, size_t i)
{
        const struct bp_tag_template *t = &v->tags[i];
        char name[RULES_NAME_MAX], out[REF_TAG_MAX];
        int r;

        (void) rules_format(&t->platform, name);
        if (s->version_is_range && !strstr(t->template, "{version}"))
                return src_fail(s, -EINVAL, s->tag_line[i],
                                "tag.%s: '%s' has no {version}, but version '%s' is a range", name, Q(t->template),
                                Q(v->version));
        r = range_expand_template(t->template, s->version_is_range ? TEMPLATE_PROBE_VERSION : v->version, out,
                                  sizeof(out));
        if (r < 0)
                return src_fail(s, -EINVAL, s->tag_line[i],
                                "tag.%s: '%s' does not give a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]*, at most %zu "
                                "characters)",
                                name, Q(t->template), sizeof(out) - 1);
        return 0;
}

/* Checks that need the whole section: run when the next section starts, or at the end of the file. */
static int service_end(struct ini_src *s)
{
        struct bp_config *c = s->c;
        struct bp_service *v = service_current(s);
        unsigned env_line = s->key_line[K_ENV_VAR] ? s->key_line[K_ENV_VAR] : v->line;
        int r;

        if (!s->key_line[K_IMAGE])
                return src_fail(s, -EINVAL, v->line, "service '%s' has no image =", v->name);
        for (size_t i = 0; i < v->n_tags; i++) {
                r = template_check(s, v, i);
                if (r < 0)
                        return r;
        }
        if (!s->key_line[K_ENV_VAR] && config_default_env_var(v->name, v->env_var) < 0)
                return src_fail(s, -EINVAL, v->line,
                                "service '%s': the default env_var '%s' is not a valid name: set env_var =", v->name,
                                v->env_var);
        for (size_t i = 0; i + 1 < c->n_services; i++)
                if (strcmp(c->services[i].env_var, v->env_var) == 0)
                        return src_fail(s, -EINVAL, env_line,
                                        "service '%s': env_var '%s'%s is already used by service '%s' (line %u)",
                                        v->name, v->env_var, s->key_line[K_ENV_VAR] ? "" : " (the default)",
                                        c->services[i].name, c->services[i].line);
        return 0;
}

/* ---- sections ---- */

/* s after word and blanks when s is word alone or word and a blank; else NULL. */
static const char *after_word(const char *s, const char *word)
{
        size_t n = strlen(word);

        if (strncmp(s, word, n) != 0 || (s[n] != '\0' && !is_blank(s[n])))
                return NULL;
        return s + n + strspn(s + n, " \t");
}

static int section_end(struct ini_src *s)
{
        return s->sect == SECT_SERVICE ? service_end(s) : 0;
}

/* A header line: q is "[…]" with nothing after the ']'. */
static int section_begin(struct ini_src *s, const char *q)
{
        const char *close = strchr(q, ']'), *arg;
        char trimmed[SECTION_NAME_MAX_BYTES + 1];
        const char *t;
        size_t n;
        int r;

        r = section_end(s); /* its checks name earlier lines: they go first */
        if (r < 0)
                return r;
        s->sect = SECT_NONE;
        if (!close)
                return src_fail(s, -EINVAL, s->line, "no ']' after '%s'", Q(q));
        if (close[1] != '\0')
                return src_fail(s, -EINVAL, s->line, "text after ']': '%s'", Q(close + 1));
        n = (size_t) (close - q - 1);
        if (n > SECTION_NAME_MAX_BYTES && strncmp(q + 1, "service ", strlen("service ")) == 0)
                return src_fail(s, -EINVAL, s->line, "bad service name: over %d characters",
                                SERVICE_NAME_MAX_CHARS);
        if (n > SECTION_NAME_MAX_BYTES)
                return src_fail(s, -EINVAL, s->line, "section name over %d bytes", SECTION_NAME_MAX_BYTES);
        memcpy(s->section, q + 1, n);
        s->section[n] = '\0';
        memset(s->key_line, 0, sizeof(s->key_line));
        memset(s->tag_line, 0, sizeof(s->tag_line));
        s->version_is_range = false;

        memcpy(trimmed, s->section, n + 1);
        t = text_trim(trimmed);
        if (strcmp(t, "boardpin") == 0) {
                if (s->boardpin_line)
                        return src_fail(s, -EINVAL, s->line, "duplicate section '[boardpin]' (first on line %u)",
                                        s->boardpin_line);
                s->boardpin_line = s->line;
                s->sect = SECT_BOARDPIN;
                return 0;
        }
        arg = after_word(t, "service");
        if (arg)
                return service_begin(s, arg);
        arg = after_word(t, "registry");
        if (arg)
                return registry_begin(s, arg);
        return src_fail(s, -EINVAL, s->line,
                        "unknown section '[%s]': use [boardpin], [service NAME] or [registry HOST]", Q(s->section));
}

/* ---- inih callbacks ---- */

/* One line per call, as inih's fgets()-like reader. Takes off a BOM on line 1, '\r' before '\n', blanks
 * at either end and a ';' comment after a blank; refuses what inih would take silently. */
static char *ini_src_read(char *buf, int size, void *stream)
{
        struct ini_src *s = stream;
        const char *p = s->p, *nl, *q, *e;
        size_t room = size >= 2 ? (size_t) size - 2 : 0, max = room < LINE_MAX_BYTES ? room : LINE_MAX_BYTES, n;
        int r;

        if (p == s->end || s->err.msg[0])
                return NULL;
        nl = memchr(p, '\n', (size_t) (s->end - p));
        n = (size_t) ((nl ? nl : s->end) - p);
        s->p = nl ? nl + 1 : s->end;
        s->line++;
        if (n > 0 && p[n - 1] == '\r')
                n--;
        if (size < 2 || n > max) { /* room for '\n' and NUL */
                src_fail(s, -E2BIG, s->line, "line over %zu bytes", max);
                return NULL;
        }
        for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char) p[i];

                if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
                        src_fail(s, -EINVAL, s->line, "control character 0x%02x", ch);
                        return NULL;
                }
        }
        q = p;
        e = p + n;
        if (s->line == 1 && n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
                q += 3;
        while (q < e && is_blank(*q))
                q++;
        for (const char *t = q; t < e; t++)
                if (*t == ';' && t > q && is_blank(t[-1])) {
                        e = t;
                        break;
                }
        while (e > q && is_blank(e[-1]))
                e--;
        if (q == e || *q == ';' || *q == '#') {
                buf[0] = '\n';
                buf[1] = '\0';
                return buf;
        }
        n = (size_t) (e - q);
        memcpy(buf, q, n);
        buf[n] = '\0';
        if (buf[0] == '[') {
                r = section_begin(s, buf);
        } else {
                size_t k = strcspn(buf, "=:");

                r = 0;
                if (buf[k] != '=' || k == 0)
                        r = src_fail(s, -EINVAL, s->line, "expected '[section]' or 'key = value', not '%s'",
                                     Q(buf));
        }
        if (r < 0)
                return NULL;
        buf[n] = '\n';
        buf[n + 1] = '\0';
        return buf;
}

static int ini_handle(void *user, const char *section, const char *name, const char *value)
{
        struct ini_src *s = user;
        int k = -1;

        if (s->err.msg[0])
                return 0;
        if (!name) /* INI_CALL_HANDLER_ON_NEW_SECTION builds */
                return 1;
        if (strcmp(section, s->section) != 0 || !value) {
                src_fail(s, -EINVAL, s->line, "inih read section '%s', expected '%s'", Q(section), Q(s->section));
                return 0;
        }
        if (s->sect == SECT_NONE) {
                src_fail(s, -EINVAL, s->line, "key '%s' outside any section", Q(name));
                return 0;
        }
        if (s->sect == SECT_SERVICE && text_has_prefix(name, "tag.")) {
                if (value[0] == '\0') {
                        src_fail(s, -EINVAL, s->line, "'%s' has no value", Q(name));
                        return 0;
                }
                return tag_set(s, service_current(s), name, value) == 0;
        }
        for (int i = 0; i < K_COUNT; i++)
                if (keys[i].sect == s->sect && strcmp(keys[i].name, name) == 0)
                        k = i;
        if (k < 0) {
                src_fail(s, -EINVAL, s->line, "unknown key '%s' in '[%s]'", Q(name), Q(s->section));
                return 0;
        }
        if (s->key_line[k]) {
                src_fail(s, -EINVAL, s->line, "duplicate key '%s' in '[%s]' (first on line %u)", name,
                         Q(s->section), s->key_line[k]);
                return 0;
        }
        s->key_line[k] = s->line;
        if (value[0] == '\0') {
                src_fail(s, -EINVAL, s->line, "'%s' has no value", name);
                return 0;
        }
        switch (s->sect) {
        case SECT_BOARDPIN:
                return boardpin_set(s, (enum key) k, value) == 0;
        case SECT_REGISTRY:
                return registry_set(s, (enum key) k, value) == 0;
        default:
                return service_set(s, (enum key) k, value) == 0;
        }
}

/* ---- API ---- */

static unsigned line_at(const char *text, const char *at)
{
        unsigned line = 1;

        for (const char *p = text; p < at; p++)
                line += *p == '\n';
        return line;
}

int config_parse(const char *path, const char *text, size_t len, struct bp_config **ret, struct bp_err *err)
{
        _cleanup_(config_freep) struct bp_config *c = NULL;
        struct ini_src s = { .path = path };
        const char *nul;
        int r;

        if (len > CONFIG_MAX_BYTES)
                return bp_fail(err, -EFBIG, "%s: larger than %d bytes", path, CONFIG_MAX_BYTES);
        if (len == 0)
                text = "";
        nul = memchr(text, '\0', len);
        if (nul)
                return bp_fail(err, -EINVAL, "%s:%u: NUL byte", path, line_at(text, nul));
        c = calloc(1, sizeof(*c));
        if (!c)
                return bp_fail(err, -ENOMEM, "out of memory");
        text_copy(c->path, sizeof(c->path), path);
        text_copy(c->platform, sizeof(c->platform), "auto");
        text_copy(c->state_dir, sizeof(c->state_dir), "/var/lib/boardpin");
        text_copy(c->env_dir, sizeof(c->env_dir), "/run/boardpin");
        text_copy(c->quadlet_dir, sizeof(c->quadlet_dir), QUADLET_DIR_DEFAULT);
        c->timeout_s = 30;
        c->boot_wait_s = 90;
        c->pull = BP_PULL_NONE;
        c->rollout = 100;
        c->min_free_percent = 10;
        c->keep = 2;

        s.c = c;
        s.p = text;
        s.end = text + len;
        r = ini_parse_stream(ini_src_read, &s, ini_handle, &s);
        if (!s.err.msg[0] && r != 0) /* the reader should have caught it first */
                src_fail(&s, r == -2 ? -ENOMEM : -EINVAL, r > 0 ? (unsigned) r : s.line, "syntax error");
        if (!s.err.msg[0])
                (void) section_end(&s);
        if (!s.err.msg[0])
                (void) notify_plain_check(&s, &c->notify);
        for (size_t i = 0; i < c->n_services && !s.err.msg[0]; i++)
                (void) notify_plain_check(&s, &c->services[i].notify);
        free(s.registry_line);
        if (s.err.msg[0]) {
                if (err)
                        *err = s.err;
                return s.r < 0 ? s.r : -EINVAL;
        }
        *ret = steal_ptr(&c);
        return 0;
}

int config_load(const char *path, struct bp_config **ret, struct bp_err *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r;

        r = fsio_read(path, CONFIG_MAX_BYTES, &text, &len, err);
        if (r < 0)
                return r;
        return config_parse(path, text, len, ret, err);
}

int config_default_env_var(const char *service, char buf[static ENV_VAR_MAX])
{
        size_t o = 0;

        for (const char *p = service; *p && o + sizeof("_IMAGE") < ENV_VAR_MAX; p++)
                buf[o++] = (*p >= 'a' && *p <= 'z') ? (char) (*p - 'a' + 'A') : strchr(".-", *p) ? '_' : *p;
        memcpy(buf + o, "_IMAGE", sizeof("_IMAGE"));
        return env_var_ok(buf) && strlen(service) + strlen("_IMAGE") == strlen(buf) ? 0 : -EINVAL;
}

void config_free(struct bp_config *c)
{
        if (!c)
                return;
        free(c->registries);
        free(c->services);
        free(c);
}

void config_freep(struct bp_config **c)
{
        config_free(*c);
}

const struct bp_registry_conf *config_registry(const struct bp_config *c, const char *host)
{
        for (size_t i = 0; i < c->n_registries; i++)
                if (strcmp(registry_canon(c->registries[i].host), registry_canon(host)) == 0)
                        return &c->registries[i];
        return NULL;
}

const struct bp_verify_conf *config_verify_for(const struct bp_config *c, const struct bp_service *s)
{
        const struct bp_registry_conf *rc = config_registry(c, s->image.domain);
        const struct bp_verify_conf *v = s->verify.line           ? &s->verify
                                         : rc && rc->verify.line ? &rc->verify
                                                                 : &c->verify;

        return v->line && v->n_paths > 0 ? v : NULL;
}

const struct bp_service *config_service(const struct bp_config *c, const char *name)
{
        for (size_t i = 0; i < c->n_services; i++)
                if (strcmp(c->services[i].name, name) == 0)
                        return &c->services[i];
        return NULL;
}

struct bp_names *config_names(const struct bp_config *c)
{
        struct bp_names *names = calloc(c->n_services + 1, sizeof(*names));

        if (!names)
                return NULL;
        for (size_t i = 0; i < c->n_services; i++)
                names[i] = (struct bp_names) { .service = c->services[i].name,
                                               .env_var = c->services[i].env_var,
                                               .quadlet = c->services[i].quadlet };
        return names;
}

const struct bp_notify_conf *config_notify(const struct bp_config *c, const struct bp_service *s)
{
        return s && s->notify.urls_set ? &s->notify : &c->notify;
}

unsigned config_notify_on(const struct bp_config *c, const struct bp_service *s)
{
        if (s && s->notify.on_set)
                return s->notify.on;
        if (c->notify.on_set)
                return c->notify.on;
        return BP_EVENT_DEFAULT | (s && s->monitor_only ? BP_EVENT_AVAILABLE : 0u);
}

const char *config_event_name(enum bp_event ev)
{
        for (int i = 0; event_names[i]; i++)
                if ((unsigned) ev == 1u << i)
                        return event_names[i];
        return "unknown";
}

const struct bp_tag_template *config_template_for(const struct bp_service *s, const struct bp_oci *compatible,
                                                  size_t n)
{
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < s->n_tags; j++)
                        if (rules_equal(&s->tags[j].platform, &compatible[i]))
                                return &s->tags[j];
        return NULL;
}
