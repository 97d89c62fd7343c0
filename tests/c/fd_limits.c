/*
 * Descriptor exhaustion under the shim: famfs calls must fail with EMFILE
 * like any other, never crash, and work again once descriptors are freed.
 *
 *   fd_limits FILE DIR LIMIT
 *
 * FILE is a famfs file, DIR a famfs directory. RLIMIT_NOFILE is lowered to
 * LIMIT. Each check prints `ok NAME` or `FAIL NAME: detail`; the exit
 * status is the number of failures.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures;

/* Reports one check; `fmt` and what follows say what went wrong. */
static void __attribute__((format(printf, 3, 4))) check(int ok, const char *name, const char *fmt, ...)
{
	if (ok) {
		printf("ok %s\n", name);
	} else {
		va_list ap;
		va_start(ap, fmt);
		printf("FAIL %s: ", name);
		vprintf(fmt, ap);
		printf("\n");
		va_end(ap);
		failures++;
	}
	fflush(stdout);
}

/* Opens /dev/null until the table is full; returns how many. */
static int fill(int *fds, int max)
{
	int n = 0;
	while (n < max) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0)
			break;
		fds[n++] = fd;
	}
	return n;
}

/* Reads the first bytes of FILE through a fresh descriptor. */
static int readable(const char *file)
{
	char buf[64];
	int fd = open(file, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t r = read(fd, buf, sizeof buf);
	close(fd);
	return r > 0;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s FILE DIR LIMIT\n", argv[0]);
		return 100;
	}
	const char *file = argv[1], *dir = argv[2];
	int limit = atoi(argv[3]);
	struct rlimit rl = { .rlim_cur = limit, .rlim_max = limit };
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		perror("setrlimit");
		return 100;
	}
	int *fds = calloc(limit, sizeof *fds);
	struct stat st;

	/* 1. The table is full before the process ever touched famfs: the
	 * first famfs call must open the device and cannot. */
	int n = fill(fds, limit);
	errno = 0;
	int r = stat(file, &st);
	check(r == -1 && errno == EMFILE, "first-stat-when-full", "returned %d, errno %d", r, errno);
	errno = 0;
	r = open(file, O_RDONLY);
	check(r == -1 && errno == EMFILE, "first-open-when-full", "returned %d, errno %d", r, errno);
	/* Free a few: the device opens now. */
	for (int i = 0; i < 8 && n > 0; i++)
		close(fds[--n]);
	check(stat(file, &st) == 0, "stat-after-freeing", "errno %d", errno);
	/* Full again, with the device open but no famfs descriptor made yet:
	 * the first open needs descriptors of the shim's own. */
	n += fill(fds + n, limit - n);
	errno = 0;
	r = open(file, O_RDONLY);
	check(r == -1 && errno == EMFILE, "first-open-when-full-again", "returned %d, errno %d", r, errno);
	for (int i = 0; i < 8 && n > 0; i++)
		close(fds[--n]);
	check(readable(file), "read-after-freeing", "errno %d", errno);
	while (n > 0)
		close(fds[--n]);

	/* 2. Open the famfs file until the table is full. */
	int opened = 0;
	for (;;) {
		int fd = open(file, O_RDONLY);
		if (fd < 0)
			break;
		fds[opened++] = fd;
		if (opened == limit)
			break;
	}
	int err = errno;
	check(opened > 0 && opened < limit && err == EMFILE, "open-until-emfile",
	      "%d opened, then errno %d", opened, err);
	/* Every kind of new descriptor fails the same way. */
	errno = 0;
	DIR *d = opendir(dir);
	check(!d && errno == EMFILE, "opendir-when-full", "dir %d, errno %d", d != NULL, errno);
	if (d)
		closedir(d);
	errno = 0;
	FILE *f = fopen(file, "r");
	check(!f && errno == EMFILE, "fopen-when-full", "stream %d, errno %d", f != NULL, errno);
	if (f)
		fclose(f);
	errno = 0;
	r = dup(fds[0]);
	check(r == -1 && errno == EMFILE, "dup-when-full", "returned %d, errno %d", r, errno);
	/* The descriptors already open still work. */
	char c;
	check(pread(fds[opened - 1], &c, 1, 0) == 1, "read-an-open-one", "errno %d", errno);
	/* One closed: one more open succeeds, and the table is full again. */
	close(fds[--opened]);
	int fd = open(file, O_RDONLY);
	check(fd >= 0, "reopen-after-close", "errno %d", errno);
	if (fd >= 0)
		fds[opened++] = fd;
	errno = 0;
	r = open(file, O_RDONLY);
	check(r == -1 && errno == EMFILE, "full-again", "returned %d, errno %d", r, errno);
	/* All closed: everything works. */
	while (opened > 0)
		close(fds[--opened]);
	check(readable(file), "read-after-closing-all", "errno %d", errno);
	d = opendir(dir);
	check(d && readdir(d), "opendir-after-closing-all", "errno %d", errno);
	if (d)
		closedir(d);
	printf("done\n");
	return failures;
}
