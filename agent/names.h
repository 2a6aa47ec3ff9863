/* agent/names.h: the sizes of a service's names (the service, its env var, its Quadlet unit). The config
 * checks names against them at load; the state (lock, env files, drop-ins) sizes its buffers by them and
 * takes the names as values, never the config. */
#pragma once

#define SERVICE_NAME_MAX 64     /* buffer size; the longest name is SERVICE_NAME_MAX_CHARS */
/* "[service NAME]": inih keeps 48 bytes of a section name (config.c), and "service " takes 8. */
#define SERVICE_NAME_MAX_CHARS 40
#define ENV_VAR_MAX 64
/* What an env file value may hold (envfile.h says why): an image name outside it is refused at load. */
#define ENV_VALUE_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:/@+-"
#define QUADLET_UNIT_MAX 128

/* One service's names as the env files and the Quadlet drop-ins need them. Borrowed strings; quadlet is
 * "" when the service has no Quadlet unit. */
struct bp_names {
        const char *service;
        const char *env_var;
        const char *quadlet;
};
