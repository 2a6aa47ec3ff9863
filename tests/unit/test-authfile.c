/* tests/unit/test-authfile.c: auth files in each credential form docker and podman write, hostile JSON,
 * and files that are not regular files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authfile.h"

static int lookup(const char *text, const char *host, struct bp_credentials *c, struct bp_err *err)
{
        memset(c, 'Z', sizeof(*c));
        c->username[0] = '\0';
        return auth_file_lookup("/etc/boardpin/auth.json", text, strlen(text), host, c, err);
}

static void assert_creds(const char *text, const char *host, const char *user, const char *pass, const char *token)
{
        struct bp_credentials c;
        struct bp_err err = { 0 };

        if (lookup(text, host, &c, &err) != 0)
                fail_msg("%s for '%s': %s", text, host, err.msg);
        assert_string_equal(c.username, user);
        assert_string_equal(c.password, pass);
        assert_string_equal(c.identity_token, token);
}

static void assert_file_fails(const char *text, const char *host, int r, const char *want)
{
        struct bp_credentials c;
        struct bp_err err = { 0 };

        if (lookup(text, host, &c, &err) != r)
                fail_msg("%.200s for '%s' did not fail with %d", text, host, r);
        assert_string_equal(c.username, "");    /* ret untouched on failure */
        assert_non_null(strstr(err.msg, "/etc/boardpin/auth.json"));
        assert_null(strchr(err.msg, '\n'));
        if (want && !strstr(err.msg, want))
                fail_msg("%.200s: message '%s' lacks '%s'", text, err.msg, want);
}

static void file_credential_forms(void **state)
{
        (void) state;
        /* docker login: base64("user:pass") */
        assert_creds("{\"auths\":{\"127.0.0.1:5000\":{\"auth\":\"dXNlcjpwYXNz\"}}}", "127.0.0.1:5000", "user", "pass",
                     "");
        /* the password keeps its own ':' */
        assert_creds("{\"auths\":{\"ghcr.io\":{\"auth\":\"dTpwOmE6c3M=\"}}}", "ghcr.io", "u", "p:a:ss", "");
        /* one and two padding characters */
        assert_creds("{\"auths\":{\"h\":{\"auth\":\"YWI6Yw==\"}}}", "h", "ab", "c", "");
        assert_creds("{\"auths\":{\"h\":{\"auth\":\"YWI6Y2Q=\"}}}", "h", "ab", "cd", "");
        /* username and password as fields */
        assert_creds("{\"auths\":{\"quay.io\":{\"username\":\"robot+x\",\"password\":\"s3cr\\\"et\"}}}", "quay.io",
                     "robot+x", "s3cr\"et", "");
        /* identity token, with the "<token>:" auth docker writes beside it */
        assert_creds("{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"PHRva2VuPjo=\","
                     "\"identitytoken\":\"eyJhbGciOi.refresh\"}}}",
                     "docker.io", "<token>", "", "eyJhbGciOi.refresh");
        assert_creds("{\"auths\":{\"h\":{\"identitytoken\":\"tok\"}}}", "h", "", "", "tok");
        /* "auth" wins over the fields; empty or null "auth" does not count */
        assert_creds("{\"auths\":{\"h\":{\"auth\":\"dXNlcjpwYXNz\",\"username\":\"x\",\"password\":\"y\"}}}", "h",
                     "user", "pass", "");
        assert_creds("{\"auths\":{\"h\":{\"auth\":\"\",\"username\":\"x\",\"password\":\"y\"}}}", "h", "x", "y", "");
        assert_creds("{\"auths\":{\"h\":{\"auth\":null,\"username\":\"x\",\"password\":\"y\",\"email\":1}}}", "h",
                     "x", "y", "");
        /* other members of the file and of the entry are ignored */
        assert_creds("{\"HttpHeaders\":{\"User-Agent\":\"x\"},\"auths\":{\"h\":{\"auth\":\"dXNlcjpwYXNz\","
                     "\"email\":\"a@b\"}},\"psFormat\":[1,2,{\"x\":null}]}",
                     "h", "user", "pass", "");
        /* a backslash before "u0000" that is itself escaped is text, not a NUL */
        assert_creds("{\"auths\":{\"h\":{\"username\":\"u\",\"password\":\"p\\\\u0000\"}}}", "h", "u", "p\\u0000",
                     "");
        assert_creds(" \r\n\t{\"auths\":{\"h\":{\"username\":\"u\",\"password\":\"\\u00e9\"}}}\n\n", "h", "u",
                     "\xc3\xa9", "");
}

static void file_keys(void **state)
{
        static const char *const hub_keys[] = { "https://index.docker.io/v1/", "docker.io", "index.docker.io",
                                                "registry-1.docker.io", "https://registry-1.docker.io",
                                                "http://index.docker.io/v1/" };
        static const char *const hub_hosts[] = { "docker.io", "index.docker.io", "registry-1.docker.io",
                                                 "Docker.IO" };
        char text[256];

        (void) state;
        for (size_t k = 0; k < sizeof(hub_keys) / sizeof(hub_keys[0]); k++)
                for (size_t h = 0; h < sizeof(hub_hosts) / sizeof(hub_hosts[0]); h++) {
                        snprintf(text, sizeof(text), "{\"auths\":{\"%s\":{\"auth\":\"dXNlcjpwYXNz\"}}}", hub_keys[k]);
                        assert_creds(text, hub_hosts[h], "user", "pass", "");
                }
        assert_creds("{\"auths\":{\"https://ghcr.io/\":{\"auth\":\"dXNlcjpwYXNz\"}}}", "ghcr.io", "user", "pass", "");
        assert_creds("{\"auths\":{\"https://ghcr.io\":{\"auth\":\"dXNlcjpwYXNz\"}}}", "ghcr.io", "user", "pass", "");
        assert_creds("{\"auths\":{\"http://127.0.0.1:5000/v2/\":{\"auth\":\"dXNlcjpwYXNz\"}}}", "127.0.0.1:5000",
                     "user", "pass", "");
        assert_creds("{\"auths\":{\"GHCR.io\":{\"auth\":\"dXNlcjpwYXNz\"}}}", "ghcr.io", "user", "pass", "");
        /* a bare host beats a URL for the same host, whatever the order */
        assert_creds("{\"auths\":{\"https://index.docker.io/v1/\":{\"username\":\"url\",\"password\":\"p\"},"
                     "\"docker.io\":{\"username\":\"bare\",\"password\":\"p\"}}}",
                     "docker.io", "bare", "p", "");
        assert_creds("{\"auths\":{\"docker.io\":{\"username\":\"bare\",\"password\":\"p\"},"
                     "\"https://index.docker.io/v1/\":{\"username\":\"url\",\"password\":\"p\"}}}",
                     "docker.io", "bare", "p", "");
        /* the right host among several */
        assert_creds("{\"auths\":{\"ghcr.io\":{\"username\":\"g\",\"password\":\"1\"},"
                     "\"127.0.0.1:5000\":{\"username\":\"l\",\"password\":\"2\"},"
                     "\"127.0.0.1\":{\"username\":\"n\",\"password\":\"3\"}}}",
                     "127.0.0.1:5000", "l", "2", "");
}

static void file_nothing_for_host(void **state)
{
        (void) state;
        assert_file_fails("{}", "ghcr.io", -ENOENT, "no credentials for 'ghcr.io'");
        assert_file_fails("{\"auths\":{}}", "ghcr.io", -ENOENT, NULL);
        assert_file_fails("{\"auths\":null}", "ghcr.io", -ENOENT, NULL);
        assert_file_fails("{\"auths\":{\"ghcr.io\":null}}", "ghcr.io", -ENOENT, NULL);
        assert_file_fails("{\"auths\":{\"quay.io\":{\"auth\":\"dXNlcjpwYXNz\"}}}", "ghcr.io", -ENOENT, NULL);
        /* a namespaced key (containers-auth.json) is not for the whole host */
        assert_file_fails("{\"auths\":{\"quay.io/org\":{\"auth\":\"dXNlcjpwYXNz\"}}}", "quay.io", -ENOENT, NULL);
        /* host names are compared whole, ports included */
        assert_file_fails("{\"auths\":{\"ghcr.io.evil\":{\"auth\":\"dXNlcjpwYXNz\"}}}", "ghcr.io", -ENOENT, NULL);
        assert_file_fails("{\"auths\":{\"https://ghcr.io.evil/\":{\"auth\":\"dXNlcjpwYXNz\"}}}", "ghcr.io", -ENOENT,
                          NULL);
        assert_file_fails("{\"auths\":{\"127.0.0.1\":{\"auth\":\"dXNlcjpwYXNz\"}}}", "127.0.0.1:5000", -ENOENT, NULL);
        assert_file_fails("{\"auths\":{\"https://\":{\"auth\":\"dXNlcjpwYXNz\"}}}", "docker.io", -ENOENT, NULL);
        assert_file_fails("{\"auths\":{\"\":{\"auth\":\"dXNlcjpwYXNz\"}}}", "docker.io", -ENOENT, NULL);
        /* docker with a credential store leaves an empty entry */
        assert_file_fails("{\"auths\":{\"https://index.docker.io/v1/\":{}},\"credsStore\":\"desktop\"}", "docker.io",
                          -ENOENT, "credential helper");
        assert_file_fails("{\"credHelpers\":{\"ghcr.io\":\"gh\"}}", "ghcr.io", -ENOENT, "credential helper");
        assert_file_fails("{\"auths\":{\"h\":{\"auth\":\"\"}}}", "h", -ENOENT, NULL);
        /* base64 of ":" is no user and no password either */
        assert_file_fails("{\"auths\":{\"h\":{\"auth\":\"Og==\"}}}", "h", -ENOENT, NULL);
}

static void file_wrong_types(void **state)
{
        (void) state;
        assert_file_fails("[]", "h", -EINVAL, "JSON is not an object");
        assert_file_fails("\"auths\"", "h", -EINVAL, "JSON is not an object");
        assert_file_fails("null", "h", -EINVAL, "malformed JSON");
        assert_file_fails("{\"auths\":[]}", "h", -EINVAL, "\"auths\" is not an object");
        assert_file_fails("{\"auths\":[{\"h\":{\"auth\":\"dXNlcjpwYXNz\"}}]}", "h", -EINVAL, "not an object");
        assert_file_fails("{\"auths\":\"h\"}", "h", -EINVAL, "not an object");
        assert_file_fails("{\"auths\":{\"h\":\"dXNlcjpwYXNz\"}}", "h", -EINVAL, "auths.\"h\": not an object");
        assert_file_fails("{\"auths\":{\"h\":[]}}", "h", -EINVAL, "not an object");
        assert_file_fails("{\"auths\":{\"h\":{\"auth\":42}}}", "h", -EINVAL, "auths.\"h\".auth: not a string");
        assert_file_fails("{\"auths\":{\"h\":{\"auth\":true}}}", "h", -EINVAL, "not a string");
        assert_file_fails("{\"auths\":{\"h\":{\"username\":[\"u\"],\"password\":\"p\"}}}", "h", -EINVAL,
                          "username: not a string");
        assert_file_fails("{\"auths\":{\"h\":{\"username\":\"u\",\"password\":{}}}}", "h", -EINVAL,
                          "password: not a string");
        assert_file_fails("{\"auths\":{\"h\":{\"identitytoken\":1.5}}}", "h", -EINVAL, "identitytoken: not a string");
}

static void file_broken_json(void **state)
{
        char *deep;
        size_t n = 10000;

        (void) state;
        assert_file_fails("", "h", -EINVAL, "malformed JSON");
        assert_file_fails("   ", "h", -EINVAL, "malformed JSON");
        assert_file_fails("{\"auths\":", "h", -EINVAL, "truncated");
        assert_file_fails("{\"auths\":{}", "h", -EINVAL, "malformed JSON");
        assert_file_fails("{\"auths\":{}} x", "h", -EINVAL, "malformed JSON");
        assert_file_fails("{\"auths\":{}}{}", "h", -EINVAL, "malformed JSON");
        assert_file_fails("{\"auths\":{},}", "h", -EINVAL, "malformed JSON");
        assert_file_fails("{\"auths\":{\"h\":{\"auth\":\"dXNlcjpwYXNz\",}}}", "h", -EINVAL, "malformed JSON");
        assert_file_fails("{auths:{}}", "h", -EINVAL, "malformed JSON");
        assert_file_fails("/* c */{}", "h", -EINVAL, "malformed JSON");
        assert_file_fails("{\"auths\":{\"h\":{\"auth\":\"\xff\xfe\"}}}", "h", -EINVAL, "malformed JSON");
        /* nesting: 10000 '[' and a file just past the depth limit */
        deep = malloc(n + 1);
        assert_non_null(deep);
        memset(deep, '[', n);
        deep[n] = '\0';
        assert_file_fails(deep, "h", -EINVAL, "malformed JSON");
        memset(deep, '{', n);
        assert_file_fails(deep, "h", -EINVAL, "malformed JSON");
        free(deep);
        assert_file_fails("{\"auths\":{\"h\":{\"x\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}}}", "h", -EINVAL,
                          "nesting too deep");
        assert_creds("{\"auths\":{\"h\":{\"x\":[[[[[[[[[[]]]]]]]]]],\"auth\":\"dXNlcjpwYXNz\"}}}", "h", "user", "pass",
                     "");
}

static void file_nul_bytes(void **state)
{
        static const char text[] = "{\"auths\":{\"h\":{\"auth\":\"dXNlcjpwYXNz\"}}}\0{}";
        struct bp_credentials c;
        struct bp_err err = { 0 };

        (void) state;
        assert_int_equal(auth_file_lookup("f", text, sizeof(text) - 1, "h", &c, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "NUL"));
        /* an escaped NUL would cut the key "h\u0000.evil" to "h" in json-c */
        assert_file_fails("{\"auths\":{\"h\\u0000.evil\":{\"auth\":\"dXNlcjpwYXNz\"}}}", "h", -EINVAL, "NUL");
        assert_file_fails("{\"auths\":{\"h\":{\"username\":\"u\\u0000x\",\"password\":\"p\"}}}", "h", -EINVAL,
                          "NUL");
        assert_file_fails("{\"auths\":{\"h\":{\"username\":\"u\\\\\\u0000\",\"password\":\"p\"}}}", "h", -EINVAL,
                          "NUL");
        /* base64 of "u\0x:p" */
        assert_file_fails("{\"auths\":{\"h\":{\"auth\":\"dQB4OnA=\"}}}", "h", -EINVAL, "NUL");
}

static void file_bad_base64(void **state)
{
        static const char *const bad[] = { "dXNlcjpwYXNz=", "dXNlcjpwYXN", "dXNl cjpw", " dXNlcjpwYXNz",
                                           "dXNlcjpwYXNz\\n", "!!!!", "dXNlcjpwYXNz====", "YQ=b", "Y===", "=YWI",
                                           "dXNlcjpw-XNz", "dXNlcjpw_XNz", "dXNlcjpwYXNz\\u00e9AAA" };
        char text[256];

        (void) state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                snprintf(text, sizeof(text), "{\"auths\":{\"h\":{\"auth\":\"%s\"}}}", bad[i]);
                assert_file_fails(text, "h", -EINVAL, "auth: not base64");
        }
        /* valid base64 but no ':' */
        assert_file_fails("{\"auths\":{\"h\":{\"auth\":\"dXNlcg==\"}}}", "h", -EINVAL, "'user:password'");
        assert_file_fails("{\"auths\":{\"h\":{\"auth\":\"dXNlcnBhc3M=\"}}}", "h", -EINVAL, "'user:password'");
}

/* {"auths":{"h":{"<field>":"<n times c>"}}} in a new buffer */
static char *file_with(const char *field, char c, size_t n, const char *prefix)
{
        size_t len = 64 + strlen(field) + strlen(prefix) + n;
        char *t = malloc(len);
        int head;

        assert_non_null(t);
        head = snprintf(t, len, "{\"auths\":{\"h\":{\"%s\":\"%s", field, prefix);
        memset(t + head, c, n);
        strcpy(t + head + n, "\"}}}");
        return t;
}

static void assert_too_long(const char *field, char c, size_t n, const char *prefix, const char *want)
{
        char *t = file_with(field, c, n, prefix);

        assert_file_fails(t, "h", -EINVAL, want);
        free(t);
}

/* An auth file whose "auth" is base64 of user_n 'u', ':' and pass_n 'p'; it must fail with want. */
static void assert_auth_too_long(size_t user_n, size_t pass_n, const char *want)
{
        size_t n = user_n + 1 + pass_n;
        unsigned char *raw = malloc(n);
        char *b64 = malloc((n + 2) / 3 * 4 + 1), *t;

        assert_non_null(raw);
        assert_non_null(b64);
        memset(raw, 'u', user_n);
        raw[user_n] = ':';
        memset(raw + user_n + 1, 'p', pass_n);
        EVP_EncodeBlock((unsigned char *) b64, raw, (int) n);
        t = file_with("auth", 'x', 0, b64);
        assert_file_fails(t, "h", -EINVAL, want);
        free(t);
        free(b64);
        free(raw);
}

static void file_huge_values(void **state)
{
        struct bp_credentials c;
        char *t;

        (void) state;
        t = file_with("identitytoken", 't', 2047, "");
        assert_int_equal(lookup(t, "h", &c, NULL), 0);
        assert_int_equal(strlen(c.identity_token), 2047);
        free(t);
        assert_too_long("identitytoken", 't', 2048, "", "identitytoken: too long");
        assert_too_long("username", 'u', 256, "", "username: too long");
        assert_too_long("password", 'p', 512, "", "password: too long");
        assert_too_long("password", 'p', 900000, "", "password: too long");
        /* "auth" decoding to a user or password too long for its field */
        assert_auth_too_long(300, 1, "auth (user): too long");
        assert_auth_too_long(1, 600, "auth (password): too long");
        assert_auth_too_long(1, 700000, "auth (password): too long");
        assert_too_long("auth", 'Y', 400, "", "'user:password'");
        /* a file over 1 MiB is refused before parsing */
        t = file_with("password", 'p', AUTH_FILE_MAX_BYTES, "");
        assert_file_fails(t, "h", -EFBIG, "larger than 1048576 bytes");
        free(t);
}

static void file_host_argument(void **state)
{
        struct bp_credentials c;

        (void) state;
        assert_int_equal(lookup("{}", "", &c, NULL), -EINVAL);
        assert_int_equal(auth_file_lookup("f", "{}", 2, NULL, &c, NULL), -EINVAL);
}

static void basic_value(void **state)
{
        struct bp_credentials c = { 0 };
        char buf[1100];

        (void) state;
        strcpy(c.username, "user");
        strcpy(c.password, "pass");
        assert_int_equal(auth_basic_value(&c, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "dXNlcjpwYXNz");
        assert_int_equal(auth_basic_value(&c, buf, 13), 0);
        assert_string_equal(buf, "dXNlcjpwYXNz");
        assert_int_equal(auth_basic_value(&c, buf, 12), -ENOBUFS);
        assert_int_equal(auth_basic_value(&c, NULL, 0), -ENOBUFS);
        strcpy(c.username, "u");
        strcpy(c.password, "p:a:ss");
        assert_int_equal(auth_basic_value(&c, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "dTpwOmE6c3M=");
        c.username[0] = c.password[0] = '\0';
        assert_int_equal(auth_basic_value(&c, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "Og==");
        /* the largest fields: 255 + 1 + 511 bytes, 1024 characters of base64 */
        memset(c.username, 'u', sizeof(c.username) - 1);
        memset(c.password, 'p', sizeof(c.password) - 1);
        c.username[sizeof(c.username) - 1] = c.password[sizeof(c.password) - 1] = '\0';
        assert_int_equal(auth_basic_value(&c, buf, 1025), 0);
        assert_int_equal(strlen(buf), 1024);
        assert_int_equal(auth_basic_value(&c, buf, 1024), -ENOBUFS);
}

static void basic_value_round_trip(void **state)
{
        struct bp_credentials in = { 0 }, out;
        char b64[1100], text[1200];

        (void) state;
        strcpy(in.username, "robot$acme+ci");
        strcpy(in.password, "p\xc3\xa4ss:w\"o\\rd");
        assert_int_equal(auth_basic_value(&in, b64, sizeof(b64)), 0);
        snprintf(text, sizeof(text), "{\"auths\":{\"h\":{\"auth\":\"%s\"}}}", b64);
        assert_int_equal(lookup(text, "h", &out, NULL), 0);
        assert_string_equal(out.username, in.username);
        assert_string_equal(out.password, in.password);
}

/* A FIFO as the auth file used to block open() until a writer came: boot hung. */
static void file_read_refuses_fifo(void **state)
{
        char dir[] = "/tmp/test-authfile-XXXXXX", path[64];
        struct bp_credentials c = { 0 };
        struct bp_err err = { 0 };
        FILE *f;

        (void) state;
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/auth.json", dir);
        assert_int_equal(auth_file_read(path, "h", &c, &err), -ENOENT);
        assert_non_null(strstr(err.msg, path));
        assert_int_equal(mkfifo(path, 0600), 0);
        assert_int_equal(auth_file_read(path, "h", &c, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "not a regular file"));
        assert_int_equal(unlink(path), 0);
        assert_int_equal(auth_file_read(dir, "h", &c, &err), -EINVAL);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs("{\"auths\":{\"h\":{\"auth\":\"dXNlcjpwYXNz\"}}}", f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(auth_file_read(path, "h", &c, &err), 0);
        assert_string_equal(c.username, "user");
        assert_string_equal(c.password, "pass");
        assert_int_equal(auth_file_read(path, "other", &c, &err), -ENOENT);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(file_credential_forms),  cmocka_unit_test(file_keys),
                cmocka_unit_test(file_nothing_for_host),  cmocka_unit_test(file_wrong_types),
                cmocka_unit_test(file_broken_json),       cmocka_unit_test(file_nul_bytes),
                cmocka_unit_test(file_bad_base64),        cmocka_unit_test(file_huge_values),
                cmocka_unit_test(file_host_argument),     cmocka_unit_test(basic_value),
                cmocka_unit_test(basic_value_round_trip), cmocka_unit_test(file_read_refuses_fifo),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
