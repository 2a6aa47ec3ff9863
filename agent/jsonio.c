/* agent/jsonio.c: strict JSON parsing through json-c's tokener, one copy for every reader. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "jsonio.h"

static void jsonio_tokener_freep(json_tokener **t)
{
        if (*t)
                json_tokener_free(*t);
}

/* json-c's strict mode still takes an escaped NUL ("\u0000") into a string, which C strings then cut. */
static bool has_escaped_nul(const char *text, size_t len)
{
        for (const char *p = text; (p = memmem(p, len - (size_t) (p - text), "\\u0000", 6)); p += 6) {
                size_t run = 0;

                while (p - run > text && p[-(ptrdiff_t) run - 1] == '\\')
                        run++;
                if (run % 2 == 0)
                        return true;
        }
        return false;
}

/* json-c 0.16's strict mode still reads 'single-quoted' strings; outside a string RFC 8259 has no quote
 * but '"', so one found there is refused before the tokener sees it. Returns its offset, or len. */
static size_t single_quote_at(const char *text, size_t len)
{
        bool in_string = false;

        for (size_t i = 0; i < len; i++) {
                if (in_string && text[i] == '\\')
                        i++;
                else if (text[i] == '"')
                        in_string = !in_string;
                else if (!in_string && text[i] == '\'')
                        return i;
        }
        return len;
}

/* The code point of the UTF-8 sequence at s (n bytes left) and its length, or 0 when it is not valid
 * UTF-8: an overlong form, a surrogate, past U+10FFFF, or cut short (RFC 3629). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
        static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
        size_t k = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;

        if (k == 0 || s[0] > 0xf4 || k > n)
                return 0;
        *cp = s[0] & (0x7f >> k);
        for (size_t i = 1; i < k; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                *cp = (*cp << 6) | (s[i] & 0x3f);
        }
        if (*cp < min[k] || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
                return 0;
        return k;
}

/* json-c 0.18's strict mode (Debian 13) refuses every byte over 0x7f in a string, valid UTF-8 included,
 * where 0.16 (Debian 12) takes it. So text that has any is checked as UTF-8 here, and each code point
 * over U+007F is written as the \u escape (a surrogate pair past U+FFFF) that both read as the same
 * string; outside a string the escape is as wrong as the byte was. *ret stays NULL for ASCII text.
 * -EILSEQ with *bad the offset of the first byte that is not UTF-8; -ENOMEM. */
static int escape_non_ascii(const char *text, size_t len, char **ret, size_t *ret_len, size_t *bad)
{
        const unsigned char *s = (const unsigned char *) text;
        size_t i = 0, o, k;
        uint32_t cp;
        char *out;

        while (i < len && s[i] < 0x80)
                i++;
        if (i == len)
                return 0;
        /* At most three times as long: a 2-byte sequence becomes 6 bytes, a 4-byte one 12. */
        out = len <= (SIZE_MAX - 1) / 3 ? malloc(len * 3 + 1) : NULL;
        if (!out)
                return -ENOMEM;
        memcpy(out, text, i);
        o = i;
        while (i < len) {
                if (s[i] < 0x80) {
                        out[o++] = text[i++];
                        continue;
                }
                k = utf8_next(s + i, len - i, &cp);
                if (k == 0) {
                        free(out);
                        *bad = i;
                        return -EILSEQ;
                }
                if (cp > 0xffff)
                        o += (size_t) snprintf(out + o, 13, "\\u%04x\\u%04x", (unsigned) (0xd800 + ((cp - 0x10000) >> 10)),
                                               (unsigned) (0xdc00 + ((cp - 0x10000) & 0x3ff)));
                else
                        o += (size_t) snprintf(out + o, 7, "\\u%04x", (unsigned) cp);
                i += k;
        }
        out[o] = '\0';
        *ret = out;
        *ret_len = o;
        return 0;
}

int jsonio_parse_object(const char *text, size_t len, size_t max_bytes, int max_depth, const char *what,
                        json_object **ret, struct bp_err *err)
{
        _cleanup_(jsonio_tokener_freep) json_tokener *tok = NULL;
        _cleanup_(jsonio_putp) json_object *o = NULL;
        _cleanup_free_ char *escaped = NULL;
        enum json_tokener_error e;
        size_t end, escaped_len = 0;
        int r;

        if (len > max_bytes || len > INT_MAX)
                return bp_fail(err, -EFBIG, "%s: larger than %zu bytes", what, max_bytes);
        if (memchr(text, '\0', len) || has_escaped_nul(text, len))
                return bp_fail(err, -EINVAL, "%s: NUL character in JSON", what);
        end = single_quote_at(text, len);
        if (end < len)
                return bp_fail(err, -EINVAL, "%s: malformed JSON at byte %zu (single quote)", what, end);
        r = escape_non_ascii(text, len, &escaped, &escaped_len, &end);
        if (r == -ENOMEM)
                return bp_fail(err, r, "out of memory");
        if (r < 0)
                return bp_fail(err, -EINVAL, "%s: malformed JSON at byte %zu (invalid UTF-8)", what, end);
        if (escaped) {
                if (escaped_len > INT_MAX)
                        return bp_fail(err, -EFBIG, "%s: larger than %zu bytes", what, max_bytes);
                text = escaped;
                len = escaped_len;
        }
        tok = json_tokener_new_ex(max_depth);
        if (!tok)
                return bp_fail(err, -ENOMEM, "out of memory");
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, text, (int) len);
        e = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        if (e == json_tokener_continue)
                return bp_fail(err, -EINVAL, "%s: malformed JSON (truncated)", what);
        if (e != json_tokener_success || !o)
                return bp_fail(err, -EINVAL, "%s: malformed JSON at byte %zu (%s)", what, end,
                               json_tokener_error_desc(e));
        while (end < len && strchr(" \t\r\n", text[end]))
                end++;
        if (end < len)
                return bp_fail(err, -EINVAL, "%s: malformed JSON (text after the value at byte %zu)", what, end);
        if (!json_object_is_type(o, json_type_object))
                return bp_fail(err, -EINVAL, "%s: JSON is not an object", what);
        *ret = steal_ptr(&o);
        return 0;
}
