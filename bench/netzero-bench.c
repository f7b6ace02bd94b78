/* SPDX-License-Identifier: MIT */
/* netzero-bench: runs the daemon's netzero and inverter-class code against a
 * simulated household and Hoymiles inverter in virtual time over a whole load
 * profile, runs the lag-limited oracle over the same profile, and prints the
 * figures (one JSON line with --json). */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "bench/metrics.h"
#include "bench/run.h"
#include "log-setup.h"

#ifndef BENCH_DEFAULT_LUT
#define BENCH_DEFAULT_LUT "etc/hm600-lut.csv"
#endif

struct options {
        const char *profile;
        const char *lut;
        const char *algorithm;
        bool json;
        bool verbose;
        bool up_given, down_given;
        struct bench_run_config run;
};

static void help(void) {
        printf("Usage: netzero-bench --profile FILE --algorithm NAME [OPTIONS]\n"
               "       netzero-bench --algorithms\n\n"
               "Runs the daemon's netzero and inverter-class code against a simulated household and\n"
               "Hoymiles inverter in virtual time over the whole profile, and a lag-limited oracle.\n\n"
               "  --profile FILE        load profile: lines \"seconds,load_w\", '#' comments\n"
               "  --algorithm NAME      netzero algorithm (see --algorithms; default: the daemon's)\n"
               "  --algorithms          list the algorithm names, one a line\n"
               "  --ack-latency S       a limit is acknowledged after S seconds (default %g)\n"
               "  --settle S            then the output settles linearly over S seconds (default %g)\n"
               "  --meter-interval S    the meter publishes every S seconds (default 1)\n"
               "  --lut FILE            inverter power LUT \"percent;watt\" (default %s)\n"
               "  --noise FRACTION      output noise, e.g. 0.02 for +-2 %% (default %g)\n"
               "  --seed N              noise seed (default %" PRIu64 ")\n"
               "  --unsigned            the meter shows 0 during feed-in (netzero.signed = false)\n"
               "  --span S --maturity S --offset W --hysteresis W --up W --down W\n"
               "                        netzero settings (defaults as in configuration.md: 30 15 10 5, and the\n"
               "                        algorithm's own step limits: direct %d %d, classic %d %d)\n"
               "  --json                one JSON line\n"
               "  --verbose             the daemon's log on stderr\n",
               PLANT_ACK_LATENCY_S, PLANT_SETTLE_S, BENCH_DEFAULT_LUT, PLANT_NOISE, PLANT_SEED,
               NETZERO_DIRECT_CHANGE_UPWARDS_W, NETZERO_DIRECT_CHANGE_DOWNWARDS_W, NETZERO_CLASSIC_CHANGE_UPWARDS_W,
               NETZERO_CLASSIC_CHANGE_DOWNWARDS_W);
}

static int parse_double(const char *name, const char *s, double min, double max, double *ret) {
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s || *end || !(v >= min && v <= max)) {
                fprintf(stderr, "%s: expected a number in [%g, %g], got \"%s\"\n", name, min, max, s);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

static int parse_int(const char *name, const char *s, long min, long max, int *ret) {
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || end == s || *end || v < min || v > max) {
                fprintf(stderr, "%s: expected an integer in [%ld, %ld], got \"%s\"\n", name, min, max, s);
                return -EINVAL;
        }
        *ret = (int) v;
        return 0;
}

enum {
        OPT_PROFILE = 0x100,
        OPT_ALGORITHM,
        OPT_ALGORITHMS,
        OPT_ACK,
        OPT_SETTLE,
        OPT_METER,
        OPT_LUT,
        OPT_NOISE,
        OPT_SEED,
        OPT_UNSIGNED,
        OPT_SPAN,
        OPT_MATURITY,
        OPT_OFFSET,
        OPT_HYST,
        OPT_UP,
        OPT_DOWN,
        OPT_JSON,
        OPT_VERBOSE,
        OPT_HELP,
};

static const struct option long_options[] = {
        { "profile", required_argument, NULL, OPT_PROFILE },
        { "algorithm", required_argument, NULL, OPT_ALGORITHM },
        { "algorithms", no_argument, NULL, OPT_ALGORITHMS },
        { "ack-latency", required_argument, NULL, OPT_ACK },
        { "settle", required_argument, NULL, OPT_SETTLE },
        { "meter-interval", required_argument, NULL, OPT_METER },
        { "lut", required_argument, NULL, OPT_LUT },
        { "noise", required_argument, NULL, OPT_NOISE },
        { "seed", required_argument, NULL, OPT_SEED },
        { "unsigned", no_argument, NULL, OPT_UNSIGNED },
        { "span", required_argument, NULL, OPT_SPAN },
        { "maturity", required_argument, NULL, OPT_MATURITY },
        { "offset", required_argument, NULL, OPT_OFFSET },
        { "hysteresis", required_argument, NULL, OPT_HYST },
        { "up", required_argument, NULL, OPT_UP },
        { "down", required_argument, NULL, OPT_DOWN },
        { "json", no_argument, NULL, OPT_JSON },
        { "verbose", no_argument, NULL, OPT_VERBOSE },
        { "help", no_argument, NULL, OPT_HELP },
        {}
};

/* 0: run; 1: done (help or list printed); < 0: usage error. */
static int parse_options(int argc, char **argv, struct options *o) {
        struct netzero_config *nz = &o->run.netzero;
        int c, v, r = 0;

        while (r >= 0 && (c = getopt_long(argc, argv, "h", long_options, NULL)) >= 0) {
                switch (c) {
                case OPT_PROFILE:
                        o->profile = optarg;
                        break;
                case OPT_ALGORITHM:
                        o->algorithm = optarg;
                        break;
                case OPT_ALGORITHMS:
                        for (int i = 0; i < _NETZERO_ALGORITHM_MAX; i++)
                                printf("%s\n", netzero_algorithm_to_string((enum netzero_algorithm) i));
                        return 1;
                case OPT_ACK:
                        r = parse_double("--ack-latency", optarg, 0, 3600, &o->run.plant.ack_latency_s);
                        break;
                case OPT_SETTLE:
                        r = parse_double("--settle", optarg, 0, 3600, &o->run.plant.settle_s);
                        break;
                case OPT_METER:
                        r = parse_int("--meter-interval", optarg, 1, 3600, &v);
                        o->run.meter_interval_s = (unsigned) v;
                        break;
                case OPT_LUT:
                        o->lut = optarg;
                        break;
                case OPT_NOISE:
                        r = parse_double("--noise", optarg, 0, 0.5, &o->run.plant.noise);
                        break;
                case OPT_SEED: {
                        char *end;

                        errno = 0;
                        o->run.plant.seed = strtoull(optarg, &end, 10);
                        if (errno != 0 || end == optarg || *end || optarg[0] == '-') {
                                fprintf(stderr, "--seed: expected a non-negative integer, got \"%s\"\n",
                                        optarg);
                                r = -EINVAL;
                        }
                        break;
                }
                case OPT_UNSIGNED:
                        nz->signed_meter = false;
                        break;
                case OPT_SPAN:
                        r = parse_int("--span", optarg, 2, NETZERO_TIME_SPAN_MAX_S, &v);
                        nz->evaluated_time_span_s = (unsigned) v;
                        break;
                case OPT_MATURITY:
                        r = parse_int("--maturity", optarg, 0, 3600, &v);
                        nz->maturity_time_span_s = (unsigned) v;
                        break;
                case OPT_OFFSET:
                        r = parse_int("--offset", optarg, -10000, 10000, &nz->power_offset_w);
                        break;
                case OPT_HYST:
                        r = parse_int("--hysteresis", optarg, 0, 10000, &nz->power_hysteresis_w);
                        break;
                case OPT_UP:
                        r = parse_int("--up", optarg, 1, 100000, &nz->power_change_upwards_w);
                        o->up_given = true;
                        break;
                case OPT_DOWN:
                        r = parse_int("--down", optarg, 1, 100000, &nz->power_change_downwards_w);
                        o->down_given = true;
                        break;
                case OPT_JSON:
                        o->json = true;
                        break;
                case OPT_VERBOSE:
                        o->verbose = true;
                        break;
                case 'h':
                case OPT_HELP:
                        help();
                        return 1;
                default:
                        return -EINVAL;
                }
        }
        if (r < 0)
                return r;
        if (optind < argc) {
                fprintf(stderr, "Unexpected argument \"%s\"\n", argv[optind]);
                return -EINVAL;
        }
        if (!o->profile) {
                fprintf(stderr, "--profile is required (see --help)\n");
                return -EINVAL;
        }
        if (!o->algorithm)
                o->algorithm = netzero_algorithm_to_string(NETZERO_CONFIG_DEFAULTS.algorithm);
        v = netzero_algorithm_from_string(o->algorithm);
        if (v < 0) {
                fprintf(stderr, "Unknown algorithm \"%s\" (see --algorithms)\n", o->algorithm);
                return -EINVAL;
        }
        nz->algorithm = (enum netzero_algorithm) v;
        /* Without --up / --down: the algorithm's own step limits, as the daemon takes them. */
        netzero_config_default_steps(nz, o->up_given, o->down_given);
        return 0;
}

/* "bench/profiles/home-office.csv" → "home-office" */
static void profile_name(const char *path, char *buf, size_t size) {
        const char *base = strrchr(path, '/');
        size_t n;

        base = base ? base + 1 : path;
        n = strlen(base);
        if (n > 4 && strcmp(base + n - 4, ".csv") == 0)
                n -= 4;
        snprintf(buf, size, "%.*s", (int) n, base);
}

/* A JSON string of a name that came from the command line. */
static void print_json_string(const char *s) {
        putchar('"');
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;

                if (c == '"' || c == '\\')
                        printf("\\%c", c);
                else if (c < 0x20)
                        printf("\\u%04x", c);
                else
                        putchar(c);
        }
        putchar('"');
}

static void print_metrics_json(const struct bench_metrics *m) {
        printf("\"export_wh\":%.1f,\"avoidable_import_wh\":%.1f,\"loss_wh\":%.1f,\"commands\":%u,"
               "\"reversals\":%u,\"import_wh\":%.1f,\"output_wh\":%.1f",
               m->export_wh, m->avoidable_import_wh, bench_metrics_loss_wh(m), m->commands, m->reversals,
               m->import_wh, m->output_wh);
}

static void print_json(const struct options *o, const char *name, const struct profile *p,
                       const struct bench_run_result *res, const struct bench_metrics *oracle) {
        const struct netzero_config *nz = &o->run.netzero;

        printf("{\"profile\":");
        print_json_string(name);
        printf(",\"algorithm\":");
        print_json_string(o->algorithm);
        printf(",\"duration_s\":%u,\"ack_latency_s\":%g,\"settle_s\":%g,\"meter_interval_s\":%u,"
               "\"noise\":%g,\"seed\":%" PRIu64 ",\"signed\":%s,\"lut\":",
               profile_duration_s(p), o->run.plant.ack_latency_s, o->run.plant.settle_s,
               o->run.meter_interval_s, o->run.plant.noise, o->run.plant.seed,
               nz->signed_meter ? "true" : "false");
        print_json_string(o->lut);
        printf(",\"netzero\":{\"evaluated_time_span\":%u,\"maturity_time_span\":%u,\"power_offset\":%d,"
               "\"power_hysteresis\":%d,\"power_change_upwards\":%d,\"power_change_downwards\":%d},",
               nz->evaluated_time_span_s, nz->maturity_time_span_s, nz->power_offset_w,
               nz->power_hysteresis_w, nz->power_change_upwards_w, nz->power_change_downwards_w);
        print_metrics_json(&res->metrics);
        printf(",\"set_power_calls\":%u,\"oracle\":{", res->set_power_calls);
        print_metrics_json(oracle);
        printf("}}\n");
}

static void print_text(const struct options *o, const char *name, const struct bench_run_result *res,
                       const struct bench_metrics *oracle) {
        const struct bench_metrics *m = &res->metrics;
        double lo = bench_metrics_loss_wh(oracle);

        printf("profile %s, algorithm %s, ack latency %g s, settle %g s, meter every %u s\n", name,
               o->algorithm, o->run.plant.ack_latency_s, o->run.plant.settle_s, o->run.meter_interval_s);
        printf("%-10s %10s %12s %10s %9s %9s\n", "", "export Wh", "avoidable Wh", "loss Wh", "commands",
               "reversals");
        printf("%-10s %10.1f %12.1f %10.1f %9u %9u\n", o->algorithm, m->export_wh, m->avoidable_import_wh,
               bench_metrics_loss_wh(m), m->commands, m->reversals);
        printf("%-10s %10.1f %12.1f %10.1f %9u %9u\n", "oracle", oracle->export_wh,
               oracle->avoidable_import_wh, lo, oracle->commands, oracle->reversals);
        if (lo > 0)
                printf("loss / oracle loss = %.2f\n", bench_metrics_loss_wh(m) / lo);
}

int main(int argc, char **argv) {
        struct options o = {
                .lut = BENCH_DEFAULT_LUT,
                .run = {
                        .netzero = NETZERO_CONFIG_DEFAULTS,
                        .plant = {
                                .ack_latency_s = PLANT_ACK_LATENCY_S,
                                .settle_s = PLANT_SETTLE_S,
                                .noise = PLANT_NOISE,
                                .seed = PLANT_SEED,
                        },
                        .meter_interval_s = 1,
                },
        };
        struct bench_run_result res;
        struct bench_metrics oracle;
        struct profile *p = NULL;
        struct lut *lut = NULL;
        char name[256];
        unsigned line = 0;
        int r;

        o.run.netzero.signed_meter = true; /* --unsigned turns it off */
        r = parse_options(argc, argv, &o);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : 2;

        log_set_max_level(o.verbose ? LOG_DEBUG : LOG_WARNING);

        r = lut_load(o.lut, &lut);
        if (r < 0) {
                fprintf(stderr, "%s: cannot load the LUT: %s\n", o.lut, strerror(-r));
                return EXIT_FAILURE;
        }
        r = profile_load(o.profile, &p, &line);
        if (r < 0) {
                if (line > 0)
                        fprintf(stderr, "%s:%u: malformed line or time not increasing\n", o.profile, line);
                else
                        fprintf(stderr, "%s: cannot load the profile: %s\n", o.profile, strerror(-r));
                lut_free(lut);
                return EXIT_FAILURE;
        }

        r = bench_run_netzero(p, lut, &o.run, &res);
        if (r >= 0)
                r = bench_run_oracle(p, lut, &o.run.plant, o.run.netzero.power_offset_w, &oracle);
        if (r < 0)
                fprintf(stderr, "Run failed: %s\n", strerror(-r));
        else {
                profile_name(o.profile, name, sizeof(name));
                if (o.json)
                        print_json(&o, name, p, &res, &oracle);
                else
                        print_text(&o, name, &res, &oracle);
        }
        profile_free(p);
        lut_free(lut);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
