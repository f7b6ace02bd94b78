/* SPDX-License-Identifier: MIT */
/* VE.Direct decoding (see vedirect.h): a byte-at-a-time state machine for the
 * text protocol's blocks, with HEX frames split off wherever they interleave,
 * and the HEX frame codec. Pure: no I/O, no clock of its own. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hex-digit.h"
#include "vedirect.h"

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

static void text_reset(struct vedirect_parser *p) {
        p->state = VEDIRECT_IDLE;
        p->sum = 0;
        p->too_many_fields = false;
        p->label_len = 0;
        p->value_len = 0;
        p->block.n_fields = 0;
}

static void hex_reset(struct vedirect_parser *p) {
        p->in_hex = false;
        p->hex_len = 0;
}

void vedirect_parser_init(struct vedirect_parser *p) {
        *p = (struct vedirect_parser) {};
        text_reset(p);
}

void vedirect_parser_reset(struct vedirect_parser *p) {
        text_reset(p);
        hex_reset(p);
}

static void report(const struct vedirect_handlers *h, void *userdata, int error, const char *reason) {
        if (h && h->error)
                h->error(userdata, error, reason);
}

/* Drops the block being received (reported once) and starts over. */
static void drop_block(struct vedirect_parser *p, const struct vedirect_handlers *h, void *userdata, int error,
                       const char *reason) {
        text_reset(p);
        report(h, userdata, error, reason);
}

static void store_field(struct vedirect_parser *p) {
        /* Keep receiving past the limit so that the checksum still frames the
         * block; the block is refused at its end. */
        if (p->block.n_fields >= VEDIRECT_FIELDS_MAX) {
                p->too_many_fields = true;
                return;
        }
        p->cur.label[p->label_len] = '\0';
        p->cur.value[p->value_len] = '\0';
        p->block.fields[p->block.n_fields++] = p->cur;
}

static void feed_text(struct vedirect_parser *p, uint8_t c, const struct vedirect_handlers *h, void *userdata) {
        switch (p->state) {
        case VEDIRECT_IDLE:
                /* Anything before a block's first '\r' is noise (or the tail of
                 * a block we joined in the middle). */
                if (c == '\r') {
                        p->sum = c;
                        p->state = VEDIRECT_NEWLINE;
                }
                return;

        case VEDIRECT_NEWLINE:
                if (c != '\n') {
                        drop_block(p, h, userdata, -EBADMSG, "malformed field (no \\n after \\r)");
                        feed_text(p, c, h, userdata);
                        return;
                }
                p->sum += c;
                p->label_len = 0;
                p->state = VEDIRECT_LABEL;
                return;

        case VEDIRECT_LABEL:
                if (c == '\t') {
                        if (p->label_len == 0) {
                                drop_block(p, h, userdata, -EBADMSG, "malformed field (empty label)");
                                return;
                        }
                        p->sum += c;
                        p->cur.label[p->label_len] = '\0';
                        if (strcmp(p->cur.label, "Checksum") == 0)
                                p->state = VEDIRECT_CHECKSUM;
                        else {
                                p->value_len = 0;
                                p->state = VEDIRECT_VALUE;
                        }
                        return;
                }
                if (c < 0x21 || c > 0x7e) {
                        drop_block(p, h, userdata, -EBADMSG, "malformed field (bad label character)");
                        feed_text(p, c, h, userdata);
                        return;
                }
                if (p->label_len + 1 >= sizeof(p->cur.label)) {
                        drop_block(p, h, userdata, -EMSGSIZE, "label too long");
                        return;
                }
                p->cur.label[p->label_len++] = (char) c;
                p->sum += c;
                return;

        case VEDIRECT_VALUE:
                if (c == '\r') {
                        store_field(p);
                        p->sum += c;
                        p->state = VEDIRECT_NEWLINE;
                        return;
                }
                if (c < 0x20 || c > 0x7e) {
                        drop_block(p, h, userdata, -EBADMSG, "malformed field (bad value character)");
                        feed_text(p, c, h, userdata);
                        return;
                }
                if (p->value_len + 1 >= sizeof(p->cur.value)) {
                        drop_block(p, h, userdata, -EMSGSIZE, "value too long");
                        return;
                }
                p->cur.value[p->value_len++] = (char) c;
                p->sum += c;
                return;

        case VEDIRECT_CHECKSUM:
                p->sum += c;
                if (p->sum != 0)
                        drop_block(p, h, userdata, -EBADMSG, "wrong checksum");
                else if (p->too_many_fields)
                        drop_block(p, h, userdata, -E2BIG, "too many fields");
                else {
                        if (h && h->block)
                                h->block(userdata, &p->block);
                        text_reset(p);
                }
                return;
        }
}

static void feed_byte(struct vedirect_parser *p, uint8_t c, const struct vedirect_handlers *h, void *userdata) {
        if (p->in_hex) {
                if (c == '\n') {
                        p->hex[p->hex_len] = '\0';
                        p->in_hex = false;
                        if (h && h->hex)
                                h->hex(userdata, p->hex, p->hex_len);
                        p->hex_len = 0;
                        return;
                }
                if (hex_digit_value((char) c) >= 0 && p->hex_len + 1 < sizeof(p->hex)) {
                        p->hex[p->hex_len++] = (char) c;
                        return;
                }
                /* A broken frame: whatever it interrupted has lost bytes too,
                 * so start over from this byte. */
                bool overflow = hex_digit_value((char) c) >= 0;
                hex_reset(p);
                text_reset(p);
                report(h, userdata, overflow ? -EMSGSIZE : -EBADMSG,
                       overflow ? "HEX frame too long" : "malformed HEX frame");
                if (overflow)
                        return;
        }
        /* The checksum byte may be anything, ':' included; everywhere else a
         * ':' starts a HEX frame. */
        if (c == ':' && p->state != VEDIRECT_CHECKSUM) {
                p->in_hex = true;
                p->hex[0] = ':';
                p->hex_len = 1;
                return;
        }
        feed_text(p, c, h, userdata);
}

void vedirect_feed(struct vedirect_parser *p, const uint8_t *data, size_t len, uint64_t now_usec,
                   const struct vedirect_handlers *h, void *userdata) {
        if (p->have_time && now_usec > p->last_usec && now_usec - p->last_usec >= VEDIRECT_SILENCE_USEC)
                vedirect_parser_reset(p);
        p->have_time = true;
        p->last_usec = now_usec;
        for (size_t i = 0; i < len; i++)
                feed_byte(p, data[i], h, userdata);
}

const char *vedirect_block_get(const struct vedirect_block *b, const char *label) {
        for (size_t i = 0; i < b->n_fields; i++)
                if (strcmp(b->fields[i].label, label) == 0)
                        return b->fields[i].value;
        return NULL;
}

int vedirect_block_get_int(const struct vedirect_block *b, const char *label, int64_t *ret) {
        const char *s = vedirect_block_get(b, label), *d;
        char *end;
        int base = 10;

        if (!s)
                return -ENOENT;
        /* strtoll alone would also take spaces, '+' and partial numbers. */
        d = s[0] == '-' ? s + 1 : s;
        if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X')) {
                if (d != s)
                        return -EBADMSG;
                d += 2;
                base = 16;
        }
        if (!d[0] || hex_digit_value(d[0]) < 0 || (base == 10 && (d[0] < '0' || d[0] > '9')))
                return -EBADMSG;
        errno = 0;
        long long v = base == 16 ? (long long) strtoull(d, &end, 16) : strtoll(s, &end, 10);
        if (errno != 0 || *end != '\0')
                return -EBADMSG;
        *ret = v;
        return 0;
}

static bool get_int(const struct vedirect_block *b, const char *label, int64_t min, int64_t max, int *ret) {
        int64_t v;

        if (vedirect_block_get_int(b, label, &v) < 0 || v < min || v > max)
                return false;
        *ret = (int) v;
        return true;
}

void vedirect_decode_mppt(const struct vedirect_block *b, struct vedirect_mppt *ret) {
        struct vedirect_mppt m = {};
        int64_t v;
        int h20;

        /* Ranges far beyond any real charger, only to keep the ints sane. */
        m.has_ppv = get_int(b, "PPV", 0, 1000000, &m.ppv_w);
        m.has_cs = get_int(b, "CS", 0, 255, &m.cs);
        m.has_v = get_int(b, "V", -1000000, 1000000, &m.v_mv);
        m.has_i = get_int(b, "I", -10000000, 10000000, &m.i_ma);
        m.has_vpv = get_int(b, "VPV", 0, 10000000, &m.vpv_mv);
        m.has_err = get_int(b, "ERR", 0, 65535, &m.err);
        if (get_int(b, "H20", 0, 100000000, &h20)) {
                m.has_h20 = true;
                m.h20_wh = h20 * 10.0;
        }
        if (vedirect_block_get_int(b, "OR", &v) >= 0 && v >= 0 && v <= UINT32_MAX) {
                m.has_or = true;
                m.off_reason = (uint32_t) v;
        }
        *ret = m;
}

void vedirect_mppt_merge(struct vedirect_mppt *into, const struct vedirect_mppt *m) {
#define TAKE(flag, field)                    \
        if (m->flag) {                       \
                into->flag = true;           \
                into->field = m->field;      \
        }
        TAKE(has_ppv, ppv_w);
        TAKE(has_cs, cs);
        TAKE(has_h20, h20_wh);
        TAKE(has_v, v_mv);
        TAKE(has_i, i_ma);
        TAKE(has_vpv, vpv_mv);
        TAKE(has_err, err);
        TAKE(has_or, off_reason);
#undef TAKE
}

enum vedirect_cs_kind vedirect_cs_kind(int cs) {
        switch (cs) {
        case 3:
        case 4:
        case 5:
        case 7:
        case 247:
                return VEDIRECT_CS_ON;
        case 2:
                return VEDIRECT_CS_FAULT;
        default:
                return VEDIRECT_CS_OFF;
        }
}

struct code_name {
        int code;
        const char *name;
};

static const struct code_name cs_names[] = {
        { 0, "off" },        { 1, "low power" },        { 2, "fault" },
        { 3, "bulk" },       { 4, "absorption" },       { 5, "float" },
        { 6, "storage" },    { 7, "equalize" },         { 9, "inverting" },
        { 11, "power supply" }, { 245, "starting up" }, { 246, "repeated absorption" },
        { 247, "auto equalize" }, { 248, "battery safe" }, { 252, "external control" },
};

static const struct code_name err_names[] = {
        { 0, "no error" },
        { 2, "battery voltage too high" },
        { 17, "charger temperature too high" },
        { 18, "charger over current" },
        { 19, "charger current reversed" },
        { 20, "bulk time limit exceeded" },
        { 21, "current sensor issue" },
        { 26, "terminals overheated" },
        { 28, "converter issue" },
        { 33, "input voltage too high (solar panel)" },
        { 34, "input current too high (solar panel)" },
        { 38, "input shutdown (excessive battery voltage)" },
        { 39, "input shutdown (current flow during off mode)" },
        { 65, "lost communication with a device" },
        { 66, "synchronised charging configuration issue" },
        { 67, "BMS connection lost" },
        { 68, "network misconfigured" },
        { 116, "factory calibration data lost" },
        { 117, "invalid or incompatible firmware" },
        { 119, "user settings invalid" },
};

static const char *code_lookup(const struct code_name *t, size_t n, int code) {
        for (size_t i = 0; i < n; i++)
                if (t[i].code == code)
                        return t[i].name;
        return NULL;
}

const char *vedirect_cs_to_string(int cs) {
        return code_lookup(cs_names, ELEMENTSOF(cs_names), cs);
}

const char *vedirect_err_to_string(int err) {
        return code_lookup(err_names, ELEMENTSOF(err_names), err);
}

int vedirect_hex_build(unsigned command, const uint8_t *bytes, size_t n, char *buf, size_t size) {
        size_t need, k = 0;
        uint8_t sum;

        if (command > 0xF || (n > 0 && !bytes) || !buf)
                return -EINVAL;
        need = 2 + 2 * n + 2 + 1 + 1; /* ':' nibble, bytes, checksum, '\n', NUL */
        if (n > VEDIRECT_HEX_BYTES_MAX || size < need)
                return -ENOBUFS;
        sum = (uint8_t) command;
        buf[k++] = ':';
        buf[k++] = hex_digit_char(command);
        for (size_t i = 0; i < n; i++) {
                sum += bytes[i];
                buf[k++] = hex_digit_char(bytes[i] >> 4);
                buf[k++] = hex_digit_char(bytes[i]);
        }
        uint8_t check = (uint8_t) (0x55 - sum);
        buf[k++] = hex_digit_char(check >> 4);
        buf[k++] = hex_digit_char(check);
        buf[k++] = '\n';
        buf[k] = '\0';
        return (int) k;
}

int vedirect_hex_build_set(uint16_t reg, uint8_t flags, const uint8_t *value, size_t n_value, char *buf,
                           size_t size) {
        uint8_t b[VEDIRECT_HEX_BYTES_MAX];

        if (n_value > sizeof(b) - 3 || (n_value > 0 && !value))
                return -EINVAL;
        b[0] = (uint8_t) (reg & 0xFF);
        b[1] = (uint8_t) (reg >> 8);
        b[2] = flags;
        if (n_value > 0)
                memcpy(b + 3, value, n_value);
        return vedirect_hex_build(VEDIRECT_HEX_SET, b, 3 + n_value, buf, size);
}

int vedirect_hex_build_get(uint16_t reg, char *buf, size_t size) {
        const uint8_t b[3] = { (uint8_t) (reg & 0xFF), (uint8_t) (reg >> 8), 0 };
        return vedirect_hex_build(VEDIRECT_HEX_GET, b, sizeof(b), buf, size);
}

int vedirect_hex_parse(const char *frame, size_t len, struct vedirect_hex_msg *ret) {
        struct vedirect_hex_msg m = {};
        int cmd;
        uint8_t sum;

        if (len > 0 && frame[len - 1] == '\n')
                len--;
        if (len > 0 && frame[len - 1] == '\r')
                len--;
        /* ':', the nibble and at least the checksum byte. */
        if (len < 4 || frame[0] != ':' || (cmd = hex_digit_value(frame[1])) < 0 || (len - 2) % 2 != 0)
                return -EBADMSG;
        size_t n_total = (len - 2) / 2;
        if (n_total - 1 > VEDIRECT_HEX_BYTES_MAX)
                return -EBADMSG;
        sum = (uint8_t) cmd;
        for (size_t i = 0; i < n_total; i++) {
                int hi = hex_digit_value(frame[2 + 2 * i]), lo = hex_digit_value(frame[3 + 2 * i]);
                if (hi < 0 || lo < 0)
                        return -EBADMSG;
                uint8_t b = (uint8_t) (hi << 4 | lo);
                sum += b;
                if (i < n_total - 1)
                        m.bytes[m.n_bytes++] = b;
        }
        if (sum != 0x55)
                return -EBADMSG;
        m.command = (unsigned) cmd;
        if ((cmd == VEDIRECT_HEX_GET || cmd == VEDIRECT_HEX_SET || cmd == VEDIRECT_HEX_ASYNC) && m.n_bytes >= 3) {
                m.has_register = true;
                m.reg = (uint16_t) (m.bytes[0] | m.bytes[1] << 8);
                m.flags = m.bytes[2];
                m.n_value = m.n_bytes - 3;
                for (size_t i = 0; i < m.n_value && i < 4; i++)
                        m.value |= (uint32_t) m.bytes[3 + i] << (8 * i);
        }
        *ret = m;
        return 0;
}
