/* SPDX-License-Identifier: MIT */
/* Fuzzes what the HTTP API itself interprets of a request: the path, the
 * Authorization header and the POST /api/mode body (the input is split into
 * those three at NUL bytes). */

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http-request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *copy = malloc(size + 1);
        size_t len;

        if (!copy)
                return 0;
        memcpy(copy, data, size);
        copy[size] = 0;

        const char *path = copy;
        const char *auth = path + strlen(path) + 1 <= copy + size ? path + strlen(path) + 1 : copy + size;
        const char *body = auth + strlen(auth) + 1 <= copy + size ? auth + strlen(auth) + 1 : copy + size;

        enum http_route r = http_route_from_path(path);
        (void) http_route_method(r);
        const char *tok = http_bearer_token(auth, &len);
        if (tok)
                (void) http_token_equal(tok, len, "0123456789abcdef", 16);
        (void) http_mode_from_body(body, (size_t) (copy + size - body));
        free(copy);
        return 0;
}
