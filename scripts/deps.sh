#!/usr/bin/env bash
# Installs what `make test` needs besides the Rust toolchain, from Debian's
# packages and PyPI (as root: it runs apt-get). `make deps` and .ci/run call
# it; anything already present is left alone.
set -euo pipefail

need_apt=()
command -v python3 >/dev/null || need_apt+=(python3)
command -v make >/dev/null || need_apt+=(make)
command -v gcc >/dev/null || need_apt+=(gcc)          # the C test programs
command -v g++ >/dev/null || need_apt+=(g++)          # libFuzzer (libfuzzer-sys) for make fuzz-smoke
command -v script >/dev/null || need_apt+=(bsdutils)  # a pty for the progress-bar test
command -v strace >/dev/null || need_apt+=(strace)    # the shim's leak test
command -v sqlite3 >/dev/null || need_apt+=(sqlite3)  # a database read under the shim
command -v node >/dev/null || need_apt+=(nodejs)      # Node.js (libuv's syscall()) under the shim
# The real-devdax guests (make vm-test): QEMU, ndctl/daxctl run inside the
# guests from this machine's root, a static busybox for their initramfs
# (and for the static-program test).
command -v qemu-system-x86_64 >/dev/null || need_apt+=(qemu-system-x86)
command -v ndctl >/dev/null || need_apt+=(ndctl daxctl)
dpkg -s busybox-static >/dev/null 2>&1 || need_apt+=(busybox-static)
# The FUSE mount's tests: fusermount3 (mounts by non-root users), a static
# Go program, fio on io_uring, setpriv (another user's permissions).
command -v fusermount3 >/dev/null || need_apt+=(fuse3)
command -v go >/dev/null || need_apt+=(golang-go)
command -v fio >/dev/null || need_apt+=(fio)
command -v setpriv >/dev/null || need_apt+=(util-linux)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need_apt[@]}"
fi
# numpy.fromfile and numpy.memmap under the shim.
python3 -c 'import numpy' 2>/dev/null || python3 -m pip install --quiet numpy
rustup component add rustfmt clippy >/dev/null 2>&1 || true
# make fuzz-smoke runs the cargo-fuzz targets (stable toolchain, no sanitizer).
cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
