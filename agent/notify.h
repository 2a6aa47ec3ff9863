/* agent/notify.h: word to the owner when something happens: state_dir/notify.json, the queue of events
 * not yet delivered, the keys of held and available events already queued (so each is sent once), and
 * the last delivery's result; the ntfy and webhook messages made of them, one per destination and run,
 * posted through http.c. Delivery is at least once: an event leaves the queue only when every
 * destination its service names has taken it. Destinations are named in messages and logs by kind and
 * host only (a topic or path is a secret). Knows no registry and no output format; reads the lock only
 * to see how an open switch ended. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "lock.h"

#define NOTIFY_NAME "notify.json"
#define NOTIFY_SCHEMA 1
#define NOTIFY_MAX_BYTES (512 * 1024)
/* Events kept for delivery: a board whose receiver is gone for months keeps the newest, not all. */
#define NOTIFY_QUEUE_MAX 64
/* held/available keys remembered: services × digests × codes a board sees in a while. */
#define NOTIFY_SENT_MAX 256
#define NOTIFY_ID_MAX 33  /* 128 random bits in hex */
#define NOTIFY_CODE_MAX 32
#define NOTIFY_REASON_MAX 256
#define NOTIFY_TARGET_MAX (REF_DOMAIN_MAX + 16) /* "webhook+https://" + host */
/* The ceiling of one answer from a receiver: it is read and dropped. */
#define NOTIFY_ANSWER_MAX_BYTES (64 * 1024)

struct bp_notify;

/* One event, as queued. */
struct notify_event {
        char id[NOTIFY_ID_MAX]; /* the same at every attempt: receivers drop repeats */
        enum bp_event event;
        char service[SERVICE_NAME_MAX];
        char digest[REF_DIGEST_MAX]; /* the digest it is about, or "" */
        char code[NOTIFY_CODE_MAX];  /* held: why, as a code ("bad", "too_young", "phase", …), or "" */
        char reason[NOTIFY_REASON_MAX];
        int64_t time_s;
};

/* The last delivery, for status. */
struct notify_last {
        bool known;                      /* false: no delivery tried yet */
        int64_t time_s;
        bool ok;                         /* every destination took its message */
        char target[NOTIFY_TARGET_MAX];  /* "ntfy+https://HOST": the one that failed, else the last */
        size_t queued;                   /* events left in the queue */
};

/* An empty state. NULL when out of memory. */
struct bp_notify *notify_new(void);
void notify_free(struct bp_notify *n);
void notify_freep(struct bp_notify **n);

/* Read state_dir/notify.json: an absent file is an empty state; -EBADMSG with a message for a file it
 * cannot read back (then the caller starts empty). */
int notify_read(const char *state_dir, struct bp_notify **ret, struct bp_err *err);

/* Parse notify.json text; the same checks. */
int notify_parse(const char *text, size_t len, struct bp_notify **ret, struct bp_err *err);

/* The JSON text of n; *ret owned by the caller. notify_parse() reads it back. */
int notify_render(const struct bp_notify *n, char **ret, size_t *ret_len, struct bp_err *err);

/* Write n to state_dir/notify.json (0600: it keeps keys derived from the destinations). */
int notify_write(const struct bp_notify *n, const char *state_dir, struct bp_err *err);

/* Queue event ev of service (name; s its config, or NULL for one the config no longer names) about
 * digest, when c sends ev for it (config_notify_on()) and it has a destination (config_notify()).
 * held and available are queued once per service, digest and code: a key kept in n (bounded, oldest
 * first out). Returns 1 when queued, 0 when not wanted or sent before, -ENOMEM. Past NOTIFY_QUEUE_MAX
 * the oldest event goes. */
int notify_add(struct bp_notify *n, const struct bp_config *c, const char *service, enum bp_event ev,
               const char *digest, const char *code, const char *reason, int64_t now_s);

/* Events queued, and the i-th of them (i < notify_count(n)), oldest first. */
size_t notify_count(const struct bp_notify *n);
const struct notify_event *notify_event_at(const struct bp_notify *n, size_t i);

/* Post the queue: one message per destination, holding the events it has not taken yet, all
 * destinations side by side, each with one attempt bounded by c's timeout. A destination that answers
 * 2xx has taken its events; an event every destination took leaves the queue. Failures are logged at
 * warning priority naming kind://host only; they change nothing else. hostname and platform go into
 * the messages. Returns how many destinations failed. */
size_t notify_send(struct bp_notify *n, const struct bp_config *c, const char *hostname, const char *platform,
                   int64_t now_s);

/* The last delivery n records. */
void notify_last(const struct bp_notify *n, struct notify_last *ret);

/* The ntfy message for events[0..k) from hostname: its Title, Priority and Tags header values and its
 * plain-text body (owned by the caller). Pure, for the tests. */
int notify_ntfy_message(const struct notify_event *const *events, size_t k, const char *hostname, char *title,
                        size_t title_size, int *ret_priority, char *tags, size_t tags_size, char **ret_body);

/* The webhook document for events[0..k) (boardpin(8), NOTIFICATIONS), owned by the caller. */
int notify_webhook_json(const struct notify_event *const *events, size_t k, const char *hostname,
                        const char *platform, int64_t now_s, char **ret);

/* An open switch of the lock, before apply_recover() finishes it: what notify_recovered() compares the
 * lock with afterwards. */
struct notify_open_switch {
        char service[SERVICE_NAME_MAX];
        char digest[REF_DIGEST_MAX];
        enum lock_step step;
};

/* The switches open in l that had switched (step switching or later), at most max of them. */
size_t notify_open_switches(const struct bp_lock *l, struct notify_open_switch *ret, size_t max);

/* Queue a rollback for each of open[0..k) that l no longer pins to its digest: a switch a kill, a power
 * cut or a failed check cut short, which the recovery took back. Returns how many were queued. */
size_t notify_recovered(struct bp_notify *n, const struct bp_config *c, const struct bp_lock *l,
                        const struct notify_open_switch *open, size_t k, int64_t now_s);

/* The most open switches a run looks at for notify_recovered(). */
#define NOTIFY_OPEN_MAX 64

/* A run's notifications, at its end, in one call: read notify.json (one that cannot be read back is
 * started afresh, with a warning), queue events[0..k) (their ids are made here) and the rollbacks of
 * open[0..n_open) that l shows, post the queue unless send is false (boot does no network work for
 * this: the next resolve or upgrade sends it), and write notify.json when anything changed. Never fails
 * the run: every problem is a warning. */
void notify_run(const struct bp_config *c, const struct bp_lock *l, const struct notify_open_switch *open,
                size_t n_open, const struct notify_event *events, size_t k, bool send, const char *platform);
