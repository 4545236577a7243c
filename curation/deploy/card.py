"""The model card: `MODEL_CARD.md` for people and `model_card.json` for programs, from the project's
own records (dataset version, sources, cleaning, predictions, audit tags) and what the bundle measured.

Sections (the issue's names): Dataset, Preprocessing, Upstream models, How to update, Metrics,
Out-of-domain inputs, Limits. Intervals are 95% Wilson intervals (`clean.audit.proportion`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..clean.audit import MIN_SUBGROUP_SIZE, proportion, representation, subgroup_metrics
from ..train.evaluate import counts_of, matrix_from_counts, per_class

FEW_IMAGES = 10


def table(rows: list[dict], columns: list[str] | None = None) -> str:
    if not rows:
        return "_(none)_\n"
    columns = columns or list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def cell(value) -> str:
    if isinstance(value, float):
        return "" if np.isnan(value) else f"{value:.3f}"
    return "" if value is None else str(value).replace("|", "\\|")


def interval(k: int, n: int) -> dict:
    estimate, low, high = proportion(int(k), int(n))
    return {"value": estimate, "low": low, "high": high, "n": int(n)}


def pct(figure: dict) -> str:
    if not figure["n"]:
        return "n/a"
    return f"{figure['value']:.1%} [{figure['low']:.1%}, {figure['high']:.1%}]"


def class_metrics(preds: pd.DataFrame, classes: list[str]) -> list[dict]:
    figures = per_class(matrix_from_counts(counts_of(preds), classes)) if len(preds) else pd.DataFrame()
    rows = []
    for label in classes:
        mine = preds[preds["label"] == label]
        called = preds[preds["predicted"] == label]
        f1 = figures.loc[figures["label"] == label, "f1"]
        rows.append({"label": label, "recall": interval((mine["predicted"] == label).sum(), len(mine)),
                     "precision": interval((called["label"] == label).sum(), len(called)),
                     "f1": float(f1.iloc[0]) if len(f1) else float("nan")})
    return rows


def subgroup_figures(store, run_id: int) -> tuple[list[dict], list[dict]]:
    """Accuracy per audited subgroup (validation) and the subgroups' representation; empty when nothing is tagged."""
    attributes = store.attribute_names()
    if not attributes:
        return [], []
    frame = store.audit_frame(run_id)
    metrics = subgroup_metrics(frame, attributes, intersections=False)
    metrics = metrics[metrics["tagged"]]
    shares = representation(frame, attributes, intersections=False)
    rows = [{"attribute": r.attributes, "subgroup": r.subgroup, "images": int(r.images),
             "accuracy": interval(r.correct, r.n)} for r in metrics.itertuples()]
    return rows, shares.to_dict("records")


def gather_record(store, run: dict, snapshot: pd.DataFrame, classes: list[str], spec: dict) -> dict:
    version = store.dataset_version(run["dataset_version"]) or {}
    ids = list(snapshot["image_id"])
    preds = store.val_predictions(run["id"])
    subgroups, shares = subgroup_figures(store, run["id"])
    val = preds
    return {
        "dataset": {"version": run["dataset_version"], "created_at": version.get("created_at"),
                    "images": int(len(snapshot)), "per_label": snapshot["label"].value_counts().sort_index().to_dict(),
                    "split": snapshot["split"].value_counts().to_dict(), "left_out": version.get("left_out", {}),
                    "provenance": store.provenance_of(ids).to_dict("records"), "cleaning": store.cleaning_record()},
        "preprocessing": {"normalised_on_ingest": store.normalisation_notes(ids),
                          "faces_per_image": store.faces_per_image(ids) if spec["kind"] == "face" else None},
        "metrics": {"val_images": int(len(val)),
                    "accuracy": interval((val["label"] == val["predicted"]).sum(), len(val)),
                    "macro_f1": run["metrics"].get("macro_f1"), "train_accuracy": run["metrics"].get("train_accuracy"),
                    "per_class": class_metrics(val, classes), "per_subgroup": subgroups},
        "representation": shares,
    }


def upstream_models(spec: dict) -> list[dict]:
    if spec["kind"] == "face":
        rows = [{"model": f"MTCNN {w['file']}", "role": "face detection (facenet-pytorch 2.5.3)", **w}
                for w in spec["detector"]["weights"]]
        rows.append({"model": "dlib 5-point shape predictor", "role": "landmarks for alignment",
                     **spec["alignment"]["weights"]})
        rows.append({"model": "dlib-resnet34 (dlib_face_recognition_resnet_model_v1)",
                     "role": "face embedder, frozen (99.38% on LFW per dlib)", **spec["embedder"]["weights"]})
        return rows
    if spec.get("initial_weights"):
        return [{"model": "ResNet-34 ImageNet weights (torchvision)", "role": "starting point, fine-tuned whole",
                 **spec["initial_weights"]}]
    return [{"model": "none", "role": "ResNet-34 trained from scratch: no ImageNet weights were found when it trained",
             "file": "", "sha256": "", "bytes": ""}]


def update_commands(run: dict, out: Path) -> dict:
    p = run["params"]
    if run["arch"] == "linear":
        train = f"curation train DIR --arch linear --model {p['embedder']} --seed {p['seed']}"
    else:
        train = (f"curation train DIR --arch resnet34 --epochs {p['epochs']} --image-size {p['image_size']} "
                 f"--seed {p['seed']}")
    return {
        "retrain": train,
        "bundle": f"curation bundle DIR NEW_BUNDLE --run NEW_RUN_ID",
        "feedback": f"curation ingest DIR FEEDBACK_FOLDER --feedback",
        "serve": f"curation deploy {out} --port 8000",
    }


def write_card(store, out: Path, run: dict, spec: dict, classes: list[str], variants: dict, ood: dict) -> dict:
    snapshot = pd.read_parquet(store.project.root / "runs" / f"run-{run['id']:04d}" / "snapshot.parquet",
                               columns=["image_id", "label", "split"])
    card = {"run": {k: run[k] for k in ("id", "arch", "dataset_version", "params", "weights", "device", "created_by")}
            | {"finished_at": str(run.get("finished_at"))},
            **gather_record(store, run, snapshot, classes, spec), "labels": classes, "preprocess": spec,
            "upstream_models": upstream_models(spec), "variants": variants,
            "out_of_domain": ood, "how_to_update": update_commands(run, Path(out).resolve())}
    card["limits"] = limits(card)
    (Path(out) / "model_card.json").write_text(json.dumps(card, indent=2, default=str))
    (Path(out) / "MODEL_CARD.md").write_text(markdown(card))
    return card


def limits(card: dict) -> list[str]:
    notes = []
    few = [f"{label} ({n})" for label, n in card["dataset"]["per_label"].items() if n < FEW_IMAGES]
    if few:
        notes.append(f"Labels with fewer than {FEW_IMAGES} training and validation images: {', '.join(few)}; "
                     "their figures rest on a handful of images.")
    val_n = card["metrics"]["val_images"]
    notes.append(f"Validation holds {val_n} images, so every figure here has a wide interval: read the brackets, "
                 "not the point estimates.")
    if not card["metrics"]["per_subgroup"]:
        notes.append("No attribute (gender, skin tone, age...) has been tagged on the Audit page, so how the model "
                     "serves different groups of people or pictures is unknown.")
    small = sorted({r["subgroup"] for r in card["metrics"]["per_subgroup"] if r["accuracy"]["n"] < MIN_SUBGROUP_SIZE})
    if small:
        notes.append(f"Subgroups with fewer than {MIN_SUBGROUP_SIZE} validation images: {', '.join(small)}.")
    ood = card["out_of_domain"]
    notes.append(f"The out-of-domain threshold ({ood['threshold']:.4g} on the {ood['method']} score) was calibrated "
                 f"on {ood['calibrated_on']}: by construction it calls 5% of such inputs out of domain, and an input "
                 "unlike the training data but also unlike the blurred, noised and generated tests may pass it.")
    if card["preprocess"]["kind"] == "face":
        notes.append("The model knows only the people in its labels: a face of anyone else gets one of those labels "
                     "unless the gate flags it (see Out-of-domain inputs). With several faces, the answer is the "
                     "face nearest the centre; every face is in `faces`.")
    int8 = card["variants"]["int8"]
    if not int8["keeps_accuracy"]:
        notes.append(f"The int8 variant loses {-int8['accuracy_delta']:.1%} of validation accuracy: serve fp32.")
    return notes


def markdown(card: dict) -> str:
    run, data, metrics, ood, spec = card["run"], card["dataset"], card["metrics"], card["out_of_domain"], card["preprocess"]
    subject = "faces (one identity per label)" if spec["kind"] == "face" else "whole images"
    lines = [
        f"# Model card: run #{run['id']} ({run['arch']})",
        "",
        f"Classifies {subject} into {len(card['labels'])} labels: {', '.join(card['labels'])}. "
        f"Validation accuracy {pct(metrics['accuracy'])} on {metrics['val_images']} images (95% Wilson interval). "
        f"Made by Curation Studio from dataset version `{data['version']}`; trained by {run['created_by'] or 'unknown'}, "
        f"finished {run['finished_at']}.",
        "",
        "## Dataset",
        "",
        f"Version `{data['version']}` ({data['created_at']}): {data['images']} images, split "
        f"{data['split'].get('train', 0)} for training and {data['split'].get('val', 0)} for validation "
        "(stratified per label, seed in the run's parameters).",
        "",
        table([{"label": k, "images": v} for k, v in data["per_label"].items()]),
        "Left out of this version: " + (", ".join(f"{k.replace('_', ' ')} {v}" for k, v in data["left_out"].items())
                                        or "nothing") + ".",
        "",
        "### Where the images came from",
        "",
        table(data["provenance"], ["provider", "query", "license", "images"]),
        "### How the data was cleaned",
        "",
        f"- Files that could not be used (whole project): "
        + (", ".join(f"{k} {v}" for k, v in data["cleaning"]["failed_by_reason"].items()) or "none") + ".",
        f"- Exact duplicate files stored once: {data['cleaning']['exact_duplicates']}.",
        "- Images flagged (and so left out of training), by kind and by whom: "
        + (", ".join(f"{f['kind']} {f['images']} by {f['by']}" for f in data["cleaning"]["flags"]) or "none") + ".",
        f"- Identity cleaning runs: {data['cleaning']['cleaning_runs']}; suggestions accepted, by action and by whom: "
        + (", ".join(f"{c['action']} {c['decided']} by {c['by']}" for c in data["cleaning"]["cleaning_decisions"])
           or "none") + ".",
        "- Labels set or changed by hand, by whom: "
        + (", ".join(f"{x['images']} images by {x['by']}" for x in data["cleaning"]["labelled_by"]) or "none"
           + " (labels come from the folders the files were filed under)") + ".",
        "",
        "## Preprocessing",
        "",
        f"What runs in Python: {spec['runs_where']['python']}. What runs in ONNX: {spec['runs_where']['onnx']}.",
        "",
        f"- Decoding: {spec['decode']}.",
    ]
    if spec["kind"] == "face":
        lines += [
            f"- Detection: MTCNN on the image shrunk to at most {spec['detector']['max_side']} px, every face kept.",
            f"- Alignment: {spec['alignment']['landmarks']}; {spec['alignment']['method']}; "
            f"{spec['alignment']['chip_side']} px chips with padding {spec['alignment']['padding']}, stored and "
            f"served through JPEG quality {spec['alignment']['chip_jpeg_quality']}.",
            f"- Normalisation: {spec['normalisation']['inside_graph']} (inside the ONNX graph).",
            f"- Head: {spec['head']}. Answer: {spec['answer_face']}.",
            "- Faces per image in this dataset version: "
            + ", ".join(f"{n} face(s): {k} images" for n, k in card["preprocessing"]["faces_per_image"].items()) + ".",
        ]
    else:
        lines += [f"- Resize: {spec['resize']}.",
                  f"- Normalisation: scale {spec['normalisation']['scale']}, mean {spec['normalisation']['mean']}, "
                  f"std {spec['normalisation']['std']}.",
                  "- Training augmentation (not at inference): random resized crop, flip, rotation, perspective, "
                  "brightness and contrast."]
    notes = card["preprocessing"]["normalised_on_ingest"]
    lines += ["- How ingest changed the raw files of this version: "
              + (", ".join(f"{k}: {v} images" for k, v in notes.items()) or "nothing (all were plain 8-bit RGB)") + ".",
              "", "## Upstream models", "",
              table(card["upstream_models"], ["model", "role", "file", "sha256", "bytes"]),
              "This bundle's own files:",
              "",
              table([{"variant": k, **v} for k, v in card["variants"].items()], ["variant", "file", "size_mb", "sha256"]),
              "## How to update", "",
              "Everything below runs from a terminal against the project folder DIR (the app's pages do the same).",
              "", "```bash",
              "# 1. bring what production logged (out-of-domain and low-confidence inputs) into the project",
              card["how_to_update"]["feedback"],
              "# 2. label them on Review (filter: From production), then retrain on the new dataset version",
              card["how_to_update"]["retrain"],
              "# 3. compare the new run with this one on Evaluate, then bundle and serve it",
              card["how_to_update"]["bundle"], card["how_to_update"]["serve"], "```", ""]
    if spec["kind"] == "face":
        lines += ["Only the linear head is trained (seconds, on stored embeddings); the detector, the landmarks and "
                  "the embedder are frozen published models, fixed by the hashes above. Fine-tuning the embedder "
                  "is not supported by Curation Studio.", ""]
    else:
        lines += ["`curation train` starts from ImageNet weights (or from scratch). To fine-tune from this bundle "
                  "instead, load `model.torchscript.pt` with `torch.jit.load` (its parameters are trainable) and "
                  "train on new images with the preprocessing above.", ""]
    lines += ["## Metrics", "",
              f"On the run's {metrics['val_images']} validation images: accuracy {pct(metrics['accuracy'])}, "
              f"macro F1 {cell(metrics['macro_f1'])}; training accuracy {cell(metrics['train_accuracy'])}. "
              "Brackets are 95% Wilson intervals.", "",
              table([{"label": r["label"], "recall": pct(r["recall"]), "precision": pct(r["precision"]),
                      "f1": r["f1"], "val images": r["recall"]["n"]} for r in metrics["per_class"]]),
              "Per audited subgroup (validation accuracy):", "",
              table([{"attribute": r["attribute"], "subgroup": r["subgroup"], "images": r["images"],
                      "accuracy": pct(r["accuracy"])} for r in metrics["per_subgroup"]])
              if metrics["per_subgroup"] else "_No attribute has been tagged on the Audit page._\n",
              "Variants (ONNX Runtime on the CPU of the machine that made the bundle):", "",
              table([{"variant": k, "size MB": v["size_mb"], "val accuracy": v["val_accuracy"],
                      "batch 1 p50/p99 ms": f"{v['latency'][0]['p50_ms']} / {v['latency'][0]['p99_ms']}",
                      "batch 32 p50/p99 ms": f"{v['latency'][1]['p50_ms']} / {v['latency'][1]['p99_ms']}"}
                     for k, v in card["variants"].items() if "latency" in v]),
              f"int8: accuracy change {card['variants']['int8']['accuracy_delta']:+.1%}, "
              f"{card['variants']['int8']['size_ratio']:.2f}x the fp32 size.", "",
              "## Out-of-domain inputs", "",
              f"Every answer carries `ood_score` (higher: further from the training data) and `ood`. Score: "
              f"**{ood['method']}**, chosen by measurement: {ood['why']} Threshold {ood['threshold']:.4g}, "
              f"calibrated so that {ood['pass_rate']:.0%} of {ood['calibrated_on']} pass.", ""]
    if ood.get("no_face"):
        lines += [f"An image with no face is {ood['no_face']}: `ood` true, `ood_score` null.", ""]
    lines += ["AUROC of each candidate score against inputs made out of domain at bundle time:", "",
              table([{"score": m, **{k: v for k, v in row.items()}} for m, row in ood["auroc"].items()]),
              f"Inputs less confident than {ood['low_confidence']:.3f} (the 5th percentile of validation) are "
              "logged for review like out-of-domain ones.", "",
              "## Limits", ""] + [f"- {note}" for note in card["limits"]] + [""]
    return "\n".join(lines)
