"""emhost watch: Process Started / Stopped fired by real processes (Linux /proc).

The watched "Outlook" is a copy of /bin/sleep under a distinctive image
name, unique to this test process so that other test runs sharing the
machine cannot trigger it. EM fires Process Started only for starts it
observes: processes already running when watch starts are the baseline.
Ctrl+C (SIGINT) and SIGTERM stop watch cleanly with exit 0.
"""

import os
import select
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import emhost_support as s  # noqa: E402
from emhost_support import echo, node, policy, process_name  # noqa: E402

INTERVAL_MS = 50
# Several polls: long enough for watch to have fired twice if it were going to.
SETTLE = 6 * INTERVAL_MS / 1000.0


@unittest.skipUnless(sys.platform.startswith("linux") and os.path.isdir("/proc"),
                     "watch reads /proc")
class Watch(s.EmhostTestCase):
    def setUp(self):
        super().setUp()
        self.image = "OUTLOOK%d.EXE" % os.getpid()
        self.exe = os.path.join(self.dir, self.image)
        shutil.copy2(shutil.which("sleep") or "/bin/sleep", self.exe)
        self.children = []

    def tearDown(self):
        for p in self.children:
            if p.poll() is None:
                p.kill()
            p.wait()
        super().tearDown()

    def spawn(self, *argv):
        p = subprocess.Popen(list(argv))
        self.children.append(p)
        return p

    def watch_policy(self):
        # Equal compares image names case-insensitively (T8): lower case here.
        return self.write_policy(policy(
            started=[node("outlook started", [echo("started", "on-start")],
                          conditions=[process_name("Equal", self.image.lower())])],
            stopped=[node("outlook stopped", [echo("stopped", "on-stop")],
                          conditions=[process_name("Equal", self.image)])]))

    def start_watch(self):
        """Start emhost watch and wait until it has taken its baseline."""
        p = self.start_emhost(["watch", self.watch_policy(), "--interval", INTERVAL_MS,
                               "--state-dir", self.state_dir, "--audit", self.audit_path])
        ready, _, _ = select.select([p.stderr], [], [], 10)
        self.assertTrue(ready, "emhost watch said nothing within 10 s")
        line = p.stderr.readline()
        self.assertIn("emhost: watching for process starts", line)
        return p

    def stop_watch(self, p, sig):
        p.send_signal(sig)
        rc, out, err = self.finish(p, timeout=10)
        self.assertEqual(rc, s.EXIT_OK, "watch exited %d after signal %d; stderr:\n%s" % (
            rc, sig, err))
        self.assertIn("stop requested", err)
        return err

    def starts(self):
        return [e for e in s.action_events(self.audit_events(), "on-start")]

    def test_fires_once_per_new_process_and_not_for_running_ones(self):
        already_running = self.spawn(self.exe, "30")
        time.sleep(0.1)  # it must be in the baseline, not a start watch observes
        w = self.start_watch()
        outlook = self.spawn(self.exe, "30")
        self.spawn("/bin/true").wait()  # another start: its name does not match
        self.wait_for_event(lambda e: e.get("eventId") == s.PROCESS_START_OK
                            and e.get("action") == "on-start", what="9428 for the new process")
        time.sleep(SETTLE)
        starts = self.starts()
        self.assertEqual(len(starts), 1, "Process Started fired %d times:\n%s" % (
            len(starts), starts))
        self.assertEqual(starts[0]["trigger"], "processStarted")
        self.assertEqual(starts[0]["node"], "outlook started")
        self.assertEqual(starts[0]["result"], "success")
        self.assertEqual(s.echo_messages(self.audit_events()), ["started"])

        # The process ends: Process Stopped, once.
        outlook.kill()
        outlook.wait()
        self.wait_for_event(lambda e: e.get("eventId") == s.PROCESS_STOP_OK
                            and e.get("action") == "on-stop", what="9430 for the ended process")
        err = self.stop_watch(w, signal.SIGINT)
        events = self.audit_events()
        self.assertEqual(len(s.action_events(events, "on-start")), 1)
        self.assertEqual(len(s.action_events(events, "on-stop")), 1)
        self.assertEqual(s.echo_messages(events), ["started", "stopped"])
        shutdown = s.named(events, "host.shutdown")
        self.assertEqual(len(shutdown), 1, err)
        self.assertEqual(shutdown[0]["level"], "info")
        # The baseline process was never reported, and still runs.
        self.assertIsNone(already_running.poll())

    def test_each_start_fires_even_when_the_same_image_starts_again(self):
        w = self.start_watch()
        for n in (1, 2):
            p = self.spawn(self.exe, "30")
            self.wait_for_event(lambda e, n=n: len(self.starts()) >= n,
                                what="start number %d" % n)
            p.kill()
            p.wait()
        time.sleep(SETTLE)
        self.stop_watch(w, signal.SIGINT)
        self.assertEqual(len(self.starts()), 2)

    def test_a_process_that_execs_the_image_counts_as_its_start(self):
        # On Linux a program starts by exec: a process seen (as sh) before it
        # execs OUTLOOK keeps its pid and start time but is a new image.
        w = self.start_watch()
        self.spawn("/bin/sh", "-c", 'sleep 0.5; exec "$0" 30', self.exe)
        self.wait_for_event(lambda e: e.get("eventId") == s.PROCESS_START_OK
                            and e.get("action") == "on-start",
                            what="9428 for the process that exec'd the image")
        time.sleep(SETTLE)
        self.stop_watch(w, signal.SIGTERM)
        self.assertEqual(len(self.starts()), 1)

    def test_sigterm_stops_watch_cleanly(self):
        w = self.start_watch()
        start = time.monotonic()
        self.stop_watch(w, signal.SIGTERM)
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual(s.action_events(self.audit_events()), [])
        self.assertEqual(len(s.named(self.audit_events(), "host.shutdown")), 1)

    def test_watch_refuses_an_invalid_policy_at_once(self):
        path = self.write_policy(policy([node("n", [echo("x")])], plugins=[s.NOT_A_PLUGIN]))
        r = self.run_emhost(["watch", path, "--state-dir", self.state_dir,
                             "--audit", self.audit_path], timeout=10)
        self.assertOneProblem(r, path, "/plugins/0", "em_module_init")


if __name__ == "__main__":
    s.main()
