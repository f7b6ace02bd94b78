/* SPDX-License-Identifier: MIT */
/* Unit tests of the ahoyDtu/openDtu protocol code and sync loop: the
 * decoders and encoders from JSON texts (dtu-decode.c), and the sync loop
 * (dtu-sync.c) as tables of events on an injected clock. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "homebattery/cleanup.h"

#include "dtu-decode.h"
#include "dtu-restart.h"
#include "dtu-sync.h"

#define SEC USEC_PER_SEC

/* ---- AhoyDTU decoding ---- */

struct ahoy_state_case {
        const char *json;
        int r;
        enum dtu_state state;
        bool percent_known;
        int percent_x10;
        bool ack;
};

static const struct ahoy_state_case ahoy_state_cases[] = {
        { "{\"id\":0,\"status\":2,\"power_limit_read\":50,\"power_limit_ack\":true}", 0, DTU_STATE_ON, true, 500,
          true },
        { "{\"status\":1,\"power_limit_read\":33.3,\"power_limit_ack\":false}", 0, DTU_STATE_OFF, true, 333, false },
        { "{\"status\":3,\"power_limit_read\":100}", 0, DTU_STATE_OFF, true, 1000, true },
        { "{\"status\":0,\"power_limit_read\":100}", 0, DTU_STATE_FAULT, true, 1000, true },
        { "{\"status\":4}", 0, DTU_STATE_FAULT, false, 0, true },
        { "{\"status\":7}", 0, DTU_STATE_FAULT, false, 0, true },
        { "{\"status\":-1}", 0, DTU_STATE_FAULT, false, 0, true },
        { "{\"status\":2,\"power_limit_read\":65535}", 0, DTU_STATE_ON, false, 0, true },
        { "{\"status\":2,\"power_limit_read\":100.04}", 0, DTU_STATE_ON, false, 0, true },
        { "{\"status\":2,\"power_limit_read\":-1}", 0, DTU_STATE_ON, false, 0, true },
        { "{\"status\":2,\"power_limit_read\":\"50\"}", 0, DTU_STATE_ON, false, 0, true },
        { " {\"status\":2,\"power_limit_read\":0}\r\n", 0, DTU_STATE_ON, true, 0, true },
        { "{\"status\":\"2\"}", -EBADMSG, 0, false, 0, false },
        { "{\"status\":2,\"power_limit_ack\":\"yes\"}", -EBADMSG, 0, false, 0, false },
        { "{\"power_limit_read\":50}", -EBADMSG, 0, false, 0, false },
        { "[2]", -EBADMSG, 0, false, 0, false },
        { "{\"status\":2", -EBADMSG, 0, false, 0, false },
        { "{\"status\":2} x", -EBADMSG, 0, false, 0, false },
        { "", -EBADMSG, 0, false, 0, false },
        { "<html>404</html>", -EBADMSG, 0, false, 0, false },
};

static void test_ahoy_state(void **state) {
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(ahoy_state_cases); i++) {
                const struct ahoy_state_case *c = &ahoy_state_cases[i];
                struct dtu_reading r = { .state = DTU_STATE_FAULT, .percent_x10 = -7 };

                print_message("case %zu: %s\n", i, c->json);
                assert_int_equal(dtu_ahoy_decode_state(c->json, strlen(c->json), &r), c->r);
                if (c->r < 0)
                        continue;
                assert_int_equal(r.state, c->state);
                assert_int_equal(r.percent_known, c->percent_known);
                if (c->percent_known)
                        assert_int_equal(r.percent_x10, c->percent_x10);
                assert_int_equal(r.limit_ack, c->ack);
        }
        assert_int_equal(dtu_ahoy_decode_state(NULL, 0, &(struct dtu_reading) { 0 }), -EBADMSG);
}

static void test_ahoy_answer(void **state) {
        char err[DTU_ERROR_MAX];
        const char *s;
        (void) state;

        s = "{\"success\":true,\"id\":0}";
        assert_int_equal(dtu_ahoy_decode_answer(s, strlen(s), err), 0);
        s = "{\"success\":\"true\",\"id\":0}";
        assert_int_equal(dtu_ahoy_decode_answer(s, strlen(s), err), 0);
        s = "{\"success\":false,\"error\":\"ERR_PROTECTED\"}";
        assert_int_equal(dtu_ahoy_decode_answer(s, strlen(s), err), -EACCES);
        assert_string_equal(err, "ERR_PROTECTED");
        s = "{\"success\":false,\"error\":\"ERR_UNKNOWN_CMD\"}";
        assert_int_equal(dtu_ahoy_decode_answer(s, strlen(s), err), -EPERM);
        assert_string_equal(err, "ERR_UNKNOWN_CMD");
        s = "{\"success\":\"false\"}";
        assert_int_equal(dtu_ahoy_decode_answer(s, strlen(s), err), -EPERM);
        assert_string_equal(err, "");
        /* Control characters from the DTU do not reach the log. */
        s = "{\"success\":false,\"error\":\"a\\nb\\u001b\"}";
        assert_int_equal(dtu_ahoy_decode_answer(s, strlen(s), err), -EPERM);
        assert_string_equal(err, "a?b?");
        s = "{\"success\":false,\"error\":\"0123456789012345678901234567890123456789012345678901234567890123456789"
            "0123456789012345678901234567890123456789\"}";
        assert_int_equal(dtu_ahoy_decode_answer(s, strlen(s), err), -EPERM);
        assert_int_equal(strlen(err), DTU_ERROR_MAX - 1);
        s = "{\"id\":0}";
        assert_int_equal(dtu_ahoy_decode_answer(s, strlen(s), err), -EBADMSG);
        s = "{\"success\":1}";
        assert_int_equal(dtu_ahoy_decode_answer(s, strlen(s), err), -EBADMSG);
        s = "nope";
        assert_int_equal(dtu_ahoy_decode_answer(s, strlen(s), err), -EBADMSG);
}

static void test_ahoy_login(void **state) {
        char err[DTU_ERROR_MAX], *token = NULL;
        const char *s;
        (void) state;

        s = "{\"success\":true,\"token\":\"AbC123\"}";
        assert_int_equal(dtu_ahoy_decode_login(s, strlen(s), &token, err), 0);
        assert_string_equal(token, "AbC123");
        free(token);
        token = NULL;
        s = "{\"success\":false,\"error\":\"ERR_PROTECTED\"}";
        assert_int_equal(dtu_ahoy_decode_login(s, strlen(s), &token, err), -EACCES);
        assert_null(token);
        s = "{\"success\":true}";
        assert_int_equal(dtu_ahoy_decode_login(s, strlen(s), &token, err), -EBADMSG);
        s = "{\"success\":true,\"token\":\"\"}";
        assert_int_equal(dtu_ahoy_decode_login(s, strlen(s), &token, err), -EBADMSG);
        s = "{\"success\":true,\"token\":5}";
        assert_int_equal(dtu_ahoy_decode_login(s, strlen(s), &token, err), -EBADMSG);
        assert_null(token);
}

/* Takes &s: the encoder has filled it in by the time this runs. */
static void check_encoded(int r, char **s, const char *expected) {
        assert_int_equal(r, 0);
        assert_non_null(*s);
        assert_string_equal(*s, expected);
        *s = mfree(*s);
}

static void test_ahoy_encode(void **state) {
        char *s = NULL;
        (void) state;

        check_encoded(dtu_ahoy_encode_command(3, DTU_ACTION_OFF, 0, NULL, &s), &s,
                      "{\"id\":3,\"cmd\":\"power\",\"val\":0}");
        check_encoded(dtu_ahoy_encode_command(3, DTU_ACTION_ON, 0, NULL, &s), &s,
                      "{\"id\":3,\"cmd\":\"power\",\"val\":1}");
        check_encoded(dtu_ahoy_encode_command(0, DTU_ACTION_RESTART, 0, NULL, &s), &s,
                      "{\"id\":0,\"cmd\":\"restart\"}");
        check_encoded(dtu_ahoy_encode_command(1, DTU_ACTION_LIMIT, 42, NULL, &s), &s,
                      "{\"id\":1,\"cmd\":\"limit_nonpersistent_relative\",\"val\":42}");
        check_encoded(dtu_ahoy_encode_command(1, DTU_ACTION_ON, 0, "t0k", &s), &s,
                      "{\"id\":1,\"token\":\"t0k\",\"cmd\":\"power\",\"val\":1}");
        check_encoded(dtu_ahoy_encode_login("pa\"ss/\\", &s), &s, "{\"auth\":\"pa\\\"ss/\\\\\"}");
        assert_int_equal(dtu_ahoy_encode_command(1, DTU_ACTION_READ, 0, NULL, &s), -EINVAL);
        assert_int_equal(dtu_ahoy_encode_command(1, DTU_ACTION_NONE, 0, NULL, &s), -EINVAL);
        assert_null(s);
}

/* ---- OpenDTU decoding ---- */

static void test_opendtu_livedata(void **state) {
        struct dtu_reading r;
        const char *s;
        (void) state;

        s = "{\"inverters\":[{\"serial\":\"112233\",\"name\":\"HM\",\"reachable\":true,\"producing\":true,"
            "\"limit_relative\":49.6,\"limit_absolute\":298}],\"total\":{}}";
        r = (struct dtu_reading) { 0 };
        assert_int_equal(dtu_opendtu_decode_livedata(s, strlen(s), "112233", &r), 0);
        assert_int_equal(r.state, DTU_STATE_ON);
        assert_true(r.percent_known);
        assert_int_equal(r.percent_x10, 496);
        assert_true(r.limit_ack);

        /* Older versions list every inverter: pick ours. */
        s = "{\"inverters\":[{\"serial\":\"1\",\"reachable\":true,\"producing\":true,\"limit_relative\":100},"
            "{\"serial\":\"2\",\"reachable\":true,\"producing\":false,\"limit_relative\":10}]}";
        assert_int_equal(dtu_opendtu_decode_livedata(s, strlen(s), "2", &r), 0);
        assert_int_equal(r.state, DTU_STATE_OFF);
        assert_int_equal(r.percent_x10, 100);
        assert_int_equal(dtu_opendtu_decode_livedata(s, strlen(s), "3", &r), -ENOENT);

        s = "{\"inverters\":[{\"reachable\":false,\"producing\":false}]}";
        assert_int_equal(dtu_opendtu_decode_livedata(s, strlen(s), "9", &r), 0);
        assert_int_equal(r.state, DTU_STATE_FAULT);
        assert_false(r.percent_known);

        s = "{\"inverters\":[{\"serial\":\"9\",\"reachable\":false,\"producing\":true,\"limit_relative\":150}]}";
        assert_int_equal(dtu_opendtu_decode_livedata(s, strlen(s), "9", &r), 0);
        assert_int_equal(r.state, DTU_STATE_FAULT);
        assert_false(r.percent_known);

        s = "{\"inverters\":[]}";
        assert_int_equal(dtu_opendtu_decode_livedata(s, strlen(s), "9", &r), -EBADMSG);
        s = "{\"inverters\":[{\"serial\":\"9\",\"producing\":true}]}";
        assert_int_equal(dtu_opendtu_decode_livedata(s, strlen(s), "9", &r), -EBADMSG);
        s = "{\"inverters\":{}}";
        assert_int_equal(dtu_opendtu_decode_livedata(s, strlen(s), "9", &r), -EBADMSG);
        s = "{\"total\":{}}";
        assert_int_equal(dtu_opendtu_decode_livedata(s, strlen(s), "9", &r), -EBADMSG);
}

static void test_opendtu_limit_status(void **state) {
        struct dtu_reading r;
        const char *s;
        (void) state;

        s = "{\"112233\":{\"limit_relative\":20,\"max_power\":600,\"limit_set_status\":\"Pending\"},"
            "\"445566\":{\"limit_relative\":100,\"max_power\":800,\"limit_set_status\":\"Ok\"}}";
        r = (struct dtu_reading) { .limit_ack = true, .percent_known = true, .percent_x10 = 500 };
        assert_int_equal(dtu_opendtu_decode_limit_status(s, strlen(s), "112233", &r), 0);
        assert_false(r.limit_ack);
        assert_int_equal(r.percent_x10, 500); /* the live data's percent wins */
        r = (struct dtu_reading) { .limit_ack = false };
        assert_int_equal(dtu_opendtu_decode_limit_status(s, strlen(s), "445566", &r), 0);
        assert_true(r.limit_ack);
        assert_true(r.percent_known);
        assert_int_equal(r.percent_x10, 1000);
        assert_int_equal(dtu_opendtu_decode_limit_status(s, strlen(s), "1", &r), -ENOENT);

        s = "{\"1\":{\"limit_set_status\":\"Failure\"}}";
        r = (struct dtu_reading) { .limit_ack = false };
        assert_int_equal(dtu_opendtu_decode_limit_status(s, strlen(s), "1", &r), 0);
        assert_true(r.limit_ack);
        s = "{\"1\":{\"limit_set_status\":3}}";
        assert_int_equal(dtu_opendtu_decode_limit_status(s, strlen(s), "1", &r), -EBADMSG);
        s = "{\"1\":5}";
        assert_int_equal(dtu_opendtu_decode_limit_status(s, strlen(s), "1", &r), -EBADMSG);
        s = "[]";
        assert_int_equal(dtu_opendtu_decode_limit_status(s, strlen(s), "1", &r), -EBADMSG);
}

static void test_opendtu_answer(void **state) {
        char err[DTU_ERROR_MAX];
        const char *s;
        (void) state;

        s = "{\"type\":\"success\",\"message\":\"Settings saved!\",\"code\":1001}";
        assert_int_equal(dtu_opendtu_decode_answer(s, strlen(s), err), 0);
        s = "{\"type\":\"warning\",\"message\":\"Invalid serial!\",\"code\":1004}";
        assert_int_equal(dtu_opendtu_decode_answer(s, strlen(s), err), -EPERM);
        assert_string_equal(err, "Invalid serial!");
        s = "{\"type\":\"danger\"}";
        assert_int_equal(dtu_opendtu_decode_answer(s, strlen(s), err), -EPERM);
        assert_string_equal(err, "danger");
        s = "{\"message\":\"x\"}";
        assert_int_equal(dtu_opendtu_decode_answer(s, strlen(s), err), -EBADMSG);
        s = "Unauthorized";
        assert_int_equal(dtu_opendtu_decode_answer(s, strlen(s), err), -EBADMSG);
}

static void test_opendtu_encode(void **state) {
        char *s = NULL;
        (void) state;

        check_encoded(dtu_opendtu_encode_command("112233", DTU_ACTION_LIMIT, 50, &s), &s,
                      "data=%7B%22serial%22%3A%22112233%22%2C%22limit_type%22%3A1%2C%22limit_value%22%3A50%7D");
        check_encoded(dtu_opendtu_encode_command("1", DTU_ACTION_ON, 0, &s), &s,
                      "data=%7B%22serial%22%3A%221%22%2C%22power%22%3Atrue%7D");
        check_encoded(dtu_opendtu_encode_command("1", DTU_ACTION_OFF, 0, &s), &s,
                      "data=%7B%22serial%22%3A%221%22%2C%22power%22%3Afalse%7D");
        check_encoded(dtu_opendtu_encode_command("1", DTU_ACTION_RESTART, 0, &s), &s,
                      "data=%7B%22serial%22%3A%221%22%2C%22restart%22%3Atrue%7D");
        assert_int_equal(dtu_opendtu_encode_command("1", DTU_ACTION_READ, 0, &s), -EINVAL);
        assert_null(s);
        check_encoded(dtu_form_encode("a b+c&d=é~._-", &s), &s, "a+b%2Bc%26d%3D%C3%A9~._-");
        assert_string_equal(dtu_opendtu_command_path(DTU_ACTION_LIMIT), "/api/limit/config");
        assert_string_equal(dtu_opendtu_command_path(DTU_ACTION_OFF), "/api/power/config");
        assert_string_equal(dtu_opendtu_command_path(DTU_ACTION_RESTART), "/api/power/config");
        assert_null(dtu_opendtu_command_path(DTU_ACTION_READ));
}

/* ---- the sync loop ---- */

/* percent;watt: start percent 10, 100..800 W. */
static const char lut_text[] = "10;100\n20;200\n50;500\n100;800\n";

enum ev {
        EV_NEXT,      /* expects .action (and .percent for a limit) */
        EV_SET_ON,    /* .arg: on */
        EV_SET_POWER, /* .arg: W; expects .applied */
        EV_READ,      /* .state, .pct (tenths, -1 = unknown), .arg: ack */
        EV_READ_FAIL,
        EV_DONE,      /* .arg: error */
        EV_PREEMPT,   /* expects .arg: should_preempt(); aborts when true */
        EV_ENERGY,    /* expects .applied Wh (rounded) */
};

/* Expectations are checked when set: status and busy are stored +1. */
#define ST(s) (DEVICE_STATUS_##s + 1)
#define BUSY_NO 1
#define BUSY_YES 2
#define NO_POWER (-1000)

struct step {
        unsigned t; /* s */
        enum ev ev;
        int arg;
        enum dtu_state state;
        int pct;
        enum dtu_action action;
        int percent;
        int applied;
        int status;
        int busy;
        bool check_power;
        int power_w; /* NO_POWER: unknown */
};

struct scenario {
        const char *name;
        const struct step *steps;
        size_t n;
};

#define NEXT(T, A, ...) { .t = (T), .ev = EV_NEXT, .action = DTU_ACTION_##A, __VA_ARGS__ }
#define READ(T, S, P, ACK, ...) \
        { .t = (T), .ev = EV_READ, .state = DTU_STATE_##S, .pct = (P), .arg = (ACK), __VA_ARGS__ }
#define DONE(T, E, ...) { .t = (T), .ev = EV_DONE, .arg = (E), __VA_ARGS__ }
#define SET_ON(T, ON, ...) { .t = (T), .ev = EV_SET_ON, .arg = (ON), __VA_ARGS__ }
#define POWER(W) .check_power = true, .power_w = (W)

/* Start: target off, nothing read. Unknown is not off: the off goes out at
 * once; then reads until it reads off, then every 30 s. */
static const struct step start_off[] = {
        NEXT(0, OFF, .status = ST(SYNCING), .busy = BUSY_YES),
        NEXT(0, NONE),
        DONE(0, 0, .busy = BUSY_NO),
        NEXT(1, READ),
        READ(1, ON, 1000, true, .status = ST(SYNCING), POWER(800)),
        NEXT(2, READ), /* waiting for the off: no second off */
        READ(2, OFF, 1000, true, .status = ST(OFF), POWER(0)),
        NEXT(3, NONE),
        NEXT(31, NONE),
        NEXT(32, READ), /* 30 s after the last read */
        READ(32, OFF, 1000, true),
        NEXT(33, NONE),
};

/* Switching on: limit first (the start percent), then on. */
static const struct step switch_on[] = {
        NEXT(0, OFF),
        DONE(0, 0),
        NEXT(0, READ),
        READ(0, OFF, 1000, true, .status = ST(OFF)),
        SET_ON(1, true),
        NEXT(1, LIMIT, .percent = 10, .status = ST(SYNCING)),
        DONE(1, 0),
        NEXT(2, READ),
        READ(2, OFF, 1000, true), /* not reached: keep waiting */
        NEXT(3, READ),
        READ(3, OFF, 100, true, .status = ST(SYNCING)), /* reached: the wait ends early */
        NEXT(4, ON),
        DONE(4, 0),
        NEXT(5, READ),
        READ(5, ON, 100, true, .status = ST(ON), POWER(100)),
        NEXT(6, NONE),
        { .t = 6, .ev = EV_SET_POWER, .arg = 560, .applied = 500 },
        NEXT(6, LIMIT, .percent = 50),
        DONE(6, 0),
        NEXT(7, READ),
        READ(7, ON, 100, false, .status = ST(ON), POWER(100)), /* travelling */
        NEXT(8, READ),
        READ(8, ON, 496, true, POWER(500)),
        NEXT(9, NONE),
        /* below the minimum: clamped to the first step */
        { .t = 10, .ev = EV_SET_POWER, .arg = 0, .applied = 100 },
        NEXT(10, LIMIT, .percent = 10),
};

/* A limit that does not arrive is sent again after 30 s, not before. */
static const struct step limit_wait[] = {
        SET_ON(0, true),
        NEXT(0, READ),
        READ(0, ON, 100, true, .status = ST(ON)),
        { .t = 0, .ev = EV_SET_POWER, .arg = 800, .applied = 800 },
        NEXT(0, LIMIT, .percent = 100),
        DONE(0, 0),
        NEXT(1, READ),
        READ(1, ON, 100, true),
        NEXT(29, READ),
        READ(29, ON, 100, true),
        NEXT(30, LIMIT, .percent = 100),
};

/* The on does not take: restart (60 s wait), then limit, then on. */
static const struct step restart[] = {
        SET_ON(0, true),
        NEXT(0, READ),
        READ(0, OFF, 100, true, .status = ST(SYNCING)),
        NEXT(0, ON),
        DONE(0, 0),
        NEXT(1, READ),
        READ(1, OFF, 100, true, .status = ST(SYNCING)),
        NEXT(29, READ),
        READ(29, OFF, 100, true),
        NEXT(30, RESTART),
        DONE(30, 0),
        NEXT(31, READ),
        READ(31, FAULT, 1000, true, .status = ST(FAULT)),
        NEXT(89, READ),
        READ(89, OFF, 1000, true, .status = ST(SYNCING)),
        NEXT(90, LIMIT, .percent = 10), /* a limit does not survive a restart */
        DONE(90, 0),
        NEXT(91, READ),
        READ(91, OFF, 100, true),
        NEXT(92, ON),
};

/* On, then it switches itself off: fault, and a restart at once. */
static const struct step self_off[] = {
        SET_ON(0, true),
        NEXT(0, READ),
        READ(0, OFF, 100, true),
        NEXT(0, ON),
        DONE(0, 0),
        NEXT(1, READ),
        READ(1, ON, 100, true, .status = ST(ON), POWER(100)),
        NEXT(2, NONE),
        NEXT(31, READ),
        READ(31, OFF, 100, true, .status = ST(FAULT), POWER(0)),
        NEXT(32, RESTART),
};

/* An inverter that was on before the daemon started and switches off:
 * there was no on of ours to repeat, so on first (no restart). */
static const struct step self_off_foreign[] = {
        SET_ON(0, true),
        NEXT(0, READ),
        READ(0, ON, 100, true, .status = ST(ON)),
        NEXT(1, NONE),
        NEXT(30, READ),
        READ(30, OFF, 100, true, .status = ST(FAULT)),
        NEXT(31, ON),
};

/* Shutdown while an on is travelling: it is pushed aside for the off, and a
 * failed off keeps the driver busy until it is sent. */
static const struct step shutdown[] = {
        SET_ON(0, true),
        NEXT(0, READ),
        READ(0, OFF, 100, true),
        NEXT(1, ON, .busy = BUSY_YES),
        { .t = 2, .ev = EV_PREEMPT, .arg = false },
        SET_ON(2, false, .busy = BUSY_YES),
        { .t = 2, .ev = EV_PREEMPT, .arg = true },
        NEXT(2, OFF, .busy = BUSY_YES),
        { .t = 2, .ev = EV_PREEMPT, .arg = false },
        DONE(2, -ETIMEDOUT, .busy = BUSY_YES),
        NEXT(3, READ),
        { .t = 3, .ev = EV_READ_FAIL, .status = ST(SYNCING), .busy = BUSY_YES },
        NEXT(11, READ), /* no new off before the retry delay */
        { .t = 11, .ev = EV_READ_FAIL },
        NEXT(12, OFF),
        DONE(12, 0, .busy = BUSY_NO),
};

/* A command the target changed against while it travelled gets no wait. */
static const struct step late_answer[] = {
        SET_ON(0, true),
        NEXT(0, READ),
        READ(0, OFF, 100, true),
        NEXT(0, ON),
        SET_ON(1, false),
        DONE(1, 0),
        NEXT(1, OFF),
};

/* A DTU that does not tell the limit: trust the accepted one, after the
 * full wait (the early end needs a read percent). */
static const struct step unknown_percent[] = {
        SET_ON(0, true),
        NEXT(0, READ),
        READ(0, OFF, -1, true),
        NEXT(0, LIMIT, .percent = 10),
        DONE(0, 0),
        NEXT(1, READ),
        READ(1, OFF, -1, true),
        NEXT(29, READ),
        READ(29, OFF, -1, true),
        NEXT(30, ON),
        DONE(30, 0),
        NEXT(31, READ),
        READ(31, ON, -1, true, .status = ST(ON), POWER(100)),
        NEXT(32, NONE),
};

/* On at an unknown percent before any limit of ours: power unknown. */
static const struct step unknown_power[] = {
        SET_ON(0, true),
        NEXT(0, READ),
        READ(0, ON, -1, true, .status = ST(ON), POWER(NO_POWER)),
        NEXT(0, LIMIT, .percent = 10),
        DONE(0, 0, POWER(100)),
};

/* No answer: syncing, 0 W; a read status fault is a fault even when off. */
static const struct step no_answer[] = {
        NEXT(0, OFF),
        DONE(0, 0),
        NEXT(1, READ),
        READ(1, OFF, 1000, true, .status = ST(OFF)),
        NEXT(40, READ),
        { .t = 40, .ev = EV_READ_FAIL, .status = ST(SYNCING), POWER(0) },
        NEXT(41, OFF), /* unknown is not off */
        DONE(41, 0),
        NEXT(42, READ),
        READ(42, FAULT, 1000, true, .status = ST(FAULT)),
        NEXT(71, OFF), /* the wait is over: off again, a fault is not off */
};

/* Switching resets the target percent to the LUT's start percent. */
static const struct step reset_percent[] = {
        { .t = 0, .ev = EV_SET_POWER, .arg = 800, .applied = 800 },
        SET_ON(0, true),
        NEXT(0, READ),
        READ(0, ON, 1000, true, .status = ST(ON), POWER(800)),
        NEXT(0, LIMIT, .percent = 10),
        DONE(0, 0),
        SET_ON(1, true), /* no change: no reset */
        { .t = 1, .ev = EV_SET_POWER, .arg = 500, .applied = 500 },
        SET_ON(1, false),
        SET_ON(1, true),
        NEXT(1, LIMIT, .percent = 10), /* not 50; switching also ended the wait */
        DONE(1, 0),
        NEXT(2, READ),
        READ(2, ON, 100, true),
        NEXT(3, NONE),
};

/* Energy: the LUT power integrated while the inverter reads on. */
static const struct step energy[] = {
        SET_ON(0, true),
        NEXT(0, READ),
        READ(0, ON, 500, true, POWER(500)),
        { .t = 1800, .ev = EV_ENERGY, .applied = 250 },
        READ(3600, OFF, 500, true, POWER(0)),
        { .t = 7200, .ev = EV_ENERGY, .applied = 250 },
        { .t = 7300, .ev = EV_ENERGY, .applied = 0 },
};

#define SCENARIO(s) { #s, s, ELEMENTSOF(s) }

static const struct scenario scenarios[] = {
        SCENARIO(start_off),     SCENARIO(switch_on),       SCENARIO(limit_wait),
        SCENARIO(restart),       SCENARIO(self_off),        SCENARIO(self_off_foreign),
        SCENARIO(shutdown),      SCENARIO(late_answer),     SCENARIO(unknown_percent),
        SCENARIO(unknown_power), SCENARIO(no_answer),       SCENARIO(reset_percent),
        SCENARIO(energy),
};

#define CHECK(sc, i, what, got, expected)                                                               \
        do {                                                                                            \
                long long _g = (got), _e = (expected);                                                  \
                if (_g != _e)                                                                           \
                        fail_msg("%s, step %zu (t=%u): %s is %lld, expected %lld", (sc)->name, (i),     \
                                 (sc)->steps[i].t, (what), _g, _e);                                     \
        } while (0)

static void run_step(const struct scenario *sc, size_t i, struct dtu_sync *s) {
        const struct step *st = &sc->steps[i];
        uint64_t now = st->t * SEC;
        struct dtu_reading r;
        int percent = -1, w;

        switch (st->ev) {
        case EV_NEXT: {
                enum dtu_action a = dtu_sync_next(s, now, &percent);
                if (a != st->action)
                        fail_msg("%s, step %zu (t=%u): next is %s, expected %s", sc->name, i, st->t,
                                 dtu_action_to_string(a), dtu_action_to_string(st->action));
                if (a == DTU_ACTION_LIMIT)
                        CHECK(sc, i, "limit percent", percent, st->percent);
                break;
        }
        case EV_SET_ON:
                (void) dtu_sync_set_on(s, st->arg);
                break;
        case EV_SET_POWER:
                CHECK(sc, i, "applied", dtu_sync_set_power(s, st->arg), st->applied);
                break;
        case EV_READ:
                r = (struct dtu_reading) {
                        .state = st->state,
                        .percent_known = st->pct >= 0,
                        .percent_x10 = st->pct >= 0 ? st->pct : 0,
                        .limit_ack = st->arg,
                };
                dtu_sync_read_done(s, now, 0, &r);
                break;
        case EV_READ_FAIL:
                dtu_sync_read_done(s, now, -ETIMEDOUT, NULL);
                break;
        case EV_DONE:
                dtu_sync_command_done(s, now, st->arg);
                break;
        case EV_PREEMPT:
                CHECK(sc, i, "should_preempt", dtu_sync_should_preempt(s, now), st->arg);
                if (st->arg)
                        dtu_sync_abort(s);
                break;
        case EV_ENERGY:
                CHECK(sc, i, "energy Wh", (long long) (dtu_sync_energy_take(s, now) + 0.5), st->applied);
                break;
        }

        if (st->status)
                CHECK(sc, i, "status", dtu_sync_status(s), st->status - 1);
        if (st->busy)
                CHECK(sc, i, "busy", dtu_sync_busy(s, now), st->busy == BUSY_YES);
        if (st->check_power) {
                bool known = dtu_sync_power_w(s, &w);
                CHECK(sc, i, "power known", known, st->power_w != NO_POWER);
                if (known)
                        CHECK(sc, i, "power", w, st->power_w);
        }
}

static void test_sync_scenarios(void **state) {
        struct lut *lut = NULL;
        (void) state;

        assert_int_equal(lut_parse(lut_text, strlen(lut_text), &lut), 0);
        for (size_t k = 0; k < ELEMENTSOF(scenarios); k++) {
                const struct scenario *sc = &scenarios[k];
                struct dtu_sync s;

                dtu_sync_init(&s, lut);
                for (size_t i = 0; i < sc->n; i++)
                        run_step(sc, i, &s);
        }
        lut_free(lut);
}

static void test_sync_reports(void **state) {
        struct lut *lut = NULL;
        struct dtu_sync s;
        struct dtu_reading r = {
                .state = DTU_STATE_ON, .percent_known = true, .percent_x10 = 200, .limit_ack = true
        };
        enum device_status st;
        int w, min_w, max_w;
        (void) state;

        assert_int_equal(lut_parse(lut_text, strlen(lut_text), &lut), 0);
        dtu_sync_init(&s, lut);
        dtu_sync_power_range(&s, &min_w, &max_w);
        assert_int_equal(min_w, 100);
        assert_int_equal(max_w, 800);

        /* Each change once; the first value always. */
        assert_true(dtu_sync_status_changed(&s, &st));
        assert_int_equal(st, DEVICE_STATUS_SYNCING);
        assert_false(dtu_sync_status_changed(&s, &st));
        assert_true(dtu_sync_power_changed(&s, &w));
        assert_int_equal(w, 0);
        assert_false(dtu_sync_power_changed(&s, &w));

        (void) dtu_sync_set_on(&s, true);
        dtu_sync_read_done(&s, 0, 0, &r);
        assert_true(dtu_sync_status_changed(&s, &st));
        assert_int_equal(st, DEVICE_STATUS_ON);
        assert_true(dtu_sync_power_changed(&s, &w));
        assert_int_equal(w, 200);
        dtu_sync_read_done(&s, SEC, 0, &r);
        assert_false(dtu_sync_status_changed(&s, &st));
        assert_false(dtu_sync_power_changed(&s, &w));

        /* Unknown power is not reported (the last value stays). */
        r.percent_known = false;
        dtu_sync_read_done(&s, 2 * SEC, 0, &r);
        assert_false(dtu_sync_power_changed(&s, &w));
        lut_free(lut);
}

/* restart_at: the next local hour:minute, on DST days too (Europe/Berlin: 2026-03-29 02:00 CET -> 03:00
 * CEST, 2026-10-25 03:00 CEST -> 02:00 CET). */
static time_t utc(int y, int mo, int d, int h, int mi) {
        struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi };

        return timegm(&tm);
}

static void test_restart_next(void **state) {
        time_t t = 0;
        (void) state;

        assert_int_equal(setenv("TZ", "Europe/Berlin", 1), 0);
        tzset();
        /* An ordinary summer day: 03:00 CEST is 01:00 UTC; from after it, the next day. */
        assert_int_equal(dtu_restart_next(utc(2026, 6, 10, 0, 0), 3, 0, &t), 0);
        assert_int_equal(t, utc(2026, 6, 10, 1, 0));
        assert_int_equal(dtu_restart_next(utc(2026, 6, 10, 1, 0), 3, 0, &t), 0);
        assert_int_equal(t, utc(2026, 6, 11, 1, 0));
        /* Spring forward: 02:30 does not exist on 2026-03-29: 03:00 CEST (01:00 UTC) instead. */
        assert_int_equal(dtu_restart_next(utc(2026, 3, 28, 23, 0), 2, 30, &t), 0);
        assert_int_equal(t, utc(2026, 3, 29, 1, 0));
        /* ... and 02:30 CEST the day after (00:30 UTC). */
        assert_int_equal(dtu_restart_next(utc(2026, 3, 29, 1, 0), 2, 30, &t), 0);
        assert_int_equal(t, utc(2026, 3, 30, 0, 30));
        /* Fall back: 02:30 happens twice on 2026-10-25: the first (CEST, 00:30 UTC), once. */
        assert_int_equal(dtu_restart_next(utc(2026, 10, 24, 22, 0), 2, 30, &t), 0);
        assert_int_equal(t, utc(2026, 10, 25, 0, 30));
        assert_int_equal(dtu_restart_next(utc(2026, 10, 25, 0, 30), 2, 30, &t), 0);
        assert_int_equal(t, utc(2026, 10, 26, 1, 30));
        /* Midnight and the last minute of a day. */
        assert_int_equal(dtu_restart_next(utc(2026, 6, 10, 12, 0), 0, 0, &t), 0);
        assert_int_equal(t, utc(2026, 6, 10, 22, 0));
        assert_int_equal(dtu_restart_next(utc(2026, 6, 10, 12, 0), 23, 59, &t), 0);
        assert_int_equal(t, utc(2026, 6, 10, 21, 59));
        assert_int_equal(dtu_restart_next(0, 24, 0, &t), -EINVAL);
        assert_int_equal(dtu_restart_next(0, 1, 60, &t), -EINVAL);
}

/* limit_refresh and the daily restart in the sync loop. */
static void test_sync_refresh_and_daily_restart(void **state) {
        struct lut *lut = NULL;
        struct dtu_sync s;
        struct dtu_reading on50 = { .state = DTU_STATE_ON, .percent_known = true, .percent_x10 = 500,
                                    .limit_ack = true };
        struct dtu_reading off100 = { .state = DTU_STATE_OFF, .percent_known = true, .percent_x10 = 1000,
                                      .limit_ack = true };
        int percent = -1;
        (void) state;

        assert_int_equal(lut_parse(lut_text, strlen(lut_text), &lut), 0);
        dtu_sync_init(&s, lut);
        dtu_sync_set_refresh(&s, 120 * SEC);
        (void) dtu_sync_set_on(&s, true);
        assert_int_equal(dtu_sync_set_power(&s, 500), 500);
        /* On at 50 % already: nothing to send, then the limit again 120 s later, unchanged. */
        assert_int_equal(dtu_sync_next(&s, 10 * SEC, NULL), DTU_ACTION_READ);
        dtu_sync_read_done(&s, 10 * SEC, 0, &on50);
        assert_int_equal(dtu_sync_next(&s, 129 * SEC, NULL), DTU_ACTION_READ);
        dtu_sync_read_done(&s, 129 * SEC, 0, &on50);
        assert_int_equal(dtu_sync_next(&s, 130 * SEC, &percent), DTU_ACTION_LIMIT);
        assert_int_equal(percent, 50);
        dtu_sync_command_done(&s, 130 * SEC, 0);
        dtu_sync_read_done(&s, 131 * SEC, 0, &on50);
        assert_int_equal(dtu_sync_next(&s, 249 * SEC, NULL), DTU_ACTION_READ); /* the 30 s read, no limit */
        dtu_sync_read_done(&s, 249 * SEC, 0, &on50);
        assert_int_equal(dtu_sync_next(&s, 250 * SEC, &percent), DTU_ACTION_LIMIT);
        dtu_sync_command_done(&s, 250 * SEC, 0);
        dtu_sync_read_done(&s, 251 * SEC, 0, &on50);

        /* The daily restart: restart, then the limit before the on, without waiting for it to read on. */
        dtu_sync_request_restart(&s);
        assert_int_equal(dtu_sync_next(&s, 260 * SEC, NULL), DTU_ACTION_RESTART);
        dtu_sync_command_done(&s, 260 * SEC, 0);
        /* Rebooting, the DTU cannot reach it: it reads fault; that is no fault, and nothing goes out. */
        assert_int_equal(dtu_sync_next(&s, 261 * SEC, NULL), DTU_ACTION_READ);
        dtu_sync_read_done(&s, 261 * SEC, 0, &(struct dtu_reading) { .state = DTU_STATE_FAULT });
        assert_int_equal(dtu_sync_status(&s), DEVICE_STATUS_SYNCING);
        assert_int_equal(dtu_sync_next(&s, 262 * SEC, NULL), DTU_ACTION_READ);
        dtu_sync_read_done(&s, 262 * SEC, 0, &off100);
        assert_int_equal(dtu_sync_status(&s), DEVICE_STATUS_SYNCING); /* not a fault: it is rebooting */
        assert_int_equal(dtu_sync_next(&s, 262 * SEC, &percent), DTU_ACTION_LIMIT);
        assert_int_equal(percent, 50);
        dtu_sync_command_done(&s, 262 * SEC, 0);
        dtu_sync_read_done(&s, 263 * SEC, 0,
                           &(struct dtu_reading) { .state = DTU_STATE_OFF, .percent_known = true,
                                                   .percent_x10 = 500, .limit_ack = true });
        assert_int_equal(dtu_sync_next(&s, 264 * SEC, NULL), DTU_ACTION_ON);
        dtu_sync_command_done(&s, 264 * SEC, 0);
        /* Only once. */
        dtu_sync_read_done(&s, 270 * SEC, 0, &on50);
        assert_int_equal(dtu_sync_next(&s, 271 * SEC, NULL), DTU_ACTION_NONE);
        /* Not while the target is off. */
        (void) dtu_sync_set_on(&s, false);
        dtu_sync_request_restart(&s);
        assert_false(s.restart_requested);
        lut_free(lut);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ahoy_state),        cmocka_unit_test(test_ahoy_answer),
                cmocka_unit_test(test_ahoy_login),        cmocka_unit_test(test_ahoy_encode),
                cmocka_unit_test(test_opendtu_livedata),  cmocka_unit_test(test_opendtu_limit_status),
                cmocka_unit_test(test_opendtu_answer),    cmocka_unit_test(test_opendtu_encode),
                cmocka_unit_test(test_sync_scenarios),    cmocka_unit_test(test_sync_reports),
                cmocka_unit_test(test_restart_next),     cmocka_unit_test(test_sync_refresh_and_daily_restart),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
