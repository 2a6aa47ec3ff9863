/* platform/rules.c: see rules.h. */
#include "rules.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

static bool field_ok(const char *s, size_t max)
{
        size_t n = strlen(s);

        if (n >= max)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789_.-", s[i]))
                        return false;
        return true;
}

/* containerd's normalizeArch(): the names Debian, the kernel and Docker use for one thing. */
static void normalize(struct bp_oci *p)
{
        const char *a = p->arch, *v = p->variant;

        if (strcmp(p->os, "macos") == 0)
                text_copy(p->os, sizeof(p->os), "darwin");
        if (strcmp(a, "i386") == 0) {
                text_copy(p->arch, sizeof(p->arch), "386");
                p->variant[0] = '\0';
        } else if (strcmp(a, "x86_64") == 0 || strcmp(a, "x86-64") == 0 || strcmp(a, "amd64") == 0) {
                text_copy(p->arch, sizeof(p->arch), "amd64");
                if (strcmp(v, "v1") == 0)
                        p->variant[0] = '\0';
        } else if (strcmp(a, "aarch64") == 0 || strcmp(a, "arm64") == 0) {
                text_copy(p->arch, sizeof(p->arch), "arm64");
                if (strcmp(v, "8") == 0 || strcmp(v, "v8") == 0 || strcmp(v, "v8.0") == 0)
                        p->variant[0] = '\0';
                else if (strcmp(v, "9") == 0 || strcmp(v, "9.0") == 0 || strcmp(v, "v9.0") == 0)
                        text_copy(p->variant, sizeof(p->variant), "v9");
        } else if (strcmp(a, "armhf") == 0) {
                text_copy(p->arch, sizeof(p->arch), "arm");
                text_copy(p->variant, sizeof(p->variant), "v7");
        } else if (strcmp(a, "armel") == 0) {
                text_copy(p->arch, sizeof(p->arch), "arm");
                text_copy(p->variant, sizeof(p->variant), "v6");
        } else if (strcmp(a, "arm") == 0) {
                if (v[0] == '\0' || strcmp(v, "7") == 0)
                        text_copy(p->variant, sizeof(p->variant), "v7");
                else if (strcmp(v, "5") == 0 || strcmp(v, "6") == 0 || strcmp(v, "8") == 0) {
                        char w[3] = { 'v', v[0], '\0' };
                        text_copy(p->variant, sizeof(p->variant), w);
                }
        }
}

int rules_from_fields(const char *os, const char *arch, const char *variant, struct bp_oci *ret,
                      struct bp_err *err)
{
        struct bp_oci p = { 0 };

        if (!os || !arch || !field_ok(os, sizeof(p.os)) || !field_ok(arch, sizeof(p.arch)) || arch[0] == '\0' ||
            os[0] == '\0' || (variant && !field_ok(variant, sizeof(p.variant))))
                return bp_fail(err, -EINVAL, "bad platform fields os '%.20s' architecture '%.20s' variant '%.20s'",
                               os ? os : "", arch ? arch : "", variant ? variant : "");
        text_copy(p.os, sizeof(p.os), os);
        text_copy(p.arch, sizeof(p.arch), arch);
        text_copy(p.variant, sizeof(p.variant), variant ? variant : "");
        normalize(&p);
        *ret = p;
        return 0;
}

static bool is_os(const char *s)
{
        static const char *const known[] = { "linux", "windows", "darwin", "macos", "freebsd", "netbsd",
                                             "openbsd", "solaris", "illumos", "android", "aix", "plan9" };

        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
                if (strcmp(s, known[i]) == 0)
                        return true;
        return false;
}

int rules_parse(const char *s, struct bp_oci *ret, struct bp_err *err)
{
        char buf[RULES_NAME_MAX], *part[4] = { 0 }, *save = NULL;
        size_t n = 0;
        int r;

        if (strlen(s) >= sizeof(buf) || s[0] == '\0')
                return bp_fail(err, -EINVAL, "bad platform '%.64s': empty or too long", s);
        for (size_t i = 0; s[i]; i++)
                buf[i] = (char) ((s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i]);
        buf[strlen(s)] = '\0';
        if (buf[0] == '/' || buf[strlen(buf) - 1] == '/' || strstr(buf, "//"))
                return bp_fail(err, -EINVAL, "bad platform '%s': empty component", s);
        for (char *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
                if (n == 3)
                        return bp_fail(err, -EINVAL, "bad platform '%s': more than os/arch/variant", s);
                part[n++] = t;
        }
        if (n == 1 && is_os(part[0]))
                return bp_fail(err, -EINVAL, "bad platform '%s': no architecture", s);
        if (n == 1)
                r = rules_from_fields("linux", part[0], NULL, ret, err);
        else if (n == 2 && is_os(part[0]))
                r = rules_from_fields(part[0], part[1], NULL, ret, err);
        else if (n == 2)
                r = rules_from_fields("linux", part[0], part[1], ret, err);
        else
                r = rules_from_fields(part[0], part[1], part[2], ret, err);
        if (r < 0)
                return bp_fail(err, r, "bad platform '%s': use os/arch[/variant], e.g. linux/arm/v7", s);
        return 0;
}

int rules_parse_user(const char *s, struct bp_oci *ret, struct bp_err *err)
{
        static const char *const known[] = { "386",    "amd64",   "arm",      "arm64",   "loong64", "mips",
                                             "mipsle", "mips64",  "mips64le", "ppc64",   "ppc64le", "riscv64",
                                             "s390x",  "wasm" };
        struct bp_oci p, order[RULES_COMPAT_MAX];
        bool arch_ok = false;
        int r = rules_parse(s, &p, err);

        if (r < 0)
                return r;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
                arch_ok = arch_ok || strcmp(p.arch, known[i]) == 0;
        if (!arch_ok)
                return bp_fail(err, -EINVAL, "bad platform '%s': unknown architecture '%s' (amd64, arm64, arm, 386, ...)",
                               s, p.arch);
        /* A target whose fallback list is empty or too long would match nothing, or cut the list. */
        if (rules_compatible(&p, order) == 0) {
                if (strcmp(p.arch, "arm64") == 0)
                        return bp_fail(err, -EINVAL, "bad platform '%s': unknown arm64 variant '%s' (v8, v8.1 … v8.9, "
                                       "v9, v9.1 … v9.7)", s, p.variant);
                return bp_fail(err, -EINVAL, "bad platform '%s': more than %d platforms would run on it", s,
                               RULES_COMPAT_MAX);
        }
        *ret = p;
        return 0;
}

const char *rules_format(const struct bp_oci *p, char buf[static RULES_NAME_MAX])
{
        (void) snprintf(buf, RULES_NAME_MAX, "%s/%s%s%s", p->os, p->arch, p->variant[0] ? "/" : "", p->variant);
        return buf;
}

/* The fallback list being built: entries past RULES_COMPAT_MAX are counted, never written, so an
 * overlong list is seen and refused rather than cut. */
struct vector {
        struct bp_oci *p;
        size_t n;
};

static void push(struct vector *v, const char *os, const char *arch, const char *variant)
{
        if (v->n < RULES_COMPAT_MAX) {
                text_copy(v->p[v->n].os, sizeof(v->p[0].os), os);
                text_copy(v->p[v->n].arch, sizeof(v->p[0].arch), arch);
                text_copy(v->p[v->n].variant, sizeof(v->p[0].variant), variant);
        }
        v->n++;
}

/* containerd's strconv.Atoi(strings.TrimPrefix(variant, "v")): "v7" and "7" -> 7, -1 when not a number. */
static int variant_number(const char *v)
{
        unsigned long long n;
        int r;

        if (v[0] == 'v')
                v++;
        r = text_parse_u64(v, 10, 999, &n);
        if (r == -ERANGE)
                return 1000;            /* still a number: its list is too long, and is refused */
        return r < 0 ? -1 : (int) n;
}

static void push_numbered(struct vector *v, const char *os, const char *arch, int from, int to)
{
        for (int i = from; i >= to; i--) {
                char name[16];

                (void) snprintf(name, sizeof(name), "v%d", i);
                push(v, os, arch, name);
        }
}

/* arm64 variants containerd knows (compare.go, arm64variantToVersion): v8, v8.1 … v8.9, v9, v9.1 … v9.7.
 * Returns false for any other spelling; ret_major/ret_minor otherwise. */
static bool arm64_version(const char *variant, int *ret_major, int *ret_minor)
{
        int major, minor = 0;

        if (variant[0] == '\0') {
                *ret_major = 8;
                *ret_minor = 0;
                return true;
        }
        if (variant[0] != 'v' || (variant[1] != '8' && variant[1] != '9'))
                return false;
        major = variant[1] - '0';
        if (variant[2] == '.') {
                if (variant[3] < '1' || variant[3] > '9' || variant[4] != '\0')
                        return false;
                minor = variant[3] - '0';
        } else if (variant[2] != '\0' || major == 8) {
                return false;           /* a plain "v8" is normalized to "" before it gets here */
        }
        if (major == 9 && minor > 7)
                return false;
        *ret_major = major;
        *ret_minor = minor;
        return true;
}

/* vM.top … vM.1, vM; arm64 "v8" is written "", as it is normalized. */
static void push_arm64_minors(struct vector *v, const char *os, int major, int top)
{
        for (int i = top; i >= 0; i--) {
                char name[24] = "";

                if (i > 0)
                        (void) snprintf(name, sizeof(name), "v%d.%d", major, i);
                else if (major != 8)
                        (void) snprintf(name, sizeof(name), "v%d", major);
                push(v, os, "arm64", name);
        }
}

/* v9.x also runs v8.0 … v8.(x+5), at most v8.9: ARMv9.x includes ARMv8.(x+5). */
static void push_arm64(struct vector *v, const char *os, int major, int minor)
{
        push_arm64_minors(v, os, major, minor);
        if (major == 9)
                push_arm64_minors(v, os, 8, minor + 5 < 9 ? minor + 5 : 9);
}

size_t rules_compatible(const struct bp_oci *target, struct bp_oci ret[static RULES_COMPAT_MAX])
{
        struct vector v = { ret, 0 };
        const char *os = target->os;
        int n = variant_number(target->variant), major, minor;

        if (strcmp(target->arch, "arm64") == 0) {
                /* containerd's vector for an arm64 variant it does not know is empty: nothing runs. */
                if (!arm64_version(target->variant, &major, &minor))
                        return 0;
                push_arm64(&v, os, major, minor);
                push_numbered(&v, os, "arm", 8, 5);
        } else {
                push(&v, os, target->arch, target->variant);
                if (strcmp(target->arch, "amd64") == 0) {
                        if (n > 1) {
                                push_numbered(&v, os, "amd64", n - 1, 2);
                                push(&v, os, "amd64", "");      /* v1, as normalized */
                        }
                        push(&v, os, "386", "");
                } else if (strcmp(target->arch, "arm") == 0 && n > 5) {
                        push_numbered(&v, os, "arm", n - 1, 5);
                }
        }
        return v.n <= RULES_COMPAT_MAX ? v.n : 0;
}

bool rules_equal(const struct bp_oci *a, const struct bp_oci *b)
{
        return strcmp(a->os, b->os) == 0 && strcmp(a->arch, b->arch) == 0 && strcmp(a->variant, b->variant) == 0;
}

int rules_rank(const struct bp_oci *target, const struct bp_oci *candidate)
{
        struct bp_oci order[RULES_COMPAT_MAX];
        size_t n = rules_compatible(target, order);

        for (size_t i = 0; i < n; i++)
                if (rules_equal(&order[i], candidate))
                        return (int) i;
        return -1;
}
