"""Every kind of background job, listed once: its typed params and where its runner lives.

This is the one list: the command line's job commands, the API's `POST /api/v1/jobs` schema and
the pages' form defaults come from it. Nothing registers itself by being imported. The module
imports nothing heavy, so a command that only talks to a server stays quick to start.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .operation import Operation, option

DEVICES = ("auto", "cpu", "cuda")
# The names of curation.embed's registry and of curation.gather's providers, spelled here so that
# building the command line imports neither torch nor the HTTP clients (tests/test_operations.py
# holds them equal).
EMBEDDERS = ("dlib-resnet34", "facenet-vggface2", "facenet-casia", "resnet34-imagenet", "hog")
DEFAULT_EMBEDDER = "dlib-resnet34"
PROVIDERS = ("openverse", "wikimedia", "duckduckgo", "serpapi", "brave")

DEVICE_HELP = "auto: the GPU when there is one; cpu; cuda"
ENGINES = ("local", "ray")  # curation/engines: where detection and embedding run
ENGINE_HELP = "local: a worker process here; ray: Ray Data on a Ray cluster"
ADDRESS_HELP = "with --engine ray: the cluster (ray://HOST:10001, HOST:6379 or auto; default: a local Ray)"


@dataclass(frozen=True)
class IngestParams:
    paths: list[str] = option(help="image files or folders on the server's disk", positional=True, path=True)
    labels_from_folders: bool = option(False, "label each image by its folder's name")
    workers: int | None = option(None, "decoding processes (default: one per core)", minimum=1)
    feedback: bool = option(False, "each PATH is a feedback folder written by `curation deploy`: ingest what "
                                   "production logged, unlabelled, with the model's guess")


@dataclass(frozen=True)
class GatherParams:
    provider: str = option(help="the image search to ask", choices=PROVIDERS)
    query: list[str] = option(help="the search text (repeat --query and --label for several queries)")
    label: list[str] = option(help="the label the images of the --query at the same place get")
    max: int = option(50, "images to download per query (1 to 1000)")


@dataclass(frozen=True)
class DetectParams:
    device: str = option("auto", DEVICE_HELP, choices=DEVICES)
    batch_size: int = option(16, "images per batch", minimum=1)
    engine: str = option("local", ENGINE_HELP, choices=ENGINES)
    address: str | None = option(None, ADDRESS_HELP)


@dataclass(frozen=True)
class EmbedParams:
    model: str = option(DEFAULT_EMBEDDER, "the embedder: dlib-resnet34 (offline), facenet-vggface2, facenet-casia, "
                        "resnet34-imagenet, or hog (whole images, offline)", choices=EMBEDDERS)
    device: str = option("auto", DEVICE_HELP, choices=DEVICES)
    batch_size: int = option(64, "crops per batch", minimum=1)
    weights: str | None = option(None, "the model's weights file, if not in torch's cache", path=True)
    engine: str = option("local", ENGINE_HELP, choices=ENGINES)
    address: str | None = option(None, ADDRESS_HELP)


@dataclass(frozen=True)
class CleanParams:
    label: str | None = option(None, "one identity (default: every label)")
    model: str = option(DEFAULT_EMBEDDER, "the embeddings to judge by", choices=EMBEDDERS)


@dataclass(frozen=True)
class MapParams:
    model: str = option(DEFAULT_EMBEDDER, "the embeddings to lay out", choices=EMBEDDERS)
    sample: int = option(50_000, "UMAP is fitted on at most this many points (on the CPU); the others are placed "
                         "by the fitted model's transform", minimum=100)


@dataclass(frozen=True)
class TrainParams:
    arch: str = option("resnet34", "linear: a logistic head on stored embeddings (seconds); resnet34: fine-tune "
                       "on the images", choices=("linear", "resnet34"))
    epochs: int = option(30, "passes over the training images", minimum=1)
    image_size: int = option(64, "side of the square images a resnet34 trains on, in pixels", minimum=16)
    batch_size: int = option(32, "images per step", minimum=1)
    lr: float = option(3e-3, "the peak learning rate", minimum=0)
    val_fraction: float = option(0.2, "the share of each label kept for validation", minimum=0)
    seed: int = option(0, "seed of the train/validation split and of training")
    device: str = option("auto", DEVICE_HELP, choices=DEVICES)
    embedder: str | None = option(None, f"with --arch linear: the embeddings to train on (default {DEFAULT_EMBEDDER})",
                                  flag="--model", choices=EMBEDDERS)

    def __post_init__(self) -> None:
        embedder = (self.embedder or DEFAULT_EMBEDDER) if self.arch == "linear" else None
        object.__setattr__(self, "embedder", embedder)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CheckParams:
    repair: bool = option(False, "rebuild thumbnails and chips, record lost originals as failed (undoable); "
                          "deletes nothing")


@dataclass(frozen=True)
class QualityParams:
    model: str | None = option(None, "the embeddings for the outlier check (default: dlib-resnet34 when there, "
                               "else the first the project has)", choices=EMBEDDERS)


@dataclass(frozen=True)
class DiscoverParams:
    model: str = option(DEFAULT_EMBEDDER, "the face embeddings to group by", choices=EMBEDDERS)


@dataclass(frozen=True)
class ProposeParams:
    attribute: str = option(help="the audited attribute to propose values of")
    model: str = option(DEFAULT_EMBEDDER, "the embeddings to propose from", choices=EMBEDDERS)


@dataclass(frozen=True)
class BundleParams:
    out: str | None = option(None, "the bundle's folder (default: <project>/bundles/run-NNNN, where the project's "
                             "server looks for a run's bundle)", positional=True, path=True)
    run_id: int | None = option(None, "the finished run to bundle (default: the latest)", flag="--run", minimum=1)


OPERATIONS: dict[str, Operation] = {op.name: op for op in (
    Operation("ingest", IngestParams, "curation.ingest:run_ingest", "verify and add image files or folders",
              unit="file", done="Ingested: {message}."),
    Operation("gather", GatherParams, "curation.gather.run:run_gather", "search the web for images and download them",
              unit="hit", done="Gathered: {message}.", check="curation.gather.run:check_params"),
    Operation("detect", DetectParams, "curation.faces.run:run_detect",
              "find every face in every usable image, with aligned chips", unit="image", done="Faces: {message}."),
    Operation("embed", EmbedParams, "curation.embed.run:run_embed", "compute the missing embeddings of a model",
              unit="crop", done="Embeddings: {message}."),
    Operation("clean", CleanParams, "curation.clean.run:run_clean",
              "suggest which faces of each identity to keep, remove or relabel", unit="step",
              done="Cleaning: {message}."),
    Operation("map", MapParams, "curation.map_run:run_map", "lay out a model's embeddings as a 2-D map (UMAP)",
              unit="step", done="Map: {message}."),
    Operation("train", TrainParams, "curation.train.job:run_train", "train a model on the labelled, unflagged images",
              unit="epoch"),
    Operation("check", CheckParams, "curation.check:run_check",
              "verify every file of the project against its database; with repair, rebuild what can be",
              unit="original"),
    Operation("quality", QualityParams, "curation.quality.run:run_quality",
              "score every usable image for blur, exposure, information, shape, size, colour and outliers",
              unit="step", done="Quality: {message}"),
    Operation("discover", DiscoverParams, "curation.discover_run:run_discover",
              "group the faces of unlabelled images into proposed people", unit="step", done="{message}"),
    Operation("propose", ProposeParams, "curation.propose_run:run_propose",
              "propose an attribute's value for the untagged images from the tagged ones", unit="step",
              done="Proposed: {message}"),
    Operation("bundle", BundleParams, "curation.deploy.bundle:run_bundle",
              "write a finished run as a bundle: ONNX, int8, model card, out-of-domain gate", unit="step",
              action="export"),
)}
