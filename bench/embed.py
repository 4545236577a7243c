"""dlib-resnet34 throughput: our PyTorch port against dlib's own `compute_face_descriptor`.

The faces: every face MTCNN finds in ../shared/data/lfw10 (or --data), aligned by our pipeline
(dlib's 5-point landmarks, 150 px chips). Both networks embed the same chips, held in memory,
in the same run: ours in batches (channels-last; autocast on CUDA), dlib's batched call.

Target: ours >= 4x dlib's faces/s on the CPU. With --device cuda (or auto on a GPU machine) it
also prints the GPU's embedding faces/s, and images/s for detection plus embedding (decode in
DataLoader workers, MTCNN, landmarks and chips, embedding).
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from curation.embed.dlib_net import load_face_net
from curation.embed.dlib_resnet import MODEL_FILE
from curation.device import DeviceUnavailable, resolve_device
from curation.jobs.kinds import EmbedParams
from curation.embed.inference import autocast, default_loader_workers, prepare
from curation.embed.weights import packaged_dlib_model
from curation.faces.detect import Detector, ScanTask, by_detection_size, scan_loader

TARGET = 4.0
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "lfw10"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--data", type=Path, default=DATA, help="a folder of face images (default: lfw10)")
    parser.add_argument("--faces", type=int, default=256, help="faces to embed per timed repeat")
    parser.add_argument("--batch-size", type=int, default=EmbedParams().batch_size)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dlib-faces", type=int, default=96, help="faces dlib embeds (it is the slow one)")
    return parser.parse_args()


def scan_tasks(data: Path) -> list[ScanTask]:
    tasks = []
    for n, path in enumerate(sorted(p for p in data.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))):
        with Image.open(path) as image:
            tasks.append(ScanTask(n, f"{n:064d}", str(path), *image.size))
    return by_detection_size(tasks)


def detect_chips(tasks: list[ScanTask], detector: Detector, device: torch.device, batch_size: int) -> np.ndarray:
    """Every face's chip: decoding in DataLoader workers, MTCNN, landmarks, alignment."""
    chips = []
    loader = scan_loader(tasks, batch_size, default_loader_workers(device), pin=device.type == "cuda")
    for indices, batch, sizes, errors in loader:
        for scan in detector.scan([tasks[i] for i in indices], batch, sizes, errors):
            chips += [np.asarray(Image.open(io.BytesIO(face.chip)).convert("RGB")) for face in scan.faces]
    return np.stack(chips)


def end_to_end(tasks: list[ScanTask], detector: Detector, model, device: torch.device, batch_size: int) -> float:
    """Images/s of detection plus embedding of every face found."""
    start = time.perf_counter()
    chips = detect_chips(tasks, detector, device, batch_size)
    ours_vectors(model, chips, device)
    return len(tasks) / (time.perf_counter() - start)


def faces_per_second(model, chips: np.ndarray, device: torch.device, batch_size: int) -> float:
    batches = [torch.from_numpy(chips[i:i + batch_size]).permute(0, 3, 1, 2) for i in range(0, len(chips), batch_size)]
    with torch.inference_mode(), autocast(device):
        model(batches[0].to(device).contiguous(memory_format=torch.channels_last))
        sync(device)
        start = time.perf_counter()
        for batch in batches:
            model(batch.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)).float().cpu()
        sync(device)
    return len(chips) / (time.perf_counter() - start)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def ours_vectors(model, chips: np.ndarray, device: torch.device) -> np.ndarray:
    with torch.inference_mode(), autocast(device):
        x = torch.from_numpy(chips).permute(0, 3, 1, 2).to(device).contiguous(memory_format=torch.channels_last)
        return model(x).float().cpu().numpy()


def dlib_run(chips: np.ndarray) -> tuple[float, np.ndarray] | None:
    """(faces/s, vectors) of dlib's batched `compute_face_descriptor`, or None without dlib."""
    try:
        import dlib
    except ImportError:
        print("dlib is not installed (pip install dlib-bin): no comparison.")
        return None
    net = dlib.face_recognition_model_v1(str(packaged_dlib_model(MODEL_FILE)))
    batch = [np.ascontiguousarray(c) for c in chips]
    net.compute_face_descriptor(batch[:2])
    start = time.perf_counter()
    vectors = np.array([np.array(v) for v in net.compute_face_descriptor(batch)])
    return len(batch) / (time.perf_counter() - start), vectors


def main() -> None:
    args = parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"No face images at {args.data}: give a folder with --data.")
    try:
        device = resolve_device(args.device)
    except DeviceUnavailable as exc:
        raise SystemExit(str(exc)) from None
    what = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(f"Device: {device} ({what})")
    tasks = scan_tasks(args.data)
    detector = Detector(device)
    start = time.perf_counter()
    chips = detect_chips(tasks, detector, device, 16)
    print(f"Faces: {len(chips)} found in {len(tasks)} images of {args.data} "
          f"(detection: {len(tasks) / (time.perf_counter() - start):.1f} images/s, first pass)")
    model = prepare(load_face_net()[0], device)
    pool = np.concatenate([chips] * (args.faces // len(chips) + 1))[:args.faces]
    rates = [faces_per_second(model, pool, device, args.batch_size) for _ in range(args.repeats)]
    ours = statistics.median(rates)
    print(f"dlib-resnet34, our PyTorch port: {ours:.1f} faces/s (median of {args.repeats} x {len(pool)} faces, "
          f"batch {args.batch_size}; runs {', '.join(f'{r:.1f}' for r in rates)})")
    subset = chips[:args.dlib_faces]
    reference = dlib_run(subset)
    if reference:
        theirs, vectors = reference
        mine = ours_vectors(model, subset, device)
        cos = (mine * vectors).sum(1) / np.linalg.norm(mine, axis=1) / np.linalg.norm(vectors, axis=1)
        ratio = ours / theirs
        print(f"dlib's compute_face_descriptor (batched, same chips): {theirs:.1f} faces/s ({len(subset)} faces)")
        print(f"{'PASS' if ratio >= TARGET else 'MISS'}: ours / dlib = {ratio:.1f}x (target >= {TARGET}x on the CPU); "
              f"cosine to dlib's vectors: min {cos.min():.6f}")
    if device.type == "cuda":
        rates = [end_to_end(tasks, detector, model, device, 32) for _ in range(args.repeats)]
        print(f"GPU: embedding {ours:.1f} faces/s; detection plus embedding {statistics.median(rates):.1f} images/s "
              f"(decode, MTCNN, landmarks, chips, embedding; median of {args.repeats} x {len(tasks)} images)")


if __name__ == "__main__":
    main()
