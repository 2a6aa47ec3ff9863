/* agent/pin.h: one run of the pinning job: the config, this board's platform, the lock held under
 * state_dir's flock, and one registry client per host. resolve, boot and status share it; each service is
 * pinned on its own, so one failure keeps that service's previous pin and touches no other. Returns
 * results as structs; formatting them (text, JSON) is the commands' business. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "challenges.h"
#include "config.h"
#include "detect.h"
#include "lock.h"
#include "registry.h"
#include "resolve.h"

#define PIN_REGISTRIES_MAX 16
/* Distinct verify = keys one run loads: a few per registry at most. */
#define PIN_KEYS_MAX 32

struct bp_key;

/* How long a run waits for state_dir's lock while another boardpin holds it. A person running resolve
 * waits a few seconds for a boot that is answered from the lock; boot waits as long as it may wait for
 * the network (boot_wait), but never less than this, so boot_wait = 0 still outlasts a short resolve. */
#define PIN_LOCK_WAIT_MS INT64_C(10000)

/* What a run takes from the command line, as values: this module knows no command line. */
struct bp_run_opts {
        const char *config;   /* the config file */
        const char *root;     /* board facts under this directory */
        const char *machine;  /* assumed kernel machine, or NULL */
        const char *platform; /* forced target platform, or NULL */
        bool json;            /* results as one JSON document */
        bool dry_run;         /* write nothing */
        const char *const *allow_bad; /* services whose bad list a resolve may override */
        size_t n_allow_bad;
};

struct bp_run {
        struct bp_run_opts opts;
        struct bp_config *config;
        struct bp_platform platform;
        struct bp_lock *lock;
        int lock_fd; /* the state_dir flock, -1 when not taken */
        bool lock_was_corrupt;
        struct bp_http *http; /* one engine for every registry: they run side by side */
        struct bp_registry *registries[PIN_REGISTRIES_MAX];
        char hosts[PIN_REGISTRIES_MAX][REF_DOMAIN_MAX];
        size_t n_registries;
        struct bp_challenges *challenges; /* what each registry asked for last time */
        /* verify = keys, loaded when a service first needs them (never by a boot the lock answers). */
        struct bp_key *keys[PIN_KEYS_MAX];
        char key_paths[PIN_KEYS_MAX][CONFIG_VERIFY_PATH_MAX];
        size_t n_keys;
};

/* What became of one service. */
enum pin_status {
        PIN_OK,
        PIN_ERROR,
};

struct pin_result {
        char name[SERVICE_NAME_MAX];
        char image[REF_STRING_MAX];        /* "docker.io/vaultwarden/server" */
        char tag[REF_TAG_MAX];             /* PIN_OK only, as are the next four */
        char index_digest[REF_DIGEST_MAX]; /* "" for a single manifest */
        char digest[REF_DIGEST_MAX];
        char platform[RULES_NAME_MAX];
        char reference[REF_STRING_MAX]; /* image@digest */
        enum pin_status status;
        char error[sizeof(((struct bp_err *) 0)->msg)]; /* PIN_ERROR: one line a person can act on */
};

/* Load the config, choose the platform (--platform, platform =, or detection; prefer = kernel), and, when
 * writing, take state_dir's lock, waiting up to wait_ms for another boardpin to let go (wait_ms < 0: as
 * long as boot_wait, at least PIN_LOCK_WAIT_MS); read the lock (a corrupt one is set aside with a warning
 * and rebuilt, or only ignored when not writing). Returns BP_RESULT_OK when run is ready;
 * BP_RESULT_USAGE for a config that does not load (then run->config is NULL) or that names no services
 * (file:line says where it ends); BP_RESULT_PARTIAL when there is no platform or no lock. The reason is
 * logged. */
int run_open(const struct bp_run_opts *opts, bool write, int64_t wait_ms, struct bp_run *run);
/* The same for upgrade: when the wait runs out, "another boardpin holds DIR; not upgrading". Either way,
 * a run that has to wait says so in one line when it starts waiting. */
int run_open_upgrade(const struct bp_run_opts *opts, bool write, int64_t wait_ms, struct bp_run *run);
void run_close(struct bp_run *run);

/* state_dir's flock: at once when it is free, else one line saying so, then up to wait_ms. The fd, or
 * -EBUSY when the wait ran out. */
int run_lock_state_dir(const char *dir, int64_t wait_ms, struct bp_err *err);

/* The result of a service the lock answers for, from its entry e. */
void run_result_from_lock(const struct bp_lock_entry *e, struct pin_result *ret);

/* The result of service s that failed with err. */
void run_result_failed(const struct bp_service *s, const struct bp_err *err, struct pin_result *ret);

/* The same for many services at once: start each one's chain, run them all side by side (until every one
 * has answered or deadline_ms on CLOCK_MONOTONIC passes; 0: no deadline), then plan each result in the
 * order the caller chooses (config order), so the lock, env files and output do not depend on the order
 * the responses came in. */
struct bp_pin_job;
int run_start_service(struct bp_run *run, const struct bp_service *s, struct bp_pin_job **ret, struct bp_err *err);
/* once: one attempt per request, no retries or waits (boot with boot_wait = 0). */
int run_network(struct bp_run *run, int64_t deadline_ms, bool once, struct bp_err *err);
/* What job's answer asks of the apply module, added to plan: a pin, or a keep when the lock answers
 * (upgrade = no). A digest on the service's bad list is refused unless the run allows it (resolve
 * --allow-bad): plan_pin(). The error names the service; nothing is added then. */
struct bp_plan;
int run_finish_service(struct bp_run *run, struct bp_pin_job *job, struct bp_plan *plan, struct bp_err *err);
/* The resolution run_finish_service() plans from, for upgrade, which decides on its own: the
 * resolution of job (owned by the caller) and the tag resolved, 0; 1 when the lock answers for the
 * service and nothing was resolved (upgrade = no); or the error naming the service. The lock is left
 * as it is. */
int run_job_resolution(struct bp_run *run, struct bp_pin_job *job, struct bp_resolution *ret,
                       char ret_tag[static REF_TAG_MAX], struct bp_err *err);
/* What the signatures say of r, job's resolution (upgrade asks before it decides; run_finish_service()
 * before it records). 0: nothing to check (verify is off for the service, or r is the pin unchanged and
 * a key still listed verified it), or r->sig now says what verified it. 1: not signed by a listed key:
 * line says so in one line (verify_summary()'s, or that the unchanged pin was found unsigned before), and
 * r->sig is LOCK_SIG_UNVERIFIED. < 0: the check could not be made (a key refused with the config's
 * file:line, more signatures than allowed, a registry that failed), err naming the service. */
int run_job_verify(struct bp_run *run, struct bp_pin_job *job, struct bp_resolution *r, char *line, size_t size,
                   struct bp_err *err);

/* Load every key verify = names for the config's services, before anything is written: resolve and
 * upgrade refuse a bad key as a config error, naming the config's file:line (boot loads none: a boot the
 * lock answers verifies nothing). */
int run_load_keys(struct bp_run *run, struct bp_err *err);

/* What status says of e's pin, service s's, against verify =: NULL when verify is off for s and the pin
 * was never checked; "verified", "unverified", "unchecked" (verify is on, the pin was never checked), or
 * "key_unlisted" (verified by a key verify = no longer lists: the next upgrade or resolve checks it again).
 * Loads the keys (status is no boot); a key that does not load makes it "unchecked", with err set. */
const char *run_pin_signature(struct bp_run *run, const struct bp_service *s, const struct bp_lock_entry *e,
                              struct bp_err *err);

/* Record r, resolved for s at tag, in the lock (the old pin becomes previous), with what verified it.
 * Only apply.c calls it, carrying out a plan. */
int run_record(struct bp_run *run, const struct bp_service *s, const char *tag, const struct bp_resolution *r,
               struct bp_err *err);
void pin_job_free(struct bp_pin_job *job);

/* Keep what each registry asked for, a hint for the next run (one round trip saved); failing to is
 * not an error. */
void run_remember_challenges(struct bp_run *run);

/* Requests made so far, summed over all registries. */
void run_requests(const struct bp_run *run, struct bp_registry_stats *ret);
