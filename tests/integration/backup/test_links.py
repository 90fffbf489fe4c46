"""Links are never followed, odd entries never stop a backup.

A profile is untrusted input: a link planted in it must not make an
elevated backup copy a file from elsewhere (another user's secrets) into
the user's sync folder. The profile gets
- Linked.pst: a symlink to a copy of a secret file outside the profile;
- Elsewhere: a symlinked subfolder pointing at a folder of secret PSTs;
- a source folder that is itself a symlink to the secret folder;
- Pipe.pst (a FIFO), Socket.pst (a Unix socket) and, where the kernel lets
  us make one, Device.pst (a character device);
- two ordinary PSTs.
The run must back up exactly the two ordinary PSTs, copy no byte of the
secrets, warn (9807 / 9813) about every link and odd entry by path, count
them as skipped in the summary, and finish promptly (a FIFO never blocks).
"""
import os
import socket
import stat
import unittest

import backup_support as bs


class Links(unittest.TestCase):
    def setUp(self):
        self.sb = sb = bs.Sandbox(self, "links")
        self.secret_dir = os.path.join(sb.work, "secret")
        self.secret = os.path.join(self.secret_dir, "Secret.pst")
        bs.write_random_file(self.secret, 200 * 1024, "secret")
        bs.write_random_file(os.path.join(self.secret_dir, "Hidden.pst"), 100 * 1024, "hidden")
        self.mail = os.path.join(sb.outlook_dir, "Mail.pst")
        self.good = os.path.join(sb.files_dir, "Good.pst")
        bs.write_random_file(self.mail, 300 * 1024, "mail")
        bs.write_random_file(self.good, 150 * 1024, "good")
        for p in (self.mail, self.good, self.secret):
            bs.set_mtime_past(p, 3600)
        self.secret_hashes = {bs.sha256_of(os.path.join(self.secret_dir, n))
                              for n in os.listdir(self.secret_dir)}

    def warned_paths(self, run, event_id):
        return {e["detail"].get("path") for e in run.of(event_id)}

    def assert_no_secret_copied(self, run):
        for rel in self.sb.backups():
            path = os.path.join(self.sb.dest, rel)
            self.assertNotIn(bs.sha256_of(path), self.secret_hashes,
                             f"'{rel}' is a copy of a file outside the profile\n{run.describe()}")

    def test_linked_pst_and_linked_folder_are_not_followed(self):
        sb = self.sb
        linked_pst = os.path.join(sb.outlook_dir, "Linked.pst")
        linked_dir = os.path.join(sb.outlook_dir, "Elsewhere")
        os.symlink(self.secret, linked_pst)
        os.symlink(self.secret_dir, linked_dir)
        # A relative link to a PST in the same folder is still a link.
        os.symlink("Mail.pst", os.path.join(sb.files_dir, "Alias.pst"))
        run = sb.fire()
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(sorted(run.backed_up()), sorted([self.mail, self.good]), run.describe())
        self.assertEqual(sb.backups(), {os.path.join("Outlook", "Mail.pst"),
                                        os.path.join("Outlook Files", "Good.pst")})
        self.assert_no_secret_copied(run)
        warned = self.warned_paths(run, bs.EV_FILE_SKIPPED)
        for p in (linked_pst, linked_dir, os.path.join(sb.files_dir, "Alias.pst")):
            self.assertIn(p, warned, f"no warning about the link '{p}'\n{run.describe()}")
        for e in run.of(bs.EV_FILE_SKIPPED):
            self.assertEqual(e.get("level"), "warning", e)
            self.assertIn("link", e["detail"]["reason"], e)
        self.assertEqual(run.summary().get("skipped"), 3, run.describe())
        self.assertEqual(run.summary().get("copied"), 2, run.describe())

    def test_a_source_folder_that_is_a_link_is_skipped_with_a_warning(self):
        sb = self.sb
        link = os.path.join(sb.profile, "PSTs")
        os.symlink(self.secret_dir, link)
        run = sb.fire({"sources": ["%USERPROFILE%\\PSTs",
                                   "%LOCALAPPDATA%\\Microsoft\\Outlook"]})
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(run.backed_up(), [self.mail], run.describe())
        self.assertIn(link, self.warned_paths(run, bs.EV_SOURCE_SKIPPED), run.describe())
        self.assert_no_secret_copied(run)

    def test_fifo_socket_and_device_are_skipped_with_a_warning_and_the_rest_backs_up(self):
        sb = self.sb
        odd = []
        fifo = os.path.join(sb.outlook_dir, "Pipe.pst")
        os.mkfifo(fifo)
        odd.append(fifo)
        sock_path = os.path.join(sb.files_dir, "Socket.pst")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        # A socket path must fit in 108 bytes: bind by a relative name.
        cwd = os.getcwd()
        os.chdir(sb.files_dir)
        try:
            sock.bind(os.path.basename(sock_path))
        finally:
            os.chdir(cwd)
        sock.listen(1)
        odd.append(sock_path)
        dev = os.path.join(sb.files_dir, "Device.pst")
        try:
            os.mknod(dev, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # like /dev/null
            odd.append(dev)
        except OSError as e:
            print(f"no character device in the test: mknod: {e}")
        # An odd entry in a subfolder, and a folder named like a PST.
        os.makedirs(os.path.join(sb.outlook_dir, "Folder.pst"))
        bs.write_random_file(os.path.join(sb.outlook_dir, "Folder.pst", "Inner.pst"), 5000, "in")
        inner = os.path.join(sb.outlook_dir, "Folder.pst", "Inner.pst")
        bs.set_mtime_past(inner, 3600)
        run = sb.fire(timeout=60)
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(sorted(run.backed_up()), sorted([self.mail, self.good, inner]),
                         run.describe())
        warned = self.warned_paths(run, bs.EV_FILE_SKIPPED)
        for p in odd:
            self.assertIn(p, warned, f"no warning about '{p}'\n{run.describe()}")
        self.assertEqual(run.summary().get("skipped"), len(odd), run.describe())
        self.assertFalse(run.has(bs.EV_BAD_PARAMETERS), run.describe())
        for p in odd:
            self.assertFalse(os.path.exists(sb.final_for(p)), p)


if __name__ == "__main__":
    bs.main()
