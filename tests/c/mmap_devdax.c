/*
 * mmap of famfs files under the shim, held to devdax's rules.
 *
 * usage: mmap_devdax ALIGN DEVICE BIG INTERLEAVED SMALL SCRATCH
 *
 * ALIGN is the device's mapping alignment in bytes, DEVICE the device (or
 * simulated region) path, BIG and INTERLEAVED files of several MiB, SMALL a
 * file of under one page, SCRATCH a file of at least 4 pages this program
 * may write (it restores the bytes). Every mapped byte is compared with
 * pread() of the same file, which the shim serves without mmap. While
 * mappings are live, every mapping of DEVICE in /proc/self/maps must start,
 * end and sit at a device offset that are multiples of ALIGN: a real devdax
 * device refuses anything else, so a simulated region must never be asked
 * for it either.
 *
 * Prints "ok NAME" or "FAIL NAME: detail" per check; exits with the number
 * of failures.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;
static long pg;
static unsigned long align;
static char device[PATH_MAX];
/* Device mappings the shim itself holds (the whole device, mapped once). */
static int baseline;

static void ok(const char *name) { printf("ok %s\n", name); }

static void fail(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void fail(const char *name, const char *fmt, ...)
{
    va_list ap;
    int e = errno;
    printf("FAIL %s: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf(" (errno=%d %s)\n", e, strerror(e));
    failures++;
}

static void check(const char *name, int cond, const char *what)
{
    if (cond)
        ok(name);
    else
        fail(name, "%s", what);
}

static off_t size_of(int fd)
{
    return lseek(fd, 0, SEEK_END);
}

/* Compares `len` mapped bytes at `p` with the file's bytes at `off`
 * (zero past EOF when `zero_tail`; unchecked past EOF otherwise). */
static int same_as_file(int fd, const unsigned char *p, size_t len, off_t off, int zero_tail)
{
    unsigned char *buf = malloc(len ? len : 1);
    ssize_t n = pread(fd, buf, len, off);
    int r = 1;
    if (n < 0) {
        free(buf);
        return 0;
    }
    if (memcmp(p, buf, (size_t)n) != 0)
        r = 0;
    if (zero_tail)
        for (size_t i = (size_t)n; i < len; i++)
            if (p[i] != 0)
                r = 0;
    free(buf);
    return r;
}

/* Every mapping of the device must keep the device's alignment. Returns
 * the number of device mappings seen, or -1 after reporting a bad one. */
static int device_mappings_aligned(const char *name)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[PATH_MAX + 128];
    int count = 0;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long start, end, offset;
        char perms[8], path[PATH_MAX] = "";
        unsigned dmaj, dmin;
        unsigned long ino;
        if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu %4095s", &start, &end, perms, &offset, &dmaj,
                   &dmin, &ino, path) < 7)
            continue;
        if (strcmp(path, device) != 0)
            continue;
        count++;
        if (getenv("MMAP_DEVDAX_DEBUG"))
            printf("# %s: %s", name, line);
        if (start % align || end % align || offset % align) {
            fail(name, "device mapped at %lx-%lx offset %lx, not %lu-aligned", start, end, offset,
                 align);
            fclose(f);
            return -1;
        }
    }
    if (f)
        fclose(f);
    return count;
}

/* Whether reading the byte at `p` in a child kills it with SIGSEGV/SIGBUS. */
static int read_faults(volatile unsigned char *p)
{
    pid_t pid = fork();
    if (pid == 0) {
        unsigned char c = *p;
        (void)c;
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFSIGNALED(st) && (WTERMSIG(st) == SIGSEGV || WTERMSIG(st) == SIGBUS);
}

static void offsets_and_lengths(const char *label, const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fail(label, "open %s", path);
        return;
    }
    off_t size = size_of(fd);
    const off_t offs[] = {0, pg, 3 * pg, (2 << 20) - pg, (2 << 20) + pg, (5 << 20) + 2 * pg};
    const size_t lens[] = {1, 27, (size_t)pg, 2 * (size_t)pg + 5, (2 << 20) + (size_t)pg, 3 << 20};
    int bad = 0, tried = 0;
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++)
        for (size_t j = 0; j < sizeof lens / sizeof lens[0]; j++) {
            off_t off = offs[i];
            size_t len = lens[j];
            if (off + (off_t)len > size)
                continue;
            tried++;
            unsigned char *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, off);
            if (p == MAP_FAILED) {
                fail(label, "mmap(len=%zu, off=%jd)", len, (intmax_t)off);
                bad++;
                continue;
            }
            if (!same_as_file(fd, p, len, off, 0)) {
                fail(label, "bytes differ at len=%zu off=%jd", len, (intmax_t)off);
                bad++;
            }
            if (device_mappings_aligned(label) < 0)
                bad++;
            if (munmap(p, len) != 0) {
                fail(label, "munmap(len=%zu)", len);
                bad++;
            }
        }
    if (!bad)
        printf("ok %s (%d offset/length pairs)\n", label, tried);
    if (device_mappings_aligned(label) == baseline)
        ok("all_device_mappings_released");
    else
        fail("all_device_mappings_released", "device mappings remain after munmap");
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s ALIGN DEVICE BIG INTERLEAVED SMALL SCRATCH\n", argv[0]);
        return 100;
    }
    pg = sysconf(_SC_PAGESIZE);
    align = strtoul(argv[1], NULL, 0);
    if (!realpath(argv[2], device)) {
        perror(argv[2]);
        return 100;
    }
    const char *big = argv[3], *ilv = argv[4], *small = argv[5], *scratch = argv[6];

    /* A first read and a first write make the shim map the device once
     * per access mode; those mappings stay. */
    int first = open(big, O_RDONLY), firstw = open(scratch, O_RDWR);
    char c;
    if (first < 0 || firstw < 0 || pread(first, &c, 1, 0) != 1 || pread(firstw, &c, 1, 0) != 1 ||
        pwrite(firstw, &c, 1, 0) != 1) {
        fail("first_read", "open, pread or pwrite of %s or %s", big, scratch);
        return failures;
    }
    close(first);
    close(firstw);
    baseline = device_mappings_aligned("shim_device_mapping");
    printf("# the shim holds %d mapping(s) of the device\n", baseline);

    offsets_and_lengths("shared_read_big", big);
    offsets_and_lengths("shared_read_interleaved", ilv);

    int fd = open(big, O_RDONLY);
    int sfd = open(small, O_RDONLY);
    int wfd = open(scratch, O_RDWR);
    if (fd < 0 || sfd < 0 || wfd < 0) {
        fail("open", "cannot open the files");
        return failures;
    }

    /* A file shorter than a page: its bytes, then the page's rest. */
    unsigned char *p = mmap(NULL, (size_t)pg, PROT_READ, MAP_SHARED, sfd, 0);
    if (p == MAP_FAILED)
        fail("small_file", "mmap");
    else {
        check("small_file", same_as_file(sfd, p, (size_t)size_of(sfd), 0, 0), "bytes differ");
        munmap(p, (size_t)pg);
    }

    /* Past the file's allocation: inaccessible, not another file's bytes. */
    p = mmap(NULL, 4 << 20, PROT_READ, MAP_SHARED, sfd, 0);
    if (p == MAP_FAILED)
        fail("past_allocation_inaccessible", "mmap of 4 MiB of a small file");
    else {
        check("past_allocation_inaccessible", read_faults(p + (3 << 20)) && !read_faults(p),
              "a page past the file's allocation is readable");
        munmap(p, 4 << 20);
    }

    /* MAP_PRIVATE: copy-on-write, the file unchanged. */
    p = mmap(NULL, 3 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, pg);
    if (p == MAP_FAILED)
        fail("private_write", "mmap MAP_PRIVATE");
    else {
        check("private_bytes", same_as_file(fd, p, 3 * (size_t)pg, pg, 1), "bytes differ");
        unsigned char before;
        pread(fd, &before, 1, pg + 10);
        p[10] = (unsigned char)~before;
        unsigned char after;
        pread(fd, &after, 1, pg + 10);
        check("private_write_not_in_file", p[10] == (unsigned char)~before && after == before,
              "a private write reached the file");
        munmap(p, 3 * (size_t)pg);
    }
    /* A private mapping past EOF reads zero there. */
    p = mmap(NULL, (size_t)pg, PROT_READ, MAP_PRIVATE, sfd, 0);
    if (p == MAP_FAILED)
        fail("private_zero_past_eof", "mmap");
    else {
        check("private_zero_past_eof", same_as_file(sfd, p, (size_t)pg, 0, 1),
              "bytes past EOF are not zero");
        munmap(p, (size_t)pg);
    }

    /* MAP_SHARED write reaches the file (pread) after msync. */
    p = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED, wfd, pg);
    if (p == MAP_FAILED)
        fail("shared_write", "mmap MAP_SHARED rw");
    else {
        unsigned char *saved = malloc(2 * (size_t)pg);
        memcpy(saved, p, 2 * (size_t)pg);
        for (long i = 0; i < 2 * pg; i++)
            p[i] = (unsigned char)(i * 7 + 3);
        check("shared_write_msync", msync(p, 2 * (size_t)pg, MS_SYNC) == 0, "msync failed");
        check("shared_write_in_file", same_as_file(wfd, p, 2 * (size_t)pg, pg, 0),
              "pread does not see the mapped write");
        memcpy(p, saved, 2 * (size_t)pg);
        msync(p, 2 * (size_t)pg, MS_SYNC);
        free(saved);
        munmap(p, 2 * (size_t)pg);
    }

    /* Partial munmap: the middle page goes, the rest stays right. */
    p = mmap(NULL, 5 * (size_t)pg, PROT_READ, MAP_SHARED, fd, pg);
    if (p == MAP_FAILED)
        fail("partial_munmap", "mmap");
    else {
        check("partial_munmap_middle", munmap(p + 2 * pg, (size_t)pg) == 0, "munmap failed");
        check("partial_munmap_rest_intact",
              same_as_file(fd, p, 2 * (size_t)pg, pg, 0) &&
                  same_as_file(fd, p + 3 * pg, 2 * (size_t)pg, 4 * pg, 0),
              "bytes differ after a partial munmap");
        munmap(p, 2 * (size_t)pg);
        munmap(p + 3 * pg, 2 * (size_t)pg);
        check("partial_munmap_released", device_mappings_aligned("partial_munmap") == baseline,
              "device mapping left after every page was unmapped");
    }

    /* mprotect of the whole mapping works; of part of a device block the
     * program still uses, EINVAL (devdax cannot split there). */
    p = mmap(NULL, 2 * (size_t)pg, PROT_READ, MAP_SHARED, fd, pg);
    if (p == MAP_FAILED)
        fail("mprotect", "mmap");
    else {
        check("mprotect_whole_none", mprotect(p, 2 * (size_t)pg, PROT_NONE) == 0, "failed");
        check("mprotect_none_faults", read_faults(p), "PROT_NONE page readable");
        check("mprotect_whole_read", mprotect(p, 2 * (size_t)pg, PROT_READ) == 0, "failed");
        check("mprotect_read_again", same_as_file(fd, p, 2 * (size_t)pg, pg, 0), "bytes differ");
        errno = 0;
        check("mprotect_part_EINVAL",
              mprotect(p, (size_t)pg, PROT_NONE) == -1 && errno == EINVAL,
              "mprotect of one page of two succeeded or gave another errno");
        check("mprotect_write_on_rdonly_EACCES",
              mprotect(p, 2 * (size_t)pg, PROT_READ | PROT_WRITE) == -1 && errno == EACCES,
              "PROT_WRITE on a read-only descriptor's mapping");
        check("madvise_hint", madvise(p, (size_t)pg, MADV_SEQUENTIAL) == 0, "failed");
        check("madvise_willneed", madvise(p, 2 * (size_t)pg, MADV_WILLNEED) == 0, "failed");
        check("madvise_remove_EPERM",
              madvise(p, (size_t)pg, MADV_REMOVE) == -1 && errno == EPERM, "not EPERM");
        check("msync_part", msync(p, (size_t)pg, MS_SYNC) == 0, "failed");
        munmap(p, 2 * (size_t)pg);
    }

    /* mremap: grow (moves), shrink (stays), grow in place refused. */
    p = mmap(NULL, (size_t)pg, PROT_READ, MAP_SHARED, fd, 3 * pg);
    if (p == MAP_FAILED)
        fail("mremap", "mmap");
    else {
        unsigned char *q = mremap(p, (size_t)pg, 3 * (size_t)pg, MREMAP_MAYMOVE);
        if (q == MAP_FAILED)
            fail("mremap_grow", "mremap");
        else {
            check("mremap_grow", same_as_file(fd, q, 3 * (size_t)pg, 3 * pg, 0), "bytes differ");
            unsigned char *r = mremap(q, 3 * (size_t)pg, (size_t)pg, 0);
            check("mremap_shrink_in_place", r == q, "moved");
            errno = 0;
            check("mremap_grow_no_move_ENOMEM",
                  mremap(q, (size_t)pg, 8 << 20, 0) == MAP_FAILED && errno == ENOMEM,
                  "grew in place or another errno");
            munmap(q, (size_t)pg);
        }
    }

    /* MAP_FIXED at an address the device can honour (same offset within
     * the alignment as the file offset), and at one it cannot. */
    size_t span = 4 * align;
    unsigned char *res = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (res == MAP_FAILED)
        fail("map_fixed", "reserve");
    else {
        unsigned char *blk = (unsigned char *)(((uintptr_t)res + align - 1) & ~(uintptr_t)(align - 1));
        blk += align;
        unsigned char *want = blk + pg;
        p = mmap(want, (size_t)pg, PROT_READ, MAP_SHARED | MAP_FIXED, fd, pg);
        check("map_fixed_congruent", p == want && same_as_file(fd, p, (size_t)pg, pg, 0),
              "MAP_FIXED at a congruent address failed or moved");
        if (p != MAP_FAILED)
            munmap(p, (size_t)pg);
        errno = 0;
        p = mmap(blk, (size_t)pg, PROT_READ, MAP_SHARED | MAP_FIXED, fd, pg);
        check("map_fixed_incongruent_EINVAL", p == MAP_FAILED && errno == EINVAL,
              "MAP_FIXED at an address the device cannot honour did not fail with EINVAL");
        munmap(res, span);
    }
    check("no_device_mapping_left", device_mappings_aligned("end") == baseline,
          "device mappings remain at the end");
    return failures;
}
