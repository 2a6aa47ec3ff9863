/* agent/stop.c: see stop.h. */
#include "stop.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
        caught = sig;
}

int stop_catch(void)
{
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        (void) sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0; /* no SA_RESTART: poll(), waitpid() and nanosleep() return EINTR */
        if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
                return -errno;
        return 0;
}

bool stop_requested(void)
{
        return caught != 0;
}

int stop_signal(void)
{
        return caught;
}
