"""Corpus readers: one module per corpus, one shared record type.

Every reader returns a `CorpusListing`: the `Utterance` records it kept plus counts of what it
excluded and why, so `mmtl_tf.prepare` can report them (nothing is dropped silently).
The readers:

- `iemocap`: the IEMOCAP release layout (`SessionN/dialog/EmoEvaluation/*.txt`).
- `synthetic`: a seeded generator that writes a small corpus in IEMOCAP's layout, then reads
  it back with the IEMOCAP reader (the embedded default).
- `csv_manifest`: any other corpus described by a CSV file.
"""

import collections
import dataclasses
import os
from typing import Optional

from mmtl_tf.labels import AUX_LETTERS, AUX_TASKS, MISSING_LABEL  # noqa: F401 (re-exported)


class CorpusError(ValueError):
    """Bad corpus input; the message names the file (and line or row) and what to do."""


@dataclasses.dataclass(frozen=True)
class Utterance:
    """One labelled utterance of a corpus.

    Attributes:
      utterance_id: unique id (IEMOCAP: `Ses01F_impro01_M013`).
      path: absolute path of its wav file.
      speaker: speaker id (IEMOCAP: `1F`, `1M`).
      session: fold group (IEMOCAP: `1`..`5`); the two speakers of a session share it.
      emotion: index into the listing's `class_names`.
      valence, arousal, dominance: binned scores 0..3 (`features.bin_vad_score`), or
        MISSING_LABEL (-1) when the corpus has none.
    """

    utterance_id: str
    path: str
    speaker: str
    session: str
    emotion: int
    valence: int = MISSING_LABEL
    arousal: int = MISSING_LABEL
    dominance: int = MISSING_LABEL


@dataclasses.dataclass
class CorpusListing:
    """What a reader found.

    Attributes:
      corpus: corpus name written into every output ("iemocap", "synthetic", "csv:<file>").
      class_names: emotion class names, in label order.
      utterances: kept utterances, sorted by utterance_id.
      excluded: Counter of reasons ("label xxx", "scripted dialog", "missing wav") -> count.
      missing_files: paths of missing wavs skipped under `skip_missing` (listed in the report).
    """

    corpus: str
    class_names: tuple
    utterances: list
    excluded: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    missing_files: list = dataclasses.field(default_factory=list)

    def wav_present(self, path: str, skip_missing: bool, problem: str) -> bool:
        """Whether an utterance's wav exists; a missing one raises, or is counted and listed.

        Args:
          path: the wav path.
          skip_missing: count it under excluded["missing wav"] and in `missing_files` instead
            of raising (never dropped silently).
          problem: the error message's start, naming the file and line or row.

        Raises:
          CorpusError: the wav is missing and `skip_missing` is off.
        """
        if os.path.isfile(path):
            return True
        if not skip_missing:
            raise CorpusError(f"{problem}; fix the path, or pass --skip_missing to count and list "
                              f"missing files instead")
        self.excluded["missing wav"] += 1
        self.missing_files.append(path)
        return False

    def speakers(self) -> dict:
        """Maps each speaker id to its session, sorted by speaker id."""
        return dict(sorted({u.speaker: u.session for u in self.utterances}.items()))


def sessions_of(speaker_sessions: dict) -> dict:
    """Groups speakers by session: {session: [speakers, sorted]}, sessions sorted."""
    grouped = collections.defaultdict(list)
    for speaker, session in speaker_sessions.items():
        grouped[session].append(speaker)
    return {session: sorted(grouped[session]) for session in sorted(grouped)}


def optional_int(value: Optional[int]) -> int:
    """Returns `value`, or MISSING_LABEL for None."""
    return MISSING_LABEL if value is None else int(value)
