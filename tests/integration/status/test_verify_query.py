"""emhost verify for pstsnap.BackupPsts, through the ABI's query: a fresh
backup of a real PST passes; a backup damaged after publishing is reported
with the offset, and the exit code says so."""

import json
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from status_support import Profile  # noqa: E402

SAMPLES = os.environ.get("PSTSNAP_SAMPLES_DIR") or ""
SAMPLE = os.path.join(SAMPLES, "aspose-Outlook.pst")


class VerifyQuery(unittest.TestCase):
    def setUp(self):
        self.p = Profile(self)
        dst = os.path.join(self.p.files, "Mail.pst")
        shutil.copyfile(SAMPLE, dst)
        t = os.stat(dst).st_mtime_ns - 3600 * 10**9
        os.utime(dst, ns=(t, t))
        self.policy = self.p.policy(verify="full")
        r = self.p.fire(self.policy)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.backup = os.path.join(self.p.dest, "Outlook Files", "Mail.pst")

    def verify(self, *extra):
        return self.p.emhost(["verify", self.policy, *self.p.common(), *extra])

    def test_a_fresh_backup_verifies(self):
        r = self.verify()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^  ok   .*Outlook Files/Mail\.pst$")
        doc = json.loads(self.verify("--json").stdout)
        (answer,) = doc["actions"]
        self.assertTrue(answer["healthy"])
        self.assertEqual(answer["result"]["items"][0]["problems"], [])

    def test_a_damaged_backup_is_reported_with_its_offset(self):
        st = os.stat(self.backup)
        offset = st.st_size // 2
        with open(self.backup, "r+b") as f:
            f.seek(offset)
            byte = f.read(1)
            f.seek(offset)
            f.write(bytes([byte[0] ^ 0xFF]))
        os.utime(self.backup, ns=(st.st_atime_ns, st.st_mtime_ns))  # as if nobody wrote it
        r = self.verify()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^  BAD  .*Outlook Files/Mail\.pst$")
        self.assertIn("differ from what was published", r.stdout)
        doc = json.loads(self.verify("--json").stdout)
        (answer,) = doc["actions"]
        self.assertFalse(answer["healthy"])
        (f,) = answer["result"]["files"]
        self.assertFalse(f["blocksOk"])
        block = f["blockSize"]
        self.assertIn(offset // block, f["badBlocks"])


if __name__ == "__main__":
    if not os.path.isfile(SAMPLE):
        print(f"SKIPPED: the PST sample {SAMPLE!r} is missing (PSTSNAP_SAMPLES_DIR)")
        sys.exit(77)
    unittest.main(verbosity=2)
