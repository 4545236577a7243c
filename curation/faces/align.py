"""Aligned face chips the way dlib cuts them (`get_face_chip_details` + `extract_image_chip`).

dlib maps its mean face's five landmarks (chip coordinates) onto the detected ones with a
least-squares similarity transform (rotation, scale, translation) and samples the chip
bilinearly at the transform of each chip pixel's centre, first halving the image while the chip
is more than twice smaller than its source region (a pyramid: bilinear sampling alone would
alias). dlib-resnet34 was trained on such chips, 150 px with a padding of 0.25.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

CHIP_SIDE = 150
CHIP_PADDING = 0.25

# dlib's 5-point mean face (interpolation.h) in its 0-1 frame, in the order of its 5-point
# shape predictor: the outer and inner corner of the eye on the image's right, the outer and
# inner corner of the other eye, the base of the nose.
DLIB5_TEMPLATE = np.array([
    [0.8595674595992, 0.2134981538014], [0.6460604764104, 0.2289674387677],
    [0.1205750620789, 0.2137274526848], [0.3340850613712, 0.2290642403242],
    [0.4901123135679, 0.6277975316475],
])


def template_points(template: np.ndarray, side: int = CHIP_SIDE, padding: float = CHIP_PADDING) -> np.ndarray:
    """The template in chip pixels, with dlib's padding (a fraction of the face on each side)."""
    return (padding + template) / (2 * padding + 1) * side


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2 x 3 similarity transform mapping `src` points onto `dst` in least squares (Umeyama)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sv, vt = np.linalg.svd(cov)
    sign = np.diag([1.0, -1.0 if np.linalg.det(cov) < 0 else 1.0])
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(sv) @ sign) / (s ** 2).sum(1).mean()
    matrix = scale * rotation
    return np.hstack([matrix, (mu_d - matrix @ mu_s)[:, None]])


def chip_mapping(landmarks: np.ndarray, side: int = CHIP_SIDE, padding: float = CHIP_PADDING) -> np.ndarray:
    """The 2 x 3 similarity from chip coordinates to image pixels that puts dlib's mean face on
    the five `landmarks`."""
    return similarity_transform(template_points(DLIB5_TEMPLATE, side, padding), np.asarray(landmarks, float))


def extract_chip(image: Image.Image, mapping: np.ndarray, side: int = CHIP_SIDE) -> Image.Image:
    """The chip `mapping` (from `chip_mapping`) describes, sampled bilinearly from `image`.

    dlib gives chip pixel (c, r) the image's value at mapping(c + 1/2, r + 1/2), image pixels
    centred on whole coordinates (measured: this matches its chips to half a grey level on
    average). PIL samples mapping(c + 1/2, r + 1/2) with pixel centres on halves, hence the half
    pixel added to the translation.
    """
    mapping = mapping.copy()
    while np.hypot(*mapping[:, 0]) > 2.0 and min(image.size) >= 4:
        image = image.reduce(2)
        mapping /= 2.0
        mapping[:, 2] -= 0.25
    (a, b, c), (d, e, f) = mapping
    return image.transform((side, side), Image.Transform.AFFINE, (a, b, c + 0.5, d, e, f + 0.5),
                           resample=Image.Resampling.BILINEAR)


def align_face(image: Image.Image, landmarks: np.ndarray, side: int = CHIP_SIDE,
               padding: float = CHIP_PADDING) -> Image.Image:
    """The aligned chip of the face whose five dlib landmarks (x, y in `image` pixels) are given."""
    return extract_chip(image, chip_mapping(landmarks, side, padding), side)
