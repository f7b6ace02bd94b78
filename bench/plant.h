/* SPDX-License-Identifier: MIT */
/* The plant of the netzero benchmark: a household load profile and a Hoymiles
 * inverter as the daemon sees them through an AhoyDTU (LUT-quantised output,
 * a limit acknowledged after a latency, the real output settling after the
 * acknowledgement, measurement noise). Deterministic: the noise comes from a
 * fixed seed. Times are seconds of virtual time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "homebattery/lut.h"

/* ---- Household load profile ---- */

struct profile_point {
        uint32_t t_s;
        int load_w;
};

struct profile {
        struct profile_point *points; /* times strictly increasing */
        size_t n;
};

/* Lines "seconds,load_w" (non-negative integers, spaces around them allowed), each value held until the
 * next line; lines starting with '#' and empty lines are ignored; CRLF is fine. The profile runs from 0 s
 * (the first value also holds before its line) to one second after its last line.
 * -EINVAL with the line number in *ret_line for a malformed line or a time that does not increase;
 * -ENODATA when there is no line; -ENOMEM. */
int profile_parse(const char *text, size_t size, struct profile **ret, unsigned *ret_line);
/* profile_parse() of a file; -errno when it cannot be read. */
int profile_load(const char *path, struct profile **ret, unsigned *ret_line);
struct profile *profile_free(struct profile *p);

/* Seconds covered: the last line's time + 1. */
uint32_t profile_duration_s(const struct profile *p);
/* The load at second t (held from the last line at or before t). */
int profile_load_at(const struct profile *p, uint32_t t_s);

/* ---- Hoymiles inverter ---- */

struct plant_config {
        double ack_latency_s; /* a command takes effect this long after it was sent */
        double settle_s;      /* then the output moves linearly to its new value over this long */
        double noise;         /* the real output is off by up to ± this fraction (0.02), new every second */
        uint64_t seed;
};

#define PLANT_ACK_LATENCY_S 3.0
#define PLANT_SETTLE_S 20.0
#define PLANT_NOISE 0.02
#define PLANT_SEED UINT64_C(20240601)
/* Commands travelling at the same time, at most; more is a bug of the caller. */
#define PLANT_QUEUE_MAX 64u

enum plant_command_kind {
        PLANT_COMMAND_LIMIT,
        PLANT_COMMAND_ON,
        PLANT_COMMAND_OFF,
};

struct plant_command {
        enum plant_command_kind kind;
        int percent;
        double due_s;
};

struct plant_inverter {
        const struct lut *lut; /* not owned */
        struct plant_config config;

        /* What the inverter acknowledged (what a DTU read tells). */
        bool on;
        int percent;

        /* Commands sent but not acknowledged yet, oldest first. */
        struct plant_command queue[PLANT_QUEUE_MAX];
        size_t n_queued;

        /* The output ramp: from start_w at ramp_t_s to the target over settle_s. */
        double ramp_start_w;
        double ramp_t_s;
        double target_w;

        uint64_t rng;
};

/* Starts off, at 100 % (a Hoymiles forgets its limit when it restarts). */
void plant_inverter_init(struct plant_inverter *p, const struct lut *lut, const struct plant_config *config);
/* Sends a command at now_s; false when too many are travelling (the command is dropped). */
bool plant_inverter_send(struct plant_inverter *p, double now_s, enum plant_command_kind kind, int percent);
/* Applies every command due at or before now_s, in the order they were sent. */
void plant_inverter_advance(struct plant_inverter *p, double now_s);
/* True while a limit command travels (the DTU's limit_ack is false then). */
bool plant_inverter_limit_pending(const struct plant_inverter *p);
/* The output at t_s without noise: the ramp towards the LUT power of the acknowledged percent (0 off). */
double plant_inverter_output_w(const struct plant_inverter *p, double t_s);
/* A noise factor in [1 - noise, 1 + noise]; the next one of the seeded sequence. */
double plant_inverter_noise(struct plant_inverter *p);

/* The linear ramp from start_w (at 0 s) to target_w, reached after settle_s; exposed for the tests. */
double plant_ramp_w(double start_w, double target_w, double settle_s, double elapsed_s);

/* One second [t, t + 1) of the inverter: applies the commands due at t and returns the real output over
 * that second (the ramp at its middle, exact for a linear ramp, times the next noise factor). */
double plant_inverter_second(struct plant_inverter *p, uint32_t t_s);
