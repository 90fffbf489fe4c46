"""A user profile with PSTs in a plain folder (snapshot "none": no btrfs,
no root needed) and the policy that backs it up, for the status and
progress tests of pstsnap through emhost."""

import json
import os
import random
import shutil
import subprocess
import tempfile
import time

SUPPORT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE_DIR = os.environ.get("PSTSNAP_SOURCE_DIR") or os.path.dirname(os.path.dirname(SUPPORT_DIR))
BUILD = os.environ.get("PSTSNAP_BINARY_DIR") or os.path.join(SOURCE_DIR, "build")
EMHOST = os.environ.get("EMHOST") or os.path.join(BUILD, "sdk-shim", "emhost")
PLUGIN = os.environ.get("PSTSNAP_PLUGIN") or os.path.join(BUILD, "plugin", "pstsnap.so")
TEST_TMP = os.environ.get("PSTSNAP_TEST_TMP") or os.path.join(BUILD, "tests", "tmp")
ACTION = "pstsnap.BackupPsts"
MiB = 1 << 20


class Profile:
    def __init__(self, test):
        for path in (EMHOST, PLUGIN):
            if not os.path.exists(path):
                raise AssertionError(f"{path} does not exist: build first")
        os.makedirs(TEST_TMP, exist_ok=True)
        self.root = tempfile.mkdtemp(prefix="status-", dir=TEST_TMP)
        test.addCleanup(shutil.rmtree, self.root, True)
        self.home = os.path.join(self.root, "home")
        self.files = os.path.join(self.home, "Documents", "Outlook Files")
        self.fd = os.path.join(self.root, "fd")
        self.state = os.path.join(self.root, "state")
        self.dest = os.path.join(self.fd, "Outlook Backup")
        os.makedirs(self.files)
        os.makedirs(self.fd)
        self.runs = 0

    def write_pst(self, name, size, seed):
        path = os.path.join(self.files, name)
        with open(path, "wb") as f:
            f.write(random.Random(seed).randbytes(size))
        t = time.time_ns() - 3600 * 10**9  # at rest, not racily clean
        os.utime(path, ns=(t, t))
        return path

    def policy(self, **params):
        p = {"destination": "$(DataNowHome)\\Outlook Backup", "minInterval": "0",
             "snapshot": "none", "sources": ["%USERPROFILE%\\Documents\\Outlook Files"]}
        p.update(params)
        self.runs += 1
        path = os.path.join(self.root, f"policy-{self.runs}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"version": 1, "plugins": [PLUGIN], "triggers": {"processStarted": [{
                "name": "Outlook", "actions": [{"action": ACTION, "parameters": p}]}]}}, f)
        return path

    def env(self):
        e = dict(os.environ)
        e["HOME"] = self.home
        e["USERPROFILE"] = self.home
        return e

    def common(self):
        return ["--var", f"DataNowHome={self.fd}", "--state-dir", self.state]

    def emhost(self, args, timeout=120, **kw):
        return subprocess.run([EMHOST, *args], env=self.env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout, **kw)

    def fire(self, policy, *extra, timeout=120):
        audit = os.path.join(self.root, f"audit-{self.runs}.jsonl")
        return self.emhost(["fire", policy, "--process-start", "OUTLOOK.EXE", "--audit", audit,
                            *self.common(), *extra], timeout=timeout)

    def status(self, policy, *extra):
        r = self.emhost(["status", policy, "--json", *self.common(), *extra])
        if r.returncode not in (0, 1):
            raise AssertionError(f"status exited {r.returncode}:\n{r.stdout}{r.stderr}")
        doc = json.loads(r.stdout)
        (answer,) = doc["actions"]
        return r.returncode, answer["result"], {i["name"]: i for i in answer["result"]["items"]}
