/* platform/text.c: see text.h. */
#include "text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

char *text_trim(char *s)
{
        size_t n;

        s += strspn(s, " \t\r");
        n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
                s[--n] = '\0';
        return s;
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0. Overlong forms and surrogates are invalid. */
static size_t utf8_len(const unsigned char *p)
{
        if (p[0] < 0x80)
                return 1;
        if (p[0] >= 0xc2 && p[0] <= 0xdf)
                return (p[1] & 0xc0) == 0x80 ? 2 : 0;
        if (p[0] >= 0xe0 && p[0] <= 0xef) {
                if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
                        return 0;
                if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0))
                        return 0;
                return 3;
        }
        if (p[0] >= 0xf0 && p[0] <= 0xf4) {
                if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
                        return 0;
                if ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
                        return 0;
                return 4;
        }
        return 0;
}

void text_copy_clean(char *dst, size_t size, const char *src)
{
        const unsigned char *p = (const unsigned char *) src;
        size_t o = 0;

        if (size == 0)
                return;
        while (*p) {
                size_t n = utf8_len(p);

                if (n == 1 && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
                        p++;
                        if (o > 0 && dst[o - 1] != ' ' && o + 1 < size)
                                dst[o++] = ' ';
                        continue;
                }
                if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f))) {
                        if (o + 1 >= size)
                                break;
                        dst[o++] = '?';
                        p++;
                        continue;
                }
                if (o + n >= size)
                        break;
                memcpy(dst + o, p, n);
                o += n;
                p += n;
        }
        while (o > 0 && dst[o - 1] == ' ')
                o--;
        dst[o] = '\0';
}

int text_parse_u64(const char *s, int base, unsigned long long max, unsigned long long *ret)
{
        unsigned long long v;
        char *end = NULL;

        if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
                return -EINVAL;
        if (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
                s += 2;
        if (!((*s >= '0' && *s <= '9') || (base == 16 && ((*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, base);
        if (errno == ERANGE || (errno == 0 && v > max))
                return -ERANGE;
        if (errno != 0 || *end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

bool text_has_prefix(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

void text_copy(char *dst, size_t size, const char *src)
{
        size_t n;

        if (size == 0)
                return;
        n = strnlen(src, size - 1);
        memcpy(dst, src, n);
        dst[n] = '\0';
}
