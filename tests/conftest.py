"""Shared fixtures: a fresh project, a generated corpus with every defect, the shared data folder.

Page and end-to-end fixtures live in their own conftest files beside those tests.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from curation import synth
from curation.ingest import ingest
from curation.store import init_project, open_store

CLEAN_PER_LABEL = 2

DEFECT_SUFFIX = {
    "zero_bytes": "jpg", "truncated_jpeg": "jpg", "html_as_image": "jpg", "svg": "svg",
    "decompression_bomb": "png", "tiny": "jpg", "garbage": "png", "cmyk_jpeg": "jpg", "16bit_png": "png",
    "palette_png": "png", "rgba_png": "png", "animated_gif": "gif", "exif_rotated_jpeg": "jpg",
    "webp_as_jpg": "jpg",
}


@dataclass(frozen=True)
class Corpus:
    """`root/<label>/<file>`: one file per synth.DEFECTS kind, spread over the labels, and clean class images."""

    root: Path
    defects: dict[str, Path]
    clean: list[Path]

    @property
    def files(self) -> list[Path]:
        return sorted([*self.defects.values(), *self.clean])

    def usable(self) -> list[Path]:
        return sorted([p for k, p in self.defects.items() if k in synth.USABLE_DEFECTS] + self.clean)


def write_corpus(root: Path) -> Corpus:
    defects = {}
    for i, (kind, write) in enumerate(synth.DEFECTS.items()):
        label = synth.SHAPES[i % len(synth.SHAPES)]
        path = root / label / f"{kind}.{DEFECT_SUFFIX[kind]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path, **({} if kind in synth.FAILING_DEFECTS else {"label": label}))
        defects[kind] = path
    clean = []
    for label in synth.SHAPES:
        for index in range(CLEAN_PER_LABEL):
            path = root / label / f"{label}_{index:02d}.jpg"
            synth.class_image(label, index).save(path, "JPEG", quality=90)
            clean.append(path)
    return Corpus(root, defects, clean)


@pytest.fixture(scope="session")
def _corpus_master(tmp_path_factory) -> Corpus:
    return write_corpus(tmp_path_factory.mktemp("corpus-master") / "corpus")


@pytest.fixture
def corpus(_corpus_master, tmp_path) -> Corpus:
    """A private copy of the generated corpus: a test may add, change or remove files in it."""
    root = tmp_path / "corpus"
    shutil.copytree(_corpus_master.root, root)

    def moved(path: Path) -> Path:
        return root / path.relative_to(_corpus_master.root)

    return Corpus(root, {k: moved(p) for k, p in _corpus_master.defects.items()},
                  [moved(p) for p in _corpus_master.clean])


@pytest.fixture
def project(tmp_path):
    """A fresh, initialised project store in `tmp_path/project`, closed after the test."""
    store = init_project(tmp_path / "project")
    yield store
    store.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The team's shared data folder (/work/shared/data beside the checkout)."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"shared data folder {path} is absent (it sits beside the checkout on team machines)")
    return path


@pytest.fixture
def fake_web(monkeypatch):
    """The fake search-and-image server on 127.0.0.1 (tests/fakeserver.py), every provider pointed at it,
    only 127.0.0.1/32 allowed, and the test key set for the providers that need one."""
    from fakeserver import API_KEY, FakeWeb

    with FakeWeb(hosts=3, images_per_query=12, slow_seconds=2.0) as web:
        for name, value in web.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("SERPAPI_API_KEY", API_KEY)
        monkeypatch.setenv("BRAVE_API_KEY", API_KEY)
        yield web


SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "images"


@pytest.fixture(scope="session")
def sample_project(tmp_path_factory) -> Path:
    """A project with the sample data ingested, built once; tests copy it (`project_copy`) to change it."""
    root = tmp_path_factory.mktemp("sample") / "project"
    store = init_project(root)
    ingest(store, [SAMPLE], labels_from_folders=True, workers=1)
    store.close()
    return root


@pytest.fixture
def project_copy(sample_project, tmp_path) -> Path:
    """A fresh copy of the sample project in `tmp_path/project`."""
    root = tmp_path / "project"
    shutil.copytree(sample_project, root)
    return root


@pytest.fixture(scope="session")
def lfw_project(shared_data, tmp_path_factory) -> tuple[Path, str]:
    """lfw10 (100 images) ingested with folder labels, faces detected and embedded with
    dlib-resnet34, by the commands a user runs: built once. The project and what they printed."""
    from curation.cli import main

    root = tmp_path_factory.mktemp("lfw") / "project"
    commands = [["init", root], ["ingest", root, shared_data / "lfw10", "--labels-from-folders"],
                ["detect", root, "--device", "cpu"], ["embed", root, "--model", "dlib-resnet34"]]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert [main([str(arg) for arg in command]) for command in commands] == [0, 0, 0, 0]
    open_store(root).close()
    return root, printed.getvalue()


# Further shared fixtures go here; page and browser fixtures belong in their own test folders' conftest.
