"""SerpApi's Google Images: Google's image results as JSON, 100 a page; needs SERPAPI_API_KEY."""

from __future__ import annotations

from . import Hit, Page, Provider, ProviderError, as_int, register

NO_RESULTS = "hasn't returned any results"


@register
class SerpApi(Provider):
    name = "serpapi"
    title = "SerpApi (Google Images)"
    default_url = "https://serpapi.com"
    key_env = "SERPAPI_API_KEY"
    page_size = 100

    async def page(self, client, query, number, wanted):
        params = {"engine": "google_images", "q": query, "ijn": number - 1, "api_key": self.api_key()}
        data = await self.get_json(client, "/search.json", params)
        error = data.get("error")
        if error and NO_RESULTS not in str(error):
            raise ProviderError(f"{self.title} could not search: {error}")
        results = data.get("images_results") or []
        hits = [self.hit(query, r) for r in results if isinstance(r, dict) and r.get("original")]
        return Page(hits, more=bool(hits))

    def hit(self, query: str, r: dict) -> Hit:
        return Hit(self.name, query, r["original"], page_url=r.get("link"), title=r.get("title"),
                   attribution=r.get("source"), listed_width=as_int(r.get("original_width")),
                   listed_height=as_int(r.get("original_height")))
