"""Blind labels on overlap images, gold, adjudication, and agreement figures checked by hand."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from curation.accounts import PermissionDenied
from curation.agreement import alpha, pairwise_kappa, per_annotator, per_label
from curation.store import open_store

ANN = "AABBAB"
BEA = "ABBBAA"


def table(**labels: str) -> pd.DataFrame:
    return pd.DataFrame([(n, who, label) for who, text in labels.items() for n, label in enumerate(text)],
                        columns=["image_id", "annotator", "label"])


def test_kappa_and_alpha_against_the_hand_computed_values():
    blind = table(ann=ANN, bea=BEA)
    # observed agreement 4/6; both annotators say A half the time: expected 1/2; kappa (2/3 - 1/2) / (1 - 1/2)
    kappa = pairwise_kappa(blind).iloc[0]
    assert (kappa.a, kappa.b, kappa.images) == ("ann", "bea", 6)
    assert kappa.agreement == pytest.approx(4 / 6) and kappa.kappa == pytest.approx(1 / 3)
    # coincidences: A-A 4, B-B 4, A-B 2, B-A 2 of 12 values; D_o = 4/12, D_e = 2 * 6 * 6 / (12 * 11)
    assert alpha(blind) == pytest.approx(1 - (4 / 12) / (72 / 132))  # 7/18
    labels = per_label(blind).set_index("label")["agreement"]
    assert labels["A"] == pytest.approx(2 * 2 / (2 * 2 + 2)) and labels["B"] == pytest.approx(2 / 3)
    gold = per_annotator(blind, {0: "A", 1: "A"}).set_index("annotator")
    assert gold.loc["ann", "gold_accuracy"] == 1.0 and gold.loc["bea", "gold_accuracy"] == 0.5
    assert gold.loc["ann", "agreement"] == pytest.approx(4 / 6)


def test_alpha_with_three_annotators_and_a_missing_label():
    blind = table(ann="AAB", bea="ABB", cy="AA")  # cy skipped image 2
    # values: img0 A,A,A; img1 A,B,A; img2 B,B. Coincidences (m_u - 1 weights): img0 A-A 6/2=3;
    # img1 A-A 2/2=1, A-B 2/2=1, B-A 1; img2 B-B 2/1=2. n = 8, n_A = 5, n_B = 3
    d_o = 2 / 8
    d_e = 2 * 5 * 3 / (8 * 7)
    assert alpha(blind) == pytest.approx(1 - d_o / d_e)


@pytest.fixture
def store(project_copy):
    s = open_store(project_copy)
    yield s
    s.close()


def test_blind_labels_gold_disagreements_and_adjudication(store):
    ids = [r[0] for r in store.query("SELECT id FROM images WHERE status = 'ok' ORDER BY id LIMIT 6")]
    before = dict(store.query("SELECT id, label FROM images WHERE id IN (SELECT unnest(?))", [ids]))
    assert store.blind_ids(ids) == set()
    store.set_overlap_share(1.0, "boss")
    assert store.blind_ids(ids) == set(ids)
    for who, text in (("ann", ANN), ("bea", BEA)):
        for image_id, label in zip(ids, text):
            assert store.label_as([image_id], label, who) == (0, 1)
    after = dict(store.query("SELECT id, label FROM images WHERE id IN (SELECT unnest(?))", [ids]))
    assert after == before, "a blind label never overwrites the image's label"
    assert store.query("SELECT count(*) FROM events WHERE action = 'blind_label'")[0][0] == 12
    assert store.own_blind_labels(ids, "ann") == dict(zip(ids, ANN))
    assert store.mark_gold(ids[:2], "boss") == 2

    summary = store.report()["agreement"]
    assert summary["kappa"] == [{"a": "ann", "b": "bea", "images": 6, "kappa": pytest.approx(1 / 3, abs=1e-4)}]
    assert summary["alpha"] == pytest.approx(7 / 18, abs=1e-4)
    assert summary["images_with_two_labels"] == 6 and summary["open_disagreements"] == 2
    gold = {image_id: label for image_id, label in zip(ids[:2], [before[i] for i in ids[:2]])}
    assert store.gold_labels() == gold

    with pytest.raises(EditErrorOrDenied):
        store.set_overlap_share(1.5, "boss")
    store.adjudicate(ids[1], "B", "rev")
    assert store.open_disagreements() == 1
    assert store.query("SELECT label FROM images WHERE id = ?", [ids[1]])[0][0] == "B"
    decision = store.query("SELECT before, after FROM events WHERE action = 'adjudicate'")[0]
    assert json.loads(decision[0]) == {"blind_labels": {"ann": "A", "bea": "B"}}
    assert store.query("SELECT count(*) FROM blind_labels WHERE image_id = ?", [ids[1]])[0][0] == 2

    assert store.undo_last("bea").line() == "Undid a blind label on 1 image."
    assert store.own_blind_labels([ids[5]], "bea") == {}
    assert store.open_disagreements() == 0


EditErrorOrDenied = (ValueError, PermissionDenied)
