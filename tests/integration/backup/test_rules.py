"""Discovery rules through emhost: which files a policy backs up.

One profile holds PSTs in both default folders, at several depths and in
several letter cases, plus an OST cache and a file that is no PST. Each test
fires the action with one set of rules and checks the exact set of backups
(and that each equals its source):
- the defaults: every *.pst at any depth, whatever its case; no *.ost;
- recurse off: only the top of each source folder;
- globs: '*', '?', '**' (as a whole segment and trailing), case-insensitive,
  and exclude winning over include;
- *.ost only when the admin includes it AND removes it from exclude;
- a policy naming only `destination` backs up the two default folders
  (%LOCALAPPDATA%\\Microsoft\\Outlook, %USERPROFILE%\\Documents\\Outlook Files,
  which emhost maps to ~/.local/share/... and ~/Documents/... on Linux).
"""
import os
import unittest

import backup_support as bs

# Relative to the profile; every file gets distinct content.
FILES = [
    os.path.join(bs.OUTLOOK_REL, "Mail.pst"),
    os.path.join(bs.OUTLOOK_REL, "mail2.PST"),
    os.path.join(bs.OUTLOOK_REL, "Cache.ost"),
    os.path.join(bs.OUTLOOK_REL, "Notes.txt"),
    os.path.join(bs.OUTLOOK_REL, "Sub", "Deep.pst"),
    os.path.join(bs.OUTLOOK_REL, "Sub", "Deeper", "Deepest.Pst"),
    os.path.join(bs.OUTLOOK_FILES_REL, "Archive 2019.pst"),
    os.path.join(bs.OUTLOOK_FILES_REL, "Archive", "Old.pst"),
    os.path.join(bs.OUTLOOK_FILES_REL, "Archive", "Older", "Oldest.pst"),
]


class Rules(unittest.TestCase):
    def setUp(self):
        self.sb = sb = bs.Sandbox(self, "rules")
        for i, rel in enumerate(FILES):
            path = os.path.join(sb.profile, rel)
            bs.write_random_file(path, 4096 + 1000 * i, f"rules-{i}")
            bs.set_mtime_past(path, 3600)

    def expect(self, run, rels):
        """The destination holds exactly the backups of `rels` (profile-
        relative sources), each equal to its source."""
        self.assertEqual(run.rc, 0, run.describe())
        want = set()
        for rel in rels:
            src = os.path.join(self.sb.profile, rel)
            final = self.sb.final_for(src)
            want.add(os.path.relpath(final, self.sb.dest))
            self.assertTrue(os.path.exists(final), f"no backup of {rel}\n{run.describe()}")
            self.assertEqual(bs.sha256_of(final), bs.sha256_of(src), rel)
        self.assertEqual(self.sb.backups(), want, run.describe())
        self.assertEqual(run.summary().get("copied"), len(rels), run.describe())
        self.assertEqual(run.summary().get("seen"), len(rels), run.describe())

    def test_defaults_take_every_pst_at_any_depth_in_any_case_and_no_ost(self):
        run = self.sb.fire()
        self.expect(run, [r for r in FILES if r.lower().endswith(".pst")])

    def test_recurse_off_searches_only_the_top_of_each_source(self):
        run = self.sb.fire({"recurse": False})
        self.expect(run, [FILES[0], FILES[1], FILES[6]])

    def test_star_question_mark_and_double_star_case_insensitively(self):
        run = self.sb.fire({
            "include": ["?AIL.pst",            # Mail.pst, not mail2.PST
                        "sub\\**\\*.pst",      # Sub/Deep.pst, Sub/Deeper/Deepest.Pst
                        "ARCHIVE ????.PST",    # Archive 2019.pst
                        "archive/**"],         # everything below Archive
            "exclude": ["*.ost", "*EST.pst"],  # drops Deepest.Pst and Oldest.pst
        })
        self.expect(run, [FILES[0], FILES[4], FILES[6], FILES[7]])

    def test_double_star_matches_zero_or_more_folders(self):
        run = self.sb.fire({"include": ["**/deep*.pst"], "exclude": []})
        self.expect(run, [FILES[4], FILES[5]])

    def test_ost_is_copied_only_when_included_and_not_excluded(self):
        run = self.sb.fire({"include": ["*.pst", "*.ost"]})  # default exclude *.ost wins
        self.assertNotIn(os.path.join("Outlook", "Cache.ost"), self.sb.backups(), run.describe())
        self.expect(run, [r for r in FILES if r.lower().endswith(".pst")])
        run = self.sb.fire({"include": ["*.OST"], "exclude": []})
        self.assertEqual(run.rc, 0, run.describe())
        self.assertIn(os.path.join("Outlook", "Cache.ost"), self.sb.backups(), run.describe())
        self.assertEqual(run.backed_up(), [os.path.join(self.sb.profile, FILES[2])])

    def test_a_policy_naming_only_the_destination_backs_up_the_default_folders(self):
        run = self.sb.fire({"destination": "$(DataNowHome)\\Outlook Backup"}, exact=True)
        self.expect(run, [r for r in FILES if r.lower().endswith(".pst")])
        self.assertTrue(os.path.isdir(os.path.join(self.sb.dest, "Outlook")))
        self.assertTrue(os.path.isdir(os.path.join(self.sb.dest, "Outlook Files")))
        self.assertFalse(run.has(bs.EV_SOURCE_SKIPPED), run.describe())


if __name__ == "__main__":
    bs.main()
