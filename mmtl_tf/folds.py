"""Folds (paper section 3.1.2): which speakers of a prepared corpus train, validate and test.

Fold f holds out session f (sessions in natural order, 2 before 10): one of its speakers
validates (model selection) and the others are tested (IEMOCAP's and RAVDESS' sessions have two
speakers, so one is tested; a CSV corpus may group more into a session); every other session
trains.
`fold_split` also refuses a corpus that cannot make folds (a single session, or one emotion
class) and a held-out session of one speaker (`single_speaker_folds` lists such folds up front);
`fold_warnings` says what makes a fold's numbers mean less (a class training lacks, a
validation speaker lacking classes) and `small_validation_warning` names a validation
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
    elif val_speaker in manifest["speakers"]:  # an id that names one fold's speaker
        owner = manifest["speakers"][val_speaker]["session"]
        raise ValueError(f"--val_speaker={val_speaker} is a speaker of session {owner} "
                         f"(--fold={names.index(owner) + 1}), not of session {session}, which "
                         f"--fold={fold} holds out ({', '.join(held_out)}); a speaker id "
                         f"validates its own fold only, so with several folds give F or M")
    else:
        raise ValueError(f"--val_speaker={val_speaker!r} is neither F, M nor a speaker of "
                         f"session {session} ({', '.join(held_out)})")
    test = tuple(s for s in held_out if s != validation)
    train = tuple(s for name in names if name != session for s in sessions[name])
    for speaker in train + (validation,) + test:
        if manifest["speakers"][speaker]["num_segments"] == 0:
            raise ValueError(f"speaker {speaker} has no segments in the prepared data")
    return FoldSplit(fold, session, train, validation, test)


def _classes_of(manifest: dict, speakers) -> list:
    """Segments per emotion class summed over `speakers`."""
    return np.sum([manifest["speakers"][speaker]["histograms"]["emotion"]
                   for speaker in speakers], axis=0).tolist()


def fold_warnings(manifest: dict, split: FoldSplit, aux_tasks=()) -> list:
    """What makes a fold's numbers mean less than they seem, as sentences (empty when nothing):

    - an emotion class no training speaker has while a held-out speaker does: the model never
      learns it, yet UA counts its recall;
    - a validation speaker lacking a class the training speakers have: its UA, which selects
      the checkpoint, averages the recall of its classes only (one class: a model predicting it
      everywhere scores 1.0); test speakers lacking such a class (UA's chance level moves);
    - an auxiliary task of `aux_tasks` that no training speaker is rated on (a corpus rated in
      some sessions only), or that a test speaker is not rated on (its meta-test adaptation on
      that task changes nothing).
    """
    names = manifest["class_names"]
    train = _classes_of(manifest, split.train)
    held_out = _classes_of(manifest, (split.validation,) + split.test)
    warnings = []
    unseen = [f"{name} ({count} held-out segments)"
              for name, trained, count in zip(names, train, held_out) if count and not trained]
    if unseen:
        warnings.append(f"no training speaker has class {', '.join(unseen)}, so the model "
                        f"cannot learn it while the test UA counts its recall; regroup the "
                        f"corpus' sessions, or leave the class out (--classes)")
    validation = manifest["speakers"][split.validation]
    own = validation["histograms"]["emotion"]
    lacking = [name for name, trained, count in zip(names, train, own) if trained and not count]
    if lacking:
        present = [name for name, count in zip(names, own) if count]
        alone = " (a model predicting it everywhere scores 1.0)" if len(present) == 1 else ""
        complete = [speaker for speaker in split.test
                    if all(count or not trained for trained, count in zip(
                        train, manifest["speakers"][speaker]["histograms"]["emotion"]))]
        better = (f"`--fold={split.fold} --val_speaker={complete[0]}` runs this fold on a "
                  f"validation speaker with every class" if complete else
                  f"no speaker of session {split.session} has every class")
        utterances = validation["num_utterances"]
        warnings.append(f"the validation speaker {split.validation} ({utterances} "
                        f"utterance{'' if utterances == 1 else 's'}) has no "
                        f"{', '.join(lacking)}, so the UA that selects the checkpoint is the "
                        f"recall of {', '.join(present)} alone{alone}; {better}")
    tested = _classes_of(manifest, split.test)
    untested = [name for name, trained, count in zip(names, train, tested) if trained and not count]
    if untested:
        present = [name for name, count in zip(names, tested) if count]
        warnings.append(f"the test speaker(s) {', '.join(split.test)} have no "
                        f"{', '.join(untested)}, so the test UA is the recall of "
                        f"{', '.join(present)} alone (chance 1/{len(present)}, not "
                        f"1/{len(names)})")
    for task in aux_tasks:
        if not any(sum(manifest["speakers"][speaker]["histograms"][task])
                   for speaker in split.train):
            warnings.append(f"no training speaker is rated on {task}, so the {task} task "
                            f"learns nothing in this fold (the corpus rates other sessions)")
        unrated = [speaker for speaker in split.test
                   if not sum(manifest["speakers"][speaker]["histograms"][task])]
        if unrated:
            warnings.append(f"test speaker(s) {', '.join(unrated)} are not rated on {task}, so "
                            f"adapting to their {task} labels changes nothing: their adapted "
                            f"and not adapted scores are one model's")
    return warnings


def single_speaker_folds(manifest: dict) -> dict:
    """{fold: (session, its one speaker)} of the sessions `fold_split` cannot hold out, from a
    manifest (or any dict with `speakers: {id: {"session": ...}}`)."""
    return {fold: (session, members[0])
            for fold, (session, members) in enumerate(_sessions(manifest).items(), 1)
            if len(members) < 2}


def blocked_folds_message(fold, chosen, blocked: dict, count: int) -> str:
    """--fold=all's (or a list's) refusal: every fold of `chosen` that cannot run (`blocked`,
    from `single_speaker_folds`), and the --fold list of those that can, of `count` sessions."""
    listed = "; ".join(f"fold {number} (session {session}: the single speaker {speaker})"
                       for number, (session, speaker) in list(blocked.items())[:5])
    if len(blocked) > 5:
        listed += f"; and {len(blocked) - 5} more (prepare's summary lists them)"
    runnable = [number for number in chosen if number not in blocked]
    regroup = ("group speakers into sessions of two or more (a CSV corpus: its 'session' "
               "column) and prepare again")
    if len(runnable) < 2:
        instead = (f"run --fold={runnable[0]} alone, or {regroup}" if runnable
                   else regroup)
    else:
        instead = (f"run the others with --fold={','.join(map(str, runnable))} (their summary "
                   f"then covers {len(runnable)} of the {count} sessions; a single-speaker "
                   f"session's speaker still trains each of them), or {regroup}")
    return (f"--fold={fold}: {len(blocked)} of the folds asked for cannot hold out their "
            f"session, which needs two or more speakers (one validates, the others are tested): "
            f"{listed}. {instead[0].upper() + instead[1:]}")


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
