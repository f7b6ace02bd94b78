/* SPDX-License-Identifier: MIT */
/* Fuzzes growattInverterModbus's side of the wire: the sync loop picks each
 * request, the input's bytes are the answers (Modbus-parsed as the driver
 * does), and whatever a good frame carries goes into the loop's state. The
 * power it reports must stay within 0..max and the loop must always have a
 * next request. First bytes: family, max_power, on, the wanted power. */

#include <assert.h>
#include <errno.h>

#include "fuzz.h"
#include "growatt-sync.h"
#include "modbus-rtu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct growatt_sync s;
        uint64_t t = 0;
        int min_w, max_w;

        if (size < 4)
                return 0;
        growatt_sync_init(&s, data[0] & 1 ? GROWATT_TL_X : GROWATT_XX00_S, NULL, data[1] & 1 ? 0 : data[1] * 20,
                          data[0] & 2);
        growatt_sync_set_on(&s, data[2] & 1);
        data += 4, size -= 4;
        while (size > 0) {
                struct modbus_request req;
                struct modbus_answer a;
                enum growatt_txn txn = growatt_sync_next(&s, t += 1000000, &req);
                size_t n = data[0] % 16 + 1 < size ? (size_t) data[0] % 16 + 1 : size;

                assert(txn > GROWATT_TXN_NONE && txn < GROWATT_TXN_KINDS);
                req.address = 3;
                (void) growatt_sync_set_power(&s, data[0] * 8);
                int r = modbus_parse(&req, data, n, &a);
                if (r == 0)
                        growatt_sync_answer(&s, txn, &req, a.data, t);
                else if (r != -EAGAIN)
                        growatt_sync_failed(&s, txn);
                data += n, size -= n;
                growatt_sync_power_range(&s, &min_w, &max_w);
                int p = growatt_sync_power_w(&s);
                assert(p >= 0 && p <= (max_w > 0 ? max_w : 0));
        }
        return 0;
}
