"""A screenshot of the browser demo with a result, taken by headless Chromium (docs/webapp.md#screenshot):

    python tools/webapp_screenshot.py --out assets/webapp.png --model_path SNAPSHOT --human_model_dir DIR

serves ``demo/app.py``'s page in this process (the app's flags after ``--out``; a free port unless ``--port``),
uploads the example image with its box, waits for the overlay and the 3D view, and writes the page as a PNG.  The
browser is Debian's ``chromium`` driven through ``/usr/bin/chromedriver`` (Selenium downloads nothing); every
network request the page makes is logged, and a request to any host but the app's is an error.  The browser test
(tests/integration/test_browser.py) drives the page with the same functions.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
EXAMPLE_IMAGE, EXAMPLE_BOXES = ROOT / "demo" / "input.jpg", ROOT / "demo" / "input_bbox.json"
LOCAL_SCHEMES = ("data", "blob", "about", "chrome", "chrome-extension", "devtools")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def chromium(width: int = 1400, height: int = 1700):
    """Headless Chromium through Debian's chromedriver, WebGL on SwiftShader (no GPU), network requests logged."""
    from selenium import webdriver  # noqa: PLC0415
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)} not found: install Debian's browser and driver with "
                                f"'apt-get install chromium chromium-driver' (.ci/run does it as root)")
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager, should anything call it, must not download drivers
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--use-gl=angle",
                "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist",
                "--disable-background-networking", "--disable-component-update", "--no-first-run",
                f"--window-size={width},{height}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)


class NetworkLog:
    """Every URL the page requested (documents, scripts, styles, fonts, images, fetches, sockets), gathered from
    Chromium's performance log (which hands each entry out once)."""

    def __init__(self, driver) -> None:
        self.driver, self.urls = driver, []

    def poll(self) -> list[str]:
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                self.urls.append(message["params"]["request"]["url"])
            elif message["method"] == "Network.webSocketCreated":
                self.urls.append(message["params"]["url"])
        return self.urls


def outside_requests(urls: list[str], host: str = "127.0.0.1") -> list[str]:
    """The URLs that went to a host other than ``host`` (data:, blob: and browser-internal URLs are local)."""
    return [u for u in urls if urlparse(u).scheme not in LOCAL_SCHEMES and urlparse(u).hostname != host]


def run_example(driver, url: str, log: NetworkLog, timeout_s: float = 300.0) -> str:
    """Open the page, upload the example image and its box, run, wait for the overlay image, the side view and the
    3D view (its scene fetched and drawn on the canvas); returns the status line."""
    from selenium.webdriver.common.by import By  # noqa: PLC0415
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    driver.get(url)
    wait = WebDriverWait(driver, timeout_s)
    for elem_id, path in (("media", EXAMPLE_IMAGE), ("detections", EXAMPLE_BOXES)):
        upload(driver, elem_id, path, timeout_s)
    driver.find_element(By.ID, "run").click()
    wait.until(lambda d: "rendered_mesh" in (_attribute(d, "#overlay-image img", "src") or ""))
    wait.until(lambda d: "side_" in (_attribute(d, "#side-view img", "src") or ""))
    wait.until(lambda d: any(u.split("?")[0].endswith(".glb") for u in log.poll()))
    wait.until(lambda d: _drawn(d.find_elements(By.CSS_SELECTOR, "#scene canvas")))
    return driver.find_element(By.CSS_SELECTOR, "#status textarea").get_attribute("value")


def _drawn(canvases: list) -> bool:
    """Whether the first canvas shows something other than its background (WebGL keeps no readable buffer, so
    its pixels are read from a screenshot of the element)."""
    if not canvases:
        return False
    from PIL import Image  # noqa: PLC0415

    pixels = Image.open(io.BytesIO(canvases[0].screenshot_as_png)).convert("L")
    low, high = pixels.getextrema()
    return high - low > 40


def upload(driver, elem_id: str, path: Path, timeout_s: float = 60.0, attempts: int = 3) -> None:
    """Put ``path`` into the file field ``elem_id`` and wait until the page lists it; the field is found again
    for each attempt, since the page re-renders while an earlier upload settles."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException  # noqa: PLC0415
    from selenium.webdriver.common.by import By  # noqa: PLC0415
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    for attempt in range(attempts):
        try:
            field = WebDriverWait(driver, timeout_s).until(
                lambda d: d.find_element(By.CSS_SELECTOR, f"#{elem_id} input[type=file]"))
            field.send_keys(str(path))
            WebDriverWait(driver, timeout_s / attempts).until(
                lambda d: path.name in d.find_element(By.ID, elem_id).text.replace("\n", ""))
            return
        except (StaleElementReferenceException, TimeoutException):
            if attempt == attempts - 1:
                raise


def _attribute(driver, selector: str, name: str) -> str | None:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    found = driver.find_elements(By.CSS_SELECTOR, selector)
    return found[0].get_attribute(name) if found else None


def main(argv: list[str] | None = None) -> int:
    from common.errors import run_reporting_user_errors  # noqa: PLC0415
    from common.utils.io import atomic_write_bytes  # noqa: PLC0415
    from main.predictor.errors import DemoError  # noqa: PLC0415
    from main.predictor.webapp import parse_app_args, serve  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=True)
    parser.add_argument("--out", type=Path, required=True, help="PNG file to write (e.g. assets/webapp.png)")
    args, app_argv = parser.parse_known_args(argv)

    def take() -> None:
        app_args = parse_app_args(app_argv if "--port" in app_argv else [*app_argv, "--port", str(free_port())])
        server = serve(app_args, prevent_thread_lock=True)
        try:
            driver = chromium()
            try:
                log = NetworkLog(driver)
                status = run_example(driver, server.url, log)
                outside = outside_requests(log.poll())
                if outside:
                    raise DemoError(f"the page requested outside hosts: {outside[:5]}")
                atomic_write_bytes(args.out, driver.get_screenshot_as_png())
            finally:
                driver.quit()
        finally:
            server.close()
        print(f"wrote {args.out} ({status})")

    return run_reporting_user_errors(take)


if __name__ == "__main__":
    sys.exit(main())
