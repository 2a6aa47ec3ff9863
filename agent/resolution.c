/* agent/resolution.c: see resolution.h. */
#include "resolution.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void resolution_done(struct bp_resolution *r)
{
        free(r->table);
        memset(r, 0, sizeof(*r));
}

int resolution_copy(struct bp_resolution *dst, const struct bp_resolution *src)
{
        *dst = *src;
        dst->table = NULL;
        if (src->n_table) {
                /* calloc checks n * size for overflow, which memcpy's length then cannot reach */
                dst->table = calloc(src->n_table, sizeof(*dst->table));
                if (!dst->table) {
                        dst->n_table = 0;
                        return -ENOMEM;
                }
                memcpy(dst->table, src->table, src->n_table * sizeof(*dst->table));
        }
        return 0;
}
