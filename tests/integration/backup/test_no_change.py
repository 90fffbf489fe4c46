"""A run that finds nothing changed takes no snapshot and writes nothing;
after one PST is touched, only that one is copied.

Outlook starts many times a day and every start fires the action, so the
common case must cost a directory walk and nothing else: no btrfs snapshot
(a subvolume, committed to disk), no read of a PST, no write to the sync
folder (a sync client would upload again whatever we touch).

"No snapshot" is proven three ways: no 9803 event, the same subvolumes
before and after, and no subvolume id consumed in between (btrfs never
reuses ids, so a snapshot made and deleted within the run would show as a
gap between two probe subvolumes made around it).
"""
import os
import shutil
import time
import unittest

import backup_support as bs


# The subvolume probes prove what a btrfs snapshot would leave; auto would
# clone (reflink), which the missing 9803 event rules out just as well.
BTRFS = {"snapshot": "btrfs"}

class NoChange(unittest.TestCase):
    def setUp(self):
        self.sb = sb = bs.Sandbox(self, "nochange")
        samples = os.environ.get("PSTSNAP_SAMPLES_DIR", "")
        self.sources = [os.path.join(sb.outlook_dir, "Mail.pst"),
                        os.path.join(sb.outlook_dir, "Archive.pst"),
                        os.path.join(sb.files_dir, "Old.pst")]
        sample = os.path.join(samples, "aspose-Outlook.pst")
        for i, path in enumerate(self.sources):
            if i == 0 and os.path.isfile(sample):
                shutil.copyfile(sample, path)  # a real store where there is one
            else:
                bs.write_random_file(path, (i + 1) * 700 * 1024 + 5, f"nochange-{i}")
            # At rest for an hour, as a PST is between two Outlook sessions.
            bs.set_mtime_past(path, 3600)

    def subvolume_probe(self, name):
        """Create and delete a subvolume; its id tells how many were made before."""
        path = os.path.join(self.sb.mnt, f"probe-{os.getpid()}-{name}")
        bs.run_tool(["btrfs", "subvolume", "create", path])
        try:
            return bs.btrfs_subvolume_id(path)
        finally:
            bs.run_tool(["btrfs", "subvolume", "delete", path])

    def test_unchanged_run_takes_no_snapshot_and_copies_nothing(self):
        sb = self.sb
        first = sb.fire(BTRFS)
        self.assertEqual(first.rc, 0, first.describe())
        self.assertEqual(first.summary().get("copied"), len(self.sources), first.describe())
        self.assertTrue(first.has(bs.EV_SNAPSHOT_CREATED), first.describe())
        self.assertEqual(first.summary().get("snapshot"), "btrfs", first.describe())
        dest_before = sb.dest_files()
        manifest_before = [(p, os.stat(p).st_mtime_ns) for p in sb.manifest_paths()]
        self.assertEqual(len(dest_before), len(self.sources), dest_before)

        # --- nothing changed ---------------------------------------------------
        subvols_before = bs.btrfs_subvolume_list(sb.mnt)
        id_before = self.subvolume_probe("a")
        second = sb.fire(BTRFS)
        id_after = self.subvolume_probe("b")
        subvols_after = bs.btrfs_subvolume_list(sb.mnt)

        self.assertEqual(second.rc, 0, second.describe())
        summary = second.summary()
        self.assertEqual(summary.get("copied"), 0, second.describe())
        self.assertEqual(summary.get("unchanged"), len(self.sources), second.describe())
        self.assertEqual(summary.get("bytesRead"), 0, second.describe())
        self.assertEqual(summary.get("bytesWritten"), 0, second.describe())
        self.assertFalse(second.has(bs.EV_SNAPSHOT_CREATED), second.describe())
        self.assertEqual(second.backed_up(), [], second.describe())
        self.assertEqual(subvols_after, subvols_before, "subvolumes changed during the run")
        self.assertEqual(id_after, id_before + 1,
                         f"{id_after - id_before - 1} subvolume(s) were made (and removed) during "
                         f"a run that had nothing to do\n{second.describe()}")
        self.assertEqual(sb.dest_files(), dest_before, "the destination was written")
        self.assertEqual([(p, os.stat(p).st_mtime_ns) for p in sb.manifest_paths()],
                         manifest_before, "the manifest was rewritten")
        self.assertEqual(sb.leftovers(), {})
        print(f"unchanged run: {summary.get('unchanged')} unchanged, no snapshot (subvolume ids "
              f"{id_before} -> {id_after}), destination untouched")

        # --- one PST touched -----------------------------------------------------
        touched = self.sources[1]
        t = time.time_ns() - 60 * 10**9
        os.utime(touched, ns=(t, t))
        third = sb.fire(BTRFS)
        self.assertEqual(third.rc, 0, third.describe())
        summary = third.summary()
        self.assertEqual(third.backed_up(), [touched], third.describe())
        self.assertEqual(summary.get("copied"), 1, third.describe())
        self.assertEqual(summary.get("unchanged"), len(self.sources) - 1, third.describe())
        created = third.of(bs.EV_SNAPSHOT_CREATED)
        self.assertEqual([e["detail"].get("files") for e in created], [1],
                         f"the snapshot should cover the touched PST only\n{third.describe()}")
        dest_after = sb.dest_files()
        rel_touched = os.path.relpath(sb.final_for(touched), sb.fd)
        for rel, meta in dest_before.items():
            if rel != rel_touched:
                self.assertEqual(dest_after.get(rel), meta, f"'{rel}' was rewritten")
        self.assertNotEqual(dest_after[rel_touched], dest_before[rel_touched],
                            "the touched PST's backup was not republished")
        for src in self.sources:
            self.assertEqual(bs.sha256_of(sb.final_for(src)), bs.sha256_of(src))
        self.assertEqual(sb.leftovers(), {})
        print(f"after touching {os.path.basename(touched)}: only it was copied")


if __name__ == "__main__":
    bs.main()
