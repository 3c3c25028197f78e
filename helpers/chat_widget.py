"""A chat with Claude inside a notebook, as ipywidgets: the app a team uses to try prompts, models and settings.

What it is for: ``ChatApp(Anthropic())`` shows a model picker, a system prompt, a ``max_tokens`` slider, the
conversation with each reply streamed as it arrives, a message box (Enter sends), Send and Clear buttons, and a
running token and cost counter. ``helpers.conversation.Conversation`` keeps the history and only the last
``max_turns`` turns are sent. API errors appear in the transcript as one readable line and the app keeps
working. ``send(text)`` is what Enter and Send call; code and tests can call it too.

Every stop reason shows on purpose (the history rule and the stop reasons are ``helpers.replies``'): an empty
reply is a "Notice" line, not an empty "Claude:" turn; a reply cut by ``max_tokens`` or the context window
keeps its text and adds a Notice naming the limit; a refusal adds a Notice with its category and is not kept
in the history; ``pause_turn`` is continued by the conversation. A connection that breaks mid-reply (a raw
``httpx2.TransportError``, which the SDK does not wrap once the body has started) is an Error line too.

What it is not: a web app (lesson 09 serves Claude over HTTP), storage that outlives the kernel, or a price
list (``PRICES_PER_MILLION`` is illustrative). Taught by ``notebooks/08_chat_widget.ipynb``.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any, get_args

import anthropic
import httpx2
import ipywidgets as widgets
from anthropic.types import MessageParam, Model

from helpers.conversation import Conversation
from helpers.replies import CUT_STOP_REASONS, RefusalError, ReplyError
from helpers.truncation import TokenBudgetError, keep_last_turns

# Illustrative prices in US dollars per million tokens, (input, output), by model family: enough to show how
# a cost counter works, not a quote. Real, current prices (and cache and batch discounts) are on
# https://claude.com/pricing; lesson 10 turns usage into cost properly.
PRICES_PER_MILLION: dict[str, tuple[float, float]] = {"haiku": (1.0, 5.0), "sonnet": (3.0, 15.0),
                                                      "opus": (5.0, 25.0)}
COLOURS = {"You": "#1f5fa8", "Claude": "#7b3fa0", "Error": "#b3261e", "Notice": "#8a5a00"}


def newest_models(families: Sequence[str] = ("haiku", "sonnet", "opus")) -> dict[str, str]:
    """The newest id of each family in the installed SDK's ``Model`` list (which lists newest first)."""
    known = [name for arg in get_args(Model) for name in get_args(arg) if isinstance(name, str)]
    found = {family: [m for m in known if f"-{family}-" in m] for family in families}
    return {family.title(): ids[0] for family, ids in found.items() if ids}


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float | None:
    """What the tokens cost at ``PRICES_PER_MILLION``, or None for a model family not in the table."""
    family = next((name for name in PRICES_PER_MILLION if f"-{name}-" in f"{model}-"), None)
    if family is None:
        return None
    input_price, output_price = PRICES_PER_MILLION[family]
    return (input_tokens * input_price + output_tokens * output_price) / 1_000_000


def readable_error(error: Exception) -> str:
    """One line a person can act on, for an error raised by the SDK (after its own retries)."""
    if isinstance(error, anthropic.APITimeoutError):
        return "The API did not answer in time: try again, or raise the client's timeout."
    if isinstance(error, anthropic.APIConnectionError):
        return "Could not reach the API: check the network or the proxy settings, then try again."
    if isinstance(error, httpx2.TransportError):  # raised as it is once a streamed body has started
        return "The connection broke while the reply was arriving: try again."
    if not isinstance(error, anthropic.APIStatusError):
        return str(error)
    status, detail = error.status_code, error.api_message or error.message
    if isinstance(error, anthropic.RateLimitError):
        text = "Rate limited by the API (429), try again in a moment."
    elif isinstance(error, anthropic.InternalServerError):
        text = f"The API is overloaded or failing ({status}), try again in a moment."
    elif isinstance(error, anthropic.AuthenticationError):
        text = "The API key was refused (401): check ANTHROPIC_API_KEY."
    elif status == 200:  # an `event: error` in the middle of a stream: the SDK never retries those
        text = f"The reply was interrupted by an API error ({error.type}), try again."
    else:
        text = f"The API refused the request ({status}): {detail}"
    return f"{text} Request id {error.request_id}" if error.request_id else text


class WithText:
    """Display ``widget`` as usual, with ``text`` as its plain-text form (what GitHub or nbviewer shows).

    A saved notebook keeps a widget's view only as a reference to state that is not saved with it; static
    renderers fall back to the ``text/plain`` entry, which for a bare widget is its repr (``VBox(children=(...``).
    """

    def __init__(self, widget: widgets.DOMWidget, text: str) -> None:
        self.widget, self.text = widget, text

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = self.text
        return bundle


def turn_html(who: str, text: str) -> str:
    """One turn as HTML. The text is escaped: markup in a message or a reply is shown, never run."""
    shown = html.escape(text) if text else "…"
    return (f"<div style='white-space: pre-wrap; line-height: 1.4; margin: 2px 0'>"
            f"<b style='color: {COLOURS.get(who, 'inherit')}'>{who}:</b> {shown}</div>")


class ChatApp:
    """A chat with Claude as ipywidgets; display it (``ChatApp(client)`` as a cell's last line) or use ``.widget``."""

    def __init__(self, client: anthropic.Anthropic, *, models: Sequence[str] | None = None,
                 model: str | None = None, system: str = "", max_tokens: int = 1024, max_turns: int = 10,
                 truncate: Callable[[list[MessageParam]], list[MessageParam]] | None = None) -> None:
        choices = [(f"{name} · {m}", m) for name, m in newest_models().items()] if models is None else \
            [(m, m) for m in models]
        if model is not None and model not in [value for _, value in choices]:
            choices.insert(0, (model, model))
        self.conversation = Conversation(client, model=model or choices[0][1], max_tokens=max_tokens,
                                         truncate=truncate or (lambda messages: keep_last_turns(messages, max_turns)))
        self.transcript: list[tuple[str, str]] = []  # (who, text): what the transcript shows, errors included
        self.cost: float | None = 0.0  # dollars at PRICES_PER_MILLION; None once an unpriced model answered
        self.busy = False
        self._costed = (0, 0)  # usage already turned into cost: (input_tokens, output_tokens)
        self.model_picker = widgets.Dropdown(options=choices, value=self.conversation.model, description="Model")
        self.max_tokens_slider = widgets.IntSlider(max_tokens, min=16, max=8192, step=16, description="max_tokens")
        self.system_box = widgets.Textarea(system, placeholder="Optional system prompt", description="System",
                                           layout=widgets.Layout(width="98%"))
        self.turns = widgets.VBox(layout=widgets.Layout(border="1px solid #ccc", padding="4px", min_height="60px"))
        self.message_box = widgets.Text(placeholder="Type a message, then press Enter or click Send",
                                        continuous_update=False, layout=widgets.Layout(flex="1", width="auto"))
        self.send_button = widgets.Button(description="Send", button_style="primary", layout={"width": "90px"})
        self.clear_button = widgets.Button(description="Clear", layout={"width": "90px"})
        self.usage_label = widgets.HTML(self.usage_text())
        for item, css in [(self.turns, "chat-transcript"), (self.message_box, "chat-input"),
                          (self.send_button, "chat-send"), (self.clear_button, "chat-clear"),
                          (self.usage_label, "chat-usage"), (self.model_picker, "chat-model")]:
            item.add_class(css)
        # continuous_update=False: the box reports its text when you press Enter (or leave the box).
        self.message_box.observe(lambda change: self.send(change["new"]), "value")
        self.send_button.on_click(lambda _: self.send(self.message_box.value))
        self.clear_button.on_click(lambda _: self.clear())
        self.widget = widgets.VBox([
            widgets.HBox([self.model_picker, self.max_tokens_slider]), self.system_box, self.turns,
            widgets.HBox([self.message_box, self.send_button, self.clear_button]), self.usage_label,
        ]).add_class("chat-app")

    def send(self, text: str) -> str | None:
        """Send ``text`` and stream the reply into the transcript; return the reply, or None if nothing came back.

        Blank text, or a call while a reply is in flight, sends nothing (None). An empty reply returns "". An
        API error, a broken connection or a refusal is shown in the transcript and leaves the history as it
        was (None), so the next message works as usual.
        """
        if not text.strip() or self.busy:
            return None
        self._set_busy(True)
        self.message_box.value = ""
        options: dict[str, Any] = {"model": self.model_picker.value, "max_tokens": self.max_tokens_slider.value}
        if self.system_box.value.strip():
            options["system"] = self.system_box.value
        self.add_turn("You", text)
        reply = self.add_turn("Claude", "")
        received = ""
        try:
            for chunk in self.conversation.stream(text, **options):
                received += chunk
                reply.value = turn_html("Claude", received)
                self.transcript[-1] = ("Claude", received)
            self._notice_stop(received, options["max_tokens"])
            return received
        except RefusalError as refusal:
            self._drop_empty_reply(received)
            self.add_turn("Notice", str(refusal))
            return None
        except (anthropic.APIError, httpx2.TransportError, ReplyError, TokenBudgetError) as error:
            self._drop_empty_reply(received)
            self.add_turn("Error", readable_error(error))
            return None
        finally:
            self._add_cost()
            self._set_busy(False)
            self.usage_label.value = html.escape(self.usage_text())

    def _notice_stop(self, received: str, max_tokens: int) -> None:
        """Say what the stop reason means when it is not a plain end: an empty reply, or a cut one."""
        reason = self.conversation.last_stop_reason
        self._drop_empty_reply(received)
        if not received:
            self.add_turn("Notice", f"Claude's reply was empty (stop_reason {reason}). Send another message.")
        if reason == "max_tokens":
            self.add_turn("Notice", f"The reply was cut off at max_tokens ({max_tokens}): raise max_tokens to get "
                                    "longer replies.")
        elif reason in CUT_STOP_REASONS:
            self.add_turn("Notice", "The reply was cut off: it filled the model's context window "
                                    f"({reason}). Clear the chat, or keep fewer turns.")

    def _drop_empty_reply(self, received: str) -> None:
        """Nothing arrived: drop the empty reply turn rather than show "Claude: …"."""
        if not received and self.transcript and self.transcript[-1] == ("Claude", ""):
            self.transcript.pop()
            self.turns.children = self.turns.children[:-1]

    def _add_cost(self) -> None:
        """Add the cost of the replies received since the last call (refused and cut ones cost too)."""
        usage = self.conversation.usage
        spent = (usage.input_tokens - self._costed[0], usage.output_tokens - self._costed[1])
        self._costed = (usage.input_tokens, usage.output_tokens)
        if spent != (0, 0):
            cost = cost_usd(self.model_picker.value, *spent)
            self.cost = None if cost is None or self.cost is None else self.cost + cost

    def clear(self) -> None:
        """Forget the history and empty the transcript; the counter keeps counting (those tokens were spent)."""
        self.conversation.reset()
        self.transcript.clear()
        self.turns.children = ()

    def usage_text(self) -> str:
        """The counter's line: requests, tokens in and out, and their cost at the illustrative prices."""
        usage = self.conversation.usage
        cost = "unknown (a model is not in the price table)" if self.cost is None else \
            f"${self.cost:.6f} at illustrative prices"
        tokens = f"tokens in: {usage.input_tokens:,}, out: {usage.output_tokens:,}"
        return f"Requests: {usage.requests} · {tokens} · cost: {cost}"

    def transcript_text(self) -> str:
        """The transcript as plain text, one ``who: text`` line per turn."""
        return "\n".join(f"{who}: {text}" for who, text in self.transcript)

    def add_turn(self, who: str, text: str) -> widgets.HTML:
        """Append a turn to the transcript (and its widget); return the widget, to update as a reply streams."""
        turn = widgets.HTML(turn_html(who, text))
        self.transcript.append((who, text))
        self.turns.children = (*self.turns.children, turn)
        return turn

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.send_button.disabled = self.clear_button.disabled = busy

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        text = f"ChatApp with {len(self.transcript)} turns (run the notebook to see the widget)"
        return WithText(self.widget, text)._repr_mimebundle_(**kwargs)
