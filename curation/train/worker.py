"""The training worker process: `python -m curation.train.worker RUN_DIR`.

It reads `params.json` and `snapshot.parquet` from RUN_DIR, reports each epoch as a JSON line on
stdout (curation.jobs.worker's protocol) and writes, there: `predictions.parquet`, `model.pt` (state dict, classes, params),
`model.torchscript.pt` and `result.json`. It never touches the database, which the app's process
owns; the job that started it records what it wrote.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import torch

from ..lifeline import exit_with_parent
from .evaluate import final_metrics
from ..jobs.kinds import TrainParams
from .fit import fit_linear, fit_resnet34
from ..device import resolve_device
from ..jobs.worker import emit


def save_model(model, classes: list[str], params: TrainParams, example: torch.Tensor, run_dir: Path) -> None:
    model = model.eval().cpu()
    torch.save({"arch": params.arch, "classes": classes, "params": params.as_dict(), "state_dict": model.state_dict()},
               run_dir / "model.pt")
    if params.arch == "resnet34":
        model = model.to(memory_format=torch.contiguous_format)
    with torch.no_grad():
        torch.jit.trace(model, example).save(str(run_dir / "model.torchscript.pt"))


def train(run_dir: Path) -> dict:
    params = TrainParams(**json.loads((run_dir / "params.json").read_text()))
    table = pd.read_parquet(run_dir / "snapshot.parquet")
    device = resolve_device(params.device)
    if params.arch == "linear":
        model, classes, preds = fit_linear(table, params, lambda figures: emit(**figures))
        note, example = f"{params.embedder} embeddings", torch.zeros(1, model.in_features)
    else:
        model, classes, preds, note = fit_resnet34(table, params, device, lambda figures: emit(**figures),
                                                   lambda: False)
        example = torch.zeros(1, 3, params.image_size, params.image_size)
    preds.to_parquet(run_dir / "predictions.parquet", index=False)
    save_model(model, classes, params, example, run_dir)
    result = {"metrics": final_metrics(preds), "weights": note, "device": str(device)}
    (run_dir / "result.json").write_text(json.dumps(result))
    return result


if __name__ == "__main__":
    exit_with_parent()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    train(Path(sys.argv[1]))
