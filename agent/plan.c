/* agent/plan.c: see plan.h. */
#include "plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

void plan_done(struct bp_plan *p)
{
        for (size_t i = 0; i < p->n; i++)
                resolution_done(&p->items[i].res);
        free(p->items);
        p->items = NULL;
        p->n = 0;
}

void plan_donep(struct bp_plan *p)
{
        plan_done(p);
}

/* A new item for service at the end of p, zeroed but for its name, action and why, in *ret. -EINVAL
 * for a name that does not fit (the config and the lock refuse such names, so it cannot happen). */
static int add(struct bp_plan *p, const char *service, enum plan_action a, const char *why, struct plan_item **ret,
               struct bp_err *err)
{
        struct plan_item *items, *it;

        if (strlen(service) >= SERVICE_NAME_MAX)
                return bp_fail(err, -EINVAL, "service '%.*s…': name too long", SERVICE_NAME_MAX_CHARS, service);
        items = realloc(p->items, (p->n + 1) * sizeof(*items));
        if (!items)
                return bp_fail(err, -ENOMEM, "out of memory");
        p->items = items;
        it = &items[p->n++];
        memset(it, 0, sizeof(*it));
        text_copy(it->service, sizeof(it->service), service);
        text_copy(it->why, sizeof(it->why), why ? why : "");
        it->action = a;
        *ret = it;
        return 0;
}

/* The last item, added with a resolution that could not be copied: taken off again. */
static int drop_last(struct bp_plan *p, struct bp_err *err)
{
        resolution_done(&p->items[--p->n].res);
        return bp_fail(err, -ENOMEM, "out of memory");
}

int plan_keep(struct bp_plan *p, const char *service, bool forget_held, const char *why, struct bp_err *err)
{
        struct plan_item *it;
        int r = add(p, service, PLAN_KEEP, why, &it, err);

        if (r < 0)
                return r;
        it->forget_held = forget_held;
        return 0;
}

int plan_pin(struct bp_plan *p, const char *service, const char *tag, const struct bp_resolution *r, bool bad,
             bool allow_bad, bool forget_held, struct bp_err *err)
{
        struct plan_item *it;
        int rc;

        /* The bad list holds for every path: one digest that failed its check here is not taken again
         * unless a person says so. */
        if (bad && !allow_bad)
                return bp_fail(err, -EPERM,
                               "service '%s': %s is on the bad list (it failed its check here); "
                               "'resolve --allow-bad %s' pins it anyway",
                               service, r->digest, service);
        rc = add(p, service, PLAN_PIN, allow_bad && bad ? "pinned on purpose though on the bad list" : "resolved",
                 &it, err);
        if (rc < 0)
                return rc;
        text_copy(it->tag, sizeof(it->tag), tag);
        it->allow_bad = allow_bad;
        it->forget_held = forget_held;
        return resolution_copy(&it->res, r) < 0 ? drop_last(p, err) : 0;
}

int plan_repin(struct bp_plan *p, const char *service, const struct bp_platform_digest *pick, const char *target,
               struct bp_err *err)
{
        struct plan_item *it;
        int r = add(p, service, PLAN_REPIN, "the lock was made for another board", &it, err);

        if (r < 0)
                return r;
        it->pick = *pick;
        text_copy(it->target, sizeof(it->target), target);
        return 0;
}

int plan_switch(struct bp_plan *p, const char *service, const char *tag, const struct bp_resolution *r,
                const char *why, struct bp_err *err)
{
        struct plan_item *it;
        int rc = add(p, service, PLAN_SWITCH, why, &it, err);

        if (rc < 0)
                return rc;
        text_copy(it->tag, sizeof(it->tag), tag);
        return resolution_copy(&it->res, r) < 0 ? drop_last(p, err) : 0;
}

int plan_hold(struct bp_plan *p, const char *service, const char *digest, enum bp_hold code, const char *reason,
              struct bp_err *err)
{
        struct plan_item *it;
        int r = add(p, service, PLAN_HOLD, reason, &it, err);

        if (r < 0)
                return r;
        text_copy(it->res.digest, sizeof(it->res.digest), digest);
        it->hold = code;
        return 0;
}

static bool named(const char *service, const char *const *names, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(names[i], service) == 0)
                        return true;
        return false;
}

int plan_unpin_others(struct bp_plan *p, const char *const *configured, size_t n_configured,
                      const char *const *locked, size_t n_locked, struct bp_err *err)
{
        struct plan_item *it;
        int added = 0, r;

        if (n_configured == 0)
                return 0;
        for (size_t i = 0; i < n_locked; i++) {
                if (named(locked[i], configured, n_configured) || plan_find(p, locked[i], PLAN_UNPIN))
                        continue;
                r = add(p, locked[i], PLAN_UNPIN, "the config names it no more", &it, err);
                if (r < 0)
                        return r;
                added++;
        }
        return added;
}

struct plan_item *plan_find(const struct bp_plan *p, const char *service, enum plan_action action)
{
        for (size_t i = 0; i < p->n; i++)
                if (p->items[i].action == action && strcmp(p->items[i].service, service) == 0)
                        return &p->items[i];
        return NULL;
}

size_t plan_count(const struct bp_plan *p, enum plan_action action)
{
        size_t n = 0;

        for (size_t i = 0; i < p->n; i++)
                n += p->items[i].action == action;
        return n;
}

const char *plan_action_name(enum plan_action a)
{
        static const char *const names[] = {
                [PLAN_KEEP] = "keep",   [PLAN_PIN] = "pin",   [PLAN_REPIN] = "repin",
                [PLAN_SWITCH] = "switch", [PLAN_HOLD] = "hold", [PLAN_UNPIN] = "unpin",
        };

        return (size_t) a < sizeof(names) / sizeof(names[0]) && names[a] ? names[a] : "unknown";
}
