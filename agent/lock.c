/* agent/lock.c: see lock.h. */
#include "lock.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "age.h"
#include "cleanup.h"
#include "clock.h"
#include "fsio.h"
#include "jsonio.h"
#include "text.h"

#define LOCK_JSON_DEPTH 8

/* What the lock keeps of a service without a pin: the bad list of a first pin that failed (it still
 * holds), and the digests boardpin pulled for a first pin (one cut short too), so that a prune finds them.
 * Rendered as "unpinned" (bad) and "unpinned_pulled" (pulled): an older boardpin reads the first and
 * ignores the second. */
struct lock_unpinned {
        char service[SERVICE_NAME_MAX];
        char bad[LOCK_BAD_MAX][REF_DIGEST_MAX];
        size_t n_bad;
        char pulled[LOCK_PULLED_MAX][REF_DIGEST_MAX];
        size_t n_pulled;
};

struct bp_lock {
        struct bp_lock_entry *entries;
        size_t n;
        struct lock_unpinned *unpinned;
        size_t n_unpinned;
};

static const char *const step_names[] = {
        [LOCK_STEP_NONE] = "none",
        [LOCK_STEP_PULLING] = "pulling",
        [LOCK_STEP_SWITCHING] = "switching",
        [LOCK_STEP_CHECKING] = "checking",
        [LOCK_STEP_ROLLING_BACK] = "rolling_back",
};

const char *lock_step_name(enum lock_step step)
{
        return (size_t) step < sizeof(step_names) / sizeof(step_names[0]) ? step_names[step] : "none";
}

static void entry_done(struct bp_lock_entry *e)
{
        free(e->table);
        lock_entry_free(e->txn.before);
        memset(e, 0, sizeof(*e));
}

struct bp_lock *lock_new(void)
{
        return calloc(1, sizeof(struct bp_lock));
}

void lock_free(struct bp_lock *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                entry_done(&l->entries[i]);
        free(l->entries);
        free(l->unpinned);
        free(l);
}

void lock_freep(struct bp_lock **l)
{
        lock_free(*l);
}

size_t lock_count(const struct bp_lock *l)
{
        return l->n;
}

const struct bp_lock_entry *lock_entry(const struct bp_lock *l, size_t i)
{
        return i < l->n ? &l->entries[i] : NULL;
}

static struct bp_lock_entry *find(const struct bp_lock *l, const char *service)
{
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->entries[i].service, service) == 0)
                        return &l->entries[i];
        return NULL;
}

const struct bp_lock_entry *lock_find(const struct bp_lock *l, const char *service)
{
        return find(l, service);
}

/* A platform as the lock spells it: exactly what rules_format() writes, "os/arch" or "os/arch/variant",
 * fields as an index entry may have them. Not rules_parse(): that reads what people write, where a first
 * part it does not know as an OS is an architecture, so the "wasi/wasm" an index offers would come back
 * as linux/wasi/wasm, and the lock would refuse what it wrote. */
static int platform_of(const char *s, struct bp_oci *ret)
{
        char buf[RULES_NAME_MAX], name[RULES_NAME_MAX], *part[3] = { 0 }, *p;
        size_t n = 0;

        if (strlen(s) >= sizeof(buf))
                return -EINVAL;
        text_copy(buf, sizeof(buf), s);
        for (p = buf; n < 3; n++) {
                part[n] = p;
                p = strchr(p, '/');
                if (!p)
                        break;
                *p++ = '\0';
        }
        if (p || n < 1)
                return -EINVAL;         /* one part, or more than three */
        if (rules_from_fields(part[0], part[1], part[2], ret, NULL) < 0)
                return -EINVAL;
        return strcmp(rules_format(ret, name), s) == 0 ? 0 : -EINVAL;
}

static bool platform_ok(const char *s)
{
        struct bp_oci p;

        return platform_of(s, &p) == 0;
}

static bool image_ok(const char *s)
{
        struct bp_ref r;
        char name[REF_STRING_MAX];

        return ref_parse(s, &r, NULL) == 0 && strcmp(ref_name(&r, name), s) == 0;
}

static bool index_digest_ok(const char *s)
{
        return s[0] == '\0' || ref_digest_ok(s);
}

/* A service name for a message: lock.json is only as trustworthy as the disk it is on. */
static const char *show(const char *s, char buf[static 72])
{
        text_copy_clean(buf, 72, s);
        return buf;
}

/* One line of text: what render writes is what parse reads, and what reaches a terminal is harmless. */
static bool reason_ok(const char *s)
{
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

/* 0 (none), or a time that renders as RFC 3339 and reads back the same. */
static bool time_ok(int64_t t)
{
        char buf[32];

        return t == 0 || (t > 0 && clock_rfc3339(t, buf, sizeof(buf))[0]);
}

/* "SHA256:" and unpadded base64 of 32 bytes. */
static bool key_fp_ok(const char *s)
{
        if (!text_has_prefix(s, "SHA256:") || strlen(s) != strlen("SHA256:") + 43)
                return false;
        for (s += strlen("SHA256:"); *s; s++)
                if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
                      *s == '+' || *s == '/'))
                        return false;
        return true;
}

static bool sig_ok(const struct bp_lock_sig *g)
{
        if (g->state != LOCK_SIG_VERIFIED)
                return g->state == LOCK_SIG_NONE || g->state == LOCK_SIG_UNVERIFIED;
        return key_fp_ok(g->key) && (strcmp(g->format, "simple-signing") == 0 || strcmp(g->format, "bundle") == 0) &&
               ref_digest_ok(g->digest);
}

static int check_pin(const struct bp_lock_pin *p, const char *service, struct bp_err *err)
{
        char sh[72];

        if (!ref_tag_ok(p->tag))
                return bp_fail(err, -EBADMSG, "service '%s': bad 'tag'", show(service, sh));
        if (!ref_digest_ok(p->digest))
                return bp_fail(err, -EBADMSG, "service '%s': bad 'digest'", show(service, sh));
        if (!platform_ok(p->platform))
                return bp_fail(err, -EBADMSG, "service '%s': bad 'platform'", show(service, sh));
        if (!sig_ok(&p->sig))
                return bp_fail(err, -EBADMSG, "service '%s': bad 'verified'", show(service, sh));
        return 0;
}

/* Every check lock_parse() makes of an entry, made again by lock_set() before it records one: what the lock
 * holds is what it can read back. */
static int check_entry(const struct bp_lock_entry *e, struct bp_err *err)
{
        char sh[72], name[RULES_NAME_MAX];
        int r;

        if (!image_ok(e->image))
                return bp_fail(err, -EBADMSG, "service '%s': bad 'image'", show(e->service, sh));
        if (!index_digest_ok(e->index_digest))
                return bp_fail(err, -EBADMSG, "service '%s': bad 'index_digest'", show(e->service, sh));
        if (!platform_ok(e->target))
                return bp_fail(err, -EBADMSG, "service '%s': bad 'target'", show(e->service, sh));
        if ((r = check_pin(&e->pin, e->service, err)) < 0 ||
            (e->has_previous && (r = check_pin(&e->previous, e->service, err)) < 0))
                return r;
        if (e->n_bad > LOCK_BAD_MAX)
                return bp_fail(err, -EBADMSG, "service '%s': more than %d bad digests", show(e->service, sh),
                               LOCK_BAD_MAX);
        for (size_t i = 0; i < e->n_bad; i++)
                if (!ref_digest_ok(e->bad[i]))
                        return bp_fail(err, -EBADMSG, "service '%s': bad entry in 'bad'", show(e->service, sh));
        if (e->has_held && (!ref_digest_ok(e->held_digest) || !reason_ok(e->held_reason)))
                return bp_fail(err, -EBADMSG, "service '%s': bad 'held'", show(e->service, sh));
        if (e->n_pulled > LOCK_PULLED_MAX)
                return bp_fail(err, -EBADMSG, "service '%s': more than %d pulled digests", show(e->service, sh),
                               LOCK_PULLED_MAX);
        for (size_t i = 0; i < e->n_pulled; i++)
                if (!ref_digest_ok(e->pulled[i]))
                        return bp_fail(err, -EBADMSG, "service '%s': bad entry in 'pulled'", show(e->service, sh));
        if (e->interrupted > 0 && (e->interrupted > LOCK_INTERRUPTED_MAX || !ref_digest_ok(e->interrupted_digest)))
                return bp_fail(err, -EBADMSG, "service '%s': bad 'interrupted'", show(e->service, sh));
        if (!time_ok(e->upgraded_s))
                return bp_fail(err, -EBADMSG, "service '%s': bad 'upgraded_at'", show(e->service, sh));
        if (!time_ok(e->checked_s) || (e->check_passed && !e->checked_s))
                return bp_fail(err, -EBADMSG, "service '%s': bad 'check'", show(e->service, sh));
        if (e->txn.step != LOCK_STEP_NONE) {
                r = 0;
                if (e->txn.step > LOCK_STEP_ROLLING_BACK || !ref_digest_ok(e->txn.digest))
                        return bp_fail(err, -EBADMSG, "service '%s': bad 'txn'", show(e->service, sh));
                if (e->txn.before && (strcmp(e->txn.before->service, e->service) != 0 ||
                                      e->txn.before->txn.step != LOCK_STEP_NONE ||
                                      (r = check_entry(e->txn.before, err)) < 0))
                        return r < 0 ? bp_err_prefix(err, r, "in 'txn': ")
                                     : bp_fail(err, -EBADMSG, "service '%s': bad 'txn'", show(e->service, sh));
        }
        for (size_t i = 0; i < e->n_table; i++) {
                const struct bp_platform_digest *t = &e->table[i];

                /* the table is a JSON object keyed by platform: a second entry would be lost on reading */
                for (size_t j = 0; j < i; j++)
                        if (rules_equal(&e->table[j].platform, &t->platform))
                                return bp_fail(err, -EBADMSG, "service '%s': platform '%s' listed twice",
                                               show(e->service, sh), rules_format(&t->platform, name));
                if (!platform_ok(rules_format(&t->platform, name)) || !ref_digest_ok(t->digest))
                        return bp_fail(err, -EBADMSG, "service '%s': bad platform entry '%s'", show(e->service, sh),
                                       name);
        }
        return 0;
}

/* A string member into dst: required ones must be there; every one must be a string that fits. */
static int get_str(json_object *o, const char *key, char *dst, size_t size, bool required, const char *service,
                   struct bp_err *err)
{
        json_object *v;
        char sh[72];

        dst[0] = '\0';
        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
                if (required)
                        return bp_fail(err, -EBADMSG, "service '%s': no '%s'", show(service, sh), key);
                return 0;
        }
        if (!json_object_is_type(v, json_type_string) || (size_t) json_object_get_string_len(v) >= size)
                return bp_fail(err, -EBADMSG, "service '%s': bad '%s'", show(service, sh), key);
        text_copy(dst, size, json_object_get_string(v));
        return 0;
}

static int parse_pin(json_object *o, const char *service, struct bp_lock_pin *p, struct bp_err *err)
{
        json_object *v;
        char sh[72];
        int r;

        if (!json_object_is_type(o, json_type_object))
                return bp_fail(err, -EBADMSG, "service '%s': a pin is not an object", show(service, sh));
        if ((r = get_str(o, "tag", p->tag, sizeof(p->tag), true, service, err)) < 0 ||
            (r = get_str(o, "digest", p->digest, sizeof(p->digest), true, service, err)) < 0 ||
            (r = get_str(o, "platform", p->platform, sizeof(p->platform), true, service, err)) < 0 ||
            (r = get_str(o, "resolved_at", p->resolved_at, sizeof(p->resolved_at), false, service, err)) < 0)
                return r;
        /* "verified" and "unverified" are absent from a lock written without verify =. */
        if (json_object_object_get_ex(o, "verified", &v) && !json_object_is_type(v, json_type_null)) {
                if (!json_object_is_type(v, json_type_object))
                        return bp_fail(err, -EBADMSG, "service '%s': bad 'verified'", show(service, sh));
                if ((r = get_str(v, "key", p->sig.key, sizeof(p->sig.key), true, service, err)) < 0 ||
                    (r = get_str(v, "format", p->sig.format, sizeof(p->sig.format), true, service, err)) < 0 ||
                    (r = get_str(v, "digest", p->sig.digest, sizeof(p->sig.digest), true, service, err)) < 0)
                        return r;
                p->sig.state = LOCK_SIG_VERIFIED;
        }
        if (json_object_object_get_ex(o, "unverified", &v) && !json_object_is_type(v, json_type_null)) {
                if (!json_object_is_type(v, json_type_boolean) || !json_object_get_boolean(v) ||
                    p->sig.state != LOCK_SIG_NONE)
                        return bp_fail(err, -EBADMSG, "service '%s': bad 'unverified'", show(service, sh));
                p->sig.state = LOCK_SIG_UNVERIFIED;
        }
        return 0;
}

static int parse_table(json_object *o, const char *service, struct bp_lock_entry *e, struct bp_err *err)
{
        char sh[72], key_sh[72];
        size_t n = 0;

        if (!json_object_is_type(o, json_type_object))
                return bp_fail(err, -EBADMSG, "service '%s': 'platforms' is not an object", show(service, sh));
        e->table = calloc((size_t) json_object_object_length(o) + 1, sizeof(*e->table));
        if (!e->table)
                return bp_fail(err, -ENOMEM, "out of memory");
        json_object_object_foreach(o, key, val) {
                if (platform_of(key, &e->table[n].platform) < 0 || !json_object_is_type(val, json_type_string) ||
                    !ref_digest_ok(json_object_get_string(val)))
                        return bp_fail(err, -EBADMSG, "service '%s': bad platform entry '%s'", show(service, sh),
                                       show(key, key_sh));
                text_copy(e->table[n].digest, REF_DIGEST_MAX, json_object_get_string(val));
                e->n_table = ++n;
        }
        return 0;
}

/* "bad": an array of digests, absent or null when there are none. */
static int parse_bad(json_object *o, const char *service, struct bp_lock_entry *e, struct bp_err *err)
{
        size_t n;
        char sh[72];

        if (!json_object_is_type(o, json_type_array))
                return bp_fail(err, -EBADMSG, "service '%s': 'bad' is not an array", show(service, sh));
        n = json_object_array_length(o);
        if (n > LOCK_BAD_MAX)
                return bp_fail(err, -EBADMSG, "service '%s': more than %d bad digests", show(service, sh),
                               LOCK_BAD_MAX);
        for (size_t i = 0; i < n; i++) {
                json_object *v = json_object_array_get_idx(o, i);

                if (!json_object_is_type(v, json_type_string) ||
                    (size_t) json_object_get_string_len(v) >= REF_DIGEST_MAX)
                        return bp_fail(err, -EBADMSG, "service '%s': bad entry in 'bad'", show(service, sh));
                text_copy(e->bad[i], REF_DIGEST_MAX, json_object_get_string(v));
        }
        e->n_bad = n;
        return 0;
}

/* "pulled": an array of digests, absent when there are none. */
static int parse_pulled(json_object *o, const char *service, struct bp_lock_entry *e, struct bp_err *err)
{
        char sh[72];
        size_t n;

        if (!json_object_is_type(o, json_type_array) || (n = json_object_array_length(o)) > LOCK_PULLED_MAX)
                return bp_fail(err, -EBADMSG, "service '%s': bad 'pulled'", show(service, sh));
        for (size_t i = 0; i < n; i++) {
                json_object *v = json_object_array_get_idx(o, i);

                if (!json_object_is_type(v, json_type_string) ||
                    (size_t) json_object_get_string_len(v) >= REF_DIGEST_MAX)
                        return bp_fail(err, -EBADMSG, "service '%s': bad entry in 'pulled'", show(service, sh));
                text_copy(e->pulled[i], REF_DIGEST_MAX, json_object_get_string(v));
        }
        e->n_pulled = n;
        return 0;
}

/* A small count: a JSON integer from 1 to max. */
static int get_count(json_object *o, const char *key, unsigned max, unsigned *ret)
{
        json_object *v;
        int64_t n;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return -EBADMSG;
        n = json_object_get_int64(v);
        if (n < 1 || n > (int64_t) max)
                return -EBADMSG;
        *ret = (unsigned) n;
        return 0;
}

/* "interrupted": {"digest": …, "count": N}: checks of digest that were cut short. */
static int parse_interrupted(json_object *o, const char *service, struct bp_lock_entry *e, struct bp_err *err)
{
        char sh[72];
        int r;

        if (!json_object_is_type(o, json_type_object))
                return bp_fail(err, -EBADMSG, "service '%s': 'interrupted' is not an object", show(service, sh));
        r = get_str(o, "digest", e->interrupted_digest, sizeof(e->interrupted_digest), true, service, err);
        if (r < 0)
                return r;
        if (get_count(o, "count", LOCK_INTERRUPTED_MAX, &e->interrupted) < 0)
                return bp_fail(err, -EBADMSG, "service '%s': bad 'count' in 'interrupted'", show(service, sh));
        return 0;
}

static int parse_entry(const char *service, json_object *o, struct bp_lock_entry *e, bool nested,
                       struct bp_err *err);

/* An RFC 3339 time in the one form clock_rfc3339() writes ("2026-12-07T09:30:00Z"), so that it renders
 * back byte for byte. */
static int get_time(json_object *o, const char *key, bool required, int64_t *ret, const char *service,
                    struct bp_err *err)
{
        char text[32], again[32], sh[72];
        int64_t t;
        int r = get_str(o, key, text, sizeof(text), required, service, err);

        if (r < 0)
                return r;
        *ret = 0;
        if (!text[0] && !required)
                return 0;
        if (age_parse_created(text, &t) < 0 || t <= 0 ||
            strcmp(clock_rfc3339(t, again, sizeof(again)), text) != 0)
                return bp_fail(err, -EBADMSG, "service '%s': bad '%s'", show(service, sh), key);
        *ret = t;
        return 0;
}

/* "check": {"at": …, "passed": true|false}: the last check an upgrade made. */
static int parse_check(json_object *o, const char *service, struct bp_lock_entry *e, struct bp_err *err)
{
        json_object *v;
        char sh[72];
        int r;

        if (!json_object_is_type(o, json_type_object))
                return bp_fail(err, -EBADMSG, "service '%s': 'check' is not an object", show(service, sh));
        r = get_time(o, "at", /* required= */ true, &e->checked_s, service, err);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(o, "passed", &v) || !json_object_is_type(v, json_type_boolean))
                return bp_fail(err, -EBADMSG, "service '%s': bad 'passed' in 'check'", show(service, sh));
        e->check_passed = json_object_get_boolean(v);
        return 0;
}

/* "txn": {"step": …, "digest": …, "pull_new": true, "before": {entry} or null}: a switch in progress. */
static int parse_txn(json_object *o, const char *service, struct bp_lock_entry *e, struct bp_err *err)
{
        char sh[72], step[16];
        json_object *v;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return bp_fail(err, -EBADMSG, "service '%s': 'txn' is not an object", show(service, sh));
        r = get_str(o, "step", step, sizeof(step), true, service, err);
        if (r == 0)
                r = get_str(o, "digest", e->txn.digest, sizeof(e->txn.digest), true, service, err);
        if (r < 0)
                return r;
        for (size_t i = LOCK_STEP_PULLING; i <= LOCK_STEP_ROLLING_BACK; i++)
                if (strcmp(step, step_names[i]) == 0)
                        e->txn.step = (enum lock_step) i;
        if (e->txn.step == LOCK_STEP_NONE)
                return bp_fail(err, -EBADMSG, "service '%s': bad 'step' in 'txn'", show(service, sh));
        if (json_object_object_get_ex(o, "pull_new", &v)) {
                if (!json_object_is_type(v, json_type_boolean))
                        return bp_fail(err, -EBADMSG, "service '%s': bad 'pull_new' in 'txn'", show(service, sh));
                e->txn.pull_new = json_object_get_boolean(v);
        }
        if (!json_object_object_get_ex(o, "before", &v))
                return bp_fail(err, -EBADMSG, "service '%s': no 'before' in 'txn'", show(service, sh));
        if (json_object_is_type(v, json_type_null))
                return 0;
        e->txn.before = calloc(1, sizeof(*e->txn.before));
        if (!e->txn.before)
                return bp_fail(err, -ENOMEM, "out of memory");
        return parse_entry(service, v, e->txn.before, /* nested= */ true, err);
}

/* "held": {"digest": …, "reason": …, "code": …}; the reason must be whole text: an embedded NUL would not
 * read back. A code this boardpin does not know (a newer one's) reads as none, like an unknown member. */
static int parse_held(json_object *o, const char *service, struct bp_lock_entry *e, struct bp_err *err)
{
        json_object *v;
        char sh[72], code[64] = "";
        int r;

        if (!json_object_is_type(o, json_type_object))
                return bp_fail(err, -EBADMSG, "service '%s': 'held' is not an object", show(service, sh));
        r = get_str(o, "digest", e->held_digest, sizeof(e->held_digest), true, service, err);
        if (r == 0)
                r = get_str(o, "reason", e->held_reason, sizeof(e->held_reason), true, service, err);
        if (r == 0)
                r = get_str(o, "code", code, sizeof(code), false, service, err);
        if (r < 0)
                return r;
        e->held_code = hold_from_name(code);
        if (json_object_object_get_ex(o, "reason", &v) &&
            strlen(e->held_reason) != (size_t) json_object_get_string_len(v))
                return bp_fail(err, -EBADMSG, "service '%s': bad 'reason'", show(service, sh));
        e->has_held = true;
        return 0;
}

/* nested: the "before" of a transaction, which has the pins and table only. */
static int parse_entry(const char *service, json_object *o, struct bp_lock_entry *e, bool nested,
                       struct bp_err *err)
{
        json_object *v;
        char sh[72];
        int r;

        if (strlen(service) >= sizeof(e->service) || !json_object_is_type(o, json_type_object))
                return bp_fail(err, -EBADMSG, "service '%s': not an object", show(service, sh));
        text_copy(e->service, sizeof(e->service), service);
        if ((r = get_str(o, "image", e->image, sizeof(e->image), true, service, err)) < 0 ||
            (r = get_str(o, "version", e->version, sizeof(e->version), true, service, err)) < 0 ||
            (r = get_str(o, "index_digest", e->index_digest, sizeof(e->index_digest), false, service, err)) < 0 ||
            (r = get_str(o, "target", e->target, sizeof(e->target), true, service, err)) < 0)
                return r;
        if (!json_object_object_get_ex(o, "pin", &v) || (r = parse_pin(v, service, &e->pin, err)) < 0)
                return r < 0 ? r : bp_fail(err, -EBADMSG, "service '%s': no 'pin'", show(service, sh));
        if (json_object_object_get_ex(o, "previous", &v) && !json_object_is_type(v, json_type_null)) {
                r = parse_pin(v, service, &e->previous, err);
                if (r < 0)
                        return r;
                e->has_previous = true;
        }
        if (json_object_object_get_ex(o, "bad", &v) && !json_object_is_type(v, json_type_null) &&
            (r = parse_bad(v, service, e, err)) < 0)
                return r;
        if (json_object_object_get_ex(o, "held", &v) && !json_object_is_type(v, json_type_null) &&
            (r = parse_held(v, service, e, err)) < 0)
                return r;
        if (json_object_object_get_ex(o, "pulled", &v) && (r = parse_pulled(v, service, e, err)) < 0)
                return r;
        if (json_object_object_get_ex(o, "interrupted", &v) && (r = parse_interrupted(v, service, e, err)) < 0)
                return r;
        if ((r = get_time(o, "upgraded_at", /* required= */ false, &e->upgraded_s, service, err)) < 0)
                return r;
        if (json_object_object_get_ex(o, "check", &v) && (r = parse_check(v, service, e, err)) < 0)
                return r;
        if (!nested && json_object_object_get_ex(o, "txn", &v) && (r = parse_txn(v, service, e, err)) < 0)
                return r;
        if (!json_object_object_get_ex(o, "platforms", &v))
                return bp_fail(err, -EBADMSG, "service '%s': no 'platforms'", show(service, sh));
        r = parse_table(v, service, e, err);
        if (r < 0)
                return r;
        return check_entry(e, err);
}

/* "unpinned": {"SERVICE": {"bad": [digests]}}: the bad lists of services whose first pin failed. */
static int parse_unpinned(json_object *o, struct bp_lock *l, struct bp_err *err)
{
        if (!json_object_is_type(o, json_type_object))
                return bp_fail(err, -EBADMSG, "'unpinned' is not an object");
        l->unpinned = calloc((size_t) json_object_object_length(o) + 1, sizeof(*l->unpinned));
        if (!l->unpinned)
                return bp_fail(err, -ENOMEM, "out of memory");
        json_object_object_foreach(o, name, val) {
                struct lock_unpinned *u = &l->unpinned[l->n_unpinned];
                struct bp_lock_entry tmp = { 0 };
                json_object *bad;
                char sh[72];
                int r;

                if (strlen(name) >= sizeof(u->service) || find(l, name) || !json_object_is_type(val, json_type_object) ||
                    !json_object_object_get_ex(val, "bad", &bad))
                        return bp_fail(err, -EBADMSG, "unpinned service '%s': bad entry", show(name, sh));
                r = parse_bad(bad, name, &tmp, err);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < tmp.n_bad; i++)
                        if (!ref_digest_ok(tmp.bad[i]))
                                return bp_fail(err, -EBADMSG, "unpinned service '%s': bad entry in 'bad'",
                                               show(name, sh));
                if (tmp.n_bad == 0)
                        return bp_fail(err, -EBADMSG, "unpinned service '%s': empty 'bad'", show(name, sh));
                text_copy(u->service, sizeof(u->service), name);
                memcpy(u->bad, tmp.bad, sizeof(u->bad));
                u->n_bad = tmp.n_bad;
                l->n_unpinned++;
        }
        return 0;
}

static struct lock_unpinned *find_unpinned(const struct bp_lock *l, const char *service);
static struct lock_unpinned *add_unpinned(struct bp_lock *l, const char *service);

/* "unpinned_pulled": {"SERVICE": [digests]}: what boardpin pulled for services without a pin. */
static int parse_unpinned_pulled(json_object *o, struct bp_lock *l, struct bp_err *err)
{
        if (!json_object_is_type(o, json_type_object))
                return bp_fail(err, -EBADMSG, "'unpinned_pulled' is not an object");
        json_object_object_foreach(o, name, val) {
                struct bp_lock_entry tmp = { 0 };
                struct lock_unpinned *u;
                char sh[72];
                int r;

                if (strlen(name) >= sizeof(u->service) || find(l, name))
                        return bp_fail(err, -EBADMSG, "unpinned service '%s': bad entry", show(name, sh));
                r = parse_pulled(val, name, &tmp, err);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < tmp.n_pulled; i++)
                        if (!ref_digest_ok(tmp.pulled[i]))
                                return bp_fail(err, -EBADMSG, "unpinned service '%s': bad entry in 'pulled'",
                                               show(name, sh));
                if (tmp.n_pulled == 0)
                        return bp_fail(err, -EBADMSG, "unpinned service '%s': empty 'pulled'", show(name, sh));
                u = find_unpinned(l, name);
                if (!u && !(u = add_unpinned(l, name)))
                        return bp_fail(err, -ENOMEM, "out of memory");
                memcpy(u->pulled, tmp.pulled, sizeof(u->pulled));
                u->n_pulled = tmp.n_pulled;
        }
        return 0;
}

int lock_parse(const char *text, size_t len, struct bp_lock **ret, struct bp_err *err)
{
        _cleanup_(lock_freep) struct bp_lock *l = lock_new();
        _cleanup_(jsonio_putp) json_object *o = NULL;
        json_object *v, *services;
        int r;

        if (!l)
                return bp_fail(err, -ENOMEM, "out of memory");
        r = jsonio_parse_object(text, len, LOCK_MAX_BYTES, LOCK_JSON_DEPTH, LOCK_NAME, &o, err);
        if (r < 0)
                return r == -EINVAL ? -EBADMSG : r;
        if (!json_object_object_get_ex(o, "schema", &v) || !json_object_is_type(v, json_type_int) ||
            json_object_get_int64(v) != LOCK_SCHEMA)
                return bp_fail(err, -EBADMSG, "schema is not %d", LOCK_SCHEMA);
        if (!json_object_object_get_ex(o, "services", &services) || !json_object_is_type(services, json_type_object))
                return bp_fail(err, -EBADMSG, "'services' is not an object");
        l->entries = calloc((size_t) json_object_object_length(services) + 1, sizeof(*l->entries));
        if (!l->entries)
                return bp_fail(err, -ENOMEM, "out of memory");
        json_object_object_foreach(services, name, val) {
                r = parse_entry(name, val, &l->entries[l->n], /* nested= */ false, err);
                l->n++;         /* counted even when half-filled, so lock_free() frees its table */
                if (r < 0)
                        return r;
        }
        if (json_object_object_get_ex(o, "unpinned", &v) && (r = parse_unpinned(v, l, err)) < 0)
                return r;
        if (json_object_object_get_ex(o, "unpinned_pulled", &v) && (r = parse_unpinned_pulled(v, l, err)) < 0)
                return r;
        *ret = steal_ptr(&l);
        return 0;
}

int lock_read(const char *dir, struct bp_lock **ret, struct bp_err *err)
{
        _cleanup_free_ char *text = NULL;
        char path[PATH_MAX];
        size_t len;
        int r;

        if (snprintf(path, sizeof(path), "%s/%s", dir, LOCK_NAME) >= (int) sizeof(path))
                return bp_fail(err, -ENAMETOOLONG, "'%s': path too long", dir);
        r = fsio_read(path, LOCK_MAX_BYTES, &text, &len, err);
        if (r < 0)
                return r;
        r = lock_parse(text, len, ret, err);
        if (r < 0)
                return bp_err_prefix(err, r, "%s: ", path);
        return 0;
}

static json_object *pin_json(const struct bp_lock_pin *p)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "tag", json_object_new_string(p->tag));
        json_object_object_add(o, "digest", json_object_new_string(p->digest));
        json_object_object_add(o, "platform", json_object_new_string(p->platform));
        json_object_object_add(o, "resolved_at", json_object_new_string(p->resolved_at));
        /* Only when checked: a lock written without verify = renders as it always did. */
        if (p->sig.state == LOCK_SIG_VERIFIED) {
                json_object *g = json_object_new_object();

                json_object_object_add(g, "key", json_object_new_string(p->sig.key));
                json_object_object_add(g, "format", json_object_new_string(p->sig.format));
                json_object_object_add(g, "digest", json_object_new_string(p->sig.digest));
                json_object_object_add(o, "verified", g);
        } else if (p->sig.state == LOCK_SIG_UNVERIFIED) {
                json_object_object_add(o, "unverified", json_object_new_boolean(true));
        }
        return o;
}

static json_object *digests_json(const char (*d)[REF_DIGEST_MAX], size_t n)
{
        json_object *a = json_object_new_array();

        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, json_object_new_string(d[i]));
        return a;
}

static json_object *entry_json(const struct bp_lock_entry *e)
{
        json_object *o = json_object_new_object(), *t = json_object_new_object();
        char name[RULES_NAME_MAX], at[32];

        json_object_object_add(o, "image", json_object_new_string(e->image));
        json_object_object_add(o, "version", json_object_new_string(e->version));
        json_object_object_add(o, "index_digest", e->index_digest[0] ? json_object_new_string(e->index_digest) : NULL);
        for (size_t i = 0; i < e->n_table; i++)
                json_object_object_add(t, rules_format(&e->table[i].platform, name),
                                       json_object_new_string(e->table[i].digest));
        json_object_object_add(o, "platforms", t);
        json_object_object_add(o, "target", json_object_new_string(e->target));
        json_object_object_add(o, "pin", pin_json(&e->pin));
        json_object_object_add(o, "previous", e->has_previous ? pin_json(&e->previous) : NULL);
        /* Only when there are any: a lock without them renders as it always did. */
        if (e->n_bad > 0) {
                json_object *bad = json_object_new_array();

                for (size_t i = 0; i < e->n_bad; i++)
                        json_object_array_add(bad, json_object_new_string(e->bad[i]));
                json_object_object_add(o, "bad", bad);
        }
        if (e->has_held) {
                json_object *h = json_object_new_object();

                json_object_object_add(h, "digest", json_object_new_string(e->held_digest));
                json_object_object_add(h, "reason", json_object_new_string(e->held_reason));
                if (hold_name(e->held_code))
                        json_object_object_add(h, "code", json_object_new_string(hold_name(e->held_code)));
                json_object_object_add(o, "held", h);
        }
        if (e->n_pulled > 0)
                json_object_object_add(o, "pulled", digests_json(e->pulled, e->n_pulled));
        if (e->interrupted > 0) {
                json_object *h = json_object_new_object();

                json_object_object_add(h, "digest", json_object_new_string(e->interrupted_digest));
                json_object_object_add(h, "count", json_object_new_int((int) e->interrupted));
                json_object_object_add(o, "interrupted", h);
        }
        /* Only when recorded: a lock of an older boardpin renders as it always did. */
        if (e->upgraded_s > 0)
                json_object_object_add(o, "upgraded_at",
                                       json_object_new_string(clock_rfc3339(e->upgraded_s, at, sizeof(at))));
        if (e->checked_s > 0) {
                json_object *h = json_object_new_object();

                json_object_object_add(h, "at", json_object_new_string(clock_rfc3339(e->checked_s, at, sizeof(at))));
                json_object_object_add(h, "passed", json_object_new_boolean(e->check_passed));
                json_object_object_add(o, "check", h);
        }
        /* Only while a transaction is open: a lock at rest renders as it always did. */
        if (e->txn.step != LOCK_STEP_NONE) {
                json_object *tx = json_object_new_object();

                json_object_object_add(tx, "step", json_object_new_string(lock_step_name(e->txn.step)));
                json_object_object_add(tx, "digest", json_object_new_string(e->txn.digest));
                if (e->txn.pull_new)
                        json_object_object_add(tx, "pull_new", json_object_new_boolean(true));
                json_object_object_add(tx, "before", e->txn.before ? entry_json(e->txn.before) : NULL);
                json_object_object_add(o, "txn", tx);
        }
        return o;
}

static int by_service(const void *a, const void *b)
{
        return strcmp(((const struct bp_lock_entry *) a)->service, ((const struct bp_lock_entry *) b)->service);
}

int lock_render(const struct bp_lock *l, char **ret, size_t *ret_len, struct bp_err *err)
{
        _cleanup_(jsonio_putp) json_object *o = json_object_new_object();
        json_object *services = json_object_new_object();
        _cleanup_free_ struct bp_lock_entry *sorted = calloc(l->n + 1, sizeof(*sorted));
        const char *s;
        size_t len;

        if (!o || !services || !sorted) {
                json_object_put(services);
                return bp_fail(err, -ENOMEM, "out of memory");
        }
        if (l->n > 0)           /* an empty lock may have no entries at all: memcpy(p, NULL, 0) is undefined */
                memcpy(sorted, l->entries, l->n * sizeof(*sorted));
        qsort(sorted, l->n, sizeof(*sorted), by_service);
        json_object_object_add(o, "schema", json_object_new_int(LOCK_SCHEMA));
        for (size_t i = 0; i < l->n; i++)
                json_object_object_add(services, sorted[i].service, entry_json(&sorted[i]));
        json_object_object_add(o, "services", services);
        /* Each only when it has something: a lock without them renders as it always did. */
        for (size_t i = 0, any = 0; i < l->n_unpinned; i++)
                if (l->unpinned[i].n_bad > 0) {
                        json_object *u, *one = json_object_new_object();

                        if (!any++)
                                json_object_object_add(o, "unpinned", json_object_new_object());
                        u = json_object_object_get(o, "unpinned");
                        json_object_object_add(one, "bad", digests_json(l->unpinned[i].bad, l->unpinned[i].n_bad));
                        json_object_object_add(u, l->unpinned[i].service, one);
                }
        for (size_t i = 0, any = 0; i < l->n_unpinned; i++)
                if (l->unpinned[i].n_pulled > 0) {
                        if (!any++)
                                json_object_object_add(o, "unpinned_pulled", json_object_new_object());
                        json_object_object_add(json_object_object_get(o, "unpinned_pulled"), l->unpinned[i].service,
                                               digests_json(l->unpinned[i].pulled, l->unpinned[i].n_pulled));
                }
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s)
                return bp_fail(err, -ENOMEM, "out of memory");
        len = strlen(s) + 1;
        if (len > LOCK_MAX_BYTES)       /* pretty printing makes it larger: never write what cannot be read */
                return bp_fail(err, -EFBIG, "lock larger than %d bytes", LOCK_MAX_BYTES);
        if (asprintf(ret, "%s\n", s) < 0)
                return bp_fail(err, -ENOMEM, "out of memory");
        *ret_len = len;
        return 0;
}

/* Wall-clock time as RFC 3339, in 64 bits so that a 32-bit board writes it past 2038 too. */
static void now_rfc3339(char buf[static 32])
{
        struct timespec ts;

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        (void) clock_rfc3339(clock_ms_of(&ts) / 1000, buf, 32);
}

static bool fits(size_t size, const char *s)
{
        return strlen(s) < size;
}

static struct lock_unpinned *find_unpinned(const struct bp_lock *l, const char *service)
{
        for (size_t i = 0; i < l->n_unpinned; i++)
                if (strcmp(l->unpinned[i].service, service) == 0)
                        return &l->unpinned[i];
        return NULL;
}

/* A new, empty record for service, which has none; NULL when out of memory. */
static struct lock_unpinned *add_unpinned(struct bp_lock *l, const char *service)
{
        struct lock_unpinned *q = reallocarray(l->unpinned, l->n_unpinned + 1, sizeof(*q));

        if (!q)
                return NULL;
        l->unpinned = q;
        memset(&q[l->n_unpinned], 0, sizeof(*q));
        text_copy(q[l->n_unpinned].service, sizeof(q->service), service);
        return &q[l->n_unpinned++];
}

/* Forget u when it holds nothing any more. */
static void unpinned_tidy(struct bp_lock *l, struct lock_unpinned *u)
{
        if (u && u->n_bad == 0 && u->n_pulled == 0)
                *u = l->unpinned[--l->n_unpinned];
}

static struct bp_lock_entry *add_entry(struct bp_lock *l)
{
        struct bp_lock_entry *q = reallocarray(l->entries, l->n + 1, sizeof(*q));

        if (!q)
                return NULL;
        l->entries = q;
        memset(&q[l->n], 0, sizeof(*q));
        return &q[l->n++];
}

int lock_set(struct bp_lock *l, const char *service, const char *image, const char *version, const char *tag,
             const char *target, const struct bp_resolution *r, struct bp_err *err)
{
        struct bp_lock_entry *e = find(l, service), next = { 0 };
        _cleanup_free_ struct bp_platform_digest *table = calloc(r->n_table + 1, sizeof(*table));
        char name[RULES_NAME_MAX], sh[72];

        if (!table)
                return bp_fail(err, -ENOMEM, "out of memory");
        if (!fits(sizeof(next.service), service) || !fits(sizeof(next.image), image) ||
            !fits(sizeof(next.version), version) || !fits(sizeof(next.pin.tag), tag) ||
            !fits(sizeof(next.target), target) || !fits(sizeof(next.pin.digest), r->digest) ||
            !fits(sizeof(next.index_digest), r->index_digest))
                /* cppcheck-suppress memleak ; cppcheck does not model _cleanup_ */
                return bp_fail(err, -EINVAL, "service '%s': a field is too long for the lock", show(service, sh));
        if (e)
                next = *e;      /* its table is replaced below, and freed only once next is recorded */
        if (next.pin.digest[0] && strcmp(next.pin.digest, r->digest) != 0) {
                next.previous = next.pin;
                next.has_previous = true;
        }
        if (r->n_table > 0)
                memcpy(table, r->table, r->n_table * sizeof(*table));
        next.table = table;
        next.n_table = r->n_table;
        text_copy(next.service, sizeof(next.service), service);
        text_copy(next.image, sizeof(next.image), image);
        text_copy(next.version, sizeof(next.version), version);
        text_copy(next.index_digest, sizeof(next.index_digest), r->index_digest);
        text_copy(next.target, sizeof(next.target), target);
        if (strcmp(next.pin.digest, r->digest) != 0 || strcmp(next.pin.tag, tag) != 0)
                now_rfc3339(next.pin.resolved_at);
        if (strcmp(next.pin.digest, r->digest) != 0)
                memset(&next.pin.sig, 0, sizeof(next.pin.sig)); /* what signed the old digest says nothing */
        if (r->sig.state != LOCK_SIG_NONE)
                next.pin.sig = r->sig;
        text_copy(next.pin.tag, sizeof(next.pin.tag), tag);
        text_copy(next.pin.digest, sizeof(next.pin.digest), r->digest);
        text_copy(next.pin.platform, sizeof(next.pin.platform), rules_format(&r->platform, name));
        if (check_entry(&next, err) < 0)
                return bp_err_prefix(err, -EINVAL, "not recorded: ");
        if (!e) {
                struct lock_unpinned *u = find_unpinned(l, service);

                if (!(e = add_entry(l)))
                        return bp_fail(err, -ENOMEM, "out of memory");
                if (u) {        /* its bad list holds for its first pin as for any other */
                        memcpy(next.bad, u->bad, sizeof(next.bad));
                        next.n_bad = u->n_bad;
                        memcpy(next.pulled, u->pulled, sizeof(next.pulled));
                        next.n_pulled = u->n_pulled;
                        *u = l->unpinned[--l->n_unpinned];
                }
        }
        free(e->table);
        *e = next;
        table = NULL;           /* the entry's now */
        return 0;
}

int lock_repin(struct bp_lock *l, const char *service, const struct bp_platform_digest *pick, const char *target,
               struct bp_err *err)
{
        struct bp_lock_entry *e = find(l, service), next;
        char name[RULES_NAME_MAX], sh[72];

        if (!e)
                return bp_fail(err, -ENOENT, "service '%s': not in the lock", show(service, sh));
        if (!fits(sizeof(next.target), target))
                return bp_fail(err, -EINVAL, "service '%s': target too long for the lock", show(service, sh));
        next = *e;
        if (strcmp(next.pin.digest, pick->digest) != 0) {
                next.previous = next.pin;
                next.has_previous = true;
                text_copy(next.pin.digest, sizeof(next.pin.digest), pick->digest);
                text_copy(next.pin.platform, sizeof(next.pin.platform), rules_format(&pick->platform, name));
                /* A signature over the index covers every child it lists; one on the old child does not. */
                if (next.pin.sig.state != LOCK_SIG_VERIFIED || strcmp(next.pin.sig.digest, e->index_digest) != 0)
                        memset(&next.pin.sig, 0, sizeof(next.pin.sig));
        }
        text_copy(next.target, sizeof(next.target), target);
        if (check_entry(&next, err) < 0)
                return bp_err_prefix(err, -EINVAL, "not recorded: ");
        *e = next;              /* the same table, which pick may point into */
        return 0;
}

int lock_set_sig(struct bp_lock *l, const char *service, const struct bp_lock_sig *sig, struct bp_err *err)
{
        struct bp_lock_entry *e = find(l, service);
        char sh[72];

        if (!e)
                return bp_fail(err, -ENOENT, "service '%s': not in the lock", show(service, sh));
        if (!sig_ok(sig) || strlen(sig->key) >= sizeof(sig->key))
                return bp_fail(err, -EINVAL, "service '%s': a signature the lock cannot record", show(service, sh));
        e->pin.sig = *sig;
        return 0;
}

static bool named(const char *service, const char *const *keep, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(keep[i], service) == 0)
                        return true;
        return false;
}

size_t lock_prune(struct bp_lock *l, const char *const *keep, size_t n)
{
        size_t kept = 0, gone;

        for (size_t i = 0; i < l->n; i++) {
                if (named(l->entries[i].service, keep, n))
                        l->entries[kept++] = l->entries[i];
                else
                        entry_done(&l->entries[i]);
        }
        gone = l->n - kept;
        l->n = kept;
        kept = 0;
        for (size_t i = 0; i < l->n_unpinned; i++)
                if (named(l->unpinned[i].service, keep, n))
                        l->unpinned[kept++] = l->unpinned[i];
        l->n_unpinned = kept;
        return gone;
}

int lock_pick(const struct bp_lock_entry *e, const struct bp_oci *compatible, size_t n,
              const struct bp_platform_digest **ret)
{
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < e->n_table; j++)
                        if (rules_equal(&compatible[i], &e->table[j].platform)) {
                                *ret = &e->table[j];
                                return 0;
                        }
        return -ENOENT;
}

int lock_resolution(const struct bp_lock_entry *e, struct bp_resolution *ret)
{
        struct bp_resolution r = { 0 };

        text_copy(r.index_digest, sizeof(r.index_digest), e->index_digest);
        text_copy(r.digest, sizeof(r.digest), e->pin.digest);
        if (platform_of(e->pin.platform, &r.platform) < 0)
                return -EINVAL;
        r.table = calloc(e->n_table + 1, sizeof(*r.table));
        if (!r.table)
                return -ENOMEM;
        if (e->n_table > 0)
                memcpy(r.table, e->table, e->n_table * sizeof(*r.table));
        r.n_table = e->n_table;
        *ret = r;
        return 0;
}

bool lock_is_bad(const struct bp_lock_entry *e, const char *digest)
{
        for (size_t i = 0; e && i < e->n_bad; i++)
                if (strcmp(e->bad[i], digest) == 0)
                        return true;
        return false;
}

int lock_add_bad(struct bp_lock *l, const char *service, const char *digest, struct bp_err *err)
{
        struct bp_lock_entry *e = find(l, service);
        size_t k = 0;
        char sh[72];

        if (!e)
                return bp_fail(err, -ENOENT, "service '%s': not in the lock", show(service, sh));
        if (!ref_digest_ok(digest))
                return bp_fail(err, -EINVAL, "service '%s': '%s' is not a digest", show(service, sh), digest);
        for (size_t i = 0; i < e->n_bad; i++)
                if (strcmp(e->bad[i], digest) != 0)
                        memmove(e->bad[k++], e->bad[i], REF_DIGEST_MAX);
        if (k == LOCK_BAD_MAX) {
                memmove(e->bad[0], e->bad[1], (LOCK_BAD_MAX - 1) * sizeof(e->bad[0]));
                k--;
        }
        text_copy(e->bad[k++], REF_DIGEST_MAX, digest);
        e->n_bad = k;
        return 0;
}

int lock_set_held(struct bp_lock *l, const char *service, const char *digest, enum bp_hold code,
                  const char *reason, struct bp_err *err)
{
        struct bp_lock_entry *e = find(l, service);
        char sh[72];

        if (!e)
                return bp_fail(err, -ENOENT, "service '%s': not in the lock", show(service, sh));
        if (!ref_digest_ok(digest))
                return bp_fail(err, -EINVAL, "service '%s': '%s' is not a digest", show(service, sh), digest);
        text_copy(e->held_digest, sizeof(e->held_digest), digest);
        text_copy_clean(e->held_reason, sizeof(e->held_reason), reason);
        e->held_code = code;
        e->has_held = true;
        return 0;
}

void lock_clear_held(struct bp_lock *l, const char *service)
{
        struct bp_lock_entry *e = find(l, service);

        if (!e)
                return;
        e->has_held = false;
        e->held_digest[0] = e->held_reason[0] = '\0';
        e->held_code = BP_HOLD_NONE;
}

int lock_entry_copy(const struct bp_lock_entry *e, struct bp_lock_entry **ret)
{
        struct bp_lock_entry *c = malloc(sizeof(*c));

        if (!c)
                return -ENOMEM;
        *c = *e;
        memset(&c->txn, 0, sizeof(c->txn));
        c->table = calloc(e->n_table + 1, sizeof(*c->table));
        if (!c->table) {
                free(c);
                return -ENOMEM;
        }
        if (e->n_table > 0)
                memcpy(c->table, e->table, e->n_table * sizeof(*c->table));
        *ret = c;
        return 0;
}

void lock_entry_free(struct bp_lock_entry *e)
{
        if (!e)
                return;
        free(e->table);
        free(e);
}

void lock_entry_freep(struct bp_lock_entry **e)
{
        lock_entry_free(*e);
}

int lock_rollback(struct bp_lock *l, const struct bp_lock_entry *before, struct bp_err *err)
{
        struct bp_lock_entry *e, next;
        _cleanup_free_ struct bp_platform_digest *table = NULL;

        if (!before)
                return bp_fail(err, -ENOENT, "no pin before this one to go back to");
        e = find(l, before->service);
        if (!e)
                return bp_fail(err, -ENOENT, "service '%s': not in the lock", before->service);
        table = calloc(before->n_table + 1, sizeof(*table));
        if (!table)
                return bp_fail(err, -ENOMEM, "out of memory");
        if (before->n_table > 0)
                memcpy(table, before->table, before->n_table * sizeof(*table));
        next = *before;
        next.table = table;
        memcpy(next.bad, e->bad, sizeof(next.bad));
        next.n_bad = e->n_bad;
        next.has_held = e->has_held;
        memcpy(next.held_digest, e->held_digest, sizeof(next.held_digest));
        memcpy(next.held_reason, e->held_reason, sizeof(next.held_reason));
        next.held_code = e->held_code;
        memcpy(next.pulled, e->pulled, sizeof(next.pulled));
        next.n_pulled = e->n_pulled;
        next.interrupted = e->interrupted;
        memcpy(next.interrupted_digest, e->interrupted_digest, sizeof(next.interrupted_digest));
        next.upgraded_s = e->upgraded_s;
        next.checked_s = e->checked_s;
        next.check_passed = e->check_passed;
        next.txn = e->txn;      /* the transaction is closed by its owner, not here */
        if (check_entry(&next, err) < 0)
                return bp_err_prefix(err, -EINVAL, "not rolled back: ");
        free(e->table);
        *e = next;
        table = NULL; /* the entry's now */
        return 0;
}

static void digest_push(char (*list)[REF_DIGEST_MAX], size_t *n, size_t max, const char *digest)
{
        size_t k = 0;

        for (size_t i = 0; i < *n; i++)
                if (strcmp(list[i], digest) != 0)
                        memmove(list[k++], list[i], REF_DIGEST_MAX);
        if (k == max) {
                memmove(list[0], list[1], (max - 1) * REF_DIGEST_MAX);
                k--;
        }
        text_copy(list[k++], REF_DIGEST_MAX, digest);
        *n = k;
}

static int txn_open(struct bp_lock *l, const char *service, const char *digest, enum lock_step step, bool first,
                    struct bp_err *err)
{
        struct bp_lock_entry *e = find(l, service), *before = NULL;
        char sh[72];

        if (!e)
                return bp_fail(err, -ENOENT, "service '%s': not in the lock", show(service, sh));
        if (e->txn.step != LOCK_STEP_NONE)
                return bp_fail(err, -EBUSY, "service '%s': a switch to %s is still open", show(service, sh),
                               e->txn.digest);
        if (!ref_digest_ok(digest) || step == LOCK_STEP_NONE || step > LOCK_STEP_ROLLING_BACK)
                return bp_fail(err, -EINVAL, "service '%s': '%s' is not a digest", show(service, sh), digest);
        if (!first && lock_entry_copy(e, &before) < 0)
                return bp_fail(err, -ENOMEM, "out of memory");
        if (before) {   /* what it rolls back to has pins only */
                before->n_bad = before->n_pulled = 0;
                before->has_held = false;
                before->held_digest[0] = before->held_reason[0] = '\0';
                before->held_code = BP_HOLD_NONE;
                before->interrupted = 0;
                before->interrupted_digest[0] = '\0';
                before->upgraded_s = before->checked_s = 0;
                before->check_passed = false;
        }
        e->txn.step = step;
        text_copy(e->txn.digest, sizeof(e->txn.digest), digest);
        e->txn.pull_new = false;
        e->txn.before = before;
        return 0;
}

int lock_txn_begin(struct bp_lock *l, const char *service, const char *digest, enum lock_step step,
                   struct bp_err *err)
{
        return txn_open(l, service, digest, step, /* first= */ false, err);
}

int lock_txn_begin_first(struct bp_lock *l, const char *service, const char *digest, enum lock_step step,
                         struct bp_err *err)
{
        return txn_open(l, service, digest, step, /* first= */ true, err);
}

int lock_txn_step(struct bp_lock *l, const char *service, enum lock_step step)
{
        struct bp_lock_entry *e = find(l, service);

        if (!e || e->txn.step == LOCK_STEP_NONE || step == LOCK_STEP_NONE || step > LOCK_STEP_ROLLING_BACK)
                return -ENOENT;
        e->txn.step = step;
        return 0;
}

void lock_txn_pull_new(struct bp_lock *l, const char *service, bool pull_new)
{
        struct bp_lock_entry *e = find(l, service);

        if (e && e->txn.step != LOCK_STEP_NONE)
                e->txn.pull_new = pull_new;
}

void lock_txn_end(struct bp_lock *l, const char *service)
{
        struct bp_lock_entry *e = find(l, service);

        if (!e || e->txn.step == LOCK_STEP_NONE)
                return;
        if (e->txn.pull_new)
                digest_push(e->pulled, &e->n_pulled, LOCK_PULLED_MAX, e->txn.digest);
        lock_entry_free(e->txn.before);
        memset(&e->txn, 0, sizeof(e->txn));
}

void lock_forget_pulled(struct bp_lock *l, const char *service, const char *digest)
{
        struct bp_lock_entry *e = find(l, service);
        size_t k = 0;

        if (!e)
                return;
        for (size_t i = 0; i < e->n_pulled; i++)
                if (strcmp(e->pulled[i], digest) != 0)
                        memmove(e->pulled[k++], e->pulled[i], REF_DIGEST_MAX);
        e->n_pulled = k;
}

int lock_txn_undo(struct bp_lock *l, const char *service, struct bp_err *err)
{
        struct bp_lock_entry *e = find(l, service);
        struct lock_unpinned *u;
        char sh[72];
        int r;

        if (!e || e->txn.step == LOCK_STEP_NONE)
                return bp_fail(err, -ENOENT, "service '%s': no switch open", show(service, sh));
        if (e->txn.before) {
                r = lock_rollback(l, e->txn.before, err);
                if (r < 0)
                        return r;
                lock_txn_end(l, service);
                return 0;
        }
        /* A first pin: nothing ran before it, so nothing runs after; its bad list stays, and so does
         * the record of what was pulled for it. */
        if (e->txn.pull_new)
                digest_push(e->pulled, &e->n_pulled, LOCK_PULLED_MAX, e->txn.digest);
        if (e->n_bad > 0 || e->n_pulled > 0) {
                u = add_unpinned(l, service);
                if (!u)
                        return bp_fail(err, -ENOMEM, "out of memory");
                memcpy(u->bad, e->bad, sizeof(u->bad));
                u->n_bad = e->n_bad;
                memcpy(u->pulled, e->pulled, sizeof(u->pulled));
                u->n_pulled = e->n_pulled;
        }
        entry_done(e);
        *e = l->entries[--l->n];
        return 0;
}

int lock_note_upgraded(struct bp_lock *l, const char *service, int64_t at_s)
{
        struct bp_lock_entry *e = find(l, service);

        if (!e)
                return -ENOENT;
        if (at_s <= 0 || !time_ok(at_s))
                return -EINVAL;
        e->upgraded_s = at_s;
        return 0;
}

int lock_note_check(struct bp_lock *l, const char *service, bool passed, int64_t at_s)
{
        struct bp_lock_entry *e = find(l, service);

        if (!e)
                return -ENOENT;
        if (at_s <= 0 || !time_ok(at_s))
                return -EINVAL;
        e->checked_s = at_s;
        e->check_passed = passed;
        return 0;
}

unsigned lock_count_interrupted(struct bp_lock *l, const char *service, const char *digest)
{
        struct bp_lock_entry *e = find(l, service);

        if (!e || !ref_digest_ok(digest))
                return 0;
        if (e->interrupted == 0 || strcmp(e->interrupted_digest, digest) != 0) {
                e->interrupted = 0;
                text_copy(e->interrupted_digest, sizeof(e->interrupted_digest), digest);
        }
        if (e->interrupted < LOCK_INTERRUPTED_MAX)
                e->interrupted++;
        return e->interrupted;
}

void lock_clear_interrupted(struct bp_lock *l, const char *service)
{
        struct bp_lock_entry *e = find(l, service);

        if (!e)
                return;
        e->interrupted = 0;
        e->interrupted_digest[0] = '\0';
}

bool lock_service_bad(const struct bp_lock *l, const char *service, const char *digest)
{
        const struct lock_unpinned *u = find_unpinned(l, service);

        if (lock_is_bad(find(l, service), digest))
                return true;
        for (size_t i = 0; u && i < u->n_bad; i++)
                if (strcmp(u->bad[i], digest) == 0)
                        return true;
        return false;
}

const char (*lock_unpinned_bad(const struct bp_lock *l, const char *service, size_t *ret_n))[REF_DIGEST_MAX]
{
        const struct lock_unpinned *u = find_unpinned(l, service);

        *ret_n = u ? u->n_bad : 0;
        return u ? (const char (*)[REF_DIGEST_MAX]) u->bad : NULL;
}

static void digest_remove(char (*list)[REF_DIGEST_MAX], size_t *n, const char *digest)
{
        size_t k = 0;

        for (size_t i = 0; i < *n; i++)
                if (strcmp(list[i], digest) != 0)
                        memmove(list[k++], list[i], REF_DIGEST_MAX);
        *n = k;
}

void lock_remove_bad(struct bp_lock *l, const char *service, const char *digest)
{
        struct bp_lock_entry *e = find(l, service);
        struct lock_unpinned *u = find_unpinned(l, service);

        if (e)
                digest_remove(e->bad, &e->n_bad, digest);
        if (u) {
                digest_remove(u->bad, &u->n_bad, digest);
                unpinned_tidy(l, u);
        }
}

int lock_unpinned_pull(struct bp_lock *l, const char *service, const char *digest, bool pulled, struct bp_err *err)
{
        struct lock_unpinned *u = find_unpinned(l, service);
        char sh[72];

        if (find(l, service) || !ref_digest_ok(digest) || strlen(service) >= sizeof(u->service))
                return bp_fail(err, -EINVAL, "service '%s': not a first pin of a digest", show(service, sh));
        if (!pulled) {
                if (u)
                        digest_remove(u->pulled, &u->n_pulled, digest);
                unpinned_tidy(l, u);
                return 0;
        }
        if (!u && !(u = add_unpinned(l, service)))
                return bp_fail(err, -ENOMEM, "out of memory");
        digest_push(u->pulled, &u->n_pulled, LOCK_PULLED_MAX, digest);
        return 0;
}

const char (*lock_unpinned_pulled(const struct bp_lock *l, const char *service, size_t *ret_n))[REF_DIGEST_MAX]
{
        const struct lock_unpinned *u = find_unpinned(l, service);

        *ret_n = u ? u->n_pulled : 0;
        return u && u->n_pulled ? (const char (*)[REF_DIGEST_MAX]) u->pulled : NULL;
}
