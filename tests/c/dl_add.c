/* A tiny shared library for the dlopen test: built by the test, copied to famfs. */
int famfs_add(int a, int b)
{
    return a + b;
}
