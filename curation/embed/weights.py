"""Where each embedder's weights file comes from, and the message when it is nowhere.

dlib's face ResNet ships in the `face_recognition_models` package. facenet's and torchvision's
weights are looked for, in order, at the path the user gives (`--weights`, or the model's
environment variable), in torch's cache (`<torch hub dir>/checkpoints/<file>`), and finally
downloaded there when the internet is reachable. When none works, `WeightsMissing` says exactly
which file to put where.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

DOWNLOAD_TIMEOUT_S = 20


class WeightsMissing(FileNotFoundError):
    """No weights file for a model, with a sentence saying which file to put where."""


@dataclass(frozen=True)
class WeightsFile:
    """A published weights file: its name in torch's cache, where it is published, and the
    environment variable that can point at a copy of it."""

    filename: str
    url: str
    env: str

    def cached(self) -> Path:
        return torch_hub_dir() / "checkpoints" / self.filename

    def locate(self, given: str | os.PathLike | None = None) -> Path:
        """The file: the path given, else the environment variable's, else torch's cache
        (downloading it there if the internet answers)."""
        explicit = given or os.environ.get(self.env)
        if explicit:
            path = Path(explicit).expanduser()
            if not path.is_file():
                raise WeightsMissing(f"The weights file {path} does not exist; {self.instructions()}")
            return path
        path = self.cached()
        if path.is_file():
            return path
        try:
            download(self.url, path)
        except OSError as exc:
            raise WeightsMissing(
                f"No weights at {path} and the download failed ({exc}); {self.instructions()}") from None
        return path

    def instructions(self) -> str:
        return (f"put {self.filename} (from {self.url}) at {self.cached()}, or give its path with "
                f"--weights or the {self.env} environment variable.")


def torch_hub_dir() -> Path:
    """`torch.hub.get_dir()`, without importing torch (3 s) when nothing has yet: pages that only say
    where a weights file goes stay light. Torch's rule: `$TORCH_HOME/hub`, TORCH_HOME defaulting to
    `$XDG_CACHE_HOME/torch`, then `~/.cache/torch`; once torch is loaded its answer (`set_dir`) wins."""
    if "torch" in sys.modules:
        return Path(sys.modules["torch"].hub.get_dir())
    cache = os.getenv("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    return Path(os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(cache, "torch")))) / "hub"


RESNET34_IMAGENET = WeightsFile("resnet34-b627a593.pth", "https://download.pytorch.org/models/resnet34-b627a593.pth",
                                "CURATION_RESNET34_WEIGHTS")


def download(url: str, path: Path) -> None:
    """Download `url` to `path` atomically (a half-downloaded file never sits at `path`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False) as out:
            try:
                shutil.copyfileobj(response, out)
            except BaseException:
                Path(out.name).unlink(missing_ok=True)
                raise
    os.replace(out.name, path)


def packaged_dlib_model(filename: str) -> Path:
    """A model file shipped by the `face_recognition_models` package.

    Found through the import system without importing the package: its `__init__` imports
    `pkg_resources`, which recent setuptools no longer provides.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / "models" / filename
        if path.is_file():
            return path
    raise WeightsMissing(f"dlib's {filename} was not found: install it with "
                         "`pip install face_recognition_models` (it ships dlib's face models).")
