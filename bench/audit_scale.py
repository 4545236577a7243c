"""The Audit page's data at scale: rows `Store.audit_frame` hands to pandas, its seconds, and the page's.

On a copy of bench/scale.py's project (1.2M image rows; never the original: this writes to it), the
first time: two attributes (perceived_gender, age_group) and tags on `--tagged` of the images, each
tag an event as `Store.tag_images` stores it, and bench/scale.py's training run (predictions, 20%
of them on the validation split). Then times `audit_frame` with no run and with the run, `--repeat`
times each, and the Audit page's script under Streamlit's AppTest: its first run, a rerun (the
audit is kept per revision of the project's data), and a rerun after a write (an empty transaction:
a new revision, so the audit is computed again, without the first run's imports). `--profile N`
prints each run's N costliest calls (cProfile of the script's thread).

Issue 15: every page under 1.5 s at 1.2M rows; `audit_frame` took 9.5-10.6 s there when it
returned a row per image. Run it against another checkout's code with PYTHONPATH to compare:

    cp -r /tmp/curation-bench-scale-1200000 /tmp/audit-scale
    PYTHONPATH=$PWD python bench/audit_scale.py /tmp/audit-scale
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import os
import pstats
import time
from pathlib import Path

import curation
from curation.store import open_store

ROOT = Path(__file__).resolve().parents[1]
ATTRIBUTES = {"perceived_gender": ["female", "male", "unsure"], "age_group": ["0-17", "18-29", "30-44", "45-64", "65+"]}
TAG_SQL = """
    CREATE OR REPLACE TEMP TABLE bench_tags AS
    SELECT i.id AS image_id, a.name, a.allowed[(hash(i.id, a.name) % len(a.allowed))::BIGINT + 1] AS value
    FROM images i CROSS JOIN attributes a
    WHERE hash(i.id, 'tagged', a.name) % 1000 < $per_mille;
    INSERT INTO image_attributes SELECT image_id, name, value FROM bench_tags;
    INSERT INTO events
    SELECT (SELECT coalesce(max(id), 0) FROM events) + row_number() OVER (ORDER BY image_id, name),
           TIMESTAMP '2024-06-01', 'bench', 'tag', image_id,
           json_object('name', name, 'value', NULL), json_object('name', name, 'value', value), 'bench-tags', NULL
    FROM bench_tags;
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", type=Path, help="a COPY of bench/scale.py's project (tags are added to it)")
    parser.add_argument("--tagged", type=float, default=0.3, help="share of images tagged, per attribute")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-page", action="store_true", help="time audit_frame only")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="print the N costliest calls (cumulative) of each run of the page")
    return parser.parse_args()


def scale_module():
    spec = importlib.util.spec_from_file_location("bench_scale", ROOT / "bench" / "scale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prepare(store, tagged: float) -> None:
    """Attributes, tags and a run, unless the project has them already."""
    if not store.attribute_names():
        for name, allowed in ATTRIBUTES.items():
            store.define_attribute(name, allowed, "bench")
        with store.transaction() as cur:
            cur.execute(TAG_SQL.replace("$per_mille", str(round(tagged * 1000))))
    if not store.runs():
        scale = scale_module()
        with store.transaction() as cur:
            for sql in [scale.BUILD_SQL[0], *scale.RUN_SQL]:  # the first defines the hash macro the run uses
                cur.execute(sql, {"names": scale.NAMES} if "$names" in sql else None)


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def time_frames(store, repeat: int) -> None:
    run_id = store.runs()[0]["id"]
    for label, run in (("no run", None), (f"run {run_id}", run_id)):
        for _ in range(repeat):
            start = time.perf_counter()
            frame = store.audit_frame(run)
            seconds = time.perf_counter() - start
            images = int(frame["n"].sum()) if "n" in frame else len(frame)
            print(f"audit_frame({label}): {len(frame):,} rows for {images:,} images in {seconds:.2f} s; {load()}")


def time_page(store, project: Path, profile: int) -> None:
    from streamlit.testing.v1 import AppTest

    profiles = profiled_script_runs() if profile else []
    os.environ["CURATION_PROJECT"] = str(project)
    at = AppTest.from_file(str(Path(curation.__file__).parents[1] / "app_pages" / "audit.py"), default_timeout=300)
    at.query_params["who"] = "bench"
    for label in ("first run", "rerun", "rerun after a write"):
        if label == "rerun after a write":
            with store.transaction():
                pass
        start = time.perf_counter()
        at.run()
        seconds = time.perf_counter() - start
        trouble = [e.value for e in (*at.exception, *at.error)]
        print(f"Audit page ({label}): {seconds:.2f} s; {load()}" + (f"; ERRORS {trouble}" if trouble else ""))
        if profiles:
            pstats.Stats(profiles[-1]).sort_stats("cumulative").print_stats(profile)


def profiled_script_runs() -> list[cProfile.Profile]:
    """Profile every script run from now on (AppTest runs the script in a thread of its own): one
    profile per run, appended to the list returned."""
    from streamlit.runtime.scriptrunner import script_runner

    profiles: list[cProfile.Profile] = []
    run_script = script_runner.ScriptRunner._run_script

    def profiled(runner, rerun_data):
        profiles.append(cProfile.Profile())
        profiles[-1].enable()
        try:
            return run_script(runner, rerun_data)
        finally:
            profiles[-1].disable()

    script_runner.ScriptRunner._run_script = profiled
    return profiles


def main() -> None:
    args = parse_args()
    print(f"code: {Path(curation.__file__).parents[1]}; {load()}")
    store = open_store(args.project)
    start = time.perf_counter()
    prepare(store, args.tagged)
    tags = store.query("SELECT name, count(*) FROM image_attributes GROUP BY name ORDER BY name")
    print(f"prepared in {time.perf_counter() - start:.1f} s; tags {tags}")
    time_frames(store, args.repeat)
    if not args.no_page:
        time_page(store, args.project, args.profile)


if __name__ == "__main__":
    main()
