/* LD_PRELOAD shim for tools/bench: counts heap allocations and prints the
 * total to the file named by MALLOC_COUNT_OUT when the process exits. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static atomic_long count;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);

/* dlsym may call calloc before real_calloc is known: serve it from a static pool. */
static char pool[4096];
static size_t pool_used;

void *malloc(size_t n) {
  if (!real_malloc) real_malloc = dlsym(RTLD_NEXT, "malloc");
  atomic_fetch_add(&count, 1);
  return real_malloc(n);
}

void *calloc(size_t a, size_t b) {
  if (!real_calloc) {
    static int resolving;
    if (resolving) {
      void *p = pool + pool_used;
      pool_used += (a * b + 15) & ~(size_t)15;
      return p;
    }
    resolving = 1;
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    resolving = 0;
  }
  atomic_fetch_add(&count, 1);
  return real_calloc(a, b);
}

void *realloc(void *p, size_t n) {
  if (!real_realloc) real_realloc = dlsym(RTLD_NEXT, "realloc");
  atomic_fetch_add(&count, 1);
  return real_realloc(p, n);
}

int posix_memalign(void **p, size_t a, size_t n) {
  if (!real_posix_memalign) real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
  atomic_fetch_add(&count, 1);
  return real_posix_memalign(p, a, n);
}

void *aligned_alloc(size_t a, size_t n) {
  if (!real_aligned_alloc) real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
  atomic_fetch_add(&count, 1);
  return real_aligned_alloc(a, n);
}

void free(void *p) {
  static void (*real_free)(void *);
  if ((char *)p >= pool && (char *)p < pool + sizeof pool) return;
  if (!real_free) real_free = dlsym(RTLD_NEXT, "free");
  real_free(p);
}

__attribute__((destructor)) static void report(void) {
  const char *path = getenv("MALLOC_COUNT_OUT");
  if (!path) return;
  FILE *f = fopen(path, "w");
  if (!f) return;
  fprintf(f, "%ld\n", atomic_load(&count));
  fclose(f);
}
