"""Wikimedia Commons: free media with licence and author in each file's metadata; no key."""

from __future__ import annotations

from . import Hit, Page, Provider, ProviderError, as_int, plain_text, register

METADATA = "LicenseShortName|Artist|Attribution|Credit"


def meta(extmetadata: dict, key: str):
    entry = extmetadata.get(key)
    return entry.get("value") if isinstance(entry, dict) else None


@register
class WikimediaCommons(Provider):
    name = "wikimedia"
    title = "Wikimedia Commons"
    default_url = "https://commons.wikimedia.org"
    page_size = 50

    async def page(self, client, query, number, wanted):
        params = {
            "action": "query", "format": "json", "formatversion": "2", "generator": "search",
            "gsrsearch": f"{query} filetype:bitmap", "gsrnamespace": "6", "gsrlimit": self.page_size,
            "gsroffset": (number - 1) * self.page_size, "prop": "imageinfo",
            "iiprop": "url|size|mime|extmetadata", "iiextmetadatafilter": METADATA,
        }
        data = await self.get_json(client, "/w/api.php", params)
        if "error" in data:
            error = data["error"] if isinstance(data["error"], dict) else {}
            raise ProviderError(f"{self.title} could not search: {error.get('info') or 'an unknown error'}.")
        pages = (data.get("query") or {}).get("pages") or []
        pages = sorted((p for p in pages if isinstance(p, dict) and p.get("imageinfo")), key=lambda p: p.get("index", 0))
        hits = [self.hit(query, p) for p in pages if p["imageinfo"][0].get("url")]
        return Page(hits, more="continue" in data)

    def hit(self, query: str, p: dict) -> Hit:
        info = p["imageinfo"][0]
        extmetadata = info.get("extmetadata") or {}
        creator = plain_text(meta(extmetadata, "Artist"))
        attribution = plain_text(meta(extmetadata, "Attribution") or meta(extmetadata, "Credit"))
        return Hit(
            self.name, query, info["url"], page_url=info.get("descriptionurl"),
            title=str(p.get("title", "")).removeprefix("File:") or None, creator=creator,
            license=plain_text(meta(extmetadata, "LicenseShortName")), attribution=attribution,
            listed_width=as_int(info.get("width")), listed_height=as_int(info.get("height")),
            listed_bytes=as_int(info.get("size")),
        )
