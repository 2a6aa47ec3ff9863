/* agent/cli.h: what main.c hands each command (the options it parsed) and what a command hands back (a
 * result main() maps to the exit codes of the contract, once). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* What a command returns when it does not return a negative errno (which main() maps to EXIT_PARTIAL). */
#include "result.h"

/* The exit codes of the contract; only main() uses them. */
enum {
        EXIT_OK = 0,
        EXIT_PARTIAL = 1,
        EXIT_USAGE = 2,
};

/* Options beyond the global ones (-c, --root, --machine, --platform, -q, -v): each command says which of
 * these it uses, and any other is a usage error. */
enum {
        CLI_OPT_JSON = 1 << 0,     /* --json */
        CLI_OPT_DRY_RUN = 1 << 1,  /* --dry-run */
        CLI_OPT_REGISTRY = 1 << 2, /* --insecure, --auth-file, --ca-file, --timeout */
        CLI_OPT_ALLOW_BAD = 1 << 3, /* --allow-bad SERVICE */
        CLI_OPT_VERIFY = 1 << 4,    /* --verify KEY */
};

#define CLI_ALLOW_BAD_MAX 16
#define CLI_VERIFY_MAX 8

struct bp_args {
        const char *config;   /* -c */
        const char *root;     /* --root, "/" by default */
        const char *machine;  /* --machine, or NULL */
        const char *platform; /* --platform, or NULL */
        bool json;
        bool insecure;         /* inspect: plain HTTP to the reference's registry */
        const char *auth_file; /* inspect: credentials */
        const char *ca_file;   /* inspect: extra CA bundle for the registry */
        long timeout_s;        /* inspect: connect and low-speed limit of one request, 0: default */
        bool dry_run;          /* resolve, boot, upgrade: write nothing */
        const char *allow_bad[CLI_ALLOW_BAD_MAX]; /* resolve: services whose bad list it may override */
        size_t n_allow_bad;
        const char *verify[CLI_VERIFY_MAX]; /* inspect: public keys to check the signatures with */
        size_t n_verify;
};

/* Each returns an enum bp_result or a negative errno. argv[0] is the command name, the rest its operands. */
int cmd_detect(const struct bp_args *args, int argc, char **argv);
int cmd_inspect(const struct bp_args *args, int argc, char **argv);
int cmd_resolve(const struct bp_args *args, int argc, char **argv);
int cmd_boot(const struct bp_args *args, int argc, char **argv);
int cmd_status(const struct bp_args *args, int argc, char **argv);
int cmd_report(const struct bp_args *args, int argc, char **argv);
int cmd_upgrade(const struct bp_args *args, int argc, char **argv);
