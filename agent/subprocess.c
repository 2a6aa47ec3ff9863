/* agent/subprocess.c: see subprocess.h. One pipe carries both output streams, read with poll() so
 * that the deadline holds while the program is silent. The end is the program's exit, seen by waitid(),
 * not end-of-file on the pipe: a child it left in the background can hold the pipe open for ever
 * (systemd's wait_for_terminate_and_check() waits for the same thing). */
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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "clock.h"
#include "stop.h"
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

/* True once pid has exited; it stays a zombie (WNOWAIT), so its pid, its group's id too, is no one else's
 * until reap(). */
static bool exited(pid_t pid)
{
        siginfo_t si = { 0 };

        return waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

/* A descriptor that polls readable when pid exits, or -1 where the kernel has none (before 5.3): then
 * the wait looks every SUBPROCESS_EXIT_POLL_MS. */
static int exit_fd(pid_t pid)
{
#ifdef SYS_pidfd_open
        return (int) syscall(SYS_pidfd_open, pid, 0);
#else
        (void) pid;
        return -1;
#endif
}

/* Read output while the program runs, until it exits or the deadline; true when the deadline passed
 * first. Output still in the pipe when it exits is read, but no more than a pipe holds: a background
 * child that keeps writing does not hold up the end. */
static bool drain(pid_t pid, int fd, int64_t deadline, struct line_buf *b)
{
        _cleanup_close_ int pfd = exit_fd(pid);
        bool open = true;

        for (;;) {
                struct pollfd p[2] = { { .fd = open ? fd : -1, .events = POLLIN }, { .fd = pfd, .events = POLLIN } };
                int64_t left = deadline - clock_now_ms(), wait;
                char chunk[4096];
                ssize_t n;

                if (exited(pid))
                        break;
                if (left <= 0 || stop_requested())
                        return true;
                wait = pfd >= 0 ? left : SUBPROCESS_EXIT_POLL_MS < left ? SUBPROCESS_EXIT_POLL_MS : left;
                if (poll(p, 2, wait > 60000 ? 60000 : (int) wait) < 0 && errno != EINTR)
                        return true;
                if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;
                n = read(fd, chunk, sizeof(chunk));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        open = false; /* every writer is gone; the exit is still to come */
                else
                        line_feed(b, chunk, (size_t) n);
        }
        for (size_t got = 0; open && got < 65536;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                char chunk[4096];
                ssize_t n;

                if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR)))
                        break;
                n = read(fd, chunk, sizeof(chunk));
                if (n <= 0)
                        break;
                line_feed(b, chunk, (size_t) n);
                got += (size_t) n;
        }
        return false;
}

static int reap(pid_t pid, bool timed_out, int *ret_status)
{
        int status;

        if (timed_out) {
                int64_t until = clock_now_ms() + SUBPROCESS_KILL_GRACE_MS;

                (void) kill(-pid, SIGTERM);
                while (!exited(pid) && clock_now_ms() < until)
                        clock_sleep_ms(20);
        }
        /* What it left behind in its group goes with it, also when it exited on its own. */
        (void) kill(-pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
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

        if (stop_requested())
                return bp_fail(err, -EINTR, "'%s' not started: boardpin is stopping", argv[0]);
        if (pipe2(fds, O_CLOEXEC) < 0)
                return bp_fail(err, -errno, "'%s': pipe: %s", argv[0], strerror(errno));
        rd = fds[0];
        wr = fds[1];
        r = start(argv, wr, &pid);
        if (r < 0)
                return bp_fail(err, r, "'%s' could not be started: %s", argv[0], strerror(-r));
        (void) close(steal_fd(&wr));
        timed_out = drain(pid, rd, clock_now_ms() + timeout_ms, &b);
        line_flush(&b);
        r = reap(pid, timed_out, &status);
        if (r < 0)
                return bp_fail(err, r, "'%s': wait: %s", argv[0], strerror(-r));
        if (timed_out && stop_requested())
                return bp_fail(err, -EINTR, "'%s' stopped: boardpin is stopping", argv[0]);
        if (timed_out)
                return bp_fail(err, -ETIMEDOUT, "'%s' did not finish within %lld ms and was stopped", argv[0],
                               (long long) timeout_ms);
        if (WIFSIGNALED(status))
                return bp_fail(err, -ECHILD, "'%s' died of signal %d (%s)", argv[0], WTERMSIG(status),
                               strsignal(WTERMSIG(status)));
        return WEXITSTATUS(status);
}
