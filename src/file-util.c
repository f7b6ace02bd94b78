/* SPDX-License-Identifier: MIT */
/* read_regular_file(): the configuration and LUT files are read through it,
 * so neither the check nor the daemon can hang on a FIFO. */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file-util.h"
#include "homebattery/cleanup.h"

const char *file_kind(mode_t m) {
        return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device" :
               S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "a special file";
}

int read_regular_file(const char *path, size_t max_size, char **ret, size_t *ret_size, mode_t *ret_mode) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t n = 0;

        *ret = NULL;
        *ret_size = 0;
        *ret_mode = 0;
        if (stat(path, &st) < 0)
                return -errno;
        *ret_mode = st.st_mode;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if ((unsigned long long) st.st_size > max_size) {
                *ret_size = (size_t) st.st_size;
                return -EFBIG;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        *ret_mode = st.st_mode;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        /* One byte more than allowed tells a file that grew past the limit. */
        buf = malloc(max_size + 2);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, buf + n, max_size + 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0 || (n += (size_t) k) > max_size)
                        break;
        }
        if (n > max_size) {
                *ret_size = n;
                return -EFBIG;
        }
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}
