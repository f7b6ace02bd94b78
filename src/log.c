/* SPDX-License-Identifier: MIT */
/* The logger. Under systemd (stderr is the journal stream) lines go to the
 * journal as structured entries carrying HOMEBATTERY_SENDER=; on a terminal
 * they are readable lines on stderr. An optional UDP copy is sent without ever
 * blocking: a full socket buffer or an unreachable host just drops the line. */

#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

#include "homebattery/log.h"
#include "log-setup.h"

/* Process-wide logger settings: set once at start-up from the config. */
static struct {
        int max_level;
        char **ignore;
        size_t n_ignore;
        bool journal;
        int udp_fd;
} logger = {
        .max_level = LOG_INFO,
        .udp_fd = -1,
};

static const char *level_name(int level) {
        switch (level) {
        case LOG_EMERG:
        case LOG_ALERT:
        case LOG_CRIT:
        case LOG_ERR:
                return "error";
        case LOG_WARNING:
                return "warning";
        case LOG_NOTICE:
        case LOG_INFO:
                return "info";
        default:
                return "debug";
        }
}

int log_level_from_string(const char *s) {
        static const struct {
                const char *name;
                int level;
        } table[] = {
                { "debug", LOG_DEBUG },
                { "info", LOG_INFO },
                { "warning", LOG_WARNING },
                { "error", LOG_ERR },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strcmp(s, table[i].name) == 0)
                        return table[i].level;
        return -EINVAL;
}

/* journald tells a service its stderr is the journal through JOURNAL_STREAM
 * ("device:inode" of the socket); compare it with what stderr really is. */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_setup(void) {
        logger.journal = stderr_is_journal();
}

void log_set_max_level(int level) {
        logger.max_level = level;
}

int log_set_ignore(char *const *senders, size_t n) {
        char **copy = NULL;

        if (n > 0) {
                copy = calloc(n, sizeof(char *));
                if (!copy)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        copy[i] = strdup(senders[i]);
                        if (!copy[i]) {
                                for (size_t j = 0; j < i; j++)
                                        free(copy[j]);
                                free(copy);
                                return -ENOMEM;
                        }
                }
        }
        for (size_t i = 0; i < logger.n_ignore; i++)
                free(logger.ignore[i]);
        free(logger.ignore);
        logger.ignore = copy;
        logger.n_ignore = n;
        return 0;
}

int log_open_udp(const char *host, uint16_t port) {
        struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_ADDRCONFIG };
        struct addrinfo *res = NULL;
        char service[8];
        int fd, r;

        /* Resolved once at start-up, before the loop runs: a name that does not
         * resolve disables the UDP copy instead of blocking later. */
        snprintf(service, sizeof(service), "%u", (unsigned) port);
        r = getaddrinfo(host, service, &hints, &res);
        if (r != 0)
                return r == EAI_SYSTEM ? -errno : -EHOSTUNREACH;

        fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                r = -errno;
                freeaddrinfo(res);
                return r;
        }
        if (connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
                r = -errno;
                freeaddrinfo(res);
                close(fd);
                return r;
        }
        freeaddrinfo(res);

        log_close_udp();
        logger.udp_fd = fd;
        return 0;
}

void log_close_udp(void) {
        if (logger.udp_fd >= 0)
                close(logger.udp_fd);
        logger.udp_fd = -1;
}

void log_shutdown(void) {
        log_close_udp();
        (void) log_set_ignore(NULL, 0);
}

static bool sender_ignored(const char *sender) {
        if (!sender)
                return false;
        for (size_t i = 0; i < logger.n_ignore; i++)
                if (strcmp(logger.ignore[i], sender) == 0)
                        return true;
        return false;
}

bool log_would_log(int level, const char *sender) {
        if (level > logger.max_level)
                return false;
        /* Warnings and errors always pass the ignore list. */
        if (level > LOG_WARNING && sender_ignored(sender))
                return false;
        return true;
}

int log_internal(int level, int error, const char *sender, const char *fmt, ...) {
        char msg[1024];
        va_list ap;
        int saved_errno = errno;

        if (!sender)
                sender = "main";

        /* %m prints the error passed in, not whatever errno happens to be. */
        errno = error < 0 ? -error : error;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        if (logger.journal)
                sd_journal_send("MESSAGE=%s", msg,
                                "PRIORITY=%d", level,
                                "HOMEBATTERY_SENDER=%s", sender,
                                "SYSLOG_IDENTIFIER=homebattery",
                                error != 0 ? "ERRNO=%d" : NULL, error < 0 ? -error : error,
                                NULL);
        else {
                struct timespec ts;
                struct tm tm;
                char stamp[32] = "";

                clock_gettime(CLOCK_REALTIME, &ts);
                if (localtime_r(&ts.tv_sec, &tm))
                        strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
                fprintf(stderr, "%s.%03ld %-7s [%s] %s\n", stamp, ts.tv_nsec / 1000000L, level_name(level),
                        sender, msg);
        }

        if (logger.udp_fd >= 0) {
                char line[1200];
                int n = snprintf(line, sizeof(line), "homebattery %s [%s] %s", level_name(level), sender, msg);
                if (n > 0)
                        /* MSG_DONTWAIT: a full buffer drops the line, never waits. */
                        (void) send(logger.udp_fd, line, (size_t) n < sizeof(line) ? (size_t) n : sizeof(line) - 1,
                                    MSG_DONTWAIT | MSG_NOSIGNAL);
        }

        errno = saved_errno;
        return error == 0 ? 0 : -abs(error);
}

bool ratelimit_check(struct ratelimit *rl, uint64_t now_usec, unsigned *ret_suppressed) {
        unsigned held = rl->suppressed;
        bool ok = ratelimit_below(rl, now_usec);

        /* ratelimit_below() counts every refusal; report them with the next line let through. */
        *ret_suppressed = 0;
        if (ok) {
                *ret_suppressed = held;
                rl->suppressed = 0;
        }
        return ok;
}

bool ratelimit_below(struct ratelimit *rl, uint64_t now_usec) {
        if (rl->interval_usec == 0 || rl->burst == 0)
                return true;
        if (rl->begin_usec == 0 || now_usec >= rl->begin_usec + rl->interval_usec) {
                rl->begin_usec = now_usec == 0 ? 1 : now_usec;
                rl->count = 0;
        }
        if (rl->count < rl->burst) {
                rl->count++;
                return true;
        }
        rl->suppressed++;
        return false;
}
