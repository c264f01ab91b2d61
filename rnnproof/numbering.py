"""The one map from the book's statement labels to the numbers a reader sees.

A statement of the paper is titled and referenced by the paper's own number ("Lemma 5.1",
"Definition 3.3", "Claim G.1", "Equation (3.1)"); a statement the paper makes without a number
names its place ("Claim (Section 2)"). A statement that is our own formulation (the paper's full
version, with Sections 6-9 and the appendices, is not available to us) is numbered apart, R.1,
R.2, ..., and always carries "(ours)", with its own style in the book.

The Sphinx extension :mod:`rnnproof.sphinx_ext` applies this map to every sphinx-proof
directive and ``{prf:ref}``; the status page uses it too. A labelled statement missing from the
map fails the build.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The paper's statements: label -> (kind, number). A number in parentheses is an equation;
#: "Section N" names the place of a statement the paper does not number.
PAPER: dict[str, tuple[str, str]] = {
    "definition-gram-schmidt": ("Definition", "(Section 2)"),
    "definition-complexity": ("Definition", "(Section 2)"),
    "claim-complexity-chain": ("Claim", "(Section 2)"),
    "example-2.1": ("Example", "2.1"),
    "footnote-2": ("Footnote", "2"),
    "definition-3.1": ("Definition", "3.1"),
    "definition-3.2": ("Definition", "3.2"),
    "footnote-3": ("Footnote", "3"),
    "definition-3.3": ("Definition", "3.3"),
    "remark-3.4": ("Remark", "3.4"),
    "equation-3.1": ("Equation", "(3.1)"),
    "example-3.5": ("Example", "3.5"),
    "example-3.6": ("Example", "3.6"),
    "definition-sgd": ("Equation", "(SGD)"),
    "theorem-1": ("Theorem", "1"),
    "section-4.1": ("Section", "4.1"),
    "footnote-6": ("Footnote", "6"),
    "definition-4.1": ("Definition", "4.1"),
    "equation-5.1": ("Equation", "(5.1)"),
    "lemma-5.1": ("Lemma", "5.1"),
    "lemma-5.2": ("Lemma", "5.2"),
    "definition-5.3": ("Definition", "5.3"),
    "lemma-5.4": ("Lemma", "5.4"),
    "claim-G.1": ("Claim", "G.1"),
    "claim-earlier-bounds": ("Claim", "(Section 1)"),
    "footnote-4": ("Footnote", "4"),
}

#: Our own formulations, in the order of the book: label -> kind. They are numbered R.1, R.2, ...
#: in this order (append new ones at the end so that existing numbers never move).
OURS: dict[str, str] = {
    "remark-complexity-i0": "Remark",
    "lemma-step-1": "Proposition",
    "lemma-step-3": "Proposition",
    "lemma-step-4": "Proposition",
    "theorem-step-4-bound": "Proposition",
    "init-norms": "Proposition",
    "init-kernel": "Proposition",
    "init-kernel-long-memory": "Proposition",
    "init-null-distance": "Proposition",
    "init-back-rows": "Proposition",
    "init-back-decorrelation": "Proposition",
    "kernel-limit": "Proposition",
    "kernel-regime": "Proposition",
    "off-normalization": "Proposition",
}


@dataclass(frozen=True)
class Number:
    """How one statement is numbered: ``kind`` ("Lemma"), ``number`` ("5.1", "R.3") and
    whether it is our formulation."""

    label: str
    kind: str
    number: str
    ours: bool

    @property
    def text(self) -> str:
        """The reference text: "Lemma 5.1", "Claim (Section 2)", "Proposition R.3 (ours)"."""
        return f"{self.kind} {self.number}" + (" (ours)" if self.ours else "")


def number(label: str) -> Number:
    """The number of the statement ``label``; a clear error for a label missing from the map."""
    if label in PAPER:
        kind, num = PAPER[label]
        return Number(label, kind, num, False)
    if label in OURS:
        return Number(label, OURS[label], f"R.{list(OURS).index(label) + 1}", True)
    raise KeyError(f"statement {label!r} has no number: add it to rnnproof/numbering.py "
                   f"(PAPER for a statement of the paper, OURS for our own formulation)")


def all_numbers() -> dict[str, Number]:
    """Every numbered label."""
    return {lab: number(lab) for lab in (*PAPER, *OURS)}
