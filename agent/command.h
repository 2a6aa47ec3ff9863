/* agent/command.h: what the commands share: which of the config's services their operands name, the
 * pieces of JSON they all print the same way, and what upgrade's pure decision is handed from the config
 * and the machine (min_age, the machine's identity). Knows no registry and writes no files. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#include "cli.h"
#include "config.h"
#include "phase.h"
#include "pin.h"

/* The values of args a run needs (pin.h knows no command line); borrowed from args. */
struct bp_run_opts command_run_opts(const struct bp_args *args);

/* BP_RESULT_OK when every operand (argv[1..argc)) names a service of c; else BP_RESULT_USAGE, logged with
 * the config's path. */
int command_check_operands(const struct bp_config *c, int argc, char **argv);

/* Service s is named by an operand, or no operand names any. */
bool command_selects(int argc, char **argv, const struct bp_service *s);

/* o on stdout, pretty, with slashes as they are (image names are full of them). */
void command_print_json(json_object *o);

/* s as a JSON string, or null for NULL or "" (unknown, never guessed). */
json_object *command_str_or_null(const char *s);

/* min_age for service s: its own, else [boardpin]'s. */
int64_t command_min_age(const struct bp_config *c, const struct bp_service *s);

/* This machine's identity for phases: root/etc/machine-id (first line, "" when unreadable) mixed with the
 * board serial. */
const char *command_identity(const char *root, const char *serial, char buf[static PHASE_IDENTITY_MAX]);

/* At the end of a boot, resolve or upgrade that holds state_dir's lock: the metrics file (metrics =)
 * rewritten from the lock with this run (command, started at started_ms on CLOCK_MONOTONIC, its result
 * as the command returns it). Nothing with no metrics = or a dry run; a failure is a warning, never the
 * run's. */
void command_write_metrics(const struct bp_run *run, const char *command, int64_t started_ms, int result);

/* The requests run made, summed over its registries: {"head", "get", "blob", "tag_pages", "token"}. */
json_object *command_requests_json(const struct bp_run *run);
