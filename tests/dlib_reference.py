"""dlib itself (the `dlib-bin` test dependency) as the reference our port is measured against."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from curation.embed.dlib_resnet import MODEL_FILE
from curation.embed.weights import packaged_dlib_model
from curation.faces.landmarks import MODEL_FILE as LANDMARKS_FILE


def dlib_or_skip():
    return pytest.importorskip("dlib", reason="dlib (the dlib-bin package, a test dependency) is not installed")


def dlib_chips(dlib, files) -> list[np.ndarray]:
    """150 px chips cut by dlib itself, one per file: its detector's first face, its 5-point
    landmarks, `get_face_chip`."""
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(packaged_dlib_model(LANDMARKS_FILE)))
    chips = []
    for path in files:
        image = np.asarray(Image.open(path).convert("RGB"))
        for box in detector(image, 1)[:1]:
            chips.append(np.asarray(dlib.get_face_chip(image, predictor(image, box), size=150, padding=0.25)))
    return chips


def dlib_descriptors(dlib, chips: list[np.ndarray]) -> np.ndarray:
    """dlib's `compute_face_descriptor` on a batch of chips."""
    model = dlib.face_recognition_model_v1(str(packaged_dlib_model(MODEL_FILE)))
    return np.array([np.array(v) for v in model.compute_face_descriptor(chips)])


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
