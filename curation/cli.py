"""`curation`: the same operations as the app, from a terminal (DESIGN.md's public interface).

Exit status: 0 on success, 2 for a usage error, 1 for a failure with one plain sentence on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from tqdm import tqdm

from . import __version__
from .ingest import ingest
from .project import ProjectError, project_at
from .store import EditError, init_project, open_store

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"


class CliError(Exception):
    """A failure to report as one sentence with exit status 1."""


def cmd_init(args) -> None:
    store = init_project(args.dir)
    print(f"Project ready at {store.project.root}")


def cmd_ingest(args) -> None:
    store = open_store(args.dir)
    bar = tqdm(total=0, unit="file", disable=None, file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    summary = ingest(store, args.paths, labels_from_folders=args.labels_from_folders, progress=progress,
                     workers=args.workers)
    bar.close()
    print(f"Ingested: {summary.line()}.")


def cmd_report(args) -> None:
    report = open_store(args.dir).report()
    if args.json:
        print(json.dumps(report, default=str))
        return
    images = report["images"]
    print(f"Images: {images['ok']} usable, {images['failed']} failed files, {report['unlabelled']} unlabelled")
    for label, n in report["labels"].items():
        print(f"  {label}: {n}")
    for reason, n in report["failed_by_reason"].items():
        print(f"  failed, {reason}: {n}")
    print(f"Duplicates: {report['duplicates']['exact']} exact, {report['duplicates']['near']} near")
    print(f"Flags: {', '.join(f'{k} {n}' for k, n in report['flags'].items()) or 'none'}")
    print(f"Events: {report['events']}")


def cmd_export(args) -> None:
    store = open_store(args.dir)
    df = store.export_images()
    out = Path(args.out)
    if args.format == "imagefolder":
        n = export_imagefolder(store, out)
        print(f"Wrote {n} images into {out}/<label>/")
        return
    if out.is_dir():
        out = out / f"{args.what}.{args.format}"
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.format == "csv":
        df.to_csv(out, index=False)
    else:
        df.to_parquet(out, index=False)
    print(f"Wrote {len(df)} rows to {out}")


def export_imagefolder(store, out: Path) -> int:
    """Usable, labelled images copied as OUT/<label>/<sha256>.<ext>, the layout torchvision reads."""
    rows = store.query("SELECT sha256, ext, label FROM images WHERE status = 'ok' AND label IS NOT NULL ORDER BY id")
    for sha, ext, label in rows:
        target = out / label / f"{sha}.{ext}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(store.project.original_path(sha, ext), target)
    return len(rows)


def cmd_serve(args) -> None:
    project = project_at(args.dir)
    open_store(args.dir).close()
    if not APP.is_file():
        raise CliError(f"The app's entry page {APP} is missing: install Curation Studio from its source folder.")
    env = dict(os.environ, CURATION_PROJECT=str(project.root))
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless=true",
               f"--server.port={args.port}", f"--server.address={args.address}",
               "--browser.gatherUsageStats=false"]
    print(f"Serving {project.root} on http://{args.address}:{args.port}", flush=True)
    os.chdir(APP.parent)
    os.execve(sys.executable, command, env)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="curation", description="Curation Studio from a terminal.")
    parser.add_argument("--version", action="version", version=f"curation {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="create a project folder")
    p.add_argument("dir")
    p.set_defaults(run=cmd_init)

    p = sub.add_parser("ingest", help="verify and add image files or folders")
    p.add_argument("dir")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--labels-from-folders", action="store_true", help="label each image by its folder's name")
    p.add_argument("--workers", type=int, default=None, help="decoding processes (default: one per core)")
    p.set_defaults(run=cmd_ingest)

    p = sub.add_parser("report", help="figures about the project")
    p.add_argument("dir")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(run=cmd_report)

    p = sub.add_parser("export", help="write the dataset out")
    p.add_argument("dir")
    p.add_argument("out")
    p.add_argument("--what", choices=["images"], required=True)
    p.add_argument("--format", choices=["csv", "parquet", "imagefolder"], default="csv")
    p.set_defaults(run=cmd_export)

    p = sub.add_parser("serve", help="run the app on this project")
    p.add_argument("dir")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="127.0.0.1")
    p.set_defaults(run=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (CliError, ProjectError, EditError, FileNotFoundError, NotADirectoryError, PermissionError) as exc:
        print(f"curation {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
