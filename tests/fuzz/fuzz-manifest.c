/* tests/fuzz/fuzz-manifest.c: libFuzzer target for manifest_parse() (served with each media type and with
 * none), manifest_select() for the boards boardpin serves, and manifest_config_platform(). What the parser
 * accepts must also be recordable: the platforms an index offers go into a lock that must read back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "lock.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const types[] = { NULL, MT_OCI_INDEX, MT_DOCKER_LIST, MT_OCI_MANIFEST, MT_DOCKER_MANIFEST };
static const char *const boards[] = { "linux/arm/v6", "linux/arm/v7", "linux/arm64", "linux/amd64", "linux/386" };

/* The offered platforms, first entry wins, as a lock records them: they must round-trip. */
static void record(const struct bp_manifest *m)
{
        _cleanup_(lock_freep) struct bp_lock *l = lock_new(), *back = NULL;
        _cleanup_free_ char *text = NULL;
        struct bp_resolution r = { 0 };
        char target[RULES_NAME_MAX];
        size_t len;

        r.table = calloc(m->n_entries + 1, sizeof(*r.table));
        if (!l || !r.table)
                abort();
        for (size_t i = 0; i < m->n_entries; i++) {
                const struct bp_index_entry *e = &m->entries[i];
                bool dup = false;

                for (size_t k = 0; k < r.n_table; k++)
                        dup = dup || rules_equal(&r.table[k].platform, &e->platform);
                if (!e->has_platform || e->attestation || e->nested_index || dup)
                        continue;
                r.table[r.n_table].platform = e->platform;
                memcpy(r.table[r.n_table++].digest, e->digest, REF_DIGEST_MAX);
        }
        if (r.n_table > 0) {
                memcpy(r.digest, r.table[0].digest, REF_DIGEST_MAX);
                r.platform = r.table[0].platform;
                (void) rules_format(&r.platform, target);
                if (lock_set(l, "svc", "docker.io/library/x", "1", "1", target, &r, NULL) < 0 ||
                    lock_render(l, &text, &len, NULL) < 0 || lock_parse(text, len, &back, NULL) < 0)
                        abort();
        }
        resolution_done(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct bp_oci p;
        bool has_variant;

        for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
                _cleanup_(manifest_freep) struct bp_manifest *m = NULL;

                if (manifest_parse((const char *) data, size, types[t], &m, NULL) < 0)
                        continue;
                if (m->kind != BP_MANIFEST_INDEX)
                        continue;
                for (size_t b = 0; b < sizeof(boards) / sizeof(boards[0]); b++) {
                        struct bp_oci target;
                        int i;

                        if (rules_parse(boards[b], &target, NULL) < 0)
                                abort();
                        i = manifest_select(m, &target);
                        if (i >= 0 && ((size_t) i >= m->n_entries || !m->entries[i].has_platform ||
                                       m->entries[i].attestation || !ref_digest_ok(m->entries[i].digest)))
                                abort();
                }
                record(m);
        }
        (void) manifest_config_platform((const char *) data, size, &p, &has_variant, NULL);
        return 0;
}
