/* platform/cpuinfo.c: see cpuinfo.h. */
#include "cpuinfo.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

/* Implementer 0x41 (ARM Ltd) part numbers, as the kernel's arch/arm64/include/asm/cputype.h names them. */
static const struct {
        unsigned part;
        const char *name;
} arm_parts[] = {
        { 0xb02, "ARM11 MPCore" }, { 0xb36, "ARM1136" },    { 0xb56, "ARM1156" },     { 0xb76, "ARM1176" },
        { 0xc05, "Cortex-A5" },    { 0xc07, "Cortex-A7" },  { 0xc08, "Cortex-A8" },   { 0xc09, "Cortex-A9" },
        { 0xc0d, "Cortex-A12" },   { 0xc0e, "Cortex-A17" }, { 0xc0f, "Cortex-A15" },  { 0xd01, "Cortex-A32" },
        { 0xd03, "Cortex-A53" },   { 0xd04, "Cortex-A35" }, { 0xd05, "Cortex-A55" },  { 0xd07, "Cortex-A57" },
        { 0xd08, "Cortex-A72" },   { 0xd09, "Cortex-A73" }, { 0xd0a, "Cortex-A75" },  { 0xd0b, "Cortex-A76" },
        { 0xd0c, "Neoverse-N1" },  { 0xd0d, "Cortex-A77" }, { 0xd41, "Cortex-A78" },  { 0xd44, "Cortex-X1" },
        { 0xd46, "Cortex-A510" },  { 0xd47, "Cortex-A710" }, { 0xd48, "Cortex-X2" },
};

const char *cpuinfo_arm_part_name(unsigned implementer, unsigned part)
{
        if (implementer != 0x41)
                return NULL;
        for (size_t i = 0; i < sizeof(arm_parts) / sizeof(arm_parts[0]); i++)
                if (arm_parts[i].part == part)
                        return arm_parts[i].name;
        return NULL;
}

bool cpuinfo_says_armv6(const struct bp_cpuinfo *c)
{
        /* Pi Zero and Pi 1 kernels say "CPU architecture: 7" for the ARM1176; the model name is right:
         * "ARMv6-compatible processor rev 7 (v6l)". */
        return strstr(c->model_name, "ARMv6") != NULL || strstr(c->model_name, "(v6l)") != NULL;
}

static bool has_word(const char *list, const char *word)
{
        size_t n = strlen(word);

        for (const char *p = list; (p = strstr(p, word)); p += n)
                if ((p == list || p[-1] == ' ' || p[-1] == '\t') && (p[n] == '\0' || p[n] == ' ' || p[n] == '\t'))
                        return true;
        return false;
}

static void add_part(struct bp_cpuinfo *c, const char *value)
{
        unsigned long long v;

        if (text_parse_u64(value, 16, 0xfff, &v) < 0)
                return;
        for (size_t i = 0; i < c->n_parts; i++)
                if (c->parts[i] == v)
                        return;
        if (c->n_parts < CPUINFO_PARTS_MAX)
                c->parts[c->n_parts++] = (unsigned) v;
}

static void parse_arch(struct bp_cpuinfo *c, const char *value)
{
        unsigned long long v = 0;
        char digits[8];
        size_t n = strspn(value, "0123456789");

        c->family = BP_CPU_ARM;
        if (c->arch != 0)
                return;
        if (strcmp(value, "AArch64") == 0) {    /* arm64 kernels before 3.19 */
                c->arch = 8;
                return;
        }
        /* Old kernels: "5TEJ", "6TEJ"; take the leading number. */
        if (n == 0 || n >= sizeof(digits))
                return;
        memcpy(digits, value, n);
        digits[n] = '\0';
        if (text_parse_u64(digits, 10, 99, &v) == 0)
                c->arch = (int) v;
}

/* key and value are trimmed; the first value of a per-CPU key wins. */
static void take(struct bp_cpuinfo *c, const char *key, const char *value)
{
        if (strcmp(key, "CPU architecture") == 0)
                parse_arch(c, value);
        else if ((strcmp(key, "model name") == 0 || strcmp(key, "Processor") == 0) && !c->model_name[0])
                text_copy_clean(c->model_name, sizeof(c->model_name), value);
        else if (strcmp(key, "Hardware") == 0 && !c->hardware[0])
                text_copy_clean(c->hardware, sizeof(c->hardware), value);
        else if (strcmp(key, "Revision") == 0 && !c->revision[0])
                text_copy_clean(c->revision, sizeof(c->revision), value);
        else if (strcmp(key, "Serial") == 0 && !c->serial[0])
                text_copy_clean(c->serial, sizeof(c->serial), value);
        else if (strcmp(key, "CPU implementer") == 0 && c->implementer == 0) {
                unsigned long long v;
                if (text_parse_u64(value, 16, 0xff, &v) == 0)
                        c->implementer = (unsigned) v;
        } else if (strcmp(key, "CPU part") == 0)
                add_part(c, value);
        else if (strcmp(key, "Features") == 0)
                c->neon = c->neon || has_word(value, "neon") || has_word(value, "asimd");
        else if (strcmp(key, "flags") == 0) {
                c->family = BP_CPU_X86;
                c->lm = c->lm || has_word(value, "lm");
        } else if (strcmp(key, "vendor_id") == 0)
                c->family = BP_CPU_X86;
}

int cpuinfo_parse(const char *text, size_t len, struct bp_cpuinfo *ret, struct bp_err *err)
{
        struct bp_cpuinfo c = { 0 };
        const char *p = text, *end = text + len;

        if (len > CPUINFO_MAX_BYTES)
                return bp_fail(err, -EFBIG, "cpuinfo larger than %d bytes", CPUINFO_MAX_BYTES);
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *line_end = nl ? nl : end;
                char line[4096], *colon, *key, *value;
                size_t n = (size_t) (line_end - p);

                if (n < sizeof(line)) {
                        memcpy(line, p, n);
                        line[n] = '\0';
                        colon = memchr(line, '\0', n) ? NULL : strchr(line, ':');
                        if (colon) {
                                *colon = '\0';
                                key = text_trim(line);
                                value = text_trim(colon + 1);
                                take(&c, key, value);
                        }
                }
                /* A line longer than any real one (x86 flags reach ~1.6 KiB on new CPUs) is skipped whole. */
                p = nl ? nl + 1 : end;
        }
        *ret = c;
        return 0;
}
