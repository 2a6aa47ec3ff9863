/* tests/unit/test-config.c: boardpin.ini: every key read back, defaults, what inih would take silently
 * (long lines and section names, indented lines, ':' pairs), comments, CRLF, BOM, and one exact message
 * with file:line for each rule. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "config.h"
#include "health.h"
#include "helpers.h"
#include "version.h"

#define EXAMPLE FIXTURES "/../../etc/boardpin.ini"

static struct bp_config *parse_ok(const char *text)
{
        struct bp_config *c = NULL;
        struct bp_err err = { 0 };

        if (config_parse("t.ini", text, strlen(text), &c, &err) != 0)
                fail_msg("rejected: %s\n---\n%s", err.msg, text);
        assert_non_null(c);
        return c;
}

static void assert_fails_len(const char *text, size_t len, int want_r, const char *want)
{
        struct bp_config *c = (struct bp_config *) (uintptr_t) 1;
        struct bp_err err = { 0 };
        int r = config_parse("t.ini", text, len, &c, &err);

        if (r == 0)
                fail_msg("accepted, wanted '%s'\n---\n%s", want, text);
        assert_ptr_equal(c, (struct bp_config *) (uintptr_t) 1); /* ret untouched on failure */
        if (strcmp(err.msg, want) != 0)
                fail_msg("message\n  got  '%s'\n  want '%s'\n---\n%s", err.msg, want, text);
        if (want_r)
                assert_int_equal(r, want_r);
        assert_null(strchr(err.msg, '\n'));
}

static void assert_fails(const char *text, const char *want)
{
        assert_fails_len(text, strlen(text), 0, want);
}

static const char full[] = "[boardpin]\n"
                           "platform = armhf\n"
                           "prefer = kernel\n"
                           "state_dir = /srv/boardpin/state\n"
                           "env_dir = /run/pins\n"
                           "auth_file = /etc/boardpin/auth.json\n"
                           "timeout = 3600\n"
                           "boot_wait = 0\n"
                           "pull = podman\n"
                           "rollout = 25\n"
                           "\n"
                           "[registry 127.0.0.1:5000]\n"
                           "insecure = true\n"
                           "ca_file = /etc/boardpin/ca.pem\n"
                           "mirror = https://mirror.lan:5000\n"
                           "[registry index.docker.io]\n"
                           "insecure = no\n"
                           "mirror = http://10.0.0.2:5000/\n"
                           "\n"
                           "[service vaultwarden]\n"
                           "image = 127.0.0.1:5000/vaultwarden/server\n"
                           "version = >=1.29 <2\n"
                           "tag.linux/arm/v6 = {version}-armv6\n"
                           "tag.armhf = {version}-raspberry\n"
                           "tag.aarch64 = {version}-aarch64\n"
                           "tag.linux/amd64 = {version}\n"
                           "env_var = VW_IMAGE\n"
                           "units = vaultwarden.service   vaultwarden-backup.timer\tgetty@tty1.service\n"
                           "health = exec:/usr/local/bin/check-vw\n"
                           "upgrade = false\n"
                           "[service pi-hole.dns]\n"
                           "image = pihole/pihole\n"
                           "version = 2024.07.0\n"
                           "tag.linux/arm/v6 = armv6-{version}\n"
                           "tag.linux/arm/v7 = raspberry\n"
                           "health = https://127.0.0.1/admin/\n"
                           "upgrade = yes\n";

static void full_round_trip(void **state)
{
        _cleanup_(config_freep) struct bp_config *c = parse_ok(full);
        const struct bp_service *s;
        const struct bp_registry_conf *g;
        char buf[REF_STRING_MAX], name[RULES_NAME_MAX];

        (void) state;
        assert_string_equal(c->path, "t.ini");
        assert_string_equal(c->platform, "linux/arm/v7");
        assert_true(c->prefer_kernel);
        assert_string_equal(c->state_dir, "/srv/boardpin/state");
        assert_string_equal(c->env_dir, "/run/pins");
        assert_string_equal(c->auth_file, "/etc/boardpin/auth.json");
        assert_int_equal(c->timeout_s, 3600);
        assert_int_equal(c->boot_wait_s, 0);
        assert_int_equal(c->pull, BP_PULL_PODMAN);
        assert_int_equal(c->rollout, 25);

        assert_int_equal(c->n_registries, 2);
        g = config_registry(c, "127.0.0.1:5000");
        assert_ptr_equal(g, &c->registries[0]);
        assert_true(g->insecure);
        assert_string_equal(g->ca_file, "/etc/boardpin/ca.pem");
        assert_string_equal(g->mirror, "https://mirror.lan:5000");
        assert_string_equal(g->mirror_host, "mirror.lan:5000");
        assert_false(g->mirror_plain);
        g = &c->registries[1];
        assert_string_equal(g->host, "index.docker.io");
        assert_false(g->insecure);
        assert_string_equal(g->ca_file, "");
        assert_string_equal(g->mirror, "http://10.0.0.2:5000/");
        assert_string_equal(g->mirror_host, "10.0.0.2:5000");
        assert_true(g->mirror_plain);

        assert_int_equal(c->n_services, 2);
        s = config_service(c, "vaultwarden");
        assert_ptr_equal(s, &c->services[0]);
        assert_string_equal(s->name, "vaultwarden");
        assert_string_equal(ref_format(&s->image, buf), "127.0.0.1:5000/vaultwarden/server");
        assert_string_equal(s->image.tag, "");
        assert_string_equal(s->image.digest, "");
        assert_string_equal(s->version, ">=1.29 <2");
        assert_int_equal(s->n_tags, 4);
        assert_string_equal(rules_format(&s->tags[0].platform, name), "linux/arm/v6");
        assert_string_equal(s->tags[0].template, "{version}-armv6");
        assert_string_equal(rules_format(&s->tags[1].platform, name), "linux/arm/v7");
        assert_string_equal(s->tags[1].template, "{version}-raspberry");
        assert_string_equal(rules_format(&s->tags[2].platform, name), "linux/arm64");
        assert_string_equal(s->tags[2].template, "{version}-aarch64");
        assert_string_equal(rules_format(&s->tags[3].platform, name), "linux/amd64");
        assert_string_equal(s->tags[3].template, "{version}");
        assert_string_equal(s->env_var, "VW_IMAGE");
        assert_string_equal(s->units, "vaultwarden.service vaultwarden-backup.timer getty@tty1.service");
        assert_string_equal(s->health, "exec:/usr/local/bin/check-vw");
        assert_false(s->upgrade);
        assert_int_equal(s->line, 20);

        s = config_service(c, "pi-hole.dns");
        assert_ptr_equal(s, &c->services[1]);
        assert_string_equal(ref_format(&s->image, buf), "docker.io/pihole/pihole");
        assert_string_equal(s->version, "2024.07.0");
        assert_int_equal(s->n_tags, 2);
        assert_string_equal(s->tags[0].template, "armv6-{version}");
        assert_string_equal(s->tags[1].template, "raspberry");
        assert_string_equal(s->env_var, "PI_HOLE_DNS_IMAGE");
        assert_string_equal(s->units, "");
        assert_string_equal(s->health, "https://127.0.0.1/admin/");
        assert_true(s->upgrade);
        assert_int_equal(s->line, 31);
        assert_null(config_service(c, "pihole"));
}

static void defaults(void **state)
{
        _cleanup_(config_freep) struct bp_config *c = parse_ok("[service nginx]\nimage = nginx\n");
        const struct bp_service *s = &c->services[0];
        char buf[REF_STRING_MAX];

        (void) state;
        assert_string_equal(c->platform, "auto");
        assert_false(c->prefer_kernel);
        assert_string_equal(c->state_dir, "/var/lib/boardpin");
        assert_string_equal(c->env_dir, "/run/boardpin");
        assert_string_equal(c->auth_file, "");
        assert_int_equal(c->timeout_s, 30);
        assert_int_equal(c->boot_wait_s, 90);
        assert_int_equal(c->pull, BP_PULL_NONE);
        assert_int_equal(c->rollout, 100);
        assert_int_equal(c->n_registries, 0);
        assert_null(c->registries);
        assert_int_equal(c->n_services, 1);
        assert_string_equal(ref_format(&s->image, buf), "docker.io/library/nginx");
        assert_string_equal(s->version, "latest");
        assert_int_equal(s->n_tags, 0);
        assert_string_equal(s->env_var, "NGINX_IMAGE");
        assert_string_equal(s->units, "");
        assert_string_equal(s->health, "");
        assert_true(s->upgrade);
        assert_int_equal(s->line, 1);
        assert_null(config_registry(c, "docker.io"));
}

static void empty_files(void **state)
{
        static const char *const texts[] = {
                "",           "\n",           "\n\n\n",     "; nothing\n# at all\n", "[boardpin]\n",
                "[boardpin]", "\xef\xbb\xbf", "   \t\n\t\n"
        };

        (void) state;
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
                _cleanup_(config_freep) struct bp_config *c = parse_ok(texts[i]);

                assert_int_equal(c->n_services, 0);
                assert_int_equal(c->n_registries, 0);
                assert_int_equal(c->timeout_s, 30);
        }
        {
                struct bp_config *c = NULL;

                assert_int_equal(config_parse("t.ini", NULL, 0, &c, NULL), 0);
                assert_int_equal(c->n_services, 0);
                config_free(c);
        }
        config_free(NULL);
}

static void inline_comments(void **state)
{
        _cleanup_(config_freep) struct bp_config *c =
                parse_ok("# a comment\n"
                         "; another\n"
                         "   ; indented\n"
                         "[boardpin]   ; the agent\n"
                         "timeout = 45 ; seconds\n"
                         "boot_wait = 7\t; a tab before the ';' is a blank too\n"
                         "[service a] ; a service\n"
                         "image = nginx   ;;; several\n"
                         "health = http://127.0.0.1/a;b ; the first ';' has no blank before it\n"
                         "units = a.service ; b.service\n");

        (void) state;
        assert_int_equal(c->timeout_s, 45);
        assert_int_equal(c->boot_wait_s, 7);
        assert_string_equal(c->services[0].health, "http://127.0.0.1/a;b");
        assert_string_equal(c->services[0].units, "a.service");
        /* '#' starts a comment only at the start of a line, as in inih. */
        assert_fails("[boardpin]\ntimeout = 30 # seconds\n", "t.ini:2: timeout: '30 # seconds' is not a number");
        assert_fails("[boardpin]\ntimeout = 30;seconds\n", "t.ini:2: timeout: '30;seconds' is not a number");
}

static void crlf(void **state)
{
        char text[sizeof(full) * 2];
        size_t o = 0;

        (void) state;
        for (const char *p = full; *p; p++) {
                if (*p == '\n')
                        text[o++] = '\r';
                text[o++] = *p;
        }
        text[o] = '\0';
        {
                _cleanup_(config_freep) struct bp_config *c = parse_ok(text);
                _cleanup_(config_freep) struct bp_config *lf = parse_ok(full);

                assert_int_equal(c->n_services, 2);
                assert_string_equal(c->services[0].version, ">=1.29 <2");
                assert_string_equal(c->services[0].units, lf->services[0].units);
                assert_string_equal(c->services[1].health, "https://127.0.0.1/admin/");
                assert_string_equal(c->registries[0].mirror, "https://mirror.lan:5000");
                assert_int_equal(c->services[1].line, 31);
        }
        /* The last line may lack its '\n' and keep its '\r'; a '\r' anywhere else is refused. */
        {
                _cleanup_(config_freep) struct bp_config *c = parse_ok("[boardpin]\r\ntimeout = 5\r");

                assert_int_equal(c->timeout_s, 5);
        }
        assert_fails("[boardpin]\rtimeout = 5\n", "t.ini:1: control character 0x0d");
        assert_fails("[boardpin]\r\r\n", "t.ini:1: control character 0x0d");
}

static void bom(void **state)
{
        _cleanup_(config_freep) struct bp_config *c = parse_ok("\xef\xbb\xbf[boardpin]\ntimeout = 9\n");
        _cleanup_(config_freep) struct bp_config *c2 = parse_ok("\xef\xbb\xbf  ; comment\r\n[boardpin]\n");

        (void) state;
        assert_int_equal(c->timeout_s, 9);
        assert_non_null(c2);
        /* Only at the start of the file. */
        assert_fails("[boardpin]\n\xef\xbb\xbftimeout = 9\n",
                     "t.ini:2: unknown key '\xef\xbb\xbftimeout' in '[boardpin]'");
        assert_fails("\xef\xbb\xbf\xef\xbb\xbf[boardpin]\n",
                     "t.ini:1: expected '[section]' or 'key = value', not '\xef\xbb\xbf[boardpin]'");
}

/* Lines inih would join to the key above them, or take with ':' as the separator. */
static void indentation_and_separators(void **state)
{
        _cleanup_(config_freep) struct bp_config *c = parse_ok("  [boardpin]\n"
                                                               "\ttimeout=12\n"
                                                               "   pull   =   docker   \n"
                                                               "[ service  x ]\n"
                                                               "    image = nginx\n");

        (void) state;
        assert_int_equal(c->timeout_s, 12);
        assert_int_equal(c->pull, BP_PULL_DOCKER);
        assert_string_equal(c->services[0].name, "x");
        assert_fails("[service x]\nimage = nginx\nunits = a.service\n  b.service\n",
                     "t.ini:4: expected '[section]' or 'key = value', not 'b.service'");
        assert_fails("[boardpin]\ntimeout: 30\n",
                     "t.ini:2: expected '[section]' or 'key = value', not 'timeout: 30'");
        assert_fails("[boardpin]\n= 30\n", "t.ini:2: expected '[section]' or 'key = value', not '= 30'");
        assert_fails("[boardpin]\ntimeout\n", "t.ini:2: expected '[section]' or 'key = value', not 'timeout'");
        assert_fails("[boardpin] timeout = 3\n", "t.ini:1: text after ']': 'timeout = 3'");
        assert_fails("[boardpin\n", "t.ini:1: no ']' after '[boardpin'");
        assert_fails("[boardpin ; a]\n", "t.ini:1: no ']' after '[boardpin'");
}

static void line_limits(void **state)
{
        char text[1024], big[300];

        (void) state;
        /* inih's buffer is 200 bytes: 198, '\n' and NUL. */
        memset(big, 'a', sizeof(big));
        snprintf(text, sizeof(text), "[boardpin]\n#%.*s\n", 197, big);
        config_free(parse_ok(text));
        snprintf(text, sizeof(text), "[boardpin]\r\n#%.*s\r\n", 197, big);
        config_free(parse_ok(text));
        snprintf(text, sizeof(text), "[boardpin]\n#%.*s", 197, big);
        config_free(parse_ok(text));
        snprintf(text, sizeof(text), "[boardpin]\n#%.*s\n", 198, big);
        assert_fails_len(text, strlen(text), -E2BIG, "t.ini:2: line over 198 bytes");
        snprintf(text, sizeof(text), "[boardpin]\n#%.*s", 198, big);
        assert_fails_len(text, strlen(text), -E2BIG, "t.ini:2: line over 198 bytes");
        /* A long value would otherwise be cut and its tail read as a line of its own. */
        snprintf(text, sizeof(text), "[service x]\nimage = nginx\nunits = %.*s.service timeout = 3\n", 190, big);
        assert_fails(text, "t.ini:3: line over 198 bytes");

        /* inih cuts section names at 49 bytes: "[service " and 40 bytes is the longest. */
        snprintf(text, sizeof(text), "[service %.*s]\nimage = nginx\n", 40, big);
        config_free(parse_ok(text));
        snprintf(text, sizeof(text), "[service %.*s]\nimage = nginx\n", 41, big);
        assert_fails(text, "t.ini:1: bad service name: over 40 characters");
        snprintf(text, sizeof(text), "[boardpin]\n[%.*s]\n", 60, big);
        assert_fails(text, "t.ini:2: section name over 48 bytes");
}

static void nul_and_size(void **state)
{
        static const char nul[] = "[boardpin]\ntimeout = 3\0\n[service x]\n";
        char *big;

        (void) state;
        assert_fails_len(nul, sizeof(nul) - 1, -EINVAL, "t.ini:2: NUL byte");
        assert_fails_len("\0", 1, -EINVAL, "t.ini:1: NUL byte");
        assert_fails("[boardpin]\ntimeout = 3\x01\n", "t.ini:2: control character 0x01");
        assert_fails("[boardpin]\ntimeout = 3\x7f\n", "t.ini:2: control character 0x7f");
        big = malloc(CONFIG_MAX_BYTES + 1);
        assert_non_null(big);
        memset(big, '\n', CONFIG_MAX_BYTES + 1);
        {
                struct bp_config *c = NULL;

                assert_int_equal(config_parse("t.ini", big, CONFIG_MAX_BYTES, &c, NULL), 0);
                config_free(c);
        }
        assert_fails_len(big, CONFIG_MAX_BYTES + 1, -EFBIG, "t.ini: larger than 65536 bytes");
        free(big);
}

struct bad {
        const char *text;
        const char *msg;
};

#define SVC "[service a]\nimage = nginx\n"

static const struct bad bad[] = {
        /* sections */
        { "[boardpin]\n[bogus]\n",
          "t.ini:2: unknown section '[bogus]': use [boardpin], [service NAME] or [registry HOST]" },
        { "[Boardpin]\n",
          "t.ini:1: unknown section '[Boardpin]': use [boardpin], [service NAME] or [registry HOST]" },
        { "[]\n", "t.ini:1: unknown section '[]': use [boardpin], [service NAME] or [registry HOST]" },
        { "[services x]\n",
          "t.ini:1: unknown section '[services x]': use [boardpin], [service NAME] or [registry HOST]" },
        { "timeout = 3\n[boardpin]\n", "t.ini:1: key 'timeout' outside any section" },
        { "[boardpin]\n\n[boardpin]\n", "t.ini:3: duplicate section '[boardpin]' (first on line 1)" },
        { SVC "[service a]\nimage = nginx\n", "t.ini:3: duplicate section '[service a]' (first on line 1)" },
        { "[registry ghcr.io]\n[registry ghcr.io]\n",
          "t.ini:2: duplicate section '[registry ghcr.io]' (first on line 1)" },
        { "[registry docker.io]\n[registry registry-1.docker.io]\n",
          "t.ini:2: duplicate section '[registry registry-1.docker.io]' (first on line 1)" },
        /* keys */
        { "[boardpin]\nimage = nginx\n", "t.ini:2: unknown key 'image' in '[boardpin]'" },
        { "[boardpin]\nTimeout = 3\n", "t.ini:2: unknown key 'Timeout' in '[boardpin]'" },
        { SVC "timeout = 3\n", "t.ini:3: unknown key 'timeout' in '[service a]'" },
        { "[registry ghcr.io]\nimage = x\n", "t.ini:2: unknown key 'image' in '[registry ghcr.io]'" },
        { "[registry ghcr.io]\ntag.arm64 = x\n", "t.ini:2: unknown key 'tag.arm64' in '[registry ghcr.io]'" },
        { "[boardpin]\ntimeout = 3\npull = none\ntimeout = 4\n",
          "t.ini:4: duplicate key 'timeout' in '[boardpin]' (first on line 2)" },
        { SVC "image = nginx\n", "t.ini:3: duplicate key 'image' in '[service a]' (first on line 2)" },
        { "[boardpin]\nstate_dir =\n", "t.ini:2: 'state_dir' has no value" },
        { SVC "tag.arm64 =   ; none\n", "t.ini:3: 'tag.arm64' has no value" },
        /* services */
        { "[service Vault]\n", "t.ini:1: bad service name 'Vault': use "
                               "[a-z0-9][a-z0-9_.-]*, at most 40 characters" },
        { "[service _x]\n", "t.ini:1: bad service name '_x': use "
                            "[a-z0-9][a-z0-9_.-]*, at most 40 characters" },
        { "[service a/b]\n", "t.ini:1: bad service name 'a/b': use "
                             "[a-z0-9][a-z0-9_.-]*, at most 40 characters" },
        { "[service a b]\n", "t.ini:1: bad service name 'a b': use "
                             "[a-z0-9][a-z0-9_.-]*, at most 40 characters" },
        { "[service]\n", "t.ini:1: bad service name '': use [a-z0-9][a-z0-9_.-]*, "
                         "at most 40 characters" },
        /* images.env is the combined file */
        { "[service images]\nimage = nginx\n",
          "t.ini:1: service name 'images' is reserved: its env file would be the "
          "combined images.env; choose "
          "another name" },
        /* brackets cannot go into an env file: refused here, not at every boot */
        { "[service a]\nimage = [::1]:5304/test/app\n",
          "t.ini:2: image '[::1]:5304/test/app': '[' cannot be written to an env "
          "file (values keep to "
          "[A-Za-z0-9._:/@+-]); an IPv6 registry needs a host name" },
        { "[boardpin]\n[service a]\nversion = 1\n\n[boardpin2]\n", "t.ini:2: service 'a' has no image =" },
        { "[service a]\nversion = 1\n", "t.ini:1: service 'a' has no image =" },
        { "[service a]\nimage = vaultwarden/server:1.30\n",
          "t.ini:2: image 'vaultwarden/server:1.30' has a tag: put the version in version =" },
        { "[service a]\nimage = 127.0.0.1:5000/x:latest\n",
          "t.ini:2: image '127.0.0.1:5000/x:latest' has a tag: put the version in version =" },
        { "[service a]\nimage = nginx@sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c\n",
          "t.ini:2: image 'nginx@sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c' has a "
          "digest: put the version in version =" },
        { "[service a]\nimage = Nginx\n", "t.ini:2: bad image reference 'Nginx': path must be lower-case" },
        /* platforms */
        { "[boardpin]\nplatform = linux/arm/v7/x\n",
          "t.ini:2: bad platform 'linux/arm/v7/x': more than os/arch/variant" },
        { "[boardpin]\nplatform = linux/arm//v7\n", "t.ini:2: bad platform 'linux/arm//v7': empty component" },
        { "[boardpin]\nplatform = linux/arm;v7\n",
          "t.ini:2: bad platform 'linux/arm;v7': use os/arch[/variant], e.g. linux/arm/v7" },
        { SVC "tag.linux = x\n", "t.ini:3: bad platform 'linux': no architecture" },
        { "[boardpin]\nplatform = Auto\n",
          "t.ini:2: bad platform 'Auto': unknown architecture 'auto' (amd64, arm64, arm, 386, ...)" },
        { SVC "tag.linux/armv7 = x\n",
          "t.ini:3: bad platform 'linux/armv7': unknown architecture 'armv7' (amd64, arm64, arm, 386, ...)" },
        { SVC "tag. = x\n", "t.ini:3: bad platform '': empty or too long" },
        { SVC "tag.linux/arm v7 = x\n",
          "t.ini:3: bad platform 'linux/arm v7': use os/arch[/variant], e.g. linux/arm/v7" },
        { SVC "tag.armhf = a\ntag.linux/arm/v7 = b\n",
          "t.ini:4: duplicate key 'tag.linux/arm/v7': linux/arm/v7 has a tag on line 3" },
        { SVC "tag.linux/arm/v6 = a\ntag.linux/arm/v7 = b\ntag.linux/arm64 = c\ntag.linux/amd64 = d\n"
              "tag.linux/386 = e\ntag.linux/arm/v5 = f\ntag.linux/arm/v8 = g\ntag.linux/riscv64 = h\n"
              "tag.linux/s390x = i\n",
          "t.ini:11: more than 8 tag.<platform> keys in '[service a]'" },
        /* templates */
        { SVC "version = ^1.7\ntag.linux/arm/v7 = raspberry\n",
          "t.ini:4: tag.linux/arm/v7: 'raspberry' has no {version}, but version '^1.7' is a range" },
        { SVC "tag.linux/arm/v7 = raspberry\nversion = 1.x\n",
          "t.ini:3: tag.linux/arm/v7: 'raspberry' has no {version}, but version "
          "'1.x' is a range" },
        { SVC "tag.arm64 = {version}/arm64\n",
          "t.ini:3: tag.linux/arm64: '{version}/arm64' does not give a valid tag "
          "([A-Za-z0-9_][A-Za-z0-9_.-]*, at "
          "most 128 characters)" },
        { SVC "tag.arm64 = -{version}\n", "t.ini:3: tag.linux/arm64: '-{version}' does not give a valid tag "
                                          "([A-Za-z0-9_][A-Za-z0-9_.-]*, at most "
                                          "128 characters)" },
        { SVC "tag.arm64 = {arch}-{version}\nversion = ^1\n",
          "t.ini:3: tag.linux/arm64: '{arch}-{version}' does not give a valid tag "
          "([A-Za-z0-9_][A-Za-z0-9_.-]*, at "
          "most 128 characters)" },
        { SVC "version = "
              "012345678901234567890123456789012345678901234567890123456789012345678"
              "9012345678901234567890"
              "12345678901234567\ntag.arm64 = {version}-{version}\n",
          "t.ini:4: tag.linux/arm64: '{version}-{version}' does not give a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]*, "
          "at most 128 characters)" },
        /* words and numbers */
        { "[boardpin]\nprefer = both\n", "t.ini:2: prefer: 'both' is not userspace or kernel" },
        { "[boardpin]\npull = Docker\n", "t.ini:2: pull: 'Docker' is not none, docker or podman" },
        { SVC "upgrade = on\n", "t.ini:3: upgrade: 'on' is not yes, no or notify" },
        { "[registry ghcr.io]\ninsecure = 1\n", "t.ini:2: insecure: '1' is not yes, no, true or false" },
        { "[boardpin]\ntimeout = 0\n", "t.ini:2: timeout: '0' is out of range 1..3600" },
        { "[boardpin]\ntimeout = 3601\n", "t.ini:2: timeout: '3601' is out of range 1..3600" },
        { "[boardpin]\ntimeout = 99999999999999999999999\n",
          "t.ini:2: timeout: '99999999999999999999999' is out of range 1..3600" },
        { "[boardpin]\ntimeout = -1\n", "t.ini:2: timeout: '-1' is not a number" },
        { "[boardpin]\ntimeout = 30s\n", "t.ini:2: timeout: '30s' is not a number" },
        { "[boardpin]\ntimeout = 0x10\n", "t.ini:2: timeout: '0x10' is not a number" },
        { "[boardpin]\ntimeout = +5\n", "t.ini:2: timeout: '+5' is not a number" },
        { "[boardpin]\nboot_wait = 3601\n", "t.ini:2: boot_wait: '3601' is out of range 0..3600" },
        { "[boardpin]\nboot_wait = ninety\n", "t.ini:2: boot_wait: 'ninety' is not a number" },
        { "[boardpin]\nrollout = 101\n", "t.ini:2: rollout: '101' is out of range 0..100" },
        { "[boardpin]\nrollout = 50%\n", "t.ini:2: rollout: '50%' is not a number" },
        /* names, paths, URLs */
        { SVC "env_var = vw_image\n",
          "t.ini:3: env_var: 'vw_image' is not [A-Z_][A-Z0-9_]*, at most 63 characters" },
        { SVC "env_var = 1X\n", "t.ini:3: env_var: '1X' is not [A-Z_][A-Z0-9_]*, at most 63 characters" },
        { SVC "env_var = A-B\n", "t.ini:3: env_var: 'A-B' is not [A-Z_][A-Z0-9_]*, at most 63 characters" },
        { SVC "[service b]\nimage = nginx\nenv_var = A_IMAGE\n",
          "t.ini:5: service 'b': env_var 'A_IMAGE' is already used by service 'a' (line 1)" },
        { "[service a.b]\nimage = x\n[service a-b]\nimage = y\n",
          "t.ini:3: service 'a-b': env_var 'A_B_IMAGE' (the default) is already used by service 'a.b' (line 1)" },
        { "[service 1password]\nimage = x\n", "t.ini:1: service '1password': the default env_var '1PASSWORD_IMAGE' "
                                              "is not a valid name: set env_var =" },
        { SVC "health = ftp://x/\n", "t.ini:3: health: 'ftp://x/' is neither http(s)://... nor exec:/absolute/path "
                                     "[ARG...] (at most 16 words)" },
        { SVC "health = http://\n", "t.ini:3: health: 'http://' is neither http(s)://... nor exec:/absolute/path "
                                    "[ARG...] (at most 16 words)" },
        { SVC "health = exec:check\n", "t.ini:3: health: 'exec:check' is neither http(s)://... nor "
                                       "exec:/absolute/path [ARG...] (at most 16 words)" },
        { SVC "health = exec:/bin/c 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
          "t.ini:3: health: 'exec:/bin/c 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16' is neither http(s)://... nor "
          "exec:/absolute/path [ARG...] (at most 16 words)" },
        { SVC "health = exec:/\n", "t.ini:3: health: 'exec:/' is neither http(s)://... nor exec:/absolute/path "
                                   "[ARG...] (at most 16 words)" },
        { SVC "health = exec:/ x\n",
          "t.ini:3: health: 'exec:/ x' is neither http(s)://... nor exec:/absolute/path [ARG...] (at most 16 "
          "words)" },
        { SVC "units = vaultwarden\n",
          "t.ini:3: units: 'vaultwarden' is not a unit name such as foo.service or foo@bar.service" },
        { SVC "units = a.service, b.service\n",
          "t.ini:3: units: 'a.service,' is not a unit name such as foo.service or foo@bar.service" },
        { SVC "units = getty@.service\n",
          "t.ini:3: units: 'getty@.service' is not a unit name such as foo.service or foo@bar.service" },
        { SVC "units = .service\n",
          "t.ini:3: units: '.service' is not a unit name such as foo.service or foo@bar.service" },
        { SVC "units = a.services\n",
          "t.ini:3: units: 'a.services' is not a unit name such as foo.service or foo@bar.service" },
        { SVC "units = a$b.service\n",
          "t.ini:3: units: 'a$b.service' is not a unit name such as foo.service or foo@bar.service" },
        { "[boardpin]\nstate_dir = var/lib/boardpin\n",
          "t.ini:2: state_dir: 'var/lib/boardpin' is not an absolute path" },
        { "[boardpin]\nenv_dir = ~/run\n", "t.ini:2: env_dir: '~/run' is not an absolute path" },
        { "[boardpin]\nauth_file = auth.json\n", "t.ini:2: auth_file: 'auth.json' is not an absolute path" },
        { "[registry ghcr.io]\nca_file = ca.pem\n", "t.ini:2: ca_file: 'ca.pem' is not an absolute path" },
        { "[registry ghcr.io]\nmirror = mirror.lan:5000\n",
          "t.ini:2: mirror: 'mirror.lan:5000' is not an http:// or https:// URL" },
        { "[registry ghcr.io]\nmirror = https:///x\n",
          "t.ini:2: mirror: 'https:///x' is not an http:// or https:// URL" },
        { "[registry ghcr.io]\nmirror = https://cache.lan/v2/ghcr\n",
          "t.ini:2: mirror: 'https://cache.lan/v2/ghcr' is not http[s]://HOST[:PORT]: a mirror serves /v2/ at its "
          "root" },
        /* a user name or password is refused and never repeated: the auth file holds credentials */
        { "[registry ghcr.io]\nmirror = https://bp@cache.lan\n",
          "t.ini:2: mirror: 'https://cache.lan' has a user name or password before an '@' (left out here): the "
          "auth file holds the mirror's credentials" },
        { "[registry ghcr.io]\nmirror = https://bp:s3cret@cache.lan:5000/\n",
          "t.ini:2: mirror: 'https://cache.lan:5000/' has a user name or password before an '@' (left out here): "
          "the auth file holds the mirror's credentials" },
        { "[registry ghcr.io]\nmirror = http://bp:s3/cr@et@cache.lan\n",
          "t.ini:2: mirror: 'http://cache.lan' has a user name or password before an '@' (left out here): the "
          "auth file holds the mirror's credentials" },
        { "[registry ghcr.io]\nmirror = cache:s3cret@cache.lan\n",
          "t.ini:2: mirror: 'cache.lan' has a user name or password before an '@' (left out here): the auth file "
          "holds the mirror's credentials" },
        { "[registry ghcr.io]\nmirror = https://cache.lan?x\n",
          "t.ini:2: mirror: 'https://cache.lan?x' is not http[s]://HOST[:PORT]: a mirror serves /v2/ at its root" },
        { "[registry ghcr.io]\nmirror = https://cache.lan#x\n",
          "t.ini:2: mirror: 'https://cache.lan#x' is not http[s]://HOST[:PORT]: a mirror serves /v2/ at its root" },
        /* ports and hosts are checked here, not at the first run that asks the mirror */
        { "[registry ghcr.io]\nmirror = http://cache.lan:99999\n",
          "t.ini:2: mirror: 'http://cache.lan:99999' has a bad port: use a number 1-65535" },
        { "[registry ghcr.io]\nmirror = http://cache.lan:abc\n",
          "t.ini:2: mirror: 'http://cache.lan:abc' has a bad port: use a number 1-65535" },
        { "[registry ghcr.io]\nmirror = http://cache.lan:0\n",
          "t.ini:2: mirror: 'http://cache.lan:0' has a bad port: use a number 1-65535" },
        { "[registry ghcr.io]\nmirror = http://cache.lan:\n",
          "t.ini:2: mirror: 'http://cache.lan:' has a bad port: use a number 1-65535" },
        { "[registry ghcr.io]\nmirror = http://cache.lan:+80\n",
          "t.ini:2: mirror: 'http://cache.lan:+80' has a bad port: use a number 1-65535" },
        { "[registry ghcr.io]\nmirror = http://cache.lan:80:80\n",
          "t.ini:2: mirror: 'http://cache.lan:80:80' has a bad port: use a number 1-65535" },
        { "[registry ghcr.io]\nmirror = http://:5000\n",
          "t.ini:2: mirror: 'http://:5000' has a bad host: use a name, an IPv4 address or [IPv6]" },
        { "[registry ghcr.io]\nmirror = http://ca%68e.lan\n",
          "t.ini:2: mirror: 'http://ca%68e.lan' has a bad host: use a name, an IPv4 address or [IPv6]" },
        { "[registry ghcr.io]\nmirror = http://cache.lan\\@x\n",
          "t.ini:2: mirror: 'http://x' has a user name or password before an '@' (left out here): the auth file "
          "holds the mirror's credentials" },
        { "[registry ghcr.io]\nmirror = http://[fd00::1\n",
          "t.ini:2: mirror: 'http://[fd00::1' has a bad host: use a name, an IPv4 address or [IPv6]" },
        { "[registry ghcr.io]\nmirror = http://[fd00::g]:5000\n",
          "t.ini:2: mirror: 'http://[fd00::g]:5000' has a bad host: use a name, an IPv4 address or [IPv6]" },
        { SVC "health = http://admin:hunter2@127.0.0.1:8080/alive\n",
          "t.ini:3: health: 'http://127.0.0.1:8080/alive' has a user name or password before an '@' (left out "
          "here): a health check sends none" },
        { SVC "health = ftp://admin:hunter2@127.0.0.1/\n",
          "t.ini:3: health: 'ftp://127.0.0.1/' has a user name or password before an '@' (left out here): a "
          "health check sends none" },
        { SVC "health = http://127.0.0.1:65536/alive\n",
          "t.ini:3: health: 'http://127.0.0.1:65536/alive' has a bad port: use a number 1-65535" },
        { SVC "health = https://local host/\n",
          "t.ini:3: health: 'https://local host/' is neither http(s)://... nor exec:/absolute/path [ARG...] (at "
          "most 16 words)" },
        { "[registry myhost]\n",
          "t.ini:1: bad registry 'myhost': write host[:port] as an image name does (a host needs a '.' or ':', or "
          "is localhost)" },
        { "[registry https://ghcr.io]\n",
          "t.ini:1: bad registry 'https://ghcr.io': write host[:port] as an image name does (a host needs a '.' or "
          "':', or is localhost)" },
        { "[registry ghcr.io:99999]\n",
          "t.ini:1: bad registry 'ghcr.io:99999': write host[:port] as an image name does (a host needs a '.' or "
          "':', or is localhost)" },
        { "[registry]\n",
          "t.ini:1: bad registry '': write host[:port] as an image name does (a host needs a '.' or ':', or is "
          "localhost)" },
        /* the first error wins, in file order: a service's own checks come before the next section's */
        { "[service a]\n[bogus]\n", "t.ini:1: service 'a' has no image =" },
        { "[service a]\n[bogus\n", "t.ini:1: service 'a' has no image =" },
        { "[service a]\nimage = x\nunits = y\n",
          "t.ini:3: units: 'y' is not a unit name such as foo.service or foo@bar.service" },
};

/* Which mirror = URLs name a mirror (the host it is asked at, plain HTTP or TLS), and which are refused
 * at load, with file:line: the one check of a mirror URL. */
static void mirror_urls(void **state)
{
        static const char *const good[][3] = {
                { "https://cache.lan:5000", "cache.lan:5000", "tls" },  { "https://cache.lan", "cache.lan", "tls" },
                { "http://10.0.0.2:5000/", "10.0.0.2:5000", "plain" },  { "http://localhost:5000", "localhost:5000", "plain" },
                { "http://[::1]:5000/", "[::1]:5000", "plain" },        { "https://cache.lan:65535", "cache.lan:65535", "tls" },
        };
        static const char *const refused[] = {
                "cache.lan:5000", "ftp://cache.lan", "https://", "https:///v2", "https://cache.lan/v2/",
                "https://cache.lan/docker.io", "https://cache.lan//", "https://bp:secret@cache.lan",
                "https://bp@cache.lan:5000/", "https://cache.lan?x=1", "https://cache.lan#top", "https://cache.lan:",
                "https://:5000", "https://cache lan", "https://ca%2fche.lan", "HTTPS//cache.lan",
                "https://cache.lan:99999", "https://cache.lan:abc", "https://cache.lan:0", "https://cache.lan:-1",
                "https://cache.lan:5000:5000", "http://[::1", "http://[::1]x", "https://cache_lan", "http://[f0:01]:5001",
        };
        char text[512];

        (void) state;
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                struct bp_config *c;

                (void) snprintf(text, sizeof(text), "[registry ghcr.io]\nmirror = %s\n", good[i][0]);
                c = parse_ok(text);
                assert_string_equal(c->registries[0].mirror_host, good[i][1]);
                assert_int_equal(c->registries[0].mirror_plain, strcmp(good[i][2], "plain") == 0);
                config_free(c);
        }
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
                struct bp_config *c = NULL;
                struct bp_err err = { 0 };

                (void) snprintf(text, sizeof(text), "[registry ghcr.io]\nmirror = %s\n", refused[i]);
                if (config_parse("t.ini", text, strlen(text), &c, &err) == 0)
                        fail_msg("'%s' was taken as a mirror URL", refused[i]);
                if (strncmp(err.msg, "t.ini:2: mirror: ", 17) != 0 || strstr(err.msg, "secret"))
                        fail_msg("'%s': %s", refused[i], err.msg);
        }
}

static void bad_files(void **state)
{
        (void) state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_fails(bad[i].text, bad[i].msg);
}

/* version.c words its own messages; config.c puts file:line in front and changes nothing else. */
static void bad_versions(void **state)
{
        static const char *const versions[] = { "^1.x.3", "1.0/2",     ">=1.2 || <1",
                                                ">",      "1.2 - 1.4", "^1.30-alpine ^1.31-slim",
                                                "-x" };

        (void) state;
        for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
                struct bp_range *r = NULL;
                struct bp_err err = { 0 };
                char text[256], want[sizeof(err.msg) + 16];

                assert_int_equal(range_parse(versions[i], &r, &err), -EINVAL);
                assert_null(r);
                snprintf(text, sizeof(text), SVC "version = %s\n", versions[i]);
                snprintf(want, sizeof(want), "t.ini:3: %s", err.msg);
                assert_fails(text, want);
        }
}

static void messages_clean_user_text(void **state)
{
        (void) state;
        /* Invalid UTF-8 is shown as '?'; a long value is cut so the line keeps its point. */
        assert_fails("[boardpin]\npull = \xff\xfe\n", "t.ini:2: pull: '?"
                                                      "?' is not none, docker or podman");
        assert_fails(
                "[boardpin]\npull = "
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                "aaaaaaaaaaaaaaa\n",
                "t.ini:2: pull: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' "
                "is not none, docker or podman");
}

static void exact_versions_take_fixed_tags(void **state)
{
        _cleanup_(config_freep) struct bp_config *c = parse_ok("[service bw]\n"
                                                               "image = bitwardenrs/server\n"
                                                               "tag.linux/arm/v7 = raspberry\n"
                                                               "[service bw2]\n"
                                                               "image = bitwardenrs/server\n"
                                                               "version = 1.7.0\n"
                                                               "tag.linux/arm/v7 = {version}-raspberry\n"
                                                               "tag.linux/arm/v6 = armv6\n"
                                                               "[service bw3]\n"
                                                               "image = bitwardenrs/server\n"
                                                               "version = ~1.7.0\n"
                                                               "tag.linux/arm/v7 = v{version}_raspberry\n");

        (void) state;
        assert_int_equal(c->n_services, 3);
        assert_string_equal(c->services[0].version, "latest");
        assert_string_equal(c->services[2].tags[0].template, "v{version}_raspberry");
}

static const struct bp_tag_template *template_for(const struct bp_service *s, const char *target)
{
        struct bp_oci t, compat[RULES_COMPAT_MAX];
        size_t n;

        assert_int_equal(rules_parse(target, &t, NULL), 0);
        n = rules_compatible(&t, compat);
        return config_template_for(s, compat, n);
}

static void template_choice(void **state)
{
        _cleanup_(config_freep) struct bp_config *c = parse_ok("[service bw]\n"
                                                               "image = bitwardenrs/server\n"
                                                               "tag.linux/arm/v6 = armv6\n"
                                                               "tag.aarch64 = aarch64\n"
                                                               "tag.linux/arm/v7 = raspberry\n"
                                                               "[service plain]\n"
                                                               "image = nginx\n");
        const struct bp_service *s = &c->services[0];

        (void) state;
        assert_string_equal(template_for(s, "linux/arm64")->template, "aarch64");
        assert_string_equal(template_for(s, "linux/arm/v8")->template, "raspberry");
        assert_string_equal(template_for(s, "linux/arm/v7")->template, "raspberry");
        assert_string_equal(template_for(s, "linux/arm/v6")->template, "armv6");
        assert_null(template_for(s, "linux/arm/v5"));
        assert_null(template_for(s, "linux/amd64"));
        assert_null(template_for(&c->services[1], "linux/arm64"));
        assert_null(config_template_for(s, NULL, 0));
}

static void registry_lookup(void **state)
{
        _cleanup_(config_freep) struct bp_config *c = parse_ok("[registry docker.io]\n"
                                                               "mirror = https://hub-cache.lan\n"
                                                               "[registry localhost:5000]\n"
                                                               "insecure = yes\n"
                                                               "[registry ghcr.io]\n");
        struct bp_ref ref;

        (void) state;
        assert_int_equal(c->n_registries, 3);
        assert_ptr_equal(config_registry(c, "docker.io"), &c->registries[0]);
        assert_ptr_equal(config_registry(c, "index.docker.io"), &c->registries[0]);
        assert_ptr_equal(config_registry(c, "registry-1.docker.io"), &c->registries[0]);
        assert_ptr_equal(config_registry(c, "localhost:5000"), &c->registries[1]);
        assert_true(config_registry(c, "localhost:5000")->insecure);
        assert_ptr_equal(config_registry(c, "ghcr.io"), &c->registries[2]);
        assert_null(config_registry(c, "localhost"));
        assert_null(config_registry(c, "localhost:5001"));
        assert_null(config_registry(c, "GHCR.IO"));
        assert_null(config_registry(c, "docker.io.evil"));
        /* As an image's domain gives it. */
        assert_int_equal(ref_parse("nginx", &ref, NULL), 0);
        assert_ptr_equal(config_registry(c, ref.domain), &c->registries[0]);
        assert_int_equal(ref_parse("ghcr.io/o/r", &ref, NULL), 0);
        assert_ptr_equal(config_registry(c, ref.domain), &c->registries[2]);
        /* An IPv6 host has a ']' of its own, which ends the section header first. */
        assert_fails("[registry [fc00::1]:5000]\n", "t.ini:1: text after ']': ':5000]'");
}

static void example_file(void **state)
{
        _cleanup_(config_freep) struct bp_config *c = NULL;
        struct bp_err err = { 0 };
        const struct bp_service *s;
        char buf[REF_STRING_MAX];

        (void) state;
        if (config_load(EXAMPLE, &c, &err) != 0)
                fail_msg("%s", err.msg);
        assert_string_equal(c->platform, "auto");
        assert_false(c->prefer_kernel);
        assert_string_equal(c->state_dir, "/var/lib/boardpin");
        assert_string_equal(c->env_dir, "/run/boardpin");
        assert_string_equal(c->auth_file, "");
        assert_int_equal(c->timeout_s, 30);
        assert_int_equal(c->boot_wait_s, 90);
        assert_int_equal(c->pull, BP_PULL_NONE);
        assert_int_equal(c->rollout, 100);
        assert_int_equal(c->n_services, 3);

        s = config_service(c, "vaultwarden");
        assert_non_null(s);
        assert_string_equal(ref_format(&s->image, buf), "docker.io/vaultwarden/server");
        assert_string_equal(s->version, "^1.30");
        assert_int_equal(s->n_tags, 0);
        assert_string_equal(s->env_var, "VAULTWARDEN_IMAGE");
        assert_string_equal(s->units, "vaultwarden.service");
        assert_string_equal(s->health, "http://127.0.0.1:8080/alive");
        assert_true(s->upgrade);

        s = config_service(c, "pihole");
        assert_non_null(s);
        assert_string_equal(ref_format(&s->image, buf), "docker.io/pihole/pihole");
        assert_string_equal(s->env_var, "PIHOLE_IMAGE");

        s = config_service(c, "bitwarden_rs");
        assert_non_null(s);
        assert_string_equal(ref_format(&s->image, buf), "docker.io/bitwardenrs/server");
        assert_string_equal(s->version, "latest");
        assert_string_equal(s->env_var, "BITWARDEN_RS_IMAGE");
        assert_false(s->upgrade);
        assert_string_equal(template_for(s, "linux/arm/v6")->template, "armv6");
        assert_string_equal(template_for(s, "linux/arm/v7")->template, "raspberry");
        assert_string_equal(template_for(s, "linux/arm64")->template, "aarch64");
        assert_null(template_for(s, "linux/amd64"));
}

static void load_errors(void **state)
{
        const char *dir = *state;
        char path[PATH_MAX], want[PATH_MAX + 64];
        struct bp_config *c = NULL;
        struct bp_err err = { 0 };
        char *big;

        snprintf(path, sizeof(path), "%s/missing.ini", dir);
        assert_int_equal(config_load(path, &c, &err), -ENOENT);
        snprintf(want, sizeof(want), "%s: No such file or directory", path);
        assert_string_equal(err.msg, want);

        assert_int_equal(config_load(dir, &c, &err), -EINVAL);
        snprintf(want, sizeof(want), "%s: not a regular file", dir);
        assert_string_equal(err.msg, want);

        big = malloc(CONFIG_MAX_BYTES + 1);
        assert_non_null(big);
        memset(big, ';', CONFIG_MAX_BYTES + 1);
        for (size_t i = 100; i < CONFIG_MAX_BYTES + 1; i += 100)
                big[i] = '\n';
        put_file(dir, "big.ini", big, CONFIG_MAX_BYTES);
        snprintf(path, sizeof(path), "%s/big.ini", dir);
        assert_int_equal(config_load(path, &c, &err), 0);
        config_free(c);
        c = NULL;
        put_file(dir, "big.ini", big, CONFIG_MAX_BYTES + 1);
        assert_int_equal(config_load(path, &c, &err), -EFBIG);
        snprintf(want, sizeof(want), "%s: larger than 65536 bytes", path);
        assert_string_equal(err.msg, want);
        free(big);

        put_file(dir, "bad.ini", "[boardpin]\n\ntimeout = soon\n", 27);
        snprintf(path, sizeof(path), "%s/bad.ini", dir);
        assert_int_equal(config_load(path, &c, &err), -EINVAL);
        snprintf(want, sizeof(want), "%s:3: timeout: 'soon' is not a number", path);
        assert_string_equal(err.msg, want);
        assert_null(c);
}

/* A caller's err may hold an old message: it must not look like a new failure. */
static void stale_err_ignored(void **state)
{
        struct bp_err err;
        struct bp_config *c = NULL;

        (void) state;
        snprintf(err.msg, sizeof(err.msg), "old failure");
        assert_int_equal(config_parse("t.ini", SVC, strlen(SVC), &c, &err), 0);
        assert_int_equal(c->n_services, 1);
        config_free(c);
}

/* 16 registry hosts are fine; the service that names a 17th is refused at load, with its line. */
static void registry_limit_told_at_load(void **state)
{
        char text[8192], want[128];
        struct bp_config *c = NULL;
        size_t o = 0;

        (void) state;
        for (int i = 0; i < CONFIG_REGISTRIES_MAX; i++)
                o += (size_t) snprintf(text + o, sizeof(text) - o,
                                       "[registry r%d.lan]\n[service s%d]\nimage = r%d.lan/app\n"
                                       "[service t%d]\nimage = r%d.lan/other\n",
                                       i, i, i, i, i);
        assert_int_equal(config_parse("t.ini", text, o, &c, NULL), 0);
        assert_int_equal(c->n_services, 2 * CONFIG_REGISTRIES_MAX);
        config_free(c);
        c = NULL;
        o += (size_t) snprintf(text + o, sizeof(text) - o,
                               "[registry r99.lan]\n[service last]\nimage = r99.lan/app\n");
        snprintf(want, sizeof(want), "t.ini:%d: image 'r99.lan': more than %d registry hosts in one config",
                 5 * CONFIG_REGISTRIES_MAX + 3, CONFIG_REGISTRIES_MAX);
        assert_fails_len(text, o, -E2BIG, want);
}

/* rollout = and mirror = are used: they parse, and the config has nothing more to say about them. */
static void rollout_and_mirror_parse(void **state)
{
        struct bp_config *c = NULL;
        struct bp_err err = { 0 };

        (void) state;
        assert_int_equal(config_parse("t.ini", full, strlen(full), &c, &err), 0);
        assert_int_equal(c->rollout, 25);
        assert_string_equal(c->registries[0].mirror, "https://mirror.lan:5000");
        config_free(c);
}

/* A URL's parts are kept, so that nothing parses mirror = again; an '@' past the query, or in an exec:
 * check's arguments, is no user name. */
static void urls_split(void **state)
{
        const char *text = "[registry ghcr.io]\nmirror = http://[fd00::1]:5000/\n"
                           "[registry docker.io]\nmirror = https://Cache-1.lan\n"
                           "[service a]\nimage = nginx\nhealth = http://127.0.0.1:8080/x?user=a@b\n"
                           "[service b]\nimage = redis\nhealth = exec:/bin/check mail@example.org\n";
        struct bp_config *c = NULL;

        (void) state;
        assert_int_equal(config_parse("t.ini", text, strlen(text), &c, NULL), 0);
        assert_string_equal(c->registries[0].mirror_host, "[fd00::1]:5000");
        assert_true(c->registries[0].mirror_plain);
        assert_string_equal(c->registries[1].mirror_host, "Cache-1.lan");
        assert_false(c->registries[1].mirror_plain);
        assert_string_equal(c->services[0].health, "http://127.0.0.1:8080/x?user=a@b");
        assert_string_equal(c->services[1].health, "exec:/bin/check mail@example.org");
        config_free(c);
}

/* The config checks exec: words against its own limit, since it knows no health module: the two agree. */
_Static_assert(CONFIG_HEALTH_WORDS_MAX == HEALTH_ARGS_MAX, "health = words: config.h and health.h differ");

/* An exec: health check takes arguments, split at blanks as health.c splits them. */
static void health_exec_arguments(void **state)
{
        const char *text = "[service a]\nimage = nginx\nhealth = exec:/usr/bin/curl -fsS  http://x/\n";
        struct bp_config *c = NULL;

        (void) state;
        assert_int_equal(config_parse("t.ini", text, strlen(text), &c, NULL), 0);
        assert_string_equal(c->services[0].health, "exec:/usr/bin/curl -fsS  http://x/");
        config_free(c);
}

/* The default env_var, as the config sets it and as rendering the lock without a config names it. */
static void default_env_var(void **state)
{
        char buf[ENV_VAR_MAX], name[80];

        (void) state;
        assert_int_equal(config_default_env_var("vault-warden", buf), 0);
        assert_string_equal(buf, "VAULT_WARDEN_IMAGE");
        assert_int_equal(config_default_env_var("a.b_c9", buf), 0);
        assert_string_equal(buf, "A_B_C9_IMAGE");
        assert_int_equal(config_default_env_var("1password", buf), -EINVAL);
        assert_string_equal(buf, "1PASSWORD_IMAGE");
        memset(name, 'a', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        assert_int_equal(config_default_env_var(name, buf), -EINVAL); /* cut: never a name of another */
        assert_true(strlen(buf) < ENV_VAR_MAX);
        assert_non_null(strstr(buf, "_IMAGE"));
}

/* metrics = an absolute NAME.prom path (node_exporter's textfile collector reads only those), in
 * [boardpin] only. */
static void metrics_key(void **state)
{
        _cleanup_(config_freep) struct bp_config *c = NULL;
        const char *text = "[boardpin]\nmetrics = /var/lib/prometheus/node-exporter/boardpin.prom\n"
                           "[service a]\nimage = nginx\n";

        (void) state;
        assert_int_equal(config_parse("t.ini", text, strlen(text), &c, NULL), 0);
        assert_string_equal(c->metrics, "/var/lib/prometheus/node-exporter/boardpin.prom");
        config_free(c);
        c = NULL;
        text = "[service a]\nimage = nginx\n";
        assert_int_equal(config_parse("t.ini", text, strlen(text), &c, NULL), 0);
        assert_string_equal(c->metrics, "");
        assert_fails("[boardpin]\nmetrics = boardpin.prom\n", "t.ini:2: metrics: 'boardpin.prom' is not an absolute path");
        assert_fails("[boardpin]\nmetrics = /var/lib/boardpin.txt\n",
                     "t.ini:2: metrics: '/var/lib/boardpin.txt' does not end in NAME.prom");
        assert_fails("[boardpin]\nmetrics = /var/lib/.prom\n", "t.ini:2: metrics: '/var/lib/.prom' does not end in NAME.prom");
        assert_fails("[boardpin]\nmetrics = /var/lib/x.prom/\n", "t.ini:2: metrics: '/var/lib/x.prom/' does not end in NAME.prom");
        assert_fails("[service a]\nimage = nginx\nmetrics = /a.prom\n", "t.ini:3: unknown key 'metrics' in '[service a]'");
}

/* min_age = in [boardpin] and per service, in age.h's units; a service without one inherits (-1). */
static void min_age_keys(void **state)
{
        const char *text = "[boardpin]\nmin_age = 3d\n[service a]\nimage = nginx\nmin_age = 90m\n"
                           "[service b]\nimage = redis\n[service c]\nimage = redis\nmin_age = 0\n";
        struct bp_config *c = NULL;

        (void) state;
        assert_int_equal(config_parse("t.ini", text, strlen(text), &c, NULL), 0);
        assert_int_equal(c->min_age_s, 3 * 86400);
        assert_int_equal(c->services[0].min_age_s, 90 * 60);
        assert_int_equal(c->services[1].min_age_s, -1);
        assert_int_equal(c->services[2].min_age_s, 0);
        config_free(c);
        assert_int_equal(config_parse("t.ini", "[service a]\nimage = nginx\n", 26, &c, NULL), 0);
        assert_int_equal(c->min_age_s, 0);
        config_free(c);
        assert_fails("[boardpin]\nmin_age = 3 days\n",
                     "t.ini:2: min_age: '3 days' is not a duration from 0 to 366d, such as 12h or 3d");
        assert_fails("[service a]\nimage = nginx\nmin_age = 400d\n",
                     "t.ini:3: min_age: '400d' is not a duration from 0 to 366d, such as 12h or 3d");
        assert_fails("[service a]\nimage = nginx\nmin_age = 1d\nmin_age = 2d\n",
                     "t.ini:4: duplicate key 'min_age' in '[service a]' (first on line 3)");
}

/* verify = in three places, the most specific winning; none turns it off; each path absolute. */
static void verify_keys(void **state)
{
        const char *text = "[boardpin]\nverify = /k/a.pub  /k/b.pub\n"
                           "[registry ghcr.io]\nverify = /k/ghcr.pub\n"
                           "[registry quay.io]\nverify = none\n"
                           "[service a]\nimage = nginx\n"
                           "[service b]\nimage = ghcr.io/x/b\n"
                           "[service c]\nimage = ghcr.io/x/c\nverify = /k/c.pub\n"
                           "[service d]\nimage = quay.io/x/d\n"
                           "[service e]\nimage = redis\nverify = none\n"
                           "[service f]\nimage = quay.io/x/f\nverify = /k/f.pub\n";
        const struct bp_verify_conf *v;
        struct bp_config *c = NULL;

        (void) state;
        assert_int_equal(config_parse("t.ini", text, strlen(text), &c, NULL), 0);
        v = config_verify_for(c, &c->services[0]);
        assert_non_null(v);
        assert_int_equal(v->n_paths, 2);
        assert_string_equal(v->paths[0], "/k/a.pub");
        assert_string_equal(v->paths[1], "/k/b.pub");
        assert_int_equal(v->line, 2);
        v = config_verify_for(c, &c->services[1]);
        assert_non_null(v);
        assert_int_equal(v->n_paths, 1);
        assert_string_equal(v->paths[0], "/k/ghcr.pub");
        assert_int_equal(v->line, 4);
        v = config_verify_for(c, &c->services[2]);
        assert_string_equal(v->paths[0], "/k/c.pub");
        assert_int_equal(v->line, 13);
        assert_null(config_verify_for(c, &c->services[3]));
        assert_null(config_verify_for(c, &c->services[4]));
        v = config_verify_for(c, &c->services[5]);
        assert_string_equal(v->paths[0], "/k/f.pub");
        config_free(c);
        assert_int_equal(config_parse("t.ini", "[service a]\nimage = nginx\n", 26, &c, NULL), 0);
        assert_null(config_verify_for(c, &c->services[0]));
        config_free(c);

        assert_fails("[boardpin]\nverify = keys/a.pub\n",
                     "t.ini:2: verify: 'keys/a.pub' is not an absolute path (verify = PATH... or none)");
        assert_fails("[boardpin]\nverify = /a.pub none\n",
                     "t.ini:2: verify: 'none' is not an absolute path (verify = PATH... or none)");
        assert_fails("[service a]\nimage = nginx\nverify =\n", "t.ini:3: 'verify' has no value");
        assert_fails("[registry ghcr.io]\nverify = /1 /2 /3 /4 /5 /6 /7 /8 /9\n", "t.ini:2: verify: more than 8 keys");
        assert_fails("[service a]\nimage = nginx\nverify = /a\nverify = /b\n",
                     "t.ini:4: duplicate key 'verify' in '[service a]' (first on line 3)");
}

/* min_free = a size or a share of the store's filesystem, [boardpin] only; keep = 1..10 in either section,
 * a service without one inheriting (0). */
static void min_free_and_keep(void **state)
{
        static const struct {
                const char *v;
                int percent;
                uint64_t bytes;
        } ok[] = {
                { "10%", 10, 0 },         { "1%", 1, 0 },           { "90%", 90, 0 },
                { "0", 0, 0 },            { "4096", 0, 4096 },      { "512K", 0, 512ULL << 10 },
                { "300M", 0, 300ULL << 20 }, { "2G", 0, 2ULL << 30 }, { "1GiB", 0, 1ULL << 30 },
                { "1048576G", 0, 1ULL << 50 },
        };
        static const char *const refused[] = { "0%", "91%", "10 %", "1.5G", "1T", "1g", "G", "1Gb", "-1", "%", "1 G",
                                           "1048577G", "99999999999999999999999" };
        const char *text = "[boardpin]\nkeep = 3\n[service a]\nimage = nginx\nkeep = 1\n"
                           "[service b]\nimage = redis\nkeep = 10\n[service c]\nimage = redis\n";
        char buf[256], want[256];
        struct bp_config *c = NULL;

        (void) state;
        assert_int_equal(config_parse("t.ini", "[service a]\nimage = nginx\n", 26, &c, NULL), 0);
        assert_int_equal(c->min_free_percent, 10);
        assert_int_equal(c->keep, 2);
        assert_int_equal(c->services[0].keep, 0);
        config_free(c);
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                (void) snprintf(buf, sizeof(buf), "[boardpin]\nmin_free = %s\n", ok[i].v);
                assert_int_equal(config_parse("t.ini", buf, strlen(buf), &c, NULL), 0);
                if (c->min_free_percent != ok[i].percent || c->min_free_bytes != ok[i].bytes)
                        fail_msg("min_free = %s: %d%% %llu bytes", ok[i].v, c->min_free_percent,
                                 (unsigned long long) c->min_free_bytes);
                config_free(c);
        }
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
                struct bp_err err = { 0 };

                (void) snprintf(buf, sizeof(buf), "[boardpin]\nmin_free = %s\n", refused[i]);
                c = NULL;
                if (config_parse("t.ini", buf, strlen(buf), &c, &err) == 0)
                        fail_msg("min_free = %s accepted", refused[i]);
                (void) snprintf(want, sizeof(want), "t.ini:2: min_free: '%s'", refused[i]);
                if (strncmp(err.msg, want, strlen(want)) != 0)
                        fail_msg("min_free = %s: '%s'", refused[i], err.msg);
        }
        assert_fails("[boardpin]\nmin_free = 1.5G\n",
                     "t.ini:2: min_free: '1.5G' is neither a size (512M, 2G) nor 1-90%");
        assert_fails("[boardpin]\nmin_free = 95%\n", "t.ini:2: min_free: '95%' is out of range 1..90%");
        assert_fails("[service a]\nimage = nginx\nmin_free = 1G\n", "t.ini:3: unknown key 'min_free' in '[service a]'");

        assert_int_equal(config_parse("t.ini", text, strlen(text), &c, NULL), 0);
        assert_int_equal(c->keep, 3);
        assert_int_equal(c->services[0].keep, 1);
        assert_int_equal(c->services[1].keep, 10);
        assert_int_equal(c->services[2].keep, 0);
        config_free(c);
        assert_fails("[boardpin]\nkeep = 0\n", "t.ini:2: keep: '0' is out of range 1..10");
        assert_fails("[service a]\nimage = nginx\nkeep = 11\n", "t.ini:3: keep: '11' is out of range 1..10");
        assert_fails("[service a]\nimage = nginx\nkeep = two\n", "t.ini:3: keep: 'two' is not a number");
}

/* A message holds a full path and its reason: a config deep in a tree is named whole, never cut. */
static void long_paths_whole(void **state)
{
        const char *dir = *state;
        char path[PATH_MAX], want[BP_ERR_MSG_MAX];
        struct bp_config *c = NULL;
        struct bp_err err = { 0 };
        size_t o = (size_t) snprintf(path, sizeof(path), "%s", dir);

        while (o + 201 < sizeof(path) - 1) {
                path[o++] = '/';
                memset(path + o, 'd', 200);
                o += 200;
        }
        path[o] = '\0';
        assert_int_equal(config_load(path, &c, &err), -ENOENT);
        snprintf(want, sizeof(want), "%s: No such file or directory", path);
        assert_string_equal(err.msg, want);

        assert_int_equal(config_parse(path, "[boardpin]\nprefer = both\n", 25, &c, &err), -EINVAL);
        snprintf(want, sizeof(want), "%s:2: prefer: 'both' is not userspace or kernel", path);
        assert_string_equal(err.msg, want);
}

/* A FIFO as the config must be refused at once, not waited on. */
/* notify =, notify_on = and upgrade = notify: what is kept, what wins, and every refusal naming only
 * scheme://host (a topic or path is a secret). */
static void notify_keys(void **state)
{
        static const struct {
                const char *text, *want;
        } refused[] = {
                { "[boardpin]\nnotify = https://ntfy.example/topic\n",
                  "t.ini:2: notify: a URL that is not ntfy+https://HOST/TOPIC or webhook+https://HOST/PATH" },
                { "[boardpin]\nnotify = ntfy+ftp://ntfy.example/secret1\n",
                  "t.ini:2: notify: a ntfy+ URL that is not ntfy+https://HOST[:PORT]/…" },
                { "[boardpin]\nnotify = ntfy+https://ntfy.example\n",
                  "t.ini:2: notify: ntfy+https://ntfy.example: not one topic after the host ([-_A-Za-z0-9], at "
                  "most 64)" },
                { "[boardpin]\nnotify = ntfy+https://ntfy.example/a/secret2\n",
                  "t.ini:2: notify: ntfy+https://ntfy.example: not one topic after the host ([-_A-Za-z0-9], at "
                  "most 64)" },
                { "[boardpin]\nnotify = webhook+https://u:secret3@hook.example/p\n",
                  "t.ini:2: notify: a webhook+ URL with a user name or password before an '@': the auth file "
                  "holds credentials" },
                { "[boardpin]\nnotify = webhook+https://bad_host!/secret4\n",
                  "t.ini:2: notify: a webhook+ URL that is not webhook+https://HOST[:PORT]/… (bad host)" },
                { "[boardpin]\nnotify = webhook+http://hook.example/secret5\n",
                  "t.ini:2: notify: webhook+http://hook.example is plain HTTP, allowed only for a host whose "
                  "[registry hook.example] says insecure = true" },
                { "[boardpin]\nnotify = ntfy+http://127.0.0.1:8080/secret6\n[registry 127.0.0.1:8080]\n"
                  "insecure = false\n",
                  "t.ini:2: notify: ntfy+http://127.0.0.1:8080 is plain HTTP, allowed only for a host whose "
                  "[registry 127.0.0.1:8080] says insecure = true" },
                { "[boardpin]\nnotify = ntfy+https://a.example/t1 ntfy+https://a.example/t2 ntfy+https://a.example/t3 "
                  "ntfy+https://a.example/t4 ntfy+https://a.example/t5\n",
                  "t.ini:2: notify: more than 4 URLs" },
                { "[boardpin]\nnotify_on = rollback reboot\n",
                  "t.ini:2: notify_on: 'reboot' is not rollback, failure, held, upgraded or available" },
                { "[service a]\nimage = a\nupgrade = monitor\n", "t.ini:3: upgrade: 'monitor' is not yes, no or notify" },
        };
        struct bp_config *c;
        const struct bp_service *a, *b, *m;

        (void) state;
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
                assert_fails(refused[i].text, refused[i].want);
        }
        c = parse_ok("[boardpin]\n"
                     "notify = ntfy+https://ntfy.example:8443/board_7-x webhook+http://127.0.0.1:9000/hook/p?q=1\n"
                     "[service a]\nimage = a\n"
                     "[service b]\nimage = b\nnotify = webhook+https://hook.example/b\nnotify_on = held upgraded\n"
                     "[service m]\nimage = m\nupgrade = notify\n"
                     "[registry 127.0.0.1:9000]\ninsecure = true\n");
        a = config_service(c, "a");
        b = config_service(c, "b");
        m = config_service(c, "m");
        assert_int_equal(c->notify.n_urls, 2);
        assert_int_equal(c->notify.urls[0].kind, BP_NOTIFY_NTFY);
        assert_false(c->notify.urls[0].plain);
        assert_string_equal(c->notify.urls[0].url, "https://ntfy.example:8443/board_7-x");
        assert_string_equal(c->notify.urls[0].host, "ntfy.example:8443");
        assert_int_equal(c->notify.urls[1].kind, BP_NOTIFY_WEBHOOK);
        assert_true(c->notify.urls[1].plain);
        assert_string_equal(c->notify.urls[1].url, "http://127.0.0.1:9000/hook/p?q=1");
        assert_string_equal(c->notify.urls[1].host, "127.0.0.1:9000");
        /* most specific wins, each key on its own */
        assert_ptr_equal(config_notify(c, a), &c->notify);
        assert_ptr_equal(config_notify(c, b), &b->notify);
        assert_int_equal(config_notify(c, b)->n_urls, 1);
        assert_int_equal(config_notify_on(c, a), BP_EVENT_ROLLBACK | BP_EVENT_FAILURE);
        assert_int_equal(config_notify_on(c, b), BP_EVENT_HELD | BP_EVENT_UPGRADED);
        assert_int_equal(config_notify_on(c, m), BP_EVENT_ROLLBACK | BP_EVENT_FAILURE | BP_EVENT_AVAILABLE);
        assert_int_equal(config_notify_on(c, NULL), BP_EVENT_ROLLBACK | BP_EVENT_FAILURE);
        assert_true(a->upgrade);
        assert_false(a->monitor_only);
        assert_true(m->upgrade);
        assert_true(m->monitor_only);
        assert_string_equal(config_event_name(BP_EVENT_AVAILABLE), "available");
        config_free(c);

        /* an explicit notify_on = is taken as written, also for upgrade = notify */
        c = parse_ok("[boardpin]\nnotify_on = rollback\n[service m]\nimage = m\nupgrade = notify\n"
                     "[service n]\nimage = n\nupgrade = no\n");
        assert_int_equal(config_notify_on(c, config_service(c, "m")), BP_EVENT_ROLLBACK);
        assert_int_equal(c->notify.n_urls, 0);
        assert_false(config_service(c, "n")->upgrade);
        assert_false(config_service(c, "n")->monitor_only);
        config_free(c);
}

static void fifo_refused(void **state)
{
        const char *dir = *state;
        char path[PATH_MAX];
        struct bp_config *c = NULL;
        struct bp_err err = { 0 };

        snprintf(path, sizeof(path), "%s/fifo.ini", dir);
        assert_int_equal(mkfifo(path, 0600), 0);
        assert_int_equal(config_load(path, &c, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "not a regular file"));
        assert_int_equal(unlink(path), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(full_round_trip),
                cmocka_unit_test(mirror_urls),
                cmocka_unit_test(defaults),
                cmocka_unit_test(empty_files),
                cmocka_unit_test(inline_comments),
                cmocka_unit_test(crlf),
                cmocka_unit_test(bom),
                cmocka_unit_test(indentation_and_separators),
                cmocka_unit_test(line_limits),
                cmocka_unit_test(nul_and_size),
                cmocka_unit_test(bad_files),
                cmocka_unit_test(bad_versions),
                cmocka_unit_test(messages_clean_user_text),
                cmocka_unit_test(exact_versions_take_fixed_tags),
                cmocka_unit_test(template_choice),
                cmocka_unit_test(registry_lookup),
                cmocka_unit_test(example_file),
                cmocka_unit_test_setup_teardown(load_errors, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(long_paths_whole, scratch_setup, scratch_teardown),
                cmocka_unit_test(stale_err_ignored),
                cmocka_unit_test(registry_limit_told_at_load),
                cmocka_unit_test(rollout_and_mirror_parse),
                cmocka_unit_test(urls_split),
                cmocka_unit_test(health_exec_arguments),
                cmocka_unit_test(default_env_var),
                cmocka_unit_test(min_age_keys),
                cmocka_unit_test(notify_keys),
                cmocka_unit_test(metrics_key),
                cmocka_unit_test(verify_keys),
                cmocka_unit_test(min_free_and_keep),
                cmocka_unit_test_setup_teardown(fifo_refused, scratch_setup, scratch_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
