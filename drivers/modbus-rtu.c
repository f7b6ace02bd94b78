/* SPDX-License-Identifier: MIT */
/* Modbus RTU framing (modbus-rtu.h): requests out, the one expected answer in.
 * The answer's length follows from its first three bytes, so a reader knows
 * how many bytes to wait for; leading noise is skipped up to the expected
 * address and function. */

#include <errno.h>
#include <string.h>

#include "modbus-rtu.h"

uint16_t modbus_crc16(const uint8_t *p, size_t n) {
        uint16_t crc = 0xFFFF;

        for (size_t i = 0; i < n; i++) {
                crc ^= p[i];
                for (int b = 0; b < 8; b++)
                        crc = (crc & 1) ? (uint16_t) ((crc >> 1) ^ 0xA001) : (uint16_t) (crc >> 1);
        }
        return crc;
}

static size_t put_crc(uint8_t *buf, size_t n) {
        uint16_t crc = modbus_crc16(buf, n);
        buf[n] = (uint8_t) (crc & 0xFF); /* low byte first */
        buf[n + 1] = (uint8_t) (crc >> 8);
        return n + 2;
}

int modbus_request_build(const struct modbus_request *req, uint8_t buf[static 8]) {
        if (req->address == 0 || req->address > 247)
                return -EINVAL;
        buf[0] = req->address;
        buf[1] = req->function;
        switch (req->function) {
        case MODBUS_READ_HOLDING:
        case MODBUS_READ_INPUT:
                if (req->value == 0 || req->value > MODBUS_REGISTERS_MAX)
                        return -EINVAL;
                break;
        case MODBUS_WRITE_SINGLE:
                break;
        case MODBUS_PZEM_RESET:
                return (int) put_crc(buf, 2);
        default:
                return -EINVAL;
        }
        buf[2] = (uint8_t) (req->reg >> 8);
        buf[3] = (uint8_t) req->reg;
        buf[4] = (uint8_t) (req->value >> 8);
        buf[5] = (uint8_t) req->value;
        return (int) put_crc(buf, 6);
}

/* The frame length an answer starting at p (address, function, byte 3) must have; 0 while unknown. */
static size_t answer_length(const struct modbus_request *req, const uint8_t *p, size_t avail) {
        if (avail < 2)
                return 0;
        if (p[1] == (req->function | MODBUS_EXCEPTION))
                return 5;
        switch (req->function) {
        case MODBUS_READ_HOLDING:
        case MODBUS_READ_INPUT:
                return avail < 3 ? 0 : 5 + (size_t) p[2];
        case MODBUS_WRITE_SINGLE:
                return 8;
        default:
                return 4;
        }
}

static int bad(struct modbus_answer *ret, const char *reason) {
        ret->reason = reason;
        return -EBADMSG;
}

int modbus_parse(const struct modbus_request *req, const uint8_t *buf, size_t n, struct modbus_answer *ret) {
        size_t i = 0, len;
        const uint8_t *p;

        *ret = (struct modbus_answer) {};
        /* Resynchronise: the answer starts with the address asked and the function (or its exception). */
        while (i < n && !(buf[i] == req->address &&
                          (i + 1 == n || buf[i + 1] == req->function ||
                           buf[i + 1] == (req->function | MODBUS_EXCEPTION))))
                i++;
        ret->skipped = i;
        p = buf + i;
        len = answer_length(req, p, n - i);
        if (len == 0 || n - i < len)
                return -EAGAIN;
        ret->length = len;
        if (modbus_crc16(p, len - 2) != (uint16_t) (p[len - 2] | p[len - 1] << 8))
                return bad(ret, "bad CRC");
        if (p[1] & MODBUS_EXCEPTION) {
                ret->exception = p[2];
                return -EREMOTEIO;
        }
        switch (req->function) {
        case MODBUS_READ_HOLDING:
        case MODBUS_READ_INPUT:
                if (p[2] != 2 * req->value)
                        return bad(ret, "byte count differs from the registers asked");
                ret->data = p + 3;
                ret->n_data = p[2];
                break;
        case MODBUS_WRITE_SINGLE:
                if ((p[2] << 8 | p[3]) != req->reg || (p[4] << 8 | p[5]) != req->value)
                        return bad(ret, "echo differs from the request");
                break;
        default:
                break;
        }
        return 0;
}
