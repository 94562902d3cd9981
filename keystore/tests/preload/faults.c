/* A file-system fault shim for keystore/tests/crash.rs, loaded with LD_PRELOAD.
 *
 * It touches only descriptors of files whose path contains "keys.db" (the database, its WAL
 * and shared-memory files), and does nothing until the test calls payhsm_fault_arm(mode, k):
 *   EIO     every fsync/fdatasync fails with EIO;
 *   ENOSPC  every write fails with ENOSPC;
 *   LOSE, TEAR, REORDER: a power cut at the k-th sync after arming. Writes before the
 *   (k-1)-th sync reach the file; of those after it, LOSE keeps none, TEAR keeps the first
 *   half of each, REORDER keeps all but the first; the k-th sync then ends the process
 *   (_exit(86)) before it syncs anything.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

enum { OFF, EIO_SYNC, ENOSPC_WRITE, LOSE, TEAR, REORDER };

static int mode = OFF;
static int crash_at;     /* the sync that ends the process, counted from 1 */
static int syncs;        /* syncs of keys.db files since arming */
static int window_writes; /* writes since the last sync, in the faulted window */

static char armed[32];

static void read_arm(void) {
    char now[32] = {0};
    const char *file = getenv("PAYHSM_FAULT_FILE");
    int fd = file ? open(file, O_RDONLY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        ssize_t n = read(fd, now, sizeof now - 1);
        close(fd);
        if (n < 0) now[0] = 0;
    }
    if (strcmp(now, armed) == 0) return;
    memcpy(armed, now, sizeof armed);
    mode = OFF;
    crash_at = 0;
    if (sscanf(now, "%d %d", &mode, &crash_at) < 1) mode = OFF;
    syncs = 0;
    window_writes = 0;
}

static int is_store(int fd) {
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return 0;
    path[n] = 0;
    return strstr(path, "keys.db") != NULL;
}

static int faulted_window(void) {
    return (mode == LOSE || mode == TEAR || mode == REORDER) && syncs >= crash_at - 1;
}

/* What of a write of n bytes reaches the file: -1 an error, else the bytes to write. */
static ssize_t keep(int fd, size_t n) {
    if (!is_store(fd)) return (ssize_t)n;
    read_arm();
    if (mode == OFF) return (ssize_t)n;
    if (mode == ENOSPC_WRITE) { errno = ENOSPC; return -1; }
    if (!faulted_window()) return (ssize_t)n;
    window_writes++;
    switch (mode) {
    case LOSE: return 0;
    case TEAR: return (ssize_t)(n / 2);
    case REORDER: return window_writes == 1 ? 0 : (ssize_t)n;
    }
    return (ssize_t)n;
}

static int on_sync(int fd) {
    if (!is_store(fd)) return 0;
    read_arm();
    if (mode == OFF) return 0;
    if (mode == EIO_SYNC) { errno = EIO; return -1; }
    if (mode == LOSE || mode == TEAR || mode == REORDER) {
        syncs++;
        if (syncs >= crash_at) _exit(86);
        window_writes = 0;
    }
    return 0;
}

#define REAL(name) static __typeof__(name) *real; if (!real) real = dlsym(RTLD_NEXT, #name)

ssize_t write(int fd, const void *buf, size_t n) {
    REAL(write);
    ssize_t k = keep(fd, n);
    if (k < 0) return -1;
    if (k > 0 && real(fd, buf, (size_t)k) < 0) return -1;
    return (ssize_t)n;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    REAL(pwrite);
    ssize_t k = keep(fd, n);
    if (k < 0) return -1;
    if (k > 0 && real(fd, buf, (size_t)k, off) < 0) return -1;
    return (ssize_t)n;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
    REAL(pwrite64);
    ssize_t k = keep(fd, n);
    if (k < 0) return -1;
    if (k > 0 && real(fd, buf, (size_t)k, off) < 0) return -1;
    return (ssize_t)n;
}

int fsync(int fd) {
    REAL(fsync);
    if (on_sync(fd) < 0) return -1;
    return real(fd);
}

int fdatasync(int fd) {
    REAL(fdatasync);
    if (on_sync(fd) < 0) return -1;
    return real(fd);
}
