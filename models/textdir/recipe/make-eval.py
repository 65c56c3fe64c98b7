#!/usr/bin/python3
"""Eval set for `textdir` (PaddleOCR's text-direction classifier): text lines rendered with
Debian's fonts by ImageMagick, each once upright (label 0, class "0") and once rotated by 180
degrees (label 1, class "180"), preprocessed exactly as PaddleOCR's classifier expects.

Run from the repository root:  /usr/bin/python3 models/textdir/recipe/make-eval.py
Needs ImageMagick's `convert` (Debian imagemagick), fonts-dejavu-core, fonts-dejavu-extra,
fonts-urw-base35, python3-numpy. Deterministic (fixed seed, fixed font list; a missing font stops
the run rather than quietly making a different set).

Preprocessing (PaddleOCR tools/infer/predict_cls.py, resize_norm_img with cls_image_shape
3,48,192): the line is resized to height 48 keeping its aspect ratio, width capped at 192;
pixels -> (p / 255 - 0.5) / 0.5 in -1..1, the three channels equal (grey text); columns right of
the line are 0. Values are rounded to 2 decimals.

Writes models/textdir/eval/eval.json.gz:
  {"source", "shape": [3,48,192], "texts", "fonts", "inputs", "labels"}  (gzip: the rows are 27,648
  numbers each, mostly "1" and "0", which gzip packs ~20x)
and models/textdir/eval/calibration.json.gz, the same for 20 other lines (seed 12; 40 samples),
for static int8 calibration (never the eval lines).
"""
import gzip
import json
import os
import random
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_DIR = os.path.dirname(HERE)
OUT = os.path.join(MODEL_DIR, "eval", "eval.json.gz")
H, W = 48, 192
LINES = 100  # each rendered upright and rotated: 200 samples
CALIB_LINES = 20

FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerifCondensed-Italic.ttf",
    "/usr/share/fonts/opentype/urw-base35/NimbusSans-Regular.otf",
    "/usr/share/fonts/opentype/urw-base35/NimbusRoman-Regular.otf",
    "/usr/share/fonts/opentype/urw-base35/P052-Roman.otf",
    "/usr/share/fonts/opentype/urw-base35/URWBookman-Light.otf",
    "/usr/share/fonts/opentype/urw-base35/C059-Roman.otf",
]

WORDS = ("invoice total amount due date paid order number customer address street city postal code "
         "phone email account balance receipt item quantity price tax discount shipping delivery "
         "north south east west river bridge station market garden school library museum hospital "
         "monday tuesday friday january march august october december morning evening weekend "
         "temperature pressure humidity sensor device battery voltage current power signal network "
         "open closed entrance exit parking floor room office meeting kitchen window door light").split()


def render(text, font):
    """Black text on white, 40 pt, 8 px border, as 8-bit grey rows (via ImageMagick's PGM output)."""
    pgm = subprocess.run(["convert", "-background", "white", "-fill", "black", "-font", font,
                          "-pointsize", "40", f"label:{text}", "-bordercolor", "white", "-border", "8",
                          "-colorspace", "Gray", "-depth", "8", "pgm:-"],
                         check=True, capture_output=True).stdout
    return parse_pgm(pgm)


def parse_pgm(data):
    parts, pos = [], 0
    while len(parts) < 4:  # magic, width, height, maxval (no comments in ImageMagick's output)
        while data[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        parts.append(data[pos:end])
        pos = end
    w, h = int(parts[1]), int(parts[2])
    return np.frombuffer(data, dtype=np.uint8, offset=pos + 1, count=w * h).reshape(h, w)


def resize(img, w, h):
    """ImageMagick resize of a grey image to exactly w x h (its default filter)."""
    src = b"P5\n%d %d\n255\n" % (img.shape[1], img.shape[0]) + img.tobytes()
    out = subprocess.run(["convert", "pgm:-", "-resize", f"{w}x{h}!", "-depth", "8", "pgm:-"],
                         input=src, check=True, capture_output=True).stdout
    return parse_pgm(out)


def preprocess(img):
    """PaddleOCR cls: height 48, width min(192, ceil(48 * w / h)), -1..1, pad right with 0, 3 channels."""
    h, w = img.shape
    rw = min(W, int(np.ceil(H * w / h)))
    x = resize(img, rw, H).astype(np.float32) / 255.0
    x = (x - 0.5) / 0.5
    out = np.zeros((3, H, W), dtype=np.float32)
    out[:, :, :rw] = x
    return out


def short(v):
    """v rounded to 2 decimals; whole numbers as ints (JSON "1", not "1.0")."""
    r = round(float(v), 2)
    return int(r) if r == int(r) else r


def make_set(seed, lines, font_offset):
    rng = random.Random(seed)
    texts, fonts, inputs, labels = [], [], [], []
    for i in range(lines):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
        if rng.random() < 0.3:
            text += f" {rng.randint(1, 9999)}"
        font = FONTS[(i + font_offset) % len(FONTS)]
        img = render(text, font)
        for label, im in ((0, img), (1, img[::-1, ::-1])):
            x = preprocess(np.ascontiguousarray(im))
            inputs.append([short(v) for v in x.reshape(-1)])
            labels.append(label)
            texts.append(text)
            fonts.append(os.path.basename(font))
    return {
        "source": "text lines rendered by ImageMagick with Debian fonts (recipe/make-eval.py); label 0 upright, 1 rotated 180 degrees",
        "shape": [3, H, W], "texts": texts, "fonts": fonts, "inputs": inputs, "labels": labels,
    }


def write_gz(doc, out):
    raw = json.dumps(doc, separators=(",", ":")).encode()
    # mtime=0: the same input gives byte-identical output.
    with open(out, "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as g:
            g.write(raw)
    print(f"wrote {os.path.relpath(out)}: {len(doc['labels'])} samples, {len(FONTS)} fonts, "
          f"{len(raw)} bytes of JSON, {os.path.getsize(out)} gzipped")


def main():
    missing = [f for f in FONTS if not os.path.exists(f)]
    if missing:
        sys.exit(f"missing fonts (apt-get install fonts-dejavu-core fonts-dejavu-extra fonts-urw-base35): {missing}")
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    write_gz(make_set(11, LINES, 0), OUT)
    write_gz(make_set(12, CALIB_LINES, 5), os.path.join(os.path.dirname(OUT), "calibration.json.gz"))


if __name__ == "__main__":
    sys.exit(main())
