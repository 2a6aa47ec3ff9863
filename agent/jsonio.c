/* agent/jsonio.c: strict JSON parsing through json-c's tokener, one copy for every reader. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
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

int jsonio_parse_object(const char *text, size_t len, size_t max_bytes, int max_depth, const char *what,
                        json_object **ret, struct bp_err *err)
{
        _cleanup_(jsonio_tokener_freep) json_tokener *tok = NULL;
        _cleanup_(jsonio_putp) json_object *o = NULL;
        enum json_tokener_error e;
        size_t end;

        if (len > max_bytes || len > INT_MAX)
                return bp_fail(err, -EFBIG, "%s: larger than %zu bytes", what, max_bytes);
        if (memchr(text, '\0', len) || has_escaped_nul(text, len))
                return bp_fail(err, -EINVAL, "%s: NUL character in JSON", what);
        end = single_quote_at(text, len);
        if (end < len)
                return bp_fail(err, -EINVAL, "%s: malformed JSON at byte %zu (single quote)", what, end);
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
