/* tests/unit/test-log.c: agent/log.c's sinks. The journal is a datagram socket this test binds, with
 * stderr made a file and $JOURNAL_STREAM naming it, as systemd sets them for a service. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "helpers.h"
#include "log.h"

struct t {
        char dir[64];
        char sock_path[128];
        char err_path[128];
        int sock;
        int saved_stderr;
};

static int setup(void **state)
{
        struct t *t = calloc(1, sizeof(*t));
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct stat st;
        char stream[64];
        int fd;

        assert_non_null(t);
        strcpy(t->dir, "/tmp/test-log-XXXXXX");
        assert_non_null(mkdtemp(t->dir));
        snprintf(t->sock_path, sizeof(t->sock_path), "%s/journal", t->dir);
        snprintf(t->err_path, sizeof(t->err_path), "%s/stderr", t->dir);
        t->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        assert_true(t->sock >= 0);
        strcpy(sa.sun_path, t->sock_path);
        assert_int_equal(bind(t->sock, (struct sockaddr *) &sa, sizeof(sa)), 0);
        log_set_journal_socket(t->sock_path);
        log_set_level(LOG_LEVEL_NORMAL);

        fflush(stderr);
        t->saved_stderr = dup(STDERR_FILENO);
        fd = open(t->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
        close(fd);
        assert_int_equal(fstat(STDERR_FILENO, &st), 0);
        snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long) st.st_dev,
                 (unsigned long long) st.st_ino);
        assert_int_equal(setenv("JOURNAL_STREAM", stream, 1), 0);
        *state = t;
        return 0;
}

static int teardown(void **state)
{
        struct t *t = *state;
        char path[160];

        fflush(stderr);
        dup2(t->saved_stderr, STDERR_FILENO);
        close(t->saved_stderr);
        close(t->sock);
        unsetenv("JOURNAL_STREAM");
        log_set_journal_socket(LOG_JOURNAL_SOCKET);
        unlink(t->sock_path);
        unlink(t->err_path);
        snprintf(path, sizeof(path), "%s", t->dir);
        rmdir(path);
        free(t);
        return 0;
}

/* The next datagram, or -1 when there is none. */
static ssize_t next_datagram(struct t *t, char *buf, size_t size)
{
        ssize_t n = recv(t->sock, buf, size, 0);

        if (n < 0)
                assert_int_equal(errno, EAGAIN);
        return n;
}

static char *stderr_text(struct t *t)
{
        fflush(stderr);
        return slurp(t->err_path, NULL);
}

static void journal_entry_has_its_fields(void **state)
{
        struct t *t = *state;
        static const char want[] = "MESSAGE=vaultwarden: pinned 3\n"
                                   "PRIORITY=6\n"
                                   "SYSLOG_IDENTIFIER=boardpin\n"
                                   "BOARDPIN_SERVICE=vaultwarden\n"
                                   "BOARDPIN_DIGEST=sha256:0123\n"
                                   "BOARDPIN_PLATFORM=linux/arm/v6\n";
        char buf[4096];
        ssize_t n;
        char *err;

        log_full(LOG_INFO, "vaultwarden", "sha256:0123", "linux/arm/v6", "%s: pinned %d", "vaultwarden", 3);
        n = next_datagram(t, buf, sizeof(buf));
        assert_int_equal(n, sizeof(want) - 1);
        assert_memory_equal(buf, want, sizeof(want) - 1);
        assert_int_equal(next_datagram(t, buf, sizeof(buf)), -1);
        err = stderr_text(t);
        assert_string_equal(err, ""); /* one sink: nothing on stderr too */
        free(err);
}

static void fields_not_given_are_left_out(void **state)
{
        struct t *t = *state;
        static const char want[] = "MESSAGE=no lock\nPRIORITY=3\nSYSLOG_IDENTIFIER=boardpin\n"
                                   "BOARDPIN_SERVICE=pihole\n";
        char buf[4096];
        ssize_t n;

        log_full(LOG_ERR, "pihole", NULL, NULL, "no lock");
        n = next_datagram(t, buf, sizeof(buf));
        assert_int_equal(n, sizeof(want) - 1);
        assert_memory_equal(buf, want, sizeof(want) - 1);
}

static void a_newline_is_framed_with_its_length(void **state)
{
        struct t *t = *state;
        static const char head[] = "MESSAGE\n";
        static const char value[] = "first\nsecond";
        static const char rest[] = "PRIORITY=3\nSYSLOG_IDENTIFIER=boardpin\n";
        char buf[4096];
        uint64_t len = 0;
        ssize_t n;

        log_error("first\nsecond");
        n = next_datagram(t, buf, sizeof(buf));
        assert_true(n > 0);
        assert_memory_equal(buf, head, sizeof(head) - 1);
        for (int i = 0; i < 8; i++)
                len |= (uint64_t) (uint8_t) buf[sizeof(head) - 1 + i] << (8 * i);
        assert_int_equal(len, sizeof(value) - 1);
        assert_memory_equal(buf + sizeof(head) - 1 + 8, value, sizeof(value) - 1);
        assert_int_equal(buf[sizeof(head) - 1 + 8 + sizeof(value) - 1], '\n');
        assert_int_equal(n, sizeof(head) - 1 + 8 + sizeof(value) + strlen(rest));
        assert_memory_equal(buf + sizeof(head) - 1 + 8 + sizeof(value), rest, strlen(rest));
}

static void debug_only_with_verbose(void **state)
{
        struct t *t = *state;
        char buf[4096];

        log_debug("quiet please");
        assert_int_equal(next_datagram(t, buf, sizeof(buf)), -1);
        log_set_level(LOG_LEVEL_VERBOSE);
        log_debug("now");
        assert_int_equal(next_datagram(t, buf, sizeof(buf)),
                         (ssize_t) strlen("MESSAGE=now\nPRIORITY=7\nSYSLOG_IDENTIFIER=boardpin\n"));
}

/* No journal socket (journald stopped): the text and its priority still reach the journal through
 * the stream, as "<3>…". */
static void without_the_socket_stderr_carries_the_priority(void **state)
{
        struct t *t = *state;
        char *err;

        unlink(t->sock_path);
        log_full(LOG_WARNING, "vaultwarden", NULL, NULL, "lock is corrupt, moved aside");
        log_info("vaultwarden: pinned");
        err = stderr_text(t);
        assert_string_equal(err, "<4>lock is corrupt, moved aside\n<6>vaultwarden: pinned\n");
        free(err);
}

/* stderr is no longer the stream systemd connected (redirected by a script): plain lines. */
static void a_stale_journal_stream_means_a_terminal(void **state)
{
        struct t *t = *state;
        char buf[4096];
        char *err;

        assert_int_equal(setenv("JOURNAL_STREAM", "1:1", 1), 0);
        log_error("bad config");
        log_info("not on a terminal without -v");
        assert_int_equal(next_datagram(t, buf, sizeof(buf)), -1);
        err = stderr_text(t);
        assert_string_equal(err, "boardpin: bad config\n");
        free(err);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(journal_entry_has_its_fields, setup, teardown),
                cmocka_unit_test_setup_teardown(fields_not_given_are_left_out, setup, teardown),
                cmocka_unit_test_setup_teardown(a_newline_is_framed_with_its_length, setup, teardown),
                cmocka_unit_test_setup_teardown(debug_only_with_verbose, setup, teardown),
                cmocka_unit_test_setup_teardown(without_the_socket_stderr_carries_the_priority, setup, teardown),
                cmocka_unit_test_setup_teardown(a_stale_journal_stream_means_a_terminal, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
