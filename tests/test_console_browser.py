"""The console in a real browser (Playwright driving Debian's headless chromium).

The whole story: a WhatsApp customer writes → the case appears live in the nurse's queue → the
nurse claims it, reads the transcript, replies → the fake Twilio receives the reply → the nurse
closes → the customer's next message is answered by the bot. The same for a WeChat customer whose
eligible second-opinion case goes to a case doctor. A customer's ``<script>`` shows as text.
Screenshots of the queue and a case page go to ``build/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from providers import WeChatUser, WhatsAppUser, passive_text, wait_for

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "build" / "screenshots"
PASSWORD = "a long console password"


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("chromium is not installed: `apt-get install chromium` (make test does it)")
    return path


@pytest.fixture(scope="module")
def browser(assistant):  # noqa: ANN201
    from playwright.sync_api import sync_playwright

    from bot.console import users

    os.environ["SMO_DATABASE_URL"] = f"sqlite:///{assistant.var_dir / 'smo.db'}"
    try:
        for name, role in (("nurse.web", "nurse"), ("doctor.web", "case_doctor")):
            users.add_user(name, role, PASSWORD)
    finally:
        del os.environ["SMO_DATABASE_URL"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium(), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield instance
        instance.close()


def signed_in(browser, base: str, username: str):  # noqa: ANN001, ANN201
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Open cases')")
    return page


def test_whatsapp_story_in_the_browser(assistant, browser) -> None:
    base = assistant.base_url
    page = signed_in(browser, base, "nurse.web")
    customer = WhatsAppUser(base, assistant.fake_twilio)
    before = page.locator("table.queue a").count()
    customer.send("I want to talk to a nurse")
    # the case appears without a manual reload (server-sent events refresh the queue)
    for _ in range(200):  # polled from here: our CSP rightly forbids evaluated strings
        if page.locator("table.queue a").count() > before:
            break
        page.wait_for_timeout(100)
    live = page.locator("table.queue a").count()
    page.reload()
    assert live > before, f"not live; after a reload: {page.locator('table.queue a').count()}"
    page.screenshot(path=str(SHOTS / "queue.png"), full_page=True)
    # A script in a customer's message (its own message: what the model makes of markup does
    # not decide whether a case opens) is shown as text and never runs.
    customer.settle()
    customer.send("<script>document.title='pwned'</script>")
    customer.settle()
    page.locator("table.queue a").last.click()
    page.wait_for_selector("ol.transcript")
    assert "<script>document.title='pwned'</script>" in page.inner_text("ol.transcript")
    assert page.title() != "pwned"
    page.click("button:has-text('Claim this case')")
    page.wait_for_selector("textarea[name=text]")
    page.fill("textarea[name=text]", "Hi, nurse here. How can I help?")
    before = len(customer.received())
    page.click("button:has-text('Send')")
    page.wait_for_selector("text=Sent.")
    assert wait_for(customer.received, before + 1)[-1] == "Hi, nurse here. How can I help?"
    page.screenshot(path=str(SHOTS / "case.png"), full_page=True)
    page.select_option("select[name=outcome]", "advised")
    page.click("button:has-text('Close and hand back to the bot')")
    page.wait_for_selector("text=Closed")
    settled = customer.settle()
    customer.send("how long until I get the report")
    assert len(customer.settle()) >= len(settled) + 2  # the bot answers again
    page.close()


def test_wechat_case_doctor_story_in_the_browser(assistant, browser) -> None:
    base = assistant.base_url
    user = WeChatUser(base, assistant.fake_wechat)

    def say(text: str) -> str:
        status, reply = user.send(text)
        assert status == 200
        return passive_text(reply) or "\n".join(wait_for(user.custom_messages, 1))

    say("I want to get a second medical opinion")
    say("yes I agree")
    say("CI10000001")
    say("15/03/1980")
    say("My doctor diagnosed stage 2 colon cancer and wants to operate")
    say("no that's all")
    for answer in ("colon cancer stage 2", "last month", "surgery", "is surgery best",
                   "English", "+852 9123 4567", "afternoons"):
        say(answer)
    assert "SMO-" in say("yes")  # the case is created
    page = signed_in(browser, base, "doctor.web")
    page.locator("table.queue a").last.click()
    page.wait_for_selector("text=Case packet")
    assert "is surgery best" in page.inner_text("body")
    assert "eligible" in page.inner_text("body")
    page.click("button:has-text('Claim this case')")
    page.fill("textarea[name=text]", "Dr Lee here, I will call you this afternoon.")
    page.click("button:has-text('Send')")
    page.wait_for_selector("text=Sent.")
    messages = wait_for(lambda: [m for m in user.custom_messages() if "Dr Lee" in m], 1)
    assert messages == ["Dr Lee here, I will call you this afternoon."]
    page.select_option("select[name=outcome]", "referred_to_provider")
    page.click("button:has-text('Close and hand back to the bot')")
    page.wait_for_selector("text=Closed")
    assert say("what languages do the doctors speak")  # the bot answers again
    page.close()
