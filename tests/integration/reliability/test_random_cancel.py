"""Logoff at random moments of a multi-block copy, through emhost.

Each round writes a new version of a 24 MiB PST (and a small one beside
it), then fires with `--logoff-after T --shutdown-deadline 2000`, T drawn
from a seeded generator over the whole copy (about 1.5 s at 16 MiB/s;
the seed is printed, PSTSNAP_CANCEL_SEED replays it). Then:
- emhost returns within T + the deadline (+1 s for starting the process);
- nothing is torn: every final name holds either the previous version or
  the new one, whole; the manifest parses; no snapshot outlives the run;
- a copy that stopped with blocks journaled is resumed by the next run (no
  logoff): 9806 for exactly those PSTs; every backup is then byte-equal to
  its source and nothing is left behind.
"""
import os
import random
import unittest

import backup_support as bs

SIZE = 24 * bs.MiB
RATE = 16
DEADLINE_MS = 2000
ROUNDS = 5


class RandomCancel(unittest.TestCase):
    def test_logoff_at_random_moments_returns_in_time_and_the_next_run_resumes(self):
        sb = bs.Sandbox(self, "rcancel")
        seed = int(os.environ.get("PSTSNAP_CANCEL_SEED") or random.SystemRandom().randrange(1 << 32))
        print(f"seed: {seed} (PSTSNAP_CANCEL_SEED={seed} replays it)")
        rnd = random.Random(seed)
        big = os.path.join(sb.outlook_dir, "Big.pst")
        small = os.path.join(sb.files_dir, "Small.pst")
        previous = {big: None, small: None}
        resumed_rounds = 0
        params = {"maxBandwidth": RATE, "snapshot": "auto"}
        for n in range(ROUNDS):
            for p, size in ((big, SIZE + n * 4096), (small, 300 * 1024 + n)):
                bs.write_random_file(p, size, f"{seed}-{n}-{os.path.basename(p)}")
                bs.set_mtime_past(p, 3600 - n)
            want = {p: bs.sha256_of(p) for p in (big, small)}
            logoff_ms = rnd.randrange(50, 1600)
            run = sb.fire(params, args=["--logoff-after", logoff_ms,
                                        "--shutdown-deadline", DEADLINE_MS])
            where = f"round {n}, seed {seed}, logoff after {logoff_ms} ms"
            self.assertEqual(run.rc, 0, f"{where}\n{run.describe()}")
            self.assertLess(run.elapsed, (logoff_ms + DEADLINE_MS) / 1000 + 1.0,
                            f"{where}: emhost missed the shutdown deadline\n{run.describe()}")
            for p in (big, small):
                final = sb.final_for(p)
                got = bs.sha256_of(final) if os.path.exists(final) else None
                self.assertIn(got, (previous[p], want[p]), f"{where}: '{final}' is torn")
            if sb.manifest_paths():
                sb.load_manifest()
            left = sb.leftovers()
            self.assertNotIn("snapshots", left, f"{where}: {left}")
            self.assertNotIn("clones", left, f"{where}: {left}")
            stopped = [os.path.basename(e["detail"]["path"]) for e in run.of(bs.EV_CANCELLED)]
            # Blocks the journal vouches for: a copy stopped before its first
            # checkpoint has none and simply starts again, even when its
            # staging file already holds bytes (a delta's starts as a clone
            # of the backup, whole, before any block is read).
            staged = [p for p in (big, small) if os.path.exists(sb.staging_for(p))
                      and sb.journaled_records(p) > 0]
            print(f"{where}: exit after {run.elapsed:.2f} s, stopped: {stopped or 'none'}, "
                  f"staged: {[os.path.basename(p) for p in staged] or 'none'}")

            again = sb.fire(params)
            self.assertEqual(again.rc, 0, f"{where}\n{again.describe()}")
            resumed = [e["detail"]["path"] for e in again.of(bs.EV_RESUMED)]
            self.assertEqual(sorted(resumed), sorted(staged), f"{where}\n{again.describe()}")
            resumed_rounds += bool(staged)
            for p in (big, small):
                self.assertEqual(bs.sha256_of(sb.final_for(p)), want[p], f"{where}: {p}")
                previous[p] = want[p]
            sb.load_manifest()
            self.assertEqual(sb.leftovers(), {}, where)
        print(f"rounds: {ROUNDS}, resumed: {resumed_rounds}, torn: 0")
        self.assertGreater(resumed_rounds, 0, f"no round stopped mid-copy (seed {seed})")


if __name__ == "__main__":
    bs.main()
