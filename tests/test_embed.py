"""Embedders: dlib's network read from its file and run in PyTorch (parity with dlib itself), the
other embedders' weight handling, and the registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from curation.embed import EMBEDDERS, WeightsMissing, get_embedder
from curation.embed.dlib_format import DlibFormatError, read_network
from curation.embed.dlib_net import add_padded, face_net_layers, load_face_net
from curation.embed.dlib_resnet import MODEL_FILE
from curation.embed.weights import WeightsFile, packaged_dlib_model
from dlib_reference import cosines, dlib_chips, dlib_descriptors, dlib_or_skip

PARITY_IMAGES = 12


def test_the_embedders_are_registered_under_designs_names():
    assert list(EMBEDDERS) == ["dlib-resnet34", "facenet-vggface2", "facenet-casia", "resnet34-imagenet", "hog"]
    assert [EMBEDDERS[n].subject for n in EMBEDDERS] == ["face", "face", "face", "image", "image"]
    with pytest.raises(KeyError, match="choose one of dlib-resnet34"):
        get_embedder("vgg-face")


def test_reader_reads_dlibs_face_network():
    network = read_network(packaged_dlib_model(MODEL_FILE), face_net_layers())
    convs = [spec.params["weight"].shape for spec in network.layers if spec.kind == "con"]
    assert len(convs) == 29
    assert convs[-1] == (32, 3, 7, 7) and convs[0] == (256, 256, 3, 3)
    assert network.layers[0].params["weight"].shape == (128, 256) and network.layers[0].params["bias"] is None
    assert network.input == {"mean": pytest.approx((122.782, 117.001, 104.298), abs=1e-3), "size": (150, 150)}
    assert network.loss["distance_threshold"] == pytest.approx(0.6)


def test_reader_refuses_a_network_of_another_shape(tmp_path):
    with pytest.raises(DlibFormatError, match="not the expected network"):
        read_network(packaged_dlib_model(MODEL_FILE), face_net_layers()[2:])
    cut = tmp_path / "cut.dat"
    cut.write_bytes(packaged_dlib_model(MODEL_FILE).read_bytes()[:1_000_000])
    with pytest.raises(DlibFormatError, match="past the end"):
        read_network(cut, face_net_layers())


def test_add_prev_zero_pads_channels_and_size_like_dlib():
    block = torch.ones(1, 4, 3, 3)
    shortcut = torch.full((1, 2, 4, 4), 10.0)
    out = add_padded(block, shortcut)
    assert out.shape == (1, 4, 4, 4)
    assert out[0, 0, 0, 0] == 11 and out[0, 3, 0, 0] == 1 and out[0, 0, 3, 3] == 10 and out[0, 3, 3, 3] == 0


def test_parity_with_dlib_on_real_faces(shared_data):
    dlib = dlib_or_skip()
    chips = dlib_chips(dlib, sorted((shared_data / "lfw10").glob("*/*_000[12].jpg"))[:PARITY_IMAGES])
    theirs = dlib_descriptors(dlib, chips)
    net = load_face_net()[0]
    with torch.inference_mode():
        ours = net(torch.from_numpy(np.stack(chips)).permute(0, 3, 1, 2)).numpy()
    similarity = cosines(ours, theirs)
    print(f"dlib-resnet34 parity on {len(chips)} LFW faces: min cosine {similarity.min():.7f}, "
          f"max abs difference {np.abs(ours - theirs).max():.2e}")
    assert len(chips) >= 10
    assert similarity.min() >= 0.999


def test_a_missing_weights_file_says_which_file_to_put_where(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("CURATION_TEST_WEIGHTS", raising=False)
    unreachable = WeightsFile("model-1234.pt", "http://127.0.0.1:9/model-1234.pt", "CURATION_TEST_WEIGHTS")
    cache = tmp_path / "torch" / "hub" / "checkpoints" / "model-1234.pt"
    with pytest.raises(WeightsMissing) as missing:
        unreachable.locate()
    message = str(missing.value)
    assert "download failed" in message and f"put model-1234.pt (from {unreachable.url}) at {cache}" in message
    assert "--weights or the CURATION_TEST_WEIGHTS environment variable" in message
    monkeypatch.setenv("CURATION_TEST_WEIGHTS", str(tmp_path / "elsewhere.pt"))
    with pytest.raises(WeightsMissing, match="elsewhere.pt does not exist; put model-1234.pt"):
        unreachable.locate()
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(b"weights")
    monkeypatch.delenv("CURATION_TEST_WEIGHTS")
    assert unreachable.locate() == cache


@pytest.mark.parametrize("name, side", [("facenet-vggface2", 160), ("resnet34-imagenet", 224)])
def test_weights_given_by_path_are_loaded(tmp_path, name, side):
    """A state dict in the released layout (facenet's with its classifier) loads and embeds."""
    from facenet_pytorch import InceptionResnetV1
    from torchvision.models import resnet34

    torch.manual_seed(0)
    if name.startswith("facenet"):
        net = InceptionResnetV1()
        net.logits = torch.nn.Linear(512, 8631)
    else:
        net = resnet34()
    path = tmp_path / "weights.pt"
    torch.save(net.state_dict(), path)
    model = get_embedder(name).network(str(path))
    with torch.inference_mode():
        vectors = model(torch.randint(0, 256, (2, 3, side, side), dtype=torch.uint8))
    assert vectors.shape == (2, 512)
    if name.startswith("facenet"):
        assert torch.allclose(vectors.norm(dim=1), torch.ones(2), atol=1e-5)


@pytest.mark.parametrize("env", [{}, {"TORCH_HOME": "/tmp/th"}, {"XDG_CACHE_HOME": "/tmp/xdg"},
                                 {"TORCH_HOME": "~/th", "XDG_CACHE_HOME": "/tmp/xdg"}])
def test_the_registry_and_the_weights_cache_need_no_torch(env):
    """Pages read the embedders' names and where weights go without importing torch (seconds), and
    the cache folder named without torch is torch's own."""
    import os
    import subprocess
    import sys

    code = ("import sys; from curation.embed import EMBEDDERS; from curation.embed.weights import RESNET34_IMAGENET; "
            "before = RESNET34_IMAGENET.cached(); assert 'torch' not in sys.modules, 'torch was imported'; "
            "import torch; assert len(EMBEDDERS) >= 5; "
            "from pathlib import Path; assert before == Path(torch.hub.get_dir()) / 'checkpoints' / "
            "RESNET34_IMAGENET.filename, (before, torch.hub.get_dir())")
    clean = {k: v for k, v in os.environ.items() if k not in ("TORCH_HOME", "XDG_CACHE_HOME")}
    done = subprocess.run([sys.executable, "-c", code], env=clean | env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
