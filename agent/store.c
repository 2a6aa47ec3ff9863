/* agent/store.c: see store.h. */
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "subprocess.h"
#include "text.h"

/* What a runtime's output said, for the caller: its first line, and its last, where the error is. */
struct store_said {
        char first[SUBPROCESS_LINE_MAX_BYTES + 1];
        char last[SUBPROCESS_LINE_MAX_BYTES + 1];
        unsigned lines;
        bool in_use, absent;
};

static void said_line(const char *line, void *userdata)
{
        struct store_said *s = userdata;

        if (s->lines++ == 0)
                text_copy(s->first, sizeof(s->first), line);
        text_copy(s->last, sizeof(s->last), line);
        /* podman: "image is in use by a container" (exit 2); docker: "conflict: unable to delete … (must be
         * forced) - image is being used by stopped container …" (exit 1). */
        if (strstr(line, "in use by") || strstr(line, "being used by"))
                s->in_use = true;
        /* podman: "image not known" (exit 1); docker: "No such image". */
        if (strstr(line, "image not known") || strstr(line, "No such image"))
                s->absent = true;
}

int store_space(const char *runtime, struct bp_store_space *ret, struct bp_err *err)
{
        bool podman = strcmp(runtime, "podman") == 0;
        char *argv[] = { (char *) runtime, "info", "--format",
                         podman ? "{{.Store.GraphRoot}}" : "{{.DockerRootDir}}", NULL };
        struct store_said said = { 0 };
        struct statvfs st;
        int r = subprocess_run(argv, STORE_INFO_TIMEOUT_MS, said_line, &said, err);

        if (r == -ETIMEDOUT)
                return bp_fail(err, r, "%s info: no answer after %" PRId64 " s, killed", runtime,
                               STORE_INFO_TIMEOUT_MS / 1000);
        if (r < 0)
                return r;
        if (r != 0)
                return bp_fail(err, -EIO, "%s info: exited with status %d: %s", runtime, r, said.last);
        if (said.first[0] != '/' || strlen(said.first) >= sizeof(ret->path))
                return bp_fail(err, -EIO, "%s info names no image store: '%s'", runtime, said.first);
        if (statvfs(said.first, &st) < 0)
                return bp_fail(err, -errno, "image store '%s': %s", said.first, strerror(errno));
        text_copy(ret->path, sizeof(ret->path), said.first);
        ret->free_bytes = (uint64_t) st.f_bavail * st.f_frsize;
        ret->size_bytes = (uint64_t) st.f_blocks * st.f_frsize;
        return 0;
}

uint64_t store_min_free(int percent, uint64_t bytes, uint64_t fs_bytes)
{
        if (percent > 0)
                return fs_bytes / 100 * (uint64_t) percent + fs_bytes % 100 * (uint64_t) percent / 100;
        return bytes;
}

bool store_room(const struct bp_store_space *sp, uint64_t image_bytes, uint64_t min_free_bytes)
{
        return sp->free_bytes >= image_bytes && sp->free_bytes - image_bytes >= min_free_bytes;
}

const char *store_size_text(uint64_t bytes, char buf[static STORE_SIZE_TEXT_MAX])
{
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
        unsigned u = 0;
        uint64_t whole = bytes, rest = 0;

        while (u + 1 < sizeof(units) / sizeof(units[0]) && whole >= 1024) {
                rest = whole % 1024;
                whole /= 1024;
                u++;
        }
        /* one decimal below 10 of a unit, where it tells 1.5 GiB from 1 GiB; tenths rounded down, so the
         * free space is never shown larger than it is */
        if (whole < 10 && rest * 10 / 1024 > 0)
                (void) snprintf(buf, STORE_SIZE_TEXT_MAX, "%" PRIu64 ".%" PRIu64 " %s", whole, rest * 10 / 1024,
                                units[u]);
        else
                (void) snprintf(buf, STORE_SIZE_TEXT_MAX, "%" PRIu64 " %s", whole, units[u]);
        return buf;
}

int store_remove(const char *runtime, const char *ref, struct bp_err *err)
{
        char *argv[] = { (char *) runtime, "rmi", (char *) ref, NULL };
        struct store_said said = { 0 };
        int r = subprocess_run(argv, STORE_REMOVE_TIMEOUT_MS, said_line, &said, err);

        if (r == -ETIMEDOUT)
                return bp_fail(err, r, "%s rmi %s: no result after %" PRId64 " s, killed", runtime, ref,
                               STORE_REMOVE_TIMEOUT_MS / 1000);
        if (r < 0)
                return r;
        if (r == 0)
                return STORE_REMOVED;
        if (said.in_use)
                return STORE_IN_USE;
        if (said.absent)
                return STORE_ABSENT;
        return bp_fail(err, -EIO, "%s rmi %s: exited with status %d: %s", runtime, ref, r, said.last);
}
