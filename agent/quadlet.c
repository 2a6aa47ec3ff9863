/* agent/quadlet.c: see quadlet.h. */
#include "quadlet.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cleanup.h"
#include "envfile.h"
#include "fsio.h"
#include "text.h"

#define QUADLET_HEADER ENVFILE_HEADER
#define QUADLET_DROPIN_MAX_BYTES (64 * 1024)

extern char **environ;

int quadlet_render(const struct bp_lock_entry *e, const char *lock_path, char **ret, size_t *ret_len,
                   struct bp_err *err)
{
        char ref[REF_STRING_MAX];
        int n;

        if (snprintf(ref, sizeof(ref), "%s@%s", e->image, e->pin.digest) >= (int) sizeof(ref))
                return bp_fail(err, -ENAMETOOLONG, "service '%s': reference too long", e->service);
        /* The env file's alphabet: nothing a unit file would read as a specifier (%), a quote or a
         * line of its own. */
        if (!envfile_value_ok(ref))
                return bp_fail(err, -EINVAL, "service '%s': '%s' is not safe in a unit file", e->service, ref);
        n = asprintf(ret, QUADLET_HEADER "%s - do not edit\n[Container]\nImage=%s\n", lock_path, ref);
        if (n < 0)
                return bp_fail(err, -ENOMEM, "out of memory");
        *ret_len = (size_t) n;
        return 0;
}

/* Write dir/name unless it holds text already; *changed counts a write. */
static int update(const char *dir, const char *text, size_t len, unsigned *changed, struct bp_err *err)
{
        _cleanup_free_ char *have = NULL;
        char path[PATH_MAX];
        size_t hlen;
        int r;

        if (snprintf(path, sizeof(path), "%s/%s", dir, QUADLET_DROPIN) >= (int) sizeof(path))
                return bp_fail(err, -ENAMETOOLONG, "'%s': path too long", dir);
        r = fsio_read(path, QUADLET_DROPIN_MAX_BYTES, &have, &hlen, NULL);
        if (r == 0 && hlen == len && memcmp(have, text, len) == 0)
                return 0;
        r = fsio_mkdir_p(dir, 0755, err);
        if (r == 0)
                r = fsio_write_atomic(dir, QUADLET_DROPIN, text, len, 0644, err);
        if (r == 0)
                (*changed)++;
        return r;
}

static bool named(const struct bp_names *s, size_t n, const char *unit)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(s[i].quadlet, unit) == 0)
                        return true;
        return false;
}

/* boardpin.conf drop-ins of units no service names: ours by their first line; the directory goes when
 * it is left empty. */
static int remove_stale(const char *quadlet_dir, const struct bp_names *s, size_t n_names, unsigned *changed,
                        struct bp_err *err)
{
        DIR *d = opendir(quadlet_dir);
        struct dirent *de;
        int r = 0;

        if (!d)
                return errno == ENOENT ? 0 : bp_fail(err, -errno, "open '%s': %s", quadlet_dir, strerror(errno));
        while (r == 0 && (de = readdir(d))) {
                char unit[NAME_MAX + 1], dir[PATH_MAX], path[PATH_MAX];
                _cleanup_free_ char *text = NULL;
                size_t n = strlen(de->d_name), len;

                if (n < 3 || strcmp(de->d_name + n - 2, ".d") != 0)
                        continue;
                memcpy(unit, de->d_name, n - 2);
                unit[n - 2] = '\0';
                if (n - 2 <= strlen(".container") ||
                    strcmp(unit + n - 2 - strlen(".container"), ".container") != 0 || named(s, n_names, unit))
                        continue;
                if (snprintf(dir, sizeof(dir), "%s/%s", quadlet_dir, de->d_name) >= (int) sizeof(dir) ||
                    snprintf(path, sizeof(path), "%s/%s", dir, QUADLET_DROPIN) >= (int) sizeof(path))
                        continue;
                if (fsio_read(path, QUADLET_DROPIN_MAX_BYTES, &text, &len, NULL) < 0 ||
                    !text_has_prefix(text, QUADLET_HEADER))
                        continue;
                r = fsio_unlink(dir, QUADLET_DROPIN, err);
                if (r == 0) {
                        (*changed)++;
                        (void) rmdir(dir); /* only when empty: other drop-ins are the owner's */
                }
        }
        closedir(d);
        return r;
}

int quadlet_write_all(const char *quadlet_dir, const char *state_dir, const struct bp_names *s, size_t n,
                      struct bp_lock *l, unsigned *ret_changed, struct bp_err *err)
{
        char lock_path[PATH_MAX], dir[PATH_MAX];
        int r = 0;

        *ret_changed = 0;
        if (snprintf(lock_path, sizeof(lock_path), "%s/%s", state_dir, LOCK_NAME) >= (int) sizeof(lock_path))
                return bp_fail(err, -ENAMETOOLONG, "'%s': path too long", state_dir);
        for (size_t i = 0; r == 0 && i < n; i++) {
                const struct bp_lock_entry *e;
                _cleanup_free_ char *text = NULL;
                size_t len;

                if (!s[i].quadlet[0] || !(e = lock_find(l, s[i].service)))
                        continue; /* never resolved: no Image=, so Quadlet makes no unit */
                if (snprintf(dir, sizeof(dir), "%s/%s.d", quadlet_dir, s[i].quadlet) >= (int) sizeof(dir))
                        return bp_fail(err, -ENAMETOOLONG, "service '%s': quadlet_dir path too long", s[i].service);
                r = quadlet_render(e, lock_path, &text, &len, err);
                if (r == 0)
                        r = update(dir, text, len, ret_changed, err);
                if (r < 0)
                        return bp_err_prefix(err, r, "service '%s': Quadlet drop-in: ", s[i].service);
        }
        return remove_stale(quadlet_dir, s, n, ret_changed, err);
}

int quadlet_reload(char *const argv[], struct bp_err *err)
{
        pid_t pid;
        int r, status;

        r = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
        if (r != 0)
                return bp_fail(err, -r, "run '%s': %s", argv[0], strerror(r));
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return bp_fail(err, -errno, "wait for '%s': %s", argv[0], strerror(errno));
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return bp_fail(err, -EIO, "'%s %s' failed (%s %d)", argv[0], argv[1] ? argv[1] : "",
                               WIFEXITED(status) ? "exit status" : "signal",
                               WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return 0;
}
