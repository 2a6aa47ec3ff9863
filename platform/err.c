/* platform/err.c: see err.h. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int bp_fail(struct bp_err *err, int r, const char *fmt, ...)
{
        va_list ap;

        if (!err)
                return r;
        va_start(ap, fmt);
        (void) vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        return r;
}

int bp_err_prefix(struct bp_err *err, int r, const char *fmt, ...)
{
        char old[sizeof(err->msg)];
        va_list ap;
        int n;

        if (!err)
                return r;
        memcpy(old, err->msg, sizeof(old));
        va_start(ap, fmt);
        n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t) n < sizeof(err->msg))
                (void) snprintf(err->msg + n, sizeof(err->msg) - (size_t) n, "%s", old);
        return r;
}
