/* tests/unit/test-osrelease.c: os-release(5) under a root: quoting as the shell reads it, the
 * /usr/lib fallback, and files that are odd or hostile. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "helpers.h"
#include "osrelease.h"

static void parse(const char *text, const char *want)
{
        char buf[64];
        struct bp_err err = { 0 };

        if (osrelease_parse(text, strlen(text), "PRETTY_NAME", "os-release", buf, sizeof(buf), &err) < 0)
                fail_msg("'%s': %s", text, err.msg);
        assert_string_equal(buf, want);
}

static void quoting(void **state)
{
        char buf[64];
        struct bp_err err = { 0 };

        (void) state;
        parse("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n", "Debian GNU/Linux 12 (bookworm)");
        parse("PRETTY_NAME='Raspbian GNU/Linux 11 (bullseye)'", "Raspbian GNU/Linux 11 (bullseye)");
        parse("PRETTY_NAME=Alpine\r\n", "Alpine");
        parse("PRETTY_NAME=\"say \\\"hi\\\" \\\\ \\$HOME\"\n", "say \"hi\" \\ $HOME");
        parse("PRETTY_NAME='a \\\" b'\n", "a \\\" b");                     /* no escapes in '…' */
        parse("PRETTY_NAME=\"Fedora Linux\"' 40'\n", "Fedora Linux 40");
        /* A comment or a longer key naming it is not the key; the last assignment wins. */
        parse("# PRETTY_NAME=\"commented\"\nX_PRETTY_NAME=x\nPRETTY_NAME=\"first\"\nPRETTY_NAME=\"last\"\n", "last");
        parse("PRETTY_NAME=\"tab\tand\x1b[31mescape\"\n", "tab and?[31mescape");
        parse("PRETTY_NAME=\"a very long name that does not fit in the sixty-four bytes of the buffer\"",
              "a very long name that does not fit in the sixty-four bytes of t");
        assert_int_equal(osrelease_parse("NAME=x\n", 7, "PRETTY_NAME", "f", buf, sizeof(buf), &err), -ENOENT);
        assert_int_equal(osrelease_parse("ID=x\nPRETTY_NAME=\"open\n", 22, "PRETTY_NAME", "/etc/os-release", buf,
                                         sizeof(buf), &err),
                         -EINVAL);
        assert_string_equal(err.msg, "/etc/os-release:2: bad PRETTY_NAME value");
        /* Not NUL-terminated: only len bytes are read. */
        assert_int_equal(osrelease_parse("PRETTY_NAME=abcdef", 15, "PRETTY_NAME", "f", buf, sizeof(buf), NULL), 0);
        assert_string_equal(buf, "abc");
}

static void under_a_root(void **state)
{
        const char *root = *state;
        char buf[64];
        struct bp_err err = { 0 };

        assert_int_equal(osrelease_pretty_name(root, buf, sizeof(buf), &err), -ENOENT);
        assert_non_null(strstr(err.msg, root));
        /* Debian ships /etc/os-release as a relative link into /usr/lib. */
        put_file(root, "usr/lib/os-release", "PRETTY_NAME=\"from usr\"\n", 23);
        assert_int_equal(osrelease_pretty_name(root, buf, sizeof(buf), NULL), 0);
        assert_string_equal(buf, "from usr");
        put_link(root, "etc/os-release", "../usr/lib/os-release");
        assert_int_equal(osrelease_pretty_name(root, buf, sizeof(buf), NULL), 0);
        assert_string_equal(buf, "from usr");
}

static void etc_wins_even_without_pretty_name(void **state)
{
        const char *root = *state;
        char buf[64];

        put_file(root, "usr/lib/os-release", "PRETTY_NAME=\"from usr\"\n", 23);
        put_file(root, "etc/os-release", "NAME=Custom\n", 12);
        assert_int_equal(osrelease_pretty_name(root, buf, sizeof(buf), NULL), 0);
        assert_string_equal(buf, "Linux");                      /* os-release(5)'s default */
}

static void hostile_files(void **state)
{
        const char *root = *state;
        char buf[64], path[PATH_MAX];
        struct bp_err err = { 0 };
        char *big = malloc(OSRELEASE_MAX_BYTES + 1);

        assert_non_null(big);
        memset(big, '#', OSRELEASE_MAX_BYTES + 1);
        put_file(root, "etc/os-release", big, OSRELEASE_MAX_BYTES + 1);
        free(big);
        assert_int_equal(osrelease_pretty_name(root, buf, sizeof(buf), &err), -EFBIG);
        assert_non_null(strstr(err.msg, "os-release"));
        /* A FIFO is refused at once rather than waited on. */
        snprintf(path, sizeof(path), "%s/etc/os-release", root);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(mkfifo(path, 0644), 0);
        assert_int_equal(osrelease_pretty_name(root, buf, sizeof(buf), &err), -EINVAL);
        assert_non_null(strstr(err.msg, "not a regular file"));
        /* An absolute link stays inside the root. */
        assert_int_equal(unlink(path), 0);
        put_link(root, "etc/os-release", "/../../../../etc/os-release");
        assert_int_equal(osrelease_pretty_name(root, buf, sizeof(buf), &err), -ELOOP);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(quoting),
                cmocka_unit_test_setup_teardown(under_a_root, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(etc_wins_even_without_pretty_name, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(hostile_files, scratch_setup, scratch_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
