/* agent/jsonio.h: the one JSON reader. Registries, the lock and auth files are JSON (RFC 8259), so they
 * are parsed strictly: no comments, single quotes, trailing commas or text after the value, valid UTF-8,
 * a depth limit and no NUL. Knows no files and no HTTP; its callers say what the text is. */
#pragma once

#include <json-c/json.h>
#include <stddef.h>

#include "err.h"

/* Parse text (len bytes) as one JSON object nested at most max_depth deep. what names the text in the
 * message ("lock.json", "manifest of x"). -EFBIG past max_bytes, -EINVAL for anything else that is not a
 * strict JSON object; *ret is owned by the caller and set only on success. */
int jsonio_parse_object(const char *text, size_t len, size_t max_bytes, int max_depth, const char *what,
                        json_object **ret, struct bp_err *err);

/* For _cleanup_: json-c's json_* namespace is its own, so the helper carries the module's name. */
static inline void jsonio_putp(json_object **o)
{
        json_object_put(*o);
}
