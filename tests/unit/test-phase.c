/* tests/unit/test-phase.c: phased rollout: the share taken matches the percentage over many machines, and
 * one machine's answer is stable. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>

#include "helpers.h"
#include "phase.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define MACHINES 10000

/* xorshift64*: identities that look like machine-ids, from a fixed seed so a failure can be replayed. */
static uint64_t next(uint64_t *s)
{
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        return *s * UINT64_C(2685821657736338717);
}

static const char *random_identity(uint64_t *s, char buf[static PHASE_IDENTITY_MAX])
{
        char id[33], serial[17];

        (void) snprintf(id, sizeof(id), "%016llx%016llx", (unsigned long long) next(s), (unsigned long long) next(s));
        (void) snprintf(serial, sizeof(serial), "%016llx", (unsigned long long) next(s));
        return phase_identity(id, serial, buf);
}

static void share_matches_percent(void **state)
{
        static const int percents[] = { 1, 5, 10, 25, 50, 75, 90, 99 };

        (void) state;
        for (size_t p = 0; p < sizeof(percents) / sizeof(percents[0]); p++) {
                uint64_t seed = UINT64_C(0x9e3779b97f4a7c15) + p;
                unsigned taken = 0;

                for (unsigned i = 0; i < MACHINES; i++) {
                        char buf[PHASE_IDENTITY_MAX];
                        taken += phase_included(random_identity(&seed, buf), D1, percents[p]);
                }
                /* within 3 points of P, as the rollout contract says */
                if ((int) taken < (percents[p] - 3) * MACHINES / 100 ||
                    (int) taken > (percents[p] + 3) * MACHINES / 100)
                        fail_msg("rollout %d%%: %u of %u machines", percents[p], taken, MACHINES);
        }
}

static void all_or_nothing(void **state)
{
        uint64_t seed = 42;

        (void) state;
        for (unsigned i = 0; i < 1000; i++) {
                char buf[PHASE_IDENTITY_MAX];
                const char *id = random_identity(&seed, buf);
                assert_false(phase_included(id, D1, 0));
                assert_true(phase_included(id, D1, 100));
        }
}

static void stable_and_per_digest(void **state)
{
        char a[PHASE_IDENTITY_MAX], b[PHASE_IDENTITY_MAX];
        uint64_t seed = 7;
        unsigned differ = 0;

        (void) state;
        phase_identity("0123456789abcdef0123456789abcdef", "00000000a1b2c3d4", a);
        assert_string_equal(a, "0123456789abcdef0123456789abcdef/00000000a1b2c3d4");
        assert_int_equal(phase_place(a, D1), phase_place(a, D1));
        /* Cloned SD cards: one machine-id, two serials, two places (for almost every digest). */
        phase_identity("0123456789abcdef0123456789abcdef", "00000000deadbeef", b);
        assert_int_not_equal(phase_place(a, D1), phase_place(b, D1));
        /* A new digest reshuffles the fleet: the first share differs from release to release. */
        for (unsigned i = 0; i < 1000; i++) {
                char buf[PHASE_IDENTITY_MAX];
                const char *id = random_identity(&seed, buf);
                differ += phase_included(id, D1, 10) != phase_included(id, D2, 10);
        }
        assert_true(differ > 100);
        assert_true(phase_place(a, D1) < 10000);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(share_matches_percent),
                cmocka_unit_test(all_or_nothing),
                cmocka_unit_test(stable_and_per_digest),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
