"""The run summary (event 9800) tells the truth, through emhost.

A profile with three PSTs of known sizes, an OST (excluded: not counted),
a symlinked PST and a FIFO named like a PST (both skipped with a warning).
Three runs, each with exactly one summary whose every count is checked
against what the run had to do:
1. first backup: 3 seen, 2 skipped, 3 copied, bytes read and written equal
   to the three sizes, btrfs snapshot, a duration no longer than the run;
2. one PST changed: 1 copied, 2 unchanged, bytes equal to its size;
3. nothing changed: 0 copied, no bytes, no snapshot taken ("none taken").
"""
import os
import unittest

import backup_support as bs


class Summary(unittest.TestCase):
    def setUp(self):
        self.sb = sb = bs.Sandbox(self, "summary")
        self.sizes = {
            os.path.join(sb.outlook_dir, "A.pst"): bs.MiB + 100,
            os.path.join(sb.outlook_dir, "B.pst"): 300 * 1024,
            os.path.join(sb.files_dir, "C.pst"): 700 * 1024 + 1,
            os.path.join(sb.outlook_dir, "Cache.ost"): 50 * 1024,
        }
        for i, (p, size) in enumerate(self.sizes.items()):
            bs.write_random_file(p, size, f"summary-{i}")
            bs.set_mtime_past(p, 3600)
        os.symlink(os.path.join(sb.files_dir, "C.pst"), os.path.join(sb.outlook_dir, "Link.pst"))
        os.mkfifo(os.path.join(sb.outlook_dir, "Pipe.pst"))

    def check(self, run, **want):
        self.assertEqual(run.rc, 0, run.describe())
        s = run.summary()
        got = {k: s.get(k) for k in want}
        self.assertEqual(got, want, run.describe())
        self.assertEqual(s.get("failed"), 0, run.describe())
        self.assertEqual(s.get("tooSoon"), 0, run.describe())
        self.assertFalse(s.get("cancelled"), run.describe())
        self.assertEqual(s.get("destination"), self.sb.dest)
        self.assertGreaterEqual(s.get("durationMs"), 0)
        self.assertLessEqual(s.get("durationMs"), run.elapsed * 1000 + 1, run.describe())
        ev = run.of(bs.EV_SUMMARY)[0]
        self.assertEqual(ev["level"], "info")
        self.assertIn(f"{want['seen']} found, {want['copied']} copied", ev["message"])
        return s

    def test_summary_counts_match_what_each_run_did(self):
        sb = self.sb
        psts = [p for p in self.sizes if p.endswith(".pst")]
        total = sum(self.sizes[p] for p in psts)
        run = sb.fire()
        self.check(run, seen=3, skipped=2, copied=3, unchanged=0, bytesRead=total,
                   bytesWritten=total, snapshot="reflink")
        self.assertEqual(len(run.of(bs.EV_FILE_SKIPPED)), 2, run.describe())

        b = psts[1]
        with open(b, "r+b") as f:
            f.write(os.urandom(1000))
        bs.set_mtime_past(b, 600)
        run = sb.fire()
        # Read in full, but on btrfs only the changed block is written: the
        # staging file starts as a clone of the last backup (copy.h).
        self.check(run, seen=3, skipped=2, copied=1, unchanged=2, bytesRead=self.sizes[b],
                   bytesWritten=64 * 1024, snapshot="reflink")
        self.assertEqual(run.backed_up(), [b])

        run = sb.fire()
        self.check(run, seen=3, skipped=2, copied=0, unchanged=3, bytesRead=0, bytesWritten=0,
                   snapshot="none taken")
        self.assertTrue(run.has(bs.EV_NOTHING_CHANGED), run.describe())
        self.assertFalse(run.has(bs.EV_SNAPSHOT_CREATED), run.describe())


if __name__ == "__main__":
    bs.main()
