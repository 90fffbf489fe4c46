#!/bin/sh
# demo.sh - install what is needed, build, and back up a demo user's PSTs
# through emhost exactly as Environment Manager would when Outlook starts.
#
#   deploy/demo.sh        (as root for the btrfs snapshot demo; as a user it
#                          runs on a plain folder)
#
# What it does:
#   1. deploy/setup.sh, then a release build of emhost and the plugin;
#   2. a demo profile with PSTs in Outlook's default folders (the real
#      samples from ../shared/pst-samples when present), on a loop-mounted
#      btrfs when run as root, so the backup uses a real snapshot;
#   3. a stand-in for Outlook keeps Mail.pst open and rewrites it while the
#      Process Started trigger for OUTLOOK.EXE fires the policy
#      deploy/policies/backup-psts.json;
#   4. shows the events, the backups and their checksums, then fires again
#      for the next session: nothing changed, so no snapshot, no copy.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build-demo"
samples="${PSTSNAP_SAMPLES_DIR:-$top/../shared/pst-samples}"

"$top/deploy/setup.sh"

echo "== building (release)"
cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target emhost pstsnap pstrewriter >/dev/null
emhost="$build/sdk-shim/emhost"

# Where the demo user's disk is: a btrfs image when we may mount one.
root="$build/demo"
fixture="$build/demo-btrfs"
if [ "$(id -u)" -eq 0 ] && sh "$top/tests/tools/btrfs-loop.sh" up "$fixture" >/dev/null 2>&1; then
    root="$fixture/mnt/home/demo"
    echo "== demo profile on a loop-mounted btrfs ($fixture/mnt): snapshots are real"
else
    echo "== demo profile on a plain folder (run as root for the btrfs snapshot demo)"
fi
rm -rf "$root"
profile="$root/profile"
fd="$root/FileDirector"
state="$root/state"
outlook="$profile/.local/share/Microsoft/Outlook"
documents="$profile/Documents/Outlook Files"
mkdir -p "$outlook" "$documents" "$fd" "$state"

if [ -f "$samples/aspose-Outlook.pst" ]; then
    cp "$samples/aspose-Outlook.pst" "$outlook/Mail.pst"
    cp "$samples/tika-testPST.pst" "$documents/Archive 2024.pst"
    cp "$samples/pstsdk-sample1.pst" "$documents/Projects.pst"
    cp "$samples/aspose-SampleOstFile.ost" "$outlook/alice@example.com.ost"
    echo "== demo PSTs: real samples from $samples"
else
    # No samples on this machine: stand-ins with a PST signature, so the
    # pipeline still runs end to end (readers would not open them).
    for f in "$outlook/Mail.pst" "$documents/Archive 2024.pst" "$documents/Projects.pst" \
             "$outlook/alice@example.com.ost"; do
        { printf '!BDN'; head -c 3000000 /dev/urandom; } >"$f"
    done
    echo "== demo PSTs: synthetic stand-ins ($samples not found)"
fi
chmod 600 "$outlook"/* "$documents"/*
# Archives sit untouched for days; only the mailbox Outlook has open moves.
touch -d '3 days ago' "$documents"/*

# Outlook keeps its PSTs open and rewrites them while it runs.
"$build/tests/tools/pstrewriter" "$outlook/Mail.pst" --seconds 30 >/dev/null &
outlook_pid=$!
trap 'kill $outlook_pid 2>/dev/null || true' EXIT

show_events() {
    /usr/bin/python3 - "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["level"] == "debug":
        continue
    print(f'  {e["eventId"]:>5} {e["level"]:<7} {e["message"]}')
PY
}

fire() {
    HOME="$profile" "$emhost" fire "$top/deploy/policies/backup-psts.json" \
        --plugin-dir "$build/plugin" --process-start OUTLOOK.EXE \
        --var "DataNowHome=$fd" --state-dir "$state" --session-id "$1" \
        --audit "$root/audit-$1.jsonl"
}

echo "== Outlook started: Process Started trigger fires (session 1)"
fire 1
show_events "$root/audit-1.jsonl"
kill $outlook_pid 2>/dev/null || true
wait $outlook_pid 2>/dev/null || true

echo "== backups in the File Director folder ($fd)"
(cd "$fd" && find . -type f | sort | sed 's/^/  /')
echo "== checksums: source = backup"
status=0
for src in "$outlook/Mail.pst" "$documents/Archive 2024.pst" "$documents/Projects.pst"; do
    case "$src" in
        "$outlook"/*) dst="$fd/Outlook Backup/Outlook/$(basename "$src")" ;;
        *) dst="$fd/Outlook Backup/Outlook Files/$(basename "$src")" ;;
    esac
    a=$(sha256sum <"$src" | cut -c1-16)
    b=$(sha256sum <"$dst" 2>/dev/null | cut -c1-16 || echo missing)
    if [ "$a" = "$b" ]; then mark="equal"; else mark="DIFFERENT"; status=1; fi
    echo "  $a $b $mark  $(basename "$src")"
done
if [ -e "$fd/Outlook Backup/Outlook/alice@example.com.ost" ]; then
    echo "  the OST was copied: it should not be"; status=1
else
    echo "  the OST cache was left out, as it should be"
fi

echo "== next session: Outlook starts again (minInterval, default 1h, holds back what changed since)"
fire 2
show_events "$root/audit-2.jsonl"

if [ "$root" != "$build/demo" ]; then
    cp "$root"/audit-*.jsonl "$build/" 2>/dev/null || true
    sh "$top/tests/tools/btrfs-loop.sh" down "$fixture" >/dev/null 2>&1 || true
    echo "== demo btrfs unmounted; audit logs kept in $build/audit-*.jsonl"
else
    echo "== demo files kept in $root"
fi
exit $status
