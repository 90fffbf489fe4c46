"""Two runs at once against one destination, and a sync client that
rewrites the destination between runs, through emhost.

- Several rounds: the sources change, then two emhost processes fire
  together. Both exit 0; one does the work, the other waits for it or
  leaves it (9810); no PST is published twice in a round, every backup
  equals its source, the manifest parses, nothing is left behind.
- The sync client rewrites a backup between runs: replaced by other bytes
  (a new file renamed over it), truncated in place, rewritten in place with
  the same size. Each is noticed and copied again, byte-equal.
- The worst case for the block delta: the sync client rewrites blocks of
  the backup in place and restores its mtime (as clients that copy the
  server's timestamp do), and the source changes elsewhere. The next run
  starts from a clone of the backup; it must not keep the client's bytes.
"""
import os
import subprocess
import time
import unittest

import backup_support as bs

ROUNDS = 4


class ConcurrentRuns(unittest.TestCase):
    def setUp(self):
        self.sb = sb = bs.Sandbox(self, "concurrent")
        self.psts = [os.path.join(sb.outlook_dir, "Mail.pst"),
                     os.path.join(sb.files_dir, "Archive.pst"),
                     os.path.join(sb.files_dir, "Old", "Old.pst")]

    def write_sources(self, tag, sizes=(6 * bs.MiB, 2 * bs.MiB, 700 * 1024)):
        for i, (p, size) in enumerate(zip(self.psts, sizes)):
            bs.write_random_file(p, size + len(tag), f"{tag}-{i}")
            bs.set_mtime_past(p, 3600)

    def fire_together(self, params):
        sb = self.sb
        policy = sb.write_policy(params)
        procs = []
        for k in range(2):
            sb.runs += 1
            audit = os.path.join(sb.work, f"audit-{sb.runs}.jsonl")
            cmd = [sb.emhost, "fire", policy, "--plugin-dir", os.path.dirname(sb.plugin),
                   "--process-start", "OUTLOOK.EXE", "--var", f"DataNowHome={sb.fd}",
                   "--state-dir", sb.state, "--audit", audit]
            env = dict(os.environ, HOME=sb.profile)
            procs.append((subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True), audit,
                          time.monotonic()))
        runs = []
        for p, audit, t0 in procs:
            out, err = p.communicate(timeout=180)
            runs.append(bs.Run(p.returncode, out, err, bs.read_events(audit),
                               time.monotonic() - t0, audit))
        return runs

    def assert_all_backed_up(self, where=""):
        for p in self.psts:
            self.assertEqual(bs.sha256_of(self.sb.final_for(p)), bs.sha256_of(p), f"{where} {p}")
        self.sb.load_manifest()
        self.assertEqual(self.sb.leftovers(), {}, where)

    def test_two_runs_fired_together_never_corrupt_the_destination(self):
        busy_rounds = 0
        for n in range(ROUNDS):
            self.write_sources(f"round{n}")
            # Fast rounds: the second run waits for the first; slow ones
            # (longer than its 2 s wait): it leaves the work to the first.
            a, b = self.fire_together({"maxBandwidth": 40 if n % 2 == 0 else 3})
            where = f"round {n}"
            for run in (a, b):
                self.assertEqual(run.rc, 0, f"{where}\n{run.describe()}")
            published = a.backed_up() + b.backed_up()
            self.assertEqual(sorted(published), sorted(self.psts),
                             f"{where}: each PST published exactly once\n{a.describe()}\n"
                             f"{b.describe()}")
            busy_rounds += a.has(bs.EV_BUSY) or b.has(bs.EV_BUSY)
            self.assert_all_backed_up(where)
        print(f"rounds: {ROUNDS}, one run left the work to the other in {busy_rounds}")
        self.assertGreater(busy_rounds, 0, "the runs never overlapped")

    def test_a_backup_the_sync_client_rewrote_is_noticed_and_copied_again(self):
        sb = self.sb
        self.write_sources("v1")
        self.assertEqual(sb.fire().rc, 0)
        mail = sb.final_for(self.psts[0])

        def replace():
            tmp = mail + ".download"
            bs.write_random_file(tmp, os.path.getsize(mail), "the cloud's copy")
            os.rename(tmp, mail)

        def truncate():
            os.truncate(mail, os.path.getsize(mail) // 2)

        def rewrite_same_size():
            with open(mail, "r+b") as f:
                f.seek(bs.MiB)
                f.write(os.urandom(64 * 1024))

        for name, meddle in (("replaced", replace), ("truncated", truncate),
                             ("rewritten in place", rewrite_same_size)):
            time.sleep(0.01)  # a different mtime from our publish
            meddle()
            run = sb.fire()
            self.assertEqual(run.rc, 0, f"{name}\n{run.describe()}")
            self.assertEqual(run.backed_up(), [self.psts[0]], f"{name}: not copied again\n"
                                                              f"{run.describe()}")
            self.assert_all_backed_up(name)

    # Inode, size and mtime all survive this; the ctime the blockmap records
    # (which no program can set) does not, so the backup is not cloned.
    def test_a_backup_rewritten_in_place_with_its_mtime_restored_is_not_cloned(self):
        sb = self.sb
        self.write_sources("v1")
        run = sb.fire()
        self.assertEqual(run.rc, 0, run.describe())
        mail_src, mail = self.psts[0], sb.final_for(self.psts[0])
        st = os.stat(mail)
        with open(mail, "r+b") as f:  # the client's bytes, in place
            f.seek(2 * bs.MiB)
            f.write(b"\x5a" * (256 * 1024))
        os.utime(mail, ns=(st.st_atime_ns, st.st_mtime_ns))
        with open(mail_src, "r+b") as f:  # Outlook changes another block
            f.seek(4 * bs.MiB)
            f.write(os.urandom(8192))
        bs.set_mtime_past(mail_src, 1800)
        run = sb.fire()
        self.assertEqual(run.rc, 0, run.describe())
        self.assertEqual(run.backed_up(), [mail_src], run.describe())
        self.assertEqual(bs.sha256_of(mail), bs.sha256_of(mail_src),
                         "the published backup kept bytes the sync client wrote into the old one")


if __name__ == "__main__":
    bs.main()
