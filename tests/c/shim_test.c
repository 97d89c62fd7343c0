/*
 * shim_test.c: a C program that calls every entry point libfamfs.so hooks
 * on famfs paths, and checks results and exact errnos against the
 * semantics docs/shim.md states.
 *
 * Usage:
 *   shim_test MOUNTPOINT HOSTDIR [AREA...]   run the checks (all areas if none)
 *   shim_test --list                         print the area names
 *   shim_test --child-read FD HEX            (exec'd by the exec area) read
 *                                            len(HEX)/2 bytes from inherited
 *                                            FD with read() and compare
 *   shim_test --child-closed FD              (exec'd) FD must be closed
 *
 * HOSTDIR holds a host copy of every file and directory under MOUNTPOINT at
 * the same relative path, with the same modes. The fixture (see
 * tests/shim_c.rs) has at least: big.bin (several MiB), mid.bin, small.bin,
 * one.bin (1 byte), exact.bin (exactly 2 MiB), text.txt (text lines),
 * ro.bin (mode 0444), scratch_{write,mmap,stdio,copy}.bin (mode 0644, the
 * only files written, each restored to its original bytes), sub/ (with a.txt,
 * b.bin and deeper/c.txt), mk/ (empty; the mkdir area creates in it) and
 * optionally empty.txt (size 0).
 *
 * The coherence area runs the famfs CLI named by $FAMFS_TEST_BIN (without
 * the shim) to create mk/late.bin and mk/latedir while this process runs.
 * Scratch files go to $TMPDIR (default /tmp).
 *
 * Each check prints `ok NAME` or `FAIL NAME: detail (errno=N strerror)`.
 * Exit status: the number of failures (at most 100).
 *
 * Build: cc -D_GNU_SOURCE -pthread -Wall -Wextra -o shim_test shim_test.c
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Fortified and legacy entry points, called directly. */
extern int __open_2(const char *path, int flags);
extern int __open64_2(const char *path, int flags);
extern int __openat_2(int dirfd, const char *path, int flags);
extern int __openat64_2(int dirfd, const char *path, int flags);
extern ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
extern ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
extern ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen);
extern int __xstat(int ver, const char *path, struct stat *st);
extern int __lxstat(int ver, const char *path, struct stat *st);
extern int __fxstat(int ver, int fd, struct stat *st);
extern int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags);
extern int __xstat64(int ver, const char *path, struct stat64 *st);
extern int __lxstat64(int ver, const char *path, struct stat64 *st);
extern int __fxstat64(int ver, int fd, struct stat64 *st);
extern int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags);
extern ssize_t getdents64(int fd, void *buf, size_t len);
extern int fcntl64(int fd, int cmd, ...);

#ifdef __x86_64__
#define STAT_VER 1 /* _STAT_VER_LINUX on x86_64 */
#else
#define STAT_VER 0
#endif

#define FAMFS_MAGIC 0x87b282fdL
#define TWO_MIB (2L * 1024 * 1024)
#define FAMFS_STATFS_MAGIC FAMFS_MAGIC

/* ------------------------------------------------------------------------ */
/* Reporting */

static int failures;
static int passes;
static const char *MNT;  /* famfs mount point */
static const char *HOST; /* host copy of the tree */
static int is_root;

static void pass(const char *name)
{
    passes++;
    printf("ok %s\n", name);
    fflush(stdout);
}

/* FAIL NAME: detail (errno=N strerror). err 0 = no errno worth showing. */
static void failv(const char *name, int err, const char *fmt, va_list ap)
{
    char detail[1024];
    vsnprintf(detail, sizeof detail, fmt, ap);
    failures++;
    printf("FAIL %s: %s (errno=%d %s)\n", name, detail, err, strerror(err));
    fflush(stdout);
}

__attribute__((format(printf, 3, 4))) static void fail(const char *name, int err,
                                                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    failv(name, err, fmt, ap);
    va_end(ap);
}

/* ok NAME if cond, else FAIL with the errno saved just after the call. */
__attribute__((format(printf, 4, 5))) static int check(const char *name, int cond,
                                                       int err, const char *fmt, ...)
{
    if (cond) {
        pass(name);
        return 1;
    }
    va_list ap;
    va_start(ap, fmt);
    failv(name, err, fmt, ap);
    va_end(ap);
    return 0;
}

/* A call that must fail with -1 (or MAP_FAILED, NULL: pass failed=1) and errno want. */
static int expect_err(const char *name, int failed, long ret, int err, int want)
{
    if (failed && err == want) {
        pass(name);
        return 1;
    }
    if (!failed)
        fail(name, 0, "succeeded (returned %ld), expected failure with errno %d (%s)", ret,
             want, strerror(want));
    else
        fail(name, err, "failed with the wrong errno, expected %d (%s)", want, strerror(want));
    return 0;
}

/* Runs CALL (an expression yielding long), checks -1 and errno WANT. */
#define EXPECT_ERR(name, call, want)                                                     \
    do {                                                                                 \
        errno = 0;                                                                       \
        long r_ = (long)(call);                                                          \
        int e_ = errno;                                                                  \
        expect_err((name), r_ == -1, r_, e_, (want));                                    \
    } while (0)

/* Runs CALL (an open-like expression), which must fail with errno WANT;
 * closes the fd if it unexpectedly succeeded. */
#define EXPECT_OPEN_ERR(name, call, want)                                                \
    do {                                                                                 \
        errno = 0;                                                                       \
        int r_ = (call);                                                                 \
        int e_ = errno;                                                                  \
        expect_err((name), r_ == -1, r_, e_, (want));                                    \
        if (r_ >= 0)                                                                     \
            close(r_);                                                                   \
    } while (0)

/* Runs CALL, which must return exactly WANT (a long). */
#define EXPECT_EQ(name, call, want)                                                      \
    do {                                                                                 \
        errno = 0;                                                                       \
        long r_ = (long)(call);                                                          \
        int e_ = errno;                                                                  \
        long w_ = (long)(want);                                                          \
        check((name), r_ == w_, e_, "%s returned %ld, expected %ld", #call, r_, w_);     \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Paths and host data */

/* Rotating buffers, so several paths can be live in one expression. */
static char *path_in(const char *base, const char *rel)
{
    static char bufs[16][PATH_MAX];
    static int next;
    char *b = bufs[next++ % 16];
    if (rel[0] == 0)
        snprintf(b, PATH_MAX, "%s", base);
    else
        snprintf(b, PATH_MAX, "%s/%s", base, rel);
    return b;
}

/* The famfs path of REL. */
static char *F(const char *rel) { return path_in(MNT, rel); }
/* The host copy of REL. */
static char *H(const char *rel) { return path_in(HOST, rel); }

struct hostfile {
    const char *rel;
    unsigned char *data;
    size_t len;
    struct stat st;
};

#define MAX_HOSTFILES 32
static struct hostfile hostfiles[MAX_HOSTFILES];
static int n_hostfiles;

static unsigned long long famfs_ino(const char *rel);

static void die(const char *what)
{
    printf("FAIL setup: %s (errno=%d %s)\n", what, errno, strerror(errno));
    exit(100);
}

/* The bytes of the host copy of REL (loaded once; never a famfs path). */
static struct hostfile *host(const char *rel)
{
    for (int i = 0; i < n_hostfiles; i++)
        if (strcmp(hostfiles[i].rel, rel) == 0)
            return &hostfiles[i];
    if (n_hostfiles == MAX_HOSTFILES)
        die("too many host files");
    struct hostfile *h = &hostfiles[n_hostfiles];
    int fd = open(H(rel), O_RDONLY);
    if (fd < 0 || fstat(fd, &h->st) != 0) {
        char m[PATH_MAX + 64];
        snprintf(m, sizeof m, "cannot read host copy %s", H(rel));
        die(m);
    }
    h->len = (size_t)h->st.st_size;
    h->data = malloc(h->len + 1);
    if (!h->data)
        die("malloc");
    size_t got = 0;
    while (got < h->len) {
        ssize_t n = read(fd, h->data + got, h->len - got);
        if (n <= 0)
            die("short read of a host copy");
        got += (size_t)n;
    }
    h->data[h->len] = 0;
    close(fd);
    h->rel = strdup(rel);
    n_hostfiles++;
    return h;
}

static int host_exists(const char *rel)
{
    struct stat st;
    return stat(H(rel), &st) == 0;
}

/* Index of the first differing byte, or -1. */
static long first_diff(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return (long)i;
    return -1;
}

/* Checks that BUF (N bytes, read at OFF of REL) matches the host copy. */
static int check_bytes(const char *name, const char *rel, const void *buf, size_t n, off_t off)
{
    struct hostfile *h = host(rel);
    if ((size_t)off + n > h->len) {
        fail(name, 0, "%zu bytes at %ld run past the host copy's %zu bytes", n, (long)off,
             h->len);
        return 0;
    }
    long d = first_diff(buf, h->data + off, n);
    if (d >= 0) {
        fail(name, 0, "%s: byte %ld differs (got 0x%02x, expected 0x%02x)", rel, (long)off + d,
             ((const unsigned char *)buf)[d], h->data[off + d]);
        return 0;
    }
    pass(name);
    return 1;
}

/* Opens the famfs file REL with FLAGS, or reports NAME as failed. */
static int open_or_fail(const char *name, const char *rel, int flags)
{
    int fd = open(F(rel), flags);
    if (fd < 0)
        fail(name, errno, "open(%s, 0x%x) failed", F(rel), flags);
    return fd;
}

/* A host temp file (never famfs); returns its fd, name in NAME. */
static int tmpfile_fd(char name[PATH_MAX])
{
    const char *dir = getenv("TMPDIR");
    snprintf(name, PATH_MAX, "%s/shim_test-XXXXXX",
             dir && dir[0] && strlen(dir) < PATH_MAX - 32 ? dir : "/tmp");
    int fd = mkstemp(name);
    if (fd < 0)
        die("mkstemp");
    return fd;
}

/* ------------------------------------------------------------------------ */
/* Areas (filled in below) */

/* Opens with FD = CALL, checks it works by reading the first bytes of REL. */
static void check_open_reads(const char *name, int fd, int err, const char *rel)
{
    if (fd < 0) {
        fail(name, err, "open of %s failed", rel);
        return;
    }
    unsigned char buf[64];
    ssize_t n = read(fd, buf, sizeof buf);
    int e = errno;
    struct hostfile *h = host(rel);
    size_t want = h->len < sizeof buf ? h->len : sizeof buf;
    if (n != (ssize_t)want)
        fail(name, e, "read after open returned %zd, expected %zu", n, want);
    else
        check_bytes(name, rel, buf, want, 0);
    close(fd);
}

#define OPEN_READS(name, call, rel)                                                      \
    do {                                                                                 \
        errno = 0;                                                                       \
        int fd_ = (call);                                                                \
        check_open_reads((name), fd_, errno, (rel));                                     \
    } while (0)

static void area_open(void)
{
    OPEN_READS("open", open(F("big.bin"), O_RDONLY), "big.bin");
    OPEN_READS("open64", open64(F("big.bin"), O_RDONLY), "big.bin");
    OPEN_READS("openat_AT_FDCWD", openat(AT_FDCWD, F("mid.bin"), O_RDONLY), "mid.bin");
    OPEN_READS("openat64_AT_FDCWD", openat64(AT_FDCWD, F("mid.bin"), O_RDONLY), "mid.bin");
    OPEN_READS("__open_2", __open_2(F("small.bin"), O_RDONLY), "small.bin");
    OPEN_READS("__open64_2", __open64_2(F("small.bin"), O_RDONLY), "small.bin");
    OPEN_READS("__openat_2", __openat_2(AT_FDCWD, F("text.txt"), O_RDONLY), "text.txt");
    OPEN_READS("__openat64_2", __openat64_2(AT_FDCWD, F("text.txt"), O_RDONLY), "text.txt");
    OPEN_READS("open_O_RDONLY_O_CLOEXEC", open(F("one.bin"), O_RDONLY | O_CLOEXEC), "one.bin");
    OPEN_READS("open_O_RDWR", open(F("scratch_write.bin"), O_RDWR), "scratch_write.bin");
    OPEN_READS("open_O_CREAT_existing", open(F("small.bin"), O_RDONLY | O_CREAT, 0644),
               "small.bin");
    OPEN_READS("open_O_NOFOLLOW", open(F("small.bin"), O_RDONLY | O_NOFOLLOW), "small.bin");
    OPEN_READS("open_O_LARGEFILE",
               open(F("small.bin"), O_RDONLY | O_LARGEFILE), "small.bin");

    /* A dirfd opened on a famfs directory. */
    int dfd = open(F(""), O_RDONLY | O_DIRECTORY);
    if (dfd < 0) {
        fail("open_mountpoint_O_DIRECTORY", errno, "open(%s, O_DIRECTORY) failed", F(""));
    } else {
        pass("open_mountpoint_O_DIRECTORY");
        OPEN_READS("openat_famfs_dirfd", openat(dfd, "big.bin", O_RDONLY), "big.bin");
        OPEN_READS("openat64_famfs_dirfd", openat64(dfd, "sub/a.txt", O_RDONLY), "sub/a.txt");
        OPEN_READS("__openat_2_famfs_dirfd", __openat_2(dfd, "sub/deeper/c.txt", O_RDONLY),
                   "sub/deeper/c.txt");
        OPEN_READS("__openat64_2_famfs_dirfd", __openat64_2(dfd, "./small.bin", O_RDONLY),
                   "small.bin");
        EXPECT_OPEN_ERR("openat_famfs_dirfd_missing_ENOENT", openat(dfd, "nope", O_RDONLY),
                        ENOENT);
        EXPECT_OPEN_ERR("openat_famfs_dirfd_creat_EPERM",
                        openat(dfd, "new-at", O_RDWR | O_CREAT, 0644), EPERM);
        close(dfd);
    }

    /* Errors. */
    EXPECT_OPEN_ERR("open_O_CREAT_new_EPERM", open(F("new-file"), O_RDWR | O_CREAT, 0644),
                    EPERM);
    EXPECT_OPEN_ERR("open_O_CREAT_new_in_subdir_EPERM",
                    open(F("sub/new-file"), O_WRONLY | O_CREAT, 0644), EPERM);
    EXPECT_OPEN_ERR("creat_new_EPERM", creat(F("new-creat"), 0644), EPERM);
    EXPECT_OPEN_ERR("creat_existing_nonempty_EPERM", creat(F("small.bin"), 0644), EPERM);
    EXPECT_OPEN_ERR("open_O_CREAT_O_EXCL_existing_EEXIST",
                    open(F("small.bin"), O_RDWR | O_CREAT | O_EXCL, 0644), EEXIST);
    EXPECT_OPEN_ERR("open_O_CREAT_O_EXCL_dir_EEXIST",
                    open(F("sub"), O_RDONLY | O_CREAT | O_EXCL, 0644), EEXIST);
    EXPECT_OPEN_ERR("open_O_TRUNC_nonempty_O_RDWR_EPERM",
                    open(F("scratch_write.bin"), O_RDWR | O_TRUNC), EPERM);
    EXPECT_OPEN_ERR("open_O_TRUNC_nonempty_O_WRONLY_EPERM",
                    open(F("scratch_write.bin"), O_WRONLY | O_TRUNC), EPERM);
    EXPECT_OPEN_ERR("open_missing_ENOENT", open(F("missing"), O_RDONLY), ENOENT);
    EXPECT_OPEN_ERR("open64_missing_ENOENT", open64(F("missing"), O_RDONLY), ENOENT);
    EXPECT_OPEN_ERR("open_missing_dir_ENOENT", open(F("nodir/x"), O_RDONLY), ENOENT);
    EXPECT_OPEN_ERR("__open_2_missing_ENOENT", __open_2(F("missing"), O_RDONLY), ENOENT);
    EXPECT_OPEN_ERR("open_file_as_dir_component_ENOTDIR", open(F("big.bin/x"), O_RDONLY),
                    ENOTDIR);
    EXPECT_OPEN_ERR("open_O_DIRECTORY_on_file_ENOTDIR",
                    open(F("big.bin"), O_RDONLY | O_DIRECTORY), ENOTDIR);
    EXPECT_OPEN_ERR("open_dir_O_RDWR_EISDIR", open(F("sub"), O_RDWR), EISDIR);
    EXPECT_OPEN_ERR("open_dir_O_WRONLY_EISDIR", open(F("sub"), O_WRONLY), EISDIR);
    EXPECT_OPEN_ERR("open_file_trailing_slash_ENOTDIR", open(F("big.bin/"), O_RDONLY), ENOTDIR);
    EXPECT_OPEN_ERR("open_missing_trailing_slash_ENOENT", open(F("missing/"), O_RDONLY),
                    ENOENT);

    /* The directory itself opens read-only. */
    errno = 0;
    int d = open(F("sub"), O_RDONLY);
    int e = errno;
    struct stat st;
    check("open_dir_O_RDONLY", d >= 0 && fstat(d, &st) == 0 && S_ISDIR(st.st_mode), e,
          "open(%s, O_RDONLY) = %d", F("sub"), d);
    if (d >= 0)
        close(d);

    /* Permissions: ro.bin is 0444 and ours. */
    errno = 0;
    int w = open(F("ro.bin"), O_RDWR);
    e = errno;
    if (is_root)
        check("open_ro_file_O_RDWR_as_root", w >= 0, e, "root may open a 0444 file O_RDWR");
    else
        expect_err("open_ro_file_O_RDWR_EACCES", w == -1, w, e, EACCES);
    if (w >= 0)
        close(w);
    OPEN_READS("open_ro_file_O_RDONLY", open(F("ro.bin"), O_RDONLY), "ro.bin");

    if (host_exists("empty.txt")) {
        errno = 0;
        int z = open(F("empty.txt"), O_RDWR | O_TRUNC);
        e = errno;
        check("open_O_TRUNC_empty_file", z >= 0, e,
              "O_TRUNC of an empty file changes nothing and must succeed");
        if (z >= 0) {
            char c;
            EXPECT_EQ("read_empty_file_0", read(z, &c, 1), 0);
            close(z);
        }
    }
}

static void area_close(void)
{
    int fd = open_or_fail("close_open", "small.bin", O_RDONLY);
    if (fd < 0)
        return;
    EXPECT_EQ("close", close(fd), 0);
    EXPECT_ERR("close_twice_EBADF", close(fd), EBADF);
    char c;
    EXPECT_ERR("read_after_close_EBADF", read(fd, &c, 1), EBADF);
    struct stat st;
    EXPECT_ERR("fstat_after_close_EBADF", fstat(fd, &st), EBADF);

    /* close_range over three famfs fds at fixed high numbers. */
    int base = 900;
    int ok = 1;
    for (int i = 0; i < 3; i++) {
        int f = open(F("small.bin"), O_RDONLY);
        if (f < 0 || dup2(f, base + i) != base + i) {
            fail("close_range_setup", errno, "open/dup2 to %d failed", base + i);
            ok = 0;
        }
        if (f >= 0)
            close(f);
    }
    if (!ok)
        return;
    EXPECT_EQ("close_range_CLOEXEC", close_range(base, base + 2, CLOSE_RANGE_CLOEXEC), 0);
    EXPECT_EQ("close_range_CLOEXEC_sets_FD_CLOEXEC", fcntl(base + 1, F_GETFD), FD_CLOEXEC);
    EXPECT_EQ("close_range", close_range(base, base + 2, 0), 0);
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "close_range_closed_fd_%d_EBADF", i);
        EXPECT_ERR(name, fcntl(base + i, F_GETFD), EBADF);
    }
    char nm[64];
    snprintf(nm, sizeof nm, "close_range_read_EBADF");
    EXPECT_ERR(nm, read(base, &c, 1), EBADF);
    /* The numbers are free again: a new famfs open may reuse them. */
    int again = open(F("small.bin"), O_RDONLY);
    int moved = again >= 0 ? dup2(again, base) : -1;
    check("close_range_fd_reusable", moved == base, errno, "dup2 to %d after close_range", base);
    if (again >= 0)
        close(again);
    if (moved >= 0) {
        unsigned char b[16];
        ssize_t n = pread(base, b, sizeof b, 0);
        if (n == (ssize_t)sizeof b)
            check_bytes("close_range_fd_reused_reads", "small.bin", b, sizeof b, 0);
        else
            fail("close_range_fd_reused_reads", errno, "pread returned %zd", n);
        close(base);
    }
}

/* Checks that a read-like call returned N == WANT and BUF matches REL at OFF. */
static void check_read(const char *name, ssize_t n, int err, size_t want, const char *rel,
                       const void *buf, off_t off)
{
    if (n < 0 || (size_t)n != want) {
        fail(name, err, "returned %zd, expected %zu", n, want);
        return;
    }
    check_bytes(name, rel, buf, want, off);
}

/* Reads every fixture file to EOF with read() in odd-sized chunks. */
static void read_whole(const char *rel)
{
    char name[128];
    snprintf(name, sizeof name, "read_whole_%s", rel);
    int fd = open_or_fail(name, rel, O_RDONLY);
    if (fd < 0)
        return;
    struct hostfile *h = host(rel);
    unsigned char *buf = malloc(h->len + 70000);
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, 65537);
        if (n < 0) {
            fail(name, errno, "read at %zu failed", got);
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got > h->len) {
            fail(name, 0, "read past the file size %zu", h->len);
            goto out;
        }
    }
    if (got != h->len)
        fail(name, 0, "read %zu bytes to EOF, expected %zu", got, h->len);
    else
        check_bytes(name, rel, buf, got, 0);
out:
    free(buf);
    close(fd);
}

static void area_read(void)
{
    static const char *files[] = {"big.bin",   "mid.bin", "small.bin",        "one.bin",
                                  "exact.bin", "ro.bin",  "text.txt",         "sub/a.txt",
                                  "sub/b.bin", "scratch_write.bin", "sub/deeper/c.txt"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        read_whole(files[i]);

    const char *rel = "big.bin";
    struct hostfile *h = host(rel);
    off_t size = (off_t)h->len;
    int fd = open_or_fail("read_open", rel, O_RDONLY);
    if (fd < 0)
        return;
    unsigned char buf[70000], b2[70000];
    ssize_t n;

    n = read(fd, buf, 4096);
    check_read("read", n, errno, 4096, rel, buf, 0);
    EXPECT_EQ("read_advances_offset", lseek(fd, 0, SEEK_CUR), 4096);
    n = read(fd, buf, 100);
    check_read("read_continues_at_offset", n, errno, 100, rel, buf, 4096);

    /* A read crossing the 2 MiB allocation unit boundary. */
    n = pread(fd, buf, 200, TWO_MIB - 100);
    check_read("pread_across_2MiB_boundary", n, errno, 200, rel, buf, TWO_MIB - 100);
    n = pread(fd, buf, 50000, 12345);
    check_read("pread", n, errno, 50000, rel, buf, 12345);
    EXPECT_EQ("pread_keeps_offset", lseek(fd, 0, SEEK_CUR), 4196);
    n = pread64(fd, buf, 777, (off64_t)3 * 1024 * 1024 + 3);
    check_read("pread64", n, errno, 777, rel, buf, 3 * 1024 * 1024 + 3);

    /* Bounded by the file size; 0 at and past EOF. */
    n = pread(fd, buf, 1000, size - 10);
    check_read("pread_crossing_EOF_short", n, errno, 10, rel, buf, size - 10);
    EXPECT_EQ("pread_at_EOF_0", pread(fd, buf, 100, size), 0);
    EXPECT_EQ("pread_past_EOF_0", pread(fd, buf, 100, size + 12345), 0);
    EXPECT_ERR("pread_negative_offset_EINVAL", pread(fd, buf, 10, -1), EINVAL);
    EXPECT_EQ("pread_zero_bytes", pread(fd, buf, 0, 10), 0);
    lseek(fd, size - 5, SEEK_SET);
    n = read(fd, buf, 100);
    check_read("read_crossing_EOF_short", n, errno, 5, rel, buf, size - 5);
    EXPECT_EQ("read_at_EOF_0", read(fd, buf, 100), 0);
    EXPECT_EQ("read_at_EOF_0_again", read(fd, buf, 100), 0);
    lseek(fd, size + 1000, SEEK_SET);
    EXPECT_EQ("read_past_EOF_0", read(fd, buf, 100), 0);

    /* readv and friends. */
    lseek(fd, 1000, SEEK_SET);
    struct iovec iov[3] = {{buf, 10}, {buf + 10, 0}, {buf + 10, 5000}};
    n = readv(fd, iov, 3);
    check_read("readv", n, errno, 5010, rel, buf, 1000);
    EXPECT_EQ("readv_advances_offset", lseek(fd, 0, SEEK_CUR), 6010);
    iov[0].iov_len = 3000;
    iov[2].iov_base = buf + 3000;
    iov[2].iov_len = 3000;
    n = preadv(fd, iov, 3, TWO_MIB - 3000);
    check_read("preadv", n, errno, 6000, rel, buf, TWO_MIB - 3000);
    EXPECT_EQ("preadv_keeps_offset", lseek(fd, 0, SEEK_CUR), 6010);
    n = preadv64(fd, iov, 3, (off64_t)TWO_MIB + 5);
    check_read("preadv64", n, errno, 6000, rel, buf, TWO_MIB + 5);
    n = preadv64v2(fd, iov, 3, (off64_t)99, 0);
    check_read("preadv64v2", n, errno, 6000, rel, buf, 99);
    n = preadv2(fd, iov, 3, 77, 0);
    check_read("preadv2", n, errno, 6000, rel, buf, 77);
    n = preadv2(fd, iov, 3, -1, 0);
    check_read("preadv2_offset_-1_uses_file_offset", n, errno, 6000, rel, buf, 6010);
    EXPECT_EQ("preadv2_offset_-1_advances_offset", lseek(fd, 0, SEEK_CUR), 12010);
    iov[0].iov_len = 100;
    iov[2].iov_base = buf + 100;
    iov[2].iov_len = 100;
    n = preadv(fd, iov, 3, size - 150);
    check_read("preadv_crossing_EOF_short", n, errno, 150, rel, buf, size - 150);
    EXPECT_EQ("preadv_at_EOF_0", preadv(fd, iov, 3, size), 0);
    lseek(fd, size, SEEK_SET);
    EXPECT_EQ("readv_at_EOF_0", readv(fd, iov, 3), 0);

    /* Fortified reads, called directly with buflen >= n. */
    lseek(fd, 500, SEEK_SET);
    n = __read_chk(fd, buf, 1234, sizeof buf);
    check_read("__read_chk", n, errno, 1234, rel, buf, 500);
    EXPECT_EQ("__read_chk_advances_offset", lseek(fd, 0, SEEK_CUR), 1734);
    n = __pread_chk(fd, buf, 4321, TWO_MIB + 1, sizeof buf);
    check_read("__pread_chk", n, errno, 4321, rel, buf, TWO_MIB + 1);
    n = __pread64_chk(fd, buf, 999, size - 999, sizeof buf);
    check_read("__pread64_chk", n, errno, 999, rel, buf, size - 999);
    EXPECT_EQ("__pread64_chk_at_EOF_0", __pread64_chk(fd, buf, 10, size, sizeof buf), 0);
    EXPECT_EQ("__pread_chk_keeps_offset", lseek(fd, 0, SEEK_CUR), 1734);

    /* Two fds on one file have independent offsets. */
    int fd2 = open_or_fail("read_second_fd", rel, O_RDONLY);
    if (fd2 >= 0) {
        n = read(fd2, b2, 64);
        check_read("read_second_fd_independent_offset", n, errno, 64, rel, b2, 0);
        EXPECT_EQ("read_first_fd_offset_unchanged", lseek(fd, 0, SEEK_CUR), 1734);
        close(fd2);
    }
    close(fd);

    /* A write-only fd cannot be read; a directory cannot be read. */
    int w = open(F("scratch_write.bin"), O_WRONLY);
    if (w < 0) {
        fail("read_O_WRONLY_EBADF", errno, "open O_WRONLY failed");
    } else {
        EXPECT_ERR("read_O_WRONLY_EBADF", read(w, buf, 10), EBADF);
        EXPECT_ERR("pread_O_WRONLY_EBADF", pread(w, buf, 10, 0), EBADF);
        close(w);
    }
    int d = open(F("sub"), O_RDONLY | O_DIRECTORY);
    if (d < 0) {
        fail("read_dir_EISDIR", errno, "open dir failed");
    } else {
        EXPECT_ERR("read_dir_EISDIR", read(d, buf, 10), EISDIR);
        EXPECT_ERR("pread_dir_EISDIR", pread(d, buf, 10, 0), EISDIR);
        close(d);
    }
}

/* Reads N bytes at OFF of famfs REL through a fresh read-only fd. */
static int famfs_pread(const char *rel, void *buf, size_t n, off_t off)
{
    int fd = open(F(rel), O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t r = pread(fd, buf, n, off);
    close(fd);
    return r == (ssize_t)n ? 0 : -1;
}

/* Checks that the famfs file REL reads back EXPECT (N bytes) at OFF. */
static void check_reads_back(const char *name, const char *rel, const void *expect, size_t n,
                             off_t off)
{
    unsigned char *buf = malloc(n + 1);
    if (famfs_pread(rel, buf, n, off) != 0) {
        fail(name, errno, "reading back %zu bytes at %ld of %s failed", n, (long)off, rel);
    } else {
        long d = first_diff(buf, expect, n);
        check(name, d < 0, 0, "byte %ld of %s reads back 0x%02x, wrote 0x%02x", (long)off + d,
              rel, d >= 0 ? buf[d] : 0, d >= 0 ? ((const unsigned char *)expect)[d] : 0);
    }
    free(buf);
}

/* Restores REL to its host copy's bytes and checks the whole file. */
static void restore_and_verify(const char *name, const char *rel)
{
    struct hostfile *h = host(rel);
    int fd = open(F(rel), O_RDWR);
    if (fd < 0) {
        fail(name, errno, "open O_RDWR to restore failed");
        return;
    }
    ssize_t n = pwrite(fd, h->data, h->len, 0);
    if (n != (ssize_t)h->len) {
        fail(name, errno, "restoring pwrite returned %zd of %zu", n, h->len);
        close(fd);
        return;
    }
    close(fd);
    check_reads_back(name, rel, h->data, h->len, 0);
}

static void fill_pattern(unsigned char *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)((i * 131 + seed * 7 + (i >> 8)) ^ 0x5a);
}

static void area_write(void)
{
    const char *rel = "scratch_write.bin";
    struct hostfile *h = host(rel);
    off_t size = (off_t)h->len;
    unsigned char w[8192], w2[8192];
    fill_pattern(w, sizeof w, 1);
    fill_pattern(w2, sizeof w2, 2);
    int fd = open_or_fail("write_open_O_RDWR", rel, O_RDWR);
    if (fd < 0)
        return;

    EXPECT_EQ("write", write(fd, w, 100), 100);
    EXPECT_EQ("write_advances_offset", lseek(fd, 0, SEEK_CUR), 100);
    check_reads_back("write_reads_back", rel, w, 100, 0);
    EXPECT_EQ("pwrite", pwrite(fd, w2, 1000, 1000), 1000);
    check_reads_back("pwrite_reads_back", rel, w2, 1000, 1000);
    EXPECT_EQ("pwrite_keeps_offset", lseek(fd, 0, SEEK_CUR), 100);
    EXPECT_EQ("pwrite64", pwrite64(fd, w, 3000, (off64_t)5000), 3000);
    check_reads_back("pwrite64_reads_back", rel, w, 3000, 5000);

    lseek(fd, 20000, SEEK_SET);
    struct iovec iov[3] = {{w, 10}, {w2, 0}, {w2, 500}};
    EXPECT_EQ("writev", writev(fd, iov, 3), 510);
    EXPECT_EQ("writev_advances_offset", lseek(fd, 0, SEEK_CUR), 20510);
    check_reads_back("writev_reads_back_1", rel, w, 10, 20000);
    check_reads_back("writev_reads_back_2", rel, w2, 500, 20010);
    EXPECT_EQ("pwritev", pwritev(fd, iov, 3, 30000), 510);
    check_reads_back("pwritev_reads_back", rel, w2, 500, 30010);
    EXPECT_EQ("pwritev_keeps_offset", lseek(fd, 0, SEEK_CUR), 20510);
    EXPECT_EQ("pwritev64", pwritev64(fd, iov, 3, (off64_t)35000), 510);
    check_reads_back("pwritev64_reads_back", rel, w2, 500, 35010);
    EXPECT_EQ("pwritev64v2", pwritev64v2(fd, iov, 3, (off64_t)45000, 0), 510);
    check_reads_back("pwritev64v2_reads_back", rel, w, 10, 45000);
    EXPECT_EQ("pwritev2", pwritev2(fd, iov, 3, 40000, 0), 510);
    check_reads_back("pwritev2_reads_back", rel, w, 10, 40000);
    EXPECT_EQ("pwritev2_offset_-1", pwritev2(fd, iov, 3, -1, 0), 510);
    EXPECT_EQ("pwritev2_offset_-1_advances_offset", lseek(fd, 0, SEEK_CUR), 21020);
    check_reads_back("pwritev2_offset_-1_reads_back", rel, w2, 500, 20520);

    /* The same fd reads what it wrote. */
    unsigned char r[100];
    EXPECT_EQ("pread_after_pwrite_same_fd", pread(fd, r, 100, 1000), 100);
    check("pread_after_pwrite_same_fd_bytes", memcmp(r, w2, 100) == 0, 0, "bytes differ");

    /* Never extending the file. */
    EXPECT_EQ("pwrite_crossing_EOF_writes_what_fits", pwrite(fd, w, 100, size - 40), 40);
    check_reads_back("pwrite_crossing_EOF_reads_back", rel, w, 40, size - 40);
    lseek(fd, size - 7, SEEK_SET);
    EXPECT_EQ("write_crossing_EOF_writes_what_fits", write(fd, w2, 64), 7);
    EXPECT_EQ("write_crossing_EOF_offset_at_EOF", lseek(fd, 0, SEEK_CUR), size);
    check_reads_back("write_crossing_EOF_reads_back", rel, w2, 7, size - 7);
    EXPECT_ERR("write_at_EOF_EFBIG", write(fd, w, 10), EFBIG);
    EXPECT_ERR("pwrite_at_EOF_EFBIG", pwrite(fd, w, 10, size), EFBIG);
    EXPECT_ERR("pwrite_past_EOF_EFBIG", pwrite(fd, w, 10, size + 4096), EFBIG);
    EXPECT_ERR("pwrite64_at_EOF_EFBIG", pwrite64(fd, w, 10, size), EFBIG);
    EXPECT_ERR("pwritev_at_EOF_EFBIG", pwritev(fd, iov, 3, size), EFBIG);
    EXPECT_ERR("pwritev2_past_EOF_EFBIG", pwritev2(fd, iov, 3, size + 1, 0), EFBIG);
    lseek(fd, size + 10, SEEK_SET);
    EXPECT_ERR("writev_past_EOF_EFBIG", writev(fd, iov, 3), EFBIG);
    EXPECT_ERR("pwrite_negative_offset_EINVAL", pwrite(fd, w, 10, -5), EINVAL);
    EXPECT_EQ("write_zero_bytes", pwrite(fd, w, 0, 10), 0);
    struct stat st;
    errno = 0;
    int sr = fstat(fd, &st);
    check("write_size_unchanged", sr == 0 && st.st_size == size, errno,
          "fstat size %ld, expected %ld", sr == 0 ? (long)st.st_size : -1L, (long)size);
    close(fd);

    /* O_APPEND writes fail. */
    errno = 0;
    int a = open(F(rel), O_WRONLY | O_APPEND);
    if (a < 0) {
        fail("open_O_APPEND", errno, "open O_WRONLY|O_APPEND failed");
    } else {
        pass("open_O_APPEND");
        EXPECT_ERR("write_O_APPEND_EFBIG", write(a, w, 10), EFBIG);
        close(a);
    }

    /* A read-only fd cannot write. */
    int ro = open_or_fail("write_O_RDONLY_open", rel, O_RDONLY);
    if (ro >= 0) {
        EXPECT_ERR("write_O_RDONLY_EBADF", write(ro, w, 10), EBADF);
        EXPECT_ERR("pwrite_O_RDONLY_EBADF", pwrite(ro, w, 10, 0), EBADF);
        close(ro);
    }
    /* O_WRONLY works for writing. */
    int wo = open_or_fail("write_O_WRONLY_open", rel, O_WRONLY);
    if (wo >= 0) {
        EXPECT_EQ("write_O_WRONLY", write(wo, w2, 33), 33);
        check_reads_back("write_O_WRONLY_reads_back", rel, w2, 33, 0);
        close(wo);
    }

    restore_and_verify("write_restore_original_bytes", rel);
}

static void area_lseek(void)
{
    const char *rel = "mid.bin";
    off_t size = (off_t)host(rel)->len;
    int fd = open_or_fail("lseek_open", rel, O_RDONLY);
    if (fd < 0)
        return;
    EXPECT_EQ("lseek_SEEK_SET", lseek(fd, 100, SEEK_SET), 100);
    EXPECT_EQ("lseek_SEEK_CUR", lseek(fd, 10, SEEK_CUR), 110);
    EXPECT_EQ("lseek_SEEK_CUR_negative", lseek(fd, -10, SEEK_CUR), 100);
    unsigned char b[16];
    ssize_t n = read(fd, b, sizeof b);
    check_read("lseek_then_read", n, errno, sizeof b, rel, b, 100);
    EXPECT_EQ("lseek_SEEK_END", lseek(fd, 0, SEEK_END), size);
    EXPECT_EQ("lseek_SEEK_END_negative", lseek(fd, -10, SEEK_END), size - 10);
    EXPECT_EQ("lseek_past_EOF_allowed", lseek(fd, size + 100, SEEK_SET), size + 100);
    EXPECT_EQ("lseek_SEEK_END_positive", lseek(fd, 5, SEEK_END), size + 5);
    EXPECT_EQ("lseek_SEEK_DATA_0", lseek(fd, 0, SEEK_DATA), 0);
    EXPECT_EQ("lseek_SEEK_DATA_inside", lseek(fd, 12345, SEEK_DATA), 12345);
    EXPECT_ERR("lseek_SEEK_DATA_at_EOF_ENXIO", lseek(fd, size, SEEK_DATA), ENXIO);
    EXPECT_ERR("lseek_SEEK_DATA_past_EOF_ENXIO", lseek(fd, size + 5, SEEK_DATA), ENXIO);
    EXPECT_EQ("lseek_SEEK_HOLE_0_is_size", lseek(fd, 0, SEEK_HOLE), size);
    EXPECT_EQ("lseek_SEEK_HOLE_inside_is_size", lseek(fd, 777, SEEK_HOLE), size);
    EXPECT_ERR("lseek_SEEK_HOLE_past_EOF_ENXIO", lseek(fd, size + 5, SEEK_HOLE), ENXIO);
    lseek(fd, 50, SEEK_SET);
    EXPECT_ERR("lseek_negative_SEEK_SET_EINVAL", lseek(fd, -1, SEEK_SET), EINVAL);
    EXPECT_ERR("lseek_negative_SEEK_CUR_EINVAL", lseek(fd, -51, SEEK_CUR), EINVAL);
    EXPECT_ERR("lseek_negative_SEEK_END_EINVAL", lseek(fd, -size - 1, SEEK_END), EINVAL);
    EXPECT_EQ("lseek_failed_seek_keeps_offset", lseek(fd, 0, SEEK_CUR), 50);
    EXPECT_ERR("lseek_bad_whence_EINVAL", lseek(fd, 0, 99), EINVAL);
    EXPECT_EQ("lseek64_SEEK_SET", lseek64(fd, (off64_t)TWO_MIB, SEEK_SET), TWO_MIB);
    EXPECT_EQ("lseek64_SEEK_CUR", lseek64(fd, 1, SEEK_CUR), TWO_MIB + 1);
    EXPECT_EQ("lseek64_SEEK_END", lseek64(fd, 0, SEEK_END), size);
    EXPECT_EQ("lseek64_SEEK_DATA", lseek64(fd, 1, SEEK_DATA), 1);
    EXPECT_EQ("lseek64_SEEK_HOLE", lseek64(fd, 1, SEEK_HOLE), size);
    EXPECT_ERR("lseek64_SEEK_DATA_at_EOF_ENXIO", lseek64(fd, size, SEEK_DATA), ENXIO);
    EXPECT_ERR("lseek64_negative_EINVAL", lseek64(fd, -2, SEEK_SET), EINVAL);
    close(fd);
}

/* Expected facts about one famfs path, from its host copy. */
struct expect_st {
    const char *what;
    int is_dir;
    off_t size;
    mode_t perm;
    uid_t uid;
    gid_t gid;
};

static struct expect_st expect_of(const char *rel)
{
    struct stat hs;
    if (stat(H(rel), &hs) != 0)
        die("stat of a host copy");
    struct expect_st e = {rel, S_ISDIR(hs.st_mode), hs.st_size, hs.st_mode & 07777, hs.st_uid,
                          hs.st_gid};
    return e;
}

/* Checks a struct stat (any layout, fields copied in) against E. */
struct st_fields {
    unsigned long long ino, dev, nlink, blocks, blksize;
    long long size;
    unsigned mode, uid, gid;
    long long mtime, atime, ctime_;
};

#define FIELDS_OF(st)                                                                    \
    ((struct st_fields){(st).st_ino,     (st).st_dev,       (st).st_nlink, (st).st_blocks,   \
                        (st).st_blksize, (st).st_size,      (st).st_mode,  (st).st_uid,      \
                        (st).st_gid,     (st).st_mtime,     (st).st_atime, (st).st_ctime})

static unsigned long long ref_dev, ref_ino_big;

static int fields_ok(const char *name, struct st_fields f, const struct expect_st *e)
{
    char why[512] = "";
    if (e->is_dir) {
        if (!S_ISDIR(f.mode))
            snprintf(why, sizeof why, "mode 0%o is not a directory", f.mode);
        else if (f.nlink < 2)
            snprintf(why, sizeof why, "directory st_nlink %llu < 2", f.nlink);
    } else {
        unsigned long long alloc = f.blocks * 512ULL;
        if (!S_ISREG(f.mode))
            snprintf(why, sizeof why, "mode 0%o is not a regular file", f.mode);
        else if (f.size != (long long)e->size)
            snprintf(why, sizeof why, "st_size %lld, expected %lld", f.size,
                     (long long)e->size);
        else if (f.blksize != (unsigned long long)TWO_MIB)
            snprintf(why, sizeof why, "st_blksize %llu, expected 2 MiB", f.blksize);
        else if (alloc < (unsigned long long)f.size)
            snprintf(why, sizeof why, "st_blocks %llu (x512 = %llu) < st_size %lld", f.blocks,
                     alloc, f.size);
        else if (alloc % TWO_MIB != 0)
            snprintf(why, sizeof why,
                     "st_blocks %llu: %llu allocated bytes are not whole 2 MiB units",
                     f.blocks, alloc);
        else if (f.nlink != 1)
            snprintf(why, sizeof why, "st_nlink %llu, expected 1", f.nlink);
    }
    if (!why[0] && (f.mode & 07777) != e->perm)
        snprintf(why, sizeof why, "permission bits 0%o, expected 0%o", f.mode & 07777, e->perm);
    if (!why[0] && (f.uid != e->uid || f.gid != e->gid))
        snprintf(why, sizeof why, "uid/gid %u/%u, expected %u/%u", f.uid, f.gid, e->uid, e->gid);
    if (!why[0] && ref_dev && f.dev != ref_dev)
        snprintf(why, sizeof why, "st_dev %llu differs from the mount's %llu", f.dev, ref_dev);
    if (!why[0] && f.ino == 0)
        snprintf(why, sizeof why, "st_ino is 0");
    if (!why[0] && f.mtime <= 0)
        snprintf(why, sizeof why, "st_mtime %lld is not set", f.mtime);
    return check(name, !why[0], 0, "%s: %s", e->what, why);
}

static void area_stat(void)
{
    const char *rel = "big.bin";
    struct expect_st e = expect_of(rel), ed = expect_of("sub"), em = expect_of("");
    struct stat st;
    struct stat64 st64;
    char name[128];

    errno = 0;
    if (stat(F(rel), &st) != 0) {
        fail("stat", errno, "stat(%s)", F(rel));
        return;
    }
    ref_dev = st.st_dev;
    ref_ino_big = st.st_ino;
    fields_ok("stat", FIELDS_OF(st), &e);
    long long mtime = st.st_mtime;

#define STAT_CASE(nm, call, buf)                                                         \
    do {                                                                                 \
        memset(&(buf), 0, sizeof(buf));                                                  \
        errno = 0;                                                                       \
        int r_ = (call);                                                                 \
        if (r_ != 0)                                                                     \
            fail((nm), errno, "%s returned %d", #call, r_);                              \
        else if (fields_ok((nm), FIELDS_OF(buf), &e))                                    \
            check((nm "_same_ino"), (buf).st_ino == ref_ino_big, 0,                      \
                  "st_ino %llu, stat gave %llu", (unsigned long long)(buf).st_ino,       \
                  ref_ino_big);                                                          \
    } while (0)

    int fd = open_or_fail("stat_open", rel, O_RDONLY);
    int dfd = open(F(""), O_RDONLY | O_DIRECTORY);
    if (dfd < 0)
        fail("stat_open_dir", errno, "open of the mount point failed");
    STAT_CASE("lstat", lstat(F(rel), &st), st);
    STAT_CASE("fstat", fstat(fd, &st), st);
    STAT_CASE("fstatat_AT_FDCWD", fstatat(AT_FDCWD, F(rel), &st, 0), st);
    STAT_CASE("fstatat_AT_SYMLINK_NOFOLLOW",
              fstatat(AT_FDCWD, F(rel), &st, AT_SYMLINK_NOFOLLOW), st);
    STAT_CASE("fstatat_famfs_dirfd", fstatat(dfd, rel, &st, 0), st);
    STAT_CASE("fstatat_AT_EMPTY_PATH", fstatat(fd, "", &st, AT_EMPTY_PATH), st);
    STAT_CASE("stat64", stat64(F(rel), &st64), st64);
    STAT_CASE("lstat64", lstat64(F(rel), &st64), st64);
    STAT_CASE("fstat64", fstat64(fd, &st64), st64);
    STAT_CASE("fstatat64", fstatat64(AT_FDCWD, F(rel), &st64, 0), st64);
    STAT_CASE("fstatat64_famfs_dirfd", fstatat64(dfd, rel, &st64, 0), st64);
    STAT_CASE("fstatat64_AT_EMPTY_PATH", fstatat64(fd, "", &st64, AT_EMPTY_PATH), st64);
    STAT_CASE("__xstat", __xstat(STAT_VER, F(rel), &st), st);
    STAT_CASE("__lxstat", __lxstat(STAT_VER, F(rel), &st), st);
    STAT_CASE("__fxstat", __fxstat(STAT_VER, fd, &st), st);
    STAT_CASE("__fxstatat", __fxstatat(STAT_VER, AT_FDCWD, F(rel), &st, 0), st);
    STAT_CASE("__fxstatat_famfs_dirfd", __fxstatat(STAT_VER, dfd, rel, &st, 0), st);
    STAT_CASE("__xstat64", __xstat64(STAT_VER, F(rel), &st64), st64);
    STAT_CASE("__lxstat64", __lxstat64(STAT_VER, F(rel), &st64), st64);
    STAT_CASE("__fxstat64", __fxstat64(STAT_VER, fd, &st64), st64);
    STAT_CASE("__fxstatat64", __fxstatat64(STAT_VER, AT_FDCWD, F(rel), &st64, 0), st64);

    /* statx. */
    struct statx sx;
    memset(&sx, 0, sizeof sx);
    errno = 0;
    int r = statx(AT_FDCWD, F(rel), 0, STATX_BASIC_STATS, &sx);
    if (r != 0) {
        fail("statx", errno, "statx(%s)", F(rel));
    } else {
        struct st_fields f = {sx.stx_ino,
                              makedev(sx.stx_dev_major, sx.stx_dev_minor),
                              sx.stx_nlink,
                              sx.stx_blocks,
                              sx.stx_blksize,
                              (long long)sx.stx_size,
                              sx.stx_mode,
                              sx.stx_uid,
                              sx.stx_gid,
                              sx.stx_mtime.tv_sec,
                              sx.stx_atime.tv_sec,
                              sx.stx_ctime.tv_sec};
        if (fields_ok("statx", f, &e))
            check("statx_same_ino", sx.stx_ino == ref_ino_big, 0, "stx_ino %llu vs %llu",
                  (unsigned long long)sx.stx_ino, ref_ino_big);
        check("statx_mask_basic", (sx.stx_mask & (STATX_TYPE | STATX_MODE | STATX_SIZE |
                                                  STATX_INO | STATX_BLOCKS)) ==
                                      (STATX_TYPE | STATX_MODE | STATX_SIZE | STATX_INO |
                                       STATX_BLOCKS),
              0, "stx_mask 0x%x lacks basic fields", sx.stx_mask);
    }
    memset(&sx, 0, sizeof sx);
    errno = 0;
    r = statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx);
    check("statx_AT_EMPTY_PATH", r == 0 && sx.stx_size == (unsigned long long)e.size &&
                                     sx.stx_ino == ref_ino_big,
          errno, "statx(fd, \"\", AT_EMPTY_PATH) = %d, size %llu", r,
          (unsigned long long)sx.stx_size);
    memset(&sx, 0, sizeof sx);
    errno = 0;
    r = statx(dfd, "sub", 0, STATX_BASIC_STATS, &sx);
    check("statx_famfs_dirfd_dir", r == 0 && S_ISDIR(sx.stx_mode) && sx.stx_nlink >= 2, errno,
          "statx(dirfd, sub) = %d, mode 0%o", r, sx.stx_mode);
    EXPECT_ERR("statx_missing_ENOENT", statx(AT_FDCWD, F("missing"), 0, STATX_BASIC_STATS, &sx),
               ENOENT);

    /* Every fixture file: same st_dev, distinct st_ino, stable per path. */
    static const char *files[] = {"mid.bin",   "small.bin", "one.bin",   "exact.bin",
                                  "ro.bin",    "text.txt",  "sub/a.txt", "sub/b.bin",
                                  "sub/deeper/c.txt"};
    unsigned long long inos[16];
    int nf = (int)(sizeof files / sizeof files[0]);
    for (int i = 0; i < nf; i++) {
        struct expect_st ef = expect_of(files[i]);
        snprintf(name, sizeof name, "stat_%s", files[i]);
        errno = 0;
        if (stat(F(files[i]), &st) != 0) {
            fail(name, errno, "stat(%s)", F(files[i]));
            inos[i] = 0;
            continue;
        }
        fields_ok(name, FIELDS_OF(st), &ef);
        inos[i] = st.st_ino;
        struct stat again;
        snprintf(name, sizeof name, "stat_%s_ino_stable", files[i]);
        check(name, stat(F(files[i]), &again) == 0 && again.st_ino == st.st_ino, errno,
              "st_ino changed between two stats");
        snprintf(name, sizeof name, "stat_%s_mtime_is_mount_time", files[i]);
        check(name, st.st_mtime == mtime, 0, "st_mtime %lld differs from big.bin's %lld",
              (long long)st.st_mtime, mtime);
    }
    int distinct = 1;
    for (int i = 0; i < nf; i++)
        for (int j = 0; j < nf; j++)
            if ((i != j && inos[i] == inos[j]) || inos[i] == ref_ino_big)
                distinct = 0;
    check("stat_inodes_distinct", distinct, 0, "two files share an st_ino");
    if (host_exists("empty.txt")) {
        struct expect_st ez = expect_of("empty.txt");
        errno = 0;
        if (stat(F("empty.txt"), &st) != 0)
            fail("stat_empty.txt", errno, "stat");
        else
            check("stat_empty.txt", S_ISREG(st.st_mode) && st.st_size == 0 &&
                                        (st.st_mode & 07777) == ez.perm,
                  0, "mode 0%o size %ld", st.st_mode, (long)st.st_size);
    }

    /* Directories. */
    errno = 0;
    r = stat(F("sub"), &st);
    if (r != 0)
        fail("stat_dir", errno, "stat(%s)", F("sub"));
    else
        fields_ok("stat_dir", FIELDS_OF(st), &ed);
    errno = 0;
    r = stat(F(""), &st);
    if (r != 0) {
        fail("stat_mountpoint", errno, "stat(%s)", F(""));
    } else {
        /* The root's mode and owner come from mkfs, not from the host tree. */
        em.perm = st.st_mode & 07777;
        em.uid = st.st_uid;
        em.gid = st.st_gid;
        fields_ok("stat_mountpoint", FIELDS_OF(st), &em);
    }
    unsigned long long root_ino = r == 0 ? st.st_ino : 0;
    errno = 0;
    r = stat(F("sub/"), &st);
    check("stat_dir_trailing_slash", r == 0 && S_ISDIR(st.st_mode), errno, "stat(%s)",
          F("sub/"));
    errno = 0;
    r = stat(F("sub/.."), &st);
    check("stat_dotdot_is_mountpoint", r == 0 && st.st_ino == root_ino, errno,
          "stat(sub/..) = %d ino %llu, root ino %llu", r, (unsigned long long)st.st_ino,
          root_ino);
    errno = 0;
    r = fstat(dfd, &st);
    check("fstat_dir_fd", r == 0 && S_ISDIR(st.st_mode) && st.st_ino == root_ino, errno,
          "fstat(dirfd) = %d", r);
    errno = 0;
    r = fstatat(dfd, "", &st, AT_EMPTY_PATH);
    check("fstatat_AT_EMPTY_PATH_dir_fd", r == 0 && S_ISDIR(st.st_mode), errno, "r=%d", r);

    /* Errors. */
    EXPECT_ERR("stat_missing_ENOENT", stat(F("missing"), &st), ENOENT);
    EXPECT_ERR("lstat_missing_ENOENT", lstat(F("missing"), &st), ENOENT);
    EXPECT_ERR("stat64_missing_ENOENT", stat64(F("missing"), &st64), ENOENT);
    EXPECT_ERR("__xstat_missing_ENOENT", __xstat(STAT_VER, F("missing"), &st), ENOENT);
    EXPECT_ERR("__lxstat64_missing_ENOENT", __lxstat64(STAT_VER, F("missing"), &st64), ENOENT);
    EXPECT_ERR("fstatat_famfs_dirfd_missing_ENOENT", fstatat(dfd, "missing", &st, 0), ENOENT);
    EXPECT_ERR("stat_file_trailing_slash_ENOTDIR", stat(F("big.bin/"), &st), ENOTDIR);
    EXPECT_ERR("stat_file_as_dir_ENOTDIR", stat(F("big.bin/x"), &st), ENOTDIR);
    EXPECT_ERR("lstat_file_trailing_slash_ENOTDIR", lstat(F("big.bin/"), &st), ENOTDIR);
    EXPECT_ERR("fstatat_empty_path_without_flag_ENOENT", fstatat(fd, "", &st, 0), ENOENT);
    EXPECT_ERR("fstatat_relative_on_file_fd_ENOTDIR", fstatat(fd, "x", &st, 0), ENOTDIR);
    /* `..` of the mount point is its parent, which the kernel answers: the
     * same result as a stat of the parent itself (ENOENT where the mount
     * point's parent does not exist for the kernel either). */
    {
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s", MNT);
        char *slash = strrchr(parent, '/');
        if (slash == parent)
            slash[1] = 0;
        else if (slash)
            *slash = 0;
        struct stat pst;
        errno = 0;
        int prc = stat(parent, &pst);
        int perr = errno;
        errno = 0;
        int rc = stat(F(".."), &st);
        int err = errno;
        check("stat_parent_of_mountpoint_is_its_parent",
              rc == prc && (rc != 0 ? err == perr
                                    : st.st_ino == pst.st_ino && st.st_dev == pst.st_dev),
              err, "stat(MNT/..) returned %d, stat(%s) %d", rc, parent, prc);
    }
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);
}

static void area_access(void)
{
    EXPECT_EQ("access_F_OK", access(F("big.bin"), F_OK), 0);
    EXPECT_EQ("access_R_OK", access(F("big.bin"), R_OK), 0);
    EXPECT_EQ("access_W_OK_0644", access(F("big.bin"), W_OK), 0);
    EXPECT_EQ("access_R_OK_W_OK_0644", access(F("scratch_write.bin"), R_OK | W_OK), 0);
    EXPECT_ERR("access_X_OK_0644_EACCES", access(F("big.bin"), X_OK), EACCES);
    if (is_root)
        EXPECT_EQ("access_W_OK_0444_as_root", access(F("ro.bin"), W_OK), 0);
    else
        EXPECT_ERR("access_W_OK_0444_EACCES", access(F("ro.bin"), W_OK), EACCES);
    EXPECT_EQ("access_R_OK_0444", access(F("ro.bin"), R_OK), 0);
    EXPECT_EQ("access_dir_R_OK_X_OK", access(F("sub"), R_OK | X_OK), 0);
    EXPECT_EQ("access_mountpoint_R_OK_X_OK", access(F(""), R_OK | X_OK), 0);
    EXPECT_EQ("access_dir_trailing_slash", access(F("sub/"), F_OK), 0);
    EXPECT_ERR("access_missing_ENOENT", access(F("missing"), F_OK), ENOENT);
    EXPECT_ERR("access_missing_R_OK_ENOENT", access(F("sub/missing"), R_OK), ENOENT);
    EXPECT_ERR("access_file_trailing_slash_ENOTDIR", access(F("big.bin/"), F_OK), ENOTDIR);
    EXPECT_ERR("access_bad_mode_EINVAL", access(F("big.bin"), 0x100), EINVAL);

    EXPECT_EQ("faccessat_AT_FDCWD", faccessat(AT_FDCWD, F("big.bin"), R_OK, 0), 0);
    EXPECT_EQ("faccessat_AT_EACCESS", faccessat(AT_FDCWD, F("big.bin"), R_OK | W_OK, AT_EACCESS),
              0);
    EXPECT_ERR("faccessat_missing_ENOENT", faccessat(AT_FDCWD, F("missing"), R_OK, 0), ENOENT);
    int dfd = open(F("sub"), O_RDONLY | O_DIRECTORY);
    if (dfd < 0) {
        fail("faccessat_famfs_dirfd", errno, "open(%s) failed", F("sub"));
    } else {
        EXPECT_EQ("faccessat_famfs_dirfd", faccessat(dfd, "a.txt", R_OK, 0), 0);
        EXPECT_ERR("faccessat_famfs_dirfd_missing_ENOENT", faccessat(dfd, "zz", F_OK, 0),
                   ENOENT);
        EXPECT_EQ("faccessat_famfs_dirfd_dotdot", faccessat(dfd, "../big.bin", R_OK, 0), 0);
        close(dfd);
    }
    EXPECT_EQ("euidaccess_R_OK", euidaccess(F("big.bin"), R_OK), 0);
    EXPECT_EQ("euidaccess_W_OK", euidaccess(F("big.bin"), W_OK), 0);
    EXPECT_ERR("euidaccess_missing_ENOENT", euidaccess(F("missing"), R_OK), ENOENT);
    if (is_root)
        EXPECT_EQ("euidaccess_W_OK_0444_as_root", euidaccess(F("ro.bin"), W_OK), 0);
    else
        EXPECT_ERR("euidaccess_W_OK_0444_EACCES", euidaccess(F("ro.bin"), W_OK), EACCES);
    EXPECT_EQ("eaccess_R_OK", eaccess(F("sub/a.txt"), R_OK), 0);
}

static void area_statfs(void)
{
    struct statfs sf;
    memset(&sf, 0, sizeof sf);
    errno = 0;
    int r = statfs(F(""), &sf);
    check("statfs_mountpoint_magic", r == 0 && (unsigned long)sf.f_type == 0x87b282fdUL, errno,
          "statfs = %d, f_type 0x%lx", r, (unsigned long)sf.f_type);
    check("statfs_sizes", r == 0 && sf.f_bsize > 0 && sf.f_blocks > 0 && sf.f_bfree <= sf.f_blocks,
          0, "f_bsize %ld f_blocks %lu f_bfree %lu", (long)sf.f_bsize,
          (unsigned long)sf.f_blocks, (unsigned long)sf.f_bfree);
    memset(&sf, 0, sizeof sf);
    errno = 0;
    r = statfs(F("sub/a.txt"), &sf);
    check("statfs_file_magic", r == 0 && (unsigned long)sf.f_type == 0x87b282fdUL, errno,
          "statfs = %d, f_type 0x%lx", r, (unsigned long)sf.f_type);
    EXPECT_ERR("statfs_missing_ENOENT", statfs(F("missing"), &sf), ENOENT);
    int fd = open_or_fail("fstatfs_open", "big.bin", O_RDONLY);
    if (fd >= 0) {
        memset(&sf, 0, sizeof sf);
        errno = 0;
        r = fstatfs(fd, &sf);
        check("fstatfs_magic", r == 0 && (unsigned long)sf.f_type == 0x87b282fdUL, errno,
              "fstatfs = %d, f_type 0x%lx", r, (unsigned long)sf.f_type);
        close(fd);
    }
    /* The 64-bit names (what _FILE_OFFSET_BITS=64 programs call). */
    struct statfs64 sf64;
    memset(&sf64, 0, sizeof sf64);
    errno = 0;
    r = statfs64(F(""), &sf64);
    check("statfs64_magic", r == 0 && (unsigned long)sf64.f_type == 0x87b282fdUL, errno,
          "statfs64 = %d, f_type 0x%lx", r, (unsigned long)sf64.f_type);
    fd = open(F("big.bin"), O_RDONLY);
    if (fd >= 0) {
        memset(&sf64, 0, sizeof sf64);
        errno = 0;
        r = fstatfs64(fd, &sf64);
        check("fstatfs64_magic", r == 0 && (unsigned long)sf64.f_type == 0x87b282fdUL, errno,
              "fstatfs64 = %d, f_type 0x%lx", r, (unsigned long)sf64.f_type);
        close(fd);
    }
}

/* Reads N bytes from FD (current offset) and checks they are REL at OFF. */
static void read_expect(const char *name, int fd, size_t n, const char *rel, off_t off)
{
    unsigned char buf[4096];
    errno = 0;
    ssize_t r = read(fd, buf, n);
    check_read(name, r, errno, n, rel, buf, off);
}

static void area_dup(void)
{
    const char *rel = "big.bin";
    int fd = open_or_fail("dup_open", rel, O_RDONLY);
    if (fd < 0)
        return;
    errno = 0;
    int d = dup(fd);
    if (!check("dup", d >= 0 && d != fd, errno, "dup returned %d", d))
        return;
    read_expect("dup_orig_reads", fd, 100, rel, 0);
    EXPECT_EQ("dup_shares_offset", lseek(d, 0, SEEK_CUR), 100);
    read_expect("dup_reads_at_shared_offset", d, 50, rel, 100);
    EXPECT_EQ("dup_shares_offset_back", lseek(fd, 0, SEEK_CUR), 150);
    EXPECT_EQ("dup_FD_CLOEXEC_clear", fcntl(d, F_GETFD), 0);
    EXPECT_EQ("dup_close_dup", close(d), 0);
    read_expect("dup_orig_usable_after_closing_dup", fd, 10, rel, 150);

    /* dup2 to a free number. */
    errno = 0;
    int d2 = dup2(fd, 800);
    check("dup2", d2 == 800, errno, "dup2(fd, 800) returned %d", d2);
    EXPECT_EQ("dup2_FD_CLOEXEC_clear", fcntl(800, F_GETFD), 0);
    read_expect("dup2_shares_offset", 800, 20, rel, 160);
    EXPECT_EQ("dup2_same_fd_returns_fd", dup2(fd, fd), fd);
    struct stat st;
    errno = 0;
    int r = fstat(800, &st);
    check("dup2_fstat", r == 0 && st.st_size == (off_t)host(rel)->len, errno, "fstat = %d", r);

    /* dup2 over an existing famfs fd replaces it. */
    int other = open_or_fail("dup2_over_famfs_open", "small.bin", O_RDONLY);
    if (other >= 0) {
        errno = 0;
        r = dup2(fd, other);
        check("dup2_over_famfs_fd", r == other, errno, "dup2 returned %d", r);
        errno = 0;
        r = fstat(other, &st);
        check("dup2_over_famfs_fd_is_new_file",
              r == 0 && st.st_size == (off_t)host(rel)->len && st.st_ino == famfs_ino(rel), errno,
              "fstat size %ld, expected big.bin's %zu", (long)st.st_size, host(rel)->len);
        read_expect("dup2_over_famfs_fd_reads_new_file", other, 30, rel, 180);
        close(other);
    }
    /* dup2 over a kernel fd (a pipe end) replaces it too. */
    int pfd[2];
    if (pipe(pfd) == 0) {
        errno = 0;
        r = dup2(fd, pfd[0]);
        check("dup2_over_kernel_fd", r == pfd[0], errno, "dup2 returned %d", r);
        read_expect("dup2_over_kernel_fd_reads", pfd[0], 10, rel, 210);
        close(pfd[0]);
        close(pfd[1]);
    }
    /* dup2 a kernel fd over a famfs fd: it becomes the kernel file. */
    int k = open("/dev/null", O_RDONLY);
    int over = dup(fd);
    if (k >= 0 && over >= 0) {
        errno = 0;
        r = dup2(k, over);
        check("dup2_kernel_over_famfs_fd", r == over, errno, "dup2 returned %d", r);
        char c;
        EXPECT_EQ("dup2_kernel_over_famfs_fd_reads_kernel_file", read(over, &c, 1), 0);
        close(over);
        close(k);
    }

    /* dup3. */
    errno = 0;
    int d3 = dup3(fd, 801, O_CLOEXEC);
    check("dup3_O_CLOEXEC", d3 == 801, errno, "dup3 returned %d", d3);
    EXPECT_EQ("dup3_O_CLOEXEC_sets_FD_CLOEXEC", fcntl(801, F_GETFD), FD_CLOEXEC);
    read_expect("dup3_shares_offset", 801, 10, rel, 220);
    EXPECT_ERR("dup3_same_fd_EINVAL", dup3(fd, fd, 0), EINVAL);
    errno = 0;
    r = dup3(fd, 802, 0);
    check("dup3_no_flags", r == 802 && fcntl(802, F_GETFD) == 0, errno, "dup3 returned %d", r);
    close(801);
    close(802);

    /* fcntl. */
    errno = 0;
    int fdup = fcntl(fd, F_DUPFD, 850);
    check("fcntl_F_DUPFD", fdup >= 850, errno, "F_DUPFD returned %d", fdup);
    EXPECT_EQ("fcntl_F_DUPFD_no_cloexec", fcntl(fdup, F_GETFD), 0);
    read_expect("fcntl_F_DUPFD_shares_offset", fdup, 10, rel, 230);
    errno = 0;
    int fdc = fcntl(fd, F_DUPFD_CLOEXEC, 860);
    check("fcntl_F_DUPFD_CLOEXEC", fdc >= 860, errno, "F_DUPFD_CLOEXEC returned %d", fdc);
    EXPECT_EQ("fcntl_F_DUPFD_CLOEXEC_flag", fcntl(fdc, F_GETFD), FD_CLOEXEC);
    EXPECT_EQ("fcntl_F_SETFD", fcntl(fdup, F_SETFD, FD_CLOEXEC), 0);
    EXPECT_EQ("fcntl_F_GETFD_after_F_SETFD", fcntl(fdup, F_GETFD), FD_CLOEXEC);
    EXPECT_EQ("fcntl_F_SETFD_clear", fcntl(fdup, F_SETFD, 0), 0);
    EXPECT_EQ("fcntl_F_GETFD_after_clear", fcntl(fdup, F_GETFD), 0);
    EXPECT_EQ("fcntl_F_SETFD_does_not_affect_dup", fcntl(fd, F_GETFD), 0);
    errno = 0;
    int fl = fcntl(fd, F_GETFL);
    check("fcntl_F_GETFL_O_RDONLY", fl >= 0 && (fl & O_ACCMODE) == O_RDONLY, errno,
          "F_GETFL = 0x%x", fl);
    EXPECT_EQ("fcntl64_F_GETFD", fcntl64(fdc, F_GETFD), FD_CLOEXEC);
    errno = 0;
    int f64 = fcntl64(fd, F_DUPFD, 870);
    check("fcntl64_F_DUPFD", f64 >= 870, errno, "returned %d", f64);
    errno = 0;
    fl = fcntl64(fd, F_GETFL);
    check("fcntl64_F_GETFL", fl >= 0 && (fl & O_ACCMODE) == O_RDONLY, errno, "0x%x", fl);
    if (f64 >= 0)
        close(f64);
    close(fdc);
    close(fdup);
    int rw = open_or_fail("fcntl_open_O_RDWR", "scratch_write.bin", O_RDWR);
    if (rw >= 0) {
        errno = 0;
        fl = fcntl(rw, F_GETFL);
        check("fcntl_F_GETFL_O_RDWR", fl >= 0 && (fl & O_ACCMODE) == O_RDWR, errno,
              "F_GETFL = 0x%x", fl);
        close(rw);
    }
    int wo = open(F("scratch_write.bin"), O_WRONLY);
    if (wo >= 0) {
        errno = 0;
        fl = fcntl(wo, F_GETFL);
        check("fcntl_F_GETFL_O_WRONLY", fl >= 0 && (fl & O_ACCMODE) == O_WRONLY, errno,
              "F_GETFL = 0x%x", fl);
        close(wo);
    }

    /* Closing the original leaves the dup working (one open file description). */
    int keep = dup(fd);
    off_t at = lseek(fd, 0, SEEK_CUR);
    close(fd);
    close(800);
    read_expect("dup_usable_after_closing_original", keep, 10, rel, at);
    close(keep);
    EXPECT_ERR("dup_closed_fd_EBADF", dup(fd), EBADF);
    EXPECT_ERR("dup2_closed_fd_EBADF", dup2(fd, 803), EBADF);
    EXPECT_ERR("fcntl_closed_fd_EBADF", fcntl(fd, F_GETFL), EBADF);
}

static void area_mmap(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    const char *rel = "big.bin";
    struct hostfile *h = host(rel);
    size_t len = h->len;
    int fd = open_or_fail("mmap_open", rel, O_RDONLY);
    if (fd < 0)
        return;

    errno = 0;
    unsigned char *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        fail("mmap_MAP_SHARED", errno, "mmap of %zu bytes failed", len);
    } else {
        check_bytes("mmap_MAP_SHARED", rel, p, len, 0);
        EXPECT_EQ("madvise_SEQUENTIAL", madvise(p, len, MADV_SEQUENTIAL), 0);
        EXPECT_EQ("madvise_WILLNEED", madvise(p, len, MADV_WILLNEED), 0);
        EXPECT_EQ("madvise_RANDOM", madvise(p, (size_t)pg, MADV_RANDOM), 0);
        EXPECT_EQ("msync_MS_ASYNC_readonly", msync(p, (size_t)pg, MS_ASYNC), 0);
        /* Shrink with mremap: same address, bytes unchanged. */
        size_t half = (len / 2) & ~((size_t)pg - 1);
        errno = 0;
        unsigned char *q = mremap(p, len, half, 0);
        if (q == MAP_FAILED) {
            fail("mremap_shrink", errno, "mremap(%zu -> %zu) failed", len, half);
            munmap(p, len);
        } else {
            check("mremap_shrink_same_address", q == p, 0, "moved from %p to %p", (void *)p,
                  (void *)q);
            check_bytes("mremap_shrink_bytes", rel, q, half, 0);
            EXPECT_EQ("munmap", munmap(q, half), 0);
        }
    }

    /* The same bytes through read(). */
    unsigned char *rb = malloc(len);
    ssize_t n = pread(fd, rb, len, 0);
    errno = 0;
    p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (p != MAP_FAILED) {
        check("mmap_equals_read", n == (ssize_t)len && memcmp(p, rb, len) == 0, 0,
              "mapping and pread disagree (pread %zd)", n);
        munmap(p, len);
    }
    free(rb);

    /* mmap64; offsets of one page and of 2 MiB. */
    errno = 0;
    p = mmap64(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        fail("mmap64", errno, "mmap64 failed");
    else {
        check_bytes("mmap64", rel, p, len, 0);
        munmap(p, len);
    }
    errno = 0;
    p = mmap(NULL, (size_t)pg * 3, PROT_READ, MAP_SHARED, fd, pg);
    if (p == MAP_FAILED)
        fail("mmap_offset_one_page", errno, "mmap at offset %ld failed", pg);
    else {
        check_bytes("mmap_offset_one_page", rel, p, (size_t)pg * 3, pg);
        munmap(p, (size_t)pg * 3);
    }
    errno = 0;
    p = mmap(NULL, len - TWO_MIB, PROT_READ, MAP_SHARED, fd, TWO_MIB);
    if (p == MAP_FAILED)
        fail("mmap_offset_2MiB", errno, "mmap at offset 2 MiB failed");
    else {
        check_bytes("mmap_offset_2MiB", rel, p, len - TWO_MIB, TWO_MIB);
        munmap(p, len - TWO_MIB);
    }
    errno = 0;
    p = mmap(NULL, (size_t)pg, PROT_READ, MAP_SHARED, fd, TWO_MIB - pg);
    if (p == MAP_FAILED)
        fail("mmap_page_before_2MiB", errno, "mmap failed");
    else {
        check_bytes("mmap_page_before_2MiB", rel, p, (size_t)pg, TWO_MIB - pg);
        munmap(p, (size_t)pg);
    }
    errno = 0;
    p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 100);
    expect_err("mmap_unaligned_offset_EINVAL", p == MAP_FAILED, 0, errno, EINVAL);
    if (p != MAP_FAILED)
        munmap(p, 4096);
    errno = 0;
    p = mmap(NULL, 0, PROT_READ, MAP_SHARED, fd, 0);
    expect_err("mmap_zero_length_EINVAL", p == MAP_FAILED, 0, errno, EINVAL);
    errno = 0;
    p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    expect_err("mmap_MAP_SHARED_PROT_WRITE_on_O_RDONLY_EACCES", p == MAP_FAILED, 0, errno,
               EACCES);
    if (p != MAP_FAILED)
        munmap(p, 4096);

    /* MAP_PRIVATE with PROT_WRITE: copy-on-write. */
    errno = 0;
    p = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        fail("mmap_MAP_PRIVATE_write", errno, "mmap MAP_PRIVATE failed");
    } else {
        check_bytes("mmap_MAP_PRIVATE_bytes", rel, p, (size_t)pg * 2, 0);
        memset(p + 10, 0xA5, 100);
        unsigned char b[100];
        check("mmap_MAP_PRIVATE_write_visible_in_mapping", p[10] == 0xA5 && p[109] == 0xA5, 0,
              "mapping did not keep the write");
        check("mmap_MAP_PRIVATE_write_not_in_file",
              pread(fd, b, 100, 10) == 100 && memcmp(b, h->data + 10, 100) == 0, errno,
              "the private write reached the file");
        int fd2 = open(F(rel), O_RDONLY);
        unsigned char *p2 =
            fd2 >= 0 ? mmap(NULL, (size_t)pg, PROT_READ, MAP_SHARED, fd2, 0) : MAP_FAILED;
        if (p2 != MAP_FAILED) {
            check_bytes("mmap_MAP_PRIVATE_write_not_in_other_mappings", rel, p2 + 10, 100, 10);
            munmap(p2, (size_t)pg);
        }
        if (fd2 >= 0)
            close(fd2);
        munmap(p, (size_t)pg * 2);
    }

    /* The mapping outlives the fd. */
    p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p != MAP_FAILED) {
        check_bytes("mmap_survives_close", rel, p, len, 0);
        munmap(p, len);
    } else {
        fail("mmap_survives_close", errno, "mmap failed");
    }

    /* Small file: mapping length below a page. */
    const char *srel = "small.bin";
    int sfd = open_or_fail("mmap_small_open", srel, O_RDONLY);
    if (sfd >= 0) {
        errno = 0;
        p = mmap(NULL, host(srel)->len, PROT_READ, MAP_PRIVATE, sfd, 0);
        if (p == MAP_FAILED)
            fail("mmap_small_MAP_PRIVATE", errno, "mmap failed");
        else {
            check_bytes("mmap_small_MAP_PRIVATE", srel, p, host(srel)->len, 0);
            munmap(p, host(srel)->len);
        }
        close(sfd);
    }

    /* Writable shared mapping of a file opened O_RDWR, msync. */
    const char *wrel = "scratch_mmap.bin";
    size_t wlen = host(wrel)->len;
    int wfd = open_or_fail("mmap_rw_open", wrel, O_RDWR);
    if (wfd >= 0) {
        errno = 0;
        p = mmap(NULL, wlen, PROT_READ | PROT_WRITE, MAP_SHARED, wfd, 0);
        if (p == MAP_FAILED) {
            fail("mmap_MAP_SHARED_PROT_WRITE", errno, "mmap failed");
        } else {
            check_bytes("mmap_MAP_SHARED_PROT_WRITE_bytes", wrel, p, wlen, 0);
            unsigned char pat[300];
            fill_pattern(pat, sizeof pat, 9);
            memcpy(p + 5000, pat, sizeof pat);
            EXPECT_EQ("msync_MS_SYNC", msync(p, wlen, MS_SYNC), 0);
            EXPECT_EQ("msync_MS_INVALIDATE", msync(p, (size_t)pg, MS_INVALIDATE), 0);
            check_reads_back("mmap_MAP_SHARED_write_reaches_file", wrel, pat, sizeof pat, 5000);
            /* And a pwrite is visible in the mapping. */
            fill_pattern(pat, sizeof pat, 10);
            if (pwrite(wfd, pat, sizeof pat, 9000) == (ssize_t)sizeof pat)
                check("mmap_sees_pwrite", memcmp(p + 9000, pat, sizeof pat) == 0, 0,
                      "the mapping does not show a pwrite");
            else
                fail("mmap_sees_pwrite", errno, "pwrite failed");
            munmap(p, wlen);
        }
        close(wfd);
        restore_and_verify("mmap_restore_original_bytes", wrel);
    }
}

/* ------------------------------------------------------------------------ */
/* Directories */

#define MAX_ENTRIES 64
struct listing {
    int n;
    char names[MAX_ENTRIES][256];
    unsigned char types[MAX_ENTRIES];
    unsigned long long inos[MAX_ENTRIES];
    int dup; /* a name seen twice */
};

static void listing_add(struct listing *l, const char *name, unsigned char type,
                        unsigned long long ino)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0) {
            l->dup = 1;
            return;
        }
    if (l->n == MAX_ENTRIES)
        return;
    snprintf(l->names[l->n], 256, "%s", name);
    l->types[l->n] = type;
    l->inos[l->n] = ino;
    l->n++;
}

/* What the famfs directory REL must list: the host copy's entries plus . and .. */
static struct listing expected_listing(const char *rel)
{
    struct listing l = {0};
    listing_add(&l, ".", DT_DIR, 0);
    listing_add(&l, "..", DT_DIR, 0);
    /* Every mount's root also holds the metadata directory. */
    if (rel[0] == '\0')
        listing_add(&l, ".meta", DT_DIR, 0);
    DIR *d = opendir(H(rel));
    if (!d)
        die("opendir of a host copy");
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char sub[PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%s", H(rel), e->d_name);
        struct stat st;
        if (lstat(sub, &st) != 0)
            die("lstat of a host copy");
        listing_add(&l, e->d_name, S_ISDIR(st.st_mode) ? DT_DIR : DT_REG, 0);
    }
    closedir(d);
    return l;
}

/* Compares a famfs listing with the expected one (names, each once, types). */
static void check_listing(const char *name, const struct listing *got, const char *rel)
{
    struct listing want = expected_listing(rel);
    if (got->dup) {
        fail(name, 0, "%s: a name was listed twice", rel);
        return;
    }
    for (int i = 0; i < want.n; i++) {
        int found = -1;
        for (int j = 0; j < got->n; j++)
            if (strcmp(got->names[j], want.names[i]) == 0)
                found = j;
        if (found < 0) {
            fail(name, 0, "%s: entry '%s' missing (%d listed, %d expected)", rel, want.names[i],
                 got->n, want.n);
            return;
        }
        if (got->types[found] != want.types[i]) {
            fail(name, 0, "%s: entry '%s' has d_type %d, expected %d", rel, want.names[i],
                 got->types[found], want.types[i]);
            return;
        }
    }
    if (got->n != want.n) {
        for (int j = 0; j < got->n; j++) {
            int found = 0;
            for (int i = 0; i < want.n; i++)
                if (strcmp(got->names[j], want.names[i]) == 0)
                    found = 1;
            if (!found) {
                fail(name, 0, "%s: unexpected entry '%s'", rel, got->names[j]);
                return;
            }
        }
    }
    pass(name);
}

/* Reads a whole DIR with readdir. */
static struct listing list_readdir(DIR *d)
{
    struct listing l = {0};
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL)
        listing_add(&l, e->d_name, e->d_type, e->d_ino);
    return l;
}

static unsigned long long famfs_ino(const char *rel)
{
    struct stat st;
    return stat(F(rel), &st) == 0 ? (unsigned long long)st.st_ino : 0;
}

static int filter_bin(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 4 && strcmp(e->d_name + n - 4, ".bin") == 0;
}

static int count_bin(const struct listing *l)
{
    int c = 0;
    for (int i = 0; i < l->n; i++) {
        size_t n = strlen(l->names[i]);
        c += n > 4 && strcmp(l->names[i] + n - 4, ".bin") == 0;
    }
    return c;
}

static void area_dirs(void)
{
    /* opendir/readdir/closedir on the mount point and on subdirectories. */
    static const char *dirs[] = {"", "sub", "sub/deeper", "mk"};
    char name[128];
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        const char *rel = dirs[i];
        snprintf(name, sizeof name, "opendir_readdir_%s", rel[0] ? rel : "mountpoint");
        errno = 0;
        DIR *d = opendir(F(rel));
        if (!d) {
            fail(name, errno, "opendir(%s)", F(rel));
            continue;
        }
        struct listing l = list_readdir(d);
        int e = errno;
        if (e)
            fail(name, e, "readdir ended with an error");
        else
            check_listing(name, &l, rel);
        snprintf(name, sizeof name, "closedir_%s", rel[0] ? rel : "mountpoint");
        EXPECT_EQ(name, closedir(d), 0);
    }

    /* d_ino agrees with stat. */
    DIR *d = opendir(F("sub"));
    if (!d) {
        fail("readdir_d_ino_matches_stat", errno, "opendir failed");
    } else {
        struct listing l = list_readdir(d);
        int ok = 1;
        for (int i = 0; i < l.n; i++) {
            if (!strcmp(l.names[i], ".") || !strcmp(l.names[i], ".."))
                continue;
            char rel[300];
            snprintf(rel, sizeof rel, "sub/%s", l.names[i]);
            if (l.inos[i] != famfs_ino(rel)) {
                fail("readdir_d_ino_matches_stat", 0, "%s: d_ino %llu, st_ino %llu", rel,
                     l.inos[i], famfs_ino(rel));
                ok = 0;
                break;
            }
        }
        if (ok)
            pass("readdir_d_ino_matches_stat");

        /* rewinddir, telldir, seekdir, dirfd. */
        rewinddir(d);
        struct listing again = list_readdir(d);
        check("rewinddir", again.n == l.n && !again.dup, 0, "%d entries after rewind, %d before",
              again.n, l.n);
        rewinddir(d);
        struct dirent *e1 = readdir(d);
        errno = 0;
        long pos = telldir(d);
        check("telldir", pos != -1 && e1 != NULL, errno, "telldir = %ld", pos);
        struct dirent *e2 = readdir(d);
        char second[256] = "";
        if (e2)
            snprintf(second, sizeof second, "%s", e2->d_name);
        readdir(d);
        seekdir(d, pos);
        struct dirent *e3 = readdir(d);
        check("seekdir", e2 && e3 && strcmp(e3->d_name, second) == 0, 0,
              "after seekdir: '%s', expected '%s'", e3 ? e3->d_name : "(null)", second);
        errno = 0;
        int dfd = dirfd(d);
        struct stat st;
        check("dirfd", dfd >= 0 && fstat(dfd, &st) == 0 && S_ISDIR(st.st_mode) &&
                           st.st_ino == famfs_ino("sub"),
              errno, "dirfd = %d", dfd);
        errno = 0;
        int r = fstatat(dfd, "a.txt", &st, 0);
        check("dirfd_as_fstatat_base", r == 0 && st.st_size == (off_t)host("sub/a.txt")->len,
              errno, "fstatat(dirfd, a.txt) = %d", r);
        int afd = openat(dfd, "a.txt", O_RDONLY);
        if (afd < 0)
            fail("dirfd_as_openat_base", errno, "openat(dirfd, a.txt)");
        else {
            read_expect("dirfd_as_openat_base", afd, host("sub/a.txt")->len, "sub/a.txt", 0);
            close(afd);
        }
        closedir(d);
    }

    /* readdir64. */
    d = opendir(F(""));
    if (!d) {
        fail("readdir64", errno, "opendir failed");
    } else {
        struct listing l = {0};
        struct dirent64 *e;
        errno = 0;
        while ((e = readdir64(d)) != NULL)
            listing_add(&l, e->d_name, e->d_type, e->d_ino);
        if (errno)
            fail("readdir64", errno, "readdir64 ended with an error");
        else
            check_listing("readdir64", &l, "");
        closedir(d);
    }

    /* readdir_r (deprecated, still exported and used). */
    d = opendir(F("sub"));
    if (!d) {
        fail("readdir_r", errno, "opendir failed");
    } else {
        struct listing l = {0};
        struct dirent ent, *res;
        int rc;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        while ((rc = readdir_r(d, &ent, &res)) == 0 && res != NULL)
            listing_add(&l, res->d_name, res->d_type, res->d_ino);
#pragma GCC diagnostic pop
        if (rc != 0)
            fail("readdir_r", rc, "readdir_r returned %d", rc);
        else
            check_listing("readdir_r", &l, "sub");
        closedir(d);
    }

    d = opendir(F(""));
    if (!d) {
        fail("readdir64_r", errno, "opendir failed");
    } else {
        struct listing l = {0};
        struct dirent64 ent, *res;
        int rc;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        while ((rc = readdir64_r(d, &ent, &res)) == 0 && res != NULL)
            listing_add(&l, res->d_name, res->d_type, res->d_ino);
#pragma GCC diagnostic pop
        if (rc != 0)
            fail("readdir64_r", rc, "readdir64_r returned %d", rc);
        else
            check_listing("readdir64_r", &l, "");
        closedir(d);
    }

    /* fdopendir on an O_DIRECTORY fd. */
    int fd = open(F("sub/deeper"), O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        fail("fdopendir", errno, "open(O_DIRECTORY) failed");
    } else {
        errno = 0;
        d = fdopendir(fd);
        if (!d) {
            fail("fdopendir", errno, "fdopendir failed");
            close(fd);
        } else {
            struct listing l = list_readdir(d);
            check_listing("fdopendir", &l, "sub/deeper");
            check("fdopendir_dirfd_is_fd", dirfd(d) == fd, 0, "dirfd %d, fd %d", dirfd(d), fd);
            EXPECT_EQ("fdopendir_closedir", closedir(d), 0);
            EXPECT_ERR("closedir_closes_fd_EBADF", fcntl(fd, F_GETFD), EBADF);
        }
    }
    int ffd = open(F("big.bin"), O_RDONLY);
    if (ffd >= 0) {
        errno = 0;
        d = fdopendir(ffd);
        expect_err("fdopendir_on_file_ENOTDIR", d == NULL, 0, errno, ENOTDIR);
        if (d)
            closedir(d);
        close(ffd);
    }

    /* scandir, with alphasort and with a filter. */
    struct dirent **list = NULL;
    errno = 0;
    int n = scandir(F(""), &list, NULL, alphasort);
    if (n < 0) {
        fail("scandir", errno, "scandir(%s)", F(""));
    } else {
        struct listing l = {0};
        int sorted = 1;
        for (int i = 0; i < n; i++) {
            listing_add(&l, list[i]->d_name, list[i]->d_type, list[i]->d_ino);
            if (i > 0 && strcoll(list[i - 1]->d_name, list[i]->d_name) > 0)
                sorted = 0;
        }
        check_listing("scandir", &l, "");
        check("scandir_alphasort", sorted, 0, "entries not sorted");
        for (int i = 0; i < n; i++)
            free(list[i]);
        free(list);
    }
    list = NULL;
    errno = 0;
    n = scandir(F(""), &list, filter_bin, alphasort);
    struct listing want = expected_listing("");
    check("scandir_filter", n == count_bin(&want), errno, "%d .bin entries, expected %d", n,
          count_bin(&want));
    for (int i = 0; i > -1 && i < n; i++)
        free(list[i]);
    free(list);
    struct dirent64 **list64 = NULL;
    errno = 0;
    n = scandir64(F("sub"), &list64, NULL, alphasort64);
    if (n < 0) {
        fail("scandir64", errno, "scandir64(%s)", F("sub"));
    } else {
        struct listing l = {0};
        for (int i = 0; i < n; i++) {
            listing_add(&l, list64[i]->d_name, list64[i]->d_type, list64[i]->d_ino);
            free(list64[i]);
        }
        free(list64);
        check_listing("scandir64", &l, "sub");
    }
    list = NULL;
    errno = 0;
    n = scandir(F("missing"), &list, NULL, alphasort);
    expect_err("scandir_missing_ENOENT", n == -1, n, errno, ENOENT);

    /* Errors. */
    errno = 0;
    d = opendir(F("big.bin"));
    expect_err("opendir_file_ENOTDIR", d == NULL, 0, errno, ENOTDIR);
    if (d)
        closedir(d);
    errno = 0;
    d = opendir(F("missing"));
    expect_err("opendir_missing_ENOENT", d == NULL, 0, errno, ENOENT);
    if (d)
        closedir(d);
    errno = 0;
    d = opendir(F("sub/"));
    check("opendir_trailing_slash", d != NULL, errno, "opendir(%s)", F("sub/"));
    if (d)
        closedir(d);
    errno = 0;
    d = opendir(F("sub//deeper/../deeper/."));
    if (!d)
        fail("opendir_dot_dotdot_slashes", errno, "opendir");
    else {
        struct listing l = list_readdir(d);
        check_listing("opendir_dot_dotdot_slashes", &l, "sub/deeper");
        closedir(d);
    }
}

/* Lists a directory fd with libc's getdents64, BUFSZ bytes per call. */
static int list_getdents(int fd, size_t bufsz, struct listing *l, int *calls)
{
    char *buf = malloc(bufsz);
    *calls = 0;
    for (;;) {
        ssize_t n = getdents64(fd, buf, bufsz);
        if (n < 0) {
            free(buf);
            return -1;
        }
        if (n == 0)
            break;
        (*calls)++;
        for (ssize_t off = 0; off < n;) {
            struct dirent64 *e = (struct dirent64 *)(buf + off);
            if (e->d_reclen == 0 || off + e->d_reclen > n) {
                free(buf);
                errno = EPROTO;
                return -1;
            }
            listing_add(l, e->d_name, e->d_type, e->d_ino);
            off += e->d_reclen;
        }
    }
    free(buf);
    return 0;
}

static void area_getdents(void)
{
    static const char *dirs[] = {"", "sub"};
    char name[128];
    for (size_t i = 0; i < 2; i++) {
        const char *rel = dirs[i];
        int fd = open(F(rel), O_RDONLY | O_DIRECTORY);
        snprintf(name, sizeof name, "getdents64_%s", rel[0] ? rel : "mountpoint");
        if (fd < 0) {
            fail(name, errno, "open(%s, O_DIRECTORY)", F(rel));
            continue;
        }
        struct listing l = {0};
        int calls;
        if (list_getdents(fd, 32768, &l, &calls) != 0)
            fail(name, errno, "getdents64 failed");
        else
            check_listing(name, &l, rel);
        snprintf(name, sizeof name, "getdents64_%s_at_end_returns_0", rel[0] ? rel : "mountpoint");
        char buf[1024];
        EXPECT_EQ(name, getdents64(fd, buf, sizeof buf), 0);
        /* Rewind with lseek and list again with a small buffer: several calls. */
        snprintf(name, sizeof name, "getdents64_%s_small_buffer", rel[0] ? rel : "mountpoint");
        struct listing l2 = {0};
        if (lseek(fd, 0, SEEK_SET) != 0)
            fail(name, errno, "lseek(dirfd, 0, SEEK_SET) failed");
        else if (list_getdents(fd, 96, &l2, &calls) != 0)
            fail(name, errno, "getdents64 with a 96-byte buffer failed");
        else if (calls < 2)
            fail(name, 0, "a 96-byte buffer was enough for all %d entries in %d call(s)", l2.n,
                 calls);
        else
            check_listing(name, &l2, rel);
        close(fd);
    }
    int fd = open(F(""), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        char tiny[8];
        EXPECT_ERR("getdents64_buffer_too_small_EINVAL", getdents64(fd, tiny, sizeof tiny),
                   EINVAL);
        close(fd);
    }
    fd = open(F("big.bin"), O_RDONLY);
    if (fd >= 0) {
        char buf[1024];
        EXPECT_ERR("getdents64_on_file_ENOTDIR", getdents64(fd, buf, sizeof buf), ENOTDIR);
        close(fd);
    }
}

/* ------------------------------------------------------------------------ */
/* stdio */

/* Opens the host copy of sub/b.bin (a kernel file) and checks it reads as
 * itself: catches a famfs fd-table entry left behind for a number the
 * kernel has since reused. */
static void check_kernel_open_reads(const char *name)
{
    struct hostfile *h = host("sub/b.bin");
    int fd = open(H("sub/b.bin"), O_RDONLY);
    if (fd < 0) {
        fail(name, errno, "open of the host file %s failed", H("sub/b.bin"));
        return;
    }
    unsigned char buf[512];
    errno = 0;
    ssize_t n = read(fd, buf, sizeof buf);
    int e = errno;
    struct stat st;
    int sr = fstat(fd, &st);
    if (n != (ssize_t)sizeof buf || memcmp(buf, h->data, sizeof buf) != 0)
        fail(name, e, "read of the kernel file on fd %d returned %zd bytes%s", fd, n,
             n == (ssize_t)sizeof buf ? " that differ from the file" : "");
    else
        check(name, sr == 0 && st.st_ino == h->st.st_ino && st.st_dev == h->st.st_dev, errno,
              "fstat of the kernel file on fd %d gives another file", fd);
    close(fd);
}

static void area_stdio(void)
{
    const char *trel = "text.txt";
    struct hostfile *t = host(trel);
    char line[4096];

    /* fopen + fgets, line by line against the host copy. */
    errno = 0;
    FILE *f = fopen(F(trel), "r");
    if (!f) {
        fail("fopen_r", errno, "fopen(%s, r)", F(trel));
    } else {
        pass("fopen_r");
        size_t off = 0;
        int ok = 1, lines = 0;
        while (fgets(line, sizeof line, f)) {
            size_t n = strlen(line);
            if (off + n > t->len || memcmp(line, t->data + off, n) != 0) {
                fail("fgets_lines", 0, "line %d at offset %zu differs", lines, off);
                ok = 0;
                break;
            }
            off += n;
            lines++;
        }
        if (ok)
            check("fgets_lines", off == t->len && feof(f) && !ferror(f), 0,
                  "read %zu of %zu bytes in %d lines (eof %d error %d)", off, t->len, lines,
                  feof(f), ferror(f));
        EXPECT_EQ("ftell_at_end", ftell(f), (long)t->len);
        EXPECT_EQ("fseek_SEEK_SET", fseek(f, 10, SEEK_SET), 0);
        EXPECT_EQ("ftell_after_fseek", ftell(f), 10);
        size_t n = fread(line, 1, 100, f);
        if (n != 100)
            fail("fread", errno, "fread returned %zu", n);
        else
            check_bytes("fread", trel, line, 100, 10);
        EXPECT_EQ("ftell_after_fread", ftell(f), 110);
        EXPECT_EQ("fseek_SEEK_CUR", fseek(f, -50, SEEK_CUR), 0);
        int c = fgetc(f);
        check("fgetc", c == t->data[60], errno, "fgetc = %d, expected %d", c, t->data[60]);
        check("ungetc", ungetc(c, f) == c && fgetc(f) == c, errno, "ungetc/fgetc");
        EXPECT_EQ("fseek_SEEK_END", fseek(f, -5, SEEK_END), 0);
        EXPECT_EQ("ftell_after_SEEK_END", ftell(f), (long)t->len - 5);
        n = fread(line, 1, 100, f);
        check("fread_short_at_EOF", n == 5 && feof(f) && memcmp(line, t->data + t->len - 5, 5) == 0,
              errno, "fread returned %zu (eof %d)", n, feof(f));
        rewind(f);
        char *gl = NULL;
        size_t cap = 0;
        ssize_t gn = getline(&gl, &cap, f);
        const char *nl = memchr(t->data, '\n', t->len);
        size_t first = nl ? (size_t)(nl - (const char *)t->data) + 1 : t->len;
        check("rewind_getline", gn == (ssize_t)first && memcmp(gl, t->data, first) == 0, errno,
              "getline returned %zd, expected %zu", gn, first);
        free(gl);
        fpos_t pos;
        check("fgetpos", fgetpos(f, &pos) == 0, errno, "fgetpos");
        fgetc(f);
        fgetc(f);
        check("fsetpos", fsetpos(f, &pos) == 0 && ftello(f) == (off_t)first, errno,
              "ftello after fsetpos");
        EXPECT_EQ("fseeko", fseeko(f, 3, SEEK_SET), 0);
        EXPECT_EQ("ftello", ftello(f), 3);
        char word[64];
        check("fscanf", fscanf(f, "%63s", word) == 1, errno, "fscanf");
        EXPECT_EQ("fclose", fclose(f), 0);
    }

    /* fopen64 of a binary file, large freads. */
    const char *brel = "big.bin";
    struct hostfile *b = host(brel);
    errno = 0;
    f = fopen64(F(brel), "rb");
    if (!f) {
        fail("fopen64", errno, "fopen64(%s)", F(brel));
    } else {
        unsigned char *buf = malloc(b->len + 1);
        size_t n = fread(buf, 1, b->len + 1, f);
        if (n != b->len)
            fail("fopen64_fread_whole", errno, "fread returned %zu, expected %zu", n, b->len);
        else
            check_bytes("fopen64_fread_whole", brel, buf, n, 0);
        EXPECT_EQ("fseeko64", fseeko64(f, (off64_t)TWO_MIB + 7, SEEK_SET), 0);
        EXPECT_EQ("ftello64", ftello64(f), TWO_MIB + 7);
        n = fread(buf, 1, 1000, f);
        if (n != 1000)
            fail("fread_after_fseeko64", errno, "fread returned %zu", n);
        else
            check_bytes("fread_after_fseeko64", brel, buf, 1000, TWO_MIB + 7);
        free(buf);
        fclose(f);
    }

    /* fdopen on a famfs fd; the stream reads from the fd's offset. */
    int fd = open_or_fail("fdopen_open", brel, O_RDONLY);
    if (fd >= 0) {
        lseek(fd, 4096, SEEK_SET);
        errno = 0;
        f = fdopen(fd, "r");
        if (!f) {
            fail("fdopen", errno, "fdopen failed");
            close(fd);
        } else {
            unsigned char buf[5000];
            size_t n = fread(buf, 1, sizeof buf, f);
            if (n != sizeof buf)
                fail("fdopen_fread", errno, "fread returned %zu", n);
            else
                check_bytes("fdopen_fread", brel, buf, n, 4096);
            EXPECT_EQ("fdopen_fclose", fclose(f), 0);
            EXPECT_ERR("fdopen_fclose_closes_fd_EBADF", fcntl(fd, F_GETFD), EBADF);
        }
    }

    /* fwrite through an r+ stream, then restore. */
    const char *wrel = "scratch_stdio.bin";
    errno = 0;
    f = fopen(F(wrel), "r+");
    if (!f) {
        fail("fopen_r+", errno, "fopen(%s, r+)", F(wrel));
    } else {
        pass("fopen_r+");
        unsigned char pat[777];
        fill_pattern(pat, sizeof pat, 4);
        EXPECT_EQ("fwrite_fseek", fseek(f, 1234, SEEK_SET), 0);
        EXPECT_EQ("fwrite", fwrite(pat, 1, sizeof pat, f), sizeof pat);
        EXPECT_EQ("fflush", fflush(f), 0);
        check_reads_back("fwrite_reads_back", wrel, pat, sizeof pat, 1234);
        EXPECT_EQ("fputs", fputs("hello famfs", f), 1);
        EXPECT_EQ("fprintf", fprintf(f, "%d", 12345), 5);
        EXPECT_EQ("fclose_flushes", fclose(f), 0);
        check_reads_back("fputs_fprintf_reads_back", wrel, "hello famfs12345", 16,
                         1234 + (off_t)sizeof pat);
        restore_and_verify("stdio_restore_original_bytes", wrel);
    }

    /* Streams that would create or truncate. */
    errno = 0;
    f = fopen(F("new-stream"), "w");
    expect_err("fopen_w_new_EPERM", f == NULL, 0, errno, EPERM);
    if (f)
        fclose(f);
    errno = 0;
    f = fopen(F(wrel), "w");
    expect_err("fopen_w_existing_nonempty_EPERM", f == NULL, 0, errno, EPERM);
    if (f)
        fclose(f);
    errno = 0;
    f = fopen(F("missing"), "r");
    expect_err("fopen_missing_ENOENT", f == NULL, 0, errno, ENOENT);
    if (f)
        fclose(f);
    errno = 0;
    f = fopen(F("sub"), "r+");
    expect_err("fopen_dir_r+_EISDIR", f == NULL, 0, errno, EISDIR);
    if (f)
        fclose(f);

    /* freopen64 of a kernel stream onto a famfs file. */
    FILE *kst = fopen("/dev/null", "r");
    errno = 0;
    FILE *k2 = kst ? freopen64(F(brel), "r", kst) : NULL;
    if (!k2) {
        fail("freopen64_kernel_stream_to_famfs", errno, "freopen64(%s)", F(brel));
    } else {
        unsigned char buf[300];
        size_t n = fread(buf, 1, sizeof buf, k2);
        if (n != sizeof buf)
            fail("freopen64_kernel_stream_to_famfs", errno, "fread returned %zu", n);
        else
            check_bytes("freopen64_kernel_stream_to_famfs", brel, buf, n, 0);
        EXPECT_EQ("freopen64_fclose", fclose(k2), 0);
        check_kernel_open_reads("freopen64_fclose_releases_fd");
    }

    /* freopen onto stdin, then read stdin with stdio and with read(0). */
    errno = 0;
    FILE *in = freopen(F(trel), "r", stdin);
    if (!in) {
        fail("freopen_stdin", errno, "freopen(%s, r, stdin)", F(trel));
    } else {
        pass("freopen_stdin");
        char *got = fgets(line, sizeof line, stdin);
        const char *nl = memchr(t->data, '\n', t->len);
        size_t first = nl ? (size_t)(nl - (const char *)t->data) + 1 : t->len;
        check("freopen_stdin_fgets", got && strlen(line) == first &&
                                         memcmp(line, t->data, first) == 0,
              errno, "fgets(stdin) gave '%.40s'", got ? line : "(null)");
        size_t n = fread(line, 1, 10, stdin);
        if (n != 10)
            fail("freopen_stdin_fread", errno, "fread returned %zu", n);
        else
            check_bytes("freopen_stdin_fread", trel, line, 10, (off_t)first);
        /* freopen of the famfs stream onto another famfs file. */
        errno = 0;
        in = freopen(F("sub/a.txt"), "r", stdin);
        if (!in) {
            fail("freopen_famfs_to_famfs", errno, "freopen");
        } else {
            n = fread(line, 1, sizeof line, stdin);
            if (n != host("sub/a.txt")->len)
                fail("freopen_famfs_to_famfs", errno, "fread returned %zu", n);
            else
                check_bytes("freopen_famfs_to_famfs", "sub/a.txt", line, n, 0);
        }
        /* The replaced stream's descriptor is really gone: a kernel file
         * opened now (which may reuse its number) reads as itself. */
        check_kernel_open_reads("freopen_famfs_to_famfs_releases_old_fd");
    }
    /* freopen of the famfs stdin stream onto a kernel path (a daemon
     * detaching its stdin), in a child so a crash is one failed check. */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *k = freopen("/dev/null", "r", stdin);
        if (!k)
            _exit(2);
        int c = fgetc(stdin);
        _exit(c == EOF && !ferror(stdin) ? 0 : 3);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        fail("freopen_kernel_path_over_famfs_stream", errno, "fork/waitpid failed");
    else
        check("freopen_kernel_path_over_famfs_stream",
              WIFEXITED(status) && WEXITSTATUS(status) == 0, 0,
              "child: exit status %d, signal %d (2: freopen failed, 3: stdin not /dev/null)",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1,
              WIFSIGNALED(status) ? WTERMSIG(status) : 0);

    /* fd 0 replaced by a famfs fd with dup2: read(0) reads the file. */
    int sfd = open_or_fail("dup2_famfs_to_fd0_open", trel, O_RDONLY);
    if (sfd >= 0) {
        errno = 0;
        int r = dup2(sfd, 0);
        close(sfd);
        if (r != 0) {
            fail("dup2_famfs_to_fd0", errno, "dup2 returned %d", r);
        } else {
            unsigned char buf[64];
            ssize_t k = read(0, buf, sizeof buf);
            check_read("dup2_famfs_to_fd0_read", k, errno, sizeof buf, trel, buf, 0);
            close(0);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* copy_file_range, sendfile, splice */

static void check_tmp_contents(const char *name, int tfd, const char *rel, off_t off, size_t n)
{
    unsigned char *buf = malloc(n + 1);
    ssize_t r = pread(tfd, buf, n + 1, 0);
    if (r != (ssize_t)n)
        fail(name, errno, "the /tmp copy has %zd bytes, expected %zu", r, n);
    else
        check_bytes(name, rel, buf, n, off);
    free(buf);
}

static void area_copy(void)
{
    const char *rel = "big.bin";
    struct hostfile *h = host(rel);
    char tname[PATH_MAX];
    int fd = open_or_fail("copy_open", rel, O_RDONLY);
    if (fd < 0)
        return;

    /* copy_file_range famfs -> /tmp with an explicit input offset. */
    int tfd = tmpfile_fd(tname);
    loff_t in_off = 0;
    size_t total = 0;
    int err = 0;
    for (;;) {
        ssize_t n = copy_file_range(fd, &in_off, tfd, NULL, 1 << 20, 0);
        if (n < 0) {
            err = errno;
            break;
        }
        if (n == 0)
            break;
        total += (size_t)n;
        if (total > h->len)
            break;
    }
    if (err)
        fail("copy_file_range_to_tmp", err, "copy_file_range failed after %zu bytes", total);
    else if (total != h->len || in_off != (loff_t)h->len)
        fail("copy_file_range_to_tmp", 0, "copied %zu bytes (offset %lld), expected %zu", total,
             (long long)in_off, h->len);
    else
        check_tmp_contents("copy_file_range_to_tmp", tfd, rel, 0, h->len);
    EXPECT_EQ("copy_file_range_keeps_fd_offset", lseek(fd, 0, SEEK_CUR), 0);
    EXPECT_EQ("copy_file_range_at_EOF_0", copy_file_range(fd, &in_off, tfd, NULL, 100, 0), 0);
    close(tfd);
    unlink(tname);

    /* copy_file_range with NULL input offset uses and advances the fd's offset. */
    tfd = tmpfile_fd(tname);
    lseek(fd, TWO_MIB - 10, SEEK_SET);
    errno = 0;
    ssize_t n = copy_file_range(fd, NULL, tfd, NULL, 5000, 0);
    if (n != 5000)
        fail("copy_file_range_null_offset", errno, "returned %zd", n);
    else
        check_tmp_contents("copy_file_range_null_offset", tfd, rel, TWO_MIB - 10, 5000);
    EXPECT_EQ("copy_file_range_null_offset_advances", lseek(fd, 0, SEEK_CUR), TWO_MIB + 4990);
    close(tfd);
    unlink(tname);

    /* copy_file_range /tmp -> famfs (a scratch file opened O_RDWR). */
    const char *wrel = "scratch_copy.bin";
    int wfd = open_or_fail("copy_file_range_to_famfs_open", wrel, O_RDWR);
    if (wfd >= 0) {
        tfd = tmpfile_fd(tname);
        unsigned char pat[3000];
        fill_pattern(pat, sizeof pat, 6);
        if (write(tfd, pat, sizeof pat) != (ssize_t)sizeof pat)
            die("write to a tmp file");
        loff_t src = 0, dst = 700;
        errno = 0;
        n = copy_file_range(tfd, &src, wfd, &dst, sizeof pat, 0);
        check("copy_file_range_to_famfs", n == (ssize_t)sizeof pat && dst == 700 + 3000, errno,
              "returned %zd, out offset %lld", n, (long long)dst);
        check_reads_back("copy_file_range_to_famfs_reads_back", wrel, pat, sizeof pat, 700);
        /* famfs -> famfs. */
        loff_t a = 0, bo = 10000;
        errno = 0;
        n = copy_file_range(fd, &a, wfd, &bo, 4096, 0);
        check("copy_file_range_famfs_to_famfs", n == 4096, errno, "returned %zd", n);
        check_reads_back("copy_file_range_famfs_to_famfs_reads_back", wrel, h->data, 4096,
                         10000);
        /* Never past EOF of the famfs destination. */
        off_t wsize = (off_t)host(wrel)->len;
        src = 0;
        dst = wsize;
        EXPECT_ERR("copy_file_range_to_famfs_at_EOF_EFBIG",
                   copy_file_range(tfd, &src, wfd, &dst, 10, 0), EFBIG);
        close(tfd);
        unlink(tname);
        close(wfd);
        restore_and_verify("copy_restore_original_bytes", wrel);
    }

    /* sendfile famfs -> /tmp. */
    tfd = tmpfile_fd(tname);
    off_t soff = 0;
    total = 0;
    err = 0;
    for (;;) {
        ssize_t k = sendfile(tfd, fd, &soff, 1 << 20);
        if (k < 0) {
            err = errno;
            break;
        }
        if (k == 0)
            break;
        total += (size_t)k;
        if (total > h->len)
            break;
    }
    if (err)
        fail("sendfile_to_tmp", err, "sendfile failed after %zu bytes", total);
    else if (total != h->len || soff != (off_t)h->len)
        fail("sendfile_to_tmp", 0, "sent %zu bytes (offset %ld), expected %zu", total,
             (long)soff, h->len);
    else
        check_tmp_contents("sendfile_to_tmp", tfd, rel, 0, h->len);
    close(tfd);
    unlink(tname);
    tfd = tmpfile_fd(tname);
    lseek(fd, 100, SEEK_SET);
    errno = 0;
    n = sendfile(tfd, fd, NULL, 3000);
    if (n != 3000)
        fail("sendfile_null_offset", errno, "returned %zd", n);
    else
        check_tmp_contents("sendfile_null_offset", tfd, rel, 100, 3000);
    EXPECT_EQ("sendfile_null_offset_advances", lseek(fd, 0, SEEK_CUR), 3100);
    soff = (off_t)h->len;
    EXPECT_EQ("sendfile_at_EOF_0", sendfile(tfd, fd, &soff, 100), 0);
    off64_t soff64 = TWO_MIB;
    if (ftruncate(tfd, 0) != 0 || lseek(tfd, 0, SEEK_SET) != 0)
        die("resetting a tmp file");
    errno = 0;
    n = sendfile64(tfd, fd, &soff64, 2000);
    if (n != 2000 || soff64 != TWO_MIB + 2000)
        fail("sendfile64", errno, "returned %zd, offset %lld", n, (long long)soff64);
    else
        check_tmp_contents("sendfile64", tfd, rel, TWO_MIB, 2000);
    /* sendfile to a pipe. */
    int pfd[2];
    if (pipe(pfd) == 0) {
        soff = 5;
        errno = 0;
        n = sendfile(pfd[1], fd, &soff, 1000);
        unsigned char buf[1000];
        ssize_t r = n == 1000 ? read(pfd[0], buf, sizeof buf) : -1;
        if (n != 1000 || r != 1000)
            fail("sendfile_to_pipe", errno, "sendfile returned %zd, read %zd", n, r);
        else
            check_bytes("sendfile_to_pipe", rel, buf, 1000, 5);
        /* splice from famfs fails with EIO. */
        EXPECT_ERR("splice_famfs_to_pipe_EIO", splice(fd, NULL, pfd[1], NULL, 100, 0), EIO);
        loff_t so = 0;
        EXPECT_ERR("splice_famfs_offset_to_pipe_EIO", splice(fd, &so, pfd[1], NULL, 100, 0),
                   EIO);
        close(pfd[0]);
        close(pfd[1]);
    }
    close(tfd);
    unlink(tname);
    close(fd);
}

/* ------------------------------------------------------------------------ */
/* Size changes, advice, sync */

static void area_size(void)
{
    const char *rel = "scratch_write.bin";
    struct hostfile *h = host(rel);
    off_t size = (off_t)h->len;
    EXPECT_ERR("truncate_shrink_EPERM", truncate(F(rel), 0), EPERM);
    EXPECT_ERR("truncate_grow_EPERM", truncate(F(rel), size + 1), EPERM);
    EXPECT_ERR("truncate64_shrink_EPERM", truncate64(F(rel), size - 1), EPERM);
    EXPECT_ERR("truncate_missing_ENOENT", truncate(F("missing"), 0), ENOENT);
    EXPECT_ERR("truncate_dir_EISDIR", truncate(F("sub"), 0), EISDIR);
    int fd = open_or_fail("size_open_O_RDWR", rel, O_RDWR);
    if (fd < 0)
        return;
    EXPECT_ERR("ftruncate_shrink_EPERM", ftruncate(fd, 10), EPERM);
    EXPECT_ERR("ftruncate_grow_EPERM", ftruncate(fd, size + 4096), EPERM);
    EXPECT_ERR("ftruncate64_EPERM", ftruncate64(fd, 0), EPERM);
    EXPECT_ERR("fallocate_grow_EPERM", fallocate(fd, 0, 0, size + 4096), EPERM);
    EXPECT_ERR("fallocate64_grow_EPERM", fallocate64(fd, 0, size, 1), EPERM);
    int pr = posix_fallocate(fd, 0, size + 4096);
    check("posix_fallocate_returns_EPERM", pr == EPERM, pr,
          "posix_fallocate returned %d, expected EPERM (%d)", pr, EPERM);
    EXPECT_EQ("posix_fadvise_SEQUENTIAL", posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL), 0);
    EXPECT_EQ("posix_fadvise_WILLNEED", posix_fadvise(fd, 0, 4096, POSIX_FADV_WILLNEED), 0);
    EXPECT_EQ("posix_fadvise_DONTNEED", posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    EXPECT_EQ("posix_fadvise_bad_advice_EINVAL", posix_fadvise(fd, 0, 0, 99), EINVAL);
    EXPECT_EQ("posix_fadvise64", posix_fadvise64(fd, 0, 0, POSIX_FADV_RANDOM), 0);
    EXPECT_EQ("fsync", fsync(fd), 0);
    EXPECT_EQ("fdatasync", fdatasync(fd), 0);
    struct stat st;
    errno = 0;
    int r = fstat(fd, &st);
    check("size_unchanged_after_refusals", r == 0 && st.st_size == size, errno,
          "st_size %ld, expected %ld", (long)st.st_size, (long)size);
    close(fd);
    check_reads_back("size_contents_intact", rel, h->data, h->len, 0);
    int ro = open_or_fail("size_open_O_RDONLY", "big.bin", O_RDONLY);
    if (ro >= 0) {
        EXPECT_EQ("fsync_O_RDONLY", fsync(ro), 0);
        EXPECT_EQ("fdatasync_O_RDONLY", fdatasync(ro), 0);
        EXPECT_EQ("posix_fadvise_O_RDONLY", posix_fadvise(ro, 0, 0, POSIX_FADV_NOREUSE), 0);
        close(ro);
    }
}

/* ------------------------------------------------------------------------ */
/* cwd, dirfds and path forms */

static void check_cwd(const char *name, const char *want)
{
    char buf[PATH_MAX];
    errno = 0;
    char *r = getcwd(buf, sizeof buf);
    check(name, r == buf && strcmp(buf, want) == 0, errno, "getcwd = '%s', expected '%s'",
          r ? buf : "(null)", want);
}

static void open_reads_rel(const char *name, const char *path, const char *rel)
{
    errno = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fail(name, errno, "open('%s') failed", path);
        return;
    }
    struct hostfile *h = host(rel);
    unsigned char buf[4096];
    size_t want = h->len < sizeof buf ? h->len : sizeof buf;
    ssize_t n = read(fd, buf, want);
    check_read(name, n, errno, want, rel, buf, 0);
    close(fd);
}

static void area_paths(void)
{
    char saved[PATH_MAX];
    if (!getcwd(saved, sizeof saved))
        die("getcwd at start");

    /* chdir into a famfs directory. */
    errno = 0;
    int r = chdir(F("sub"));
    if (check("chdir_famfs_dir", r == 0, errno, "chdir(%s) = %d", F("sub"), r)) {
        check_cwd("getcwd_in_famfs", F("sub"));
        char *dyn = getcwd(NULL, 0);
        check("getcwd_NULL_0", dyn && strcmp(dyn, F("sub")) == 0, errno, "getcwd(NULL,0) = %s",
              dyn ? dyn : "(null)");
        free(dyn);
        char small[4];
        errno = 0;
        char *g = getcwd(small, sizeof small);
        expect_err("getcwd_small_buffer_ERANGE", g == NULL, 0, errno, ERANGE);
        open_reads_rel("open_relative_in_famfs_cwd", "a.txt", "sub/a.txt");
        open_reads_rel("open_relative_dot", "./a.txt", "sub/a.txt");
        open_reads_rel("open_relative_dotdot", "../big.bin", "big.bin");
        open_reads_rel("open_relative_subdir", "deeper/c.txt", "sub/deeper/c.txt");
        open_reads_rel("openat_AT_FDCWD_relative", "deeper/../a.txt", "sub/a.txt");
        struct stat st;
        EXPECT_EQ("stat_relative_in_famfs_cwd", stat("b.bin", &st), 0);
        EXPECT_EQ("access_relative_in_famfs_cwd", access("deeper", X_OK), 0);
        EXPECT_ERR("open_relative_missing_ENOENT", open("nope", O_RDONLY), ENOENT);
        DIR *d = opendir(".");
        if (!d)
            fail("opendir_dot_in_famfs_cwd", errno, "opendir(.)");
        else {
            struct listing l = list_readdir(d);
            check_listing("opendir_dot_in_famfs_cwd", &l, "sub");
            closedir(d);
        }
        errno = 0;
        r = chdir("deeper");
        check("chdir_relative_in_famfs", r == 0, errno, "chdir(deeper) = %d", r);
        check_cwd("getcwd_after_relative_chdir", F("sub/deeper"));
        open_reads_rel("open_relative_after_relative_chdir", "c.txt", "sub/deeper/c.txt");
        errno = 0;
        r = chdir("../..");
        check("chdir_dotdot_to_mountpoint", r == 0, errno, "chdir(../..) = %d", r);
        check_cwd("getcwd_mountpoint", F(""));
        open_reads_rel("open_relative_at_mountpoint", "big.bin", "big.bin");
        EXPECT_ERR("chdir_famfs_file_ENOTDIR", chdir(F("big.bin")), ENOTDIR);
        EXPECT_ERR("chdir_famfs_missing_ENOENT", chdir(F("missing")), ENOENT);
        check_cwd("getcwd_unchanged_after_failed_chdir", F(""));
    }
    errno = 0;
    r = chdir("/tmp");
    check("chdir_back_to_tmp", r == 0, errno, "chdir(/tmp) = %d", r);
    char tmpreal[PATH_MAX];
    if (realpath("/tmp", tmpreal))
        check_cwd("getcwd_after_leaving_famfs", tmpreal);
    struct stat st;
    EXPECT_ERR("relative_famfs_name_not_found_outside", stat("big.bin-not-here", &st), ENOENT);

    /* fchdir to a famfs directory fd. */
    int dfd = open(F(""), O_RDONLY | O_DIRECTORY);
    if (dfd < 0) {
        fail("fchdir_famfs_dir", errno, "open(%s) failed", F(""));
    } else {
        errno = 0;
        r = fchdir(dfd);
        if (check("fchdir_famfs_dir", r == 0, errno, "fchdir = %d", r)) {
            check_cwd("getcwd_after_fchdir", F(""));
            open_reads_rel("open_relative_after_fchdir", "sub/a.txt", "sub/a.txt");
        }
        int ffd = open(F("big.bin"), O_RDONLY);
        if (ffd >= 0) {
            EXPECT_ERR("fchdir_famfs_file_ENOTDIR", fchdir(ffd), ENOTDIR);
            close(ffd);
        }
        /* fchdir back to a kernel directory. */
        int tfd = open("/tmp", O_RDONLY | O_DIRECTORY);
        errno = 0;
        r = tfd >= 0 ? fchdir(tfd) : -1;
        check("fchdir_back_to_kernel_dir", r == 0, errno, "fchdir(/tmp fd) = %d", r);
        if (tfd >= 0)
            close(tfd);
        check_cwd("getcwd_after_fchdir_back", tmpreal);

        /* openat relative to famfs dirfds. */
        int sub = openat(dfd, "sub", O_RDONLY | O_DIRECTORY);
        if (sub < 0) {
            fail("openat_famfs_dirfd_subdir", errno, "openat(dfd, sub)");
        } else {
            pass("openat_famfs_dirfd_subdir");
            int f = openat(sub, "../big.bin", O_RDONLY);
            if (f < 0)
                fail("openat_famfs_dirfd_dotdot", errno, "openat(sub, ../big.bin)");
            else {
                read_expect("openat_famfs_dirfd_dotdot", f, 100, "big.bin", 0);
                close(f);
            }
            f = openat(sub, "deeper//c.txt", O_RDONLY);
            if (f < 0)
                fail("openat_famfs_dirfd_double_slash", errno, "openat(sub, deeper//c.txt)");
            else {
                read_expect("openat_famfs_dirfd_double_slash", f, host("sub/deeper/c.txt")->len,
                            "sub/deeper/c.txt", 0);
                close(f);
            }
            /* An absolute path ignores the dirfd. */
            f = openat(sub, F("small.bin"), O_RDONLY);
            if (f < 0)
                fail("openat_famfs_dirfd_absolute_path", errno, "openat(sub, abs)");
            else {
                read_expect("openat_famfs_dirfd_absolute_path", f, 100, "small.bin", 0);
                close(f);
            }
            f = openat(sub, "/etc/hostname", O_RDONLY);
            check("openat_famfs_dirfd_absolute_kernel_path", f >= 0 || errno == ENOENT, errno,
                  "openat(famfs dirfd, /etc/hostname)");
            if (f >= 0)
                close(f);
            close(sub);
        }
        /* A dirfd on a file. */
        int ffd2 = open(F("big.bin"), O_RDONLY);
        if (ffd2 >= 0) {
            EXPECT_OPEN_ERR("openat_file_dirfd_ENOTDIR", openat(ffd2, "x", O_RDONLY), ENOTDIR);
            close(ffd2);
        }
        close(dfd);
    }
    /* A kernel dirfd still works for kernel paths. */
    int kfd = open("/", O_RDONLY | O_DIRECTORY);
    if (kfd >= 0) {
        int f = openat(kfd, "proc/self/status", O_RDONLY);
        check("openat_kernel_dirfd_passthrough", f >= 0, errno, "openat(/, proc/self/status)");
        if (f >= 0)
            close(f);
        close(kfd);
    }

    /* Path forms. */
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/./big.bin", MNT);
    open_reads_rel("path_dot", p, "big.bin");
    snprintf(p, sizeof p, "%s/sub/../big.bin", MNT);
    open_reads_rel("path_dotdot", p, "big.bin");
    snprintf(p, sizeof p, "%s//sub///a.txt", MNT);
    open_reads_rel("path_repeated_slashes", p, "sub/a.txt");
    snprintf(p, sizeof p, "%s/sub/deeper/../../sub/./deeper//c.txt", MNT);
    open_reads_rel("path_mixed", p, "sub/deeper/c.txt");
    snprintf(p, sizeof p, "/%s", MNT);
    errno = 0;
    r = stat(p, &st);
    check("path_leading_double_slash", r == 0 && S_ISDIR(st.st_mode), errno, "stat(%s)", p);
    snprintf(p, sizeof p, "%s/sub/", MNT);
    errno = 0;
    r = stat(p, &st);
    check("path_dir_trailing_slash", r == 0 && S_ISDIR(st.st_mode), errno, "stat(%s)", p);
    snprintf(p, sizeof p, "%s/sub//", MNT);
    errno = 0;
    r = open(p, O_RDONLY | O_DIRECTORY);
    check("path_dir_trailing_slashes_open", r >= 0, errno, "open(%s)", p);
    if (r >= 0)
        close(r);
    snprintf(p, sizeof p, "%s/", MNT);
    errno = 0;
    r = stat(p, &st);
    check("path_mountpoint_trailing_slash", r == 0 && S_ISDIR(st.st_mode), errno, "stat(%s)", p);
    snprintf(p, sizeof p, "%s/missing/../big.bin", MNT);
    EXPECT_ERR("path_dotdot_through_missing_ENOENT", stat(p, &st), ENOENT);
    snprintf(p, sizeof p, "%s/big.bin/../small.bin", MNT);
    EXPECT_ERR("path_dotdot_through_file_ENOTDIR", stat(p, &st), ENOTDIR);

    /* realpath / canonicalize_file_name. */
    snprintf(p, sizeof p, "%s/sub/../sub//deeper/./c.txt", MNT);
    char out[PATH_MAX];
    errno = 0;
    char *rp = realpath(p, out);
    check("realpath_famfs", rp && strcmp(out, F("sub/deeper/c.txt")) == 0, errno,
          "realpath = '%s', expected '%s'", rp ? out : "(null)", F("sub/deeper/c.txt"));
    errno = 0;
    rp = realpath(p, NULL);
    check("realpath_famfs_malloc", rp && strcmp(rp, F("sub/deeper/c.txt")) == 0, errno,
          "realpath = '%s'", rp ? rp : "(null)");
    free(rp);
    snprintf(p, sizeof p, "%s//sub/./", MNT);
    errno = 0;
    rp = canonicalize_file_name(p);
    check("canonicalize_file_name_famfs", rp && strcmp(rp, F("sub")) == 0, errno,
          "canonicalize_file_name = '%s', expected '%s'", rp ? rp : "(null)", F("sub"));
    free(rp);
    errno = 0;
    rp = realpath(F("missing"), out);
    expect_err("realpath_missing_ENOENT", rp == NULL, 0, errno, ENOENT);
    snprintf(p, sizeof p, "%s/big.bin/", MNT);
    errno = 0;
    rp = realpath(p, out);
    expect_err("realpath_file_trailing_slash_ENOTDIR", rp == NULL, 0, errno, ENOTDIR);
    if (chdir(F("sub")) == 0) {
        errno = 0;
        rp = realpath("deeper/../a.txt", out);
        check("realpath_relative_in_famfs_cwd", rp && strcmp(out, F("sub/a.txt")) == 0, errno,
              "realpath = '%s'", rp ? out : "(null)");
    }
    if (chdir(saved) != 0)
        die("chdir back");
}

/* ------------------------------------------------------------------------ */
/* mkdir and the refused namespace changes */

static void area_mkdir(void)
{
    struct stat st;
    errno = 0;
    int r = mkdir(F("mk/newdir"), 0755);
    check("mkdir", r == 0, errno, "mkdir(%s) = %d", F("mk/newdir"), r);
    errno = 0;
    r = stat(F("mk/newdir"), &st);
    check("mkdir_visible_as_dir", r == 0 && S_ISDIR(st.st_mode) && st.st_nlink >= 2, errno,
          "stat = %d, mode 0%o", r, st.st_mode);
    mode_t um = umask(0);
    umask(um);
    check("mkdir_mode", r == 0 && (st.st_mode & 0777) == (0755 & ~um), 0,
          "mode 0%o, expected 0%o", st.st_mode & 0777, 0755 & ~um);
    check("mkdir_owner", r == 0 && st.st_uid == geteuid() && st.st_gid == getegid(), 0,
          "uid/gid %u/%u", st.st_uid, st.st_gid);
    DIR *d = opendir(F("mk/newdir"));
    if (!d)
        fail("mkdir_new_dir_lists_dot_dotdot", errno, "opendir");
    else {
        struct listing l = list_readdir(d);
        check("mkdir_new_dir_lists_dot_dotdot", l.n == 2, 0, "%d entries", l.n);
        closedir(d);
    }
    d = opendir(F("mk"));
    if (d) {
        struct listing l = list_readdir(d);
        int found = 0;
        for (int i = 0; i < l.n; i++)
            if (!strcmp(l.names[i], "newdir") && l.types[i] == DT_DIR)
                found = 1;
        check("mkdir_listed_in_parent", found, 0, "newdir not in the listing of mk");
        closedir(d);
    }
    EXPECT_ERR("mkdir_existing_EEXIST", mkdir(F("mk/newdir"), 0755), EEXIST);
    EXPECT_ERR("mkdir_existing_file_EEXIST", mkdir(F("big.bin"), 0755), EEXIST);
    EXPECT_ERR("mkdir_mountpoint_EEXIST", mkdir(F(""), 0755), EEXIST);
    EXPECT_ERR("mkdir_missing_parent_ENOENT", mkdir(F("mk/nope/x"), 0755), ENOENT);
    EXPECT_ERR("mkdir_under_file_ENOTDIR", mkdir(F("big.bin/x"), 0755), ENOTDIR);
    errno = 0;
    r = mkdir(F("mk/newdir/nested/"), 0700);
    check("mkdir_nested_trailing_slash", r == 0, errno, "mkdir = %d", r);
    errno = 0;
    r = stat(F("mk/newdir/nested"), &st);
    check("mkdir_nested_mode", r == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700,
          errno, "stat = %d mode 0%o", r, st.st_mode);

    int dfd = open(F("mk"), O_RDONLY | O_DIRECTORY);
    if (dfd < 0) {
        fail("mkdirat_famfs_dirfd", errno, "open(%s)", F("mk"));
    } else {
        errno = 0;
        r = mkdirat(dfd, "viaat", 0750);
        check("mkdirat_famfs_dirfd", r == 0, errno, "mkdirat = %d", r);
        errno = 0;
        r = fstatat(dfd, "viaat", &st, 0);
        check("mkdirat_visible", r == 0 && S_ISDIR(st.st_mode), errno, "fstatat = %d", r);
        EXPECT_ERR("mkdirat_existing_EEXIST", mkdirat(dfd, "viaat", 0750), EEXIST);
        close(dfd);
    }
    errno = 0;
    r = mkdirat(AT_FDCWD, F("mk/absat"), 0755);
    check("mkdirat_AT_FDCWD", r == 0, errno, "mkdirat = %d", r);
    /* The new directory can be the cwd. */
    char saved[PATH_MAX];
    if (getcwd(saved, sizeof saved) && chdir(F("mk/newdir")) == 0) {
        errno = 0;
        r = mkdir("relative", 0755);
        check("mkdir_relative_in_famfs_cwd", r == 0, errno, "mkdir(relative) = %d", r);
        r = stat(F("mk/newdir/relative"), &st);
        check("mkdir_relative_visible", r == 0 && S_ISDIR(st.st_mode), errno, "stat = %d", r);
        if (chdir(saved) != 0)
            die("chdir back");
    } else {
        fail("mkdir_relative_in_famfs_cwd", errno, "chdir into the new directory failed");
    }
    /* open(O_CREAT) in the new directory is still refused. */
    EXPECT_OPEN_ERR("open_O_CREAT_in_new_dir_EPERM",
                    open(F("mk/newdir/f"), O_WRONLY | O_CREAT, 0644), EPERM);
}

static void area_eperm(void)
{
    const char *f = F("big.bin");
    EXPECT_ERR("unlink_EPERM", unlink(f), EPERM);
    EXPECT_ERR("unlinkat_EPERM", unlinkat(AT_FDCWD, F("small.bin"), 0), EPERM);
    EXPECT_ERR("unlinkat_AT_REMOVEDIR_EPERM", unlinkat(AT_FDCWD, F("sub/deeper"), AT_REMOVEDIR),
               EPERM);
    EXPECT_ERR("rmdir_EPERM", rmdir(F("sub/deeper")), EPERM);
    EXPECT_ERR("rename_EPERM", rename(f, F("renamed")), EPERM);
    EXPECT_ERR("rename_onto_existing_EPERM", rename(F("small.bin"), F("one.bin")), EPERM);
    EXPECT_ERR("renameat_EPERM", renameat(AT_FDCWD, f, AT_FDCWD, F("renamed")), EPERM);
    EXPECT_ERR("link_EPERM", link(f, F("hardlink")), EPERM);
    EXPECT_ERR("linkat_EPERM", linkat(AT_FDCWD, f, AT_FDCWD, F("hardlink"), 0), EPERM);
    EXPECT_ERR("symlink_EPERM", symlink("big.bin", F("symlink")), EPERM);
    EXPECT_ERR("symlinkat_EPERM", symlinkat("big.bin", AT_FDCWD, F("symlink")), EPERM);
    EXPECT_ERR("chmod_EPERM", chmod(f, 0600), EPERM);
    EXPECT_ERR("fchmodat_EPERM", fchmodat(AT_FDCWD, f, 0600, 0), EPERM);
    EXPECT_ERR("chown_EPERM", chown(f, geteuid(), getegid()), EPERM);
    EXPECT_ERR("lchown_EPERM", lchown(f, geteuid(), getegid()), EPERM);
    EXPECT_ERR("fchownat_EPERM", fchownat(AT_FDCWD, f, geteuid(), getegid(), 0), EPERM);
    EXPECT_ERR("utimensat_EPERM", utimensat(AT_FDCWD, f, NULL, 0), EPERM);
    struct timespec ts[2] = {{1, 0}, {2, 0}};
    EXPECT_ERR("utimensat_times_EPERM", utimensat(AT_FDCWD, F("sub"), ts, 0), EPERM);
    EXPECT_ERR("unlink_dir_EPERM", unlink(F("sub")), EPERM);
    /* Everything is still there, unchanged. */
    struct stat st;
    errno = 0;
    int r = stat(f, &st);
    check("eperm_file_still_there", r == 0 && st.st_size == (off_t)host("big.bin")->len &&
                                        (st.st_mode & 07777) == (host("big.bin")->st.st_mode & 07777),
          errno, "stat = %d size %ld mode 0%o", r, (long)st.st_size, st.st_mode);
    EXPECT_ERR("eperm_nothing_renamed", stat(F("renamed"), &st), ENOENT);
    EXPECT_ERR("eperm_no_symlink", lstat(F("symlink"), &st), ENOENT);
    EXPECT_EQ("eperm_dir_still_there", stat(F("sub/deeper"), &st), 0);
    int fd = open(F("small.bin"), O_RDONLY);
    if (fd >= 0) {
        read_expect("eperm_contents_intact", fd, host("small.bin")->len, "small.bin", 0);
        close(fd);
    } else {
        fail("eperm_contents_intact", errno, "open");
    }
}

/* ------------------------------------------------------------------------ */
/* Threads, fork, exec */

struct thread_arg {
    int fd;       /* shared fd */
    const char *path; /* big.bin, made before the threads start: F() is not thread-safe */
    unsigned seed;
    int errors;
    char what[256];
};

static void *reader_thread(void *p)
{
    struct thread_arg *a = p;
    struct hostfile *h = host("big.bin");
    unsigned char *buf = malloc(65536);
    unsigned s = a->seed;
    for (int i = 0; i < 300 && !a->errors; i++) {
        s = s * 1103515245u + 12345u;
        size_t off = (s >> 3) % h->len;
        s = s * 1103515245u + 12345u;
        size_t n = 1 + (s >> 5) % 65536;
        size_t want = off + n > h->len ? h->len - off : n;
        /* Alternate between the shared fd and a private one. */
        int fd = a->fd;
        int own = -1;
        if (i % 3 == 0) {
            own = open(a->path, O_RDONLY);
            if (own < 0) {
                a->errors++;
                snprintf(a->what, sizeof a->what, "open failed: %s", strerror(errno));
                break;
            }
            fd = own;
        }
        ssize_t r = pread(fd, buf, n, (off_t)off);
        if (r != (ssize_t)want) {
            a->errors++;
            snprintf(a->what, sizeof a->what, "pread(%zu @ %zu) returned %zd, expected %zu (%s)",
                     n, off, r, want, strerror(errno));
        } else if (memcmp(buf, h->data + off, want) != 0) {
            a->errors++;
            snprintf(a->what, sizeof a->what, "pread(%zu @ %zu) bytes differ", n, off);
        }
        if (own >= 0)
            close(own);
    }
    free(buf);
    return NULL;
}

static void area_threads(void)
{
    host("big.bin"); /* load before the threads start */
    int fd = open_or_fail("threads_open", "big.bin", O_RDONLY);
    if (fd < 0)
        return;
    pthread_t t[4];
    struct thread_arg a[4];
    int started = 0;
    const char *path = F("big.bin");
    for (int i = 0; i < 4; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].fd = fd;
        a[i].path = path;
        a[i].seed = 0x9e3779b9u * (unsigned)(i + 1);
        if (pthread_create(&t[i], NULL, reader_thread, &a[i]) == 0)
            started++;
        else
            break;
    }
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    check("threads_started", started == 4, 0, "%d of 4 threads started", started);
    char name[64];
    for (int i = 0; i < started; i++) {
        snprintf(name, sizeof name, "threads_pread_%d", i);
        check(name, a[i].errors == 0, 0, "%s", a[i].what);
    }
    close(fd);
}

static void area_fork(void)
{
    const char *rel = "big.bin";
    struct hostfile *h = host(rel);
    int fd = open_or_fail("fork_open", rel, O_RDONLY);
    if (fd < 0)
        return;
    const size_t N = 1000;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        fail("fork", errno, "fork failed");
        close(fd);
        return;
    }
    if (pid == 0) {
        unsigned char buf[1000];
        ssize_t n = read(fd, buf, N);
        _exit(n == (ssize_t)N && memcmp(buf, h->data, N) == 0 ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    check("fork_child_reads", WIFEXITED(status) && WEXITSTATUS(status) == 0, 0,
          "child status 0x%x", status);
    EXPECT_EQ("fork_shares_offset", lseek(fd, 0, SEEK_CUR), (long)N);
    read_expect("fork_parent_continues_at_child_offset", fd, 100, rel, (off_t)N);

    /* The child seeks; the parent sees it. The child's close does not close ours. */
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        int ok = lseek(fd, 123456, SEEK_SET) == 123456;
        close(fd);
        int again = open(F("small.bin"), O_RDONLY); /* the child can open famfs files */
        ok = ok && again >= 0;
        _exit(ok ? 0 : 1);
    }
    status = 0;
    waitpid(pid, &status, 0);
    check("fork_child_seeks_and_opens", WIFEXITED(status) && WEXITSTATUS(status) == 0, 0,
          "child status 0x%x", status);
    EXPECT_EQ("fork_child_seek_seen_by_parent", lseek(fd, 0, SEEK_CUR), 123456);
    read_expect("fork_fd_usable_after_child_close", fd, 10, rel, 123456);

    /* mmap inherited by the child. */
    unsigned char *p = mmap(NULL, h->len, PROT_READ, MAP_SHARED, fd, 0);
    if (p != MAP_FAILED) {
        fflush(stdout);
        pid = fork();
        if (pid == 0)
            _exit(memcmp(p, h->data, h->len) == 0 ? 0 : 1);
        status = 0;
        waitpid(pid, &status, 0);
        check("fork_child_sees_mapping", WIFEXITED(status) && WEXITSTATUS(status) == 0, 0,
              "child status 0x%x", status);
        munmap(p, h->len);
    }
    close(fd);
}

/* Child modes (run in a new image under the shim). */
static int child_read(int fd, const char *hex)
{
    size_t n = strlen(hex) / 2;
    unsigned char *want = malloc(n + 1), *got = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return 3;
        want[i] = (unsigned char)v;
    }
    size_t have = 0;
    while (have < n) {
        ssize_t r = read(fd, got + have, n - have);
        if (r <= 0) {
            fprintf(stderr, "child: read(%d) returned %zd after %zu bytes: %s\n", fd, r, have,
                    strerror(errno));
            return 1;
        }
        have += (size_t)r;
    }
    if (memcmp(got, want, n) != 0) {
        fprintf(stderr, "child: bytes read from fd %d differ\n", fd);
        return 2;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "child: fstat(%d) failed: %s\n", fd, strerror(errno));
        return 4;
    }
    return 0;
}

static int child_closed(int fd)
{
    errno = 0;
    int r = fcntl(fd, F_GETFD);
    if (r == -1 && errno == EBADF)
        return 0;
    fprintf(stderr, "child: fd %d is open in the new image (F_GETFD = %d)\n", fd, r);
    return 1;
}

static void to_hex(char *out, const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = 0;
}

static char self_exe[PATH_MAX];

static void wait_ok(const char *name, pid_t pid)
{
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) {
        fail(name, errno, "waitpid failed");
        return;
    }
    check(name, WIFEXITED(status) && WEXITSTATUS(status) == 0, 0,
          "child exit status %d (signal %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
          WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void area_exec(void)
{
    const char *rel = "big.bin";
    struct hostfile *h = host(rel);
    ssize_t sl = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (sl <= 0)
        die("readlink /proc/self/exe");
    self_exe[sl] = 0;

    int fd = open_or_fail("exec_open", rel, O_RDONLY);
    if (fd < 0)
        return;
    char fdstr[16], hex[2 * 64 + 1];
    snprintf(fdstr, sizeof fdstr, "%d", fd);

    /* vfork + exec of this program in child mode: reads 64 bytes at 5000. */
    lseek(fd, 5000, SEEK_SET);
    to_hex(hex, h->data + 5000, 64);
    char *argv1[] = {self_exe, "--child-read", fdstr, hex, NULL};
    fflush(stdout);
    pid_t pid = vfork();
    if (pid == 0) {
        execve(self_exe, argv1, environ);
        _exit(127);
    }
    if (pid < 0)
        fail("vfork_exec_child_reads", errno, "vfork failed");
    else
        wait_ok("vfork_exec_child_reads", pid);
    EXPECT_EQ("vfork_exec_shares_offset", lseek(fd, 0, SEEK_CUR), 5064);

    /* posix_spawn of the same child mode. */
    to_hex(hex, h->data + 5064, 64);
    char *argv2[] = {self_exe, "--child-read", fdstr, hex, NULL};
    fflush(stdout);
    errno = 0;
    int r = posix_spawn(&pid, self_exe, NULL, NULL, argv2, environ);
    if (r != 0)
        fail("posix_spawn_child_reads", r, "posix_spawn failed");
    else
        wait_ok("posix_spawn_child_reads", pid);
    EXPECT_EQ("posix_spawn_shares_offset", lseek(fd, 0, SEEK_CUR), 5128);

    /* posix_spawn with a dup2 file action: the famfs fd becomes the child's stdin. */
    to_hex(hex, h->data + 5128, 64);
    char *argv3[] = {self_exe, "--child-read", "0", hex, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd, 0);
    fflush(stdout);
    r = posix_spawn(&pid, self_exe, &fa, NULL, argv3, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (r != 0)
        fail("posix_spawn_adddup2_stdin", r, "posix_spawn failed");
    else
        wait_ok("posix_spawn_adddup2_stdin", pid);

    /* fork + dup2 onto stdin + exec of a shell: `head -c 16` reads the famfs fd. */
    char tname[PATH_MAX];
    int tfd = tmpfile_fd(tname);
    close(tfd);
    lseek(fd, 777, SEEK_SET);
    /* sh only takes single-digit fds in redirections: use 9 (same offset). */
    int fd9 = dup2(fd, 9);
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "head -c 16 <&%d >%s", fd9, tname);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    wait_ok("fork_exec_sh_head_from_famfs_fd", pid);
    if (fd9 >= 0)
        close(fd9);
    tfd = open(tname, O_RDONLY);
    unsigned char b16[32];
    ssize_t n = tfd >= 0 ? read(tfd, b16, sizeof b16) : -1;
    check_read("fork_exec_sh_head_bytes", n, errno, 16, rel, b16, 777);
    if (tfd >= 0)
        close(tfd);
    unlink(tname);

    /* A famfs path opened by the shell itself. */
    snprintf(cmd, sizeof cmd, "head -c 100 < %s > %s", F("sub/a.txt"), tname);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    wait_ok("exec_sh_redirect_from_famfs_path", pid);
    tfd = open(tname, O_RDONLY);
    unsigned char b100[200];
    size_t want = host("sub/a.txt")->len < 100 ? host("sub/a.txt")->len : 100;
    n = tfd >= 0 ? read(tfd, b100, sizeof b100) : -1;
    check_read("exec_sh_redirect_bytes", n, errno, want, "sub/a.txt", b100, 0);
    if (tfd >= 0)
        close(tfd);
    unlink(tname);

    /* FD_CLOEXEC famfs fds are closed in the new image. */
    int cfd = open(F("small.bin"), O_RDONLY | O_CLOEXEC);
    if (cfd < 0) {
        fail("exec_cloexec_fd_closed", errno, "open O_CLOEXEC");
    } else {
        char cstr[16];
        snprintf(cstr, sizeof cstr, "%d", cfd);
        char *argv4[] = {self_exe, "--child-closed", cstr, NULL};
        fflush(stdout);
        pid = vfork();
        if (pid == 0) {
            execve(self_exe, argv4, environ);
            _exit(127);
        }
        wait_ok("exec_cloexec_fd_closed", pid);
        /* And F_SETFD FD_CLOEXEC on a dup'd fd does the same. */
        int d = fcntl(fd, F_DUPFD, 700);
        if (d >= 0 && fcntl(d, F_SETFD, FD_CLOEXEC) == 0) {
            char dstr[16];
            snprintf(dstr, sizeof dstr, "%d", d);
            char *argv5[] = {self_exe, "--child-closed", dstr, NULL};
            fflush(stdout);
            r = posix_spawn(&pid, self_exe, NULL, NULL, argv5, environ);
            if (r != 0)
                fail("posix_spawn_F_SETFD_cloexec_fd_closed", r, "posix_spawn");
            else
                wait_ok("posix_spawn_F_SETFD_cloexec_fd_closed", pid);
            close(d);
        }
        close(cfd);
    }
    close(fd);
}

/* ------------------------------------------------------------------------ */
/* Coherence: files another process creates appear without a restart */

/* Runs the famfs CLI ($FAMFS_TEST_BIN) without the shim; returns its status. */
static int run_cli(char *const args[])
{
    const char *bin = getenv("FAMFS_TEST_BIN");
    if (!bin || !bin[0])
        return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        unsetenv("LD_PRELOAD");
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 1);
        execv(bin, args);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void area_coherence(void)
{
    const char *bin = getenv("FAMFS_TEST_BIN");
    if (!bin || !bin[0]) {
        fail("coherence_setup", 0, "FAMFS_TEST_BIN (the famfs CLI) is not set");
        return;
    }
    struct stat st;
    /* The shim has replayed the log already. */
    EXPECT_EQ("coherence_stat_before", stat(F("big.bin"), &st), 0);
    EXPECT_ERR("coherence_not_there_yet_ENOENT", stat(F("mk/late.bin"), &st), ENOENT);
    DIR *d0 = opendir(F("mk"));
    if (d0)
        closedir(d0);
    char *creat_args[] = {(char *)bin, "creat", "-s", "5000", F("mk/late.bin"), NULL};
    int rc = run_cli(creat_args);
    if (rc != 0) {
        fail("coherence_cli_creat", 0, "famfs creat exited with %d", rc);
        return;
    }
    errno = 0;
    int r = stat(F("mk/late.bin"), &st);
    check("coherence_new_file_visible", r == 0 && S_ISREG(st.st_mode) && st.st_size == 5000,
          errno, "stat = %d size %ld", r, (long)st.st_size);
    int fd = open(F("mk/late.bin"), O_RDONLY);
    if (fd < 0) {
        fail("coherence_new_file_reads_zeros", errno, "open");
    } else {
        unsigned char buf[5001];
        ssize_t n = read(fd, buf, sizeof buf);
        int zeros = n == 5000;
        for (ssize_t i = 0; zeros && i < n; i++)
            zeros = buf[i] == 0;
        check("coherence_new_file_reads_zeros", zeros, errno, "read returned %zd", n);
        close(fd);
    }
    char *mkdir_args[] = {(char *)bin, "mkdir", F("mk/latedir"), NULL};
    rc = run_cli(mkdir_args);
    if (rc != 0) {
        fail("coherence_cli_mkdir", 0, "famfs mkdir exited with %d", rc);
        return;
    }
    DIR *d = opendir(F("mk"));
    if (!d) {
        fail("coherence_new_entries_listed", errno, "opendir");
    } else {
        struct listing l = list_readdir(d);
        int file = 0, dir = 0;
        for (int i = 0; i < l.n; i++) {
            file |= !strcmp(l.names[i], "late.bin") && l.types[i] == DT_REG;
            dir |= !strcmp(l.names[i], "latedir") && l.types[i] == DT_DIR;
        }
        check("coherence_new_entries_listed", file && dir, 0, "late.bin %d, latedir %d", file,
              dir);
        closedir(d);
    }
}

/* ------------------------------------------------------------------------ */
/* main */

struct area {
    const char *name;
    void (*fn)(void);
};

static const struct area areas[] = {
    {"open", area_open},   {"close", area_close},     {"read", area_read},
    {"write", area_write}, {"lseek", area_lseek},     {"stat", area_stat},
    {"access", area_access}, {"statfs", area_statfs}, {"dup", area_dup},
    {"mmap", area_mmap},   {"dirs", area_dirs},       {"getdents", area_getdents},
    {"stdio", area_stdio}, {"copy", area_copy},       {"size", area_size},
    {"paths", area_paths}, {"mkdir", area_mkdir},     {"eperm", area_eperm},
    {"threads", area_threads}, {"fork", area_fork},   {"exec", area_exec},
    {"coherence", area_coherence},
};

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < sizeof areas / sizeof areas[0]; i++)
            printf("%s\n", areas[i].name);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "--child-read") == 0)
        return child_read(atoi(argv[2]), argv[3]);
    if (argc == 3 && strcmp(argv[1], "--child-closed") == 0)
        return child_closed(atoi(argv[2]));
    if (argc < 3) {
        fprintf(stderr, "usage: %s MOUNTPOINT HOSTDIR [AREA...] | --list\n", argv[0]);
        return 100;
    }
    MNT = argv[1];
    HOST = argv[2];
    is_root = geteuid() == 0;
    /* The dup and close areas use fd numbers up to 902. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1024 && rl.rlim_max >= 1024) {
        rl.rlim_cur = 1024;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* Load the host copies up front, before any famfs fd exists. */
    static const char *preload[] = {"big.bin",          "mid.bin",           "small.bin",
                                    "one.bin",          "exact.bin",         "text.txt",
                                    "ro.bin",           "scratch_write.bin", "scratch_mmap.bin",
                                    "scratch_stdio.bin", "scratch_copy.bin", "sub/a.txt",
                                    "sub/b.bin",        "sub/deeper/c.txt"};
    for (size_t i = 0; i < sizeof preload / sizeof preload[0]; i++)
        host(preload[i]);
    for (int a = 3; a < argc; a++) {
        int known = 0;
        for (size_t i = 0; i < sizeof areas / sizeof areas[0]; i++)
            known |= strcmp(argv[a], areas[i].name) == 0;
        if (!known) {
            fprintf(stderr, "unknown area %s\n", argv[a]);
            return 100;
        }
    }
    for (size_t i = 0; i < sizeof areas / sizeof areas[0]; i++) {
        int run = argc == 3;
        for (int a = 3; a < argc; a++)
            run |= strcmp(argv[a], areas[i].name) == 0;
        if (!run)
            continue;
        printf("# area %s\n", areas[i].name);
        areas[i].fn();
    }
    printf("# %d passed, %d failed\n", passes, failures);
    return failures > 100 ? 100 : failures;
}
