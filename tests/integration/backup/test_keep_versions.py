"""keepVersions: older backups kept beside the current one, through emhost.

With keepVersions 2, four backups of a changing PST (runs more than a second
apart, the resolution of the version names) leave the current backup and
the two before it as "Mail (YYYY-MM-DD HHMMSS).pst", each named after the
time of the backup it holds (local time) and holding exactly those bytes;
the oldest is pruned. Another PST in the same folder whose name merely
starts the same ("Mail archive.pst") is never taken for a version.
With keepVersions 0 no version is ever kept.
"""
import os
import re
import time
import unittest

import backup_support as bs

VERSION_RE = re.compile(r"^Mail \((\d{4}-\d{2}-\d{2} \d{6})\)\.pst$")


class KeepVersions(unittest.TestCase):
    def setUp(self):
        self.sb = sb = bs.Sandbox(self, "versions")
        self.mail = os.path.join(sb.outlook_dir, "Mail.pst")
        self.archive = os.path.join(sb.outlook_dir, "Mail archive.pst")
        bs.write_random_file(self.archive, 64 * 1024, "archive")
        bs.set_mtime_past(self.archive, 7200)
        self.folder = os.path.join(sb.dest, "Outlook")

    def backup_generation(self, params, n):
        """Write version n of Mail.pst, back it up; (sha256, mtime_ns) of the
        published backup."""
        bs.write_random_file(self.mail, 256 * 1024 + n * 1000, f"mail-{n}")
        bs.set_mtime_past(self.mail, 3600 - n)
        run = self.sb.fire(params)
        self.assertEqual(run.rc, 0, run.describe())
        self.assertIn(self.mail, run.backed_up(), run.describe())
        final = self.sb.final_for(self.mail)
        self.assertEqual(bs.sha256_of(final), bs.sha256_of(self.mail))
        return run, (bs.sha256_of(final), os.lstat(final).st_mtime_ns)

    def versions(self):
        """{stamp: sha256} of the kept versions of Mail.pst."""
        out = {}
        for name in os.listdir(self.folder):
            m = VERSION_RE.match(name)
            if m:
                out[m.group(1)] = bs.sha256_of(os.path.join(self.folder, name))
        return out

    def test_two_versions_are_kept_named_by_time_and_the_oldest_pruned(self):
        params = {"keepVersions": 2}
        published = []
        for n in range(4):
            if published:
                # Version names have a one-second resolution.
                wait = published[-1][1] / 1e9 + 1.05 - time.time()
                if wait > 0:
                    time.sleep(wait)
            run, pub = self.backup_generation(params, n)
            published.append(pub)
            kept = [e["detail"].get("versionKept") for e in run.of(bs.EV_BACKED_UP)
                    if e["detail"]["path"] == self.mail]
            self.assertEqual(kept, [n > 0], run.describe())
        want = {time.strftime("%Y-%m-%d %H%M%S", time.localtime(mtime_ns / 1e9)): sha
                for sha, mtime_ns in published[1:3]}
        self.assertEqual(self.versions(), want)
        names = sorted(os.listdir(self.folder))
        self.assertEqual(len(names), 4, names)  # Mail.pst, two versions, Mail archive.pst
        self.assertIn("Mail archive.pst", names)
        self.assertEqual(bs.sha256_of(os.path.join(self.folder, "Mail archive.pst")),
                         bs.sha256_of(self.archive))
        # An unchanged run keeps everything as it is.
        run = self.sb.fire(params)
        self.assertEqual(run.summary().get("copied"), 0, run.describe())
        self.assertEqual(self.versions(), want)

    def test_zero_keeps_no_version(self):
        params = {"keepVersions": 0}
        for n in range(3):
            run, _ = self.backup_generation(params, n)
            self.assertTrue(all(not e["detail"].get("versionKept") for e in run.of(bs.EV_BACKED_UP)),
                            run.describe())
        self.assertEqual(sorted(os.listdir(self.folder)), ["Mail archive.pst", "Mail.pst"])


if __name__ == "__main__":
    bs.main()
