#!/usr/bin/python3
"""Write lab_ref.json: scikit-image's sRGB <-> CIE Lab values for the Go tests.

How to run (needs scikit-image and NumPy: apt-get install -y python3-skimage):

    /usr/bin/python3 color/testdata/gen_lab.py

It rewrites lab_ref.json next to itself (committed; the Go tests read it and
never need Python).  The file holds

  rgb2lab: [r, g, b, L, a, b] rows from skimage.color.rgb2lab (D65, 2°
           observer): black, white, the primaries and secondaries, greys,
           values in and around the linear segment of the sRGB curve
           (v <= 0.04045) and of the Lab function (Y <= 216/24389), and
           random colours;
  lab2rgb: [L, a, b, r, g, b] rows from skimage.color.lab2rgb (which clips
           to [0, 1]): the Lab values of the colours above, plus Lab
           colours outside the sRGB gamut, including some with Z < 0.

Inputs are float32 values (so the Go side feeds exactly the same numbers);
the references are computed in float64 and stored as the shortest decimals
that round-trip the float64 values.  The script is deterministic (a fixed seed).
"""

import json
import os
import warnings

import numpy as np
import skimage
from skimage.color import lab2rgb, rgb2lab

HERE = os.path.dirname(os.path.abspath(__file__))


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def rgb_inputs(rng):
    rows = [
        [0, 0, 0], [1, 1, 1],
        [1, 0, 0], [0, 1, 0], [0, 0, 1],
        [0, 1, 1], [1, 0, 1], [1, 1, 0],
        [0.5, 0.5, 0.5], [0.25, 0.25, 0.25], [0.75, 0.75, 0.75],
    ]
    # the linear segment of the sRGB curve and its switch point
    for v in [1e-6, 1e-4, 0.001, 0.003, 0.01, 0.02, 0.04, 0.04045, 0.0405, 0.041, 0.05]:
        rows.append([v, v, v])
        rows.append([v, 0, 0])
        rows.append([0, v, 0])
        rows.append([0, 0, v])
        rows.append([v, 0.5 * v, 0.25 * v])
    # greys whose Y lies around the Lab function's switch (t = 216/24389,
    # sRGB about 0.0954) and in its linear part
    for v in [0.05, 0.08, 0.09, 0.095, 0.0954, 0.096, 0.1, 0.11]:
        rows.append([v, v, v])
    # near-saturated and near-black colour mixtures
    for c in [[1, 0.001, 0], [0.001, 0, 1], [0.02, 0.03, 0.01], [0.999, 0.999, 1], [1, 1, 0.999]]:
        rows.append(c)
    rows.extend(rng.uniform(0, 1, size=(240, 3)).tolist())
    rows.extend((rng.uniform(0, 1, size=(40, 3)) ** 4).tolist())  # dark colours
    return f32(rows)


def lab_inputs(rng, lab_of_rgb):
    rows = lab_of_rgb.tolist()
    rows += [[0, 0, 0], [100, 0, 0], [50, 0, 0], [1, 0, 0], [5, 0, 0], [8, 0, 0], [8, 1, -1]]
    # outside the sRGB gamut (clipped by lab2rgb), some with Z < 0 (b large)
    rows += [[50, 80, -100], [50, -100, 100], [90, 100, 100], [20, 0, 60], [10, -50, 90], [60, 120, 0],
             [30, 0, -110], [95, -80, 0], [5, 20, 20], [99, 10, 120]]
    rows += np.column_stack([rng.uniform(0, 100, 60), rng.uniform(-110, 110, 60), rng.uniform(-110, 110, 60)]).tolist()
    return f32(rows)


def main():
    rng = np.random.default_rng(20160328)
    rgb = rgb_inputs(rng)
    lab = rgb2lab(rgb.reshape(-1, 1, 3)).reshape(-1, 3)
    lab_in = lab_inputs(rng, lab)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lab2rgb warns about Z < 0
        back = lab2rgb(lab_in.reshape(-1, 1, 3)).reshape(-1, 3)
    out = {
        "generator": "skimage.color %s rgb2lab / lab2rgb (D65, 2 degree observer)" % skimage.__version__,
        "rgb2lab": np.column_stack([rgb, lab]).tolist(),
        "lab2rgb": np.column_stack([lab_in, back]).tolist(),
    }
    path = os.path.join(HERE, "lab_ref.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    os.replace(tmp, path)
    print("%s: %d rgb2lab rows, %d lab2rgb rows" % (path, len(rgb), len(lab_in)))


if __name__ == "__main__":
    main()
