"""The review page in a real browser: Debian's Chromium, driven by Playwright (its own
browser download is never used). Opens the list, logs in, opens a call recorded by a real
end-to-end call, and checks the transcript, the waterfall and the audio element; writes a
screenshot to test-artifacts/."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from receptionist.config import Config
from receptionist.runtime import build_services
from receptionist.server import serve_app
from tests.helpers.paths import PROJECT_ROOT
from tests.helpers.review import NOW, PASSWORD, place_call, records_config, wait_for_record

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CALL_SID = "CA" + "6" * 32
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
BROWSER_TIMEOUT_MS = 20_000


# Marks, not pytest.skip inside the test: a skip raised in a trio test loses its reason.
pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="browser test: pip install -e '.[dev]' for Playwright",
    ),
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="browser test: needs Chromium; apt-get install chromium (as .ci/run does)",
    ),
]


@pytest.fixture
def config(project_config: Config, tmp_path: Path) -> Config:
    return records_config(project_config, tmp_path)


@pytest.fixture
async def server(config: Config, nursery: trio.Nursery) -> AsyncIterator[str]:
    services = await trio.to_thread.run_sync(lambda: build_services(config, now=NOW))
    yield (await nursery.start(serve_app, services, "127.0.0.1", 0))[0]
    nursery.cancel_scope.cancel()


async def test_the_detail_page_in_chromium(server, config, tmp_path):
    from playwright.sync_api import sync_playwright

    with trio.fail_after(120):
        await place_call(server, "booking_call.wav", CALL_SID)
        _summary, detail = await wait_for_record(config, CALL_SID)

    def browse() -> dict:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM),
                args=LAUNCH_ARGS, headless=True, viewport={"width": 1100, "height": 900},
            )  # fmt: skip
            try:
                page = browser.new_page()
                page.set_default_timeout(BROWSER_TIMEOUT_MS)
                page.goto(f"{server}/calls")
                assert page.url.endswith("/calls/login")
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_selector("#calls tr.call")
                page.click(f"a[href='/calls/{CALL_SID}']")
                page.wait_for_selector("#transcript")
                page.wait_for_function(
                    "document.getElementById('recording').readyState >= 1"
                    " && document.getElementById('recording').duration > 0"
                )
                seen = {
                    "lines": page.locator("#transcript .line").all_inner_texts(),
                    "rows": page.locator("#waterfall svg g.turn").count(),
                    "duration": page.evaluate("document.getElementById('recording').duration"),
                    "error": page.evaluate("document.getElementById('recording').error"),
                }
                page.locator("#transcript .line").nth(2).click()
                seen["seeked"] = page.evaluate("document.getElementById('recording').currentTime")
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "call-detail.png"), full_page=True)
                return seen
            finally:
                browser.close()

    seen = await trio.to_thread.run_sync(browse)

    assert len(seen["lines"]) == len(detail["lines"])
    for shown, line in zip(seen["lines"], detail["lines"], strict=True):
        assert line["text"] in shown
    assert seen["rows"] == len(detail["turns"])
    assert seen["error"] is None
    assert seen["duration"] == pytest.approx(detail["audio_seconds"], abs=0.05)
    assert seen["seeked"] >= detail["lines"][2]["start_s"] - 0.05
    assert (ARTIFACTS / "call-detail.png").stat().st_size > 10_000
