"""The built book in a real browser (headless Chromium, network disabled).

Every page of ``_build/html`` is served from 127.0.0.1 and opened in Chromium; any request to
another origin is aborted and counted. Per page: no raw TeX left in the rendered text and every
formula typeset by MathJax, every image (SVG included) loaded, no JavaScript console errors, no
request leaving the machine, and every internal link resolving (the file exists and so does the
anchor). Screenshots go to ``_build/screenshots/`` for a person to look at (never committed).

Skipped when the book is not built or no Chromium is found (set ``RNNPROOF_CHROMIUM`` to its
path). ``.ci/run`` installs Debian's chromium and runs this after ``make book``.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = os.environ.get("RNNPROOF_CHROMIUM") or shutil.which("chromium") \
    or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.skipif(not (HTML / "index.html").exists(), reason="the book is not built"),
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found (set RNNPROOF_CHROMIUM)"),
]

PAGES = sorted(p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html")
               if "_static" not in p.parts and "_sources" not in p.parts) \
    if HTML.is_dir() else []
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\(?:mathfrak|varepsilon|frac|sqrt|mathbb|"
                     r"mathcal|sum|langle|rangle|le|ge|cdot|infty|alpha|sigma|operatorname)"
                     r"(?![a-zA-Z])")

# visible text of the page body, without code blocks and MathJax's own output
VISIBLE_TEXT_JS = """() => {
  const main = document.querySelector('main') || document.body;
  const c = main.cloneNode(true);
  c.querySelectorAll('pre, code, script, style, mjx-container, .MathJax').forEach(e => e.remove());
  return c.innerText;
}"""
MATH_JS = """() => {
  const spans = [...document.querySelectorAll('span.math, div.math')];
  return {total: spans.length,
          typeset: spans.filter(s => s.querySelector('mjx-container')).length,
          errors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length};
}"""
IMAGES_JS = """() => [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))
  .map(i => i.getAttribute('src'))"""
OBJECTS_JS = """() => [...document.querySelectorAll('object[data]')]
  .filter(o => !o.contentDocument).map(o => o.getAttribute('data'))"""
LINKS_JS = """() => [...document.querySelectorAll('a[href]')].map(a => a.href)"""


@pytest.fixture(scope="module")
def server():
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # noqa: D401 (silence the access log)
        pass


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


REFRESH = re.compile(r'<meta\s+http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"', re.I)
HAS_MATHJAX_JS = "() => !!document.querySelector('script[src*=\"mathjax\" i]')"


def _redirect(page: str) -> str | None:
    """The page a meta-refresh page forwards to (relative to the site root), else None."""
    m = REFRESH.search((HTML / page).read_text(errors="replace"))
    if m is None:
        return None
    return (Path(page).parent / unquote(m.group(1))).as_posix().removeprefix("./")


@functools.cache
def _ids(page: str) -> frozenset[str]:
    text = (HTML / page).read_text(errors="replace")
    return frozenset(re.findall(r'\bid="([^"]+)"', text))


def _check_link(href: str, origin: str) -> str | None:
    """None if the internal link resolves, else what is wrong."""
    if not href.startswith(origin):
        return None  # external links are not followed (the network is off)
    url, frag = urldefrag(href)
    path = unquote(urlparse(url).path).lstrip("/") or "index.html"
    if path.endswith("/"):
        path += "index.html"
    target = HTML / path
    if not target.exists():
        return f"missing file {path}"
    if frag and target.suffix == ".html" and unquote(frag) not in _ids(path):
        return f"missing anchor #{frag} in {path}"
    return None


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_offline(page: str, server: str, browser) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    blocked: list[str] = []
    errors: list[str] = []

    def route(r):
        if r.request.url.startswith(server) or r.request.url.startswith("data:"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    ctx.route("**/*", route)
    pg = ctx.new_page()
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(server + page, wait_until="load")
    target = _redirect(page)
    if target is not None:  # Jupyter Book's root index.html forwards to the first chapter
        assert (HTML / target).exists(), f"{page} forwards to a missing page {target}"
        pg.wait_for_url(server + target, timeout=30000)
        pg.wait_for_load_state("load")
    # MathJax's configuration object exists before MathJax itself has loaded: wait for the
    # startup promise on pages that load MathJax, then for typesetting to finish
    if pg.evaluate(HAS_MATHJAX_JS):
        pg.wait_for_function("() => window.MathJax && window.MathJax.startup && "
                             "window.MathJax.startup.promise", timeout=30000)
        pg.evaluate("() => window.MathJax.startup.promise.then(() => null)")
    pg.wait_for_load_state("networkidle")
    math = pg.evaluate(MATH_JS)
    text = pg.evaluate(VISIBLE_TEXT_JS)
    bad_images = pg.evaluate(IMAGES_JS) + pg.evaluate(OBJECTS_JS)
    links = sorted(set(pg.evaluate(LINKS_JS)))
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SHOTS / (page.replace("/", "_").removesuffix(".html") + ".png")),
                  full_page=True)
    ctx.close()

    raw = sorted(set(RAW_TEX.findall(text)))
    assert not raw, f"{page}: raw TeX in the rendered text: {raw[:10]}"
    assert math["typeset"] == math["total"], \
        f"{page}: {math['total'] - math['typeset']} of {math['total']} formulas not typeset"
    assert math["errors"] == 0, f"{page}: {math['errors']} MathJax errors"
    if page.startswith("book/") and page not in ("book/controls.html",):
        assert math["total"] > 0, f"{page}: no typeset mathematics at all"
    assert not bad_images, f"{page}: images that did not load: {bad_images}"
    assert not errors, f"{page}: JavaScript console errors: {errors[:5]}"
    assert not blocked, f"{page}: requests leaving the machine (network is off): {blocked[:5]}"
    broken = [(h, why) for h in links if (why := _check_link(h, server))]
    assert not broken, f"{page}: internal links that do not resolve: {broken[:10]}"
