"""Two annotators label overlap images blind in two browsers, a reviewer settles what differs, and
the Audit page shows the agreement."""

from __future__ import annotations

import json

import pytest

from curation.store import open_store

from .grid import label_by_search, select, tile
from .harness import screenshot, served, wait_for_app

pytestmark = pytest.mark.e2e


def test_blind_labels_in_two_browsers_then_adjudication(project_copy, browser, tmp_path):
    store = open_store(project_copy)
    store.set_overlap_share(1.0, "boss")
    ids = [r[0] for r in store.query("SELECT id FROM images WHERE status = 'ok' ORDER BY id LIMIT 3")]
    folder = dict(store.query("SELECT id, label FROM images WHERE id IN (SELECT unnest(?))", [ids]))
    store.close()
    chosen = {"ann": "star", "bea": "square"}
    contexts = {name: browser.new_context(viewport={"width": 1400, "height": 1000}) for name in chosen}
    try:
        pages = {name: context.new_page() for name, context in contexts.items()}
        with served(project_copy, tmp_path / "serve.log") as url:
            for name, page in pages.items():
                page.goto(f"{url}/review?who={name}")
                wait_for_app(page)
                for image_id in ids:
                    assert tile(page, image_id).get_attribute("aria-label") == \
                        f"#{image_id} blind, not labelled by you", "nobody sees another's label"
                select(page, ids)
                label_by_search(page, chosen[name])
                assert page.get_by_text(f"Labelled 3 images '{chosen[name]}' (3 blind).").is_visible()
            for name, page in pages.items():
                page.reload()
                wait_for_app(page)
                for image_id in ids:
                    assert tile(page, image_id).get_attribute("aria-label") == \
                        f"#{image_id} blind, yours: {chosen[name]}"
            screenshot(pages["bea"], "review-grid-blind")

            reviewer = pages["ann"]
            reviewer.goto(f"{url}/review?who=rev")
            wait_for_app(reviewer)
            reviewer.locator(".st-key-work-disagreements button").first.click()
            wait_for_app(reviewer)
            assert reviewer.locator(f".st-key-dispute-{ids[0]}").get_by_text("bea: square").is_visible()
            screenshot(reviewer, "review-adjudication")
            reviewer.locator(f".st-key-decide-{ids[0]}-star button").click()
            wait_for_app(reviewer)
            assert reviewer.get_by_text(f"Decided #{ids[0]}: 'star'.").is_visible()
            assert reviewer.locator(f".st-key-dispute-{ids[0]}").count() == 0

            reviewer.goto(f"{url}/audit?who=rev")
            wait_for_app(reviewer)
            assert reviewer.get_by_text("Krippendorff's alpha").is_visible()
            screenshot(reviewer, "audit-agreement")
    finally:
        for context in contexts.values():
            context.close()

    store = open_store(project_copy)
    try:
        blind = store.query("SELECT annotator, label FROM blind_labels ORDER BY image_id, annotator")
        labels = dict(store.query("SELECT id, label FROM images WHERE id IN (SELECT unnest(?))", [ids]))
        decided = store.query("SELECT actor, image_id, before FROM events WHERE action = 'adjudicate'")
        actions = store.query("SELECT action, count(*) FROM events GROUP BY action ORDER BY action")
    finally:
        store.close()
    assert blind == [("ann", "star"), ("bea", "square")] * 3, "both blind labels stay"
    assert labels == {ids[0]: "star", ids[1]: folder[ids[1]], ids[2]: folder[ids[2]]}
    assert [(a, i) for a, i, _ in decided] == [("rev", ids[0])]
    assert json.loads(decided[0][2]) == {"blind_labels": {"ann": "star", "bea": "square"}}
    assert dict(actions)["blind_label"] == 6
