"""Hostile profiles: an elevated run (Run As System, `emhost --user`) for an
ordinary user treats the user's folders as untrusted input.

The test creates a real non-root account owning the sandbox profile and its
File Director folder, and fires for that user. Each test plants something:
- symlinks to /etc/shadow and into another user's home (uid 65534, mode
  0700), and a source folder that is itself such a link: nothing of theirs
  is copied, each link gets a warning (9807, or 9813 for the source);
- hard links to a root-only file and to another user's file (on the same
  filesystem: a hard link cannot reach /etc/shadow on another one): not
  copied, warned about as not the user's;
- bind mounts inside a source folder (mount --bind; skipped where mount
  fails), each not crossed or read and warned about as a mount point: a
  folder of another volume; a root-only folder of the profile's own volume
  (the same st_dev, so only statx's mount-root attribute tells) holding a
  PST of the user's; and a file of the user's, in a root-only folder,
  mounted over a *.pst name;
- a destination, or the sync folder above it, that is a link into a folder
  only root may write: refused with 9821, nothing written there;
- a PST swapped for a link between discovery and open (the run is paused
  there with the fault build's PSTSNAP_FAULT_PAUSE_AT), with and without a
  snapshot, its folder swapped for a link to another user's folder
  holding a file of the same size and mtime, and a root-only file
  bind-mounted over it: the open refuses, the secret is never copied, the
  previous backup stays.
"""
import os
import pwd
import secrets
import shutil
import subprocess
import threading
import time
import unittest

import backup_support as bs

EV_COPY_FAILED = 9822
EV_DESTINATION_ERROR = 9821
NOBODY = 65534


class UserProfile(unittest.TestCase):
    """A sandbox whose profile and sync folder belong to a fresh account."""

    def setUp(self):
        if os.geteuid() != 0:
            bs.skip("needs root to create a user and run elevated for them")
        for tool in ("useradd", "userdel"):
            if not shutil.which(tool):
                bs.skip(f"'{tool}' is not installed")
        self.sb = sb = bs.Sandbox(self, "hostile")
        self.user = "pstsnap" + secrets.token_hex(4)
        p = subprocess.run(["useradd", "--no-create-home", "--home-dir", sb.profile, "--shell",
                            "/usr/sbin/nologin", "--user-group", self.user],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            bs.skip(f"useradd failed: {p.stdout.strip()}")
        self.addCleanup(subprocess.run, ["userdel", self.user], stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
        pw = pwd.getpwnam(self.user)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.mail = os.path.join(sb.outlook_dir, "Mail.pst")
        bs.write_random_file(self.mail, 300 * 1024, "hostile-mail")
        bs.set_mtime_past(self.mail, 3600)
        self.give_to_user(sb.profile)
        self.give_to_user(sb.fd)
        # Someone else's home: another uid, closed to everyone else.
        self.other_home = os.path.join(sb.work, "otherhome")
        self.other_pst = os.path.join(self.other_home, "Private.pst")
        bs.write_random_file(self.other_pst, 120 * 1024, "other-user")
        os.chmod(self.other_pst, 0o600)
        os.chmod(self.other_home, 0o700)
        for p in (self.other_home, self.other_pst):
            os.chown(p, NOBODY, NOBODY)
        self.secret_hashes = {bs.sha256_of(self.other_pst), bs.sha256_of("/etc/shadow")}

    def give_to_user(self, top):
        for dirpath, _, files in os.walk(top):
            for n in [dirpath] + [os.path.join(dirpath, f) for f in files]:
                os.lchown(n, self.uid, self.gid)

    def mine(self, path):
        os.lchown(path, self.uid, self.gid)
        return path

    def bind_mount(self, source, target):
        """mount --bind source target, unmounted when the test ends."""
        if not shutil.which("mount"):
            bs.skip("'mount' is not installed")
        p = subprocess.run(["mount", "--bind", source, target], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            bs.skip(f"mount --bind failed: {p.stdout.strip()}")
        # Unmounted before the sandbox is removed (cleanups run last first).
        self.addCleanup(subprocess.run, ["umount", "-l", target], stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)

    def root_only_folder(self):
        """A folder only root may enter, on the profile's own volume (the
        profile is a subvolume: its own st_dev), outside every source."""
        place = os.path.join(self.sb.profile, "root-only")
        os.makedirs(place)
        os.chmod(place, 0o700)
        return place

    def fire(self, params=None, env=None):
        return self.sb.fire(params or {}, env=env, args=("--user", self.user),
                            timeout=120)

    def assert_no_secret_copied(self, run):
        for dirpath, _, files in os.walk(self.sb.fd):
            for f in files:
                p = os.path.join(dirpath, f)
                self.assertNotIn(bs.sha256_of(p), self.secret_hashes,
                                 f"'{p}' is a copy of a file the user may not read\n"
                                 f"{run.describe()}")

    def warnings_about(self, run, event_id=bs.EV_FILE_SKIPPED):
        return {e["detail"].get("path"): e["detail"].get("reason", "") for e in run.of(event_id)
                if e.get("level") == "warning"}


class HostileProfiles(UserProfile):
    def test_symlinks_to_etc_shadow_and_another_users_home_are_not_followed(self):
        sb = self.sb
        shadow = os.path.join(sb.outlook_dir, "Shadow.pst")
        os.symlink("/etc/shadow", shadow)
        os.lchown(shadow, self.uid, self.gid)
        other_file = os.path.join(sb.outlook_dir, "Private.pst")
        os.symlink(self.other_pst, other_file)
        os.lchown(other_file, self.uid, self.gid)
        other_dir = os.path.join(sb.files_dir, "Theirs")
        os.symlink(self.other_home, other_dir)
        os.lchown(other_dir, self.uid, self.gid)
        linked_source = os.path.join(sb.profile, "LinkedSource")
        os.symlink("/etc", linked_source)
        os.lchown(linked_source, self.uid, self.gid)
        run = self.fire({"sources": ["%USERPROFILE%\\LinkedSource",
                                     "%LOCALAPPDATA%\\Microsoft\\Outlook",
                                     "%USERPROFILE%\\Documents\\Outlook Files"]})
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(run.backed_up(), [self.mail], run.describe())
        warned = self.warnings_about(run)
        for link in (shadow, other_file, other_dir):
            self.assertIn(link, warned, f"no warning about '{link}'\n{run.describe()}")
            self.assertIn("link", warned[link])
        self.assertIn(linked_source, self.warnings_about(run, bs.EV_SOURCE_SKIPPED),
                      run.describe())
        self.assertEqual(sb.backups(), {os.path.join("Outlook", "Mail.pst")})
        self.assert_no_secret_copied(run)

    def test_hard_links_to_files_the_user_cannot_read_are_not_copied(self):
        sb = self.sb
        root_secret = os.path.join(sb.work, "root-secret", "Root.pst")
        bs.write_random_file(root_secret, 90 * 1024, "root-secret")
        os.chmod(root_secret, 0o600)
        self.secret_hashes.add(bs.sha256_of(root_secret))
        # Hard links need the same filesystem: move the profile's view of
        # them onto it (the fixture's top volume holds work/ and home/).
        here = os.path.join(sb.work, "linkdir")
        os.makedirs(here)
        hard_root = os.path.join(here, "Root.pst")
        hard_other = os.path.join(here, "Private.pst")
        os.link(root_secret, hard_root)
        os.link(self.other_pst, hard_other)
        os.chown(here, self.uid, self.gid)
        run = self.fire({"sources": [here, "%LOCALAPPDATA%\\Microsoft\\Outlook"]})
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(run.backed_up(), [self.mail], run.describe())
        warned = self.warnings_about(run)
        for p in (hard_root, hard_other):
            self.assertIn(p, warned, f"no warning about the hard link '{p}'\n{run.describe()}")
            self.assertIn("not owned", warned[p])
        self.assertEqual(run.summary().get("skipped"), 2, run.describe())
        self.assert_no_secret_copied(run)

    def test_a_bind_mount_inside_a_source_folder_is_not_crossed(self):
        sb = self.sb
        target = os.path.join(sb.outlook_dir, "Mounted")
        os.makedirs(target)
        os.chown(target, self.uid, self.gid)
        # work/ lives on the fixture's top volume, the profile on a
        # subvolume of its own: another device, as a mounted drive is.
        self.bind_mount(self.other_home, target)
        self.assertNotEqual(os.lstat(target).st_dev, os.lstat(sb.outlook_dir).st_dev)
        run = self.fire()
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(run.backed_up(), [self.mail], run.describe())
        warned = self.warnings_about(run)
        self.assertIn(target, warned, f"no warning about the mount point\n{run.describe()}")
        self.assertIn("mount point", warned[target])
        self.assert_no_secret_copied(run)

    def test_a_bind_mount_from_the_same_volume_is_not_crossed(self):
        # A folder the user may not enter, holding a PST of theirs (so the
        # owner check would let it through), mounted inside their Outlook
        # folder from the very volume the profile is on: st_dev is the
        # same, and only the mount-root attribute tells.
        sb = self.sb
        hidden = os.path.join(self.root_only_folder(), "Archive")
        os.makedirs(hidden)
        archive = os.path.join(hidden, "Archive.pst")
        bs.write_random_file(archive, 80 * 1024, "root-only-archive")
        self.mine(archive)
        bs.set_mtime_past(archive, 3600)
        self.secret_hashes.add(bs.sha256_of(archive))
        target = os.path.join(sb.outlook_dir, "Mounted")
        os.makedirs(target)
        self.mine(target)
        self.bind_mount(hidden, target)
        self.assertEqual(os.lstat(target).st_dev, os.lstat(sb.outlook_dir).st_dev)
        self.assertEqual(os.lstat(os.path.join(target, "Archive.pst")).st_uid, self.uid)
        run = self.fire()
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(run.backed_up(), [self.mail], run.describe())
        warned = self.warnings_about(run)
        self.assertIn(target, warned, f"no warning about the mount point\n{run.describe()}")
        self.assertIn("mount point", warned[target])
        self.assertFalse([p for p in warned if p.startswith(target + os.sep)],
                         f"the mount was entered\n{run.describe()}")
        self.assertEqual(sb.backups(), {os.path.join("Outlook", "Mail.pst")})
        self.assert_no_secret_copied(run)

    def test_a_file_bind_mounted_over_a_pst_name_is_not_read(self):
        # The file is the user's (so the owner check would let it through)
        # but sits in a folder only root may enter.
        sb = self.sb
        secret = os.path.join(self.root_only_folder(), "Secret.pst")
        bs.write_random_file(secret, 70 * 1024, "root-only-secret")
        os.chmod(secret, 0o600)
        self.mine(secret)
        bs.set_mtime_past(secret, 3600)
        self.secret_hashes.add(bs.sha256_of(secret))
        stolen = os.path.join(sb.outlook_dir, "Stolen.pst")
        with open(stolen, "wb"):
            pass
        self.mine(stolen)
        self.bind_mount(secret, stolen)
        self.assertEqual(os.lstat(stolen).st_ino, os.lstat(secret).st_ino)
        self.assertEqual(os.lstat(stolen).st_dev, os.lstat(sb.outlook_dir).st_dev)
        run = self.fire()
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(run.backed_up(), [self.mail], run.describe())
        warned = self.warnings_about(run)
        self.assertIn(stolen, warned, f"no warning about the mounted file\n{run.describe()}")
        self.assertIn("mount point", warned[stolen])
        self.assertEqual(sb.backups(), {os.path.join("Outlook", "Mail.pst")})
        self.assert_no_secret_copied(run)

    def assert_destination_refused(self, run, place):
        self.assertEqual(run.rc, 1, run.describe())
        errors = [e for e in run.of(EV_DESTINATION_ERROR) if e.get("level") == "error"]
        self.assertEqual(len(errors), 1, run.describe())
        self.assertIn("link", errors[0].get("message", ""), run.describe())
        self.assertEqual(run.backed_up(), [], run.describe())
        self.assertEqual(os.listdir(place), [], f"something was written into '{place}'")

    def test_a_destination_that_is_a_link_into_a_root_only_folder_is_refused(self):
        sb = self.sb
        place = os.path.join(sb.work, "root-only")
        os.makedirs(place, mode=0o700)
        os.makedirs(sb.fd, exist_ok=True)
        os.symlink(place, sb.dest)
        os.lchown(sb.dest, self.uid, self.gid)
        self.assert_destination_refused(self.fire(), place)

    def test_a_sync_folder_that_is_a_link_into_a_root_only_folder_is_refused(self):
        # $(DataNowHome) itself is the user's link; the destination below it
        # does not exist yet and would be created inside the root-only folder.
        sb = self.sb
        place = os.path.join(sb.work, "root-only")
        os.makedirs(place, mode=0o700)
        shutil.rmtree(sb.fd)
        os.symlink(place, sb.fd)
        os.lchown(sb.fd, self.uid, self.gid)
        self.assert_destination_refused(self.fire(), place)


class SwappedForALink(UserProfile):
    """Time of check to time of use: the world changes while the run is
    paused after discovery, before the PST is opened."""

    PAUSE_MS = 1500

    def fire_paused(self, point, swap, params):
        trace = os.path.join(self.sb.work, f"trace-{self.sb.runs + 1}")
        env = {"PSTSNAP_FAULT_TRACE": trace, "PSTSNAP_FAULT_PAUSE_AT": f"{point}:{self.PAUSE_MS}"}
        out = {}
        t = threading.Thread(target=lambda: out.update(run=self.fire(params, env=env)))
        t.start()
        reached = False
        deadline = time.monotonic() + 30
        while t.is_alive() and time.monotonic() < deadline and not reached:
            if os.path.exists(trace):
                with open(trace, encoding="utf-8") as f:
                    reached = any(line.split()[-1] == point for line in f if line.strip())
            time.sleep(0.01)
        if reached:
            swap()
        t.join(timeout=120)
        if not reached:
            bs.skip(f"the run never paused at '{point}' (a build without "
                    "PSTSNAP_FAULT_INJECTION; configure with -DPSTSNAP_FAULT_INJECTION=ON)")
        return out["run"]

    def back_up_once(self, params):
        run = self.fire(params)
        self.assertEqual(run.backed_up(), [self.mail], run.describe())
        self.previous = bs.sha256_of(self.sb.final_for(self.mail))
        # A new version, so the next run copies it.
        bs.write_random_file(self.mail, 310 * 1024, "hostile-mail-2")
        self.mine(self.mail)
        bs.set_mtime_past(self.mail, 1800)

    def swap_for_link(self, target):
        def swap():
            os.unlink(self.mail)
            os.symlink(target, self.mail)
            os.lchown(self.mail, self.uid, self.gid)
        return swap

    def assert_refused(self, run):
        self.assertEqual(run.rc, 1, run.describe())
        # The open refuses (9822), the snapshot refuses to freeze a link
        # (9824), or the opened file is not the one found (9826).
        failed = [e for e in run.events if e.get("eventId") in
                  (EV_COPY_FAILED, bs.EV_SNAPSHOT_FAILED, bs.EV_CHANGED_DURING_COPY)]
        self.assertEqual(len(failed), 1, run.describe())
        self.assertEqual(failed[0]["detail"]["path"], self.mail, run.describe())
        self.assertEqual(run.backed_up(), [], run.describe())
        self.assertEqual(bs.sha256_of(self.sb.final_for(self.mail)), self.previous,
                         "the previous backup was replaced")
        self.assert_no_secret_copied(run)
        return failed[0]

    def test_a_pst_swapped_for_a_link_before_open_is_refused_without_snapshot(self):
        params = {"snapshot": "none"}
        self.back_up_once(params)
        run = self.fire_paused("snapshot.after-create", self.swap_for_link("/etc/shadow"), params)
        event = self.assert_refused(run)
        self.assertIn("link", event["detail"]["reason"], run.describe())

    def test_a_pst_swapped_for_a_link_before_the_snapshot_is_refused(self):
        params = {"snapshot": "btrfs"}
        self.back_up_once(params)
        run = self.fire_paused("snapshot.before-create", self.swap_for_link(self.other_pst),
                               params)
        event = self.assert_refused(run)
        self.assertIn("link", event.get("message", ""), run.describe())
        # The refused create may leave its record for the next run's orphan
        # removal, never a snapshot; the next run (the PST a file again)
        # backs it up and leaves nothing.
        self.assertNotIn("snapshots", self.sb.leftovers())
        os.unlink(self.mail)
        bs.write_random_file(self.mail, 320 * 1024, "hostile-mail-3")
        self.mine(self.mail)
        bs.set_mtime_past(self.mail, 600)
        again = self.fire(params)
        self.assertEqual(again.backed_up(), [self.mail], again.describe())
        self.assertEqual(bs.sha256_of(self.sb.final_for(self.mail)), bs.sha256_of(self.mail))
        self.assertEqual(self.sb.leftovers(), {})

    def test_a_pst_swapped_for_a_bind_mounted_file_before_open_is_refused(self):
        # A file of the user's (the owner check passes) in a folder only
        # root may enter, mounted over the PST after discovery: the open
        # checks what it opened and refuses a mount point before anything
        # else looks at it.
        params = {"snapshot": "none"}
        self.back_up_once(params)
        secret = os.path.join(self.root_only_folder(), "Secret.pst")
        bs.write_random_file(secret, 310 * 1024, "root-only-secret")
        os.chmod(secret, 0o600)
        self.mine(secret)
        self.secret_hashes.add(bs.sha256_of(secret))
        refused = []

        def swap():
            try:
                self.bind_mount(secret, self.mail)
            except unittest.SkipTest as e:
                refused.append(e)

        run = self.fire_paused("snapshot.after-create", swap, params)
        if refused:
            raise refused[0]
        event = self.assert_refused(run)
        self.assertEqual(event.get("eventId"), EV_COPY_FAILED, run.describe())
        self.assertIn("mount point", event["detail"]["reason"], run.describe())

    def test_a_folder_swapped_for_a_link_to_a_same_sized_file_is_refused(self):
        # The attacker gives their PST the size and mtime of a file they
        # cannot read (stat needs no read access), then swaps the folder
        # holding it for a link to that file's folder: only the identity of
        # the opened file tells the two apart.
        params = {"snapshot": "none"}
        self.back_up_once(params)
        victim_dir = os.path.join(self.sb.work, "victim")
        victim = os.path.join(victim_dir, "Mail.pst")
        bs.write_random_file(victim, 310 * 1024, "the victim's")
        os.chmod(victim, 0o600)
        os.chown(victim, NOBODY, NOBODY)
        self.secret_hashes.add(bs.sha256_of(victim))
        st = os.stat(victim)
        os.utime(self.mail, ns=(st.st_atime_ns, st.st_mtime_ns))
        folder = os.path.dirname(self.mail)

        def swap():
            os.rename(folder, folder + ".away")
            os.symlink(victim_dir, folder)

        run = self.fire_paused("snapshot.after-create", swap, params)
        event = self.assert_refused(run)
        self.assertIn("replaced", event.get("message", ""), run.describe())


if __name__ == "__main__":
    bs.main()
