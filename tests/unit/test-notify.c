/* tests/unit/test-notify.c: which events a config sends and to whom, held and available sent once, the
 * queue's bound, notify.json read back as written and refused when malformed, and the ntfy and webhook
 * messages made of the events. Delivery itself runs against a real receiver in
 * tests/integration/test-notify.py. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "config.h"
#include "jsonio.h"
#include "notify.h"

#define NOW INT64_C(1796000000)
#define DIGEST_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DIGEST_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static struct bp_config *parse(const char *text)
{
        struct bp_config *c = NULL;
        struct bp_err err = { 0 };

        if (config_parse("t.ini", text, strlen(text), &c, &err) != 0)
                fail_msg("rejected: %s", err.msg);
        return c;
}

static const char cfg_text[] = "[boardpin]\n"
                               "notify = ntfy+https://ntfy.example/topic1\n"
                               "[service web]\nimage = web\n"
                               "[service mon]\nimage = mon\nupgrade = notify\n"
                               "[service quiet]\nimage = quiet\nnotify_on = upgraded\n"
                               "[service own]\nimage = own\nnotify = webhook+https://hook.example/p\n"
                               "notify_on = held\n";

static void events_chosen(void **state)
{
        _cleanup_(config_freep) struct bp_config *c = parse(cfg_text);
        _cleanup_(notify_freep) struct bp_notify *n = notify_new();

        (void) state;
        /* the default: rollback and failure; available only for upgrade = notify */
        assert_int_equal(notify_add(n, c, "web", BP_EVENT_ROLLBACK, DIGEST_A, NULL, "r", NOW), 1);
        assert_int_equal(notify_add(n, c, "web", BP_EVENT_FAILURE, NULL, NULL, "registry down", NOW), 1);
        assert_int_equal(notify_add(n, c, "web", BP_EVENT_HELD, DIGEST_A, "phase", "r", NOW), 0);
        assert_int_equal(notify_add(n, c, "web", BP_EVENT_UPGRADED, DIGEST_A, NULL, "r", NOW), 0);
        assert_int_equal(notify_add(n, c, "web", BP_EVENT_AVAILABLE, DIGEST_A, "monitor_only", "r", NOW), 0);
        assert_int_equal(notify_add(n, c, "mon", BP_EVENT_AVAILABLE, DIGEST_A, "monitor_only", "r", NOW), 1);
        /* a service's own notify_on replaces the default */
        assert_int_equal(notify_add(n, c, "quiet", BP_EVENT_ROLLBACK, DIGEST_A, NULL, "r", NOW), 0);
        assert_int_equal(notify_add(n, c, "quiet", BP_EVENT_UPGRADED, DIGEST_A, NULL, "r", NOW), 1);
        /* a service the config no longer names: [boardpin]'s */
        assert_int_equal(notify_add(n, c, "gone", BP_EVENT_ROLLBACK, DIGEST_A, NULL, "r", NOW), 1);
        assert_int_equal(notify_count(n), 5);
        assert_string_equal(notify_event_at(n, 0)->service, "web");
        assert_int_equal(notify_event_at(n, 0)->event, BP_EVENT_ROLLBACK);
        assert_int_equal(strlen(notify_event_at(n, 0)->id), NOTIFY_ID_MAX - 1);
        assert_string_not_equal(notify_event_at(n, 0)->id, notify_event_at(n, 1)->id);
}

static void nowhere_to_send(void **state)
{
        _cleanup_(config_freep) struct bp_config *c =
                parse("[boardpin]\nnotify_on = rollback held\n[service web]\nimage = web\n");
        _cleanup_(notify_freep) struct bp_notify *n = notify_new();

        (void) state;
        assert_int_equal(notify_add(n, c, "web", BP_EVENT_ROLLBACK, DIGEST_A, NULL, "r", NOW), 0);
        assert_int_equal(notify_count(n), 0);
}

static void held_once(void **state)
{
        _cleanup_(config_freep) struct bp_config *c = parse(cfg_text);
        _cleanup_(notify_freep) struct bp_notify *n = notify_new();
        _cleanup_(notify_freep) struct bp_notify *back = NULL;
        _cleanup_free_ char *text = NULL;
        struct bp_err err = { 0 };
        size_t len;

        (void) state;
        assert_int_equal(notify_add(n, c, "own", BP_EVENT_HELD, DIGEST_A, "too_young", "created 1h ago", NOW), 1);
        /* the free text changes every day; the code does not */
        assert_int_equal(notify_add(n, c, "own", BP_EVENT_HELD, DIGEST_A, "too_young", "created 25h ago", NOW), 0);
        assert_int_equal(notify_add(n, c, "own", BP_EVENT_HELD, DIGEST_A, "phase", "not in the phase", NOW), 1);
        assert_int_equal(notify_add(n, c, "own", BP_EVENT_HELD, DIGEST_B, "too_young", "r", NOW), 1);
        assert_int_equal(notify_count(n), 3);
        /* remembered across runs: through notify.json */
        assert_int_equal(notify_render(n, &text, &len, &err), 0);
        assert_int_equal(notify_parse(text, len, &back, &err), 0);
        assert_int_equal(notify_add(back, c, "own", BP_EVENT_HELD, DIGEST_A, "too_young", "again", NOW), 0);
        assert_int_equal(notify_add(back, c, "own", BP_EVENT_HELD, DIGEST_A, "bad", "on the bad list", NOW), 1);
}

static void queue_bounded(void **state)
{
        _cleanup_(config_freep) struct bp_config *c = parse(cfg_text);
        _cleanup_(notify_freep) struct bp_notify *n = notify_new();
        char reason[32];

        (void) state;
        for (int i = 0; i < NOTIFY_QUEUE_MAX + 6; i++) {
                (void) snprintf(reason, sizeof(reason), "failure %d", i);
                assert_int_equal(notify_add(n, c, "web", BP_EVENT_FAILURE, NULL, NULL, reason, NOW + i), 1);
        }
        assert_int_equal(notify_count(n), NOTIFY_QUEUE_MAX);
        assert_string_equal(notify_event_at(n, 0)->reason, "failure 6"); /* the oldest went first */
        assert_string_equal(notify_event_at(n, NOTIFY_QUEUE_MAX - 1)->reason, "failure 69");
}

static void round_trip(void **state)
{
        _cleanup_(config_freep) struct bp_config *c = parse(cfg_text);
        _cleanup_(notify_freep) struct bp_notify *n = notify_new();
        _cleanup_(notify_freep) struct bp_notify *back = NULL;
        _cleanup_free_ char *text = NULL, *again = NULL;
        struct bp_err err = { 0 };
        size_t len, len2;

        (void) state;
        assert_int_equal(notify_add(n, c, "web", BP_EVENT_ROLLBACK, DIGEST_A, NULL, "line \"quoted\"\ttab", NOW), 1);
        assert_int_equal(notify_add(n, c, "mon", BP_EVENT_AVAILABLE, DIGEST_B, "monitor_only", "r", NOW), 1);
        assert_int_equal(notify_render(n, &text, &len, &err), 0);
        assert_null(strstr(text, "topic1")); /* destinations are not in the file */
        assert_int_equal(notify_parse(text, len, &back, &err), 0);
        assert_int_equal(notify_count(back), 2);
        assert_string_equal(notify_event_at(back, 0)->id, notify_event_at(n, 0)->id);
        assert_string_equal(notify_event_at(back, 1)->code, "monitor_only");
        assert_int_equal(notify_event_at(back, 1)->time_s, NOW);
        assert_int_equal(notify_render(back, &again, &len2, &err), 0);
        assert_int_equal(len, len2);
        assert_memory_equal(text, again, len);
}

static void malformed_refused(void **state)
{
        static const char *const bad[] = {
                "",
                "[]",
                "{\"schema\": 2, \"queue\": [], \"sent\": []}",
                "{\"schema\": 1, \"queue\": {}, \"sent\": []}",
                "{\"schema\": 1, \"queue\": [], \"sent\": [1]}",
                "{\"schema\": 1, \"queue\": [{\"id\": \"x\", \"event\": \"reboot\", \"service\": \"a\", "
                "\"time\": 1, \"done\": []}], \"sent\": []}",
                "{\"schema\": 1, \"queue\": [{\"id\": \"x\", \"event\": \"rollback\", \"service\": \"a\", "
                "\"time\": -1, \"done\": []}], \"sent\": []}",
                "{\"schema\": 1, \"queue\": [{\"id\": \"x\", \"event\": \"rollback\", \"service\": \"a\", "
                "\"time\": 1, \"done\": [\"0123456789abcdef0123456789abcdef0\"]}], \"sent\": []}",
                "{\"schema\": 1, \"queue\": [], \"sent\": [], \"last\": {\"time\": 1, \"ok\": 1, "
                "\"target\": \"t\", \"queued\": 0}}",
                "{\"schema\": 1, \"queue\": [], \"sent\": [], \"trailing\": 1,}",
        };

        (void) state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct bp_notify *n = NULL;
                struct bp_err err = { 0 };

                if (notify_parse(bad[i], strlen(bad[i]), &n, &err) != -EBADMSG)
                        fail_msg("accepted: %s", bad[i]);
                assert_null(n);
                assert_true(err.msg[0] != '\0');
        }
}

static void ntfy_message(void **state)
{
        struct notify_event a = { .id = "0123", .event = BP_EVENT_ROLLBACK, .service = "web", .digest = DIGEST_A,
                                  .reason = "failed its health check" };
        struct notify_event b = { .id = "4567", .event = BP_EVENT_HELD, .service = "db", .digest = DIGEST_B,
                                  .code = "phase", .reason = "not in the phase" };
        const struct notify_event *both[] = { &a, &b }, *held[] = { &b };
        _cleanup_free_ char *body = NULL, *body2 = NULL;
        char title[256], tags[128];
        int prio = 0;

        (void) state;
        assert_int_equal(notify_ntfy_message(both, 2, "pi\r\nX-Injected: 1", title, sizeof(title), &prio, tags,
                                             sizeof(tags), &body),
                         0);
        /* a hostname cannot break out of its header */
        assert_null(strchr(title, '\n'));
        assert_null(strchr(title, '\r'));
        assert_true(strstr(title, ": 1 rollback, 1 held") != NULL);
        assert_int_equal(prio, 4);
        assert_string_equal(tags, "warning,rollback,held");
        assert_string_equal(body, "web: rolled back from " DIGEST_A ": failed its health check\n(id 0123)\n"
                                  "db: held " DIGEST_B ": not in the phase\n(id 4567)\n");
        assert_int_equal(notify_ntfy_message(held, 1, "pi", title, sizeof(title), &prio, tags, sizeof(tags), &body2),
                         0);
        assert_string_equal(title, "boardpin on pi: 1 held");
        assert_int_equal(prio, 3);
        assert_string_equal(tags, "package,held");
}

static void webhook_document(void **state)
{
        struct notify_event a = { .id = "0123", .event = BP_EVENT_AVAILABLE, .service = "web", .digest = DIGEST_A,
                                  .code = "monitor_only", .reason = "r", .time_s = NOW - 5 };
        struct notify_event f = { .id = "4567", .event = BP_EVENT_FAILURE, .service = "db", .reason = "x" };
        const struct notify_event *both[] = { &a, &f };
        _cleanup_free_ char *text = NULL;
        _cleanup_(jsonio_putp) json_object *o = NULL;
        json_object *ev, *e0, *e1, *v;
        struct bp_err err = { 0 };

        (void) state;
        assert_int_equal(notify_webhook_json(both, 2, "pi", "linux/arm/v7", NOW, &text), 0);
        assert_int_equal(jsonio_parse_object(text, strlen(text), 1 << 20, 8, "webhook", &o, &err), 0);
        assert_true(json_object_object_get_ex(o, "schema", &v) && json_object_get_int(v) == 1);
        assert_true(json_object_object_get_ex(o, "platform", &v));
        assert_string_equal(json_object_get_string(v), "linux/arm/v7");
        assert_true(json_object_object_get_ex(o, "time", &v));
        assert_string_equal(json_object_get_string(v), "2026-11-30T00:53:20Z");
        assert_true(json_object_object_get_ex(o, "events", &ev) && json_object_array_length(ev) == 2);
        e0 = json_object_array_get_idx(ev, 0);
        e1 = json_object_array_get_idx(ev, 1);
        assert_true(json_object_object_get_ex(e0, "event", &v));
        assert_string_equal(json_object_get_string(v), "available");
        assert_true(json_object_object_get_ex(e0, "code", &v));
        assert_string_equal(json_object_get_string(v), "monitor_only");
        assert_true(json_object_object_get_ex(e0, "time", &v));
        assert_string_equal(json_object_get_string(v), "2026-11-30T00:53:15Z");
        assert_true(json_object_object_get_ex(e1, "digest", &v) && v == NULL);
        assert_true(json_object_object_get_ex(e1, "code", &v) && v == NULL);
        assert_true(json_object_object_get_ex(e1, "id", &v));
        assert_string_equal(json_object_get_string(v), "4567");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(events_chosen),  cmocka_unit_test(nowhere_to_send),
                cmocka_unit_test(held_once),      cmocka_unit_test(queue_bounded),
                cmocka_unit_test(round_trip),     cmocka_unit_test(malformed_refused),
                cmocka_unit_test(ntfy_message),   cmocka_unit_test(webhook_document),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
