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
                if (strcmp(v, "8") == 0 || strcmp(v, "v8") == 0)
                        p->variant[0] = '\0';
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
        struct bp_oci p;
        int r = rules_parse(s, &p, err);

        if (r < 0)
                return r;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
                if (strcmp(p.arch, known[i]) == 0) {
                        *ret = p;
                        return 0;
                }
        return bp_fail(err, -EINVAL, "bad platform '%s': unknown architecture '%s' (amd64, arm64, arm, 386, ...)", s,
                       p.arch);
}

const char *rules_format(const struct bp_oci *p, char buf[static RULES_NAME_MAX])
{
        (void) snprintf(buf, RULES_NAME_MAX, "%s/%s%s%s", p->os, p->arch, p->variant[0] ? "/" : "", p->variant);
        return buf;
}

static size_t push(struct bp_oci *ret, size_t n, const char *os, const char *arch, const char *variant)
{
        if (n >= RULES_COMPAT_MAX)
                return n;
        text_copy(ret[n].os, sizeof(ret[n].os), os);
        text_copy(ret[n].arch, sizeof(ret[n].arch), arch);
        text_copy(ret[n].variant, sizeof(ret[n].variant), variant);
        return n + 1;
}

/* "v7" -> 7; anything else -> 0. */
static int variant_number(const char *v)
{
        if (v[0] != 'v' || v[1] < '1' || v[1] > '9' || v[2] != '\0')
                return 0;
        return v[1] - '0';
}

static size_t push_arm_down(struct bp_oci *ret, size_t n, const char *os, int from)
{
        for (int v = from; v >= 5; v--) {
                char name[4] = { 'v', (char) ('0' + v), '\0', '\0' };
                n = push(ret, n, os, "arm", name);
        }
        return n;
}

size_t rules_compatible(const struct bp_oci *target, struct bp_oci ret[static RULES_COMPAT_MAX])
{
        size_t n = push(ret, 0, target->os, target->arch, target->variant);
        int v = variant_number(target->variant);

        if (strcmp(target->arch, "amd64") == 0) {
                for (v--; v >= 2; v--) {
                        char name[4] = { 'v', (char) ('0' + v), '\0', '\0' };
                        n = push(ret, n, target->os, "amd64", name);
                }
                if (variant_number(target->variant) > 1)
                        n = push(ret, n, target->os, "amd64", "");
                n = push(ret, n, target->os, "386", "");
        } else if (strcmp(target->arch, "arm") == 0 && v > 5) {
                n = push_arm_down(ret, n, target->os, v - 1);
        } else if (strcmp(target->arch, "arm64") == 0) {
                n = push_arm_down(ret, n, target->os, target->variant[0] ? v : 8);
        }
        return n;
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
