"""Folds (paper section 3.1.2): which speakers of a prepared corpus train, validate and test.

Fold f holds out session f (sessions in sorted order): one of its two speakers validates (model
selection) and the other is tested; every other session trains. `fold_split` also refuses a
corpus that cannot make folds (a single session, or one emotion class). The training speakers of
a fold are the tasks of the speaker episodes (`mmtl_tf.episodes`); the held-out ones are read
whole for evaluation (`episodes.speaker_segments`).
"""

import dataclasses

import numpy as np

from mmtl_tf import corpora


@dataclasses.dataclass(frozen=True)
class FoldSplit:
    """Speakers of one fold: `train` (sorted), `validation` and `test` speaker ids."""

    fold: int
    session: str
    train: tuple
    validation: str
    test: str


def _sessions(manifest: dict) -> dict:
    """{session: [speakers, sorted]}, sessions sorted."""
    return corpora.sessions_of({speaker: info["session"]
                                for speaker, info in manifest["speakers"].items()})


def _check_corpus_can_make_folds(manifest: dict) -> None:
    """Refuses a corpus with one session, or whose segments all have one emotion class."""
    sessions = _sessions(manifest)
    if len(sessions) < 2:
        raise ValueError(f"corpus {manifest['corpus']} has a single session "
                         f"({', '.join(sessions)}): a fold holds out one session and trains on "
                         f"the others, so the corpus needs at least two (the CSV 'session' column)")
    totals = np.sum([entry["histograms"]["emotion"] for entry in manifest["speakers"].values()],
                    axis=0)
    present = [name for name, total in zip(manifest["class_names"], totals) if total > 0]
    if len(present) < 2:
        raise ValueError(f"corpus {manifest['corpus']}: every segment is of class "
                         f"{', '.join(present) or 'none'}, so emotion recognition is trivial; "
                         f"prepare it with at least two classes present (--classes)")


def fold_split(manifest: dict, fold: int, val_speaker: str = "F") -> FoldSplit:
    """Picks the training, validation and test speakers of a fold.

    Args:
      manifest: a TFRecord manifest.
      fold: 1-based index into the sorted sessions (IEMOCAP: fold f is Session f).
      val_speaker: "F" or "M" picks the held-out session's speaker whose id ends in that letter
        (IEMOCAP's 1F/1M, a CSV corpus's actor01M); a full speaker id picks that speaker. Where the
        session's speakers do not end in distinct F/M letters, the first in sorted order validates.
        The held-out session must have exactly two speakers.

    Raises:
      ValueError: naming --fold or --val_speaker when they do not fit the corpus, or naming the
        corpus when it has one session or one emotion class.
    """
    _check_corpus_can_make_folds(manifest)
    sessions = _sessions(manifest)
    names = list(sessions)
    if not 1 <= fold <= len(names):
        raise ValueError(f"--fold={fold} is out of range: {manifest['corpus']} has "
                         f"{len(names)} sessions ({', '.join(names)}), so folds are 1..{len(names)}")
    session = names[fold - 1]
    held_out = sessions[session]
    if len(held_out) != 2:
        raise ValueError(f"--fold={fold}: session {session} has speakers {held_out}; a fold needs "
                         f"exactly two (one validates, one is tested)")
    if val_speaker in held_out:
        validation = val_speaker
    elif val_speaker.upper() in ("F", "M"):
        matching = [s for s in held_out if s.upper().endswith(val_speaker.upper())]
        validation = matching[0] if len(matching) == 1 else held_out[0]
    else:
        raise ValueError(f"--val_speaker={val_speaker!r} is neither F, M nor a speaker of "
                         f"session {session} ({', '.join(held_out)})")
    test = [s for s in held_out if s != validation][0]
    train = tuple(s for name in names if name != session for s in sessions[name])
    for speaker in train + (validation, test):
        if manifest["speakers"][speaker]["num_segments"] == 0:
            raise ValueError(f"speaker {speaker} has no segments in the prepared data")
    return FoldSplit(fold, session, train, validation, test)
