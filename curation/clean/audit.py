"""Bias-audit figures: who is in the dataset, and how well the model does for each subgroup.

The figures are the ones disaggregated audits made standard (Buolamwini & Gebru, "Gender Shades",
2018; Raji & Buolamwini, "Actionable Auditing", 2019): representation per subgroup, accuracy per
subgroup and per intersection of subgroups, each with a confidence interval, and the gap between the
best and the worst served subgroup.

Input is one DataFrame with a row per image, or per group of images alike in every column with
their number in `n` (what `Store.audit_frame` returns, so that a million images are a few thousand
rows; a frame without `n` counts each row once): `label` (the truth), `predicted` (None where the
image was not in the evaluated split of the chosen run), the sources `provider`, `domain` and
`query`, and one column per audited attribute (`gender`, `skin_type`, ...) whose values are tags
or None. An untagged image counts in the subgroup "(untagged)", so the share of the
dataset nobody has tagged stays visible; an attribute with no column at all is untagged throughout.
Images without a label are left out of every table.

Intervals are Wilson score intervals, computed for a whole column at once with the steps of scipy's
`binomtest(k, n).proportion_ci(method="wilson")`: tests hold them equal to scipy's to 1e-12 (today they
are bit for bit) on every (k, n) of a wide grid, k = 0, k = n and n = 1 included, so a change on either
side shows. One `binomtest` per pair also computed a p-value the interval never uses: 2.5 s for an
audit's 4,650 pairs at 1.2M images. A proportion of nothing (n = 0) is NaN.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..names import chart_text

UNTAGGED = "(untagged)"
UNKNOWN_SOURCE = "(unknown)"
ATTRIBUTE_JOIN = " × "
SUBGROUP_JOIN = " · "
SOURCE_COLUMNS = ("provider", "domain", "query")
CONFIDENCE = 0.95
#: The normal quantile of CONFIDENCE, two-sided: scipy.special.ndtri(0.975), what binomtest uses (a test
#: holds them equal). Written out because importing scipy.special costs an audit's first run 0.35 s.
Z = 1.959963984540054
MIN_SUBGROUP_SIZE = 10

REPRESENTATION_COLUMNS = ["attributes", "subgroup", "label", "n", "share_of_label"]
METRICS_COLUMNS = [
    "attributes", "subgroup", "tagged", "images", "n", "correct", "accuracy", "accuracy_low", "accuracy_high",
]
RATES_COLUMNS = [
    "attributes", "subgroup", "label",
    "positives", "false_negatives", "fnr", "fnr_low", "fnr_high",
    "negatives", "false_positives", "fpr", "fpr_low", "fpr_high",
]
DISPARITY_COLUMNS = [
    "attributes", "best", "best_accuracy", "best_n", "worst", "worst_accuracy", "worst_n",
    "gap", "flagged", "intervals_overlap",
]
SKEW_COLUMNS = ["by", "value", "label", "n", "share_of_label"]


def wilson_intervals(successes, trials) -> tuple[np.ndarray, np.ndarray]:
    """The 95% Wilson score intervals of k successes in n trials, element-wise: (lows, highs), NaN where n is 0.

    scipy's `_binom_wilson_conf_int` step by step (Newcombe 1998), on arrays: the same operations in
    the same order, so the same floats.
    """
    k = np.asarray(successes, dtype=np.int64)
    n = np.asarray(trials, dtype=np.int64)
    z = np.float64(Z)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 2 * (n + z**2)
        center = (2 * n * p + z**2) / denom
        delta = z / denom * np.sqrt(4 * n * p * (1 - p) + z**2)
        low = np.where(k == 0, 0.0, center - delta)
        high = np.where(k == n, 1.0, center + delta)
    empty = n == 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def wilson_interval(k: int, n: int) -> tuple[float, float]:
    """The 95% Wilson score interval of k successes in n trials; (NaN, NaN) when n is 0."""
    lows, highs = wilson_intervals([k], [n])
    return float(lows[0]), float(highs[0])


def proportion(k: int, n: int) -> tuple[float, float, float]:
    """k / n with its Wilson interval: (estimate, low, high), all NaN when n is 0."""
    low, high = wilson_interval(k, n)
    return (k / n if n else float("nan")), low, high


def attribute_sets(attributes: Sequence[str], intersections: bool = True) -> list[tuple[str, ...]]:
    """Each attribute alone, then (with intersections) every combination of two or more of them."""
    sizes = range(1, len(attributes) + 1) if intersections else [1]
    return [combo for size in sizes for combo in itertools.combinations(attributes, size)]


def representation(frame: pd.DataFrame, attributes: Sequence[str], intersections: bool = True,
                   only: Sequence[tuple[str, ...]] | None = None) -> pd.DataFrame:
    """Images per label and subgroup, and the subgroup's share of that label's images; `only`: these
    attribute sets instead of all (the same for the two tables below).

    Every subgroup seen anywhere is listed for every label, with n = 0 where the label has none of
    it: a missing subgroup is the finding, so it gets a row.
    """
    labelled = _labelled(frame)
    sets = [] if labelled.empty else _chosen_sets(attributes, intersections, only)
    parts = [_representation_of(labelled, c) for c in sets]
    return _concat(parts, REPRESENTATION_COLUMNS)


def subgroup_metrics(frame: pd.DataFrame, attributes: Sequence[str], intersections: bool = True,
                     only: Sequence[tuple[str, ...]] | None = None) -> pd.DataFrame:
    """Accuracy per subgroup, with its Wilson interval.

    `images` counts the subgroup's labelled images, `n` those that were evaluated (have a
    prediction), `correct` those predicted as their label; `tagged` is False for a subgroup with an
    "(untagged)" part. Per-subgroup error rates pooled over labels add nothing here: in
    single-label classification the pooled false negative rate is exactly 1 - accuracy, so the
    per-label false negative and false positive rates are in `per_label_rates`.
    """
    labelled = _labelled(frame)
    sets = [] if labelled.empty else _chosen_sets(attributes, intersections, only)
    parts = [_metrics_of(labelled, c) for c in sets]
    return _concat(parts, METRICS_COLUMNS)


def per_label_rates(frame: pd.DataFrame, attributes: Sequence[str], intersections: bool = True,
                    only: Sequence[tuple[str, ...]] | None = None) -> pd.DataFrame:
    """One-vs-rest error rates per (subgroup g, label c), over the evaluated images of g:

    FNR = P(predicted != c | truth = c, g) = false_negatives / positives
    FPR = P(predicted = c | truth != c, g) = false_positives / negatives

    each with its Wilson interval (NaN where the denominator is 0). Labels are those any labelled
    image has; every subgroup seen is listed, evaluated or not.
    """
    labelled = _labelled(frame)
    sets = [] if labelled.empty else _chosen_sets(attributes, intersections, only)
    parts = [_rates_of(labelled, c) for c in sets]
    return _concat(parts, RATES_COLUMNS)


def tag_coverage(frame: pd.DataFrame, attributes: Sequence[str]) -> pd.DataFrame:
    """Per attribute, in the order given: how many labelled images carry a tag (`tagged`), of `images`."""
    labelled = _labelled(frame)
    images = labelled["n"]
    tagged = [int(images[labelled[name].notna()].sum()) if name in labelled else 0 for name in attributes]
    return pd.DataFrame({"attribute": pd.Series(list(attributes), dtype=str), "tagged": tagged,
                         "images": int(images.sum())}).astype({"tagged": "int64", "images": "int64"})


def disparities(metrics: pd.DataFrame, threshold: float = 0.05, min_n: int = MIN_SUBGROUP_SIZE) -> pd.DataFrame:
    """Per attribute set, the best and the worst served subgroup by accuracy, and the gap between them.

    Only tagged subgroups with at least `min_n` evaluated images compete; an attribute set with
    fewer than two such subgroups has no row. `flagged` is gap > threshold; `intervals_overlap`
    says whether the two Wilson intervals overlap (if they do, the gap may be chance).
    """
    eligible = metrics[metrics["tagged"] & (metrics["n"] >= min_n) & metrics["accuracy"].notna()]
    rows = [
        _gap_of(name, group, threshold)
        for name, group in eligible.groupby("attributes", sort=False)
        if len(group) >= 2
    ]
    return pd.DataFrame(rows, columns=DISPARITY_COLUMNS)


def source_skew(frame: pd.DataFrame) -> pd.DataFrame:
    """Share of each label's images by provider, by domain and by query (a missing source is "(unknown)")."""
    labelled = _labelled(frame)
    parts = [] if labelled.empty else [_skew_by(labelled, by) for by in SOURCE_COLUMNS if by in labelled]
    return _concat(parts, SKEW_COLUMNS)


def audit_figures(representation: pd.DataFrame, metrics: pd.DataFrame) -> dict[str, go.Figure]:
    """The two headline charts: who is in the dataset, and how accurate the model is for each of them."""
    return {
        "Representation by subgroup": representation_figure(representation),
        "Accuracy by subgroup": accuracy_figure(metrics),
    }


def representation_figure(representation: pd.DataFrame) -> go.Figure:
    """Horizontal bars: each subgroup's share of all labelled images, within its attribute set."""
    counts = representation.groupby(["attributes", "subgroup"], as_index=False, sort=False)["n"].sum()
    totals = counts.groupby("attributes")["n"].transform("sum")
    share = (counts["n"] / totals).where(totals > 0)
    bars = go.Bar(x=share, y=_group_names(counts), orientation="h", text=counts["n"],
                  hovertemplate="%{y}<br>Share of images: %{x:.1%}<br>n: %{text}<extra></extra>")
    return _chart(bars, "Representation by subgroup", "Share of images", len(counts))


def accuracy_figure(metrics: pd.DataFrame) -> go.Figure:
    """Dot and whisker: accuracy per evaluated subgroup with its 95% Wilson interval."""
    evaluated = metrics[metrics["n"] > 0]
    accuracy = evaluated["accuracy"]
    dots = go.Scatter(
        x=accuracy, y=_group_names(evaluated), mode="markers",
        error_x={"type": "data", "array": evaluated["accuracy_high"] - accuracy,
                 "arrayminus": accuracy - evaluated["accuracy_low"]},
        customdata=evaluated[["n", "correct"]].to_numpy(),
        hovertemplate="%{y}<br>Accuracy: %{x:.1%}<br>n: %{customdata[0]}<br>correct: %{customdata[1]}<extra></extra>",
    )
    figure = _chart(dots, "Accuracy by subgroup", "Accuracy (95% Wilson interval)", len(evaluated))
    figure.update_xaxes(range=[0, 1])
    return figure


def _chart(trace, title: str, x_title: str, rows: int) -> go.Figure:
    """One trace of subgroups down the y axis (first on top), a percent x axis, and a height for the rows.

    Built with graph_objects: plotly.express took 0.1 s a chart for the same figure."""
    figure = go.Figure(trace)
    figure.update_layout(title_text=title, height=_chart_height(rows), xaxis_title_text=x_title,
                         xaxis_tickformat=".0%")
    figure.update_yaxes(autorange="reversed")
    return figure


def audit_html(
    tables: dict[str, pd.DataFrame],
    figures: dict[str, go.Figure],
    title: str,
    *,
    generated_at: datetime | None = None,
) -> str:
    """A self-contained HTML report: opens offline, with plotly.js embedded once and every cell escaped."""
    stamp = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    sections = [_figure_section(name, fig, first=i == 0) for i, (name, fig) in enumerate(figures.items())]
    sections += [_table_section(name, table) for name, table in tables.items()]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n<p class=\"generated\">Generated at {html.escape(stamp)}</p>\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}"
    "table{border-collapse:collapse;margin-bottom:2rem}"
    "th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}"
    ".generated{color:#666}"
)


def _figure_section(name: str, figure: go.Figure, first: bool) -> str:
    body = figure.to_html(full_html=False, include_plotlyjs=first)
    return f"<section>\n<h2>{html.escape(name)}</h2>\n{body}\n</section>"


def _table_section(name: str, table: pd.DataFrame) -> str:
    body = table.to_html(escape=True, index=False, na_rep="—", float_format="{:.3f}".format)
    return f"<section>\n<h2>{html.escape(name)}</h2>\n{body}\n</section>"


def _chart_height(rows: int) -> int:
    return max(300, 120 + 24 * rows)


def _group_names(table: pd.DataFrame) -> pd.Series:
    return (table["attributes"] + ": " + table["subgroup"]).map(chart_text)


def _chosen_sets(attributes: Sequence[str], intersections: bool,
                 only: Sequence[tuple[str, ...]] | None) -> Sequence[tuple[str, ...]]:
    return attribute_sets(attributes, intersections) if only is None else only


def _labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """The labelled images, with `label` as strings, `predicted` as strings or None and `n` (images per
    row) as integers, all three always present."""
    if "label" not in frame:
        return pd.DataFrame(columns=["label", "predicted", "n"])
    labelled = frame[frame["label"].notna()]
    predicted = labelled["predicted"] if "predicted" in labelled else pd.Series(None, index=labelled.index)
    images = labelled["n"].astype("int64") if "n" in labelled else pd.Series(1, index=labelled.index, dtype="int64")
    return labelled.assign(label=labelled["label"].astype(str), predicted=_text_or_none(predicted), n=images)


def _text_or_none(values: pd.Series) -> pd.Series:
    """The values as strings, None where missing, as objects (each distinct value converted once)."""
    codes, distinct = pd.factorize(values)
    text = np.array([*(str(value) for value in distinct), None], dtype=object)
    return pd.Series(text[codes], index=values.index, dtype=object)


def _tags(frame: pd.DataFrame, attribute: str) -> tuple[np.ndarray, np.ndarray]:
    """The attribute's tags as (a code per row, the text of each code), with None, NaN and blank as
    UNTAGGED; each distinct tag is cleaned once, so two codes may read the same."""
    if attribute not in frame:
        return np.zeros(len(frame), dtype=np.int64), np.array([UNTAGGED], dtype=object)
    codes, distinct = pd.factorize(frame[attribute])
    text = np.array([*(str(value).strip() or UNTAGGED for value in distinct), UNTAGGED], dtype=object)
    return np.where(codes < 0, len(distinct), codes), text


def _subgroups(frame: pd.DataFrame, combo: tuple[str, ...]) -> pd.Series:
    """Each row's subgroup name, its tags joined; each distinct combination of tags is named once."""
    codes = np.zeros(len(frame), dtype=np.int64)
    tags = []
    for attribute in combo:
        attribute_codes, text = _tags(frame, attribute)
        codes = codes * len(text) + attribute_codes
        tags.append(text)
    combinations, rows = np.unique(codes, return_inverse=True)
    digits = []
    for text in reversed(tags):
        combinations, digit = np.divmod(combinations, len(text))
        digits.append(text[digit])
    names = np.array([SUBGROUP_JOIN.join(parts) for parts in zip(*reversed(digits))], dtype=object)
    return pd.Series(names[rows], index=frame.index, dtype=object)


def _is_tagged(subgroups: pd.Series) -> pd.Series:
    return subgroups.map(lambda name: UNTAGGED not in name.split(SUBGROUP_JOIN))


def _evaluated(frame: pd.DataFrame) -> pd.Series:
    return frame["predicted"].notna()


def _representation_of(frame: pd.DataFrame, combo: tuple[str, ...]) -> pd.DataFrame:
    counts = pd.crosstab(_subgroups(frame, combo), frame["label"], values=frame["n"], aggfunc="sum",
                         rownames=["subgroup"], colnames=["label"]).fillna(0).astype("int64")
    table = counts.stack().rename("n").reset_index()
    label_totals = table.groupby("label")["n"].transform("sum")
    table["share_of_label"] = table["n"] / label_totals
    table.insert(0, "attributes", ATTRIBUTE_JOIN.join(combo))
    return table.sort_values(["label", "subgroup"], ignore_index=True)


def _metrics_of(frame: pd.DataFrame, combo: tuple[str, ...]) -> pd.DataFrame:
    images = frame["n"]
    evaluated = _evaluated(frame)
    correct = evaluated & (frame["label"] == frame["predicted"])
    table = (
        pd.DataFrame({"subgroup": _subgroups(frame, combo), "images": images,
                      "n": images * evaluated, "correct": images * correct})
        .groupby("subgroup", as_index=False)
        .sum()
    )
    table[["images", "n", "correct"]] = table[["images", "n", "correct"]].astype(int)
    table[["accuracy", "accuracy_low", "accuracy_high"]] = _proportions(table["correct"], table["n"])
    table.insert(0, "attributes", ATTRIBUTE_JOIN.join(combo))
    table.insert(2, "tagged", _is_tagged(table["subgroup"]))
    return table


def _rates_of(frame: pd.DataFrame, combo: tuple[str, ...]) -> pd.DataFrame:
    """Per subgroup and label, one-vs-rest counts (positives, false negatives, negatives, false
    positives) over the evaluated images, and the rates they give; every (subgroup, label) pair
    has a row, in one pass over the frame however many labels there are."""
    subgroups = _subgroups(frame, combo)
    grid = pd.MultiIndex.from_product([sorted(subgroups.unique()), sorted(frame["label"].unique())],
                                      names=["subgroup", "label"])
    evaluated = frame[_evaluated(frame)].assign(subgroup=subgroups)
    wrong = evaluated[evaluated["label"] != evaluated["predicted"]]
    positives = _images_by(evaluated, "label", grid)
    evaluated_in_subgroup = evaluated.groupby("subgroup")["n"].sum().reindex(grid.get_level_values("subgroup"),
                                                                             fill_value=0).to_numpy("int64")
    table = pd.DataFrame({
        "subgroup": grid.get_level_values("subgroup"),
        "label": grid.get_level_values("label"),
        "positives": positives,
        "false_negatives": _images_by(wrong, "label", grid),
        "negatives": evaluated_in_subgroup - positives,
        "false_positives": _images_by(wrong, "predicted", grid),
    })
    table[["fnr", "fnr_low", "fnr_high"]] = _proportions(table["false_negatives"], table["positives"])
    table[["fpr", "fpr_low", "fpr_high"]] = _proportions(table["false_positives"], table["negatives"])
    table.insert(0, "attributes", ATTRIBUTE_JOIN.join(combo))
    return table[RATES_COLUMNS].sort_values(["subgroup", "label"], ignore_index=True)


def _images_by(rows: pd.DataFrame, column: str, grid: pd.MultiIndex):
    """The images of `rows` per (subgroup, `column`'s value), on the grid's (subgroup, label) pairs, 0 where none."""
    counts = rows.groupby(["subgroup", column])["n"].sum().rename_axis(grid.names)
    return counts.reindex(grid, fill_value=0).to_numpy("int64")


def _proportions(successes: pd.Series, trials: pd.Series) -> np.ndarray:
    """Columns (estimate, low, high) of k / n with its Wilson interval, NaN where n is 0."""
    k = successes.to_numpy("int64")
    n = trials.to_numpy("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = np.where(n == 0, np.nan, k / n)
    return np.column_stack([estimate, *wilson_intervals(k, n)])


def _gap_of(attributes: str, group: pd.DataFrame, threshold: float) -> dict:
    ranked = group.sort_values(["accuracy", "n"], ascending=False)
    best, worst = ranked.iloc[0], ranked.iloc[-1]
    # Accuracies are ratios; rounding keeps 0.90 - 0.85 from reading as a hair over 0.05.
    gap = round(float(best["accuracy"] - worst["accuracy"]), 12)
    return {
        "attributes": attributes,
        "best": best["subgroup"], "best_accuracy": best["accuracy"], "best_n": int(best["n"]),
        "worst": worst["subgroup"], "worst_accuracy": worst["accuracy"], "worst_n": int(worst["n"]),
        "gap": gap,
        "flagged": gap > threshold,
        "intervals_overlap": bool(best["accuracy_low"] <= worst["accuracy_high"]),
    }


def _skew_by(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    values = frame[by].astype(object).where(frame[by].notna(), UNKNOWN_SOURCE).astype(str)
    table = (
        pd.DataFrame({"value": values, "label": frame["label"], "n": frame["n"]})
        .groupby(["value", "label"], as_index=False)
        .sum()
    )
    table["share_of_label"] = table["n"] / table.groupby("label")["n"].transform("sum")
    table.insert(0, "by", by)
    return table.sort_values(["label", "n", "value"], ascending=[True, False, True], ignore_index=True)


def _concat(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]
