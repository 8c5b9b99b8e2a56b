"""The constraint's token mask, without a model: which logits the bitmask lets through."""

from types import SimpleNamespace

import torch

from agentrt.llm.constrained import BatchConstraints


def test_the_mask_blocks_exactly_the_tokens_whose_bits_are_clear():
    vocab = 1000  # not a multiple of 32: the last word's spare bits must be ignored
    grammar = SimpleNamespace(vocab_size=vocab, eos_token_id=7)
    constraints = BatchConstraints(grammar, [None, None], [10, 10])  # type: ignore[arg-type]
    constraints.bitmask.copy_(torch.randint(-(2**31), 2**31 - 1, constraints.bitmask.shape, dtype=torch.int32))
    words = constraints.bitmask.unsqueeze(-1).to(torch.int64) & 0xFFFFFFFF
    expected = ((words >> torch.arange(32)) & 1 == 0).reshape(2, -1)[:, :vocab]
    assert torch.equal(constraints._blocked(vocab), expected)


def test_a_row_out_of_budget_may_only_end():
    grammar = SimpleNamespace(vocab_size=100, eos_token_id=7)
    constraints = BatchConstraints(grammar, [None, None], [0, 5])  # type: ignore[arg-type]
    scores = constraints(torch.zeros(2, 1, dtype=torch.long), torch.zeros(2, 100))
    assert torch.isfinite(scores[0]).nonzero().flatten().tolist() == [7]
    assert torch.isfinite(scores[1]).all()
