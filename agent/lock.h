/* agent/lock.h: lock.json, the state: per service the image, the tag resolved, the index digest, the
 * digest of every platform the index offers (so an SD card moved to another board is answered offline),
 * the digest chosen for this board and the one before it. Reads it, checks it, renders it whole; fsio.c
 * writes it. Knows no HTTP and no env files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hold.h"
#include "names.h"
#include "ref.h"
#include "resolution.h"
#include "rules.h"

#define LOCK_SCHEMA 1
#define LOCK_MAX_BYTES (8 * 1024 * 1024)
#define LOCK_NAME "lock.json"
#define LOCK_BAD_MAX 16 /* bad digests kept per service; the oldest goes first */
#define LOCK_REASON_MAX 256
#define LOCK_PULLED_MAX 16 /* digests boardpin pulled, kept per service; the oldest goes first */
/* A digest whose check was cut short this many times (a reboot or OOM in the middle) is bad-listed. */
#define LOCK_INTERRUPTED_MAX 2

/* How far an open transaction got; each is written to the lock before that step starts. */
enum lock_step {
        LOCK_STEP_NONE = 0,     /* no transaction open: the lock is at rest */
        LOCK_STEP_PULLING,      /* nothing switched yet: the runtime is pulling the new digest */
        LOCK_STEP_SWITCHING,    /* the lock, env files and drop-ins are moving to the new digest */
        LOCK_STEP_CHECKING,     /* switched; units restarting and health being checked */
        LOCK_STEP_ROLLING_BACK, /* the check failed; going back to the pin before */
};

struct bp_lock_entry;

/* A switch in progress, written down before it starts, so that a run after a kill or a power cut
 * finishes it (agent/apply.c). */
struct bp_lock_txn {
        enum lock_step step;
        char digest[REF_DIGEST_MAX];  /* the new digest */
        bool pull_new;                /* it was not in the runtime's store before boardpin pulled it */
        struct bp_lock_entry *before; /* owned: the entry as it was (image, pins, table); NULL for a first pin */
};

struct bp_lock_pin {
        char tag[REF_TAG_MAX];
        char digest[REF_DIGEST_MAX];
        char platform[RULES_NAME_MAX];
        char resolved_at[32];           /* RFC 3339 UTC */
        struct bp_lock_sig sig;         /* reset whenever digest changes */
};

struct bp_lock_entry {
        char service[SERVICE_NAME_MAX];
        char image[REF_STRING_MAX];     /* "docker.io/vaultwarden/server" */
        char version[REF_TAG_MAX];      /* the version = it was resolved for */
        char index_digest[REF_DIGEST_MAX]; /* "" for a single manifest */
        struct bp_platform_digest *table; /* owned */
        size_t n_table;
        char target[RULES_NAME_MAX];    /* the board platform it was resolved for */
        struct bp_lock_pin pin;         /* what the env files say */
        bool has_previous;
        struct bp_lock_pin previous;
        /* Digests that failed an upgrade's health check: never taken again, oldest first. */
        char bad[LOCK_BAD_MAX][REF_DIGEST_MAX];
        size_t n_bad;
        /* What the last upgrade saw and did not take, and why (bad list, min_age, rollout). */
        bool has_held;
        char held_digest[REF_DIGEST_MAX];
        char held_reason[LOCK_REASON_MAX];
        enum bp_hold held_code; /* BP_HOLD_NONE when an older boardpin wrote the hold */
        /* Digests boardpin's pre-pull put in the runtime's store (not those already there), oldest first:
         * what a prune may remove. */
        char pulled[LOCK_PULLED_MAX][REF_DIGEST_MAX];
        size_t n_pulled;
        /* When an upgrade last switched to a new digest and kept it; 0: none recorded (an older lock). */
        int64_t upgraded_s;
        /* The last check an upgrade made (restart, units active, health =): when (0: none recorded) and
         * whether it passed. What the metrics show of a service's health. */
        int64_t checked_s;
        bool check_passed;
        /* How often the check of interrupted_digest was cut short (a boot found it unfinished). */
        unsigned interrupted;
        char interrupted_digest[REF_DIGEST_MAX];
        struct bp_lock_txn txn; /* step LOCK_STEP_NONE when none is open */
};

/* Opaque: only lock.c changes a lock, so every entry in it passes the checks lock_parse() makes, and what
 * lock_render() writes is always read back. */
struct bp_lock;

/* Parse lock.json text (strict JSON). -EBADMSG with a message for anything malformed or of another schema,
 * -EFBIG when larger than LOCK_MAX_BYTES. */
int lock_parse(const char *text, size_t len, struct bp_lock **ret, struct bp_err *err);

/* Read dir/lock.json: -ENOENT when there is none. */
int lock_read(const char *dir, struct bp_lock **ret, struct bp_err *err);

/* The JSON text of l (sorted by service, stable across runs); *ret owned by the caller. lock_parse() reads
 * it back to the same lock, byte for byte when rendered again; -EFBIG when it would not fit LOCK_MAX_BYTES. */
int lock_render(const struct bp_lock *l, char **ret, size_t *ret_len, struct bp_err *err);

struct bp_lock *lock_new(void);
void lock_free(struct bp_lock *l);
void lock_freep(struct bp_lock **l);

/* How many services l records, and the i-th of them (i < lock_count(l)), in no particular order. */
size_t lock_count(const struct bp_lock *l);
const struct bp_lock_entry *lock_entry(const struct bp_lock *l, size_t i);

/* The entry of service, or NULL. Borrowed from l until l next changes. */
const struct bp_lock_entry *lock_find(const struct bp_lock *l, const char *service);

/* Record a resolution for service: when the pinned digest changes, the old pin becomes previous, and what
 * verified the old one is forgotten unless r->sig says what verified the new one. -EINVAL,
 * and l unchanged, when any field would not pass lock_parse() (too long, a platform it cannot name). */
int lock_set(struct bp_lock *l, const char *service, const char *image, const char *version, const char *tag,
             const char *target, const struct bp_resolution *r, struct bp_err *err);

/* Record what a signature check said of service's pinned digest. -ENOENT when the lock has no such
 * service, -EINVAL for fields lock_parse() would refuse. */
int lock_set_sig(struct bp_lock *l, const char *service, const struct bp_lock_sig *sig, struct bp_err *err);

/* Forget services not in keep[0..n) (removed from the config). Returns how many went. */
size_t lock_prune(struct bp_lock *l, const char *const *keep, size_t n);

/* True when digest is on e's bad list. */
bool lock_is_bad(const struct bp_lock_entry *e, const char *digest);

/* Put digest on service's bad list (newest last; past LOCK_BAD_MAX the oldest goes; already there: moved
 * to the end). -ENOENT when the lock has no such service, -EINVAL for a digest lock_parse() would refuse. */
int lock_add_bad(struct bp_lock *l, const char *service, const char *digest, struct bp_err *err);

/* Record that an upgrade saw digest and did not take it, why as a code, and why for people (one line,
 * cleaned of control bytes and cut to LOCK_REASON_MAX); lock_clear_held() forgets it. */
int lock_set_held(struct bp_lock *l, const char *service, const char *digest, enum bp_hold code,
                  const char *reason, struct bp_err *err);
void lock_clear_held(struct bp_lock *l, const char *service);

/* Record that an upgrade switched service to a new digest and kept it, at at_s (seconds since the
 * epoch, > 0); and the outcome of an upgrade's check of service at at_s. -ENOENT when the lock has no
 * such service, -EINVAL for a time it could not write. Both survive a rollback. */
int lock_note_upgraded(struct bp_lock *l, const char *service, int64_t at_s);
int lock_note_check(struct bp_lock *l, const char *service, bool passed, int64_t at_s);

/* Open a transaction for service towards digest at step, keeping a copy of the entry as it is now
 * (before, for rolling back). The service must be in the lock. -EBUSY when one is open already. */
int lock_txn_begin(struct bp_lock *l, const char *service, const char *digest, enum lock_step step,
                   struct bp_err *err);
/* Open a transaction for a service the lock has no pin for yet (a first pin): before is NULL, so
 * undoing it removes the service from the lock. Call it after lock_set() created the entry. */
int lock_txn_begin_first(struct bp_lock *l, const char *service, const char *digest, enum lock_step step,
                         struct bp_err *err);
/* Move service's open transaction to step. -ENOENT when none is open. */
int lock_txn_step(struct bp_lock *l, const char *service, enum lock_step step);
/* Record whether the pull of the open transaction brings a digest the store did not have (set before
 * the pull starts, so an interrupted one counts; cleared when the runtime says the pull failed). */
void lock_txn_pull_new(struct bp_lock *l, const char *service, bool pull_new);
/* Close service's transaction (nothing to undo: committed or never switched); the lock is at rest again
 * for it. When the pull brought a new image, its digest goes to the pulled list. */
void lock_txn_end(struct bp_lock *l, const char *service);
/* Undo service's open transaction: the entry as before (lock_rollback()), or, for a first pin, the
 * service gone from the lock with its bad list kept in the lock's unpinned list. Then closed. */
int lock_txn_undo(struct bp_lock *l, const char *service, struct bp_err *err);
/* Take digest off service's pulled list: the image left the runtime's store. Absent is fine. */
void lock_forget_pulled(struct bp_lock *l, const char *service, const char *digest);
/* "pulling", "switching", … as the lock spells them. */
const char *lock_step_name(enum lock_step step);

/* Count one interrupted check of digest for service (a new digest starts again from 1); returns the
 * count. lock_clear_interrupted() forgets it. */
unsigned lock_count_interrupted(struct bp_lock *l, const char *service, const char *digest);
void lock_clear_interrupted(struct bp_lock *l, const char *service);

/* True when digest is on service's bad list: its entry's, or, for a service without a pin, the list
 * kept for it since its first pin failed. */
bool lock_service_bad(const struct bp_lock *l, const char *service, const char *digest);
/* The bad list of a service the lock does not pin (its first pin failed), or NULL; *ret_n its length. */
const char (*lock_unpinned_bad(const struct bp_lock *l, const char *service, size_t *ret_n))[REF_DIGEST_MAX];
/* A first pin's pull: record (pulled true, before the pull starts, so one cut short is recorded too) or
 * forget (the runtime says it failed: nothing stored) that boardpin pulls digest for service, which has
 * no pin yet. The record goes to its entry's pulled list when it is pinned, and back when that pin is
 * undone, so a prune finds it either way. -EINVAL when service has a pin or digest is not one. */
int lock_unpinned_pull(struct bp_lock *l, const char *service, const char *digest, bool pulled, struct bp_err *err);
/* What boardpin pulled for service while it had no pin, or NULL; *ret_n its length. */
const char (*lock_unpinned_pulled(const struct bp_lock *l, const char *service, size_t *ret_n))[REF_DIGEST_MAX];
/* Take digest off service's bad list (resolve --allow-bad); absent is fine. */
void lock_remove_bad(struct bp_lock *l, const char *service, const char *digest);

/* A copy of e, owned by the caller (lock_entry_free()): what an upgrade rolls back to. Its transaction
 * is not copied. */
int lock_entry_copy(const struct bp_lock_entry *e, struct bp_lock_entry **ret);
void lock_entry_free(struct bp_lock_entry *e);
void lock_entry_freep(struct bp_lock_entry **e);

/* Roll service back to before, the copy taken before it was switched: image, tag, index, platform
 * table, pin and previous pin as they were, so the env files render byte for byte as before. The bad
 * list and held are the lock's as they are now (the rollback adds to the bad list, it does not undo
 * it). With before NULL (the service had no pin before): -ENOENT, nothing to go back to. */
int lock_rollback(struct bp_lock *l, const struct bp_lock_entry *before, struct bp_err *err);

/* The digest in e's platform table for the best of compatible[0..n), or -ENOENT. */
int lock_pick(const struct bp_lock_entry *e, const struct bp_oci *compatible, size_t n,
              const struct bp_platform_digest **ret);

/* Point service at pick, a digest from its own platform table, for the board target (an SD card moved to
 * another board, answered offline): when the digest changes, the old pin becomes previous. */
int lock_repin(struct bp_lock *l, const char *service, const struct bp_platform_digest *pick, const char *target,
               struct bp_err *err);

/* The resolution e records, for the one-HEAD path of resolve_image(); owned by the caller. */
int lock_resolution(const struct bp_lock_entry *e, struct bp_resolution *ret);
