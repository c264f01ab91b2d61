"""The one label-to-number map: every statement of the book is numbered, the paper's by the
paper's numbers, ours apart as R.k (ours)."""

import pytest

from rnnproof import book, checks, numbering, status


def test_every_statement_of_the_book_has_a_number() -> None:
    missing = [lab for lab in status.book_statements() if lab not in numbering.all_numbers()]
    assert not missing, f"add these labels to rnnproof/numbering.py: {missing}"


def test_numbers_read_like_the_paper() -> None:
    assert numbering.number("lemma-5.1").text == "Lemma 5.1"
    assert numbering.number("claim-G.1").text == "Claim G.1"
    assert numbering.number("equation-3.1").text == "Equation (3.1)"
    ours = numbering.number("lemma-step-1")
    assert ours.ours and ours.number.startswith("R.") and ours.text.endswith("(ours)")
    assert not set(numbering.PAPER) & set(numbering.OURS)
    with pytest.raises(KeyError, match="numbering.py"):
        numbering.number("lemma-99")


def test_card_has_every_part() -> None:
    res = checks.run("definition-3.1")
    md = book.card_markdown(res)
    assert md.startswith("(check-definition-3.1)=") and "::::{card}" in md
    assert f"rnnproof-v-{res.verdict}" in md
    assert "Definition 3.1" in md and res.claim.split()[0] in md
    assert "*Rule.*" in md and "*Regime.*" in md and ":::{dropdown}" in md
    assert "controls-definition-3.1" in md
    assert all(g["headline"].split(":")[0] in md for g in res.grades)
