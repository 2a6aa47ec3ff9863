/* agent/sd.c: see sd.h. */
#include "sd.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "cleanup.h"

#define SD_STATUS_MAX_BYTES 512

int bp_sd_notify_raw(const char *state)
{
        const char *e = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        socklen_t salen;
        size_t n;
        _cleanup_close_ int fd = -1;

        if (!e || !*e)
                return 0;
        n = strlen(e);
        /* A path, or '@' for the abstract namespace (systemd's own form); "vsock:" is for VMs. */
        if ((e[0] != '/' && e[0] != '@') || n >= sizeof(sa.sun_path))
                return -EAFNOSUPPORT;
        memcpy(sa.sun_path, e, n);
        if (e[0] == '@')
                sa.sun_path[0] = '\0';
        salen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + (e[0] == '/'));
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *) &sa, salen) < 0)
                return -errno;
        return 0;
}

bool bp_sd_booted(void)
{
        struct stat st;

        return lstat("/run/systemd/system/", &st) == 0 && S_ISDIR(st.st_mode);
}

int bp_sd_status(int ready, const char *fmt, ...)
{
        char text[SD_STATUS_MAX_BYTES], state[SD_STATUS_MAX_BYTES + 32];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        text[strcspn(text, "\n")] = '\0'; /* one line: a newline would start another variable */
        (void) snprintf(state, sizeof(state), "%sSTATUS=%s", ready ? "READY=1\n" : "", text);
        return bp_sd_notify_raw(state);
}
