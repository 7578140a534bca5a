"""Writes the image fixtures of ImageDecodeTests with Pillow (.venv-test/bin/python3 make.py).

Pixels follow formulas the tests restate; the JPEGs are lossy, so Pillow's own
decoding of them is written to jpeg-pixels.json, which the tests compare with.
"""
import json
from PIL import Image

grey = Image.new("L", (5, 4))
grey.putdata([i * 12 for i in range(20)])
grey.save("grey.png")
grey_alpha = Image.new("LA", (5, 4))
grey_alpha.putdata([(i * 12, 255 - i * 10) for i in range(20)])
grey_alpha.save("grey-alpha.png")
rgb = Image.new("RGB", (6, 3))
rgb.putdata([(i * 10, 255 - i * 10, i * 3) for i in range(18)])
rgb.save("rgb.png")
rgba = Image.new("RGBA", (6, 3))
rgba.putdata([(i * 10, 255 - i * 10, i * 3, i * 14) for i in range(18)])
rgba.save("rgba.png")
palette = Image.new("P", (4, 2))
palette.putpalette([v for i in range(8) for v in (i * 30, 200 - i * 20, 7 * i)])
palette.putdata([7 - i for i in range(8)])
palette.save("palette.png")
deep = Image.new("I;16", (3, 3))
deep.putdata([i * 7000 for i in range(9)])
deep.save("grey16.png")
gradient = Image.new("RGB", (16, 8))
gradient.putdata([(x * 16, y * 32, (x + y) * 8) for y in range(8) for x in range(16)])
gradient.save("rgb.jpg", quality=95)
gradient.convert("L").save("grey.jpg", quality=95)
gradient.save("progressive.jpg", quality=95, progressive=True)
pixels = {name: list(Image.open(name).tobytes()) for name in ("rgb.jpg", "grey.jpg", "progressive.jpg")}
with open("jpeg-pixels.json", "w") as f:
    json.dump(pixels, f)
# Noise compresses badly: most of this file is scan data, so cutting it ends inside the scan.
noise = Image.new("RGB", (32, 32))
noise.putdata([((i * 37) % 256, (i * 91) % 256, (i * 53) % 256) for i in range(1024)])
noise.save("noise.jpg", quality=90)
