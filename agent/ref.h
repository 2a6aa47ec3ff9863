/* agent/ref.h: image references, parsed and normalized as docker does ("nginx" is
 * docker.io/library/nginx:latest). Knows no network: which host serves a domain is said here, nothing
 * more. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define REF_DOMAIN_MAX 256
#define REF_PATH_MAX 256
#define REF_TAG_MAX 129         /* 128 characters, docker's limit */
#define REF_DIGEST_MAX 72       /* "sha256:" + 64 hex + NUL */
#define REF_STRING_MAX (REF_DOMAIN_MAX + REF_PATH_MAX + REF_TAG_MAX + REF_DIGEST_MAX)

struct bp_ref {
        char domain[REF_DOMAIN_MAX];    /* "docker.io", "ghcr.io", "127.0.0.1:5000", "localhost" */
        char path[REF_PATH_MAX];        /* "library/nginx", "vaultwarden/server" */
        char tag[REF_TAG_MAX];          /* "latest" when neither tag nor digest was given; "" with a digest only */
        char digest[REF_DIGEST_MAX];    /* "sha256:…" or "" */
};

/* Parse s. Rules (docker's reference grammar): the first component is a registry domain when it has a '.'
 * or ':' or is "localhost", else the domain is docker.io; docker.io names without '/' get "library/";
 * "index.docker.io" is docker.io; path components are lower-case [a-z0-9] joined by '.', '_', '__' or
 * runs of '-'; a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; a digest is sha256: and 64 lower-case hex;
 * the name (domain/path) is at most 255 characters. As in docker, a registry may be an [IPv6] address and
 * a bare 64-hex name is refused as an image ID. Unlike docker, an upper-case first component ("Foo/bar")
 * is a path, so it is refused (docker takes it for a host), and a port must be 1-65535.
 * -EINVAL with a message naming s and the rule broken; *ret is set only on success. */
int ref_parse(const char *s, struct bp_ref *ret, struct bp_err *err);

/* "docker.io/library/nginx:latest", "ghcr.io/o/r@sha256:…", "host/x:tag@sha256:…". Returns buf. */
const char *ref_format(const struct bp_ref *r, char buf[static REF_STRING_MAX]);

/* "docker.io/library/nginx": the name without tag or digest. Returns buf. */
const char *ref_name(const struct bp_ref *r, char buf[static REF_STRING_MAX]);

/* The host (and port) that serves the registry API for r->domain: registry-1.docker.io for docker.io,
 * the domain itself otherwise. Borrowed from r or static. */
const char *ref_api_host(const struct bp_ref *r);

/* What is wrong with d as a registry's host[:port] (a host name, IPv4 or [IPv6] address; a port 1-65535),
 * or NULL when nothing is. */
const char *ref_domain_problem(const char *d);

/* True for "sha256:" followed by exactly 64 lower-case hex digits. */
bool ref_digest_ok(const char *s);

/* True for a valid tag (see ref_parse). */
bool ref_tag_ok(const char *s);
