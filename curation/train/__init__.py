"""Training and evaluation: dataset versions, ResNet-34 fine-tuning, a linear head, metrics."""
