/*
 * Memory of a process around its first lookup of a path, for the shim's
 * cost (tests/limits.rs).
 *
 *   mem_usage PATH
 *
 * Prints `before ...`, then stats PATH (`stat 0` or `stat ERRNO`), then
 * `after ...`, where ... is `rss KB anon KB file KB hwm KB heap BYTES`:
 * VmRSS, RssAnon, RssFile and VmHWM from /proc/self/status and the bytes
 * malloc has handed out (mallinfo2: in use plus mmap'd chunks).
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static long field(const char *status, const char *name)
{
	const char *p = strstr(status, name);
	long v = -1;
	if (p)
		sscanf(p + strlen(name), " %ld", &v);
	return v;
}

static void report(const char *when)
{
	char status[8192];
	FILE *f = fopen("/proc/self/status", "r");
	size_t n = f ? fread(status, 1, sizeof status - 1, f) : 0;
	if (f)
		fclose(f);
	status[n] = 0;
	struct mallinfo2 mi = mallinfo2();
	printf("%s rss %ld anon %ld file %ld hwm %ld heap %zu\n", when, field(status, "VmRSS:"),
	       field(status, "RssAnon:"), field(status, "RssFile:"), field(status, "VmHWM:"),
	       mi.uordblks + mi.hblkhd);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH\n", argv[0]);
		return 2;
	}
	report("before");
	struct stat st;
	printf("stat %d\n", stat(argv[1], &st) == 0 ? 0 : errno);
	report("after");
	return 0;
}
