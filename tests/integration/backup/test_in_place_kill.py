"""updateInPlace under kills: a SIGKILL anywhere in an in-place update
(plugin/core/patch.h) loses nothing once the next run has finished.
Needs a build with PSTSNAP_FAULT_INJECTION (skipped otherwise); the
set-up (a tmpfs destination, which cannot clone) is test_in_place's.

- a kill at every point of an in-place update (redo log writes and
  checkpoints, the marker, each block applied, the flush, the manifest,
  the blockmap): after the next run every backup equals its source, the
  manifest names it, nothing is left behind, and the run after that does
  nothing. Between the kill and the next run the backup may be part old,
  part new only if the kill hit the apply itself (the documented price of
  the mode), and the next run then finishes the apply from the redo log
  (event 9815, same file), not by a full copy. Prints "in-place points: N
  (A in the apply), torn outside the apply: 0, lost: 0, leaked: 0,
  unfinished: 0";
- a backup a sync client replaced while an update was pending is never
  patched: the redo is dropped and the PST copied in full.
"""
import os

import backup_support as bs
import test_in_place as base  # not its names: its tests would run here too

SIGKILL_STATUS = -9
EV_PATCH_FINISHED = 9815

# Points inside the apply: only there may the backup be part old, part new.
APPLY_POINTS = {"patch.block.applied", "patch.before-flush", "patch.flushed"}



class InPlaceKill(base.InPlace):
    # --- kills ----------------------------------------------------------------------
    def kill_matrix_state(self):
        """A backup of version A of two PSTs, then version B of both. Made
        anew before each kill: a copy of the destination would give the
        backups new file ids and change times, and their blockmaps would
        (rightly) no longer describe them."""
        sb = self.sb
        self.small = os.path.join(sb.files_dir, "Small.pst")
        bs.run_tool(["sh", "-c", f'rm -rf "{sb.fd}"/* "{sb.state}"'])
        bs.write_random_file(self.pst, base.SIZE, "inplace")
        bs.write_random_file(self.small, 300 * 1024 + 5, "small-A")
        for p in (self.pst, self.small):
            bs.set_mtime_past(p, 7200)
        self.fire_ok({"updateInPlace": True})
        self.previous = {p: bs.sha256_of(sb.final_for(p)) for p in (self.pst, self.small)}
        bs.change_pages(self.pst, 0.05, 7)
        with open(self.small, "ab") as f:
            f.write(b"grown" * 1000)
        for p in (self.pst, self.small):
            bs.set_mtime_past(p, 3600)
        self.source = {p: bs.sha256_of(p) for p in (self.pst, self.small)}

    def test_kill_at_every_point_of_an_in_place_update_then_resume(self):
        sb = self.sb
        self.kill_matrix_state()
        trace_path = os.path.join(sb.work, "trace.txt")
        ref = self.fire_ok({"updateInPlace": True}, env={"PSTSNAP_FAULT_TRACE": trace_path})
        trace = bs.read_trace(trace_path)
        if not trace:
            bs.skip("build without PSTSNAP_FAULT_INJECTION (configure with "
                    "-DPSTSNAP_FAULT_INJECTION=ON)")
        self.assertTrue(all(self.backed_up(ref, p)["inPlace"] for p in (self.pst, self.small)),
                        ref.describe())
        names = {name for _, name in trace}
        for needed in ("patch.marked", "patch.block.applied", "patch.flushed",
                       "copy.block.written", "manifest.after-write"):
            self.assertIn(needed, names, f"the traced run never reached {needed}")
        seen, targets = {}, []
        for _, name in trace:
            seen[name] = seen.get(name, 0) + 1
            targets.append(f"{name}#{seen[name]}")
        # A torn write (half its bytes on disk) belongs to the point after
        # it: half a block written into the backup is inside the apply.
        apply_targets = {t for i, t in enumerate(targets)
                         if t.rpartition("#")[0] in APPLY_POINTS
                         or (t.startswith("write.torn#") and i + 1 < len(targets)
                             and targets[i + 1].startswith("patch.block.applied#"))}
        # Every point but the bulk of block writes, of which every third.
        chosen = [t for t in targets
                  if not t.startswith(("copy.block.written#", "patch.block.applied#",
                                       "write.torn#"))
                  or int(t.rpartition("#")[2]) % 3 == 1]
        points = torn = lost = leaked = unfinished = applies = 0
        problems = []
        for target in chosen:
            self.kill_matrix_state()
            kill_trace = os.path.join(sb.work, "kill-trace.txt")
            if os.path.exists(kill_trace):
                os.unlink(kill_trace)
            run = sb.fire({"blockSize": 64, "updateInPlace": True},
                          env={"PSTSNAP_FAULT_TRACE": kill_trace, "PSTSNAP_FAULT_KILL_AT": target})
            if run.rc != SIGKILL_STATUS:
                continue  # this run passed fewer such points (checkpoints go by time)
            points += 1
            in_apply = target in apply_targets
            applies += bool(in_apply)
            for p in (self.pst, self.small):
                got = bs.sha256_of(sb.final_for(p))
                if got not in (self.previous[p], self.source[p]) and not in_apply:
                    torn += 1
                    problems.append(f"{target}: {os.path.basename(p)} torn outside the apply")
            inodes = {p: os.lstat(sb.final_for(p)).st_ino for p in (self.pst, self.small)}
            after = sb.fire({"blockSize": 64, "updateInPlace": True})
            if in_apply:
                # Finished from the redo log, in place: not by a new full copy.
                patched = [os.path.basename(p) for p in (self.pst, self.small)
                           if os.lstat(sb.final_for(p)).st_ino == inodes[p]]
                if not after.has(EV_PATCH_FINISHED) or len(patched) != 2:
                    unfinished += 1
                    problems.append(f"{target}: the interrupted apply was not finished from its "
                                    f"redo log (9815: {after.has(EV_PATCH_FINISHED)}, patched in "
                                    f"place: {patched})")
            if after.rc != 0:
                lost += 1
                problems.append(f"{target}: the next run failed\n{after.describe()}")
            for p in (self.pst, self.small):
                if bs.sha256_of(sb.final_for(p)) != self.source[p]:
                    lost += 1
                    problems.append(f"{target}: {os.path.basename(p)} does not equal its source")
            keys = {e.get("key") for e in sb.load_manifest().get("files", [])}
            if keys != {"Outlook/Mail.pst", "Outlook Files/Small.pst"}:
                lost += 1
                problems.append(f"{target}: manifest names {sorted(keys)}")
            left = sb.leftovers()
            if left:
                leaked += 1
                problems.append(f"{target}: left behind {left}")
            again = sb.fire({"blockSize": 64, "updateInPlace": True})
            if again.rc != 0 or again.summary().get("copied") != 0:
                lost += 1
                problems.append(f"{target}: the run after the resume did work again")
        line = (f"in-place points: {points} ({applies} in the apply), torn outside the apply: "
                f"{torn}, lost: {lost}, leaked: {leaked}, unfinished: {unfinished}")
        print(line)
        self.assertGreaterEqual(points, 30, "too few kill points")
        self.assertGreaterEqual(applies, 10, "too few kills inside the apply")
        self.assertEqual((torn, lost, leaked, unfinished), (0, 0, 0, 0),
                         line + "\n" + "\n".join(problems))

    def test_a_pending_update_of_a_backup_a_sync_client_replaced_is_dropped(self):
        sb = self.sb
        self.fire_ok({"updateInPlace": True})
        bs.change_pages(self.pst, 0.02, 3)
        bs.set_mtime_past(self.pst, 600)
        run = sb.fire({"blockSize": 64, "updateInPlace": True},
                      env={"PSTSNAP_FAULT_KILL_AT": "patch.block.applied#2"})
        if run.rc != SIGKILL_STATUS:
            bs.skip("build without PSTSNAP_FAULT_INJECTION")
        final = sb.final_for(self.pst)
        # The sync client puts its own copy in place (a new file).
        replaced = final + ".sync"
        bs.write_random_file(replaced, base.SIZE, "sync-client")
        os.replace(replaced, final)
        run = self.fire_ok({"updateInPlace": True})
        self.assertFalse(run.has(EV_PATCH_FINISHED), run.describe())
        self.assertFalse(self.backed_up(run)["inPlace"], run.describe())
        self.assert_equal_to_source()
        self.assertEqual(sb.leftovers(), {})


# The behaviour tests of the base class run in test_in_place.py, not twice.
for _name in [n for n in vars(base.InPlace) if n.startswith("test_")]:
    setattr(InPlaceKill, _name, None)

if __name__ == "__main__":
    bs.main()
