/* SPDX-License-Identifier: MIT */
/* The benchmark's plant: the load profile parser and lookup, and the
 * Hoymiles inverter model (command queue with acknowledgement latency,
 * linear settling of the real output, seeded noise). */

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plant.h"

/* A profile file larger than this is a mistake (a day at 1 s is ~1.3 MB). */
#define PROFILE_FILE_SIZE_MAX (16u * 1024u * 1024u)

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r';
}

/* A non-negative decimal integer at *p (after blanks); advances *p. */
static bool parse_uint(const char **p, const char *end, long long max, long long *ret) {
        const char *s = *p;
        long long v = 0;
        bool any = false;

        while (s < end && is_blank(*s))
                s++;
        for (; s < end && *s >= '0' && *s <= '9'; s++) {
                v = v * 10 + (*s - '0');
                if (v > max)
                        return false;
                any = true;
        }
        while (s < end && is_blank(*s))
                s++;
        *p = s;
        *ret = v;
        return any;
}

static int profile_append(struct profile *p, size_t *cap, uint32_t t_s, int load_w) {
        if (p->n == *cap) {
                size_t ncap = *cap ? *cap * 2 : 256;
                struct profile_point *np = realloc(p->points, ncap * sizeof(*np));

                if (!np)
                        return -ENOMEM;
                p->points = np;
                *cap = ncap;
        }
        p->points[p->n++] = (struct profile_point) { .t_s = t_s, .load_w = load_w };
        return 0;
}

int profile_parse(const char *text, size_t size, struct profile **ret, unsigned *ret_line) {
        struct profile *p;
        const char *s = text, *end = text + size;
        size_t cap = 0;
        unsigned line = 0;
        int r = 0;

        assert(text || size == 0);
        assert(ret);

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;

        while (s < end && r == 0) {
                const char *eol = memchr(s, '\n', (size_t) (end - s)), *q = s;
                long long t, w;

                if (!eol)
                        eol = end;
                line++;
                while (q < eol && is_blank(*q))
                        q++;
                if (q < eol && *q != '#') {
                        if (!parse_uint(&q, eol, UINT32_MAX - 1, &t) || q >= eol || *q != ',')
                                r = -EINVAL;
                        else {
                                q++;
                                if (!parse_uint(&q, eol, INT_MAX, &w) || q != eol)
                                        r = -EINVAL;
                                else if (p->n > 0 && (uint32_t) t <= p->points[p->n - 1].t_s)
                                        r = -EINVAL;
                                else
                                        r = profile_append(p, &cap, (uint32_t) t, (int) w);
                        }
                }
                s = eol < end ? eol + 1 : end;
        }
        if (r == 0 && p->n == 0)
                r = -ENODATA;
        if (r < 0) {
                if (ret_line)
                        *ret_line = r == -EINVAL ? line : 0;
                profile_free(p);
                return r;
        }
        *ret = p;
        return 0;
}

int profile_load(const char *path, struct profile **ret, unsigned *ret_line) {
        FILE *f;
        char *buf;
        size_t n;
        int r;

        f = fopen(path, "re");
        if (!f)
                return -errno;
        buf = malloc(PROFILE_FILE_SIZE_MAX + 1);
        if (!buf) {
                fclose(f);
                return -ENOMEM;
        }
        n = fread(buf, 1, PROFILE_FILE_SIZE_MAX + 1, f);
        r = ferror(f) ? -EIO : n > PROFILE_FILE_SIZE_MAX ? -EFBIG : 0;
        fclose(f);
        if (r == 0)
                r = profile_parse(buf, n, ret, ret_line);
        free(buf);
        return r;
}

struct profile *profile_free(struct profile *p) {
        if (p) {
                free(p->points);
                free(p);
        }
        return NULL;
}

uint32_t profile_duration_s(const struct profile *p) {
        assert(p && p->n > 0);
        return p->points[p->n - 1].t_s + 1;
}

int profile_load_at(const struct profile *p, uint32_t t_s) {
        size_t lo = 0, hi;

        assert(p && p->n > 0);
        /* Binary search for the last point with t <= t_s; before the first, the first holds. */
        hi = p->n;
        while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;

                if (p->points[mid].t_s <= t_s)
                        lo = mid;
                else
                        hi = mid;
        }
        return p->points[lo].load_w;
}

/* ---- inverter ---- */

double plant_ramp_w(double start_w, double target_w, double settle_s, double elapsed_s) {
        if (elapsed_s <= 0)
                return start_w;
        if (settle_s <= 0 || elapsed_s >= settle_s)
                return target_w;
        return start_w + (target_w - start_w) * (elapsed_s / settle_s);
}

static uint64_t splitmix64(uint64_t *state) {
        uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));

        z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
        return z ^ (z >> 31);
}

void plant_inverter_init(struct plant_inverter *p, const struct lut *lut,
                         const struct plant_config *config) {
        assert(p && lut && config);

        *p = (struct plant_inverter) {
                .lut = lut,
                .config = *config,
                .on = false,
                .percent = LUT_PERCENT_MAX,
                .rng = config->seed,
        };
}

bool plant_inverter_send(struct plant_inverter *p, double now_s, enum plant_command_kind kind, int percent) {
        if (p->n_queued >= PLANT_QUEUE_MAX)
                return false;
        p->queue[p->n_queued++] = (struct plant_command) {
                .kind = kind,
                .percent = percent,
                .due_s = now_s + p->config.ack_latency_s,
        };
        return true;
}

double plant_inverter_output_w(const struct plant_inverter *p, double t_s) {
        return plant_ramp_w(p->ramp_start_w, p->target_w, p->config.settle_s, t_s - p->ramp_t_s);
}

/* The output moves from where it is now towards the new value. */
static void retarget(struct plant_inverter *p, double t_s) {
        double target = p->on ? lut_percent_to_power_w(p->lut, p->percent) : 0;

        if (!p->on) {
                /* Off is immediate: the inverter stops feeding. */
                p->ramp_start_w = 0;
                p->ramp_t_s = t_s;
                p->target_w = 0;
                return;
        }
        p->ramp_start_w = plant_inverter_output_w(p, t_s);
        p->ramp_t_s = t_s;
        p->target_w = target;
}

void plant_inverter_advance(struct plant_inverter *p, double now_s) {
        size_t done = 0;

        /* Sent in order with the same latency, so they fall due in order. */
        while (done < p->n_queued && p->queue[done].due_s <= now_s) {
                const struct plant_command *c = &p->queue[done++];

                switch (c->kind) {
                case PLANT_COMMAND_LIMIT:
                        p->percent = c->percent;
                        break;
                case PLANT_COMMAND_ON:
                        p->on = true;
                        break;
                case PLANT_COMMAND_OFF:
                        p->on = false;
                        break;
                }
                retarget(p, c->due_s);
        }
        if (done > 0) {
                memmove(p->queue, p->queue + done, (p->n_queued - done) * sizeof(p->queue[0]));
                p->n_queued -= done;
        }
}

bool plant_inverter_limit_pending(const struct plant_inverter *p) {
        for (size_t i = 0; i < p->n_queued; i++)
                if (p->queue[i].kind == PLANT_COMMAND_LIMIT)
                        return true;
        return false;
}

double plant_inverter_noise(struct plant_inverter *p) {
        /* 53 random bits → [0, 1) → [-1, 1). */
        double u = (double) (splitmix64(&p->rng) >> 11) * (1.0 / 9007199254740992.0);

        return 1.0 + p->config.noise * (2.0 * u - 1.0);
}

double plant_inverter_second(struct plant_inverter *p, uint32_t t_s) {
        plant_inverter_advance(p, t_s);
        return plant_inverter_output_w(p, t_s + 0.5) * plant_inverter_noise(p);
}
