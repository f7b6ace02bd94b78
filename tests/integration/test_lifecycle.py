# SPDX-License-Identifier: MIT
"""Daemon lifecycle against a real broker: READY=1, STATUS=, watchdog pings,
SIGTERM → STOPPING=1 and exit 0 within a second, SIGHUP logged and survived,
mode/actual published, last will after kill -9."""
import signal
import time
import unittest

from hbtest import HbTestCase, base_config, wait_for


class Lifecycle(HbTestCase):
    def start(self):
        self.b = self.broker()
        self.rec = self.recorder(self.b.port, "hbtest/#")
        self.notify = self.notify_socket()
        self.d = self.daemon(base_config(self.b.port), env={"NOTIFY_SOCKET": self.notify.path})
        wait_for(lambda: self.notify.lines("READY=1"), 10, what="READY=1")

    def test_ready_status_and_mode_actual(self):
        self.start()
        self.rec.wait("hbtest/status", b"online")
        self.rec.wait("hbtest/mode/actual", b"idle")
        wait_for(lambda: any("mode idle" in l for _, l in self.notify.lines("STATUS=")), 5, what="STATUS mode idle")
        self.rec.publish("hbtest/mode/set", b"discharge")
        self.rec.wait("hbtest/mode/actual", b"discharge")
        # A mode request is answered even when nothing changes.
        n = len(self.rec.all("hbtest/mode/actual"))
        self.rec.publish("hbtest/mode/set", b"discharge")
        wait_for(lambda: len(self.rec.all("hbtest/mode/actual")) > n, 5, what="answer to a repeated request")
        # Unknown payload requests protect.
        self.rec.publish("hbtest/mode/set", b"turbo")
        self.rec.wait("hbtest/mode/actual", b"protect")

    def test_watchdog_pings_without_fatal_lock(self):
        self.start()
        wait_for(lambda: len(self.notify.lines("WATCHDOG=1")) >= 2, 5, what="two watchdog pings")

    def test_sigterm_stops_within_one_second(self):
        self.start()
        self.rec.wait("hbtest/status", b"online")
        t0 = time.monotonic()
        rc = self.d.stop(signal.SIGTERM, timeout=5)
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 0)
        self.assertLess(elapsed, 1.0, "SIGTERM took %.3f s" % elapsed)
        self.assertTrue(self.notify.lines("STOPPING=1"))
        self.rec.wait("hbtest/status", b"offline")
        # Safe state: protect was published before leaving (the recorder's
        # thread may still be delivering it).
        wait_for(lambda: self.rec.last("hbtest/mode/actual") == b"protect", 5, what="protect as last mode")
        print("SIGTERM to exit: %.0f ms" % (elapsed * 1000))

    def test_sigint_exits_zero(self):
        self.start()
        self.assertEqual(self.d.stop(signal.SIGINT, timeout=5), 0)

    def test_sighup_is_logged_and_survived(self):
        self.start()
        self.d.proc.send_signal(signal.SIGHUP)
        self.d.wait_log("Reload is not supported")
        time.sleep(0.3)
        self.assertIsNone(self.d.proc.poll())

    def test_last_will_after_kill9(self):
        self.start()
        self.rec.wait("hbtest/status", b"online")
        self.d.proc.send_signal(signal.SIGKILL)
        self.d.proc.wait(5)
        # keepalive 30 s, broker closes at once on a reset socket
        self.rec.wait("hbtest/status", b"offline", timeout=50)

    def test_reset_exits_nonzero(self):
        self.start()
        self.rec.wait("hbtest/status", b"online")
        self.rec.publish("hbtest/reset", b"reset")
        wait_for(lambda: self.d.proc.poll() is not None, 12, what="exit after reset")
        self.assertNotEqual(self.d.proc.returncode, 0)
        wait_for(lambda: self.rec.last("hbtest/mode/actual") == b"protect", 5, what="protect as last mode")

    def test_retained_reset_is_ignored(self):
        """A retained reset used to make every start exit 3 within half a second: systemd restarted
        the daemon forever. Now it is ignored with one warning that says how to clear it; a retained
        mode/set stays accepted; a reset sent now still exits."""
        self.b = self.broker()
        self.rec = self.recorder(self.b.port, "hbtest/#")
        self.rec.publish("hbtest/reset", b"reset", retain=True)
        self.rec.publish("hbtest/mode/set", b"discharge", retain=True)
        time.sleep(0.3)
        self.d = self.daemon(base_config(self.b.port))
        self.rec.wait("hbtest/status", b"online")
        self.rec.wait("hbtest/mode/actual", b"discharge")
        time.sleep(2)
        self.assertIsNone(self.d.proc.poll(), "the daemon exited on a retained reset")
        log = self.d.logtext()
        self.assertEqual(log.count("Ignoring a retained message on hbtest/reset"), 1, log)
        self.assertIn("mosquitto_pub -r -n -t hbtest/reset", log)
        self.rec.publish("hbtest/reset", b"reset")
        wait_for(lambda: self.d.proc.poll() is not None, 12, what="exit after a reset sent now")
        self.assertEqual(self.d.proc.returncode, 3)
        self.rec.publish("hbtest/reset", b"", retain=True)
        self.rec.publish("hbtest/mode/set", b"", retain=True)

    def test_bad_requests_are_rate_limited(self):
        """Bad reset payloads and bad mode requests: at most 5 warnings a minute per topic, then
        one "N more suppressed" line when the next is let through (not before a minute here)."""
        self.start()
        self.rec.wait("hbtest/status", b"online")
        for i in range(40):
            self.rec.publish("hbtest/reset", b"nope")
            self.rec.publish("hbtest/mode/set", b"turbo%d" % i)
        wait_for(lambda: self.d.logtext().count("Unknown mode") >= 5, 10, what="mode warnings")
        time.sleep(1)
        log = self.d.logtext()
        self.assertEqual(log.count("expected \"reset\""), 5, log)
        self.assertEqual(log.count("Unknown mode"), 5, log)
        self.assertIsNone(self.d.proc.poll())

    def test_status_page_address_in_use(self):
        """The status page's address taken by someone else used to end the start with exit 1, on
        every start. Now the daemon runs (one error line) and the page comes up once it can."""
        import socket
        import urllib.request
        import hbtest
        blocker = socket.socket()
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        self._hb_stops.append(blocker.close)
        self.b = self.broker()
        self.rec = self.recorder(self.b.port, "hbtest/#")
        self.d = self.daemon(base_config(self.b.port, http={"listen": "127.0.0.1:%d" % port}))
        self.rec.wait("hbtest/status", b"online")
        time.sleep(1)
        self.assertIsNone(self.d.proc.poll(), "the daemon exited")
        self.assertEqual(self.d.logtext().count("The status page stays off"), 1)
        blocker.close()

        def page_up():
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/api/status" % port, timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False
        wait_for(page_up, 40, interval=0.5, what="the status page after the port was freed")
        self.assertEqual(self.d.logtext().count("Cannot listen on"), 1)

    def test_broker_down_at_start_then_up(self):
        import hbtest
        port = hbtest.free_port()
        self.notify = self.notify_socket()
        self.d = self.daemon(base_config(port), env={"NOTIFY_SOCKET": self.notify.path})
        wait_for(lambda: self.notify.lines("READY=1"), 10, what="READY=1 without a broker")
        time.sleep(1.5)
        b = self.broker(port=port)
        rec = self.recorder(b.port, "hbtest/#")
        rec.wait("hbtest/status", b"online", timeout=35)


class Logging(HbTestCase):
    """logging.host (UDP copy), logging.ignore and logging.level."""

    def test_udp_copy_ignore_and_level(self):
        import socket
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(0.2)
        self._hb_stops.append(udp.close)
        b = self.broker()
        c = base_config(b.port)
        c["logging"] = {"level": "info", "host": "127.0.0.1:%d" % udp.getsockname()[1], "ignore": ["mqtt"]}
        d = self.daemon(c)
        rec = self.recorder(b.port, "hbtest/#")
        rec.wait("hbtest/status", b"online")
        rec.publish("hbtest/mode/set", b"charge")
        rec.wait("hbtest/mode/actual", b"charge")
        lines = []
        end = time.monotonic() + 3
        while time.monotonic() < end:
            try:
                lines.append(udp.recv(2048).decode())
            except socket.timeout:
                pass
        text = "\n".join(lines)
        self.assertIn("[main] Started with", text)
        self.assertIn("[mode] Requested charge", text)
        # mqtt's info lines are ignored (its "Connected" line), and so is debug.
        self.assertNotIn("[mqtt]", text)
        self.assertNotIn(" debug ", text)
        self.assertNotIn("[mqtt]", d.logtext())
        # A warning of an ignored sender still passes: stop the broker.
        b.stop()
        wait_for(lambda: "[mqtt]" in d.logtext() and "lost" in d.logtext(), 10, what="mqtt warning despite ignore")

    def test_a_udp_host_that_does_not_answer_never_blocks(self):
        b = self.broker()
        c = base_config(b.port)
        # Nothing listens there: datagrams are dropped, the daemon goes on.
        c["logging"] = {"level": "debug", "host": "127.0.0.1:9"}
        self.daemon(c)
        rec = self.recorder(b.port, "hbtest/#")
        rec.wait("hbtest/status", b"online")
        t0 = time.monotonic()
        rec.publish("hbtest/mode/set", b"idle")
        rec.wait("hbtest/mode/actual", b"idle")
        self.assertLess(time.monotonic() - t0, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
