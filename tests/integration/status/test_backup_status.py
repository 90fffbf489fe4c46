"""emhost status for pstsnap.BackupPsts: what the manifest, the journals,
the kept versions and the snapshot records say, per PST, and the exit code
monitoring reads."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from status_support import ACTION, MiB, Profile  # noqa: E402

MAIL = "Outlook Files/Mail.pst"
ARCHIVE = "Outlook Files/Archive.pst"


class BackupStatus(unittest.TestCase):
    def setUp(self):
        self.p = Profile(self)

    def test_found_but_never_backed_up_then_healthy_after_a_run(self):
        self.p.write_pst("Mail.pst", 300000, 1)
        policy = self.p.policy()
        rc, doc, items = self.p.status(policy)
        self.assertEqual(rc, 1)
        self.assertEqual(doc["manifest"], "missing")
        self.assertTrue(items[MAIL]["sourceFound"])
        self.assertIsNone(items[MAIL]["lastSuccess"])
        self.assertEqual(items[MAIL]["lastResult"], "never")

        r = self.p.fire(policy)
        self.assertEqual(r.returncode, 0, r.stderr)
        rc, doc, items = self.p.status(policy)
        self.assertEqual(rc, 0, doc)
        m = items[MAIL]
        self.assertEqual(m["lastResult"], "ok")
        self.assertEqual(m["size"], 300000)
        self.assertEqual(m["backupState"], "intact")
        self.assertIsNone(m["pendingResume"])
        self.assertEqual(m["versionsKept"], 0)
        self.assertLess(m["ageSeconds"], 120)
        self.assertEqual(doc["orphanedSnapshots"], [])
        human = self.p.emhost(["status", policy, *self.p.common()])
        self.assertEqual(human.returncode, 0, human.stdout + human.stderr)
        self.assertRegex(human.stdout, r"Outlook Files/Mail\.pst\s+\d{4}-\d\d-\d\dT[\d:]+Z\s+\d+s\s+293\.0 KiB\s+ok")

    def test_a_failed_attempt_keeps_the_last_good_backup_and_fails_the_check(self):
        self.p.write_pst("Mail.pst", 200000, 2)
        self.assertEqual(self.p.fire(self.p.policy()).returncode, 0)
        _, _, before = self.p.status(self.p.policy())
        self.p.write_pst("Mail.pst", 250000, 3)
        # Only btrfs may freeze it, and this folder is not on btrfs: the attempt fails.
        failing = self.p.policy(snapshot="btrfs")
        r = self.p.fire(failing)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        rc, doc, items = self.p.status(failing)
        self.assertEqual(rc, 1)
        m = items[MAIL]
        self.assertEqual(m["lastResult"], "failed")
        self.assertTrue(m["lastError"])
        self.assertEqual(m["lastSuccess"], before[MAIL]["lastSuccess"])
        self.assertEqual(m["size"], 200000)
        self.assertFalse(m["healthy"])
        self.assertGreater(m["lastAttempt"], "")

    def test_max_age(self):
        self.p.write_pst("Mail.pst", 1000, 4)
        policy = self.p.policy()
        self.assertEqual(self.p.fire(policy).returncode, 0)
        self.assertEqual(self.p.status(policy, "--max-age", "7d")[0], 0)
        time.sleep(2.2)
        rc, _, items = self.p.status(policy, "--max-age", "1s")
        self.assertEqual(rc, 1)
        self.assertFalse(items[MAIL]["healthy"])

    def test_interrupted_copy_shows_pending_resume_then_versions_after_reruns(self):
        self.p.write_pst("Mail.pst", 6 * MiB, 5)
        slow = self.p.policy(maxBandwidth=2, keepVersions=3)
        r = self.p.fire(slow, "--logoff-after", "1200", "--shutdown-deadline", "5000")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        rc, _, items = self.p.status(slow)
        m = items[MAIL]
        self.assertEqual(rc, 1)
        self.assertEqual(m["lastResult"], "interrupted")
        self.assertIsNone(m["lastSuccess"])
        self.assertGreater(m["pendingResume"]["stagedBytes"], 0)
        self.assertLess(m["pendingResume"]["stagedBytes"], 6 * MiB)
        self.assertEqual(m["pendingResume"]["totalBytes"], 6 * MiB)

        fast = self.p.policy(keepVersions=3)
        self.assertEqual(self.p.fire(fast).returncode, 0)
        self.p.write_pst("Mail.pst", 7000, 6)
        time.sleep(1.1)  # kept versions are named to the second
        self.assertEqual(self.p.fire(fast).returncode, 0)
        rc, _, items = self.p.status(fast)
        self.assertEqual(rc, 0)
        self.assertIsNone(items[MAIL]["pendingResume"])
        self.assertEqual(items[MAIL]["versionsKept"], 1)
        self.assertEqual(items[MAIL]["size"], 7000)

    def test_orphaned_snapshot_records_are_reported_and_left_alone(self):
        self.p.write_pst("Mail.pst", 1000, 7)
        policy = self.p.policy()
        self.assertEqual(self.p.fire(policy).returncode, 0)
        records = os.path.join(self.p.state, ACTION, "snapshots")
        os.makedirs(records, exist_ok=True)
        record = os.path.join(records, "reflink-1-2-00000000000000ab.rec")
        with open(record, "w") as f:
            f.write("reflink\n/nowhere/.pstsnap-clone-x\n/nowhere/half")  # last line unfinished
        rc, doc, _ = self.p.status(policy)
        self.assertEqual(rc, 0)
        (orphan,) = doc["orphanedSnapshots"]
        self.assertEqual(orphan["provider"], "reflink")
        self.assertEqual(orphan["artifacts"], ["/nowhere/.pstsnap-clone-x"])
        self.assertTrue(os.path.exists(record), "status must not remove anything")
        human = self.p.emhost(["status", policy, *self.p.common()])
        self.assertIn("orphaned snapshots: 1", human.stdout)

    def test_a_pst_gone_from_the_source_is_still_listed_from_the_manifest(self):
        pst = self.p.write_pst("Archive.pst", 1000, 8)
        policy = self.p.policy()
        self.assertEqual(self.p.fire(policy).returncode, 0)
        os.unlink(pst)
        rc, _, items = self.p.status(policy)
        self.assertEqual(rc, 0)
        self.assertFalse(items[ARCHIVE]["sourceFound"])
        self.assertEqual(items[ARCHIVE]["lastResult"], "ok")


if __name__ == "__main__":
    unittest.main(verbosity=2)
