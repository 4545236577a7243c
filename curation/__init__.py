"""Curation Studio: turn raw web images into a clean, labelled, audited dataset."""

__version__ = "0.1.0"

import logging

# A library stays quiet unless its host configures logging; the server (curation.server) does.
logging.getLogger(__name__).addHandler(logging.NullHandler())
