"""Curation Studio: turn raw web images into a clean, labelled, audited dataset."""

__version__ = "0.1.0"
