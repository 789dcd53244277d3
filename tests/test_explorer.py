"""The latent explorer (issue #17): what a page holds, and how it behaves in a real browser.

The first tests read the page's data in Python. The browser tests open a small page built here
(600 synthetic patches over 4 frames, 3 latents) in headless Chromium with the network off
(``browser.py``: Debian's chromium and chromium-driver, installed where apt and root are at hand,
as in CI; elsewhere they skip and say why, but never in CI) and drive it as a person would:
hover a point, move the frame slider with the keyboard, drag a selection box, tap a point.
``test_workflow_explorer.py`` opens the tiny workflow run's own pages.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import xarray as xr

import browser
from rvae_pathways.figures import explorer, explorer_data
from rvae_pathways.figures.explorer_data import (
    area_weights, frame_images, pfm_explorer_data, stem_explorer_data, synthetic_explorer_data, thumbnail_side,
    thumbnails,
)

N_POINTS, N_FRAMES = 600, 4


@pytest.fixture(scope="module")
def data():
    return synthetic_explorer_data(N_POINTS, frames=N_FRAMES, size_px=128, n_latents=3, seed=1)


@pytest.fixture(scope="module")
def page(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("explorer") / "explorer.html"
    explorer.write_explorer(data, path)
    return path


# ------------------------------------------------------------------------------------------
# the page's data


def test_thumbnails_keep_small_patches_and_shrink_to_the_budget():
    assert thumbnail_side(14_500, 15) == 15  # the demo's patches stay as they are
    side = thumbnail_side(100_000, 15)
    assert 100_000 * side ** 2 <= explorer_data.THUMBNAIL_BUDGET_BYTES and side >= explorer_data.MIN_THUMBNAIL_SIDE
    weights = area_weights(15, 10)
    assert np.allclose(weights.sum(axis=1), 1) and np.allclose(weights.sum(axis=0), 10 / 15)
    ramp = np.tile(np.arange(15.0), (3, 15, 1))  # brighter to the right
    small = thumbnails(ramp, side=10)
    assert small.shape == (3, 10, 10) and small.dtype == np.uint8
    assert np.all(np.diff(small[0, 0].astype(int)) > 0)


def test_frames_are_downsampled_to_the_side_and_the_budget():
    frames = np.random.default_rng(0).normal(size=(3, 300, 200)).astype(np.float32)
    images, step = frame_images(frames, max_side=128)
    assert step == 3 and images.shape == (3, 100, 67) and images.dtype == np.uint8
    images, step = frame_images(frames, max_side=512, budget_bytes=3 * 100 * 100)
    assert images[0].size <= 100 * 100


def stem_stores(n_frames=3, per_frame=5):
    """Tiny STEM stores: aligned frames, patches with true labels, latents, tracks, trajectories."""
    rng = np.random.default_rng(2)
    n = n_frames * per_frame
    frame = np.repeat(np.arange(n_frames), per_frame)
    atom = np.arange(n) + 100  # rows of the atom table, which holds more atoms than patches
    y, x = rng.uniform(10, 50, n), rng.uniform(10, 50, n)
    aligned = xr.Dataset({"image": (("frame", "y", "x"), rng.normal(size=(n_frames, 64, 64)).astype(np.float32))},
                         attrs={"pixel_size_nm": 0.02})
    patches = xr.Dataset({"image": (("patch", "py", "px"), rng.normal(size=(n, 9, 9)).astype(np.float32)),
                          "true_class": ("patch", np.arange(n) % 3 - 1)},
                         attrs={"true_class_names": "pristine C,Si"})
    latents = xr.Dataset({"z_mean": (("patch", "latent"), rng.normal(size=(n, 2)).astype(np.float32)),
                          "theta_deg": ("patch", rng.uniform(-170, 170, n)), "atom": ("patch", atom),
                          "frame": ("patch", frame), "y": ("patch", y), "x": ("patch", x),
                          "intensity": ("patch", rng.uniform(size=n))}, attrs={"model": "rvae"})
    track = np.full(200, -1)
    track[atom] = np.tile(np.arange(per_frame), n_frames) + 7
    tracks = xr.Dataset({"track": ("atom", track)}, attrs={"spacing_px": 14.2})
    trajectories = xr.Dataset({"class_of_patch": ("patch_order", np.arange(n) % 2)}, attrs={"n_classes": 2})
    return aligned, patches, latents, tracks, trajectories


def test_stem_data_are_the_rules_outputs_point_for_point():
    aligned, patches, latents, tracks, trajectories = stem_stores()
    data = stem_explorer_data(aligned, patches, latents, tracks, trajectories, sample="s")
    c = data.columns
    assert data.n_points == latents.sizes["patch"] == 15
    assert np.array_equal(c["track"], np.tile(np.arange(5), 3) + 7)  # through each patch's atom
    assert np.allclose(c["x_pos"], latents["x"].values * 0.02) and data.units == "nm"
    assert np.array_equal(c["class"], trajectories["class_of_patch"].values)
    assert np.allclose(c["z2"], latents["z_mean"].values[:, 1])
    labels = {col.column: col for col in data.colourings}
    assert data.colourings[0].column == "class"
    assert labels["true_class"].label == "true class (simulator)" and labels["true_class"].names == ["pristine C", "Si"]
    assert {"frame", "theta", "intensity"} <= set(labels)
    assert data.thumbnails.shape == (15, 9, 9) and data.frames.shape == (3, 64, 64)
    assert data.extent == (-0.01, -0.01, 64 * 0.02, 64 * 0.02)


def test_pfm_data_are_windows_tracked_by_their_grid_place():
    rng = np.random.default_rng(3)
    rows, cols = np.meshgrid(np.arange(3), np.arange(4), indexing="ij")
    rows, cols = np.tile(rows.ravel(), 2), np.tile(cols.ravel(), 2)
    n = len(rows)
    frames = xr.Dataset({"image": (("frame", "y", "x"), rng.normal(size=(2, 24, 32)).astype(np.float32))},
                        attrs={"pixel_size_nm": 20.0})
    patches = xr.Dataset({"image": (("patch", "py", "px"), rng.normal(size=(n, 8, 8)).astype(np.float32)),
                          "true_domain": ("patch", np.where(cols < 2, -1, 1))}, attrs={"window_px": 8, "stride_px": 8})
    latents = xr.Dataset({"z_mean": (("patch", "latent"), rng.normal(size=(n, 2))), "row": ("patch", rows),
                          "col": ("patch", cols), "frame": ("patch", np.repeat([0, 1], n // 2)),
                          "y": ("patch", 3.5 + 8 * rows), "x": ("patch", 3.5 + 8 * cols),
                          "intensity": ("patch", rng.normal(size=n)), "domain": ("patch", np.where(cols < 1, -1, 1)),
                          "theta_deg": ("patch", np.zeros(n))},
                         attrs={"model": "w8", "grid_cols": 4, "window_px": 8, "stride_px": 8})
    data = pfm_explorer_data(frames, patches, latents, sample="p")
    assert data.n_points == n and data.noun == "window"
    assert np.array_equal(data.columns["track"], rows * 4 + cols)
    assert data.colourings[0].column == "domain" and list(data.columns["domain"][:4]) == [0, 1, 1, 1]
    assert "theta" not in data.columns  # no rotation latent: all zero
    assert any(c.label == "true domain (simulator)" for c in data.colourings)
    assert data.marker_size == pytest.approx(0.5 * 8 * 20.0)


def test_the_page_is_self_contained_and_says_its_point_count(page, data):
    html = page.read_text()
    # no element loads anything from a network (Bokeh's inline code names a MathJax CDN for math text,
    # which this page has none of; the browser test checks what the page really fetched)
    tag = r"""<(script|link|img|iframe|source|embed|object)\b[^>]*\b(src|href|data)\s*=\s*["']?(https?:)?//"""
    assert not re.search(tag, html, flags=re.I), "the page loads something from a network"
    assert "<script src" not in html and "Bokeh" in html
    assert html.count(f'data-n-points="{N_POINTS}"') == 2  # <html> and the root element
    assert page.stat().st_size < 15e6


def test_an_empty_model_is_refused(data, tmp_path):
    empty = explorer_data.ExplorerData(**{**data.__dict__, "columns": {k: v[:0] for k, v in data.columns.items()}})
    with pytest.raises(ValueError, match="at least one point"):
        explorer.write_explorer(empty, tmp_path / "empty.html")


# ------------------------------------------------------------------------------------------
# in the browser


@pytest.fixture(scope="module")
def chrome(chromium):
    driver = browser.start(*chromium)
    yield driver
    driver.quit()


@pytest.fixture
def opened(chrome, page):
    """The page, freshly loaded; after the test, no console error may have been logged."""
    browser.open_page(chrome, page)
    browser.console_errors(chrome)  # drop what an earlier page logged
    yield chrome
    assert browser.console_errors(chrome) == []


def js(driver, code, *args):
    return driver.execute_script(browser.MODEL + code, *args)


def screen_positions(driver, plot, x, y) -> np.ndarray:
    """Viewport positions (CSS px) of data points in a plot, from its ranges and frame box."""
    x0, x1, y0, y1, left, top, width, height = js(driver, """
        const p = model(arguments[0]); const v = Bokeh.index.find_one(p)
        const r = v.canvas_view.el.getBoundingClientRect(); const f = v.frame.bbox
        return [p.x_range.start, p.x_range.end, p.y_range.start, p.y_range.end, r.left + f.left, r.top + f.top,
                f.width, f.height]""", plot)
    return np.column_stack([left + (np.asarray(x) - x0) / (x1 - x0) * width,
                            top + (y1 - np.asarray(y)) / (y1 - y0) * height])


def drag_box(driver, plot, corner_x, corner_y, x, y) -> tuple[set, set]:
    """Drag a selection box between two data corners of a plot; return the points surely inside it
    (over a pixel from its edges) and those that may be (within a pixel outside)."""
    corners = np.round(screen_positions(driver, plot, corner_x, corner_y))
    browser.drag(driver, corners[0], corners[1])
    points = screen_positions(driver, plot, x, y)
    low, high = corners.min(axis=0), corners.max(axis=0)
    surely = np.all((points > low + 1) & (points < high - 1), axis=1)
    maybe = np.all((points > low - 1) & (points < high + 1), axis=1)
    return set(np.flatnonzero(surely).tolist()), set(np.flatnonzero(maybe).tolist())


def test_the_page_loads_offline_from_a_file_with_webgl_and_no_errors(opened, data):
    d = opened
    assert d.current_url.startswith("file://")
    assert d.execute_script("return document.documentElement.dataset.nPoints") == str(N_POINTS)
    assert d.execute_script("return document.getElementById('latent-explorer').dataset.nPoints") == str(N_POINTS)
    assert js(d, "return model('points').data.patch.length") == N_POINTS == data.n_points
    fetched = d.execute_script("return performance.getEntriesByType('resource').map((e) => e.name)")
    assert not [url for url in fetched if url.startswith(("http:", "https:"))]
    assert js(d, "return Bokeh.index.find_one(model('latent_plot')).canvas_view.webgl != null")


def test_hovering_a_point_shows_its_patch_and_frame(opened, data):
    d = opened
    c = data.columns
    on_screen = screen_positions(d, "latent_plot", c["z1"], c["z2"])
    from scipy.spatial import cKDTree

    distance, _ = cKDTree(on_screen).query(on_screen, k=2)
    i = int(np.argmax(distance[:, 1]))  # the most isolated point: it alone is under the pointer
    browser.move_to(d, *on_screen[i])
    tip, end = None, time.monotonic() + 10
    while (tip is None or tip["pixels"] is None) and time.monotonic() < end:
        tip = browser.tooltip(d)
        time.sleep(0.05)
    assert tip is not None, "no tooltip"
    assert (int(tip["patch"]), int(tip["frame"]), int(tip["track"])) == (i, c["frame"][i], c["track"][i])
    assert f"frame {c['frame'][i]}" in tip["text"] and f"z3 = {c['z3'][i]:.3f}" in tip["text"]
    side = tip["pixels"]["side"]
    shown = np.array(tip["pixels"]["grey"]).reshape(side, side)
    assert np.abs(shown.astype(int) - data.thumbnails[i].astype(int)).max() <= 1  # this patch's own pixels


def test_moving_the_slider_changes_the_frame_shown(opened, data):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    d = opened
    handle = d.execute_script(browser.FIND_DEEP + "return find_deep(document, '.noUi-handle')[0]")
    d.execute_script("arguments[0].focus()", handle)
    ActionChains(d).send_keys(Keys.ARROW_RIGHT).send_keys(Keys.ARROW_RIGHT).perform()
    browser.wait_for(d, browser.MODEL + "return model('frame_slider').value == 2")
    image_sum = js(d, "return Array.from(model('frame_image').data.image[0]).reduce((a, b) => a + b, 0)")
    assert image_sum == int(data.frames[2].sum()) != int(data.frames[0].sum())
    shown = js(d, "return Array.from(model('frame_filter').indices)")
    assert sorted(shown) == np.flatnonzero(data.columns["frame"] == 2).tolist()
    assert js(d, "return model('frame_plot').title.text").startswith("aligned HAADF frame 2 ")


def test_a_box_in_the_latent_plane_highlights_the_same_atoms_in_the_frame_view(opened, data):
    d = opened
    js(d, "model('frame_slider').value = 1")
    c = data.columns
    zx, zy = np.percentile(c["z1"], [20, 80]), np.percentile(c["z2"], [20, 80])
    surely, maybe = drag_box(d, "latent_plot", zx, zy[::-1], c["z1"], c["z2"])
    selected = set(browser.wait_for(d, browser.MODEL + "return model('points').selected.indices"))
    assert surely <= selected <= maybe
    in_frame = {i for i in selected if c["frame"][i] == 1}
    highlighted = js(d, """const sel = new Set(model('points').selected.indices)
        return model('frame_filter').indices.filter((i) => sel.has(i))""")
    assert len(in_frame) > 10 and sorted(highlighted) == sorted(in_frame)
    status = js(d, "return model('status').text")
    assert status == f"{len(selected)} patches selected, {len(in_frame)} of them in frame 1"


def test_a_box_in_the_frame_view_selects_those_atoms_in_the_latent_plane(opened, data):
    d = opened
    c = data.columns
    x0, y0, width, height = data.extent
    surely, maybe = drag_box(d, "frame_plot", [x0 + 0.2 * width, x0 + 0.6 * width],
                             [y0 + 0.3 * height, y0 + 0.7 * height], c["x_pos"], c["y_pos"])
    selected = set(browser.wait_for(d, browser.MODEL + "return model('points').selected.indices"))
    in_frame = set(np.flatnonzero(c["frame"] == 0).tolist())  # the frame view shows frame 0's atoms only
    assert len(surely & in_frame) > 10 and surely & in_frame <= selected <= maybe & in_frame


def test_tapping_a_point_draws_its_track_through_the_latent_plane(opened, data):
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    d = opened
    c = data.columns
    js(d, "model('x_select').value = 'z3'")  # the path follows the axes chosen
    on_screen = screen_positions(d, "frame_plot", c["x_pos"], c["y_pos"])
    i = int(np.flatnonzero(c["frame"] == 0)[5])
    actions = ActionBuilder(d)
    actions.pointer_action.move_to_location(int(on_screen[i][0]), int(on_screen[i][1]))
    actions.pointer_action.click()
    actions.perform()
    browser.wait_for(d, browser.MODEL + "return model('track_path').data.frame.length > 0")
    assert js(d, "return model('track_input').value") == c["track"][i]
    rows = np.flatnonzero(c["track"] == c["track"][i])
    rows = rows[np.argsort(c["frame"][rows])]
    path = js(d, "const p = model('track_path').data; return [Array.from(p.frame), Array.from(p.z3)]")
    assert path[0] == c["frame"][rows].tolist() and np.allclose(path[1], c["z3"][rows])
    glyph_x = js(d, """return model('latent_plot').renderers.filter((r) => r.name == 'path_line')[0].glyph.x.field""")
    assert glyph_x == "z3"


def test_colour_and_axis_choices_redraw_both_views(opened, data):
    d = opened
    js(d, "model('colour_select').value = 'frame'; model('y_select').value = 'z3'")
    fields = js(d, """return ['latent_points', 'frame_points'].map((n) => {
        const r = model('latent_plot').renderers.concat(model('frame_plot').renderers).find((r) => r.name == n)
        return [r.glyph.fill_color.field, r.nonselection_glyph.fill_color.field, r.glyph.y.field ?? r.glyph.y]})""")
    assert [f[:2] for f in fields] == [["frame", "frame"], ["frame", "frame"]]
    assert fields[0][2] == "z3" and fields[1][2] == "y_pos"
    title, low, high = js(d, "const b = model('colour_bar'); return [b.title, b.color_mapper.low, b.color_mapper.high]")
    assert (title, low, high) == ("frame", 0, N_FRAMES - 1)
    start, end = js(d, "const r = model('latent_plot').y_range; return [r.start, r.end]")
    assert start <= data.columns["z3"].min() and end >= data.columns["z3"].max()
