"""Odd files in a profile: names, sizes, trees and files that move under a
running copy. Each is backed up correctly or refused clearly, and never
stops the others.

- names with a newline, a tab, ESC and other control characters: backed up
  byte-equal, the audit events and the manifest still parse; names that are
  not UTF-8 (a file and a folder): skipped with a warning showing '?' for
  the bad bytes, never copied again and again;
- a 255-byte name (the most a Linux name may have): backed up, although
  "<name>.pstsnap.partial" cannot exist;
- a tree 100 folders deep: PSTs down to the discovery limit (64 levels
  below the source) are backed up, the folder past it gets a warning;
- 10 000 files in one folder (saved attachments) beside 20 PSTs: the
  first run and the no-change run are timed;
- a file that shrinks or disappears while it is copied: without a snapshot
  nothing is published (9826 or a clear error) and nothing is left after
  the next run; with a btrfs snapshot the frozen state is published;
- a sparse 50 GB PST: the copy starts, stops at logoff within the deadline
  having read a few MiB, and the next run resumes it (never read in full);
- a zero-length PST: backed up as an empty file, then unchanged.
"""
import json
import os
import threading
import time
import unittest

import backup_support as bs

EV_COPY_FAILED = 9822
GiB = 1 << 30


class OddFiles(unittest.TestCase):
    def setUp(self):
        self.sb = bs.Sandbox(self, "odd")

    def pst(self, folder, name, size, seed):
        path = os.path.join(folder, name)
        bs.write_random_file(path, size, seed)
        bs.set_mtime_past(path, 3600)
        return path

    def assert_backed_up(self, run, sources):
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(sorted(run.backed_up()), sorted(sources), run.describe())
        for src in sources:
            self.assertEqual(bs.sha256_of(self.sb.final_for(src)), bs.sha256_of(src), src)
        self.sb.load_manifest()
        self.assertEqual(self.sb.leftovers(), {})

    def test_names_with_newlines_and_control_characters_are_backed_up(self):
        sb = self.sb
        names = ["New\nline.pst", "Tab\there.pst", "Esc\x1b[31mRed.pst", "Bell\x07\x01\x7f.pst",
                 "Trailing space .pst", "Ünïcödé 📧.pst"]
        sources = [self.pst(sb.outlook_dir, n, 70 * 1024 + i, f"name-{i}")
                   for i, n in enumerate(names)]
        run = sb.fire()
        # Every audit line parsed (read_events) and names its PST exactly.
        self.assert_backed_up(run, sources)
        again = sb.fire()
        self.assertEqual(again.summary().get("unchanged"), len(names), again.describe())

    def test_names_that_are_not_utf8_are_skipped_with_a_warning(self):
        # Linux names are bytes; events, the manifest and a Windows-style
        # destination need UTF-8. Before the fix such a PST was copied on
        # every run, its 9801 event had no detail and no manifest entry.
        sb = self.sb
        good = self.pst(sb.outlook_dir, "Good.pst", 50 * 1024, "good")
        bad_file = os.fsdecode(os.path.join(os.fsencode(sb.outlook_dir), b"Caf\xe9.pst"))
        bad_dir = os.fsdecode(os.path.join(os.fsencode(sb.files_dir), b"Ordner \xff"))
        os.makedirs(bad_dir)
        with open(bad_file, "wb") as f:
            f.write(b"latin-1 name")
        self.pst(bad_dir, "Inside.pst", 4096, "inside")
        for attempt in range(2):
            run = sb.fire()
            if attempt == 0:
                self.assert_backed_up(run, [good])
            else:
                self.assertEqual(run.summary().get("copied"), 0, run.describe())
            warned = {e["detail"]["path"]: e["detail"]["reason"]
                      for e in run.of(bs.EV_FILE_SKIPPED)}
            shown = {os.path.join(sb.outlook_dir, "Caf?.pst"),
                     os.path.join(sb.files_dir, "Ordner ?")}
            self.assertEqual(set(warned), shown, run.describe())
            self.assertTrue(all("UTF-8" in r for r in warned.values()), warned)
            self.assertEqual(run.summary().get("skipped"), 2, run.describe())
        self.assertEqual(sb.backups(), {os.path.join("Outlook", "Good.pst")})

    def test_a_name_of_255_bytes_is_backed_up(self):
        sb = self.sb
        name = "L" * (255 - len(".pst")) + ".pst"
        self.assertEqual(len(os.fsencode(name)), 255)
        src = self.pst(sb.files_dir, name, 200 * 1024, "long")
        run = sb.fire()
        self.assert_backed_up(run, [src])
        bs.write_random_file(src, 210 * 1024, "long-2")
        bs.set_mtime_past(src, 1800)
        self.assert_backed_up(sb.fire({"keepVersions": 1}), [src])

    def test_a_tree_deeper_than_the_limit_is_cut_there_with_a_warning(self):
        sb = self.sb
        limit = 64  # discover.c MAX_DEPTH: folders below the source
        folders = [sb.outlook_dir]
        for _ in range(100):
            folders.append(os.path.join(folders[-1], "d"))
        os.makedirs(folders[-1])
        within = [self.pst(folders[n], f"At{n}.pst", 5000 + n, f"deep-{n}") for n in (1, limit)]
        beyond = [self.pst(folders[n], f"At{n}.pst", 5000 + n, f"deep-{n}")
                  for n in (limit + 1, 100)]
        run = sb.fire()
        self.assert_backed_up(run, within)
        warned = {e["detail"]["path"]: e["detail"]["reason"] for e in run.of(bs.EV_FILE_SKIPPED)}
        self.assertEqual(list(warned), [folders[limit + 1]], run.describe())
        self.assertIn("deeper than 64", warned[folders[limit + 1]])
        for p in beyond:
            self.assertFalse(os.path.exists(sb.final_for(p)))

    def test_ten_thousand_files_in_one_folder(self):
        sb = self.sb
        folder = os.path.join(sb.files_dir, "Saved")
        os.makedirs(folder)
        for i in range(10000):
            with open(os.path.join(folder, f"Attachment {i:05d}.msg"), "wb") as f:
                f.write(b"x")
        psts = [self.pst(folder, f"Archive {i:02d}.pst", 8192 + i, f"many-{i}") for i in range(20)]
        first = sb.fire()
        self.assert_backed_up(first, psts)
        second = sb.fire()
        self.assertEqual(second.summary().get("unchanged"), 20, second.describe())
        print(f"10 000 files + 20 PSTs in one folder: first run {first.elapsed:.2f} s "
              f"(engine {first.summary()['durationMs']} ms), no-change run "
              f"{second.elapsed:.3f} s (engine {second.summary()['durationMs']} ms)")
        self.assertLess(second.elapsed, 5.0, second.describe())

    def test_a_zero_length_pst_is_backed_up_empty(self):
        sb = self.sb
        empty = os.path.join(sb.outlook_dir, "Empty.pst")
        open(empty, "wb").close()
        bs.set_mtime_past(empty, 3600)
        run = sb.fire({"verify": "full"})
        self.assert_backed_up(run, [empty])
        self.assertEqual(os.path.getsize(sb.final_for(empty)), 0)
        self.assertEqual(run.summary().get("failed"), 0, run.describe())
        again = sb.fire()
        self.assertEqual(again.summary().get("unchanged"), 1, again.describe())

    # --- a file that moves under the copy ---------------------------------------
    SIZE = 12 * bs.MiB
    RATE = 8  # MiB/s: the copy takes about 1.5 s

    def fire_and_meddle(self, src, params, meddle):
        """Fire; once the copy has staged something, meddle with the source."""
        out = {}
        t = threading.Thread(target=lambda: out.update(run=self.sb.fire(params)))
        t.start()
        staging = self.sb.staging_for(src)
        deadline = time.monotonic() + 30
        while t.is_alive() and not os.path.exists(staging) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        self.assertTrue(t.is_alive(), "the copy ended before the source could be changed")
        meddle()
        t.join(timeout=120)
        return out["run"]

    def shrink(self, path):
        return lambda: os.truncate(path, self.SIZE // 3)

    def remove(self, path):
        return lambda: os.unlink(path)

    def check_live(self, meddle_of):
        src = self.pst(self.sb.outlook_dir, "Moving.pst", self.SIZE, "moving")
        params = {"snapshot": "none", "maxBandwidth": self.RATE}
        run = self.fire_and_meddle(src, params, meddle_of(src))
        self.assertEqual(run.rc, 1, run.describe())
        refused = run.of(bs.EV_CHANGED_DURING_COPY) + run.of(EV_COPY_FAILED)
        self.assertEqual(len(refused), 1, run.describe())
        self.assertEqual(refused[0]["detail"]["path"], src, run.describe())
        self.assertEqual(run.backed_up(), [], run.describe())
        self.assertFalse(os.path.exists(self.sb.final_for(src)), "a moving copy was published")
        after = self.sb.fire(params)
        self.assertEqual(after.rc, 0, after.describe())
        self.assertEqual(self.sb.leftovers(), {})
        if os.path.exists(src):
            bs.set_mtime_past(src, 600)
            self.assert_backed_up(self.sb.fire({"snapshot": "none"}), [src])
        return refused[0]

    def test_a_file_that_shrinks_mid_copy_without_a_snapshot_is_not_published(self):
        event = self.check_live(self.shrink)
        self.assertEqual(event["eventId"], bs.EV_CHANGED_DURING_COPY)

    def test_a_file_that_disappears_mid_copy_without_a_snapshot_is_not_published(self):
        self.check_live(self.remove)

    def check_snapshot(self, meddle_of):
        src = self.pst(self.sb.outlook_dir, "Moving.pst", self.SIZE, "moving")
        frozen = bs.sha256_of(src)
        run = self.fire_and_meddle(src, {"snapshot": "btrfs", "maxBandwidth": self.RATE},
                                   meddle_of(src))
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(run.backed_up(), [src], run.describe())
        self.assertEqual(bs.sha256_of(self.sb.final_for(src)), frozen,
                         "the backup is not the state the snapshot froze")
        self.assertEqual(self.sb.leftovers(), {})

    def test_a_file_that_shrinks_mid_copy_publishes_the_snapshot_state(self):
        self.check_snapshot(self.shrink)

    def test_a_file_that_disappears_mid_copy_publishes_the_snapshot_state(self):
        self.check_snapshot(self.remove)

    # --- size ---------------------------------------------------------------------
    def test_a_sparse_50_gb_pst_copies_stops_at_logoff_and_resumes_without_a_full_read(self):
        sb = self.sb
        huge = os.path.join(sb.outlook_dir, "Huge.pst")
        with open(huge, "wb") as f:
            f.truncate(50 * GiB)
            f.seek(50 * GiB - 4096)
            f.write(b"end of a very large PST".ljust(4096, b"\0"))
        bs.set_mtime_past(huge, 3600)
        params = {"maxBandwidth": 16}
        logoff_ms, deadline_ms = 800, 3000
        runs = []
        for _ in range(2):
            run = sb.fire(params, args=["--logoff-after", logoff_ms,
                                        "--shutdown-deadline", deadline_ms])
            runs.append(run)
            self.assertEqual(run.rc, 0, run.describe())
            self.assertLess(run.elapsed, (logoff_ms + deadline_ms) / 1000 + 1.0, run.describe())
            self.assertEqual(len(run.of(bs.EV_CANCELLED)), 1, run.describe())
            s = run.summary()
            self.assertLess(s["bytesRead"], 256 * bs.MiB, run.describe())
            self.assertFalse(os.path.exists(sb.final_for(huge)))
        resumed = runs[1].of(bs.EV_RESUMED)
        self.assertEqual(len(resumed), 1, runs[1].describe())
        self.assertGreater(resumed[0]["detail"]["stagedBlocks"], 0, runs[1].describe())
        staged = os.path.getsize(sb.staging_for(huge))
        print(f"50 GB sparse PST: two runs of {runs[0].elapsed:.2f} and {runs[1].elapsed:.2f} s, "
              f"read {runs[0].summary()['bytesRead'] >> 20} + "
              f"{runs[1].summary()['bytesRead'] >> 20} MiB, staged {staged >> 20} MiB, resumed "
              f"from block {resumed[0]['detail']['stagedBlocks']}")
        with open(sb.manifest_paths()[0], encoding="utf-8") as f:
            json.load(f)


if __name__ == "__main__":
    bs.main()
