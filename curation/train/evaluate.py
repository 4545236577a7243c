"""Evaluation figures of a run, from its confusion matrix (counts per true and predicted label).

The matrix is built from grouped counts, which the store computes in SQL, so a run with 100,000
predictions costs a few rows here, not 100,000.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def matrix_from_counts(counts: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """`counts` (label, predicted, n) to a square matrix: true labels as rows, predictions as columns."""
    table = counts.pivot_table(index="label", columns="predicted", values="n", aggfunc="sum", fill_value=0)
    return table.reindex(index=classes, columns=classes, fill_value=0).astype(int)


def counts_of(preds: pd.DataFrame) -> pd.DataFrame:
    return preds.groupby(["label", "predicted"]).size().reset_index(name="n")


def row_normalised(matrix: pd.DataFrame) -> pd.DataFrame:
    return matrix.div(matrix.sum(axis=1).replace(0, 1), axis=0)


def per_class(matrix: pd.DataFrame) -> pd.DataFrame:
    """Precision, recall, F1 and support per label (0 where a label was never predicted or present)."""
    m = matrix.to_numpy(dtype=float)
    hits, support, predicted = np.diag(m), m.sum(axis=1), m.sum(axis=0)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(hits), where=total > 0)
    return pd.DataFrame({"label": matrix.index, "precision": precision, "recall": recall, "f1": f1,
                         "support": support.astype(int)})


def accuracy(matrix: pd.DataFrame) -> float:
    total = matrix.to_numpy().sum()
    return float(np.trace(matrix.to_numpy()) / total) if total else 0.0


def confused_pairs(matrix: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """The largest off-diagonal cells: (label, predicted, count), most frequent first."""
    errors = off_diagonal(matrix)
    flat = errors.ravel()
    if np.count_nonzero(flat) > top:  # only cells as large as the top-th can be among the top (ties kept)
        threshold = max(np.partition(flat, flat.size - top)[flat.size - top], 1)
        rows, cols = np.nonzero(errors >= threshold)
    else:
        rows, cols = np.nonzero(errors)
    pairs = sorted(((matrix.index[r], matrix.columns[c], int(errors[r, c])) for r, c in zip(rows, cols)),
                   key=lambda r: (-r[2], r[0], r[1]))
    return pd.DataFrame(pairs[:top], columns=["label", "predicted", "count"])


def off_diagonal(matrix: pd.DataFrame) -> np.ndarray:
    """The matrix's counts with every cell of a label predicted as itself set to 0."""
    same = matrix.index.to_numpy()[:, None] == matrix.columns.to_numpy()[None, :]
    return np.where(same, 0, matrix.to_numpy())


def most_confused_labels(matrix: pd.DataFrame, top: int) -> list[str]:
    """The `top` labels in the most errors (mistaken for another, or another mistaken for them), in the
    matrix's order: what a readable matrix of a run over hundreds of labels shows."""
    errors = off_diagonal(matrix)
    involved = pd.Series(errors.sum(axis=1), index=matrix.index).add(
        pd.Series(errors.sum(axis=0), index=matrix.columns), fill_value=0)
    chosen = set(involved.sort_values(ascending=False, kind="stable").index[:top])
    return [label for label in matrix.index if label in chosen]


def final_metrics(preds: pd.DataFrame) -> dict:
    """Accuracy and loss per split and macro F1 on validation; `accuracy` is validation's when there is one."""
    classes = sorted(preds["label"].unique())
    figures = {}
    for split in ("train", "val"):
        part = preds[preds["split"] == split]
        if len(part):
            figures[f"{split}_accuracy"] = float((part["label"] == part["predicted"]).mean())
            figures[f"{split}_loss"] = float(part["loss"].mean())
            figures[f"{split}_images"] = int(len(part))
    val = preds[preds["split"] == "val"]
    if len(val):
        figures["macro_f1"] = float(per_class(matrix_from_counts(counts_of(val), classes))["f1"].mean())
    figures["accuracy"] = figures.get("val_accuracy", figures.get("train_accuracy", 0.0))
    return figures
