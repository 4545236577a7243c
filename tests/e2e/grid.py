"""Driving the Review grid component the way a user does: by its roles, names and keys."""

from __future__ import annotations

import re

from .harness import wait_for_app


def grid(page):
    return page.get_by_role("listbox", name="Images on this page")


def tile(page, image_id: int):
    return grid(page).get_by_role("option", name=re.compile(rf"^#{image_id} "))


def tiles(page):
    return grid(page).get_by_role("option")


def settle(page) -> None:
    """Wait for the round trip an action started: the app's rerun and the grid's acknowledgement."""
    wait_for_app(page)
    page.wait_for_function(
        "() => { const g = [...document.querySelectorAll('*')].map(e => e.shadowRoot).filter(Boolean)"
        ".map(r => r.querySelector('.cg-grid')).find(Boolean); return !g || g.getAttribute('aria-busy') !== 'true'; }")


def select(page, image_ids: list[int]) -> None:
    """Click the first image, Ctrl+click the rest."""
    tile(page, image_ids[0]).click()
    for image_id in image_ids[1:]:
        tile(page, image_id).click(modifiers=["Control"])


def label_by_search(page, label: str, settle_after: bool = True) -> None:
    """Type / and the label's name (new or existing), then Enter: the quick label search."""
    page.keyboard.press("/")
    page.keyboard.type(label)
    page.keyboard.press("Enter")
    if settle_after:
        settle(page)


def selected_ids(page) -> list[int]:
    names = grid(page).locator("[role=option][aria-selected=true]").evaluate_all(
        "els => els.map(e => e.getAttribute('aria-label'))")
    return [int(name.split()[0][1:]) for name in names]
