"""Bias-audit tables on a constructed dataset whose every count and accuracy is known by construction.

100 images, labels ada and bob (50 each); a wrong prediction is always the other label.

    label  gender  skin  images  evaluated  correct
    ada    female  I         20         20       18
    ada    male    V         20         20       12
    bob    female  V         20         20       16
    bob    male    I         20         20       14
    bob    -       VI        10         10        9
    ada    female  -         10          0        -
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import plotly.offline
import pytest
from scipy.special import ndtri
from scipy.stats import binomtest

from curation.clean import audit

BLOCKS = [
    ("ada", "female", "I", 20, 18),
    ("ada", "male", "V", 20, 12),
    ("bob", "female", "V", 20, 16),
    ("bob", "male", "I", 20, 14),
    ("bob", None, "VI", 10, 9),
    ("ada", "female", None, 10, None),
]
OTHER = {"ada": "bob", "bob": "ada"}
ATTRIBUTES = ["gender", "skin_type"]


def build_frame(blocks=BLOCKS) -> pd.DataFrame:
    rows = []
    for label, gender, skin, count, correct in blocks:
        for i in range(count):
            if correct is None:
                predicted = None
            else:
                predicted = label if i < correct else OTHER.get(label, "other")
            rows.append({
                "image_id": len(rows), "label": label, "predicted": predicted,
                "gender": gender, "skin_type": skin,
                "provider": "openverse" if label == "ada" else ("wikimedia" if i % 5 else "ddg"),
                "domain": None, "query": f"{label} photo",
            })
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return build_frame()


@pytest.fixture(scope="module")
def metrics(frame) -> pd.DataFrame:
    return audit.subgroup_metrics(frame, ATTRIBUTES)


def row(table: pd.DataFrame, **where) -> pd.Series:
    mask = pd.Series(True, index=table.index)
    for column, value in where.items():
        mask &= table[column] == value
    assert mask.sum() == 1, f"{where} matched {mask.sum()} rows"
    return table[mask].iloc[0]


def wilson(k: int, n: int) -> tuple[float, float]:
    interval = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return interval.low, interval.high


def test_attribute_sets_lists_singles_then_intersections():
    assert audit.attribute_sets(["a", "b", "c"]) == [
        ("a",), ("b",), ("c",), ("a", "b"), ("a", "c"), ("b", "c"), ("a", "b", "c"),
    ]
    assert audit.attribute_sets(["a", "b"], intersections=False) == [("a",), ("b",)]


def test_representation_counts_and_shares(frame):
    table = audit.representation(frame, ATTRIBUTES)
    gender = table[table["attributes"] == "gender"]
    expected = {
        ("ada", "female"): (30, 0.6), ("ada", "male"): (20, 0.4), ("ada", "(untagged)"): (0, 0.0),
        ("bob", "female"): (20, 0.4), ("bob", "male"): (20, 0.4), ("bob", "(untagged)"): (10, 0.2),
    }
    got = {(r.label, r.subgroup): (r.n, r.share_of_label) for r in gender.itertuples()}
    assert got == expected
    assert table.groupby(["attributes", "label"])["n"].sum().eq(50).all()


def test_representation_intersections_list_every_subgroup_for_every_label(frame):
    table = audit.representation(frame, ATTRIBUTES)
    both = table[table["attributes"] == "gender × skin_type"]
    assert len(both) == 6 * 2
    assert row(both, subgroup="female · I", label="ada")["n"] == 20
    assert row(both, subgroup="female · I", label="bob")["n"] == 0
    assert row(both, subgroup="female · (untagged)", label="ada")["share_of_label"] == pytest.approx(0.2)
    assert row(both, subgroup="(untagged) · VI", label="bob")["n"] == 10


def wilson_grid() -> list[tuple[int, int]]:
    """Every (k, n) up to n = 60, and at large n the edges (0, 1, n - 1, n), the middle and random k."""
    rng = np.random.default_rng(7)
    pairs = [(k, n) for n in range(1, 61) for k in range(n + 1)]
    for n in (97, 1000, 4651, 65_536, 1_129_025, 10**7, 2**40):
        pairs += [(k, n) for k in {0, 1, 2, n // 3, n // 2, n - 2, n - 1, n, *rng.integers(0, n + 1, 8).tolist()}]
    return pairs


def test_wilson_intervals_equal_scipys_binomtest_on_a_wide_grid():
    pairs = wilson_grid()
    k, n = (np.array(column) for column in zip(*pairs))
    lows, highs = audit.wilson_intervals(k, n)
    expected = np.array([wilson(int(a), int(b)) for a, b in pairs])
    np.testing.assert_allclose(lows, expected[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(highs, expected[:, 1], rtol=0, atol=1e-12)
    assert (lows[k == 0] == 0).all() and (highs[k == n] == 1).all()


def test_the_normal_quantile_is_scipys():
    assert audit.Z == ndtri(0.5 + 0.5 * audit.CONFIDENCE)


def test_wilson_interval_of_nothing_is_nan_and_one_pair_matches_the_columns():
    lows, highs = audit.wilson_intervals([0, 3, 0], [0, 7, 0])
    assert np.isnan(lows[[0, 2]]).all() and np.isnan(highs[[0, 2]]).all()
    assert (lows[1], highs[1]) == audit.wilson_interval(3, 7) == pytest.approx(wilson(3, 7), abs=1e-12)
    assert all(math.isnan(x) for x in audit.proportion(0, 0))


def test_subgroup_accuracy_and_wilson_interval(metrics):
    female = row(metrics, attributes="gender", subgroup="female")
    assert (female["images"], female["n"], female["correct"]) == (50, 40, 34)
    assert female["accuracy"] == pytest.approx(0.85)
    assert (female["accuracy_low"], female["accuracy_high"]) == pytest.approx(wilson(34, 40))
    male = row(metrics, attributes="gender", subgroup="male")
    assert (male["n"], male["accuracy"]) == (40, pytest.approx(0.65))
    skin_vi = row(metrics, attributes="skin_type", subgroup="VI")
    assert (skin_vi["n"], skin_vi["accuracy"]) == (10, pytest.approx(0.9))


def test_intersection_accuracies(metrics):
    expected = {"female · I": 0.9, "male · V": 0.6, "female · V": 0.8, "male · I": 0.7, "(untagged) · VI": 0.9}
    both = metrics[metrics["attributes"] == "gender × skin_type"].set_index("subgroup")
    for subgroup, accuracy in expected.items():
        assert both.loc[subgroup, "n"] == (10 if "VI" in subgroup else 20)
        assert both.loc[subgroup, "accuracy"] == pytest.approx(accuracy)
    assert (both.loc["male · V", "accuracy_low"], both.loc["male · V", "accuracy_high"]) == pytest.approx(wilson(12, 20))


def test_untagged_subgroup_and_unevaluated_images(metrics):
    untagged_gender = row(metrics, attributes="gender", subgroup="(untagged)")
    assert (untagged_gender["images"], untagged_gender["n"], bool(untagged_gender["tagged"])) == (10, 10, False)
    untagged_skin = row(metrics, attributes="skin_type", subgroup="(untagged)")
    assert (untagged_skin["images"], untagged_skin["n"]) == (10, 0)
    assert math.isnan(untagged_skin["accuracy"])
    assert math.isnan(untagged_skin["accuracy_low"]) and math.isnan(untagged_skin["accuracy_high"])
    assert bool(row(metrics, attributes="gender", subgroup="female")["tagged"])


def test_blank_and_missing_attribute_count_as_untagged():
    frame = pd.DataFrame({"label": ["a", "a", "a"], "predicted": ["a", "a", None], "gender": ["f", " ", None]})
    metrics = audit.subgroup_metrics(frame, ["gender", "age_group"])
    assert row(metrics, attributes="gender", subgroup="(untagged)")["images"] == 2
    assert row(metrics, attributes="age_group", subgroup="(untagged)")["images"] == 3
    assert row(metrics, attributes="gender × age_group", subgroup="f · (untagged)")["n"] == 1


def test_per_label_rates_one_vs_rest(frame):
    rates = audit.per_label_rates(frame, ["gender"])
    female_ada = row(rates, subgroup="female", label="ada")
    assert (female_ada["positives"], female_ada["false_negatives"], female_ada["fnr"]) == (20, 2, pytest.approx(0.1))
    assert (female_ada["negatives"], female_ada["false_positives"], female_ada["fpr"]) == (20, 4, pytest.approx(0.2))
    assert (female_ada["fpr_low"], female_ada["fpr_high"]) == pytest.approx(wilson(4, 20))
    female_bob = row(rates, subgroup="female", label="bob")
    assert (female_bob["fnr"], female_bob["fpr"]) == pytest.approx((0.2, 0.1))
    male_ada = row(rates, subgroup="male", label="ada")
    assert (male_ada["fnr"], male_ada["fpr"]) == pytest.approx((0.4, 0.3))
    untagged_ada = row(rates, subgroup="(untagged)", label="ada")
    assert untagged_ada["positives"] == 0 and math.isnan(untagged_ada["fnr"])
    assert untagged_ada["false_positives"] == 1 and untagged_ada["fpr"] == pytest.approx(0.1)


def test_disparities_flag_the_gap_and_skip_untagged(metrics):
    table = audit.disparities(metrics, threshold=0.05).set_index("attributes")
    gender = table.loc["gender"]
    assert (gender["best"], gender["worst"]) == ("female", "male")
    assert gender["gap"] == pytest.approx(0.2)
    assert bool(gender["flagged"]) and bool(gender["intervals_overlap"])
    assert table.loc["skin_type", "best"] == "VI" and table.loc["skin_type", "worst"] == "V"
    both = table.loc["gender × skin_type"]
    assert (both["best"], both["worst"], both["gap"]) == ("female · I", "male · V", pytest.approx(0.3))


def test_disparities_flag_off_and_minimum_size(metrics):
    relaxed = audit.disparities(metrics, threshold=0.25).set_index("attributes")
    assert not relaxed.loc["gender", "flagged"]
    assert relaxed.loc["gender × skin_type", "flagged"]
    larger = audit.disparities(metrics, min_n=20).set_index("attributes")
    assert (larger.loc["skin_type", "best"], larger.loc["skin_type", "gap"]) == ("I", pytest.approx(0.1))


def test_gap_equal_to_threshold_is_not_flagged():
    frame = build_frame([("a", "x", "I", 20, 18), ("a", "y", "I", 20, 17)])
    table = audit.disparities(audit.subgroup_metrics(frame, ["gender"]), threshold=0.05)
    assert table.loc[0, "gap"] == 0.05
    assert not table.loc[0, "flagged"]


def test_disjoint_intervals():
    frame = build_frame([("a", "x", "I", 50, 50), ("a", "y", "I", 50, 10)])
    table = audit.disparities(audit.subgroup_metrics(frame, ["gender"]))
    assert (table.loc[0, "gap"], bool(table.loc[0, "intervals_overlap"])) == (0.8, False)


def test_source_skew(frame):
    skew = audit.source_skew(frame)
    assert set(skew["by"]) == {"provider", "domain", "query"}
    provider = skew[skew["by"] == "provider"]
    assert row(provider, value="openverse", label="ada")[["n", "share_of_label"]].tolist() == [50, 1.0]
    assert row(provider, value="wikimedia", label="bob")["n"] == 40
    assert row(provider, value="ddg", label="bob")["share_of_label"] == pytest.approx(0.2)
    assert row(skew[skew["by"] == "domain"], value="(unknown)", label="bob")["n"] == 50
    assert row(skew[skew["by"] == "query"], value="ada photo", label="ada")["share_of_label"] == 1.0


def test_empty_frame_gives_empty_tables():
    for frame in (pd.DataFrame(), build_frame([])):
        assert audit.representation(frame, ATTRIBUTES).empty
        metrics = audit.subgroup_metrics(frame, ATTRIBUTES)
        assert metrics.empty and list(metrics.columns) == audit.METRICS_COLUMNS
        assert audit.per_label_rates(frame, ATTRIBUTES).empty
        assert audit.disparities(metrics).empty
        assert audit.source_skew(frame).empty


def test_no_predictions_gives_nan_accuracy():
    frame = pd.DataFrame({"label": ["a", "b"], "gender": ["f", "m"]})
    metrics = audit.subgroup_metrics(frame, ["gender"])
    assert metrics["n"].tolist() == [0, 0]
    assert metrics["accuracy"].isna().all()
    assert audit.disparities(metrics).empty


def test_audit_html_is_self_contained_and_escaped(frame):
    hostile = frame.assign(label=frame["label"].replace("ada", "<script>alert(1)</script>"))
    hostile.loc[0, "gender"] = "<img src=x onerror=alert(2)>"
    representation = audit.representation(hostile, ATTRIBUTES)
    metrics = audit.subgroup_metrics(hostile, ATTRIBUTES)
    figures = audit.audit_figures(representation, metrics)
    page = audit.audit_html(
        {"Representation": representation, "Disparities": audit.disparities(metrics)},
        figures, "Audit <of> ada", generated_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    assert "Generated at 2025-01-02 03:04:05 UTC" in page
    assert "<title>Audit &lt;of&gt; ada</title>" in page
    assert "<h2>Representation</h2>" in page and "<h2>Disparities</h2>" in page
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in page
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "<td>female · I</td>" in page
    plotly_js = plotly.offline.get_plotlyjs()
    assert page.count(plotly_js[:500]) == 1
    assert "<script src" not in page
    assert page.count('class="plotly-graph-div"') == 2


def test_figures_from_empty_tables_do_not_crash():
    figures = audit.audit_figures(
        audit.representation(pd.DataFrame(), ATTRIBUTES), audit.subgroup_metrics(pd.DataFrame(), ATTRIBUTES)
    )
    assert set(figures) == {"Representation by subgroup", "Accuracy by subgroup"}
    assert "<html" in audit.audit_html({}, figures, "Empty")


def test_accuracy_figure_whiskers_are_the_wilson_interval(metrics):
    scatter = audit.accuracy_figure(metrics).data[0]
    index = list(scatter.y).index("gender: male")
    low, high = wilson(26, 40)
    assert scatter.x[index] == pytest.approx(0.65)
    assert scatter.error_x.array[index] == pytest.approx(high - 0.65)
    assert scatter.error_x.arrayminus[index] == pytest.approx(0.65 - low)


def random_images(seed: int, images: int = 3000) -> pd.DataFrame:
    """Images with random labels (some missing), predictions (some missing), sources and tags (some
    missing, blank or padded), the way a real project has them."""
    rng = np.random.default_rng(seed)

    def pick(values, size=images):
        return [values[i] for i in rng.integers(0, len(values), size)]

    labels = pick(["ada", "bob", "cy", "di", None])
    return pd.DataFrame({
        "label": labels,
        "predicted": [None if rng.random() < 0.4 else label if rng.random() < 0.7 else pick(["ada", "bob", "cy"], 1)[0]
                      for label in labels],
        "provider": pick(["openverse", "wikimedia", None]),
        "domain": pick(["a.org", "b.com", None]),
        "query": pick(["ada photo", "bob portrait", None]),
        "gender": pick(["female", "male", "unsure", None, "", " male"]),
        "skin_type": pick(["I", "III", "V", None]),
        "pose": pick(["frontal", "profile", None]),
    })


def aggregated(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct combination of the columns with its image count in `n`, as the store returns it."""
    return frame.groupby(list(frame.columns), dropna=False, sort=False).size().rename("n").reset_index()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_frame_of_counted_rows_gives_the_same_figures_as_one_row_per_image(seed):
    images = random_images(seed)
    counted = aggregated(images)
    attributes = ["gender", "skin_type", "pose"]
    assert len(counted) < len(images) and counted["n"].sum() == len(images)
    for per_image in (images, images.assign(n=1)):
        for figures in (audit.representation, audit.subgroup_metrics, audit.per_label_rates):
            pd.testing.assert_frame_equal(figures(counted, attributes), figures(per_image, attributes))
        metrics = audit.subgroup_metrics(counted, attributes)
        pd.testing.assert_frame_equal(audit.disparities(metrics, 0.01, 5),
                                      audit.disparities(audit.subgroup_metrics(per_image, attributes), 0.01, 5))
        pd.testing.assert_frame_equal(audit.source_skew(counted), audit.source_skew(per_image))
