/* tests/unit/test-rootfs.c: reading a board's files under a root: links stay inside it, reads are capped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>

#include "cleanup.h"
#include "helpers.h"
#include "rootfs.h"

static void absolute_links_resolve_inside(void **state)
{
        const char *root = *state;
        _cleanup_free_ char *path = NULL, *data = NULL;
        char want[PATH_MAX];
        size_t len;

        put_file(root, "usr/bin/dash", "ELF", 3);
        put_link(root, "bin/sh", "/usr/bin/dash");
        put_file(root, "sys/firmware/devicetree/base/model", "Pi\0", 3);
        put_link(root, "proc/device-tree", "/sys/firmware/devicetree/base");
        assert_int_equal(rootfs_resolve(root, "/bin/sh", &path, NULL), 0);
        snprintf(want, sizeof(want), "%s/usr/bin/dash", root);
        assert_string_equal(path, want);
        assert_int_equal(rootfs_read(root, "/proc/device-tree/model", 64, &data, &len, NULL), 0);
        assert_int_equal(len, 3);
        assert_memory_equal(data, "Pi\0", 3);
}

static void links_never_escape(void **state)
{
        const char *root = *state;
        _cleanup_free_ char *path = NULL;
        char want[PATH_MAX];
        struct bp_err err = { 0 };

        /* On the host these name real files; under the root they must not. */
        put_link(root, "bin/up", "../../../../../../../../etc/hostname");
        put_link(root, "bin/abs", "/etc/hostname");
        assert_int_equal(rootfs_resolve(root, "/bin/up", &path, &err), -ENOENT);
        assert_int_equal(rootfs_resolve(root, "/bin/abs", &path, &err), -ENOENT);
        assert_int_equal(rootfs_resolve(root, "/../../etc/hostname", &path, &err), -ENOENT);
        put_file(root, "etc/hostname", "board\n", 6);
        assert_int_equal(rootfs_resolve(root, "/bin/up", &path, NULL), 0);
        snprintf(want, sizeof(want), "%s/etc/hostname", root);
        assert_string_equal(path, want);
}

static void loops_end(void **state)
{
        const char *root = *state;
        _cleanup_free_ char *path = NULL;
        struct bp_err err = { 0 };

        put_link(root, "bin/a", "b");
        put_link(root, "bin/b", "/bin/a");
        put_link(root, "bin/self", "self");
        assert_int_equal(rootfs_resolve(root, "/bin/a", &path, &err), -ELOOP);
        assert_non_null(strstr(err.msg, "symbolic links"));
        assert_int_equal(rootfs_resolve(root, "/bin/self/x", &path, &err), -ELOOP);
}

static void not_a_directory(void **state)
{
        const char *root = *state;
        _cleanup_free_ char *path = NULL;

        put_file(root, "usr/bin/dash", "x", 1);
        assert_int_equal(rootfs_resolve(root, "/usr/bin/dash/x", &path, NULL), -ENOTDIR);
}

static void reads_are_capped(void **state)
{
        const char *root = *state;
        _cleanup_free_ char *big = malloc(3 * 1024 * 1024), *data = NULL;
        struct bp_err err = { 0 };
        size_t len;

        assert_non_null(big);
        memset(big, 'a', 3 * 1024 * 1024);
        put_file(root, "proc/cpuinfo", big, 3 * 1024 * 1024);
        assert_int_equal(rootfs_read(root, "/proc/cpuinfo", 1024 * 1024, &data, &len, &err), -EFBIG);
        assert_non_null(strstr(err.msg, "larger than 1048576 bytes"));
        put_file(root, "proc/exact", big, 4096);
        assert_int_equal(rootfs_read(root, "/proc/exact", 4096, &data, &len, NULL), 0);
        assert_int_equal(len, 4096);
        free(steal_ptr(&data));
        assert_int_equal(rootfs_read(root, "/proc/exact", 4095, &data, &len, NULL), -EFBIG);
        assert_int_equal(rootfs_read(root, "/proc", 4096, &data, &len, &err), -EINVAL); /* a directory */
}

/* A cap of SIZE_MAX (what a caller means by "no cap"; 4 GiB on 32-bit) used to wrap to 1 byte. */
static void cap_near_size_max(void **state)
{
        const char *root = *state;
        _cleanup_free_ char *big = malloc(10000), *data = NULL;
        size_t len;

        assert_non_null(big);
        memset(big, 'b', 10000);
        put_file(root, "etc/big", big, 10000);
        assert_int_equal(rootfs_read(root, "/etc/big", SIZE_MAX, &data, &len, NULL), 0);
        assert_int_equal(len, 10000);
        free(steal_ptr(&data));
        assert_int_equal(rootfs_read(root, "/etc/big", SIZE_MAX - 1, &data, &len, NULL), 0);
        assert_int_equal(len, 10000);
}

/* A sparse file past 4 GiB: fstat() must know its size (64-bit off_t), and the cap still holds. */
static void file_past_4_gib(void **state)
{
        const char *root = *state;
        _cleanup_free_ char *data = NULL;
        char path[PATH_MAX];
        struct bp_err err = { 0 };
        size_t len;
        int fd;

        snprintf(path, sizeof(path), "%s/big", root);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, "x", 1, (off_t) 5 << 30), 1);
        close(fd);
        assert_int_equal(rootfs_read(root, "/big", 4096, &data, &len, &err), -EFBIG);
        assert_non_null(strstr(err.msg, "larger than 4096 bytes"));
}

static void proc_files_without_size(void **state)
{
        _cleanup_free_ char *data = NULL;
        size_t len;

        (void) state;
        /* /proc files stat as 0 bytes; the reader must not trust st_size. */
        assert_int_equal(rootfs_read("/", "/proc/self/status", 64 * 1024, &data, &len, NULL), 0);
        assert_true(len > 0);
        assert_non_null(strstr(data, "Name:"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(absolute_links_resolve_inside, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(links_never_escape, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(loops_end, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(not_a_directory, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(reads_are_capped, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(cap_near_size_max, scratch_setup, scratch_teardown),
                cmocka_unit_test_setup_teardown(file_past_4_gib, scratch_setup, scratch_teardown),
                cmocka_unit_test(proc_files_without_size),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
