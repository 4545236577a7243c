"""A consistent copy of the database while this process holds it (the app, or a command)."""

from __future__ import annotations

from pathlib import Path


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class BackupQueries:
    def copy_database_to(self, target: Path) -> None:
        """Copy every table, index and constraint into a new database file at `target`, as of one
        transaction: writes that other sessions make meanwhile are not half in it."""
        cur = self.cursor()
        try:
            source = cur.execute("SELECT current_database()").fetchall()[0][0]
            cur.execute(f"ATTACH {sql_string(str(target))} AS curation_backup")
            try:
                cur.execute(f'COPY FROM DATABASE "{source}" TO curation_backup')
            finally:
                cur.execute("DETACH curation_backup")
        finally:
            cur.close()

    def table_names(self) -> list[str]:
        return [row[0] for row in self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() "
            "AND table_schema = 'main' ORDER BY 1")]

    def table_rows(self, table: str) -> list[tuple]:
        """Every row of `table` (one of `table_names()`), sorted, to compare two databases."""
        if table not in self.table_names():
            raise ValueError(f"no table {table}")
        return sorted(self.query(f'SELECT * FROM "{table}"'), key=repr)
