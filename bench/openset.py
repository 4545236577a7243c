"""Open set: how many faces of people a face model was not trained on does its gate flag?

`python bench/openset.py PROJECT [--held-out 3] [--folds 5]` on a project holding lfw10 with
dlib-resnet34 embeddings (`curation init/ingest --labels-from-folders/detect/embed`). For each
fold, `--held-out` identities are left out; a linear head is trained on the others exactly as a
`linear` run trains it (same split, same code), the gate's reference is fitted on its training
embeddings and its threshold set at the 95th percentile of its validation scores, as a bundle
does. Printed per candidate score: the share of the held-out people's faces flagged (open-set
rate), the share of in-domain validation faces flagged, and the AUROC between the two; and the
share of held-out faces that a 5th-percentile confidence floor would also send to a person.
Embeddings are the ones the bundle's ONNX graph computes (they agree to 1e-6), so no image is
decoded here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.deploy import ood  # noqa: E402
from curation.store import open_store  # noqa: E402
from curation.train.dataset import make_snapshot  # noqa: E402
from curation.train.fit import TrainParams, fit_linear  # noqa: E402


def fold(table, held_out: list[str]) -> dict:
    known = table[~table["label"].isin(held_out)]
    strangers = table[table["label"].isin(held_out)]
    snapshot = make_snapshot(known[["image_id", "sha256", "label", "vector"]], {}, 0.2, 0)
    model, classes, preds = fit_linear(snapshot.table, TrainParams(arch="linear"), lambda f: None)
    train = snapshot.table[snapshot.table["split"] == "train"]
    val = snapshot.table[snapshot.table["split"] == "val"]
    reference = ood.Reference.fit(np.stack(train["vector"]), np.array([classes.index(x) for x in train["label"]]))

    def outputs(rows):
        x = np.stack(rows["vector"].to_numpy()).astype(np.float32)
        with torch.no_grad():
            logits = model(torch.from_numpy(ood.unit(x))).numpy()
        return x, logits

    (fv, lv), (fs, ls) = outputs(val), outputs(strangers)
    confidence_floor = np.quantile(torch.from_numpy(lv).softmax(1).max(1).values.numpy(), 0.05)
    low = torch.from_numpy(ls).softmax(1).max(1).values.numpy() < confidence_floor
    figures = {"low_confidence_strangers": float(low.mean())}
    for method in ood.METHODS:
        inside, outside = ood.scores(method, reference, fv, lv), ood.scores(method, reference, fs, ls)
        threshold = ood.threshold(inside)
        figures[method] = {"strangers_flagged": float((outside > threshold).mean()),
                           "val_flagged": float((inside > threshold).mean()), "auroc": ood.auroc(inside, outside),
                           "either": float(((outside > threshold) | low).mean())}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", type=Path)
    parser.add_argument("--held-out", type=int, default=3)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    store = open_store(args.project)
    rows, _ = store.training_rows()
    table = rows.merge(store.image_vectors("dlib-resnet34"), on="image_id")
    store.close()
    labels = sorted(table["label"].unique())
    rng = np.random.default_rng(0)
    results = [fold(table, list(rng.choice(labels, args.held_out, replace=False))) for _ in range(args.folds)]
    print(f"{len(labels)} identities, {len(table)} faces; {args.held_out} held out per fold, {args.folds} folds "
          "(threshold: 95th percentile of in-domain validation).")
    print(f"{'score':<12} {'strangers flagged':>18} {'validation flagged':>19} {'AUROC':>7} {'with conf. floor':>17}")
    for method in ood.METHODS:
        mean = {k: np.mean([r[method][k] for r in results]) for k in results[0][method]}
        print(f"{method:<12} {mean['strangers_flagged']:>18.1%} {mean['val_flagged']:>19.1%} {mean['auroc']:>7.3f} "
              f"{mean['either']:>17.1%}")
    print(f"confidence floor alone flags {np.mean([r['low_confidence_strangers'] for r in results]):.1%} of strangers")


if __name__ == "__main__":
    main()
