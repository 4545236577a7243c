"""A fake image-search and image server on loopback, for the tests and the download benchmark.

It speaks each provider's JSON (Openverse, Wikimedia Commons, DuckDuckGo as ddgs reads it, SerpApi,
Brave) and serves generated images (curation.synth) plus every failure the downloader must survive:
404; 500 then 200; 429 with Retry-After then 200; an answer slower than the timeout; a redirect
loop; HTML served as image/jpeg; a truncated JPEG; a body far over the byte limit; a redirect to
127.0.0.2, outside the network the tests allow. It answers on several ports of 127.0.0.1, each a
"host" for the downloader's per-host limit, can add a delay to every response, and can speak TLS.

A query's hits are `images_per_query` generated images unless `queries[query]` lists paths; the
query `provider-down` makes every search endpoint answer 503, and Wikimedia answers `garbled` with
JSON of the wrong shape. Run as a script (`python tests/fakeserver.py --hosts 8 --delay 0.05`), it
prints one JSON line with its base URLs and serves until killed: the benchmark runs it so, in a
process of its own.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import ssl
import threading
import time
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from curation import synth

API_KEY = "test-key"
LICENCES = [("by", "4.0"), ("by-sa", "2.0"), ("cc0", "1.0")]
HTML_PAGE = b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><p>Please sign in.</p></body></html>\n"
HUGE_BYTES = 64 * 2**20

FAILURES = {
    "not_found": "/fail/404.jpg",
    "server_error_once": "/fail/500-once.jpg",
    "rate_limited_once": "/fail/429-once.jpg",
    "slow": "/fail/slow.jpg",
    "redirect_loop": "/fail/loop-a.jpg",
    "html_as_jpeg": "/fail/html.jpg",
    "truncated_jpeg": "/fail/truncated.jpg",
    "huge": "/fail/huge.jpg",
    "private_redirect": "/fail/private.jpg",
}


def slug_of(query: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in query.lower()).split()) or "q"


def jpeg(slug: str, index: int) -> bytes:
    seed = zlib.crc32(slug.encode())
    size = (120 + (index * 37 + seed) % 100, 100 + (index * 53 + seed) % 80)
    buf = io.BytesIO()
    synth.photo_like(index, size, seed=seed).save(buf, "JPEG", quality=85)
    return buf.getvalue()


class FakeWeb:
    """The shared state of every port: what each query finds, what was asked, the images made."""

    def __init__(self, hosts: int = 1, delay: float = 0.0, images_per_query: int = 30, slow_seconds: float = 3.0,
                 tls: ssl.SSLContext | None = None):
        self.delay, self.images_per_query, self.slow_seconds = delay, images_per_query, slow_seconds
        self.queries: dict[str, list[str]] = {}
        self.log: list[tuple[int, str]] = []
        self._counts: dict[str, int] = {}
        self.in_flight: Counter = Counter()
        self.peak: Counter = Counter()
        self.peak_total = 0
        self._images: dict[tuple[str, int], bytes] = {}
        self._lock = threading.Lock()
        self.servers = [FakeHTTPServer(("127.0.0.1", 0), Handler, self) for _ in range(hosts)]
        if tls:
            for server in self.servers:
                server.socket = tls.wrap_socket(server.socket, server_side=True)
        self.ports = [s.server_address[1] for s in self.servers]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}"

    def bases(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.ports]

    def env(self) -> dict[str, str]:
        """The environment that points every provider here and allows only 127.0.0.1."""
        urls = {f"CURATION_{name}_URL": self.base for name in ("OPENVERSE", "WIKIMEDIA", "DUCKDUCKGO", "SERPAPI", "BRAVE")}
        return {**urls, "CURATION_ALLOWED_NETWORKS": "127.0.0.1/32"}

    def start(self) -> FakeWeb:
        for server in self.servers:
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                             name=f"fakeweb-{server.server_address[1]}").start()
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> FakeWeb:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def url(self, path: str, index: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports[index % len(self.ports)]}{path}"

    def paths(self, query: str) -> list[str]:
        if query in self.queries:
            return self.queries[query]
        slug = slug_of(query)
        return [f"/img/{slug}/{i}.jpg" for i in range(self.images_per_query)]

    def requested(self, prefix: str = "") -> list[str]:
        with self._lock:
            return [path for _, path in self.log if path.startswith(prefix)]

    def image(self, slug: str, index: int) -> bytes:
        with self._lock:
            cached = self._images.get((slug, index))
        if cached is None:
            cached = jpeg(slug, index)
            with self._lock:
                self._images[(slug, index)] = cached
        return cached

    def count(self, path: str) -> int:
        """How many times `path` has been asked for, this time included."""
        with self._lock:
            self._counts[path] = self._counts.get(path, 0) + 1
            return self._counts[path]

    def record(self, port: int, path: str) -> None:
        with self._lock:
            self.log.append((port, path))

    def enter(self, port: int) -> None:
        """A request on `port` starts waiting out the delay: keep the most ever waiting, per port and
        overall. The count ends before the answer is written, so a client that sends its next request
        on receiving an answer is never counted twice."""
        with self._lock:
            self.in_flight[port] += 1
            self.peak[port] = max(self.peak[port], self.in_flight[port])
            self.peak_total = max(self.peak_total, sum(self.in_flight.values()))

    def leave(self, port: int) -> None:
        with self._lock:
            self.in_flight[port] -= 1

    def listing(self, query: str) -> list[dict]:
        """Every hit of `query` in a neutral form, before a provider's JSON shapes it."""
        hits = []
        for i, path in enumerate(self.paths(query)):
            code, version = LICENCES[i % len(LICENCES)]
            hits.append({
                "url": self.url(path, i), "page": self.url(f"/page/{slug_of(query)}/{i}", i),
                "title": f"{query} {i} <b>*bold*</b>", "creator": f"Photographer {i % 3}",
                "license": code, "version": version, "width": 160, "height": 120, "bytes": 12000,
            })
        return hits


class FakeHTTPServer(ThreadingHTTPServer):
    request_queue_size = 256

    def __init__(self, address, handler, web: FakeWeb):
        super().__init__(address, handler)
        self.web = web


def openverse(web: FakeWeb, q: dict) -> dict:
    hits = web.listing(q["q"])
    size, page = int(q.get("page_size", 20)), int(q.get("page", 1))
    chunk = hits[(page - 1) * size: page * size]
    return {"result_count": len(hits), "page_count": math.ceil(len(hits) / size), "page_size": size, "page": page,
            "results": [{"id": f"id-{i}", "title": h["title"], "url": h["url"], "foreign_landing_url": h["page"],
                         "creator": h["creator"], "license": h["license"], "license_version": h["version"],
                         "attribution": f"\"{h['title']}\" by {h['creator']} is licensed under CC {h['license'].upper()}.",
                         "width": h["width"], "height": h["height"], "filesize": h["bytes"]}
                        for i, h in enumerate(chunk)]}


def wikimedia(web: FakeWeb, q: dict) -> dict:
    if q["gsrsearch"].startswith("garbled"):
        return {"query": {"pages": [{"title": "File:x.jpg", "imageinfo": "not a list of dicts"}]}}
    hits = web.listing(q["gsrsearch"].removesuffix(" filetype:bitmap"))
    offset, limit = int(q.get("gsroffset", 0)), int(q.get("gsrlimit", 50))
    chunk = hits[offset: offset + limit]
    pages = [{"pageid": offset + i, "ns": 6, "title": f"File:{h['title']}.jpg", "index": offset + i + 1,
              "imageinfo": [{"url": h["url"], "descriptionurl": h["page"], "width": h["width"], "height": h["height"],
                             "size": h["bytes"], "mime": "image/jpeg", "extmetadata": {
                                 "LicenseShortName": {"value": f"CC {h['license'].upper()} {h['version']}"},
                                 "Artist": {"value": f"<a href=\"https://example.org/u\">{h['creator']}</a> &amp; co"}}}]}
             for i, h in enumerate(chunk)]
    data = {"batchcomplete": True, "query": {"pages": pages}}
    if offset + limit < len(hits):
        data["continue"] = {"gsroffset": offset + limit, "continue": "gsroffset||"}
    return data


def duckduckgo(web: FakeWeb, q: dict) -> dict:
    hits = web.listing(q["q"])
    offset = int(q.get("s", 0))
    return {"results": [{"title": h["title"], "image": h["url"], "thumbnail": h["url"], "url": h["page"],
                         "height": h["height"], "width": h["width"], "source": "Bing"} for h in hits[offset: offset + 100]]}


def serpapi(web: FakeWeb, q: dict) -> tuple[int, dict]:
    if q.get("api_key") != API_KEY:
        return 401, {"error": "Invalid API key. Your API key should be here: https://serpapi.com/manage-api-key"}
    page = int(q.get("ijn", 0))
    chunk = web.listing(q["q"])[page * 100: (page + 1) * 100]
    if not chunk:
        return 200, {"error": "Google hasn't returned any results for this query."}
    return 200, {"search_metadata": {"status": "Success"}, "images_results": [
        {"position": page * 100 + i + 1, "title": h["title"], "link": h["page"], "source": "Example site",
         "original": h["url"], "original_width": h["width"], "original_height": h["height"], "thumbnail": h["url"]}
        for i, h in enumerate(chunk)]}


def brave(web: FakeWeb, q: dict, token: str | None) -> tuple[int, dict]:
    if token != API_KEY:
        return 401, {"type": "ErrorResponse", "error": {"status": 401, "code": "SUBSCRIPTION_TOKEN_INVALID",
                                                         "detail": "The provided subscription token is invalid."}}
    hits = web.listing(q["q"])[: int(q.get("count", 50))]
    return 200, {"type": "images", "results": [
        {"type": "image_result", "title": h["title"], "url": h["page"], "source": "example.org",
         "thumbnail": {"src": h["url"]}, "properties": {"url": h["url"], "width": h["width"], "height": h["height"]}}
        for h in hits]}


KEYLESS_SEARCHES = {"/v1/images/": openverse, "/w/api.php": wikimedia, "/i.js": duckduckgo}
SEARCH_PATHS = (*KEYLESS_SEARCHES, "/search.json", "/res/v1/images/search")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeHTTPServer

    def log_message(self, *args) -> None:
        """Quiet: the tests read `FakeWeb.log` instead."""

    @property
    def web(self) -> FakeWeb:
        return self.server.web

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        port = self.server.server_address[1]
        self.web.record(port, parts.path)
        self.web.enter(port)
        try:
            time.sleep(self.web.delay)
        finally:
            self.web.leave(port)
        try:
            self.route(parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}, port)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def route(self, path: str, q: dict, port: int) -> None:
        if path in SEARCH_PATHS:
            return self.search(path, q)
        if path == "/":
            return self.send(200, b'<html><script>vqd="4-1234567890";</script></html>', "text/html")
        if path.startswith("/img/") or path.startswith("/copy/"):
            return self.image_at(path)
        if path.startswith("/redirect/"):
            return self.redirect(path.removeprefix("/redirect"))
        if path.startswith("/fail/"):
            return self.failure(path, port)
        self.send(404, b"not found", "text/plain")

    def search(self, path: str, q: dict) -> None:
        query = q.get("q") or q.get("gsrsearch", "")
        if query.startswith("provider-down"):
            return self.send(503, b'{"error": "Service unavailable"}', "application/json", {"Retry-After": "0"})
        if path == "/search.json":
            return self.send_json(*serpapi(self.web, q))
        if path == "/res/v1/images/search":
            return self.send_json(*brave(self.web, q, self.headers.get("X-Subscription-Token")))
        self.send_json(200, KEYLESS_SEARCHES[path](self.web, q))

    def image_at(self, path: str) -> None:
        _, _, slug, name = path.split("/", 3)
        self.send(200, self.web.image(slug, int(name.split(".")[0])), "image/jpeg")

    def failure(self, path: str, port: int) -> None:
        name = path.removeprefix("/fail/")
        if name == "404.jpg":
            return self.send(404, b"no such image", "text/plain")
        if name == "500-once.jpg" and self.web.count(path) == 1:
            return self.send(500, b"try again", "text/plain")
        if name == "429-once.jpg" and self.web.count(path) == 1:
            return self.send(429, b"slow down", "text/plain", {"Retry-After": "1"})
        if name == "slow.jpg":
            time.sleep(self.web.slow_seconds)
        if name.startswith("loop-"):
            return self.redirect("/fail/loop-b.jpg" if name == "loop-a.jpg" else "/fail/loop-a.jpg")
        if name == "html.jpg":
            return self.send(200, HTML_PAGE, "image/jpeg")
        if name == "truncated.jpg":
            data = self.web.image("truncated", 0)
            return self.send(200, data[: len(data) * 3 // 5], "image/jpeg")
        if name == "huge.jpg":
            return self.stream_forever()
        if name == "private.jpg":
            return self.redirect(f"http://127.0.0.2:{port}/img/private/0.jpg")
        self.send(200, self.web.image("fail", zlib.crc32(name.encode()) % 1000), "image/jpeg")

    def redirect(self, location: str) -> None:
        self.send(302, b"", "text/plain", {"Location": location})

    def stream_forever(self) -> None:
        """An image/jpeg body of HUGE_BYTES with no Content-Length: only a limit while reading stops it."""
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = b"\xff\xd8\xff\xe0" + bytes(256 * 1024 - 4)
        for _ in range(HUGE_BYTES // len(chunk)):
            self.wfile.write(chunk)

    def send(self, code: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        """Status, headers and body in one write, as a real server sends a small answer."""
        lines = [f"{self.protocol_version} {code} {self.responses.get(code, ('',))[0]}",
                 "Server: fakeweb", f"Content-Type: {content_type}", f"Content-Length: {len(body)}",
                 *(f"{name}: {value}" for name, value in (headers or {}).items())]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def send_json(self, code: int, data: dict) -> None:
        self.send(code, json.dumps(data).encode(), "application/json")


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the fake image web until killed.")
    parser.add_argument("--hosts", type=int, default=1, help="ports on 127.0.0.1, each a host")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds added to every response")
    parser.add_argument("--images", type=int, default=30, help="hits a query finds")
    parser.add_argument("--warm", default="", help="generate /img/SLUG/0..N-1.jpg first, as SLUG:N")
    args = parser.parse_args()
    web = FakeWeb(hosts=args.hosts, delay=args.delay, images_per_query=args.images)
    if args.warm:
        slug, n = args.warm.split(":")
        for i in range(int(n)):
            web.image(slug, i)
    web.start()
    print(json.dumps({"bases": web.bases()}), flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
