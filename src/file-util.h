/* SPDX-License-Identifier: MIT */
/* Reading a small file that a user names (the configuration, a LUT) without
 * ever waiting on it: one implementation for every such file. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Reads the whole of a regular file of at most max_size bytes. A FIFO, device,
 * socket or directory is refused before it is opened, and O_NONBLOCK covers
 * a file replaced in between. Returns 0 with *ret (malloc'ed, NUL-terminated)
 * and *ret_size; -EINVAL when it is not a regular file (*ret_mode
 * tells what it is), -EFBIG when it is larger (*ret_size: the size seen), or
 * another -errno. */
int read_regular_file(const char *path, size_t max_size, char **ret, size_t *ret_size, mode_t *ret_mode);

/* "a directory", "a FIFO", ... for a mode that is not a regular file. */
const char *file_kind(mode_t m);
