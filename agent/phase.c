/* agent/phase.c: see phase.h. The hash is FNV-1a (64-bit) over identity, a NUL and the digest, finished
 * with splitmix64's mixer so that the low digits are as well spread as the high ones. It is part of the
 * contract: changing it would move machines between phases in the middle of a rollout. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "phase.h"

const char *phase_identity(const char *machine_id, const char *serial, char buf[static PHASE_IDENTITY_MAX])
{
        (void) snprintf(buf, PHASE_IDENTITY_MAX, "%.64s/%.64s", machine_id ? machine_id : "", serial ? serial : "");
        return buf;
}

static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                h ^= (unsigned char) s[i];
                h *= UINT64_C(0x100000001b3);
        }
        return h;
}

static uint64_t mix(uint64_t z)
{
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

unsigned phase_place(const char *identity, const char *digest)
{
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        h = fnv1a(h, identity, strlen(identity) + 1);   /* the NUL keeps "ab"+"c" apart from "a"+"bc" */
        h = fnv1a(h, digest, strlen(digest));
        return (unsigned) (mix(h) % 10000);
}

bool phase_included(const char *identity, const char *digest, int percent)
{
        if (percent <= 0)
                return false;
        if (percent >= 100)
                return true;
        return phase_place(identity, digest) < (unsigned) percent * 100;
}
