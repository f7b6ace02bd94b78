/* SPDX-License-Identifier: MIT */
/* AhoyDTU and OpenDTU JSON answers → values, and the request bodies the two
 * drivers send. Pure (json-c only), tested from JSON texts; ahoy-dtu.c and
 * open-dtu.c do the talking. Passwords and tokens pass through here but are
 * never put into error texts. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "dtu-sync.h"

/* Room for a refusal text from the DTU ("ERR_PROTECTED", OpenDTU's message). */
#define DTU_ERROR_MAX 80

/* ---- AhoyDTU ---- */

/* GET /api/inverter/id/<N>: "status" (2 → on, 1 and 3 → off, anything else →
 * fault), "power_limit_read" (> 100 or absent: unknown), "power_limit_ack"
 * (absent: acknowledged). -EBADMSG when it is not such an object. */
int dtu_ahoy_decode_state(const char *body, size_t size, struct dtu_reading *ret);
/* Answer of POST /api/ctrl: 0 accepted ("success" true or "true"); -EACCES
 * for ERR_PROTECTED (log in again); -EPERM for any other refusal; the DTU's
 * error text in err (printable ASCII, may be empty). -EBADMSG otherwise. */
int dtu_ahoy_decode_answer(const char *body, size_t size, char err[static DTU_ERROR_MAX]);
/* Answer of the login {"auth":...}: 0 and a new token in *ret_token, or as
 * dtu_ahoy_decode_answer() (a success without token is -EBADMSG). */
int dtu_ahoy_decode_login(const char *body, size_t size, char **ret_token, char err[static DTU_ERROR_MAX]);
int dtu_ahoy_encode_login(const char *password, char **ret);
/* The /api/ctrl body of an off, on, restart or limit; token may be NULL.
 * -EINVAL for any other action. */
int dtu_ahoy_encode_command(int id, enum dtu_action a, int percent, const char *token, char **ret);

/* ---- OpenDTU ---- */

/* GET /api/livedata/status?inv=<serial>: the entry of `inverters` with that
 * serial (or the first one when entries carry no serial): reachable &&
 * producing → on, reachable → off, else fault; "limit_relative" as
 * ahoy's power_limit_read. limit_ack is set to true here. -ENOENT when the
 * serial is not listed, -EBADMSG when the answer is not such an object. */
int dtu_opendtu_decode_livedata(const char *body, size_t size, const char *serial, struct dtu_reading *ret);
/* GET /api/limit/status: updates r->limit_ack ("limit_set_status" Pending =
 * travelling) and fills in the percent when r has none. -ENOENT, -EBADMSG. */
int dtu_opendtu_decode_limit_status(const char *body, size_t size, const char *serial,
                                    struct dtu_reading *r);
/* Answer of a POST: 0 for "type":"success", -EPERM with the message
 * otherwise, -EBADMSG. */
int dtu_opendtu_decode_answer(const char *body, size_t size, char err[static DTU_ERROR_MAX]);
/* "/api/limit/config" for a limit, "/api/power/config" for off/on/restart, NULL otherwise. */
const char *dtu_opendtu_command_path(enum dtu_action a);
/* The form body "data=<url-encoded JSON>" of an off, on, restart or limit. */
int dtu_opendtu_encode_command(const char *serial, enum dtu_action a, int percent, char **ret);
/* application/x-www-form-urlencoded escaping of s. */
int dtu_form_encode(const char *s, char **ret);
