/* agent/detect_cmd.c: `boardpin detect`: the board's facts and chosen platform, for people or as JSON. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "command.h"
#include "detect.h"
#include "jsonio.h"
#include "log.h"

static json_object *int_or_null(int v)
{
        return v ? json_object_new_int(v) : NULL;
}

static const char *float_name(enum bp_float f)
{
        return f == BP_FLOAT_HARD ? "hard" : f == BP_FLOAT_SOFT ? "soft" : NULL;
}

static json_object *detect_json(const struct bp_platform *p)
{
        json_object *o = json_object_new_object(), *cpu = json_object_new_object(),
                    *kernel = json_object_new_object(), *us = json_object_new_object(),
                    *compat = json_object_new_array(), *notes = json_object_new_array(),
                    *dt = json_object_new_array();
        char name[RULES_NAME_MAX];

        json_object_object_add(o, "board", command_str_or_null(p->board));
        json_object_object_add(cpu, "arch", command_str_or_null(p->cpu.arch));
        json_object_object_add(cpu, "variant", command_str_or_null(p->cpu.variant));
        json_object_object_add(cpu, "model", command_str_or_null(p->cpu.model));
        json_object_object_add(cpu, "source", command_str_or_null(p->cpu.source));
        json_object_object_add(o, "cpu", cpu);
        json_object_object_add(kernel, "machine", command_str_or_null(p->kernel.machine));
        json_object_object_add(kernel, "bits", int_or_null(p->kernel.bits));
        json_object_object_add(kernel, "source", command_str_or_null(p->kernel.source));
        json_object_object_add(o, "kernel", kernel);
        json_object_object_add(us, "arch", command_str_or_null(p->userspace.arch));
        json_object_object_add(us, "variant", command_str_or_null(p->userspace.variant));
        json_object_object_add(us, "float", command_str_or_null(float_name(p->userspace.fp)));
        json_object_object_add(us, "bits", int_or_null(p->userspace.bits));
        json_object_object_add(us, "source", command_str_or_null(p->userspace.source));
        json_object_object_add(o, "userspace", us);
        json_object_object_add(o, "platform", command_str_or_null(p->name));
        for (size_t i = 0; i < p->n_compatible; i++)
                json_object_array_add(compat, json_object_new_string(rules_format(&p->compatible[i], name)));
        json_object_object_add(o, "compatible", compat);
        json_object_object_add(o, "board_source", command_str_or_null(p->board_source));
        json_object_object_add(o, "hardware", command_str_or_null(p->hardware));
        json_object_object_add(o, "revision", command_str_or_null(p->revision));
        for (size_t i = 0; i < p->n_dt_compatible; i++)
                json_object_array_add(dt, json_object_new_string(p->dt_compatible[i]));
        json_object_object_add(o, "devicetree_compatible", dt);
        for (size_t i = 0; i < p->n_notes; i++)
                json_object_array_add(notes, json_object_new_string(p->notes[i]));
        json_object_object_add(o, "notes", notes);
        json_object_object_add(o, "error", command_str_or_null(p->name[0] ? NULL : p->why));
        return o;
}

static const char *or_unknown(const char *s)
{
        return s && s[0] ? s : "unknown";
}

static void detect_print(const struct bp_platform *p)
{
        char name[RULES_NAME_MAX];

        printf("%-11s %s", "board", or_unknown(p->board));
        printf(p->board_source ? "  (%s)\n" : "\n", p->board_source);
        printf("%-11s %s%s%s%s%s", "cpu", or_unknown(p->cpu.arch), p->cpu.variant[0] ? " " : "", p->cpu.variant,
               p->cpu.model[0] ? ", " : "", p->cpu.model);
        printf(p->cpu.source ? "  (%s)\n" : "\n", p->cpu.source);
        printf("%-11s %s", "kernel", or_unknown(p->kernel.machine));
        if (p->kernel.bits)
                printf(", %d-bit", p->kernel.bits);
        printf(p->kernel.source ? "  (%s)\n" : "\n", p->kernel.source);
        printf("%-11s %s%s%s", "userspace", or_unknown(p->userspace.arch), p->userspace.variant[0] ? " " : "",
               p->userspace.variant);
        if (float_name(p->userspace.fp))
                printf(", %s-float", float_name(p->userspace.fp));
        if (p->userspace.bits)
                printf(", %d-bit", p->userspace.bits);
        printf(p->userspace.source[0] ? "  (%s)\n" : "\n", p->userspace.source);
        printf("%-11s %s\n", "platform", p->name[0] ? p->name : "unknown");
        printf("%-11s", "compatible");
        for (size_t i = 0; i < p->n_compatible; i++)
                printf(" %s", rules_format(&p->compatible[i], name));
        printf("\n");
        for (size_t i = 0; i < p->n_notes; i++)
                printf("%-11s %s\n", "note", p->notes[i]);
}

int cmd_detect(const struct bp_args *args, int argc, char **argv)
{
        struct bp_platform p;
        struct bp_err err = { 0 };

        if (argc > 1) {
                log_error("detect takes no operands, got '%s'", argv[1]);
                return BP_RESULT_USAGE;
        }
        if (platform_detect(args->root, args->machine, &p, &err) < 0) {
                log_error("%s", err.msg);
                return BP_RESULT_PARTIAL;
        }
        if (args->platform && platform_set_target(&p, args->platform, &err) < 0) {
                log_error("--platform: %s", err.msg);
                return BP_RESULT_USAGE;
        }
        if (args->json) {
                _cleanup_(jsonio_putp) json_object *o = detect_json(&p);
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE));
        } else {
                detect_print(&p);
        }
        if (!p.name[0]) {
                log_error("no platform: %s", p.why);
                return BP_RESULT_PARTIAL;
        }
        return BP_RESULT_OK;
}
