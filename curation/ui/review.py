"""The Review page's parts: filters, pager, bulk actions, the thumbnail grid, an image's detail.

Selection is the set of ticked boxes on the current page (`sel-<id>` keys). Every edit goes
through the store, which writes the event in the same transaction; messages for the next run
are kept in `flash` so they survive the rerun an action causes.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from pathlib import Path

import streamlit as st

from ..accounts import PermissionDenied
from ..flags import FLAG_KINDS, USER_FLAG_KINDS, flag_title
from ..store import EditError, GridItem, ReviewFilter, Store
from ..store.queues import QUEUES
from ..verify import reason_title
from .face_boxes import with_faces
from .pictures import data_uri, original_picture, show_picture
from .text import md_inline, md_text
from .tile_grid import GridState, plural, tile_grid, zoom_view

PAGE_KEY = "review_page"
PAGES_KEY = "review-pages"
DETAIL_KEY = "detail"
GROUP_KEY = "f_group"
STAY_KEY = "detail-stay"
QUEUE_KEY = "f_queue"
COLUMNS = 6
#: The "no tag" choice in tag selects: no attribute value can be empty, so it never names a real value.
NO_TAG = ""
FLAG_COLOURS = {"label_conflict": "red", "duplicate": "orange", "failed": "red", "wrong_identity": "violet",
                "biased": "blue", "low_quality": "gray", "other": "gray"}


def flash(message: str, kind: str = "success") -> None:
    """A message shown after the rerun a change causes; as text, never markup (it often holds a label)."""
    st.session_state.setdefault("flash", []).append((kind, message))


def show_flash() -> None:
    for kind, message in st.session_state.pop("flash", []):
        getattr(st, kind)(md_inline(message))


def review_filter(store: Store) -> ReviewFilter:
    with st.sidebar:
        st.header("Filters")
        status = st.segmented_control("Status", ["ok", "failed"], default="ok", key="f_status",
                                      format_func={"ok": "Usable", "failed": "Failed"}.get)
        labels = st.multiselect("Label", store.label_names(), key="f_labels")
        unlabelled = st.checkbox("Unlabelled", key="f_unlabelled")
        flag = st.selectbox("Flag", [None, "any", "none", *FLAG_KINDS], key="f_flag",
                            format_func=lambda k: {None: "All images", "any": "Any flag", "none": "No flag"}.get(k, flag_title(k)))
        source = st.text_input("Source contains", key="f_source", placeholder="part of a path or URL")
        duplicates = st.checkbox("In a duplicate group", key="f_dups", help="Exact copies or near duplicates")
        queue = st.selectbox("Work queue", [None, *QUEUES], key=QUEUE_KEY,
                             format_func=lambda q: "None: every image the filters match" if q is None else QUEUES[q].title)
        production = st.checkbox("From production", key="f_production",
                                 help="Inputs the deployed model logged as out of domain or low confidence "
                                      "(`curation ingest DIR FEEDBACK --feedback`); Open shows the model's guess")
        group = st.session_state.get(GROUP_KEY)
        if group is not None:
            st.button(f"Showing near-duplicate group #{group} (clear)", on_click=st.session_state.pop, args=(GROUP_KEY,))
    flt = ReviewFilter(tuple(labels), unlabelled, status, flag, source, duplicates, group, queue, production)
    if st.session_state.get("last_filter") != flt:
        st.session_state["last_filter"] = flt
        st.session_state[PAGE_KEY] = 1
    return flt


def pager(total: int, page_size: int, keys: bool = True) -> int:
    """Page navigation (buttons, the page strip, and the ← / → keys unless a grid takes the arrows);
    returns the 0-based page."""
    pages = max(1, math.ceil(total / page_size))
    st.session_state[PAGES_KEY] = pages
    current = min(max(st.session_state.get(PAGE_KEY, 1), 1), pages)
    prev_col, pages_col, next_col = st.columns([1, 6, 1], vertical_alignment="center")
    prev_col.button("Previous", key="prev-page", shortcut="Left" if keys else None, disabled=current == 1,
                    on_click=_turn_page, args=(-1, pages))
    with pages_col:
        current = st.pagination(pages, default=current, key=f"pages-{pages}-{current}")
    next_col.button("Next", key="next-page", shortcut="Right" if keys else None, disabled=current == pages,
                    on_click=_turn_page, args=(1, pages))
    st.session_state[PAGE_KEY] = current
    return current - 1


def _turn_page(step: int, pages: int) -> None:
    st.session_state[PAGE_KEY] = min(max(st.session_state.get(PAGE_KEY, 1) + step, 1), pages)


def selected(items: list[GridItem]) -> list[int]:
    return [item.id for item in items if st.session_state.get(f"sel-{item.id}")]


def _set_selection(ids: list[int], value: bool) -> None:
    for image_id in ids:
        st.session_state[f"sel-{image_id}"] = value


def _edit(action, *args) -> bool:
    try:
        action(*args)
        return True
    except (EditError, PermissionDenied) as exc:
        flash(str(exc), "error")
        return False


def _apply_label(store: Store, ids: list[int], who: str) -> None:
    label = st.session_state.get("bulk-label")
    chosen = [i for i in ids if st.session_state.get(f"sel-{i}")]
    if not chosen:
        flash("Select images first (tick their boxes, or press A for the whole page).", "warning")
    elif _edit(store.label_as, chosen, label or "", who):
        flash(f"Labelled {len(chosen)} image{'s' * (len(chosen) != 1)} '{label}'.")
        _set_selection(chosen, False)


def _apply_flag(store: Store, ids: list[int], who: str) -> None:
    chosen = [i for i in ids if st.session_state.get(f"sel-{i}")]
    kind, note = st.session_state.get("bulk-flag"), st.session_state.get("bulk-note", "")
    if not chosen:
        flash("Select images first (tick their boxes, or press A for the whole page).", "warning")
    elif _edit(store.add_flag, chosen, kind, note, who):
        flash(f"Flagged {len(chosen)} image{'s' * (len(chosen) != 1)} as {flag_title(kind)}.")
        _set_selection(chosen, False)


def _clear_flags(store: Store, ids: list[int], who: str) -> None:
    chosen = [i for i in ids if st.session_state.get(f"sel-{i}")]
    if not chosen:
        flash("Select images first.", "warning")
    elif _edit(store.clear_flags, chosen, None, who):
        flash(f"Cleared the flags of {len(chosen)} image{'s' * (len(chosen) != 1)}.")
        _set_selection(chosen, False)


def undo(store: Store, who: str) -> None:
    result = store.undo_last(who)
    flash(result.line(), "info" if result.action else "warning")


def action_bar(store: Store, items: list[GridItem], who: str) -> None:
    ids = [item.id for item in items]
    count = len(selected(items))
    with st.container(border=True):
        top = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
        top[0].markdown(f"**{count} selected** on this page")
        top[1].button("Select page", key="select-all", shortcut="A", on_click=_set_selection, args=(ids, True))
        top[2].button("Select none", key="select-none", shortcut="N", on_click=_set_selection, args=(ids, False))
        top[3].button("Undo", key="undo", shortcut="Ctrl+Z", icon=":material/undo:", on_click=undo, args=(store, who),
                      help="Undo your last change (all images it touched)")
        label_col, label_btn, flag_col, note_col, flag_btn, clear_btn = st.columns([3, 2, 3, 3, 2, 2], vertical_alignment="bottom")
        label_col.selectbox("Label", store.label_names(), key="bulk-label", accept_new_options=True, index=None,
                            placeholder="Choose or type a new label")
        label_btn.button("Apply label", key="apply-label", shortcut="L", type="primary",
                         on_click=_apply_label, args=(store, ids, who))
        flag_col.selectbox("Flag as", USER_FLAG_KINDS, key="bulk-flag", format_func=flag_title)
        note_col.text_input("Note", key="bulk-note", placeholder="optional")
        flag_btn.button("Flag", key="apply-flag", shortcut="F", on_click=_apply_flag, args=(store, ids, who))
        clear_btn.button("Clear flags", key="clear-flags", shortcut="X", on_click=_clear_flags, args=(store, ids, who))
        attributes = store.attributes()
        if attributes:
            tag_row(store, ids, who, attributes)


def tag_row(store: Store, ids: list[int], who: str, attributes: dict[str, list[str]]) -> None:
    """Attribute, value (or clear) and Apply for the selected images; the value list follows the attribute."""
    name_col, value_col, tag_btn, _ = st.columns([3, 3, 2, 7], vertical_alignment="bottom")
    name = name_col.selectbox("Tag attribute", list(attributes), key="bulk-tag-name")
    value_col.selectbox("Value", [*attributes[name], NO_TAG], key=f"bulk-tag-value-{name}",
                        format_func=lambda v: v or "clear (no tag)")
    tag_btn.button("Apply tag", key="apply-tag", shortcut="T", on_click=_apply_tag, args=(store, ids, who))


def _apply_tag(store: Store, ids: list[int], who: str) -> None:
    chosen = [i for i in ids if st.session_state.get(f"sel-{i}")]
    name = st.session_state.get("bulk-tag-name")
    value = st.session_state.get(f"bulk-tag-value-{name}") or None
    if not chosen:
        flash("Select images first (tick their boxes, or press A for the whole page).", "warning")
    elif _edit(store.tag_images, chosen, name, value, who):
        images = f"{len(chosen)} image{'s' * (len(chosen) != 1)}"
        flash(f"Cleared {name} on {images}." if value is None else f"Tagged {images} {name}: {value}.")
        _set_selection(chosen, False)


def badges(item: GridItem) -> str:
    parts = [f":{FLAG_COLOURS.get(kind, 'gray')}-badge[{md_text(flag_title(kind))}]" for kind in item.flags]
    if item.sources > 1:
        parts.append(f":blue-badge[{item.sources} copies]")
    return " ".join(parts)


def grid(store: Store, items: list[GridItem], notes: dict[int, str] | None = None) -> None:
    """Thumbnails with selection boxes; `notes` adds a line under chosen images (e.g. a model's guess)."""
    for start in range(0, len(items), COLUMNS):
        for column, item in zip(st.columns(COLUMNS), items[start:start + COLUMNS]):
            with column:
                cell(store, item, (notes or {}).get(item.id))


def cell(store: Store, item: GridItem, note: str | None = None) -> None:
    with st.container(border=True):
        if item.status == "ok":
            show_picture(store, store.project.thumb_path(item.sha256), alt=f"#{item.id}")
        else:
            st.markdown(f":material/broken_image: **{md_text(reason_title(item.reason))}**")
        st.markdown(f"**{md_text(item.label or 'unlabelled')}** · #{item.id}  \n{badges(item)}")
        if note:
            st.caption(note)
        st.checkbox("Select", key=f"sel-{item.id}")
        st.button("Open", key=f"open-{item.id}", on_click=st.session_state.__setitem__, args=(DETAIL_KEY, item.id),
                  width="stretch")


def _go(store: Store, flt: ReviewFilter, image_id: int, step: int) -> None:
    other = store.neighbour_id(flt, image_id, step)
    if other is not None:
        st.session_state[DETAIL_KEY] = other


def _close_detail(store: Store, flt: ReviewFilter, image_id: int, page_size: int) -> None:
    st.session_state.pop(DETAIL_KEY, None)
    st.session_state[PAGE_KEY] = store.position_of(flt, image_id) // page_size + 1


def _quick_label(store: Store, flt: ReviewFilter, image_id: int, label: str, who: str) -> None:
    """Label the image and, unless the annotator chose to stay, move on to the next one."""
    if _edit(store.label_as, [image_id], label, who):
        flash(f"Labelled #{image_id} '{label}'.")
        if not st.session_state.get(STAY_KEY):
            _go(store, flt, image_id, 1)


def _quick_flag(store: Store, image_id: int, who: str) -> None:
    kind, note = st.session_state.get("detail-flag"), st.session_state.get("detail-note", "")
    if _edit(store.add_flag, [image_id], kind, note, who):
        flash(f"Flagged #{image_id} as {flag_title(kind)}.")


def _clear_one(store: Store, image_id: int, kind: str, who: str) -> None:
    if _edit(store.clear_flags, [image_id], kind, who):
        flash(f"Cleared '{flag_title(kind)}' on #{image_id}.")


def _show_group(group: int) -> None:
    st.session_state[GROUP_KEY] = group
    st.session_state.pop(DETAIL_KEY, None)


def detail_view(store: Store, flt: ReviewFilter, image_id: int, who: str, page_size: int) -> None:
    image = store.image(image_id)
    if image is None:
        st.session_state.pop(DETAIL_KEY, None)
        st.rerun()
    if image_id in store.blind_ids([image_id]):
        image = {**image, "label": store.own_blind_labels([image_id], who).get(image_id), "blind": True}
    nav = st.columns([2, 1, 1, 2, 3], vertical_alignment="center")
    nav[0].button("Back to grid", key="back", shortcut="B", icon=":material/grid_view:",
                  on_click=_close_detail, args=(store, flt, image_id, page_size))
    nav[1].button("Previous", key="prev-image", shortcut="Left", on_click=_go, args=(store, flt, image_id, -1))
    nav[2].button("Next", key="next-image", shortcut="Right", on_click=_go, args=(store, flt, image_id, 1))
    nav[3].toggle("Stay after labelling", key=STAY_KEY, help="Off: a label key labels the image and moves to the next")
    nav[4].caption("Keys: ← → move, 1-9 label (and next), F flag, Ctrl+Z undo, B back to the grid; "
                   "on the picture: wheel or + / - zoom, drag pans, 0 fits")
    picture, facts = st.columns([3, 2])
    with picture:
        _picture(store, image)
    with facts:
        _labelling(store, flt, image, who)
        _tagging(store, image_id, who)
        _metadata(image)
    prefetch_next(store, flt, image_id)
    if image.get("blind"):
        st.caption("Sources and history are hidden while this image is labelled blind: they would show "
                   "other annotators' labels.")
        return
    if not st.toggle("Show sources and history", key="detail-more",
                     help="Off keeps moving from image to image quick; the choice stays for the next images."):
        return
    st.subheader("Sources")
    st.dataframe(store.image_sources(image_id), hide_index=True, width="stretch")
    st.subheader("History")
    history = store.image_history(image_id)
    if history.empty:
        st.caption("No change has been made to this image yet.")
    else:
        st.dataframe(history, hide_index=True, width="stretch")


def _picture(store: Store, image: dict) -> None:
    shown = image["label"] or ("not labelled by you" if image.get("blind") else "unlabelled")
    st.markdown(f"### #{image['id']} · {md_text(shown)}" + (" · blind" if image.get("blind") else ""))
    if image["status"] != "ok":
        st.error(md_text(f"{reason_title(image['reason'])}: {image['detail']}"))
        return
    path = store.project.original_path(image["sha256"], image["ext"])
    picture, problem = display_picture(path, image["sha256"])
    if problem is not None:
        show_picture(store, picture, alt=problem.title("Original"))
        st.warning(f"{md_text(problem.sentence('original'))} Run `curation check` on the project to see every such "
                   "file.")
        return
    picture, faces_line = with_faces(store, image, picture)
    zoom_view(data_uri(picture), f"#{image['id']}")
    st.caption(faces_line)


def display_picture(path, sha256: str):
    """The original as the detail view shows it (at most 1024 px), or a placeholder and the problem
    (missing, unreadable, altered); a readable one is kept for the next look."""
    try:
        mtime_ns = os.stat(path).st_mtime_ns
    except OSError:
        return original_picture(Path(path), sha256, max_side=1024)
    return _display_picture(os.fspath(path), sha256, mtime_ns)


@functools.lru_cache(maxsize=16)
def _display_picture(path: str, sha256: str, mtime_ns: int):
    return original_picture(Path(path), sha256, max_side=1024)


def prefetch_next(store: Store, flt: ReviewFilter, image_id: int, count: int = 2) -> None:
    """Prepare the next images' pictures in the background while the annotator looks at this one."""
    def work():
        current = image_id
        for _ in range(count):
            current = store.neighbour_id(flt, current, 1)
            if current is None:
                return
            image = store.image(current)
            if image and image["status"] == "ok":
                display_picture(store.project.original_path(image["sha256"], image["ext"]), image["sha256"])
    threading.Thread(target=work, name="prefetch-next", daemon=True).start()


def _labelling(store: Store, flt: ReviewFilter, image: dict, who: str) -> None:
    image_id = image["id"]
    st.markdown("**Label** (keys 1-9)")
    labels = store.label_names()
    row = st.container(horizontal=True)
    for n, label in enumerate(labels[:9], start=1):
        row.button(f"{n} · {md_text(label)}", key=f"quick-{n}", shortcut=str(n),
                   type="primary" if label == image["label"] else "secondary",
                   on_click=_quick_label, args=(store, flt, image_id, label, who))
    flags = store.image_flags(image_id)
    st.markdown("**Flags**")
    if flags.empty:
        st.caption("No flag.")
    for flag in flags.itertuples():
        text, button = st.columns([4, 1], vertical_alignment="center")
        text.markdown(f":{FLAG_COLOURS.get(flag.kind, 'gray')}-badge[{md_text(flag_title(flag.kind))}] "
                      f"{md_text(flag.note or '')} — {md_text(flag.created_by)}")
        button.button("Clear", key=f"clear-{flag.id}", on_click=_clear_one, args=(store, image_id, flag.kind, who))
    kind_col, note_col, flag_col = st.columns([3, 3, 2], vertical_alignment="bottom")
    kind_col.selectbox("Flag as", USER_FLAG_KINDS, key="detail-flag", format_func=flag_title)
    note_col.text_input("Note", key="detail-note", placeholder="optional")
    flag_col.button("Flag", key="detail-flag-btn", shortcut="F", on_click=_quick_flag, args=(store, image_id, who))
    st.button("Undo my last change", key="detail-undo", shortcut="Ctrl+Z", icon=":material/undo:",
              on_click=undo, args=(store, who))


def _tagging(store: Store, image_id: int, who: str) -> None:
    """The image's tag for each attribute, as a select that tags it when changed.

    A select's key holds the tag it was drawn with, so after an undo or another session's edit the
    select is drawn afresh showing the stored tag rather than its stale widget state.
    """
    attributes = store.attributes()
    if not attributes:
        return
    tags = store.image_tags(image_id)
    st.markdown("**Tags**")
    columns = st.columns(min(len(attributes), 3))
    for n, (name, allowed) in enumerate(attributes.items()):
        current = tags.get(name, NO_TAG)
        options = [NO_TAG, *allowed, *([current] if current not in [NO_TAG, *allowed] else [])]
        key = f"tag-{image_id}-{name}-{current}"
        columns[n % len(columns)].selectbox(md_text(name), options, index=options.index(current), key=key,
                                            format_func=lambda v: v or "not tagged",
                                            on_change=_tag_one, args=(store, image_id, name, key, who))


def _tag_one(store: Store, image_id: int, name: str, key: str, who: str) -> None:
    value = st.session_state.get(key) or None
    if _edit(store.tag_images, [image_id], name, value, who):
        flash(f"Cleared {name} on #{image_id}." if value is None else f"Tagged #{image_id} {name}: {value}.")


def _metadata(image: dict) -> None:
    st.markdown("**File**")
    facts = {
        "sha256": image["sha256"], "format": image["format"], "size": f"{image['width']} x {image['height']}"
        if image["width"] else "", "colour mode": image["mode"], "frames": image["frames"],
        "normalised": image["normalised"] or "nothing to do", "bytes": image["bytes"],
    }
    st.markdown("  \n".join(f"{name}: {md_text(str(value))}" for name, value in facts.items()))
    group = image["near_group"]
    if group is not None and not (isinstance(group, float) and math.isnan(group)):
        st.button(f"Show its near-duplicate group #{int(group)}", key="show-group",
                  on_click=_show_group, args=(int(group),))


# --- The keyboard-first grid (one component; see tile_grid.py) -------------------------------


def grid_settings(store: Store) -> dict:
    """What F and T apply (flag kind and note; tag attribute and value), in one row above the grid;
    the actions of the grid drawn with them carry them."""
    attributes = store.attributes()
    kind_col, note_col, name_col, value_col = st.columns(4, vertical_alignment="bottom")
    settings = {"flag": kind_col.selectbox("F flags as", USER_FLAG_KINDS, key="bulk-flag", format_func=flag_title),
                "note": note_col.text_input("Flag note", key="bulk-note", placeholder="optional")}
    if attributes:
        name = name_col.selectbox("T tags attribute", list(attributes), key="bulk-tag-name")
        settings["tag_name"] = name
        settings["tag_value"] = value_col.selectbox("Value", [*attributes[name], NO_TAG], key=f"bulk-tag-value-{name}",
                                                    format_func=lambda v: v or "clear (no tag)")
    return settings


def grid_commands(settings: dict, admin: bool = False) -> list[dict]:
    commands = [{"kind": "flag", "key": "F", "shortcut": "F", "text": f"Flag: {flag_title(settings['flag'])}"},
                {"kind": "unflag", "key": "X", "shortcut": "X", "text": "Clear flags"}]
    if admin:
        commands.append({"kind": "gold", "key": "G", "shortcut": "G", "text": "Gold",
                         "title": "Mark the selection gold: its current label becomes the known answer"})
    if settings.get("tag_name"):
        value = settings.get("tag_value") or "clear"
        commands.append({"kind": "tag", "key": "T", "shortcut": "T", "text": f"Tag: {settings['tag_name']} {value}"})
    commands += [{"kind": "undo", "key": "Ctrl+Z", "shortcut": "Control+Z", "text": "Undo"},
                 {"kind": "open", "key": "Enter", "shortcut": "Enter", "text": "Open"}]
    return commands


def _grid_label(store: Store, who: str, action: dict) -> tuple[str, bool]:
    ids, label = action.get("ids") or [], action.get("label") or ""
    if not ids:
        return "Select images first (click, Shift+click, drag, or Ctrl+A).", False
    _, blind = store.label_as(ids, label, who)
    return f"Labelled {plural(len(ids))} '{label.strip()}'" + (f" ({blind} blind)." if blind else "."), True


def _grid_gold(store: Store, who: str, action: dict) -> tuple[str, bool]:
    ids = action.get("ids") or []
    if not ids:
        return "Select images first.", False
    marked = store.mark_gold(ids, who)
    return f"Marked {plural(marked)} gold with their current label (unlabelled ones left out).", True


def _grid_flag(store: Store, who: str, action: dict) -> tuple[str, bool]:
    ids, kind = action.get("ids") or [], action.get("flag") or USER_FLAG_KINDS[0]
    if not ids:
        return "Select images first.", False
    store.add_flag(ids, kind, action.get("note") or "", who)
    return f"Flagged {plural(len(ids))} as {flag_title(kind)}.", True


def _grid_unflag(store: Store, who: str, action: dict) -> tuple[str, bool]:
    ids = action.get("ids") or []
    if not ids:
        return "Select images first.", False
    store.clear_flags(ids, None, who)
    return f"Cleared the flags of {plural(len(ids))}.", True


def _grid_tag(store: Store, who: str, action: dict) -> tuple[str, bool]:
    ids, name, value = action.get("ids") or [], action.get("tag_name"), action.get("tag_value") or None
    if not name:
        return "No attribute to tag: define one on the Audit page first.", False
    if not ids:
        return "Select images first.", False
    store.tag_images(ids, name, value, who)
    return (f"Cleared {name} on {plural(len(ids))}." if value is None
            else f"Tagged {plural(len(ids))} {name}: {value}."), True


def _grid_undo(store: Store, who: str, action: dict) -> tuple[str, bool]:
    return store.undo_last(who).line(), False


def _grid_open(store: Store, who: str, action: dict) -> None:
    ids = action.get("ids") or []
    if ids:
        st.session_state[DETAIL_KEY] = int(ids[0])


def _grid_page(store: Store, who: str, action: dict) -> None:
    _turn_page(1 if action.get("step", 1) > 0 else -1, st.session_state.get(PAGES_KEY, 1))


GRID_HANDLERS = {"label": _grid_label, "flag": _grid_flag, "unflag": _grid_unflag, "tag": _grid_tag,
                 "gold": _grid_gold, "undo": _grid_undo, "open": _grid_open, "page": _grid_page}


def review_grid(store: Store, items: list[GridItem], who: str, page: int, grid: GridState | None = None) -> None:
    """The page's images in the keyboard-first grid, with the settings F and T use above it."""
    settings = grid_settings(store)
    ids = [item.id for item in items]
    grid = grid or GridState(labels=store.label_names())
    grid.commands = grid_commands(settings, is_admin(store, who))
    grid.blind, grid.gold, grid.own = store.blind_ids(ids), store.gold_ids(ids), store.own_blind_labels(ids, who)
    if not grid.predictions:
        grid.predictions = store.latest_predictions(ids)
    tile_grid(store, items, grid, who, GRID_HANDLERS, page=f"{page}:{items[0].id if items else ''}",
              settings=settings)


def is_admin(store: Store, who: str) -> bool:
    try:
        return store.principal(who).role == "admin"
    except PermissionDenied:
        return False


# --- Work queues ------------------------------------------------------------------------------

def time_left(remaining: int, seconds_per_image: float | None) -> str:
    if not remaining:
        return "done"
    if seconds_per_image is None:
        return "pace not known yet"
    minutes = remaining * seconds_per_image / 60
    return f"about {minutes:.0f} min at your pace" if minutes >= 1 else "under a minute at your pace"


def queue_strip(store: Store, who: str) -> None:
    """Each queue with how many images remain and the time left at this annotator's pace; a
    button starts working through it (the sidebar's Work queue leaves it)."""
    counts, pace = store.queue_counts(), store.seconds_per_image(who)
    current = st.session_state.get(QUEUE_KEY)
    with st.container(horizontal=True, key="queues"):
        for name, queue in QUEUES.items():
            st.button(f"**{queue.title}** · {counts[name]} left · {time_left(counts[name], pace)}",
                      key=f"work-{name}", type="primary" if current == name else "secondary",
                      disabled=not counts[name] and current != name, help=queue.help,
                      on_click=_work_on, args=(None if current == name else name,))


def _work_on(name: str | None) -> None:
    st.session_state[QUEUE_KEY] = name
    st.session_state[PAGE_KEY] = 1


# --- Adjudication: the disagreements queue ----------------------------------------------------

def adjudication_view(store: Store, items: list[GridItem], who: str) -> None:
    """Each image whose blind labels differ, with every annotator's label; a reviewer decides."""
    blind = store.blind_labels([item.id for item in items])
    gold = store.gold_labels()
    allowed = _may(store, who, "adjudicate")
    if not allowed:
        st.info("Only a reviewer or an admin settles disagreements; you can see them here.")
    for item in items:
        labels = blind[blind["image_id"] == item.id]
        with st.container(border=True, key=f"dispute-{item.id}"):
            picture, facts, decide = st.columns([1, 2, 3], vertical_alignment="center")
            with picture:
                show_picture(store, store.project.thumb_path(item.sha256), alt=f"#{item.id}")
            facts.markdown(f"**#{item.id}** · label now: **{md_text(item.label or 'none')}**"
                           + (f" · gold: **{md_text(gold[item.id])}**" if item.id in gold else ""))
            facts.markdown("  \n".join(f"{md_text(r.annotator)}: **{md_text(r.label)}**" for r in labels.itertuples()))
            with decide:
                row = st.container(horizontal=True)
                for label in sorted(set(labels["label"])):
                    row.button(f"Decide: {md_text(label)}", key=f"decide-{item.id}-{label}", disabled=not allowed,
                               on_click=_adjudicate, args=(store, item.id, label, who))
                other = row.selectbox("Another label", store.label_names(), key=f"decide-other-{item.id}", index=None,
                                      label_visibility="collapsed", placeholder="another label", disabled=not allowed)
                row.button("Decide", key=f"decide-{item.id}", disabled=not allowed or not other,
                           on_click=_adjudicate, args=(store, item.id, other, who))


def _may(store: Store, who: str, action: str) -> bool:
    try:
        store.require(who, action)
        return True
    except PermissionDenied:
        return False


def _adjudicate(store: Store, image_id: int, label: str, who: str) -> None:
    if _edit(store.adjudicate, image_id, label, who):
        flash(f"Decided #{image_id}: '{label}'. Every blind label stays in the history.")
