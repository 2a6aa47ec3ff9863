/* tests/fuzz/fuzz-lock.c: libFuzzer target for lock.json. Whatever lock_parse() accepts must render, the
 * rendering must parse, and render again to the same bytes: the lock always reads back what it wrote.
 * With BP_FUZZ_SEED=FILE set it writes FILE instead, a lock rendered from the real manifest lists in
 * tests/fixtures/manifests (given as the other arguments), and exits: run.sh seeds the corpus with it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "fsio.h"
#include "lock.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_(lock_freep) struct bp_lock *l = NULL, *back = NULL;
        _cleanup_free_ char *text = NULL, *again = NULL;
        size_t len, len2;

        if (lock_parse((const char *) data, size, &l, NULL) < 0)
                return 0;
        if (lock_render(l, &text, &len, NULL) < 0 || lock_parse(text, len, &back, NULL) < 0 ||
            lock_count(back) != lock_count(l))
                abort();
        if (lock_render(back, &again, &len2, NULL) < 0 || len != len2 || memcmp(text, again, len) != 0)
                abort();
        return 0;
}

/* One service per manifest list given, its platform table the list's entries, pinned twice so that a
 * previous pin is there too, with a bad list and a held digest as upgrade leaves them. */
static int write_seed(const char *out, int n, char **lists)
{
        _cleanup_(lock_freep) struct bp_lock *l = lock_new();
        _cleanup_free_ char *text = NULL;
        struct bp_err err = { 0 };
        size_t len;
        FILE *f;

        if (!l)
                return 1;
        for (int i = 0; i < n; i++) {
                _cleanup_(manifest_freep) struct bp_manifest *m = NULL;
                _cleanup_free_ char *body = NULL;
                struct bp_resolution r = { 0 };
                char service[16];
                size_t blen;

                if (fsio_read(lists[i], MANIFEST_MAX_BYTES, &body, &blen, &err) < 0 ||
                    manifest_parse(body, blen, NULL, &m, &err) < 0 || m->kind != BP_MANIFEST_INDEX) {
                        fprintf(stderr, "%s: %s\n", lists[i], err.msg[0] ? err.msg : "not an index");
                        return 1;
                }
                r.table = calloc(m->n_entries + 1, sizeof(*r.table));
                if (!r.table)
                        return 1;
                for (size_t j = 0; j < m->n_entries; j++) {
                        bool dup = false;

                        for (size_t k = 0; k < r.n_table; k++)
                                dup = dup || rules_equal(&r.table[k].platform, &m->entries[j].platform);
                        if (!m->entries[j].has_platform || m->entries[j].attestation || dup)
                                continue;
                        r.table[r.n_table].platform = m->entries[j].platform;
                        memcpy(r.table[r.n_table++].digest, m->entries[j].digest, REF_DIGEST_MAX);
                }
                if (r.n_table < 2) {
                        resolution_done(&r);
                        return 1;
                }
                (void) snprintf(service, sizeof(service), "svc%d", i);
                memcpy(r.index_digest, r.table[1].digest, REF_DIGEST_MAX);
                for (size_t pass = 0; pass < 2; pass++) {
                        char target[RULES_NAME_MAX];

                        memcpy(r.digest, r.table[pass].digest, REF_DIGEST_MAX);
                        r.platform = r.table[pass].platform;
                        if (lock_set(l, service, "docker.io/library/golang", "alpine", pass ? "alpine3.19" : "alpine",
                                     rules_format(&r.platform, target), &r, &err) < 0) {
                                fprintf(stderr, "%s\n", err.msg);
                                resolution_done(&r);
                                return 1;
                        }
                }
                /* The seed also holds the fields of a switch left open: txn with its before, a count of
                 * interrupted checks and the digests boardpin pulled. */
                if (lock_add_bad(l, service, r.table[0].digest, &err) < 0 ||
                    lock_set_held(l, service, r.table[1].digest, BP_HOLD_TOO_YOUNG,
                                  "min_age: image created 1h 0m ago, needs 3d 0h", &err) < 0 ||
                    (i == 1 && (lock_txn_begin(l, service, r.table[0].digest, LOCK_STEP_CHECKING, &err) < 0 ||
                                lock_count_interrupted(l, service, r.table[0].digest) != 1))) {
                        fprintf(stderr, "%s\n", err.msg);
                        resolution_done(&r);
                        return 1;
                }
                resolution_done(&r);
        }
        if (lock_render(l, &text, &len, &err) < 0 || !(f = fopen(out, "w"))) {
                fprintf(stderr, "%s: cannot write the seed\n", out);
                return 1;
        }
        if (fwrite(text, 1, len, f) != len || fclose(f) != 0)
                return 1;
        return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *out = getenv("BP_FUZZ_SEED");

        if (out)
                exit(write_seed(out, *argc - 1, *argv + 1));
        return 0;
}
