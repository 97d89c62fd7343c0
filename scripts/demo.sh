#!/usr/bin/env bash
# `make demo`: the main job on a simulated dax region, each step printed.
# Everything lives under target/ (the region is a sparse 4 GiB file); the
# mount point is virtual: it does not exist in the kernel's namespace.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${1:-target/demo}
bin=$PWD/target/release/famfs
rm -rf "$dir"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# A private mount table and host identity, so the demo touches nothing
# system-wide (the defaults are /run/famfs/mounts and /opt/famfs/system_uuid).
export FAMFS_MOUNTS=$dir/mounts
export FAMFS_SYSTEM_UUID_FILE=$dir/system_uuid
mnt=/famfs-demo

famfs() { "$bin" "$@"; }
run() {
    printf '\n\033[1m$ %s\033[0m\n' "$*"
    "$@"
}

run famfs mkfs --size 4g "$dir/region.img"
run famfs mount "$dir/region.img" "$mnt"
run famfs mounts
run famfs mkdir -p "$mnt/data/sets"
run famfs cp README.md Cargo.toml "$mnt/"
run famfs cp -r docs "$mnt/"
run famfs creat -r -S 42 -s 64m "$mnt/data/sets/random.bin"
run famfs verify -S 42 -f "$mnt/data/sets/random.bin"
seq 1 200000 > "$dir/column.txt"
run famfs cp "$dir/column.txt" "$mnt/data/"
run famfs ls -l "$mnt"
run famfs ls -l "$mnt/docs"
run famfs stat "$mnt/data/column.txt"
run famfs getmap "$mnt/data/sets/random.bin"
printf '\n\033[1m$ famfs cat %s | head -n 3\033[0m\n' "$mnt/README.md"
famfs cat "$mnt/README.md" | head -n 3
run famfs df
run famfs logplay "$mnt"
run famfs fsck -h "$mnt"
printf '\nThe same bytes come back: '
cmp <(famfs cat "$mnt/data/column.txt") "$dir/column.txt" && echo "column.txt matches its source"

# The shim: unmodified programs read famfs files straight from the mapping.
shim=$PWD/target/release/libfamfs.so
app=$PWD/target/release/analytics_app
with_shim() { LD_PRELOAD=$shim "$@"; }
run "$app" gen "$dir/prices.f64" 8000000 2026
run famfs cp "$dir/prices.f64" "$mnt/data/prices.f64"
run with_shim ls -l "$mnt/data"
run with_shim sha256sum "$mnt/data/prices.f64" "$dir/prices.f64"
printf '\n\033[1m$ LD_PRELOAD=%s %s scan %s\033[0m\n' "$shim" "$app" "$mnt/data/prices.f64"
in_famfs=$(with_shim "$app" scan "$mnt/data/prices.f64")
echo "$in_famfs"
printf '\n\033[1m$ %s scan %s   # the host copy, no shim\033[0m\n' "$app" "$dir/prices.f64"
on_host=$("$app" scan "$dir/prices.f64")
echo "$on_host"
if [ "$in_famfs" = "$on_host" ]; then
    printf '\nanalytics_app gives the same answer from famfs (read and mmap) as from the host copy\n'
else
    echo "analytics_app answers differ" >&2
    exit 1
fi

run famfs umount "$mnt"

# The kernel-visible mount: a static program (no libc to interpose) reads
# the same file through FUSE. It needs /dev/fuse and root or fusermount3.
# A device is mounted once per host, so this mount replaces the one above.
fuse_mnt=$dir/fuse
static_reader=$(command -v busybox || true)
if [ ! -e /dev/fuse ]; then
    printf '\nFUSE: /dev/fuse is missing (load the fuse module), so the kernel-visible mount is not shown\n'
elif [ -z "$static_reader" ] || ! { ldd "$static_reader" 2>&1 || true; } | grep -q "not a dynamic executable"; then
    printf '\nFUSE: no static busybox (apt-get install busybox-static), so the kernel-visible mount is not shown\n'
elif ! famfs mount --fuse -v "$dir/region.img" "$fuse_mnt"; then
    printf '\nFUSE: the mount failed (not root, and no fusermount3?), so the kernel-visible mount is not shown\n'
else
    run "$static_reader" sha256sum "$fuse_mnt/data/prices.f64" "$dir/prices.f64"
    run famfs mounts
    run famfs umount "$fuse_mnt"
fi
