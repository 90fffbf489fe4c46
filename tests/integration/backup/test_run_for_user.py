"""An elevated run acting for a logged-on user (Run As = System), via emhost.

As root, the test creates a real non-root account whose home is the
sandbox profile (it owns the profile and $(DataNowHome), as a user does),
and fires with `emhost --user NAME`:
- that user's profile is discovered (the default sources resolve to their
  home, not root's) and their PSTs are backed up; a PST in their profile
  owned by someone else (root) is skipped with a warning, never copied;
- every folder pstsnap creates in the destination and every backup it
  publishes, kept versions included, belongs to the user, not root, so the
  user's sync client can delete and replace them: the test does both as
  that user, and the next run restores them, again as the user's.
Skipped where the test cannot run as root or has no useradd.
"""
import os
import secrets
import shutil
import stat
import subprocess
import unittest

import backup_support as bs


class RunForUser(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            bs.skip("needs root to create a user and run elevated for them")
        for tool in ("useradd", "userdel"):
            if not shutil.which(tool):
                bs.skip(f"'{tool}' is not installed")
        self.sb = sb = bs.Sandbox(self, "foruser")
        self.name = "pstsnap" + secrets.token_hex(4)
        p = subprocess.run(["useradd", "--no-create-home", "--home-dir", sb.profile,
                            "--shell", "/usr/sbin/nologin", "--user-group", self.name],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            bs.skip(f"useradd failed: {p.stdout.strip()}")
        self.addCleanup(subprocess.run, ["userdel", self.name], stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
        import pwd
        pw = pwd.getpwnam(self.name)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.mail = os.path.join(sb.outlook_dir, "Mail.pst")
        self.archive = os.path.join(sb.files_dir, "Old", "Archive.pst")
        self.planted = os.path.join(sb.outlook_dir, "Planted.pst")
        for i, p in enumerate((self.mail, self.archive, self.planted)):
            bs.write_random_file(p, 256 * 1024 + i, f"user-{i}")
            bs.set_mtime_past(p, 3600)
        # The user owns their profile and their File Director folder; the
        # planted file stays root's.
        for top in (sb.profile, sb.fd):
            for dirpath, dirnames, files in os.walk(top):
                for n in [dirpath] + [os.path.join(dirpath, f) for f in files]:
                    if n != self.planted:
                        os.lchown(n, self.uid, self.gid)
        self.params = {"keepVersions": 1}

    def fire(self):
        # HOME stays root's: the profile must come from the account, not
        # from this process's environment.
        run = self.sb.fire(self.params, args=("--user", self.name), env={"HOME": "/root"})
        self.assertEqual(run.rc, 0, run.describe())
        self.assertTrue(all(e.get("user") == self.name for e in run.events), run.describe())
        return run

    def as_user(self, *argv):
        p = subprocess.run(list(argv), user=self.uid, group=self.gid, extra_groups=[],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.assertEqual(p.returncode, 0, f"as {self.name}: {argv}: {p.stdout}")

    def assert_all_belong_to_the_user(self):
        """Every folder from the destination down and every file in it."""
        not_theirs = []
        for dirpath, _, files in os.walk(self.sb.dest):
            for p in [dirpath] + [os.path.join(dirpath, f) for f in files]:
                st = os.lstat(p)
                if (st.st_uid, st.st_gid) != (self.uid, self.gid):
                    not_theirs.append(f"{p} ({st.st_uid}:{st.st_gid})")
        self.assertEqual(not_theirs, [], f"not {self.name}'s ({self.uid}:{self.gid})")

    def test_backups_are_the_users_and_their_sync_client_can_replace_them(self):
        sb = self.sb
        run = self.fire()
        self.assertEqual(sorted(run.backed_up()), sorted([self.mail, self.archive]),
                         run.describe())
        skipped = {e["detail"]["path"]: e["detail"]["reason"] for e in run.of(bs.EV_FILE_SKIPPED)}
        self.assertIn(self.planted, skipped, run.describe())
        self.assertIn("not owned", skipped[self.planted])
        self.assertFalse(os.path.exists(sb.final_for(self.planted)))
        for src in (self.mail, self.archive):
            self.assertEqual(bs.sha256_of(sb.final_for(src)), bs.sha256_of(src))
        self.assert_all_belong_to_the_user()

        # A new version of Mail.pst: the kept version is the user's too.
        bs.write_random_file(self.mail, 300 * 1024, "user-mail-2")
        os.lchown(self.mail, self.uid, self.gid)
        bs.set_mtime_past(self.mail, 1800)
        run = self.fire()
        self.assertEqual(run.backed_up(), [self.mail], run.describe())
        names = os.listdir(os.path.dirname(sb.final_for(self.mail)))
        self.assertEqual(len([n for n in names if n.startswith("Mail (")]), 1, names)
        self.assert_all_belong_to_the_user()

        # The user's sync client deletes one backup, replaces another and
        # makes a folder of its own beside them.
        mail_final, archive_final = sb.final_for(self.mail), sb.final_for(self.archive)
        self.as_user("rm", "-f", archive_final)
        downloaded = os.path.join(sb.fd, "download.tmp")
        self.as_user("sh", "-c", f"head -c 1000 /dev/zero > '{downloaded}'")
        self.as_user("mv", "-f", downloaded, mail_final)
        self.as_user("mkdir", os.path.join(os.path.dirname(mail_final), ".sync"))
        run = self.fire()
        self.assertEqual(sorted(run.backed_up()), sorted([self.mail, self.archive]),
                         run.describe())
        for src in (self.mail, self.archive):
            self.assertEqual(bs.sha256_of(sb.final_for(src)), bs.sha256_of(src))
        self.assert_all_belong_to_the_user()
        mode = stat.S_IMODE(os.lstat(mail_final).st_mode)
        self.assertTrue(mode & stat.S_IRUSR and mode & stat.S_IWUSR, oct(mode))


if __name__ == "__main__":
    bs.main()
