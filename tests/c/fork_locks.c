/* Forks while a second thread calls into famfs holding a lock of the
 * program's own, which the program's fork handler also takes (as a
 * logger's or allocator's does). Usage: fork_locks PATH SECONDS.
 * Prints "forks N" and "hung N": a child that has not exited 2 s after
 * the fork was stuck and is killed. If the parent itself deadlocks, the
 * test's own timeout sees it (alarm after SECONDS + 10). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t app_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *path;
static volatile int stop;

static void take(void) { pthread_mutex_lock(&app_lock); }
static void give(void) { pthread_mutex_unlock(&app_lock); }

static void *caller(void *arg) {
    (void)arg;
    struct stat st;
    while (!stop) {
        take();
        stat(path, &st);
        give();
    }
    return NULL;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: fork_locks PATH SECONDS\n");
        return 2;
    }
    path = argv[1];
    double seconds = atof(argv[2]);
    alarm((unsigned)seconds + 10);
    if (pthread_atfork(take, give, give) != 0) {
        perror("pthread_atfork");
        return 1;
    }
    pthread_t t;
    if (pthread_create(&t, NULL, caller, NULL) != 0) {
        perror("pthread_create");
        return 1;
    }
    int forks = 0, hung = 0;
    double end = now() + seconds;
    while (now() < end) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            struct stat st;
            stat(path, &st);
            _exit(0);
        }
        double t0 = now();
        int status;
        while (waitpid(pid, &status, WNOHANG) == 0) {
            if (now() - t0 > 2) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                hung++;
                break;
            }
            usleep(200);
        }
        forks++;
    }
    stop = 1;
    pthread_join(t, NULL);
    printf("forks %d\nhung %d\n", forks, hung);
    return 0;
}
