/*
 * hookcost: what a preloaded library's open/read/close hooks cost a
 * program on files that are not famfs, measured in one process.
 *
 *   cc -O2 -o hookcost bench/c/hookcost.c -ldl
 *   FAMFS_MOUNTS=... ./hookcost DIR OPS ROUNDS MASK LIB.so [LIB2.so ...]
 *
 * DIR holds files f0..f63 (`make bench BENCH_ARGS=--keep` leaves them in
 * target/bench/plain). Each LIB is loaded with dlopen (RTLD_LOCAL, so two
 * builds of the same library can be compared in one run; give each its own
 * file name) and its hooks are called directly; MASK picks which of them
 * (1 open, 2 read, 4 close; libc's for the others). A round times OPS
 * open + read(4 KiB) + close through each library and through libc itself,
 * in a rotating order; the result per library is the median over ROUNDS of
 * (its time - libc's time in the same round), in nanoseconds per operation,
 * with the quartiles. Pairing within a round cancels the machine's drift,
 * which between processes is larger than the costs this measures.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int (*open_fn)(const char *, int, ...);
typedef long (*read_fn)(int, void *, unsigned long);
typedef int (*close_fn)(int);

enum { MAX_SIDES = 9, FILES = 64, WARM_ROUNDS = 5 };

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: %s DIR OPS ROUNDS MASK LIB.so...\n", argv[0]);
		return 2;
	}
	const char *dir = argv[1];
	int ops = atoi(argv[2]), rounds = atoi(argv[3]), mask = atoi(argv[4]);
	int sides = argc - 4; /* libc, then each library */
	if (sides > MAX_SIDES || ops <= 0 || rounds <= 0) {
		fprintf(stderr, "%s: at most %d libraries, OPS and ROUNDS > 0\n", argv[0], MAX_SIDES - 1);
		return 2;
	}
	open_fn o[MAX_SIDES];
	read_fn r[MAX_SIDES];
	close_fn c[MAX_SIDES];
	void *libc = dlopen("libc.so.6", RTLD_NOLOAD | RTLD_NOW);
	o[0] = (open_fn)dlsym(libc, "open");
	r[0] = (read_fn)dlsym(libc, "read");
	c[0] = (close_fn)dlsym(libc, "close");
	for (int s = 1; s < sides; s++) {
		void *h = dlopen(argv[4 + s], RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			fprintf(stderr, "%s\n", dlerror());
			return 1;
		}
		o[s] = (mask & 1) ? (open_fn)dlsym(h, "open") : o[0];
		r[s] = (mask & 2) ? (read_fn)dlsym(h, "read") : r[0];
		c[s] = (mask & 4) ? (close_fn)dlsym(h, "close") : c[0];
		if (!o[s] || !r[s] || !c[s]) {
			fprintf(stderr, "%s lacks open, read or close\n", argv[4 + s]);
			return 1;
		}
	}
	char names[FILES][4096];
	for (int i = 0; i < FILES; i++)
		snprintf(names[i], sizeof names[i], "%s/f%d", dir, i);
	static char buf[8192] __attribute__((aligned(4096)));
	double *t = calloc((size_t)sides * rounds, sizeof *t);
	for (int k = 0; k < rounds + WARM_ROUNDS; k++) {
		for (int j = 0; j < sides; j++) {
			int s = (j + k) % sides;
			double t0 = now();
			for (int i = 0; i < ops; i++) {
				int fd = o[s](names[i % FILES], O_RDONLY | O_CLOEXEC);
				if (fd < 0 || r[s](fd, buf, 4096) < 0) {
					perror(names[i % FILES]);
					return 1;
				}
				c[s](fd);
			}
			if (k >= WARM_ROUNDS)
				t[s * rounds + k - WARM_ROUNDS] = (now() - t0) / ops * 1e9;
		}
	}
	double *d = calloc(rounds, sizeof *d);
	for (int s = 1; s < sides; s++) {
		for (int k = 0; k < rounds; k++)
			d[k] = t[s * rounds + k] - t[k];
		qsort(d, rounds, sizeof *d, by_value);
		printf("%-40s %+6.1f ns  (quartiles %+.1f %+.1f)\n", argv[4 + s],
		       d[rounds / 2], d[rounds / 4], d[3 * rounds / 4]);
	}
	qsort(t, rounds, sizeof *t, by_value);
	printf("%-40s %6.1f ns per open + read + close\n", "libc", t[rounds / 2]);
	return 0;
}
