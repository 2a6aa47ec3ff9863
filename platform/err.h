/* platform/err.h: the error shape every module uses: a negative errno for code and one line for people.
 * A fixed buffer, so even running out of memory can be reported. */
#pragma once

#include <limits.h>

/* A full path (PATH_MAX) and a reason around it: a message never cuts the file it names. */
#define BP_ERR_MSG_MAX (PATH_MAX + 512)

struct bp_err {
        char msg[BP_ERR_MSG_MAX];
};

/* Fill err (may be NULL) with one formatted line and return r, which must be a negative errno. */
int bp_fail(struct bp_err *err, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Put context in front of the line already in err, keeping its text; returns r. */
int bp_err_prefix(struct bp_err *err, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
