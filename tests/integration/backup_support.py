"""backup_support - what the backup integration tests share.

The tests drive emhost and the real plugin exactly as an admin's policy
would: a policy file with one Process Started node for OUTLOOK.EXE running
pstsnap.BackupPsts, fired with a user's profile as HOME. This module builds
that world on the loop-mounted btrfs the ctest fixture provides:

    <mnt>/home/<sandbox>          a fresh btrfs subvolume: the user's profile,
                                  holding the two default PST folders
    <mnt>/t-<sandbox>/fd          the sync client's folder ($(DataNowHome))
    <mnt>/t-<sandbox>/state       emhost's --state-dir
    <mnt>/t-<sandbox>/work        logs, audit files, scratch

and removes it again. It also has the checks every test needs: audit
events, byte equality, and the list of things a run must never leave
behind (staging files, journals, snapshots, clones, records).

A test file ends with `backup_support.main()`, which maps unittest's result
onto ctest's: 0 passed, 1 failed, 77 skipped. A skip is never a pass: if any
test of the file was skipped the file is reported skipped, with the reasons.

Environment (set by tests/integration/CMakeLists.txt): PSTSNAP_BTRFS_MNT,
EMHOST, PSTSNAP_PLUGIN, PAGEWRITER, PAGECHECK, PSTREWRITER,
PSTSNAP_SAMPLES_DIR, PSTSNAP_TEST_TMP. PSTSNAP_KEEP_SANDBOX=1 keeps the
sandboxes of failed tests for a look afterwards.
"""

import hashlib
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import unittest

SKIP_EXIT = 77
ACTION_ID = "pstsnap.BackupPsts"
STAGING_SUFFIX = ".pstsnap.partial"
SNAPSHOT_DIR = ".pstsnap-snapshots"
CLONE_PREFIX = ".pstsnap-clone-"
MANIFEST_FORMAT = "pstsnap-manifest"

# Where the default sources of the action live below HOME on Linux
# (%LOCALAPPDATA%\Microsoft\Outlook and %USERPROFILE%\Documents\Outlook
# Files), and the subfolder of the destination each one gets (its label).
OUTLOOK_REL = os.path.join(".local", "share", "Microsoft", "Outlook")
OUTLOOK_FILES_REL = os.path.join("Documents", "Outlook Files")
LABELS = {OUTLOOK_REL: "Outlook", OUTLOOK_FILES_REL: "Outlook Files"}

# Event ids (plugin/core/events.h).
EV_SUMMARY = 9800
EV_BACKED_UP = 9801
EV_NOTHING_CHANGED = 9802
EV_SNAPSHOT_CREATED = 9803
EV_ORPHAN_REMOVED = 9805
EV_RESUMED = 9806
EV_FILE_SKIPPED = 9807
EV_TOO_SOON = 9808
EV_BUSY = 9810
EV_SOURCE_SKIPPED = 9813
EV_SNAPSHOT_FALLBACK = 9814
EV_BAD_PARAMETERS = 9820
EV_SNAPSHOT_FAILED = 9824
EV_NO_SPACE = 9823
EV_CANCELLED = 9825
EV_CHANGED_DURING_COPY = 9826
# Environment Manager's own: Process Started action success / failure.
EV_ACTION_OK = 9428
EV_ACTION_FAILED = 9429

MiB = 1 << 20


# --- skipping ------------------------------------------------------------------
def skip(reason):
    """Skip the calling test (or the whole class from setUpClass)."""
    raise unittest.SkipTest(reason)


def _mounts():
    """(mount point, fstype) pairs of this process's mount table."""
    out = []
    with open("/proc/self/mounts", encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3:
                # Spaces and the like are written as octal escapes.
                point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), parts[1])
                out.append((point, parts[2]))
    return out


def fstype_of_mount(path):
    """The filesystem type mounted exactly at `path`, or None."""
    real = os.path.realpath(path)
    found = None
    for point, fstype in _mounts():
        if point == real:
            found = fstype  # the last one wins: it is the one on top
    return found


def require_tool(name):
    path = shutil.which(name)
    if not path:
        skip(f"'{name}' is not installed")
    return path


def require_env_file(var):
    """The executable or file named by environment variable `var`."""
    value = os.environ.get(var)
    if not value:
        skip(f"{var} is not set (run through ctest)")
    if not os.path.exists(value):
        skip(f"{var}='{value}' does not exist (not built?)")
    return value


def require_btrfs():
    """The btrfs fixture's mount point, or a skip saying why it is unusable."""
    if os.geteuid() != 0:
        skip("needs root (btrfs snapshots, subvolumes and loop devices are privileged)")
    mnt = os.environ.get("PSTSNAP_BTRFS_MNT")
    if not mnt:
        skip("PSTSNAP_BTRFS_MNT is not set (run through ctest, whose btrfs fixture sets it)")
    kind = fstype_of_mount(mnt)
    if kind is None:
        skip(f"PSTSNAP_BTRFS_MNT='{mnt}' is not a mount point (btrfs fixture not up?)")
    if kind != "btrfs":
        skip(f"PSTSNAP_BTRFS_MNT='{mnt}' is mounted as {kind}, not btrfs")
    if not os.path.isdir(os.path.join(mnt, "home")):
        skip(f"'{mnt}' has no subvolume 'home' (see tests/tools/btrfs-loop.sh)")
    require_tool("btrfs")
    return os.path.realpath(mnt)


def require_samples():
    d = os.environ.get("PSTSNAP_SAMPLES_DIR")
    if not d or not os.path.isdir(d):
        skip(f"PST samples folder PSTSNAP_SAMPLES_DIR='{d}' is missing")
    return d


# --- small file helpers ------------------------------------------------------------
def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            chunk = f.read(4 * MiB)
            if not chunk:
                break
            h.update(chunk)
    return h.hexdigest()


def write_random_file(path, size, seed):
    """A file of `size` bytes that depends only on `seed` (reproducible)."""
    import random

    rnd = random.Random(seed)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 4 * MiB)
            f.write(rnd.randbytes(n))
            left -= n


def set_mtime_past(path, seconds_ago):
    """Give `path` an mtime well in the past. Sources that were just written
    have an mtime within the timestamp granularity of the next look at them,
    which the engine rightly treats as "maybe changed again" (racily clean);
    an Outlook PST at rest is not like that."""
    t = time.time_ns() - int(seconds_ago * 1e9)
    os.utime(path, ns=(t, t))


def run_tool(args, timeout=120, check=True, **kw):
    """Run a helper tool; its output is returned (and shown on failure)."""
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} exited {p.returncode}:\n"
                             f"{p.stdout}{p.stderr}")
    return p


# --- btrfs --------------------------------------------------------------------------
def is_subvolume(path):
    """A btrfs subvolume root: inode 256 with a device number of its own."""
    try:
        st = os.lstat(path)
        parent = os.lstat(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return False
    return (os.path.isdir(path) and not os.path.islink(path) and st.st_ino == 256
            and st.st_dev != parent.st_dev)


def subvolumes_below(root):
    """Every subvolume strictly below `root`, deepest first."""
    found = []
    for dirpath, dirnames, _ in os.walk(root):
        for d in dirnames:
            p = os.path.join(dirpath, d)
            if is_subvolume(p):
                found.append(p)
    found.sort(key=lambda p: p.count(os.sep), reverse=True)
    return found


def delete_subvolume_tree(path):
    """Delete subvolume `path` and every subvolume nested in it."""
    for sub in subvolumes_below(path) + [path]:
        if os.path.exists(sub):
            run_tool(["btrfs", "subvolume", "delete", sub], check=False)


def btrfs_subvolume_list(mnt):
    """The set of subvolume paths `btrfs subvolume list` shows."""
    p = run_tool(["btrfs", "subvolume", "list", mnt])
    return {line.split(" path ", 1)[1] for line in p.stdout.splitlines() if " path " in line}


def btrfs_subvolume_id(path):
    p = run_tool(["btrfs", "subvolume", "show", path])
    m = re.search(r"^\s*Subvolume ID:\s*(\d+)", p.stdout, re.M)
    if not m:
        raise AssertionError(f"cannot read the subvolume id of '{path}':\n{p.stdout}")
    return int(m.group(1))


# --- background processes ---------------------------------------------------------------
class Background:
    """A child process (a writer holding a file open) that is always stopped:
    stop() is idempotent and registered as a cleanup by Sandbox.start()."""

    def __init__(self, args, log_path):
        self.args = [str(a) for a in args]
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.returncode = None

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM (the tools finish their write and report), then SIGKILL."""
        if self.returncode is None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.returncode = self.proc.returncode
            self._log.close()
        return self.returncode

    def output(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()


# --- emhost runs ------------------------------------------------------------------------------
class Run:
    """One `emhost fire`: exit status, output and the audit events."""

    def __init__(self, rc, stdout, stderr, events, elapsed, audit_path):
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.events = events
        self.elapsed = elapsed
        self.audit_path = audit_path

    def of(self, event_id):
        return [e for e in self.events if e.get("eventId") == event_id]

    def has(self, event_id):
        return bool(self.of(event_id))

    def summary(self):
        """The detail of the run summary (9800); fails if there is not exactly one."""
        s = self.of(EV_SUMMARY)
        if len(s) != 1:
            raise AssertionError(f"expected one summary event 9800, got {len(s)}\n{self.describe()}")
        return s[0].get("detail", {})

    def backed_up(self):
        """Source paths the run published (9801), in order."""
        return [e["detail"]["path"] for e in self.of(EV_BACKED_UP)]

    def describe(self):
        """Everything about the run, for assertion messages."""
        lines = [f"emhost exit {self.rc} after {self.elapsed:.2f} s; audit {self.audit_path}"]
        for e in self.events:
            lines.append(f"  {e.get('eventId')} {e.get('level')} {e.get('name')}: {e.get('message')}")
        if self.stderr.strip():
            lines.append("stderr:\n" + self.stderr.rstrip())
        return "\n".join(lines)


def read_events(path):
    events = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    events.append(json.loads(line))
                except ValueError as e:
                    raise AssertionError(f"audit line {n} of '{path}' is not JSON ({e}): {line!r}")
    return events


# --- the sandbox --------------------------------------------------------------------------------
class Sandbox:
    """One test's profile, destination and state on the btrfs fixture."""

    def __init__(self, test, name):
        self.test = test
        self.mnt = require_btrfs()
        self.emhost = require_env_file("EMHOST")
        self.plugin = require_env_file("PSTSNAP_PLUGIN")
        tag = f"{re.sub(r'[^A-Za-z0-9_-]', '_', name)}-{os.getpid()}-{secrets.token_hex(3)}"
        self.profile = os.path.join(self.mnt, "home", tag)
        self.base = os.path.join(self.mnt, "t-" + tag)
        self.fd = os.path.join(self.base, "fd")
        self.state = os.path.join(self.base, "state")
        self.work = os.path.join(self.base, "work")
        self.runs = 0
        self._background = []
        run_tool(["btrfs", "subvolume", "create", self.profile])
        for d in (self.base, self.fd, self.state, self.work, self.outlook_dir, self.files_dir):
            os.makedirs(d, exist_ok=True)
        test.addCleanup(self.destroy)

    # Layout ------------------------------------------------------------------
    @property
    def outlook_dir(self):
        return os.path.join(self.profile, OUTLOOK_REL)

    @property
    def files_dir(self):
        return os.path.join(self.profile, OUTLOOK_FILES_REL)

    @property
    def dest(self):
        """The destination folder the policy names: $(DataNowHome)\\Outlook Backup.
        A test may point self.fd ($(DataNowHome)) elsewhere, e.g. a small
        filesystem of its own."""
        return os.path.join(self.fd, "Outlook Backup")

    @property
    def action_state(self):
        return os.path.join(self.state, ACTION_ID)

    def final_for(self, source):
        """Where the backup of the source file `source` is published."""
        for rel, label in LABELS.items():
            root = os.path.join(self.profile, rel)
            if source.startswith(root + os.sep):
                return os.path.join(self.dest, label, os.path.relpath(source, root))
        raise ValueError(f"'{source}' is in neither default source folder")

    def staging_for(self, source):
        return self.final_for(source) + STAGING_SUFFIX

    def journaled_records(self, source):
        """How many block records the resume journal of `source`'s copy
        holds (its "<journal>.target" names the staging file), 0 without
        one. Counted by size, not checked: right after a run that stopped
        cleanly (a logoff), not after a kill, which may leave a torn one."""
        d = os.path.join(self.action_state, "journals")
        staging = self.staging_for(source)
        for name in os.listdir(d) if os.path.isdir(d) else []:
            if not name.endswith(".journal.target"):
                continue
            with open(os.path.join(d, name), encoding="utf-8") as f:
                if f.read() != staging:
                    continue
            journal = os.path.join(d, name[:-len(".target")])
            if os.path.exists(journal):
                return max(0, (os.path.getsize(journal) - 64) // 24)
        return 0

    # Processes ---------------------------------------------------------------
    def start(self, args, name):
        """Start a background helper; it is stopped when the test ends."""
        b = Background(args, os.path.join(self.work, f"{name}.out"))
        self._background.append(b)
        return b

    def write_policy(self, params, path=None, exact=False):
        """A policy running the action with `params` on top of the tests'
        usual ones (the destination in $(DataNowHome), minInterval 0), or
        with `params` alone when `exact` (to test the defaults)."""
        p = {} if exact else {"destination": "$(DataNowHome)\\Outlook Backup", "minInterval": "0"}
        p.update(params)
        policy = {
            "version": 1,
            "plugins": ["pstsnap"],
            "triggers": {"processStarted": [{
                "name": "Outlook",
                "conditions": [{"type": "processName", "operator": "Equal",
                                "value": "OUTLOOK.EXE"}],
                "actions": [{"action": ACTION_ID, "runAs": "System", "parameters": p}],
            }]},
        }
        path = path or os.path.join(self.work, f"policy-{self.runs + 1}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(policy, f, indent=1)
        return path

    def fire(self, params=None, env=None, args=(), timeout=180, exact=False):
        """Fire Process Started for OUTLOOK.EXE once and wait for emhost."""
        self.runs += 1
        policy = self.write_policy(params or {}, exact=exact)
        audit = os.path.join(self.work, f"audit-{self.runs}.jsonl")
        cmd = [self.emhost, "fire", policy, "--plugin-dir", os.path.dirname(self.plugin),
               "--process-start", "OUTLOOK.EXE", "--var", f"DataNowHome={self.fd}",
               "--state-dir", self.state, "--audit", audit, *map(str, args)]
        e = dict(os.environ)
        e["HOME"] = self.profile
        for k in ("PSTSNAP_FAULT_TRACE", "PSTSNAP_FAULT_KILL_AT"):
            e.pop(k, None)
        e.update(env or {})
        t0 = time.monotonic()
        p = subprocess.run(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout)
        return Run(p.returncode, p.stdout, p.stderr, read_events(audit), time.monotonic() - t0,
                   audit)

    # State -------------------------------------------------------------------
    def manifest_paths(self):
        d = os.path.join(self.action_state, "manifests")
        return sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith(".json")) \
            if os.path.isdir(d) else []

    def load_manifest(self):
        """The one manifest of this destination, parsed; fails if unreadable."""
        paths = self.manifest_paths()
        if len(paths) != 1:
            raise AssertionError(f"expected one manifest, found {paths}")
        with open(paths[0], encoding="utf-8") as f:
            doc = json.load(f)
        if doc.get("format") != MANIFEST_FORMAT:
            raise AssertionError(f"'{paths[0]}' has format {doc.get('format')!r}")
        return doc

    def leftovers(self):
        """Everything a finished run must not leave behind, by kind."""
        out = {"staging": [], "journals": [], "snapshots": [], "clones": [], "records": [],
               "temp": []}
        for dirpath, _, files in os.walk(self.fd):
            out["staging"] += [os.path.join(dirpath, f) for f in files if f.endswith(STAGING_SUFFIX)]
        for kind, sub in (("journals", "journals"), ("records", "snapshots")):
            d = os.path.join(self.action_state, sub)
            if os.path.isdir(d):
                out[kind] += [os.path.join(d, n) for n in os.listdir(d)]
        d = os.path.join(self.action_state, "manifests")
        if os.path.isdir(d):
            out["temp"] += [os.path.join(d, n) for n in os.listdir(d) if not n.endswith(".json")]
        for dirpath, dirnames, files in os.walk(self.profile):
            if os.path.basename(dirpath) == SNAPSHOT_DIR:
                # The folder itself may stay (harmless); what is in it may not.
                out["snapshots"] += [os.path.join(dirpath, n) for n in dirnames + files]
                dirnames[:] = []
                continue
            dirnames[:] = [n for n in dirnames if not is_subvolume(os.path.join(dirpath, n))
                           or n == SNAPSHOT_DIR]
            out["clones"] += [os.path.join(dirpath, f) for f in files if f.startswith(CLONE_PREFIX)]
        return {k: sorted(v) for k, v in out.items() if v}

    def backups(self):
        """Relative paths of the files below the destination folder."""
        out = set()
        for dirpath, _, files in os.walk(self.dest):
            out.update(os.path.relpath(os.path.join(dirpath, f), self.dest) for f in files)
        return out

    def dest_files(self):
        """Relative path -> (size, mtime_ns, inode) of every file in the destination."""
        out = {}
        for dirpath, _, files in os.walk(self.fd):
            for f in files:
                p = os.path.join(dirpath, f)
                st = os.lstat(p)
                out[os.path.relpath(p, self.fd)] = (st.st_size, st.st_mtime_ns, st.st_ino)
        return out

    # Teardown ----------------------------------------------------------------
    def stop_background(self):
        for b in self._background:
            b.stop()

    def destroy(self):
        self.stop_background()
        outcome = getattr(self.test, "_outcome", None)
        failed = outcome is not None and not getattr(outcome, "success", True)
        if failed and os.environ.get("PSTSNAP_KEEP_SANDBOX"):
            print(f"sandbox kept: {self.profile} {self.base}", file=sys.stderr)
            return
        if os.path.exists(self.profile):
            delete_subvolume_tree(self.profile)
        shutil.rmtree(self.base, ignore_errors=True)


# --- fault traces and page changes -----------------------------------------------------------------
def read_trace(path):
    """[(n, name)] in order, from a PSTSNAP_FAULT_TRACE file (plugin/core/fault.h)."""
    out = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                n, _, name = line.strip().partition(" ")
                if n:
                    out.append((int(n), name))
    return out


def rewrite_random_pages(path, fraction, seed, page=4096):
    """Overwrite `fraction` of the file's `page`-sized pages at random, as
    Outlook does; the page numbers written (also used by tests/bench)."""
    rnd = random.Random(seed)
    pages = os.path.getsize(path) // page
    chosen = rnd.sample(range(pages), max(1, int(pages * fraction)))
    with open(path, "r+b") as f:
        for p in chosen:
            f.seek(p * page)
            f.write(rnd.randbytes(page))
    return chosen


def change_pages(path, fraction, seed, block=64 * 1024, page=4096):
    """rewrite_random_pages; the set of `block`-sized blocks touched."""
    return {p * page // block for p in rewrite_random_pages(path, fraction, seed, page)}


# --- running a test file -------------------------------------------------------------------------
def main():
    """unittest.main with ctest's exit codes (0 pass, 1 fail, 77 skipped)."""
    sys.stdout.reconfigure(line_buffering=True)
    prog = unittest.main(exit=False, verbosity=2)
    result = prog.result
    if not result.wasSuccessful():
        sys.exit(1)
    if result.skipped:
        for test, reason in result.skipped:
            print(f"SKIPPED: {test}: {reason}")
        sys.exit(SKIP_EXIT)
    if result.testsRun == 0:
        print("no test ran")
        sys.exit(1)
    sys.exit(0)
