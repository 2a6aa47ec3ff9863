/* agent/pin.h: one run of the pinning job: the config, this board's platform, the lock held under
 * state_dir's flock, and one registry client per host. resolve, boot and status share it; each service is
 * pinned on its own, so one failure keeps that service's previous pin and touches no other. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#include "cli.h"
#include "config.h"
#include "detect.h"
#include "lock.h"
#include "registry.h"

#define PIN_REGISTRIES_MAX 16

struct bp_run {
        const struct bp_args *args;
        struct bp_config *config;
        struct bp_platform platform;
        struct bp_lock *lock;
        int lock_fd;                    /* the state_dir flock, -1 when not taken */
        bool lock_was_corrupt;
        struct bp_registry *registries[PIN_REGISTRIES_MAX];
        char hosts[PIN_REGISTRIES_MAX][REF_DOMAIN_MAX];
        size_t n_registries;
};

/* Load the config (an error is EXIT_USAGE), choose the platform (--platform, platform =, or detection;
 * prefer = kernel), and, when writing, take state_dir's lock; read the lock (a corrupt one is set aside
 * with a warning and rebuilt). Returns an exit code; EXIT_OK means run is ready. */
int run_open(const struct bp_args *args, bool write, struct bp_run *run);
void run_close(struct bp_run *run);

/* Resolve service s over the network and record it in the lock. Fills the JSON result object o. */
int run_resolve_service(struct bp_run *run, const struct bp_service *s, json_object *o, struct bp_err *err);

/* Write the lock and then the env files (the lock first: it is the state, env files a view of it), then
 * the Quadlet drop-ins, with a daemon-reload when one changed and systemd runs. The message says which
 * of them moved. */
int run_commit(struct bp_run *run, struct bp_err *err);

/* Requests made so far, over all registries: {"head", "get", "blob", "tag_pages", "token"}. */
json_object *run_requests_json(const struct bp_run *run);

/* The pinned reference "image@sha256:…" of an entry, in buf. */
const char *run_reference(const struct bp_lock_entry *e, char *buf, size_t size);
