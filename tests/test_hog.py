"""The `hog` embedder: its descriptor's binning, shape and norm, what it ignores (a repeat, a
brightness change), that it tells drawn shapes apart, and a whole `curation embed` run with it."""

from __future__ import annotations

import contextlib
import io
import math
import random

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageEnhance

from curation.cli import main
from curation.embed import EMBEDDERS, get_embedder
from curation.embed.hog import BINS, CELL, DIM, SIDE, letterbox
from curation.embed.hog_net import Hog, cell_histograms
from curation.store import open_store

SHAPES_PER_LABEL = 20
BRIGHTNESS_DISTANCE = 0.1


def draw_shape(label: str, rng: random.Random, side: int = 160) -> Image.Image:
    """A circle or an upright square of random colour, size and position on a plain ground of random colour.

    Upright because HOG is not rotation-invariant: squares turned at random are about 0.75 1-NN accurate.
    """
    ground = tuple(rng.randrange(0, 90) for _ in range(3))
    ink = tuple(rng.randrange(140, 256) for _ in range(3))
    image = Image.new("RGB", (side, side), ground)
    radius = rng.uniform(0.18, 0.35) * side
    cx, cy = (rng.uniform(radius + 2, side - radius - 2) for _ in range(2))
    draw = ImageDraw.Draw(image)
    if label == "circle":
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=ink)
    else:
        draw.rectangle((cx - radius, cy - radius, cx + radius, cy + radius), fill=ink)
    return image


def embed(images: list[Image.Image]) -> np.ndarray:
    batch = torch.from_numpy(np.stack([letterbox(image) for image in images])).permute(0, 3, 1, 2)
    with torch.inference_mode():
        return get_embedder("hog").network()(batch).numpy()


def test_hog_is_registered_as_a_whole_image_embedder_needing_no_weights():
    hog = get_embedder("hog")
    assert list(EMBEDDERS)[-1] == "hog" and hog.subject == "image"
    assert hog.dim == DIM == 7 * 7 * 4 * 9
    assert f"{DIM}-d" in hog.description
    assert isinstance(hog.network("no-such-file.pt"), Hog) and not hog.network().training


def test_vectors_have_the_registered_dim_and_unit_length():
    batch = torch.randint(0, 256, (5, 3, SIDE, SIDE), dtype=torch.uint8)
    with torch.inference_mode():
        vectors = get_embedder("hog").network()(batch)
    assert vectors.shape == (5, DIM) and vectors.dtype == torch.float32
    assert torch.allclose(vectors.norm(dim=1), torch.ones(5), atol=1e-5)
    assert vectors.min() >= 0


def test_letterbox_keeps_the_aspect_and_pads_with_the_edge_pixels():
    wide = Image.new("RGB", (160, 80), (200, 10, 10))
    ImageDraw.Draw(wide).rectangle((0, 0, 159, 19), fill=(0, 0, 255))
    pixels = letterbox(wide)
    assert pixels.shape == (SIDE, SIDE, 3) and pixels.dtype == np.uint8
    assert (pixels[:SIDE // 4 + 4] == (0, 0, 255)).all()
    assert (pixels[SIDE // 2:] == (200, 10, 10)).all()


def test_votes_split_linearly_between_the_two_nearest_bins():
    """45 degrees lies a quarter of the way from bin 2's centre (50) to bin 1's (30); 90 is bin 4's centre."""
    magnitude = torch.ones(1, SIDE, SIDE)
    diagonal = cell_histograms(magnitude, torch.full((1, SIDE, SIDE), math.pi / 4))
    vertical = cell_histograms(magnitude, torch.full((1, SIDE, SIDE), math.pi / 2))
    votes = CELL * CELL
    expected_diagonal = torch.zeros(BINS)
    expected_diagonal[1], expected_diagonal[2] = 0.25 * votes, 0.75 * votes
    assert torch.allclose(diagonal[0, :, 3, 5], expected_diagonal, atol=1e-4)
    assert torch.allclose(vertical[0, :, 0, 0], torch.eye(BINS)[4] * votes, atol=1e-4)


def test_a_ramp_has_its_gradient_direction_everywhere_inside():
    ramp = np.add.outer(np.arange(SIDE), np.arange(SIDE)).astype(np.uint8)
    batch = torch.from_numpy(np.repeat(ramp[None, None], 3, axis=1))
    magnitude, angle = Hog().gradients(batch)
    assert torch.allclose(angle[0, 1:-1, 1:-1], torch.full((SIDE - 2, SIDE - 2), math.pi / 4))
    assert torch.allclose(magnitude[0, 1:-1, 1:-1], torch.full((SIDE - 2, SIDE - 2), 2 * math.sqrt(2) / 255))


def test_the_same_image_twice_gives_the_same_vector_and_brightness_barely_moves_it():
    square = draw_shape("square", random.Random(3))
    brighter = ImageEnhance.Brightness(square).enhance(1.25)
    first, twice, bright, circle = embed([square, square.copy(), brighter, draw_shape("circle", random.Random(4))])
    assert np.array_equal(first, twice)
    assert np.linalg.norm(first - bright) < BRIGHTNESS_DISTANCE < np.linalg.norm(first - circle)


def test_nearest_neighbours_tell_drawn_circles_from_squares():
    rng = random.Random(0)
    labels = np.repeat(["circle", "square"], SHAPES_PER_LABEL)
    vectors = embed([draw_shape(label, rng) for label in labels])
    distances = np.linalg.norm(vectors[:, None] - vectors[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    accuracy = (labels[distances.argmin(axis=1)] == labels).mean()
    print(f"hog 1-NN accuracy on {len(labels)} drawn circles and squares: {accuracy:.3f}")
    assert accuracy >= 0.9


def test_curation_embed_with_hog_embeds_every_usable_image(tmp_path):
    images = tmp_path / "images"
    rng = random.Random(1)
    for label in ("circle", "square"):
        (images / label).mkdir(parents=True)
        for index in range(3):
            draw_shape(label, rng).save(images / label / f"{label}_{index}.png")
    (images / "square" / "empty.jpg").write_bytes(b"")
    root = tmp_path / "project"
    commands = [["init", root], ["ingest", root, images, "--labels-from-folders"],
                ["embed", root, "--model", "hog", "--device", "cpu"]]
    with contextlib.redirect_stdout(io.StringIO()):
        assert [main([str(arg) for arg in command]) for command in commands] == [0, 0, 0]
    store = open_store(root)
    try:
        report = store.report()
        assert report["images"] == {"total": 7, "ok": 6, "failed": 1}
        assert report["embeddings"]["hog"] == 6
    finally:
        store.close()
