/* SPDX-License-Identifier: MIT */
/* Scope-bound cleanup: `_cleanup_(fn)` frees a local on every return path, and
 * TAKE_PTR() hands ownership out of such a local. Keeps error paths short. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_ __attribute__((unused))
#define _pure_ __attribute__((pure))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Returns the pointer and sets the variable to NULL, so its cleanup does nothing. */
#define TAKE_PTR(p)                                \
        ({                                         \
                __typeof__(p) *_pp_ = &(p);        \
                __typeof__(p) _ptr_ = *_pp_;       \
                *_pp_ = NULL;                      \
                _ptr_;                             \
        })

/* Declares `name##p(type *p)` calling `func(*p)` when *p is not NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)        \
        static inline void func##p(type *p) {          \
                if (*p)                                \
                        func(*p);                      \
        }

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}
