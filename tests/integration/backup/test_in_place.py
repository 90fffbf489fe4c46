"""updateInPlace: where the destination cannot clone, a changed PST's
backup is patched in place through a redo log (plugin/core/patch.h), and a
kill anywhere in it loses nothing once the next run has finished.

The destination ($(DataNowHome)) is a tmpfs of its own, which cannot clone
extents (as NTFS and ext4 cannot); the profile stays on the btrfs fixture.
Checked:
- only the changed blocks are written (once to the redo log, once into the
  backup), the backup keeps its file id, and it equals the source;
- the parameter is off by default, and ignored with keepVersions (a kept
  version is a link to the backup) and where the volume clones (btrfs);
- a file that grows or shrinks is patched to its new size.
Kills (fault-injection builds) are in test_in_place_kill.py.
"""
import os
import random
import subprocess
import unittest

import backup_support as bs

BLOCK = 64 * 1024
PAGE = 4096
SIZE = 8 * bs.MiB


class InPlace(unittest.TestCase):
    def setUp(self):
        self.sb = sb = bs.Sandbox(self, "inplace")
        bs.require_tool("mount")
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m,mode=0755", "tmpfs", sb.fd],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            bs.skip(f"cannot mount a tmpfs destination: {p.stdout.strip()}")
        self.addCleanup(subprocess.run, ["umount", "-l", sb.fd], stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
        self.pst = os.path.join(sb.outlook_dir, "Mail.pst")
        bs.write_random_file(self.pst, SIZE, "inplace")
        bs.set_mtime_past(self.pst, 7200)

    def fire_ok(self, params=None, env=None):
        run = self.sb.fire(dict({"blockSize": 64}, **(params or {})), env=env)
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(run.summary().get("failed"), 0, run.describe())
        return run

    def backed_up(self, run, path=None):
        ev = [e for e in run.of(bs.EV_BACKED_UP) if e["detail"]["path"] == (path or self.pst)]
        self.assertEqual(len(ev), 1, run.describe())
        return ev[0]["detail"]

    def inode(self):
        return os.lstat(self.sb.final_for(self.pst)).st_ino

    def assert_equal_to_source(self, src=None):
        src = src or self.pst
        self.assertEqual(bs.sha256_of(self.sb.final_for(src)), bs.sha256_of(src))

    # --- what it writes --------------------------------------------------------------
    def test_only_the_changed_blocks_are_written_into_the_same_file(self):
        first = self.backed_up(self.fire_ok({"updateInPlace": True}))
        self.assertFalse(first["inPlace"], "a first backup has nothing to patch")
        before = self.inode()
        blocks = bs.change_pages(self.pst, 0.01, 1)
        bs.set_mtime_past(self.pst, 600)
        run = self.fire_ok({"updateInPlace": True})
        d = self.backed_up(run)
        self.assertTrue(d["inPlace"], run.describe())
        self.assertFalse(d["cloned"], run.describe())
        # Each changed block once into the redo log and once into the backup.
        self.assertEqual(d["bytesWritten"], 2 * len(blocks) * BLOCK, run.describe())
        self.assertEqual(d["clonedBlocks"], SIZE // BLOCK - len(blocks), run.describe())
        self.assertEqual(self.inode(), before, "the backup was replaced, not patched")
        self.assert_equal_to_source()
        self.assertEqual(self.sb.leftovers(), {})
        again = self.fire_ok({"updateInPlace": True})
        self.assertEqual(again.summary().get("copied"), 0, again.describe())
        print(f"in place: {len(blocks)} of {SIZE // BLOCK} blocks changed, "
              f"{d['bytesWritten']} bytes written, same file id")

    def test_a_file_that_grows_or_shrinks_is_patched_to_its_new_size(self):
        self.fire_ok({"updateInPlace": True})
        for size, seed in ((SIZE + 3 * BLOCK + 777, "grown"), (SIZE - 5 * BLOCK - 99, "shrunk")):
            with open(self.pst, "r+b") as f:
                f.truncate(size)
                f.seek(BLOCK * 3)
                f.write(random.Random(seed).randbytes(PAGE))
            bs.set_mtime_past(self.pst, 600 if seed == "grown" else 300)
            run = self.fire_ok({"updateInPlace": True})
            self.assertTrue(self.backed_up(run)["inPlace"], run.describe())
            self.assert_equal_to_source()
            self.assertEqual(os.path.getsize(self.sb.final_for(self.pst)), size)

    def test_off_by_default_and_with_kept_versions(self):
        self.fire_ok()
        for params in ({}, {"updateInPlace": True, "keepVersions": 1}):
            before = self.inode()
            bs.change_pages(self.pst, 0.01, len(params))
            bs.set_mtime_past(self.pst, 600 - len(params))
            run = self.fire_ok(params)
            self.assertFalse(self.backed_up(run)["inPlace"], f"{params}\n{run.describe()}")
            self.assertNotEqual(self.inode(), before, f"{params}: patched in place")
            self.assert_equal_to_source()


    def test_where_the_volume_clones_the_clone_is_used(self):
        sb = self.sb
        p = subprocess.run(["umount", sb.fd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        self.assertEqual(p.returncode, 0, p.stdout)  # back on the btrfs fixture
        self.fire_ok({"updateInPlace": True})
        before = self.inode()
        bs.change_pages(self.pst, 0.01, 9)
        bs.set_mtime_past(self.pst, 600)
        run = self.fire_ok({"updateInPlace": True})
        d = self.backed_up(run)
        self.assertTrue(d["cloned"], run.describe())
        self.assertFalse(d["inPlace"], run.describe())
        self.assertNotEqual(self.inode(), before, "patched in place on a volume that clones")
        self.assert_equal_to_source()


if __name__ == "__main__":
    bs.main()
