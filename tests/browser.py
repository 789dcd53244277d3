"""Headless Chromium driven by Selenium, for the latent explorer's browser tests and its benchmark.

Chromium and its driver come from Debian's packages ``chromium`` and ``chromium-driver``;
:func:`chromium` installs them where apt and root are at hand (as in CI), and says why not
elsewhere. The browser runs with the network off: host names resolve to nothing and every request
would go to a proxy that does not exist, so a page that needs a CDN shows it as console errors.
Selenium is told where the driver is, so Selenium Manager never looks for one on the network.

Bokeh draws into shadow DOM; the helpers below reach its elements through ``shadowRoot``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from apt import can_install, install

PACKAGES = ("chromium", "chromium-driver")
BROWSERS = ("chromium", "chromium-browser")
DRIVERS = ("chromedriver",)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _which(names) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium(log: Path | None = None) -> tuple[str, str] | str:
    """(browser, driver) paths, installing them if missing and possible; else the reason they are absent."""
    browser, driver = _which(BROWSERS), _which(DRIVERS)
    if browser and driver:
        return browser, driver
    if not can_install():
        return ("headless Chromium is not installed and cannot be installed here (needs root and apt-get); "
                "install Debian's chromium and chromium-driver")
    install(PACKAGES, log or Path(os.environ.get("TMPDIR", "/tmp")) / "chromium-install.log")
    browser, driver = _which(BROWSERS), _which(DRIVERS)
    if not (browser and driver):
        return f"apt-get installed {PACKAGES} but chromium or chromedriver is still missing"
    return browser, driver


def start(browser: str, driver: str, width: int = 1400, height: int = 1000):
    """A headless Chromium with the network off and the console log kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: never download anything
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}",
                     "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost", "--proxy-server=127.0.0.1:9",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update",
                     "--enable-unsafe-swiftshader", "--use-angle=swiftshader", "--allow-file-access-from-files"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


# JavaScript helpers, run in the page (arguments[0], ...).
FIND_DEEP = """
function find_deep(root, selector) {
  const found = []
  const walk = (node) => {
    if (node.querySelectorAll) found.push(...node.querySelectorAll(selector))
    const all = node.querySelectorAll ? node.querySelectorAll("*") : []
    for (const el of all) if (el.shadowRoot) walk(el.shadowRoot)
  }
  walk(root)
  return found
}
"""

MODEL = "const doc = Bokeh.documents[0]; const model = (name) => doc.get_model_by_name(name);\n"

# Viewport position (CSS px) of data point (x, y) in the plot named arguments[0].
DATA_TO_SCREEN = MODEL + """
const plot = model(arguments[0])
const view = Bokeh.index.find_one(plot)
const {x_scale, y_scale} = view.frame
const rect = view.canvas_view.el.getBoundingClientRect()
return [rect.left + x_scale.compute(arguments[1]), rect.top + y_scale.compute(arguments[2])]
"""


def open_page(driver, path: Path, timeout: float = 60.0) -> float:
    """Load ``path`` from a file:// URL and wait until Bokeh has drawn it; seconds from start to idle."""
    start_time = time.perf_counter()
    driver.get(Path(path).resolve().as_uri())
    wait_for(driver, "return typeof Bokeh != 'undefined' && Bokeh.documents.length > 0 && "
                     "Bokeh.documents[0].is_idle", timeout)
    return time.perf_counter() - start_time


def wait_for(driver, script: str, timeout: float = 60.0, *args):
    """Poll ``script`` until it returns something truthy; return that."""
    end = time.monotonic() + timeout
    while True:
        value = driver.execute_script(script, *args)
        if value:
            return value
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {timeout} s waiting for: {script}")
        time.sleep(0.05)


def console_errors(driver) -> list[str]:
    """Console messages of level SEVERE since the last call."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def screen_point(driver, plot: str, x: float, y: float) -> tuple[float, float]:
    return tuple(driver.execute_script(DATA_TO_SCREEN, plot, float(x), float(y)))


def move_to(driver, x: float, y: float) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    actions = ActionBuilder(driver)
    actions.pointer_action.move_to_location(int(round(x)), int(round(y)))
    actions.perform()
    ActionChains(driver).pause(0.05).perform()


def drag(driver, start: tuple[float, float], end: tuple[float, float], steps: int = 8) -> None:
    """Press at ``start``, move to ``end`` in steps, release (viewport CSS px)."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    actions = ActionBuilder(driver)
    pointer = actions.pointer_action
    pointer.move_to_location(int(start[0]), int(start[1]))
    pointer.pointer_down()
    for k in range(1, steps + 1):
        t = k / steps
        pointer.move_to_location(int(start[0] + t * (end[0] - start[0])), int(start[1] + t * (end[1] - start[1])))
    pointer.pointer_up()
    actions.perform()


def tooltip(driver) -> dict | None:
    """The visible explorer tooltip: its data attributes, text and thumbnail's pixels (grey levels), or None."""
    return driver.execute_script(FIND_DEEP + """
    const tips = find_deep(document, ".explorer-tip").filter((el) => el.getClientRects().length > 0)
    if (tips.length == 0) return null
    const tip = tips[tips.length - 1]
    const img = tip.querySelector("img")
    let pixels = null
    if (img && img.complete && img.naturalWidth > 0) {
      const canvas = document.createElement("canvas")
      canvas.width = img.naturalWidth
      canvas.height = img.naturalHeight
      const context = canvas.getContext("2d")
      context.drawImage(img, 0, 0)
      const data = context.getImageData(0, 0, canvas.width, canvas.height).data
      pixels = {side: canvas.width, grey: Array.from(data.filter((_, k) => k % 4 == 0))}
    }
    return {patch: tip.dataset.patch, frame: tip.dataset.frame, track: tip.dataset.track,
            text: tip.innerText, pixels: pixels, count: tips.length}
    """)
