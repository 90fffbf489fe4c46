"""Background work (EM_RUN_ASYNC + start_worker) and shutdown with a deadline.

EM judges a node by run()'s result; long work continues on a worker. At
logoff (or when the agent is told to stop) the host asks every module to
checkpoint and stop within a deadline, and gives up on work that ignores it
(em_action.h, em-reference T32/T33).
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import emhost_support as s  # noqa: E402
from emhost_support import background, echo, node, policy  # noqa: E402


def cancelled_after_ms(text):
    m = re.match(r"cancelled after (\d+) ms", text or "")
    return int(m.group(1)) if m else None


class BackgroundWork(s.EmhostTestCase):
    def test_background_work_is_awaited_and_audited(self):
        r = self.fire(policy([node("n", [background("job", work_ms=600, description="bg")])]),
                      start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_OK)
        self.assertGreaterEqual(r.elapsed, 0.6)
        self.assertEqual(self.read_result_file("job"), "completed 600 ms of work\n")
        # The action itself returned at once ("started") ...
        started = self.assertActionResult(r.events, "bg", "started", s.PROCESS_START_OK)
        self.assertLess(started["durationMs"], 300)
        # ... and the worker's outcome is audited separately, later.
        done = s.named(r.events, "action.background.succeeded", "bg")
        self.assertEqual(len(done), 1)
        self.assertGreaterEqual(done[0]["durationMs"], 600)
        self.assertEqual(done[0]["result"], "success")
        self.assertLess(r.events.index(started), r.events.index(done[0]))
        self.assertEqual(len(s.named(r.events, "example.background.done", "bg")), 1)

    def test_failed_background_work_makes_emhost_exit_1(self):
        r = self.fire(policy([node("n", [background("job", work_ms=50, fail=True,
                                                    description="bg")])]),
                      start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_FAILED)
        # EM counted the action a success when run() returned; the worker's
        # failure is its own event.
        self.assertActionResult(r.events, "bg", "started", s.PROCESS_START_OK)
        failed = s.named(r.events, "action.background.failed", "bg")
        self.assertEqual(len(failed), 1)
        self.assertEqual(failed[0]["result"], "failure")
        self.assertEqual(failed[0]["level"], "error")

    def test_background_work_does_not_hold_up_the_node(self):
        # Work far longer than the node timeout: no timeout, the children and
        # the next node run while the worker is still busy.
        bg = background("job", work_ms=1200, description="bg",
                        children=[echo("child", "child")])
        r = self.fire(policy([node("n", [bg], timeoutMs=300),
                              node("next", [echo("next", "next")])]),
                      start="OUTLOOK.EXE")
        self.assertExit(r, s.EXIT_OK)
        self.assertActionResult(r.events, "bg", "started")
        worker_end = s.parse_time(s.named(r.events, "action.background.succeeded", "bg")[0]["time"])
        for d in ("child", "next"):
            start, _ = s.action_span(self.assertActionResult(r.events, d, "success"))
            self.assertLess(start, worker_end - 0.5, "%s waited for the background work" % d)

    def test_progress_is_printed_when_asked(self):
        r = self.fire(policy([node("n", [background("job", work_ms=1300, description="bg")])]),
                      start="OUTLOOK.EXE", extra=["--progress"])
        self.assertExit(r, s.EXIT_OK)
        lines = [l for l in r.stderr.splitlines() if l.startswith("progress: bg:")]
        self.assertGreaterEqual(len(lines), 1, r)
        # At most about one a second: progress must not cost the work time.
        self.assertLessEqual(len(lines), 4, r)
        r = self.fire(policy([node("n", [background("job2", work_ms=300)])]), start="OUTLOOK.EXE")
        self.assertNotIn("progress:", r.stderr)


class Shutdown(s.EmhostTestCase):
    def test_no_wait_asks_background_work_to_stop(self):
        r = self.fire(policy([node("n", [background("job", work_ms=20000, description="bg")])]),
                      start="OUTLOOK.EXE", extra=["--no-wait", "--shutdown-deadline", "5000"])
        # The worker checkpoints and stops at once instead of working 20 s.
        self.assertLess(r.elapsed, 3.0, r)
        after = cancelled_after_ms(self.read_result_file("job"))
        self.assertIsNotNone(after, "the worker did not write its cancelled result")
        self.assertLess(after, 2000)
        # The example worker reports a cancelled job as failed.
        self.assertExit(r, s.EXIT_FAILED)
        self.assertEqual(len(s.named(r.events, "action.background.failed", "bg")), 1)
        shut = s.named(r.events, "host.shutdown")
        self.assertEqual(len(shut), 1)
        self.assertIn("all work stopped", shut[0]["message"])

    def test_logoff_after_cancels_the_worker_at_logoff(self):
        r = self.fire(policy([node("n", [background("job", work_ms=20000)])]),
                      start="OUTLOOK.EXE",
                      extra=["--logoff-after", "500", "--shutdown-deadline", "3000"])
        self.assertExit(r, s.EXIT_FAILED)
        self.assertGreaterEqual(r.elapsed, 0.5)
        self.assertLess(r.elapsed, 3.5, r)
        after = cancelled_after_ms(self.read_result_file("job"))
        self.assertIsNotNone(after, "the worker did not write its cancelled result")
        self.assertGreaterEqual(after, 450, "cancelled before the logoff")
        self.assertLess(after, 2500)

    def test_logoff_after_finished_work_is_a_clean_exit(self):
        r = self.fire(policy([node("n", [background("job", work_ms=200)])]),
                      start="OUTLOOK.EXE", extra=["--logoff-after", "5000"])
        self.assertExit(r, s.EXIT_OK)
        # Done long before the logoff: emhost does not sit out the 5 s.
        self.assertLess(r.elapsed, 3.0)
        self.assertEqual(self.read_result_file("job"), "completed 200 ms of work\n")
        self.assertEqual(s.named(r.events, "host.shutdown"), [])

    def test_worker_ignoring_cancellation_fails_emhost_after_the_deadline(self):
        r = self.fire(policy([node("n", [background("stubborn", work_ms=15000,
                                                    ignore_cancel=True)])]),
                      start="OUTLOOK.EXE",
                      extra=["--logoff-after", "300", "--shutdown-deadline", "700"])
        self.assertExit(r, s.EXIT_FAILED)
        # Logoff at 0.3 s + 0.7 s deadline; far less than the 15 s of work.
        self.assertGreaterEqual(r.elapsed, 1.0)
        self.assertLess(r.elapsed, 1.0 + 2.0, r)
        self.assertIn("did not stop within 700 ms", r.stderr)
        self.assertIsNone(self.read_result_file("stubborn"))
        shut = s.named(r.events, "host.shutdown")
        self.assertEqual(len(shut), 1)
        self.assertEqual(shut[0]["level"], "warning")
        self.assertIn("still running", shut[0]["message"])

    def start_fire(self, pol):
        path = self.write_policy(pol)
        return self.start_emhost(["fire", path, "--process-start", "OUTLOOK.EXE",
                                  "--state-dir", self.state_dir, "--audit", self.audit_path,
                                  "--shutdown-deadline", "1000"])

    def wait_until_started(self):
        self.wait_for_event(lambda e: e.get("result") == "started", timeout=10,
                            what="'started' event of the background action")

    def test_sigterm_stops_background_work_like_a_logoff(self):
        p = self.start_fire(policy([node("n", [background("job", work_ms=20000)])]))
        self.wait_until_started()
        time.sleep(0.2)
        sent = time.monotonic()
        self.send_stop_request(p)
        rc, out, err = self.finish(p, timeout=10)
        self.assertLess(time.monotonic() - sent, 2.0)
        self.assertEqual(rc, s.EXIT_FAILED, err)
        self.assertIn("stop requested", err)
        after = cancelled_after_ms(self.read_result_file("job"))
        self.assertIsNotNone(after, "the worker did not write its cancelled result")
        shut = s.named(self.audit_events(), "host.shutdown")
        self.assertEqual(len(shut), 1)
        self.assertIn("all work stopped", shut[0]["message"])

    def test_sigterm_with_a_worker_ignoring_cancellation_exits_after_the_deadline(self):
        p = self.start_fire(policy([node("n", [background("stubborn", work_ms=15000,
                                                          ignore_cancel=True)])]))
        self.wait_until_started()
        sent = time.monotonic()
        self.send_stop_request(p)
        rc, out, err = self.finish(p, timeout=10)
        took = time.monotonic() - sent
        self.assertEqual(rc, s.EXIT_FAILED, err)
        self.assertGreaterEqual(took, 1.0 - 0.05)
        self.assertLess(took, 1.0 + 2.0)
        self.assertIn("still running at the shutdown deadline", err)
        self.assertIsNone(self.read_result_file("stubborn"))


if __name__ == "__main__":
    s.main()
