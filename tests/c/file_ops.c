/*
 * Runs a script of file operations and prints one result line per
 * operation, for tests that predict every result (tests/isolation.rs).
 * Run under the shim as `file_ops SCRIPT READS`; the bytes every pread and
 * mread returns are appended to the file READS, in order. SCRIPT is lines:
 *
 *   open ID PATH r|w|rw           -> open 0 | open ERRNO
 *   close ID                      -> close 0
 *   pread ID OFF LEN              -> pread RET ERRNO
 *   pwrite ID OFF LEN SEED        -> pwrite RET ERRNO
 *   mread ID OFF MAPLEN LEN       -> mread 0 | mread ERRNO
 *   mwrite ID OFF MAPLEN LEN SEED -> mwrite 0 | mwrite ERRNO
 *   probe ID OFF MAPLEN AT        -> probe fault | probe ok
 *   access PATH r|w|rw            -> access 0 | access ERRNO
 *   stat PATH                     -> stat 0 SIZE | stat ERRNO
 *   chdir PATH                    -> chdir 0 | chdir ERRNO
 *   wait                          -> prints `waiting`, reads a line on stdin
 *
 * Written data is the splitmix64 stream of SEED, 8 little-endian bytes per output. mread and
 * mwrite map MAPLEN bytes at OFF (MAP_SHARED) and use the first LEN; probe
 * maps MAPLEN bytes and touches the byte at AT, which must fault. ERRNO is
 * the errno number (0: none).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_IDS 64
static int fds[MAX_IDS];

static FILE *reads;

static void put_read(const unsigned char *p, size_t n)
{
	if (n && fwrite(p, 1, n, reads) != n) {
		perror("writing the reads file");
		exit(2);
	}
}

static void gen(uint32_t seed, unsigned char *buf, size_t n)
{
	uint64_t st = seed;
	for (size_t i = 0; i < n; i += 8) {
		uint64_t z = (st += 0x9E3779B97F4A7C15ULL);
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
		z ^= z >> 31;
		for (size_t k = 0; k < 8 && i + k < n; k++)
			buf[i + k] = z >> (8 * k);
	}
}

static sigjmp_buf probe_env;

static void on_fault(int sig)
{
	siglongjmp(probe_env, sig);
}

static unsigned char *buffer(size_t n)
{
	static unsigned char *buf;
	static size_t cap;
	if (n > cap) {
		free(buf);
		cap = n;
		buf = malloc(cap ? cap : 1);
		if (!buf)
			abort();
	}
	return buf;
}

static int fd_of(int id)
{
	if (id < 0 || id >= MAX_IDS) {
		fprintf(stderr, "bad id %d\n", id);
		exit(2);
	}
	return fds[id];
}

static int flags_of(const char *m)
{
	if (strcmp(m, "r") == 0)
		return O_RDONLY;
	if (strcmp(m, "w") == 0)
		return O_WRONLY;
	return O_RDWR;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s SCRIPT READS\n", argv[0]);
		return 2;
	}
	FILE *script = fopen(argv[1], "r");
	reads = fopen(argv[2], "w");
	if (!script || !reads) {
		perror("opening the script or the reads file");
		return 2;
	}
	struct sigaction sa = { .sa_handler = on_fault };
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	for (int i = 0; i < MAX_IDS; i++)
		fds[i] = -1;

	char line[4200], op[16], path[4096], mode[8];
	int id;
	unsigned long long off, len, maplen, at;
	unsigned seed;
	while (fgets(line, sizeof line, script)) {
		if (sscanf(line, "%15s", op) != 1)
			continue;
		if (strcmp(op, "open") == 0 &&
		    sscanf(line, "%*s %d %4095s %7s", &id, path, mode) == 3) {
			fd_of(id);
			int fd = open(path, flags_of(mode));
			fds[id] = fd;
			printf("open %d\n", fd < 0 ? errno : 0);
		} else if (strcmp(op, "close") == 0 && sscanf(line, "%*s %d", &id) == 1) {
			close(fd_of(id));
			fds[id] = -1;
			printf("close 0\n");
		} else if (strcmp(op, "pread") == 0 &&
			   sscanf(line, "%*s %d %llu %llu", &id, &off, &len) == 3) {
			unsigned char *b = buffer(len);
			errno = 0;
			ssize_t r = pread(fd_of(id), b, len, off);
			int e = r < 0 ? errno : 0;
			put_read(b, r > 0 ? r : 0);
			printf("pread %zd %d\n", r, e);
		} else if (strcmp(op, "pwrite") == 0 &&
			   sscanf(line, "%*s %d %llu %llu %u", &id, &off, &len, &seed) == 4) {
			unsigned char *b = buffer(len);
			gen(seed, b, len);
			ssize_t r = pwrite(fd_of(id), b, len, off);
			printf("pwrite %zd %d\n", r, r < 0 ? errno : 0);
		} else if ((strcmp(op, "mread") == 0 &&
			    sscanf(line, "%*s %d %llu %llu %llu", &id, &off, &maplen, &len) == 4) ||
			   (strcmp(op, "mwrite") == 0 &&
			    sscanf(line, "%*s %d %llu %llu %llu %u", &id, &off, &maplen, &len, &seed) == 5)) {
			int write = op[1] == 'w';
			int prot = PROT_READ | (write ? PROT_WRITE : 0);
			unsigned char *m = mmap(NULL, maplen, prot, MAP_SHARED, fd_of(id), off);
			if (m == MAP_FAILED) {
				printf("%s %d\n", op, errno);
			} else if (write) {
				unsigned char *b = buffer(len);
				gen(seed, b, len);
				memcpy(m, b, len);
				munmap(m, maplen);
				printf("mwrite 0\n");
			} else {
				put_read(m, len);
				munmap(m, maplen);
				printf("mread 0\n");
			}
		} else if (strcmp(op, "probe") == 0 &&
			   sscanf(line, "%*s %d %llu %llu %llu", &id, &off, &maplen, &at) == 4) {
			volatile unsigned char *m =
				mmap(NULL, maplen, PROT_READ, MAP_SHARED, fd_of(id), off);
			if (m == MAP_FAILED) {
				printf("probe %d\n", errno);
			} else {
				if (sigsetjmp(probe_env, 1) == 0) {
					unsigned char c = m[at];
					(void)c;
					printf("probe ok\n");
				} else {
					printf("probe fault\n");
				}
				munmap((void *)m, maplen);
			}
		} else if (strcmp(op, "access") == 0 &&
			   sscanf(line, "%*s %4095s %7s", path, mode) == 2) {
			int want = (strchr(mode, 'r') ? R_OK : 0) | (strchr(mode, 'w') ? W_OK : 0);
			printf("access %d\n", access(path, want) == 0 ? 0 : errno);
		} else if (strcmp(op, "stat") == 0 && sscanf(line, "%*s %4095s", path) == 1) {
			struct stat st;
			if (stat(path, &st) == 0)
				printf("stat 0 %lld\n", (long long)st.st_size);
			else
				printf("stat %d\n", errno);
		} else if (strcmp(op, "chdir") == 0 && sscanf(line, "%*s %4095s", path) == 1) {
			printf("chdir %d\n", chdir(path) == 0 ? 0 : errno);
		} else if (strcmp(op, "wait") == 0) {
			char in[16];
			printf("waiting\n");
			fflush(stdout);
			if (!fgets(in, sizeof in, stdin))
				break;
			continue;
		} else {
			fprintf(stderr, "bad script line: %s", line);
			return 2;
		}
	}
	fflush(stdout);
	if (fclose(reads) != 0) {
		perror("closing the reads file");
		return 2;
	}
	return 0;
}
