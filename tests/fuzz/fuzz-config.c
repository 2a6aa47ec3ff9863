/* tests/fuzz/fuzz-config.c: libFuzzer target for boardpin.ini: parsing, the promises of config.h about
 * what a parsed file holds, and one-line messages naming the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static void check_service(const struct bp_config *c, size_t i)
{
        const struct bp_service *s = &c->services[i];
        struct bp_oci all[RULES_COMPAT_MAX];
        struct bp_oci arm64;
        size_t n;

        if (strnlen(s->name, sizeof(s->name)) == sizeof(s->name) || s->name[0] == '\0' ||
            config_service(c, s->name) != s)
                abort();
        if (s->image.tag[0] || s->image.digest[0] || s->image.domain[0] == '\0' || s->image.path[0] == '\0')
                abort();
        if (s->n_tags > CONFIG_TAGS_MAX || s->line == 0 || s->env_var[0] == '\0' || s->version[0] == '\0')
                abort();
        for (size_t j = 0; j < i; j++)
                if (strcmp(c->services[j].env_var, s->env_var) == 0)
                        abort();
        for (size_t j = 0; j < s->n_tags; j++)
                for (size_t k = 0; k < j; k++)
                        if (rules_equal(&s->tags[j].platform, &s->tags[k].platform))
                                abort();
        if (rules_parse("linux/arm64", &arm64, NULL) != 0)
                abort();
        n = rules_compatible(&arm64, all);
        (void) config_template_for(s, all, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct bp_config *c = NULL;
        struct bp_err err = { 0 };
        int r = config_parse("f.ini", (const char *) data, size, &c, &err);

        if (r < 0) {
                if (c || strncmp(err.msg, "f.ini", 5) != 0 || strchr(err.msg, '\n'))
                        abort();
                return 0;
        }
        if (!c || c->timeout_s < 1 || c->timeout_s > 3600 || c->boot_wait_s < 0 || c->boot_wait_s > 3600 ||
            c->rollout < 0 || c->rollout > 100 || c->state_dir[0] != '/' || c->env_dir[0] != '/')
                abort();
        for (size_t i = 0; i < c->n_services; i++)
                check_service(c, i);
        for (size_t i = 0; i < c->n_registries; i++)
                if (config_registry(c, c->registries[i].host) != &c->registries[i])
                        abort();
        config_free(c);
        return 0;
}
