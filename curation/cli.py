"""`curation`: the same operations as the app, from a terminal (DESIGN.md's public interface).

Exit status: 0 on success, 2 for a usage error, 1 for a failure with one plain sentence on stderr.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import sys
import time
from pathlib import Path

from tqdm import tqdm

from . import __version__
from .accounts import ROLES
from .gather import PROVIDERS, GatherError, GatherRequest, GuardConfigError, ProviderError, QuerySpec, check_request
from .ingest import ingest
from .jobs import JobError, start_job
from .project import ProjectError, project_at
from .store import AccountError, EditError, init_project, open_store

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


EXPORTS = {
    "images": lambda store, args: store.export_images(),
    "predictions": lambda store, args: store.export_predictions(args.run_id),
    "embeddings": lambda store, args: store.export_embeddings(args.model),
    "suggestions": lambda store, args: store.export_suggestions(args.model),
}


def cmd_export(args) -> None:
    store = open_store(args.dir)
    args.format = args.format or ("parquet" if args.what == "embeddings" else "csv")
    out = Path(args.out)
    if args.format == "imagefolder":
        if args.what != "images":
            raise CliError("--format imagefolder writes images only: use it with --what images.")
        n = export_imagefolder(store, out)
        print(f"Wrote {n} images into {out}/<label>/")
        return
    if args.what == "embeddings" and args.format == "csv":
        raise CliError("Embeddings are exported as Parquet: use --format parquet.")
    df = EXPORTS[args.what](store, args)
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
    rows = store.labelled_originals()
    for sha, ext, label in rows:
        target = out / label / f"{sha}.{ext}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(store.project.original_path(sha, ext), target)
    return len(rows)


def cmd_train(args) -> None:
    from .train.fit import TrainParams
    from .train.job import train_job  # noqa: F401  (registers the "train" job kind)

    store = open_store(args.dir)
    params = TrainParams(arch=args.arch, epochs=args.epochs, image_size=args.image_size, seed=args.seed,
                         device=args.device, embedder=args.model if args.arch == "linear" else None)
    print(run_cli_job(store, "train", {**params.as_dict(), "actor": "cli"}, "epoch"))


def follow_job(store, job_id: int, unit: str):
    """Show a job's progress on stderr until it ends; Ctrl+C cancels it. Returns the ended job."""
    bar = tqdm(total=0, unit=unit, disable=None, file=sys.stderr)
    try:
        while (job := store.job(job_id)).active:
            bar.total, bar.n = job.total or 0, job.done
            bar.set_description_str(job.message or "", refresh=True)
            time.sleep(0.5)
    except KeyboardInterrupt:
        store.request_cancel(job_id, "cli")
        while (job := store.job(job_id)).active:
            time.sleep(0.5)
    bar.close()
    return job


def embedder_name(value: str) -> str:
    """argparse type of --model: a registered embedder (imports the models only when given)."""
    from .embed import EMBEDDERS

    if value not in EMBEDDERS:
        raise argparse.ArgumentTypeError(f"no embedder is called '{value}'; choose one of {', '.join(EMBEDDERS)}")
    return value


def run_cli_job(store, kind: str, params: dict, unit: str) -> str:
    """Run a job of `kind` here, its progress on stderr (Ctrl+C cancels it); its message.

    A job that did not finish (failed, or cancelled) is a failure of the command: exit status 1
    with the job's own sentence.
    """
    store.fail_orphaned_jobs()
    job = follow_job(store, start_job(store, kind, params, "cli"), unit)
    if job.status != "done":
        raise CliError((job.error or "").split(": ", 1)[-1] or job.message or f"The {kind} job ended as {job.status}.")
    return job.message


def cmd_detect(args) -> None:
    from .faces.run import detect_job  # noqa: F401  (registers the "detect" job kind)

    store = open_store(args.dir)
    params = {"device": args.device, "batch_size": args.batch_size}
    print(f"Faces: {run_cli_job(store, 'detect', params, 'image')}.")


def cmd_embed(args) -> None:
    from .embed.run import embed_job  # noqa: F401  (registers the "embed" job kind)

    store = open_store(args.dir)
    params = {"model": args.model, "device": args.device, "batch_size": args.batch_size, "weights": args.weights}
    print(f"Embeddings: {run_cli_job(store, 'embed', params, 'crop')}.")


def cmd_clean(args) -> None:
    from .clean.run import clean_job  # noqa: F401  (registers the "clean" job kind)

    store = open_store(args.dir)
    params = {"model": args.model, "label": args.label, "actor": "cli"}
    print(f"Cleaning: {run_cli_job(store, 'clean', params, 'step')}.")
    counts = store.open_suggestion_counts()
    print(f"Open suggestions: {counts['remove']} to remove, {counts['relabel']} to relabel, {counts['merge']} merges; "
          "review them on the Clusters page, or write them out with `curation export DIR OUT --what suggestions`.")


def cmd_gather(args) -> None:
    store = open_store(args.dir)
    request = GatherRequest(args.provider, (QuerySpec(args.label.strip(), args.query.strip()),), args.max)
    try:
        check_request(request)
    except (ProviderError, GatherError, GuardConfigError) as exc:
        raise CliError(str(exc)) from None
    message = run_cli_job(store, "gather", request.params(), "hit")
    if search_error := store.gather_progress(store.jobs("gather", limit=1)[0].id)[0].error:
        raise CliError(search_error)
    print(f"Gathered: {message}.")


def cmd_user_add(args) -> None:
    """Add a user; the password comes from CURATION_PASSWORD (for scripts) or is asked for, unechoed."""
    store = open_store(args.dir)
    password = os.environ.get("CURATION_PASSWORD") or getpass.getpass(f"Password for {args.name}: ")
    store.add_user(args.name, args.role, password, "cli")
    print(f"Added user {args.name} with the role {args.role}.")
    if not store.team_mode():
        print(f"Team mode is off, so nobody signs in yet: turn it on with `curation team {args.dir} on`.")


def cmd_team(args) -> None:
    open_store(args.dir).set_team_mode(args.state == "on", "cli")
    print("Team mode is on: everyone signs in to use the app." if args.state == "on"
          else "Team mode is off: the app asks for no sign-in.")


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
    p.add_argument("--what", choices=list(EXPORTS), required=True)
    p.add_argument("--format", choices=["csv", "parquet", "imagefolder"], default=None,
                   help="default: parquet for embeddings, csv otherwise")
    p.add_argument("--run", dest="run_id", type=int, default=None, help="with --what predictions: one run (default: every run)")
    p.add_argument("--model", type=embedder_name, default=None,
                   help="with --what embeddings: one model (default: all); with --what suggestions: the latest "
                        "cleaning with this model (default: the latest cleaning of each label)")
    p.set_defaults(run=cmd_export)

    p = sub.add_parser("detect", help="find every face in every usable image, with aligned chips")
    p.add_argument("dir")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--batch-size", type=int, default=16, help="images per batch (default 16)")
    p.set_defaults(run=cmd_detect)

    p = sub.add_parser("embed", help="compute the missing embeddings of a model")
    p.add_argument("dir")
    p.add_argument("--model", type=embedder_name, default="dlib-resnet34",
                   help="dlib-resnet34 (default, offline), facenet-vggface2, facenet-casia, resnet34-imagenet, or hog (whole images, offline)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--batch-size", type=int, default=64, help="crops per batch (default 64)")
    p.add_argument("--weights", default=None, help="the model's weights file, if not in torch's cache")
    p.set_defaults(run=cmd_embed)

    p = sub.add_parser("clean", help="suggest which faces of each identity to keep, remove or relabel")
    p.add_argument("dir")
    p.add_argument("--label", default=None, help="one identity (default: every label)")
    p.add_argument("--model", type=embedder_name, default="dlib-resnet34", help="the embeddings to judge by")
    p.set_defaults(run=cmd_clean)

    p = sub.add_parser("train", help="train a model on the labelled, unflagged images")
    p.add_argument("dir")
    p.add_argument("--arch", choices=["linear", "resnet34"], default="resnet34",
                   help="linear: a logistic head on stored embeddings (seconds); resnet34: fine-tune on the images")
    p.add_argument("--model", default="dlib-resnet34", help="with --arch linear: the embeddings to train on")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0, help="seed of the train/validation split and of training")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("gather", help="search the web for images and download them")
    p.add_argument("dir")
    p.add_argument("--provider", choices=list(PROVIDERS), required=True)
    p.add_argument("--query", required=True, help="the search text")
    p.add_argument("--label", required=True, help="the label the images get")
    p.add_argument("--max", type=int, default=50, help="images to download for the query (default 50)")
    p.set_defaults(run=cmd_gather)

    p = sub.add_parser("user", help="manage the project's users (for team mode)")
    user_sub = p.add_subparsers(dest="user_command", required=True)
    p = user_sub.add_parser("add", help="add a user; the password is asked for, or read from CURATION_PASSWORD")
    p.add_argument("dir")
    p.add_argument("name")
    p.add_argument("--role", choices=list(ROLES), required=True)
    p.set_defaults(run=cmd_user_add)

    p = sub.add_parser("team", help="turn team mode (sign-in and roles in the app) on or off")
    p.add_argument("dir")
    p.add_argument("state", choices=["on", "off"])
    p.set_defaults(run=cmd_team)

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
    except (CliError, ProjectError, EditError, AccountError, JobError, FileNotFoundError, NotADirectoryError,
            PermissionError) as exc:
        print(f"curation {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
