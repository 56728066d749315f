#ifndef CLINUX_SHIM_H
#define CLINUX_SHIM_H
/* glibc calls that Swift's Glibc module does not export (they sit behind _GNU_SOURCE or in malloc.h). */
#include <malloc.h>
#include <pthread.h>
#include <sys/random.h>

extern int pthread_setname_np(pthread_t thread, const char *name);

/* Names the calling thread (at most 15 bytes show in top and /proc). */
static inline int clinux_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }

/* glibc gives each allocating thread an arena of its own, up to 8 per core, each keeping freed memory. */
static inline int clinux_limit_malloc_arenas(int count) { return mallopt(M_ARENA_MAX, count); }

/* Fills `buffer` from the kernel's CSPRNG; returns the bytes written, or -1. */
static inline long clinux_getrandom(void *buffer, unsigned long count) { return getrandom(buffer, count, 0); }

#endif
