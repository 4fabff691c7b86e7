"""The browser demo in a real browser: headless Chromium (Debian's ``chromium`` and ``chromium-driver``, which
.ci/run installs) opens the page of an app serving the session's random-weight body snapshot, uploads the example
image with its box, waits for the overlay and for the 3D view's canvas, and checks that every request the page made
went to the app itself.  A screenshot goes to the test's temporary folder.
"""
from __future__ import annotations

import json
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image

from main.predictor.webapp import parse_app_args, serve
from tools.webapp_screenshot import NetworkLog, chromium, free_port, outside_requests, run_example, upload

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(body_snapshot_file, model_dir):
    running = serve(parse_app_args(["--model_path", str(body_snapshot_file), "--human_model_dir", str(model_dir),
                                    "--port", str(free_port())]), prevent_thread_lock=True)
    yield running
    running.close()


@pytest.fixture(scope="module")
def browser():
    driver = chromium()
    yield driver
    driver.quit()


def test_the_page_runs_the_example_offline_and_shows_the_meshes(server, browser, tmp_path):
    start = time.perf_counter()
    log = NetworkLog(browser)
    status = run_example(browser, server.url, log, timeout_s=240)
    urls = log.poll()
    assert status.startswith("1 person in"), status
    assert any("/gradio_api/upload" in u for u in urls) and any("rendered_mesh_param.jpg" in u for u in urls)
    assert outside_requests(urls) == [], "the page requested outside hosts"
    shot = tmp_path / "webapp.png"
    browser.save_screenshot(str(shot))
    page = np.asarray(Image.open(shot).convert("RGB"))
    assert page.shape[0] > 1000 and page.std() > 10
    print(f"browser run {time.perf_counter() - start:.1f} s, {len(urls)} requests, screenshot {shot}")


def test_the_page_shows_a_message_for_a_bad_upload_and_keeps_serving(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    fake = tmp_path / "holiday.jpg"
    fake.write_text("this is not a picture\n")
    browser.get(server.url)
    upload(browser, "media", fake)
    browser.find_element(By.ID, "run").click()
    toast = WebDriverWait(browser, 60).until(
        lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, ".toast-body") if "holiday.jpg" in e.text])
    assert "not a readable image" in toast[0].text and "Traceback" not in toast[0].text
    assert outside_requests(NetworkLog(browser).poll()) == []
    with urllib.request.urlopen(server.url + "config", timeout=30) as response:
        assert json.load(response)["components"], "the app stopped serving"

