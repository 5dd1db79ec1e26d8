"""Reads the IEMOCAP release layout into a `CorpusListing` (paper section 3.1.1).

The layout (details and traps in `shared/iemocap_release.md`):

    <root>/SessionN/dialog/EmoEvaluation/<dialog>.txt            one label file per dialog
    <root>/SessionN/sentences/wav/<dialog>/<utterance>.wav       one wav per utterance

The steps:

1. Every `SessionN` folder of `root` is read (N from 1, no leading zero); each must hold
   `dialog/EmoEvaluation`. A folder named almost so (`session1`, `Session_1`, `Session01`) is
   an error naming it and the expected name: skipped, it would drop a session and shift the
   folds. Other entries of `root` (`Documentation/`, dot-files) are ignored.
2. Only the `.txt` files directly in `EmoEvaluation` are parsed, in sorted order. The
   `Categorical/`, `Attribute/` and `Self-evaluation/` subfolders hold per-evaluator files, not
   utterance labels, and dot-files are skipped: macOS copies carry AppleDouble `._<name>` files
   of binary metadata beside the real ones.
3. Of each label file only the summary lines count,
   `[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]` (V, A, D);
   the `%` header, blank lines and per-evaluator lines (`C-E2:`, `A-E3:`) are ignored. A line
   that starts with `[`, or any other line naming an utterance (`Ses0...`), that is not a
   well-formed summary line is an error naming file and line: a damaged line is never skipped.
4. The speaker is the session digit plus the gender letter of the utterance id's LAST field:
   `Ses01F_impro01_M003` is spoken by `1M`. The letter after `Ses01` names the actor who wore the
   motion-capture markers, not the speaker; every dialog has turns of both actors.
5. V/A/D means are binned with `labels.bin_vad_score` ((0,2)->0, [2,3)->1, [3,4)->2,
   [4,6)->3; an edge goes to the upper bin).
6. Utterances are kept by dialog type (`scripts`) and label (`class_names`, after the optional
   exc->hap merge); the others are counted in `listing.excluded` by reason. Kept utterances
   must have their wav (only existence is checked; audio is decoded later by `mmtl_tf.audio`).
"""

import os
import re

from mmtl_tf import corpora
from mmtl_tf import corpus_notes
from mmtl_tf import labels

IEMOCAP_LABELS = ("neu", "hap", "sad", "ang", "exc", "fru", "sur", "fea", "dis", "oth", "xxx")
SCRIPT_CHOICES = ("improvised", "scripted", "all")

_SESSION_FOLDER = re.compile(r"^Session(?P<number>[1-9]\d*)$")
_DIALOG = r"Ses0(?P<session>\d)(?P<marker_gender>[FM])_(?P<kind>impro|script)\d+(?:_\d+)?[a-z]?"
_DIALOG_NAME = re.compile(rf"^{_DIALOG}$")
_UTTERANCE_ID = re.compile(rf"^(?P<dialog>{_DIALOG})_(?P<speaker_gender>[FM])\d{{3}}$")
_SUMMARY_LINE = re.compile(
    r"^\[(?P<start>\d+(?:\.\d+)?)[ \t]*-[ \t]*(?P<end>\d+(?:\.\d+)?)\]"
    r"[ \t]+(?P<utterance_id>\S+)[ \t]+(?P<label>\S+)"
    r"[ \t]+\[[ \t]*(?P<valence>[^,\]\s]+)[ \t]*,[ \t]*(?P<arousal>[^,\]\s]+)"
    r"[ \t]*,[ \t]*(?P<dominance>[^,\]\s]+)[ \t]*\][ \t]*$")
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
# Per-evaluator lines (`C-E2:`, `A-E3:`, self-evaluations `C-F1:`); any other line that names an
# utterance is a damaged summary line (one that lost its `[`), not a line to skip.
_EVALUATOR_LINE = re.compile(r"^[A-Z]+-[A-Z]+\d*:")
_MENTIONS_UTTERANCE = re.compile(r"Ses\d")
_LAYOUT = ("expected the IEMOCAP release folder (usually IEMOCAP_full_release/) holding "
           "Session1..Session5, each with dialog/EmoEvaluation/<dialog>.txt label files and "
           "sentences/wav/<dialog>/<utterance>.wav")


def _check_arguments(scripts, class_names, merge_excited):
    """Raises ValueError for a bad `scripts` flag or class list."""
    if scripts not in SCRIPT_CHOICES:
        raise ValueError(f"--scripts={scripts!r} is not one of {', '.join(SCRIPT_CHOICES)}")
    if not class_names:
        raise ValueError("class_names is empty; give IEMOCAP labels such as neu,hap,sad,ang")
    for name in class_names:
        if name not in IEMOCAP_LABELS:
            raise ValueError(f"class name {name!r} is not an IEMOCAP label "
                             f"({' '.join(IEMOCAP_LABELS)})")
    if len(set(class_names)) != len(class_names):
        raise ValueError(f"class_names {tuple(class_names)} lists a class twice")
    if merge_excited and "exc" in class_names:
        raise ValueError("merge_excited maps exc to hap, so exc cannot also be a class")


def _session_folders(root):
    """Returns [(session number, EmoEvaluation dir)] for every SessionN folder of `root`;
    CorpusError for a misnamed session folder (`session1`, `Session_1`)."""
    if not os.path.isdir(root):
        raise corpora.CorpusError(f"{root}: IEMOCAP folder not found; {_LAYOUT}")
    sessions = []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if name.startswith(".") or not os.path.isdir(path):
            continue
        match = _SESSION_FOLDER.match(name)
        if match:
            sessions.append((int(match["number"]), path))
            continue
        number = corpora.near_miss_number(name, "session")
        if number is not None:  # skipping it would drop a session and shift the folds
            raise corpora.CorpusError(
                f"{path}: looks like a session folder but is not named as the release names "
                f"it (expected Session{number}); rename it to Session{number}, or move it out "
                f"of {root}: its utterances would be left out and --fold=f would no longer "
                f"be Session f")
    if not sessions:
        raise corpora.CorpusError(f"{root}: no SessionN folder found; {_LAYOUT}")
    folders = []
    for number, session_dir in sorted(sessions):
        label_dir = os.path.join(session_dir, "dialog", "EmoEvaluation")
        if not os.path.isdir(label_dir):
            raise corpora.CorpusError(
                f"{session_dir}: has no dialog/EmoEvaluation folder; {_LAYOUT}")
        folders.append((number, label_dir))
    return folders


def _label_files(session_number, label_dir):
    """Returns the sorted label files directly in `label_dir` (no subfolders, no dot-files)."""
    paths = []
    for name in sorted(os.listdir(label_dir)):
        path = os.path.join(label_dir, name)
        if name.startswith(".") or not name.endswith(".txt") or not os.path.isfile(path):
            continue
        match = _DIALOG_NAME.match(name[:-len(".txt")])
        if not match:
            raise corpora.CorpusError(
                f"{path}: not an IEMOCAP dialog label file (expected names like "
                f"Ses01F_impro01.txt or Ses01F_script01_1.txt); move it out of EmoEvaluation")
        if int(match["session"]) != session_number:
            raise corpora.CorpusError(f"{path}: dialog of session {match['session']} found in "
                                      f"the folder of session {session_number}")
        paths.append(path)
    return paths


def _vad_bin(text, where, name, line):
    """Parses and bins one V/A/D score, raising CorpusError naming `where`."""
    if not _NUMBER.match(text):
        raise corpora.CorpusError(f"{where}: {name} score {text!r} is not a number: {line}")
    try:
        return labels.bin_vad_score(float(text))
    except ValueError:
        raise corpora.CorpusError(
            f"{where}: {name} score {text} is outside (0, 6): {line}") from None


def _summary_records(path):
    """Yields (where, line, match) for each summary line of one label file."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except UnicodeDecodeError as error:
        raise corpora.CorpusError(f"{path}: not a text label file ({error})") from None
    except OSError as error:
        raise corpora.CorpusError(f"{path}: cannot read the label file ({error.strerror}); "
                                  f"check its permissions") from None
    for line_number, raw_line in enumerate(lines, start=1):
        line = raw_line.strip()
        if not line.startswith("[") and (_EVALUATOR_LINE.match(line)
                                         or not _MENTIONS_UTTERANCE.search(line)):
            continue  # header, blank line or per-evaluator line
        where = f"{path}:{line_number}"
        match = _SUMMARY_LINE.match(line)
        if not match:
            raise corpora.CorpusError(
                f"{where}: malformed summary line (expected "
                f"'[start - end]<TAB>utterance<TAB>label<TAB>[V, A, D]'): {line}")
        yield where, line, match


def read_iemocap(root: str, scripts: str = "improvised",
                 class_names=("neu", "hap", "sad", "ang"), merge_excited: bool = False,
                 skip_missing: bool = False, corpus_name: str = "iemocap") -> corpora.CorpusListing:
    """Lists the labelled utterances of an IEMOCAP release (steps in the module docstring).

    Args:
      root: the release folder holding Session1..Session5 (any SessionN present is read).
      scripts: "improvised" (the paper's subset), "scripted" or "all" dialogs.
      class_names: IEMOCAP labels kept as classes; their order defines the emotion index.
      merge_excited: map "exc" to "hap" before the class filter (off in the paper).
      skip_missing: count and list utterances whose wav is missing instead of failing.
      corpus_name: name written into the listing ("iemocap"; the synthetic corpus passes its own).

    Returns:
      A `CorpusListing` with utterances sorted by id, `excluded` counting "scripted dialog" /
      "improvised dialog", "label <label>" and "missing wav", and `missing_files`.

    Raises:
      ValueError: `scripts` is not a known choice, or `class_names` are not IEMOCAP labels.
      CorpusError: naming the folder, file:line or utterance, for the synthetic corpus read as
        IEMOCAP (its stamp file is in `root`), a missing or misshapen
        release, a malformed summary line, an unknown label, a V/A/D score that does not parse
        or lies outside (0, 6), an utterance id that does not belong to its file, a duplicate
        utterance id, or a missing wav (unless `skip_missing`).
    """
    class_names = tuple(class_names)
    _check_arguments(scripts, class_names, merge_excited)
    root = os.path.abspath(root)
    stamps = [name for name in corpus_notes.SYNTHETIC_STAMPS
              if os.path.exists(os.path.join(root, name))]
    if corpus_name == corpus_notes.PAPER_CORPUS and stamps:
        raise corpora.CorpusError(
            f"{root} holds the generated synthetic corpus ({stamps[0]}), not the IEMOCAP "
            f"release: read it with --corpus=synthetic, whose results say they are not IEMOCAP's")
    class_index = {name: index for index, name in enumerate(class_names)}
    listing = corpora.CorpusListing(corpus=corpus_name, class_names=class_names, utterances=[])
    seen = {}
    for session_number, label_dir in _session_folders(root):
        for path in _label_files(session_number, label_dir):
            dialog = os.path.basename(path)[:-len(".txt")]
            for where, line, match in _summary_records(path):
                utterance_id, label = match["utterance_id"], match["label"]
                id_match = _UTTERANCE_ID.match(utterance_id)
                if not id_match:
                    raise corpora.CorpusError(
                        f"{where}: utterance id {utterance_id!r} is not of the form "
                        f"<dialog>_<F|M><NNN>: {line}")
                if id_match["dialog"] != dialog:
                    raise corpora.CorpusError(f"{where}: utterance {utterance_id} does not belong "
                                              f"to dialog {dialog}: {line}")
                if label not in IEMOCAP_LABELS:
                    raise corpora.CorpusError(f"{where}: unknown emotion label {label!r} (known: "
                                              f"{' '.join(IEMOCAP_LABELS)}): {line}")
                scores = {name: _vad_bin(match[name], where, name, line)
                          for name in corpora.AUX_TASKS}
                if utterance_id in seen:
                    raise corpora.CorpusError(f"{where}: utterance {utterance_id} is listed "
                                              f"twice, first at {seen[utterance_id]}")
                seen[utterance_id] = where

                improvised = id_match["kind"] == "impro"
                if scripts == "improvised" and not improvised:
                    listing.excluded["scripted dialog"] += 1
                    continue
                if scripts == "scripted" and improvised:
                    listing.excluded["improvised dialog"] += 1
                    continue
                merged = "hap" if merge_excited and label == "exc" else label
                if merged not in class_index:
                    listing.excluded[f"label {label}"] += 1
                    continue
                wav_path = os.path.join(root, f"Session{session_number}", "sentences", "wav",
                                        dialog, f"{utterance_id}.wav")
                if not listing.wav_present(wav_path, skip_missing,
                                           f"{where}: utterance {utterance_id}"):
                    continue
                listing.utterances.append(corpora.Utterance(
                    utterance_id=utterance_id, path=wav_path,
                    speaker=f"{int(id_match['session'])}{id_match['speaker_gender']}",
                    session=str(int(id_match["session"])), emotion=class_index[merged],
                    **scores))
    listing.utterances.sort(key=lambda utterance: utterance.utterance_id)
    return listing
