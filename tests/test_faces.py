"""Faces: alignment and landmarks against dlib, detection and embedding jobs on real faces, LFW
verification, resuming, the embeddings export, report figures and the commands."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from curation import synth
from curation.cli import main
from curation.embed.dlib_net import load_face_net
from curation.embed.run import NothingToEmbed, embed_project
from curation.embed.verification import best_threshold_accuracy, central_faces
from curation.embed.weights import packaged_dlib_model
from curation.embed.worker import write_vectors
from curation.faces.align import align_face, extract_chip, similarity_transform
from curation.faces.detect import Face, Scan, ScanTask, jpeg
from curation.faces.landmarks import MODEL_FILE as LANDMARKS_FILE
from curation.faces.landmarks import five_point_predictor, grey
from curation.faces.run import detect_faces
from curation.faces.worker import write_scans
from curation.ingest import ingest
from curation.store import init_project, open_store
from curation.verify import load_rgb
from dlib_reference import cosines, dlib_chips, dlib_descriptors, dlib_or_skip

MODEL = "dlib-resnet34"


@pytest.fixture
def lfw(lfw_project):
    store = open_store(lfw_project[0])
    yield store
    store.close()


def no_face_image(path: Path) -> Path:
    synth.class_image("circle", 0).save(path, "JPEG", quality=90)
    return path


def test_similarity_transform_recovers_rotation_scale_and_shift():
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -4.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    src = np.array([[0.0, 0], [10, 0], [3, 7], [8, 9], [5, 2]])
    tform = similarity_transform(src, src @ rotation.T + shift)
    assert np.allclose(tform[:, :2], rotation) and np.allclose(tform[:, 2], shift)


def test_a_chip_samples_where_the_mapping_says():
    """dlib's convention: chip pixel (c, r) gets the image at mapping(c + 1/2, r + 1/2)."""
    ramp = np.tile(np.arange(200, dtype=np.uint8), (200, 1))
    image = Image.fromarray(np.stack([ramp, ramp.T, np.zeros_like(ramp)], axis=2))
    shifted = np.array([[1.0, 0, 40.5], [0, 1, 10.5]])
    chip = np.asarray(extract_chip(image, shifted, side=20))
    assert np.array_equal(chip[..., 0], np.tile(np.arange(41, 61), (20, 1)))
    assert np.array_equal(chip[..., 1], np.tile(np.arange(11, 31)[:, None], (1, 20)))
    quartered = np.array([[4.0, 0, 0], [0, 4, 0]])
    assert abs(int(np.asarray(extract_chip(image, quartered, side=40))[20, 20, 0]) - 82) <= 2


def test_landmarks_and_chips_match_dlibs(shared_data):
    dlib = dlib_or_skip()
    detector = dlib.get_frontal_face_detector()
    theirs = dlib.shape_predictor(str(packaged_dlib_model(LANDMARKS_FILE)))
    ours = five_point_predictor()
    offsets, grey_levels = [], []
    for path in sorted((shared_data / "lfw10").glob("*/*_0001.jpg")):
        picture = Image.open(path).convert("RGB")
        image = np.asarray(picture)
        for box in detector(image, 1):
            shape = theirs(image, box)
            reference = np.array([[p.x, p.y] for p in shape.parts()], dtype=float)
            found = ours(grey(image), (box.left(), box.top(), box.right(), box.bottom()))
            offsets.append(np.abs(found - reference).max())
            chip = np.asarray(dlib.get_face_chip(image, shape, size=150, padding=0.25)).astype(float)
            grey_levels.append(np.abs(np.asarray(align_face(picture, reference)).astype(float) - chip).mean())
    assert len(offsets) >= 10
    assert max(offsets) <= 2 and np.mean(offsets) <= 1
    assert max(grey_levels) < 2 and np.mean(grey_levels) < 1


def test_detection_of_every_size_records_boxes_no_face_and_resumes(shared_data, tmp_path):
    """An LFW image, the same image enlarged past the detection size, a wide crop of another and
    an image without a face; the run is cancelled after its first batch, the next does the rest."""
    folder = tmp_path / "in"
    folder.mkdir()
    lfw = sorted((shared_data / "lfw10").glob("*/*.jpg"))
    shutil.copy(lfw[0], folder / "face.jpg")
    Image.open(lfw[0]).resize((1500, 1500), Image.Resampling.BICUBIC).save(folder / "face_large.jpg", quality=95)
    Image.open(lfw[20]).crop((0, 40, 250, 210)).save(folder / "wide.jpg", quality=95)
    no_face_image(folder / "shape.jpg")
    store = init_project(tmp_path / "project")
    ingest(store, [folder], workers=1)
    first = detect_faces(store, batch_size=2, cancelled=lambda: store.scan_counts()["scanned"] > 0)
    assert (first.searched, first.cancelled) == (2, True)
    rest = detect_faces(store, batch_size=2)
    assert (rest.searched, rest.already, rest.no_face + first.no_face, rest.failed) == (2, 2, 1, 0)
    ids = dict(store.query("SELECT s.source, s.image_id FROM sources s"))
    small = nearest_centre(store, ids[str(folder / "face.jpg")])
    large = nearest_centre(store, ids[str(folder / "face_large.jpg")])
    assert np.allclose(np.array(large[:4]) / 6.0, small[:4], atol=6.0), "boxes are in source pixels"
    scan, faces = store.image_faces(ids[str(folder / "shape.jpg")])
    assert scan["faces"] == 0 and faces.empty
    chip = Image.open(store.project.root / small[4])
    assert chip.size == (150, 150) and chip.format == "JPEG"
    assert store.scan_counts() == {"images": 4, "scanned": 4, "with_faces": 3, "no_face": 1, "failed": 0,
                                   "faces": store.face_count()}
    store.close()


def nearest_centre(store, image_id: int) -> tuple:
    width, height = store.query("SELECT width, height FROM images WHERE id = ?", [image_id])[0]
    faces = store.query("SELECT x1, y1, x2, y2, chip FROM faces WHERE image_id = ?", [image_id])
    return min(faces, key=lambda f: np.hypot((f[0] + f[2]) / 2 - width / 2, (f[1] + f[3]) / 2 - height / 2))


def test_recording_a_part_twice_changes_nothing(project, tmp_path, capsys):
    """A part is recorded straight from the worker's files; a repeat (a rerun racing a stop) adds nothing."""
    face = Face((1.0, 2.0, 30.0, 40.0), 0.99, [5.0] * 10, [6.0] * 10, jpeg(Image.new("RGB", (150, 150))))
    write_scans([Scan(ScanTask(7, "ab" * 32, "x.jpg", 64, 64), [face]), Scan(ScanTask(8, "cd" * 32, "y.jpg", 64, 64))],
                project.project, tmp_path, 0)
    write_vectors([np.array([1])], [np.ones((1, 128), np.float32)], tmp_path, 0)
    scans, vectors = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    for expected in (1, 0):
        assert project.record_scans(Path(scans["scans"]), Path(scans["faces"]), "mtcnn") == expected
        assert project.record_embeddings(MODEL, "face", Path(vectors["part"])) == expected
    assert project.query("SELECT image_id, faces FROM face_scans ORDER BY image_id") == [(7, 1), (8, 0)]
    assert project.query("SELECT id, face, chip FROM faces") == [(1, 0, f"faces/ab/{'ab' * 32}-0.jpg")]
    assert (project.project.root / "faces" / "ab" / f"{'ab' * 32}-0.jpg").is_file()
    assert project.embedding_counts() == {MODEL: 1}


def test_a_face_model_needs_faces_first(project):
    with pytest.raises(NothingToEmbed, match="run face detection first"):
        embed_project(project, MODEL)


def test_lfw10_verification_over_all_pairs(lfw):
    faces, vectors = lfw.face_vectors(MODEL)
    labelled = central_faces(faces)
    assert len(labelled) == 100
    accuracy, threshold = best_threshold_accuracy(vectors[labelled], faces.loc[labelled, "label"].to_numpy())
    print(f"lfw10 verification, {MODEL}: {accuracy:.4f} at distance {threshold:.3f} (4950 pairs)")
    assert accuracy >= 0.97


def test_the_pipeline_agrees_with_dlibs_own(lfw, shared_data):
    """Our detector, landmarks, chips and network against dlib's detector, landmarks, chips and network."""
    dlib = dlib_or_skip()
    faces, vectors = lfw.face_vectors(MODEL)
    sources = dict(lfw.query("SELECT image_id, source FROM sources"))
    labelled = central_faces(faces)[::5]
    chips = dlib_chips(dlib, [sources[i] for i in faces.loc[labelled, "image_id"]])
    theirs = dlib_descriptors(dlib, chips)
    similarity = cosines(vectors[labelled], theirs)
    print(f"end to end against dlib: median cosine {np.median(similarity):.4f}, min {similarity.min():.4f}")
    assert len(chips) == len(labelled) and np.median(similarity) >= 0.998 and similarity.min() >= 0.98


def test_only_missing_embeddings_are_computed_and_exported(lfw, tmp_path):
    assert embed_project(lfw, MODEL).embedded == 0
    report = lfw.report()
    assert report["faces"] == lfw.face_count() > 100 and report["embeddings"] == {MODEL: report["faces"]}
    out = tmp_path / "embeddings.parquet"
    lfw.close()
    assert main(["export", str(lfw.project.root), str(out), "--what", "embeddings", "--model", MODEL]) == 0
    table = pd.read_parquet(out)
    assert list(table.columns) == ["source", "face", "label", "box", "model", "vector"]
    assert len(table) == report["faces"] and set(table["model"]) == {MODEL}
    first = table.iloc[0]
    assert first["source"].endswith(".jpg") and len(first["box"]) == 4 and len(first["vector"]) == 128
    assert first["box"][0] < first["box"][2] <= 250 and first["label"] in first["source"]


def test_detect_and_embed_commands(lfw_project, capsys):
    """The fixture ran them; run again, they find nothing left to do. A model without its weights
    fails with the sentence saying where to put them; an unknown model is a usage error."""
    root, printed = lfw_project
    assert "Faces: 100 images searched, " in printed and ", 0 could not be read, 0 searched before." in printed
    assert f"Embeddings: {MODEL}: " in printed and "embedded, 0 embedded before." in printed
    assert main(["detect", str(root)]) == 0 and main(["embed", str(root)]) == 0
    again = capsys.readouterr().out
    assert "Faces: 0 images searched" in again and "Embeddings: dlib-resnet34: 0 faces embedded" in again
    missing = root.parent / "none.pt"
    assert main(["embed", str(root), "--model", "resnet34-imagenet", "--weights", str(missing)]) == 1
    assert f"{missing} does not exist; put resnet34-b627a593.pth" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["embed", str(root), "--model", "arcface"])
    assert usage.value.code == 2


def test_a_stored_chip_is_the_face_aligned_on_its_stored_landmarks(lfw):
    """Chips are JPEG (quality 95, a quarter of PNG's bytes): the embedding barely moves."""
    rows = lfw.query("SELECT f.chip, f.chip_landmarks, i.sha256, i.ext FROM faces f JOIN images i ON i.id = f.image_id "
                     "ORDER BY f.id LIMIT 8")
    stored = [np.asarray(Image.open(lfw.project.root / chip).convert("RGB")) for chip, *_ in rows]
    exact = [np.asarray(align_face(load_rgb(lfw.project.original_path(sha, ext)), np.reshape(points, (5, 2))))
             for _, points, sha, ext in rows]
    net = load_face_net()[0]
    with torch.inference_mode():
        a, b = (net(torch.from_numpy(np.stack(c)).permute(0, 3, 1, 2)).numpy() for c in (stored, exact))
    assert cosines(a, b).min() >= 0.9995
