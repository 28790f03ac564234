"""The Play tab in headless Chromium against the studio on loopback and the
loopback OpenAI server: start a story for a reader, choose, act freely, go
back, choose differently and switch between the two branches."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fiction.conftest import PERSONA, Storyteller, plan_of

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def page(browser, served):
    served.fake.responder = Storyteller()
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(served.url)
    page.get_by_role("tab", name="Play").click()
    yield page
    context.close()


def fill(page, elem_id: str, value: str) -> None:
    page.locator(f"#{elem_id} textarea, #{elem_id} input").first.fill(value)


def wait_turn(page, turn: int, branch: int | None = None) -> None:
    selector = f"#play-path .rg-where[data-turn='{turn}']"
    if branch is not None:
        selector = f"#play-path .rg-where[data-turn='{turn}'][data-branch='{branch}']"
    page.wait_for_selector(selector)
    page.wait_for_selector("#play-status [data-state=ready]")
    page.wait_for_selector("#play-choice-1:not([disabled])")


def test_play_in_the_browser(page, served):
    fake = served.fake
    page.get_by_role("button", name="New interactive story").click()
    fill(page, "play-premise", "A reader arrives at a harbour town where a door stands in the sea")
    fill(page, "play-new-persona", PERSONA)
    page.locator("#play-start").click()
    wait_turn(page, 0)
    assert "You step off the ferry" in page.locator("#play-path").inner_text()
    assert PERSONA in fake.requests[-1].messages[0]["content"]
    assert page.locator("#play-choice-2").inner_text().strip() == "Ask the ferryman about the door."
    assert page.locator("#play-back").is_disabled()

    # Choose 2, with the scene on screen while it streams.
    fake.latency = 0.03
    try:
        page.locator("#play-choice-2").click()
        page.wait_for_function("document.querySelector('#play-live').innerText.includes('You decide')")
        assert page.locator("#play-status [data-state=generating]").count() == 1
    finally:
        fake.latency = 0.0
    wait_turn(page, 1)
    request = fake.requests[-1]
    assert plan_of(request.prompt) == "Ask the ferryman about the door."
    assert PERSONA in request.messages[0]["content"]

    # A free action.
    fill(page, "play-action", "I whistle for the ferryman's dog")
    page.locator("#play-act").click()
    wait_turn(page, 2)
    assert plan_of(fake.requests[-1].prompt) == "I whistle for the ferryman's dog"
    assert "You decide: I whistle for the ferryman's dog" in page.locator("#play-path").inner_text()
    page.wait_for_function("document.querySelector('#play-action textarea, #play-action input').value === ''")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "studio-play.png"), full_page=True)

    # Back one turn, then choose differently: a second branch.
    page.locator("#play-back").click()
    wait_turn(page, 1)
    assert "ferryman's dog" not in page.locator("#play-path").inner_text()
    page.locator("#play-choice-3").click()
    wait_turn(page, 2, branch=2)
    assert plan_of(fake.requests[-1].prompt) == "Write down what you saw in your notebook (1)."
    page.wait_for_selector("#play-branches label:has-text('Branch 2')")

    # Switch back to branch 1: its scenes return.
    page.locator("#play-branches label", has_text="Branch 1").click()
    wait_turn(page, 2, branch=1)
    text = page.locator("#play-path").inner_text()
    assert "ferryman's dog" in text and "notebook (1)" not in text
    page.screenshot(path=str(ARTIFACTS / "studio-play-branches.png"), full_page=True)
