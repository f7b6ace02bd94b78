/* SPDX-License-Identifier: MIT */
/* The Manager: one sd-event loop owning signals, the 1 s control tick, the
 * quarter-hour energy timer, the MQTT client and the devices. It turns loop
 * events into calls of the pure control core and tells systemd how we are
 * (READY=1, STATUS=, WATCHDOG=1 only without a fatal lock, STOPPING=1). */

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "control.h"
#include "device.h"
#include "homebattery/energy.h"
#include "homebattery/log.h"
#include "http.h"
#include "log-setup.h"
#include "manager.h"
#include "mqtt.h"
#include "outputs-mqtt.h"
#include "transport-ble.h"
#include "transport-http.h"
#include "homebattery/time-util.h"

#define SENDER "main"
#define TICK_USEC USEC_PER_SEC
#define SAFE_STATE_TIMEOUT_USEC (10ULL * USEC_PER_SEC)
#define SAFE_STATE_POLL_USEC (50ULL * 1000ULL)
#define HTTP_RETRY_USEC (30ULL * USEC_PER_SEC)

struct manager {
        sd_event *event;
        struct config *config;
        struct control *control;
        struct mqtt *mqtt;
        struct outputs_mqtt *outputs_mqtt;
        struct http_client *http;
        struct ble_manager *ble;
        struct http_server *http_server;
        struct http_server_env http_env; /* what the status page shows and acts on */
        struct device_services services; /* what the devices' host interface uses */
        struct device **devices;
        size_t n_devices;
        /* Warnings about what arrives on <root>/mode/set and <root>/reset. */
        struct ratelimit mode_rl, reset_rl;

        sd_event_source *sig_term, *sig_int, *sig_hup;
        sd_event_source *tick;
        sd_event_source *energy_timer;
        sd_event_source *shutdown_timer;
        sd_event_source *http_retry; /* while the status page cannot listen */

        uint64_t start_usec;
        uint64_t shutdown_deadline_usec;
        struct loop_stats loop;
        uint64_t minute_max_usec, minute_start_usec;
        bool shutting_down;
        int exit_status;
        char status_line[160];
};

static uint64_t manager_now_usec(struct manager *m) {
        uint64_t t = 0;
        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &t);
        return t;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct manager *m = userdata;

        if (si->ssi_signo == SIGHUP) {
                log_warning(SENDER, "Reload is not supported: restart the service to apply a new configuration");
                return 0;
        }
        log_info(SENDER, "Received %s, switching everything off", strsignal((int) si->ssi_signo));
        manager_shutdown(m, EXIT_SUCCESS);
        return 0;
}

int manager_new(struct manager **ret) {
        struct manager *m;
        sigset_t mask;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        r = sd_event_default(&m->event);
        if (r < 0)
                goto fail;

        /* Signals are delivered through signalfd in the loop, never as handlers. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
                r = -errno;
                goto fail;
        }
        /* A broker closing the socket must not kill us with SIGPIPE. */
        signal(SIGPIPE, SIG_IGN);
        if ((r = sd_event_add_signal(m->event, &m->sig_term, SIGTERM, on_signal, m)) < 0 ||
            (r = sd_event_add_signal(m->event, &m->sig_int, SIGINT, on_signal, m)) < 0 ||
            (r = sd_event_add_signal(m->event, &m->sig_hup, SIGHUP, on_signal, m)) < 0)
                goto fail;

        m->start_usec = manager_now_usec(m);
        m->mode_rl = INPUT_WARN_RATELIMIT;
        m->reset_rl = INPUT_WARN_RATELIMIT;
        *ret = m;
        return 0;
fail:
        manager_free(m);
        return r;
}

struct manager *manager_free(struct manager *m) {
        if (!m)
                return NULL;
        /* The status server reads control and devices: it goes first. */
        m->http_server = http_server_free(m->http_server);
        /* Devices first: their sources live on the loop and may talk to MQTT. */
        for (size_t i = 0; i < m->n_devices; i++)
                device_free(m->devices[i]);
        free(m->devices);
        m->control = control_free(m->control);
        m->http = http_client_free(m->http);
        m->ble = ble_manager_free(m->ble);
        m->mqtt = mqtt_free(m->mqtt);
        m->outputs_mqtt = outputs_mqtt_free(m->outputs_mqtt);
        sd_event_source_disable_unref(m->sig_term);
        sd_event_source_disable_unref(m->sig_int);
        sd_event_source_disable_unref(m->sig_hup);
        sd_event_source_disable_unref(m->tick);
        sd_event_source_disable_unref(m->energy_timer);
        sd_event_source_disable_unref(m->shutdown_timer);
        sd_event_source_disable_unref(m->http_retry);
        sd_event_unref(m->event);
        config_free(m->config);
        free(m);
        return NULL;
}

int manager_load_config(struct manager *m, struct config *c) {
        int r;

        m->config = c;
        log_set_max_level(c->logging.level);
        r = log_set_ignore(c->logging.ignore, c->logging.n_ignore);
        if (r < 0)
                return log_error_errno(r, SENDER, "Failed to set up logging: %m");
        if (c->logging.host) {
                r = log_open_udp(c->logging.host, c->logging.port);
                if (r < 0)
                        log_warning_errno(r, SENDER, "UDP logging to %s:%u disabled: %m", c->logging.host,
                                          c->logging.port);
        }
        return 0;
}

static void update_status(struct manager *m) {
        char line[sizeof(m->status_line)];
        const char *lock = control_get_top_lock(m->control);

        snprintf(line, sizeof(line), "STATUS=mode %s (requested %s), %s%s, MQTT %s",
                 mode_to_string(control_get_displayed(m->control)),
                 mode_to_string(control_get_requested(m->control)), lock && *lock ? "locked: " : "no lock",
                 lock ? lock : "", mqtt_is_connected(m->mqtt) ? "connected" : "disconnected");
        if (strcmp(line, m->status_line) != 0) {
                memcpy(m->status_line, line, sizeof(line));
                (void) sd_notify(false, line);
        }
}

static void measure_latency(struct manager *m, uint64_t scheduled_usec) {
        struct timespec ts;
        uint64_t now, late;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        now = (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
        late = now > scheduled_usec ? now - scheduled_usec : 0;
        m->loop.last_usec = late;
        m->loop.ticks++;
        if (late > m->loop.max_usec)
                m->loop.max_usec = late;
        if (late > m->minute_max_usec)
                m->minute_max_usec = late;
        if (now >= m->minute_start_usec + 60 * USEC_PER_SEC) {
                m->loop.max_minute_usec = m->minute_max_usec;
                m->minute_max_usec = 0;
                m->minute_start_usec = now;
        }
        if (late > 50000)
                log_warning(SENDER, "Event loop was blocked: the 1 s tick ran %llu ms late",
                            (unsigned long long) (late / 1000));
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;

        measure_latency(m, usec);
        (void) sd_event_source_set_time(s, usec + TICK_USEC);
        if (m->shutting_down)
                return 0;
        /* The watchdog is fed here only, and only while no fatal lock is
         * active: a fatal lock makes systemd restart us after WatchdogSec. */
        if (control_tick(m->control, manager_now_usec(m), mqtt_is_connected(m->mqtt)))
                (void) sd_notify(false, "WATCHDOG=1");
        update_status(m);
        return 0;
}

static int schedule_energy(struct manager *m);

static int on_energy(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;

        if (!m->shutting_down) {
                time_t t = (time_t) (usec / USEC_PER_SEC);
                struct tm tm = {};
                (void) localtime_r(&t, &tm);
                control_energy_report(m->control, manager_now_usec(m), tm.tm_yday);
        }
        (void) schedule_energy(m);
        return 0;
}

static int schedule_energy(struct manager *m) {
        uint64_t now_rt = 0, next;
        int r;

        r = sd_event_now(m->event, CLOCK_REALTIME, &now_rt);
        if (r < 0)
                return r;
        next = energy_next_report_usec(now_rt);
        if (!m->energy_timer) {
                r = sd_event_add_time(m->event, &m->energy_timer, CLOCK_REALTIME, next, USEC_PER_SEC / 10,
                                      on_energy, m);
                if (r < 0)
                        return r;
        } else
                (void) sd_event_source_set_time(m->energy_timer, next);
        return sd_event_source_set_enabled(m->energy_timer, SD_EVENT_ONESHOT);
}

static void manager_request_mode(struct manager *m, const void *payload, size_t len) {
        if (m->shutting_down)
                return;
        control_mode_request(m->control, payload, len, manager_now_usec(m));
        update_status(m);
}

static void on_mode_set(void *userdata, const char *topic, const void *payload, size_t len) {
        struct manager *m = userdata;

        /* A retained mode/set is accepted: it is how users keep a mode across restarts. */
        if (mode_from_bytes(payload, len) < 0)
                log_input_warning(&m->mode_rl, manager_now_usec(m), SENDER, topic,
                                  "Unknown mode \"%.*s\" on %s: protect instead (expected charge, discharge, "
                                  "idle or protect)",
                                  (int) (len > 32 ? 32 : len), (const char *) payload, topic);
        manager_request_mode(m, payload, len);
}

static void on_reset(void *userdata, const char *topic, const void *payload, size_t len) {
        struct manager *m = userdata;

        /* A retained reset would be delivered again at every start: a restart loop. */
        if (mqtt_current_is_retained(m->mqtt)) {
                log_input_warning(&m->reset_rl, manager_now_usec(m), SENDER, topic,
                                  "Ignoring a retained message on %s: a reset acts only on a message sent now. "
                                  "Clear it with: mosquitto_pub -r -n -t %s",
                                  topic, topic);
                return;
        }
        if (len != 5 || memcmp(payload, "reset", 5) != 0) {
                log_input_warning(&m->reset_rl, manager_now_usec(m), SENDER, topic,
                                  "Ignoring a message on %s: expected \"reset\"", topic);
                return;
        }
        log_notice(SENDER, "Reset requested over MQTT: switching everything off, then exiting for a restart");
        /* Non-zero so that systemd's Restart= brings us back. */
        manager_shutdown(m, 3);
}

static void on_mqtt_connected(void *userdata) {
        struct manager *m = userdata;

        outputs_mqtt_connected(m->outputs_mqtt);
        control_republish(m->control);
        update_status(m);
}

/* Home Assistant announces its own restarts: send discovery and states again. */
static void on_ha_status(void *userdata, const char *topic, const void *payload, size_t len) {
        if (len == 6 && memcmp(payload, "online", 6) == 0)
                on_mqtt_connected(userdata);
}

static int setup_mqtt(struct manager *m) {
        const struct config_mqtt *c = &m->config->mqtt;
        _cleanup_free_ char *status = NULL, *mode_set = NULL, *reset = NULL;
        int r;

        if (asprintf(&status, "%s/status", c->root) < 0 || asprintf(&mode_set, "%s/mode/set", c->root) < 0 ||
            asprintf(&reset, "%s/reset", c->root) < 0)
                return -ENOMEM;
        struct mqtt_settings s = {
                .host = c->host,
                .port = c->port,
                .ca_file = c->ca,
                .tls_insecure = c->tls_insecure,
                .user = c->user,
                .password = c->password,
                .client_id = c->client_id,
                .status_topic = status,
                .keepalive_s = 30,
        };
        struct mqtt_callbacks cb = { .connected = on_mqtt_connected };
        r = mqtt_new(m->event, &s, &cb, m, &m->mqtt);
        if (r < 0)
                return log_error_errno(r, "mqtt", "Failed to set up the MQTT client: %m");
        r = outputs_mqtt_new(m->mqtt, m->config, &m->outputs_mqtt);
        if (r < 0)
                return r;
        if ((r = mqtt_subscribe(m->mqtt, mode_set, 2, on_mode_set, m)) < 0 ||
            (r = mqtt_subscribe(m->mqtt, reset, 1, on_reset, m)) < 0)
                return log_error_errno(r, "mqtt", "Failed to subscribe: %m");
        if (c->ha_enabled) {
                _cleanup_free_ char *ha = NULL;
                if (asprintf(&ha, "%s/status", c->ha_prefix) < 0)
                        return -ENOMEM;
                r = mqtt_subscribe(m->mqtt, ha, 1, on_ha_status, m);
                if (r < 0)
                        return log_error_errno(r, "mqtt", "Failed to subscribe: %m");
        }
        return 0;
}

static int setup_devices(struct manager *m) {
        const struct config *c = m->config;

        m->devices = calloc(c->n_devices ? c->n_devices : 1, sizeof(struct device *));
        if (!m->devices)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_devices; i++) {
                const struct config_device *cd = &c->devices[i];
                struct device *d;
                int r;

                r = device_new(&m->services, cd->name, cd->driver, cd->driver_config, &d);
                if (r < 0)
                        return log_error_errno(r, cd->name, "Failed to create device (driver %s): %m",
                                               cd->driver->name);
                m->devices[m->n_devices++] = d;
        }
        return 0;
}

static void on_http_mode(void *userdata, const char *mode) {
        manager_request_mode(userdata, mode, strlen(mode));
}

static int on_http_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;

        if (m->shutting_down)
                return 0;
        if (http_server_new(&m->http_env, LOG_DEBUG, &m->http_server) >= 0) {
                m->http_retry = sd_event_source_disable_unref(m->http_retry);
                return 0;
        }
        (void) sd_event_source_set_time(s, usec + HTTP_RETRY_USEC);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

int manager_start(struct manager *m) {
        int r;

        r = setup_mqtt(m);
        if (r < 0)
                return r;
        r = http_client_new(m->event, &m->http);
        if (r < 0)
                return log_error_errno(r, SENDER, "Failed to set up the HTTP client: %m");
        /* The system bus is opened on the first BLE read only. */
        r = ble_manager_new(m->event, m->config->bluetooth_adapter, &m->ble);
        if (r < 0)
                return log_error_errno(r, SENDER, "Failed to set up Bluetooth: %m");
        r = control_new(m->config, m->start_usec, outputs_mqtt_get(m->outputs_mqtt), &m->control);
        if (r < 0)
                return log_error_errno(r, SENDER, "Failed to set up the control core: %m");
        m->services = (struct device_services) {
                .event = m->event,
                .control = m->control,
                .mqtt = m->mqtt,
                .http = m->http,
                .ble = m->ble,
        };
        r = setup_devices(m);
        if (r < 0)
                return r;
        m->http_env = (struct http_server_env) {
                .event = m->event,
                .config = m->config,
                .control = m->control,
                .mqtt = m->mqtt,
                .loop = &m->loop,
                .start_usec = m->start_usec,
                .request_mode = on_http_mode,
                .userdata = m,
        };
        if (m->config->http.enabled && http_server_new(&m->http_env, LOG_ERR, &m->http_server) < 0) {
                /* Not a reason to stop controlling the battery, nor to exit: a restart
                 * would meet the same address (not up yet at boot, or not this host's). */
                log_error(SENDER, "The status page stays off; trying again every %llu s",
                          HTTP_RETRY_USEC / USEC_PER_SEC);
                r = sd_event_add_time_relative(m->event, &m->http_retry, CLOCK_MONOTONIC, HTTP_RETRY_USEC,
                                               USEC_PER_SEC, on_http_retry, m);
                if (r < 0)
                        return log_error_errno(r, SENDER, "Failed to add the HTTP retry timer: %m");
        }

        /* 1 ms accuracy: the tick also measures how late the loop runs. */
        r = sd_event_add_time_relative(m->event, &m->tick, CLOCK_MONOTONIC, 0, 1000, on_tick, m);
        if (r < 0)
                return log_error_errno(r, SENDER, "Failed to add the control timer: %m");
        (void) sd_event_source_set_enabled(m->tick, SD_EVENT_ON);
        r = schedule_energy(m);
        if (r < 0)
                return log_error_errno(r, SENDER, "Failed to add the energy timer: %m");

        r = mqtt_start(m->mqtt);
        if (r < 0)
                return log_error_errno(r, "mqtt", "Failed to start MQTT: %m");
        for (size_t i = 0; i < m->n_devices; i++) {
                r = device_start(m->devices[i]);
                if (r < 0)
                        return log_error_errno(r, device_get_name(m->devices[i]), "Failed to start: %m");
        }
        log_info(SENDER, "Started with %zu device(s), MQTT %s:%u, root topic \"%s\"", m->n_devices,
                 m->config->mqtt.host, m->config->mqtt.port, m->config->mqtt.root);
        return 0;
}

static bool devices_busy(struct manager *m) {
        for (size_t i = 0; i < m->n_devices; i++) {
                const struct driver *drv = device_get_driver(m->devices[i]);
                if (drv->busy && drv->busy(device_get_state(m->devices[i])))
                        return true;
        }
        return false;
}

static int on_shutdown_poll(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;
        bool busy = devices_busy(m) || mqtt_has_pending(m->mqtt);

        if (busy && usec < m->shutdown_deadline_usec) {
                (void) sd_event_source_set_time(s, usec + SAFE_STATE_POLL_USEC);
                return 0;
        }
        if (busy)
                log_warning(SENDER, "Safe state: gave up waiting for devices after 10 s");
        mqtt_disconnect(m->mqtt);
        log_info(SENDER, "Exiting with status %d", m->exit_status);
        return sd_event_exit(m->event, m->exit_status);
}

void manager_shutdown(struct manager *m, int exit_status) {
        uint64_t now = manager_now_usec(m);

        if (m->shutting_down) {
                /* A second request only raises the exit status (reset wins). */
                if (exit_status != 0)
                        m->exit_status = exit_status;
                return;
        }
        m->shutting_down = true;
        m->exit_status = exit_status;
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Switching everything off");
        if (m->control)
                control_protect_all(m->control, now);
        /* Say goodbye first, so the wait below also flushes it to the broker. */
        if (mqtt_is_connected(m->mqtt))
                (void) mqtt_publish_string(m->mqtt, outputs_mqtt_status_topic(m->outputs_mqtt), "offline", 1,
                                           true);
        m->shutdown_deadline_usec = now + SAFE_STATE_TIMEOUT_USEC;
        if (sd_event_add_time(m->event, &m->shutdown_timer, CLOCK_MONOTONIC, now, 0, on_shutdown_poll, m) < 0)
                (void) sd_event_exit(m->event, exit_status);
        else
                (void) sd_event_source_set_enabled(m->shutdown_timer, SD_EVENT_ON);
}

int manager_run(struct manager *m) {
        int r;

        (void) sd_notify(false, "READY=1");
        update_status(m);
        r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, SENDER, "Event loop failed: %m"), EXIT_FAILURE;
        return r;
}
