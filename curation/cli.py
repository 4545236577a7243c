"""`curation`: the same operations as the app, from a terminal (DESIGN.md's public interface).

Every command works on `curation.client.connect(DIR)`: through the server's API when `curation
serve` holds the project, on the project directly otherwise, with the same output and exit codes
either way. The job commands (ingest, gather, detect, embed, clean, map, train) and their options
are drawn from the operations of `curation.jobs.kinds`; this module imports nothing heavy, so a
command answered by a server starts quickly.

Exit status: 0 on success, 2 for a usage error, 1 for a failure with one plain sentence on stderr.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

from . import __version__
from .accounts import ROLES
from .client import ClientError, connect, job_error
from .jobs.kinds import EMBEDDERS, OPERATIONS
from .project import ProjectError, project_at
from .serving import live_server

APP = Path(__file__).resolve().parent.parent / "serve_app.py"
EXPORTS = ("images", "predictions", "embeddings", "suggestions")


class CliError(Exception):
    """A failure to report as one sentence with exit status 1."""


def cmd_init(args) -> None:
    root = Path(args.dir).expanduser().resolve()
    if live_server(root) is None:
        from .store import init_project

        root = init_project(root).project.root
    print(f"Project ready at {root}")


def cmd_job(args) -> None:
    """Any operation: start it, follow it with a progress bar (Ctrl+C cancels), print its outcome."""
    op = OPERATIONS[args.command]
    client = connect(args.dir)
    job = client.run(op.name, **op.from_args(args))
    if job["status"] != "done":
        raise CliError(job_error(job))
    print(op.done.format(message=job["message"]))
    if op.name == "clean":
        counts = client.report()["suggestions"]
        print(f"Open suggestions: {counts['remove']} to remove, {counts['relabel']} to relabel, {counts['merge']} "
              "merges; review them on the Clusters page, or write them out with "
              "`curation export DIR OUT --what suggestions`.")


def cmd_report(args) -> None:
    report = connect(args.dir).report()
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
    client = connect(args.dir)
    fmt = args.format or ("parquet" if args.what == "embeddings" else "csv")
    out = Path(args.out)
    if fmt == "imagefolder":
        if args.what != "images":
            raise CliError("--format imagefolder writes images only: use it with --what images.")
        n = client.imagefolder(out)
        print(f"Wrote {n} images into {out}/<label>/")
        return
    if args.what == "embeddings" and fmt == "csv":
        raise CliError("Embeddings are exported as Parquet: use --format parquet.")
    rows, path = client.export(args.what, out, fmt, run=args.run_id, model=args.model)
    print(f"Wrote {rows} rows to {path}")


def cmd_user_add(args) -> None:
    """Add a user; the password comes from CURATION_PASSWORD (for scripts) or is asked for, unechoed."""
    client = connect(args.dir)
    password = os.environ.get("CURATION_PASSWORD") or getpass.getpass(f"Password for {args.name}: ")
    client.add_user(args.name, args.role, password)
    print(f"Added user {args.name} with the role {args.role}.")
    if not client.team_mode():
        print(f"Team mode is off, so nobody signs in yet: turn it on with `curation team {args.dir} on`.")


def cmd_team(args) -> None:
    connect(args.dir).set_team(args.state == "on")
    print("Team mode is on: everyone signs in to use the app." if args.state == "on"
          else "Team mode is off: the app asks for no sign-in.")


def cmd_token_add(args) -> None:
    token = connect(args.dir).create_token(args.name, args.note or "")
    print(token)
    print(f"An API token for {args.name}; it is shown only now. Clients send it as `Authorization: Bearer "
          "<token>` (or CURATION_TOKEN for `curation.client.connect(URL)`).", file=sys.stderr)


def cmd_check(args) -> None:
    """Check (with --repair: repair) the project's files; a served project is checked by its server's job."""
    from .check import CheckReport

    report = connect(args.dir, settle_jobs=False).check(repair=args.repair)
    print(json.dumps(report, default=str) if args.json else "\n".join(CheckReport.from_json(report).lines()))
    if report["remaining"]:
        hint = "" if args.repair else f"; `curation check {args.dir} --repair` rebuilds what can be rebuilt"
        raise CliError(f"{report['remaining']} problem{'s' * (report['remaining'] != 1)} found in the project{hint}.")


def cmd_backup(args) -> None:
    """Back the project up; a served project is backed up by its server, which holds the database."""
    print(connect(args.dir).backup(args.out) + ".")


def cmd_restore(args) -> None:
    from .backup import restore_project
    from .store import open_store

    summary = restore_project(args.backup, args.dir)
    open_store(summary.path).close()
    print(summary.line("Restored") + f"; check it with `curation check {summary.path}`.")


def cmd_deploy(args) -> None:
    from .deploy.server import serve

    serve(Path(args.out), host=args.host, port=args.port, variant=args.variant, feedback=args.feedback,
          max_body=args.max_body_mb * 1024 * 1024, concurrency=args.concurrency)


def cmd_serve(args) -> None:
    project = project_at(args.dir)
    running = live_server(project.root)
    if running is not None:
        raise CliError(f"The project at {project.root} is already served by process {running.pid} on "
                       f"{running.url}: use that server, or stop it first.")
    from .store import open_store

    open_store(project.root).close()
    if not APP.is_file():
        raise CliError(f"The app's entry file {APP} is missing: install Curation Studio from its source folder.")
    env = dict(os.environ, CURATION_PROJECT=str(project.root))
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless=true",
               f"--server.port={args.port}", f"--server.address={args.host}", "--browser.gatherUsageStats=false",
               "--server.fileWatcherType=none"]
    print(f"Serving {project.root} on http://{args.host}:{args.port} (API: /api/v1/, "
          f"schema at /api/v1/openapi.json)", flush=True)
    os.chdir(APP.parent)
    os.execve(sys.executable, command, env)


def embedder_name(value: str) -> str:
    if value not in EMBEDDERS:
        raise argparse.ArgumentTypeError(f"no embedder is called '{value}'; choose one of {', '.join(EMBEDDERS)}")
    return value


#: Job kinds whose command is written out below (its output is not the job's message).
PLAIN_COMMANDS = ("check",)


def add_job_commands(sub) -> None:
    for op in OPERATIONS.values():
        if op.name in PLAIN_COMMANDS:
            continue
        p = sub.add_parser(op.name, help=op.summary, description=op.summary)
        p.add_argument("dir")
        op.add_arguments(p)
        p.set_defaults(run=cmd_job)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="curation", description="Curation Studio from a terminal.")
    parser.add_argument("--version", action="version", version=f"curation {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="create a project folder")
    p.add_argument("dir")
    p.set_defaults(run=cmd_init)

    add_job_commands(sub)

    p = sub.add_parser("report", help="figures about the project")
    p.add_argument("dir")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(run=cmd_report)

    p = sub.add_parser("export", help="write the dataset out")
    p.add_argument("dir")
    p.add_argument("out")
    p.add_argument("--what", choices=EXPORTS, required=True)
    p.add_argument("--format", choices=["csv", "parquet", "imagefolder"], default=None,
                   help="default: parquet for embeddings, csv otherwise")
    p.add_argument("--run", dest="run_id", type=int, default=None, help="with --what predictions: one run (default: every run)")
    p.add_argument("--model", type=embedder_name, default=None,
                   help="with --what embeddings: one model (default: all); with --what suggestions: the latest "
                        "cleaning with this model (default: the latest cleaning of each label)")
    p.set_defaults(run=cmd_export)

    p = sub.add_parser("user", help="manage the project's users (for team mode)")
    user_sub = p.add_subparsers(dest="user_command", required=True)
    p = user_sub.add_parser("add", help="add a user; the password is asked for, or read from CURATION_PASSWORD")
    p.add_argument("dir")
    p.add_argument("name")
    p.add_argument("--role", choices=list(ROLES), required=True)
    p.set_defaults(run=cmd_user_add)

    p = sub.add_parser("token", help="API tokens of users (for team mode)")
    token_sub = p.add_subparsers(dest="token_command", required=True)
    p = token_sub.add_parser("add", help="create an API token for a user and print it (shown once)")
    p.add_argument("dir")
    p.add_argument("name")
    p.add_argument("--note", default=None, help="what the token is for")
    p.set_defaults(run=cmd_token_add)

    p = sub.add_parser("team", help="turn team mode (sign-in and roles in the app) on or off")
    p.add_argument("dir")
    p.add_argument("state", choices=["on", "off"])
    p.set_defaults(run=cmd_team)

    p = sub.add_parser("check", help="verify every file of the project against its database; --repair rebuilds")
    p.add_argument("dir")
    p.add_argument("--repair", action="store_true",
                   help="rebuild thumbnails and chips, record lost originals as failed (undoable); deletes nothing")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(run=cmd_check)

    p = sub.add_parser("backup", help="copy the project (database and files) into a new folder")
    p.add_argument("dir")
    p.add_argument("out")
    p.set_defaults(run=cmd_backup)

    p = sub.add_parser("restore", help="restore a backup as a project in a new folder")
    p.add_argument("backup")
    p.add_argument("dir")
    p.set_defaults(run=cmd_restore)

    p = sub.add_parser("serve", help="run the app and the project's API on this project")
    p.add_argument("dir")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--host", "--address", dest="host", default="127.0.0.1",
                   help="the address to listen on (default 127.0.0.1: this machine only)")
    p.set_defaults(run=cmd_serve)
    p = sub.add_parser("deploy", help="serve a bundle over HTTP (no project needed)")
    p.add_argument("out", help="the bundle folder")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--variant", choices=["fp32", "int8"], default="fp32")
    p.add_argument("--feedback", default=None,
                   help="where out-of-domain and low-confidence inputs are logged (default: OUT/feedback)")
    p.add_argument("--max-body-mb", type=int, default=20, help="largest request body accepted (default 20 MB)")
    p.add_argument("--concurrency", type=int, default=4, help="predictions run at once; more wait (default 4)")
    p.set_defaults(run=cmd_deploy)
    return parser


def expected_errors() -> tuple[type[BaseException], ...]:
    """The failures that end a command with their sentence (imported only once one happened)."""
    from .jobs import JobError
    from .store import AccountError, EditError

    return (CliError, ClientError, ProjectError, EditError, AccountError, JobError, ValueError, FileNotFoundError,
            NotADirectoryError, PermissionError)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except Exception as exc:
        if not isinstance(exc, expected_errors()):
            raise
        print(f"curation {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
