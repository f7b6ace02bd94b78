/* SPDX-License-Identifier: MIT */
/* Reads a power LUT file for lut_parse(): the only I/O of the LUT, kept out
 * of the pure core. A FIFO or device is refused, never waited on. */

#include <errno.h>
#include <sys/stat.h>

#include "file-util.h"
#include "homebattery/cleanup.h"
#include "homebattery/lut.h"

int lut_load(const char *path, struct lut **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t n;
        mode_t mode;
        int r;

        r = read_regular_file(path, LUT_FILE_SIZE_MAX, &buf, &n, &mode);
        if (r == -EINVAL && S_ISDIR(mode))
                return -EISDIR;
        if (r < 0)
                return r;
        return lut_parse(buf, n, ret);
}
