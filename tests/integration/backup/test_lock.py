"""One destination, two runs at once (Outlook started twice), through emhost.

- Two real runs: the first copies a large PST slowly (maxBandwidth); the
  second, fired while the first is copying, waits briefly, then leaves the
  work to the first: it exits 0 within a few seconds with event 9810, copies
  and publishes nothing, while the first is still running. The first then
  finishes normally: its backup equals the source, no staging file, journal
  or snapshot is left, and the manifest is whole (a third run finds
  nothing to do).
- The lock held for a moment only (the test holds the destination's lock
  file itself, as a finishing run would): the second run waits, then does
  the backup itself, without a 9810.
"""
import fcntl
import glob
import os
import threading
import time
import unittest

import backup_support as bs

SIZE = 24 * bs.MiB
RATE_MIBPS = 6  # the first run copies for about four seconds


class Lock(unittest.TestCase):
    def setUp(self):
        self.sb = sb = bs.Sandbox(self, "lock")
        self.big = os.path.join(sb.outlook_dir, "Big.pst")
        bs.write_random_file(self.big, SIZE, "lock-big")
        bs.set_mtime_past(self.big, 3600)

    def test_a_second_run_leaves_the_work_to_the_first(self):
        sb = self.sb
        first = {}
        t = threading.Thread(target=lambda: first.update(
            run=sb.fire({"maxBandwidth": RATE_MIBPS, "ioPriority": "normal"})))
        t.start()
        self.addCleanup(t.join)
        staging = sb.staging_for(self.big)
        deadline = time.monotonic() + 20
        while not os.path.exists(staging) and t.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertTrue(os.path.exists(staging), "the first run never started copying")
        second = sb.fire()
        first_still_running = t.is_alive()
        t.join(timeout=120)
        self.assertEqual(second.rc, 0, second.describe())
        busy = second.of(bs.EV_BUSY)
        self.assertEqual(len(busy), 1, second.describe())
        self.assertEqual(busy[0]["detail"]["destination"], sb.dest)
        self.assertEqual(second.backed_up(), [], second.describe())
        self.assertFalse(second.has(bs.EV_SNAPSHOT_CREATED), second.describe())
        self.assertLess(second.elapsed, 10, second.describe())
        self.assertTrue(first_still_running, "the second run waited for the first to finish")
        run = first["run"]
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(run.backed_up(), [self.big], run.describe())
        self.assertFalse(run.has(bs.EV_BUSY), run.describe())
        self.assertEqual(bs.sha256_of(sb.final_for(self.big)), bs.sha256_of(self.big))
        self.assertEqual(sb.leftovers(), {})
        third = sb.fire()
        self.assertEqual(third.summary().get("copied"), 0, third.describe())

    def test_a_second_run_waits_for_a_lock_held_briefly(self):
        sb = self.sb
        run = sb.fire()
        self.assertEqual(run.backed_up(), [self.big], run.describe())
        locks = glob.glob(os.path.join(sb.action_state, "locks", "*.lock"))
        self.assertEqual(len(locks), 1, locks)
        bs.write_random_file(self.big, SIZE, "lock-big-2")
        bs.set_mtime_past(self.big, 1800)
        fd = os.open(locks[0], os.O_RDWR)
        self.addCleanup(os.close, fd)
        fcntl.flock(fd, fcntl.LOCK_EX)
        released = threading.Timer(0.8, fcntl.flock, (fd, fcntl.LOCK_UN))
        released.start()
        self.addCleanup(released.cancel)
        t0 = time.monotonic()
        second = sb.fire()
        self.assertGreaterEqual(time.monotonic() - t0, 0.8)
        self.assertEqual(second.rc, 0, second.describe())
        self.assertFalse(second.has(bs.EV_BUSY), second.describe())
        self.assertEqual(second.backed_up(), [self.big], second.describe())
        self.assertEqual(bs.sha256_of(sb.final_for(self.big)), bs.sha256_of(self.big))


if __name__ == "__main__":
    bs.main()
