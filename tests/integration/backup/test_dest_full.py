"""A destination that fills up mid-copy fails the run clearly and costs the
user nothing: the previous backup stays byte for byte, and the half-written
staging file is deleted (a full sync folder hurts more than a lost head
start: see report_copy_error in plugin/core/pipeline.c).

The destination ($(DataNowHome)) is a 64 MiB ext4 filesystem of its own on a
loop device; the profile stays on the btrfs fixture, so the copy reads from
a snapshot as usual. A small PST is backed up first; then it grows beyond
the free space and the next run must:
- fail: emhost exits 1, one error event 9823 saying the destination is full;
- leave the previous backup byte-identical, and no staging file or journal;
- give the space back.
"""
import os
import subprocess
import unittest

import backup_support as bs

IMAGE_SIZE = 64 * bs.MiB


class DestinationFull(unittest.TestCase):
    def setUp(self):
        self.sb = bs.Sandbox(self, "destfull")
        for tool in ("mkfs.ext4", "losetup", "mount", "umount"):
            bs.require_tool(tool)
        tmp_root = os.environ.get("PSTSNAP_TEST_TMP") or self.sb.work
        self.tmp = os.path.join(tmp_root, f"destfull-{os.getpid()}")
        os.makedirs(self.tmp, exist_ok=True)
        self.addCleanup(bs.shutil.rmtree, self.tmp, True)
        img = os.path.join(self.tmp, "dest.img")
        with open(img, "wb") as f:
            f.truncate(IMAGE_SIZE)
        # -m 0: no blocks reserved for root, who runs the backup here and
        # would otherwise write into them.
        bs.run_tool(["mkfs.ext4", "-q", "-F", "-m", "0", img])
        p = bs.run_tool(["losetup", "-f", "--show", img], check=False)
        if p.returncode != 0 or not p.stdout.strip():
            bs.skip(f"no free loop device for the small destination: {p.stderr.strip()}")
        dev = p.stdout.strip()
        self.addCleanup(subprocess.run, ["losetup", "-d", dev], check=False)
        mnt = os.path.join(self.tmp, "mnt")
        os.makedirs(mnt, exist_ok=True)
        p = bs.run_tool(["mount", "-t", "ext4", dev, mnt], check=False)
        if p.returncode != 0:
            bs.skip(f"cannot mount ext4 from {dev}: {p.stderr.strip()}")
        self.addCleanup(subprocess.run, ["umount", mnt], check=False)
        self.sb.fd = mnt

    def free_bytes(self):
        st = os.statvfs(self.sb.fd)
        return st.f_bavail * st.f_frsize

    def test_full_destination_fails_clearly_and_keeps_the_previous_backup(self):
        sb = self.sb
        source = os.path.join(sb.outlook_dir, "Mail.pst")
        bs.write_random_file(source, 3 * bs.MiB + 4321, "mail-v1")
        bs.set_mtime_past(source, 3600)
        first = sb.fire()
        self.assertEqual(first.rc, 0, first.describe())
        self.assertEqual(first.backed_up(), [source], first.describe())
        final = sb.final_for(source)
        previous = bs.sha256_of(final)
        self.assertEqual(previous, bs.sha256_of(source))

        free = self.free_bytes()
        grown = free + 8 * bs.MiB
        bs.write_random_file(source, grown, "mail-v2")
        bs.set_mtime_past(source, 1800)
        second = sb.fire()
        print(f"free {free // bs.MiB} MiB, source grown to {grown // bs.MiB} MiB: emhost exit "
              f"{second.rc}")

        self.assertEqual(second.rc, 1, second.describe())
        full = second.of(bs.EV_NO_SPACE)
        self.assertEqual(len(full), 1, f"expected one 9823 event\n{second.describe()}")
        self.assertEqual(full[0].get("level"), "error", second.describe())
        self.assertIn("destination full", full[0].get("message", ""), second.describe())
        self.assertEqual(full[0]["detail"].get("path"), source, second.describe())
        summary = second.summary()
        self.assertEqual(summary.get("copied"), 0, second.describe())
        self.assertEqual(summary.get("failed"), 1, second.describe())
        self.assertEqual(second.backed_up(), [], second.describe())

        self.assertEqual(bs.sha256_of(final), previous, "the previous backup changed")
        self.assertEqual(sb.leftovers(), {}, "left behind after the failed copy")
        self.assertGreaterEqual(self.free_bytes(), free - bs.MiB,
                                "the space the failed copy used was not given back")
        print(f"9823: {full[0]['message']}")


if __name__ == "__main__":
    bs.main()
