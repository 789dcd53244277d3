"""The browser code of the latent explorer page (:mod:`.explorer`): Bokeh ``CustomJS`` bodies.

Each string is the body of a function whose parameters are the callback's ``args`` (named in the
comment above it); ``cb_obj`` is the model that changed, ``cb_data`` the tool's event data.
Everything runs in the page: there is no server.
"""

# The points of one frame, and the status line ("12 selected, 5 of them in frame 3").
# args: source, frame_filter, slider, status, noun, plural
STATUS = """
function frame_points(f) {
  const frames = source.data.frame
  const out = []
  for (let i = 0; i < frames.length; i++) {
    if (frames[i] == f) out.push(i)
  }
  return out
}
function update_status() {
  const f = slider.value
  const selected = source.selected.indices
  const frames = source.data.frame
  let here = 0
  for (const i of selected) {
    if (frames[i] == f) here++
  }
  const what = selected.length == 1 ? noun : plural
  status.text = `${selected.length} ${what} selected, ${here} of them in frame ${f}`
}
"""

# Slider moved: show that frame and its points.
# args: + frame_image, frames, frame_plot, frame_name, n_frames, path_current
ON_FRAME = STATUS + """
const f = slider.value
frame_image.data = {...frame_image.data, image: [frames.data.image[f]]}
const shown = frame_points(f)
frame_filter.indices = shown
const what = shown.length == 1 ? noun : plural
frame_plot.title.text = `${frame_name} ${f} (of 0-${n_frames - 1}): ${shown.length} ${what}`
update_status()
"""

# The selection changed (box, lasso or tap in either view).
ON_SELECT = STATUS + """
update_status()
"""

# Colour quantity chosen. args: select, renderers, mappers (one set per renderer), tickers, formatters,
# titles, colour_bar
ON_COLOUR = """
const key = select.value
renderers.forEach((r, k) => {
  for (const g of [r.glyph, r.selection_glyph, r.nonselection_glyph]) {
    if (g != null && typeof g == "object") g.fill_color = {field: key, transform: mappers[k][key]}
  }
})
const mapper = mappers[0][key]
// the bar reads its ticker and formatter again when its mapper changes: set those first
colour_bar.setv({ticker: tickers[key], formatter: formatters[key], title: titles[key]})
colour_bar.color_mapper = mapper
"""

# Latent axes chosen. args: x_select, y_select, renderers, source, x_range, y_range, x_axis, y_axis
ON_AXES = """
const names = [x_select.value, y_select.value]
for (const r of renderers) {
  for (const g of [r.glyph, r.selection_glyph, r.nonselection_glyph]) {
    if (g != null && typeof g == "object") {
      g.x = {field: names[0]}
      g.y = {field: names[1]}
    }
  }
}
function span(values) {
  let lo = Infinity, hi = -Infinity
  for (const v of values) {
    if (Number.isFinite(v)) {
      if (v < lo) lo = v
      if (v > hi) hi = v
    }
  }
  if (!(hi > lo)) { lo = (Number.isFinite(lo) ? lo : 0) - 0.5; hi = lo + 1 }
  const pad = 0.04 * (hi - lo)
  return [lo - pad, hi + pad]
}
const [x0, x1] = span(source.data[names[0]])
const [y0, y1] = span(source.data[names[1]])
x_range.setv({start: x0, end: x1})
y_range.setv({start: y0, end: y1})
x_axis.axis_label = names[0]
y_axis.axis_label = names[1]
"""

# A track (or PFM window) chosen: its points in frame order into the path source.
# args: track_input, source, path, latent_names, track_name, path_title
ON_TRACK = """
const t = track_input.value
const tracks = source.data.track
const frames = source.data.frame
const rows = []
if (t != null) {
  for (let i = 0; i < tracks.length; i++) {
    if (tracks[i] == t) rows.push(i)
  }
}
rows.sort((a, b) => frames[a] - frames[b])
const data = {frame: rows.map((i) => frames[i]), label: rows.map((i) => ` ${frames[i]}`),
              x_pos: rows.map((i) => source.data.x_pos[i]), y_pos: rows.map((i) => source.data.y_pos[i])}
for (const name of latent_names) {
  data[name] = rows.map((i) => source.data[name][i])
}
path.data = data
path_title.text = t == null ? "" : `${track_name} ${t}: ${rows.length} point${rows.length == 1 ? "" : "s"}`
"""

# Tap (inspect) on a point: choose its track. args: track_input
ON_TAP = """
const hit = cb_data.source.inspected.indices
if (hit.length > 0) {
  track_input.value = cb_data.source.data.track[hit[0]]
}
"""

# Hover filter: of the points under the cursor, show only the nearest (on screen).
NEAREST = """
const {vars} = cb_data
const glyph = vars.glyph_view
if (glyph == null || glyph.sx == null || vars.indices == null) return true
const key = `${vars.sx},${vars.sy},${vars.indices.length}`
const cache = cb_obj.__nearest ?? (cb_obj.__nearest = new Map())
let best = cache.get(glyph)
if (best == null || best.key != key) {
  let d = Infinity
  for (const i of vars.indices) {
    const di = (glyph.sx[i] - vars.sx) ** 2 + (glyph.sy[i] - vars.sy) ** 2
    if (di < d) d = di
  }
  best = {key, d}
  cache.set(glyph, best)
}
const mine = (vars.snap_sx - vars.sx) ** 2 + (vars.snap_sy - vars.sy) ** 2
return mine <= best.d + 1e-6
"""

# Tooltip image: the hovered point's thumbnail drawn on a canvas, as a PNG data URL.
# args: pixels (uint8, point x side x side, flat), side
THUMBNAIL = """
const i = special_vars.index
const canvas = document.createElement("canvas")
canvas.width = side
canvas.height = side
const context = canvas.getContext("2d")
const image = context.createImageData(side, side)
const offset = i * side * side
for (let k = 0; k < side * side; k++) {
  const v = pixels[offset + k]
  image.data[4 * k] = v
  image.data[4 * k + 1] = v
  image.data[4 * k + 2] = v
  image.data[4 * k + 3] = 255
}
context.putImageData(image, 0, 0)
return canvas.toDataURL("image/png")
"""

# A class or structure code in the tooltip by its name. args: names
CODE_NAME = """
return value >= 0 && value < names.length ? names[value] : "unknown"
"""

# Colour bar labels of a categorical colouring. args: names
TICK_NAME = """
return tick >= 0 && tick < names.length && Number.isInteger(tick) ? names[tick] : ""
"""
