/* agent/challenges.c: see challenges.h. Each entry is kept as the WWW-Authenticate text that says it, and
 * read back through the same parser as a registry's header, so the file can hold nothing that a registry
 * could not have sent: {"schema": 1, "registries": {"host": "Basic realm=\"x\""}}. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "challenges.h"
#include "cleanup.h"
#include "fsio.h"
#include "jsonio.h"
#include "ref.h"
#include "text.h"

#define CHALLENGES_SCHEMA 1
#define HEADER_MAX_BYTES 2048

struct entry {
        char host[REF_DOMAIN_MAX];
        struct bp_challenge ch;
};

struct bp_challenges {
        struct entry e[CHALLENGES_MAX];
        size_t n;
};

void challenges_free(struct bp_challenges *c)
{
        free(c);
}

void challenges_freep(struct bp_challenges **c)
{
        challenges_free(*c);
}

/* A quoted-string of RFC 7230: '"' and '\' escaped. */
static bool quote(char *buf, size_t size, size_t *o, const char *s)
{
        if (*o + 1 >= size)
                return false;
        buf[(*o)++] = '"';
        for (; *s; s++) {
                if (*o + 3 >= size)
                        return false;
                if (*s == '"' || *s == '\\')
                        buf[(*o)++] = '\\';
                buf[(*o)++] = *s;
        }
        buf[(*o)++] = '"';
        buf[*o] = '\0';
        return true;
}

static bool header_of(const struct bp_challenge *ch, char buf[static HEADER_MAX_BYTES])
{
        size_t o;

        if (ch->scheme == BP_AUTH_NONE) {
                buf[0] = '\0';
                return true;
        }
        o = (size_t) snprintf(buf, HEADER_MAX_BYTES, "%s realm=", ch->scheme == BP_AUTH_BASIC ? "Basic" : "Bearer");
        if (!quote(buf, HEADER_MAX_BYTES, &o, ch->realm))
                return false;
        if (ch->scheme == BP_AUTH_BEARER && ch->service[0]) {
                if (o + sizeof(",service=") >= HEADER_MAX_BYTES)
                        return false;
                o += (size_t) snprintf(buf + o, HEADER_MAX_BYTES - o, ",service=");
                return quote(buf, HEADER_MAX_BYTES, &o, ch->service);
        }
        return true;
}

static void add_parsed(struct bp_challenges *c, const char *host, const char *header)
{
        struct bp_challenge ch = { .scheme = BP_AUTH_NONE };

        if (c->n == CHALLENGES_MAX || strlen(host) >= REF_DOMAIN_MAX || challenges_find(c, host))
                return;
        if (header[0] && auth_parse_challenge(header, &ch, NULL) < 0)
                return;
        text_copy(c->e[c->n].host, REF_DOMAIN_MAX, host);
        c->e[c->n++].ch = ch;
}

int challenges_read(const char *dir, struct bp_challenges **ret)
{
        _cleanup_(challenges_freep) struct bp_challenges *c = calloc(1, sizeof(*c));
        _cleanup_(jsonio_putp) json_object *o = NULL;
        _cleanup_free_ char *text = NULL, *path = NULL;
        json_object *schema, *regs;
        size_t len;

        if (!c)
                return -ENOMEM;
        if (asprintf(&path, "%s/%s", dir, CHALLENGES_NAME) < 0) {
                path = NULL;
                /* cppcheck-suppress memleak ; cppcheck does not model _cleanup_ */
                return -ENOMEM;
        }
        if (fsio_read(path, CHALLENGES_MAX_BYTES, &text, &len, NULL) == 0 &&
            jsonio_parse_object(text, len, CHALLENGES_MAX_BYTES, 4, CHALLENGES_NAME, &o, NULL) == 0 &&
            json_object_object_get_ex(o, "schema", &schema) && json_object_is_type(schema, json_type_int) &&
            json_object_get_int64(schema) == CHALLENGES_SCHEMA && json_object_object_get_ex(o, "registries", &regs) &&
            json_object_is_type(regs, json_type_object)) {
                json_object_object_foreach(regs, host, v)
                        if (json_object_is_type(v, json_type_string))
                                add_parsed(c, host, json_object_get_string(v));
        }
        *ret = steal_ptr(&c);
        return 0;
}

const struct bp_challenge *challenges_find(const struct bp_challenges *c, const char *host)
{
        for (size_t i = 0; c && i < c->n; i++)
                if (strcmp(c->e[i].host, host) == 0)
                        return &c->e[i].ch;
        return NULL;
}

int challenges_set(struct bp_challenges *c, const char *host, const struct bp_challenge *ch)
{
        struct entry *e = NULL;

        if (strlen(host) >= REF_DOMAIN_MAX)
                return -EINVAL;
        for (size_t i = 0; i < c->n && !e; i++)
                if (strcmp(c->e[i].host, host) == 0)
                        e = &c->e[i];
        if (!e) {
                if (c->n == CHALLENGES_MAX)
                        return -E2BIG;
                e = &c->e[c->n++];
                text_copy(e->host, sizeof(e->host), host);
        }
        e->ch = *ch;
        e->ch.scope[0] = '\0';
        if (e->ch.scheme != BP_AUTH_BEARER)
                e->ch.service[0] = '\0';
        return 0;
}

int challenges_write(const struct bp_challenges *c, const char *dir, struct bp_err *err)
{
        _cleanup_(jsonio_putp) json_object *o = json_object_new_object(), *regs = json_object_new_object();
        const char *text;

        if (!o || !regs)
                return bp_fail(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < c->n; i++) {
                char header[HEADER_MAX_BYTES];

                if (header_of(&c->e[i].ch, header))
                        json_object_object_add(regs, c->e[i].host, json_object_new_string(header));
        }
        json_object_object_add(o, "schema", json_object_new_int(CHALLENGES_SCHEMA));
        json_object_object_add(o, "registries", json_object_get(regs));
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE);
        return fsio_update(dir, CHALLENGES_NAME, text, strlen(text), 0644, err);
}
