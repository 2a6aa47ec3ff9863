/* agent/config.h: /etc/boardpin/boardpin.ini: agent settings, per-registry settings and the services.
 * Reads and validates the whole file up front (an error names file:line and writes nothing); knows no
 * network, no lock, no env files. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "names.h"
#include "ref.h"
#include "rules.h"

#define CONFIG_MAX_BYTES (64 * 1024)
#define CONFIG_TAGS_MAX 8
/* images.env is the combined file: a service of that name would share it. */
#define SERVICE_NAME_RESERVED "images"
/* Registries one run talks to: each is a connection and a token cache (PIN_REGISTRIES_MAX in pin.h). */
#define CONFIG_REGISTRIES_MAX 16
#define QUADLET_DIR_DEFAULT "/etc/containers/systemd"      /* root's Quadlet units, podman 4.4 to 5.x */
/* health = exec:/path ARG…: the path and its arguments, at most. health.c's HEALTH_ARGS_MAX holds as many
 * (tests/unit/test-config.c checks the two agree: the config knows no health module). */
#define CONFIG_HEALTH_WORDS_MAX 16
/* verify = PATH…: public keys one setting lists, enough for a key, its successor and a spare. */
#define CONFIG_VERIFY_KEYS_MAX 8
/* A key's path: every service carries its own setting, so not PATH_MAX each. */
#define CONFIG_VERIFY_PATH_MAX 256

/* A verify = setting: where it was written, for the messages of the keys it names (the config reads no
 * key: loading one is libcrypto's work, which a boot answered from the lock must not do). */
struct bp_verify_conf {
        char paths[CONFIG_VERIFY_KEYS_MAX][CONFIG_VERIFY_PATH_MAX]; /* absolute */
        size_t n_paths;                               /* 0 with line != 0: verify = none */
        unsigned line;                                /* 0: not set here */
};
#define CONFIG_KEEP_MAX 10               /* keep = 1..10 */
#define CONFIG_MIN_FREE_PERCENT_MAX 90   /* min_free = 1..90% */

enum bp_pull {
        BP_PULL_NONE,
        BP_PULL_DOCKER,
        BP_PULL_PODMAN,
};

/* notify = URL…: at most this many destinations in one section. */
#define CONFIG_NOTIFY_URLS_MAX 4
#define CONFIG_NOTIFY_URL_MAX 512

/* What notify_on = chooses, a bit each. */
enum bp_event {
        BP_EVENT_ROLLBACK = 1u << 0,
        BP_EVENT_FAILURE = 1u << 1,
        BP_EVENT_HELD = 1u << 2,
        BP_EVENT_UPGRADED = 1u << 3,
        BP_EVENT_AVAILABLE = 1u << 4,
};
#define BP_EVENT_DEFAULT (BP_EVENT_ROLLBACK | BP_EVENT_FAILURE)

enum bp_notify_kind {
        BP_NOTIFY_NTFY,    /* ntfy+https://HOST/TOPIC: ntfy's publish API */
        BP_NOTIFY_WEBHOOK, /* webhook+https://HOST/PATH: one JSON document a run */
};

/* One notify = destination. url and everything after host are secrets (an ntfy topic, a webhook path):
 * messages name only the scheme and host. */
struct bp_notify_url {
        enum bp_notify_kind kind;
        bool plain;                     /* http://: only for a host with insecure = true */
        char url[CONFIG_NOTIFY_URL_MAX]; /* the http(s):// URL posted to, without the kind */
        char host[REF_DOMAIN_MAX];      /* host[:port]: its auth file key and [registry] section */
};

/* notify = and notify_on = of one section: a service's replace [boardpin]'s, each on its own. */
struct bp_notify_conf {
        struct bp_notify_url urls[CONFIG_NOTIFY_URLS_MAX];
        size_t n_urls;
        bool urls_set;   /* notify = given here */
        unsigned on;     /* enum bp_event bits */
        bool on_set;     /* notify_on = given here */
        unsigned line;   /* of notify =, for messages */
};

struct bp_tag_template {
        struct bp_oci platform;         /* normalized */
        char template[REF_TAG_MAX];     /* "{version}-armv6", "raspberry" */
};

struct bp_service {
        char name[SERVICE_NAME_MAX];    /* [a-z0-9][a-z0-9_.-]* */
        struct bp_ref image;            /* docker-normalized; no tag or digest (the version says it) */
        char version[REF_TAG_MAX];      /* as written: exact tag or range; "latest" when absent */
        struct bp_tag_template tags[CONFIG_TAGS_MAX];
        size_t n_tags;
        char env_var[ENV_VAR_MAX];      /* default: upper-cased name, [.-] as _, + "_IMAGE" */
        char units[512];                /* space-separated unit names, "" if none */
        char health[512];               /* "http://…", "https://…" (no user:password@), "exec:/path", or "" */
        bool upgrade;                   /* default yes; also true for upgrade = notify */
        bool monitor_only;              /* upgrade = notify: resolve and report, never pull or switch */
        int64_t min_age_s;              /* upgrade: a new digest's image must be this old; -1: [boardpin]'s */
        char quadlet[QUADLET_UNIT_MAX]; /* podman Quadlet unit "NAME.container" pinned by a drop-in, or "" */
        struct bp_notify_conf notify;   /* its own notify = / notify_on =, where set */
        struct bp_verify_conf verify;   /* the service's own verify =, if set */
        int keep;                       /* images boardpin pulled that a prune keeps, 1..10; 0: [boardpin]'s */
        unsigned line;                  /* of its [service …] header, for messages */
};

struct bp_registry_conf {
        char host[REF_DOMAIN_MAX];      /* as in the section name: "127.0.0.1:5000", "docker.io" */
        bool insecure;
        char ca_file[PATH_MAX];         /* "" if none */
        char mirror[512];               /* "" if none; "http[s]://HOST[:PORT]", asked first (registry.h) */
        char mirror_host[REF_DOMAIN_MAX]; /* its HOST[:PORT]: its auth file key and [registry] section */
        bool mirror_plain;              /* its scheme is http:// */
        struct bp_verify_conf verify;   /* verify = for every image from this host, if set */
};

struct bp_config {
        char path[PATH_MAX];
        char platform[RULES_NAME_MAX];  /* "auto", or a normalized platform such as "linux/arm/v6" */
        bool prefer_kernel;             /* prefer = kernel */
        char state_dir[PATH_MAX];       /* default /var/lib/boardpin */
        char env_dir[PATH_MAX];         /* default /run/boardpin */
        char auth_file[PATH_MAX];       /* "" if none */
        long timeout_s;                 /* 1..3600, default 30 */
        long boot_wait_s;               /* 0..3600, default 90 */
        enum bp_pull pull;              /* default none */
        int rollout;                    /* 0..100, default 100: the share of machines that take a new digest */
        int64_t min_age_s;              /* default 0: upgrade takes a new digest however young */
        char quadlet_dir[PATH_MAX];     /* Quadlet's unit directory, default /etc/containers/systemd */
        struct bp_notify_conf notify;   /* [boardpin]'s notify = / notify_on = */
        char metrics[PATH_MAX];         /* "" if none; else an absolute path ending in NAME.prom */
        struct bp_verify_conf verify;   /* the default verify =, if set */
        /* min_free: what a pull must leave free on the image store's filesystem, either a share of it
         * (1..90 %, default 10) or, with min_free_percent 0, a size in bytes. */
        int min_free_percent;
        uint64_t min_free_bytes;
        int keep;                       /* 1..10, default 2: images boardpin pulled, kept per service */
        struct bp_registry_conf *registries;
        size_t n_registries;
        struct bp_service *services;
        size_t n_services;
};

/* Read path (at most CONFIG_MAX_BYTES; a FIFO or anything but a regular file is refused) and parse it. */
int config_load(const char *path, struct bp_config **ret, struct bp_err *err);

/* Parse text (len bytes); path is used in messages only. Every error is one line "path:line: …": unknown
 * section or key, a key outside any section, duplicate key or service, bad service name (one of
 * [a-z0-9][a-z0-9_.-]* up to SERVICE_NAME_MAX_CHARS, not SERVICE_NAME_RESERVED), missing image, an image
 * with a tag or digest, an image name with a byte outside ENV_VALUE_CHARS (an IPv6 address in brackets),
 * services on more than CONFIG_REGISTRIES_MAX registry hosts, bad platform string (platform =,
 * tag.<platform>), bad version or range, a number out of range or not a number, a tag template without
 * {version} when the version is a range, a bad env_var or one used twice, a quadlet that is not
 * NAME.container or one used twice, a health check that is neither http(s):// nor exec:/absolute, a mirror
 * that is not http(s)://HOST[:PORT][/], a mirror or health URL with a user name or password (an '@' ahead of
 * its query; the message leaves it out), a metrics path that is not absolute or does not end in NAME.prom,
 * a bad host or a port outside 1-65535 (a mirror's host must also be a registry domain, and a bracketed
 * one an IPv6 address: the one check of a mirror URL; the registry client takes its split, mirror_host),
 * a line over 198 bytes, a section name of 49 bytes or more (inih cuts them), a NUL byte, a verify = that
 * is neither none nor up to CONFIG_VERIFY_KEYS_MAX absolute paths (the keys themselves are checked where
 * they are loaded). */
int config_parse(const char *path, const char *text, size_t len, struct bp_config **ret, struct bp_err *err);

/* The destinations for service s (NULL: [boardpin]'s): its own notify = when set, else [boardpin]'s.
 * Borrowed from c. */
const struct bp_notify_conf *config_notify(const struct bp_config *c, const struct bp_service *s);

/* The events s (NULL: the run itself) notifies: its own notify_on = when set, else [boardpin]'s, else
 * BP_EVENT_DEFAULT, plus BP_EVENT_AVAILABLE for a service with upgrade = notify when neither sets it. */
unsigned config_notify_on(const struct bp_config *c, const struct bp_service *s);

/* "rollback", "failure", … as notify_on = spells the single event ev. */
const char *config_event_name(enum bp_event ev);

/* The env_var of a service that sets none: its name upper-cased, '.' and '-' as '_', then "_IMAGE"
 * ("vault-warden" is VAULT_WARDEN_IMAGE). buf always holds it (cut to fit, for messages); -EINVAL when it
 * is not a valid name ("1password" gives 1PASSWORD_IMAGE) or was cut, else 0. */
int config_default_env_var(const char *service, char buf[static ENV_VAR_MAX]);

void config_free(struct bp_config *c);
void config_freep(struct bp_config **c);

/* The [registry HOST] section for host (as in a reference's domain), or NULL. Borrowed from c. */
const struct bp_registry_conf *config_registry(const struct bp_config *c, const char *host);

/* The verify = setting that holds for s: its [service], else its image's [registry HOST], else
 * [boardpin]; NULL when none sets it or the one that wins says none. Borrowed from c. */
const struct bp_verify_conf *config_verify_for(const struct bp_config *c, const struct bp_service *s);

/* The service named name, or NULL. Borrowed from c. */
const struct bp_service *config_service(const struct bp_config *c, const char *name);

/* The names of c's services, in order, for the state modules (which take values, not the config): an
 * array of c->n_services (at least one element) to free(), its strings borrowed from c; NULL when out
 * of memory. */
struct bp_names *config_names(const struct bp_config *c);

/* The tag template for the best platform of compatible[0..n) that has one, or NULL (then the plain
 * version tag is used). */
const struct bp_tag_template *config_template_for(const struct bp_service *s, const struct bp_oci *compatible,
                                                   size_t n);
