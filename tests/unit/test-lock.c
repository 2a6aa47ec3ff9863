/* tests/unit/test-lock.c: lock.json round trip, the previous pin, offline picks for another board, corrupt
 * locks, the bad list and held digest of upgrades, rollback; and the env files rendered from it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cleanup.h"
#include "envfile.h"
#include "fsio.h"
#include "helpers.h"
#include "lock.h"
#include "manifest.h"

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
        const struct bp_lock_entry *e;

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

/* Render l, parse it back, render again: the lock must always read what it wrote, byte for byte. */
static struct bp_lock *reread(const struct bp_lock *l)
{
        _cleanup_free_ char *text = NULL, *again = NULL;
        struct bp_lock *back = NULL;
        struct bp_err err = { 0 };
        size_t len, len2;

        assert_int_equal(lock_render(l, &text, &len, NULL), 0);
        assert_int_equal(strlen(text), len);
        if (lock_parse(text, len, &back, &err) < 0)
                fail_msg("lock_parse refused what lock_render wrote: %s\n%s", err.msg, text);
        assert_int_equal(lock_render(back, &again, &len2, NULL), 0);
        assert_int_equal(len, len2);
        assert_memory_equal(text, again, len);
        return back;
}

/* An offline first boot renders a lock that never had an entry. */
static void empty_lock(void **state)
{
        _cleanup_(lock_freep) struct bp_lock *l = lock_new(), *back = NULL;

        (void) state;
        assert_non_null(l);
        assert_int_equal(lock_count(l), 0);
        assert_null(lock_entry(l, 0));
        back = reread(l);
        assert_int_equal(lock_count(back), 0);
}

/* buildx --platform wasi/wasm publishes an entry whose two-part name is os/arch, as containerd reads it:
 * recorded in the platform table, it must come back as wasi/wasm, not poison the lock. */
static void wasi_entry_round_trip(void **state)
{
        const char *doc = "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":["
                          "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D_V7 "\",\"size\":1,"
                          "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}},"
                          "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D_64 "\",\"size\":1,"
                          "\"platform\":{\"os\":\"wasi\",\"architecture\":\"wasm\"}}]}";
        _cleanup_(manifest_freep) struct bp_manifest *m = NULL;
        _cleanup_(lock_freep) struct bp_lock *l = lock_new(), *back = NULL;
        struct bp_resolution r = { 0 };
        const struct bp_lock_entry *e;
        char name[RULES_NAME_MAX];

        (void) state;
        assert_int_equal(manifest_parse(doc, strlen(doc), NULL, &m, NULL), 0);
        r.table = calloc(m->n_entries, sizeof(*r.table));
        assert_non_null(r.table);
        for (size_t i = 0; i < m->n_entries; i++) {
                assert_true(m->entries[i].has_platform);
                r.table[r.n_table].platform = m->entries[i].platform;
                strcpy(r.table[r.n_table++].digest, m->entries[i].digest);
        }
        assert_string_equal(rules_format(&r.table[1].platform, name), "wasi/wasm");
        strcpy(r.index_digest, D_IX);
        strcpy(r.digest, D_V7);
        r.platform = r.table[0].platform;
        assert_int_equal(lock_set(l, "app", "docker.io/a/b", "1", "1", "linux/arm/v7", &r, NULL), 0);
        resolution_done(&r);
        back = reread(l);
        e = lock_find(back, "app");
        assert_non_null(e);
        assert_int_equal(e->n_table, 2);
        assert_string_equal(rules_format(&e->table[1].platform, name), "wasi/wasm");
        assert_string_equal(e->table[1].digest, D_64);
}

/* lock_set() records only what lock_parse() reads: a platform the lock cannot spell back is refused, and
 * the lock keeps its old entry. */
static void set_refuses_what_parse_would(void **state)
{
        _cleanup_(lock_freep) struct bp_lock *l = sample(), *back = NULL;
        struct bp_resolution r = resolution(D_V6, "linux/arm/v6");
        struct bp_err err = { 0 };

        (void) state;
        r.table[1].platform.variant[0] = '\0';          /* "linux/arm": would read back as linux/arm/v7 */
        assert_int_equal(lock_set(l, "vaultwarden", "docker.io/vaultwarden/server", "^1.30", "1.30.6",
                                  "linux/arm/v6", &r, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "bad platform entry 'linux/arm'"));
        r.table[1] = r.table[0];                        /* the same platform twice: one key in JSON */
        assert_int_equal(lock_set(l, "vaultwarden", "docker.io/vaultwarden/server", "^1.30", "1.30.6",
                                  "linux/arm/v6", &r, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "listed twice"));
        assert_int_equal(lock_set(l, "vaultwarden", "docker.io/vaultwarden/server", "^1.30", "1.30.6", "arm/v6",
                                  &r, &err), -EINVAL);  /* not as rules_format() spells it */
        resolution_done(&r);
        assert_int_equal(lock_count(l), 1);
        assert_string_equal(lock_find(l, "vaultwarden")->pin.digest, D_V7);
        assert_int_equal(lock_find(l, "vaultwarden")->n_table, 3);
        back = reread(l);
}

/* The card moved to a Pi Zero: the lock's own table answers, and the old pin becomes previous. */
static void repin_for_another_board(void **state)
{
        _cleanup_(lock_freep) struct bp_lock *l = sample(), *back = NULL;
        const struct bp_platform_digest *pick;
        const struct bp_lock_entry *e;
        struct bp_oci target, compat[RULES_COMPAT_MAX];
        size_t n;

        (void) state;
        assert_int_equal(rules_parse("linux/arm/v6", &target, NULL), 0);
        n = rules_compatible(&target, compat);
        assert_int_equal(lock_pick(lock_find(l, "vaultwarden"), compat, n, &pick), 0);
        assert_int_equal(lock_repin(l, "vaultwarden", pick, "linux/arm/v6", NULL), 0);
        e = lock_find(l, "vaultwarden");
        assert_string_equal(e->pin.digest, D_V6);
        assert_string_equal(e->pin.platform, "linux/arm/v6");
        assert_string_equal(e->target, "linux/arm/v6");
        assert_true(e->has_previous);
        assert_string_equal(e->previous.digest, D_V7);
        assert_int_equal(lock_repin(l, "nothere", pick, "linux/arm/v6", NULL), -ENOENT);
        back = reread(l);
        assert_int_equal(lock_count(back), 1);
        assert_string_equal(lock_entry(back, 0)->service, "vaultwarden");
}

/* resolved_at is RFC 3339 UTC from a 64-bit clock; one past 2038 and 2106 reads and renders unchanged. */
static void timestamps(void **state)
{
        _cleanup_(lock_freep) struct bp_lock *l = sample(), *back = NULL;
        _cleanup_free_ char *text = NULL;
        const char *at = lock_find(l, "vaultwarden")->pin.resolved_at;
        size_t len;
        char *p;

        (void) state;
        assert_int_equal(strlen(at), 20);
        assert_true(at[0] == '2' && at[4] == '-' && at[10] == 'T' && at[19] == 'Z');
        assert_int_equal(lock_render(l, &text, &len, NULL), 0);
        p = strstr(text, at);
        assert_non_null(p);
        memcpy(p, "2106-02-07T06:28:16Z", 20);
        assert_int_equal(lock_parse(text, len, &back, NULL), 0);
        assert_string_equal(lock_find(back, "vaultwarden")->pin.resolved_at, "2106-02-07T06:28:16Z");
}

/* lock.json is JSON (RFC 8259): what json-c lets through by default is refused. */
static void strict_json(void **state)
{
        static const char *const lenient[] = {
                "{\"schema\":1,\"services\":{}} x",
                "{\"schema\":1,\"services\":{}}{\"schema\":2}",
                "{\"schema\":1,\"services\":{},}",
                "{\"schema\":1,/* c */\"services\":{}}",
                "{\"schema\":1,\"services\":{}} // c",
                "{'schema':1,\"services\":{}}",
        };
        _cleanup_(lock_freep) struct bp_lock *l = sample();
        _cleanup_free_ char *text = NULL, *bad = NULL;
        struct bp_err err = { 0 };
        struct bp_lock *back = NULL;
        size_t len;

        (void) state;
        assert_int_equal(lock_render(l, &text, &len, NULL), 0);
        assert_true(asprintf(&bad, "%s{\"schema\":2}", text) > 0);
        assert_int_equal(lock_parse(bad, strlen(bad), &back, &err), -EBADMSG);      /* text after the lock */
        assert_null(back);
        assert_non_null(strstr(err.msg, "malformed JSON"));
        for (size_t i = 0; i < sizeof(lenient) / sizeof(lenient[0]); i++) {
                assert_int_equal(lock_parse(lenient[i], strlen(lenient[i]), &back, &err), -EBADMSG);
                assert_null(back);
        }
        assert_int_equal(lock_parse("{\"schema\":1,\"services\":{}}\n", 27, &back, NULL), 0);
        lock_free(back);
}

/* A damaged lock.json is named in one clean line: no terminal escape, no forged line. */
static void messages_clean(void **state)
{
        const char *doc = "{\"schema\":1,\"services\":{\"\\u001b[2J\\nboardpin: fake\":5}}";
        struct bp_lock *l = NULL;
        struct bp_err err = { 0 };

        (void) state;
        assert_int_equal(lock_parse(doc, strlen(doc), &l, &err), -EBADMSG);
        assert_null(strchr(err.msg, '\033'));
        assert_null(strchr(err.msg, '\n'));
        assert_non_null(strstr(err.msg, "?[2J boardpin: fake': not an object"));
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

#define FP "SHA256:Zx9AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define D_BAD "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void render_parse_render(const struct bp_lock *l, struct bp_lock **ret, char **ret_text)
{
        _cleanup_free_ char *text = NULL, *again = NULL;
        size_t len, len2;

        assert_int_equal(lock_render(l, &text, &len, NULL), 0);
        assert_int_equal(lock_parse(text, len, ret, NULL), 0);
        assert_int_equal(lock_render(*ret, &again, &len2, NULL), 0);
        assert_int_equal(len, len2);
        assert_memory_equal(text, again, len);
        *ret_text = steal_ptr(&text);
}

/* The bad list and held read back; a lock without them renders without them, as it always did. */
static void bad_and_held_round_trip(void **state)
{
        _cleanup_(lock_freep) struct bp_lock *l = sample(), *back = NULL, *plain = NULL;
        _cleanup_free_ char *text = NULL, *plain_text = NULL;
        const struct bp_lock_entry *e;
        char digest[REF_DIGEST_MAX];

        (void) state;
        render_parse_render(l, &plain, &plain_text);
        assert_null(strstr(plain_text, "\"bad\""));
        assert_null(strstr(plain_text, "\"held\""));
        assert_int_equal(lock_find(plain, "vaultwarden")->n_bad, 0);
        assert_false(lock_find(plain, "vaultwarden")->has_held);

        assert_int_equal(lock_add_bad(l, "vaultwarden", D_BAD, NULL), 0);
        assert_int_equal(
                lock_set_held(l, "vaultwarden", D_64, BP_HOLD_TOO_YOUNG, "min_age: image created 1h 0m ago, needs 3d 0h",
                              NULL),
                0);
        render_parse_render(l, &back, &text);
        e = lock_find(back, "vaultwarden");
        assert_int_equal(e->n_bad, 1);
        assert_string_equal(e->bad[0], D_BAD);
        assert_true(lock_is_bad(e, D_BAD));
        assert_false(lock_is_bad(e, D_V7));
        assert_true(e->has_held);
        assert_string_equal(e->held_digest, D_64);
        assert_string_equal(e->held_reason, "min_age: image created 1h 0m ago, needs 3d 0h");
        assert_int_equal(e->held_code, BP_HOLD_TOO_YOUNG);
        assert_non_null(strstr(text, "\"code\": \"too_young\""));

        /* A new pin keeps both; clearing held forgets it. */
        {
                struct bp_resolution r = resolution(D_V6, "linux/arm/v6");
                assert_int_equal(lock_set(l, "vaultwarden", "docker.io/vaultwarden/server", "^1.30", "1.30.6",
                                          "linux/arm/v6", &r, NULL),
                                 0);
                resolution_done(&r);
        }
        assert_true(lock_is_bad(lock_find(l, "vaultwarden"), D_BAD));
        assert_true(lock_find(l, "vaultwarden")->has_held);
        lock_clear_held(l, "vaultwarden");
        assert_false(lock_find(l, "vaultwarden")->has_held);

        /* At most LOCK_BAD_MAX, newest last, the oldest going first; one added again moves to the end. */
        for (int i = 0; i < LOCK_BAD_MAX + 3; i++) {
                snprintf(digest, sizeof(digest), "sha256:%064x", i);
                assert_int_equal(lock_add_bad(l, "vaultwarden", digest, NULL), 0);
        }
        e = lock_find(l, "vaultwarden");
        assert_int_equal(e->n_bad, LOCK_BAD_MAX);
        snprintf(digest, sizeof(digest), "sha256:%064x", 3);
        assert_string_equal(e->bad[0], digest);
        assert_false(lock_is_bad(e, D_BAD));
        assert_int_equal(lock_add_bad(l, "vaultwarden", digest, NULL), 0);
        assert_int_equal(e->n_bad, LOCK_BAD_MAX);
        assert_string_equal(e->bad[LOCK_BAD_MAX - 1], digest);
        assert_int_equal(lock_add_bad(l, "nope", D_BAD, NULL), -ENOENT);
        assert_int_equal(lock_add_bad(l, "vaultwarden", "sha256:short", NULL), -EINVAL);
}

/* What parse refuses in the new fields: more than LOCK_BAD_MAX, a non-digest, a held without its parts,
 * a reason with a NUL or a control byte (which would not read back or would reach a terminal). */
static void bad_and_held_refused(void **state)
{
        static const char *const bad[] = {
                "\"bad\": [\"sha256:1\"]",
                "\"bad\": \"" D_BAD "\"",
                "\"bad\": [1]",
                "\"held\": {\"digest\": \"" D_BAD "\"}",
                "\"held\": {\"digest\": \"x\", \"reason\": \"r\"}",
                "\"held\": {\"digest\": \"" D_BAD "\", \"reason\": \"a\\u0000b\"}",
                "\"held\": {\"digest\": \"" D_BAD "\", \"reason\": \"a\\nb\"}",
                "\"held\": [1]",
        };
        /* Inside the pin: what verified it. */
        static const char *const bad_pin[] = {
                "\"verified\": 1",
                "\"verified\": {\"key\": \"SHA256:x\", \"format\": \"bundle\", \"digest\": \"" D_BAD "\"}",
                "\"verified\": {\"key\": \"" FP "\", \"format\": \"pgp\", \"digest\": \"" D_BAD "\"}",
                "\"verified\": {\"key\": \"" FP "\", \"format\": \"bundle\"}",
                "\"verified\": {\"key\": \"" FP "\", \"format\": \"bundle\", \"digest\": \"sha256:1\"}",
                "\"unverified\": false",
                "\"unverified\": 1",
                "\"unverified\": true, \"verified\": {\"key\": \"" FP "\", \"format\": \"bundle\", "
                "\"digest\": \"" D_BAD "\"}",
        };
        char text[4096], many[2048];
        size_t o = 0;

        (void) state;
        {
                struct bp_lock *l = NULL;
                snprintf(text, sizeof(text),
                         "{\"schema\": 1, \"services\": {\"a\": {\"image\": \"docker.io/library/nginx\", "
                         "\"version\": \"1\", \"target\": \"linux/amd64\", \"platforms\": {}, \"pin\": "
                         "{\"tag\": \"1\", \"digest\": \"%s\", \"platform\": \"linux/amd64\"}, \"bad\": "
                         "[\"%s\"], \"held\": {\"digest\": \"%s\", \"reason\": \"rollout\"}}}}",
                         D_V7, D_BAD, D_BAD);
                assert_int_equal(lock_parse(text, strlen(text), &l, NULL), 0); /* the base the others spoil */
                assert_int_equal(lock_find(l, "a")->held_code, BP_HOLD_NONE);
                lock_free(l);
        }
        {
                /* A hold code a newer boardpin wrote reads as none, as an unknown member would. */
                struct bp_lock *l = NULL;
                snprintf(text, sizeof(text),
                         "{\"schema\": 1, \"services\": {\"a\": {\"image\": \"docker.io/library/nginx\", "
                         "\"version\": \"1\", \"target\": \"linux/amd64\", \"platforms\": {}, \"pin\": "
                         "{\"tag\": \"1\", \"digest\": \"%s\", \"platform\": \"linux/amd64\"}, \"held\": "
                         "{\"digest\": \"%s\", \"reason\": \"r\", \"code\": \"moon_phase\"}}}}",
                         D_V7, D_BAD);
                assert_int_equal(lock_parse(text, strlen(text), &l, NULL), 0);
                assert_true(lock_find(l, "a")->has_held);
                assert_int_equal(lock_find(l, "a")->held_code, BP_HOLD_NONE);
                lock_free(l);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct bp_lock *l = NULL;
                snprintf(text, sizeof(text),
                         "{\"schema\": 1, \"services\": {\"a\": {\"image\": \"docker.io/library/nginx\", "
                         "\"version\": \"1\", \"target\": \"linux/amd64\", \"platforms\": {}, \"pin\": "
                         "{\"tag\": \"1\", \"digest\": \"%s\", \"platform\": \"linux/amd64\"}, %s}}}",
                         D_V7, bad[i]);
                assert_int_equal(lock_parse(text, strlen(text), &l, NULL), -EBADMSG);
                assert_null(l);
        }
        for (size_t i = 0; i < sizeof(bad_pin) / sizeof(bad_pin[0]); i++) {
                struct bp_lock *l = NULL;
                snprintf(text, sizeof(text),
                         "{\"schema\": 1, \"services\": {\"a\": {\"image\": \"docker.io/library/nginx\", "
                         "\"version\": \"1\", \"target\": \"linux/amd64\", \"platforms\": {}, \"pin\": "
                         "{\"tag\": \"1\", \"digest\": \"%s\", \"platform\": \"linux/amd64\", %s}}}}",
                         D_V7, bad_pin[i]);
                if (lock_parse(text, strlen(text), &l, NULL) != -EBADMSG)
                        fail_msg("accepted: %s", bad_pin[i]);
                assert_null(l);
        }
        o += (size_t) snprintf(many + o, sizeof(many) - o, "\"bad\": [");
        for (int i = 0; i <= LOCK_BAD_MAX; i++)
                o += (size_t) snprintf(many + o, sizeof(many) - o, "%s\"sha256:%064x\"", i ? ", " : "", i);
        snprintf(many + o, sizeof(many) - o, "]");
        {
                struct bp_lock *l = NULL;
                snprintf(text, sizeof(text),
                         "{\"schema\": 1, \"services\": {\"a\": {\"image\": \"docker.io/library/nginx\", "
                         "\"version\": \"1\", \"target\": \"linux/amd64\", \"platforms\": {}, \"pin\": "
                         "{\"tag\": \"1\", \"digest\": \"%s\", \"platform\": \"linux/amd64\"}, %s}}}",
                         D_V7, many);
                assert_int_equal(lock_parse(text, strlen(text), &l, NULL), -EBADMSG);
        }
}

/* The last upgrade and check read back in the one form written; a lock an older boardpin wrote (without
 * them) renders byte for byte as before; a rollback keeps them, and what it rolls back to has none. */
static void upgrade_and_check(void **state)
{
        _cleanup_(lock_freep) struct bp_lock *l = sample(), *plain = NULL, *back = NULL, *edited_lock = NULL;
        _cleanup_(lock_entry_freep) struct bp_lock_entry *before = NULL;
        _cleanup_free_ char *plain_text = NULL, *text = NULL;
        static const char *const refused[] = {
                "\"upgraded_at\": \"2026-12-07T09:30:00+00:00\"", "\"upgraded_at\": \"2026-12-07T09:30:00.5Z\"",
                "\"upgraded_at\": \"yesterday\"",              "\"upgraded_at\": 1796549400",
                "\"check\": {\"at\": \"2026-12-07T09:30:00Z\"}",  "\"check\": {\"passed\": true}",
                "\"check\": {\"at\": \"2026-12-07T09:30:00Z\", \"passed\": 1}", "\"check\": true",
        };
        const struct bp_lock_entry *e;
        const int64_t t = INT64_C(1796635800); /* 2026-12-07T09:30:00Z */

        (void) state;
        render_parse_render(l, &plain, &plain_text);
        assert_null(strstr(plain_text, "upgraded_at"));
        assert_null(strstr(plain_text, "\"check\""));
        assert_int_equal(lock_find(plain, "vaultwarden")->upgraded_s, 0);
        assert_int_equal(lock_find(plain, "vaultwarden")->checked_s, 0);

        assert_int_equal(lock_note_upgraded(l, "vaultwarden", t), 0);
        assert_int_equal(lock_note_check(l, "vaultwarden", false, t + 60), 0);
        assert_int_equal(lock_note_upgraded(l, "nope", t), -ENOENT);
        assert_int_equal(lock_note_check(l, "vaultwarden", true, 0), -EINVAL);
        render_parse_render(l, &back, &text);
        assert_non_null(strstr(text, "\"upgraded_at\": \"2026-12-07T09:30:00Z\""));
        assert_non_null(strstr(text, "\"at\": \"2026-12-07T09:31:00Z\""));
        assert_non_null(strstr(text, "\"passed\": false"));
        e = lock_find(back, "vaultwarden");
        assert_int_equal(e->upgraded_s, t);
        assert_int_equal(e->checked_s, t + 60);
        assert_false(e->check_passed);

        /* A switch and its rollback: the notes stay with the service, the copy to go back to has none. */
        assert_int_equal(lock_txn_begin(l, "vaultwarden", D_V6, LOCK_STEP_PULLING, NULL), 0);
        assert_int_equal(lock_find(l, "vaultwarden")->txn.before->upgraded_s, 0);
        assert_int_equal(lock_entry_copy(lock_find(l, "vaultwarden"), &before), 0);
        assert_int_equal(lock_note_check(l, "vaultwarden", true, t + 120), 0);
        assert_int_equal(lock_rollback(l, before, NULL), 0);
        lock_txn_end(l, "vaultwarden");
        e = lock_find(l, "vaultwarden");
        assert_int_equal(e->upgraded_s, t);
        assert_int_equal(e->checked_s, t + 120);
        assert_true(e->check_passed);

        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
                _cleanup_free_ char *edited = NULL;
                const char *at = strstr(plain_text, "\"image\"");
                struct bp_err err = { 0 };

                assert_non_null(at);
                assert_true(asprintf(&edited, "%.*s%s, %s", (int) (at - plain_text), plain_text, refused[i], at) > 0);
                if (lock_parse(edited, strlen(edited), &edited_lock, &err) != -EBADMSG)
                        fail_msg("accepted: %s", refused[i]);
                assert_true(err.msg[0] != '\0');
        }
}

/* What verified a pin reads back, in the pin; a new digest forgets it, previous keeps its own; a lock
 * written without verify = renders byte for byte as before. */
static void verified_round_trip(void **state)
{
        static const char older[] =
                "{\"schema\": 1, \"services\": {\"a\": {\"image\": \"docker.io/library/nginx\", "
                "\"version\": \"1\", \"target\": \"linux/amd64\", \"platforms\": {}, \"pin\": "
                "{\"tag\": \"1\", \"digest\": \"" D_V7 "\", \"platform\": \"linux/amd64\"}}}}";
        _cleanup_(lock_freep) struct bp_lock *l = sample(), *back = NULL, *old = NULL, *old2 = NULL;
        _cleanup_free_ char *text = NULL, *old_text = NULL, *old_text2 = NULL;
        struct bp_lock_sig sig = { .state = LOCK_SIG_VERIFIED, .key = FP, .format = "bundle", .digest = D_IX };
        struct bp_lock_sig bad = sig;
        const struct bp_lock_entry *e;

        (void) state;
        assert_int_equal(lock_parse(older, strlen(older), &old, NULL), 0);
        assert_int_equal(lock_find(old, "a")->pin.sig.state, LOCK_SIG_NONE);
        render_parse_render(old, &old2, &old_text);
        assert_null(strstr(old_text, "verified"));
        assert_int_equal(lock_render(old2, &old_text2, &(size_t) { 0 }, NULL), 0);
        assert_string_equal(old_text, old_text2);

        assert_int_equal(lock_set_sig(l, "vaultwarden", &sig, NULL), 0);
        render_parse_render(l, &back, &text);
        assert_non_null(strstr(text, "\"verified\""));
        assert_non_null(strstr(text, "\"" FP "\""));
        e = lock_find(back, "vaultwarden");
        assert_int_equal(e->pin.sig.state, LOCK_SIG_VERIFIED);
        assert_string_equal(e->pin.sig.key, FP);
        assert_string_equal(e->pin.sig.format, "bundle");
        assert_string_equal(e->pin.sig.digest, D_IX);

        /* Another child of the same signed index (an SD card moved) keeps it; a new digest does not. */
        assert_int_equal(lock_repin(l, "vaultwarden", &lock_find(l, "vaultwarden")->table[0], "linux/arm/v6", NULL),
                         0);
        assert_int_equal(lock_find(l, "vaultwarden")->pin.sig.state, LOCK_SIG_VERIFIED);
        {
                struct bp_resolution r = resolution(D_64, "linux/arm64");
                strcpy(r.index_digest, D_BAD);
                assert_int_equal(lock_set(l, "vaultwarden", "docker.io/vaultwarden/server", "^1.30", "1.30.6",
                                          "linux/arm64", &r, NULL),
                                 0);
                resolution_done(&r);
        }
        e = lock_find(l, "vaultwarden");
        assert_int_equal(e->pin.sig.state, LOCK_SIG_NONE);
        assert_int_equal(e->previous.sig.state, LOCK_SIG_VERIFIED);

        sig = (struct bp_lock_sig) { .state = LOCK_SIG_UNVERIFIED };
        assert_int_equal(lock_set_sig(l, "vaultwarden", &sig, NULL), 0);
        lock_free(back);
        free(text);
        text = NULL;
        render_parse_render(l, &back, &text);
        assert_non_null(strstr(text, "\"unverified\""));
        assert_int_equal(lock_find(back, "vaultwarden")->pin.sig.state, LOCK_SIG_UNVERIFIED);

        strcpy(bad.key, "SHA256:short");
        assert_int_equal(lock_set_sig(l, "vaultwarden", &bad, NULL), -EINVAL);
        bad = (struct bp_lock_sig) { .state = LOCK_SIG_VERIFIED, .key = FP, .format = "gpg", .digest = D_IX };
        assert_int_equal(lock_set_sig(l, "vaultwarden", &bad, NULL), -EINVAL);
        assert_int_equal(lock_set_sig(l, "nope", &sig, NULL), -ENOENT);
}

/* Rolling back restores the entry as it was before the switch (index, table, pin, previous), keeps the
 * bad list as it is now, and renders the env file byte for byte as before. */
static void rollback(void **state)
{
        _cleanup_(lock_freep) struct bp_lock *l = sample();
        _cleanup_(lock_entry_freep) struct bp_lock_entry *before = NULL;
        _cleanup_free_ char *env_before = NULL, *env_after = NULL;
        struct bp_resolution r = resolution(D_V6, "linux/arm/v6");
        const struct bp_lock_entry *e;
        size_t len, len2;

        (void) state;
        assert_int_equal(envfile_render_service(lock_find(l, "vaultwarden"), "/l", &env_before, &len, NULL), 0);
        assert_int_equal(lock_entry_copy(lock_find(l, "vaultwarden"), &before), 0);
        strcpy(r.index_digest, D_64);
        assert_int_equal(lock_set(l, "vaultwarden", "docker.io/vaultwarden/server", "^1.30", "1.30.6",
                                  "linux/arm/v7", &r, NULL),
                         0);
        resolution_done(&r);
        assert_int_equal(lock_add_bad(l, "vaultwarden", D_V6, NULL), 0);
        assert_int_equal(lock_rollback(l, before, NULL), 0);
        e = lock_find(l, "vaultwarden");
        assert_string_equal(e->pin.digest, D_V7);
        assert_string_equal(e->pin.tag, "1.30.5");
        assert_string_equal(e->index_digest, D_IX);
        assert_false(e->has_previous);
        assert_true(lock_is_bad(e, D_V6));
        assert_int_equal(envfile_render_service(e, "/l", &env_after, &len2, NULL), 0);
        assert_int_equal(len, len2);
        assert_memory_equal(env_before, env_after, len);
        assert_int_equal(lock_rollback(l, NULL, NULL), -ENOENT);
}

/* An open switch reads back whole; closed, the lock renders byte for byte as before it opened. */
static void txn_round_trip(void **state)
{
        _cleanup_(lock_freep) struct bp_lock *l = sample(), *back = NULL;
        _cleanup_free_ char *rest = NULL, *open = NULL, *closed = NULL;
        struct bp_resolution r = resolution(D_V6, "linux/arm/v6");
        const struct bp_lock_entry *e;
        size_t len;

        (void) state;
        assert_int_equal(lock_render(l, &rest, &len, NULL), 0);
        assert_null(strstr(rest, "txn"));
        assert_int_equal(lock_txn_begin(l, "vaultwarden", D_V6, LOCK_STEP_PULLING, NULL), 0);
        assert_int_equal(lock_txn_begin(l, "vaultwarden", D_V6, LOCK_STEP_PULLING, NULL), -EBUSY);
        assert_int_equal(lock_set(l, "vaultwarden", "docker.io/vaultwarden/server", "^1.30", "1.30.6", "linux/arm/v6",
                                  &r, NULL), 0);
        resolution_done(&r);
        assert_int_equal(lock_txn_step(l, "vaultwarden", LOCK_STEP_CHECKING), 0);
        assert_int_equal(lock_count_interrupted(l, "vaultwarden", D_V6), 1);
        render_parse_render(l, &back, &open);
        assert_non_null(strstr(open, "\"step\": \"checking\""));
        e = lock_find(back, "vaultwarden");
        assert_int_equal(e->txn.step, LOCK_STEP_CHECKING);
        assert_string_equal(e->txn.digest, D_V6);
        assert_non_null(e->txn.before);
        assert_string_equal(e->txn.before->pin.digest, D_V7);
        assert_string_equal(e->pin.digest, D_V6);
        assert_int_equal(e->interrupted, 1);
        /* undone: the pin before, and, once the count goes, the lock at rest as it was */
        assert_int_equal(lock_txn_undo(back, "vaultwarden", NULL), 0);
        lock_clear_interrupted(back, "vaultwarden");
        assert_int_equal(lock_render(back, &closed, &len, NULL), 0);
        assert_string_equal(closed, rest);
}

/* A first pin undone leaves no entry; its bad list is kept for the service and taken back by its next pin. */
static void txn_first_pin(void **state)
{
        _cleanup_(lock_freep) struct bp_lock *l = lock_new(), *back = NULL;
        _cleanup_free_ char *text = NULL;
        struct bp_resolution r = resolution(D_V7, "linux/arm/v7");
        size_t n;

        (void) state;
        assert_int_equal(lock_set(l, "web", "docker.io/vaultwarden/server", "^1.30", "1.30.5", "linux/arm/v7", &r,
                                  NULL), 0);
        assert_int_equal(lock_txn_begin_first(l, "web", D_V7, LOCK_STEP_SWITCHING, NULL), 0);
        assert_int_equal(lock_add_bad(l, "web", D_V7, NULL), 0);
        assert_int_equal(lock_txn_undo(l, "web", NULL), 0);
        assert_null(lock_find(l, "web"));
        assert_true(lock_service_bad(l, "web", D_V7));
        assert_false(lock_service_bad(l, "web", D_V6));
        render_parse_render(l, &back, &text);
        assert_non_null(strstr(text, "\"unpinned\""));
        assert_true(lock_service_bad(back, "web", D_V7));
        assert_non_null(lock_unpinned_bad(back, "web", &n));
        assert_int_equal(n, 1);
        /* pinned again (resolve --allow-bad): the list moves into the entry */
        assert_int_equal(lock_set(back, "web", "docker.io/vaultwarden/server", "^1.30", "1.30.5", "linux/arm/v7", &r,
                                  NULL), 0);
        resolution_done(&r);
        assert_true(lock_is_bad(lock_find(back, "web"), D_V7));
        assert_null(lock_unpinned_bad(back, "web", &n));
        lock_remove_bad(back, "web", D_V7);
        assert_false(lock_service_bad(back, "web", D_V7));
}

/* A first pin's pull is recorded before it starts, read back from "unpinned_pulled", taken into the entry
 * once pinned, and back when the pin is undone; a failed pull is forgotten. */
static void first_pin_pulled(void **state)
{
        _cleanup_(lock_freep) struct bp_lock *l = lock_new(), *back = NULL, *again = NULL;
        _cleanup_free_ char *text = NULL, *text2 = NULL, *empty = NULL;
        struct bp_resolution r = resolution(D_V7, "linux/arm/v7");
        const struct bp_lock_entry *e;
        size_t n, len;

        (void) state;
        assert_int_equal(lock_render(l, &empty, &len, NULL), 0);
        assert_int_equal(lock_unpinned_pull(l, "web", D_V7, true, NULL), 0);
        assert_int_equal(lock_unpinned_pull(l, "web", "sha256:short", true, NULL), -EINVAL);
        render_parse_render(l, &back, &text);
        assert_non_null(strstr(text, "\"unpinned_pulled\""));
        assert_null(strstr(text, "\"unpinned\""));    /* no bad list: an older boardpin reads this lock */
        assert_non_null(lock_unpinned_pulled(back, "web", &n));
        assert_int_equal(n, 1);
        assert_int_equal(lock_unpinned_bad(back, "web", &n) != NULL && n > 0, false);
        /* pinned: the record is the entry's */
        assert_int_equal(lock_set(back, "web", "docker.io/vaultwarden/server", "^1.30", "1.30.5", "linux/arm/v7", &r,
                                  NULL), 0);
        resolution_done(&r);
        assert_int_equal(lock_unpinned_pull(back, "web", D_V7, true, NULL), -EINVAL);
        e = lock_find(back, "web");
        assert_int_equal(e->n_pulled, 1);
        assert_string_equal(e->pulled[0], D_V7);
        assert_null(lock_unpinned_pulled(back, "web", &n));
        /* that first pin undone: no entry, the record stays for the prune */
        assert_int_equal(lock_txn_begin_first(back, "web", D_V7, LOCK_STEP_SWITCHING, NULL), 0);
        assert_int_equal(lock_txn_undo(back, "web", NULL), 0);
        assert_null(lock_find(back, "web"));
        render_parse_render(back, &again, &text2);
        assert_non_null(lock_unpinned_pulled(again, "web", &n));
        assert_int_equal(n, 1);
        /* a pull the runtime says failed stored nothing: forgotten, and the lock at rest as it was */
        assert_int_equal(lock_unpinned_pull(again, "web", D_V7, false, NULL), 0);
        assert_null(lock_unpinned_pulled(again, "web", &n));
        free(text2);
        assert_int_equal(lock_render(again, &text2, &len, NULL), 0);
        assert_string_equal(text2, empty);
}

/* A transaction that would not read back is refused on reading: a bad step, a before of another service. */
static void txn_refused(void **state)
{
        static const char *const bad[] = {
                "\"txn\": {\"step\": \"dancing\", \"digest\": \"" D_V6 "\", \"before\": null}",
                "\"txn\": {\"step\": \"checking\", \"digest\": \"sha256:short\", \"before\": null}",
                "\"txn\": {\"step\": \"checking\", \"digest\": \"" D_V6 "\"}",
                "\"interrupted\": {\"digest\": \"" D_V6 "\", \"count\": 3}",
                "\"pulled\": [\"sha256:short\"]",
        };
        _cleanup_(lock_freep) struct bp_lock *l = sample();
        _cleanup_free_ char *text = NULL;
        size_t len;

        (void) state;
        assert_int_equal(lock_render(l, &text, &len, NULL), 0);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                _cleanup_(lock_freep) struct bp_lock *back = NULL;
                _cleanup_free_ char *edited = NULL;
                char *at = strstr(text, "\"previous\"");
                struct bp_err err = { 0 };

                assert_non_null(at);
                assert_true(asprintf(&edited, "%.*s%s, %s", (int) (at - text), text, bad[i], at) > 0);
                assert_int_equal(lock_parse(edited, strlen(edited), &back, &err), -EBADMSG);
                assert_true(err.msg[0] != '\0');
        }
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
                cmocka_unit_test(empty_lock),
                cmocka_unit_test(wasi_entry_round_trip),
                cmocka_unit_test(set_refuses_what_parse_would),
                cmocka_unit_test(repin_for_another_board),
                cmocka_unit_test(timestamps),
                cmocka_unit_test(strict_json),
                cmocka_unit_test(messages_clean),
                cmocka_unit_test(env_files),
                cmocka_unit_test(bad_and_held_round_trip),
                cmocka_unit_test(bad_and_held_refused),
                cmocka_unit_test(verified_round_trip),
                cmocka_unit_test(rollback),
                cmocka_unit_test(upgrade_and_check),
                cmocka_unit_test(txn_round_trip),
                cmocka_unit_test(txn_first_pin),
                cmocka_unit_test(first_pin_pulled),
                cmocka_unit_test(txn_refused),
                cmocka_unit_test_setup_teardown(atomic_write, scratch_setup, scratch_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
