"""From a run to production and back: the bundle, its model card, the out-of-domain gate, the
inference service and the feedback it logs (DESIGN.md's "serve (deploy)")."""
