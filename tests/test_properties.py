"""Property-based tests (hypothesis) of the EmoEvaluation parser, the CSV parser and segmenting.

Each property is checked on random inputs:

1. A random IEMOCAP tree of valid summary lines (interleaved with evaluator lines) reads back
   field by field; a random one-character corruption of a summary line reads back unchanged, as
   what the corrupted text says, or raises CorpusError naming file:line, never anything else.
2. A random CSV manifest (aliases, extra labels, optional aux and id columns, any column order)
   reads back row by row, and the excluded counts match the extra labels.
3. `features.split_segments` covers every utterance exactly with K = ceil(n / seg) segments of at
   most `seg` samples whose lengths differ by at most one.

Trees are written with `tempfile` inside each example (hypothesis reruns the test body, which a
pytest `tmp_path` fixture would not follow).
"""

import collections
import csv
import math
import os
import re
import tempfile

import hypothesis
from hypothesis import strategies
import numpy as np
import pytest

from mmtl_tf import corpora
from mmtl_tf import features
from mmtl_tf import labels
from mmtl_tf.corpora import csv_manifest
from mmtl_tf.corpora import iemocap

_SETTINGS = hypothesis.settings(
    max_examples=25, deadline=None, database=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow,
                           hypothesis.HealthCheck.data_too_large])
_CLASS_NAMES = ("neu", "hap", "sad", "ang")
_SCORES = (1.0, 1.5, 2.0, 2.3333, 2.5, 3.0, 3.6667, 4.0, 4.5, 5.0, 5.5)
_EVALUATOR_LINES = ("C-E1:\tNeutral;\t()", "C-E2:\tFrustration; Anger;\t(raised voice)",
                    "C-F1:\tSadness;\t()", "A-E3:\tval 3; act 2; dom  2;\t()",
                    "A-M1:\tval 4; act 4; dom  5;\t()")
_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]"

# ----------------------------------------------------------------------------------------------
# 1. EmoEvaluation summary lines
# ----------------------------------------------------------------------------------------------


@strategies.composite
def _dialog_names(draw, session):
    """A dialog name of `session`: Ses0<S><F|M>_impro<NN>[x] or Ses0<S><F|M>_script<NN>_<K>[x]."""
    marker = draw(strategies.sampled_from("FM"))
    number = draw(strategies.integers(1, 30))
    suffix = draw(strategies.sampled_from(["", "", "a", "b"]))
    if draw(strategies.booleans()):
        return f"Ses0{session}{marker}_impro{number:02d}{suffix}"
    part = draw(strategies.integers(1, 3))
    return f"Ses0{session}{marker}_script{number:02d}_{part}{suffix}"


@strategies.composite
def _utterance_rows(draw):
    """(gender, number, label, start, duration, (v, a, d)) rows with unique (gender, number)."""
    keys = draw(strategies.lists(
        strategies.tuples(strategies.sampled_from("FM"), strategies.integers(0, 999)),
        min_size=1, max_size=6, unique=True))
    rows = []
    for gender, number in keys:
        rows.append((gender, number,
                     draw(strategies.sampled_from(iemocap.IEMOCAP_LABELS)),
                     draw(strategies.floats(0.0, 500.0, allow_nan=False)),
                     draw(strategies.floats(0.1, 20.0, allow_nan=False)),
                     tuple(draw(strategies.sampled_from(_SCORES)) for _ in range(3))))
    return rows


@strategies.composite
def _releases(draw, max_sessions=3, max_dialogs=3):
    """{session: {dialog: [rows]}} plus the line ending and the field separator."""
    sessions = draw(strategies.lists(strategies.integers(1, 5), min_size=1,
                                     max_size=max_sessions, unique=True))
    tree = {}
    for session in sessions:
        names = draw(strategies.lists(_dialog_names(session), min_size=1, max_size=max_dialogs,
                                      unique=True))
        tree[session] = {name: draw(_utterance_rows()) for name in names}
    line_ending = draw(strategies.sampled_from(["\n", "\r\n"]))
    separator = draw(strategies.sampled_from(["\t", "\t", " ", "  \t"]))
    evaluator_counts = draw(strategies.lists(strategies.integers(0, 4), min_size=1, max_size=8))
    return tree, line_ending, separator, evaluator_counts


def _summary_line(dialog, row, separator="\t"):
    gender, number, label, start, duration, scores = row
    vad = ", ".join(f"{score:.4f}" for score in scores)
    return (f"[{start:.4f} - {start + duration:.4f}]{separator}{dialog}_{gender}{number:03d}"
            f"{separator}{label}{separator}[{vad}]")


def _write_release(root, tree, line_ending="\n", separator="\t", evaluator_counts=(2,)):
    """Writes label files and (empty) wavs; returns {utterance_id: (label path, line number)}."""
    places = {}
    block = 0
    for session, dialogs in tree.items():
        label_dir = os.path.join(root, f"Session{session}", "dialog", "EmoEvaluation")
        os.makedirs(label_dir, exist_ok=True)
        for dialog, rows in dialogs.items():
            wav_dir = os.path.join(root, f"Session{session}", "sentences", "wav", dialog)
            os.makedirs(wav_dir)
            label_path = os.path.join(label_dir, f"{dialog}.txt")
            lines = [_HEADER, ""]
            for row in rows:
                utterance_id = f"{dialog}_{row[0]}{row[1]:03d}"
                places[utterance_id] = (label_path, len(lines) + 1)
                lines.append(_summary_line(dialog, row, separator))
                count = evaluator_counts[block % len(evaluator_counts)]
                lines += [_EVALUATOR_LINES[(block + k) % len(_EVALUATOR_LINES)]
                          for k in range(count)] + [""]
                block += 1
                open(os.path.join(wav_dir, f"{utterance_id}.wav"), "wb").close()
            with open(label_path, "w", encoding="utf-8", newline="") as handle:
                handle.write(line_ending.join(lines))
    return places


def _expected_listing(root, tree):
    """(utterances, excluded) the reader should return for `tree` with scripts="all"."""
    utterances, excluded = [], collections.Counter()
    for session, dialogs in tree.items():
        for dialog, rows in dialogs.items():
            for gender, number, label, _, _, scores in rows:
                if label not in _CLASS_NAMES:
                    excluded[f"label {label}"] += 1
                    continue
                utterance_id = f"{dialog}_{gender}{number:03d}"
                valence, arousal, dominance = (
                    labels.bin_vad_score(float(f"{score:.4f}")) for score in scores)
                utterances.append(corpora.Utterance(
                    utterance_id=utterance_id, session=str(session), speaker=f"{session}{gender}",
                    path=os.path.join(root, f"Session{session}", "sentences", "wav", dialog,
                                      f"{utterance_id}.wav"),
                    emotion=_CLASS_NAMES.index(label),
                    valence=valence, arousal=arousal, dominance=dominance))
    return sorted(utterances, key=lambda u: u.utterance_id), excluded


@_SETTINGS
@hypothesis.given(release=_releases())
def test_valid_summary_lines_round_trip_field_by_field(release):
    tree, line_ending, separator, evaluator_counts = release
    with tempfile.TemporaryDirectory() as temp:
        root = os.path.join(os.path.realpath(temp), "IEMOCAP_full_release")
        _write_release(root, tree, line_ending, separator, evaluator_counts)
        listing = iemocap.read_iemocap(root, scripts="all", class_names=_CLASS_NAMES)
        expected_utterances, expected_excluded = _expected_listing(root, tree)
    assert listing.utterances == expected_utterances
    assert listing.excluded == expected_excluded
    for utterance in listing.utterances:  # the speaker is the LAST field's gender letter
        assert utterance.speaker == utterance.session + utterance.utterance_id[-4]
    total_lines = sum(len(rows) for dialogs in tree.values() for rows in dialogs.values())
    assert len(listing.utterances) + sum(listing.excluded.values()) == total_lines


_CORRUPTION_CHARACTERS = strategies.one_of(
    strategies.sampled_from(list("[]-,.:;_%+ \t\r\n0123456789FMSesneuhapxyzE")),
    strategies.characters(codec="utf-8"))
_STRICT_NUMBER = re.compile(r"^[+]?\d*\.?\d*$")


def _strict_reading(dialog, line):
    """What a corrupted line says, read strictly (the generator's exact format), or None.

    Returns (utterance_id, label, (v, a, d) bins) when `line` has four tab-separated fields:
    `[start - end]`, an id of `dialog`, a known label and `[v, a, d]` with scores in (0, 6).
    """
    fields = line.split("\t")
    if len(fields) != 4:
        return None
    times, utterance_id, label, vad = fields
    if not re.fullmatch(r"\[\d+\.\d+ - \d+\.\d+\]", times):
        return None
    if not re.fullmatch(rf"{re.escape(dialog)}_[FM]\d{{3}}", utterance_id):
        return None
    if label not in iemocap.IEMOCAP_LABELS:
        return None
    match = re.fullmatch(r"\[([^,]*), ([^,]*), ([^,]*)\]", vad)
    if not match or not all(_STRICT_NUMBER.match(text) for text in match.groups()):
        return None
    try:
        scores = [float(text) for text in match.groups()]
    except ValueError:
        return None
    if not all(0.0 < score < 6.0 for score in scores):
        return None
    return utterance_id, label, tuple(labels.bin_vad_score(score) for score in scores)


@_SETTINGS
@hypothesis.given(release=_releases(max_sessions=1, max_dialogs=2), data=strategies.data())
def test_corrupted_summary_line_reads_the_same_reads_as_written_or_names_file_line(release,
                                                                                   data):
    tree, _, _, evaluator_counts = release
    session = next(iter(tree))
    dialog = data.draw(strategies.sampled_from(sorted(tree[session])), label="dialog")
    rows = tree[session][dialog]
    index = data.draw(strategies.integers(0, len(rows) - 1), label="row")
    line = _summary_line(dialog, rows[index])
    position = data.draw(strategies.integers(0, len(line)), label="position")
    operation = data.draw(strategies.sampled_from(["replace", "insert", "delete"]),
                          label="operation")
    character = data.draw(_CORRUPTION_CHARACTERS, label="character")
    if operation == "insert":
        corrupted = line[:position] + character + line[position:]
    else:
        position = min(position, len(line) - 1)
        replacement = character if operation == "replace" else ""
        corrupted = line[:position] + replacement + line[position + 1:]

    with tempfile.TemporaryDirectory() as temp:
        root = os.path.join(os.path.realpath(temp), "IEMOCAP_full_release")
        places = _write_release(root, tree, evaluator_counts=evaluator_counts)
        original = iemocap.read_iemocap(root, scripts="all", class_names=_CLASS_NAMES)
        label_path, line_number = places[f"{dialog}_{rows[index][0]}{rows[index][1]:03d}"]
        with open(label_path, encoding="utf-8", newline="") as handle:
            text = handle.read()
        with open(label_path, "w", encoding="utf-8", newline="") as handle:
            handle.write(text.replace(line, corrupted, 1))
        try:
            listing = iemocap.read_iemocap(root, scripts="all", class_names=_CLASS_NAMES)
        except corpora.CorpusError as error:
            numbers = {int(found) for found in
                       re.findall(rf"{re.escape(label_path)}:(\d+)", str(error))}
            assert numbers & {line_number, line_number + 1}, str(error)
            return

    reading = _strict_reading(dialog, corrupted)
    original_reading = _strict_reading(dialog, line)
    if reading is None or reading == original_reading:
        # Unreadable strictly (tolerated whitespace, say) or same meaning: nothing may change.
        assert listing.utterances == original.utterances
        assert listing.excluded == original.excluded
        return
    # A valid line with another meaning (a changed score or label): read as it says.
    utterance_id, label, bins = reading
    assert utterance_id == original_reading[0]  # another id would have no wav: an error
    others = [u for u in original.utterances if u.utterance_id != utterance_id]
    mine = [u for u in listing.utterances if u.utterance_id == utterance_id]
    assert [u for u in listing.utterances if u.utterance_id != utterance_id] == others
    if label in _CLASS_NAMES:
        (utterance,) = mine
        assert (utterance.emotion, utterance.valence, utterance.arousal, utterance.dominance) \
            == (_CLASS_NAMES.index(label),) + bins
    else:
        assert mine == [] and listing.excluded[f"label {label}"] >= 1


# ----------------------------------------------------------------------------------------------
# 2. CSV manifests
# ----------------------------------------------------------------------------------------------

_CSV_CLASSES = ("neutral", "happy", "sad", "angry")
_CSV_EMOTIONS = {  # written label -> expected class index, or None for an excluded label
    "neutral": 0, "Neutral": 0, "NEU": 0, "neu": 0,
    "happy": 1, "hap": 1, "Happiness": 1,
    "sad": 2, "SAD": 2, "sadness": 2,
    "angry": 3, "ang": 3, "Anger": 3,
    "fru": None, "exc": None, "Surprise": None, "xxx": None, "calm": None,
}


@strategies.composite
def _manifests(draw):
    """Rows of a random manifest plus its column choices."""
    speakers = draw(strategies.lists(strategies.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,6}",
                                                           fullmatch=True),
                                     min_size=1, max_size=5, unique=True))
    session_of = {speaker: draw(strategies.sampled_from(["s1", "s2", "3", "fold_a"]))
                  for speaker in speakers}
    aux_columns = draw(strategies.lists(strategies.sampled_from(corpora.AUX_TASKS), unique=True))
    with_ids = draw(strategies.booleans())
    num_rows = draw(strategies.integers(1, 12))
    rows = []
    for number in range(num_rows):
        speaker = draw(strategies.sampled_from(speakers))
        row = {"path": f"wavs/{speaker}/u{number}.wav", "speaker": speaker,
               "session": session_of[speaker],
               "emotion": draw(strategies.sampled_from(sorted(_CSV_EMOTIONS)))}
        for task in aux_columns:
            row[task] = f"{draw(strategies.sampled_from(_SCORES))}"
        if with_ids:
            row["utterance_id"] = f"id-{number:03d}"
        rows.append(row)
    columns = list(rows[0])
    order = draw(strategies.permutations(columns))
    padding = draw(strategies.sampled_from(["", " ", "  "]))
    upper_header = draw(strategies.booleans())
    return rows, list(order), padding, upper_header


@_SETTINGS
@hypothesis.given(manifest=_manifests())
def test_random_manifest_rows_round_trip_and_exclusions_are_counted(manifest):
    rows, columns, padding, upper_header = manifest
    with tempfile.TemporaryDirectory() as temp:
        folder = os.path.realpath(temp)
        for row in rows:
            os.makedirs(os.path.join(folder, os.path.dirname(row["path"])), exist_ok=True)
            open(os.path.join(folder, row["path"]), "wb").close()
        csv_path = os.path.join(folder, "manifest.csv")
        with open(csv_path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([name.upper() if upper_header else name for name in columns])
            for row in rows:
                writer.writerow([f"{padding}{row[name]}{padding}" for name in columns])
        listing = csv_manifest.read_csv_manifest(csv_path, class_names=_CSV_CLASSES)

    expected, excluded = [], collections.Counter()
    for number, row in enumerate(rows):
        emotion = _CSV_EMOTIONS[row["emotion"]]
        if emotion is None:
            excluded[f"label {row['emotion']}"] += 1
            continue
        bins = {task: labels.bin_vad_score(float(row[task]))
                for task in corpora.AUX_TASKS if task in row}
        expected.append(corpora.Utterance(
            utterance_id=row.get("utterance_id", os.path.splitext(row["path"])[0]),
            path=os.path.join(folder, row["path"]), speaker=row["speaker"],
            session=row["session"], emotion=emotion, **bins))
    assert listing.utterances == sorted(expected, key=lambda u: u.utterance_id)
    assert listing.excluded == excluded
    assert len(listing.utterances) + sum(listing.excluded.values()) == len(rows)
    assert listing.speakers() == dict(sorted((u.speaker, u.session) for u in expected))


# ----------------------------------------------------------------------------------------------
# 3. Segmenting
# ----------------------------------------------------------------------------------------------


def _check_segments(lengths_in, segment_samples):
    """Runs split_segments on arange waveforms of `lengths_in` and checks every invariant."""
    max_length = max(lengths_in)
    waveforms = np.zeros([len(lengths_in), max_length], np.float32)
    for row, length in enumerate(lengths_in):
        waveforms[row, :length] = np.arange(1, length + 1, dtype=np.float32)  # exact < 2**24
    segments, lengths, utterance_index = features.split_segments(
        waveforms, np.asarray(lengths_in, np.int32), segment_samples)
    segments, lengths, utterance_index = (segments.numpy(), lengths.numpy(),
                                          utterance_index.numpy())
    counts = np.asarray([math.ceil(n / segment_samples) for n in lengths_in])
    assert segments.shape == (counts.sum(), segment_samples)
    np.testing.assert_array_equal(utterance_index, np.repeat(np.arange(len(counts)), counts))
    # Per utterance: lengths sum to n, each in [1, seg], max - min <= 1.
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    np.testing.assert_array_equal(np.add.reduceat(lengths, first), lengths_in)
    longest, shortest = np.maximum.reduceat(lengths, first), np.minimum.reduceat(lengths, first)
    assert longest.max() <= segment_samples and shortest.min() >= 1
    assert (longest - shortest).max() <= 1
    # The valid samples, segment after segment, are the utterances themselves; the rest is zero.
    valid = np.arange(segment_samples)[np.newaxis, :] < lengths[:, np.newaxis]
    np.testing.assert_array_equal(
        segments[valid], np.concatenate([waveforms[row, :n] for row, n in enumerate(lengths_in)]))
    assert not segments[~valid].any()


@_SETTINGS
@hypothesis.given(num_samples=strategies.integers(1, 20 * 48000))
def test_segments_cover_the_utterance_in_equal_pieces_of_at_most_three_seconds(num_samples):
    _check_segments([num_samples], 48000)


@_SETTINGS
@hypothesis.given(
    lengths=strategies.lists(strategies.integers(1, 20 * 48000), min_size=1, max_size=3),
    segment_samples=strategies.integers(1, 5000))
def test_segments_of_a_batch_cover_each_utterance_for_any_segment_length(lengths,
                                                                         segment_samples):
    hypothesis.assume(sum(math.ceil(n / segment_samples) for n in lengths) * segment_samples
                      <= 4 * 20 * 48000)  # keep each example's tensors small
    _check_segments(lengths, segment_samples)


@pytest.mark.parametrize("num_samples", [1, 47999, 48000, 48001, 96000, 96001, 20 * 48000])
def test_segment_count_at_the_boundaries(num_samples):
    _check_segments([num_samples], 48000)
