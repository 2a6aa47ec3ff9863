/* tests/unit/test-subprocess.c: running real programs: exit status, output lines, the deadline, a missing
 * program, a signal, and no shell between boardpin and argv. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <stdbool.h>

#include "clock.h"
#include "helpers.h"
#include "subprocess.h"

struct lines {
        char text[8][SUBPROCESS_LINE_MAX_BYTES + 1];
        size_t n;
};

static void collect(const char *line, void *userdata)
{
        struct lines *l = userdata;

        if (l->n < 8)
                (void) snprintf(l->text[l->n], sizeof(l->text[0]), "%s", line);
        l->n++;
}

static void exit_status_and_lines(void **state)
{
        char *argv[] = { "sh", "-c", "echo one; echo two >&2; printf 'x\\033[2Jy\\nlast'; exit 3", NULL };
        struct lines l = { 0 };
        struct bp_err err = { 0 };

        (void) state;
        assert_int_equal(subprocess_run(argv, 10000, collect, &l, &err), 3);
        assert_int_equal(l.n, 4);
        assert_string_equal(l.text[0], "one");
        assert_string_equal(l.text[1], "two");
        assert_string_equal(l.text[2], "x?[2Jy");      /* no escape reaches the journal */
        assert_string_equal(l.text[3], "last");
        char *ok[] = { "true", NULL };
        assert_int_equal(subprocess_run(ok, 10000, NULL, NULL, &err), 0);
}

static void no_shell_in_between(void **state)
{
        /* A digest-like argument with shell syntax stays one argument. */
        char *argv[] = { "printf", "%s|", "a b", "$(echo no)", ";echo no", NULL };
        struct lines l = { 0 };
        struct bp_err err = { 0 };

        (void) state;
        assert_int_equal(subprocess_run(argv, 10000, collect, &l, &err), 0);
        assert_int_equal(l.n, 1);
        assert_string_equal(l.text[0], "a b|$(echo no)|;echo no|");
}

static void deadline(void **state)
{
        char *argv[] = { "sh", "-c", "trap '' TERM; sleep 30 & echo $!; wait", NULL };
        struct lines l = { 0 };
        struct bp_err err = { 0 };
        (void) state;
        /* It ignores SIGTERM, so it takes SIGKILL after the grace period. */
        assert_int_equal(subprocess_run(argv, 300, collect, &l, &err), -ETIMEDOUT);
        assert_non_null(strstr(err.msg, "'sh' did not finish within 300 ms"));
        assert_int_equal(l.n, 1);
        /* The sleep it started went with it: SIGKILL is on its way, so look until it is gone or a zombie
         * waiting for init (a bounded look, not a timing: a process the signal missed stays "S"). */
        char path[64];
        bool dead = false;
        (void) snprintf(path, sizeof(path), "/proc/%.16s/stat", l.text[0]);
        for (int i = 0; i < 500 && !dead; i++) {
                char st[256] = "";
                FILE *f = fopen(path, "re");

                if (f) {
                        if (!fgets(st, sizeof(st), f))
                                st[0] = '\0';
                        fclose(f);
                }
                dead = !f || strstr(st, ") Z ") || strstr(st, ") X ");
                if (!dead)
                        clock_sleep_ms(10);
        }
        assert_true(dead);
}

static void missing_and_signalled(void **state)
{
        char *missing[] = { "/nonexistent/boardpin-no-such-program", NULL };
        char *killed[] = { "sh", "-c", "kill -SEGV $$", NULL };
        struct bp_err err = { 0 };

        (void) state;
        assert_int_equal(subprocess_run(missing, 1000, NULL, NULL, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "could not be started"));
        assert_int_equal(subprocess_run(killed, 10000, NULL, NULL, &err), -ECHILD);
        assert_non_null(strstr(err.msg, "died of signal 11"));
}

static void default_sigpipe_for_the_child(void **state)
{
        /* boardpin ignores SIGPIPE; the program it runs must not inherit that. */
        char *probe[] = { "sh", "-c", "grep '^SigIgn' /proc/self/status", NULL };
        struct lines l = { 0 };
        struct bp_err err = { 0 };

        (void) state;
        assert_true(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
        assert_int_equal(subprocess_run(probe, 10000, collect, &l, &err), 0);
        assert_int_equal(l.n, 1);
        /* SIGPIPE is signal 13: bit 12 of the mask, the 0x1000 of the last hex digits */
        assert_true((strtoull(l.text[0] + strlen("SigIgn:"), NULL, 16) & 0x1000) == 0);
        (void) signal(SIGPIPE, SIG_DFL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(exit_status_and_lines), cmocka_unit_test(no_shell_in_between),
                cmocka_unit_test(deadline),              cmocka_unit_test(missing_and_signalled),
                cmocka_unit_test(default_sigpipe_for_the_child),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
