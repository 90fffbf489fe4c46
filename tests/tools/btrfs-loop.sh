#!/bin/sh
# btrfs-loop.sh - a throw-away btrfs filesystem for the snapshot tests.
#
#   btrfs-loop.sh up DIR     DIR/btrfs.img (1 GiB, sparse) on a loop device,
#                            mounted at DIR/mnt, with a subvolume DIR/mnt/home
#   btrfs-loop.sh down DIR   unmount, detach the loop device, delete the image
#
# Both are idempotent: "up" on a running fixture only checks it, "down" on a
# missing one does nothing. Exit 77 (ctest's "skipped") when this machine
# cannot host the fixture: not root, no loop device, no btrfs support. The
# tests read the mount point from PSTSNAP_BTRFS_MNT, which "up" prints.
set -eu

SKIP=77

skip() {
    echo "btrfs-loop: skipped: $*" >&2
    exit "$SKIP"
}

die() {
    echo "btrfs-loop: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 up|down DIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
action=$1
[ -n "$2" ] || usage

[ "$(id -u)" -eq 0 ] || skip "needs root (losetup, mount and btrfs snapshots are privileged)"
for tool in losetup mount umount mountpoint; do
    command -v "$tool" >/dev/null 2>&1 || skip "'$tool' is not installed"
done

# The loop device that currently backs $img, if any (first one only: "up"
# never attaches the image twice).
loop_of() {
    losetup -j "$1" 2>/dev/null | head -n 1 | cut -d: -f1
}

up() {
    command -v mkfs.btrfs >/dev/null 2>&1 || skip "mkfs.btrfs is not installed (btrfs-progs)"
    command -v btrfs >/dev/null 2>&1 || skip "the btrfs tool is not installed (btrfs-progs)"
    if ! grep -qw btrfs /proc/filesystems; then
        modprobe btrfs >/dev/null 2>&1 || true
        grep -qw btrfs /proc/filesystems || skip "the kernel has no btrfs support"
    fi
    [ -e /dev/loop-control ] || ls /dev/loop[0-9]* >/dev/null 2>&1 ||
        skip "no loop devices on this machine"

    mkdir -p "$1"
    dir=$(cd "$1" && pwd -P)
    img=$dir/btrfs.img
    mnt=$dir/mnt
    mkdir -p "$mnt"

    if mountpoint -q "$mnt"; then
        fstype=$(stat -f -c %T "$mnt")
        [ "$fstype" = btrfs ] || die "'$mnt' is already a mount point of type $fstype"
    else
        if [ ! -f "$img" ]; then
            # Format under a temporary name so an interrupted "up" never
            # leaves an unformatted btrfs.img that the next "up" would trust.
            rm -f "$img.tmp"
            truncate -s 1G "$img.tmp"
            mkfs.btrfs -q -f "$img.tmp" >/dev/null || die "mkfs.btrfs failed on '$img.tmp'"
            mv "$img.tmp" "$img"
        fi
        dev=$(loop_of "$img")
        if [ -z "$dev" ]; then
            dev=$(losetup -f --show "$img" 2>/dev/null) || skip "no free loop device for '$img'"
        fi
        if ! mount -t btrfs "$dev" "$mnt" 2>/dev/null; then
            losetup -d "$dev" 2>/dev/null || true
            skip "cannot mount btrfs from $dev (missing kernel support or privileges)"
        fi
    fi

    if [ ! -d "$mnt/home" ]; then
        btrfs subvolume create "$mnt/home" >/dev/null || die "cannot create subvolume '$mnt/home'"
    fi
    echo "PSTSNAP_BTRFS_MNT=$mnt"
}

down() {
    [ -d "$1" ] || return 0
    dir=$(cd "$1" && pwd -P)
    img=$dir/btrfs.img
    mnt=$dir/mnt

    if [ -d "$mnt" ] && mountpoint -q "$mnt"; then
        umount "$mnt" || die "cannot unmount '$mnt' (still in use?)"
    fi
    # An image can be attached more than once if someone ran losetup by
    # hand; detach every one so the image file can really go away. One pass
    # over the list: a busy device stays listed (autoclear) and must not
    # make this loop forever.
    for dev in $(losetup -j "$img" 2>/dev/null | cut -d: -f1); do
        losetup -d "$dev" || die "cannot detach $dev"
    done
    rm -f "$img" "$img.tmp"
    rmdir "$mnt" 2>/dev/null || true
}

case $action in
up) up "$2" ;;
down) down "$2" ;;
*) usage ;;
esac
