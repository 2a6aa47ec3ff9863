/* tests/unit/test-health.c: health checks against a real HTTP server on loopback (a thread of this test)
 * and real programs: 2xx passes, a service that comes up late passes, 5xx, 3xx and a closed port fail with
 * what they answered, a password in the URL is never shown; exec passes on status 0 only, as soon as the
 * program exits even when a child it left holds its output, and a program that hangs is killed at the
 * deadline. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "clock.h"

#include "health.h"
#include "helpers.h"

struct server {
        int fd;
        int port;
        const char *answers[4];         /* status lines in order; the last repeats */
        unsigned served;
        pthread_t thread;
};

static void *serve(void *p)
{
        struct server *s = p;

        for (;;) {
                int c = accept(s->fd, NULL, NULL);
                char req[2048], resp[256];
                unsigned i;

                if (c < 0)
                        return NULL;
                (void) !read(c, req, sizeof(req));
                i = s->served < 3 ? s->served : 3;
                while (i > 0 && !s->answers[i])
                        i--;
                (void) snprintf(resp, sizeof(resp), "HTTP/1.1 %s\r\nContent-Length: 2\r\nLocation: /x\r\n"
                                "Connection: close\r\n\r\nok", s->answers[i]);
                s->served++;    /* before the answer: the client may look as soon as it has it */
                (void) !write(c, resp, strlen(resp));
                close(c);
        }
}

static void server_start(struct server *s)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);

        s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(s->fd >= 0);
        assert_int_equal(bind(s->fd, (struct sockaddr *) &a, sizeof(a)), 0);
        assert_int_equal(listen(s->fd, 16), 0);
        assert_int_equal(getsockname(s->fd, (struct sockaddr *) &a, &len), 0);
        s->port = ntohs(a.sin_port);
        assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
        shutdown(s->fd, SHUT_RDWR);
        close(s->fd);
        pthread_join(s->thread, NULL);
}

static int check(struct server *s, int64_t timeout_ms, struct bp_err *err)
{
        char url[64];

        (void) snprintf(url, sizeof(url), "http://127.0.0.1:%d/alive", s->port);
        return health_check(url, timeout_ms, err);
}

static void http_ok_and_late(void **state)
{
        struct server ok = { .answers = { "200 OK" } }, late = { .answers = { "503 Busy", "503 Busy", "204 No Content" } };
        struct bp_err err = { 0 };

        (void) state;
        server_start(&ok);
        assert_int_equal(check(&ok, 5000, &err), 0);
        server_stop(&ok);       /* joined: what the thread counted is seen from here */
        assert_int_equal(ok.served, 1);
        server_start(&late);
        assert_int_equal(check(&late, 10000, &err), 0);
        server_stop(&late);
        assert_int_equal(late.served, 3);
}

static void http_failures(void **state)
{
        struct server bad = { .answers = { "500 Internal Server Error" } }, moved = { .answers = { "302 Found" } };
        struct bp_err err = { 0 };
        int port;

        (void) state;
        server_start(&bad);
        assert_int_equal(check(&bad, 3000, &err), -EHOSTDOWN);
        assert_non_null(strstr(err.msg, "HTTP 500"));
        server_stop(&bad);
        assert_true(bad.served >= 2);           /* tried again within the deadline */
        server_start(&moved);
        assert_int_equal(check(&moved, 600, &err), -EHOSTDOWN);
        assert_non_null(strstr(err.msg, "HTTP 302"));
        port = moved.port;
        server_stop(&moved);
        char url[64];
        (void) snprintf(url, sizeof(url), "http://127.0.0.1:%d/alive", port);
        assert_int_equal(health_check(url, 600, &err), -EHOSTDOWN);
        assert_non_null(strstr(err.msg, url));
        assert_null(strstr(err.msg, "HTTP"));
}

static void exec_checks(void **state)
{
        struct bp_err err = { 0 };

        (void) state;
        assert_int_equal(health_check("exec:/bin/true", 2000, &err), 0);
        assert_int_equal(health_check("exec:/bin/sh -c exit\t0", 2000, &err), 0);
        assert_int_equal(health_check("exec:/bin/false", 700, &err), -EHOSTDOWN);
        assert_non_null(strstr(err.msg, "exited with status 1"));
        assert_int_equal(health_check("exec:true", 700, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "absolute"));
        assert_int_equal(health_check("exec:/nonexistent/check", 700, &err), -ENOENT);
        assert_int_equal(health_check("ftp://x", 700, &err), -EINVAL);
}

static void http_userinfo_never_shown(void **state)
{
        struct server bad = { .answers = { "503 Service Unavailable" } };
        struct bp_err err = { 0 };
        char url[96];

        (void) state;
        server_start(&bad);
        (void) snprintf(url, sizeof(url), "http://admin:s3cret@127.0.0.1:%d/alive", bad.port);
        assert_int_equal(health_check(url, 600, &err), -EHOSTDOWN);
        assert_non_null(strstr(err.msg, "HTTP 503"));
        assert_non_null(strstr(err.msg, "127.0.0.1"));
        assert_null(strstr(err.msg, "s3cret"));
        assert_null(strstr(err.msg, "admin"));
        server_stop(&bad);
        /* No answer at all: libcurl's words, and still no password. */
        assert_int_equal(health_check(url, 600, &err), -EHOSTDOWN);
        assert_null(strstr(err.msg, "s3cret"));
        assert_null(strstr(err.msg, "admin"));
}

/* dir/name, an executable shell script of body. */
static void script(const char *dir, const char *name, const char *body, char *ret, size_t size)
{
        (void) snprintf(ret, size, "%s/%s", dir, name);
        put_file(dir, name, body, strlen(body));
        assert_int_equal(chmod(ret, 0755), 0);
}

/* pid in dir/name, written by a script. */
static pid_t pid_in(const char *dir, const char *name)
{
        char path[PATH_MAX];
        size_t len;
        char *s;
        pid_t pid;

        (void) snprintf(path, sizeof(path), "%s/%s", dir, name);
        s = slurp(path, &len);
        pid = (pid_t) atoi(s);
        free(s);
        assert_true(pid > 1);
        return pid;
}

/* Gone, or a zombie waiting for init to reap it: a bounded look, not a timing. */
static bool gone(pid_t pid)
{
        char path[64];

        (void) snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        for (int i = 0; i < 500; i++) {
                char st[256] = "";
                FILE *f = fopen(path, "re");

                if (!f)
                        return true;
                if (!fgets(st, sizeof(st), f))
                        st[0] = '\0';
                fclose(f);
                if (strstr(st, ") Z ") || strstr(st, ") X "))
                        return true;
                clock_sleep_ms(10);
        }
        return false;
}

static void exec_waits_for_the_exit(void **state)
{
        const char *dir = *state;
        char path[PATH_MAX], spec[PATH_MAX + 8], body[PATH_MAX + 128];
        struct bp_err err = { 0 };
        int64_t t0;
        pid_t bg;

        /* Exits 0 at once, leaving a child that holds its stdout and stderr for a minute. */
        (void) snprintf(body, sizeof(body), "#!/bin/sh\nsleep 60 &\necho $! > %s/bg.pid\necho started\nexit 0\n", dir);
        script(dir, "bg.sh", body, path, sizeof(path));
        (void) snprintf(spec, sizeof(spec), "exec:%s", path);
        t0 = clock_now_ms();
        assert_int_equal(health_check(spec, 20000, &err), 0);
        assert_true(clock_now_ms() - t0 < 3000);
        bg = pid_in(dir, "bg.pid");
        assert_true(gone(bg)); /* its process group went at the end */

        script(dir, "fail.sh", "#!/bin/sh\nsleep 60 &\nexit 1\n", path, sizeof(path));
        (void) snprintf(spec, sizeof(spec), "exec:%s", path);
        t0 = clock_now_ms();
        assert_int_equal(health_check(spec, 1500, &err), -EHOSTDOWN);
        assert_non_null(strstr(err.msg, "exited with status 1"));
        assert_true(clock_now_ms() - t0 < 4000);

        (void) snprintf(body, sizeof(body), "#!/bin/sh\necho $$ > %s/hang.pid\nsleep 60\n", dir);
        script(dir, "hang.sh", body, path, sizeof(path));
        (void) snprintf(spec, sizeof(spec), "exec:%s", path);
        t0 = clock_now_ms();
        assert_int_equal(health_check(spec, 1000, &err), -ETIMEDOUT);
        assert_non_null(strstr(err.msg, "did not finish within"));
        /* The deadline, and at most the grace between SIGTERM and SIGKILL after it. */
        assert_true(clock_now_ms() - t0 < 1000 + 2000 + 1000);
        assert_true(gone(pid_in(dir, "hang.pid")));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(http_ok_and_late),
                cmocka_unit_test(http_failures),
                cmocka_unit_test(http_userinfo_never_shown),
                cmocka_unit_test(exec_checks),
                cmocka_unit_test_setup_teardown(exec_waits_for_the_exit, scratch_setup, scratch_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
