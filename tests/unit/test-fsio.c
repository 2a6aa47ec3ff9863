/* tests/unit/test-fsio.c: atomic writes under random temp names, directories others could write, the
 * sweep of a killed run's temp files, the state lock (read-only, bounded wait) and reads that must not
 * block on a FIFO, and the record of what was written, which purge reads. Runs in a mkdtemp() directory; the ownership cases need root (make check runs so). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "fsio.h"
#include "helpers.h"

static size_t count_entries(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
        closedir(d);
        return n;
}

/* A file named name in dir, as a killed run or another user would leave it. */
static void plant(const char *dir, const char *name)
{
        int dfd = open(dir, O_RDONLY | O_DIRECTORY), fd;

        assert_true(dfd >= 0);
        fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "half", 4), 4);
        close(fd);
        close(dfd);
}

static char *read_text(const char *dir, const char *name)
{
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        return slurp(path, NULL);
}

static void write_replaces_whole(void **state)
{
        const char *dir = *state;
        char path[PATH_MAX];
        struct stat st;
        char *t;

        assert_int_equal(fsio_write_atomic(dir, "a.env", "old\n", 4, 0644, NULL), 0);
        assert_int_equal(fsio_write_atomic(dir, "a.env", "new\n", 4, 0640, NULL), 0);
        t = read_text(dir, "a.env");
        assert_string_equal(t, "new\n");
        free(t);
        snprintf(path, sizeof(path), "%s/a.env", dir);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);
        assert_int_equal(count_entries(dir), 1); /* no temp file left */
        /* unchanged content: nothing is written, so a read-only directory is fine */
        assert_int_equal(fsio_update(dir, "a.env", "new\n", 4, 0640, NULL), 0);
}

/* The fixed ".a.env.tmp" of earlier versions, opened O_TRUNC, wrote through a link another user planted. */
static void planted_temp_file_is_not_written(void **state)
{
        const char *dir = *state;
        char victim[PATH_MAX], planted[PATH_MAX];
        char *t;

        snprintf(victim, sizeof(victim), "%s/victim", dir);
        put_file(dir, "victim", "precious\n", 9);
        snprintf(planted, sizeof(planted), "%s/.a.env.tmp", dir);
        assert_int_equal(link(victim, planted), 0);
        assert_int_equal(fsio_write_atomic(dir, "a.env", "mine\n", 5, 0644, NULL), 0);
        t = slurp(victim, NULL);
        assert_string_equal(t, "precious\n");
        free(t);
        t = read_text(dir, "a.env");
        assert_string_equal(t, "mine\n");
        free(t);
        snprintf(planted, sizeof(planted), "%s/.b.env.tmp", dir);
        assert_int_equal(symlink(victim, planted), 0);
        assert_int_equal(fsio_write_atomic(dir, "b.env", "mine\n", 5, 0644, NULL), 0);
        t = slurp(victim, NULL);
        assert_string_equal(t, "precious\n");
        free(t);
}

static void unsafe_dirs_refused(void **state)
{
        const char *dir = *state;
        struct bp_err err = { 0 };
        assert_non_null(dir);
        assert_int_equal(fsio_check_dir(dir, &err), 0);
        assert_int_equal(chmod(dir, 01777), 0);
        assert_int_equal(fsio_write_atomic(dir, "a.env", "x\n", 2, 0644, &err), -EPERM);
        assert_non_null(strstr(err.msg, dir));
        assert_non_null(strstr(err.msg, "' is writable by others (mode 1777): refusing it"));
        assert_int_equal(fsio_lock_dir(dir, 0, &err), -EPERM);
        assert_int_equal(chmod(dir, 0775), 0);
        assert_int_equal(fsio_check_dir(dir, &err), -EPERM);
        assert_non_null(strstr(err.msg, "writable by its group (mode 0775)"));
        assert_int_equal(chmod(dir, 0755), 0);
        assert_int_equal(count_entries(dir), 0);
        if (geteuid() != 0)
                return;
        assert_int_equal(chown(dir, 65534, 65534), 0);
        assert_int_equal(fsio_check_dir(dir, &err), -EPERM);
        assert_non_null(strstr(err.msg, dir));
        assert_non_null(strstr(err.msg, "' is owned by uid 65534, not by uid 0 that "
                                        "boardpin runs as: refusing it"));
        assert_int_equal(fsio_write_atomic(dir, "a.env", "x\n", 2, 0644, &err), -EPERM);
        assert_int_equal(chown(dir, 0, 0), 0);
}

static void sweep_removes_only_temp_files(void **state)
{
        const char *dir = *state;
        char path[PATH_MAX];

        plant(dir, FSIO_TMP_PREFIX "0123456789abcdef.a.env");
        plant(dir, ".lock.json.tmp");
        plant(dir, ".web.env.tmp");
        plant(dir, "web.env");
        plant(dir, ".web.env");
        plant(dir, "notes.tmp");
        plant(dir, "lock.json");
        snprintf(path, sizeof(path), "%s/" FSIO_TMP_PREFIX "link", dir);
        assert_int_equal(symlink("lock.json", path), 0); /* removed, not followed */
        snprintf(path, sizeof(path), "%s/" FSIO_TMP_PREFIX "dir", dir);
        assert_int_equal(mkdir(path, 0755), 0); /* not a file: left alone */
        assert_int_equal(fsio_sweep(dir), 4);
        assert_int_equal(count_entries(dir), 5);
        free(read_text(dir, "lock.json"));
        assert_int_equal(fsio_sweep(dir), 0);
}

/* The lock is the directory itself: no file is created, so a read-only state_dir still locks. */
static void lock_creates_nothing(void **state)
{
        const char *dir = *state;
        char sub[PATH_MAX];
        int fd;

        snprintf(sub, sizeof(sub), "%s/state", dir);
        fd = fsio_lock_dir(sub, 0, NULL);
        assert_true(fd >= 0);
        assert_int_equal(count_entries(sub), 0);
        close(fd);
        /* a leftover temp file is swept once the lock is held */
        plant(sub, FSIO_TMP_PREFIX "0123456789abcdef.lock.json");
        fd = fsio_lock_dir(sub, 0, NULL);
        assert_true(fd >= 0);
        assert_int_equal(count_entries(sub), 0);
        close(fd);
}

/* Another process holds the lock: no wait fails at once, a wait of 100 ms gives up after about 100 ms, and
 * a wait of 10 s gets the lock once the holder lets go. The holder is driven by pipes, not by sleeps, so
 * a slow machine (qemu-user, a busy CI) cannot reorder the steps. */
static void lock_waits_a_bounded_time(void **state)
{
        const char *dir = *state;
        struct bp_err err = { 0 };
        int held[2], go[2], status, fd;
        int64_t t0, took;
        pid_t pid;
        char c;

        assert_int_equal(pipe(held), 0);
        assert_int_equal(pipe(go), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int lock = fsio_lock_dir(dir, 0, NULL);

                (void) !write(held[1], lock >= 0 ? "y" : "n", 1);
                (void) !read(go[0], &c, 1);
                clock_sleep_ms(200);                    /* the parent is waiting by now */
                _exit(lock >= 0 ? 0 : 1);
        }
        assert_int_equal(read(held[0], &c, 1), 1);
        assert_int_equal(c, 'y');
        assert_int_equal(fsio_lock_dir(dir, 0, &err), -EBUSY);
        assert_non_null(strstr(err.msg, "another boardpin holds the lock"));
        t0 = clock_now_ms();
        assert_int_equal(fsio_lock_dir(dir, 100, &err), -EBUSY);
        took = clock_now_ms() - t0;
        assert_true(took >= 100 && took < 5000);
        assert_non_null(strstr(err.msg, "another boardpin still holds the lock after 100 ms"));
        assert_int_equal(write(go[1], "g", 1), 1);
        t0 = clock_now_ms();
        fd = fsio_lock_dir(dir, 10000, &err);
        if (fd < 0)
                fail_msg("%s", err.msg);
        assert_true(clock_now_ms() - t0 < 10000);
        close(fd);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(held[0]);
        close(held[1]);
        close(go[0]);
        close(go[1]);
}

/* Any failure but contention is named by its errno, not blamed on another boardpin. */
static void lock_names_other_errors(void **state)
{
        const char *dir = *state;
        struct bp_err err = { 0 };
        char path[PATH_MAX];

        put_file(dir, "file", "x", 1);
        snprintf(path, sizeof(path), "%s/file", dir);
        assert_int_equal(fsio_lock_dir(path, 0, &err), -ENOTDIR);
        assert_non_null(strstr(err.msg, strerror(ENOTDIR)));
        assert_null(strstr(err.msg, "another boardpin"));
}

/* A FIFO used to block open() until a writer came; a device is no file to trust either. */
static void read_refuses_what_is_not_a_file(void **state)
{
        const char *dir = *state;
        struct bp_err err = { 0 };
        char path[PATH_MAX], *text = NULL, want[PATH_MAX + 64];
        size_t len;

        snprintf(path, sizeof(path), "%s/lock.json", dir);
        assert_int_equal(fsio_read(path, 100, &text, &len, &err), -ENOENT);
        snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
        assert_string_equal(err.msg, want);
        assert_int_equal(mkfifo(path, 0600), 0);
        assert_int_equal(fsio_read(path, 100, &text, &len, &err), -EINVAL);
        snprintf(want, sizeof(want), "%s: not a regular file", path);
        assert_string_equal(err.msg, want);
        assert_int_equal(fsio_read("/dev/zero", 100, &text, &len, &err), -EINVAL);
        assert_int_equal(fsio_read(dir, 100, &text, &len, &err), -EINVAL);
        assert_null(text);
        assert_int_equal(unlink(path), 0);
        put_file(dir, "lock.json", "0123456789", 10);
        assert_int_equal(fsio_read(path, 9, &text, &len, &err), -EFBIG);
        assert_int_equal(fsio_read(path, 10, &text, &len, &err), 0);
        assert_int_equal(len, 10);
        free(text);
}

/* The record (what purge removes) in dir/pkg, as the package's /var/lib/boardpin; its text. */
static char *record_text(const char *dir)
{
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/pkg/written-files", dir);
        return slurp(path, NULL);
}

static void record_on(const char *dir)
{
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/pkg", dir);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/pkg/written-files", dir);
        assert_int_equal(fsio_set_record(path, NULL), 0);
}

/* Every file and directory made is recorded once, by its absolute path; what was there before is not. */
static void record_lists_what_was_made(void **state)
{
        const char *dir = *state;
        char want[4 * PATH_MAX], state_dir[256], env_dir[256];
        struct bp_err err = { 0 };
        char *t;

        record_on(dir);
        snprintf(state_dir, sizeof(state_dir), "%s/srv", dir);
        assert_int_equal(mkdir(state_dir, 0755), 0); /* there before: not boardpin's */
        snprintf(state_dir, sizeof(state_dir), "%s/srv/state", dir);
        snprintf(env_dir, sizeof(env_dir), "%s/run/bp/", dir);
        assert_int_equal(fsio_mkdir_p(state_dir, 0755, &err), 0);
        assert_int_equal(fsio_mkdir_p(env_dir, 0755, &err), 0);
        assert_int_equal(fsio_write_atomic(state_dir, "lock.json", "{}\n", 3, 0644, &err), 0);
        assert_int_equal(fsio_write_atomic(state_dir, "lock.json", "{ }\n", 4, 0644, &err), 0);
        assert_int_equal(fsio_update(env_dir, "web.env", "IMAGE=x\n", 8, 0644, &err), 0);
        assert_int_equal(fsio_update(env_dir, "web.env", "IMAGE=x\n", 8, 0644, &err), 0);
        assert_int_equal(fsio_rename(state_dir, "lock.json", "lock.json.corrupt-1", &err), 0);
        assert_int_equal(fsio_mkdir_p(state_dir, 0755, &err), 0);
        snprintf(want, sizeof(want),
                 "%s/srv/state/\n%s/run/\n%s/run/bp/\n%s/srv/state/lock.json\n"
                 "%s/run/bp/web.env\n%s/srv/state/lock.json.corrupt-1\n",
                 dir, dir, dir, dir, dir, dir);
        t = record_text(dir);
        assert_string_equal(t, want);
        free(t);

        /* A new process reads the record back and adds nothing it holds already. */
        snprintf(want, sizeof(want), "%s/pkg/written-files", dir);
        assert_int_equal(fsio_set_record(want, NULL), 0);
        assert_int_equal(fsio_write_atomic(state_dir, "lock.json", "{}\n", 3, 0644, &err), 0);
        assert_int_equal(fsio_write_atomic(env_dir, "images.env", "A=b\n", 4, 0644, &err), 0);
        t = record_text(dir);
        snprintf(want, sizeof(want), "%s/run/bp/web.env\n%s/srv/state/lock.json.corrupt-1\n%s/run/bp/images.env\n",
                 dir, dir, dir);
        assert_non_null(strstr(t, want));
        assert_int_equal(strlen(strstr(t, want)), strlen(want));
        free(t);

        /* A file an older boardpin wrote, found unchanged: recorded, not rewritten. */
        put_file(state_dir, "challenges.json", "{}\n", 3);
        assert_int_equal(fsio_update(state_dir, "challenges.json", "{}\n", 3, 0644, &err), 0);
        t = record_text(dir);
        snprintf(want, sizeof(want), "%s/run/bp/images.env\n%s/srv/state/challenges.json\n", dir, dir);
        assert_non_null(strstr(t, want));
        assert_int_equal(strlen(strstr(t, want)), strlen(want));
        free(t);
        assert_int_equal(fsio_set_record(NULL, NULL), 0);
}

/* The path is on the record before the file is in place: a write that fails still leaves it recorded,
 * never the other way round. */
static void record_comes_first(void **state)
{
        const char *dir = *state;
        char want[PATH_MAX];
        struct bp_err err = { 0 };
        char *t;

        record_on(dir);
        assert_int_equal(chmod(dir, 0775), 0);
        assert_int_equal(fsio_write_atomic(dir, "a.env", "x\n", 2, 0644, &err), -EPERM);
        assert_int_equal(chmod(dir, 0755), 0);
        snprintf(want, sizeof(want), "%s/pkg/written-files", dir);
        assert_int_equal(access(want, F_OK), -1); /* refused before anything: nothing to record */
        /* The record cannot be written: nothing is made. */
        assert_int_equal(mkdir(want, 0755), 0);
        assert_true(fsio_write_atomic(dir, "a.env", "x\n", 2, 0644, &err) < 0);
        assert_non_null(strstr(err.msg, "written-files"));
        assert_int_equal(count_entries(dir), 1); /* pkg/ only */
        assert_int_equal(rmdir(want), 0);
        assert_int_equal(fsio_set_record(want, NULL), 0);
        assert_int_equal(fsio_write_atomic(dir, "a.env", "x\n", 2, 0644, &err), 0);
        t = record_text(dir);
        snprintf(want, sizeof(want), "%s/a.env\n", dir);
        assert_string_equal(t, want);
        free(t);
        assert_int_equal(fsio_set_record(NULL, NULL), 0);
}

/* A crash tore the last line: it is no entry, and the next one starts on a line of its own. Without a
 * directory for the record (no package installed) nothing is recorded and the write goes on. */
static void record_survives_a_torn_line(void **state)
{
        const char *dir = *state;
        char want[3 * PATH_MAX], path[PATH_MAX];
        struct bp_err err = { 0 };
        char *t;

        record_on(dir);
        snprintf(path, sizeof(path), "%s/a.env", dir);
        snprintf(want, sizeof(want), "%s", path);
        want[strlen(want) - 2] = '\0'; /* ".../a.e" */
        put_file(dir, "pkg/written-files", want, strlen(want));
        assert_int_equal(fsio_write_atomic(dir, "a.env", "x\n", 2, 0644, &err), 0);
        t = record_text(dir);
        snprintf(want + strlen(want), sizeof(want) - strlen(want), "\n%s\n", path);
        assert_string_equal(t, want);
        free(t);

        snprintf(path, sizeof(path), "%s/nowhere/written-files", dir);
        assert_int_equal(fsio_set_record(path, NULL), 0);
        assert_int_equal(fsio_write_atomic(dir, "b.env", "x\n", 2, 0644, &err), 0);
        snprintf(path, sizeof(path), "%s/nowhere", dir);
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(fsio_set_record("relative", &err), -EINVAL);
        assert_int_equal(fsio_set_record(NULL, NULL), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(write_replaces_whole, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(planted_temp_file_is_not_written, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(unsafe_dirs_refused, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(sweep_removes_only_temp_files, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(lock_creates_nothing, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(lock_waits_a_bounded_time, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(lock_names_other_errors, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(read_refuses_what_is_not_a_file, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(record_lists_what_was_made, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(record_comes_first, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(record_survives_a_torn_line, scratch_setup, scratch_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
