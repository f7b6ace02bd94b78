/* SPDX-License-Identifier: MIT */
/* Protocols of the three Bluetooth LE batteries (drivers.md: lltPowerBmsV4Ble,
 * daly8S24V60A, jkBmsBd4) without any transport: what to look for in GATT,
 * which requests to write, and a read session that reassembles notification
 * fragments into checked frames and frames into one battery_record. Pure. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "homebattery/cleanup.h"
#include "homebattery/device.h"

enum bms_kind {
        BMS_KIND_LLT,
        BMS_KIND_DALY,
        BMS_KIND_JK,
        _BMS_KIND_MAX,
        _BMS_KIND_INVALID = -EINVAL,
};

/* JK only: which cell info layout the firmware sends. */
enum bms_layout {
        BMS_LAYOUT_AUTO,
        BMS_LAYOUT_24S,
        BMS_LAYOUT_32S,
};

/* What the BLE transport must find. Unused slots are NULL. */
struct bms_gatt {
        const char *service_uuids[3]; /* tried in order (Daly: fff0 then ff00); 128-bit lowercase */
        const char *notify_uuid[3];   /* parallel to service_uuids */
        const char *write_uuid[3];
        bool write_command;           /* WriteValue type "command" (without response), else "request" */
        bool pick_by_flags;           /* JK: notify and write characteristics may share one UUID: pick the
                                       * notify one by the Flags "notify", the write one by "write" or
                                       * "write-without-response" */
};

const struct bms_gatt *bms_gatt(enum bms_kind k);
/* "lltPowerBmsV4Ble", "daly8S24V60A", "jkBmsBd4"; -EINVAL for anything else. */
enum bms_kind bms_kind_from_driver(const char *driver_name);
const char *bms_kind_to_driver(enum bms_kind k);

/* One read: requests to write, notifications in, one record out. */
struct bms_session;

/* layout: JK's configured layout (AUTO: learnt from the device info frame);
 * ignored by the other kinds. */
int bms_session_new(enum bms_kind k, enum bms_layout layout, struct bms_session **ret);
struct bms_session *bms_session_free(struct bms_session *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct bms_session *, bms_session_free);
/* Prepares a new read: buffers cleared, step 0. Keeps JK's learnt layout. */
void bms_session_reset(struct bms_session *s);
/* JK: the layout cell info frames are decoded with now (configured, else
 * learnt); AUTO while neither is known (decode-only then uses 32s). */
enum bms_layout bms_session_get_layout(const struct bms_session *s);

enum bms_action {
        BMS_ACTION_WAIT,   /* nothing to do: wait for the next notification or the timeout */
        BMS_ACTION_WRITE,  /* write `write` now, then wait up to timeout_usec */
        BMS_ACTION_RECORD, /* the read is complete: `record` (time_usec is left 0 for the caller) */
        BMS_ACTION_FAILED, /* the read failed: `reason` says at which step */
};

struct bms_event {
        enum bms_action action;
        const uint8_t *write; /* for WRITE: the request to send now (owned by the session) */
        size_t write_len;
        uint64_t timeout_usec; /* for WRITE: how long to wait for the answer before calling _timeout() */
        struct battery_record record; /* for RECORD */
        const char *reason; /* rejection or failure reason, else NULL; valid until the next call */
        bool rejected;      /* a frame was rejected on the way (reason = the first one) */
        unsigned n_rejected; /* how many frames were rejected during this call */
};

/* Resets the session and returns the first request (WRITE). */
void bms_session_start(struct bms_session *s, struct bms_event *ev);
/* One notification. Processes everything buffered; returns WRITE (next
 * request; bytes after the answer stay buffered: call again with len 0 after
 * writing to go on with them), RECORD, or WAIT. Rejections on the way are
 * counted in the event, whatever the action. */
void bms_session_feed(struct bms_session *s, const uint8_t *data, size_t len, struct bms_event *ev);
/* No answer in time: resends the current request (WRITE) until its
 * attempts are used up, then FAILED. */
void bms_session_timeout(struct bms_session *s, struct bms_event *ev);

/* Decoder-only use (the --decode tool, tests): no requests are sent, any
 * answer frame is accepted in any order (LLT: a record once both a basic info
 * and a cell voltage frame were seen). Returns after the first outcome:
 * RECORD, or WAIT with rejected set; call again with len 0 until it returns
 * WAIT without a rejection before feeding the next notification. */
void bms_session_decode_only(struct bms_session *s, const uint8_t *data, size_t len, struct bms_event *ev);
/* End of input in decoder-only use: a started frame left in the buffer is
 * rejected as "truncated" (WAIT with rejected set), then the buffer is empty. */
void bms_session_decode_end(struct bms_session *s, struct bms_event *ev);

/* ---- Between the session and the three decoders (bms-llt.c, bms-daly.c, bms-jk.c) ---- */

#define BMS_BUF_MAX 1024   /* reassembly buffer; longer input drops the oldest bytes */
#define BMS_REASON_MAX 64
#define BMS_JK_FRAME_LEN 300
#define BMS_JK_COMMAND_LEN 20
#define BMS_JK_CMD_CELL_INFO 0x96
#define BMS_JK_CMD_DEVICE_INFO 0x97

enum bms_scan {
        BMS_SCAN_MORE,   /* no complete frame in the buffer (yet) */
        BMS_SCAN_FRAME,  /* a checked frame, decoded into the bms_frame */
        BMS_SCAN_SKIP,   /* a checked frame that is not an answer of interest: ignore it */
        BMS_SCAN_REJECT, /* a broken or implausible frame: reason set */
};

struct bms_frame {
        unsigned type;                 /* LLT: command 0x03/0x04; Daly: 0x7c; JK: frame type */
        struct battery_record record;  /* LLT 0x03: all but cells; LLT 0x04: cells only; Daly; JK 0x02 */
        int version_major;             /* JK 0x03: software version major, -1 when unreadable */
};

/* A decoder looks at buf[0..len): leading bytes that cannot start a frame
 * are garbage; *ret_consumed says how many bytes (garbage and whatever frame
 * was handled) the caller drops from the front. Every result but MORE
 * consumes at least one byte. layout (JK) is 24S or 32S. */
typedef enum bms_scan (*bms_scan_fn)(const uint8_t *buf, size_t len, enum bms_layout layout, size_t *ret_consumed,
                                     struct bms_frame *ret, char reason[static BMS_REASON_MAX]);

enum bms_scan bms_llt_scan(const uint8_t *buf, size_t len, enum bms_layout layout, size_t *ret_consumed,
                           struct bms_frame *ret, char reason[static BMS_REASON_MAX]);
enum bms_scan bms_daly_scan(const uint8_t *buf, size_t len, enum bms_layout layout, size_t *ret_consumed,
                            struct bms_frame *ret, char reason[static BMS_REASON_MAX]);
enum bms_scan bms_jk_scan(const uint8_t *buf, size_t len, enum bms_layout layout, size_t *ret_consumed,
                          struct bms_frame *ret, char reason[static BMS_REASON_MAX]);

/* Offset of the first possible frame start in buf (len when none): used for
 * "truncated" at the end of input. */
size_t bms_llt_find_start(const uint8_t *buf, size_t len);
size_t bms_daly_find_start(const uint8_t *buf, size_t len);
size_t bms_jk_find_start(const uint8_t *buf, size_t len);

extern const uint8_t bms_llt_request_basic[7];
extern const uint8_t bms_llt_request_cells[7];
extern const uint8_t bms_daly_request[8];
/* aa 55 90 eb, cmd, len, value (4 bytes LE), 9 zero bytes, sum of bytes 0..18. */
void bms_jk_command(uint8_t cmd, uint8_t len, uint32_t value, uint8_t out[static BMS_JK_COMMAND_LEN]);
uint16_t bms_crc16_modbus(const uint8_t *p, size_t len);

/* SoC > 100 %, voltage 0, no cells or more than 32: fills reason, returns false. */
bool bms_record_plausible(const struct battery_record *r, char reason[static BMS_REASON_MAX]);

/* Finds `pat` in buf (memmem); returns len when absent, or when only a
 * prefix of it ends the buffer, the offset of that prefix. */
size_t bms_find_marker(const uint8_t *buf, size_t len, const uint8_t *pat, size_t pat_len);
