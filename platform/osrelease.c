/* platform/osrelease.c: see osrelease.h. */
#include "osrelease.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "cleanup.h"
#include "rootfs.h"
#include "text.h"

/* Unquote the value [p, end) into out (room for end - p + 1 bytes: unquoting never lengthens).
 * false when a quote is left open. */
static bool unquote(const char *p, const char *end, char *out)
{
        char q = 0;
        size_t o = 0;

        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
                end--;
        for (; p < end; p++) {
                if (q == 0 && (*p == '"' || *p == '\'')) {
                        q = *p;
                } else if (q == *p) {
                        q = 0;
                } else if (q != '\'' && *p == '\\' && p + 1 < end && strchr("\"\\$`", p[1])) {
                        out[o++] = *++p;
                } else {
                        out[o++] = *p;
                }
        }
        out[o] = '\0';
        return q == 0;
}

int osrelease_parse(const char *text, size_t len, const char *key, const char *what, char *buf, size_t size,
                    struct bp_err *err)
{
        const char *p = text, *end = text + len;
        size_t klen = strlen(key);
        unsigned line = 0;
        bool found = false;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *line_end = nl ? nl : end;
                size_t n = (size_t) (line_end - p);

                line++;
                if (n > klen && memcmp(p, key, klen) == 0 && p[klen] == '=') {
                        _cleanup_free_ char *v = malloc(n - klen);

                        if (!v)
                                return bp_fail(err, -ENOMEM, "out of memory");
                        if (memchr(p, '\0', n) || !unquote(p + klen + 1, line_end, v))
                                return bp_fail(err, -EINVAL, "%s:%u: bad %s value", what, line, key);
                        text_copy_clean(buf, size, v);
                        found = true;
                }
                p = nl ? nl + 1 : end;
        }
        return found ? 0 : -ENOENT;
}

int osrelease_pretty_name(const char *root, char *buf, size_t size, struct bp_err *err)
{
        static const char *const files[] = { "/etc/os-release", "/usr/lib/os-release" };

        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                _cleanup_free_ char *text = NULL;
                size_t len;
                int r = rootfs_read(root, files[i], OSRELEASE_MAX_BYTES, &text, &len, err);

                if (r == -ENOENT)
                        continue;               /* the second file is read only when the first is absent */
                if (r < 0)
                        return r;
                r = osrelease_parse(text, len, "PRETTY_NAME", files[i], buf, size, err);
                if (r == -ENOENT || (r == 0 && !buf[0]))
                        text_copy(buf, size, "Linux");
                else if (r < 0)
                        return r;
                return 0;
        }
        return bp_fail(err, -ENOENT, "no /etc/os-release or /usr/lib/os-release under '%s'", root);
}
