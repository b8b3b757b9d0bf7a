#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# vnc_tiles.py - pictures for test_vnc.sh, read from binary PPM files.
#
#   vnc_tiles.py tiles WALL.ppm N    per tile of a wall of N: "I VARIANCE
#                                    CONSOLE" where CONSOLE counts the VGA
#                                    text console's grey (168,168,168)
#   vnc_tiles.py diff A.ppm B.ppm    the share of pixels that differ (0..1)
#   vnc_tiles.py grey A.ppm [RRGGBB] pixels of the console's grey, or of
#                                    that colour (A may be a PNG: Chromium's
#                                    screenshots)
# The grid is labd/vnc_layout.c's: 24 px header, tiles of cols x rows
# (cols the least whose square holds N), a 2 px margin, an 18 px label.
import struct
import sys
import zlib


def png(data):
    """8-bit RGB or RGBA, not interlaced: as RGB bytes."""
    pos, idat = 8, b''
    while pos < len(data):
        n, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b'IHDR':
            w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
            assert depth == 8 and ctype in (2, 6), 'PNG not 8-bit RGB(A)'
            bpp = 3 if ctype == 2 else 4
        elif kind == b'IDAT':
            idat += body
        pos += 12 + n
    raw, stride = zlib.decompress(idat), w * bpp
    out, prev = bytearray(), bytearray(stride)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pr) & 255
        for x in range(w):
            out += line[x * bpp:x * bpp + 3]
        prev = line
    return w, h, bytes(out)


def ppm(path):
    with open(path, 'rb') as f:
        data = f.read()
    if data[:8] == b'\x89PNG\r\n\x1a\n':
        return png(data)
    parts = data.split(maxsplit=4)
    assert parts[0] == b'P6', path
    w, h = int(parts[1]), int(parts[2])
    px = parts[4]
    return w, h, px


def pixel(px, w, x, y):
    i = (y * w + x) * 3
    return px[i], px[i + 1], px[i + 2]


def tiles(path, n):
    w, h, px = ppm(path)
    cols = 1
    while cols * cols < n:
        cols += 1
    rows = (n + cols - 1) // cols
    cw, ch = w // cols, (h - 24) // rows
    for i in range(n):
        x0 = (i % cols) * cw + 2
        y0 = 24 + (i // cols) * ch + 2 + 18
        vals, grey = [], 0
        for y in range(y0, y0 + ch - 4 - 18, 2):
            for x in range(x0, x0 + cw - 4, 2):
                r, g, b = pixel(px, w, x, y)
                vals.append(r + g + b)
                grey += (r, g, b) == (168, 168, 168)
        mean = sum(vals) / len(vals)
        var = sum((v - mean) ** 2 for v in vals) / len(vals)
        print(i, int(var), grey)


def diff(a, b):
    wa, ha, pa = ppm(a)
    wb, hb, pb = ppm(b)
    if (wa, ha) != (wb, hb):
        print(1.0)
        return
    n = sum(1 for i in range(0, len(pa), 3) if pa[i:i + 3] != pb[i:i + 3])
    print(f'{n / (wa * ha):.4f}')


def grey(a, colour='a8a8a8'):
    w, h, px = ppm(a)
    want = bytes.fromhex(colour)
    print(sum(1 for i in range(0, len(px), 3) if px[i:i + 3] == want))


if sys.argv[1] == 'tiles':
    tiles(sys.argv[2], int(sys.argv[3]))
elif sys.argv[1] == 'diff':
    diff(sys.argv[2], sys.argv[3])
elif sys.argv[1] == 'grey':
    grey(*sys.argv[2:4])
