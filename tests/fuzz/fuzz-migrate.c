/* SPDX-License-Identifier: MIT */
/* Fuzzes --migrate-config with arbitrary old config.json contents: whatever
 * the file holds, a run that exits 0 prints one JSON object. */

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "migrate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const struct migrate_options o = { .ports = { "/dev/ttyS0", NULL } };
        char *out = NULL, *err = NULL;
        size_t n_out = 0, n_err = 0;
        FILE *fo = open_memstream(&out, &n_out), *fe = open_memstream(&err, &n_err);

        if (!fo || !fe)
                abort();
        int r = migrate_text((const char *) data, size, &o, fo, fe);
        fclose(fo);
        fclose(fe);
        if (r == 0) {
                struct json_object *j = json_tokener_parse(out);
                if (!json_object_is_type(j, json_type_object))
                        abort();
                json_object_put(j);
        }
        free(out);
        free(err);
        return 0;
}
