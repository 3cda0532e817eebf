#!/usr/bin/env python3
"""What a headless browser really drew, from its PNG screenshot (8-bit RGB or RGBA, not
interlaced): png_pixel.py FILE count R,G,B[,TOLERANCE] ... prints, per colour, how many pixels
are within TOLERANCE (default 6) of it in every channel."""
import struct
import sys
import zlib


def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, "unsupported PNG"
            channels = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        rows.append(line)
        prev = line
    return rows, channels


def main():
    rows, channels = read_png(sys.argv[1])
    assert sys.argv[2] == "count", "usage: png_pixel.py FILE count R,G,B[,TOL] ..."
    for spec in sys.argv[3:]:
        parts = [int(v) for v in spec.split(",")]
        want, tol = parts[:3], parts[3] if len(parts) > 3 else 6
        n = 0
        for line in rows:
            for x in range(0, len(line), channels):
                if all(abs(line[x + k] - want[k]) <= tol for k in range(3)):
                    n += 1
        print(n)


if __name__ == "__main__":
    main()
