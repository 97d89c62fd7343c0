#!/usr/bin/env python3
"""Builds the guest initramfs for the devdax VM checks.

Usage: mkinitramfs.py KERNEL_TREE KVER INIT OUT.cpio.gz MODULE...

KERNEL_TREE is a linux-image package unpacked with `dpkg-deb -x`. The
archive holds busybox-static, the named modules and every module they
depend on (read from each module's own `.modinfo` `depends=` field, so no
depmod is needed on the host), a `modules.order` file listing them in load
order, and INIT as /init.
"""

import gzip
import os
import stat
import sys


def modinfo_depends(path):
    """The comma-separated `depends=` value of a module's .modinfo."""
    with open(path, "rb") as f:
        data = f.read()
    i = data.find(b"\0depends=")
    if i < 0:
        return []
    j = data.index(b"\0", i + 1)
    value = data[i + len(b"\0depends="):j].decode()
    return [d for d in value.split(",") if d]


def module_index(moddir):
    """Module name (with '-' as '_') -> path of its .ko under moddir."""
    index = {}
    for root, _dirs, files in os.walk(moddir):
        for name in files:
            if name.endswith(".ko"):
                index[name[:-3].replace("-", "_")] = os.path.join(root, name)
    return index


def load_order(wanted, index):
    """The modules in `wanted` and their dependencies, dependencies first."""
    order, seen = [], set()

    def visit(name):
        name = name.replace("-", "_")
        if name in seen:
            return
        seen.add(name)
        if name not in index:
            sys.exit(f"mkinitramfs: module {name} is not in the kernel package")
        for dep in modinfo_depends(index[name]):
            visit(dep)
        order.append(name)

    for w in wanted:
        visit(w)
    return order


class Cpio:
    """A writer of the `newc` cpio format the kernel unpacks."""

    def __init__(self):
        self.out = bytearray()
        self.ino = 1

    def _entry(self, name, mode, data=b""):
        name_b = name.encode() + b"\0"
        hdr = "070701" + "".join(
            f"{v:08x}"
            for v in (self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_b), 0)
        )
        self.ino += 1
        self.out += hdr.encode() + name_b
        self.out += b"\0" * (-len(self.out) % 4)
        self.out += data
        self.out += b"\0" * (-len(self.out) % 4)

    def dir(self, name):
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name, data, mode=0o644):
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name, target):
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def finish(self):
        self._entry("TRAILER!!!", 0)
        return bytes(self.out)


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    tree, kver, init, out, wanted = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
    moddir = os.path.join(tree, "lib/modules", kver)
    order = load_order(wanted, module_index(moddir))
    index = module_index(moddir)

    c = Cpio()
    for d in ("bin", "dev", "proc", "sys", "mnt", "root", "tmp", "modules"):
        c.dir(d)
    with open("/bin/busybox", "rb") as f:
        c.file("bin/busybox", f.read(), 0o755)
    for applet in ("sh", "mount", "umount", "insmod", "mkdir", "chroot", "cat", "echo",
                   "poweroff", "sleep", "ls", "dmesg", "switch_root", "ln"):
        c.symlink(f"bin/{applet}", "busybox")
    for name in order:
        with open(index[name], "rb") as f:
            c.file(f"modules/{name}.ko", f.read())
    c.file("modules/order", ("\n".join(order) + "\n").encode())
    with open(init, "rb") as f:
        c.file("init", f.read(), 0o755)
    with open(out, "wb") as f:
        f.write(gzip.compress(c.finish(), compresslevel=1))
    print(f"mkinitramfs: {out}: {len(order)} modules: {' '.join(order)}")


if __name__ == "__main__":
    main()
