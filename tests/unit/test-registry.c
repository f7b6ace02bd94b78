/* SPDX-License-Identifier: MIT */
/* The driver registry: every driver of the table is valid for this contract
 * (DRIVER_VERSION, mandatory slots, one ops table per class it claims), and a
 * driver that is not is refused by name. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "drivers.h"
#include "registry.h"

static void test_every_driver_valid(void **state) {
        size_t n = 0;

        (void) state;
        for (const struct driver *const *d = driver_table; *d; d++, n++) {
                if (!registry_driver_is_valid(*d))
                        fail_msg("driver %s is not valid for DRIVER_VERSION %d", (*d)->name, DRIVER_VERSION);
                assert_ptr_equal(registry_find((*d)->name), *d);
        }
        assert_int_equal(n, registry_count());
        assert_true(n >= 9);
}

static int nop_parse(struct config_ctx *ctx, const char *path, struct json_object *obj, void **ret) {
        return 0;
}
static void nop_free_config(void *c) {
}
static int nop_new(struct device *d, const void *config, void **ret) {
        return 0;
}
static void nop_free(void *s) {
}
static int nop_set_on(void *s, bool on) {
        return 0;
}
static const struct switch_ops nop_switch = { .set_on = nop_set_on };

static void test_invalid_drivers_refused(void **state) {
        const struct driver good = {
                .version = DRIVER_VERSION, .name = "good", .classes = CLASS_BIT(DEVICE_CLASS_CHARGER),
                .parse_config = nop_parse, .free_config = nop_free_config, .new = nop_new, .free = nop_free,
                .charger = &nop_switch,
        };
        struct driver d;

        (void) state;
        assert_true(registry_driver_is_valid(&good));
        d = good;
        d.version = DRIVER_VERSION + 1; /* written for another contract */
        assert_false(registry_driver_is_valid(&d));
        d = good;
        d.new = NULL;
        assert_false(registry_driver_is_valid(&d));
        d = good;
        d.charger = NULL; /* claims a class without its ops */
        assert_false(registry_driver_is_valid(&d));
        d = good;
        d.solar = &nop_switch; /* ops for a class it does not claim */
        assert_false(registry_driver_is_valid(&d));
        d = good;
        d.classes = 0;
        assert_false(registry_driver_is_valid(&d));
        assert_false(registry_driver_is_valid(NULL));
        assert_null(registry_find("noSuchDriver"));
        assert_null(registry_find(NULL));
}

/* The original firmware's names find the driver they now name; current names are no aliases. */
static void test_aliases(void **state) {
        (void) state;
        assert_non_null(registry_find("jkBmsBd4"));
        assert_ptr_equal(registry_find("jkBmsBd"), registry_find("jkBmsBd4"));
        assert_string_equal(registry_alias_target("jkBmsBd"), "jkBmsBd4");
        assert_null(registry_alias_target("jkBmsBd4"));
        assert_null(registry_alias_target("jkbmsbd"));
        assert_null(registry_find("jkbmsbd"));
        for (const struct driver *const *d = driver_table; *d; d++)
                assert_null(registry_alias_target((*d)->name));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_aliases),
                cmocka_unit_test(test_every_driver_valid),
                cmocka_unit_test(test_invalid_drivers_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
