/* tests/unit/test-envfile.c: env files from a lock: one file per service and images.env, and one service
 * that cannot be written stopping no other. Runs in a mkdtemp() directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "config.h"
#include "envfile.h"
#include "fsio.h"
#include "helpers.h"
#include "lock.h"

#define D_V7 "sha256:7777777777777777777777777777777777777777777777777777777777777777"

/* envfile_write_all() on c's dirs and names, as apply.c calls it. */
static int write_all(const struct bp_config *c, struct bp_lock *l, struct bp_err *err)
{
        _cleanup_free_ struct bp_names *names = config_names(c);

        assert_non_null(names);
        return envfile_write_all(c->env_dir, c->state_dir, names, c->n_services, l, err);
}

static struct bp_config *config_in(const char *dir)
{
        char text[2048];
        struct bp_config *c = NULL;
        struct bp_err err = { 0 };
        int n = snprintf(text, sizeof(text),
                         "[boardpin]\nstate_dir = %s/state\nenv_dir = %s/env\n"
                         "[service a]\nimage = 127.0.0.1:5000/test/a\nversion = 1.0\n"
                         "[service b]\nimage = 127.0.0.1:5000/test/b\nversion = 1.0\n"
                         "[service c]\nimage = 127.0.0.1:5000/test/c\nversion = 1.0\n",
                         dir, dir);

        if (config_parse("t.ini", text, (size_t) n, &c, &err) != 0)
                fail_msg("%s", err.msg);
        return c;
}

static void pin(struct bp_lock *l, const char *service, const char *image)
{
        struct bp_resolution r = { 0 };
        struct bp_err err = { 0 };

        struct bp_platform_digest table[1] = { { .digest = D_V7 } };

        strcpy(r.digest, D_V7);
        assert_int_equal(rules_parse("linux/arm/v7", &r.platform, NULL), 0);
        table[0].platform = r.platform;
        r.table = table;
        r.n_table = 1;
        if (lock_set(l, service, image, "1.0", "1.0", "linux/arm/v7", &r, &err) != 0)
                fail_msg("%s", err.msg);
}

static char *env_text(const char *dir, const char *name)
{
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/env/%s", dir, name);
        return access(path, F_OK) == 0 ? slurp(path, NULL) : NULL;
}

static void writes_every_service(void **state)
{
        const char *dir = *state;
        _cleanup_(config_freep) struct bp_config *c = config_in(dir);
        _cleanup_(lock_freep) struct bp_lock *l = lock_new();
        struct bp_err err = { 0 };
        char *t;

        pin(l, "a", "127.0.0.1:5000/test/a");
        pin(l, "c", "127.0.0.1:5000/test/c");
        if (write_all(c, l, &err) != 0)
                fail_msg("%s", err.msg);
        t = env_text(dir, "a.env");
        assert_non_null(strstr(t, "IMAGE=127.0.0.1:5000/test/a@" D_V7 "\n"));
        free(t);
        assert_null(env_text(dir, "b.env")); /* never resolved */
        t = env_text(dir, "images.env");
        assert_non_null(
                strstr(t, "\nA_IMAGE=127.0.0.1:5000/test/a@" D_V7 "\nC_IMAGE=127.0.0.1:5000/test/c@" D_V7 "\n"));
        free(t);
}

/* A lock written before brackets were refused in the config: service b's image cannot go into an env
 * file. Before, a.env was written and c.env and images.env never were, on every boot. */
static void one_bad_value_stops_no_other(void **state)
{
        const char *dir = *state;
        _cleanup_(config_freep) struct bp_config *c = config_in(dir);
        _cleanup_(lock_freep) struct bp_lock *l = lock_new();
        struct bp_err err = { 0 };
        char *t;

        pin(l, "a", "127.0.0.1:5000/test/a");
        pin(l, "b", "[::1]:5000/test/b");
        pin(l, "c", "127.0.0.1:5000/test/c");
        assert_int_equal(write_all(c, l, &err), -EINVAL);
        assert_string_equal(err.msg, "service 'b': '[::1]:5000/test/b@" D_V7 "' is not safe in an env file");
        free(env_text(dir, "a.env"));
        assert_null(env_text(dir, "b.env"));
        t = env_text(dir, "c.env");
        assert_non_null(t);
        free(t);
        t = env_text(dir, "images.env");
        assert_non_null(
                strstr(t, "\nA_IMAGE=127.0.0.1:5000/test/a@" D_V7 "\nC_IMAGE=127.0.0.1:5000/test/c@" D_V7 "\n"));
        assert_null(strstr(t, "B_IMAGE"));
        free(t);
}

/* A directory where a.env should be: its write fails, b.env, c.env and images.env are written. */
static void one_failed_write_stops_no_other(void **state)
{
        const char *dir = *state;
        _cleanup_(config_freep) struct bp_config *c = config_in(dir);
        _cleanup_(lock_freep) struct bp_lock *l = lock_new();
        struct bp_err err = { 0 };
        char path[PATH_MAX];
        char *t;

        pin(l, "a", "127.0.0.1:5000/test/a");
        pin(l, "b", "127.0.0.1:5000/test/b");
        pin(l, "c", "[::1]:5000/test/c");
        snprintf(path, sizeof(path), "%s/env", dir);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/env/a.env", dir);
        assert_int_equal(mkdir(path, 0755), 0);
        assert_true(write_all(c, l, &err) < 0);
        assert_non_null(strstr(err.msg, "service 'a': write '"));
        assert_non_null(strstr(err.msg, "(and 1 more services)"));
        t = env_text(dir, "b.env");
        assert_non_null(strstr(t, "IMAGE_NAME=127.0.0.1:5000/test/b\n"));
        free(t);
        t = env_text(dir, "images.env");
        assert_non_null(strstr(t, "\nA_IMAGE=127.0.0.1:5000/test/a@" D_V7 "\nB_IMAGE="));
        free(t);
}

/* A world-writable env_dir is refused before anything is written; a killed run's temp file is swept. */
static void unsafe_env_dir_and_leftovers(void **state)
{
        const char *dir = *state;
        _cleanup_(config_freep) struct bp_config *c = config_in(dir);
        _cleanup_(lock_freep) struct bp_lock *l = lock_new();
        struct bp_err err = { 0 };
        char path[PATH_MAX];

        pin(l, "a", "127.0.0.1:5000/test/a");
        snprintf(path, sizeof(path), "%s/env", dir);
        assert_int_equal(mkdir(path, 0755), 0);
        assert_int_equal(chmod(path, 0777), 0);
        assert_int_equal(write_all(c, l, &err), -EPERM);
        assert_non_null(strstr(err.msg, "is writable by others (mode 0777): refusing it"));
        assert_null(env_text(dir, "a.env"));
        assert_int_equal(chmod(path, 0755), 0);
        put_file(dir, "env/.a.env.tmp", "half", 4);
        assert_int_equal(write_all(c, l, &err), 0);
        assert_null(env_text(dir, ".a.env.tmp"));
        free(env_text(dir, "a.env"));
}

/* Generated files of services no longer configured go; a FIFO under such a name is skipped, not waited on
 * (fopen() blocked on it), and a file without the header is not ours to delete. */
static void stale_files_and_fifo(void **state)
{
        const char *dir = *state;
        _cleanup_(config_freep) struct bp_config *c = config_in(dir);
        _cleanup_(lock_freep) struct bp_lock *l = lock_new();
        struct bp_err err = { 0 };
        char path[PATH_MAX], *t;
        static const char gone[] = ENVFILE_HEADER "x - do not edit\nIMAGE=x\n";

        pin(l, "a", "127.0.0.1:5000/test/a");
        put_file(dir, "env/gone.env", gone, sizeof(gone) - 1);
        put_file(dir, "env/mine.env", "IMAGE=kept\n", 11);
        snprintf(path, sizeof(path), "%s/env/fifo.env", dir);
        assert_int_equal(mkfifo(path, 0600), 0);
        if (write_all(c, l, &err) != 0)
                fail_msg("%s", err.msg);
        assert_null(env_text(dir, "gone.env"));
        t = env_text(dir, "mine.env");
        assert_non_null(t);
        free(t);
        assert_int_equal(access(path, F_OK), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(writes_every_service, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(one_bad_value_stops_no_other, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(one_failed_write_stops_no_other, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(unsafe_env_dir_and_leftovers, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(stale_files_and_fifo, scratch_setup, scratch_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
