/* SPDX-License-Identifier: MIT */
/* Modbus RTU framing, written once for every Modbus driver: CRC-16/MODBUS,
 * requests (0x03/0x04 read, 0x06 write single, 0x42 PZEM energy reset) and
 * the answer to one request found in received bytes (resynchronising past
 * noise). Pure code: no I/O, unit-tested and fuzzed from bytes. */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum {
        MODBUS_READ_HOLDING = 0x03,
        MODBUS_READ_INPUT = 0x04,
        MODBUS_WRITE_SINGLE = 0x06,
        MODBUS_PZEM_RESET = 0x42,
        MODBUS_EXCEPTION = 0x80,
        MODBUS_REGISTERS_MAX = 125, /* one read: at most 250 data bytes, 255 with header and CRC */
        MODBUS_FRAME_MAX = 256,
};

struct modbus_request {
        uint8_t address;  /* 1..247 */
        uint8_t function; /* MODBUS_READ_HOLDING, ... */
        uint16_t reg;     /* read: first register; write: the register */
        uint16_t value;   /* read: register count (1..MODBUS_REGISTERS_MAX); write: the value */
};

/* The answer to a request, pointing into the buffer given to modbus_parse(). */
struct modbus_answer {
        size_t skipped;         /* noise before the frame */
        size_t length;          /* the frame, CRC included */
        const uint8_t *data;    /* 0x03/0x04: the registers, big-endian */
        size_t n_data;          /* bytes at data */
        uint8_t exception;      /* the exception code of an exception answer */
        const char *reason;     /* why the answer is bad (-EBADMSG) */
};

uint16_t modbus_crc16(const uint8_t *p, size_t n);

/* Writes the request frame (CRC included) to buf; returns its length (8, or 4 for 0x42) or -EINVAL for a
 * request that cannot be sent (address 0 or > 247, count out of range, unknown function). */
int modbus_request_build(const struct modbus_request *req, uint8_t buf[static 8]);

/* Looks for the answer to req in buf[0..n). Returns
 *   0            a good answer (ret->data/n_data for reads);
 *   -EAGAIN      not complete yet: wait for more bytes (ret->skipped bytes of noise may be dropped);
 *   -EREMOTEIO   an exception answer with a good CRC: ret->exception;
 *   -EBADMSG     a frame that fails: wrong CRC, or byte count / echo that differ from the request
 *                (ret->reason); nothing from it may be used. */
int modbus_parse(const struct modbus_request *req, const uint8_t *buf, size_t n, struct modbus_answer *ret);

static inline uint16_t modbus_u16(const uint8_t *data, size_t reg) {
        return (uint16_t) (data[2 * reg] << 8 | data[2 * reg + 1]);
}
