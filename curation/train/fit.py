"""Training loops: fine-tuning ResNet-34 on images, and a logistic head on stored embeddings.

Both take a snapshot table (image_id, path, label, split[, vector]) and report each epoch through
`on_epoch`; both return predictions for every item and the model, ready to be saved.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..verify import load_rgb
from .augment import eval_transform, train_transform
from .evaluate import final_metrics
from ..jobs.kinds import TrainParams
from .models import build_resnet34

EpochCallback = Callable[[dict], None]


class Cancelled(Exception):
    """The user cancelled the run."""


class ImageSet(Dataset):
    def __init__(self, table: pd.DataFrame, classes: list[str], transform):
        self.paths = list(table["path"])
        self.targets = [classes.index(label) for label in table["label"]]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        return self.transform(load_rgb(self.paths[i], max_side=320)), self.targets[i]


def loader(table, classes, transform, batch_size: int, shuffle: bool, device: torch.device) -> DataLoader:
    workers = 0 if len(table) < 512 else min(4, max(1, (torch.get_num_threads() or 2) - 1))
    return DataLoader(ImageSet(table, classes, transform), batch_size=batch_size, shuffle=shuffle,
                      num_workers=workers, pin_memory=device.type == "cuda", persistent_workers=workers > 0)


def run_epoch(model, batches, device, optimiser=None, scheduler=None) -> tuple[float, float]:
    """One pass; trains when given an optimiser. Returns (mean loss, accuracy)."""
    model.train(optimiser is not None)
    total, correct, loss_sum = 0, 0, 0.0
    with torch.set_grad_enabled(optimiser is not None):
        for x, y in batches:
            x = x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            y = y.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                logits = model(x)
                loss = nn.functional.cross_entropy(logits, y, label_smoothing=0.1 if optimiser else 0.0)
            if optimiser is not None:
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                scheduler.step()
            total += len(y)
            correct += (logits.argmax(1) == y).sum().item()
            loss_sum += loss.item() * len(y)
    return loss_sum / max(total, 1), correct / max(total, 1)


def fit_resnet34(table: pd.DataFrame, params: TrainParams, device: torch.device, on_epoch: EpochCallback,
                 should_stop: Callable[[], bool]):
    """Fine-tune ResNet-34; returns (model, classes, predictions, weights note)."""
    torch.manual_seed(params.seed)
    classes = sorted(table["label"].unique())
    model, note = build_resnet34(len(classes))
    model = model.to(device, memory_format=torch.channels_last)
    train, val = table[table["split"] == "train"], table[table["split"] == "val"]
    train_batches = loader(train, classes, train_transform(params.image_size), params.batch_size, True, device)
    val_batches = loader(val, classes, eval_transform(params.image_size), params.batch_size * 2, False, device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=params.lr, weight_decay=0.05)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimiser, params.lr, total_steps=params.epochs * len(train_batches))
    for epoch in range(1, params.epochs + 1):
        if should_stop():
            raise Cancelled()
        start = time.perf_counter()
        train_loss, train_acc = run_epoch(model, train_batches, device, optimiser, scheduler)
        val_loss, val_acc = run_epoch(model, val_batches, device) if len(val) else (math.nan, math.nan)
        on_epoch({"epoch": epoch, "epochs": params.epochs, "train_loss": train_loss, "train_accuracy": train_acc,
                  "val_loss": val_loss, "val_accuracy": val_acc, "seconds": time.perf_counter() - start})
    batches = loader(table, classes, eval_transform(params.image_size), params.batch_size * 2, False, device)
    return model, classes, predict(model, batches, table, classes, device), note


@torch.inference_mode()
def predict(model, batches, table: pd.DataFrame, classes: list[str], device) -> pd.DataFrame:
    model.eval()
    logits = torch.cat([model(x.to(device).contiguous(memory_format=torch.channels_last)).float().cpu()
                        for x, _ in batches])
    return predictions_frame(table, classes, logits)


def predictions_frame(table: pd.DataFrame, classes: list[str], logits: torch.Tensor) -> pd.DataFrame:
    """One row per item: label, predicted, confidence (top softmax) and cross-entropy loss."""
    targets = torch.tensor([classes.index(label) for label in table["label"]])
    probs = logits.softmax(1)
    losses = nn.functional.cross_entropy(logits, targets, reduction="none")
    return pd.DataFrame({
        "image_id": table["image_id"].to_numpy(), "label": table["label"].to_numpy(),
        "predicted": [classes[i] for i in probs.argmax(1).tolist()],
        "confidence": probs.max(1).values.numpy().astype(float), "loss": losses.numpy().astype(float),
        "split": table["split"].to_numpy(),
    })


def fit_linear(table: pd.DataFrame, params: TrainParams, on_epoch: EpochCallback):
    """A multinomial logistic head on L2-normalised embeddings; returns (model, classes, predictions)."""
    from sklearn.linear_model import LogisticRegression

    classes = sorted(table["label"].unique())
    x = np.stack(table["vector"].to_numpy()).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True).clip(1e-12)
    y = np.array([classes.index(label) for label in table["label"]])
    train = (table["split"] == "train").to_numpy()
    start = time.perf_counter()
    head = LogisticRegression(C=10.0, max_iter=2000).fit(x[train], y[train])
    model = nn.Linear(x.shape[1], len(classes))
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(head.coef_).float())
        model.bias.copy_(torch.from_numpy(head.intercept_).float())
    logits = model(torch.from_numpy(x)).detach()
    preds = predictions_frame(table, classes, logits)
    on_epoch(epoch_figures(preds, time.perf_counter() - start))
    return model, classes, preds


def epoch_figures(preds: pd.DataFrame, seconds: float) -> dict:
    """The one-epoch record of a fit done in one step, from the same figures as the run's metrics."""
    metrics = final_metrics(preds)
    figures = {"epoch": 1, "epochs": 1, "seconds": seconds}
    for split in ("train", "val"):
        for figure in ("loss", "accuracy"):
            figures[f"{split}_{figure}"] = metrics.get(f"{split}_{figure}", math.nan)
    return figures
