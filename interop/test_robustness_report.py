"""`mlsec robustness report` renders in a real browser: headless Chromium loads report.html with the network cut off,
logs no console error, fetches nothing, lays out one SVG per chart, and shows the numbers report.json holds.

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON messages ending in NUL on file
descriptors 3 and 4), so the harness needs only the standard library."""
import base64
import fcntl
import html as htmllib
import json
import math
import os
import pathlib
import re
import select
import shutil
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest

from conftest import mlsec

CHROMIUM = os.environ.get("MLSEC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"

# The model the report is made for, and the report command itself (edit here when the command's options change).
TRAIN_ARGS = ["train", "--data", "digits-train", "--label-column", "label", "--architecture", "mlp:64-128-10",
              "--epochs", "30"]
REPORT_ARGS = ["robustness", "report", "--model", "{model}", "--data", "digits-test", "--label-column", "label",
               "--out", "{html}", "--json", "{json}"]

JSON_KEYS = ["model", "data", "examples", "clean_accuracy", "norm", "input_range", "attacks", "certified", "detector",
             "flips", "image_shape", "grade", "verdict", "generated_at", "generator"]

# Flags that keep Chromium off the network and away from the user's profile (a fresh --user-data-dir each run).
CHROMIUM_FLAGS = [
    "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
    "--disable-default-apps", "--disable-domain-reliability", "--disable-client-side-phishing-detection",
    "--metrics-recording-only", "--mute-audio", "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
    "--window-size=1200,900", "--remote-debugging-pipe",
]


@dataclass
class Rendered:
    """What Chromium made of a page."""
    dom: str                                            # document.documentElement.outerHTML after load
    errors: list = field(default_factory=list)          # console errors, exceptions, error log entries
    requests: list = field(default_factory=list)        # every URL the page asked for beyond itself
    chart_boxes: list = field(default_factory=list)     # (width, height) of each <svg> as laid out
    screenshot: pathlib.Path | None = None
    stderr: str = ""


class DevToolsPipe:
    """A DevTools-protocol session over Chromium's --remote-debugging-pipe (fd 3: to Chromium, fd 4: from it)."""

    def __init__(self, args, timeout):
        self.deadline = time.monotonic() + timeout
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()
        # The child's ends, moved above 9 so that bash's redirections to 3 and 4 cannot clobber them.
        r, w = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10), fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)
        for fd in (to_browser_r, from_browser_w):
            os.close(fd)
        self.stderr_file = tempfile.TemporaryFile()
        shell = f'exec "$0" "$@" 3<&{r} 4>&{w} {r}<&- {w}>&-'
        self.proc = subprocess.Popen(["/bin/bash", "-c", shell, *args], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.stderr_file, pass_fds=(r, w))
        os.close(r)
        os.close(w)
        self.buffer = b""
        self.next_id = 0
        self.events = []

    def _read_message(self):
        while b"\0" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self.from_browser], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                self.stderr_file.seek(0)
                raise ConnectionError("Chromium closed the DevTools pipe; its stderr:\n"
                                      + self.stderr_file.read().decode(errors="replace")[-3000:])
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=None):
        """Sends one command and returns its result; events that arrive meanwhile are kept in `events`."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read_message()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for_event(self, method, session=None):
        while True:
            for event in self.events:
                if event.get("method") == method and (session is None or event.get("sessionId") == session):
                    return event
            self.events.append(self._read_message())

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        for fd in (self.to_browser, self.from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)
        self.stderr_file.seek(0)
        return self.stderr_file.read().decode(errors="replace")


def png_is_blank(png: bytes) -> bool:
    """Whether a PNG's pixel data is one repeated value (a blank page), read with zlib only."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(png):
        length = int.from_bytes(png[pos:pos + 4], "big")
        kind = png[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += png[pos + 8:pos + 8 + length]
        pos += 12 + length
    return len(set(zlib.decompress(idat))) <= 2


def render_in_chromium(page: pathlib.Path, out_dir: pathlib.Path, timeout: float = 90) -> Rendered:
    """Loads `page` (a file) in headless Chromium with the network cut off; returns the rendered DOM, the errors it
    logged, the URLs it tried to fetch, the laid-out size of each <svg>, and a full-page screenshot in `out_dir`."""
    assert os.path.exists(CHROMIUM), f"Chromium not found at {CHROMIUM} (scripts/test.sh installs Debian's chromium)"
    url = pathlib.Path(page).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="mlsec-chromium-") as profile:
        browser = DevToolsPipe([CHROMIUM, f"--user-data-dir={profile}", *CHROMIUM_FLAGS, "about:blank"], timeout)
        try:
            target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                browser.call(f"{domain}.enable", session=session)
            browser.events.clear()
            browser.call("Page.navigate", {"url": url}, session=session)
            browser.wait_for_event("Page.loadEventFired", session)
            root = browser.call("DOM.getDocument", {"depth": 0}, session=session)["root"]["nodeId"]
            dom = browser.call("DOM.getOuterHTML", {"nodeId": root}, session=session)["outerHTML"]
            boxes = []
            for node in browser.call("DOM.querySelectorAll", {"nodeId": root, "selector": "svg"}, session=session)["nodeIds"]:
                model = browser.call("DOM.getBoxModel", {"nodeId": node}, session=session)["model"]
                boxes.append((model["width"], model["height"]))
            size = browser.call("Page.getLayoutMetrics", session=session)["cssContentSize"]
            shot = browser.call("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}}, session=session)
            screenshot = pathlib.Path(out_dir) / (pathlib.Path(page).stem + ".png")
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            # Let late console messages and requests arrive: one more round trip drains what is queued.
            browser.call("Runtime.evaluate", {"expression": "1"}, session=session)
        finally:
            stderr = browser.close()
    errors, requests = [], []
    for event in browser.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
            errors.append("console." + params["type"] + ": " + " ".join(str(a.get("value", a.get("description", "")))
                                                                   for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            errors.append(f"exception: {details.get('text', '')} {details.get('exception', {}).get('description', '')}")
        elif method == "Log.entryAdded" and params["entry"].get("level") in ("error", "warning"):
            errors.append(f"log.{params['entry']['level']}: {params['entry'].get('text', '')}")
        elif method == "Network.requestWillBeSent":
            if params["request"]["url"] != url:
                requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed":
            errors.append(f"load failed: {params.get('errorText', '')} {params.get('blockedReason', '')}".strip())
    return Rendered(dom=dom, errors=errors, requests=requests, chart_boxes=boxes, screenshot=screenshot, stderr=stderr)


class Tables(HTMLParser):
    """Every <table> of a page as {caption: [[cell text, ...], ...]} (header rows included)."""

    def __init__(self):
        super().__init__()
        self.tables, self.rows, self.cell, self.caption = {}, None, None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.rows, self.caption = [], ""
        elif tag == "tr" and self.rows is not None:
            self.rows.append([])
        elif tag in ("td", "th") and self.rows is not None:
            self.cell = ""
        elif tag == "caption":
            self.cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.rows is not None and self.cell is not None:
            self.rows[-1].append(self.cell.strip())
            self.cell = None
        elif tag == "caption" and self.cell is not None:
            self.caption, self.cell = self.cell.strip(), None
        elif tag == "table" and self.rows is not None:
            self.tables.setdefault(self.caption, self.rows)
            self.rows = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def data_key(dom: str, key: str) -> str:
    """The text of the element marked data-key="key" (tags stripped, entities decoded)."""
    match = re.search(r'data-key="' + re.escape(key) + r'"[^>]*>(.*?)</', dom, re.S)
    assert match, f"the page has no data-key={key}"
    return htmllib.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip()


def finite_json(path: pathlib.Path):
    def refuse(constant):
        raise AssertionError(f"{path.name} holds {constant}: not valid JSON")
    return json.loads(path.read_text(), parse_constant=refuse)


def close(a, b, tolerance=5.1e-5):
    return a is not None and b is not None and math.isclose(float(a), float(b), abs_tol=tolerance)


HAND_WRITTEN_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Harness check</title><style>body { font: 14px system-ui, sans-serif; } svg { border: 1px solid #ccc; }</style>
</head><body><h1 data-key="verdict">Fragile: hand-written page &amp; two charts</h1>
<svg class="chart" viewBox="0 0 200 100" width="200" height="100" role="img" aria-label="one">
<title>one</title><polyline fill="none" stroke="#0072B2" stroke-width="2" points="0,90 100,40 200,10"/></svg>
<svg class="chart" viewBox="0 0 200 100" width="200" height="100" role="img" aria-label="two">
<title>two</title><rect x="10" y="10" width="80" height="80" fill="#D55E00"/></svg>
<table><caption>Numbers</caption><tr><th>epsilon</th><th>accuracy</th></tr><tr><th>0.0</th><td>0.9700</td></tr></table>
</body></html>
"""


def test_chromium_harness_renders_a_clean_page(tmp_path):
    """The harness itself, on a page written by hand: it loads, lays out both charts, logs nothing, fetches nothing."""
    page = tmp_path / "clean.html"
    page.write_text(HAND_WRITTEN_PAGE)
    rendered = render_in_chromium(page, tmp_path)
    assert rendered.errors == [], rendered.errors
    assert rendered.requests == []
    assert rendered.dom.count("<svg") == 2 and len(rendered.chart_boxes) == 2
    assert all(w >= 200 and h >= 100 for w, h in rendered.chart_boxes), rendered.chart_boxes
    assert data_key(rendered.dom, "verdict") == "Fragile: hand-written page & two charts"
    tables = Tables()
    tables.feed(rendered.dom)
    assert tables.tables["Numbers"] == [["epsilon", "accuracy"], ["0.0", "0.9700"]]
    assert rendered.screenshot.stat().st_size > 1000 and not png_is_blank(rendered.screenshot.read_bytes())


def test_chromium_harness_catches_errors_and_requests(tmp_path):
    """The harness reports what a bad page does: a script error and an attempt to fetch from the network."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'><title>bad</title></head><body>"
                    "<p>bad page</p><img src='http://example.invalid/x.png' alt=''>"
                    "<script>console.error('boom'); undefinedFunction();</script></body></html>")
    rendered = render_in_chromium(page, tmp_path)
    assert any("boom" in e for e in rendered.errors), rendered.errors
    assert any("undefinedFunction" in e for e in rendered.errors), rendered.errors
    assert "http://example.invalid/x.png" in rendered.requests


def test_robustness_report_renders_in_chromium(tmp_path):
    """The report of a digits MLP: a self-contained page that Chromium renders cleanly, with the JSON's numbers."""
    model = tmp_path / "digits-mlp"
    mlsec(*TRAIN_ARGS, "--out", model, check=0)
    page, doc = tmp_path / "report.html", tmp_path / "report.json"
    args = [a.format(model=model, html=page, json=doc) for a in REPORT_ARGS]
    proc = mlsec(*args)
    if proc.returncode != 0:
        pytest.fail(f"`mlsec {' '.join(REPORT_ARGS[:2])}` failed (exit {proc.returncode}); is the command built?\n"
                    f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}")
    assert page.exists() and doc.exists(), "the report command wrote no report.html / report.json"
    check_report_page(page, doc, tmp_path)


def check_report_page(page: pathlib.Path, doc: pathlib.Path, out_dir: pathlib.Path):
    """A report page is self-contained, renders in Chromium without errors or requests, lays out one SVG per chart
    and per drawn image, and shows the numbers of its JSON twin."""
    report = finite_json(doc)
    assert list(report) == JSON_KEYS
    text = page.read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in text
    lower = text.lower()
    for forbidden in ("<script", "http://", "https://", "src=", "href=", "url(", "@import"):
        assert forbidden not in lower, f"report.html contains {forbidden}"
    assert not re.search(r"""[\s"'(=]//[^\s/]""", text), "report.html holds a protocol-relative reference"

    rendered = render_in_chromium(page, out_dir)
    assert rendered.errors == [], rendered.errors
    assert rendered.requests == [], rendered.requests
    charts = 1 + (report["certified"] is not None) + (report["detector"] is not None)
    images = 3 * len(report["flips"]) if report["image_shape"] else 0
    assert rendered.dom.count('<svg class="chart"') == charts
    assert rendered.dom.count("<svg") == charts + images == len(rendered.chart_boxes)
    assert all(w > 0 and h > 0 for w, h in rendered.chart_boxes), rendered.chart_boxes
    assert rendered.screenshot.stat().st_size > 10_000 and not png_is_blank(rendered.screenshot.read_bytes())

    # The page shows the JSON's numbers.
    assert data_key(rendered.dom, "verdict") == report["verdict"]
    assert data_key(rendered.dom, "grade").lower() == report["grade"]
    assert data_key(rendered.dom, "model") == report["model"]
    assert data_key(rendered.dom, "examples") == str(report["examples"])
    assert close(data_key(rendered.dom, "clean_accuracy").split()[0], report["clean_accuracy"])
    tables = Tables()
    tables.feed(rendered.dom)
    accuracy = next(rows for caption, rows in tables.tables.items() if caption.startswith("Accuracy by attack"))
    header = accuracy[0]
    for attack in report["attacks"].values():
        column = header.index(attack["name"])
        by_epsilon = {float(row[0]): row[column] for row in accuracy[1:]}
        for epsilon, value in attack["points"]:
            assert close(by_epsilon[epsilon], value), (attack["name"], epsilon, value, by_epsilon)
    if report["certified"] is not None:
        rows = tables.tables["Certified accuracy by L2 radius"][1:]
        assert {r[0]: r[1] for r in rows}.keys() == report["certified"]["certified_accuracy"].keys()
        for radius, value in report["certified"]["certified_accuracy"].items():
            assert close(dict(rows)[radius], value)
    if report["detector"] is not None:
        rows = tables.tables["ROC curve points"][1:]
        assert len(rows) == len(report["detector"]["roc"])
        for (fpr, tpr), row in zip(report["detector"]["roc"], rows):
            assert close(row[0], fpr) and close(row[1], tpr)
        assert close(data_key(rendered.dom, "auc"), report["detector"]["auc"])
    if report["flips"]:
        flips = tables.tables["Flipped examples, most fragile first"][1:]
        assert [int(r[0]) for r in flips] == [f["row"] for f in report["flips"]]
