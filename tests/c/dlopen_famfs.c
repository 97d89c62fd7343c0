/*
 * dlopen of a shared library kept on famfs, under the shim.
 *
 * usage: dlopen_famfs LIB MISSING
 * Prints "ok NAME" or "FAIL NAME: detail"; exits with the failure count.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static int failures;

static void check(const char *name, int cond, const char *what)
{
    if (cond) {
        printf("ok %s\n", name);
    } else {
        printf("FAIL %s: %s (dlerror: %s)\n", name, what, dlerror());
        failures++;
    }
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 100;
    void *h = dlopen(argv[1], RTLD_NOW);
    check("dlopen", h != NULL, "dlopen of the famfs library failed");
    if (!h)
        return failures;
    int (*add)(int, int) = (int (*)(int, int))dlsym(h, "famfs_add");
    check("dlsym", add != NULL, "famfs_add not found");
    if (add)
        check("call", add(2, 3) == 5, "famfs_add(2, 3) != 5");
    void *h2 = dlopen(argv[1], RTLD_NOW | RTLD_NOLOAD);
    check("same_handle", h2 == h, "a second dlopen gave another handle");
    check("dlclose", dlclose(h) == 0 && (h2 == NULL || dlclose(h2) == 0), "dlclose failed");
    void *m = dlopen(argv[2], RTLD_NOW);
    const char *err = m ? NULL : dlerror();
    check("missing", m == NULL && err != NULL && strstr(err, "No such file") != NULL,
          "dlopen of a missing famfs path did not fail with a message");
    return failures;
}
