"""A project's own files read back: the bytes, or a short reason why they cannot be had.

Pages and `curation check` both read originals, thumbnails and face chips through here, so a file
that a disk clean-up, a partial copy or a sync tool lost or changed is one `Unreadable` value with
a reason (`missing`, `unreadable`, `altered`, `undecodable`), never an exception in a page.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

CHUNK = 1 << 20

PROBLEMS = {
    "missing": "file missing",
    "unreadable": "file unreadable",
    "altered": "file altered",
    "undecodable": "not a readable picture",
}


@dataclass(frozen=True)
class Unreadable:
    """Why a project file could not be used: `problem` (a PROBLEMS key), the path, the OS's words."""

    problem: str
    path: Path
    detail: str = ""

    def title(self, what: str = "File") -> str:
        """A few words for a placeholder: 'Original altered', 'Thumbnail missing'."""
        return f"{what} {PROBLEMS[self.problem].removeprefix('file ')}"

    def sentence(self, what: str = "file") -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"The {what} {self.path.name} is {PROBLEMS[self.problem].removeprefix('file ')}{extra}."


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_bytes(path: Path, sha256: str | None = None) -> bytes | Unreadable:
    """The file's bytes; with `sha256` (an original's name), bytes that no longer hash to it are `altered`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Unreadable("missing", path)
    except OSError as exc:
        return Unreadable("unreadable", path, exc.strerror or type(exc).__name__)
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        return Unreadable("altered", path, "its bytes no longer match its SHA-256 name")
    return data


def file_problem(path: Path, sha256: str | None = None) -> Unreadable | None:
    """What is wrong with a file without holding it all in memory (for checks); None when it is fine."""
    path = Path(path)
    try:
        if sha256 is None:
            with open(path, "rb"):
                return None
        if sha256_file(path) != sha256:
            return Unreadable("altered", path, "its bytes no longer match its SHA-256 name")
        return None
    except FileNotFoundError:
        return Unreadable("missing", path)
    except OSError as exc:
        return Unreadable("unreadable", path, exc.strerror or type(exc).__name__)


def decode(data: bytes, path: Path) -> Image.Image | Unreadable:
    """Bytes decoded to a loaded PIL image, or `undecodable`."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
        return image
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        return Unreadable("undecodable", Path(path), str(exc) or type(exc).__name__)


def load_original(path: Path, sha256: str, max_side: int | None = None) -> Image.Image | Unreadable:
    """A stored original the way verification saw it (oriented, first frame, 8-bit RGB), checked
    against its SHA-256 name; or why it cannot be shown."""
    from .verify import Failure, verify_bytes

    data = read_bytes(path, sha256)
    if isinstance(data, Unreadable):
        return data
    result = verify_bytes(data, side=max_side)
    if isinstance(result, Failure):
        return Unreadable("undecodable", Path(path), result.detail)
    image = result.image
    if max_side:
        image.thumbnail((max_side, max_side))
    return image


def kind_of(path: Path) -> str:
    """What a project file is, by the folder it lives in: 'Original', 'Thumbnail', 'Face chip'."""
    return {"images": "Original", "thumbs": "Thumbnail", "faces": "Face chip"}.get(Path(path).parent.parent.name,
                                                                                  "File")
