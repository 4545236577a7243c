"""Agreement between annotators, from their blind labels: pure tables in, figures out.

Cohen's kappa for each pair of annotators (scikit-learn's `cohen_kappa_score`, over the images both
labelled), Krippendorff's alpha over everyone (the `krippendorff` package, nominal data, an image
counted when at least two labelled it), specific agreement per label, and per annotator their
agreement with the others and their accuracy on gold images.
"""

from __future__ import annotations

import itertools
import math
import warnings

import pandas as pd


def pairs_of_labels(blind: pd.DataFrame) -> pd.DataFrame:
    """Every pair of blind labels on one image: image_id, a, b (annotators), label_a, label_b."""
    rows = []
    for image_id, group in blind.groupby("image_id"):
        for (a, la), (b, lb) in itertools.combinations(sorted(zip(group["annotator"], group["label"])), 2):
            rows.append((image_id, a, b, la, lb))
    return pd.DataFrame(rows, columns=["image_id", "a", "b", "label_a", "label_b"])


def pairwise_kappa(blind: pd.DataFrame) -> pd.DataFrame:
    """a, b, images (both labelled), agreement (share of equal labels), kappa (NaN when undefined)."""
    from sklearn.metrics import cohen_kappa_score

    pairs = pairs_of_labels(blind)
    rows = []
    for (a, b), group in pairs.groupby(["a", "b"]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kappa = float(cohen_kappa_score(group["label_a"], group["label_b"])) if len(group) > 1 else math.nan
        rows.append((a, b, len(group), float((group["label_a"] == group["label_b"]).mean()), kappa))
    return pd.DataFrame(rows, columns=["a", "b", "images", "agreement", "kappa"])


def alpha(blind: pd.DataFrame) -> float:
    """Krippendorff's alpha (nominal) over every annotator; NaN with fewer than two labels on any image."""
    import krippendorff

    counted = blind.groupby("image_id").filter(lambda g: len(g) > 1)
    if counted.empty or counted["label"].nunique() < 2:
        return math.nan if counted.empty else 1.0
    codes = {label: n for n, label in enumerate(sorted(counted["label"].unique()))}
    table = counted.assign(code=counted["label"].map(codes)).pivot(index="annotator", columns="image_id", values="code")
    return float(krippendorff.alpha(reliability_data=table.to_numpy(dtype=float), level_of_measurement="nominal"))


def per_label(blind: pd.DataFrame) -> pd.DataFrame:
    """label, pairs (pairs of labels where either said it), specific agreement 2A / (2A + D)."""
    pairs = pairs_of_labels(blind)
    rows = []
    for label in sorted(set(pairs["label_a"]) | set(pairs["label_b"])):
        both = int(((pairs["label_a"] == label) & (pairs["label_b"] == label)).sum())
        one = int(((pairs["label_a"] == label) ^ (pairs["label_b"] == label)).sum())
        rows.append((label, both + one, 2 * both / (2 * both + one) if both + one else math.nan))
    return pd.DataFrame(rows, columns=["label", "pairs", "agreement"])


def per_annotator(blind: pd.DataFrame, gold: dict[int, str]) -> pd.DataFrame:
    """annotator, blind labels, agreement with the others (share of equal pairs), gold answered, gold accuracy."""
    pairs = pairs_of_labels(blind)
    rows = []
    for annotator, mine in blind.groupby("annotator"):
        theirs = pairs[(pairs["a"] == annotator) | (pairs["b"] == annotator)]
        on_gold = mine[mine["image_id"].isin(gold)]
        correct = (on_gold["label"] == on_gold["image_id"].map(gold)).sum()
        rows.append((annotator, len(mine),
                     float((theirs["label_a"] == theirs["label_b"]).mean()) if len(theirs) else math.nan,
                     len(on_gold), float(correct / len(on_gold)) if len(on_gold) else math.nan))
    return pd.DataFrame(rows, columns=["annotator", "labels", "agreement", "gold", "gold_accuracy"])


def disagreement_by_subgroup(blind: pd.DataFrame, tags: pd.DataFrame) -> pd.DataFrame:
    """attribute, value, images (with two or more blind labels), disagreements, rate."""
    labelled = blind.groupby("image_id")["label"].agg(["count", "nunique"])
    labelled = labelled[labelled["count"] > 1]
    if labelled.empty or tags.empty:
        return pd.DataFrame(columns=["attribute", "value", "images", "disagreements", "rate"])
    joined = tags.merge(labelled, left_on="image_id", right_index=True)
    table = joined.groupby(["name", "value"]).agg(images=("image_id", "count"),
                                                  disagreements=("nunique", lambda n: int((n > 1).sum())))
    table = table.reset_index().rename(columns={"name": "attribute"})
    table["rate"] = table["disagreements"] / table["images"]
    return table


def summary(blind: pd.DataFrame, gold: dict[int, str], overlap_share: float, open_disagreements: int) -> dict:
    """The figures `report --json` carries under "agreement"."""
    counts = blind.groupby("image_id").size() if not blind.empty else pd.Series(dtype=int)
    kappas = pairwise_kappa(blind) if not blind.empty else pd.DataFrame(columns=["a", "b", "images", "kappa"])
    annotators = per_annotator(blind, gold) if not blind.empty else pd.DataFrame(columns=["annotator", "gold_accuracy"])
    return {
        "overlap_share": overlap_share,
        "images_with_two_labels": int((counts > 1).sum()),
        "alpha": _number(alpha(blind)) if not blind.empty else None,
        "kappa": [{"a": r.a, "b": r.b, "images": int(r.images), "kappa": _number(r.kappa)} for r in kappas.itertuples()],
        "gold_images": len(gold),
        "gold_accuracy": {r.annotator: _number(r.gold_accuracy) for r in annotators.itertuples()},
        "open_disagreements": open_disagreements,
    }


def _number(value) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(float(value), 4)
