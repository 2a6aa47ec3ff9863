/* tests/unit/test-version.c: version = texts, exact or range, and the tag they choose, with node-semver's
 * README examples (caret, tilde and x-ranges, pre-release rules), the semver 2.0.0 §11 order, tags as
 * Docker Hub repositories publish them (v prefixes, floating "1.30", "-alpine" variants) and hostile text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ref.h"
#include "version.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A repository's tags: floating and exact, with and without 'v', variants, pre-releases and junk. */
static char *const repo[] = {
        "latest",        "stable",        "alpine",        "edge",          "sha-1a2b3c",    "0.0.3",
        "0.0.4-rc.1",    "0.0.5",         "0.1.0",         "0.1.7",         "0.2.3",         "0.2.9",
        "0.3.0",         "1.29",          "1.29.4",        "1.29.10",       "1.29.9",        "1.30",
        "1.30.0",        "1.30.1",        "v1.30.1",       "1.30.5",        "1.30.1-alpine", "1.30.5-alpine",
        "1.30-alpine",   "1.31.0-rc.1",   "1.31.0-rc.2",   "1.31.0-alpine", "1.31.0",        "v1.31.2",
        "1.31.4-armv6",  "2.0.0-rc.1",    "2.0.0-rc.2",    "2.0.0-rc.10",   "2.0.0-beta",    "2.0.0-slim",
        "2.1.0-rc.1",    "1.2.3.4",       "9.9.9-",        "V9.0.0",        "9..0",
        "1.31.3-alpine3.18",
};

static struct bp_range *parse_ok(const char *text)
{
        struct bp_range *r = NULL;
        struct bp_err err = { 0 };

        if (range_parse(text, &r, &err) != 0)
                fail_msg("'%s': %s", text, err.msg);
        assert_non_null(r);
        return r;
}

/* The best of tags for range is want (NULL: none), whichever order the tags come in. */
static void assert_best_in(const char *range, char *const *tags, size_t n, const char *want)
{
        struct bp_range *r = parse_ok(range);
        char *rev[64];
        const char *got, *got_rev;

        assert_true(n <= N(rev));
        for (size_t i = 0; i < n; i++)
                rev[i] = tags[n - 1 - i];
        got = range_best(r, tags, n);
        got_rev = range_best(r, rev, n);
        if (want ? !got || strcmp(got, want) != 0 : got != NULL)
                fail_msg("'%s': got '%s', want '%s'", range, got ? got : "(none)", want ? want : "(none)");
        if (want ? !got_rev || strcmp(got_rev, want) != 0 : got_rev != NULL)
                fail_msg("'%s' reversed: got '%s', want '%s'", range, got_rev ? got_rev : "(none)",
                         want ? want : "(none)");
        range_free(r);
}

#define BEST(range, want) assert_best_in(range, repo, N(repo), want)
#define BEST_OF(range, want, ...)                                                                              \
        do {                                                                                                   \
                char *const t_[] = { __VA_ARGS__ };                                                            \
                assert_best_in(range, t_, N(t_), want);                                                        \
        } while (0)

static void numbers_compare_as_numbers(void **state)
{
        (void) state;
        BEST("1.29.x", "1.29.10");
        BEST(">=1.29 <1.30", "1.29.10");
        BEST_OF("*", "1.29.10", "1.29.4", "1.29.10", "1.29.9");
        BEST_OF("*", "1.10.0", "1.9.0", "1.10.0", "1.2.0");
        BEST_OF("*", "10.0.0", "9.0.0", "10.0.0", "1.100.0");
        BEST_OF("^1", "1.0.10", "1.0.9", "1.0.10");
        /* node-semver's limit, 2^53-1, is a version; a tag past it is not. */
        BEST_OF("*", "9007199254740991.0.0", "9007199254740991.0.0", "9007199254740992.0.0", "1.0.0");
        BEST_OF("*", "2.0.0", "99999999999999999999.0.0", "2.0.0");
}

static void caret(void **state)
{
        (void) state;
        BEST("^1.30", "v1.31.2");
        BEST("^1.29", "v1.31.2");
        BEST("^1.30.5", "v1.31.2");
        BEST("^v1.30", "v1.31.2");
        BEST("^1.x", "v1.31.2");
        BEST("^1", "v1.31.2");
        BEST("^1.31.3", NULL);
        BEST("^0.2.3", "0.2.9");        /* := >=0.2.3 <0.3.0 */
        BEST("^0.1", "0.1.7");          /* := >=0.1.0 <0.2.0 */
        BEST("^0.0.3", "0.0.3");        /* := >=0.0.3 <0.0.4 */
        BEST("^0.0", "0.0.5");          /* := >=0.0.0 <0.1.0 */
        BEST("^0.0.x", "0.0.5");
        BEST("^0", "0.3.0");            /* := >=0.0.0 <1.0.0 */
        BEST("^0.x", "0.3.0");
        BEST("^0.0.4", NULL);           /* 0.0.4-rc.1 is a pre-release the range does not name */
        BEST("^3", NULL);
        BEST("^*", "v1.31.2");
}

static void tilde(void **state)
{
        (void) state;
        BEST("~1.30.1", "1.30.5");      /* := >=1.30.1 <1.31.0 */
        BEST("~1.30", "1.30.5");
        BEST("~1", "v1.31.2");
        BEST("~0.2", "0.2.9");
        BEST("~0.2.4", "0.2.9");
        BEST("~0", "0.3.0");
        BEST("~1.29.10", "1.29.10");
}

static void x_ranges(void **state)
{
        (void) state;
        BEST("1.30.x", "1.30.5");
        BEST("1.30.*", "1.30.5");
        BEST("1.30.X", "1.30.5");
        BEST("v1.30.x", "1.30.5");
        BEST("1.x", "v1.31.2");
        BEST("1.x.x", "v1.31.2");
        BEST("0.x", "0.3.0");
        BEST("*", "v1.31.2");
        BEST("x", "v1.31.2");
        BEST("=1.30", "1.30.5");        /* node-semver: =1.30 is 1.30.x */
        BEST("1.32.x", NULL);
}

static void comparators(void **state)
{
        (void) state;
        BEST(">=1.29 <2", "v1.31.2");
        BEST(">=1.29.0 <2.0.0", "v1.31.2");
        BEST(">1.30", "v1.31.2");       /* := >=1.31.0 */
        BEST(">1.30.5 <1.31.2", "1.31.0");
        BEST("<=1.30", "1.30.5");       /* := <1.31.0 */
        BEST("<=1.30.1", "1.30.1");
        BEST("<1.30", "1.29.10");       /* := <1.30.0 */
        BEST("<1.30.1", "1.30.0");
        BEST(">=1.30.1 <=1.30.1", "1.30.1");
        BEST("=1.30.1", "1.30.1");
        BEST("=v1.30.1", "1.30.1");
        BEST("1.29.4 1.29.x", "1.29.4");        /* a full version among others is '=' */
        BEST(">=1.29\t<1.30", "1.29.10");
        BEST(" >=1.29   <1.30 ", "1.29.10");
        BEST(">=2 <1", NULL);
        BEST(">=1.2.3+build.7 <1.30", "1.29.10");
        BEST_OF(">=1.2", "2", "1", "1.1", "2");
        BEST_OF("<2", "1.99", "2", "1.99", "2.0.0-rc.1");
}

static void pre_releases(void **state)
{
        (void) state;
        BEST(">=2.0.0-rc.1 <2.1", "2.0.0-rc.10");       /* rc.10 > rc.2: numbers by value */
        BEST("^2.0.0-rc.1", "2.0.0-rc.10");
        BEST("~2.0.0-rc.2", "2.0.0-rc.10");
        BEST("=2.0.0-rc.2", "2.0.0-rc.2");
        BEST(">=1.31.0-rc.1 <1.31.0", "1.31.0-rc.2");
        BEST("^1.31.0-rc.1", "v1.31.2");                /* the release is above its pre-releases */
        BEST("^0.0.4-rc.1", "0.0.4-rc.1");
        BEST(">=2.0.0-rc.11 <2.1", NULL);
        /* Never without a pre-release on the same major.minor.patch in the range. */
        BEST(">=2", NULL);
        BEST("^2", NULL);
        BEST(">=1.31 <2.1", "v1.31.2");
        BEST(">=2.0.0-rc.1", "2.0.0-rc.10");            /* not 2.1.0-rc.1: another triple */
        BEST_OF(">=1.0.0-rc.1", "1.0.0-rc.2", "1.0.1-rc.1", "1.0.0-rc.2");
        /* semver 2.0.0 §11.4 order: alpha.1 < beta.2 < beta.11 < rc.1 < release. */
        BEST_OF(">=1.0.0-alpha.1 <1.0.0", "1.0.0-rc.1", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0-alpha.1",
                "1.0.0-beta.2");
        BEST_OF(">=1.0.0-alpha.1 <1.0.0-rc.1", "1.0.0-beta.11", "1.0.0-beta.11", "1.0.0-rc.1",
                "1.0.0-alpha.1", "1.0.0-beta.2");
        BEST_OF(">=1.0.0-alpha.1 <1.0.0-beta.11", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-alpha.1",
                "1.0.0-beta.2");
        /* Numeric identifiers are below words; more identifiers are above fewer. */
        BEST_OF(">=1.0.0-0 <1.0.0-alpha.1", "1.0.0-2", "1.0.0-1", "1.0.0-2", "1.0.0-alpha.1");
        BEST_OF(">=1.0.0-rc.1 <1.0.0", "1.0.0-rc.1.1", "1.0.0-rc.1", "1.0.0-rc.1.1");
        BEST_OF(">=1.0.0-rc.1 <1.0.0", "1.0.0-rc.99999999999999999999999",
                "1.0.0-rc.99999999999999999999999", "1.0.0-rc.9999999999999999999999");
        BEST_OF("^1.0.0-rc.1", "1.0.0-rc.2", "1.0.0-rc.2", "1.0.0-beta", "1.0.0-slim", "1.0.0-rc2");
}

static void suffixes(void **state)
{
        (void) state;
        BEST("^1.30-alpine", "1.31.0-alpine");
        BEST("~1.30-alpine", "1.30.5-alpine");
        BEST("1.30.x-alpine", "1.30.5-alpine");
        BEST(">=1.30.2-alpine", "1.31.0-alpine");
        BEST("=1.30.1-alpine", "1.30.1-alpine");
        BEST("^1.31-alpine3.18", "1.31.3-alpine3.18");
        BEST("^1-armv6", "1.31.4-armv6");
        BEST("^2.0-beta", "2.0.0-beta");        /* "beta" names a variant: no number in it */
        BEST("^2-slim", "2.0.0-slim");
        BEST("^1.30-slim", NULL);
        BEST("*-alpine", "1.31.0-alpine");
        BEST(">=1.30-alpine <1.31-alpine", "1.30.5-alpine");
        BEST(">=1.30-alpine <1.31", "1.30.5-alpine");
        /* A plain range never takes a variant or a pre-release. */
        BEST("^1.30", "v1.31.2");
        BEST_OF("^1.30", NULL, "1.31.0-alpine", "2.0.0-rc.1", "1.31.0-rc.1", "latest");
        BEST_OF("^1.30-alpine", "1.30-alpine", "1.30-alpine", "1.31.0", "1.31.0-alpine3.18", "1.31.0-Alpine");
        BEST_OF("^5-fpm-alpine", "5.2.1-fpm-alpine", "5.2.1-fpm-alpine", "5.3.0-fpm", "5.3.0-apache");
        BEST_OF("^2.4-bookworm_slim", "2.4.9-bookworm_slim", "2.4.9-bookworm_slim", "2.4.9");
}

static void ties_prefer_stable_spellings(void **state)
{
        (void) state;
        BEST_OF("^1", "1.30.1", "1.30.1", "v1.30.1");
        BEST_OF("~1.30", "1.30.0", "1.30", "1.30.0");
        BEST_OF("~1.30", "v1.30.0", "v1.30.0", "1.30");
        BEST_OF("^2", "2.0.0", "2", "2.0", "2.0.0", "v2.0");
        BEST_OF("^1", "1.30.1", "1.30.1+b2", "1.30.1");
        BEST_OF("^1", "1.30.1+b1", "1.30.1+b2", "1.30.1+b1");
        BEST_OF("^1", "1.1.0", "1.01.0", "1.1.0");
        BEST_OF("*", "2", "2", "1.30");
        BEST_OF("^1.30", "1.30.2+build.5", "1.30.2+build.5", "1.30.1");
        BEST_OF(">=2.0.0-rc.1 <2.1", "2.0.0-rc.1", "2.0.0-rc.01", "2.0.0-rc.1");
        BEST_OF("^1", "1.2.3", "1.2.3", "1.2.3", "v1.2.3");
}

static void never_chosen(void **state)
{
        char long_tag[200];

        (void) state;
        memset(long_tag, 'a', sizeof(long_tag) - 1);
        long_tag[sizeof(long_tag) - 1] = '\0';
        memcpy(long_tag, "9.0.0+", 6);
        BEST_OF("*", NULL, "latest", "stable", "1.2.3.4", "V1.2.3", "v", "", "1.", ".1", "1..2", "-1.2.3",
                "1.2.3-", "1.2.3+", "1.2.3-a..b", "1.2.3 ", "1.2.3\n", "1.2.3_x", "x", "1.x", "1.2.3-é");
        /* Over docker's 128 characters is not a tag, however version-like. */
        long_tag[VERSION_TEXT_MAX + 1] = '\0';
        BEST_OF("*", "1.0.0", long_tag, "1.0.0");
        long_tag[VERSION_TEXT_MAX] = '\0';
        BEST_OF("*", long_tag, long_tag, "1.0.0");
}

static void best_edges(void **state)
{
        struct bp_range *r = parse_ok("^1");
        char *tags[] = { NULL, "1.0.0", NULL };

        (void) state;
        assert_null(range_best(r, tags, 0));
        assert_null(range_best(r, NULL, 3));
        assert_ptr_equal(range_best(r, tags, 3), tags[1]);
        assert_null(range_best(NULL, tags, 3));
        range_free(r);
        range_free(NULL);
}

static void exact_tags(void **state)
{
        static const struct {
                const char *text, *tag;
        } cases[] = {
                { "latest", "latest" },   { "1.30", "1.30" },          { "1.30.5", "1.30.5" },
                { "v1.30.1", "v1.30.1" }, { "xenial", "xenial" },     { "1.30.1-alpine", "1.30.1-alpine" },
                { "  1.30\t", "1.30" },   { "1.2.3-x", "1.2.3-x" },   { "_x", "_x" },
                { "99999999999999999999", "99999999999999999999" },   { "1.2.3.4", "1.2.3.4" },
        };
        char max_tag[VERSION_TEXT_MAX + 1];

        (void) state;
        for (size_t i = 0; i < N(cases); i++) {
                struct bp_range *r = parse_ok(cases[i].text);

                assert_true(range_is_exact(r));
                assert_string_equal(range_exact_tag(r), cases[i].tag);
                range_free(r);
        }
        memset(max_tag, '7', VERSION_TEXT_MAX);
        max_tag[VERSION_TEXT_MAX] = '\0';
        {
                struct bp_range *r = parse_ok(max_tag);

                assert_string_equal(range_exact_tag(r), max_tag);
                range_free(r);
        }
        BEST("latest", "latest");
        BEST("1.30", "1.30");
        BEST("v1.30.1", "v1.30.1");
        BEST("1.30.1-alpine", "1.30.1-alpine");
        BEST("1.29.99", NULL);
        BEST("Latest", NULL);
}

static void ranges_are_not_exact(void **state)
{
        static const char *const ranges[] = { "^1.30", "~1.30.1", "1.30.x", "1.30.*", ">=1.29 <2", "=1.2.3",
                                              "x",     "*",       "1.x",    "v1.x",   "1.30 1.31", "X",
                                              "^1.30-alpine", ">2.0.0-rc.1" };

        (void) state;
        for (size_t i = 0; i < N(ranges); i++) {
                struct bp_range *r = parse_ok(ranges[i]);

                assert_false(range_is_exact(r));
                assert_null(range_exact_tag(r));
                range_free(r);
        }
        assert_false(range_is_exact(NULL));
        assert_null(range_exact_tag(NULL));
}

/* text is refused with -EINVAL, a message naming it, saying why (want), on one line; ret untouched. */
static void assert_rejects(const char *text, const char *want)
{
        struct bp_range *r = (struct bp_range *) 0x1;
        struct bp_err err = { 0 };
        char quoted[160];

        if (range_parse(text, &r, &err) != -EINVAL)
                fail_msg("'%s' was accepted", text);
        assert_ptr_equal(r, (struct bp_range *) 0x1);
        assert_true(strncmp(err.msg, "bad version", 11) == 0);
        if (strlen(text) < 90 && !strpbrk(text, "\t\n\x1b")) {
                snprintf(quoted, sizeof(quoted), "'%s'", text);
                if (!strstr(err.msg, quoted))
                        fail_msg("'%s': message '%s' does not name it", text, err.msg);
        }
        if (!strstr(err.msg, want))
                fail_msg("'%s': message '%s' lacks '%s'", text, err.msg, want);
        assert_null(strchr(err.msg, '\n'));
}

static void invalid_ranges(void **state)
{
        char long_text[VERSION_TEXT_MAX + 2];

        (void) state;
        assert_rejects("^", "at '^': no version after the operator");
        assert_rejects(">=", "at '>=': no version after the operator");
        assert_rejects(">=1 <", "at '<': no version after the operator");
        assert_rejects("^1.x.3", "a number after an x");
        assert_rejects("1.x.3", "a number after an x");
        assert_rejects("~~1", "at '~~1': two operators");
        assert_rejects("~>1.2", "two operators");
        assert_rejects(">= 1.2", "no version after the operator");
        assert_rejects("^99999999999999999999", "a number over 9007199254740991");
        assert_rejects(">=1.2.99999999999999999999", "a number over 9007199254740991");
        assert_rejects("^9007199254740992", "a number over 9007199254740991");
        assert_rejects("^1.2.3.4", "more than three numbers");
        assert_rejects("^1.2.", "neither a number nor x");
        assert_rejects("^v", "neither a number nor x");
        assert_rejects("=latest", "neither a number nor x");
        assert_rejects("^1..2", "neither a number nor x");
        assert_rejects("^1.2.3_x", "a character that has no place in a version");
        assert_rejects("^1.2.3-", "an empty or bad pre-release or suffix");
        assert_rejects("^1.2.3-a..b", "an empty or bad pre-release or suffix");
        assert_rejects("^1.2.3-alpine.", "an empty or bad pre-release or suffix");
        assert_rejects("^1.2.3-é", "an empty or bad pre-release or suffix");
        assert_rejects("^1.2.3+", "empty or bad build metadata");
        assert_rejects("^1.30-rc.1", "a pre-release without all of major.minor.patch");
        assert_rejects("1.x-rc.1", "a pre-release without all of major.minor.patch");
        assert_rejects("^1.30-alpine >=1.30-slim", "a suffix other than the one before it");
        assert_rejects(">=2.0.0-rc.1 <3-alpine", "a suffix or a pre-release, not both");
        assert_rejects("1.2.3 - 2.0.0", "hyphen ranges are not supported");
        assert_rejects("^1 || ^2", "alternatives ('||') are not supported");
        assert_rejects("^1||^2", "alternatives ('||') are not supported");
        assert_rejects(">*", "at '>*': admits no version");
        assert_rejects("<x", "admits no version");
        assert_rejects("", "empty");
        assert_rejects(" \t ", "empty");
        assert_rejects("-foo", "neither a range nor a tag");
        assert_rejects(".1", "neither a range nor a tag");
        assert_rejects("lat$est", "neither a range nor a tag");
        assert_rejects("v1.2:3", "neither a range nor a tag");
        assert_rejects("^1.2\n", "a character that has no place in a version");
        assert_rejects("^1.2\x1b[31m", "a character that has no place in a version");
        memset(long_text, '1', sizeof(long_text) - 1);
        long_text[sizeof(long_text) - 1] = '\0';
        assert_rejects(long_text, "over 128 characters");
        long_text[0] = '^';
        assert_rejects(long_text, "over 128 characters");
        assert_int_equal(range_parse(NULL, &(struct bp_range *) { NULL }, NULL), -EINVAL);
        assert_int_equal(range_parse("^", &(struct bp_range *) { NULL }, NULL), -EINVAL);
}

static void limits_accepted(void **state)
{
        char many[VERSION_TEXT_MAX + 1];

        (void) state;
        range_free(parse_ok("^9007199254740991"));
        /* The most comparators a text can hold: 64 x-ranges of one character, two comparators each. */
        for (size_t i = 0; i < VERSION_TEXT_MAX; i++)
                many[i] = i % 2 ? ' ' : '1';
        many[VERSION_TEXT_MAX - 1] = '\0';
        assert_best_in(many, repo, N(repo), "v1.31.2");
        for (size_t i = 0; i + 3 <= VERSION_TEXT_MAX; i += 3)
                memcpy(many + i, "^1 ", 3);
        many[VERSION_TEXT_MAX - 1] = '\0';
        assert_best_in(many, repo, N(repo), "v1.31.2");
}

static void assert_expands(const char *template, const char *version, const char *want)
{
        char buf[REF_TAG_MAX];

        assert_int_equal(range_expand_template(template, version, buf, sizeof(buf)), 0);
        assert_string_equal(buf, want);
}

static void assert_expand_fails(const char *template, const char *version, size_t size, int want)
{
        char buf[REF_TAG_MAX + 8];

        memset(buf, 'Z', sizeof(buf));
        assert_int_equal(range_expand_template(template, version, buf, size), want);
        assert_int_equal(buf[0], 'Z');  /* untouched */
}

static void templates(void **state)
{
        char v120[121], v123[124], want[REF_TAG_MAX], buf[REF_TAG_MAX];

        (void) state;
        memset(v120, '1', sizeof(v120) - 1);
        v120[sizeof(v120) - 1] = '\0';
        memset(v123, '1', sizeof(v123) - 1);
        v123[sizeof(v123) - 1] = '\0';
        assert_expands("{version}-armv6", "1.30.5", "1.30.5-armv6");
        assert_expands("{version}-raspberry", "1.30.5", "1.30.5-raspberry");
        assert_expands("{version}", "v1.2", "v1.2");
        assert_expands("{version}-{version}", "1.2", "1.2-1.2");
        assert_expands("x{version}y{version}z", "1", "x1y1z");
        assert_expands("aarch64", "1.2", "aarch64");
        assert_expands("{version}_armv7", "1.2", "1.2_armv7");
        snprintf(want, sizeof(want), "%s-armv6", v120);
        assert_expands("{version}-armv6", v120, want);                           /* 126 characters */
        assert_expand_fails("{version}-armv6", v123, sizeof(buf), -EINVAL);     /* 129 characters */
        assert_expand_fails("{version}-raspberry", "", sizeof(buf), -EINVAL);
        assert_expand_fails("{Version}-armv6", "1.2", sizeof(buf), -EINVAL);
        assert_expand_fails("{version", "1.2", sizeof(buf), -EINVAL);
        assert_expand_fails("{version}:arm", "1.2", sizeof(buf), -EINVAL);
        assert_expand_fails("{version}-armv6", "1.2 ", sizeof(buf), -EINVAL);
        assert_expand_fails("{version}/x", "1.2", sizeof(buf), -EINVAL);
        assert_expand_fails("", "1.2", sizeof(buf), -EINVAL);
        assert_expand_fails("{version}", "", sizeof(buf), -EINVAL);
        assert_expand_fails(NULL, "1.2", sizeof(buf), -EINVAL);
        assert_expand_fails("{version}", NULL, sizeof(buf), -EINVAL);
        assert_int_equal(range_expand_template("{version}", "1.2", NULL, 8), -EINVAL);
        assert_expand_fails("{version}-armv6", "1.30.5", 5, -ENOBUFS);
        assert_expand_fails("{version}-armv6", "1.30.5", 12, -ENOBUFS);  /* no room for the NUL */
        assert_expand_fails("{version}-armv6", "1.30.5", 0, -ENOBUFS);
        assert_int_equal(range_expand_template("{version}-armv6", "1.30.5", buf, 13), 0);
        assert_string_equal(buf, "1.30.5-armv6");
        assert_true(ref_tag_ok(buf));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(numbers_compare_as_numbers),
                cmocka_unit_test(caret),
                cmocka_unit_test(tilde),
                cmocka_unit_test(x_ranges),
                cmocka_unit_test(comparators),
                cmocka_unit_test(pre_releases),
                cmocka_unit_test(suffixes),
                cmocka_unit_test(ties_prefer_stable_spellings),
                cmocka_unit_test(never_chosen),
                cmocka_unit_test(best_edges),
                cmocka_unit_test(exact_tags),
                cmocka_unit_test(ranges_are_not_exact),
                cmocka_unit_test(invalid_ranges),
                cmocka_unit_test(limits_accepted),
                cmocka_unit_test(templates),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
