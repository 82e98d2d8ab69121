"""report.html as a person sees it: opened in headless Chromium, offline.

Debian's chromium (`/usr/bin/chromium`, installed by `.ci/run`) renders the page from a
file:// URL with networking off and a fresh profile. One check dumps the DOM of a copy of the
page with a tiny probe script appended (the report itself has no script) that writes, after the
load event, every image's natural size and every section's box into the DOM; the other takes a
screenshot and checks it is a real page, not a blank one.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.image import imread

from simulator.verdict import Run

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not installed (/usr/bin/chromium; .ci/run installs it)",
)

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--virtual-time-budget=10000",
]
SECTIONS = ["summary", "anomalies", "metrics", "plots", "scenario"]
PROBE = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.map.call(document.images, function (img) {
    return {alt: img.alt, complete: img.complete, naturalWidth: img.naturalWidth,
            naturalHeight: img.naturalHeight, shownWidth: img.getBoundingClientRect().width};
  });
  var sections = Array.prototype.map.call(document.querySelectorAll("section"), function (s) {
    var box = s.getBoundingClientRect();
    return {id: s.id, width: box.width, height: box.height, text: s.innerText.length};
  });
  function box(el) {
    var b = el.getBoundingClientRect();
    return {top: b.top + window.scrollY, left: b.left, width: b.width, height: b.height};
  }
  var banner = document.getElementById("verdict");
  var verdict = {text: banner.innerText, cls: banner.className, box: box(banner)};
  var stories = Array.prototype.map.call(document.querySelectorAll("details.story"), function (d) {
    return {id: d.id, open: d.open, box: box(d), text: d.innerText,
            writes: d.querySelectorAll("table.story-writes tr").length,
            endings: d.querySelectorAll("ol.story-ends li").length};
  });
  var links = Array.prototype.map.call(document.querySelectorAll("a[href^='#story-']"),
    function (a) { return a.getAttribute("href").slice(1); });
  var labels = Array.prototype.map.call(document.querySelectorAll(".label"),
    function (l) { return l.innerText; });
  var evidence = document.querySelectorAll("table.evidence tr").length;
  var out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({title: document.title, images: images, sections: sections,
    verdict: verdict, stories: stories, links: links, labels: labels, evidence: evidence});
  document.body.appendChild(out);
});
</script>"""


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,  # a hang guard only; nothing is asserted about time
    )


@pytest.fixture
def report_dir(eventful: tuple[Run, dict[str, bytes]], tmp_path: Path) -> Path:
    out = tmp_path / "report"
    out.mkdir()
    for name, content in eventful[1].items():
        (out / name).write_bytes(content)
    return out


def _probe(report_dir: Path, tmp_path: Path) -> dict[str, Any]:
    """The page as Chromium laid it out, read back by the probe script."""
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    probe = report_dir / "probe.html"
    probe.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = _chromium(tmp_path, "--window-size=1280,900", "--dump-dom", probe.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, "the probe did not run: " + done.stdout[-500:]
    text = found.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
    state: dict[str, Any] = json.loads(text.replace("&amp;", "&"))
    return state


def test_every_section_renders_with_its_images_loaded(
    report_dir: Path, tmp_path: Path, eventful: tuple[Run, dict[str, bytes]]
) -> None:
    state = _probe(report_dir, tmp_path)
    assert state["title"].startswith("FAIL: eventful")
    assert [s["id"] for s in state["sections"]] == SECTIONS
    for section in state["sections"]:
        assert section["width"] > 0 and section["height"] > 50 and section["text"] > 20, section
    expected = len([n for n in eventful[1] if n.endswith(".png")])
    assert len(state["images"]) == expected
    for image in state["images"]:
        assert image["complete"] and image["naturalWidth"] > 0 and image["naturalHeight"] > 0
        assert image["shownWidth"] > 300, image


def _screenshot(report_dir: Path, tmp_path: Path, height: int) -> Any:
    """The top of the page, 1280 pixels wide, as RGB values from 0 to 1."""
    shot = tmp_path / "shot.png"
    done = _chromium(
        tmp_path,
        f"--window-size=1280,{height}",
        "--hide-scrollbars",
        f"--screenshot={shot}",
        (report_dir / "report.html").as_uri(),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return np.asarray(imread(io.BytesIO(shot.read_bytes()), format="png"))[..., :3]


def test_screenshot_is_a_real_page(report_dir: Path, tmp_path: Path) -> None:
    pixels = _screenshot(report_dir, tmp_path, 2400)
    assert pixels.shape[:2] == (2400, 1280)
    colours = np.unique((pixels.reshape(-1, 3) * 255).astype(np.uint8), axis=0)
    assert len(colours) > 200, "text, tables and a plot, not a blank page"
    inked = float((pixels.sum(axis=2) < 2.4).mean())
    assert inked > 0.03
    header = pixels[5:40, 5:200]
    assert float(header.mean()) < 0.35, "the dark header band: the page's CSS applied"


def test_a_reader_sees_the_verdict_the_evidence_and_each_findings_story(
    report_dir: Path, tmp_path: Path, eventful: tuple[Run, dict[str, bytes]]
) -> None:
    """What a person reads first: the verdict banner in red with the failed bound, one evidence
    row per finding, each item finding linked to a story that shows its writes and what every
    holder ended with (the first ones open), and items called by their labels."""
    result, _ = eventful
    state = _probe(report_dir, tmp_path)
    verdict = state["verdict"]
    assert verdict["cls"] == "banner fail" and verdict["text"].startswith("FAIL")
    assert "writes <= 5" in verdict["text"]
    assert verdict["box"]["top"] < 400, "the verdict is the first thing under the header"
    findings = result.result.findings
    header_rows = len({f.anomaly for f in findings})
    assert state["evidence"] == len(findings) + header_rows
    about_items = [f for f in findings if f.entity_id is not None]
    assert len(state["stories"]) == len(about_items) == len(state["links"])
    assert {s["id"] for s in state["stories"]} == set(state["links"])
    for story in state["stories"]:
        assert story["endings"] >= 2  # at least one device and the server
        assert story["text"].startswith("Story ")
        if story["open"]:  # a folded story shows its one-line summary only
            assert "It breaks the rule that" in story["text"]
            assert story["writes"] >= 1 or "No device wrote it" in story["text"]
            assert story["box"]["height"] > 80, "an open story shows its table"
    assert any(s["open"] for s in state["stories"]) and not all(s["open"] for s in state["stories"])
    assert len([label for label in state["labels"] if label.strip()]) >= len(about_items)


def test_the_screenshot_shows_the_verdict_banner_in_its_colour(
    report_dir: Path, tmp_path: Path
) -> None:
    """The banner the probe found is where the screenshot is red (FAIL), not just in the DOM."""
    state = _probe(report_dir, tmp_path)
    pixels = _screenshot(report_dir, tmp_path, 900)
    b = state["verdict"]["box"]
    inside = pixels[
        int(b["top"]) + 4 : int(b["top"] + b["height"]) - 4,
        int(b["left"]) + 4 : int(b["left"] + b["width"]) - 4,
    ].reshape(-1, 3)
    background = np.median(inside, axis=0)
    red, green, blue = background
    assert red > green and red > blue, f"a FAIL banner is red: {background}"
    assert float(inside.min()) < 0.5, "the banner holds dark text (the word FAIL)"
