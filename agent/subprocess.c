/* agent/subprocess.c: see subprocess.h. One pipe carries both output streams, read with poll() so
 * that the deadline holds while the program is silent; the pipe's read end is close-on-exec, so the
 * program holds only the write end and end-of-file means every writer (it and any child it left) is
 * gone. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "clock.h"
#include "subprocess.h"

extern char **environ;

struct line_buf {
        char text[SUBPROCESS_LINE_MAX_BYTES + 1];
        size_t n;
        subprocess_line_fn on_line;
        void *userdata;
};

static void line_flush(struct line_buf *b)
{
        if (b->n == 0)
                return;
        b->text[b->n] = '\0';
        for (size_t i = 0; i < b->n; i++)      /* a program's output must not steer the terminal or journal */
                if ((unsigned char) b->text[i] < 0x20 || b->text[i] == 0x7f)
                        b->text[i] = b->text[i] == '\t' ? ' ' : '?';
        if (b->on_line)
                b->on_line(b->text, b->userdata);
        b->n = 0;
}

static void line_feed(struct line_buf *b, const char *p, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (p[i] == '\n' || p[i] == '\r') {
                        line_flush(b);
                        continue;
                }
                if (b->n == SUBPROCESS_LINE_MAX_BYTES)
                        line_flush(b);
                b->text[b->n++] = p[i];
        }
}

/* argv[0] as a path to run: itself when it has a '/', else the first executable of that name in $PATH
 * (/usr/bin:/bin without one). Found here rather than by posix_spawnp(): where the vfork of posix_spawn is
 * a fork (qemu-user), an exec that fails shows up as exit status 127, and a missing program must be a
 * failure to start, not a program that failed. */
static int find_program(const char *name, char *buf, size_t size)
{
        const char *path = getenv("PATH");

        if (strchr(name, '/')) {
                if (access(name, X_OK) < 0)
                        return -errno;
                (void) snprintf(buf, size, "%s", name);
                return 0;
        }
        if (!path || !*path)
                path = "/usr/bin:/bin";
        for (const char *p = path; *p;) {
                size_t n = strcspn(p, ":");

                if (n > 0 && (size_t) snprintf(buf, size, "%.*s/%s", (int) n, p, name) < size &&
                    access(buf, X_OK) == 0)
                        return 0;
                p += n + (p[n] == ':');
        }
        return -ENOENT;
}

static int start(char *const argv[], int out_fd, pid_t *ret_pid)
{
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, dfl;
        int r;

        if (posix_spawn_file_actions_init(&fa) != 0)
                return -ENOMEM;
        if (posix_spawnattr_init(&attr) != 0) {
                posix_spawn_file_actions_destroy(&fa);
                return -ENOMEM;
        }
        /* The program starts with default signals: boardpin ignores SIGPIPE, a pull must not inherit that. */
        sigemptyset(&none);
        sigemptyset(&dfl);
        sigaddset(&dfl, SIGPIPE);
        r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
        if (r == 0)
                r = posix_spawnattr_setsigmask(&attr, &none);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(&attr, &dfl);
        if (r == 0)     /* a group of its own, so a deadline stops whatever it started too */
                r = posix_spawnattr_setpgroup(&attr, 0);
        if (r == 0)
                r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                                            POSIX_SPAWN_SETPGROUP);
        if (r == 0) {
                char program[PATH_MAX];
                int f = find_program(argv[0], program, sizeof(program));

                r = f < 0 ? -f : posix_spawn(ret_pid, program, &fa, &attr, argv, environ);
        }
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        return -r;
}

/* Read output until end of file or the deadline; true when the deadline passed first. */
static bool drain(int fd, int64_t deadline, struct line_buf *b)
{
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int64_t left = deadline - clock_now_ms();
                char chunk[4096];
                ssize_t n;

                if (left <= 0)
                        return true;
                if (poll(&p, 1, left > 60000 ? 60000 : (int) left) < 0 && errno != EINTR)
                        return true;
                if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;
                n = read(fd, chunk, sizeof(chunk));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                line_feed(b, chunk, (size_t) n);
        }
}

static int reap(pid_t pid, bool timed_out, int *ret_status)
{
        int status;

        if (timed_out) {
                int64_t until = clock_now_ms() + SUBPROCESS_KILL_GRACE_MS;

                (void) kill(-pid, SIGTERM);
                while (waitpid(pid, &status, WNOHANG) == 0) {
                        if (clock_now_ms() >= until)
                                break;
                        clock_sleep_ms(20);
                }
                (void) kill(-pid, SIGKILL);     /* what it left behind in its group */
        }
        while (waitpid(pid, &status, 0) < 0) {
                if (errno == ECHILD)
                        break;          /* reaped in the loop above */
                if (errno != EINTR)
                        return -errno;
        }
        *ret_status = status;
        return 0;
}

int subprocess_run(char *const argv[], int64_t timeout_ms, subprocess_line_fn on_line, void *userdata, struct bp_err *err)
{
        _cleanup_close_ int rd = -1, wr = -1;
        struct line_buf b = { .on_line = on_line, .userdata = userdata };
        int fds[2], status = 0, r;
        bool timed_out;
        pid_t pid;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return bp_fail(err, -errno, "'%s': pipe: %s", argv[0], strerror(errno));
        rd = fds[0];
        wr = fds[1];
        r = start(argv, wr, &pid);
        if (r < 0)
                return bp_fail(err, r, "'%s' could not be started: %s", argv[0], strerror(-r));
        (void) close(steal_fd(&wr));
        timed_out = drain(rd, clock_now_ms() + timeout_ms, &b);
        line_flush(&b);
        r = reap(pid, timed_out, &status);
        if (r < 0)
                return bp_fail(err, r, "'%s': wait: %s", argv[0], strerror(-r));
        if (timed_out)
                return bp_fail(err, -ETIMEDOUT, "'%s' did not finish within %lld ms and was stopped", argv[0],
                               (long long) timeout_ms);
        if (WIFSIGNALED(status))
                return bp_fail(err, -ECHILD, "'%s' died of signal %d (%s)", argv[0], WTERMSIG(status),
                               strsignal(WTERMSIG(status)));
        return WEXITSTATUS(status);
}
