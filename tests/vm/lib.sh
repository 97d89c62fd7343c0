# Sourced by the guest check scripts (bash, chrooted into the host's root
# shared read-only over 9p; /tmp is guest memory, /tmp/sync the host's run
# directory, shared read-write). Each check prints "ok NAME" or "FAIL NAME: detail"; `finish`
# prints the closing "N passed, N failed" line the host harness reads.
set -u
. /tmp/sync/env
export PATH LD_LIBRARY_PATH=
FAMFS=$ROOT/target/debug/famfs
SHIM=$ROOT/target/debug/libfamfs.so
BIN=$SYNC_HOST_BIN
passed=0
failed=0

ok() { echo "ok $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# step NAME CMD...: runs CMD, output shown indented; ok if it exits 0.
step() {
    local name=$1 out rc t0 t1
    shift
    t0=$EPOCHREALTIME
    out=$("$@" 2>&1)
    rc=$?
    t1=$EPOCHREALTIME
    [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/    /' | head -40
    if [ $rc -eq 0 ]; then
        ok "$name ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s)"
    else
        fail "$name" "exit $rc: $*"
    fi
    return $rc
}

# expect_fail NAME ERRTEXT CMD...: CMD must fail and say ERRTEXT.
expect_fail() {
    local name=$1 want=$2 out rc
    shift 2
    out=$("$@" 2>&1)
    rc=$?
    printf '%s\n' "$out" | sed 's/^/    /' | head -5
    if [ $rc -ne 0 ] && printf '%s' "$out" | grep -qi -- "$want"; then
        ok "$name"
    else
        fail "$name" "wanted a failure saying '$want', got exit $rc"
    fi
}

famfs() { "$FAMFS" "$@"; }
shim() { LD_PRELOAD=$SHIM "$@"; }

# devdax NS: reconfigures namespace NS as a devdax device with a 2 MiB
# alignment and its page array in guest memory (--map=mem: the backing
# file can then be shared by several guests).
devdax() {
    ndctl create-namespace -f -e "$1" -m devdax -a 2M --map=mem >/dev/null
}

finish() {
    echo "$passed passed, $failed failed"
    echo "$passed passed, $failed failed" > "/tmp/sync/result.$1"
    sync
}

wait_for() {
    local i
    for i in $(seq 1 600); do
        [ -e "/tmp/sync/$1" ] && return 0
        sleep 0.2
    done
    echo "timed out waiting for /tmp/sync/$1"
    return 1
}
