"""helpers.display: the one-line views lessons 03 and 07 print."""

from anthropic.types import Message

from helpers.display import kinds, show

CALL = {"role": "assistant", "content": [{"type": "text", "text": "Let me check."},
                                         {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                          "input": {"city": "Paris"}}]}
RESULT = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18°C",
                                       "is_error": True}]}


def test_kinds_names_the_role_and_every_block_type():
    assert kinds({"role": "user", "content": "Hi"}) == "user text"
    assert kinds(CALL) == "assistant text+tool_use"
    assert kinds(RESULT) == "user tool_result"


def test_show_prints_one_line_per_message_from_dicts_and_sdk_objects(capsys):
    reply = Message.model_validate({"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
                                    "content": [{"type": "thinking", "thinking": "", "signature": "s"},
                                                {"type": "text", "text": "x" * 60}],
                                    "stop_reason": "end_turn", "stop_sequence": None,
                                    "usage": {"input_tokens": 1, "output_tokens": 1}})
    show([{"role": "user", "content": "Weather in Paris?"}, CALL, RESULT, reply])
    assert capsys.readouterr().out.splitlines() == [
        "     user: 'Weather in Paris?'",
        "assistant: 'Let me check.' | tool_use get_weather({'city': 'Paris'})",
        "     user: tool_result is_error '18°C'",
        f"assistant: thinking | {'x' * 45!r}",
    ]
