"""The local backend's streamer on the real tokenizer: streamed pieces add up to the generation's
text, stop strings end it wherever they fall across tokens, with and without a Rust tokenizer."""

import pytest
import torch

from agentrt.llm import GenerationRequest
from agentrt.llm.batching import Job
from agentrt.llm.transformers_llm import RowTexts, _cut_at_stop
from agentrt.schema import Message

pytestmark = pytest.mark.model
TEXTS = ["Once upon a time, a robot named Pip painted the sea. 日本語 😀 naïve café. The end.",
         '{"steps": [{"id": 1, "tool": "calculator", "args": {"expression": "17 * 23"}}]}']


class _PythonOnly:
    """The tokenizer without its Rust backend, as transformers' Python tokenizers are."""

    def __init__(self, tokenizer) -> None:
        self.decode = tokenizer.decode


def _stream(tokenizer, tokens: list[int], stop: list[str]) -> tuple[list[str], int]:
    """(pieces handed to on_text, tokens taken before the row stopped) for `tokens` as one row."""
    pieces: list[str] = []
    job = Job(GenerationRequest(messages=[Message(role="user", content="x")], stop=stop), pieces.append)
    texts = RowTexts(tokenizer, [job])
    texts.put(torch.tensor([[0]]))  # the prompt
    taken = 0
    for token in tokens:
        texts.put(torch.tensor([token]))
        taken += 1
        if texts(torch.zeros(1, 1), None).item():
            break
    texts.end()
    return pieces, taken


@pytest.mark.parametrize("rust", [True, False], ids=["DecodeStream", "whole-text"])
@pytest.mark.parametrize("text", TEXTS)
def test_streamed_pieces_add_up_to_the_decoded_text_and_stop_where_it_does(default_llm, text, rust):
    tokenizer = default_llm.tokenizer if rust else _PythonOnly(default_llm.tokenizer)
    tokens = default_llm.tokenizer(text, add_special_tokens=False).input_ids
    whole = default_llm.tokenizer.decode(tokens, skip_special_tokens=True)
    pieces, _ = _stream(tokenizer, [*tokens, default_llm.tokenizer.eos_token_id], [])
    assert "".join(pieces) == whole and len(pieces) > len(tokens) // 2
    for stop in (["sea."], ["本語 😀"], ["\"17", "1, \"t"], ["not there"]):
        pieces, taken = _stream(tokenizer, tokens, stop)
        expected, stopped = _cut_at_stop(whole, stop)
        assert "".join(pieces) == expected
        # the row ends at the token that completes the stop string, and not before
        assert taken == (next(n for n in range(1, len(tokens) + 1)
                              if _cut_at_stop(default_llm.tokenizer.decode(tokens[:n]), stop)[1])
                         if stopped else len(tokens))


def test_a_character_the_budget_cuts_in_half_ends_the_stream_as_it_ends_the_text(default_llm):
    tokens = default_llm.tokenizer("a 😀", add_special_tokens=False).input_ids[:-1]
    whole = default_llm.tokenizer.decode(tokens, skip_special_tokens=True)
    assert whole.endswith("\ufffd")
    assert "".join(_stream(default_llm.tokenizer, tokens, [])[0]) == whole
