"""png_check.py PNG — is Chromium's screenshot of an `nnc plot` SVG a picture (standard library only)?

Decodes the PNG (8-bit RGB or RGBA, non-interlaced, as Chromium writes) and requires: at least 4% of
the pixels not white (axes, text, lines), at least 0.5% coloured (the step lines and the colour key:
a channel spread over 60, which grey text and axes do not have), and over 300 coloured pixels in
each of the two depth panels (rows 90..370 of the 1000x700 picture, left and right half: both
panels drew their lines). Exit 0 when all hold, else 1 with what failed.
"""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit("FAIL: %s is not a PNG" % path)
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                raise SystemExit("FAIL: unexpected PNG format (depth %d, colour type %d)" % (depth, ctype))
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
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = prev[x]
            c = prev[x - channels] if x >= channels else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return width, height, channels, rows


def main():
    width, height, channels, rows = decode(sys.argv[1])
    total = width * height
    not_white = coloured = left = right = 0
    for y, line in enumerate(rows):
        for x in range(width):
            r, g, b = line[x * channels:x * channels + 3]
            if r < 245 or g < 245 or b < 245:
                not_white += 1
            if max(r, g, b) - min(r, g, b) > 60:
                coloured += 1
                if 90 <= y < 370:
                    if x < width // 2:
                        left += 1
                    else:
                        right += 1
    print("png_check: %dx%d, %.1f%% not white, %.1f%% coloured (left %d, right %d pixels)"
          % (width, height, 100.0 * not_white / total, 100.0 * coloured / total, left, right))
    ok = not_white > 0.04 * total and coloured > 0.005 * total and left > 300 and right > 300
    print("png_check: ok" if ok else "FAIL: the screenshot looks blank or unfinished")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
