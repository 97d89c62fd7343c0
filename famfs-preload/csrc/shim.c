/*
 * C the shim needs: the variadic exec functions, and a stream helper.
 *
 * The variadic exec functions. glibc's execl, execlp and execle call its
 * internal execve, which the shim cannot interpose, so these collect their
 * arguments and call the public execv, execvp and execve, which it does.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#define FAMFS_MAX_EXEC_ARGS 4096

/*
 * Collects the NULL-terminated argument list that starts with `arg` into
 * `argv`; 0, or -1 with E2BIG when it does not fit.
 */
static int collect_args(const char **argv, const char *arg, va_list *ap)
{
	int n = 0;

	argv[n++] = arg;
	while (argv[n - 1] != NULL) {
		if (n == FAMFS_MAX_EXEC_ARGS) {
			errno = E2BIG;
			return -1;
		}
		argv[n++] = va_arg(*ap, const char *);
	}
	return 0;
}

int execl(const char *path, const char *arg, ...)
{
	const char *argv[FAMFS_MAX_EXEC_ARGS];
	va_list ap;
	int r;

	va_start(ap, arg);
	r = collect_args(argv, arg, &ap);
	va_end(ap);
	return r ? r : execv(path, (char *const *)argv);
}

int execlp(const char *file, const char *arg, ...)
{
	const char *argv[FAMFS_MAX_EXEC_ARGS];
	va_list ap;
	int r;

	va_start(ap, arg);
	r = collect_args(argv, arg, &ap);
	va_end(ap);
	return r ? r : execvp(file, (char *const *)argv);
}

int execle(const char *path, const char *arg, ...)
{
	const char *argv[FAMFS_MAX_EXEC_ARGS];
	char *const *envp;
	va_list ap;
	int r;

	va_start(ap, arg);
	r = collect_args(argv, arg, &ap);
	envp = r ? NULL : va_arg(ap, char *const *);
	va_end(ap);
	return r ? r : execve(path, (char *const *)argv, envp);
}

#include <stdio.h>

/*
 * Gives a fopencookie stream a descriptor number, so fileno() on a stream
 * the shim made for a famfs file returns that file's descriptor (which the
 * shim serves) instead of -1. `_fileno` is part of glibc's public struct
 * _IO_FILE; a cookie stream never hands it to the kernel itself.
 */
void famfs_set_stream_fd(FILE *f, int fd)
{
	f->_fileno = fd;
}

/*
 * glibc's syscall() function, which programs (libuv, for statx) use to make
 * system calls glibc has no wrapper for. It is variadic, so the arguments
 * are collected here, six of them as the kernel takes, and handed to the
 * Rust dispatcher, which serves the file-system calls on famfs paths and
 * descriptors and makes every other call itself.
 */
long famfs_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6);

long syscall(long nr, ...)
{
	va_list ap;
	long a[6];
	int i;

	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	return famfs_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
