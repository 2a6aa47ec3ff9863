/* agent/cli.h: what main.c hands each command: the global options, and the exit codes of the contract. */
#pragma once

#include <stdbool.h>

enum {
        EXIT_OK = 0,            /* all good */
        EXIT_PARTIAL = 1,       /* at least one service failed (its previous env kept), or no platform */
        EXIT_USAGE = 2,         /* usage or config error: nothing written */
};

struct bp_args {
        const char *config;     /* -c */
        const char *root;       /* --root, "/" by default */
        const char *machine;    /* --machine, or NULL */
        const char *platform;   /* --platform, or NULL */
        bool json;
        bool insecure;          /* inspect: plain HTTP to the reference's registry */
        const char *auth_file;  /* inspect: credentials */
        const char *ca_file;    /* inspect: extra CA bundle for the registry */
        long timeout_s;         /* inspect: connect and low-speed limit of one request, 0: default */
        bool dry_run;           /* resolve: write nothing */
};

/* Each returns an exit code. argv[0] is the command name, the rest its operands. */
int cmd_detect(const struct bp_args *args, int argc, char **argv);
int cmd_inspect(const struct bp_args *args, int argc, char **argv);
int cmd_resolve(const struct bp_args *args, int argc, char **argv);
int cmd_boot(const struct bp_args *args, int argc, char **argv);
int cmd_status(const struct bp_args *args, int argc, char **argv);
int cmd_report(const struct bp_args *args, int argc, char **argv);
