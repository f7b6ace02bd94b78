/* SPDX-License-Identifier: MIT */
/* The consumption class: the household total from the last value of every
 * meter, and how fresh the oldest of them is. */

#include "class.h"

bool consumption_class_total(struct class_member *const *members, size_t n, int *ret_total_w) {
        long total = 0;

        if (n == 0)
                return false;
        /* A total that misses a meter (e.g. one of two phases) would mislead
         * netzero: wait until every meter has spoken once. */
        for (size_t i = 0; i < n; i++) {
                if (!members[i]->heard)
                        return false;
                total += members[i]->consumption_w;
        }
        if (total > INT32_MAX)
                total = INT32_MAX;
        if (total < INT32_MIN)
                total = INT32_MIN;
        *ret_total_w = (int) total;
        return true;
}

uint64_t consumption_class_last_seen(struct class_member *const *members, size_t n) {
        uint64_t oldest = UINT64_MAX;

        if (n == 0)
                return 0;
        for (size_t i = 0; i < n; i++)
                if (members[i]->last_arrival_usec < oldest)
                        oldest = members[i]->last_arrival_usec;
        return oldest;
}
