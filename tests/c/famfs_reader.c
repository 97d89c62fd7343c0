/*
 * A reader for the reliability tests, run under the shim (LD_PRELOAD).
 *
 * Files it checks are self-describing: a name ending in _s{SEED}_n{SIZE}
 * holds SIZE bytes of the famfs random pattern for SEED (what
 * `famfs creat -r -S SEED` writes). A reader can thus tell by itself whether
 * what it sees is complete.
 *
 *   famfs_reader scan DIR STOPFILE
 *     Lists DIR over and over. Every new self-describing name is stat'ed,
 *     opened and read (or mapped) completely and checked; one file already
 *     checked is read again on every pass. After the first pass it prints
 *     `first N` (names listed), so a test can start writers only once the
 *     reader is under way. Once STOPFILE (a host path) exists, one last
 *     pass runs and the reader reports:
 *       passes P verified V rereads R grew G partial S final F bad B
 *     (G: passes whose listing had grown; S: passes that listed more than
 *     the first and fewer than the last; F: names in the last listing) and
 *     one `BAD name: why` line per failure. Exit status 1 if anything was
 *     bad.
 *
 *   famfs_reader lookup
 *     For each line PATH on stdin, one stat(PATH): prints `ok SIZE` or
 *     `err ERRNO_NAME`, flushed (for tests that need "one lookup").
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The famfs fill pattern: xoroshiro128+ seeded by splitmix64 from the
 * 32-bit seed; each 4 bytes of the stream are the low 32 bits of the next
 * output, little-endian (a final partial word: the low bytes of one more). */
struct pattern {
	uint64_t s0, s1;
};

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void pattern_init(struct pattern *p, uint32_t seed)
{
	uint64_t st = seed;
	p->s0 = splitmix64(&st);
	p->s1 = splitmix64(&st);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint32_t pattern_word(struct pattern *p)
{
	uint64_t s0 = p->s0, s1 = p->s1, r = s0 + s1;
	s1 ^= s0;
	p->s0 = rotl(s0, 55) ^ s1 ^ (s1 << 14);
	p->s1 = rotl(s1, 36);
	return (uint32_t)r;
}

/* Fills buf with the next len bytes; len must be a multiple of 4 except on
 * the stream's last call. */
static void pattern_fill(struct pattern *p, unsigned char *buf, size_t len)
{
	size_t i = 0;
	for (; i + 4 <= len; i += 4) {
		uint32_t w = pattern_word(p);
		buf[i] = w;
		buf[i + 1] = w >> 8;
		buf[i + 2] = w >> 16;
		buf[i + 3] = w >> 24;
	}
	if (i < len) {
		uint32_t w = pattern_word(p);
		for (; i < len; i++, w >>= 8)
			buf[i] = w;
	}
}

/* Parses ..._s{SEED}_n{SIZE}. */
static int parse_name(const char *name, uint32_t *seed, uint64_t *size)
{
	const char *n = strrchr(name, '_');
	if (!n || n[1] != 'n' || n == name)
		return 0;
	const char *s = n - 1;
	while (s > name && *s != '_')
		s--;
	if (*s != '_' || s[1] != 's')
		return 0;
	char *end;
	unsigned long long sd = strtoull(s + 2, &end, 10);
	if (end != n || sd > UINT32_MAX)
		return 0;
	unsigned long long sz = strtoull(n + 2, &end, 10);
	if (*end || end == n + 2)
		return 0;
	*seed = (uint32_t)sd;
	*size = sz;
	return 1;
}

#define CHUNK (256 * 1024)
static unsigned char got[CHUNK], want[CHUNK];
static long bad;

static void __attribute__((format(printf, 2, 3))) report_bad(const char *name, const char *fmt, ...)
{
	va_list ap;
	/* The count is exact; only the first failures are spelled out. */
	if (bad++ < 20) {
		va_start(ap, fmt);
		printf("BAD %s: ", name);
		vprintf(fmt, ap);
		printf("\n");
		fflush(stdout);
		va_end(ap);
	}
}

/* Reads exactly n bytes unless EOF or an error comes first. */
static ssize_t read_full(int fd, unsigned char *buf, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = read(fd, buf + done, n - done);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		done += r;
	}
	return done;
}

/* Reads (or maps, one file in four) path completely and checks it. */
static void verify(const char *dir, const char *name)
{
	char path[4096];
	uint32_t seed;
	uint64_t size;
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (!parse_name(name, &seed, &size))
		return;
	if (stat(path, &st) != 0) {
		report_bad(name, "listed but stat fails: errno %d", errno);
		return;
	}
	if ((uint64_t)st.st_size != size) {
		report_bad(name, "size %lld, name says %" PRIu64, (long long)st.st_size, size);
		return;
	}
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		report_bad(name, "listed but open fails: errno %d", errno);
		return;
	}
	struct pattern p;
	pattern_init(&p, seed);
	unsigned char *map = NULL;
	if (seed % 4 == 0 && size > 0) {
		map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED) {
			report_bad(name, "mmap fails: errno %d", errno);
			close(fd);
			return;
		}
	}
	uint64_t off = 0;
	while (off < size) {
		size_t n = size - off < CHUNK ? size - off : CHUNK;
		const unsigned char *data;
		if (map) {
			data = map + off;
		} else {
			ssize_t r = read_full(fd, got, n);
			if (r != (ssize_t)n) {
				report_bad(name, "read at %" PRIu64 " returned %zd (errno %d)", off, r, errno);
				break;
			}
			data = got;
		}
		/* n is a multiple of 4 except at the end of the file. */
		pattern_fill(&p, want, n);
		if (memcmp(data, want, n) != 0) {
			size_t i = 0;
			while (data[i] == want[i])
				i++;
			report_bad(name, "content differs at offset %" PRIu64 " (seed %u)", off + i, seed);
			break;
		}
		off += n;
	}
	if (!map) {
		char extra;
		if (off == size && read(fd, &extra, 1) != 0)
			report_bad(name, "reads past the size %" PRIu64, size);
	} else {
		munmap(map, size);
	}
	close(fd);
}

/* Names already checked: an open-addressing hash set (the list of them,
 * in order, for re-reads). */
struct names {
	char **v; /* in insertion order */
	size_t n, cap;
	char **slots;
	size_t nslots;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static int has(const struct names *s, const char *name)
{
	if (!s->nslots)
		return 0;
	for (size_t i = fnv1a(name) % s->nslots; s->slots[i]; i = (i + 1) % s->nslots)
		if (strcmp(s->slots[i], name) == 0)
			return 1;
	return 0;
}

static void insert_slot(char **slots, size_t nslots, char *name)
{
	size_t i = fnv1a(name) % nslots;
	while (slots[i])
		i = (i + 1) % nslots;
	slots[i] = name;
}

static void add(struct names *s, const char *name)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->v = realloc(s->v, s->cap * sizeof *s->v);
		/* Keep the table at most half full. */
		char **slots = calloc(s->cap * 2, sizeof *slots);
		if (!s->v || !slots)
			abort();
		for (size_t i = 0; i < s->n; i++)
			insert_slot(slots, s->cap * 2, s->v[i]);
		free(s->slots);
		s->slots = slots;
		s->nslots = s->cap * 2;
	}
	s->v[s->n] = strdup(name);
	if (!s->v[s->n])
		abort();
	insert_slot(s->slots, s->nslots, s->v[s->n]);
	s->n++;
}

static int scan(const char *dir, const char *stopfile)
{
	struct names verified = { 0 };
	long passes = 0, rereads = 0, grew = 0, partial = 0;
	size_t last = 0, reread_at = 0;
	size_t *counts = NULL, ncounts = 0, capcounts = 0;
	for (;;) {
		int stopping = access(stopfile, F_OK) == 0;
		DIR *d = opendir(dir);
		if (!d) {
			printf("BAD %s: opendir fails: errno %d\n", dir, errno);
			return 1;
		}
		size_t listed = 0;
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			uint32_t seed;
			uint64_t size;
			if (!parse_name(e->d_name, &seed, &size))
				continue;
			listed++;
			if (!has(&verified, e->d_name)) {
				verify(dir, e->d_name);
				add(&verified, e->d_name);
			}
		}
		closedir(d);
		if (verified.n > 0) {
			verify(dir, verified.v[reread_at++ % verified.n]);
			rereads++;
		}
		if (listed > last)
			grew++;
		if (listed < last)
			report_bad(dir, "listing shrank from %zu to %zu", last, listed);
		last = listed;
		if (ncounts == capcounts) {
			capcounts = capcounts ? capcounts * 2 : 1024;
			counts = realloc(counts, capcounts * sizeof *counts);
			if (!counts)
				abort();
		}
		counts[ncounts++] = listed;
		if (passes++ == 0) {
			printf("first %zu\n", listed);
			fflush(stdout);
		}
		if (stopping)
			break;
		usleep(1000); /* leave the writers some CPU */
	}
	for (size_t i = 0; i < ncounts; i++)
		if (counts[i] > counts[0] && counts[i] < last)
			partial++;
	printf("passes %ld verified %zu rereads %ld grew %ld partial %ld final %zu bad %ld\n",
	       passes, verified.n, rereads, grew, partial, last, bad);
	return bad != 0;
}

static int lookup(void)
{
	char line[4096];
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = 0;
		struct stat st;
		if (stat(line, &st) == 0)
			printf("ok %lld\n", (long long)st.st_size);
		else
			printf("err %s\n", strerrorname_np(errno));
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "scan") == 0)
		return scan(argv[2], argv[3]);
	if (argc == 2 && strcmp(argv[1], "lookup") == 0)
		return lookup();
	fprintf(stderr, "usage: %s scan DIR STOPFILE | %s lookup\n", argv[0], argv[0]);
	return 2;
}
