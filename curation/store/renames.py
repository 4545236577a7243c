"""The migration that brings labels made before the name rule (`curation.names`) under it.

A label that breaks the rule (a path like `../x`, a control or override character, dots alone) is
renamed to `names.repair_name` of it, made unique, through events like any relabel: one
`rename_label` event for the label (no image; before and after name it) and one `label` event per
image it moves, by the actor `RENAMER`. Home's "Recent changes" and each image's history show them,
so the team is told what changed and why.
"""

from __future__ import annotations

import json
import uuid

from ..names import is_usable, repair_name
from .db import next_id

RENAMER = "name-rule"


def rename_unusable_labels(cur, now) -> list[tuple[str, str]]:
    """Rename every stored label that breaks the name rule; the (old, new) pairs, in name order."""
    stored = [row[0] for row in cur.execute(
        "SELECT name FROM labels UNION SELECT label FROM images WHERE label IS NOT NULL ORDER BY 1").fetchall()]
    taken = {name for name in stored if is_usable(name)}
    renames = []
    for old in (name for name in stored if not is_usable(name)):
        new = unique_name(repair_name(old), taken)
        taken.add(new)
        rename_label(cur, old, new, now)
        renames.append((old, new))
    return renames


def unique_name(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        suffix = f" ({n})"
        candidate, n = repair_name(name[:100 - len(suffix)] + suffix), n + 1
    return candidate


def rename_label(cur, old: str, new: str, now) -> None:
    batch = uuid.uuid4().hex[:12]
    event_id = next_id(cur, "events")
    note = {"reason": "The old name broke the name rule (a path, a control or override character, or dots alone)."}
    cur.execute("INSERT INTO events VALUES (?, ?, ?, 'rename_label', NULL, ?, ?, ?, NULL)",
                [event_id, now, RENAMER, json.dumps({"label": old}), json.dumps({"label": new, **note}), batch])
    images = [row[0] for row in cur.execute("SELECT id FROM images WHERE label = ? ORDER BY id", [old]).fetchall()]
    for n, image_id in enumerate(images, start=1):
        cur.execute("INSERT INTO events VALUES (?, ?, ?, 'label', ?, ?, ?, ?, NULL)",
                    [event_id + n, now, RENAMER, image_id, json.dumps({"label": old}), json.dumps({"label": new}),
                     batch])
    cur.execute("UPDATE images SET label = ? WHERE label = ?", [new, old])
    cur.execute("INSERT OR IGNORE INTO labels SELECT ?, created_at FROM labels WHERE name = ?", [new, old])
    cur.execute("INSERT OR IGNORE INTO labels VALUES (?, ?)", [new, now])
    cur.execute("DELETE FROM labels WHERE name = ?", [old])
    cur.execute("UPDATE suggestions SET label = ? WHERE label = ?", [new, old])
    cur.execute("UPDATE suggestions SET target_label = ? WHERE target_label = ?", [new, old])
