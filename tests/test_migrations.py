"""A project made by the first schema of this repository opens today, migrated, its data intact."""

from __future__ import annotations

import duckdb

from curation.check import check_project
from curation.store import ReviewFilter, open_store
from curation.store.schema import MIGRATIONS, SCHEMA_VERSION


def columns(con, catalog: str, table: str) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_catalog = ? AND table_name = ? "
        "ORDER BY ordinal_position", [catalog, table]).fetchall()]


def make_first_schema_project(root) -> dict[str, tuple[str, list[tuple]]]:
    """Rewrite the project's database as the first migration alone would have made it, holding the
    same images, sources, labels, flags, events, jobs and meta; returns each table's columns and rows."""
    current = root / "current.duckdb"
    (root / "project.duckdb").rename(current)
    con = duckdb.connect(str(root / "project.duckdb"))
    con.execute("CREATE TABLE schema_migrations "
                "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)")
    name, sql = MIGRATIONS[0]
    con.execute(sql)
    con.execute("INSERT INTO schema_migrations VALUES (1, ?, now())", [name])
    con.execute(f"ATTACH '{current}' AS current (READ_ONLY)")
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'project' "
        "AND table_name <> 'schema_migrations' ORDER BY 1").fetchall()]
    rows = {}
    for table in tables:
        names = ", ".join(columns(con, "project", table))
        con.execute(f"INSERT INTO project.{table} ({names}) SELECT {names} FROM current.{table}")
        rows[table] = names, sorted(con.execute(f"SELECT {names} FROM project.{table}").fetchall(), key=repr)
    con.close()
    current.unlink()
    return rows


def test_a_first_schema_project_migrates_with_its_data(project_copy):
    store = open_store(project_copy)
    first = [r[0] for r in store.query("SELECT id FROM images WHERE status = 'ok' ORDER BY id LIMIT 2")]
    store.set_label(first, "zzz", "ada")
    store.add_flag(first[:1], "biased", "old note", "ada")
    store.close()
    old = make_first_schema_project(project_copy)
    assert set(old) == {"events", "flags", "images", "jobs", "labels", "meta", "sources"}
    assert len(old["images"][1]) == 340 and len(old["events"][1]) == 3

    store = open_store(project_copy)
    assert store.query("SELECT max(version) FROM schema_migrations")[0][0] == SCHEMA_VERSION
    for table, (names, rows) in old.items():
        assert sorted(store.query(f"SELECT {names} FROM {table}"), key=repr) == rows, table
    assert store.query("SELECT count(*) FROM sources WHERE listed_width IS NOT NULL")[0][0] == 0
    report = store.report()
    assert report["images"]["ok"] == 333 and report["labels"]["zzz"] == 2
    assert store.count_images(ReviewFilter(labels=("zzz",))) == 2
    assert store.undo_last("ada").reverted == 1
    assert check_project(store).problems() == 0
    store.close()
