"""Which of a parameter's choices a request means without naming it: "it's taking too long" means
the `too_slow` of a cancellation's reason, "the latest" the `newest` of a sort order, "by bike"
the `cycling` of a travel mode.

Why: the argument writer settles a choice the request names by its words ("dim", "cheap",
"changed my mind"; `arguments.py`), and leaves the rest to the model, or for an optional
parameter to its default. A 135M model asked to choose picks badly or the first it sees (every
reason "other"), and a default is wrong where the request says otherwise in other words. A
sentence encoder (the one the tool chooser and the knowledge base use) knows that "taking too
long" and "too slow" say the same thing: a choice that a short run of the request's words fits
well (`min_fit`), and clearly better than any other choice (`min_margin`), is the one meant.

Both thresholds were set on word pairs, not on a data set: at 0.6, "taking too long"/"too slow"
(0.67), "warmer"/"heat" (0.71), "by bike"/"cycling" (0.61), "latest"/"newest" (0.89) and
"pricey"/"expensive" (0.68) are meant, while a word next to a choice's topic is not:
"bedroom"/"heat" 0.36, "thermostat"/"heat" 0.49, "fahrenheit"/"imperial" 0.33, "uber"/"transport"
0.35. What the encoder cannot tell ("by accident" and "ordered by mistake", 0.45) stays with the
default or the model.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .embeddings import Embedder  # which imports numpy: loaded with the embedder itself

MAX_RUN = 3
"""The most words a run that can mean a choice has: "taking too long", not the whole request."""


class ChoiceMeanings:
    """Matches runs of a request's words against a parameter's choices by sentence embedding."""

    def __init__(self, embedder: Embedder, *, min_fit: float = 0.6, min_margin: float = 0.1) -> None:
        self.embedder = embedder
        self.min_fit = min_fit
        self.min_margin = min_margin

    def meant(self, words: Sequence[str], choices: Sequence[Any], *, taken: Set[str] = frozenset(),
              links: Set[str] = frozenset(), negations: Set[str] = frozenset()) -> list[Any]:
        """The one choice of `choices` (their text choices: "too_slow" read as "too slow") that a
        run of up to `MAX_RUN` of `words` (lower-case) means, or none. A run holds no number and
        no word `taken` (by the tool's name or another argument: "order" of cancel_order does not
        mean `ordered_by_mistake`), and neither begins nor ends with one of `links` ("to", "my");
        a run with one of `negations` in it or in the two words before it means only a choice
        that says it too ("it's not slow" is no `too_slow`; "doesn't fit" is `doesnt_fit`)."""
        texts = [c for c in choices if isinstance(c, str) and any(ch.isalpha() for ch in c)]
        spans = sorted({(i, j) for i in range(len(words)) for j in range(i + 1, min(len(words), i + MAX_RUN) + 1)
                        if words[i] not in links and words[j - 1] not in links
                        and not any(w in taken or any(ch.isdigit() for ch in w) for w in words[i:j])})
        if len(texts) < 2 or not spans:
            return []
        runs = [" ".join(words[i:j]) for i, j in spans]
        fits = self.embedder.embed([c.replace("_", " ") for c in texts]) @ self.embedder.embed(runs).T
        for row, choice in enumerate(texts):
            said = set(choice.lower().replace("-", "_").split("_"))
            for column, (i, j) in enumerate(spans):
                if any(w in negations and w not in said for w in words[max(0, i - 2) : j]):
                    fits[row, column] = -1.0
        best_fits = fits.max(axis=1)
        order = best_fits.argsort()[::-1]
        best, second = float(best_fits[order[0]]), float(best_fits[order[1]])
        return [texts[order[0]]] if best >= self.min_fit and best - second >= self.min_margin else []
