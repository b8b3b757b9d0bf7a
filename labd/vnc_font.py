#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# vnc_font.py PSF.gz OUT.h - the 8x16 font of the wall's labels, made at
# build time from a console font of Debian's console-setup-linux package
# (Lat15-Fixed16: the X11 "fixed" font, public domain), so that no font
# is copied into labd's sources.  Writes the glyphs of ASCII 32..126,
# 16 bytes each (a row a byte, the leftmost pixel the high bit).
import gzip
import sys

src, out = sys.argv[1], sys.argv[2]
data = gzip.open(src).read() if src.endswith('.gz') else open(src, 'rb').read()
if data[:2] != b'\x36\x04':
    sys.exit(f'{src}: not a PSF1 font')
mode, size = data[2], data[3]
if size != 16:
    sys.exit(f'{src}: {size}-pixel glyphs, not 16')
count = 512 if mode & 1 else 256
glyphs = data[4:4 + count * 16]
where = {c: c for c in range(count)}
if mode & 2:			# a Unicode table: code points of each glyph
    where = {}
    pos, g = 4 + count * 16, 0
    while g < count and pos + 1 < len(data):
        u = data[pos] | data[pos + 1] << 8
        pos += 2
        if u == 0xFFFF:
            g += 1
        elif u != 0xFFFE:
            where.setdefault(u, g)
with open(out, 'w') as f:
    f.write(f'/* Made by labd/vnc_font.py from {src.split("/")[-1]}. */\n')
    f.write('static const unsigned char vnc_glyphs[95][16] = {\n')
    for c in range(32, 127):
        g = where.get(c, where.get(ord('?'), 0))
        row = ', '.join(f'0x{b:02x}' for b in glyphs[g * 16:g * 16 + 16])
        f.write(f'\t{{ {row} }},\t/* {chr(c)!r} */\n')
    f.write('};\n')
