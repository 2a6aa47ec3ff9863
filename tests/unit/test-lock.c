/* tests/unit/test-lock.c: lock.json round trip, the previous pin, offline picks for another board, corrupt
 * locks; and the env files rendered from it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cleanup.h"
#include "envfile.h"
#include "fsio.h"
#include "helpers.h"
#include "lock.h"

#define D_V6 "sha256:6666666666666666666666666666666666666666666666666666666666666666"
#define D_V7 "sha256:7777777777777777777777777777777777777777777777777777777777777777"
#define D_64 "sha256:8888888888888888888888888888888888888888888888888888888888888888"
#define D_IX "sha256:9999999999999999999999999999999999999999999999999999999999999999"

static struct bp_resolution resolution(const char *digest, const char *platform)
{
        struct bp_resolution r = { 0 };

        r.table = calloc(3, sizeof(*r.table));
        assert_non_null(r.table);
        assert_int_equal(rules_parse("linux/arm/v6", &r.table[0].platform, NULL), 0);
        strcpy(r.table[0].digest, D_V6);
        assert_int_equal(rules_parse("linux/arm/v7", &r.table[1].platform, NULL), 0);
        strcpy(r.table[1].digest, D_V7);
        assert_int_equal(rules_parse("linux/arm64", &r.table[2].platform, NULL), 0);
        strcpy(r.table[2].digest, D_64);
        r.n_table = 3;
        strcpy(r.index_digest, D_IX);
        strcpy(r.digest, digest);
        assert_int_equal(rules_parse(platform, &r.platform, NULL), 0);
        return r;
}

static struct bp_lock *sample(void)
{
        struct bp_lock *l = lock_new();
        struct bp_resolution r = resolution(D_V7, "linux/arm/v7");

        assert_non_null(l);
        assert_int_equal(lock_set(l, "vaultwarden", "docker.io/vaultwarden/server", "^1.30", "1.30.5", "linux/arm/v7",
                                  &r, NULL), 0);
        resolution_done(&r);
        return l;
}

static void round_trip(void **state)
{
        _cleanup_(lock_freep) struct bp_lock *l = sample(), *back = NULL;
        _cleanup_free_ char *text = NULL, *again = NULL;
        size_t len, len2;

        (void) state;
        assert_int_equal(lock_render(l, &text, &len, NULL), 0);
        assert_int_equal(lock_parse(text, len, &back, NULL), 0);
        assert_int_equal(lock_render(back, &again, &len2, NULL), 0);
        assert_int_equal(len, len2);
        assert_memory_equal(text, again, len);
        assert_string_equal(lock_find(back, "vaultwarden")->pin.digest, D_V7);
        assert_int_equal(lock_find(back, "vaultwarden")->n_table, 3);
        assert_false(lock_find(back, "vaultwarden")->has_previous);
}

static void previous_pin(void **state)
{
        _cleanup_(lock_freep) struct bp_lock *l = sample();
        struct bp_resolution r = resolution(D_V6, "linux/arm/v6");
        struct bp_lock_entry *e;

        (void) state;
        assert_int_equal(lock_set(l, "vaultwarden", "docker.io/vaultwarden/server", "^1.30", "1.30.6", "linux/arm/v6",
                                  &r, NULL), 0);
        resolution_done(&r);
        e = lock_find(l, "vaultwarden");
        assert_true(e->has_previous);
        assert_string_equal(e->previous.digest, D_V7);
        assert_string_equal(e->previous.tag, "1.30.5");
        assert_string_equal(e->pin.platform, "linux/arm/v6");
}

static void pick_for_another_board(void **state)
{
        _cleanup_(lock_freep) struct bp_lock *l = sample();
        const struct bp_platform_digest *pick;
        struct bp_oci target, compat[RULES_COMPAT_MAX];
        size_t n;

        (void) state;
        assert_int_equal(rules_parse("linux/arm/v6", &target, NULL), 0);       /* the card went into a Pi Zero */
        n = rules_compatible(&target, compat);
        assert_int_equal(lock_pick(lock_find(l, "vaultwarden"), compat, n, &pick), 0);
        assert_string_equal(pick->digest, D_V6);
        assert_int_equal(rules_parse("linux/amd64", &target, NULL), 0);
        n = rules_compatible(&target, compat);
        assert_int_equal(lock_pick(lock_find(l, "vaultwarden"), compat, n, &pick), -ENOENT);
}

static void corrupt(void **state)
{
        static const char *const bad[] = {
                "", "{", "[]", "{\"schema\":2,\"services\":{}}", "{\"schema\":1}", "{\"schema\":1,\"services\":[]}",
                "{\"schema\":1,\"services\":{\"x\":{\"image\":\"docker.io/a/b\"}}}",
                "{\"schema\":1,\"services\":{\"x\":{\"image\":\"Docker.io/A\",\"version\":\"1\",\"target\":"
                "\"linux/arm/v7\",\"platforms\":{},\"pin\":{\"tag\":\"1\",\"digest\":\"" D_V7 "\",\"platform\":"
                "\"linux/arm/v7\"}}}}",
                "{\"schema\":1,\"services\":{\"x\":{\"image\":\"docker.io/a/b\",\"version\":\"1\",\"target\":"
                "\"linux/arm/v7\",\"platforms\":{\"linux/arm/v7\":\"sha256:xyz\"},\"pin\":{\"tag\":\"1\","
                "\"digest\":\"" D_V7 "\",\"platform\":\"linux/arm/v7\"}}}}",
        };
        struct bp_lock *l = NULL;
        struct bp_err err = { 0 };

        (void) state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(lock_parse(bad[i], strlen(bad[i]), &l, &err), -EBADMSG);
                assert_null(l);
        }
}

static void env_files(void **state)
{
        _cleanup_(lock_freep) struct bp_lock *l = sample();
        _cleanup_free_ char *text = NULL;
        size_t len;

        (void) state;
        assert_int_equal(envfile_render_service(lock_find(l, "vaultwarden"), "/var/lib/boardpin/lock.json", &text,
                                                &len, NULL), 0);
        assert_string_equal(text, "# generated by boardpin from /var/lib/boardpin/lock.json - do not edit\n"
                                  "IMAGE=docker.io/vaultwarden/server@" D_V7 "\n"
                                  "IMAGE_NAME=docker.io/vaultwarden/server\n"
                                  "IMAGE_TAG=1.30.5\n"
                                  "IMAGE_DIGEST=" D_V7 "\n"
                                  "IMAGE_PLATFORM=linux/arm/v7\n");
        assert_true(envfile_value_ok("docker.io/a/b@sha256:00"));
        assert_true(envfile_value_ok("1.30.5+build"));
        assert_false(envfile_value_ok(""));
        assert_false(envfile_value_ok("a b"));
        assert_false(envfile_value_ok("$(reboot)"));
        assert_false(envfile_value_ok("a\"b"));
        assert_false(envfile_value_ok("a\nB=1"));
}

static void atomic_write(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *text = NULL;
        struct bp_err err = { 0 };
        char path[PATH_MAX];
        size_t len;
        int fd, fd2;

        assert_int_equal(fsio_write_atomic(dir, "a.env", "old\n", 4, 0644, NULL), 0);
        assert_int_equal(fsio_write_atomic(dir, "a.env", "new\n", 4, 0644, NULL), 0);
        snprintf(path, sizeof(path), "%s/a.env", dir);
        assert_int_equal(fsio_read(path, 100, &text, &len, NULL), 0);
        assert_string_equal(text, "new\n");
        snprintf(path, sizeof(path), "%s/nodir", dir);
        assert_true(fsio_write_atomic(path, "a.env", "x", 1, 0644, &err) < 0);
        assert_non_null(strstr(err.msg, "nodir"));
        fd = fsio_lock_dir(dir, 0, NULL);
        assert_true(fd >= 0);
        fd2 = fsio_lock_dir(dir, 0, &err);
        assert_int_equal(fd2, -EBUSY);
        assert_non_null(strstr(err.msg, "another boardpin holds the lock"));
        close(fd);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(round_trip),
                cmocka_unit_test(previous_pin),
                cmocka_unit_test(pick_for_another_board),
                cmocka_unit_test(corrupt),
                cmocka_unit_test(env_files),
                cmocka_unit_test_setup_teardown(atomic_write, scratch_setup, scratch_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
