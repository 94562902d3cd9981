/* A free() that looks before it frees, for keystore/tests/zeroize.rs (T-Z-2), loaded with
 * LD_PRELOAD. $PAYHSM_SECRET_PATTERN is a key in hex; every block freed (by free, or by
 * realloc, which here always moves) is searched for the key's bytes and its hex spelling in
 * either case, and at exit the count of blocks that held one is written to stderr:
 * "PATTERN-FREES <n>". The process itself never reads the variable, so it leaves no copy.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);

static unsigned char raw[64];
static char upper[129], lower[129];
static size_t len;
static long hits;

__attribute__((constructor)) static void init(void) {
    const char *hex = getenv("PAYHSM_SECRET_PATTERN");
    if (!hex) return;
    size_t n = strlen(hex) / 2;
    if (n == 0 || n > sizeof raw) return;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) return;
        raw[i] = (unsigned char)v;
        snprintf(upper + 2 * i, 3, "%02X", v);
        snprintf(lower + 2 * i, 3, "%02x", v);
    }
    len = n;
}

__attribute__((destructor)) static void report(void) {
    if (!len) return;
    char line[64];
    int n = snprintf(line, sizeof line, "PATTERN-FREES %ld\n", hits);
    if (write(2, line, (size_t)n) < 0) return;
}

static void inspect(void *p) {
    size_t n = malloc_usable_size(p);
    if (memmem(p, n, raw, len) || memmem(p, n, upper, 2 * len) || memmem(p, n, lower, 2 * len))
        hits++;
}

void free(void *p) {
    if (p && len) inspect(p);
    __libc_free(p);
}

void *realloc(void *p, size_t n) {
    if (!p) return __libc_malloc(n);
    if (n == 0) { free(p); return NULL; }
    void *q = __libc_malloc(n);
    if (!q) return NULL;
    size_t old = malloc_usable_size(p);
    memcpy(q, p, old < n ? old : n);
    free(p);
    return q;
}
