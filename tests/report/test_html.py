import shutil
import subprocess

import numpy as np
import pytest

from galinfo.report.html import Figure, Section, TableBlock, render_html, write_text_atomic


def _figure(path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(3, 2))
    fig.subplots().plot([0, 1], [0, 1], lw=6)
    fig.savefig(path, dpi=80)
    return path


def test_page_is_self_contained(tmp_path):
    png = _figure(tmp_path / "f.png")
    sec = Section("Results", ["plain words <b>escaped</b>"], [TableBlock(["a", "verdict"], [[0.123456, "right"]])],
                  [Figure(png, "what it shows")])
    page = render_html("t", "s", [sec])
    assert "data:image/png;base64," in page and "f.png" not in page.split("alt=")[0]
    assert "&lt;b&gt;escaped&lt;/b&gt;" in page
    assert '<td class="ok">right</td>' in page and "0.1235" in page
    out = write_text_atomic(tmp_path / "r.html", page)
    assert out.read_text() == page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_renders_in_headless_chromium(tmp_path):
    from PIL import Image

    png = _figure(tmp_path / "f.png")
    page = render_html("galinfo", "check", [Section("Fig", ["text"], figures=[Figure(png, "cap")])])
    html = write_text_atomic(tmp_path / "r.html", page)
    shot = tmp_path / "shot.png"
    subprocess.run(["bash", "scripts/check_report.sh", str(html), str(shot)], check=True, timeout=120)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 5  # text, table and the embedded figure, not a blank page
    # the blue line of the embedded matplotlib figure is on screen
    rgb = np.asarray(Image.open(shot).convert("RGB"), dtype=int)
    blue = (rgb[..., 2] > 150) & (rgb[..., 0] < 100)
    assert blue.sum() > 100
