"""``make demo``: the app served live by Voila, driven in a real Chromium through selenium.

The test starts ``python -m recsys_utils.app.serve`` on a free port of 127.0.0.1 with a
small checkpoint, types a title into the new-user search, adds the movie, changes its
rating and sees the recommendation list change each time; a screenshot goes to the
test's temporary folder (never ``reports/``). Ctrl-C (SIGINT) then stops the server cleanly.
Without Chromium, chromedriver or selenium the test skips, except under ``CI=true``,
where it fails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from helpers import default_sigint

from recsys_utils.constants import DATA_DIR_ENV

pytestmark = pytest.mark.browser
SEARCH = "input[placeholder='part of a title']"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def small_checkpoint(data_home, mirror_dir, monkeypatch):
    """A quickly trained ranking model (what ``make demo`` serves) on ml-latest-small,
    saved in the test's data folder."""
    monkeypatch.setenv("RECSYS_DATA_MIRROR", str(mirror_dir))
    from recsys_utils import data
    from recsys_utils.constants import checkpoint_dir
    from recsys_utils.models import checkpoints
    from recsys_utils.models.fitting import fit_early_stopped

    ratings = data.load_dataset("ml-latest-small").ratings
    model = fit_early_stopped(
        "pooled_softmax", ratings, dim=64, lr=3e-3, max_epochs=30, patience=5, eval_every=5
    )
    return checkpoints.save(model, checkpoint_dir() / "app-test", dataset="ml-latest-small")


@pytest.fixture
def server(small_checkpoint, data_home, mirror_dir, tmp_path):
    port = _free_port()
    token = "browser-test-token"  # the app refuses a page without it (test_serve_guard.py)
    env = {
        **os.environ,
        DATA_DIR_ENV: str(data_home),
        "RECSYS_DATA_MIRROR": str(mirror_dir),
        "RECSYS_APP_TOKEN": token,
    }
    log = tmp_path / "serve.log"  # a file, not a pipe: Voila's logging cannot fill and block it
    proc = subprocess.Popen(
        [sys.executable, "-m", "recsys_utils.app.serve", "--checkpoint", str(small_checkpoint),
         f"--port={port}"],
        env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True,
        preexec_fn=default_sigint,
    )  # fmt: skip
    proc.log = log
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"the app server did not start: {log.read_text()[-2000:]}")
    yield proc, f"http://127.0.0.1:{port}/?token={token}"
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_the_live_app_recommends_and_reacts_to_a_rating_then_stops_on_ctrl_c(
    driver, server, tmp_path
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    proc, url = server
    wait = WebDriverWait(driver, 120)
    driver.get(url)
    search = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, SEARCH)))
    banner = driver.find_element(By.CSS_SELECTOR, ".recsys-banner").text  # visible text only
    assert "Live in Jupyter or Voila" in banner and "This is a snapshot" not in banner

    def recommendations() -> str:
        box = driver.find_elements(
            By.XPATH, "//b[text()='Recommended']/following::div[contains(@class,'widget-html')][1]"
        )
        return box[-1].text if box else ""

    def changes_from(before: str) -> str:
        wait.until(lambda _: recommendations() not in ("", before))
        return recommendations()

    assert "Rate a few movies" in recommendations()
    search.send_keys("Toy Story", Keys.ENTER)
    wait.until(lambda d: "Toy Story (1995)" in d.find_elements(By.CSS_SELECTOR, "select")[0].text)
    add = driver.find_element(By.XPATH, "//button[contains(., 'Add')]")
    add.click()  # rated 4 by default: liked
    first = changes_from("Rate a few movies to get recommendations.")
    assert "because you liked" in first and "Toy Story (1995)" in first  # the explanations

    search.clear()
    search.send_keys("Shining", Keys.ENTER)
    wait.until(
        lambda d: "Shining, The (1980)" in d.find_elements(By.CSS_SELECTOR, "select")[0].text
    )
    add.click()
    second = changes_from(first)
    assert "Shining, The (1980)" in second  # the new liked movie explains some of the list

    # readouts: min ratings, novelty, then one per rated movie; Toy Story's is the first of those
    readout = driver.find_elements(By.CSS_SELECTOR, ".widget-readout")[2]
    readout.click()
    readout.send_keys(Keys.CONTROL, "a")
    readout.send_keys("1", Keys.ENTER)  # 1 star: no longer liked, so it explains nothing
    third = changes_from(second)
    assert "Toy Story (1995)" not in third and "Shining, The (1980)" in third

    assert driver.save_screenshot(str(tmp_path / "app_live.png"))

    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    assert proc.wait(timeout=30) == 0
    out = proc.log.read_text()
    assert "serving the recommendation app" in out and "stopping the app server" in out
