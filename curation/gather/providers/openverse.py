"""Openverse: openly licensed images, with licence and attribution; no key (anonymous: 20 a page)."""

from __future__ import annotations

from . import Hit, Page, Provider, as_int, register

LICENCE_NAMES = {"cc0": "CC0", "pdm": "Public Domain Mark"}


def licence_name(code: str | None, version: str | None) -> str | None:
    if not code:
        return None
    name = LICENCE_NAMES.get(code.lower(), f"CC {code.upper()}")
    return f"{name} {version}" if version and code.lower() != "pdm" else name


@register
class Openverse(Provider):
    name = "openverse"
    title = "Openverse"
    default_url = "https://api.openverse.org"
    page_size = 20

    async def page(self, client, query, number, wanted):
        data = await self.get_json(client, "/v1/images/", {"q": query, "page": number, "page_size": self.page_size})
        results = data.get("results") or []
        hits = [self.hit(query, r) for r in results if isinstance(r, dict) and r.get("url")]
        return Page(hits, more=number < (as_int(data.get("page_count")) or 0))

    def hit(self, query: str, r: dict) -> Hit:
        return Hit(
            self.name, query, r["url"], page_url=r.get("foreign_landing_url"), title=r.get("title"),
            creator=r.get("creator"), license=licence_name(r.get("license"), r.get("license_version")),
            attribution=r.get("attribution"), listed_width=as_int(r.get("width")),
            listed_height=as_int(r.get("height")), listed_bytes=as_int(r.get("filesize")),
        )
