"""minInterval: a changed PST is not copied again too soon, through emhost.

With minInterval "3s" (the schema allows seconds), a PST backed up and then
changed is left alone by a run within the interval, with an info event
9808 naming it and the interval (the backup keeps the old content), and is
copied by the first run after the interval. The interval never keeps a
backup that a sync client deleted from being restored at once: the user has
no good backup then. minInterval "0" copies at every start.
"""
import os
import time
import unittest

import backup_support as bs

INTERVAL_S = 3


class MinInterval(unittest.TestCase):
    def setUp(self):
        self.sb = sb = bs.Sandbox(self, "interval")
        self.mail = os.path.join(sb.outlook_dir, "Mail.pst")
        self.other = os.path.join(sb.files_dir, "Other.pst")
        for i, p in enumerate((self.mail, self.other)):
            bs.write_random_file(p, 512 * 1024, f"interval-{i}")
            bs.set_mtime_past(p, 7200)
        self.params = {"minInterval": f"{INTERVAL_S}s"}

    def change(self, path, seed):
        bs.write_random_file(path, 512 * 1024, seed)
        bs.set_mtime_past(path, 1800)

    def test_a_changed_pst_waits_for_the_interval(self):
        sb = self.sb
        run = sb.fire(self.params)
        first_done = time.monotonic()
        self.assertEqual(run.summary().get("copied"), 2, run.describe())
        old = bs.sha256_of(sb.final_for(self.mail))
        self.change(self.mail, "mail-v2")
        soon = sb.fire(self.params)
        self.assertLess(time.monotonic() - first_done, INTERVAL_S,
                        "the machine is too slow for this test's interval")
        self.assertEqual(soon.rc, 0, soon.describe())
        self.assertEqual(soon.backed_up(), [], soon.describe())
        too_soon = soon.of(bs.EV_TOO_SOON)
        self.assertEqual([e["detail"]["path"] for e in too_soon], [self.mail], soon.describe())
        self.assertEqual(too_soon[0]["level"], "info")
        self.assertIn("minInterval", too_soon[0]["message"])
        self.assertIn(f"{INTERVAL_S}s", too_soon[0]["message"])
        s = soon.summary()
        self.assertEqual((s.get("tooSoon"), s.get("unchanged"), s.get("copied")), (1, 1, 0),
                         soon.describe())
        self.assertFalse(soon.has(bs.EV_SNAPSHOT_CREATED), "a snapshot for nothing to copy")
        self.assertEqual(bs.sha256_of(sb.final_for(self.mail)), old)
        # After the interval the change is backed up.
        time.sleep(max(0.0, INTERVAL_S + 0.3 - (time.monotonic() - first_done)))
        later = sb.fire(self.params)
        self.assertEqual(later.backed_up(), [self.mail], later.describe())
        self.assertFalse(later.has(bs.EV_TOO_SOON), later.describe())
        self.assertEqual(bs.sha256_of(sb.final_for(self.mail)), bs.sha256_of(self.mail))

    def test_a_deleted_backup_is_restored_within_the_interval(self):
        sb = self.sb
        run = sb.fire(self.params)
        self.assertEqual(run.summary().get("copied"), 2, run.describe())
        self.change(self.other, "other-v2")
        os.unlink(sb.final_for(self.other))
        again = sb.fire(self.params)
        self.assertEqual(again.backed_up(), [self.other], again.describe())
        self.assertEqual(bs.sha256_of(sb.final_for(self.other)), bs.sha256_of(self.other))

    def test_zero_copies_at_every_start(self):
        sb = self.sb
        run = sb.fire({"minInterval": "0"})
        self.assertEqual(run.summary().get("copied"), 2, run.describe())
        self.change(self.mail, "mail-v3")
        again = sb.fire({"minInterval": "0"})
        self.assertEqual(again.backed_up(), [self.mail], again.describe())
        self.assertFalse(again.has(bs.EV_TOO_SOON), again.describe())


if __name__ == "__main__":
    bs.main()
