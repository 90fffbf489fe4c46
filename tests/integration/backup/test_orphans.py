"""Snapshots a killed run left behind are removed by the next run.

emhost is killed (SIGKILL through PSTSNAP_FAULT_KILL_AT, as a power cut or
a task-manager kill would) right before and right after the snapshot is
created, with the btrfs and with the reflink provider. After the kill the
artifact (a snapshot subvolume, or reflink clones) and its record really
exist where they should; the next run reports their removal (event 9805
with the count) and leaves nothing behind: no subvolume in btrfs's own
list, no clone, no record, no staging file; the backup equals the source.
A kill before creation leaves a record that names nothing: the next run
drops it quietly.
"""
import os
import unittest

import backup_support as bs

SIGKILL_STATUS = -9


class Orphans(unittest.TestCase):
    def setUp(self):
        self.sb = sb = bs.Sandbox(self, "orphans")
        self.mail = os.path.join(sb.outlook_dir, "Mail.pst")
        self.other = os.path.join(sb.files_dir, "Other.pst")
        for i, p in enumerate((self.mail, self.other)):
            bs.write_random_file(p, bs.MiB + i, f"orphan-{i}")
            bs.set_mtime_past(p, 3600)

    def point(self, provider, name):
        """The number of the fault point `name` in a run (which is then undone)."""
        trace_path = os.path.join(self.sb.work, f"trace-{provider}.txt")
        run = self.sb.fire({"snapshot": provider}, env={"PSTSNAP_FAULT_TRACE": trace_path})
        self.assertEqual(run.rc, 0, run.describe())
        trace = bs.read_trace(trace_path)
        if not trace:
            bs.skip("build without PSTSNAP_FAULT_INJECTION (configure with "
                    "-DPSTSNAP_FAULT_INJECTION=ON)")
        found = [n for n, what in trace if what == name]
        self.assertEqual(len(found), 1, f"'{name}' in {trace}")
        # Start again from nothing, so the killed run has work to do.
        for src in (self.mail, self.other):
            os.unlink(self.sb.final_for(src))
        for m in self.sb.manifest_paths():
            os.unlink(m)
        return found[0]

    def kill_at(self, provider, n):
        run = self.sb.fire({"snapshot": provider}, env={"PSTSNAP_FAULT_KILL_AT": str(n)})
        self.assertEqual(run.rc, SIGKILL_STATUS, f"not killed at point {n}\n{run.describe()}")
        return run

    def records(self):
        d = os.path.join(self.sb.action_state, "snapshots")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def snapshot_subvolumes(self):
        """Subvolumes of the fixture's btrfs that live in a snapshot folder."""
        rel = os.path.relpath(self.sb.profile, self.sb.mnt)
        return sorted(p for p in bs.btrfs_subvolume_list(self.sb.mnt)
                      if p.startswith(rel + "/") and bs.SNAPSHOT_DIR in p)

    def clones(self):
        return sorted(f for _, _, files in os.walk(self.sb.profile) for f in files
                      if f.startswith(bs.CLONE_PREFIX))

    def resume_and_check(self, expect_removed):
        run = self.sb.fire({"snapshot": "auto"})
        self.assertEqual(run.rc, 0, run.describe())
        removed = run.of(bs.EV_ORPHAN_REMOVED)
        if expect_removed:
            self.assertEqual(len(removed), 1, run.describe())
            self.assertEqual(removed[0]["detail"]["removed"], expect_removed, run.describe())
            self.assertEqual(removed[0]["level"], "info")
        else:
            self.assertEqual(removed, [], run.describe())
        self.assertEqual(self.snapshot_subvolumes(), [], run.describe())
        self.assertEqual(self.clones(), [])
        self.assertEqual(self.sb.leftovers(), {}, run.describe())
        for src in (self.mail, self.other):
            self.assertEqual(bs.sha256_of(self.sb.final_for(src)), bs.sha256_of(src))
        return run

    def test_a_btrfs_snapshot_of_a_killed_run_is_removed(self):
        n = self.point("btrfs", "snapshot.after-create")
        self.kill_at("btrfs", n)
        snaps = self.snapshot_subvolumes()
        self.assertEqual(len(snaps), 1, "the killed run made no snapshot to leak")
        self.assertEqual(len(self.records()), 1, "no record of the snapshot")
        self.resume_and_check(expect_removed=1)

    def test_reflink_clones_of_a_killed_run_are_removed(self):
        n = self.point("reflink", "snapshot.after-create")
        self.kill_at("reflink", n)
        self.assertEqual(len(self.clones()), 2, "the killed run made no clones to leak")
        self.assertEqual(len(self.records()), 1, "no record of the clones")
        self.resume_and_check(expect_removed=2)

    def test_a_kill_before_the_snapshot_leaves_only_an_empty_record(self):
        n = self.point("btrfs", "snapshot.before-create")
        self.kill_at("btrfs", n)
        self.assertEqual(self.snapshot_subvolumes(), [])
        self.resume_and_check(expect_removed=0)


if __name__ == "__main__":
    bs.main()
