/* tests/bench/rss.c: run a command and print its peak RSS in KiB and its CPU time (user + system) in ms.
 * Built static, so the figure is not raised by the launcher: Linux carries a process's RSS high-water mark
 * across exec(). */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        struct rusage ru;
        int status;
        pid_t pid;

        if (argc < 2)
                return 2;
        pid = fork();
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY);
                dup2(null, 1);
                dup2(null, 2);
                execvp(argv[1], argv + 1);
                _exit(127);
        }
        if (pid < 0 || wait4(pid, &status, 0, &ru) < 0)
                return 1;
        printf("%ld %lld\n", ru.ru_maxrss,
               ((long long) ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
                       ((long long) ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
