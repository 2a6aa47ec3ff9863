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

/* The compressed size of an image is its layers' sizes summed; one layer without a usable size makes it
 * unknown (0), never a part, and never refuses the manifest. */
static void layers_size(void **state)
{
#define LAYER(size) "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" D1 "\"," size "}"
        static const struct {
                const char *layers;
                uint64_t want;
        } cases[] = {
                { "[]", 0 },
                { "[" LAYER("\"size\":1000") "]", 1000 },
                { "[" LAYER("\"size\":1000") "," LAYER("\"size\":3221225472") "]", 3221226472ULL },
                { "[" LAYER("\"size\":1000") "," LAYER("\"size\":-1") "]", 0 },
                { "[" LAYER("\"size\":1000") "," LAYER("\"size\":\"12\"") "]", 0 },
                { "[" LAYER("\"size\":1000") "," LAYER("\"x\":1") "]", 0 },
                { "[" LAYER("\"size\":1099511627777") "]", 0 },
                { "{}", 0 },
        };
        char doc[1024];

        (void) state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct bp_manifest *m = NULL;

                (void) snprintf(doc, sizeof(doc),
                                "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\",\"config\":{\"mediaType\":"
                                "\"application/vnd.oci.image.config.v1+json\",\"size\":2,\"digest\":\"" D1 "\"},"
                                "\"layers\":%s}",
                                cases[i].layers);
                assert_int_equal(manifest_parse(doc, strlen(doc), MT_OCI_MANIFEST, &m, NULL), 0);
                if (m->layers_size != cases[i].want)
                        fail_msg("layers %s: %llu, want %llu", cases[i].layers, (unsigned long long) m->layers_size,
                                 (unsigned long long) cases[i].want);
                manifest_free(m);
        }
#undef LAYER
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
        PARSE_ERR("{\"a\":\"x\0y\"}", "NUL character");
        assert_int_equal(PARSE_ERR("{\"schemaVersion\":1,\"fsLayers\":[]}", "schema 1"), -ENOTSUP);
        PARSE_ERR("{\"schemaVersion\":\"2\",\"manifests\":{}}", "'manifests' is not an array");
        PARSE_ERR("{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"config\":{\"digest\":\"" D1 "\",\"size\":1e400}}",
                  "not an integer");
        PARSE_ERR("{\"mediaType\":\"text/html\"}", "unknown manifest media type");
}

/* Index entries no board here runs (another OS spelled in capitals, a variant no rule knows, a variant longer
 * than any field, malformed entries) are skipped, as containerd skips them: the board's entry is still
 * chosen. A malformed entry that would be the board's is refused, never passed over. */
static void odd_entries(void **state)
{
        static const char odd[] =
                "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":1,"
                "\"platform\":{\"os\":\"Windows\",\"architecture\":\"amd64\",\"os.version\":\"10.0.17763.5820\"}},"
                "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":1,"
                "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8+crypto\"}},"
                "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D3 "\",\"size\":1,"
                "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6-but-much-longer\"}},"
                "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"sha256:ABC\",\"size\":1,"
                "\"platform\":{\"os\":\"linux\",\"architecture\":\"s390x\"}},"
                "{\"digest\":5,\"platform\":{\"os\":\"linux\",\"architecture\":\"mips64\"}},"
                "{\"digest\":\"" D1 "\",\"platform\":{\"os\":\"linux\"}}, 7,";
        _cleanup_free_ char *list = slurp(FIXTURES "/manifests/golang-alpine.list.json", NULL);
        _cleanup_free_ char *doc = NULL;
        _cleanup_(manifest_freep) struct bp_manifest *m = NULL;
        struct bp_oci t;
        char *at;

        (void) state;
        at = strstr(list, "\"manifests\": [");
        assert_non_null(at);
        at += strlen("\"manifests\": [");
        assert_true(asprintf(&doc, "%.*s%s%s", (int) (at - list), list, odd, at) > 0);
        m = parse_ok(doc, MT_DOCKER_LIST);
        assert_int_equal(m->n_entries, 13);
        assert_true(m->entries[0].has_platform);       /* lower-cased, as containerd does */
        assert_string_equal(m->entries[0].platform.os, "windows");
        assert_false(m->entries[1].platform_known);
        assert_false(m->entries[2].platform_known);
        assert_non_null(strstr(m->entries[3].bad, "index entry 4: missing or bad digest"));
        assert_non_null(strstr(m->entries[4].bad, "'digest' is not a string"));
        assert_false(m->entries[5].platform_known);
        assert_non_null(strstr(m->entries[6].bad, "index entry 7 is not an object"));
        for (size_t i = 1; i < 7; i++)
                assert_false(m->entries[i].has_platform);
        assert_string_equal(select_for(m, "linux/arm/v7"),
                            "sha256:2945c46e26c9787da884b4065d1de64cf93a3b81ead1b949843dda1fcd458bae");
        assert_string_equal(select_for(m, "linux/arm64"),
                            "sha256:87fff60114fd3402d0c1a7ddf1eea1ded658f171749b57dc782fd33ee2d47b2d");
        assert_string_equal(select_for(m, "linux/amd64"),
                            "sha256:5e28ac423243b187f464d635bcfe1e909f4a31c6c8bce51d0db0a1062bec9e16");
        assert_string_equal(select_for(m, "windows/amd64"), D1);
        /* the list's own s390x entry comes after the malformed one, which would be chosen: refused */
        assert_int_equal(rules_parse("linux/s390x", &t, NULL), 0);
        assert_int_equal(manifest_select(m, &t), -EBADMSG);
        /* and the message can name it and say why */
        int bad = manifest_malformed_best(m, &t);
        assert_true(bad >= 0);
        assert_false(m->entries[bad].has_platform);
        assert_true(m->entries[bad].bad[0] != '\0');
        assert_int_equal(manifest_malformed_best(m, &m->entries[0].platform), -ENOENT);
}

/* A size no integer holds (1e400, or past int64), or one past what boardpin would read, makes the entry
 * unusable: it is refused when it is this board's, and names the field. */
static void entry_sizes(void **state)
{
        static const char *const sizes[] = { "1e400", "99999999999999999999", "-1", "4194305", "\"1\"" };
        (void) state;
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                _cleanup_(manifest_freep) struct bp_manifest *m = NULL;
                _cleanup_free_ char *doc = NULL;
                struct bp_oci t;

                assert_true(asprintf(&doc,
                                     "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":["
                                     "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":%s,"
                                     "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}",
                                     sizes[i]) > 0);
                m = parse_ok(doc, NULL);
                assert_non_null(strstr(m->entries[0].bad, "index entry 1: 'size'"));
                assert_int_equal(rules_parse("linux/amd64", &t, NULL), 0);
                assert_int_equal(manifest_select(m, &t), -EBADMSG);
        }
}

/* Registries speak JSON (RFC 8259): json-c's lenient extensions are refused. */
static void strict_json(void **state)
{
        (void) state;
        PARSE_ERR("{'mediaType':'" MT_OCI_INDEX "','manifests':[]}", "single quote");
        PARSE_ERR("{\"manifests\":[],}", "malformed JSON");
        PARSE_ERR("{\"manifests\":[{\"digest\":\"" D1 "\"},]}", "malformed JSON");
        PARSE_ERR("{/* c */\"manifests\":[]}", "malformed JSON");
        PARSE_ERR("{\"manifests\":[]} // c", "malformed JSON");
        PARSE_ERR("{\"manifests\":[]}{}", "malformed JSON");
}

/* The registry's words reach the terminal and the journal cleaned: no escape sequence, no forged line. */
static void messages_clean(void **state)
{
        const char *doc = "{\"mediaType\":\"\\u001b[31mx\\nboardpin: resolved\"}";
        const char *config = "{\"os\":\"linux\",\"architecture\":\"\\u001b[2J\\nboardpin: ok\"}";
        struct bp_manifest *m = NULL;
        struct bp_err err = { 0 };
        struct bp_oci p;
        bool has_variant;

        (void) state;
        assert_int_equal(manifest_parse(doc, strlen(doc), NULL, &m, &err), -EINVAL);
        assert_null(m);
        assert_null(strchr(err.msg, '\033'));
        assert_null(strchr(err.msg, '\n'));
        assert_non_null(strstr(err.msg, "unknown manifest media type '?[31mx boardpin: resolved'"));
        assert_int_equal(manifest_config_platform(config, strlen(config), &p, &has_variant, &err), -EINVAL);
        assert_null(strchr(err.msg, '\033'));
        assert_null(strchr(err.msg, '\n'));
        assert_non_null(strstr(err.msg, "image config: bad platform fields"));
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
                cmocka_unit_test(image_and_config),
                cmocka_unit_test(layers_size),   cmocka_unit_test(hostile),
                cmocka_unit_test(too_many_entries),   cmocka_unit_test(odd_entries), cmocka_unit_test(entry_sizes),
                cmocka_unit_test(strict_json),        cmocka_unit_test(messages_clean),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
