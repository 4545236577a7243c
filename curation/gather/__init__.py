"""Gather: image-search providers, a safe and fast downloader, and the run that ties them to the store.

`providers/` (one module per provider, registered by name), `guard` (the SSRF guard),
`download` (the asynchronous downloader), `run` (search, download, verify, record).
"""

from .download import Limits, reason_title
from .guard import GuardConfigError
from .providers import PROVIDERS, ProviderError, get_provider, use_secrets
from .run import MAX_PER_QUERY, GatherError, GatherRequest, GatherSummary, QuerySpec, check_request, gather, parse_queries

__all__ = ["MAX_PER_QUERY", "PROVIDERS", "GatherError", "GatherRequest", "GatherSummary", "GuardConfigError", "Limits",
           "ProviderError", "QuerySpec", "check_request", "gather", "get_provider", "parse_queries", "reason_title",
           "use_secrets"]
