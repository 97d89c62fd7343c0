/* The read path of an open famfs file, for tests/read_path.rs: opens PATH,
 * reads it once, then between two marker calls (write(-1, "famfs-loop-begin")
 * and write(-1, "famfs-loop-end"), which fail with EBADF and show in an
 * strace log) reads it ROUNDS times with pread, read, lseek and fstat. Under
 * the shim none of those may reach the kernel. Prints the bytes read and a
 * checksum so the test can check the loop really read the file. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void marker(const char *what)
{
    if (write(-1, what, strlen(what)) != -1) {
        fprintf(stderr, "marker write succeeded\n");
        exit(2);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: read_loop PATH ROUNDS\n");
        return 2;
    }
    int rounds = atoi(argv[2]);
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
        perror("open");
        return 1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 8192) {
        fprintf(stderr, "fstat failed or file too small\n");
        return 1;
    }
    static char buf[4096];
    if (pread(fd, buf, sizeof buf, 0) != (ssize_t)sizeof buf) {
        perror("warm-up pread");
        return 1;
    }
    unsigned long long sum = 0, bytes = 0;
    marker("famfs-loop-begin");
    for (int i = 0; i < rounds; i++) {
        off_t off = ((off_t)i * 4096) % (st.st_size - 4096);
        ssize_t n = pread(fd, buf, sizeof buf, off);
        if (lseek(fd, off, SEEK_SET) != off)
            return 3;
        ssize_t m = read(fd, buf, sizeof buf);
        if (n != (ssize_t)sizeof buf || m != (ssize_t)sizeof buf || fstat(fd, &st) != 0)
            return 4;
        bytes += (unsigned long long)(n + m);
        for (size_t k = 0; k < sizeof buf; k += 512)
            sum += (unsigned char)buf[k];
    }
    marker("famfs-loop-end");
    close(fd);
    printf("%llu %llu\n", bytes, sum);
    return 0;
}
