/* tests/unit/test-manifest.c: index / manifest list / image manifest / config parsing and selection, on a
 * real manifest list (golang:alpine, tests/fixtures/manifests) and on hostile documents. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cleanup.h"
#include "helpers.h"
#include "manifest.h"

static struct bp_manifest *parse_ok(const char *body, const char *type)
{
        struct bp_manifest *m = NULL;
        struct bp_err err = { 0 };

        if (manifest_parse(body, strlen(body), type, &m, &err) < 0)
                fail_msg("%s", err.msg);
        return m;
}

static int parse_err(const char *body, size_t len, const char *want)
{
        struct bp_manifest *m = NULL;
        struct bp_err err = { 0 };
        int r = manifest_parse(body, len, NULL, &m, &err);

        assert_null(m);
        if (!strstr(err.msg, want))
                fail_msg("message '%s' lacks '%s'", err.msg, want);
        return r;
}

/* For literals: sizeof counts an embedded NUL too. */
#define PARSE_ERR(lit, want) parse_err(lit, sizeof(lit) - 1, want)

static const char *select_for(const struct bp_manifest *m, const char *platform)
{
        struct bp_oci t;
        int i;

        assert_int_equal(rules_parse(platform, &t, NULL), 0);
        i = manifest_select(m, &t);
        return i < 0 ? "none" : m->entries[i].digest;
}

static void golang_alpine_list(void **state)
{
        _cleanup_free_ char *body = slurp(FIXTURES "/manifests/golang-alpine.list.json", NULL);
        _cleanup_(manifest_freep) struct bp_manifest *m = parse_ok(body, MT_DOCKER_LIST);

        (void) state;
        assert_int_equal(m->kind, BP_MANIFEST_INDEX);
        assert_int_equal(m->n_entries, 6);
        assert_string_equal(select_for(m, "linux/arm/v7"),
                            "sha256:2945c46e26c9787da884b4065d1de64cf93a3b81ead1b949843dda1fcd458bae");
        /* arm64 entries say variant "v8": normalized away, so arm64 matches */
        assert_string_equal(select_for(m, "linux/arm64"),
                            "sha256:87fff60114fd3402d0c1a7ddf1eea1ded658f171749b57dc782fd33ee2d47b2d");
        /* no arm/v6 entry: a Pi Zero gets nothing, never the v7 image */
        assert_string_equal(select_for(m, "linux/arm/v6"), "none");
        assert_string_equal(select_for(m, "linux/386"),
                            "sha256:607b43f1d91144f82a9433764e85eb3ccf83f73569552a49bc9788c31b4338de");
        /* without a served Content-Type the document's mediaType decides */
        manifest_free(steal_ptr(&m));
        m = parse_ok(body, NULL);
        assert_int_equal(m->kind, BP_MANIFEST_INDEX);
}

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static void attestations_and_duplicates(void **state)
{
        const char *doc = "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":["
                          "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":1,"
                          "\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}},"
                          "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":1,"
                          "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}},"
                          "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D3 "\",\"size\":1,"
                          "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\"}},"
                          "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":1,"
                          "\"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\"},"
                          "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}}]}";
        _cleanup_(manifest_freep) struct bp_manifest *m = parse_ok(doc, NULL);

        (void) state;
        assert_true(m->entries[0].attestation);
        assert_true(m->entries[3].attestation);
        assert_string_equal(select_for(m, "linux/arm/v7"), D2);  /* first of two arm/v7 entries */
        assert_string_equal(select_for(m, "linux/arm64"), D2);   /* arm64 falls back to arm/v7 */
        assert_string_equal(select_for(m, "linux/arm/v6"), "none"); /* the v6 one is an attestation */
        assert_string_equal(select_for(m, "linux/amd64"), "none");
}

static void image_and_config(void **state)
{
        const char *doc = "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST "\",\"config\":"
                          "{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"size\":1469,"
                          "\"digest\":\"" D1 "\"},\"layers\":[]}";
        _cleanup_(manifest_freep) struct bp_manifest *m = parse_ok(doc, MT_DOCKER_MANIFEST);
        const char *config = "{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v6\",\"config\":{}}";
        struct bp_oci p;
        bool has_variant;
        char name[RULES_NAME_MAX];

        (void) state;
        assert_int_equal(m->kind, BP_MANIFEST_IMAGE);
        assert_string_equal(m->config_digest, D1);
        assert_int_equal(m->config_size, 1469);
        assert_int_equal(manifest_config_platform(config, strlen(config), &p, &has_variant, NULL), 0);
        assert_string_equal(rules_format(&p, name), "linux/arm/v6");
        assert_true(has_variant);
        config = "{\"architecture\":\"aarch64\",\"os\":\"linux\"}";
        assert_int_equal(manifest_config_platform(config, strlen(config), &p, &has_variant, NULL), 0);
        assert_string_equal(rules_format(&p, name), "linux/arm64");
        assert_false(has_variant);
}

static void hostile(void **state)
{
        char *deep = malloc(200001);

        (void) state;
        assert_non_null(deep);
        memset(deep, '[', 100000);
        memset(deep + 100000, ']', 100000);
        deep[0] = '{';
        deep[200000] = '\0';
        parse_err(deep, 200000, "malformed JSON");
        free(deep);
        PARSE_ERR("", "malformed JSON");
        PARSE_ERR("{\"schemaVersion\":2,\"manifests\":", "truncated");
        PARSE_ERR("[1,2]", "not an object");
        PARSE_ERR("{\"a\":1} trailing", "malformed JSON");
        PARSE_ERR("{\"a\":\"x\0y\"}", "NUL byte");
        assert_int_equal(PARSE_ERR("{\"schemaVersion\":1,\"fsLayers\":[]}", "schema 1"), -ENOTSUP);
        PARSE_ERR("{\"schemaVersion\":\"2\",\"manifests\":{}}", "'manifests' is not an array");
        PARSE_ERR("{\"manifests\":[{\"digest\":5}]}", "'digest' is not a string");
        PARSE_ERR("{\"manifests\":[{\"digest\":\"sha256:ABC\"}]}", "missing or bad digest");
        PARSE_ERR("{\"manifests\":[{\"digest\":\"" D1 "\",\"platform\":{\"os\":\"linux\"}}]}",
                  "platform without os or architecture");
        PARSE_ERR("{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"config\":{\"digest\":\"" D1 "\",\"size\":1e400}}",
                  "not an integer");
        PARSE_ERR("{\"mediaType\":\"text/html\"}", "unknown manifest media type");
}

static void too_many_entries(void **state)
{
        size_t n = MANIFEST_ENTRIES_MAX + 1, cap = n * 120 + 64, o = 0;
        char *doc = malloc(cap);

        (void) state;
        assert_non_null(doc);
        o += (size_t) snprintf(doc + o, cap - o, "{\"manifests\":[");
        for (size_t i = 0; i < n; i++)
                o += (size_t) snprintf(doc + o, cap - o, "%s{\"digest\":\"" D1 "\"}", i ? "," : "");
        o += (size_t) snprintf(doc + o, cap - o, "]}");
        parse_err(doc, o, "more than");
        free(doc);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(golang_alpine_list), cmocka_unit_test(attestations_and_duplicates),
                cmocka_unit_test(image_and_config),   cmocka_unit_test(hostile),
                cmocka_unit_test(too_many_entries),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
