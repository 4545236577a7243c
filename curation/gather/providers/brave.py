"""Brave Image Search API: one page of up to 200 images a query; needs BRAVE_API_KEY."""

from __future__ import annotations

from . import Hit, Page, Provider, as_int, register


@register
class Brave(Provider):
    name = "brave"
    title = "Brave Image Search"
    default_url = "https://api.search.brave.com"
    key_env = "BRAVE_API_KEY"
    page_size = 200

    async def page(self, client, query, number, wanted):
        headers = {"Accept": "application/json", "X-Subscription-Token": self.api_key() or ""}
        params = {"q": query, "count": min(max(wanted, 1), self.page_size)}
        data = await self.get_json(client, "/res/v1/images/search", params, headers)
        results = data.get("results") or []
        hits = [self.hit(query, r) for r in results if isinstance(r, dict) and (r.get("properties") or {}).get("url")]
        return Page(hits, more=False)

    def hit(self, query: str, r: dict) -> Hit:
        properties = r["properties"]
        return Hit(self.name, query, properties["url"], page_url=r.get("url"), title=r.get("title"),
                   attribution=r.get("source"), listed_width=as_int(properties.get("width")),
                   listed_height=as_int(properties.get("height")))
