"""A PST that is written while it is backed up is published as it was at one
single moment, never torn.

pagewriter stands in for Outlook: it holds Big.pst open and rewrites random
4 KiB pages, each whole page carrying its own checksum and generation, and
logs every write first. pagecheck then proves (or refutes) that a published
copy equals the file at one moment of that log.

- snapshot "reflink", and "auto" (which picks it here): every run while the
  writer is busy publishes, and every published copy is point-in-time
  consistent.
- snapshot "btrfs" is not tested for this: a subvolume snapshot flushes a
  file's pages without blocking its writer, so a file under active writes can
  be caught with pages of two moments (this test caught it under load; see
  plugin/snapshot/btrfs.c). That is why "auto" prefers reflink.
- snapshot "none": the live file moves under the copy, so the run must
  refuse to publish (9826, nothing published, no staging left); only if
  the writer happened to leave the file alone may it publish, and then the
  copy must still be consistent.
"""
import os
import sys
import time
import unittest

import backup_support as bs

PAGES = 16384  # 64 MiB of 4 KiB pages: the copy takes long enough to be hit
WRITE_RATE = 4000  # pages per second; a busy Outlook writes far less
RUNS = 3


class PointInTime(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        bs.require_btrfs()
        cls.pagewriter = bs.require_env_file("PAGEWRITER")
        cls.pagecheck = bs.require_env_file("PAGECHECK")

    def make_world(self, name):
        sb = bs.Sandbox(self, name)
        big = os.path.join(sb.outlook_dir, "Big.pst")
        bs.run_tool([self.pagewriter, "create", big, "--pages", str(PAGES)])
        log = os.path.join(sb.work, "big.log")
        writer = sb.start([self.pagewriter, "run", big, "--log", log, "--rate", str(WRITE_RATE)],
                          "pagewriter")
        return sb, big, log, writer

    def wait_for_writes(self, log, writer, after_size=0):
        """Wait until the writer has logged more than `after_size` bytes."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            self.assertTrue(writer.alive(), f"pagewriter stopped:\n{writer.output()}")
            if os.path.exists(log) and os.path.getsize(log) > after_size:
                return os.path.getsize(log)
            time.sleep(0.02)
        self.fail("pagewriter wrote nothing within 10 s")

    def assert_busy(self, log, writer, logged_before, run):
        """The writer must really have written during the run, or a
        consistent copy proves nothing."""
        logged_after = os.path.getsize(log)
        self.assertTrue(writer.alive(), f"pagewriter died:\n{writer.output()}")
        self.assertGreater(logged_after, logged_before,
                           f"pagewriter wrote nothing during the run\n{run.describe()}")
        return logged_after

    def pagecheck_ok(self, copy, log):
        p = bs.run_tool([self.pagecheck, copy, log, "--original-pages", str(PAGES)], check=False)
        return p.returncode == 0, (p.stdout + p.stderr).strip()

    def check_snapshot_provider(self, provider, used=None):
        used = used or provider
        sb, big, log, writer = self.make_world(provider)
        final = sb.final_for(big)
        self.wait_for_writes(log, writer)
        for i in range(1, RUNS + 1):
            logged = os.path.getsize(log)
            run = sb.fire({"snapshot": provider})
            logged_after = self.assert_busy(log, writer, logged, run)
            self.assertEqual(run.rc, 0, run.describe())
            summary = run.summary()
            self.assertEqual(summary.get("copied"), 1, run.describe())
            self.assertEqual(summary.get("failed"), 0, run.describe())
            self.assertEqual(summary.get("snapshot"), used, run.describe())
            self.assertEqual(run.backed_up(), [big], run.describe())
            self.assertTrue(os.path.isfile(final), run.describe())
            # pagecheck reads the log now, after the copy was taken: every
            # generation the copy can hold is in it.
            ok, verdict = self.pagecheck_ok(final, log)
            print(f"{provider} run {i}: log {logged} -> {logged_after} bytes; pagecheck: {verdict}")
            self.assertTrue(ok, f"run {i} with snapshot {provider} published a copy that is not "
                                f"point-in-time consistent:\n{verdict}\n{run.describe()}")
        self.assertEqual(writer.stop(), 0, writer.output())
        self.assertEqual(sb.leftovers(), {}, "left behind after the runs")

    def test_auto_copies_are_point_in_time(self):
        self.check_snapshot_provider("auto", used="reflink")

    def test_reflink_clone_copies_are_point_in_time(self):
        self.check_snapshot_provider("reflink")

    def test_live_read_of_a_moving_file_is_never_published_torn(self):
        sb, big, log, writer = self.make_world("none")
        final = sb.final_for(big)
        self.wait_for_writes(log, writer)
        refused = published = 0
        for i in range(1, RUNS + 1):
            before = bs.sha256_of(final) if os.path.exists(final) else None
            logged = os.path.getsize(log)
            run = sb.fire({"snapshot": "none"})
            logged_after = self.assert_busy(log, writer, logged, run)
            summary = run.summary()
            self.assertEqual(summary.get("snapshot"), "none", run.describe())
            if run.has(bs.EV_CHANGED_DURING_COPY):
                refused += 1
                self.assertEqual(run.rc, 1, run.describe())
                self.assertEqual(summary.get("copied"), 0, run.describe())
                self.assertEqual(run.backed_up(), [], run.describe())
                after = bs.sha256_of(final) if os.path.exists(final) else None
                self.assertEqual(after, before, "a refused copy changed the published file")
                self.assertEqual(sb.leftovers(), {}, "a refused copy left state behind")
                print(f"none run {i}: refused (9826), as it must be while the file moves")
            else:
                published += 1
                self.assertEqual(run.rc, 0, run.describe())
                self.assertEqual(run.backed_up(), [big], run.describe())
                print(f"none run {i}: published (the writer left the file alone meanwhile)")
            if os.path.exists(final):
                ok, verdict = self.pagecheck_ok(final, log)
                self.assertTrue(ok, f"run {i} without a snapshot published a torn copy:\n"
                                    f"{verdict}\n{run.describe()}")
        self.assertEqual(writer.stop(), 0, writer.output())
        print(f"none: {refused} refused, {published} published")
        self.assertEqual(sb.leftovers(), {}, "left behind after the runs")


if __name__ == "__main__":
    bs.main()
