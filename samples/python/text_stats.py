"""Word statistics of a text."""
from typing import List, TypedDict


class Stats(TypedDict):
    """What analyze counts."""

    unique_words: int
    top_words: List[str]


def analyze(text: str, top: int = 5) -> Stats:
    """Counts the distinct words of a text, and lists its most frequent ones (ties in alphabetical order)."""
    counts = {}
    for word in text.lower().split():
        counts[word] = counts.get(word, 0) + 1
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    return {"unique_words": len(counts), "top_words": ranked[:top]}
