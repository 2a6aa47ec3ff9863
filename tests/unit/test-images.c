/* tests/unit/test-images.c: which images a prune removes (images_choose: the pin, the previous pin, then
 * the newest pulled ones not on the bad list, up to keep), keep per service and global, and the store's
 * arithmetic the disk check uses (min_free as a share or a size, room, sizes for people). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "helpers.h"
#include "images.h"
#include "store.h"

/* A digest of 64 times the hex digit c. */
#define D(c) "sha256:" D16(c) D16(c) D16(c) D16(c)
#define D16(c) c c c c c c c c c c c c c c c c

/* An entry pinned to pin with previous prev ("" for none), pulled[] oldest first, bad[] its bad list. */
static void entry(struct bp_lock_entry *e, const char *pin, const char *prev, const char *const *pulled,
                  const char *const *bad)
{
        memset(e, 0, sizeof(*e));
        strcpy(e->service, "web");
        strcpy(e->pin.digest, pin);
        e->has_previous = prev[0] != '\0';
        strcpy(e->previous.digest, prev);
        for (; pulled && *pulled; pulled++)
                strcpy(e->pulled[e->n_pulled++], *pulled);
        for (; bad && *bad; bad++)
                strcpy(e->bad[e->n_bad++], *bad);
}

/* The digests images_choose() removes, joined by ' ' as their first hex digit: "a c". */
static const char *chosen(const struct bp_lock_entry *e, int keep, char *buf)
{
        size_t idx[LOCK_PULLED_MAX], n = images_choose(e, keep, idx);
        char *p = buf;

        *p = '\0';
        for (size_t i = 0; i < n; i++) {
                assert_true(idx[i] < e->n_pulled);
                if (i > 0)
                        assert_true(idx[i] > idx[i - 1]); /* oldest first, each once */
                p += sprintf(p, "%s%c", i ? " " : "", e->pulled[idx[i]][7]);
        }
        return buf;
}

static void prune_choice(void **state)
{
        const char *const five[] = { D("1"), D("2"), D("3"), D("4"), D("5"), NULL };
        const char *const bad4[] = { D("4"), NULL };
        const char *const hand[] = { D("1"), D("2"), NULL };
        struct bp_lock_entry e;
        char buf[128];

        (void) state;
        /* pin 5, previous 4: keep 2 leaves those two, keep 1 only the pin, keep 3 the newest other too */
        entry(&e, D("5"), D("4"), five, NULL);
        assert_string_equal(chosen(&e, 2, buf), "1 2 3");
        assert_string_equal(chosen(&e, 1, buf), "1 2 3 4");
        assert_string_equal(chosen(&e, 3, buf), "1 2");
        assert_string_equal(chosen(&e, 10, buf), "");
        assert_string_equal(chosen(&e, 0, buf), "1 2 3 4"); /* never below the pin */
        /* after a rollback: pin 3 (previous 2), 4 and 5 failed; 5 was pulled last and is bad */
        entry(&e, D("3"), D("2"), five, (const char *const[]){ D("4"), D("5"), NULL });
        assert_string_equal(chosen(&e, 2, buf), "1 4 5");
        assert_string_equal(chosen(&e, 3, buf), "4 5"); /* 1 is the newest that is not bad */
        /* a bad digest is never a spare, even when it is newer */
        entry(&e, D("5"), D("3"), five, bad4);
        assert_string_equal(chosen(&e, 3, buf), "1 4");
        /* pin and previous a person pulled (not on the list): they still fill keep's places */
        entry(&e, D("8"), D("9"), hand, NULL);
        assert_string_equal(chosen(&e, 2, buf), "1 2");
        assert_string_equal(chosen(&e, 3, buf), "1");
        /* no previous: keep 2 keeps the newest pulled besides the pin */
        entry(&e, D("5"), "", five, NULL);
        assert_string_equal(chosen(&e, 2, buf), "1 2 3");
        /* previous equal to the pin (an index moved, the child did not) counts once */
        entry(&e, D("5"), D("5"), five, NULL);
        assert_string_equal(chosen(&e, 2, buf), "1 2 3");
        /* nothing pulled, nothing to do */
        entry(&e, D("5"), D("4"), NULL, NULL);
        assert_string_equal(chosen(&e, 1, buf), "");
}

static void keep_inherits(void **state)
{
        const char *text =
                "[boardpin]\nkeep = 4\n[service a]\nimage = nginx\nkeep = 1\n[service b]\nimage = redis\n";
        struct bp_config *c = NULL;

        (void) state;
        assert_int_equal(config_parse("t.ini", text, strlen(text), &c, NULL), 0);
        assert_int_equal(images_keep(c, &c->services[0]), 1);
        assert_int_equal(images_keep(c, &c->services[1]), 4);
        assert_int_equal(images_keep(c, NULL), 4);
        config_free(c);
}

static void store_arithmetic(void **state)
{
        struct bp_store_space sp = { .free_bytes = 1000, .size_bytes = 10000 };
        char buf[STORE_SIZE_TEXT_MAX];

        (void) state;
        assert_int_equal(store_min_free(10, 0, 10000), 1000);
        assert_int_equal(store_min_free(10, 12345, 10000), 1000); /* a share wins over a stale size */
        assert_int_equal(store_min_free(0, 12345, 10000), 12345);
        assert_int_equal(store_min_free(90, 0, 99), 89);
        /* no overflow for the largest filesystem statvfs can describe */
        assert_true(store_min_free(90, 0, UINT64_MAX) > UINT64_MAX / 10 * 8);
        assert_true(store_room(&sp, 0, 1000));
        assert_false(store_room(&sp, 1, 1000));
        assert_true(store_room(&sp, 400, 600));
        assert_false(store_room(&sp, 1001, 0)); /* larger than what is free: no wrap-around */
        assert_string_equal(store_size_text(0, buf), "0 B");
        assert_string_equal(store_size_text(1023, buf), "1023 B");
        assert_string_equal(store_size_text(1024, buf), "1 KiB");
        assert_string_equal(store_size_text(312ULL << 20, buf), "312 MiB");
        assert_string_equal(store_size_text((312ULL << 20) + (1ULL << 19), buf), "312 MiB");
        assert_string_equal(store_size_text(1ULL << 30, buf), "1 GiB");
        assert_string_equal(store_size_text(3ULL << 29, buf), "1.5 GiB");
        assert_string_equal(store_size_text((2ULL << 30) - 1, buf), "1.9 GiB"); /* never shown larger */
        assert_string_equal(store_size_text(UINT64_MAX, buf), "16777215 TiB");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(prune_choice),
                cmocka_unit_test(keep_inherits),
                cmocka_unit_test(store_arithmetic),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
