/* agent/lock.h: lock.json, the state: per service the image, the tag resolved, the index digest, the
 * digest of every platform the index offers (so an SD card moved to another board is answered offline),
 * the digest chosen for this board and the one before it. Reads it, checks it, renders it whole; fsio.c
 * writes it. Knows no HTTP and no env files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "err.h"
#include "ref.h"
#include "resolution.h"
#include "rules.h"

#define LOCK_SCHEMA 1
#define LOCK_MAX_BYTES (8 * 1024 * 1024)
#define LOCK_NAME "lock.json"
#define LOCK_BAD_MAX 16 /* bad digests kept per service; the oldest goes first */
#define LOCK_REASON_MAX 256

struct bp_lock_pin {
        char tag[REF_TAG_MAX];
        char digest[REF_DIGEST_MAX];
        char platform[RULES_NAME_MAX];
        char resolved_at[32];           /* RFC 3339 UTC */
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

/* Record a resolution for service: when the pinned digest changes, the old pin becomes previous. -EINVAL,
 * and l unchanged, when any field would not pass lock_parse() (too long, a platform it cannot name). */
int lock_set(struct bp_lock *l, const char *service, const char *image, const char *version, const char *tag,
             const char *target, const struct bp_resolution *r, struct bp_err *err);

/* Forget services not named in c (removed from the config). Returns how many went. */
size_t lock_prune(struct bp_lock *l, const struct bp_config *c);

/* True when digest is on e's bad list. */
bool lock_is_bad(const struct bp_lock_entry *e, const char *digest);

/* Put digest on service's bad list (newest last; past LOCK_BAD_MAX the oldest goes; already there: moved
 * to the end). -ENOENT when the lock has no such service, -EINVAL for a digest lock_parse() would refuse. */
int lock_add_bad(struct bp_lock *l, const char *service, const char *digest, struct bp_err *err);

/* Record that an upgrade saw digest and did not take it, and why (one line, cleaned of control bytes and
 * cut to LOCK_REASON_MAX); lock_clear_held() forgets it. */
int lock_set_held(struct bp_lock *l, const char *service, const char *digest, const char *reason,
                  struct bp_err *err);
void lock_clear_held(struct bp_lock *l, const char *service);

/* A copy of e, owned by the caller (lock_entry_free()): what an upgrade rolls back to. */
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
