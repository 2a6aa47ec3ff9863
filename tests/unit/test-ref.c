/* tests/unit/test-ref.c: image reference parsing and normalization, with the cases of docker's
 * distribution/reference (normalize_test.go, reference_test.go) and hostile input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ref.h"

#define D64 "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
#define DIGEST "sha256:" D64

static void assert_ref(const char *in, const char *domain, const char *path, const char *tag, const char *digest)
{
        struct bp_ref r;
        struct bp_err err = { 0 };

        if (ref_parse(in, &r, &err) != 0)
                fail_msg("'%s': %s", in, err.msg);
        assert_string_equal(r.domain, domain);
        assert_string_equal(r.path, path);
        assert_string_equal(r.tag, tag);
        assert_string_equal(r.digest, digest);
}

static void assert_formats(const char *in, const char *want)
{
        struct bp_ref r, again;
        char buf[REF_STRING_MAX], buf2[REF_STRING_MAX];
        struct bp_err err = { 0 };

        if (ref_parse(in, &r, &err) != 0)
                fail_msg("'%s': %s", in, err.msg);
        assert_string_equal(ref_format(&r, buf), want);
        /* The normal form is a fixed point. */
        assert_int_equal(ref_parse(buf, &again, &err), 0);
        assert_string_equal(ref_format(&again, buf2), want);
}

/* Fails the test unless in is rejected with a message naming it and saying why (rule, if not NULL). */
static void assert_rejects(const char *in, const char *rule)
{
        struct bp_ref r;
        struct bp_err err = { 0 };

        memset(&r, 'X', sizeof(r));
        r.path[0] = '\0';
        if (ref_parse(in, &r, &err) != -EINVAL)
                fail_msg("'%s' was accepted", in);
        assert_true(strncmp(err.msg, "bad image reference '", 21) == 0);
        if (rule && !strstr(err.msg, rule))
                fail_msg("'%s': message '%s' lacks '%s'", in, err.msg, rule);
        assert_string_equal(r.path, "");        /* ret untouched on failure */
        assert_non_null(strchr(err.msg, ':'));
        assert_null(strchr(err.msg, '\n'));
}

static void parse_required_cases(void **state)
{
        (void) state;
        assert_ref("nginx", "docker.io", "library/nginx", "latest", "");
        assert_ref("vaultwarden/server:1.30", "docker.io", "vaultwarden/server", "1.30", "");
        assert_ref("ghcr.io/o/r@" DIGEST, "ghcr.io", "o/r", "", DIGEST);
        assert_ref("127.0.0.1:5000/x/y:tag", "127.0.0.1:5000", "x/y", "tag", "");
        assert_ref("localhost/x", "localhost", "x", "latest", "");
        assert_ref("localhost:5000/x", "localhost:5000", "x", "latest", "");
        assert_ref("index.docker.io/library/nginx", "docker.io", "library/nginx", "latest", "");
        assert_ref("docker.io/nginx", "docker.io", "library/nginx", "latest", "");
        assert_ref("name:tag@" DIGEST, "docker.io", "library/name", "tag", DIGEST);
}

static void parse_docker_vectors(void **state)
{
        (void) state;
        /* normalize_test.go TestParseRepositoryInfo and TestNormalizedSplitHostname */
        assert_ref("fooo/bar", "docker.io", "fooo/bar", "latest", "");
        assert_ref("index.docker.io/fooo/bar", "docker.io", "fooo/bar", "latest", "");
        assert_ref("library/ubuntu", "docker.io", "library/ubuntu", "latest", "");
        assert_ref("other/library", "docker.io", "other/library", "latest", "");
        assert_ref("127.0.0.1:8000/private/moonbase", "127.0.0.1:8000", "private/moonbase", "latest", "");
        assert_ref("127.0.0.1:8000/privatebase", "127.0.0.1:8000", "privatebase", "latest", "");
        assert_ref("example.com/private/moonbase", "example.com", "private/moonbase", "latest", "");
        assert_ref("example.com:8000/privatebasee", "example.com:8000", "privatebasee", "latest", "");
        assert_ref("ubuntu-12.04-base", "docker.io", "library/ubuntu-12.04-base", "latest", "");
        assert_ref("library/foo/bar", "docker.io", "library/foo/bar", "latest", "");
        assert_ref("store/foo/bar", "docker.io", "store/foo/bar", "latest", "");
        assert_ref("test.com/foo", "test.com", "foo", "latest", "");
        assert_ref("test_com/foo", "docker.io", "test_com/foo", "latest", "");
        assert_ref("test-com:8080/foo", "test-com:8080", "foo", "latest", "");
        assert_ref("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo", "latest", "");
        assert_ref("docker.io/library/foo/bar", "docker.io", "library/foo/bar", "latest", "");
        /* TestValidateReferenceName, TestValidateRemoteName */
        assert_ref("127.0.0.1:5000/debian", "127.0.0.1:5000", "debian", "latest", "");
        assert_ref("192.168.0.1", "docker.io", "library/192.168.0.1", "latest", "");
        assert_ref("192.168.0.1:80", "docker.io", "library/192.168.0.1", "80", "");
        assert_ref("192.168.0.2:25000/debian", "192.168.0.2:25000", "debian", "latest", "");
        assert_ref("thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", "docker.io",
                   "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", "latest", "");
        assert_ref("[fc00::1]:5000/docker/docker", "[fc00::1]:5000", "docker/docker", "latest", "");
        assert_ref("[fc00:1:2:3:4:5:6:7]:5000/library/debian", "[fc00:1:2:3:4:5:6:7]:5000", "library/debian",
                   "latest", "");
        assert_ref("docker.io/" D64, "docker.io", "library/" D64, "latest", "");
        assert_ref(D64 ":tag", "docker.io", "library/" D64, "tag", "");
        assert_ref("docker-rules/docker", "docker.io", "docker-rules/docker", "latest", "");
        assert_ref("docker---rules/docker", "docker.io", "docker---rules/docker", "latest", "");
        assert_ref("dock__er/docker", "docker.io", "dock__er/docker", "latest", "");
        assert_ref("d/docker", "docker.io", "d/docker", "latest", "");
        assert_ref("jess/t", "docker.io", "jess/t", "latest", "");
        /* reference_test.go */
        assert_ref("test.com:tag", "docker.io", "library/test.com", "tag", "");
        assert_ref("test.com:5000", "docker.io", "library/test.com", "5000", "");
        assert_ref("test:5000/repo:tag", "test:5000", "repo", "tag", "");
        assert_ref("sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux",
                   "some-long-tag", "");
        assert_ref("a.b-c.d/e:Tag_1.2-RC", "a.b-c.d", "e", "Tag_1.2-RC", "");
        assert_ref("foo_bar.com:8080", "docker.io", "library/foo_bar.com", "8080", "");
        assert_ref("x:_", "docker.io", "library/x", "_", "");
}

static void parse_domain_rules(void **state)
{
        (void) state;
        /* A bare first component is a path unless it is localhost or has '.' or ':'. */
        assert_ref("localhost", "docker.io", "library/localhost", "latest", "");
        assert_ref("localhost:5000", "docker.io", "library/localhost", "5000", "");
        assert_ref("localhostx/y", "docker.io", "localhostx/y", "latest", "");
        assert_ref("registry-1.docker.io/library/x", "registry-1.docker.io", "library/x", "latest", "");
        assert_ref("index.docker.io/x", "docker.io", "library/x", "latest", "");
        assert_ref("ghcr.io/x", "ghcr.io", "x", "latest", "");
        assert_ref("Example.COM/x", "Example.COM", "x", "latest", "");
        assert_ref("a:65535/x", "a:65535", "x", "latest", "");
        assert_ref("h:1/x@" DIGEST, "h:1", "x", "", DIGEST);
}

static void format_and_name(void **state)
{
        struct bp_ref r;
        char buf[REF_STRING_MAX];

        (void) state;
        assert_formats("nginx", "docker.io/library/nginx:latest");
        assert_formats("busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa",
                       "docker.io/library/busybox:latest@sha256:"
                       "86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa");
        assert_formats("ghcr.io/o/r@" DIGEST, "ghcr.io/o/r@" DIGEST);
        assert_formats("host.lan/x:tag@" DIGEST, "host.lan/x:tag@" DIGEST);
        assert_formats("redis@" DIGEST, "docker.io/library/redis@" DIGEST);
        assert_formats("dmcgowan/myapp", "docker.io/dmcgowan/myapp:latest");
        assert_formats("[::1]:5000/a", "[::1]:5000/a:latest");

        assert_int_equal(ref_parse("vaultwarden/server:1.30", &r, NULL), 0);
        assert_string_equal(ref_name(&r, buf), "docker.io/vaultwarden/server");
        assert_string_equal(ref_api_host(&r), "registry-1.docker.io");
        assert_int_equal(ref_parse("index.docker.io/x/y", &r, NULL), 0);
        assert_string_equal(ref_api_host(&r), "registry-1.docker.io");
        assert_int_equal(ref_parse("127.0.0.1:5000/x/y:tag", &r, NULL), 0);
        assert_string_equal(ref_name(&r, buf), "127.0.0.1:5000/x/y");
        assert_string_equal(ref_api_host(&r), "127.0.0.1:5000");
        assert_int_equal(ref_parse("ghcr.io/o/r", &r, NULL), 0);
        assert_string_equal(ref_api_host(&r), "ghcr.io");
        assert_int_equal(ref_parse("registry-1.docker.io/library/x", &r, NULL), 0);
        assert_string_equal(ref_api_host(&r), "registry-1.docker.io");
}

static void rejects_docker_invalid(void **state)
{
        static const char *const bad[] = {
                /* normalize_test.go TestValidateReferenceName, TestValidateRemoteName */
                "https://github.com/docker/docker", "docker/Docker", "-docker", "-docker/docker",
                "-docker.io/docker/docker", "docker///docker", "docker.io/docker/Docker", "docker.io/docker///docker",
                "[fc00::1]", "[fc00::1]:5000", "fc00::1:5000/debian", "[fe80::1%eth0]:5000/debian",
                "[2001:db8:3:4::192.0.2.33]:5000/debian", D64, "docker-/docker", "-docker-/docker", "____/____",
                "_docker/_docker", "dock..er/docker", "dock_.er/docker", "dock-.er/docker", "docker/",
                /* reference_test.go */
                "", ":justtag", "@sha256:" D64, "repo@sha256:ffffffffffffffffffffffffffffffffff",
                "validname@invaliddigest:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
                "Uppercase:tag", "aa/asdf$$^/aa", "a:b:c", "a/b:c:d", "foo@sha256:" D64 "@sha256:" D64,
        };

        (void) state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_rejects(bad[i], NULL);
}

static void rejects_with_the_rule(void **state)
{
        (void) state;
        assert_rejects("", "empty");
        assert_rejects("Docker/docker", "lower-case");   /* docker would take "Docker" for a host */
        assert_rejects("ghcr.io/Owner/x", "lower-case");
        assert_rejects("a//b", "empty path component");
        assert_rejects("/a", "empty path component");
        assert_rejects("a/", "empty path component");
        assert_rejects("ghcr.io/", "empty path component");
        assert_rejects("x:", "empty tag");
        assert_rejects("x@", "empty digest");
        assert_rejects("x:@" DIGEST, "empty tag");
        assert_rejects("x@sha256:" D64 "0", "64 lower-case hex");
        assert_rejects("x@sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9", "64 lower-case hex");
        assert_rejects("x@sha256:DBCC1C35AC38DF41FD2F5E4130B32FFDB93EBAE8B3DBE638C23575912276FC9C", "lower-case hex");
        assert_rejects("x@sha256:" D64 "x", "64 lower-case hex");
        assert_rejects("x@sha512:" D64 D64, "not sha256");
        assert_rejects("x@SHA256:" D64, "not sha256");
        assert_rejects("x@md5:d41d8cd98f00b204e9800998ecf8427e", "not sha256");
        assert_rejects("x:.tag", "starts with '.' or '-'");
        assert_rejects("x:-tag", "starts with '.' or '-'");
        assert_rejects("x:t+g", "tag may only");
        assert_rejects(D64, "image ID");
        assert_rejects("ex_ample.com/x", "registry host");
        assert_rejects("a..b.com/x", "registry host");
        assert_rejects("-a.com/x", "registry host");
        assert_rejects("a-.com/x", "registry host");
        assert_rejects("[fc00::g]:5000/x", "registry host");
        assert_rejects("[]:5000/x", "registry host");
        assert_rejects(":5000/x", "registry host");
        assert_rejects("localhost:/x", "registry port");
        assert_rejects("localhost:0/x", "registry port");
        assert_rejects("localhost:65536/x", "registry port");
        assert_rejects("localhost:+80/x", "registry port");
        assert_rejects("localhost:80:80/x", "registry port");
        assert_rejects("localhost:99999999999999999999999/x", "registry port");
        assert_rejects("a/b!c", "path may only");
        assert_rejects("a/b___c", "'..'");
        assert_rejects("a/b.", "'..'");
}

static void rejects_hostile_text(void **state)
{
        static const char *const bad[] = { " nginx", "nginx ", "ng inx", "nginx\n", "nginx\r\n", "\tnginx",
                                           "nginx\x01", "\x7f", "ng\xc3\xafnx", "nginx:\xff", "a/b\x1b[31m" };

        (void) state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_rejects(bad[i], "white space, control or non-ASCII");
}

static char *repeat(char *buf, const char *prefix, char c, size_t n, const char *suffix)
{
        size_t p = strlen(prefix);

        memcpy(buf, prefix, p);
        memset(buf + p, c, n);
        strcpy(buf + p + n, suffix);
        return buf;
}

static void limits(void **state)
{
        char in[2048], want[2048];
        struct bp_ref r;

        (void) state;
        /* Tags: 128 characters, no more. */
        assert_int_equal(ref_parse(repeat(in, "x:", 'a', 128, ""), &r, NULL), 0);
        assert_int_equal(strlen(r.tag), 128);
        assert_rejects(repeat(in, "x:", 'a', 129, ""), "over 128");
        assert_rejects(repeat(in, "x:", 'a', 600, ""), "over 128");
        /* Names: 255 characters counted after normalization. */
        assert_int_equal(ref_parse(repeat(in, "example.com/", 'a', 243, ""), &r, NULL), 0);
        assert_rejects(repeat(in, "example.com/", 'a', 244, ""), "over 255");
        assert_int_equal(ref_parse(repeat(in, "", 'a', 237, ":t"), &r, NULL), 0);
        assert_string_equal(r.path, repeat(want, "library/", 'a', 237, ""));
        assert_rejects(repeat(in, "", 'a', 238, ""), "over 255");
        assert_rejects(repeat(in, "", 'a', 255, ".com/x"), "over 255");
        assert_rejects("this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_"
                       "namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_"
                       "lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_"
                       "255/docker",
                       "over 255");
        /* The whole string. */
        assert_rejects(repeat(in, "", 'a', REF_STRING_MAX, ""), "longer than");
        assert_rejects(repeat(in, "", 'a', REF_STRING_MAX - 1, ""), "over 255");
        assert_rejects(repeat(in, "", '/', 1500, ""), "longer than");
        /* The longest valid reference fits the formatting buffer. */
        repeat(in, "", 'a', 237, ":");
        repeat(in + strlen(in), "", 'b', 128, "@" DIGEST);
        assert_int_equal(ref_parse(in, &r, NULL), 0);
        assert_int_equal(strlen(ref_format(&r, want)), 18 + 237 + 1 + 128 + 1 + 71);
}

static void predicates(void **state)
{
        char tag[200];

        (void) state;
        assert_true(ref_digest_ok(DIGEST));
        assert_false(ref_digest_ok(NULL));
        assert_false(ref_digest_ok(""));
        assert_false(ref_digest_ok("sha256:"));
        assert_false(ref_digest_ok(D64));
        assert_false(ref_digest_ok(DIGEST "a"));
        assert_false(ref_digest_ok("sha256:" D64 "\n"));
        assert_false(ref_digest_ok("sha256:DBCC1C35AC38DF41FD2F5E4130B32FFDB93EBAE8B3DBE638C23575912276FC9C"));
        assert_false(ref_digest_ok("sha256:gbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"));
        assert_false(ref_digest_ok("sha384:" D64));
        assert_true(ref_tag_ok("latest"));
        assert_true(ref_tag_ok("1.30"));
        assert_true(ref_tag_ok("_x"));
        assert_true(ref_tag_ok("A-b_C.9"));
        assert_false(ref_tag_ok(NULL));
        assert_false(ref_tag_ok(""));
        assert_false(ref_tag_ok(".x"));
        assert_false(ref_tag_ok("-x"));
        assert_false(ref_tag_ok("x y"));
        assert_false(ref_tag_ok("x/y"));
        assert_false(ref_tag_ok("x:y"));
        assert_false(ref_tag_ok("x@y"));
        assert_true(ref_tag_ok(repeat(tag, "", 'a', 128, "")));
        assert_false(ref_tag_ok(repeat(tag, "", 'a', 129, "")));
}

static void message_names_input(void **state)
{
        struct bp_ref r;
        struct bp_err err = { 0 };
        char in[1024];

        (void) state;
        assert_int_equal(ref_parse("Vaultwarden/server", &r, &err), -EINVAL);
        assert_string_equal(err.msg, "bad image reference 'Vaultwarden/server': path must be lower-case");
        assert_int_equal(ref_parse("x\n:tag", &r, &err), -EINVAL);
        assert_null(strchr(err.msg, '\n'));
        assert_int_equal(ref_parse(repeat(in, "", 'a', 900, ""), &r, &err), -EINVAL);
        assert_true(strlen(err.msg) < sizeof(err.msg) - 1);
        assert_int_equal(ref_parse("x:", &r, NULL), -EINVAL);          /* err may be NULL */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(parse_required_cases),
                cmocka_unit_test(parse_docker_vectors),
                cmocka_unit_test(parse_domain_rules),
                cmocka_unit_test(format_and_name),
                cmocka_unit_test(rejects_docker_invalid),
                cmocka_unit_test(rejects_with_the_rule),
                cmocka_unit_test(rejects_hostile_text),
                cmocka_unit_test(limits),
                cmocka_unit_test(predicates),
                cmocka_unit_test(message_names_input),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
