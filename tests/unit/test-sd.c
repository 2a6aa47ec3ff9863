/* tests/unit/test-sd.c: agent/sd.c's datagrams to $NOTIFY_SOCKET, at a socket this test binds: a path,
 * and the abstract namespace that systemd itself uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <sys/socket.h>
#include <sys/un.h>

#include "helpers.h"
#include "sd.h"

static int bind_dgram(const char *name, struct sockaddr_un *sa, socklen_t *len)
{
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        assert_true(fd >= 0);
        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        memcpy(sa->sun_path, name, strlen(name));
        if (name[0] == '@')
                sa->sun_path[0] = '\0';
        *len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(name) + (name[0] == '/'));
        assert_int_equal(bind(fd, (struct sockaddr *) sa, *len), 0);
        return fd;
}

static void expect(int fd, const char *want)
{
        char buf[1024];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);

        assert_int_equal(n, (ssize_t) strlen(want));
        assert_memory_equal(buf, want, strlen(want));
}

static void status_to_a_path(void **state)
{
        char dir[] = "/tmp/test-sd-XXXXXX", path[64];
        struct sockaddr_un sa;
        socklen_t len;
        int fd;

        (void) state;
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/notify", dir);
        fd = bind_dgram(path, &sa, &len);
        assert_int_equal(setenv("NOTIFY_SOCKET", path, 1), 0);
        assert_int_equal(bp_sd_status(0, "vaultwarden: waiting for the network, %d s left", 88), 0);
        expect(fd, "STATUS=vaultwarden: waiting for the network, 88 s left");
        assert_int_equal(bp_sd_status(1, "3 services pinned\nREADY=0"), 0); /* one line only */
        expect(fd, "READY=1\nSTATUS=3 services pinned");
        close(fd);
        unlink(path);
        rmdir(dir);
        unsetenv("NOTIFY_SOCKET");
}

static void status_to_the_abstract_namespace(void **state)
{
        char name[64];
        struct sockaddr_un sa;
        socklen_t len;
        int fd;

        (void) state;
        snprintf(name, sizeof(name), "@boardpin-test-sd-%ld", (long) getpid());
        fd = bind_dgram(name, &sa, &len);
        assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
        assert_int_equal(bp_sd_status(0, "resolving"), 0);
        expect(fd, "STATUS=resolving");
        close(fd);
        unsetenv("NOTIFY_SOCKET");
}

static void without_notify_socket_nothing_is_sent(void **state)
{
        (void) state;
        unsetenv("NOTIFY_SOCKET");
        assert_int_equal(bp_sd_status(1, "done"), 0);
        assert_int_equal(setenv("NOTIFY_SOCKET", "vsock:2:1234", 1), 0);
        assert_int_equal(bp_sd_status(0, "x"), -EAFNOSUPPORT);
        assert_int_equal(setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1), 0);
        assert_int_equal(bp_sd_status(0, "x"), -ENOENT);
        unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(status_to_a_path),
                cmocka_unit_test(status_to_the_abstract_namespace),
                cmocka_unit_test(without_notify_socket_nothing_is_sent),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
