"""DuckDuckGo images through the `ddgs` package: no key; about 100 results a page; no licence given.

ddgs asks duckduckgo.com for a search token, then its `i.js` endpoint for results, at fixed
addresses; the engine here is ddgs's own with those two addresses taken from our base URL, so
`CURATION_DUCKDUCKGO_URL` can point it elsewhere. ddgs makes its requests with its own HTTP client,
which the SSRF guard cannot wrap, so the base URL's host is checked by the guard before searching.
"""

from __future__ import annotations

import asyncio

import httpcore
import httpx
from ddgs.engines.duckduckgo_images import DuckduckgoImages
from ddgs.exceptions import DDGSException
from ddgs.utils import _extract_vqd

from ..guard import Guard, Refused
from . import Hit, Page, Provider, ProviderError, as_int, register

TIMEOUT_S = 10


class RelocatedEngine(DuckduckgoImages):
    """ddgs's DuckDuckGo images engine, asking `base` instead of duckduckgo.com."""

    def __init__(self, base: str):
        super().__init__(timeout=TIMEOUT_S)
        self.base = base
        self.search_url = f"{base}/i.js"

    def _get_vqd(self, query: str) -> str:
        return _extract_vqd(self.http_client.request("GET", f"{self.base}/", params={"q": query}).content, query)


@register
class DuckDuckGo(Provider):
    name = "duckduckgo"
    title = "DuckDuckGo"
    default_url = "https://duckduckgo.com"
    page_size = 100

    async def page(self, client, query, number, wanted):
        base = self.base_url()
        await self.check_address(base)
        try:
            results = await asyncio.to_thread(RelocatedEngine(base).search, query, page=number)
        except DDGSException as exc:
            raise ProviderError(f"{self.title} could not search ({exc}); it may be limiting requests: "
                                "wait a while and try again.") from None
        if results is None:
            raise ProviderError(f"{self.title} answered with an error; it may be limiting requests: "
                                "wait a while and try again.")
        hits = [self.hit(query, r) for r in results if r.image]
        return Page(hits, more=bool(hits))

    async def check_address(self, base: str) -> None:
        url = httpx.URL(base)
        try:
            await Guard.from_env().resolve(url.host, url.port or (443 if url.scheme == "https" else 80))
        except Refused as exc:
            raise self.refused(exc) from None
        except httpcore.ConnectError as exc:
            raise ProviderError(f"{self.title} could not be reached at {base} ({exc}).") from None

    def hit(self, query: str, r) -> Hit:
        return Hit(self.name, query, r.image, page_url=r.url or None, title=r.title or None,
                   attribution=r.source or None, listed_width=as_int(r.width), listed_height=as_int(r.height))
