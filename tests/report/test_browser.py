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
  var out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({title: document.title, images: images, sections: sections});
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


def test_every_section_renders_with_its_images_loaded(
    report_dir: Path, tmp_path: Path, eventful: tuple[Run, dict[str, bytes]]
) -> None:
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    probe = report_dir / "probe.html"
    probe.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = _chromium(tmp_path, "--window-size=1280,900", "--dump-dom", probe.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, "the probe did not run: " + done.stdout[-500:]
    state = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert state["title"].startswith("FAIL: eventful")
    assert [s["id"] for s in state["sections"]] == SECTIONS
    for section in state["sections"]:
        assert section["width"] > 0 and section["height"] > 50 and section["text"] > 20, section
    expected = len([n for n in eventful[1] if n.endswith(".png")])
    assert len(state["images"]) == expected
    for image in state["images"]:
        assert image["complete"] and image["naturalWidth"] > 0 and image["naturalHeight"] > 0
        assert image["shownWidth"] > 300, image


def test_screenshot_is_a_real_page(report_dir: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    done = _chromium(
        tmp_path,
        "--window-size=1280,2400",
        "--hide-scrollbars",
        f"--screenshot={shot}",
        (report_dir / "report.html").as_uri(),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    pixels = np.asarray(imread(io.BytesIO(shot.read_bytes()), format="png"))[..., :3]
    assert pixels.shape[:2] == (2400, 1280)
    colours = np.unique((pixels.reshape(-1, 3) * 255).astype(np.uint8), axis=0)
    assert len(colours) > 200, "text, tables and a plot, not a blank page"
    inked = float((pixels.sum(axis=2) < 2.4).mean())
    assert inked > 0.03
    header = pixels[5:40, 5:200]
    assert float(header.mean()) < 0.35, "the dark header band: the page's CSS applied"
