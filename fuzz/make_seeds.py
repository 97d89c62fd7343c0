#!/usr/bin/env python3
"""Writes the seed corpus under fuzz/corpus/ from the golden images' metadata.

usage: make_seeds.py [GOLDEN_DIR]   (default: ../../shared/golden beside the clone)

The golden superblocks, log headers, entries and used parts of the logs are
the seeds, in each target's input format (see the comment at the top of
each fuzz_targets/*.rs), plus a few hand-made inputs. Re-running it rewrites
the same files; the output is committed, so CI needs no golden images to fuzz.
"""
import gzip, os, struct, sys, zlib

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "../../shared/golden")
LOG_OFFSET, HDR, ENTRY, LOG_LEN = 0x200000, 48, 544, 8 << 20


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def fmap_message(size, fmap):
    """GET_FMAP reply for a log fmap (416 bytes at entry offset 120)."""
    ext_type, count = struct.unpack_from("<I4xI", fmap, 0)
    out = struct.pack("<BBHIIIQQ", 0, 0, 1, ext_type, count, 0, size, 0)
    if ext_type == 0:
        for k in range(count):
            dev, ofs, ln = struct.unpack_from("<QQQ", fmap, 16 + 24 * k)
            out += struct.pack("<IIQQ", dev, 0, ofs, ln)
    else:
        nstrips, chunk = struct.unpack_from("<QQ", fmap, 16)
        strips = [struct.unpack_from("<QQQ", fmap, 32 + 24 * k) for k in range(nstrips)]
        out += struct.pack("<IIQQ", nstrips, chunk, sum(s[2] for s in strips), 0)
        for dev, ofs, ln in strips:
            out += struct.pack("<IIQQ", dev, 0, ofs, ln)
    return out


def golden(name):
    meta = gzip.open(os.path.join(GOLDEN, name + ".meta.bin.gz")).read()
    sb = meta[:200]
    put("superblock", name, sb)
    header = meta[LOG_OFFSET:LOG_OFFSET + HDR]
    put("log_header", name, b"\0" + struct.pack("<Q", LOG_LEN) + header)
    n = struct.unpack_from("<Q", header, 40)[0]
    used = meta[LOG_OFFSET:LOG_OFFSET + HDR + ENTRY * n]
    put("replay", name, b"\0" + bytes([n // 2]) + used)
    put("replay", name + "-resealed", b"\3" + bytes([1]) + used)
    for i in range(n):
        e = used[HDR + ENTRY * i:HDR + ENTRY * (i + 1)]
        put("log_entry", f"{name}-entry-{i:02}", b"\0" + struct.pack("<Q", i) + e)
        if struct.unpack_from("<I", e, 8)[0] != 0:
            continue
        size = struct.unpack_from("<Q", e, 16)[0]
        fmap = e[120:536]
        queries = struct.pack("<QQQQ", 0, 4096, size - 1 if size else 0, 1 << 20)
        put("fmap_resolve", f"{name}-entry-{i:02}", b"\0" + struct.pack("<Q", size) + fmap + queries)
        put("fmap_msg", f"{name}-entry-{i:02}", b"\0" + fmap_message(size, fmap))
    return sb


def main():
    sb = None
    for name in ("g1", "g2", "g3"):
        sb = golden(name)
    # The checks past the CRC: version 47 and a 4 KiB allocation unit.
    for name, off, value in (("version-47", 8, 47), ("alloc-unit-4k", 32, 4096)):
        b = bytearray(sb)
        struct.pack_into("<Q", b, off, value)
        struct.pack_into("<Q", b, 96, zlib.crc32(b[:96]))
        put("superblock", name, bytes(b))
    # Inputs that found bugs, kept as seeds so every run retries them.
    header = struct.pack("<QQQ", 0x0BADCAFEF00D, 0, 0)
    header += struct.pack("<Q", zlib.crc32(header)) + bytes(16)
    put("log_header", "regress-no-entry-room", b"\1" + struct.pack("<Q", 0) + header)
    msg = bytearray(open(os.path.join(HERE, "corpus/fmap_msg/g2-entry-05"), "rb").read())
    msg[2] = 0x2F  # the header's reserved byte
    put("fmap_msg", "regress-reserved-byte", bytes(msg))
    daxdev = bytearray(ENTRY)
    struct.pack_into("<I", daxdev, 8, 3)  # ADD_DAXDEV
    struct.pack_into("<Q16sI", daxdev, 16, (1 << 64) - 1, bytes(range(16)), 1)
    put("replay", "regress-huge-daxdev", b"\3\0" + struct.pack("<QQQQQQ", 0, 0, 0, 0, 1, 1) + bytes(daxdev))
    name = b"/dev/dax0.0"
    put("fmap_msg", "daxdev-0", b"\1" + struct.pack("<HHIQQ", 0, 0, 0, 0, 0) + name + bytes(256 - len(name)))
    for i, (base, path) in enumerate([
        (b"/mnt/famfs/a", b"../b//./c/"),
        (b"/", b"dir2/sub1/sub2/f_37m"),
        (b"/mnt/famfs", b"/../../x/./y/.."),
        (b"rel/../cwd", b"y"),
        (b"/", b"x" * 79),
        (b"/", b"a//b"),
    ]):
        put("path", f"hand-{i}", base + b"\0" + path)


if __name__ == "__main__":
    main()
