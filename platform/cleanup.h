/* platform/cleanup.h: scope-bound cleanup, so every early return of the error idiom is safe. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void freep(void *p)
{
        free(*(void **) p);
}

static inline void closep(int *fd)
{
        if (*fd >= 0)
                (void) close(*fd);
}

static inline void fclosep(FILE **f)
{
        if (*f)
                (void) fclose(*f);
}

/* Ownership leaves the variable; its cleanup then sees NULL. */
static inline void *steal_ptr(void *pp)
{
        void **p = pp, *q = *p;

        *p = NULL;
        return q;
}

static inline int steal_fd(int *fd)
{
        int q = *fd;

        *fd = -1;
        return q;
}
