/* agent/images.h: the images boardpin pulls itself, with pull = docker|podman. Before a pull: whether the
 * runtime's image store has room for the image and still min_free. After a switch has ended (committed or
 * rolled back): removing those of a service that boardpin pulled (the lock's pulled list) and keeps no
 * more (keep). An image a person pulled is never on that list, so never touched. The runtime is store.h's;
 * this module knows the lock and the config, not the runtime's commands. */
#pragma once

#include <json-c/json.h>
#include <stddef.h>

#include "lock.h"
#include "pin.h"

/* Pure: which of e's pulled digests a prune removes when it keeps keep images: the pin, then the previous
 * pin (keep >= 2), then the newest pulled ones not on the bad list. Their indexes into e->pulled, oldest
 * first, in ret; returns how many. */
size_t images_choose(const struct bp_lock_entry *e, int keep, size_t ret[static LOCK_PULLED_MAX]);

/* keep = of s, else [boardpin]'s. */
int images_keep(const struct bp_config *c, const struct bp_service *s);

/* Before pulling res for s: 0 when the store has room for it; 1 when a pull would leave less than min_free,
 * with the reason in reason ("low disk: 312 MiB free on /var/lib/containers, min_free 1 GiB"); a negative
 * errno when the store could not be asked (err says why). */
int images_room(const struct bp_run *run, const struct bp_resolution *res, char *reason, size_t size,
                struct bp_err *err);

/* Remove the images of s that images_choose() picks, through the runtime; each one removed, or found gone,
 * leaves the pulled list (the caller writes the lock). One left because a container uses it is told at
 * debug, a failure at warning: a prune never fails the run. Returns how many left the store. */
size_t images_prune(struct bp_run *run, const struct bp_service *s);

/* For status: "disk" in out (store path, free, min_free; null without pull), and per service "keep" and
 * "images" (the digests boardpin pulled and keeps) in o; text lines when not --json. */
void images_status_disk(const struct bp_run *run, json_object *out);
void images_status_service(const struct bp_run *run, const struct bp_service *s, const struct bp_lock_entry *e,
                           json_object *o);
