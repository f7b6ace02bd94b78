/* SPDX-License-Identifier: MIT */
/* Fuzzes the Modbus RTU answer parser the way a bus reader uses it: the first
 * input bytes are the request (address, function, register, count/value),
 * the rest arrives in chunks; after each chunk the reader parses, drops the
 * noise and, on a verdict, the frame. The parser must never read outside the
 * buffer and its lengths must add up; a good answer also goes through the
 * PZEM-017 sample decoder (genericSolar). */

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "modbus-rtu.h"
#include "pzem017.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const uint8_t functions[] = { MODBUS_READ_HOLDING, MODBUS_READ_INPUT, MODBUS_WRITE_SINGLE,
                                             MODBUS_PZEM_RESET };
        uint8_t buf[2 * MODBUS_FRAME_MAX];
        size_t have = 0;

        if (size < 7)
                return 0;
        struct modbus_request req = {
                .address = data[0],
                .function = functions[data[1] % 4],
                .reg = (uint16_t) (data[2] << 8 | data[3]),
                .value = (uint16_t) (data[4] << 8 | data[5]),
        };
        size_t chunk = (size_t) data[6] % 31 + 1;
        data += 7, size -= 7;
        for (size_t off = 0; off < size; off += chunk) {
                size_t n = size - off < chunk ? size - off : chunk;
                if (have + n > sizeof(buf))
                        have = 0; /* the reader's overflow rule: start over */
                memcpy(buf + have, data + off, n);
                have += n;
                struct modbus_answer a;
                int r = modbus_parse(&req, buf, have, &a);
                assert(a.skipped <= have);
                size_t drop = a.skipped;
                if (r != -EAGAIN) {
                        assert(a.length >= 4 && a.skipped + a.length <= have);
                        if (r == 0 && a.data)
                                assert(a.data + a.n_data <= buf + a.skipped + a.length);
                        /* genericSolar's decoder on whatever sample a good frame carries */
                        if (r == 0 && a.data && a.n_data >= 2 * PZEM_SAMPLE_REGISTERS) {
                                struct pzem_sample s;
                                pzem_decode_sample(a.data, (double) (req.reg % 7), &s);
                                assert(s.power_w >= 0 && s.energy_wh >= 0);
                        }
                        drop += a.length;
                }
                memmove(buf, buf + drop, have - drop);
                have -= drop;
        }
        return 0;
}
