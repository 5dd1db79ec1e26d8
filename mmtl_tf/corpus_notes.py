"""The caveat every result on a corpus other than IEMOCAP carries (no TensorFlow).

The paper's numbers are IEMOCAP numbers; a run on the synthetic corpus (the default, so that
everything runs without the licensed data) or on another corpus must never be read as one.
Training prints and stores `corpus_label`, reports put `corpus_note` in their titles.
"""

PAPER_CORPUS = "iemocap"
# The stamps the synthetic generator leaves in its folder (IEMOCAP's layout): the IEMOCAP reader
# refuses a folder holding one, so generated audio is never read, and reported, as IEMOCAP.
SYNTHETIC_STAMPS = ("synthetic_corpus.json", "synthetic_corpus.partial.json")
SYNTHETIC_NOTE = ("corpus: synthetic. These numbers come from the generated synthetic corpus "
                  "and are not IEMOCAP results.")


def corpus_note(corpus: str) -> str:
    """The short caveat of a table title: "synthetic corpus — not IEMOCAP results" ("" for IEMOCAP)."""
    return "" if corpus == PAPER_CORPUS else f"{corpus} corpus — not IEMOCAP results"


def corpus_label(corpus: str) -> str:
    """`corpus: NAME` with the caveat where it applies, for printed summaries and results.json."""
    if corpus == "synthetic":
        return SYNTHETIC_NOTE
    return f"corpus: {corpus}" + ("" if corpus == PAPER_CORPUS else " (not IEMOCAP results)")
