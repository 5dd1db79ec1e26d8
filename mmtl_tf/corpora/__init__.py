"""Corpus readers: one module per corpus, one shared record type.

Every reader returns a `CorpusListing`: the `Utterance` records it kept plus counts of what it
excluded and why, so `mmtl_tf.prepare` can report them (nothing is dropped silently).
The readers:

- `iemocap`: the IEMOCAP release layout (`SessionN/dialog/EmoEvaluation/*.txt`).
- `synthetic`: a seeded generator that writes a small corpus in IEMOCAP's layout, then reads
  it back with the IEMOCAP reader (the embedded default).
- `ravdess`: the RAVDESS release layout (`Actor_NN/MM-VV-EE-II-SS-RR-NN.wav`).
- `csv_manifest`: any other corpus described by a CSV file.

Readers import no TensorFlow, so listing a corpus is cheap.
"""

import collections
import dataclasses
import os
import re
import stat
from typing import Optional

from mmtl_tf import labels
from mmtl_tf.labels import AUX_LETTERS, AUX_TASKS, MISSING_LABEL  # noqa: F401 (re-exported)

# Speaker ids name shard files, so they are restricted to characters safe in any file name.
_SAFE_SPEAKER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class CorpusError(ValueError):
    """Bad corpus input; the message names the file (and line or row) and what to do."""


@dataclasses.dataclass(frozen=True)
class Utterance:
    """One labelled utterance of a corpus.

    Attributes:
      utterance_id: unique id (IEMOCAP: `Ses01F_impro01_M013`).
      path: absolute path of its wav file.
      speaker: speaker id (IEMOCAP: `1F`, `1M`).
      session: fold group (IEMOCAP: `1`..`5`); the speakers of a session (IEMOCAP's two, two or
        more in any corpus) share it.
      emotion: index into the listing's `class_names`.
      valence, arousal, dominance: binned scores 0..3 (`labels.bin_vad_score`), or
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
      notes: lines for the user about the corpus' input (a CSV's columns not read), printed
        when the corpus is read for a preparation.
    """

    corpus: str
    class_names: tuple
    utterances: list
    excluded: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    missing_files: list = dataclasses.field(default_factory=list)
    notes: list = dataclasses.field(default_factory=list)

    def wav_present(self, path: str, skip_missing: bool, where: str) -> bool:
        """Whether an utterance's wav exists; a missing one raises, or is counted and listed.

        Args:
          path: the wav path.
          skip_missing: count it under excluded["missing wav"] and in `missing_files` instead
            of raising (never dropped silently).
          where: the place that lists it, for messages ("<label file>:<line>", "<csv>: row 3").

        Raises:
          CorpusError: the wav is missing and `skip_missing` is off, or the path is a folder or
            a special file (a FIFO, a device), whatever `skip_missing` says.
        """
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            mode = None
        except OSError as error:
            raise CorpusError(f"{where}: wav file {path} cannot be examined "
                              f"({error.strerror}); check the path and its permissions") from None
        if mode is not None and stat.S_ISREG(mode):
            return True
        if mode is not None:
            kind = "a directory" if stat.S_ISDIR(mode) else "a special file (FIFO, device, socket)"
            raise CorpusError(f"{where}: wav file {path} is not a regular file but {kind}; "
                              f"point the corpus at the wav file itself")
        if not skip_missing:
            raise CorpusError(f"{where}: wav file {path} is missing; fix the path, or pass "
                              f"--skip_missing to count and list missing files instead")
        self.excluded["missing wav"] += 1
        self.missing_files.append(path)
        return False

    def speakers(self) -> dict:
        """Maps each speaker id to its session, sorted by speaker id."""
        return dict(sorted({u.speaker: u.session for u in self.utterances}.items()))


def sessions_of(speaker_sessions: dict) -> dict:
    """Groups speakers by session: {session: [speakers, sorted]}, sessions in `natural_order`
    (their order is the fold numbering)."""
    grouped = collections.defaultdict(list)
    for speaker, session in speaker_sessions.items():
        grouped[session].append(speaker)
    return {session: sorted(grouped[session]) for session in sorted(grouped, key=natural_order)}


def natural_order(name: str) -> tuple:
    """A sort key that orders the numbers inside names by value: session 2 before session 10
    (as a CSV corpus may number its sessions), and IEMOCAP's 1..5 or `s06`, `s07` as before."""
    parts = re.split(r"(\d+)", name)
    return [int(part) if index % 2 else part for index, part in enumerate(parts)], name


def near_miss_number(name: str, stem: str) -> Optional[int]:
    """The number of a folder name that reads as `<stem><number>` once case, spaces, `_`, `-`
    and other punctuation are ignored (`session_1`, `actor-14`), or None; the readers refuse
    such near-misses of the release's exact names rather than skip them."""
    match = re.match(rf"{stem}(\d+)", re.sub(r"[^a-z0-9]", "", name.lower()))
    return int(match[1]) if match else None


def optional_int(value: Optional[int]) -> int:
    """Returns `value`, or MISSING_LABEL for None."""
    return MISSING_LABEL if value is None else int(value)


def speaker_id_problem(speaker: str) -> Optional[str]:
    """Why `speaker` cannot be a speaker id (it names files), or None when it can."""
    if _SAFE_SPEAKER.match(speaker):
        return None
    return (f"speaker id {speaker!r} must be letters, digits, '_', '.' or '-', starting with a "
            f"letter, digit or '_' (it names the speaker's shard files)")


def check_listing(listing: CorpusListing) -> None:
    """Rejects an empty listing, repeated ids, bad speaker ids, two speaker (or session) ids
    that differ only in case or leading zeros, or out-of-range labels.

    (A corpus with one class or one session is refused when folds are made,
    `folds.fold_split`: a one-class preparation is still useful to tests and tools.)

    Raises:
      CorpusError: naming the corpus, or the utterance and what is wrong with it.
    """
    if not listing.utterances:
        raise CorpusError(f"corpus {listing.corpus}: no utterance was kept (excluded: "
                          f"{dict(listing.excluded)}); check the corpus path and flags")
    seen, sessions = set(), {}
    for utterance in listing.utterances:
        where = utterance.utterance_id
        if where in seen:
            raise CorpusError(f"utterance id {where!r} is listed twice")
        seen.add(where)
        if sessions.setdefault(utterance.speaker, utterance.session) != utterance.session:
            raise CorpusError(f"{where}: speaker {utterance.speaker} is in sessions "
                              f"{sessions[utterance.speaker]} and {utterance.session}; a speaker "
                              f"belongs to one session")
        problem = speaker_id_problem(utterance.speaker)
        if problem:
            raise CorpusError(f"{where}: {problem}")
        if not 0 <= utterance.emotion < len(listing.class_names):
            raise CorpusError(f"{where}: emotion {utterance.emotion} is not an index into "
                              f"{list(listing.class_names)}")
        for task in labels.AUX_TASKS:
            if not labels.MISSING_LABEL <= getattr(utterance, task) < labels.NUM_VAD_BINS:
                raise CorpusError(f"{where}: {task} bin {getattr(utterance, task)} is outside "
                                  f"-1..{labels.NUM_VAD_BINS - 1}")
    for kind, names in (("speaker", sessions), ("session", set(sessions.values()))):
        _refuse_names_spelled_alike(listing.corpus, kind, names)


def _spelling(name: str) -> str:
    """`name` lowercased with the leading zeros of each number dropped: "Spk011" -> "spk11"."""
    return re.sub(r"[0-9]+", lambda digits: str(int(digits.group())), name.lower())


def _refuse_names_spelled_alike(corpus: str, kind: str, names) -> None:
    """Fails for two ids that differ only in case or leading zeros ("011" and "11", as a
    spreadsheet that dropped the zeros in some rows leaves them): they would split one speaker
    (or session) in two, and speaker ids name files, which a case-insensitive disk would mix."""
    first = {}
    for name in sorted(names):
        other = first.setdefault(_spelling(name), name)
        if other != name:
            raise CorpusError(
                f"corpus {corpus}: {kind} ids {other!r} and {name!r} differ only in case or "
                f"leading zeros; write one {kind} the same way in every row, or give the two "
                f"{kind}s names that differ otherwise")

