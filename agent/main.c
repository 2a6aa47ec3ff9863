/* agent/main.c: argv -> one function per command -> exit code. Options may stand before or after the
 * command (getopt permutes); what remains are the command and its operands. Each command names the
 * options it uses beyond the global ones, and the exit code is decided here, once, from what it returns. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "fsio.h"
#include "log.h"
#include "text.h"

#ifndef BOARDPIN_VERSION
#define BOARDPIN_VERSION "unknown"
#endif

static const struct {
        const char *name;
        int (*run)(const struct bp_args *args, int argc, char **argv);
        unsigned options; /* CLI_OPT_* it uses */
        const char *help;
} commands[] = {
        { "detect", cmd_detect, CLI_OPT_JSON, "board, CPU, kernel, userspace, chosen platform, fallback order" },
        { "resolve", cmd_resolve, CLI_OPT_JSON | CLI_OPT_DRY_RUN | CLI_OPT_ALLOW_BAD,
          "[SERVICE...]: resolve to digests; write lock and env files\n"
          "                      (a digest on a service's bad list is refused)" },
        { "boot", cmd_boot, CLI_OPT_JSON | CLI_OPT_DRY_RUN,
          "env files right for this board from the lock, offline if possible\n"
          "                      (config broken or empty: the lock's env files as they are, exit 2)" },
        { "upgrade", cmd_upgrade, CLI_OPT_JSON | CLI_OPT_DRY_RUN,
          "[SERVICE...]: take new digests (bad list, min_age, rollout), pre-pull,\n"
          "                      switch, restart units, health-check, roll back on failure" },
        { "status", cmd_status, CLI_OPT_JSON, "lock vs config vs this board; rollout phase, bad list,\n"
          "                      image store free space, images kept" },
        { "report", cmd_report, CLI_OPT_JSON, "[SERVICE]: one markdown row for a compatibility table" },
        { "inspect", cmd_inspect, CLI_OPT_JSON | CLI_OPT_REGISTRY | CLI_OPT_VERIFY,
          "REFERENCE: the digest this board would run, and why" },
};

/* The options of the CLI_OPT_* groups, for the help text and for naming one a command does not use. */
static const struct {
        unsigned group;
        const char *name;
        const char *help;
} command_options[] = {
        { CLI_OPT_JSON, "--json", "machine-readable output on stdout (one JSON document)" },
        { CLI_OPT_DRY_RUN, "--dry-run", "show what would be pinned, write nothing" },
        { CLI_OPT_REGISTRY, "--insecure", "plain HTTP to the image's registry" },
        { CLI_OPT_REGISTRY, "--auth-file F", "credentials (docker config.json / containers auth.json)" },
        { CLI_OPT_REGISTRY, "--ca-file F", "CA certificates for the image's registry" },
        { CLI_OPT_REGISTRY, "--timeout S", "seconds to connect, and of silence before a request fails" },
        { CLI_OPT_ALLOW_BAD, "--allow-bad NAME", "pin service NAME even to a bad-listed digest; unlist it" },
        { CLI_OPT_VERIFY, "--verify KEY", "show each signature found and whether KEY (repeatable) verifies it" },
};

static void help(void)
{
        printf("Usage: boardpin [OPTIONS] COMMAND [COMMAND OPTIONS] [OPERANDS]\n\n"
               "Pins container images to the exact digest this board can run.\n\n"
               "Options of every command:\n"
               "  -c, --config FILE   configuration (default /etc/boardpin/boardpin.ini)\n"
               "      --root DIR      read board facts (proc/, sys/, the runtime's ELF) under DIR\n"
               "      --machine M     assume this kernel machine (uname -m)\n"
               "      --platform P    target this platform (os/arch[/variant]) instead of detecting\n"
               "  -q, --quiet         errors only\n"
               "  -v, --verbose       more detail on stderr\n"
               "      --version       print the version\n"
               "  -h, --help          this text\n\n"
               "Commands and their own options (any other is a usage error):\n");
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
                printf("  %-18s  %s\n", commands[i].name, commands[i].help);
                for (size_t j = 0; j < sizeof(command_options) / sizeof(command_options[0]); j++)
                        if (commands[i].options & command_options[j].group)
                                printf("      %-16s  %s\n", command_options[j].name, command_options[j].help);
        }
        printf("\nExit status: 0 all good; 1 a service failed or no platform could be determined;\n"
               "2 usage or configuration error.\n");
}

/* The one place where what a command returns becomes an exit code. */
static int exit_code(int r)
{
        if (r < 0)
                return EXIT_PARTIAL;
        switch (r) {
        case BP_RESULT_OK:
                return EXIT_OK;
        case BP_RESULT_USAGE:
                return EXIT_USAGE;
        default:
                return EXIT_PARTIAL;
        }
}

/* Results go to stdout: one that could not be written (a reader that went away) is a failure, said once. */
static int flush_stdout(int r)
{
        errno = 0;
        if (fflush(stdout) == 0 && !ferror(stdout))
                return r;
        log_error("stdout: %s", errno ? strerror(errno) : "write error");
        return r < 0 || r == BP_RESULT_OK ? -EPIPE : r;
}

static int run(int argc, char **argv, struct bp_args *args)
{
        enum {
                OPT_ROOT = 256,
                OPT_MACHINE,
                OPT_PLATFORM,
                OPT_JSON,
                OPT_VERSION,
                OPT_INSECURE,
                OPT_AUTH_FILE,
                OPT_CA_FILE,
                OPT_TIMEOUT,
                OPT_DRY_RUN,
                OPT_ALLOW_BAD,
                OPT_VERIFY
        };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "root", required_argument, NULL, OPT_ROOT },
                { "machine", required_argument, NULL, OPT_MACHINE },
                { "platform", required_argument, NULL, OPT_PLATFORM },
                { "json", no_argument, NULL, OPT_JSON },
                { "quiet", no_argument, NULL, 'q' },
                { "verbose", no_argument, NULL, 'v' },
                { "version", no_argument, NULL, OPT_VERSION },
                { "help", no_argument, NULL, 'h' },
                { "insecure", no_argument, NULL, OPT_INSECURE },
                { "auth-file", required_argument, NULL, OPT_AUTH_FILE },
                { "ca-file", required_argument, NULL, OPT_CA_FILE },
                { "timeout", required_argument, NULL, OPT_TIMEOUT },
                { "dry-run", no_argument, NULL, OPT_DRY_RUN },
                { "allow-bad", required_argument, NULL, OPT_ALLOW_BAD },
                { "verify", required_argument, NULL, OPT_VERIFY },
                {},
        };
        const char *first[5] = { 0 }; /* the first option seen of each CLI_OPT_* group, by bit */
        unsigned seen = 0;
        int c, idx;

#define SEEN(bit, n)                                                 \
        do {                                                         \
                if (!(seen & (bit)))                                 \
                        first[__builtin_ctz(bit)] = options[n].name; \
                seen |= (bit);                                       \
        } while (0)
        while ((idx = -1, c = getopt_long(argc, argv, "c:qvh", options, &idx)) >= 0) {
                switch (c) {
                case 'c':
                        args->config = optarg;
                        break;
                case OPT_ROOT:
                        args->root = optarg;
                        break;
                case OPT_MACHINE:
                        args->machine = optarg;
                        break;
                case OPT_PLATFORM:
                        args->platform = optarg;
                        break;
                case OPT_JSON:
                        SEEN(CLI_OPT_JSON, idx);
                        args->json = true;
                        break;
                case 'q':
                        log_set_level(LOG_LEVEL_QUIET);
                        break;
                case 'v':
                        log_set_level(LOG_LEVEL_VERBOSE);
                        break;
                case OPT_DRY_RUN:
                        SEEN(CLI_OPT_DRY_RUN, idx);
                        args->dry_run = true;
                        break;
                case OPT_ALLOW_BAD:
                        SEEN(CLI_OPT_ALLOW_BAD, idx);
                        if (args->n_allow_bad == CLI_ALLOW_BAD_MAX) {
                                log_error("--allow-bad: more than %d services", CLI_ALLOW_BAD_MAX);
                                return BP_RESULT_USAGE;
                        }
                        args->allow_bad[args->n_allow_bad++] = optarg;
                        break;
                case OPT_VERIFY:
                        SEEN(CLI_OPT_VERIFY, idx);
                        if (args->n_verify == CLI_VERIFY_MAX) {
                                log_error("--verify: more than %d keys", CLI_VERIFY_MAX);
                                return BP_RESULT_USAGE;
                        }
                        args->verify[args->n_verify++] = optarg;
                        break;
                case OPT_INSECURE:
                        SEEN(CLI_OPT_REGISTRY, idx);
                        args->insecure = true;
                        break;
                case OPT_AUTH_FILE:
                        SEEN(CLI_OPT_REGISTRY, idx);
                        args->auth_file = optarg;
                        break;
                case OPT_CA_FILE:
                        SEEN(CLI_OPT_REGISTRY, idx);
                        args->ca_file = optarg;
                        break;
                case OPT_TIMEOUT: {
                        unsigned long long v;

                        SEEN(CLI_OPT_REGISTRY, idx);
                        if (text_parse_u64(optarg, 10, 3600, &v) < 0 || v == 0) {
                                log_error("--timeout: '%s' is not a number of seconds from 1 to 3600", optarg);
                                return BP_RESULT_USAGE;
                        }
                        args->timeout_s = (long) v;
                        break;
                }
                case OPT_VERSION:
                        printf("boardpin %s\n", BOARDPIN_VERSION);
                        return BP_RESULT_OK;
                case 'h':
                        help();
                        return BP_RESULT_OK;
                default:
                        return BP_RESULT_USAGE; /* getopt said what was wrong */
                }
        }
#undef SEEN
        if (optind >= argc) {
                log_error("no command given (try 'boardpin --help')");
                return BP_RESULT_USAGE;
        }
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
                unsigned unused;

                if (strcmp(argv[optind], commands[i].name) != 0)
                        continue;
                unused = seen & ~commands[i].options;
                if (unused) {
                        log_error("option '--%s' is not used by '%s' (try 'boardpin --help')",
                                  first[__builtin_ctz(unused)], commands[i].name);
                        return BP_RESULT_USAGE;
                }
                return commands[i].run(args, argc - optind, argv + optind);
        }
        log_error("unknown command '%s' (try 'boardpin --help')", argv[optind]);
        return BP_RESULT_USAGE;
}

int main(int argc, char **argv)
{
        struct bp_args args = { .config = "/etc/boardpin/boardpin.ini", .root = "/" };

        /* curl runs with CURLOPT_NOSIGNAL, and a write to a connection the server closed (or to a stdout
         * whose reader went away) must come back as EPIPE, not kill the process before the lock and env
         * files are whole. Before anything opens a socket. */
        if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
                log_error("ignoring SIGPIPE: %s", strerror(errno));
                return EXIT_PARTIAL;
        }
        /* What every command writes goes on the record that the package's postrm purges by. */
        (void) fsio_set_record(FSIO_RECORD_DEFAULT, NULL);
        return exit_code(flush_stdout(run(argc, argv, &args)));
}
