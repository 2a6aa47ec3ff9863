/* agent/notify.c: see notify.h. notify.json:
 *
 *   {"schema": 1,
 *    "queue": [{"id", "event", "service", "digest", "code", "reason", "time", "done": [KEY…]}],
 *    "sent": [KEY…],     held/available keys "SERVICE DIGEST CODE EVENT", oldest first
 *    "last": {"time", "ok", "target", "queued"} or null}
 *
 * A destination's KEY in "done" is the first 16 bytes of the SHA-256 of its URL, in hex: the file says
 * which destination took an event without keeping the topic or path. */
#include "notify.h"

#include <errno.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "authfile.h"
#include "cleanup.h"
#include "clock.h"
#include "dl.h"
#include "fsio.h"
#include "http.h"
#include "jsonio.h"
#include "log.h"
#include "text.h"

#define NOTIFY_JSON_DEPTH 6
#define NOTIFY_DONE_MAX CONFIG_NOTIFY_URLS_MAX * 4 /* destinations an event remembers having reached */
#define NOTIFY_KEY_MAX 33
#define NOTIFY_SENT_KEY_MAX (SERVICE_NAME_MAX + REF_DIGEST_MAX + NOTIFY_CODE_MAX + 16)
/* One run's destinations: a few in [boardpin], a few more per service. */
#define NOTIFY_DESTS_MAX 32

struct queued {
        struct notify_event e;
        char done[NOTIFY_DONE_MAX][NOTIFY_KEY_MAX];
        size_t n_done;
};

struct bp_notify {
        struct queued queue[NOTIFY_QUEUE_MAX];
        size_t n_queue;
        char sent[NOTIFY_SENT_MAX][NOTIFY_SENT_KEY_MAX];
        size_t n_sent;
        struct notify_last last;
};

static const enum bp_event all_events[] = { BP_EVENT_ROLLBACK, BP_EVENT_FAILURE, BP_EVENT_HELD, BP_EVENT_UPGRADED,
                                            BP_EVENT_AVAILABLE };

struct bp_notify *notify_new(void)
{
        return calloc(1, sizeof(struct bp_notify));
}

void notify_free(struct bp_notify *n)
{
        free(n);
}

void notify_freep(struct bp_notify **n)
{
        notify_free(*n);
}

size_t notify_count(const struct bp_notify *n)
{
        return n->n_queue;
}

const struct notify_event *notify_event_at(const struct bp_notify *n, size_t i)
{
        return &n->queue[i].e;
}

void notify_last(const struct bp_notify *n, struct notify_last *ret)
{
        *ret = n->last;
}

static int event_of(const char *name, enum bp_event *ret)
{
        for (size_t i = 0; i < sizeof(all_events) / sizeof(all_events[0]); i++)
                if (strcmp(name, config_event_name(all_events[i])) == 0) {
                        *ret = all_events[i];
                        return 0;
                }
        return -EINVAL;
}

/* ---- reading and writing notify.json ---- */

static int get_string(json_object *o, const char *key, char *dst, size_t size, bool required, struct bp_err *err)
{
        json_object *v = NULL;
        const char *s;

        if (!json_object_object_get_ex(o, key, &v) || !v) {
                if (required)
                        return bp_fail(err, -EBADMSG, NOTIFY_NAME ": \"%s\" missing", key);
                dst[0] = '\0';
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return bp_fail(err, -EBADMSG, NOTIFY_NAME ": \"%s\" is not a string", key);
        s = json_object_get_string(v);
        if ((size_t) json_object_get_string_len(v) >= size || strlen(s) != (size_t) json_object_get_string_len(v))
                return bp_fail(err, -EBADMSG, NOTIFY_NAME ": \"%s\" is too long", key);
        text_copy(dst, size, s);
        return 0;
}

static int get_int(json_object *o, const char *key, int64_t *ret, struct bp_err *err)
{
        json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return bp_fail(err, -EBADMSG, NOTIFY_NAME ": \"%s\" is not a number", key);
        errno = 0;
        *ret = json_object_get_int64(v);
        if (errno != 0 || *ret < 0)
                return bp_fail(err, -EBADMSG, NOTIFY_NAME ": \"%s\" is out of range", key);
        return 0;
}

static int get_array(json_object *o, const char *key, size_t max, json_object **ret, struct bp_err *err)
{
        json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array))
                return bp_fail(err, -EBADMSG, NOTIFY_NAME ": \"%s\" is not an array", key);
        if (json_object_array_length(v) > max)
                return bp_fail(err, -EBADMSG, NOTIFY_NAME ": \"%s\" has more than %zu entries", key, max);
        *ret = v;
        return 0;
}

static int parse_queued(json_object *o, struct queued *q, struct bp_err *err)
{
        char event[16];
        json_object *done;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return bp_fail(err, -EBADMSG, NOTIFY_NAME ": a queued event is not an object");
        r = get_string(o, "id", q->e.id, sizeof(q->e.id), true, err);
        if (r == 0)
                r = get_string(o, "event", event, sizeof(event), true, err);
        if (r == 0 && event_of(event, &q->e.event) < 0)
                r = bp_fail(err, -EBADMSG, NOTIFY_NAME ": unknown event '%s'", event);
        if (r == 0)
                r = get_string(o, "service", q->e.service, sizeof(q->e.service), true, err);
        if (r == 0)
                r = get_string(o, "digest", q->e.digest, sizeof(q->e.digest), false, err);
        if (r == 0)
                r = get_string(o, "code", q->e.code, sizeof(q->e.code), false, err);
        if (r == 0)
                r = get_string(o, "reason", q->e.reason, sizeof(q->e.reason), false, err);
        if (r == 0)
                r = get_int(o, "time", &q->e.time_s, err);
        if (r == 0)
                r = get_array(o, "done", NOTIFY_DONE_MAX, &done, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < json_object_array_length(done); i++) {
                json_object *k = json_object_array_get_idx(done, i);

                if (!json_object_is_type(k, json_type_string) ||
                    (size_t) json_object_get_string_len(k) >= NOTIFY_KEY_MAX)
                        return bp_fail(err, -EBADMSG, NOTIFY_NAME ": a \"done\" key is not a short string");
                text_copy(q->done[q->n_done++], NOTIFY_KEY_MAX, json_object_get_string(k));
        }
        return 0;
}

int notify_parse(const char *text, size_t len, struct bp_notify **ret, struct bp_err *err)
{
        _cleanup_(jsonio_putp) json_object *root = NULL;
        _cleanup_(notify_freep) struct bp_notify *n = notify_new();
        json_object *queue, *sent, *last = NULL;
        int64_t schema, v;
        int r;

        if (!n)
                return bp_fail(err, -ENOMEM, "out of memory");
        r = jsonio_parse_object(text, len, NOTIFY_MAX_BYTES, NOTIFY_JSON_DEPTH, NOTIFY_NAME, &root, err);
        if (r < 0)
                return r == -EFBIG ? r : -EBADMSG;
        r = get_int(root, "schema", &schema, err);
        if (r == 0 && schema != NOTIFY_SCHEMA)
                r = bp_fail(err, -EBADMSG, NOTIFY_NAME ": schema %lld, not %d", (long long) schema, NOTIFY_SCHEMA);
        if (r == 0)
                r = get_array(root, "queue", NOTIFY_QUEUE_MAX, &queue, err);
        if (r == 0)
                r = get_array(root, "sent", NOTIFY_SENT_MAX, &sent, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < json_object_array_length(queue); i++) {
                r = parse_queued(json_object_array_get_idx(queue, i), &n->queue[n->n_queue], err);
                if (r < 0)
                        return r;
                n->n_queue++;
        }
        for (size_t i = 0; i < json_object_array_length(sent); i++) {
                json_object *k = json_object_array_get_idx(sent, i);

                if (!json_object_is_type(k, json_type_string) ||
                    (size_t) json_object_get_string_len(k) >= NOTIFY_SENT_KEY_MAX)
                        return bp_fail(err, -EBADMSG, NOTIFY_NAME ": a \"sent\" key is not a short string");
                text_copy(n->sent[n->n_sent++], NOTIFY_SENT_KEY_MAX, json_object_get_string(k));
        }
        if (json_object_object_get_ex(root, "last", &last) && last) {
                json_object *ok = NULL;

                if (!json_object_is_type(last, json_type_object))
                        return bp_fail(err, -EBADMSG, NOTIFY_NAME ": \"last\" is not an object");
                r = get_int(last, "time", &n->last.time_s, err);
                if (r == 0)
                        r = get_string(last, "target", n->last.target, sizeof(n->last.target), true, err);
                if (r == 0)
                        r = get_int(last, "queued", &v, err);
                if (r < 0)
                        return r;
                if (!json_object_object_get_ex(last, "ok", &ok) || !json_object_is_type(ok, json_type_boolean))
                        return bp_fail(err, -EBADMSG, NOTIFY_NAME ": \"ok\" is not true or false");
                n->last.ok = json_object_get_boolean(ok);
                n->last.queued = (size_t) v;
                n->last.known = true;
        }
        *ret = steal_ptr(&n);
        return 0;
}

int notify_read(const char *state_dir, struct bp_notify **ret, struct bp_err *err)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t len;
        int r;

        if (asprintf(&path, "%s/%s", state_dir, NOTIFY_NAME) < 0)
                return bp_fail(err, -ENOMEM, "out of memory");
        r = fsio_read(path, NOTIFY_MAX_BYTES, &text, &len, err);
        if (r == -ENOENT) {
                *ret = notify_new();
                return *ret ? 0 : bp_fail(err, -ENOMEM, "out of memory");
        }
        if (r < 0)
                return r;
        return notify_parse(text, len, ret, err);
}

static json_object *str(const char *s)
{
        return json_object_new_string(s);
}

int notify_render(const struct bp_notify *n, char **ret, size_t *ret_len, struct bp_err *err)
{
        _cleanup_(jsonio_putp) json_object *root = json_object_new_object();
        json_object *queue = json_object_new_array(), *sent = json_object_new_array(), *last = NULL;
        const char *text;
        size_t len;

        json_object_object_add(root, "schema", json_object_new_int(NOTIFY_SCHEMA));
        json_object_object_add(root, "queue", queue);
        json_object_object_add(root, "sent", sent);
        for (size_t i = 0; i < n->n_queue; i++) {
                const struct queued *q = &n->queue[i];
                json_object *o = json_object_new_object(), *done = json_object_new_array();

                json_object_object_add(o, "id", str(q->e.id));
                json_object_object_add(o, "event", str(config_event_name(q->e.event)));
                json_object_object_add(o, "service", str(q->e.service));
                json_object_object_add(o, "digest", str(q->e.digest));
                json_object_object_add(o, "code", str(q->e.code));
                json_object_object_add(o, "reason", str(q->e.reason));
                json_object_object_add(o, "time", json_object_new_int64(q->e.time_s));
                for (size_t j = 0; j < q->n_done; j++)
                        json_object_array_add(done, str(q->done[j]));
                json_object_object_add(o, "done", done);
                json_object_array_add(queue, o);
        }
        for (size_t i = 0; i < n->n_sent; i++)
                json_object_array_add(sent, str(n->sent[i]));
        if (n->last.known) {
                last = json_object_new_object();
                json_object_object_add(last, "time", json_object_new_int64(n->last.time_s));
                json_object_object_add(last, "ok", json_object_new_boolean(n->last.ok));
                json_object_object_add(last, "target", str(n->last.target));
                json_object_object_add(last, "queued", json_object_new_int64((int64_t) n->last.queued));
        }
        json_object_object_add(root, "last", last);
        text = json_object_to_json_string_length(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE,
                                                  &len);
        if (!text)
                return bp_fail(err, -ENOMEM, "out of memory");
        *ret = malloc(len + 2);
        if (!*ret)
                return bp_fail(err, -ENOMEM, "out of memory");
        memcpy(*ret, text, len);
        (*ret)[len] = '\n';
        (*ret)[len + 1] = '\0';
        *ret_len = len + 1;
        return 0;
}

int notify_write(const struct bp_notify *n, const char *state_dir, struct bp_err *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = notify_render(n, &text, &len, err);

        if (r == 0)
                r = fsio_write_atomic(state_dir, NOTIFY_NAME, text, len, 0600, err);
        return r;
}

/* ---- events ---- */

static const struct bp_service *service_of(const struct bp_config *c, const char *name)
{
        return config_service(c, name);
}

static void new_id(char id[static NOTIFY_ID_MAX])
{
        unsigned char b[16] = { 0 };
        ssize_t got = getrandom(b, sizeof(b), GRND_NONBLOCK);

        if (got != (ssize_t) sizeof(b)) {
                /* No entropy yet this early at boot: time and pid still tell events apart. */
                uint64_t t = (uint64_t) clock_now_ms() ^ ((uint64_t) getpid() << 32);

                memcpy(b, &t, sizeof(t));
        }
        for (size_t i = 0; i < sizeof(b); i++)
                (void) snprintf(id + 2 * i, 3, "%02x", b[i]);
}

static bool sent_has(const struct bp_notify *n, const char *key)
{
        for (size_t i = 0; i < n->n_sent; i++)
                if (strcmp(n->sent[i], key) == 0)
                        return true;
        return false;
}

int notify_add(struct bp_notify *n, const struct bp_config *c, const char *service, enum bp_event ev,
               const char *digest, const char *code, const char *reason, int64_t now_s)
{
        const struct bp_service *s = service_of(c, service);
        struct queued *q;
        char key[NOTIFY_SENT_KEY_MAX];

        if (!(config_notify_on(c, s) & (unsigned) ev) || config_notify(c, s)->n_urls == 0)
                return 0;
        if (ev == BP_EVENT_HELD || ev == BP_EVENT_AVAILABLE) {
                (void) snprintf(key, sizeof(key), "%s %s %s %s", service, digest ? digest : "", code ? code : "",
                                config_event_name(ev));
                if (sent_has(n, key))
                        return 0;
                if (n->n_sent == NOTIFY_SENT_MAX) {
                        memmove(n->sent[0], n->sent[1], (NOTIFY_SENT_MAX - 1) * sizeof(n->sent[0]));
                        n->n_sent--;
                }
                text_copy(n->sent[n->n_sent++], NOTIFY_SENT_KEY_MAX, key);
        }
        if (n->n_queue == NOTIFY_QUEUE_MAX) {
                log_warning("notify: %d events wait for delivery; the oldest (%s of '%s') is dropped",
                            NOTIFY_QUEUE_MAX, config_event_name(n->queue[0].e.event), n->queue[0].e.service);
                memmove(&n->queue[0], &n->queue[1], (NOTIFY_QUEUE_MAX - 1) * sizeof(n->queue[0]));
                n->n_queue--;
        }
        q = &n->queue[n->n_queue++];
        memset(q, 0, sizeof(*q));
        new_id(q->e.id);
        q->e.event = ev;
        text_copy(q->e.service, sizeof(q->e.service), service);
        text_copy(q->e.digest, sizeof(q->e.digest), digest ? digest : "");
        text_copy(q->e.code, sizeof(q->e.code), code ? code : "");
        text_copy_clean(q->e.reason, sizeof(q->e.reason), reason ? reason : "");
        q->e.time_s = now_s;
        return 1;
}

size_t notify_open_switches(const struct bp_lock *l, struct notify_open_switch *ret, size_t max)
{
        size_t k = 0;

        for (size_t i = 0; l && i < lock_count(l) && k < max; i++) {
                const struct bp_lock_entry *e = lock_entry(l, i);

                if (e->txn.step < LOCK_STEP_SWITCHING)
                        continue;
                text_copy(ret[k].service, sizeof(ret[k].service), e->service);
                text_copy(ret[k].digest, sizeof(ret[k].digest), e->txn.digest);
                ret[k].step = e->txn.step;
                k++;
        }
        return k;
}

size_t notify_recovered(struct bp_notify *n, const struct bp_config *c, const struct bp_lock *l,
                        const struct notify_open_switch *open, size_t k, int64_t now_s)
{
        size_t queued = 0;

        for (size_t i = 0; i < k; i++) {
                const struct bp_lock_entry *e = lock_find(l, open[i].service);
                char reason[NOTIFY_REASON_MAX];

                if (e && strcmp(e->pin.digest, open[i].digest) == 0)
                        continue; /* finished towards the new digest: kept */
                (void) snprintf(reason, sizeof(reason), "the %s of %s was cut short; back to %s",
                                open[i].step == LOCK_STEP_CHECKING ? "check" : open[i].step == LOCK_STEP_ROLLING_BACK ? "rollback" : "switch",
                                open[i].digest, e ? e->pin.digest : "no pin");
                queued += notify_add(n, c, open[i].service, BP_EVENT_ROLLBACK, open[i].digest, NULL, reason, now_s) > 0;
        }
        return queued;
}

/* ---- messages ---- */

static const char *event_verb(enum bp_event ev)
{
        switch (ev) {
        case BP_EVENT_ROLLBACK:
                return "rolled back from";
        case BP_EVENT_FAILURE:
                return "failed";
        case BP_EVENT_HELD:
                return "held";
        case BP_EVENT_UPGRADED:
                return "upgraded to";
        default:
                return "available:";
        }
}

int notify_ntfy_message(const struct notify_event *const *events, size_t k, const char *hostname, char *title,
                        size_t title_size, int *ret_priority, char *tags, size_t tags_size, char **ret_body)
{
        size_t count[sizeof(all_events) / sizeof(all_events[0])] = { 0 };
        char *body = NULL, host[128];
        size_t size = 0, o, to = 0;
        bool bad = false;
        FILE *f;

        text_copy_clean(host, sizeof(host), hostname);
        f = open_memstream(&body, &size);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < k; i++) {
                const struct notify_event *e = events[i];

                for (size_t j = 0; j < sizeof(all_events) / sizeof(all_events[0]); j++)
                        count[j] += e->event == all_events[j];
                bad |= e->event == BP_EVENT_ROLLBACK || e->event == BP_EVENT_FAILURE;
                (void) fprintf(f, "%s: %s%s%s%s%s\n(id %s)\n", e->service, event_verb(e->event),
                               e->digest[0] ? " " : "", e->digest, e->reason[0] ? ": " : "", e->reason, e->id);
        }
        if (fclose(f) != 0) {
                free(body);
                return -ENOMEM;
        }
        o = (size_t) snprintf(title, title_size, "boardpin on %s:", host);
        text_copy(tags, tags_size, bad ? "warning" : "package");
        to = strlen(tags);
        for (size_t j = 0; j < sizeof(all_events) / sizeof(all_events[0]); j++) {
                if (!count[j])
                        continue;
                if (o < title_size)
                        o += (size_t) snprintf(title + o, title_size - o, "%s %zu %s", o > strlen(host) + 13 ? "," : "",
                                               count[j], config_event_name(all_events[j]));
                if (to < tags_size)
                        to += (size_t) snprintf(tags + to, tags_size - to, ",%s", config_event_name(all_events[j]));
        }
        /* ntfy's priorities: 4 "high" sounds on the phone, 3 is its default. */
        *ret_priority = bad ? 4 : 3;
        *ret_body = body;
        return 0;
}

int notify_webhook_json(const struct notify_event *const *events, size_t k, const char *hostname,
                        const char *platform, int64_t now_s, char **ret)
{
        _cleanup_(jsonio_putp) json_object *root = json_object_new_object();
        json_object *list = json_object_new_array();
        char when[32], host[128];
        const char *text;

        text_copy_clean(host, sizeof(host), hostname);
        json_object_object_add(root, "schema", json_object_new_int(1));
        json_object_object_add(root, "host", str(host));
        json_object_object_add(root, "platform", platform && platform[0] ? str(platform) : NULL);
        json_object_object_add(root, "time", str(clock_rfc3339(now_s, when, sizeof(when))));
        json_object_object_add(root, "events", list);
        for (size_t i = 0; i < k; i++) {
                const struct notify_event *e = events[i];
                json_object *o = json_object_new_object();

                json_object_object_add(o, "id", str(e->id));
                json_object_object_add(o, "event", str(config_event_name(e->event)));
                json_object_object_add(o, "service", str(e->service));
                json_object_object_add(o, "digest", e->digest[0] ? str(e->digest) : NULL);
                json_object_object_add(o, "code", e->code[0] ? str(e->code) : NULL);
                json_object_object_add(o, "reason", str(e->reason));
                json_object_object_add(o, "time", str(clock_rfc3339(e->time_s, when, sizeof(when))));
                json_object_array_add(list, o);
        }
        text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        *ret = text ? strdup(text) : NULL;
        return *ret ? 0 : -ENOMEM;
}

/* ---- delivery ---- */

struct dest {
        const struct bp_notify_url *u;
        char key[NOTIFY_KEY_MAX];
        char target[NOTIFY_TARGET_MAX];
        const struct notify_event *events[NOTIFY_QUEUE_MAX];
        size_t idx[NOTIFY_QUEUE_MAX];
        size_t k;
        struct bp_credentials cred;
        char *body;
        char h_title[320], h_prio[32], h_tags[160];
        const char *headers[6];
        struct bp_http_req q;
};

static int url_key(const char *url, char key[static NOTIFY_KEY_MAX])
{
        unsigned char md[32];
        unsigned int mdlen = 0;

        if (dl_crypto(NULL) < 0 || EVP_Digest(url, strlen(url), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 16)
                return -EIO;
        for (size_t i = 0; i < 16; i++)
                (void) snprintf(key + 2 * i, 3, "%02x", md[i]);
        return 0;
}

static bool queued_done(const struct queued *q, const char *key)
{
        for (size_t i = 0; i < q->n_done; i++)
                if (strcmp(q->done[i], key) == 0)
                        return true;
        return false;
}

/* The destinations of the queue: each URL once, with the events it has not taken yet. */
static size_t gather(const struct bp_notify *n, const struct bp_config *c, struct dest *d, size_t max)
{
        size_t nd = 0;

        for (size_t i = 0; i < n->n_queue; i++) {
                const struct queued *q = &n->queue[i];
                const struct bp_notify_conf *nc = config_notify(c, service_of(c, q->e.service));

                for (size_t j = 0; j < nc->n_urls; j++) {
                        const struct bp_notify_url *u = &nc->urls[j];
                        char key[NOTIFY_KEY_MAX];
                        size_t x;

                        if (url_key(u->url, key) < 0 || queued_done(q, key))
                                continue;
                        for (x = 0; x < nd; x++)
                                if (strcmp(d[x].key, key) == 0)
                                        break;
                        if (x == nd) {
                                if (nd == max)
                                        continue;
                                memset(&d[nd], 0, sizeof(d[nd]));
                                d[nd].u = u;
                                text_copy(d[nd].key, sizeof(d[nd].key), key);
                                (void) snprintf(d[nd].target, sizeof(d[nd].target), "%s+%s://%s",
                                                u->kind == BP_NOTIFY_NTFY ? "ntfy" : "webhook", u->plain ? "http" : "https",
                                                u->host);
                                nd++;
                        }
                        d[x].idx[d[x].k] = i;
                        d[x].events[d[x].k++] = &q->e;
                }
        }
        return nd;
}

static int prepare(struct dest *d, const struct bp_config *c, const char *hostname, const char *platform,
                   int64_t now_s)
{
        const struct bp_registry_conf *g = config_registry(c, d->u->host);
        struct bp_err err = { 0 };
        size_t h = 0;
        int prio = 3, r;

        if (d->u->kind == BP_NOTIFY_NTFY) {
                char title[256], tags[128];

                r = notify_ntfy_message(d->events, d->k, hostname, title, sizeof(title), &prio, tags, sizeof(tags),
                                        &d->body);
                if (r < 0)
                        return r;
                (void) snprintf(d->h_title, sizeof(d->h_title), "Title: %s", title);
                (void) snprintf(d->h_prio, sizeof(d->h_prio), "Priority: %d", prio);
                (void) snprintf(d->h_tags, sizeof(d->h_tags), "Tags: %s", tags);
                d->headers[h++] = "Content-Type: text/plain; charset=utf-8";
                d->headers[h++] = d->h_title;
                d->headers[h++] = d->h_prio;
                d->headers[h++] = d->h_tags;
        } else {
                r = notify_webhook_json(d->events, d->k, hostname, platform, now_s, &d->body);
                if (r < 0)
                        return r;
                d->headers[h++] = "Content-Type: application/json";
        }
        /* No "Expect: 100-continue" wait on a receiver that never answers it. */
        d->headers[h++] = "Expect:";
        d->headers[h] = NULL;
        d->q = (struct bp_http_req) {
                .method = "POST",
                .url = d->u->url,
                .post = d->body,
                .headers = d->headers,
                .max = NOTIFY_ANSWER_MAX_BYTES,
                .https_only = !d->u->plain,
                .ca_file = g && g->ca_file[0] ? g->ca_file : NULL,
                .timeout_s = c->timeout_s,
                .once = true,
                .no_redirect = true,
        };
        r = c->auth_file[0] ? auth_file_read(c->auth_file, d->u->host, &d->cred, &err) : -ENOENT;
        if (r == 0 && d->cred.username[0]) {
                d->q.cred = BP_HTTP_CRED_BASIC;
                d->q.user = d->cred.username;
                d->q.password = d->cred.password;
        } else if (r < 0 && r != -ENOENT) {
                log_warning("notify: %s; %s is asked without credentials", err.msg, d->target);
        }
        return 0;
}

size_t notify_send(struct bp_notify *n, const struct bp_config *c, const char *hostname, const char *platform,
                   int64_t now_s)
{
        _cleanup_free_ struct dest *d = calloc(NOTIFY_DESTS_MAX, sizeof(*d));
        _cleanup_(http_freep) struct bp_http *h = NULL;
        struct bp_err err = { 0 };
        size_t nd, failed = 0, last_failed = SIZE_MAX;

        if (n->n_queue == 0)
                /* cppcheck-suppress memleak ; cppcheck does not model _cleanup_ */
                return 0;
        if (!d || http_new(&h, &err) < 0) {
                log_warning("notify: %s; %zu events kept for the next run", d ? err.msg : "out of memory", n->n_queue);
                return 1;
        }
        nd = gather(n, c, d, NOTIFY_DESTS_MAX);
        /* One deadline for all: a receiver that hangs costs the run at most the timeout. */
        http_set_deadline(h, clock_now_ms() + (int64_t) c->timeout_s * 1000);
        http_set_once(h, true);
        for (size_t i = 0; i < nd; i++) {
                if (prepare(&d[i], c, hostname, platform, now_s) < 0) {
                        d[i].q.result = -ENOMEM;
                        continue;
                }
                http_submit(h, &d[i].q);
        }
        if (nd > 0)
                (void) http_run(h, &err);
        for (size_t i = 0; i < nd; i++) {
                struct bp_http_req *q = &d[i].q;
                bool ok = q->result == 0 && q->status >= 200 && q->status < 300;

                if (ok) {
                        for (size_t j = 0; j < d[i].k; j++) {
                                struct queued *e = &n->queue[d[i].idx[j]];

                                if (e->n_done < NOTIFY_DONE_MAX)
                                        text_copy(e->done[e->n_done++], NOTIFY_KEY_MAX, d[i].key);
                        }
                        log_info("notify: %zu events sent to %s", d[i].k, d[i].target);
                } else {
                        /* Not q->err: it names the URL, whose path is a secret. */
                        if (q->result < 0)
                                log_warning("notify: %s did not answer (%s); %zu events kept for the next run",
                                            d[i].target, strerror(-q->result), d[i].k);
                        else
                                log_warning("notify: %s answered HTTP %ld; %zu events kept for the next run",
                                            d[i].target, q->status, d[i].k);
                        failed++;
                        last_failed = i;
                }
                http_req_reset(q);
                free(d[i].body);
                d[i].body = NULL;
        }
        /* Keep what some destination still owes; an event with none left (or none any more) goes. */
        for (size_t i = 0; i < n->n_queue;) {
                const struct queued *q = &n->queue[i];
                const struct bp_notify_conf *nc = config_notify(c, service_of(c, q->e.service));
                bool owed = false;

                for (size_t j = 0; j < nc->n_urls; j++) {
                        char key[NOTIFY_KEY_MAX];

                        owed |= url_key(nc->urls[j].url, key) < 0 || !queued_done(q, key);
                }
                if (owed) {
                        i++;
                        continue;
                }
                memmove(&n->queue[i], &n->queue[i + 1], (n->n_queue - i - 1) * sizeof(n->queue[0]));
                n->n_queue--;
        }
        if (nd > 0) {
                n->last.known = true;
                n->last.time_s = now_s;
                n->last.ok = failed == 0;
                text_copy(n->last.target, sizeof(n->last.target), d[last_failed != SIZE_MAX ? last_failed : nd - 1].target);
                n->last.queued = n->n_queue;
        }
        return failed;
}

void notify_run(const struct bp_config *c, const struct bp_lock *l, const struct notify_open_switch *open,
                size_t n_open, const struct notify_event *events, size_t k, bool send, const char *platform)
{
        _cleanup_(notify_freep) struct bp_notify *n = NULL;
        struct bp_err err = { 0 };
        int64_t now_s = (int64_t) time(NULL);
        char hostname[256] = "";
        size_t added = 0, before;
        bool changed = false;
        int r;

        r = notify_read(c->state_dir, &n, &err);
        if (r < 0) {
                log_warning("%s; its queue is started afresh", err.msg);
                n = notify_new();
                changed = true;
                if (!n)
                        return;
        }
        for (size_t i = 0; i < k; i++)
                added += notify_add(n, c, events[i].service, events[i].event, events[i].digest, events[i].code,
                                    events[i].reason, now_s) > 0;
        added += notify_recovered(n, c, l, open, n_open, now_s);
        changed |= added > 0;
        before = n->n_queue;
        if (send && n->n_queue > 0) {
                if (gethostname(hostname, sizeof(hostname) - 1) < 0)
                        text_copy(hostname, sizeof(hostname), "unknown");
                (void) notify_send(n, c, hostname, platform, now_s);
                changed = true;
        } else if (!send && added > 0) {
                log_info("notify: %zu events queued for the next resolve or upgrade", before);
        }
        if (changed && notify_write(n, c->state_dir, &err) < 0)
                log_warning("notify: %s; events of this run may be sent again or not at all", err.msg);
}
