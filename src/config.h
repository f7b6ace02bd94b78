/* SPDX-License-Identifier: MIT */
/* The configuration file: load, validate every key of spec/config.md, and
 * turn it into typed structs. Validation collects every error (not just the
 * first) so a user fixes the file in one go. Nothing here touches a device. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heater.h"
#include "homebattery/driver.h"
#include "mode.h"
#include "netzero.h"
#include "supervisor.h"

struct config_general {
        enum mode default_mode;
        bool has_inverter_power;
        int inverter_power_w;
};

struct config_mqtt {
        char *host;
        uint16_t port;
        char *ca;  /* absolute path, or NULL: no TLS */
        bool tls_insecure;
        char *user;
        char *password;
        char *root;
        char *client_id;
        bool json;
        bool ha_enabled;
        char *ha_prefix;
};

struct config_logging {
        char *host; /* UDP log host, or NULL */
        uint16_t port;
        char **ignore;
        size_t n_ignore;
        int level; /* LOG_DEBUG ... LOG_ERR */
};

/* netzero.fallback without the object, or without a key of it (configuration.md). */
#define NETZERO_FALLBACK_AFTER_S_DEFAULT 60
#define NETZERO_FALLBACK_POWER_W_DEFAULT 0

struct config_netzero {
        bool present; /* section given */
        bool enabled;
        struct netzero_config nz;
        /* netzero.max_power: the inverter class is never set above it (also caps general.inverter_power). */
        bool has_max_power;
        int max_power_w;
        /* netzero.fallback: no consumption reading for this long while the inverters are on → power_w. */
        int fallback_after_s;
        int fallback_power_w;
};

struct config_http {
        bool enabled; /* section given */
        char *listen_host;
        uint16_t listen_port;
        char *token;
};

struct config_device {
        char *name;
        const struct driver *driver;
        void *driver_config;
};

struct config {
        char *path;
        char *dir; /* relative file names resolve against this */
        struct config_general general;
        struct config_mqtt mqtt;
        struct config_logging logging;
        struct config_netzero netzero;
        struct supervisor_config supervisor;
        char *bluetooth_adapter;
        struct config_http http;
        struct heater_config heater;
        struct config_device *devices;
        size_t n_devices;
};

/* The list of problems found; each is a complete line naming the file. */
struct config_errors {
        char **lines;
        size_t n;
        char **warnings;
        size_t n_warnings;
};

/* Parses text (as read from `path`). Returns 0 and a config, or -EINVAL with
 * every problem in *errors; -ENOMEM on allocation failure. */
int config_parse(const char *path, const char *text, size_t size, struct config **ret,
                 struct config_errors *errors);
/* Reads and parses the file; an unreadable file is one error line. */
int config_load(const char *path, struct config **ret, struct config_errors *errors);
struct config *config_free(struct config *c);
void config_errors_done(struct config_errors *e);

bool device_name_is_valid(const char *name);
bool utf8_is_valid(const char *s, size_t len);
/* True when one topic can match both MQTT topic filters ('+' is one level, a
 * trailing '#' any number of levels, none included). */
bool mqtt_filters_overlap(const char *a, const char *b);
size_t config_count_class(const struct config *c, enum device_class cls);

/* Where relative file names are looked up when they are not next to the config file: the shipped
 * power LUTs (<datadir>/homebattery, or $HOMEBATTERY_DATADIR). */
const char *config_data_dir(void);
