/* agent/images.c: see images.h. */
#include "images.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "text.h"

static const char *runtime_of(const struct bp_config *c)
{
        return c->pull == BP_PULL_DOCKER ? "docker" : "podman";
}

static bool in(const char *const *list, size_t n, const char *digest)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(list[i], digest) == 0)
                        return true;
        return false;
}

size_t images_choose(const struct bp_lock_entry *e, int keep, size_t ret[static LOCK_PULLED_MAX])
{
        const char *kept[LOCK_PULLED_MAX + 2];
        size_t n_kept = 0, n = 0;

        if (keep < 1)
                keep = 1;
        /* The pin always stays, whatever keep says: the units run it. */
        if (e->pin.digest[0])
                kept[n_kept++] = e->pin.digest;
        if (keep >= 2 && e->has_previous && e->previous.digest[0] && !in(kept, n_kept, e->previous.digest))
                kept[n_kept++] = e->previous.digest;
        for (size_t i = e->n_pulled; i-- > 0 && n_kept < (size_t) keep;)
                if (!lock_is_bad(e, e->pulled[i]) && !in(kept, n_kept, e->pulled[i]))
                        kept[n_kept++] = e->pulled[i];
        for (size_t i = 0; i < e->n_pulled; i++)
                if (!in(kept, n_kept, e->pulled[i]))
                        ret[n++] = i;
        return n;
}

int images_keep(const struct bp_config *c, const struct bp_service *s)
{
        return s && s->keep > 0 ? s->keep : c->keep;
}

/* min_free as written, for messages: "10%" or "1 GiB". */
static const char *min_free_text(const struct bp_config *c, char buf[static STORE_SIZE_TEXT_MAX])
{
        if (c->min_free_percent > 0) {
                (void) snprintf(buf, STORE_SIZE_TEXT_MAX, "%d%%", c->min_free_percent);
                return buf;
        }
        return store_size_text(c->min_free_bytes, buf);
}

int images_room(const struct bp_run *run, const struct bp_resolution *res, char *reason, size_t size,
                struct bp_err *err)
{
        const struct bp_config *c = run->config;
        char free_text[STORE_SIZE_TEXT_MAX], min_text[STORE_SIZE_TEXT_MAX], image_text[STORE_SIZE_TEXT_MAX];
        struct bp_store_space sp;
        uint64_t min;
        int r = store_space(runtime_of(c), &sp, err);

        if (r < 0)
                return r;
        min = store_min_free(c->min_free_percent, c->min_free_bytes, sp.size_bytes);
        if (store_room(&sp, res->size, min))
                return 0;
        (void) snprintf(reason, size, "low disk: %s free on %s, min_free %s",
                        store_size_text(sp.free_bytes, free_text), sp.path, min_free_text(c, min_text));
        if (c->min_free_percent > 0) {
                size_t o = strlen(reason);

                (void) snprintf(reason + o, size - o, " (%s)", store_size_text(min, min_text));
        }
        if (res->size > 0) {
                size_t o = strlen(reason);

                (void) snprintf(reason + o, size - o, ", the image %s", store_size_text(res->size, image_text));
        }
        return 1;
}

size_t images_prune(struct bp_run *run, const struct bp_service *s)
{
        const struct bp_lock_entry *e = lock_find(run->lock, s->name);
        const char *runtime = runtime_of(run->config), *platform = run->platform.name;
        char go[LOCK_PULLED_MAX][REF_DIGEST_MAX], image[REF_STRING_MAX], ref[REF_STRING_MAX + REF_DIGEST_MAX];
        const char *name;
        size_t idx[LOCK_PULLED_MAX], n, gone = 0;

        if (!e || e->txn.step != LOCK_STEP_NONE)
                return 0;
        n = images_choose(e, images_keep(run->config, s), idx);
        /* copied: forgetting one moves the others in the entry */
        for (size_t i = 0; i < n; i++)
                text_copy(go[i], REF_DIGEST_MAX, e->pulled[idx[i]]);
        name = ref_name(&s->image, image);
        for (size_t i = 0; i < n; i++) {
                struct bp_err err = { 0 };
                int r;

                if (snprintf(ref, sizeof(ref), "%s@%s", name, go[i]) >= (int) sizeof(ref))
                        continue; /* cannot be: the config took the name, the lock the digest */
                r = store_remove(runtime, ref, &err);
                if (r == STORE_REMOVED || r == STORE_ABSENT) {
                        lock_forget_pulled(run->lock, s->name, go[i]);
                        gone += r == STORE_REMOVED;
                        log_full(LOG_INFO, s->name, go[i], platform, "service '%s': %s %s", s->name,
                                 r == STORE_REMOVED ? "removed the image" : "no longer in the store:", ref);
                } else if (r == STORE_IN_USE) {
                        log_full(LOG_DEBUG, s->name, go[i], platform,
                                 "service '%s': %s is used by a container, left in the store", s->name, ref);
                } else {
                        log_full(LOG_WARNING, s->name, go[i], platform, "service '%s': %s, ignoring", s->name,
                                 err.msg);
                }
        }
        return gone;
}

void images_status_disk(const struct bp_run *run, json_object *out)
{
        const struct bp_config *c = run->config;
        char free_text[STORE_SIZE_TEXT_MAX], min_text[STORE_SIZE_TEXT_MAX], bytes_text[STORE_SIZE_TEXT_MAX];
        struct bp_store_space sp;
        struct bp_err err = { 0 };
        json_object *o;
        uint64_t min;

        if (c->pull == BP_PULL_NONE) {
                json_object_object_add(out, "disk", NULL);
                return;
        }
        o = json_object_new_object();
        json_object_object_add(o, "min_free", json_object_new_string(min_free_text(c, min_text)));
        json_object_object_add(out, "disk", o);
        if (store_space(runtime_of(c), &sp, &err) < 0) {
                json_object_object_add(o, "store", NULL);
                json_object_object_add(o, "error", json_object_new_string(err.msg));
                if (!run->opts.json)
                        printf("disk: %s\n", err.msg);
                return;
        }
        min = store_min_free(c->min_free_percent, c->min_free_bytes, sp.size_bytes);
        json_object_object_add(o, "store", json_object_new_string(sp.path));
        json_object_object_add(o, "free_bytes", json_object_new_int64((int64_t) sp.free_bytes));
        json_object_object_add(o, "size_bytes", json_object_new_int64((int64_t) sp.size_bytes));
        json_object_object_add(o, "min_free_bytes", json_object_new_int64((int64_t) min));
        json_object_object_add(o, "error", NULL);
        if (!run->opts.json)
                printf("disk: %s free on %s, min_free %s%s%s%s\n", store_size_text(sp.free_bytes, free_text),
                       sp.path, min_free_text(c, min_text), c->min_free_percent ? " (" : "",
                       c->min_free_percent ? store_size_text(min, bytes_text) : "", c->min_free_percent ? ")" : "");
}

void images_status_service(const struct bp_run *run, const struct bp_service *s, const struct bp_lock_entry *e,
                           json_object *o)
{
        json_object *list = json_object_new_array();

        json_object_object_add(o, "keep", json_object_new_int(images_keep(run->config, s)));
        for (size_t i = 0; e && i < e->n_pulled; i++) {
                json_object_array_add(list, json_object_new_string(e->pulled[i]));
                if (!run->opts.json)
                        printf("%-16s kept: %s\n", "", e->pulled[i]);
        }
        json_object_object_add(o, "kept_images", list);
}
