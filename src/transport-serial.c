/* SPDX-License-Identifier: MIT */
/* A serial port in the event loop: opened non-blocking and raw, read when
 * readable, written from a small bounded queue when writable. Any error or
 * hang-up closes it and a timer tries again, so unplugging and replugging a
 * USB cable needs no restart. Symlinks (/dev/serial/by-id/...) just work. */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "homebattery/log.h"
#include "transport-serial.h"
#include "homebattery/time-util.h"

#define REOPEN_USEC (3 * USEC_PER_SEC)
#define OUT_MAX 256

struct serial_port {
        char *name; /* the device's, for the log */
        sd_event *event;
        char *path;
        speed_t speed;
        enum serial_parity parity;
        unsigned stop_bits;
        struct serial_callbacks cb;
        void *userdata;
        int fd;
        sd_event_source *io;
        sd_event_source *reopen;
        uint8_t out[OUT_MAX];
        size_t out_len;
        struct ratelimit rl;
};

static void schedule_reopen(struct serial_port *p);

static void port_close(struct serial_port *p, int error) {
        bool was_open = p->fd >= 0;

        p->io = sd_event_source_disable_unref(p->io);
        if (p->fd >= 0)
                close(p->fd);
        p->fd = -1;
        p->out_len = 0;
        if (was_open && p->cb.closed)
                p->cb.closed(p->userdata, error);
}

static int update_events(struct serial_port *p) {
        return p->io ? sd_event_source_set_io_events(p->io, EPOLLIN | (p->out_len ? EPOLLOUT : 0)) : 0;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct serial_port *p = userdata;
        uint8_t buf[512];

        if (revents & EPOLLIN) {
                ssize_t n = read(p->fd, buf, sizeof(buf));
                if (n > 0) {
                        if (p->cb.data)
                                p->cb.data(p->userdata, buf, (size_t) n);
                        if (p->fd < 0) /* closed from the callback */
                                return 0;
                } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                        int r = n == 0 ? -ENODEV : -errno;
                        log_warning_errno(r, p->name, "Serial port %s lost: %m", p->path);
                        port_close(p, r);
                        schedule_reopen(p);
                        return 0;
                }
        }
        if ((revents & EPOLLOUT) && p->out_len > 0) {
                ssize_t n = write(p->fd, p->out, p->out_len);
                if (n > 0) {
                        memmove(p->out, p->out + n, p->out_len - (size_t) n);
                        p->out_len -= (size_t) n;
                }
        }
        if ((revents & (EPOLLHUP | EPOLLERR)) && !(revents & EPOLLIN)) {
                log_warning(p->name, "Serial port %s hung up", p->path);
                port_close(p, -ENODEV);
                schedule_reopen(p);
                return 0;
        }
        (void) update_events(p);
        return 0;
}

static int port_open(struct serial_port *p) {
        struct termios t;
        int fd, r;

        fd = open(p->path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (tcgetattr(fd, &t) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        cfmakeraw(&t);
        t.c_cflag &= (tcflag_t) ~(CSTOPB | PARENB | PARODD | CRTSCTS);
        t.c_cflag |= CLOCAL | CREAD | CS8;
        if (p->parity != SERIAL_PARITY_NONE)
                t.c_cflag |= PARENB | (p->parity == SERIAL_PARITY_ODD ? PARODD : 0);
        if (p->stop_bits == 2)
                t.c_cflag |= CSTOPB;
        t.c_cc[VMIN] = 0;
        t.c_cc[VTIME] = 0;
        if (cfsetispeed(&t, p->speed) < 0 || cfsetospeed(&t, p->speed) < 0 || tcsetattr(fd, TCSANOW, &t) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        r = sd_event_add_io(p->event, &p->io, fd, EPOLLIN, on_io, p);
        if (r < 0) {
                close(fd);
                return r;
        }
        p->fd = fd;
        log_info(p->name, "Serial port %s open", p->path);
        if (p->cb.opened)
                p->cb.opened(p->userdata);
        return 0;
}

static int on_reopen(sd_event_source *s, uint64_t usec, void *userdata) {
        struct serial_port *p = userdata;
        int r;

        p->reopen = sd_event_source_disable_unref(p->reopen);
        r = port_open(p);
        if (r < 0) {
                if (ratelimit_below(&p->rl, usec))
                        log_warning_errno(r, p->name, "Cannot open %s: %m (retrying every %llu s)",
                                          p->path, REOPEN_USEC / USEC_PER_SEC);
                schedule_reopen(p);
        }
        return 0;
}

static void schedule_reopen(struct serial_port *p) {
        if (p->reopen)
                return;
        if (sd_event_add_time_relative(p->event, &p->reopen, CLOCK_MONOTONIC, REOPEN_USEC, 0, on_reopen, p) < 0)
                log_error(p->name, "Cannot schedule reopening %s", p->path);
}

static speed_t baud_to_speed(unsigned baud) {
        switch (baud) {
        case 9600:
                return B9600;
        case 19200:
                return B19200;
        case 38400:
                return B38400;
        case 115200:
                return B115200;
        default:
                return 0;
        }
}

int serial_port_open(sd_event *e, const char *name, const char *path, unsigned baud,
                     const struct serial_callbacks *cb, void *userdata, struct serial_port **ret) {
        struct serial_line line = { .baud = baud, .parity = SERIAL_PARITY_NONE, .stop_bits = 1 };

        return serial_port_open_line(e, name, path, &line, cb, userdata, ret);
}

int serial_port_open_line(sd_event *e, const char *name, const char *path, const struct serial_line *line,
                          const struct serial_callbacks *cb, void *userdata, struct serial_port **ret) {
        struct serial_port *p;
        speed_t speed = baud_to_speed(line->baud);

        if (!speed || line->stop_bits < 1 || line->stop_bits > 2)
                return -EINVAL;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->event = sd_event_ref(e);
        p->name = strdup(name);
        p->path = strdup(path);
        p->speed = speed;
        p->parity = line->parity;
        p->stop_bits = line->stop_bits;
        p->cb = *cb;
        p->userdata = userdata;
        p->fd = -1;
        p->rl = RATELIMIT_INIT(300 * USEC_PER_SEC, 2);
        if (!p->path || !p->name) {
                serial_port_close(p);
                return -ENOMEM;
        }
        *ret = p;
        /* Open from the loop, so the first failure is handled like any other. */
        schedule_reopen(p);
        (void) sd_event_source_set_time_relative(p->reopen, 0);
        return 0;
}

int serial_port_write(struct serial_port *p, const void *data, size_t len) {
        if (!p || p->fd < 0)
                return -ENOTCONN;
        if (p->out_len + len > OUT_MAX)
                return -ENOBUFS;
        memcpy(p->out + p->out_len, data, len);
        p->out_len += len;
        return update_events(p);
}

void serial_port_discard_input(struct serial_port *p) {
        /* Non-blocking: drops what the kernel holds, nothing is waited for. */
        if (p && p->fd >= 0)
                (void) tcflush(p->fd, TCIFLUSH);
}

bool serial_port_is_open(const struct serial_port *p) {
        return p && p->fd >= 0;
}

void serial_port_close(struct serial_port *p) {
        if (!p)
                return;
        p->cb.closed = NULL;
        port_close(p, 0);
        sd_event_source_disable_unref(p->reopen);
        sd_event_unref(p->event);
        free(p->path);
        free(p->name);
        free(p);
}
