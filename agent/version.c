/* agent/version.c: see version.h. Ranges follow npm's node-semver (classes/range.js: replaceCaret,
 * replaceTilde, replaceXRange; classes/semver.js for order): each token of a range becomes one or two
 * primitive comparators, a tag must pass all of them, and a pre-release must also be named by one of
 * them on its own major.minor.patch (range.js testSet). Tags are parsed in place, once, with no
 * allocation, and the best is kept in one pass. */
#include "version.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "ref.h"
#include "text.h"

/* node-semver's MAX_SAFE_INTEGER (internal/constants.js): it refuses larger numbers, and so do we. */
#define VERSION_NUMBER_MAX 9007199254740991ULL
/* Tokens are at least one character and a separator apart, and each yields at most two comparators. */
#define RANGE_CMP_MAX (VERSION_TEXT_MAX + 1)

enum cmp_op { OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ };

enum tok_op { TOK_NONE, TOK_CARET, TOK_TILDE, TOK_LT, TOK_LE, TOK_GT, TOK_GE, TOK_EQ };

/* A version as written; pre and suffix point into the text it was parsed from. */
struct bp_ver {
        uint64_t num[3];        /* parts not written, or written as x, are 0 */
        unsigned ncomp;         /* parts written: "1.30" has 2 */
        unsigned nnum;          /* of those, numbers; the rest are x, X or * (ranges only) */
        bool v;                 /* a leading 'v' */
        bool build;             /* "+…" build metadata, which has no place in the order */
        const char *pre;        /* "rc.1" of "2.0.0-rc.1", or NULL */
        size_t pre_len;
        const char *suffix;     /* "alpine" of "1.30.1-alpine", or NULL */
        size_t suffix_len;
};

struct bp_cmp {
        enum cmp_op op;
        struct bp_ver v;
};

struct bp_range {
        char text[VERSION_TEXT_MAX + 1];        /* trimmed; the tag itself when exact */
        bool exact;
        bool names_pre;
        const char *suffix;                     /* into text, or NULL */
        size_t suffix_len;
        size_t n;
        struct bp_cmp cmp[RANGE_CMP_MAX];
};

/* X.Y.Z-0 sorts below every X.Y.Z pre-release: node-semver's upper bounds ("<2.0.0-0"). */
static const char lowest_pre[] = "0";

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_x(char c)
{
        return c == 'x' || c == 'X' || c == '*';
}

static bool is_op_char(char c)
{
        return c == '^' || c == '~' || c == '<' || c == '>' || c == '=';
}

static bool is_space(char c)
{
        return c == ' ' || c == '\t';
}

static bool all_digits(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!is_digit(s[i]))
                        return false;
        return n > 0;
}

/* The number at s[*i..n); *i moves past it. */
static const char *number_parse(const char *s, size_t n, size_t *i, uint64_t *ret)
{
        uint64_t v = 0;

        if (*i >= n || !is_digit(s[*i]))
                return "a part that is neither a number nor x";
        for (; *i < n && is_digit(s[*i]); (*i)++) {
                v = v * 10 + (uint64_t) (s[*i] - '0');
                if (v > VERSION_NUMBER_MAX)
                        return "a number over 9007199254740991";
        }
        *ret = v;
        return NULL;
}

/* One to three parts joined by '.'; x parts (allow_x) must come last, as "1.x.3" means nothing. */
static const char *core_parse(const char *s, size_t n, size_t *i, bool allow_x, struct bp_ver *v)
{
        while (v->ncomp < 3) {
                if (allow_x && *i < n && is_x(s[*i])) {
                        (*i)++;
                } else {
                        const char *why;

                        if (v->nnum < v->ncomp)
                                return "a number after an x";
                        why = number_parse(s, n, i, &v->num[v->ncomp]);
                        if (why)
                                return why;
                        v->nnum++;
                }
                v->ncomp++;
                if (*i >= n || s[*i] != '.')
                        return NULL;
                (*i)++;
        }
        return "more than three numbers";
}

/* Dot-separated identifiers, none empty, of letters, digits, '-' and (when underscore) '_'. */
static bool idents_ok(const char *s, size_t n, bool underscore)
{
        if (n == 0 || s[0] == '.' || s[n - 1] == '.')
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '.' && s[i + 1] == '.')
                        return false;
                if (!is_digit(s[i]) && !is_alpha(s[i]) && s[i] != '.' && s[i] != '-' &&
                    !(underscore && s[i] == '_'))
                        return false;
        }
        return true;
}

/* After the '-': a pre-release when each identifier is letters only or digits only and one is digits
 * ("rc.1", "beta.2", "0"), since those count towards a release; anything else names a build variant
 * ("alpine", "alpine3.18", "armv6", "bookworm-slim", and also "beta" and "rc1"). */
static bool tail_is_pre(const char *s, size_t n)
{
        bool digits = false, alpha = false, number = false;

        for (size_t i = 0; i <= n; i++) {
                if (i == n || s[i] == '.') {
                        if (digits && alpha)
                                return false;
                        number |= digits && !alpha;
                        digits = alpha = false;
                } else if (is_digit(s[i])) {
                        digits = true;
                } else if (is_alpha(s[i])) {
                        alpha = true;
                } else {
                        return false;
                }
        }
        return number;
}

/* "-pre-release" or "-suffix", then "+build", then the end. Docker tags may have '_', semver's may not:
 * it is allowed in a suffix, which is matched as written. */
static const char *tail_parse(const char *s, size_t n, size_t i, struct bp_ver *v)
{
        if (i < n && s[i] == '-') {
                size_t start = ++i;

                while (i < n && s[i] != '+')
                        i++;
                if (!idents_ok(s + start, i - start, /* underscore= */ true))
                        return "an empty or bad pre-release or suffix";
                if (tail_is_pre(s + start, i - start)) {
                        v->pre = s + start;
                        v->pre_len = i - start;
                } else {
                        v->suffix = s + start;
                        v->suffix_len = i - start;
                }
        }
        if (i < n && s[i] == '+') {
                if (!idents_ok(s + i + 1, n - i - 1, /* underscore= */ false))
                        return "empty or bad build metadata";
                v->build = true;
                i = n;
        }
        if (i < n)
                return "a character that has no place in a version";
        return NULL;
}

/* The version at s[0..n): NULL when it is one, else why not. allow_x admits x parts (ranges). */
static const char *ver_parse(const char *s, size_t n, bool allow_x, struct bp_ver *ret)
{
        struct bp_ver v = { 0 };
        size_t i = 0;
        const char *why;

        if (n > 0 && s[0] == 'v') {
                v.v = true;
                i = 1;
        }
        why = core_parse(s, n, &i, allow_x, &v);
        if (!why)
                why = tail_parse(s, n, i, &v);
        if (why)
                return why;
        *ret = v;
        return NULL;
}

static int u64_cmp(uint64_t a, uint64_t b)
{
        return (a > b) - (a < b);
}

/* semver 2.0.0 §11.4: numeric identifiers by value and below alphanumeric ones, those in ASCII order. */
static int ident_cmp(const char *a, size_t an, const char *b, size_t bn)
{
        bool ad = all_digits(a, an), bd = all_digits(b, bn);
        int r;

        if (ad != bd)
                return ad ? -1 : 1;
        if (ad) {
                /* Digit strings compare by value with no limit on their length. */
                for (; an > 1 && *a == '0'; a++, an--)
                        ;
                for (; bn > 1 && *b == '0'; b++, bn--)
                        ;
                if (an != bn)
                        return an < bn ? -1 : 1;
        }
        r = memcmp(a, b, an < bn ? an : bn);
        if (r != 0)
                return r < 0 ? -1 : 1;
        return (an > bn) - (an < bn);
}

/* A release is above its pre-releases; more identifiers are above fewer when the rest are equal. */
static int pre_cmp(const struct bp_ver *a, const struct bp_ver *b)
{
        size_t i = 0, j = 0;

        if (!a->pre || !b->pre)
                return (!a->pre) - (!b->pre);
        for (;;) {
                size_t ie = i, je = j;
                int r;

                if (i >= a->pre_len || j >= b->pre_len)
                        return (i < a->pre_len) - (j < b->pre_len);
                while (ie < a->pre_len && a->pre[ie] != '.')
                        ie++;
                while (je < b->pre_len && b->pre[je] != '.')
                        je++;
                r = ident_cmp(a->pre + i, ie - i, b->pre + j, je - j);
                if (r != 0)
                        return r;
                i = ie + 1;
                j = je + 1;
        }
}

/* Order by version only: 'v', parts not written, build metadata and suffix make no difference. */
static int ver_cmp(const struct bp_ver *a, const struct bp_ver *b)
{
        for (size_t k = 0; k < 3; k++) {
                int r = u64_cmp(a->num[k], b->num[k]);

                if (r != 0)
                        return r;
        }
        return pre_cmp(a, b);
}

static bool cmp_test(const struct bp_cmp *c, const struct bp_ver *v)
{
        int d = ver_cmp(v, &c->v);

        switch (c->op) {
        case OP_LT:
                return d < 0;
        case OP_LE:
                return d <= 0;
        case OP_GT:
                return d > 0;
        case OP_GE:
                return d >= 0;
        case OP_EQ:
                return d == 0;
        }
        return false;
}

static bool same_triple(const struct bp_ver *a, const struct bp_ver *b)
{
        return a->num[0] == b->num[0] && a->num[1] == b->num[1] && a->num[2] == b->num[2];
}

static bool suffix_ok(const struct bp_range *r, const struct bp_ver *v)
{
        if (!r->suffix || !v->suffix)
                return !r->suffix && !v->suffix;
        return v->suffix_len == r->suffix_len && memcmp(v->suffix, r->suffix, r->suffix_len) == 0;
}

static bool range_admits(const struct bp_range *r, const struct bp_ver *v)
{
        bool pre_named = false;

        if (!suffix_ok(r, v))
                return false;
        for (size_t k = 0; k < r->n; k++) {
                if (!cmp_test(&r->cmp[k], v))
                        return false;
                pre_named |= r->cmp[k].v.pre && same_triple(&r->cmp[k].v, v);
        }
        return !v->pre || pre_named;
}

/* Whether tag a beats tag b. On a tie in version, the spelling least likely to be a moving tag wins: more
 * parts written ("1.30.0" over "1.30", which docker images move to each new patch), no 'v', no build
 * metadata; then the shorter and the lower in byte order, so the choice never depends on listing order. */
static bool tag_better(const struct bp_ver *va, const char *a, const struct bp_ver *vb, const char *b)
{
        int d = ver_cmp(va, vb);
        size_t an, bn;

        if (d != 0)
                return d > 0;
        if (va->ncomp != vb->ncomp)
                return va->ncomp > vb->ncomp;
        if (va->v != vb->v)
                return !va->v;
        if (va->build != vb->build)
                return !va->build;
        an = strlen(a);
        bn = strlen(b);
        if (an != bn)
                return an < bn;
        return strcmp(a, b) < 0;
}

static struct bp_ver ver_make(uint64_t major, uint64_t minor, uint64_t patch)
{
        return (struct bp_ver) { .num = { major, minor, patch }, .ncomp = 3, .nnum = 3 };
}

static struct bp_ver ver_below(uint64_t major, uint64_t minor, uint64_t patch)
{
        struct bp_ver v = ver_make(major, minor, patch);

        v.pre = lowest_pre;
        v.pre_len = 1;
        return v;
}

static void cmp_push(struct bp_range *r, enum cmp_op op, struct bp_ver v)
{
        r->cmp[r->n++] = (struct bp_cmp) { .op = op, .v = v };
}

/* The version after the partial v: "1" -> 2.0.0, "1.2" -> 1.3.0. */
static struct bp_ver ver_next(const struct bp_ver *v, bool below)
{
        uint64_t major = v->nnum == 1 ? v->num[0] + 1 : v->num[0];
        uint64_t minor = v->nnum == 1 ? 0 : v->num[1] + 1;

        return below ? ver_below(major, minor, 0) : ver_make(major, minor, 0);
}

/* replaceCaret: changes that keep the left-most non-zero part. ^1.2.3 := >=1.2.3 <2.0.0-0,
 * ^0.2.3 := >=0.2.3 <0.3.0-0, ^0.0.3 := >=0.0.3 <0.0.4-0, ^1.2 := >=1.2.0 <2.0.0-0, ^0.0 := <0.1.0-0. */
static void caret_add(struct bp_range *r, const struct bp_ver *v)
{
        struct bp_ver upper;

        if (v->nnum == 0)
                return;
        if (v->nnum == 1 || v->num[0] > 0)
                upper = ver_below(v->num[0] + 1, 0, 0);
        else if (v->nnum == 2 || v->num[1] > 0)
                upper = ver_below(0, v->num[1] + 1, 0);
        else
                upper = ver_below(0, 0, v->num[2] + 1);
        cmp_push(r, OP_GE, *v);
        cmp_push(r, OP_LT, upper);
}

/* replaceTilde: patch changes when a minor is given, else minor changes. ~1.2.3 := >=1.2.3 <1.3.0-0,
 * ~1 := >=1.0.0 <2.0.0-0. */
static void tilde_add(struct bp_range *r, const struct bp_ver *v)
{
        struct bp_ver upper;

        if (v->nnum == 0)
                return;
        upper = v->nnum == 1 ? ver_below(v->num[0] + 1, 0, 0) : ver_below(v->num[0], v->num[1] + 1, 0);
        cmp_push(r, OP_GE, *v);
        cmp_push(r, OP_LT, upper);
}

/* replaceXRange: a partial stands for all its versions. 1.2.x := >=1.2.0 <1.3.0-0, >1.2 := >=1.3.0,
 * <=1.2 := <1.3.0-0, <1.2 := <1.2.0-0, >=1.2 := >=1.2.0; a full version is used as it is. */
static const char *plain_add(struct bp_range *r, enum tok_op op, const struct bp_ver *v)
{
        static const enum cmp_op full[] = { [TOK_NONE] = OP_EQ, [TOK_EQ] = OP_EQ, [TOK_LT] = OP_LT,
                                            [TOK_LE] = OP_LE,   [TOK_GT] = OP_GT, [TOK_GE] = OP_GE };

        if (v->nnum == 3) {
                cmp_push(r, full[op], *v);
                return NULL;
        }
        if (v->nnum == 0)
                /* node-semver turns these into <0.0.0-0; a range that admits nothing is a mistake. */
                return op == TOK_LT || op == TOK_GT ? "admits no version" : NULL;
        switch (op) {
        case TOK_GT:
                cmp_push(r, OP_GE, ver_next(v, /* below= */ false));
                break;
        case TOK_GE:
                cmp_push(r, OP_GE, *v);
                break;
        case TOK_LE:
                cmp_push(r, OP_LT, ver_next(v, /* below= */ true));
                break;
        case TOK_LT:
                cmp_push(r, OP_LT, ver_below(v->num[0], v->num[1], 0));
                break;
        default:
                cmp_push(r, OP_GE, *v);
                cmp_push(r, OP_LT, ver_next(v, /* below= */ true));
                break;
        }
        return NULL;
}

/* The operator at the start of s[0..n) and its length. */
static size_t op_parse(const char *s, size_t n, enum tok_op *ret)
{
        static const struct {
                const char *text;
                enum tok_op op;
        } ops[] = { { ">=", TOK_GE }, { "<=", TOK_LE }, { ">", TOK_GT }, { "<", TOK_LT },
                    { "=", TOK_EQ },  { "^", TOK_CARET }, { "~", TOK_TILDE } };

        for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
                size_t len = strlen(ops[k].text);

                if (n >= len && memcmp(s, ops[k].text, len) == 0) {
                        *ret = ops[k].op;
                        return len;
                }
        }
        *ret = TOK_NONE;
        return 0;
}

static const char *suffix_set(struct bp_range *r, const struct bp_ver *v)
{
        if (r->suffix && (r->suffix_len != v->suffix_len || memcmp(r->suffix, v->suffix, v->suffix_len) != 0))
                return "a suffix other than the one before it";
        r->suffix = v->suffix;
        r->suffix_len = v->suffix_len;
        return NULL;
}

/* One comparator token, s[0..n), into r. */
static const char *token_add(struct bp_range *r, const char *s, size_t n)
{
        enum tok_op op;
        size_t k = op_parse(s, n, &op);
        struct bp_ver v;
        const char *why;

        if (n == 1 && s[0] == '-')
                return "hyphen ranges are not supported, write '>=A <=B'";
        if (memchr(s, '|', n))
                return "alternatives ('||') are not supported";
        if (k == n)
                return "no version after the operator";
        if (is_op_char(s[k]))
                return "two operators";
        why = ver_parse(s + k, n - k, /* allow_x= */ true, &v);
        if (why)
                return why;
        if (v.pre && v.nnum < 3)
                return "a pre-release without all of major.minor.patch";
        why = v.suffix ? suffix_set(r, &v) : NULL;
        if (why)
                return why;
        r->names_pre |= v.pre != NULL;
        if (r->n + 2 > RANGE_CMP_MAX)
                return "too many comparators";
        if (op == TOK_CARET)
                caret_add(r, &v);
        else if (op == TOK_TILDE)
                tilde_add(r, &v);
        else
                return plain_add(r, op, &v);
        return NULL;
}

/* An x part written where a number goes ("1.30.x", "x"): the sign of a range with no operator. "xenial"
 * and "1.2.3-x" are tags. */
static bool core_has_x(const char *s)
{
        bool x = false;

        if (*s == 'v')
                s++;
        for (;;) {
                size_t n = strcspn(s, ".-+");

                if (n == 1 && is_x(s[0]))
                        x = true;
                else if (!all_digits(s, n))
                        return false;
                if (s[n] != '.')
                        return x;
                s += n + 1;
        }
}

static bool is_range_text(const char *s)
{
        return strpbrk(s, "^~*<>=| \t") || core_has_x(s);
}

static int bad(struct bp_err *err, const char *text, const char *why)
{
        char show[96];

        text_copy_clean(show, sizeof(show), text);
        return bp_fail(err, -EINVAL, "bad version '%s': %s", show, why);
}

static int bad_token(struct bp_err *err, const char *text, const char *tok, size_t n, const char *why)
{
        char show[96], raw[VERSION_TEXT_MAX + 1], show_tok[64];

        text_copy_clean(show, sizeof(show), text);
        memcpy(raw, tok, n);
        raw[n] = '\0';
        text_copy_clean(show_tok, sizeof(show_tok), raw);
        return bp_fail(err, -EINVAL, "bad version range '%s' at '%s': %s", show, show_tok, why);
}

static int tokens_parse(struct bp_range *r, const char *text, struct bp_err *err)
{
        const char *s = r->text;

        for (;;) {
                size_t n;
                const char *why;

                while (is_space(*s))
                        s++;
                if (*s == '\0')
                        break;
                for (n = 0; s[n] && !is_space(s[n]); n++)
                        ;
                why = token_add(r, s, n);
                if (why)
                        return bad_token(err, text, s, n, why);
                s += n;
        }
        if (r->suffix && r->names_pre)
                return bad(err, text, "a range may name a suffix or a pre-release, not both");
        return 0;
}

int range_parse(const char *text, struct bp_range **ret, struct bp_err *err)
{
        _cleanup_(range_freep) struct bp_range *r = NULL;
        const char *t;
        int k;

        if (!text)
                return bp_fail(err, -EINVAL, "no version given");
        if (strnlen(text, VERSION_TEXT_MAX + 1) > VERSION_TEXT_MAX)
                return bad(err, text, "over 128 characters");
        r = calloc(1, sizeof(*r));
        if (!r)
                return bp_fail(err, -ENOMEM, "out of memory");
        text_copy(r->text, sizeof(r->text), text);
        t = text_trim(r->text);
        memmove(r->text, t, strlen(t) + 1);
        if (r->text[0] == '\0')
                /* cppcheck-suppress memleak ; cppcheck does not model _cleanup_ */
                return bad(err, text, "empty");
        if (!is_range_text(r->text)) {
                if (!ref_tag_ok(r->text))
                        /* cppcheck-suppress memleak ; cppcheck does not model _cleanup_ */
                        return bad(err, text, "neither a range nor a tag ([A-Za-z0-9_][A-Za-z0-9_.-]*)");
                r->exact = true;
        } else {
                k = tokens_parse(r, text, err);
                if (k < 0)
                        return k;
        }
        *ret = steal_ptr(&r);
        return 0;
}

void range_free(struct bp_range *r)
{
        free(r);
}

void range_freep(struct bp_range **r)
{
        range_free(*r);
}

bool range_is_exact(const struct bp_range *r)
{
        return r && r->exact;
}

const char *range_exact_tag(const struct bp_range *r)
{
        return range_is_exact(r) ? r->text : NULL;
}

const char *range_best(const struct bp_range *r, char *const *tags, size_t n)
{
        struct bp_ver best_v = { 0 }, v;
        const char *best = NULL;

        if (!r || !tags)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                const char *t = tags[i];
                size_t len;

                if (!t)
                        continue;
                if (r->exact) {
                        if (strcmp(t, r->text) == 0)
                                return t;
                        continue;
                }
                len = strnlen(t, VERSION_TEXT_MAX + 1);
                if (len > VERSION_TEXT_MAX || ver_parse(t, len, /* allow_x= */ false, &v) ||
                    !range_admits(r, &v))
                        continue;
                if (!best || tag_better(&v, t, &best_v, best)) {
                        best = t;
                        best_v = v;
                }
        }
        return best;
}

int range_expand_template(const char *template, const char *version, char *buf, size_t size)
{
        static const char key[] = "{version}";
        char out[REF_TAG_MAX];
        size_t o = 0, vn;

        if (!template || !version || !buf)
                return -EINVAL;
        vn = strlen(version);
        for (const char *p = template; *p;) {
                const char *piece = p;
                size_t len = 1;

                if (text_has_prefix(p, key)) {
                        piece = version;
                        len = vn;
                        p += sizeof(key) - 1;
                } else {
                        p++;
                }
                /* Longer than docker's 128 characters is not a tag, whatever buf could hold. */
                if (len > sizeof(out) - 1 - o)
                        return -EINVAL;
                memcpy(out + o, piece, len);
                o += len;
        }
        out[o] = '\0';
        if (!ref_tag_ok(out))
                return -EINVAL;
        if (o >= size)
                return -ENOBUFS;
        memcpy(buf, out, o + 1);
        return 0;
}
