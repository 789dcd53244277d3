"""Size and render time of a latent explorer page (issue #17, point 4) for many points.

Builds the page of :func:`rvae_pathways.figures.explorer_data.synthetic_explorer_data`: N points
(default 100,000) spread over the frames on a jittered grid, in three clusters of two latents,
with 15 x 15 patches (their thumbnails downsampled to fit the page's budget) and frames of
``--size`` px (downsampled likewise). Then opens it in headless Chromium (Debian's ``chromium``
and ``chromium-driver``, see ``tests/browser.py``; network off) and measures:

- ``build_s``: Python time to gather and write the page;
- ``bytes``: the file's size;
- ``render_s``: from the start of the ``file://`` load to the first screenshot taken after Bokeh's
  document is idle (a screenshot waits for a composited frame, so the WebGL drawing is finished);
  ``idle_s`` the part up to the document being idle;
- ``hover_s``: from moving the pointer onto a point to its tooltip (with the patch) on screen;
- ``frame_s``: from setting the frame slider to that frame's points on screen;
- ``select_s``: from a box drag over the latent plane to the selection drawn in both views;
- ``screenshot_s``: one screenshot of the settled page, included once in each of the above.

Headless Chromium has no GPU here: WebGL runs on SwiftShader, Chromium's CPU renderer, so these
times are an upper bound of what a desktop with a graphics card shows.

Each browser step is run ``--repeat`` times (a fresh load each time) and the median reported.
``--page`` times a page the workflow wrote instead (the demo's:
``results/graphene_sim/rvae/explorer.html``); ``--screenshot PNG`` also saves a picture of that
page in use (a box selected in the latent plane, a track drawn, a tooltip shown), as
``docs/explorer.png`` was made. Prints numbers (JSON), never pass/fail.

Usage: ``python bench/explorer.py [--points 100000] [--frames 20] [--size 1024] [--repeat 3] [--out DIR]``
or ``python bench/explorer.py --page PAGE [--screenshot PNG]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))

import browser  # noqa: E402
from rvae_pathways.figures.explorer import write_explorer  # noqa: E402
from rvae_pathways.figures.explorer_data import synthetic_explorer_data  # noqa: E402


def quantiles(driver, low: float, high: float) -> list[float]:
    """The ``low`` and ``high`` quantiles of z1, then of z2, of the page's points."""
    return driver.execute_script(browser.MODEL + """const s = model('points')
        const q = (v, p) => { const a = Array.from(v).sort((a, b) => a - b); return a[Math.floor(p * (a.length - 1))] }
        return [q(s.data.z1, arguments[0]), q(s.data.z1, arguments[1]), q(s.data.z2, arguments[0]),
                q(s.data.z2, arguments[1])]""", low, high)


def settled(driver) -> None:
    """Wait for the page's next composited frame (a screenshot needs one)."""
    driver.get_screenshot_as_png()


def measure(driver, page: Path) -> dict:
    """One load of ``page`` and the three interactions, timed."""
    start = time.perf_counter()
    out = {"idle_s": browser.open_page(driver, page, timeout=300)}
    settled(driver)
    out["render_s"] = time.perf_counter() - start
    start = time.perf_counter()
    settled(driver)
    out["screenshot_s"] = time.perf_counter() - start
    errors = browser.console_errors(driver)
    i, x, y = driver.execute_script(browser.MODEL + """
        const s = model('points'); const i = Math.floor(s.data.patch.length / 2)
        return [i, s.data.z1[i], s.data.z2[i]]""")
    start = time.perf_counter()
    browser.move_to(driver, *browser.screen_point(driver, "latent_plot", x, y))
    browser.wait_for(driver, browser.FIND_DEEP + """return find_deep(document, '.explorer-tip img')
        .some((img) => img.getClientRects().length > 0 && img.complete && img.naturalWidth > 0)""", 60)
    settled(driver)
    out["hover_s"] = time.perf_counter() - start
    last = driver.execute_script(browser.MODEL + "return model('frame_slider').end")
    start = time.perf_counter()
    driver.execute_script(browser.MODEL + "model('frame_slider').value = arguments[0]", last)
    browser.wait_for(driver, browser.MODEL + """const f = model('frame_filter').indices
        return f.length > 0 && model('points').data.frame[f[0]] == arguments[0]""", 60, last)
    settled(driver)
    out["frame_s"] = time.perf_counter() - start
    x0, x1, y0, y1 = quantiles(driver, 0.5, 0.5)  # a box of 120 px around the medians
    centre = browser.screen_point(driver, "latent_plot", x0, y0)
    corner_a, corner_b = (centre[0] - 60, centre[1] - 60), (centre[0] + 60, centre[1] + 60)
    start = time.perf_counter()
    browser.drag(driver, corner_a, corner_b)
    out["selected"] = browser.wait_for(driver, browser.MODEL + "return model('points').selected.indices.length", 60)
    settled(driver)
    out["select_s"] = time.perf_counter() - start
    out["console_errors"] = errors + browser.console_errors(driver)
    out["point"] = i
    return out


def screenshot(driver, page: Path, out: Path, width: int = 1340, height: int = 780) -> None:
    """``page`` in use, saved as a small PNG (the page's top left corner, 256 colours)."""
    from PIL import Image

    browser.open_page(driver, page, timeout=300)
    settled(driver)
    x0, x1, y0, y1 = quantiles(driver, 0.6, 0.6)  # a box of 160 px around these quantiles
    x, y = browser.screen_point(driver, "latent_plot", x0, y0)
    browser.drag(driver, (x - 80, y - 80), (x + 80, y + 80))
    track = driver.execute_script(browser.MODEL + """const s = model('points'); const t = s.data.track
        const n = new Map(); for (const v of t) n.set(v, (n.get(v) ?? 0) + 1)
        let best = t[0]; for (const [k, v] of n) if (v > n.get(best)) best = k
        return best""")
    driver.execute_script(browser.MODEL + "model('track_input').value = arguments[0]", track)
    x, y = driver.execute_script(browser.MODEL + """const s = model('points'); const f = model('frame_filter').indices
        const i = f[Math.floor(f.length / 3)]; return [s.data.x_pos[i], s.data.y_pos[i]]""")
    browser.move_to(driver, *browser.screen_point(driver, "frame_plot", x, y))
    browser.wait_for(driver, browser.FIND_DEEP + """return find_deep(document, '.explorer-tip img')
        .some((img) => img.complete && img.naturalWidth > 0)""", 30)
    time.sleep(0.5)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = out.with_suffix(".full.png")
    driver.save_screenshot(str(raw))
    image = Image.open(raw).convert("RGB").crop((0, 0, width, height))
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    raw.unlink()


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--size", type=int, default=1024, help="frame side in px")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="folder for the page (default: a temporary one)")
    parser.add_argument("--page", type=Path, default=None, help="time this page instead of a synthetic one")
    parser.add_argument("--screenshot", type=Path, default=None, help="save a picture of the page in use here")
    args = parser.parse_args(argv)
    if args.page is None:
        folder = args.out or Path(tempfile.mkdtemp(prefix="explorer-bench-"))
        start = time.perf_counter()
        data = synthetic_explorer_data(args.points, frames=args.frames, size_px=args.size)
        page = folder / "explorer.html"
        written = write_explorer(data, page)
        result = {"points": data.n_points, "frames": args.frames, "frame_px": args.size,
                  "thumbnail_px": written["thumbnail_px"], "frame_step": written["frame_step"],
                  "bytes": written["bytes"], "megabytes": round(written["bytes"] / 1e6, 2),
                  "build_s": round(time.perf_counter() - start, 2), "page": str(page)}
    else:
        page = args.page
        head = page.read_text(errors="replace")[:2000]
        result = {"page": str(page), "points": int(head.split('data-n-points="')[1].split('"')[0]),
                  "bytes": page.stat().st_size, "megabytes": round(page.stat().st_size / 1e6, 2)}
    found = browser.chromium()
    if isinstance(found, str):
        result["browser"] = found
        print(json.dumps(result, indent=2))
        return result
    if args.screenshot:
        driver = browser.start(*found)
        try:
            screenshot(driver, page, args.screenshot)
        finally:
            driver.quit()
        result["screenshot"] = str(args.screenshot)
        result["screenshot_bytes"] = args.screenshot.stat().st_size
    runs = []
    for _ in range(args.repeat):
        driver = browser.start(*found)
        try:
            runs.append(measure(driver, page))
        finally:
            driver.quit()
    for key in ("render_s", "idle_s", "screenshot_s", "hover_s", "frame_s", "select_s"):
        result[key] = round(statistics.median(run[key] for run in runs), 3)
    result["each_render_s"] = [round(run["render_s"], 2) for run in runs]
    result["selected"] = runs[-1]["selected"]
    result["console_errors"] = sorted({e for run in runs for e in run["console_errors"]})
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
