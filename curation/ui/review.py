"""The Review page's parts: filters, pager, bulk actions, the thumbnail grid, an image's detail.

Selection is the set of ticked boxes on the current page (`sel-<id>` keys). Every edit goes
through the store, which writes the event in the same transaction; messages for the next run
are kept in `flash` so they survive the rerun an action causes.
"""

from __future__ import annotations

import math

import streamlit as st

from ..accounts import PermissionDenied
from ..flags import FLAG_KINDS, USER_FLAG_KINDS, flag_title
from ..store import EditError, GridItem, ReviewFilter, Store
from ..verify import reason_title
from .face_boxes import with_faces
from .pictures import original_picture, show_picture
from .text import md_inline, md_text

PAGE_KEY = "review_page"
DETAIL_KEY = "detail"
GROUP_KEY = "f_group"
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
        group = st.session_state.get(GROUP_KEY)
        if group is not None:
            st.button(f"Showing near-duplicate group #{group} (clear)", on_click=st.session_state.pop, args=(GROUP_KEY,))
    flt = ReviewFilter(tuple(labels), unlabelled, status, flag, source, duplicates, group)
    if st.session_state.get("last_filter") != flt:
        st.session_state["last_filter"] = flt
        st.session_state[PAGE_KEY] = 1
    return flt


def pager(total: int, page_size: int) -> int:
    """Page navigation (buttons, the page strip, and the ← / → keys); returns the 0-based page."""
    pages = max(1, math.ceil(total / page_size))
    current = min(max(st.session_state.get(PAGE_KEY, 1), 1), pages)
    prev_col, pages_col, next_col = st.columns([1, 6, 1], vertical_alignment="center")
    prev_col.button("Previous", key="prev-page", shortcut="Left", disabled=current == 1,
                    on_click=_turn_page, args=(-1, pages))
    with pages_col:
        current = st.pagination(pages, default=current, key=f"pages-{pages}-{current}")
    next_col.button("Next", key="next-page", shortcut="Right", disabled=current == pages,
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
    elif _edit(store.set_label, chosen, label or "", who):
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


def _quick_label(store: Store, image_id: int, label: str, who: str) -> None:
    if _edit(store.set_label, [image_id], label, who):
        flash(f"Labelled #{image_id} '{label}'.")


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
    nav = st.columns([2, 1, 1, 4], vertical_alignment="center")
    nav[0].button("Back to grid", key="back", shortcut="B", icon=":material/grid_view:",
                  on_click=_close_detail, args=(store, flt, image_id, page_size))
    nav[1].button("Previous", key="prev-image", shortcut="Left", on_click=_go, args=(store, flt, image_id, -1))
    nav[2].button("Next", key="next-image", shortcut="Right", on_click=_go, args=(store, flt, image_id, 1))
    nav[3].caption("Keys: ← → move, 1-9 label, F flag, Ctrl+Z undo, B back to the grid")
    picture, facts = st.columns([3, 2])
    with picture:
        _picture(store, image)
    with facts:
        _labelling(store, image, who)
        _tagging(store, image_id, who)
        _metadata(image)
    st.subheader("Sources")
    st.dataframe(store.image_sources(image_id), hide_index=True, width="stretch")
    st.subheader("History")
    history = store.image_history(image_id)
    if history.empty:
        st.caption("No change has been made to this image yet.")
    else:
        st.dataframe(history, hide_index=True, width="stretch")


def _picture(store: Store, image: dict) -> None:
    st.markdown(f"### #{image['id']} · {md_text(image['label'] or 'unlabelled')}")
    if image["status"] != "ok":
        st.error(md_text(f"{reason_title(image['reason'])}: {image['detail']}"))
        return
    path = store.project.original_path(image["sha256"], image["ext"])
    picture, problem = original_picture(path, image["sha256"], max_side=1024)
    if problem is not None:
        show_picture(store, picture, alt=problem.title("Original"))
        st.warning(f"{md_text(problem.sentence('original'))} Run `curation check` on the project to see every such "
                   "file.")
        return
    picture, faces_line = with_faces(store, image, picture)
    show_picture(store, picture, alt=f"#{image['id']}")
    st.caption(faces_line)


def _labelling(store: Store, image: dict, who: str) -> None:
    image_id = image["id"]
    st.markdown("**Label** (keys 1-9)")
    labels = store.label_names()
    row = st.container(horizontal=True)
    for n, label in enumerate(labels[:9], start=1):
        row.button(f"{n} · {md_text(label)}", key=f"quick-{n}", shortcut=str(n),
                   type="primary" if label == image["label"] else "secondary",
                   on_click=_quick_label, args=(store, image_id, label, who))
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
    st.dataframe({"": list(facts), "value": [str(v) for v in facts.values()]}, hide_index=True, width="stretch")
    group = image["near_group"]
    if group is not None and not (isinstance(group, float) and math.isnan(group)):
        st.button(f"Show its near-duplicate group #{int(group)}", key="show-group",
                  on_click=_show_group, args=(int(group),))
