"""Logoff in the middle of a long copy: the action checkpoints and stops
within the shutdown deadline, and the next run continues where it stopped.

A 48 MiB PST copied at maxBandwidth 16 MiB/s needs about 3 s; emhost
simulates logoff after 800 ms (--logoff-after) and gives the plugin its
default shutdown deadline (5 s). Then:
- emhost returns within the deadline, not a failure (nothing was lost);
- a 9825 event says the copy stopped and resumes later;
- the staging file and its journal are there, nothing is published;
- the next run emits 9806 (resumed) for the PST, reuses the staged blocks
  (reusedBlocks > 0, so it did not start over) and publishes a backup equal
  to the source; nothing is left behind.
"""
import os
import unittest

import backup_support as bs

SIZE = 48 * bs.MiB
RATE_MIBPS = 16
LOGOFF_AFTER_MS = 800
DEADLINE_MS = 5000  # emhost's default --shutdown-deadline


class CancelResume(unittest.TestCase):
    def test_logoff_checkpoints_within_the_deadline_and_the_next_run_resumes(self):
        sb = bs.Sandbox(self, "cancel")
        source = os.path.join(sb.outlook_dir, "Big.pst")
        bs.write_random_file(source, SIZE, "cancel")
        # At rest: a journal only vouches for staged blocks of a source whose
        # mtime is clearly older than the copy (see the racily-clean rule).
        bs.set_mtime_past(source, 3600)
        want = bs.sha256_of(source)
        final = sb.final_for(source)
        params = {"maxBandwidth": RATE_MIBPS}

        first = sb.fire(params, args=["--logoff-after", LOGOFF_AFTER_MS])
        print(f"logoff run: emhost exit {first.rc} after {first.elapsed:.2f} s")
        self.assertEqual(first.rc, 0, first.describe())
        self.assertLess(first.elapsed, (LOGOFF_AFTER_MS + DEADLINE_MS) / 1000.0,
                        f"emhost did not return within the shutdown deadline\n{first.describe()}")
        cancelled = first.of(bs.EV_CANCELLED)
        self.assertEqual(len(cancelled), 1, f"expected one 9825 event\n{first.describe()}")
        self.assertEqual(cancelled[0]["detail"].get("path"), source, first.describe())
        self.assertIn("resumes", cancelled[0].get("message", ""), first.describe())
        self.assertTrue(first.summary().get("cancelled"), first.describe())
        self.assertEqual(first.backed_up(), [], first.describe())
        self.assertFalse(os.path.exists(final), "a cancelled copy was published")
        left = sb.leftovers()
        self.assertEqual(left.get("staging"), [sb.staging_for(source)], left)
        self.assertEqual(len([j for j in left.get("journals", []) if j.endswith(".journal")]), 1,
                         left)
        staged = os.path.getsize(sb.staging_for(source))
        self.assertGreater(staged, 0, "nothing was staged before the logoff")
        self.assertLess(staged, SIZE, "the copy was not stopped early")
        # Snapshots must not outlive the session that stopped.
        self.assertNotIn("snapshots", left, left)
        self.assertNotIn("records", left, left)

        second = sb.fire(params)
        print(f"resume run: emhost exit {second.rc} after {second.elapsed:.2f} s")
        self.assertEqual(second.rc, 0, second.describe())
        resumed = second.of(bs.EV_RESUMED)
        self.assertEqual(len(resumed), 1, f"expected one 9806 event\n{second.describe()}")
        self.assertEqual(resumed[0]["detail"].get("path"), source, second.describe())
        self.assertGreater(resumed[0]["detail"].get("stagedBlocks", 0), 0, second.describe())
        done = second.of(bs.EV_BACKED_UP)
        self.assertEqual(len(done), 1, second.describe())
        detail = done[0]["detail"]
        self.assertTrue(detail.get("resumed"), second.describe())
        self.assertGreater(detail.get("reusedBlocks", 0), 0,
                           f"the resume started over instead of reusing staged blocks\n"
                           f"{second.describe()}")
        self.assertLess(detail.get("bytesWritten"), SIZE, second.describe())
        self.assertEqual(bs.sha256_of(final), want, "the resumed backup differs from the source")
        self.assertEqual(sb.leftovers(), {}, "left behind after the resumed copy")
        print(f"resumed: {detail['reusedBlocks']} blocks reused, {detail['bytesWritten']} bytes "
              f"written of {SIZE}")


if __name__ == "__main__":
    bs.main()
