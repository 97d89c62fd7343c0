#!/usr/bin/env bash
# The real-devdax checks: QEMU guests whose NVDIMMs, backed by files here
# and shared between guests, become /dev/dax devices (ndctl, devdax mode,
# 2 MiB alignment). `make vm-test` runs them; `make test` includes it.
#
#   single  one guest, two devices: the CLI, the shim's mmap rules, real
#           programs (tests/vm/guest-single.sh)
#   hosts   two guests on one backing file, master and client
#           (guest-master.sh, guest-client.sh)
#
# Everything comes from Debian packages at test time: qemu-system-x86,
# ndctl, busybox-static, and the guest kernel (linux-image-amd64, fetched
# with `apt-get download` and unpacked with `dpkg-deb -x` under target/vm,
# never installed). Guests run under TCG: KVM does not boot nested guests
# on the CI machines. The guests chroot into this machine's root, shared
# read-only over 9p, see this checkout at /mnt, and run its debug build.
#
# When something it needs is missing it says what; in CI (CI=true) that is
# a failure, elsewhere the checks are skipped.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
VM=$ROOT/target/vm
RUN=$VM/run
modes=${*:-single hosts}

unavailable() {
    echo "vm-test: cannot run the devdax guests: $*"
    if [ "${CI:-}" = true ]; then
        echo "vm-test: 0 passed, 1 failed"
        exit 1
    fi
    echo "vm-test: skipped (install qemu-system-x86 ndctl busybox-static; CI fails here instead)"
    exit 0
}

for tool in qemu-system-x86_64 ndctl busybox dpkg-deb apt-get python3 cc; do
    command -v "$tool" >/dev/null || unavailable "$tool is not installed"
done
dpkg -s busybox-static >/dev/null 2>&1 || unavailable "busybox-static is not installed"

# The guest kernel: Debian's, whichever version linux-image-amd64 names.
mkdir -p "$VM/kernel"
kernel=$(ls "$VM"/kernel/boot/vmlinuz-* 2>/dev/null | head -1)
if [ -z "$kernel" ]; then
    (
        cd "$VM" || exit 1
        rm -f ./*.deb
        apt-get download linux-image-amd64 >/dev/null 2>&1 ||
            { apt-get update >/dev/null 2>&1 && apt-get download linux-image-amd64 >/dev/null 2>&1; } ||
            exit 1
        dep=$(dpkg-deb -f linux-image-amd64_*.deb Depends | sed 's/ (.*//; s/,.*//')
        apt-get download "$dep" >/dev/null 2>&1 || exit 1
        dpkg-deb -x "${dep}"_*.deb kernel
        rm -f ./*.deb
    ) || unavailable "cannot download the guest kernel (apt-get update first)"
    kernel=$(ls "$VM"/kernel/boot/vmlinuz-* | head -1)
fi
kver=${kernel##*/vmlinuz-}
python3 tests/vm/mkinitramfs.py "$VM/kernel" "$kver" tests/vm/init "$VM/initrd.gz" \
    nfit nd_pmem dax_pmem device_dax 9p 9pnet_virtio virtio_pci fuse ||
    unavailable "cannot build the initramfs"

cargo build -q -p famfs-cli -p famfs-preload || exit 1
mkdir -p "$VM/bin"
for prog in mmap_devdax shim_test; do
    cc -D_GNU_SOURCE -pthread -O1 -Wall -o "$VM/bin/$prog" "tests/c/$prog.c" || exit 1
done
py=$(python3 -c 'import sys; print(sys.executable)')

# boot NAME CHECK MEM...: one guest running tests/vm/CHECK with the given
# backing files as NVDIMMs; its console goes to $RUN/NAME.log.
boot() {
    local name=$1 check=$2 i=0 args=()
    shift 2
    for mem in "$@"; do
        local size
        size=$(stat -c %s "$mem")
        args+=(-object "memory-backend-file,id=mem$i,share=on,mem-path=$mem,size=$size,align=2M"
               -device "nvdimm,memdev=mem$i,id=nv$i")
        i=$((i + 1))
    done
    timeout 900 qemu-system-x86_64 -accel tcg -cpu max -smp 2 -net none \
        -machine pc,nvdimm=on -m 1536M,slots=4,maxmem=32G "${args[@]}" \
        -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
        -virtfs "local,path=$ROOT,mount_tag=repo,security_model=none,readonly=on,multidevs=remap" \
        -virtfs "local,path=$RUN/sync,mount_tag=sync,security_model=none" \
        -kernel "$kernel" -initrd "$VM/initrd.gz" \
        -append "console=ttyS0 quiet mitigations=off famfs_check=/mnt/tests/vm/$check" \
        -display none -serial "file:$RUN/$name.log" -no-reboot </dev/null >"$RUN/$name.qemu" 2>&1
}

# fresh FILE SIZE: a zeroed sparse backing file.
fresh() {
    rm -f "$1"
    truncate -s "$2" "$1"
}

show() {
    echo "----- guest $1 ($2 s) -----"
    sed -n '/FAMFS-VM: guest up/,$p' "$RUN/$1.log" | grep -v '^\[' | tr -d '\r'
    [ -s "$RUN/$1.qemu" ] && grep -v "Multiple devices detected" "$RUN/$1.qemu"
}

total_pass=0
total_fail=0
tally() {
    local r
    r=$(cat "$RUN/sync/result.$1" 2>/dev/null)
    if [ -z "$r" ]; then
        echo "vm-test: guest $1 gave no result"
        total_fail=$((total_fail + 1))
        return
    fi
    total_pass=$((total_pass + $(echo "$r" | awk '{print $1}')))
    total_fail=$((total_fail + $(echo "$r" | awk '{print $3}')))
}

rm -rf "$RUN"
mkdir -p "$RUN/sync"
cat >"$RUN/sync/env" <<ENV
ROOT=/mnt
PATH=$PATH:/usr/sbin:/sbin
PY=$py
SYNC_HOST_BIN=/mnt/target/vm/bin
ENV

for mode in $modes; do
    case $mode in
    single)
        # A devdax of 4 GiB or more needs a backing file of at least 4112 MiB
        # (the info block takes 2 MiB) in multiples of 16 MiB.
        fresh "$RUN/mem0.img" 6G
        fresh "$RUN/mem1.img" 4608M
        t0=$SECONDS
        boot single guest-single.sh "$RUN/mem0.img" "$RUN/mem1.img"
        show single $((SECONDS - t0))
        tally single
        ;;
    hosts)
        fresh "$RUN/shared.img" 6G
        rm -f "$RUN"/sync/{master-ready,client-reading,second-created,client-done}
        t0=$SECONDS
        boot master guest-master.sh "$RUN/shared.img" &
        master=$!
        for _ in $(seq 1 1500); do
            [ -e "$RUN/sync/master-ready" ] && break
            kill -0 $master 2>/dev/null || break
            sleep 0.2
        done
        boot client guest-client.sh "$RUN/shared.img"
        wait $master
        show master $((SECONDS - t0))
        show client $((SECONDS - t0))
        tally master
        tally client
        ;;
    *)
        echo "vm-test: unknown mode $mode"
        exit 2
        ;;
    esac
done
echo "vm-test: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
