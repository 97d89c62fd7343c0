/*
 * A program with its own SIGBUS handler under the shim: a fault in its own
 * mapping of a famfs file must reach its handler (the shim chains to it),
 * while a fault inside the shim's copy (pread) must become EIO.
 *
 * usage: sigbus_chain FAMFS_FILE REGION_FILE META_LEN
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static sigjmp_buf env;
static volatile sig_atomic_t handled;

static void on_bus(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)si;
	(void)ctx;
	handled++;
	siglongjmp(env, 1);
}

int main(int argc, char **argv)
{
	struct sigaction sa, old;
	char buf[64];
	char *m;
	int fd;

	if (argc != 4)
		return 2;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_bus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		perror("open");
		return 1;
	}
	/* Installed after the shim's handler (the open above installed it). */
	if (sigaction(SIGBUS, &sa, &old) != 0) {
		perror("sigaction");
		return 1;
	}
	m = mmap(NULL, 1 << 20, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	printf("mapped first byte %d\n", m[0] != 0 || m[0] == 0);
	if (truncate(argv[2], atol(argv[3])) != 0) {
		perror("truncate region");
		return 1;
	}
	if (sigsetjmp(env, 1) == 0) {
		volatile char c = m[4096];
		(void)c;
		printf("no fault\n");
	} else {
		printf("app handler ran %d\n", (int)handled);
	}
	if (pread(fd, buf, sizeof(buf), 0) < 0)
		printf("pread errno %s\n", errno == EIO ? "EIO" : strerror(errno));
	else
		printf("pread ok\n");
	/* The application's handler must still be what sigaction reports. */
	if (sigaction(SIGBUS, NULL, &old) == 0)
		printf("handler reported %s\n",
		       old.sa_sigaction == on_bus ? "ours" : "other");
	printf("alive\n");
	return 0;
}
