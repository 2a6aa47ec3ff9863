/* agent/units.c: see units.h. */
#include "units.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "cleanup.h"
#include "clock.h"
#include "dl.h"
#include "stop.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
/* systemd's own socket for root (systemctl's bus_connect_system_systemd): it needs no dbus-daemon, which a
 * minimal system may lack and which is not up early in the boot. */
#define SD_PRIVATE_ADDRESS "unix:path=/run/systemd/private"

/* A call that has no timeout of its own (LoadUnit, Properties.Get) gets sd-bus's default, written out. */
#define UNITS_CALL_TIMEOUT_MS INT64_C(25000)
#define JOB_RESULT_MAX_BYTES 32

/* The unit that runs `boardpin boot`. Consumers are ordered After= it, and while it starts it waits for
 * state_dir's lock, which the run restarting a consumer holds: the restart job would wait for the boot, and
 * the boot for the run, until the boot's wait runs out. How often a waiting job is looked at for that. */
#define UNITS_BOOT_UNIT "boardpin.service"
#define UNITS_ORDER_CHECK_MS INT64_C(1000)

struct bp_units {
        sd_bus *bus;
        bool direct; /* systemd's private socket: its messages carry no sender name */
};

/* libsystemd's own cleanup helpers (sd-bus.h) would call it by its linked names; these go through dl.h. */
static void bus_error_freep(sd_bus_error *e)
{
        sd_bus_error_free(e);
}

static void bus_message_unrefp(sd_bus_message **m)
{
        if (*m)
                (void) sd_bus_message_unref(*m);
}

static void bus_slot_unrefp(sd_bus_slot **s)
{
        if (*s)
                (void) sd_bus_slot_unref(*s);
}

/* What a bus error says to a person: systemd's message ("Unit x.service not found."), else its name. */
static const char *bus_text(const sd_bus_error *e, int r)
{
        if (e->message && *e->message)
                return e->message;
        if (e->name && *e->name)
                return e->name;
        return strerror(-r);
}

static uint64_t usec_of(int64_t ms)
{
        return ms < 1 ? 1 : (uint64_t) ms * 1000;
}

/* The private socket, for root: 0 and the bus, or a negative errno (no such socket: not booted with systemd). */
static int open_private(sd_bus **ret)
{
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, SD_PRIVATE_ADDRESS);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                (void) sd_bus_flush_close_unref(bus);
                return r;
        }
        *ret = bus;
        return 0;
}

int units_open(struct bp_units **ret, struct bp_err *err)
{
        struct bp_units *u;
        sd_bus *bus = NULL;
        bool direct = false;
        int r;

        if (!dl_systemd()) {
                const char *e = dlerror();

                return bp_fail(err, -ENOENT, "cannot load libsystemd.so.0 (install libsystemd0): %s",
                               e ? e : "a symbol is missing");
        }
        /* Root talks to systemd directly, as systemctl does; anyone else, or a caller that names a bus in
         * $DBUS_SYSTEM_BUS_ADDRESS, goes through the system bus. */
        if (geteuid() == 0 && !getenv("DBUS_SYSTEM_BUS_ADDRESS"))
                direct = open_private(&bus) >= 0;
        if (!direct) {
                r = sd_bus_open_system(&bus);
                if (r < 0) /* -ENOENT: no socket, so no bus (not booted with systemd, or no dbus) */
                        return bp_fail(err, r, "cannot connect to the system bus: %s", strerror(-r));
        }
        u = calloc(1, sizeof(*u));
        if (!u) {
                (void) sd_bus_flush_close_unref(bus);
                return bp_fail(err, -ENOMEM, "out of memory");
        }
        u->bus = bus;
        u->direct = direct;
        *ret = u;
        return 0;
}

void units_close(struct bp_units *u)
{
        if (!u)
                return;
        (void) sd_bus_flush_close_unref(u->bus);
        free(u);
}

/* A method call with zero, one or two string arguments (b needs a), waiting up to timeout_ms. */
static int call(struct bp_units *u, const char *path, const char *iface, const char *member, const char *a,
                const char *b, int64_t timeout_ms, sd_bus_error *error, sd_bus_message **ret_reply)
{
        _cleanup_(bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(u->bus, &m, SD_DEST, path, iface, member);
        if (r >= 0 && b)
                r = sd_bus_message_append(m, "ss", a, b);
        else if (r >= 0 && a)
                r = sd_bus_message_append(m, "s", a);
        if (r < 0)
                return r;
        return sd_bus_call(u->bus, m, usec_of(timeout_ms), error, ret_reply);
}

bool units_job_is(const char *want_path, const char *signal_path)
{
        return want_path && signal_path && strcmp(want_path, signal_path) == 0;
}

int units_job_result(const char *unit, const char *verb, const char *result, struct bp_err *err)
{
        if (strcmp(result, "done") == 0)
                return 0;
        if (strcmp(result, "failed") == 0 || strcmp(result, "timeout") == 0 || strcmp(result, "dependency") == 0)
                return bp_fail(err, -EIO, "unit %s: %s job ended '%s' (journalctl -u %s says why)", unit, verb,
                               result, unit);
        return bp_fail(err, -EIO, "unit %s: %s job ended '%s'", unit, verb, result);
}

struct job_wait {
        const char *path; /* the job RestartUnit returned; NULL until its reply is read */
        char result[JOB_RESULT_MAX_BYTES];
        bool ended;
        int r; /* a JobRemoved that could not be read */
};

/* JobRemoved(u id, o job, s unit, s result). sd_bus_call() queues what arrives before its reply and
 * dispatches nothing, so every signal reaches this callback after the job's path is known. */
static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        struct job_wait *w = userdata;
        const char *path, *unit, *result;
        uint32_t id;
        int r;

        (void) ret_error;
        r = sd_bus_message_read(m, "uoss", &id, &path, &unit, &result);
        if (r < 0) {
                w->r = r;
                return 0;
        }
        if (!units_job_is(w->path, path))
                return 0;
        (void) snprintf(w->result, sizeof(w->result), "%s", result);
        w->ended = true;
        return 0;
}

/* The job's State ("waiting", "running"); "" when it cannot be read (it has ended). */
static void job_state(struct bp_units *u, const char *job, char state[static UNITS_STATE_MAX_BYTES])
{
        _cleanup_(bus_error_freep) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *s;

        state[0] = '\0';
        if (call(u, job, "org.freedesktop.DBus.Properties", "Get", "org.freedesktop.systemd1.Job", "State",
                 UNITS_CALL_TIMEOUT_MS, &error, &reply) < 0 ||
            sd_bus_message_read(reply, "v", "s", &s) < 0 || strlen(s) >= UNITS_STATE_MAX_BYTES)
                return;
        memcpy(state, s, strlen(s) + 1);
}

/* The job has not started, and the boot unit is starting: the boot waits for this run's lock, the job for
 * the boot. */
static bool waits_for_boot(struct bp_units *u, const char *job)
{
        char state[UNITS_STATE_MAX_BYTES];
        struct bp_err ignored = { { 0 } };

        job_state(u, job, state);
        if (strcmp(state, "waiting") != 0)
                return false;
        return units_active_state(u, UNITS_BOOT_UNIT, state, &ignored) == 0 && strcmp(state, "activating") == 0;
}

/* RestartUnit(unit, mode): the job's path, owned, into *ret. */
static int queue_restart(struct bp_units *u, const char *unit, const char *mode, int64_t timeout_ms, char **ret,
                         struct bp_err *err)
{
        _cleanup_(bus_error_freep) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *p;
        char *path;
        int r;

        r = call(u, SD_PATH, SD_MANAGER, "RestartUnit", unit, mode, timeout_ms, &error, &reply);
        if (r < 0)
                return bp_fail(err, r, "unit %s: cannot restart: %s", unit, bus_text(&error, r));
        r = sd_bus_message_read(reply, "o", &p);
        if (r < 0)
                return bp_fail(err, r, "unit %s: cannot read the restart job: %s", unit, strerror(-r));
        path = strdup(p);
        if (!path)
                return bp_fail(err, -ENOMEM, "out of memory");
        free(*ret);
        *ret = path;
        return 0;
}

int units_restart(struct bp_units *u, const char *unit, int64_t timeout_ms, struct bp_err *err)
{
        _cleanup_(bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_free_ char *path = NULL;
        int64_t deadline = clock_now_ms() + timeout_ms, look = clock_now_ms() + UNITS_ORDER_CHECK_MS;
        struct job_wait w = { 0 };
        bool freed = false;
        int r;

        /* The match comes first: a job that ends at once sends JobRemoved right after the reply. systemd sends
         * a job's JobRemoved to the client that queued it without Subscribe() (it tracks the job's requester,
         * src/core/dbus-job.c), as systemctl's own wait for jobs relies on; on the private socket it sends
         * every signal. A direct connection's messages have no sender, so the match names none there. */
        r = sd_bus_match_signal(u->bus, &slot, u->direct ? NULL : SD_DEST, SD_PATH, SD_MANAGER, "JobRemoved",
                                on_job_removed, &w);
        if (r < 0)
                return bp_fail(err, r, "unit %s: cannot watch for its restart job: %s", unit, strerror(-r));
        r = queue_restart(u, unit, "replace", deadline - clock_now_ms(), &path, err);
        if (r < 0)
                return r;
        w.path = path;
        for (;;) {
                int64_t left, wait;

                r = sd_bus_process(u->bus, NULL);
                if (r < 0)
                        return bp_fail(err, r, "unit %s: lost the system bus while restarting: %s", unit,
                                       strerror(-r));
                if (w.r < 0)
                        return bp_fail(err, w.r, "unit %s: cannot read a job's end: %s", unit, strerror(-w.r));
                if (w.ended) {
                        r = units_job_result(unit, "restart", w.result, err);
                        return r < 0 ? r : freed ? UNITS_RESTART_UNORDERED : 0;
                }
                if (r > 0)
                        continue;
                /* Queued again without its order, the job merges into the waiting one, which then runs
                 * (systemd's own test of this: TEST-03-JOBS). What it requires was pulled in by the first. */
                if (!freed && clock_now_ms() >= look) {
                        look = clock_now_ms() + UNITS_ORDER_CHECK_MS;
                        if (waits_for_boot(u, path)) {
                                r = queue_restart(u, unit, "ignore-dependencies", deadline - clock_now_ms(), &path,
                                                  err);
                                if (r < 0)
                                        return r;
                                w.path = path;
                                freed = true;
                                continue;
                        }
                }
                left = deadline - clock_now_ms();
                if (left <= 0)
                        return bp_fail(err, -ETIMEDOUT, "unit %s: restart job %s still running after %lld ms", unit,
                                       path, (long long) timeout_ms);
                if (stop_requested())
                        return bp_fail(err, -EINTR, "unit %s: boardpin is stopping; restart job %s left to systemd",
                                       unit, path);
                wait = freed ? left : look - clock_now_ms();
                r = sd_bus_wait(u->bus, usec_of(wait < left ? wait : left));
                if (r < 0 && r != -EINTR)
                        return bp_fail(err, r, "unit %s: lost the system bus while restarting: %s", unit,
                                       strerror(-r));
        }
}

int units_active_state(struct bp_units *u, const char *unit, char state[static UNITS_STATE_MAX_BYTES],
                       struct bp_err *err)
{
        _cleanup_(bus_error_freep) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(bus_message_unrefp) sd_bus_message *unit_reply = NULL;
        _cleanup_(bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path, *s;
        int r;

        /* LoadUnit rather than GetUnit: GetUnit fails for a unit systemd has unloaded, inactive ones among them. */
        r = call(u, SD_PATH, SD_MANAGER, "LoadUnit", unit, NULL, UNITS_CALL_TIMEOUT_MS, &error, &unit_reply);
        if (r < 0)
                return bp_fail(err, r, "unit %s: cannot load: %s", unit, bus_text(&error, r));
        r = sd_bus_message_read(unit_reply, "o", &path);
        if (r < 0)
                return bp_fail(err, r, "unit %s: cannot read its object path: %s", unit, strerror(-r));
        r = call(u, path, "org.freedesktop.DBus.Properties", "Get", "org.freedesktop.systemd1.Unit", "ActiveState",
                 UNITS_CALL_TIMEOUT_MS, &error, &reply);
        if (r < 0)
                return bp_fail(err, r, "unit %s: cannot read ActiveState: %s", unit, bus_text(&error, r));
        r = sd_bus_message_read(reply, "v", "s", &s);
        if (r < 0)
                return bp_fail(err, r, "unit %s: cannot read ActiveState: %s", unit, strerror(-r));
        if (strlen(s) >= UNITS_STATE_MAX_BYTES)
                return bp_fail(err, -EBADMSG, "unit %s: ActiveState of %zu bytes", unit, strlen(s));
        memcpy(state, s, strlen(s) + 1);
        return 0;
}

int units_daemon_reload(struct bp_units *u, int64_t timeout_ms, struct bp_err *err)
{
        _cleanup_(bus_error_freep) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = call(u, SD_PATH, SD_MANAGER, "Reload", NULL, NULL, timeout_ms, &error, &reply);
        if (r < 0)
                return bp_fail(err, r, "cannot reload systemd: %s", bus_text(&error, r));
        return 0;
}
