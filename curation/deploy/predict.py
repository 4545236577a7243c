"""A bundle's model answering for one image: decode, (detect and align), run ONNX, gate, explain.

`Predictor.from_bundle(path)` needs only the bundle folder and the installed packages; it never
opens a project. `predict(bytes)` returns the answer the service sends back as JSON, or raises
`BadInput` with an HTTP status and one sentence.

Two pipelines, named by `preprocess.json`'s `kind`:
- `image` (ResNet-34 runs): decode as the training worker does (oriented 8-bit RGB, long side at
  most 320 px), resize and normalise with its evaluation transform, run the network.
- `face` (linear runs on dlib embeddings): MTCNN finds every face, dlib's five landmarks align a
  150 px chip (JPEG round trip at quality 95, as stored chips are), and the network (embedder and
  head in one ONNX graph) answers per face; the top-level answer is the face nearest the centre,
  the one a training image was labelled by. An image with no face is out of domain.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..verify import Failure, verify_bytes
from .ood import Gate, Reference

TOP = 5
VARIANTS = {"fp32": "model.onnx", "int8": "model.int8.onnx"}
TOO_LARGE_REASONS = ("decompression_bomb",)


class BadInput(ValueError):
    """An input that cannot be answered: the HTTP status and one sentence for the caller."""

    def __init__(self, status: int, sentence: str):
        super().__init__(sentence)
        self.status = status


def decode(data: bytes, max_side: int) -> tuple[Image.Image, tuple[int, int]]:
    """The image as training saw it (oriented, 8-bit RGB, long side at most `max_side`), and the
    file's own size; `BadInput` for anything that is not a usable image."""
    if not data:
        raise BadInput(400, "The request carried no image: its body is empty.")
    result = verify_bytes(data, side=max_side)
    if isinstance(result, Failure):
        status = 413 if result.reason in TOO_LARGE_REASONS else 422
        detail = result.detail.rstrip(".")
        raise BadInput(status, f"The body is not a usable image: {detail[:1].lower()}{detail[1:]}.")
    image = result.image
    image.thumbnail((max_side, max_side))
    return image, (result.width, result.height)


@dataclass
class Prepared:
    """What one image became before the network: the network's input rows, and for face models
    each row's face (box in source pixels) and which row is the image's main face."""

    inputs: np.ndarray
    faces: list[dict] | None = None
    main: int = 0
    seconds: dict | None = None


class ImagePipeline:
    def __init__(self, spec: dict):
        from ..train.augment import eval_transform

        self.max_side = spec["decode_max_side"]
        self.transform = eval_transform(spec["image_size"])

    def prepare(self, image: Image.Image, size: tuple[int, int]) -> Prepared:
        return Prepared(self.transform(image).numpy()[None].astype(np.float32), seconds={})


class FacePipeline:
    """MTCNN and dlib's landmarks in Python (the same `Detector` the project detects with)."""

    def __init__(self, spec: dict):
        self.max_side = spec["detector"]["max_side"]
        self.quality = spec["alignment"]["chip_jpeg_quality"]
        self._detector = None
        self._lock = threading.Lock()

    def detector(self):
        import torch

        from ..faces.detect import Detector

        if self._detector is None:
            self._detector = Detector(torch.device("cpu"))
        return self._detector

    def prepare(self, image: Image.Image, size: tuple[int, int]) -> Prepared:
        import torch

        from ..faces.detect import ScanTask, detection_size

        width, height = detection_size(*size, self.max_side)
        if image.size != (width, height):
            image = image.resize((width, height), Image.Resampling.BILINEAR)
        batch = torch.from_numpy(np.array(image))[None]
        start = time.perf_counter()
        with self._lock:
            scan = self.detector().scan([ScanTask(0, "", "", *size)], batch, [(width, height)], [None])[0]
        seconds = {"detect": time.perf_counter() - start}
        if not scan.faces:
            return Prepared(np.zeros((0, 3, 150, 150), np.uint8), [], -1, seconds)
        chips = np.stack([np.asarray(Image.open(io.BytesIO(f.chip)).convert("RGB")) for f in scan.faces])
        centre = np.array(size, dtype=float) / 2
        offsets = [np.hypot(*(np.array([(f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2]) - centre))
                   for f in scan.faces]
        faces = [{"box": [round(v, 1) for v in f.box], "detection_probability": round(f.prob, 4)} for f in scan.faces]
        return Prepared(chips.transpose(0, 3, 1, 2).copy(), faces, int(np.argmin(offsets)), seconds)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def session(path: Path, threads: int | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
    return ort.InferenceSession(str(path), options, providers=providers)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Network:
    """A bundle's preprocessing and ONNX session, without the gate (what the bundle measures with)."""

    def __init__(self, root: Path, variant: str = "fp32", threads: int | None = None):
        self.root = Path(root)
        self.variant = variant
        self.preprocess = json.loads((self.root / "preprocess.json").read_text())
        self.labels = json.loads((self.root / "labels.json").read_text())["labels"]
        self.kind = self.preprocess["kind"]
        self.pipeline = FacePipeline(self.preprocess) if self.kind == "face" else ImagePipeline(self.preprocess)
        self.session = session(self.root / VARIANTS[variant], threads)

    def prepare(self, data: bytes) -> Prepared:
        start = time.perf_counter()
        image, size = decode(data, self.pipeline.max_side)
        decoded = time.perf_counter() - start
        prepared = self.pipeline.prepare(image, size)
        prepared.seconds = {"decode": decoded, **(prepared.seconds or {})}
        return prepared

    def run(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        features, logits = self.session.run(["features", "logits"], {"input": inputs})
        return features, logits


class Predictor(Network):
    """One bundle, one variant (`fp32` or `int8`), with its out-of-domain gate; thread-safe."""

    def __init__(self, root: Path, variant: str = "fp32", threads: int | None = None):
        super().__init__(root, variant, threads)
        self.ood = json.loads((self.root / "ood.json").read_text())
        self.gate = Gate(self.ood["method"], self.ood["threshold"], Reference.load(self.root / "ood_reference.npz"))
        self.low_confidence = self.ood["low_confidence"]

    @classmethod
    def from_bundle(cls, path, variant: str = "fp32", threads: int | None = None) -> "Predictor":
        root = Path(path)
        if not (root / "preprocess.json").is_file():
            raise FileNotFoundError(f"{root} is not a bundle: it has no preprocess.json (make one with "
                                    "`curation bundle DIR OUT`).")
        if variant not in VARIANTS:
            raise ValueError(f"No variant '{variant}'; choose one of {', '.join(VARIANTS)}.")
        return cls(root, variant, threads)

    def predict(self, data: bytes) -> dict:
        """The answer for one image (see the module's docstring); `BadInput` when it is not usable."""
        prepared = self.prepare(data)
        start = time.perf_counter()
        answers = self.answers(prepared.inputs) if len(prepared.inputs) else []
        seconds = {**prepared.seconds, "model": time.perf_counter() - start}
        timings = {f"{k}_ms": round(v * 1000, 3) for k, v in seconds.items()}
        if self.kind != "face":
            return {**answers[0], "timings": timings}
        if not answers:
            return {"label": None, "confidence": 0.0, "top": [], "ood": True, "ood_score": None,
                    "ood_reason": "No face was found, and this model only knows faces.", "faces": [],
                    "timings": timings}
        faces = [{**face, **answer} for face, answer in zip(prepared.faces, answers)]
        return {**answers[prepared.main], "main_face": prepared.main, "faces": faces, "timings": timings}

    def answers(self, inputs: np.ndarray) -> list[dict]:
        features, logits = self.run(inputs)
        probs = softmax(logits.astype(np.float64))
        ood_scores = self.gate.score(features, logits)
        out = []
        for p, score in zip(probs, ood_scores):
            order = np.argsort(-p)[:TOP]
            ood = bool(score > self.gate.threshold)
            out.append({"label": self.labels[order[0]], "confidence": float(p[order[0]]),
                        "top": [{"label": self.labels[i], "probability": float(p[i])} for i in order],
                        "ood": ood, "ood_score": float(score),
                        **({"ood_reason": "Further from the training data than 95% of the validation inputs."}
                           if ood else {})})
        return out

    def needs_a_person(self, answer: dict) -> bool:
        """Out of domain or less confident than the validation inputs' 5th percentile: log it."""
        return answer["ood"] or answer["confidence"] < self.low_confidence
