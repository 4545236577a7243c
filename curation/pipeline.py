"""The pipeline at a glance: each step's figures and the next thing to do, from `report()`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    name: str
    value: str
    unit: str
    detail: str


#: Counts from here on show in a tile as three significant digits ("1.19M"): whole, they do not fit.
SHORTEN_FROM = 10_000


def counted(name: str, n: int, unit: str, detail: str) -> Step:
    """A step whose figure is a count; shortened, the exact count goes to the line under it."""
    short = short_count(n)
    return Step(name, short, unit if short == str(n) else f"{n:,} {unit}", detail)


def short_count(n: int) -> str:
    """12,110 -> "12.1k", 121,100 -> "121k", 1,188,432 -> "1.19M": three significant digits; whole below
    SHORTEN_FROM."""
    if n < SHORTEN_FROM:
        return str(n)
    for size, suffix in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if n >= size:
            value = n / size
            text = f"{value:.3g}"
            return f"{text}{suffix}" if float(text) < 1000 else short_count(round(value) * size)
    return str(n)


def steps(report: dict) -> list[Step]:
    images, downloads, flags = report["images"], report["downloads"], report["flags"]
    runs = report["runs"]
    best = max((r["metrics"].get("accuracy", 0) for r in runs if r.get("metrics")), default=None)
    return [
        counted("Gather", downloads["ok"], "downloaded", f"{downloads['failed']:,} failed, {downloads['refused']:,} refused"),
        counted("Verify", images["ok"], "usable images", f"{images['failed']:,} failed files"),
        counted("Review", sum(report["labels"].values()), "labelled",
                f"{report['unlabelled']:,} unlabelled, {sum(flags.values()):,} flags"),
        counted("Clean", sum(report["suggestions"].values()), "suggestions",
                f"{report['duplicates']['near']:,} near duplicates, {flags.get('label_conflict', 0):,} label conflicts"),
        counted("Train", len(runs), "runs",
                f"{report['faces']:,} faces, {sum(report['embeddings'].values()):,} embeddings"),
        Step("Evaluate", "-" if best is None else f"{best:.1%}", "best accuracy", "no run yet" if best is None else ""),
    ]


def next_action(report: dict) -> str:
    """One sentence: the most useful thing to do next with this project."""
    images, flags = report["images"], report["flags"]
    if images["ok"] == 0:
        return ("Add images: ingest a folder laid out one sub-folder per label, "
                "or search the web for them on Gather.")
    if flags.get("label_conflict"):
        return f"Resolve {flags['label_conflict']:,} label conflicts in Review (filter: flag = Label conflict)."
    if report["unlabelled"]:
        return f"Label {report['unlabelled']:,} unlabelled images in Review (filter: unlabelled)."
    if flags.get("duplicate"):
        return f"Check {flags['duplicate']:,} near duplicates in Review (filter: flag = Duplicate)."
    if images["failed"]:
        return f"Look at the {images['failed']:,} failed files and fix or replace them at their source."
    return "The dataset is verified and labelled: export it with `curation export DIR OUT --what images`."
