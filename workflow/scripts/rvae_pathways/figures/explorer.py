"""The latent explorer: one self-contained, interactive HTML page per model (Bokeh, drawn with WebGL).

Left, the latent plane: one point per patch (or PFM window), coloured by a chosen quantity
(class, frame, rotation, intensity, a simulator's true class where there is one), on a chosen
pair of latents. Right, the frame view: the frame the slider picks, with that frame's points
coloured alike. Both views draw the same :class:`~bokeh.models.ColumnDataSource`, so a box or
lasso selection in one highlights the same points in the other. Hovering a point shows its patch,
frame, atom and track (PFM: grid place), position and latents; tapping one (or typing a track id)
draws that track's path through the latent plane, frame by frame, and through the movie.

Everything the page needs is in the file (Bokeh's JavaScript inline, the data as binary arrays),
so it opens from disk with no network. Its root element, and the ``<html>`` element, carry
``data-n-points``: the number of points, equal to the number of patches of the model. The Bokeh
models the tests drive have names (``points``, ``latent_plot``, ``frame_plot``, ``frame_slider``,
``colour_select``, ``x_select``, ``y_select``, ``track_input``, ``track_path``, ``frame_image``,
``status``; see :data:`NAMES`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from . import explorer_js as js
from .explorer_data import ExplorerData
from .kit import UNKNOWN_CLASS_COLOUR

# The names of the models a test (or a script) finds with Bokeh.documents[0].get_model_by_name.
NAMES = ("points", "latent_plot", "latent_points", "frame_plot", "frame_points", "frame_filter", "frame_slider",
         "colour_select", "x_select", "y_select", "track_input", "track_path", "frame_image", "status")

PLOT_SIDE = 520  # px, the latent plane's inner side and the frame view's longer side
def point_size(n_points: int) -> int:
    """Marker diameter (px) in the latent plane: smaller for more points (less overplotting, faster drawing)."""
    return 6 if n_points <= 20_000 else 4 if n_points <= 60_000 else 3

TEMPLATE = """{% from macros import embed %}
<!DOCTYPE html>
<html lang="en" data-n-points="{{ n_points }}">
  <head>
    <meta charset="utf-8">
    <title>{{ title | e }}</title>
    <style>
      html, body { margin: 0; padding: 0; font-family: sans-serif; }
      #latent-explorer { padding: 8px 12px; }
    </style>
    {{ bokeh_css if bokeh_css }}
    {{ bokeh_js if bokeh_js }}
  </head>
  <body>
    <main id="latent-explorer" data-n-points="{{ n_points }}" data-sample="{{ sample | e }}"
          data-model="{{ model | e }}" data-noun="{{ noun | e }}">
    {% for doc in docs %}
      {{ embed(doc) if doc.elementid }}
      {% for root in doc.roots %}
        {{ embed(root) }}
      {% endfor %}
    {% endfor %}
    </main>
    {{ plot_script | indent(4) }}
  </body>
</html>
"""


def colour_models(data: ExplorerData):
    """Per colouring: its colour mappers (latent plane, frame view), colour-bar ticker and tick formatter, and title."""
    from bokeh.models import (BasicTicker, BasicTickFormatter, CustomJSTickFormatter, FixedTicker,
                              LinearColorMapper)

    mappers, frame_mappers, tickers, formatters, titles = {}, {}, {}, {}, {}
    for c in data.colourings:
        unknown = UNKNOWN_CLASS_COLOUR if c.kind == "categorical" else None
        mappers[c.column] = LinearColorMapper(palette=c.palette, low=c.low, high=c.high, low_color=unknown,
                                              name=f"colour_{c.column}")
        # the frame view's own copy: a mapper tells the colour bar whenever it maps, and the bar would
        # redraw the latent plane (100,000 points) at every move of the frame slider
        frame_mappers[c.column] = LinearColorMapper(palette=c.palette, low=c.low, high=c.high, low_color=unknown)
        if c.kind == "categorical":
            tickers[c.column] = FixedTicker(ticks=list(range(len(c.names))))
            formatters[c.column] = CustomJSTickFormatter(args={"names": c.names}, code=js.TICK_NAME)
        else:
            tickers[c.column] = BasicTicker()
            formatters[c.column] = BasicTickFormatter()
        titles[c.column] = c.label
    return mappers, frame_mappers, tickers, formatters, titles


def tooltip(data: ExplorerData):
    """The hover tool's HTML template and formatters: the thumbnail, then ``data.hover_lines``, where
    ``@<column>{custom}`` of a categorical colouring shows the code's name."""
    from bokeh.models import CustomJSHover

    side = data.thumbnails.shape[1]
    formatters = {"@patch": CustomJSHover(args={"pixels": data.thumbnails.reshape(-1), "side": int(side)},
                                          code=js.THUMBNAIL)}
    for c in data.colourings:
        if c.kind == "categorical":
            formatters[f"@{c.column}"] = CustomJSHover(args={"names": c.names}, code=js.CODE_NAME)
    lines = [f"<div>{line}</div>" for line in data.hover_lines]
    html = (
        f'<div class="explorer-tip" data-patch="@patch" data-frame="@frame" data-track="@track" '
        f'style="max-width: 340px; font-size: 12px;">'
        f'<img class="explorer-thumb" src="@patch{{custom}}" width="96" height="96" alt="{data.noun} @patch" '
        f'style="image-rendering: pixelated; border: 1px solid #444; float: left; margin: 0 8px 4px 0;">'
        + "".join(lines) + "</div>"
    )
    return html, formatters


def hover_tool(renderers, html, formatters):
    """Hover with the tooltip of :func:`tooltip`: one point at a time, the nearest under the pointer."""
    from bokeh.models import CustomJS, HoverTool

    return HoverTool(renderers=renderers, tooltips=html, formatters=formatters, point_policy="snap_to_data",
                     limit=1, filters={"@patch": CustomJS(code=js.NEAREST)})


def source_columns(data: ExplorerData) -> dict:
    """The points' columns as Bokeh sends them: 32-bit numbers (binary in the page), text as lists."""
    out = {}
    for name, values in data.columns.items():
        values = np.asarray(values)
        if values.dtype.kind in "iub":
            out[name] = values.astype(np.int32)
        elif values.dtype.kind == "f":
            out[name] = values.astype(np.float32)
        else:
            out[name] = [str(v) for v in values]
    return out


def latent_plane(data: ExplorerData, source, mappers, first):
    """The latent plane: its figure and points renderer (WebGL)."""
    from bokeh.plotting import figure

    x_name, y_name = data.latent_names[0], data.latent_names[min(1, len(data.latent_names) - 1)]
    plot = figure(name="latent_plot", output_backend="webgl", frame_width=PLOT_SIDE, frame_height=PLOT_SIDE,
                  title=f"latent plane: {data.n_points:,} {data.plural}",
                  tools="pan,wheel_zoom,box_select,lasso_select,reset,save", active_drag="box_select",
                  active_scroll="wheel_zoom", x_axis_label=x_name, y_axis_label=y_name)
    colour = {"field": first.column, "transform": mappers[first.column]}
    points = plot.scatter(x=x_name, y=y_name, source=source, size=point_size(data.n_points), marker="circle",
                          fill_color=colour, fill_alpha=0.8, line_color=None, selection_fill_alpha=1.0,
                          selection_line_color=None, nonselection_fill_alpha=0.12, nonselection_line_color=None,
                          name="latent_points")
    return plot, points


def frame_view(data: ExplorerData, source, mappers, first):
    """The frame view: the frame image, and the points of that frame (a filtered view of the same source)."""
    from bokeh.models import CDSView, ColumnDataSource, IndexFilter, LinearColorMapper, Range1d
    from bokeh.palettes import Greys256
    from bokeh.plotting import figure

    x0, y0, width, height = data.extent
    scale = PLOT_SIDE / max(width, height)
    frame_width, frame_height = int(round(width * scale)), int(round(height * scale))
    plot = figure(name="frame_plot", output_backend="webgl", frame_width=frame_width, frame_height=frame_height,
                  x_range=Range1d(x0, x0 + width), y_range=Range1d(y0 + height, y0),  # row 0 at the top
                  tools="pan,wheel_zoom,box_select,lasso_select,reset,save", active_drag="box_select",
                  active_scroll="wheel_zoom", x_axis_label=f"x ({data.units})", y_axis_label=f"y ({data.units})",
                  title=frame_title(data, 0))
    plot.grid.visible = False
    frames = ColumnDataSource({"image": list(data.frames)}, name="frames")
    frame_image = ColumnDataSource({"image": [data.frames[0]], "x": [x0], "y": [y0], "dw": [width], "dh": [height]},
                                   name="frame_image")
    plot.image(image="image", x="x", y="y", dw="dw", dh="dh", source=frame_image,
               color_mapper=LinearColorMapper(palette=Greys256, low=0, high=255), level="image")
    shown = np.flatnonzero(data.columns["frame"] == 0).tolist()
    frame_filter = IndexFilter(indices=shown, name="frame_filter")
    colour = {"field": first.column, "transform": mappers[first.column]}
    size = float(np.clip(data.marker_size * scale, 4, 18))
    points = plot.scatter(x="x_pos", y="y_pos", source=source, view=CDSView(filter=frame_filter), size=size,
                          marker="circle", fill_color=colour, fill_alpha=0.6, line_color=None,
                          selection_fill_alpha=1.0, selection_line_color="white", selection_line_width=2.0,
                          nonselection_fill_alpha=0.25, nonselection_line_color=None, name="frame_points")
    return plot, points, frames, frame_image, frame_filter


def frame_title(data: ExplorerData, f: int) -> str:
    n = int((data.columns["frame"] == f).sum())
    return f"{data.frame_name} {f} (of 0-{len(data.frames) - 1}): {n} {data.noun if n == 1 else data.plural}"


def track_path(data: ExplorerData, latent_plot, frame_plot):
    """The chosen track's path: a line with its frames in the latent plane, and through the movie."""
    from bokeh.models import ColumnDataSource

    empty = {"frame": [], "label": [], "x_pos": [], "y_pos": [], **{name: [] for name in data.latent_names}}
    path = ColumnDataSource(empty, name="track_path")
    x_name, y_name = data.latent_names[0], data.latent_names[min(1, len(data.latent_names) - 1)]
    line = latent_plot.line(x=x_name, y=y_name, source=path, line_color="black", line_width=2, name="path_line")
    dots = latent_plot.scatter(x=x_name, y=y_name, source=path, size=8, fill_color="white", line_color="black",
                               name="path_points")
    labels = latent_plot.text(x=x_name, y=y_name, text="label", source=path, text_font_size="10px",
                              x_offset=4, y_offset=-4, name="path_labels")
    frame_plot.line(x="x_pos", y="y_pos", source=path, line_color="cyan", line_width=2)
    frame_plot.scatter(x="x_pos", y="y_pos", source=path, size=6, fill_color="cyan", line_color="black")
    return path, [line, dots, labels]


def controls(data: ExplorerData):
    """The widgets: colour, latent axes, frame slider, track id, status and help lines."""
    from bokeh.models import Div, NumericInput, Select, Slider

    first = data.colourings[0]
    colour = Select(title="colour by", value=first.column, options=[(c.column, c.label) for c in data.colourings],
                    name="colour_select", width=230)
    x_name, y_name = data.latent_names[0], data.latent_names[min(1, len(data.latent_names) - 1)]
    x_select = Select(title="x axis", value=x_name, options=data.latent_names, name="x_select", width=110)
    y_select = Select(title="y axis", value=y_name, options=data.latent_names, name="y_select", width=110)
    n_frames = len(data.frames)
    slider = Slider(start=0, end=max(n_frames - 1, 1), value=0, step=1, title="frame", name="frame_slider",
                    width=PLOT_SIDE, disabled=n_frames < 2)
    track = NumericInput(title=f"{data.track_name} id (or tap a point)", value=None, mode="int", name="track_input",
                         width=200)
    status = Div(text=f"0 {data.plural} selected", name="status", width=320)
    path_title = Div(text="", name="path_title", width=320)
    return colour, x_select, y_select, slider, track, status, path_title


def help_text(data: ExplorerData) -> str:
    return (
        f"<b>{data.title}</b>: {data.n_points:,} {data.plural}, "
        f"{len(data.frames)} frame{'s' if len(data.frames) != 1 else ''}, {len(data.latent_names)} latents. "
        "Hover a point for its patch; drag a box (or lasso) in either view to select, the other view "
        f"highlights the same {data.plural}; tap a point to draw its {data.track_name}'s path over the frames."
    )


def build_explorer(data: ExplorerData):
    """The page's Bokeh layout (see the module's doc)."""
    from bokeh.layouts import column, row
    from bokeh.models import ColorBar, ColumnDataSource, CustomJS, Div, TapTool

    if data.n_points == 0:
        raise ValueError("the explorer needs at least one point")
    source = ColumnDataSource(source_columns(data), name="points")
    mappers, frame_mappers, tickers, formatters, titles = colour_models(data)
    first = data.colourings[0]
    latent_plot, latent_points = latent_plane(data, source, mappers, first)
    frame_plot, frame_points, frames, frame_image, frame_filter = frame_view(data, source, frame_mappers, first)
    colour_bar = ColorBar(color_mapper=mappers[first.column], ticker=tickers[first.column],
                          formatter=formatters[first.column], title=titles[first.column], name="colour_bar", width=12)
    latent_plot.add_layout(colour_bar, "right")
    path, _ = track_path(data, latent_plot, frame_plot)
    html, hover_formatters = tooltip(data)
    for plot, renderer in ((latent_plot, latent_points), (frame_plot, frame_points)):
        plot.add_tools(hover_tool([renderer], html, hover_formatters))
    colour, x_select, y_select, slider, track, status, path_title = controls(data)
    status_args = {"source": source, "frame_filter": frame_filter, "slider": slider, "status": status,
                   "noun": data.noun, "plural": data.plural}
    slider.js_on_change("value", CustomJS(args={
        **status_args, "frame_image": frame_image, "frames": frames, "frame_plot": frame_plot,
        "frame_name": data.frame_name, "n_frames": len(data.frames)}, code=js.ON_FRAME))
    source.selected.js_on_change("indices", CustomJS(args=status_args, code=js.ON_SELECT))
    renderers = [latent_points, frame_points]
    colour.js_on_change("value", CustomJS(args={
        "select": colour, "renderers": renderers, "mappers": [mappers, frame_mappers], "tickers": tickers,
        "formatters": formatters, "titles": titles, "colour_bar": colour_bar}, code=js.ON_COLOUR))
    path_renderers = [r for r in latent_plot.renderers if r.name in ("path_line", "path_points", "path_labels")]
    axes = CustomJS(args={"x_select": x_select, "y_select": y_select, "renderers": [latent_points, *path_renderers],
                          "source": source, "x_range": latent_plot.x_range, "y_range": latent_plot.y_range,
                          "x_axis": latent_plot.xaxis[0], "y_axis": latent_plot.yaxis[0]}, code=js.ON_AXES)
    x_select.js_on_change("value", axes)
    y_select.js_on_change("value", axes)
    track.js_on_change("value", CustomJS(args={
        "track_input": track, "source": source, "path": path, "latent_names": data.latent_names,
        "track_name": data.track_name, "path_title": path_title}, code=js.ON_TRACK))
    tap = CustomJS(args={"track_input": track}, code=js.ON_TAP)
    for plot, renderer in ((latent_plot, latent_points), (frame_plot, frame_points)):
        plot.add_tools(TapTool(renderers=[renderer], behavior="inspect", callback=tap))
    header = Div(text=help_text(data), name="help", width=2 * PLOT_SIDE + 120)
    left = column(latent_plot, row(colour, x_select, y_select))
    right = column(frame_plot, slider, row(track, column(status, path_title)))
    return column(header, row(left, right), name="explorer")


def write_explorer(data: ExplorerData, path) -> dict:
    """Write the page (INLINE resources: no network needed) and return its size, point count and build time."""
    from bokeh.core.templates import get_env
    from bokeh.embed import file_html
    from bokeh.resources import INLINE

    start = time.perf_counter()
    layout = build_explorer(data)
    template = get_env().from_string(TEMPLATE)
    html = file_html(layout, resources=INLINE, title=data.title, template=template,
                     template_variables={"n_points": data.n_points, "noun": data.noun,
                                         "sample": data.attrs.get("sample", ""), "model": data.attrs.get("model", "")})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return {"path": str(path), "n_points": data.n_points, "bytes": path.stat().st_size,
            "thumbnail_px": int(data.thumbnails.shape[1]), "frame_step": int(data.frame_step),
            "seconds": time.perf_counter() - start}
