"""Folds (paper section 3.1.2): which speakers of a prepared corpus train, validate and test.

Fold f holds out session f (sessions in natural order, 2 before 10): one of its speakers
validates (model selection) and the others are tested (IEMOCAP's and RAVDESS' sessions have two
speakers, so one is tested; a CSV corpus may group more into a session); every other session
trains.
`fold_split` also refuses a corpus that cannot make folds (a single session, or one emotion
class) and a held-out session of one speaker; `small_validation_warning` names a validation
speaker too small to select checkpoints by. The training speakers of a fold are the tasks of
the speaker episodes (`mmtl_tf.episodes`); the held-out ones are read whole for evaluation
(`episodes.speaker_segments`).
"""

import dataclasses

import numpy as np

from mmtl_tf import corpora


@dataclasses.dataclass(frozen=True)
class FoldSplit:
    """Speakers of one fold: `train` (by session, then speaker), the `validation` speaker id and
    the `test` speaker ids (sorted; one for a session of two speakers)."""

    fold: int
    session: str
    train: tuple
    validation: str
    test: tuple


def _sessions(manifest: dict) -> dict:
    """{session: [speakers, sorted]}, sessions in natural order (`corpora.natural_order`)."""
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
      fold: 1-based index into the sessions in natural order (IEMOCAP: fold f is Session f;
        sessions 1, 2, 10 are folds 1, 2, 3).
      val_speaker: "F" or "M" picks the held-out session's speaker whose id ends in that letter
        (IEMOCAP's 1F/1M, a CSV corpus's actor01M; where several do, the first of them in sorted
        order); a full speaker id picks that speaker. Where no speaker ends in the letter, the
        first in sorted order validates. The held-out session needs at least two speakers; all
        but the validating one are tested.

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
    if len(held_out) < 2:
        raise ValueError(f"--fold={fold}: session {session} has the single speaker "
                         f"{held_out[0]}; a fold needs at least two (one validates, the others "
                         f"are tested): group speakers into sessions of two or more (a CSV "
                         f"corpus: its 'session' column)")
    if val_speaker in held_out:
        validation = val_speaker
    elif val_speaker.upper() in ("F", "M"):
        matching = [s for s in held_out if s.upper().endswith(val_speaker.upper())]
        validation = (matching or held_out)[0]
    else:
        raise ValueError(f"--val_speaker={val_speaker!r} is neither F, M nor a speaker of "
                         f"session {session} ({', '.join(held_out)})")
    test = tuple(s for s in held_out if s != validation)
    train = tuple(s for name in names if name != session for s in sessions[name])
    for speaker in train + (validation,) + test:
        if manifest["speakers"][speaker]["num_segments"] == 0:
            raise ValueError(f"speaker {speaker} has no segments in the prepared data")
    return FoldSplit(fold, session, train, validation, test)


def small_validation_warning(manifest: dict, split: FoldSplit) -> str:
    """A warning when the fold's validation speaker has fewer than two utterances per emotion
    class it holds, or "".

    Then at least one of its classes has a single utterance, whose recall is 0 or 1, so the
    validation UA that selects the checkpoint (paper section 3.1.2: the mean of per-class recall
    over utterances) jumps by 1/classes when one prediction changes. Only warned: a small corpus
    may have no better speaker.
    """
    entry = manifest["speakers"][split.validation]
    utterances = entry.get("num_utterances")
    classes = sum(1 for count in entry["histograms"]["emotion"] if count > 0)
    if utterances is None or utterances >= 2 * classes:
        return ""
    others = ", ".join(s for s in split.test)
    return (f"warning: --val_speaker picks {split.validation} (fold {split.fold}), which has "
            f"{utterances} utterance(s) of {classes} emotion class(es): some class has a single "
            f"utterance, whose recall is 0 or 1, so the validation UA that selects the "
            f"checkpoint moves by 1/{classes} with one prediction. Choose a speaker of session "
            f"{split.session} with at least two utterances per class (--val_speaker=<id>: "
            f"{others}), or give {split.validation} more recordings")


def recorded_test_speakers(record: dict) -> list:
    """The test speaker ids a run's config.json or results.json names (`test_speaker`: one id,
    or a list when its held-out session had more than two speakers)."""
    named = record["test_speaker"]
    return [named] if isinstance(named, str) else list(named)


def test_speaker_field(split: FoldSplit):
    """`test_speaker` as config.json and results.json record it: the id of a single test speaker
    (as runs have always recorded it, so their settings still compare equal), else the list."""
    return split.test[0] if len(split.test) == 1 else list(split.test)
