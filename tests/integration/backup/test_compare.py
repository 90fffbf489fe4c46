"""Compare: what a run copies again, through emhost.

Three PSTs are backed up once; then
- a sync client deletes one backup and replaces another (a new file renamed
  over it, as OneDrive and File Director do when they download a version):
  exactly those two are copied again, from the unchanged sources, and the
  third backup is left alone (same inode, same mtime);
- one source changes (its mtime backdated, so the change is noticed
  because size or mtime differ, not because it is recent): only that one
  is copied again; the other backups are untouched;
- a replaced backup is noticed even when the replacement has the same size
  and content as our copy (only its mtime and inode differ).
"""
import os
import unittest

import backup_support as bs


class Compare(unittest.TestCase):
    def setUp(self):
        self.sb = sb = bs.Sandbox(self, "compare")
        self.a = os.path.join(sb.outlook_dir, "A.pst")
        self.b = os.path.join(sb.outlook_dir, "B.pst")
        self.c = os.path.join(sb.files_dir, "C.pst")
        for i, p in enumerate((self.a, self.b, self.c)):
            bs.write_random_file(p, 700 * 1024 + i * 4096, f"compare-{i}")
            bs.set_mtime_past(p, 7200)
        run = sb.fire()
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(run.summary().get("copied"), 3, run.describe())

    def identity(self, src):
        st = os.lstat(self.sb.final_for(src))
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def assert_backups_equal_sources(self, run):
        for src in (self.a, self.b, self.c):
            self.assertEqual(bs.sha256_of(self.sb.final_for(src)), bs.sha256_of(src),
                             f"backup of {os.path.basename(src)}\n{run.describe()}")

    def test_backups_deleted_or_replaced_by_a_sync_client_are_copied_again(self):
        sb = self.sb
        untouched = self.identity(self.c)
        os.unlink(sb.final_for(self.a))
        replacement = sb.final_for(self.b) + ".download"
        bs.write_random_file(replacement, 12345, "someone else's bytes")
        os.rename(replacement, sb.final_for(self.b))
        run = sb.fire()
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(sorted(run.backed_up()), sorted([self.a, self.b]), run.describe())
        s = run.summary()
        self.assertEqual((s.get("copied"), s.get("unchanged")), (2, 1), run.describe())
        self.assert_backups_equal_sources(run)
        self.assertEqual(self.identity(self.c), untouched, "C's backup was rewritten")
        self.assertEqual(sb.leftovers(), {})
        again = sb.fire()
        self.assertEqual(again.summary().get("copied"), 0, again.describe())
        self.assertFalse(again.has(bs.EV_SNAPSHOT_CREATED), again.describe())

    def test_a_replacement_with_the_same_bytes_is_still_noticed(self):
        sb = self.sb
        final = sb.final_for(self.a)
        copy = final + ".download"
        bs.run_tool(["cp", final, copy])  # same bytes, new inode and mtime
        os.rename(copy, final)
        run = sb.fire()
        self.assertEqual(run.backed_up(), [self.a], run.describe())
        self.assert_backups_equal_sources(run)

    def test_only_the_changed_pst_is_copied_again(self):
        sb = self.sb
        before = {p: self.identity(p) for p in (self.a, self.c)}
        with open(self.b, "r+b") as f:
            f.seek(300 * 1024)
            f.write(os.urandom(8192))
        bs.set_mtime_past(self.b, 600)
        run = sb.fire()
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(run.backed_up(), [self.b], run.describe())
        s = run.summary()
        self.assertEqual((s.get("seen"), s.get("copied"), s.get("unchanged")), (3, 1, 2),
                         run.describe())
        self.assert_backups_equal_sources(run)
        for p, ident in before.items():
            self.assertEqual(self.identity(p), ident, f"{os.path.basename(p)} was rewritten")
        # A size change alone (mtime put back exactly) is a change too.
        st = os.stat(self.c)
        with open(self.c, "ab") as f:
            f.write(b"x" * 100)
        os.utime(self.c, ns=(st.st_atime_ns, st.st_mtime_ns))
        run = sb.fire()
        self.assertEqual(run.backed_up(), [self.c], run.describe())
        self.assert_backups_equal_sources(run)


if __name__ == "__main__":
    bs.main()
