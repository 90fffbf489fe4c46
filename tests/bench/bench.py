#!/usr/bin/env python3
"""pstsnap benchmark: the goals of issue 6, measured against cp and rsync.

    python3 tests/bench/bench.py              # full run (needs root for btrfs; ~35 min)
    python3 tests/bench/bench.py --quick      # small files, < 60 s (ctest label "bench")

Builds release binaries in build-bench/ (unless --emhost/--plugin are
given), then on each filesystem (a loop-mounted btrfs image made with
tests/tools/btrfs-loop.sh, and a plain folder of the filesystem holding the
work folder) and on the same files in the same run measures:

 1 first backup of a BIG file            vs cp --reflink=never + fsync
 2 backup after 1% of 4 KiB pages changed vs rsync --inplace --no-whole-file
                                          (+ fsync) and vs a full cp
 3 nothing changed, 20 PSTs: ms per run; no snapshot; syscalls (strace)
 4 peak RSS of emhost (wait4 ru_maxrss) backing up 256 MiB and 4 GiB
 5 emhost fire -> the action returned control (9428 durationMs)
 6 a foreground reader's MB/s alone and while a backup runs (ioPriority
   normal/low, maxBandwidth)
 7 blockSize 16/64/256/1024 KiB: delta bytes written and time
 8 where nothing clones (the plain filesystem): the delta of 2 with
   updateInPlace, vs rsync --inplace, time and bytes written

Every timed run starts cold: the files involved (and, on btrfs, the loop
image behind them) are flushed and dropped from the page cache with
posix_fadvise(DONTNEED), so reads come from the disk and no other
process's cache is touched; then the filesystem is synced and left alone
for --settle seconds (default 15), so no run inherits another's write-back.
cp, rsync and pstsnap all make their copy durable (pstsnap fsyncs as it
goes; the others are followed by an fsync inside the timing), so the
comparison is like for like. Medians of --runs.
Prints a Markdown table; --json FILE keeps the raw figures.
"""
import argparse
import glob
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import backup_support  # noqa: E402  (the tests' page-changing helper)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MiB = 1 << 20
GiB = 1 << 30
PAGE = 4096
OUTLOOK_REL = os.path.join(".local", "share", "Microsoft", "Outlook")
ACTION = "pstsnap.BackupPsts"

FULL = dict(big=2 * GiB, rss=(256 * MiB, 4 * GiB), small=4 * MiB, count=20, reader=1 * GiB,
            runs=5, heavy_runs=3, noop_runs=15, image=24 * GiB, sweep=(16, 64, 256, 1024))
QUICK = dict(big=16 * MiB, rss=(4 * MiB, 32 * MiB), small=256 * 1024, count=20, reader=32 * MiB,
             runs=1, heavy_runs=1, noop_runs=3, image=0, sweep=(64, 256))


SETTLE_S = 0.0  # set by --settle
EXTRA_PARAMS = {}  # set by --params: on top of every run's parameters


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def sh(args, **kw):
    return subprocess.run(args, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, **kw)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# --- files and caches ----------------------------------------------------------------------------
def write_random(path, size, seed):
    """Incompressible bytes (no filesystem can shortcut them), fast: a 16 MiB
    random pattern, each 4 KiB page stamped with its own offset and seed."""
    rnd = random.Random(seed)
    pattern = bytearray(rnd.randbytes(16 * MiB))
    with open(path, "wb") as f:
        off = 0
        while off < size:
            n = min(len(pattern), size - off)
            for p in range(0, n, PAGE):
                pattern[p:p + 16] = (off + p).to_bytes(8, "little") + seed.to_bytes(8, "little")
            f.write(pattern[:n])
            off += n
        os.fsync(f.fileno())
    set_mtime_ago(path, 3600)


def set_mtime_ago(path, seconds):
    t = time.time() - seconds
    os.utime(path, (t, t))


def change_pages(path, fraction, seed, block):
    """Overwrite `fraction` of the 4 KiB pages at random, as Outlook does
    (the tests' own helper), durably. Returns (pages changed, distinct
    blocks of `block` bytes touched)."""
    chosen = backup_support.rewrite_random_pages(path, fraction, seed, PAGE)
    fsync_path(path)
    set_mtime_ago(path, 60)
    return len(chosen), {p * PAGE // block for p in chosen}


def fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def drop_cache(*paths):
    """Flush, then drop these files' pages (and nothing else) from the cache."""
    for p in paths:
        if not p or not os.path.isfile(p):
            continue
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def timed(args, env=None, after=None):
    """Run a command; (seconds, rusage). `after` runs inside the timing."""
    t0 = time.monotonic()
    p = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    if after:
        after()
    elapsed = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode not in (0,):
        raise RuntimeError(f"{args[0]} exited {p.returncode}: {err[-2000:]}")
    return elapsed, ru


# --- the place a benchmark runs in ---------------------------------------------------------------
class Place:
    """A profile, a destination and a state folder on one filesystem."""

    def __init__(self, name, root, btrfs, image, emhost, plugin):
        self.name, self.root, self.btrfs, self.image = name, root, btrfs, image
        self.emhost, self.plugin = emhost, plugin
        self.profile = os.path.join(root, "profile")
        self.fd = os.path.join(root, "fd")
        self.state = os.path.join(root, "state")
        self.work = os.path.join(root, "work")
        self.runs = 0
        self.reset_profile()
        os.makedirs(self.work, exist_ok=True)

    @property
    def outlook(self):
        return os.path.join(self.profile, OUTLOOK_REL)

    @property
    def dest(self):
        return os.path.join(self.fd, "Outlook Backup")

    def final_for(self, name):
        return os.path.join(self.dest, "Outlook", name)

    def reset_profile(self):
        """An empty profile (a subvolume on btrfs, so snapshots work) and no
        backups or state."""
        self.reset_backups()
        if os.path.isdir(self.profile):
            if self.btrfs:
                for d in glob.glob(os.path.join(self.profile, "**", ".pstsnap-snapshots", "*"),
                                   recursive=True):
                    subprocess.run(["btrfs", "subvolume", "delete", d], capture_output=True)
                sh(["btrfs", "subvolume", "delete", self.profile])
            else:
                shutil.rmtree(self.profile)
        if self.btrfs:
            sh(["btrfs", "subvolume", "create", self.profile])
        os.makedirs(self.outlook, exist_ok=True)

    def reset_backups(self):
        shutil.rmtree(self.fd, ignore_errors=True)
        shutil.rmtree(self.state, ignore_errors=True)
        os.makedirs(self.fd, exist_ok=True)

    def drop(self, *paths):
        drop_cache(*paths)
        # Commit what the untimed set-up did (deleting the previous run's
        # 2 GiB copy), then let the disk settle before the timer starts.
        # Without it a run's time depends on what ran before it: on the
        # reference VM (ext4 mounted with `discard`, a virtio disk cached by
        # the host) cp took 1.7 s or 4.5 s for the same copy by the order of
        # the runs; after 15 s every tool is in the same (slower) state.
        subprocess.run(["sync", "-f", self.root], check=False)
        if self.image:
            drop_cache(self.image)
        time.sleep(SETTLE_S)

    def fire(self, params=None, wrap=(), background=False):
        """emhost fire as an admin's policy does. Returns a dict of figures,
        or the Popen when `background`."""
        self.runs += 1
        p = {"destination": "$(DataNowHome)\\Outlook Backup", "minInterval": "0"}
        p.update(EXTRA_PARAMS)
        p.update(params or {})
        policy = {"version": 1, "plugins": ["pstsnap"], "triggers": {"processStarted": [{
            "name": "Outlook", "conditions": [{"type": "processName", "operator": "Equal",
                                               "value": "OUTLOOK.EXE"}],
            "actions": [{"action": ACTION, "runAs": "System", "parameters": p}]}]}}
        ppath = os.path.join(self.work, "policy.json")
        with open(ppath, "w") as f:
            json.dump(policy, f)
        audit = os.path.join(self.work, f"audit-{self.runs}.jsonl")
        # Peak RSS through /usr/bin/time: wait4's ru_maxrss of a child forked
        # from this Python would count the Python pages it had before exec.
        rss_file = os.path.join(self.work, "rss.txt")
        if not wrap and not background and os.access("/usr/bin/time", os.X_OK):
            wrap = ["/usr/bin/time", "-f", "%M", "-o", rss_file]
        if os.path.exists(rss_file):
            os.unlink(rss_file)
        cmd = [*wrap, self.emhost, "fire", ppath, "--plugin-dir", os.path.dirname(self.plugin),
               "--process-start", "OUTLOOK.EXE", "--var", f"DataNowHome={self.fd}",
               "--state-dir", self.state, "--audit", audit]
        env = dict(os.environ, HOME=self.profile)
        if background:
            return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        secs, ru = timed(cmd, env=env)
        events = [json.loads(l) for l in open(audit) if l.strip()]
        summary = next(e["detail"] for e in events if e.get("eventId") == 9800)
        files = [e["detail"] for e in events if e.get("eventId") == 9801]
        started = [e.get("durationMs") for e in events if e.get("eventId") == 9428]
        if summary.get("failed"):
            raise RuntimeError(f"backup failed: {[e.get('message') for e in events]}")
        maxrss = None
        if os.path.exists(rss_file):
            maxrss = int(open(rss_file).read().split()[-1]) * 1024
        return {"secs": secs, "maxrss": maxrss, "oublock": ru.ru_oublock * 512,
                "summary": summary, "files": files, "snapshot": any(e.get("eventId") == 9803
                                                                   for e in events),
                "returned_ms": started[0] if started else None}


# --- the scenarios -------------------------------------------------------------------------------
def s1_first_backup(pl, cfg, out):
    pl.reset_profile()
    src = os.path.join(pl.outlook, "Big.pst")
    write_random(src, cfg["big"], 1)
    cpdst = os.path.join(pl.work, "cp-copy.pst")
    ours, cps, rets = [], [], []
    for _ in range(cfg["runs"]):
        pl.reset_backups()
        pl.drop(src)
        r = pl.fire()
        ours.append(r["secs"])
        rets.append(r["returned_ms"])
        if os.path.exists(cpdst):
            os.unlink(cpdst)
        pl.drop(src)
        secs, _ = timed(["cp", "--reflink=never", src, cpdst], after=lambda: fsync_path(cpdst))
        cps.append(secs)
    out["first_backup"] = {"pstsnap_s": median(ours), "cp_s": median(cps),
                           "ratio": median(ours) / median(cps), "runs": len(ours),
                           "returned_ms": median(rets)}
    log(f"  [{pl.name}] 1 first backup: {out['first_backup']}")
    return src


def s2_delta(pl, cfg, out, src):
    """After s1: the backup holds version A. Each run changes 1% of pages."""
    rs_dst = os.path.join(pl.work, "rsync-copy.pst")
    cp_dst = os.path.join(pl.work, "cp-copy.pst")
    sh(["cp", "--reflink=never", pl.final_for("Big.pst"), rs_dst])
    ours, rsyncs, cps, written, dev_written, changed_blocks, changed_pages = [], [], [], [], [], [], []
    for i in range(cfg["heavy_runs"]):
        pages, blocks = change_pages(src, 0.01, 100 + i, 64 * 1024)
        pl.drop(src, pl.final_for("Big.pst"))
        r = pl.fire()
        ours.append(r["secs"])
        written.append(r["summary"]["bytesWritten"])
        dev_written.append(r["oublock"])
        changed_blocks.append(len(blocks) * 64 * 1024)
        changed_pages.append(pages * PAGE)
        pl.drop(src, rs_dst)
        secs, _ = timed(["rsync", "--inplace", "--no-whole-file", src, rs_dst],
                        after=lambda: fsync_path(rs_dst))
        rsyncs.append(secs)
        if os.path.exists(cp_dst):
            os.unlink(cp_dst)
        pl.drop(src)
        secs, _ = timed(["cp", "--reflink=never", src, cp_dst], after=lambda: fsync_path(cp_dst))
        cps.append(secs)
    m = median(ours)
    out["delta"] = {"pstsnap_s": m, "rsync_s": median(rsyncs), "cp_s": median(cps),
                    "vs_rsync": m / median(rsyncs), "vs_cp": m / median(cps),
                    "bytes_written": median(written), "device_bytes_written": median(dev_written),
                    "changed_blocks_bytes": median(changed_blocks),
                    "changed_pages_bytes": median(changed_pages),
                    "written_vs_changed_blocks": median(written) / median(changed_blocks),
                    "maxrss": r["maxrss"]}
    log(f"  [{pl.name}] 2 delta: {out['delta']}")
    for p in (rs_dst, cp_dst):
        if os.path.exists(p):
            os.unlink(p)


def s8_in_place(pl, cfg, out, src):
    """After s2 on a filesystem that cannot clone: the same 1% change,
    patched into the backup through a redo log (updateInPlace)."""
    rs_dst = os.path.join(pl.work, "rsync-copy.pst")
    sh(["cp", "--reflink=never", pl.final_for("Big.pst"), rs_dst])
    ours, rsyncs, written, changed_blocks, in_place = [], [], [], [], []
    for i in range(cfg["heavy_runs"]):
        pages, blocks = change_pages(src, 0.01, 200 + i, 64 * 1024)
        pl.drop(src, pl.final_for("Big.pst"))
        r = pl.fire({"updateInPlace": True})
        ours.append(r["secs"])
        written.append(r["summary"]["bytesWritten"])
        changed_blocks.append(len(blocks) * 64 * 1024)
        in_place.append(all(f.get("inPlace") for f in r["files"]))
        pl.drop(src, rs_dst)
        secs, _ = timed(["rsync", "--inplace", "--no-whole-file", src, rs_dst],
                        after=lambda: fsync_path(rs_dst))
        rsyncs.append(secs)
    m = median(ours)
    out["in_place"] = {"pstsnap_s": m, "rsync_s": median(rsyncs), "vs_rsync": m / median(rsyncs),
                       "bytes_written": median(written),
                       "changed_blocks_bytes": median(changed_blocks),
                       "written_vs_changed_blocks": median(written) / median(changed_blocks),
                       "in_place": all(in_place)}
    log(f"  [{pl.name}] 8 in place: {out['in_place']}")
    os.unlink(rs_dst)


def s3_noop(pl, cfg, out):
    pl.reset_profile()
    for i in range(cfg["count"]):
        write_random(os.path.join(pl.outlook, f"Store {i:02}.pst"), cfg["small"], 1000 + i)
    r = pl.fire()
    assert r["summary"]["copied"] == cfg["count"], r["summary"]
    walls, engine, rets, snaps = [], [], [], 0
    for _ in range(cfg["noop_runs"]):
        r = pl.fire()
        assert r["summary"]["copied"] == 0 and r["summary"]["unchanged"] == cfg["count"]
        walls.append(r["secs"] * 1000)
        engine.append(r["summary"]["durationMs"])
        rets.append(r["returned_ms"])
        snaps += r["snapshot"]
    res = {"wall_ms": median(walls), "engine_ms": median(engine), "returned_ms": median(rets),
           "snapshots": snaps, "files": cfg["count"]}
    if shutil.which("strace"):
        trace = os.path.join(pl.work, "strace.txt")
        pl.fire(wrap=["strace", "-f", "-qq", "-o", trace])
        calls = {}
        for line in open(trace):
            m = re.match(r"^\d+\s+(\w+)\((.*)", line)
            if m and ".pst" in m.group(2) and ".pstsnap" not in m.group(2):
                calls[m.group(1)] = calls.get(m.group(1), 0) + 1
        reads = sum(1 for l in open(trace) if re.match(r"^\d+\s+(pread64|read)\(", l))
        res["pst_syscalls"] = calls
        res["reads_total"] = reads
    out["noop"] = res
    log(f"  [{pl.name}] 3 no-op: {res}")


def s4_rss(pl, cfg, out):
    res = {}
    for size in cfg["rss"]:
        pl.reset_profile()
        src = os.path.join(pl.outlook, "Rss.pst")
        write_random(src, size, 7)
        r = pl.fire()
        res[str(size)] = {"first": r["maxrss"]}
        change_pages(src, 0.01, 8, 64 * 1024)
        r = pl.fire()
        res[str(size)]["delta"] = r["maxrss"]
        os.unlink(src)
        pl.reset_backups()
    out["rss"] = res
    log(f"  [{pl.name}] 4 rss: {res}")


def read_throughput(path, stop_after=None):
    """MB/s of one sequential cold read of `path` in 1 MiB reads."""
    drop_cache(path)
    t0 = time.monotonic()
    n = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            b = f.read(MiB)
            if not b:
                break
            n += len(b)
    return n / MiB / (time.monotonic() - t0)


def s6_reader(pl, cfg, out):
    pl.reset_profile()
    src = os.path.join(pl.outlook, "Big.pst")
    write_random(src, cfg["big"], 3)
    reader = os.path.join(pl.work, "reader.bin")
    write_random(reader, cfg["reader"], 4)
    res = {"alone": median([read_throughput(reader) for _ in range(cfg["heavy_runs"])])}
    variants = [("normal", {"ioPriority": "normal"}), ("low", {"ioPriority": "low"}),
                ("low+100MiB/s", {"ioPriority": "low", "maxBandwidth": 100})]
    for label, params in variants:
        speeds = []
        for _ in range(cfg["heavy_runs"]):
            pl.reset_backups()
            pl.drop(src)
            p = pl.fire(params, background=True)
            time.sleep(0.3)
            speeds.append(read_throughput(reader))
            p.wait()
        res[label] = median(speeds)
    out["reader"] = res
    log(f"  [{pl.name}] 6 reader MB/s: {res}")
    os.unlink(reader)


def s7_sweep(pl, cfg, out):
    res = {}
    for kib in cfg["sweep"]:
        pl.reset_profile()
        src = os.path.join(pl.outlook, "Big.pst")
        write_random(src, cfg["big"], 5)
        params = {"blockSize": kib}
        pl.fire(params)
        secs, written, changed = [], [], []
        for i in range(cfg["heavy_runs"]):
            pages, _ = change_pages(src, 0.01, 200 + i, kib * 1024)
            pl.drop(src, pl.final_for("Big.pst"))
            r = pl.fire(params)
            secs.append(r["secs"])
            written.append(r["summary"]["bytesWritten"])
            changed.append(pages * PAGE)
        res[str(kib)] = {"secs": median(secs), "bytes_written": median(written),
                         "changed_pages_bytes": median(changed),
                         "hashes_per_GiB": GiB // (kib * 1024)}
    out["sweep"] = res
    log(f"  [{pl.name}] 7 blockSize: {res}")


# --- set-up --------------------------------------------------------------------------------------
def build():
    bdir = os.path.join(ROOT, "build-bench")
    sh(["cmake", "-S", ROOT, "-B", bdir, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
        "-DPSTSNAP_FAULT_INJECTION=OFF"])
    sh(["cmake", "--build", bdir, "-j2", "--target", "emhost", "pstsnap"])
    emhost = [p for p in glob.glob(os.path.join(bdir, "**", "emhost"), recursive=True)
              if os.access(p, os.X_OK) and os.path.isfile(p)][0]
    plugin = glob.glob(os.path.join(bdir, "**", "pstsnap.so"), recursive=True)[0]
    return emhost, plugin


def btrfs_place(work, cfg, emhost, plugin):
    """A btrfs for the run: the ctest fixture in quick mode, else an image of
    our own size behind tests/tools/btrfs-loop.sh."""
    mnt = os.environ.get("PSTSNAP_BTRFS_MNT") if not cfg["image"] else None
    image = None
    if not mnt:
        if os.geteuid() != 0:
            return None, "not root"
        d = os.path.join(work, "btrfs")
        os.makedirs(d, exist_ok=True)
        image = os.path.join(d, "btrfs.img")
        if not os.path.exists(image):
            # btrfs-loop.sh trusts an existing image: make it as large as needed.
            with open(image + ".tmp", "wb") as f:
                f.truncate(max(cfg["image"], 2 * GiB))
            sh(["mkfs.btrfs", "-q", "-f", image + ".tmp"])
            os.rename(image + ".tmp", image)
        p = subprocess.run(["sh", os.path.join(ROOT, "tests", "tools", "btrfs-loop.sh"), "up", d],
                           capture_output=True, text=True)
        if p.returncode == 77:
            return None, p.stderr.strip()
        if p.returncode != 0:
            raise RuntimeError(p.stderr)
        mnt = p.stdout.strip().split("=", 1)[1]
    if not os.path.ismount(mnt) or sh(["stat", "-f", "-c", "%T", mnt]).stdout.strip() != "btrfs":
        return None, f"{mnt} is not a btrfs mount"
    root = os.path.join(mnt, f"bench-{os.getpid()}")
    os.makedirs(root, exist_ok=True)
    return Place("btrfs", root, True, image, emhost, plugin), None


def machine():
    def first(cmd, pat):
        try:
            for l in sh(cmd).stdout.splitlines():
                if re.search(pat, l):
                    return l.split(":", 1)[1].strip()
        except Exception:
            return "?"
        return "?"
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"cpu": first(["lscpu"], r"^Model name"), "cores": os.cpu_count(),
            "ram_gib": round(mem / GiB, 1), "kernel": os.uname().release,
            "load": os.getloadavg()}


def fmt(x, unit="", digits=2):
    return "n/a" if x is None else f"{x:.{digits}f}{unit}"


def table(results, cfg):
    big = f"{cfg['big'] // MiB} MiB"
    rows = ["| # | measure | " + " | ".join(results) + " | goal |",
            "|---|---|" + "---|" * len(results) + "---|"]

    def row(n, what, goal, f):
        cells = []
        for fs, r in results.items():
            try:
                cells.append(f(r))
            except (KeyError, TypeError, ZeroDivisionError):
                cells.append("n/a")
        rows.append(f"| {n} | {what} | " + " | ".join(cells) + f" | {goal} |")

    row(1, f"first backup of {big}: pstsnap / cp (s)", "<= 1.05x cp",
        lambda r: f"{r['first_backup']['pstsnap_s']:.2f} / {r['first_backup']['cp_s']:.2f} = "
                  f"**{r['first_backup']['ratio']:.2f}x**")
    row(2, f"1% of 4 KiB pages changed in {big}: pstsnap / rsync (s)", "<= 0.3x rsync",
        lambda r: f"{r['delta']['pstsnap_s']:.2f} / {r['delta']['rsync_s']:.2f} = "
                  f"**{r['delta']['vs_rsync']:.2f}x**")
    row(2, "... pstsnap / full cp (s)", "",
        lambda r: f"{r['delta']['pstsnap_s']:.2f} / {r['delta']['cp_s']:.2f} = "
                  f"{r['delta']['vs_cp']:.2f}x")
    row(2, "... bytes written / changed 64 KiB blocks (MiB)", "<= 1.1x (btrfs)",
        lambda r: f"{r['delta']['bytes_written'] / MiB:.1f} / "
                  f"{r['delta']['changed_blocks_bytes'] / MiB:.1f} = "
                  f"**{r['delta']['written_vs_changed_blocks']:.2f}x**")
    row(2, "... written to the device by emhost (MiB, ru_oublock)", "",
        lambda r: f"{r['delta']['device_bytes_written'] / MiB:.1f}")
    row(3, f"nothing changed, {cfg['count']} PSTs: ms per run (engine / whole emhost)",
        "<= 20 ms, no snapshot",
        lambda r: f"**{r['noop']['engine_ms']:.0f}** / {r['noop']['wall_ms']:.0f}, "
                  f"{r['noop']['snapshots']} snapshots")
    row(3, "... syscalls naming a .pst (strace, one run)", "1 stat per file",
        lambda r: ", ".join(f"{k} {v}" for k, v in sorted(r['noop']['pst_syscalls'].items())))
    sizes = [str(s) for s in cfg["rss"]]
    row(4, f"peak RSS, first backup {int(sizes[0]) // MiB} / {int(sizes[1]) // MiB} MiB (MiB)",
        "<= 16 MiB, within 10%",
        lambda r: f"{r['rss'][sizes[0]]['first'] / MiB:.1f} / "
                  f"{r['rss'][sizes[1]]['first'] / MiB:.1f}")
    row(4, "... delta run (MiB)", "",
        lambda r: f"{r['rss'][sizes[0]]['delta'] / MiB:.1f} / "
                  f"{r['rss'][sizes[1]]['delta'] / MiB:.1f}")
    row(5, "emhost fire -> action returned (ms, 9428 durationMs)", "<= 5 ms",
        lambda r: f"**{r['noop']['returned_ms']:.0f}** (busy run: "
                  f"{r['first_backup']['returned_ms']:.0f})")
    row(6, "reader MB/s: alone / normal / low / low+100 MiB/s", "less impact",
        lambda r: " / ".join(f"{r['reader'][k]:.0f}"
                             for k in ("alone", "normal", "low", "low+100MiB/s")))
    for kib in cfg["sweep"]:
        row(7, f"blockSize {kib} KiB: delta s / MiB written", "",
            lambda r, k=str(kib): f"{r['sweep'][k]['secs']:.2f} / "
                                  f"{r['sweep'][k]['bytes_written'] / MiB:.1f}")
    row(8, "updateInPlace, 1% changed: pstsnap / rsync (s)", "(no cloning)",
        lambda r: f"{r['in_place']['pstsnap_s']:.2f} / {r['in_place']['rsync_s']:.2f} = "
                  f"**{r['in_place']['vs_rsync']:.2f}x**"
                  f"{'' if r['in_place']['in_place'] else ' (NOT in place)'}")
    row(8, "... bytes written / changed 64 KiB blocks (MiB)", "",
        lambda r: f"{r['in_place']['bytes_written'] / MiB:.1f} / "
                  f"{r['in_place']['changed_blocks_bytes'] / MiB:.1f} = "
                  f"{r['in_place']['written_vs_changed_blocks']:.2f}x")
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small files, one run each (< 60 s)")
    ap.add_argument("--runs", type=int, help="runs per measurement (median)")
    ap.add_argument("--fs", default="btrfs,plain", help="filesystems: btrfs, plain")
    ap.add_argument("--work", help="work folder (default: a new one under build-bench/)")
    ap.add_argument("--emhost", help="use this emhost instead of building")
    ap.add_argument("--plugin", help="use this pstsnap plugin instead of building")
    ap.add_argument("--only", default="1,2,3,4,6,7,8", help="scenarios to run")
    ap.add_argument("--json", help="write the raw figures here")
    ap.add_argument("--params", default="{}",
                    help='action parameters added to every run, e.g. \'{"ioPriority": "normal"}\'')
    ap.add_argument("--settle", type=float,
                    help="seconds of quiet before each timed run (default 15; --quick: 0)")
    a = ap.parse_args()
    cfg = dict(QUICK if a.quick else FULL)
    global SETTLE_S
    SETTLE_S = a.settle if a.settle is not None else (0.0 if a.quick else 15.0)
    EXTRA_PARAMS.update(json.loads(a.params))
    if a.runs:
        cfg["runs"] = cfg["heavy_runs"] = a.runs
    emhost, plugin = (a.emhost, a.plugin) if a.emhost and a.plugin else build()
    base = a.work or os.path.join(ROOT, "build-bench")
    os.makedirs(base, exist_ok=True)
    work = tempfile.mkdtemp(prefix="bench-", dir=base)
    info = machine()
    log(f"machine: {info}")
    results, places, cleanup = {}, [], []
    try:
        for fs in a.fs.split(","):
            if fs == "btrfs":
                pl, why = btrfs_place(work, cfg, emhost, plugin)
                if not pl:
                    log(f"btrfs: skipped ({why})")
                    continue
                if pl.image:
                    cleanup.append(os.path.dirname(pl.image))
            else:
                pl = Place("plain", os.path.join(work, "plain"), False, None, emhost, plugin)
            places.append(pl)
        only = set(a.only.split(","))
        for pl in places:
            out = results.setdefault(f"{pl.name} ({'btrfs snapshot + clone' if pl.btrfs else sh(['stat', '-f', '-c', '%T', pl.root]).stdout.strip() + ', no snapshot'})", {})
            if "1" in only or "2" in only or "8" in only:
                src = s1_first_backup(pl, cfg, out)
                if "2" in only:
                    s2_delta(pl, cfg, out, src)
                if "8" in only and not pl.btrfs:
                    s8_in_place(pl, cfg, out, src)
            if "3" in only:
                s3_noop(pl, cfg, out)
            if "4" in only:
                s4_rss(pl, cfg, out)
            if "6" in only:
                s6_reader(pl, cfg, out)
            if "7" in only and pl.btrfs:
                s7_sweep(pl, cfg, out)
            pl.reset_profile()
            if pl.btrfs:
                sh(["btrfs", "subvolume", "delete", pl.profile])
    finally:
        for pl in places:
            if pl.btrfs and os.path.isdir(pl.profile):
                subprocess.run(["btrfs", "subvolume", "delete", pl.profile], capture_output=True)
            shutil.rmtree(pl.root, ignore_errors=True)
        for d in cleanup:
            subprocess.run(["sh", os.path.join(ROOT, "tests", "tools", "btrfs-loop.sh"), "down", d])
        shutil.rmtree(work, ignore_errors=True)
    info["load_after"] = os.getloadavg()
    print(f"\nmachine: {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB RAM, "
          f"kernel {info['kernel']}; load average before {info['load'][0]:.2f}, after "
          f"{info['load_after'][0]:.2f}; medians of {cfg['runs']} (heavy: {cfg['heavy_runs']}) runs, "
          f"{SETTLE_S:g} s settle before each"
          f"{' (QUICK mode: small files, figures not meaningful)' if a.quick else ''}"
          f"{'; parameters added to every run: ' + json.dumps(EXTRA_PARAMS) if EXTRA_PARAMS else ''}"
          "\n")
    print(table(results, cfg))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": info, "config": cfg, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
