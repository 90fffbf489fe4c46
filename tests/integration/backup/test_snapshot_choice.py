"""Which snapshot method a run uses, and that it says so, through emhost.

- auto with the PSTs on btrfs clones them (reflink: event 9803 names it,
  the summary says reflink; a btrfs subvolume snapshot does not block the
  writer while it flushes, see plugin/snapshot/snapshot.c) and releases
  the clones;
- auto with a source folder on a filesystem with neither snapshots nor
  reflinks (a tmpfs mounted for the test) falls back to reading the file
  directly, and the events say so (9803 "none", summary "none"); with
  sources on both, each file gets the best method of its own volume and
  the summary names both;
- snapshot "none" on a quiet file publishes it;
- snapshot "btrfs" forced on the tmpfs cannot freeze the file: error 9824
  with the reason, the action fails, nothing is published.
"""
import os
import subprocess
import unittest

import backup_support as bs


class SnapshotChoice(unittest.TestCase):
    def setUp(self):
        self.sb = sb = bs.Sandbox(self, "choice")
        self.mail = os.path.join(sb.outlook_dir, "Mail.pst")
        bs.write_random_file(self.mail, 2 * bs.MiB + 5, "choice-mail")
        bs.set_mtime_past(self.mail, 3600)

    def mount_tmpfs(self):
        d = os.path.join(self.sb.work, "tmpfs", "Other PSTs")
        os.makedirs(d)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "pstsnap-test", d],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            bs.skip(f"cannot mount a tmpfs: {p.stdout.strip()}")
        self.addCleanup(subprocess.run, ["umount", "-l", d], check=False)
        self.assertEqual(bs.fstype_of_mount(d), "tmpfs")
        path = os.path.join(d, "Remote.pst")
        bs.write_random_file(path, bs.MiB + 17, "choice-tmpfs")
        bs.set_mtime_past(path, 3600)
        return d, path

    def providers_of(self, run):
        """{provider: files} from the snapshot events 9803."""
        return {e["detail"]["provider"]: e["detail"]["files"] for e in run.of(bs.EV_SNAPSHOT_CREATED)}

    def test_auto_on_btrfs_takes_a_reflink_clone(self):
        run = self.sb.fire({"snapshot": "auto"})
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(self.providers_of(run), {"reflink": 1}, run.describe())
        self.assertEqual(run.summary()["snapshot"], "reflink")
        ev = [e for e in run.of(bs.EV_BACKED_UP)]
        self.assertEqual(ev[0]["detail"]["snapshot"], "reflink")
        self.assertEqual(bs.sha256_of(self.sb.final_for(self.mail)), bs.sha256_of(self.mail))
        self.assertEqual(self.sb.leftovers(), {})

    def test_auto_falls_back_per_volume_and_says_which(self):
        d, remote = self.mount_tmpfs()
        run = self.sb.fire({"snapshot": "auto", "sources": [d]})
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(self.providers_of(run), {"none": 1}, run.describe())
        self.assertEqual(run.summary()["snapshot"], "none")
        final = os.path.join(self.sb.dest, "Other PSTs", "Remote.pst")
        self.assertEqual(bs.sha256_of(final), bs.sha256_of(remote))
        # Both volumes in one run: a clone for one, a direct read for the other.
        os.unlink(final)
        run = self.sb.fire({"snapshot": "auto",
                            "sources": ["%LOCALAPPDATA%\\Microsoft\\Outlook", d]})
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(self.providers_of(run), {"reflink": 1, "none": 1}, run.describe())
        self.assertEqual(sorted(run.summary()["snapshot"].split(",")), ["none", "reflink"])
        by_path = {e["detail"]["path"]: e["detail"]["snapshot"] for e in run.of(bs.EV_BACKED_UP)}
        self.assertEqual(by_path, {self.mail: "reflink", remote: "none"}, run.describe())
        self.assertEqual(bs.sha256_of(final), bs.sha256_of(remote))
        self.assertEqual(self.sb.leftovers(), {})

    def test_none_publishes_a_quiet_file(self):
        run = self.sb.fire({"snapshot": "none"})
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(self.providers_of(run), {"none": 1}, run.describe())
        self.assertEqual(run.backed_up(), [self.mail])
        self.assertFalse(run.has(bs.EV_CHANGED_DURING_COPY), run.describe())
        self.assertEqual(bs.sha256_of(self.sb.final_for(self.mail)), bs.sha256_of(self.mail))
        self.assertEqual(bs.subvolumes_below(self.sb.profile), [])

    def test_a_forced_method_that_cannot_work_fails_clearly(self):
        d, remote = self.mount_tmpfs()
        run = self.sb.fire({"snapshot": "btrfs", "sources": [d]})
        self.assertEqual(run.rc, 1, run.describe())
        failed = run.of(bs.EV_SNAPSHOT_FAILED)
        self.assertEqual([e["detail"]["path"] for e in failed], [remote], run.describe())
        self.assertEqual(failed[0]["level"], "error")
        self.assertIn("btrfs", failed[0]["message"])
        s = run.summary()
        self.assertEqual((s.get("seen"), s.get("copied"), s.get("failed")), (1, 0, 1),
                         run.describe())
        self.assertEqual(run.of(bs.EV_SUMMARY)[0]["level"], "warning")
        self.assertEqual(self.sb.backups(), set(), run.describe())
        self.assertEqual(self.sb.leftovers(), {})


if __name__ == "__main__":
    bs.main()
