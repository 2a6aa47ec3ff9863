/* agent/lock.c: see lock.h. */
#include "lock.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "fsio.h"
#include "text.h"

#define LOCK_JSON_DEPTH 8

static void json_putp(json_object **o)
{
        json_object_put(*o);
}

static void entry_done(struct bp_lock_entry *e)
{
        free(e->table);
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

struct bp_lock_entry *lock_find(struct bp_lock *l, const char *service)
{
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->entries[i].service, service) == 0)
                        return &l->entries[i];
        return NULL;
}

/* A string member into dst: required ones must be there; every one must fit and pass ok(). */
static int get_str(json_object *o, const char *key, char *dst, size_t size, bool required,
                   bool (*ok)(const char *), const char *service, struct bp_err *err)
{
        json_object *v;

        dst[0] = '\0';
        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
                if (required)
                        return bp_fail(err, -EBADMSG, "service '%s': no '%s'", service, key);
                return 0;
        }
        if (!json_object_is_type(v, json_type_string) || (size_t) json_object_get_string_len(v) >= size ||
            (ok && !ok(json_object_get_string(v))))
                return bp_fail(err, -EBADMSG, "service '%s': bad '%s'", service, key);
        text_copy(dst, size, json_object_get_string(v));
        return 0;
}

static bool platform_ok(const char *s)
{
        struct bp_oci p;
        char name[RULES_NAME_MAX];

        return rules_parse(s, &p, NULL) == 0 && strcmp(rules_format(&p, name), s) == 0;
}

static bool image_ok(const char *s)
{
        struct bp_ref r;
        char name[REF_STRING_MAX];

        return ref_parse(s, &r, NULL) == 0 && strcmp(ref_name(&r, name), s) == 0;
}

static int parse_pin(json_object *o, const char *service, struct bp_lock_pin *p, struct bp_err *err)
{
        int r;

        if (!json_object_is_type(o, json_type_object))
                return bp_fail(err, -EBADMSG, "service '%s': a pin is not an object", service);
        if ((r = get_str(o, "tag", p->tag, sizeof(p->tag), true, ref_tag_ok, service, err)) < 0 ||
            (r = get_str(o, "digest", p->digest, sizeof(p->digest), true, ref_digest_ok, service, err)) < 0 ||
            (r = get_str(o, "platform", p->platform, sizeof(p->platform), true, platform_ok, service, err)) < 0 ||
            (r = get_str(o, "resolved_at", p->resolved_at, sizeof(p->resolved_at), false, NULL, service, err)) < 0)
                return r;
        return 0;
}

static int parse_table(json_object *o, const char *service, struct bp_lock_entry *e, struct bp_err *err)
{
        size_t n = 0;

        if (!json_object_is_type(o, json_type_object))
                return bp_fail(err, -EBADMSG, "service '%s': 'platforms' is not an object", service);
        e->table = calloc((size_t) json_object_object_length(o) + 1, sizeof(*e->table));
        if (!e->table)
                return bp_fail(err, -ENOMEM, "out of memory");
        json_object_object_foreach(o, key, val) {
                if (!platform_ok(key) || !json_object_is_type(val, json_type_string) ||
                    !ref_digest_ok(json_object_get_string(val)))
                        return bp_fail(err, -EBADMSG, "service '%s': bad platform entry '%.64s'", service, key);
                (void) rules_parse(key, &e->table[n].platform, NULL);
                text_copy(e->table[n].digest, REF_DIGEST_MAX, json_object_get_string(val));
                n++;
        }
        e->n_table = n;
        return 0;
}

static bool index_digest_ok(const char *s)
{
        return s[0] == '\0' || ref_digest_ok(s);
}

static int parse_entry(const char *service, json_object *o, struct bp_lock_entry *e, struct bp_err *err)
{
        json_object *v;
        int r;

        if (strlen(service) >= sizeof(e->service) || !json_object_is_type(o, json_type_object))
                return bp_fail(err, -EBADMSG, "service '%.64s': not an object", service);
        text_copy(e->service, sizeof(e->service), service);
        if ((r = get_str(o, "image", e->image, sizeof(e->image), true, image_ok, service, err)) < 0 ||
            (r = get_str(o, "version", e->version, sizeof(e->version), true, NULL, service, err)) < 0 ||
            (r = get_str(o, "index_digest", e->index_digest, sizeof(e->index_digest), false, index_digest_ok,
                         service, err)) < 0 ||
            (r = get_str(o, "target", e->target, sizeof(e->target), true, platform_ok, service, err)) < 0)
                return r;
        if (!json_object_object_get_ex(o, "pin", &v) || (r = parse_pin(v, service, &e->pin, err)) < 0)
                return r < 0 ? r : bp_fail(err, -EBADMSG, "service '%s': no 'pin'", service);
        if (json_object_object_get_ex(o, "previous", &v) && !json_object_is_type(v, json_type_null)) {
                r = parse_pin(v, service, &e->previous, err);
                if (r < 0)
                        return r;
                e->has_previous = true;
        }
        if (!json_object_object_get_ex(o, "platforms", &v))
                return bp_fail(err, -EBADMSG, "service '%s': no 'platforms'", service);
        return parse_table(v, service, e, err);
}

int lock_parse(const char *text, size_t len, struct bp_lock **ret, struct bp_err *err)
{
        _cleanup_(lock_freep) struct bp_lock *l = lock_new();
        _cleanup_(json_putp) json_object *o = NULL;
        json_tokener *tok;
        json_object *v, *services;
        int r;

        if (!l)
                return bp_fail(err, -ENOMEM, "out of memory");
        if (len > LOCK_MAX_BYTES || memchr(text, '\0', len))
                return bp_fail(err, -EBADMSG, "too large or has a NUL byte");
        tok = json_tokener_new_ex(LOCK_JSON_DEPTH);
        if (!tok)
                return bp_fail(err, -ENOMEM, "out of memory");
        o = json_tokener_parse_ex(tok, text, (int) len);
        r = json_tokener_get_error(tok) == json_tokener_success;
        json_tokener_free(tok);
        if (!r || !o || !json_object_is_type(o, json_type_object))
                return bp_fail(err, -EBADMSG, "not a JSON object");
        if (!json_object_object_get_ex(o, "schema", &v) || !json_object_is_type(v, json_type_int) ||
            json_object_get_int(v) != LOCK_SCHEMA)
                return bp_fail(err, -EBADMSG, "schema is not %d", LOCK_SCHEMA);
        if (!json_object_object_get_ex(o, "services", &services) || !json_object_is_type(services, json_type_object))
                return bp_fail(err, -EBADMSG, "'services' is not an object");
        l->entries = calloc((size_t) json_object_object_length(services) + 1, sizeof(*l->entries));
        if (!l->entries)
                return bp_fail(err, -ENOMEM, "out of memory");
        json_object_object_foreach(services, name, val) {
                r = parse_entry(name, val, &l->entries[l->n], err);
                l->n++;         /* counted even when half-filled, so lock_free() frees its table */
                if (r < 0)
                        return r;
        }
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
        return o;
}

static json_object *entry_json(const struct bp_lock_entry *e)
{
        json_object *o = json_object_new_object(), *t = json_object_new_object();
        char name[RULES_NAME_MAX];

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
        return o;
}

static int by_service(const void *a, const void *b)
{
        return strcmp(((const struct bp_lock_entry *) a)->service, ((const struct bp_lock_entry *) b)->service);
}

int lock_render(const struct bp_lock *l, char **ret, size_t *ret_len, struct bp_err *err)
{
        _cleanup_(json_putp) json_object *o = json_object_new_object();
        json_object *services = json_object_new_object();
        _cleanup_free_ struct bp_lock_entry *sorted = calloc(l->n + 1, sizeof(*sorted));
        const char *s;

        if (!o || !services || !sorted) {
                json_object_put(services);
                return bp_fail(err, -ENOMEM, "out of memory");
        }
        memcpy(sorted, l->entries, l->n * sizeof(*sorted));
        qsort(sorted, l->n, sizeof(*sorted), by_service);
        json_object_object_add(o, "schema", json_object_new_int(LOCK_SCHEMA));
        for (size_t i = 0; i < l->n; i++)
                json_object_object_add(services, sorted[i].service, entry_json(&sorted[i]));
        json_object_object_add(o, "services", services);
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s || asprintf(ret, "%s\n", s) < 0)
                return bp_fail(err, -ENOMEM, "out of memory");
        *ret_len = strlen(*ret);
        return 0;
}

static void now_rfc3339(char buf[static 32])
{
        time_t t = time(NULL);
        struct tm tm;

        (void) gmtime_r(&t, &tm);
        (void) strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int lock_set(struct bp_lock *l, const char *service, const char *image, const char *version, const char *tag,
             const char *target, const struct bp_resolution *r, struct bp_err *err)
{
        struct bp_lock_entry *e = lock_find(l, service), fresh = { 0 };
        struct bp_platform_digest *table = calloc(r->n_table + 1, sizeof(*table));
        char name[RULES_NAME_MAX];

        if (!table)
                return bp_fail(err, -ENOMEM, "out of memory");
        if (!e) {
                struct bp_lock_entry *q = realloc(l->entries, (l->n + 1) * sizeof(*q));
                if (!q) {
                        free(table);
                        return bp_fail(err, -ENOMEM, "out of memory");
                }
                l->entries = q;
                e = &l->entries[l->n++];
                *e = fresh;
        }
        if (e->pin.digest[0] && strcmp(e->pin.digest, r->digest) != 0) {
                e->previous = e->pin;
                e->has_previous = true;
        }
        free(e->table);
        memcpy(table, r->table, r->n_table * sizeof(*table));
        e->table = table;
        e->n_table = r->n_table;
        text_copy(e->service, sizeof(e->service), service);
        text_copy(e->image, sizeof(e->image), image);
        text_copy(e->version, sizeof(e->version), version);
        text_copy(e->index_digest, sizeof(e->index_digest), r->index_digest);
        text_copy(e->target, sizeof(e->target), target);
        if (strcmp(e->pin.digest, r->digest) != 0 || strcmp(e->pin.tag, tag) != 0)
                now_rfc3339(e->pin.resolved_at);
        text_copy(e->pin.tag, sizeof(e->pin.tag), tag);
        text_copy(e->pin.digest, sizeof(e->pin.digest), r->digest);
        text_copy(e->pin.platform, sizeof(e->pin.platform), rules_format(&r->platform, name));
        return 0;
}

size_t lock_prune(struct bp_lock *l, const struct bp_config *c)
{
        size_t kept = 0, gone;

        for (size_t i = 0; i < l->n; i++) {
                if (config_service(c, l->entries[i].service))
                        l->entries[kept++] = l->entries[i];
                else
                        entry_done(&l->entries[i]);
        }
        gone = l->n - kept;
        l->n = kept;
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
        if (rules_parse(e->pin.platform, &r.platform, NULL) < 0)
                return -EINVAL;
        r.table = calloc(e->n_table + 1, sizeof(*r.table));
        if (!r.table)
                return -ENOMEM;
        memcpy(r.table, e->table, e->n_table * sizeof(*r.table));
        r.n_table = e->n_table;
        *ret = r;
        return 0;
}
