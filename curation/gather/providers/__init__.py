"""Image-search providers, one module each, registered by name: adding one is one small module.

A provider turns a query and a page number into hits, each carrying its provenance (where the
image is, the page it is on, title, creator, licence, attribution, size when the provider gives
it). `search` pages through a provider until it has the hits wanted. Each provider's base URL
comes from `CURATION_<NAME>_URL` when set (tests point it at a fake server on loopback); keys come
from the environment or, in the app, from Streamlit secrets (`use_secrets`). Every way a search
can go wrong ends as a `ProviderError` whose message a user can act on.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, replace
from typing import Mapping

import httpx

from ..download import retry_after
from ..guard import ALLOWED_ENV, Refused

PROVIDERS: dict[str, Provider] = {}
_SECRETS: dict[str, str] = {}
MAX_PAGES = 50
SEARCH_RETRIES = 2
SEARCH_MAX_WAIT = 10.0


class ProviderError(Exception):
    """A search that cannot be made or failed, with a sentence that says why and what to do."""


@dataclass(frozen=True)
class Hit:
    provider: str
    query: str
    url: str
    rank: int = 0
    page_url: str | None = None
    title: str | None = None
    creator: str | None = None
    license: str | None = None
    attribution: str | None = None
    listed_width: int | None = None
    listed_height: int | None = None
    listed_bytes: int | None = None

    def provenance(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Page:
    hits: list[Hit]
    more: bool


def register(cls):
    PROVIDERS[cls.name] = cls()
    return cls


def get_provider(name: str) -> Provider:
    if name not in PROVIDERS:
        raise ProviderError(f"There is no provider '{name}'; choose one of {', '.join(PROVIDERS)}.")
    return PROVIDERS[name]


def use_secrets(values: Mapping[str, str]) -> None:
    """Keys found in the app's secrets, used when the environment does not set them."""
    _SECRETS.update({k: v for k, v in values.items() if v})


def plain_text(value) -> str | None:
    """Text from a provider field that may hold HTML (Wikimedia's artist), as plain text."""
    if value is None:
        return None
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", str(value))).split())
    return text or None


def as_int(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class Provider(ABC):
    name: str
    title: str
    default_url: str
    key_env: str | None = None
    page_size: int

    def base_url(self) -> str:
        return os.environ.get(f"CURATION_{self.name.upper()}_URL", self.default_url).rstrip("/")

    def api_key(self) -> str | None:
        if self.key_env is None:
            return None
        return os.environ.get(self.key_env) or _SECRETS.get(self.key_env)

    def missing_key(self) -> str | None:
        """Why this provider cannot search yet (no key), or None."""
        if self.key_env and not self.api_key():
            return (f"{self.title} needs an API key: set {self.key_env} in the environment "
                    f"or in the app's .streamlit/secrets.toml.")
        return None

    @abstractmethod
    async def page(self, client: httpx.AsyncClient, query: str, number: int, wanted: int) -> Page:
        """Hits of result page `number` (from 1), `wanted` being how many more the search needs."""

    async def get_json(self, client: httpx.AsyncClient, path: str, params: dict, headers: dict | None = None) -> dict:
        """GET the provider's JSON, retrying 429 and 5xx briefly; every failure as a `ProviderError`."""
        for attempt in range(SEARCH_RETRIES + 1):
            response = await self._get(client, path, params, headers)
            if response.status_code != 429 and response.status_code < 500:
                break
            wait = retry_after(response.headers.get("retry-after"))
            if attempt == SEARCH_RETRIES or (wait or 0) > SEARCH_MAX_WAIT:
                break
            await asyncio.sleep(wait if wait is not None else 0.5 * 2 ** attempt)
        if response.status_code >= 400:
            raise ProviderError(self.http_error(response))
        try:
            data = response.json()
        except ValueError:
            raise ProviderError(f"{self.title} answered with something that is not JSON.") from None
        if not isinstance(data, dict):
            raise ProviderError(f"{self.title} answered in a format this version does not know.")
        return data

    async def _get(self, client, path, params, headers) -> httpx.Response:
        url = f"{self.base_url()}{path}"
        try:
            return await client.get(url, params=params, headers=headers, follow_redirects=True)
        except Refused as exc:
            raise self.refused(exc) from None
        except httpx.TimeoutException:
            raise ProviderError(f"{self.title} did not answer in time ({url}); try again later.") from None
        except httpx.HTTPError as exc:
            raise ProviderError(f"{self.title} could not be reached at {url} ({type(exc).__name__}).") from None

    def refused(self, exc: Refused) -> ProviderError:
        return ProviderError(f"{self.title}'s address is refused: {exc} Set {ALLOWED_ENV} to allow it.")

    def http_error(self, response: httpx.Response) -> str:
        code = response.status_code
        if code in (401, 403):
            hint = "check its API key" if self.key_env else "it may be blocking this machine"
            return f"{self.title} refused the search (HTTP {code}): {hint}."
        if code == 429:
            return f"{self.title} is limiting how often it is asked (HTTP 429): wait a while and try again."
        return f"{self.title} answered with an error (HTTP {code}); try again later."


async def search(provider: Provider, client: httpx.AsyncClient, query: str, wanted: int) -> list[Hit]:
    """Up to `wanted` hits for `query`, ranked from 1 in the provider's order, each URL once."""
    hits: list[Hit] = []
    seen: set[str] = set()
    for page_number in range(1, MAX_PAGES + 1):
        try:
            page = await provider.page(client, query, page_number, wanted - len(hits))
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ProviderError(f"{provider.title} answered in a format this version does not know "
                                f"({type(exc).__name__}: {exc}).") from None
        fresh = [hit for hit in page.hits if hit.url and hit.url not in seen]
        for hit in fresh:
            seen.add(hit.url)
            hits.append(replace(hit, rank=len(hits) + 1))
            if len(hits) == wanted:
                return hits
        if not page.more or not fresh:
            break
    return hits


from . import brave, duckduckgo, openverse, serpapi, wikimedia  # noqa: E402,F401  (each registers itself)
