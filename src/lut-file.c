/* SPDX-License-Identifier: MIT */
/* Reads a power LUT file for lut_parse(): the only I/O of the LUT, kept out
 * of the pure core. A FIFO or device is refused, never waited on. */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "homebattery/cleanup.h"
#include "homebattery/lut.h"

int lut_load(const char *path, struct lut **ret) {
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        ssize_t n;
        size_t len = 0;
        int fd, r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto out;
        }
        if (!S_ISREG(st.st_mode)) {
                r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
                goto out;
        }
        /* One byte more than allowed tells a file at the limit from a larger one. */
        buf = malloc(LUT_FILE_SIZE_MAX + 1);
        if (!buf) {
                r = -ENOMEM;
                goto out;
        }
        while (len < LUT_FILE_SIZE_MAX + 1 && (n = read(fd, buf + len, LUT_FILE_SIZE_MAX + 1 - len)) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto out;
                }
                len += (size_t) n;
        }
        r = len > LUT_FILE_SIZE_MAX ? -EFBIG : lut_parse(buf, len, ret);
out:
        close(fd);
        return r;
}
