/*
 * glibc's syscall() on famfs paths and descriptors, under the shim: each
 * file-system system call made through syscall() must give what the named
 * libc function gives (the shim serves both), with syscall(2)'s
 * convention (-1 and errno on failure), and any other call must reach the
 * kernel.
 *
 * usage: syscall_famfs FILE DIR MISSING   (FILE in DIR, on famfs)
 * Prints "ok NAME" or "FAIL NAME: detail"; exits with the failure count.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int failures;

static void check(const char *name, int cond, const char *what)
{
    if (cond) {
        printf("ok %s\n", name);
    } else {
        printf("FAIL %s: %s (errno=%d %s)\n", name, what, errno, strerror(errno));
        failures++;
    }
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s FILE DIR MISSING\n", argv[0]);
        return 100;
    }
    const char *file = argv[1], *dir = argv[2], *missing = argv[3];
    struct stat st;
    if (stat(file, &st) != 0) {
        perror(file);
        return 100;
    }

    long fd = syscall(SYS_openat, AT_FDCWD, file, O_RDONLY);
    check("openat", fd >= 0, "syscall(SYS_openat) failed");
    char a[4096], b[4096];
    long n = syscall(SYS_read, fd, a, sizeof a);
    ssize_t m = pread((int)fd, b, sizeof b, 0);
    check("read", n > 0 && n == m && memcmp(a, b, (size_t)n) == 0,
          "syscall(SYS_read) differs from pread");
    n = syscall(SYS_pread64, fd, a, 100, 7);
    check("pread64", n == 100 && memcmp(a, b + 7, 100) == 0, "syscall(SYS_pread64) wrong");
    check("lseek", syscall(SYS_lseek, fd, 0, SEEK_END) == st.st_size, "SEEK_END is not the size");

    struct stat fs;
    check("fstat", syscall(SYS_fstat, fd, &fs) == 0 && fs.st_size == st.st_size,
          "syscall(SYS_fstat) size differs");
    struct statx sx;
    check("statx", syscall(SYS_statx, AT_FDCWD, file, 0, STATX_SIZE, &sx) == 0 &&
                       sx.stx_size == (unsigned long long)st.st_size,
          "syscall(SYS_statx) size differs");
    check("statx_empty_path",
          syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_SIZE, &sx) == 0 &&
              sx.stx_size == (unsigned long long)st.st_size,
          "syscall(SYS_statx, fd, \"\", AT_EMPTY_PATH) size differs");
    check("newfstatat", syscall(SYS_newfstatat, AT_FDCWD, file, &fs, 0) == 0 &&
                            fs.st_ino == st.st_ino,
          "syscall(SYS_newfstatat) differs");
    check("faccessat", syscall(SYS_faccessat, AT_FDCWD, file, R_OK) == 0, "not readable");
    check("close", syscall(SYS_close, fd) == 0, "close failed");

    errno = 0;
    check("openat_missing_ENOENT",
          syscall(SYS_openat, AT_FDCWD, missing, O_RDONLY) == -1 && errno == ENOENT,
          "not -1/ENOENT");
    errno = 0;
    check("openat_create_EPERM",
          syscall(SYS_openat, AT_FDCWD, missing, O_CREAT | O_WRONLY, 0644) == -1 && errno == EPERM,
          "not -1/EPERM");
    errno = 0;
    check("statx_missing_ENOENT",
          syscall(SYS_statx, AT_FDCWD, missing, 0, STATX_SIZE, &sx) == -1 && errno == ENOENT,
          "not -1/ENOENT");

    /* getdents64 lists the directory the same as readdir. */
    long dfd = syscall(SYS_openat, AT_FDCWD, dir, O_RDONLY | O_DIRECTORY);
    char dbuf[8192];
    long dn = syscall(SYS_getdents64, dfd, dbuf, sizeof dbuf);
    int found = 0, entries = 0;
    for (long off = 0; off < dn;) {
        struct {
            unsigned long long d_ino;
            long long d_off;
            unsigned short d_reclen;
            unsigned char d_type;
            char d_name[];
        } *e = (void *)(dbuf + off);
        entries++;
        if (strcmp(e->d_name, strrchr(file, '/') + 1) == 0)
            found = 1;
        off += e->d_reclen;
    }
    check("getdents64", dfd >= 0 && dn > 0 && found && entries >= 3,
          "the file is not listed (or no . and ..)");
    syscall(SYS_close, dfd);

    /* chdir into famfs and getcwd: the length with its NUL. */
    char cwd[4096];
    check("chdir", syscall(SYS_chdir, dir) == 0, "chdir failed");
    long cl = syscall(SYS_getcwd, cwd, sizeof cwd);
    check("getcwd", cl == (long)strlen(dir) + 1 && strcmp(cwd, dir) == 0,
          "getcwd length or path wrong");

    /* Everything else is the kernel's. */
    check("getpid", syscall(SYS_getpid) == getpid(), "SYS_getpid differs");
    errno = 0;
    check("bad_fd_EBADF", syscall(SYS_read, 12345, a, 1) == -1 && errno == EBADF,
          "not -1/EBADF");
    long p = syscall(SYS_openat, AT_FDCWD, "/proc/self/status", O_RDONLY);
    check("kernel_openat", p >= 0 && syscall(SYS_read, p, a, 10) == 10, "kernel file");
    syscall(SYS_close, p);

    /* execl (variadic, so a C hook) makes famfs descriptors inheritable
     * like execv: the shell reads the file on its stdin. */
    if (failures == 0) {
        int in = open(file, O_RDONLY);
        if (in < 0 || dup2(in, 0) != 0) {
            check("exec_setup", 0, "open or dup2 onto stdin failed");
            return failures;
        }
        fflush(stdout);
        execl("/bin/sh", "sh", "-c", "echo exec-read $(head -c 8 | od -An -tx1 | tr -d ' \\n')",
              (char *)NULL);
        check("execl", 0, "execl returned");
    }
    return failures;
}
