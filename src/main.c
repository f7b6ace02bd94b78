/* SPDX-License-Identifier: MIT */
/* homebattery: arguments → config → manager → start → READY=1 → loop. */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "config.h"
#include "bms-decode-tool.h"
#include "hb-build-config.h"
#include "homebattery/log.h"
#include "log-setup.h"
#include "manager.h"
#include "migrate.h"
#include "registry.h"

/* --help fits 80 columns: words of `list` (separated by ", ") after `prefix`, wrapped. */
static void print_wrapped(const char *prefix, const char *list) {
        size_t col = strlen(prefix);
        const char *p = list;

        fputs(prefix, stdout);
        while (*p) {
                const char *end = strstr(p, ", ");
                size_t len = end ? (size_t) (end - p) + 1 : strlen(p); /* with the comma */

                if (col + 1 + len > 79) {
                        fputs("\n        ", stdout);
                        col = 8;
                } else if (p != list) { /* the prefix ends with its own space */
                        fputc(' ', stdout);
                        col++;
                }
                fwrite(p, 1, len, stdout);
                col += len;
                p += len;
                if (*p == ' ')
                        p++;
        }
        fputc('\n', stdout);
}

static void help(void) {
        char drivers[512];

        registry_list(drivers, sizeof(drivers));
        printf("Usage: homebattery [OPTIONS]\n"
               "\n"
               "Controls a home battery: chargers, solar chargers and inverters follow the\n"
               "mode requested over MQTT, netzero follows the household meter, the supervisor\n"
               "locks whatever is unsafe.\n"
               "\n"
               "  -c, --config PATH   configuration file, default:\n"
               "                      %s\n"
               "      --check-config  validate the configuration and exit (0 valid, 78 invalid)\n"
               "      --decode DRIVER decode BMS notifications (hex, one per line) from stdin:\n"
               "                      lltPowerBmsV4Ble, daly8S24V60A or jkBmsBd4\n"
               "      --migrate-config OLD.json\n"
               "                      print this daemon's configuration for a config.json of\n"
               "                      the original firmware (notes, warnings on stderr), exit\n"
               "      --port extN=PATH with --migrate-config: the serial device for ext1/ext2\n"
               "  -h, --help          show this help\n"
               "      --version       show the version and the optional parts compiled in\n"
               "\n",
               HB_DEFAULT_CONFIG);
        print_wrapped("Drivers: ", drivers);
}

static void version(void) {
        /* Optional parts: what a config may ask for that this build cannot do. */
        printf("homebattery %s\n"
               "compiled with: %s\n",
               HB_VERSION,
               HAVE_LIBGPIOD ? "+gpio (victronMppt \"control\": \"gpio\")" : "-gpio (no libgpiod at build time)");
}

static void print_config_problems(const struct config_errors *e) {
        for (size_t i = 0; i < e->n_notes; i++)
                fprintf(stderr, "note: %s\n", e->notes[i]);
        for (size_t i = 0; i < e->n_warnings; i++)
                fprintf(stderr, "warning: %s\n", e->warnings[i]);
        for (size_t i = 0; i < e->n; i++)
                fprintf(stderr, "%s\n", e->lines[i]);
}

struct options {
        const char *config_path;
        bool check_only;
        const char *migrate_path;
        struct migrate_options migrate;
        bool has_port;
};

/* Returns -1 to go on, else the exit status (help, version, --decode, a usage error). */
static int parse_args(int argc, char *argv[], struct options *o) {
        enum { ARG_CHECK_CONFIG = 0x100, ARG_VERSION, ARG_DECODE, ARG_MIGRATE, ARG_PORT };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "decode", required_argument, NULL, ARG_DECODE },
                { "migrate-config", required_argument, NULL, ARG_MIGRATE },
                { "port", required_argument, NULL, ARG_PORT },
                {},
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "c:h", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        o->config_path = optarg;
                        break;
                case ARG_CHECK_CONFIG:
                        o->check_only = true;
                        break;
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case ARG_VERSION:
                        version();
                        return EXIT_SUCCESS;
                case ARG_DECODE:
                        r = decode_tool_run(registry_alias_target(optarg) ?: optarg, stdin, stdout, stderr);
                        if (r == -EINVAL) {
                                fprintf(stderr, "Unknown BMS driver \"%s\" (known: lltPowerBmsV4Ble, daly8S24V60A, "
                                                "jkBmsBd4)\n", optarg);
                                return EX_USAGE;
                        }
                        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
                case ARG_MIGRATE:
                        o->migrate_path = optarg;
                        break;
                case ARG_PORT:
                        o->has_port = true;
                        if (migrate_parse_port(&o->migrate, optarg) < 0) {
                                fprintf(stderr, "--port: expected ext1=PATH or ext2=PATH with an absolute PATH, "
                                                "got \"%s\"\n", optarg);
                                return EX_USAGE;
                        }
                        break;
                default:
                        /* getopt_long() said what was wrong. */
                        fprintf(stderr, "Try 'homebattery --help' for more information.\n");
                        return EX_USAGE;
                }
        if (optind < argc) {
                fprintf(stderr, "Unexpected argument: %s\nTry 'homebattery --help' for more information.\n",
                        argv[optind]);
                return EX_USAGE;
        }
        if (o->has_port && !o->migrate_path) {
                fprintf(stderr, "--port goes with --migrate-config\n");
                return EX_USAGE;
        }
        if (o->migrate_path)
                return migrate_file(o->migrate_path, &o->migrate, stdout, stderr);
        return -1;
}

/* Returns -1 with *ret set when the file is valid, else the exit status. */
static int load_config(const char *path, struct config **ret) {
        struct config_errors errors = {};
        int r;

        r = config_load(path, ret, &errors);
        if (r == -ENOMEM) {
                log_error(NULL, "Out of memory while reading the configuration");
                config_errors_done(&errors);
                return EXIT_FAILURE;
        }
        print_config_problems(&errors);
        if (r < 0)
                fprintf(stderr, "%s: %zu error(s), nothing started\n", path, errors.n);
        config_errors_done(&errors);
        return r < 0 ? EX_CONFIG : -1;
}

/* Takes the config. Every error it can meet here is one that a restart may
 * cure (no memory, no loop): what the config alone decides is refused by
 * --check-config before. */
static int run_daemon(struct config *config) {
        _cleanup_(manager_freep) struct manager *m = NULL;
        int r;

        r = manager_new(&m);
        if (r < 0) {
                config_free(config);
                return log_error_errno(r, NULL, "Failed to set up the event loop: %m"), EXIT_FAILURE;
        }
        r = manager_load_config(m, config);
        if (r >= 0)
                r = manager_start(m);
        if (r < 0)
                return EXIT_FAILURE;
        return manager_run(m);
}

int main(int argc, char *argv[]) {
        struct options o = { .config_path = HB_DEFAULT_CONFIG };
        struct config *config = NULL;
        int r;

        r = parse_args(argc, argv, &o);
        if (r >= 0)
                return r;
        log_setup();
        r = load_config(o.config_path, &config);
        if (r >= 0)
                return r;
        if (o.check_only) {
                printf("%s: valid (%zu device(s))\n", o.config_path, config->n_devices);
                config_free(config);
                return EXIT_SUCCESS;
        }
        r = run_daemon(config);
        log_shutdown();
        return r;
}
