# SPDX-License-Identifier: MIT
"""Modbus RTU devices on one simulated RS485 bus (Python standard library
only), for the PZEM-017 and Growatt simulators: CRC-16/MODBUS, requests cut
off the byte stream (resynchronising past bad CRCs), requests for other
addresses ignored as on a real bus, and the faults every device can show on
demand: silence, answers with a wrong CRC, exception answers.
"""
import struct
import time

from serial_sim import PtySim


def crc16(data):
    """CRC-16/MODBUS: reflected polynomial 0xA001, initial 0xFFFF."""
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def with_crc(frame):
    return frame + struct.pack("<H", crc16(frame))


def read_answer(address, function, regs, body):
    """The answer to 0x03/0x04 over the register list regs (a dict or a list), or an exception 02."""
    start, count = struct.unpack(">HH", body)
    try:
        data = b"".join(struct.pack(">H", regs[r] & 0xFFFF) for r in range(start, start + count))
    except (KeyError, IndexError):
        data = b""
    if count < 1 or not data:
        return bytes([address, function | 0x80, 2])
    return bytes([address, function, len(data)]) + data


class ModbusDevice:
    """One device at one address; subclasses give respond(function, body, corrupt)."""

    def __init__(self, address):
        self.address = address
        self.silent = False
        self.corrupt_left = 0
        self.corrupt_values = {}
        self.exception = 0
        self.answers = self.corrupt_sent = self.requests = 0

    def snapshot(self):
        return {"address": self.address, "silent": self.silent, "corrupt_left": self.corrupt_left,
                "exception": self.exception, "answers": self.answers, "corrupt_sent": self.corrupt_sent,
                "requests": self.requests}

    def control(self, req):
        """The common controls; subclasses add their own and call this."""
        if "silent" in req:
            self.silent = bool(req["silent"])
        if "corrupt_next" in req:
            self.corrupt_left = int(req["corrupt_next"])
        if "corrupt_values" in req:
            self.corrupt_values = dict(req["corrupt_values"] or {})
        if "exception" in req:
            self.exception = int(req["exception"] or 0)

    def answer(self, function, body):
        """The answer frame with CRC, or None for no answer at all."""
        self.requests += 1
        if self.silent:
            return None
        corrupt = self.corrupt_left > 0
        if self.exception:
            frame = bytes([self.address, function | 0x80, self.exception])
        else:
            frame = self.respond(function, body, corrupt)
        if frame is None:
            return None
        frame = with_crc(frame)
        if corrupt:
            self.corrupt_left -= 1
            self.corrupt_sent += 1
            frame = frame[:-1] + bytes([frame[-1] ^ 0x5A])
        self.answers += 1
        return frame

    def respond(self, function, body, corrupt):
        raise NotImplementedError


class ModbusBusSim(PtySim):
    device_key = "device"    # the control request's key naming the device's address
    devices_key = "devices"  # the state's key holding the devices

    def __init__(self, args, devices):
        super().__init__(args)
        self.devices = {d.address: d for d in devices}

    def snapshot(self):
        state = super().snapshot()
        state[self.devices_key] = {str(a): d.snapshot() for a, d in self.devices.items()}
        state["requests"] = len(self.log)
        return state

    def apply_control(self, req):
        if self.device_key in req:
            d = self.devices.get(int(req[self.device_key]))
            if d is None:
                raise ValueError("no device at address %s" % req[self.device_key])
            d.control(req)

    def on_request(self, frame):
        entry = {"t": time.monotonic(), "frame": frame.hex(" "), "address": frame[0], "answered": False}
        self.log.append(entry)
        d = self.devices.get(frame[0])
        if d is None:
            return  # another device's request
        answer = d.answer(frame[1], frame[2:-2])
        if answer is None:
            return
        entry["answered"] = True
        self.write(answer)
        if self.args.verbose:
            print("%s -> %s" % (entry["frame"], answer.hex(" ")), flush=True)

    def on_input(self):
        """Cuts whole requests off the input: 8 bytes, or 4 for 0x42; resynchronises past bad CRCs."""
        while len(self.inbuf) >= 4:
            size = 4 if self.inbuf[1] == 0x42 else 8
            if len(self.inbuf) < size:
                return
            frame = self.inbuf[:size]
            if crc16(frame) != 0:
                self.inbuf = self.inbuf[1:]
                continue
            self.inbuf = self.inbuf[size:]
            self.on_request(frame)
