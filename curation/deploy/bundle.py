"""`curation bundle DIR OUT [--run ID]`: a finished run as a folder that serves without the project.

The folder holds the model (ONNX fp32 and int8, TorchScript), what turns an image into its input
(`preprocess.json`), the labels, the out-of-domain gate (`ood.json`, `ood_reference.npz`) and the
model card (`MODEL_CARD.md`, `model_card.json`). Everything measured here (accuracy of each
variant on validation, sizes, latency, the gate's AUROCs) is measured through the same code the
service answers with (`predict.Network`), on the run's own validation images.
"""

from __future__ import annotations

import importlib.util
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageFilter

from .. import synth
from . import ood as gate
from .card import write_card
from .compress import latency_ms, quantize_int8, size_mb
from .export import BundleError, export_onnx, export_torchscript, load_run_model
from .predict import VARIANTS, Network, sha256_of, softmax

DECODE_MAX_SIDE = 320          # the training worker's `load_rgb(path, max_side=320)`
CALIBRATION_ROWS = 64
GENERATED_IMAGES = 8
CORRUPTED_IMAGES = 12         # validation images blurred and noised (each) for the gate's measurement
LATENCY_RUNS = {1: 30, 32: 3}


@dataclass
class Measured:
    """A set of images run through a bundle: per image its features and logits (None: no face)."""

    features: list
    logits: list

    def scored(self, method: str, reference: gate.Reference) -> np.ndarray:
        """Scores per image; an image with no input row (no face) is infinitely far."""
        out = np.full(len(self.features), np.inf)
        rows = [i for i, f in enumerate(self.features) if f is not None]
        if rows:
            out[rows] = gate.scores(method, reference, np.stack([self.features[i] for i in rows]),
                                    np.stack([self.logits[i] for i in rows]))
        return out


def pick_run(store, run_id: int | None) -> dict:
    if run_id is not None:
        run = store.run(run_id)
        if run is None:
            raise BundleError(f"There is no run #{run_id} in this project.")
        if run["status"] != "done":
            raise BundleError(f"Run #{run_id} is {run['status']}, not finished: only a finished run can be bundled.")
        return run
    done = [r for r in store.runs() if r["status"] == "done"]
    if not done:
        raise BundleError("This project has no finished run to bundle: train one first (`curation train DIR`).")
    return done[0]


def package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    return Path(list(spec.submodule_search_locations)[0], *parts)


def weights_record(path: Path) -> dict:
    return {"file": path.name, "sha256": sha256_of(path), "bytes": path.stat().st_size}


def face_preprocess() -> dict:
    from ..embed.weights import packaged_dlib_model
    from ..faces.detect import CHIP_QUALITY, DETECT_SIDE

    return {
        "kind": "face",
        "runs_where": {
            "python": "decoding (Pillow), face detection (MTCNN, facenet-pytorch on PyTorch), dlib's 5-point "
                      "landmarks (numpy) and the alignment that cuts each 150 px chip (Pillow)",
            "onnx": "dlib's face ResNet (normalisation included) and the run's linear head, one graph: "
                    "uint8 chips (N, 3, 150, 150) in, the 128-d embedding (`features`) and `logits` out",
        },
        "decode": "EXIF orientation applied, first frame, 8-bit RGB; long side at most the detector's max_side",
        "detector": {"name": "MTCNN", "package": "facenet-pytorch 2.5.3", "max_side": DETECT_SIDE,
                     "keep_all": True, "weights": [weights_record(package_file("facenet_pytorch", "data", f"{n}.pt"))
                                                   for n in ("pnet", "rnet", "onet")]},
        "alignment": {"landmarks": "dlib shape_predictor_5_face_landmarks, found in MTCNN's box",
                      "weights": weights_record(packaged_dlib_model("shape_predictor_5_face_landmarks.dat")),
                      "method": "least-squares similarity onto dlib's mean face", "chip_side": 150,
                      "padding": 0.25, "chip_jpeg_quality": CHIP_QUALITY},
        "image_size": 150,
        "normalisation": {"input": "uint8 RGB 0-255", "inside_graph": "(x - mean) / 256, mean from the dlib file"},
        "embedder": {"name": "dlib-resnet34", "dim": 128,
                     "weights": weights_record(packaged_dlib_model("dlib_face_recognition_resnet_model_v1.dat"))},
        "head": "logistic regression on the L2-normalised embedding (softmax over the labels)",
        "answer_face": "the face whose box centre is nearest the image centre (how training images were labelled); "
                       "every face is answered in `faces`",
    }


def image_preprocess(params: dict, run: dict) -> dict:
    from ..train.augment import MEAN, STD

    return {
        "kind": "image",
        "runs_where": {"python": "decoding (Pillow) and the resize and normalisation (torchvision)",
                       "onnx": "the whole ResNet-34: float32 (N, 3, S, S) in, `logits` out, and as `features` each "
                               "channel's mean and deviation after the stem and each stage, L2-normalised (2048-d)"},
        "decode": "EXIF orientation applied, first frame, 8-bit RGB, then shrunk to a long side of at most 320 px",
        "decode_max_side": DECODE_MAX_SIDE,
        "image_size": params["image_size"],
        "resize": f"to {params['image_size']} x {params['image_size']}, bilinear with antialiasing (aspect not kept)",
        "normalisation": {"scale": "1/255", "mean": list(MEAN), "std": list(STD)},
        "initial_weights": initial_weights(run.get("weights") or ""),
    }


def initial_weights(note: str) -> dict | None:
    """The ImageNet weights a ResNet run started from, with their hash; None when it trained from scratch."""
    prefix = "ImageNet weights from "
    path = Path(note[len(prefix):]) if note.startswith(prefix) else None
    return weights_record(path) if path and path.is_file() else None


def image_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=92)
    return buf.getvalue()


def corrupted(path: str, kind: str, seed: int) -> bytes:
    """A validation image made out of domain: heavily blurred, or drowned in noise."""
    image = Image.open(path).convert("RGB")
    if kind == "blurred":
        return image_bytes(image.filter(ImageFilter.GaussianBlur(max(image.size) / 12)))
    rng = np.random.default_rng(seed)
    noisy = np.asarray(image, dtype=float) * 0.3 + rng.normal(128, 70, (image.size[1], image.size[0], 3))
    return image_bytes(Image.fromarray(noisy.clip(0, 255).astype(np.uint8)))


def generated(count: int) -> list[bytes]:
    """Pictures of no domain at all: gradients, random shapes and noise."""
    return [image_bytes(synth.photo_like(i, (256, 256), seed=14)) for i in range(count)]


def measure(net: Network, images: list[bytes]) -> tuple[Measured, np.ndarray]:
    """Each image through the bundle's preprocessing, its main row through the network; and the inputs."""
    rows, keep = [], []
    for data in images:
        prepared = net.prepare(data)
        keep.append(prepared.main >= 0 and len(prepared.inputs) > 0)
        if keep[-1]:
            rows.append(prepared.inputs[prepared.main])
    inputs = np.stack(rows) if rows else np.zeros((0,))
    features, logits = net.run(inputs) if rows else (np.zeros((0, 1)), np.zeros((0, 1)))
    it = iter(range(len(rows)))
    picked = [next(it) if k else None for k in keep]
    return Measured([None if i is None else features[i] for i in picked],
                    [None if i is None else logits[i] for i in picked]), inputs


def read(path) -> bytes:
    return Path(path).read_bytes()


def variant_figures(net: Network, inputs: np.ndarray, targets: np.ndarray, path: Path) -> tuple[dict, np.ndarray]:
    _, logits = net.run(inputs)
    predicted = logits.argmax(1)
    figures = {"file": path.name, "size_mb": size_mb(path), "sha256": sha256_of(path),
               "val_accuracy": float((predicted == targets).mean()), "val_images": int(len(targets)),
               "latency": [latency_ms(net.session, inputs, b, runs) for b, runs in LATENCY_RUNS.items()]}
    return figures, logits


def calibration_rows(store, net: Network, snapshot: pd.DataFrame) -> np.ndarray:
    train = snapshot[snapshot["split"] == "train"]
    if net.kind == "face":
        chips = store.face_chips(list(train["image_id"]), CALIBRATION_ROWS)
        root = store.project.root
        return np.stack([np.asarray(Image.open(root / c).convert("RGB")).transpose(2, 0, 1) for c in chips])
    return np.concatenate([net.prepare(read(p)).inputs for p in train["path"][:CALIBRATION_ROWS]])


def training_reference(net: Network, snapshot: pd.DataFrame, classes: list[str]) -> gate.Reference:
    """Training features: the stored embeddings a linear run trained on, or the network's features."""
    train = snapshot[snapshot["split"] == "train"]
    targets = np.array([classes.index(label) for label in train["label"]])
    if net.kind == "face":
        return gate.Reference.fit(np.stack(train["vector"].to_numpy()), targets)
    measured, _ = measure(net, [read(p) for p in train["path"]])
    return gate.Reference.fit(np.stack(measured.features), targets)


def with_input(measured: Measured) -> Measured:
    """The images that reached the network: only they tell the candidate scores apart (an image with
    no face is out of domain whatever the score)."""
    return Measured([f for f in measured.features if f is not None], [z for z in measured.logits if z is not None])


def build_gate(net: Network, reference: gate.Reference, val: Measured, val_paths: list[str]) -> dict:
    """Score the candidates on validation and on inputs made out of domain; keep the best."""
    outside = {kind: measure(net, [corrupted(p, kind, n) for n, p in enumerate(val_paths[:CORRUPTED_IMAGES])])[0]
               for kind in ("blurred", "noised")}
    outside["generated"] = measure(net, generated(GENERATED_IMAGES))[0]
    val_scores = {m: with_input(val).scored(m, reference) for m in gate.METHODS}
    method, table = gate.choose(val_scores, {k: {m: with_input(v).scored(m, reference) for m in gate.METHODS}
                                             for k, v in outside.items()})
    no_input = {k: int(sum(f is None for f in v.features)) for k, v in outside.items()}
    return {"method": method, "threshold": gate.threshold(val_scores[method]), "pass_rate": gate.PASS_RATE,
            "val_scores": val_scores[method], **table, "outside_images": {k: len(v.features) for k, v in outside.items()},
            "outside_without_face" if net.kind == "face" else "outside_without_input": no_input}


def why_sentence(ood: dict) -> str:
    means = ood["mean_auroc"]
    others = ", ".join(f"{m} {means[m]:.3f}" for m in gate.METHODS if m != ood["method"])
    best = means[ood["method"]]
    if all(np.isclose(means[m], best) for m in gate.METHODS):
        return (f"every candidate separated the in-domain validation inputs from the blurred, noised and generated "
                f"ones that reached the network equally (mean AUROC {best:.3f}), so the first, {ood['method']}, "
                "was kept: it needs no class statistics and works from one training image per label.")
    return (f"{ood['method']} separated the in-domain validation inputs from the blurred, noised and generated ones "
            f"that reached the network best (mean AUROC {best:.3f}; {others}).")


def make_bundle(store, out: Path, run_id: int | None = None, actor: str | None = "cli") -> dict:
    """Write the bundle of `run_id` (default: the latest finished run) into `out`; its model card as a dict."""
    run = pick_run(store, run_id)
    root = store.project.root
    run_dir = root / "runs" / f"run-{run['id']:04d}"
    model, saved, example = load_run_model(run_dir / "model.pt")
    classes, params = saved["classes"], saved["params"]
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / "preprocess.json").is_file():
        raise BundleError(f"{out} holds other files: give an empty folder or an earlier bundle to replace.")
    out.mkdir(parents=True, exist_ok=True)
    export_onnx(model, example, out / "model.onnx")
    export_torchscript(model, example, out / "model.torchscript.pt")
    spec = face_preprocess() if params["arch"] == "linear" else image_preprocess(params, run)
    (out / "preprocess.json").write_text(json.dumps(spec, indent=2))
    (out / "labels.json").write_text(json.dumps({"labels": classes}, indent=2))

    snapshot = pd.read_parquet(run_dir / "snapshot.parquet")
    exts = store.image_exts(list(snapshot["image_id"]))
    snapshot["path"] = [str(store.project.original_path(sha, exts[int(i)]))
                        for sha, i in zip(snapshot["sha256"], snapshot["image_id"])]
    fp32 = Network(out, "fp32")
    val = snapshot[snapshot["split"] == "val"].reset_index(drop=True)
    val_measured, val_inputs = measure(fp32, [read(p) for p in val["path"]])
    answered = np.array([f is not None for f in val_measured.features])
    targets = np.array([classes.index(label) for label in val["label"][answered]])

    quantize_int8(out / "model.onnx", out / "model.int8.onnx", calibration_rows(store, fp32, snapshot))
    variants = {}
    for name, net in (("fp32", fp32), ("int8", Network(out, "int8"))):
        variants[name], logits = variant_figures(net, val_inputs, targets, out / VARIANTS[name])
        if name == "fp32":
            fp32_conf = softmax(logits.astype(np.float64)).max(1)
    variants["int8"]["accuracy_delta"] = variants["int8"]["val_accuracy"] - variants["fp32"]["val_accuracy"]
    variants["int8"]["size_ratio"] = round(variants["int8"]["size_mb"] / variants["fp32"]["size_mb"], 3)
    variants["int8"]["keeps_accuracy"] = variants["int8"]["accuracy_delta"] >= -0.01
    variants["torchscript"] = {"file": "model.torchscript.pt", "size_mb": size_mb(out / "model.torchscript.pt"),
                               "sha256": sha256_of(out / "model.torchscript.pt")}

    reference = training_reference(fp32, snapshot, classes)
    reference.save(out / "ood_reference.npz")
    measured_gate = build_gate(fp32, reference, val_measured, list(val["path"]))
    val_scores = measured_gate.pop("val_scores")
    ood = {**measured_gate, "why": why_sentence(measured_gate),
           "calibrated_on": f"{int(answered.sum())} in-domain validation images of dataset version "
                            f"{run['dataset_version']} (run #{run['id']})",
           "val_score_range": [float(val_scores.min()), float(val_scores.max())],
           "low_confidence": float(np.quantile(fp32_conf, 0.05)),
           "no_face": "out of domain (a face model answers faces only)" if fp32.kind == "face" else None,
           "val_without_input": int((~answered).sum())}
    (out / "ood.json").write_text(json.dumps(ood, indent=2))
    card = write_card(store, out, run, spec, classes, variants, ood)
    store.record_bundle(run["id"], str(out.resolve()), card, actor)
    return card


def bundle_folder(root: Path, run_id: int) -> Path:
    """Where a run's bundle lives inside the project (the project server's predict endpoint reads it)."""
    return Path(root) / "bundles" / f"run-{run_id:04d}"


def bundle_line(card: dict, out: Path) -> str:
    variants, ood = card["variants"], card["out_of_domain"]
    return (f"Bundled run #{card['run']['id']} into {out}: validation accuracy fp32 "
            f"{variants['fp32']['val_accuracy']:.1%}, int8 {variants['int8']['val_accuracy']:.1%} "
            f"({variants['int8']['size_ratio']:.2f}x the size); out-of-domain gate: {ood['method']}, "
            f"threshold {ood['threshold']:.4g}. Read {out}/MODEL_CARD.md.")


def run_bundle(ctx) -> tuple[str, bool]:
    """The "bundle" job (curation.jobs.kinds): minutes on a CPU, so it runs like the others, in the
    process that holds the project (a served project is bundled by its server)."""
    run = pick_run(ctx.store, ctx.params.run_id)
    out = Path(ctx.params.out) if ctx.params.out else bundle_folder(ctx.store.project.root, run["id"])
    ctx.progress(0, 1, f"bundling run #{run['id']}")
    card = make_bundle(ctx.store, out, run["id"], actor=ctx.actor or "cli")
    return bundle_line(card, out), False
