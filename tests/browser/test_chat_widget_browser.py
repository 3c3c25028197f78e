"""The chat widget lesson in a real browser: JupyterLab runs the notebook, a person types, Claude streams back.

This is the one check that the widget works where it is meant to be used: the Enter key and the Send button
reach the kernel through JupyterLab's widget manager, the reply is streamed into the page, and the counter
moves. On failure a screenshot and the Lab log are saved to `pw-results/`. Set `CHAT_WIDGET_SCREENSHOT` to a
path to keep a picture of the app after the exchange (used to look at it by eye).
"""

import os
import re

from playwright.sync_api import Locator, Page, expect

LESSON = "08_chat_widget.ipynb"
WAIT_KERNEL_READY = """async () => {
  const panel = window.jupyterapp.shell.currentWidget;
  await panel.context.ready;
  await panel.sessionContext.ready;
  await panel.sessionContext.session.kernel.info;
}"""

# Records, in the page, every length the last turn takes and every change of the Send button's `disabled`.
WATCH_REPLY = """() => {
  const app = document.querySelector('.chat-app');
  const transcript = app.querySelector('.chat-transcript'), send = app.querySelector('button.chat-send');
  window.watched = {lengths: [], disabled: []};
  new MutationObserver(() => {
    const turns = transcript.querySelectorAll('.widget-html');
    window.watched.lengths.push(turns[turns.length - 1].textContent.length);
  }).observe(transcript, {subtree: true, childList: true, characterData: true});
  new MutationObserver(() => window.watched.disabled.push(send.disabled))
    .observe(send, {attributes: true, attributeFilter: ['disabled']});
}"""


def open_notebook(page: Page, lab: dict, name: str) -> None:
    """Open a notebook and wait until its kernel can run cells (Run All on a kernel not yet ready runs nothing)."""
    page.goto(f"{lab['url']}/lab/tree/{name}?token={lab['token']}")
    page.wait_for_function("() => window.jupyterapp?.shell.currentWidget?.sessionContext", timeout=60_000)
    page.evaluate(WAIT_KERNEL_READY)


def counter(usage: Locator) -> tuple[int, int, int]:
    """Requests, input tokens and output tokens, as the counter shows them."""
    found = re.search(r"Requests: (\d+) · tokens in: ([\d,]+), out: ([\d,]+)", usage.text_content())
    assert found, usage.text_content()
    return tuple(int(value.replace(",", "")) for value in found.groups())


def test_typed_messages_stream_a_reply_and_move_the_counter(page: Page, jupyter_lab, notebook_copy):
    open_notebook(page, jupyter_lab, notebook_copy(LESSON))
    # evaluate() awaits the command's promise: it returns once every cell has run.
    assert page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')") is True
    app = page.locator(".chat-app").first
    box, send = app.locator(".chat-input input"), app.locator("button.chat-send")
    transcript, usage = app.locator(".chat-transcript"), app.locator(".chat-usage")
    app.scroll_into_view_if_needed(timeout=30_000)  # Lab skips rendering cells out of view
    expect(box).to_be_visible()
    expect(usage).to_contain_text("Requests:")
    requests, tokens_in, tokens_out = counter(usage)

    box.fill("What is the capital of Peru?")
    box.press("Enter")
    expect(transcript).to_contain_text("The capital of Peru is Lima.", timeout=30_000)
    expect(usage).to_contain_text(f"Requests: {requests + 1} ")
    assert counter(usage)[1] > tokens_in and counter(usage)[2] > tokens_out
    expect(box).to_have_value("")

    page.evaluate(WATCH_REPLY)
    box.fill("Write a long story about a kite.")
    send.click()
    expect(usage).to_contain_text(f"Requests: {requests + 2} ", timeout=30_000)
    watched = page.evaluate("window.watched")
    reply = transcript.locator(".widget-html").last.text_content()
    assert reply.startswith("Claude: Once upon a time, there was a kite.") and reply.endswith(".")
    assert len(set(watched["lengths"])) >= 10, f"the reply should grow on the page chunk by chunk: {watched}"
    assert watched["disabled"] == [True, False], "Send is locked while the reply streams, then unlocked"
    expect(send).to_be_enabled()

    if os.environ.get("CHAT_WIDGET_SCREENSHOT"):
        page.set_viewport_size({"width": 1100, "height": 1400})  # tall enough for the whole cell
        page.locator(".jp-Cell").filter(has=app).screenshot(path=os.environ["CHAT_WIDGET_SCREENSHOT"])
