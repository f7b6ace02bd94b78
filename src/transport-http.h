/* SPDX-License-Identifier: MIT */
/* The daemon's one HTTP client: a libcurl multi handle driven by sd-event
 * (CURLMOPT_SOCKETFUNCTION / TIMERFUNCTION), shared by every HTTP device. */
#pragma once

#include <systemd/sd-event.h>

#include "homebattery/transport.h"

struct http_client;

int http_client_new(sd_event *e, struct http_client **ret);
struct http_client *http_client_free(struct http_client *c);
int http_client_request(struct http_client *c, const char *url, const struct http_options *o,
                        transport_http_done done, void *userdata, struct http_request **ret);
/* Cancels a request in flight; `done` is not called. NULL is fine. */
void http_request_cancel(struct http_request *r);
unsigned http_client_in_flight(const struct http_client *c);
