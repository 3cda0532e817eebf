#!/usr/bin/env python3
"""Writes the hostile seeds of tests/fuzz/corpus/record-log (record logs with valid checksums,
docs/record-format.md) for the scene of record_log_fuzzer.cc: paths that climb out with "..",
absolute paths into the fuzzer's own directory, ops through the snapshot's symlinks and through
symlinks the log itself makes, and an ordinary workload touching every op kind.

Usage: tests/fuzz/make_record_log_seeds.py [DIR]   (default: tests/fuzz/corpus/record-log)
"""
import os
import struct
import sys

BASE = "/dev/shm/faultfs-fuzz-record-log"  # record_log_fuzzer.cc's kBase

KIND = {"write": 1, "truncate": 2, "fallocate": 3, "create": 4, "mknod": 5, "mkdir": 6,
        "symlink": 7, "link": 8, "unlink": 9, "rmdir": 10, "rename": 11, "chmod": 12,
        "chown": 13, "setxattr": 14, "removexattr": 15, "fsync": 16, "fdatasync": 17,
        "fsyncdir": 18, "mark": 19}


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def string(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<I", len(b)) + b


def op(seq, kind, path, path2="", data=b"", offset=0, length=None, mode=0o644, flags=0):
    if isinstance(data, str):
        data = data.encode()
    if length is None:
        length = len(data) if kind == "write" else 0
    return (struct.pack("<BQQIQ", KIND[kind], seq, seq * 1000, 4242, 0) + string(path) +
            string(path2) + struct.pack("<QQIIII", offset, length, mode, flags, 0xFFFFFFFF,
                                        0xFFFFFFFF) + string(data))


def log(ops):
    names = [(1, ""), (2, "f"), (3, "d/"), (4, "d/g"), (5, "out"), (6, "up")]
    header = struct.pack("<Q", 0) + string("log.base") + struct.pack("<Q", len(names))
    for ino, name in names:
        header += struct.pack("<Q", ino) + string(name)
    out = b"FAULTFSR" + struct.pack("<HHI", 1, 0, len(header)) + header
    out += struct.pack("<I", crc32c(header))
    for i, (kind, args) in enumerate(ops, start=1):
        payload = op(i, kind, *args[:2], **args[2] if len(args) > 2 else {})
        out += struct.pack("<II", len(payload), crc32c(payload)) + payload
    return out


def a(path, path2="", **kw):
    return (path, path2, kw)


SEEDS = {
    "hostile-dotdot": [
        ("create", a("n")), ("write", a("n", data="new")), ("fsync", a("n")),
        ("create", a("../escaped")), ("write", a("../escaped", data="x")),
        ("rename", a("n", "../../moved")), ("link", a("f", "d/../../../linked")),
        ("mkdir", a("d/../../../../dir", mode=0o755)), ("unlink", a("../../../snapshot/f")),
        ("fsyncdir", a(""))],
    "hostile-absolute": [
        ("create", a(BASE + "/outside/abs")), ("write", a(BASE + "/outside/abs", data="x")),
        ("rename", a("f", BASE + "/a/moved")), ("truncate", a(BASE + "/snapshot/f", offset=0)),
        ("chmod", a(BASE + "/log", mode=0o777)), ("symlink", a("/tmp", data=BASE)),
        ("fsync", a("f"))],
    "hostile-symlinks": [
        ("create", a("out/evil")), ("write", a("out", data="through the link")),
        ("mkdir", a("up/sub", mode=0o755)), ("rename", a("f", "out/f")),
        ("symlink", a("s", data=BASE + "/outside")), ("create", a("s/via")),
        ("symlink", a("t", data="../../..")), ("write", a("t/log", data="y")),
        ("link", a("out", "d/hard")), ("setxattr", a("up", "user.x", data="v")),
        ("fsync", a("d/hard")), ("fsyncdir", a("d"))],
    "every-kind": [
        ("mkdir", a("m", mode=0o755)), ("create", a("m/x")),
        ("write", a("m/x", data="hello world", flags=1)), ("fallocate", a("m/x", offset=0, length=8192)),
        ("truncate", a("m/x", offset=5)), ("fdatasync", a("m/x")), ("link", a("m/x", "m/y")),
        ("symlink", a("m/l", data="x")), ("mknod", a("m/p", mode=0o10644)),
        ("chmod", a("m/x", mode=0o600)), ("chown", a("m/x")),
        ("setxattr", a("m/x", "user.k", data="v")), ("removexattr", a("m/x", "user.k")),
        ("mark", a("", data="commit 1")), ("rename", a("m/y", "d/g")),
        ("rename", a("f", "m/x", flags=2)), ("unlink", a("m/l")), ("fsyncdir", a("m")),
        ("write", a("d/g", data="zz", offset=4096)), ("unlink", a("m/p")), ("fsync", a("d/g"))],
}


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "record-log")
    os.makedirs(out_dir, exist_ok=True)
    for name, ops in SEEDS.items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(log(ops))


if __name__ == "__main__":
    main()
