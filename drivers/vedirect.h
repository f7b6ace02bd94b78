/* SPDX-License-Identifier: MIT */
/* VE.Direct (Victron) decoding, pure: the text protocol's block parser fed
 * arbitrary byte chunks, with the HEX frames that are interleaved in the same
 * stream handed out separately; the HEX frame builder and answer parser; the
 * MPPT fields the victronMppt driver uses. No I/O: the caller passes the time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fixed sizes keep the memory bounded whatever the line carries. Real labels
 * are at most 9 characters and values at most 33. */
#define VEDIRECT_LABEL_MAX 16 /* with the NUL */
#define VEDIRECT_VALUE_MAX 40 /* with the NUL */
#define VEDIRECT_FIELDS_MAX 32
#define VEDIRECT_HEX_FRAME_MAX 128 /* ':' through the last digit, with the NUL */
/* The charger pauses about a second between blocks; 500 ms of silence means
 * anything half received belongs to nothing any more. */
#define VEDIRECT_SILENCE_USEC (500 * UINT64_C(1000))

struct vedirect_field {
        char label[VEDIRECT_LABEL_MAX];
        char value[VEDIRECT_VALUE_MAX];
};

struct vedirect_block {
        size_t n_fields;
        struct vedirect_field fields[VEDIRECT_FIELDS_MAX];
};

enum vedirect_text_state {
        VEDIRECT_IDLE,     /* between blocks: waiting for '\r' (or ':') */
        VEDIRECT_NEWLINE,  /* got '\r', expecting '\n' */
        VEDIRECT_LABEL,    /* label up to '\t' */
        VEDIRECT_VALUE,    /* value up to the next '\r' */
        VEDIRECT_CHECKSUM, /* the next byte is the checksum, whatever it is */
};

/* Embed it and treat it as opaque; vedirect_parser_init() before use. */
struct vedirect_parser {
        enum vedirect_text_state state;
        uint8_t sum;
        bool too_many_fields;
        size_t label_len;
        size_t value_len;
        struct vedirect_field cur; /* the field being received */
        struct vedirect_block block;

        bool in_hex;
        size_t hex_len;
        char hex[VEDIRECT_HEX_FRAME_MAX];

        bool have_time;
        uint64_t last_usec;
};

struct vedirect_handlers {
        /* A block with a good checksum. */
        void (*block)(void *userdata, const struct vedirect_block *b);
        /* A complete HEX frame: ':' through its last digit, without '\n',
         * NUL-terminated. Not checked: see vedirect_hex_parse(). */
        void (*hex)(void *userdata, const char *frame, size_t len);
        /* A block or HEX frame was dropped: -EBADMSG (checksum, malformed),
         * -E2BIG (too many fields), -EMSGSIZE (line too long). */
        void (*error)(void *userdata, int error, const char *reason);
};

void vedirect_parser_init(struct vedirect_parser *p);
/* Drops whatever is half received. */
void vedirect_parser_reset(struct vedirect_parser *p);
/* Feeds one chunk as read from the port at now_usec (monotonic); calls the
 * handlers (any may be NULL) for everything the chunk completes. */
void vedirect_feed(struct vedirect_parser *p, const uint8_t *data, size_t len, uint64_t now_usec,
                   const struct vedirect_handlers *h, void *userdata);

/* The value of the first field with that label, or NULL. */
const char *vedirect_block_get(const struct vedirect_block *b, const char *label);
/* Decimal (optional '-') or "0x" hex; -ENOENT when absent, -EBADMSG when not a number. */
int vedirect_block_get_int(const struct vedirect_block *b, const char *label, int64_t *ret);

/* What the victronMppt driver takes from a block. Absent or unreadable
 * fields have their has_ flag false. */
struct vedirect_mppt {
        bool has_ppv, has_cs, has_h20, has_v, has_i, has_vpv, has_err, has_or;
        int ppv_w;      /* PPV: panel power */
        int cs;         /* CS: charge state */
        double h20_wh;  /* H20: yield today (sent in 0.01 kWh) */
        int v_mv;       /* V: battery voltage */
        int i_ma;       /* I: battery current */
        int vpv_mv;     /* VPV: panel voltage */
        int err;        /* ERR: error code */
        uint32_t off_reason; /* OR */
};

/* OR bits the driver looks at. */
#define VEDIRECT_OR_NO_INPUT_POWER UINT32_C(0x00000001)
#define VEDIRECT_OR_DEVICE_MODE_OFF UINT32_C(0x00000004) /* switched off by register 0x0200 */

void vedirect_decode_mppt(const struct vedirect_block *b, struct vedirect_mppt *ret);
/* Copies the fields m has into `into`: what a block lacks keeps its last value. */
void vedirect_mppt_merge(struct vedirect_mppt *into, const struct vedirect_mppt *m);

enum vedirect_cs_kind {
        VEDIRECT_CS_OFF,
        VEDIRECT_CS_ON,
        VEDIRECT_CS_FAULT,
};

/* 3 bulk, 4 absorption, 5 float, 7 equalize, 247 auto equalize: on;
 * 2: fault; 0 off, 245 starting, 252 external control and the rest: off. */
enum vedirect_cs_kind vedirect_cs_kind(int cs);
/* For logs: "bulk", "fault", ...; NULL when unknown. */
const char *vedirect_cs_to_string(int cs);
const char *vedirect_err_to_string(int err);

/* ---- HEX protocol ---- */

enum {
        VEDIRECT_HEX_DONE = 0x1,
        VEDIRECT_HEX_UNKNOWN = 0x3,
        VEDIRECT_HEX_ERROR = 0x4,
        VEDIRECT_HEX_PING = 0x5,
        VEDIRECT_HEX_GET = 0x7,
        VEDIRECT_HEX_SET = 0x8,
        VEDIRECT_HEX_ASYNC = 0xA,
};

/* Flags of a get/set answer. */
#define VEDIRECT_HEX_FLAG_UNKNOWN_ID 0x01
#define VEDIRECT_HEX_FLAG_NOT_SUPPORTED 0x02
#define VEDIRECT_HEX_FLAG_PARAMETER_ERROR 0x04

#define VEDIRECT_REG_DEVICE_MODE 0x0200
#define VEDIRECT_DEVICE_MODE_ON 1
#define VEDIRECT_DEVICE_MODE_OFF 4

/* ':' + command nibble + bytes in upper-case hex + checksum + '\n', NUL-
 * terminated; the checksum makes nibble + bytes + checksum ≡ 0x55 (mod 256).
 * Returns the length without the NUL, or -ENOBUFS / -EINVAL. */
int vedirect_hex_build(unsigned command, const uint8_t *bytes, size_t n, char *buf, size_t size);
/* Set (command 8): register (little-endian), flags, value bytes. */
int vedirect_hex_build_set(uint16_t reg, uint8_t flags, const uint8_t *value, size_t n_value, char *buf,
                           size_t size);
/* Get (command 7): register, flags 00. */
int vedirect_hex_build_get(uint16_t reg, char *buf, size_t size);

#define VEDIRECT_HEX_BYTES_MAX 62

struct vedirect_hex_msg {
        unsigned command;
        size_t n_bytes; /* the bytes between the nibble and the checksum */
        uint8_t bytes[VEDIRECT_HEX_BYTES_MAX];
        /* Get, set and async answers: */
        bool has_register;
        uint16_t reg;
        uint8_t flags;
        size_t n_value;
        uint32_t value; /* little-endian, the first 4 value bytes */
};

/* Parses an answer (':' through the checksum; a trailing "\n" or "\r\n" is
 * fine). -EBADMSG when malformed or the checksum is wrong. */
int vedirect_hex_parse(const char *frame, size_t len, struct vedirect_hex_msg *ret);
