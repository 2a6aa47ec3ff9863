/* agent/envfile.c: see envfile.h. */
#include "envfile.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "fsio.h"
#include "text.h"

/* A generated env file is a header and five lines of bounded values: well under 4 KiB. Anything
 * larger under a .env name is not ours. */
#define ENVFILE_MAX_BYTES (64 * 1024)

bool envfile_value_ok(const char *s)
{
        if (!s[0])
                return false;
        for (; *s; s++)
                if (!strchr(ENV_VALUE_CHARS, *s))
                        return false;
        return true;
}

static int reference(const struct bp_lock_entry *e, char *buf, size_t size)
{
        if (snprintf(buf, size, "%s@%s", e->image, e->pin.digest) >= (int) size)
                return -ENAMETOOLONG;
        return 0;
}

int envfile_render_service(const struct bp_lock_entry *e, const char *lock_path, char **ret, size_t *ret_len,
                           struct bp_err *err)
{
        char ref[REF_STRING_MAX];
        const char *values[] = { ref, e->image, e->pin.tag, e->pin.digest, e->pin.platform };
        int n;

        if (reference(e, ref, sizeof(ref)) < 0)
                return bp_fail(err, -ENAMETOOLONG, "service '%s': reference too long", e->service);
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
                if (!envfile_value_ok(values[i]))
                        return bp_fail(err, -EINVAL, "service '%s': '%s' is not safe in an env file", e->service,
                                       values[i]);
        n = asprintf(ret,
                     ENVFILE_HEADER "%s - do not edit\n"
                     "IMAGE=%s\nIMAGE_NAME=%s\nIMAGE_TAG=%s\nIMAGE_DIGEST=%s\nIMAGE_PLATFORM=%s\n",
                     lock_path, ref, e->image, e->pin.tag, e->pin.digest, e->pin.platform);
        if (n < 0)
                return bp_fail(err, -ENOMEM, "out of memory");
        *ret_len = (size_t) n;
        return 0;
}

int envfile_render_images(const struct bp_names *s, size_t n, struct bp_lock *l, const char *lock_path,
                          char **ret, size_t *ret_len, struct bp_err *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        if (!f)
                return bp_fail(err, -ENOMEM, "out of memory");
        fprintf(f, ENVFILE_HEADER "%s - do not edit\n", lock_path);
        for (size_t i = 0; i < n; i++) {
                const struct bp_lock_entry *e = lock_find(l, s[i].service);
                char ref[REF_STRING_MAX];

                if (!e)
                        continue; /* never resolved: nothing to say, the unit will not start */
                if (reference(e, ref, sizeof(ref)) < 0 || !envfile_value_ok(ref))
                        continue; /* left out, not fatal: envfile_write_all() names the service */
                fprintf(f, "%s=%s\n", s[i].env_var, ref);
        }
        if (fclose(f) != 0)
                return bp_fail(err, -ENOMEM, "out of memory");
        *ret = steal_ptr(&text);
        *ret_len = len;
        return 0;
}

static bool named(const struct bp_names *s, size_t n, const char *service)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(s[i].service, service) == 0)
                        return true;
        return false;
}

/* Generated .env files of services not in s: ours by their first line. */
static int remove_stale(const char *env_dir, const struct bp_names *s, size_t n_names, struct bp_err *err)
{
        DIR *d = opendir(env_dir);
        struct dirent *de;
        int r = 0;

        if (!d)
                return bp_fail(err, -errno, "open '%s': %s", env_dir, strerror(errno));
        while (r == 0 && (de = readdir(d))) {
                char service[SERVICE_NAME_MAX + 8], path[PATH_MAX];
                _cleanup_free_ char *head = NULL;
                size_t n = strlen(de->d_name), head_len;

                if (n < 5 || n - 4 >= SERVICE_NAME_MAX || strcmp(de->d_name + n - 4, ".env") != 0 ||
                    strcmp(de->d_name, ENVFILE_IMAGES) == 0 || de->d_name[0] == '.')
                        continue;
                memcpy(service, de->d_name, n - 4);
                service[n - 4] = '\0';
                if (named(s, n_names, service))
                        continue;
                if (snprintf(path, sizeof(path), "%s/%s", env_dir, de->d_name) >= (int) sizeof(path))
                        continue;
                /* fsio_read(): a FIFO planted under a stale name must not hang the boot */
                if (fsio_read(path, ENVFILE_MAX_BYTES, &head, &head_len, NULL) < 0)
                        continue;
                if (text_has_prefix(head, ENVFILE_HEADER))
                        r = fsio_unlink(env_dir, de->d_name, err);
        }
        closedir(d);
        return r;
}

int envfile_write_all(const char *env_dir, const char *state_dir, const struct bp_names *s, size_t n,
                      struct bp_lock *l, struct bp_err *err)
{
        char lock_path[PATH_MAX], name[SERVICE_NAME_MAX + 8];
        _cleanup_free_ char *images = NULL;
        struct bp_err first = { 0 };
        size_t len, n_failed = 0;
        int r, r_first = 0;

        if (snprintf(lock_path, sizeof(lock_path), "%s/%s", state_dir, LOCK_NAME) >= (int) sizeof(lock_path))
                return bp_fail(err, -ENAMETOOLONG, "'%s': path too long", state_dir);
        r = fsio_mkdir_p(env_dir, 0755, err);
        if (r == 0)
                r = fsio_check_dir(env_dir, err);
        if (r < 0)
                return r;
        (void) fsio_sweep(env_dir);
        /* One service that cannot be written touches no other: every other file and images.env are still
         * written, and the first failure is reported with the count of the rest. */
        for (size_t i = 0; i < n; i++) {
                const struct bp_lock_entry *e = lock_find(l, s[i].service);
                _cleanup_free_ char *text = NULL;
                struct bp_err e_err = { 0 };

                if (!e)
                        continue;
                r = envfile_render_service(e, lock_path, &text, &len, &e_err);
                if (r == 0) {
                        (void) snprintf(name, sizeof(name), "%s.env", e->service);
                        r = fsio_update(env_dir, name, text, len, 0644, &e_err);
                        if (r < 0)
                                (void) bp_err_prefix(&e_err, r, "service '%s': ", e->service);
                }
                if (r < 0 && n_failed++ == 0) {
                        first = e_err;
                        r_first = r;
                }
        }
        r = envfile_render_images(s, n, l, lock_path, &images, &len, err);
        if (r == 0)
                r = fsio_update(env_dir, ENVFILE_IMAGES, images, len, 0644, err);
        if (r == 0)
                r = remove_stale(env_dir, s, n, err);
        if (r < 0)
                return n_failed ? bp_err_prefix(err, r, "%s; ", first.msg) : r;
        if (n_failed == 1)
                return bp_fail(err, r_first, "%s", first.msg);
        if (n_failed > 1)
                return bp_fail(err, r_first, "%s (and %zu more services)", first.msg, n_failed - 1);
        return 0;
}
