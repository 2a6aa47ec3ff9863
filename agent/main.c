/* agent/main.c: argv -> one function per command -> exit code. Options may stand before or after the
 * command (getopt permutes); what remains are the command and its operands. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "text.h"

#ifndef BOARDPIN_VERSION
#define BOARDPIN_VERSION "unknown"
#endif

static const struct {
        const char *name;
        int (*run)(const struct bp_args *args, int argc, char **argv);
        const char *help;
} commands[] = {
        { "detect", cmd_detect, "board, CPU, kernel, userspace, chosen platform, fallback order" },
        { "resolve", cmd_resolve, "[SERVICE...]: resolve to digests; write lock and env files (--dry-run: write nothing)" },
        { "boot", cmd_boot, "env files right for this board from the lock, offline if possible" },
        { "status", cmd_status, "lock vs config vs this board" },
        { "report", cmd_report, "[SERVICE]: one markdown row for a compatibility table" },
        { "inspect", cmd_inspect, "REFERENCE: the digest this board would run, and why" },
};

static void help(void)
{
        printf("Usage: boardpin [OPTIONS] COMMAND\n\n"
               "Pins container images to the exact digest this board can run.\n\n"
               "Options:\n"
               "  -c, --config FILE   configuration (default /etc/boardpin/boardpin.ini)\n"
               "      --root DIR      read board facts (proc/, sys/, the runtime's ELF) under DIR\n"
               "      --machine M     assume this kernel machine (uname -m)\n"
               "      --platform P    target this platform (os/arch[/variant]) instead of detecting\n"
               "      --json          machine-readable output on stdout (one JSON document)\n"
               "      --dry-run       resolve: show what would be pinned, write nothing\n"
               "      --insecure      inspect: plain HTTP to the image's registry\n"
               "      --auth-file F   inspect: credentials (docker config.json / containers auth.json)\n"
               "      --ca-file F     inspect: CA certificates for the image's registry\n"
               "      --timeout S     inspect: seconds to connect, and of silence before a request fails\n"
               "  -q, --quiet         errors only\n"
               "  -v, --verbose       more detail on stderr\n"
               "      --version       print the version\n"
               "  -h, --help          this text\n\n"
               "Commands:\n");
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                printf("  %-18s  %s\n", commands[i].name, commands[i].help);
        printf("\nExit status: 0 all good; 1 a service failed or no platform could be determined;\n"
               "2 usage or configuration error.\n");
}

int main(int argc, char **argv)
{
        enum { OPT_ROOT = 256, OPT_MACHINE, OPT_PLATFORM, OPT_JSON, OPT_VERSION, OPT_INSECURE, OPT_AUTH_FILE, OPT_CA_FILE, OPT_TIMEOUT, OPT_DRY_RUN };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },    { "root", required_argument, NULL, OPT_ROOT },
                { "machine", required_argument, NULL, OPT_MACHINE },
                { "platform", required_argument, NULL, OPT_PLATFORM },
                { "json", no_argument, NULL, OPT_JSON },       { "quiet", no_argument, NULL, 'q' },
                { "verbose", no_argument, NULL, 'v' },         { "version", no_argument, NULL, OPT_VERSION },
                { "help", no_argument, NULL, 'h' },            { "insecure", no_argument, NULL, OPT_INSECURE },
                { "auth-file", required_argument, NULL, OPT_AUTH_FILE },
                { "ca-file", required_argument, NULL, OPT_CA_FILE },
                { "timeout", required_argument, NULL, OPT_TIMEOUT },
                { "dry-run", no_argument, NULL, OPT_DRY_RUN }, {},
        };
        struct bp_args args = { .config = "/etc/boardpin/boardpin.ini", .root = "/" };
        int c;

        while ((c = getopt_long(argc, argv, "c:qvh", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        args.config = optarg;
                        break;
                case OPT_ROOT:
                        args.root = optarg;
                        break;
                case OPT_MACHINE:
                        args.machine = optarg;
                        break;
                case OPT_PLATFORM:
                        args.platform = optarg;
                        break;
                case OPT_JSON:
                        args.json = true;
                        break;
                case 'q':
                        log_set_level(LOG_LEVEL_QUIET);
                        break;
                case 'v':
                        log_set_level(LOG_LEVEL_VERBOSE);
                        break;
                case OPT_DRY_RUN:
                        args.dry_run = true;
                        break;
                case OPT_INSECURE:
                        args.insecure = true;
                        break;
                case OPT_AUTH_FILE:
                        args.auth_file = optarg;
                        break;
                case OPT_CA_FILE:
                        args.ca_file = optarg;
                        break;
                case OPT_TIMEOUT: {
                        unsigned long long v;
                        if (text_parse_u64(optarg, 10, 3600, &v) < 0 || v == 0) {
                                log_error("--timeout: '%s' is not a number of seconds from 1 to 3600", optarg);
                                return EXIT_USAGE;
                        }
                        args.timeout_s = (long) v;
                        break;
                }
                case OPT_VERSION:
                        printf("boardpin %s\n", BOARDPIN_VERSION);
                        return EXIT_OK;
                case 'h':
                        help();
                        return EXIT_OK;
                default:
                        return EXIT_USAGE;      /* getopt said what was wrong */
                }
        }
        if (optind >= argc) {
                log_error("no command given (try 'boardpin --help')");
                return EXIT_USAGE;
        }
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(argv[optind], commands[i].name) == 0) {
                        return commands[i].run(&args, argc - optind, argv + optind);
                }
        log_error("unknown command '%s' (try 'boardpin --help')", argv[optind]);
        return EXIT_USAGE;
}
