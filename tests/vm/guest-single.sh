# One guest, two NVDIMMs as real devdax devices: the CLI end to end, the
# shim's mmap rules and real programs, on /dev/dax0.0 and /dev/dax1.0.
. "$(dirname "$0")/lib.sh"
export FAMFS_MOUNTS=/tmp/famfs/mounts FAMFS_SYSTEM_UUID_FILE=/tmp/famfs/system_uuid
M=/mnt/famfs
mkdir -p /tmp/famfs /tmp/host

step devdax0 devdax namespace0.0
step devdax1 devdax namespace1.0
for d in dax0.0 dax1.0; do
    echo "    /dev/$d: size $(cat /sys/bus/dax/devices/$d/size) align $(cat /sys/bus/dax/devices/$d/align)"
done
A=$(cat /sys/bus/dax/devices/dax0.0/align)

# No read() of the device: devdax refuses it, which is what this checks.
expect_fail devdax_refuses_read "Invalid argument" dd if=/dev/dax0.0 of=/dev/null bs=4096 count=1

step mkfs famfs mkfs /dev/dax0.0
step mount famfs mount /dev/dax0.0 $M
step mkdir famfs mkdir -p $M/data/sets
step creat_random famfs creat -r -S 42 -s 64m $M/data/random.bin
step verify famfs verify -S 42 -f $M/data/random.bin
head -c 27 /dev/urandom > /tmp/host/small.bin
head -c 9500123 /dev/urandom > /tmp/host/big.bin
head -c 65536 /dev/urandom > /tmp/host/scratch.bin
cp -r "$ROOT/docs" /tmp/host/docs
step cp_files famfs cp /tmp/host/small.bin /tmp/host/big.bin /tmp/host/scratch.bin $M/
step cp_r famfs cp -r /tmp/host/docs $M/
step ls famfs ls -l $M
step df famfs df
step getmap famfs getmap $M/big.bin
step devadd famfs devadd $M /dev/dax1.0
step creat_interleaved famfs creat -N 2 -B 4 -C 2m -S 7 -s 9m $M/ilv.bin
step getmap_interleaved famfs getmap $M/ilv.bin
step verify_interleaved famfs verify -S 7 -f $M/ilv.bin
step fsck famfs fsck $M
step logplay famfs logplay -n $M
# read and mmap agree on devdax, for a striped file and the metadata files.
step chkread_interleaved famfs chkread $M/ilv.bin
step chkread_superblock famfs chkread -s $M/.meta/.superblock
step chkread_log famfs chkread -l $M/.meta/.log

# Real programs under the shim read what the host wrote.
for f in small.bin big.bin docs/format.md; do
    want=$(sha256sum < /tmp/host/$f | cut -d' ' -f1)
    got=$(shim sha256sum $M/$f 2>&1 | cut -d' ' -f1)
    [ "$got" = "$want" ] && ok "shim_sha256sum_$f" || fail "shim_sha256sum_$f" "$got != $want"
done
got=$(shim cat $M/small.bin | cmp - /tmp/host/small.bin 2>&1) && ok shim_cat || fail shim_cat "$got"
got=$(shim dd if=$M/big.bin bs=1M skip=3 count=2 status=none | cmp - <(dd if=/tmp/host/big.bin bs=1M skip=3 count=2 status=none) 2>&1) \
    && ok shim_dd || fail shim_dd "$got"

# mmap at odd offsets and lengths, shared and private, simple and
# interleaved (the same program the simulated-region test runs).
step shim_mmap_devdax shim "$BIN/mmap_devdax" "$A" /dev/dax0.0 $M/big.bin $M/ilv.bin $M/small.bin $M/scratch.bin

step python_mmap shim "$PY" - $M/big.bin /tmp/host/big.bin <<'PYEOF'
import mmap, sys
f, h = open(sys.argv[1], "rb"), open(sys.argv[2], "rb").read()
for off, ln in [(0, 4096), (4096, 27), (12288, 5000), (2 * 1024 * 1024 + 4096, 100000)]:
    m = mmap.mmap(f.fileno(), ln, access=mmap.ACCESS_READ, offset=off)
    assert m[:] == h[off:off + ln], (off, ln)
    m.close()
m = mmap.mmap(f.fileno(), 8192, access=mmap.ACCESS_COPY, offset=4096)
m[0:4] = b"XXXX"
assert m[4:8192] == h[4100:4096 + 8192]
assert f.read(8192)[4096:4100] == h[4096:4100]
print("python mmap: shared at 4 offsets, private copy-on-write")
PYEOF
step numpy_memmap_fromfile shim "$PY" - $M/big.bin /tmp/host/big.bin $M/scratch.bin <<'PYEOF'
import sys, numpy as np
h = np.fromfile(sys.argv[2], dtype=np.uint8)
a = np.memmap(sys.argv[1], dtype=np.uint8, mode="r", offset=12288, shape=(70000,))
assert (a == h[12288:12288 + 70000]).all()
b = np.fromfile(sys.argv[1], dtype=np.uint8)
assert (b == h).all()
c = np.memmap(sys.argv[1], dtype=np.uint8, mode="c", offset=4096, shape=(10000,))
c[:] = 7
assert (np.fromfile(sys.argv[1], dtype=np.uint8, count=14096)[4096:] == h[4096:14096]).all()
w = np.memmap(sys.argv[3], dtype=np.uint8, mode="r+", offset=4096, shape=(4096,))
saved = w.copy(); w[:] = 0x5a; w.flush()
assert (np.fromfile(sys.argv[3], dtype=np.uint8)[4096:8192] == 0x5a).all()
w[:] = saved; w.flush()
print("numpy: memmap r at 12 KiB, fromfile, memmap c (private), memmap r+ (shared write)")
PYEOF

# Memory errors: QEMU's emulated NVDIMM implements no error injection
# (no ARS inject DSM), so `ndctl inject-error` cannot poison a range here.
if ndctl inject-error --block=0 --count=1 namespace0.0 >/dev/null 2>&1; then
    echo "    ndctl inject-error accepted: this QEMU can inject errors"
else
    echo "    no memory error injection on this NVDIMM (documented in docs/shim.md)"
fi

step umount famfs umount $M
# The same files through a kernel FUSE mount of /dev/dax0.0 (the daemon
# maps the devices as the shim does): a static reader through the kernel
# against the CLI, which reads the device itself at the same mount point;
# writes and mmap at odd offsets from a program without the shim.
F=/tmp/fusemnt
step fuse_mount famfs mount --fuse -v /dev/dax0.0 $F
same_bytes() { [ "$(busybox sha256sum < "$1" | cut -c1-64)" = "$(famfs cat "$2" | sha256sum | cut -c1-64)" ]; }
step fuse_static_read_big same_bytes $F/big.bin $F/big.bin
step fuse_static_read_interleaved same_bytes $F/ilv.bin $F/ilv.bin
step fuse_static_read_superblock same_bytes $F/.meta/.superblock $F/.meta/.superblock
step fuse_write_and_mmap_odd_offsets env -u LD_PRELOAD "$PY" - $F/scratch.bin <<'PYEOF'
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
size = os.fstat(fd).st_size
assert os.pwrite(fd, b"FUSE-PWRITE", 12345) == 11
for off in (4096 * 3, 4096 * 7, size - size % 4096 - 4096):
    n = min(10000, size - off)
    m = mmap.mmap(fd, n, offset=off)
    assert m[:n] == os.pread(fd, n, off), off
    m[5:15] = b"FUSE-MMAP!"
    m.flush()
    m.close()
os.close(fd)
PYEOF
check_fuse_writes() {
    "$PY" - "$1" <<'PYEOF'
import subprocess, sys, os
b = subprocess.run([os.environ["FAMFS"], "cat", sys.argv[1]], capture_output=True, check=True).stdout
size = len(b)
assert b[12345:12356] == b"FUSE-PWRITE", b[12345:12356]
for off in (4096 * 3, 4096 * 7, size - size % 4096 - 4096):
    assert b[off + 5:off + 15] == b"FUSE-MMAP!", off
PYEOF
}
export FAMFS
step fuse_writes_reached_the_device check_fuse_writes $F/scratch.bin
step fuse_umount famfs umount $F


# The shim's C test program, every area, on a fresh file system on the
# same device: a host tree like the one tests/shim_c.rs builds, copied in.
T=/tmp/tree
"$PY" - $T <<'PYEOF'
import os, random, sys
t = sys.argv[1]
files = [("big.bin", 5 * 2**20 + 4321, 0o644), ("mid.bin", 300001, 0o644),
         ("small.bin", 1000, 0o644), ("one.bin", 1, 0o644), ("exact.bin", 2 * 2**20, 0o644),
         ("text.txt", 0, 0o644), ("ro.bin", 8192, 0o444), ("scratch_write.bin", 100003, 0o644),
         ("scratch_mmap.bin", 100003, 0o644), ("scratch_stdio.bin", 100003, 0o644),
         ("scratch_copy.bin", 100003, 0o644), ("sub/a.txt", 0, 0o644),
         ("sub/b.bin", 70000, 0o600), ("sub/deeper/c.txt", 0, 0o644)]
rng = random.Random(11)
for rel, size, mode in files:
    p = os.path.join(t, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    if rel.endswith(".txt"):
        n = 2000 if rel == "text.txt" else 20
        data = "".join(f"{rel} line {i:05}: the quick brown fox jumps over the lazy dog\n" for i in range(n)).encode()
    else:
        data = rng.randbytes(size)
    open(p, "wb").write(data)
    os.chmod(p, mode)
os.makedirs(os.path.join(t, "mk"))
for d in ("", "sub", "sub/deeper", "mk"):
    os.chmod(os.path.join(t, d), 0o755)
PYEOF
S=/mnt/shimtest
step mkfs_again famfs mkfs -f /dev/dax0.0
step mount_again famfs mount /dev/dax0.0 $S
step cp_tree famfs cp -r $(ls -d $T/* | grep -v /mk$) $S/
step mkdir_mk famfs mkdir $S/mk
mkdir -p /tmp/shimtmp
areas=$("$BIN/shim_test" --list)
bad=
for a in $areas; do
    out=$(TMPDIR=/tmp/shimtmp FAMFS_TEST_BIN=$FAMFS shim "$BIN/shim_test" $S $T $a 2>&1) || bad="$bad $a"
    printf '%s\n' "$out" | grep -v '^ok ' | sed 's/^/    /'
    echo "    area $a: $(printf '%s\n' "$out" | grep -c '^ok ') checks passed"
done
[ -z "$bad" ] && ok shim_test_all_areas || fail shim_test_all_areas "areas failed:$bad"
step umount_again famfs umount $S
finish single
