/*
 * stdio on a famfs descriptor moved onto stdin or stdout with dup2: glibc's
 * standard streams must read and write the famfs file, and get their own
 * descriptor back when the program moves it back.
 *
 * usage: stdio_redirect FILE   (a writable famfs file of at least 16 bytes)
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2)
        return 100;
    int saved = dup(1);
    int fd = open(argv[1], O_RDWR);
    if (saved < 0 || fd < 0) {
        perror("open");
        return 100;
    }
    fflush(stdout);
    if (dup2(fd, 1) != 1)
        return 101;
    printf("HELLO");
    if (fflush(stdout) != 0)
        return 102;
    if (dup2(saved, 1) != 1)
        return 103;
    printf("back on stdout\n");
    fflush(stdout);

    char b[6] = {0};
    pread(fd, b, 5, 0);
    printf("file:%s\n", b);

    int in = open(argv[1], O_RDONLY);
    if (in < 0 || dup2(in, 0) != 0)
        return 104;
    char line[64] = {0};
    if (!fgets(line, sizeof line, stdin))
        return 105;
    line[7] = 0;
    printf("stdin:%s\n", line);
    return 0;
}
