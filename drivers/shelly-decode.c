/* SPDX-License-Identifier: MIT */
/* Parses the few fields homebattery needs from Shelly's JSON; anything that
 * is not the expected shape is -EBADMSG, never a guess. */

#include <errno.h>
#include <json-c/json.h>
#include <math.h>

#include "shelly-decode.h"

static struct json_object *parse(const char *body, size_t size) {
        struct json_tokener *tok;
        struct json_object *o;

        if (size > 65536)
                return NULL;
        tok = json_tokener_new();
        if (!tok)
                return NULL;
        o = json_tokener_parse_ex(tok, body, (int) size);
        if (json_tokener_get_error(tok) != json_tokener_success || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                o = NULL;
        }
        json_tokener_free(tok);
        return o;
}

static bool get_number(struct json_object *o, const char *key, double *ret) {
        struct json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) ||
            !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
                return false;
        *ret = json_object_get_double(v);
        return isfinite(*ret);
}

static bool get_bool(struct json_object *o, const char *key, bool *ret) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_boolean))
                return false;
        *ret = json_object_get_boolean(v);
        return true;
}

int shelly_decode_generation(const char *body, size_t size) {
        struct json_object *o = parse(body, size), *gen;
        int r;

        if (!o)
                return -EBADMSG;
        if (!json_object_object_get_ex(o, "gen", &gen))
                r = 1;
        else if (json_object_is_type(gen, json_type_int) && json_object_get_int(gen) >= 2 &&
                 json_object_get_int(gen) < 100)
                r = json_object_get_int(gen);
        else
                r = -EBADMSG;
        json_object_put(o);
        return r;
}

int shelly_decode_gen1_relay(const char *body, size_t size, struct shelly_state *ret) {
        struct json_object *o = parse(body, size);
        int r = 0;

        if (!o)
                return -EBADMSG;
        if (!get_bool(o, "ison", &ret->on))
                r = -EBADMSG;
        json_object_put(o);
        return r;
}

int shelly_decode_gen1_meter(const char *body, size_t size, struct shelly_state *ret) {
        struct json_object *o = parse(body, size);
        double total;

        if (!o)
                return -EBADMSG;
        ret->has_power = get_number(o, "power", &ret->power_w) && ret->power_w >= 0;
        ret->has_energy = get_number(o, "total", &total) && total >= 0;
        if (ret->has_energy)
                ret->energy_wh = total / 60.0; /* watt-minutes */
        json_object_put(o);
        return ret->has_power || ret->has_energy ? 0 : -EBADMSG;
}

int shelly_decode_gen2_status(const char *body, size_t size, struct shelly_state *ret) {
        struct json_object *o = parse(body, size), *ae = NULL;
        int r = 0;

        if (!o)
                return -EBADMSG;
        if (!get_bool(o, "output", &ret->on))
                r = -EBADMSG;
        /* A switch without metering has neither: its energy is unknown, not 0. */
        ret->has_power = get_number(o, "apower", &ret->power_w);
        ret->has_energy = json_object_object_get_ex(o, "aenergy", &ae) && get_number(ae, "total", &ret->energy_wh) &&
                          ret->energy_wh >= 0;
        json_object_put(o);
        return r;
}
