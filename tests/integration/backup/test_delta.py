"""A changed PST costs one read of its snapshot and the writes of the
blocks that changed: on btrfs the staging file starts as a clone of the
last backup (plugin/core/copy.h), and the backup published from it shares
every unchanged extent with the previous one.

Proven by the engine's own count (9801 bytesWritten, the summary's
bytesWritten) and by the filesystem: `btrfs filesystem du` reports the
backup's bytes as shared with the kept previous version, except what
changed. And the delta never trusts a backup a sync client replaced.
"""
import hashlib
import os
import re
import unittest

import backup_support as bs

BLOCK = 64 * 1024
SIZE = 16 * bs.MiB


def sha256(path):
    return bs.sha256_of(path)


def btrfs_du(path):
    """(total, exclusive) bytes of `path` per `btrfs filesystem du --raw`."""
    out = bs.run_tool(["btrfs", "filesystem", "du", "--raw", path]).stdout
    line = out.strip().splitlines()[-1].split()
    return int(line[0]), int(line[1])


class Delta(unittest.TestCase):
    def setUp(self):
        self.sb = sb = bs.Sandbox(self, "delta")
        self.pst = os.path.join(sb.outlook_dir, "Mail.pst")
        bs.write_random_file(self.pst, SIZE, "delta")
        bs.set_mtime_past(self.pst, 3600)

    def fire_ok(self, params=None):
        run = self.sb.fire(params)
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(run.summary().get("failed"), 0, run.describe())
        return run

    def backed_up(self, run):
        ev = run.of(bs.EV_BACKED_UP)
        self.assertEqual(len(ev), 1, run.describe())
        return ev[0]["detail"]

    def test_only_the_changed_blocks_are_written_and_the_rest_is_shared(self):
        sb = self.sb
        first = self.backed_up(self.fire_ok({"keepVersions": 1}))
        self.assertEqual(first["bytesWritten"], SIZE)
        self.assertFalse(first["cloned"])
        final = sb.final_for(self.pst)

        blocks = bs.change_pages(self.pst, 0.01, 1)
        bs.set_mtime_past(self.pst, 600)
        run = self.fire_ok({"keepVersions": 1})
        d = self.backed_up(run)
        self.assertTrue(d["cloned"], run.describe())
        self.assertEqual(d["bytesWritten"], len(blocks) * BLOCK, run.describe())
        self.assertEqual(d["clonedBlocks"], SIZE // BLOCK - len(blocks), run.describe())
        self.assertEqual(run.summary().get("bytesWritten"), len(blocks) * BLOCK)
        self.assertEqual(run.summary().get("bytesRead"), SIZE)
        self.assertEqual(sha256(final), sha256(self.pst))

        # The kept version still holds the first backup's bytes, and the
        # filesystem shares all but the changed blocks between the two.
        versions = [os.path.join(os.path.dirname(final), n)
                    for n in os.listdir(os.path.dirname(final))
                    if re.fullmatch(r"Mail \(\d{4}-\d\d-\d\d \d{6}\)\.pst", n)]
        self.assertEqual(len(versions), 1, os.listdir(os.path.dirname(final)))
        self.assertNotEqual(sha256(versions[0]), sha256(final))
        bs.run_tool(["sync"])
        total, exclusive = btrfs_du(final)
        self.assertEqual(total, SIZE)
        self.assertLessEqual(exclusive, len(blocks) * BLOCK, "unchanged extents are not shared")

    def test_a_backup_replaced_by_a_sync_client_is_written_in_full(self):
        sb = self.sb
        self.fire_ok()
        final = sb.final_for(self.pst)
        st = os.stat(final)
        # A sync client puts other bytes under the name, same size and
        # mtime: only the file id tells.
        tmp = final + ".sync"
        bs.write_random_file(tmp, SIZE, "someone else")
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(tmp, final)
        bs.change_pages(self.pst, 0.01, 2)
        bs.set_mtime_past(self.pst, 600)
        run = self.fire_ok()
        d = self.backed_up(run)
        self.assertFalse(d["cloned"], run.describe())
        self.assertEqual(d["bytesWritten"], SIZE, run.describe())
        self.assertEqual(sha256(final), sha256(self.pst))

    def test_a_damaged_blockmap_costs_a_full_write_only(self):
        sb = self.sb
        self.fire_ok()
        d = os.path.join(sb.action_state, "blockmaps")
        maps = os.listdir(d)
        self.assertEqual(len(maps), 1, maps)
        with open(os.path.join(d, maps[0]), "r+b") as f:
            f.seek(100)
            f.write(b"\xff\xfe")
        bs.change_pages(self.pst, 0.01, 3)
        bs.set_mtime_past(self.pst, 600)
        run = self.fire_ok()
        detail = self.backed_up(run)
        self.assertFalse(detail["cloned"], run.describe())
        self.assertEqual(detail["bytesWritten"], SIZE)
        self.assertEqual(sha256(sb.final_for(self.pst)), sha256(self.pst))
        # ...and the next change is a delta again.
        blocks = bs.change_pages(self.pst, 0.01, 4)
        bs.set_mtime_past(self.pst, 300)
        detail = self.backed_up(self.fire_ok())
        self.assertTrue(detail["cloned"])
        self.assertEqual(detail["bytesWritten"], len(blocks) * BLOCK)
        self.assertEqual(sha256(sb.final_for(self.pst)), sha256(self.pst))


if __name__ == "__main__":
    bs.main()
