"""User edits: every change is written with its event in one transaction; undo is the inverse event.

Nothing here deletes a row: a flag is cleared by setting `active = false`, a label is replaced.
One user action on many images shares a `batch` id, and undo reverses the actor's latest batch
that is not yet undone, skipping images that someone changed since (they are reported).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from ..flags import FLAG_KINDS
from ..names import NameRefused, check_name
from .db import EditError, next_id, utcnow

#: "blind_label" is reverted by `agreement.revert_blind_label`, which registers itself in REVERTERS.
EDIT_ACTIONS = ("label", "flag", "unflag", "suggestion", "tag", "blind_label", "file_check")
MAX_NOTE_LENGTH = 2000
UNDO_WORDS = {"suggestion": "a decision on a suggestion", "unflag": "clearing flags", "blind_label": "a blind label",
              "file_check": "a check's record of missing or altered originals"}


@dataclass(frozen=True)
class UndoResult:
    action: str | None
    reverted: int
    skipped: int

    def line(self) -> str:
        if self.action is None:
            return "Nothing to undo."
        what = UNDO_WORDS.get(self.action, self.action)
        text = f"Undid {what} on {self.reverted} image{'s' * (self.reverted != 1)}"
        if self.skipped:
            text += f"; {self.skipped} left as they are because they were changed since"
        return text + "."


def clean_name(value: str | None, what: str) -> str:
    """`value` as a usable name (`names.check_name`), or EditError with the rule's sentence."""
    try:
        return check_name(value, what)
    except NameRefused as exc:
        raise EditError(str(exc)) from None


def clean_note(value: str | None) -> str:
    note = (value or "").strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise EditError(f"A note has at most {MAX_NOTE_LENGTH} characters; this one has {len(note)}.")
    return note


def ids_param(image_ids) -> list[int]:
    """Image ids as plain ints: DuckDB cannot bind numpy integers (ids often come from a DataFrame)."""
    return [int(i) for i in image_ids]


class Events:
    """Appends events inside an open transaction."""

    def __init__(self, cur, actor: str, now):
        self.cur, self.actor, self.now = cur, actor, now
        self.batch = uuid.uuid4().hex[:12]
        self.next = next_id(cur, "events")

    def add(self, action: str, image_id: int, before: dict, after: dict, undoes: int | None = None) -> None:
        self.cur.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [self.next, self.now, self.actor, action, image_id, json.dumps(before), json.dumps(after), self.batch, undoes],
        )
        self.next += 1


class EditQueries:
    def set_label(self, image_ids: list[int], label: str, actor: str) -> int:
        """Label (or relabel) images; returns how many changed. A new label is created on the way."""
        label, actor = clean_name(label, "label"), clean_name(actor, "annotator name")
        self.require(actor, "label")
        with self.transaction() as cur:
            return label_images(cur, Events(cur, actor, utcnow()), image_ids, label)

    def add_flag(self, image_ids: list[int], kind: str, note: str, actor: str) -> int:
        if kind not in FLAG_KINDS:
            raise EditError(f"Unknown flag kind '{kind}'; choose one of {', '.join(FLAG_KINDS)}.")
        actor = clean_name(actor, "annotator name")
        self.require(actor, "flag")
        with self.transaction() as cur:
            return flag_images(cur, Events(cur, actor, utcnow()), image_ids, kind, clean_note(note))

    def clear_flags(self, image_ids: list[int], kind: str | None, actor: str) -> int:
        """Clear the active flags (of one kind, or all) on images; the flags stay, marked inactive."""
        actor = clean_name(actor, "annotator name")
        self.require(actor, "flag")
        with self.transaction() as cur:
            rows = cur.execute(
                "SELECT id, image_id, kind, note FROM flags WHERE active AND image_id IN (SELECT unnest(?)) "
                "AND (? IS NULL OR kind = ?) ORDER BY id",
                [ids_param(image_ids), kind, kind],
            ).fetchall()
            events = Events(cur, actor, utcnow())
            for flag_id, image_id, flag_kind, note in rows:
                cur.execute("UPDATE flags SET active = false WHERE id = ?", [flag_id])
                events.add("unflag", image_id, {"flag_id": flag_id, "kind": flag_kind, "note": note, "active": True},
                           {"flag_id": flag_id, "active": False})
        return len(rows)

    def undo_last(self, actor: str) -> UndoResult:
        actor = clean_name(actor, "annotator name")
        self.require(actor, "undo")
        with self.transaction() as cur:
            batch = last_undoable_batch(cur, actor)
            if batch is None:
                return UndoResult(None, 0, 0)
            rows = cur.execute(
                "SELECT id, action, image_id, before, after FROM events WHERE batch = ? ORDER BY id DESC", [batch]
            ).fetchall()
            events = Events(cur, actor, utcnow())
            outcomes = [(row[2], revert(cur, events, *row)) for row in rows]
        reverted = {image for image, done in outcomes if done}
        skipped = {image for image, done in outcomes if not done} - reverted
        return UndoResult(rows[-1][1], len(reverted), len(skipped))


def label_images(cur, events: Events, image_ids, label: str) -> int:
    """Set `label` on the images that do not have it, an event each; how many changed."""
    cur.execute("INSERT OR IGNORE INTO labels VALUES (?, ?)", [label, events.now])
    rows = cur.execute(
        "SELECT id, label FROM images WHERE id IN (SELECT unnest(?)) AND label IS DISTINCT FROM ? ORDER BY id",
        [ids_param(image_ids), label],
    ).fetchall()
    for image_id, old in rows:
        cur.execute("UPDATE images SET label = ? WHERE id = ?", [label, image_id])
        events.add("label", image_id, {"label": old}, {"label": label})
    return len(rows)


def flag_images(cur, events: Events, image_ids, kind: str, note: str) -> int:
    """Raise a `kind` flag on each of the images, an event each; how many were flagged."""
    ids = [r[0] for r in cur.execute(
        "SELECT id FROM images WHERE id IN (SELECT unnest(?)) ORDER BY id", [ids_param(image_ids)]).fetchall()]
    flag_id = next_id(cur, "flags")
    for image_id in ids:
        cur.execute("INSERT INTO flags VALUES (?, ?, ?, ?, true, ?, ?)", [flag_id, image_id, kind, note, events.actor,
                                                                           events.now])
        events.add("flag", image_id, {}, {"flag_id": flag_id, "kind": kind, "note": note})
        flag_id += 1
    return len(ids)


def last_undoable_batch(cur, actor: str) -> str | None:
    row = cur.execute(
        "SELECT e.batch FROM events e WHERE e.actor = ? AND e.action IN (SELECT unnest(?)) "
        "AND NOT EXISTS (SELECT 1 FROM events u WHERE u.undoes = e.id) ORDER BY e.id DESC LIMIT 1",
        [actor, list(EDIT_ACTIONS)],
    ).fetchall()
    return row[0][0] if row else None


def revert(cur, events: Events, event_id: int, action: str, image_id: int, before: str, after: str) -> bool:
    """Apply the inverse of one event if the image still shows its result; record it as an undo.

    An image changed since is left as it is and that is recorded as `undo_skipped`, so the whole
    batch counts as undone and the actor's next undo goes on to their batch before it.
    """
    before, after = json.loads(before), json.loads(after)
    return REVERTERS[action](cur, events, event_id, image_id, before, after)


def revert_label(cur, events: Events, event_id: int, image_id: int, before: dict, after: dict) -> bool:
    current = cur.execute("SELECT label FROM images WHERE id = ?", [image_id]).fetchall()[0][0]
    if current != after["label"]:
        events.add("undo_skipped", image_id, {"label": current}, {"label": current}, undoes=event_id)
        return False
    cur.execute("UPDATE images SET label = ? WHERE id = ?", [before["label"], image_id])
    events.add("undo", image_id, {"label": current}, {"label": before["label"]}, undoes=event_id)
    return True


def revert_flag(cur, events: Events, event_id: int, image_id: int, before: dict, after: dict) -> bool:
    flag_id = after["flag_id"]
    active = cur.execute("SELECT active FROM flags WHERE id = ?", [flag_id]).fetchall()[0][0]
    wanted_now, restore = (True, False) if "kind" in after else (False, True)
    state = {"flag_id": flag_id, "active": active}
    if active != wanted_now:
        events.add("undo_skipped", image_id, state, state, undoes=event_id)
        return False
    cur.execute("UPDATE flags SET active = ? WHERE id = ?", [restore, flag_id])
    events.add("undo", image_id, state, {"flag_id": flag_id, "active": restore}, undoes=event_id)
    return True


#: What a decision on a suggestion may change (choosing the reading of an ambiguous identity changes
#: the action as well as the status); its undo restores those the event recorded.
SUGGESTION_FIELDS = ("status", "action", "target_label", "score", "match")


def revert_suggestion(cur, events: Events, event_id: int, image_id: int, before: dict, after: dict) -> bool:
    suggestion_id = after["suggestion_id"]
    status = cur.execute("SELECT status FROM suggestions WHERE id = ?", [suggestion_id]).fetchall()[0][0]
    state = {"suggestion_id": suggestion_id, "status": status}
    if status != after["status"]:
        events.add("undo_skipped", image_id, state, state, undoes=event_id)
        return False
    restore = {name: before[name] for name in SUGGESTION_FIELDS if name in before}
    cur.execute(f"UPDATE suggestions SET {', '.join(f'{name} = ?' for name in restore)}, decided_by = NULL, "
                "decided_at = NULL WHERE id = ?", [*restore.values(), suggestion_id])
    events.add("undo", image_id, state, {"suggestion_id": suggestion_id, "status": before["status"]}, undoes=event_id)
    return True


def revert_tag(cur, events: Events, event_id: int, image_id: int, before: dict, after: dict) -> bool:
    row = cur.execute("SELECT value FROM image_attributes WHERE image_id = ? AND name = ?",
                      [image_id, after["name"]]).fetchall()
    current = {"name": after["name"], "value": row[0][0] if row else None}
    if current["value"] != after["value"]:
        events.add("undo_skipped", image_id, current, current, undoes=event_id)
        return False
    cur.execute("INSERT OR REPLACE INTO image_attributes VALUES (?, ?, ?)", [image_id, after["name"], before["value"]])
    events.add("undo", image_id, current, before, undoes=event_id)
    return True


def revert_file_check(cur, events: Events, event_id: int, image_id: int, before: dict, after: dict) -> bool:
    """An image a check recorded as failed for its original goes back to how it was."""
    row = cur.execute("SELECT status, reason, detail FROM images WHERE id = ?", [image_id]).fetchall()[0]
    current = dict(zip(("status", "reason", "detail"), row))
    if (current["status"], current["reason"]) != (after["status"], after["reason"]):
        events.add("undo_skipped", image_id, current, current, undoes=event_id)
        return False
    cur.execute("UPDATE images SET status = ?, reason = ?, detail = ? WHERE id = ?",
                [before["status"], before["reason"], before["detail"], image_id])
    events.add("undo", image_id, current, before, undoes=event_id)
    return True


REVERTERS = {"label": revert_label, "flag": revert_flag, "unflag": revert_flag, "suggestion": revert_suggestion,
             "tag": revert_tag, "file_check": revert_file_check}
