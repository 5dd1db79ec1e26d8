"""Reads any corpus described by a CSV manifest into a `CorpusListing`.

One row per utterance, with a header row naming the columns (any order, any case), separated by
commas (or by the tabs or semicolons some spreadsheets write, recognised from the header):

    path       the wav file, relative to the CSV's folder or absolute (required); a relative
               path written on Windows (wavs\\a.wav) is read as wavs/a.wav (`csv_paths`)
    speaker    speaker id (required); a speaker must belong to a single session
    session    fold group (required), as IEMOCAP's sessions: speakers of a session share a fold
               (two or more speakers each; numbered sessions make folds in numeric order)
    emotion    emotion label (required), matched case-insensitively to `class_names`; IEMOCAP
               names are accepted through `csv_labels.EMOTION_ALIASES` (neu -> neutral, ang ->
               angry, ...), and a corpus' own labels through `emotion_map` (excited=happy)
    valence, arousal, dominance
               optional raw scores, binned with `labels.bin_vad_score`: by default the paper's
               bins of IEMOCAP's 1-5 scale (scores in (0, 6), edges 2, 3, 4); a corpus rated on
               another scale gives its own `vad_bin_edges` and `vad_score_range`. A column that
               is absent gives MISSING_LABEL (-1), a column that is present needs every cell,
               unless the corpus names its marks of a missing rating (`missing_vad`, such as
               NA or an empty cell): such a cell gives MISSING_LABEL for that utterance only
    utterance_id
               optional; by default the path relative to the CSV's folder without its extension

When every score of a V/A/D column falls in one bin (0-1 ratings under the default bins), the
listing's `notes` warn that the scale is probably not the binning's.

A CSV that names these columns otherwise maps them (`column_map`, --csv_columns, in
`csv_columns`). Other columns (transcripts, gender, ...) are not read: the listing's `notes` name
them. A known other name of a V/A/D score (IEMOCAP's `activation`, `act`, `val`, `dom`) without
that score's column is refused, since the task would silently have no labels.

Cells are stripped, a UTF-8 byte-order mark (as spreadsheets write it) is tolerated, a UTF-16
file with its mark (Excel's "Unicode text", tab-separated) is read, and so
are rows of empty cells (",,,"). In a tab- or semicolon-separated file, the spreadsheet of a
locale that writes decimal commas, a V/A/D score 3,5 is 3.5. Errors
name the file, the row as a spreadsheet shows it (the header is row 1) and the column. A cell may
not hold a line break: one that does is almost always an unterminated quote that swallowed the
rows after it, so the file is refused naming the row where the quote opened. Rows whose emotion is
not a class are counted in `excluded` as "label <raw label>". The reader only checks
that each wav exists: any sample rate and channel count is fine, since `audio.read_wav` mixes to
mono and resamples when the features are computed.
"""

import csv
import os
import re

from mmtl_tf import corpora
from mmtl_tf import labels
from mmtl_tf.corpora import csv_columns
from mmtl_tf.corpora import csv_labels
from mmtl_tf.corpora import csv_paths
from mmtl_tf.corpora.csv_columns import ID_COLUMN, REQUIRED_COLUMNS

_DELIMITERS = (",", "\t", ";")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_DECIMAL_COMMA = re.compile(r"[+-]?[0-9]*,[0-9]+")

def _delimiter(header_line: str, required: set) -> str:
    """The header's delimiter: a comma, or the tab or semicolon that spreadsheets write in some
    locales, whichever splits the header into every `required` name (default: a comma)."""
    for delimiter in _DELIMITERS:
        names = {name.strip().strip('"').lower() for name in header_line.split(delimiter)}
        if required <= names:
            return delimiter
    return ","


def _read_rows(csv_path, column_map):
    """Returns (columns, [(row number, {column: stripped cell, or None past the row's end})]),
    the columns renamed by `column_map` (`csv_columns.header_columns`)."""
    if not os.path.isfile(csv_path):
        raise corpora.CorpusError(f"{csv_path}: CSV manifest not found")
    rows = []
    try:
        with open(csv_path, "rb") as handle:  # Excel's "Unicode text" is UTF-16 with a BOM
            utf16 = handle.read(2) in (b"\xff\xfe", b"\xfe\xff")
        with open(csv_path, encoding="utf-16" if utf16 else "utf-8-sig", newline="") as handle:
            delimiter = _delimiter(handle.readline(), csv_columns.expected_names(column_map))
            handle.seek(0)
            reader = csv.reader(handle, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                raise corpora.CorpusError(f"{csv_path}: the file is empty; expected a header row "
                                          f"with the columns {', '.join(REQUIRED_COLUMNS)}")
            columns = csv_columns.header_columns(header, column_map, csv_path)
            end_of_previous = reader.line_num
            for cells in reader:
                row_number = end_of_previous + 1  # the header is row 1, as in a spreadsheet
                end_of_previous = reader.line_num
                if not any(cell.strip() for cell in cells):
                    continue  # a blank line, or one of empty cells (",,,": spreadsheets add them)
                if any(_LINE_BREAK.search(cell) for cell in cells):
                    raise corpora.CorpusError(
                        f"{csv_path}: row {row_number}: a cell holds a line break, so the row "
                        f"runs on to line {reader.line_num} (an unterminated quote?); close the "
                        f"quote, or remove the line break from the cell")
                if any(cell.strip() for cell in cells[len(columns):]):
                    raise corpora.CorpusError(f"{csv_path}: row {row_number} has more cells than "
                                              f"the header has columns")
                padded = [cell.strip() for cell in cells] + [None] * len(columns)
                row = dict(zip(columns, padded))
                if delimiter != ",":  # a locale whose lists take ";" writes 3,5 for 3.5
                    for task in corpora.AUX_TASKS:
                        if row.get(task) and _DECIMAL_COMMA.fullmatch(row[task]):
                            row[task] = row[task].replace(",", ".")
                rows.append((row_number, row))
    except UnicodeDecodeError as error:
        raise corpora.CorpusError(f"{csv_path}: not a UTF-8 text file ({error}); save it as "
                                  f"CSV UTF-8") from None
    except OSError as error:
        raise corpora.CorpusError(f"{csv_path}: cannot read the CSV manifest ({error.strerror}); "
                                  f"check its permissions") from None
    except csv.Error as error:
        raise corpora.CorpusError(f"{csv_path}: not a readable CSV file ({error})") from None
    return columns, rows


def _cell(row, column, where):
    """Returns a non-empty cell, or raises CorpusError naming the row and column."""
    value = row.get(column)
    if value is None:
        raise corpora.CorpusError(f"{where}, column {column!r}: the row ends before this column "
                                  f"(it has fewer cells than the header has columns)")
    if not value:
        raise corpora.CorpusError(f"{where}, column {column!r}: the cell is empty")
    return value


def _aux_label(row, column, where, edges, score_range, missing_marks):
    """Parses and bins one raw V/A/D score (MISSING_LABEL for a cell in `missing_marks`, compared
    lower-cased), raising CorpusError naming the row and column."""
    if row.get(column) is not None and row[column].lower() in missing_marks:
        return corpora.MISSING_LABEL
    hint = ("" if missing_marks else "; if the corpus leaves some ratings out, name its marks "
            "of a missing rating with --csv_missing_vad (for example NA, or an empty entry)")
    if row.get(column) == "":
        raise corpora.CorpusError(f"{where}, column {column!r}: the cell is empty{hint}")
    text = _cell(row, column, where)
    try:
        score = float(text)
    except ValueError:
        raise corpora.CorpusError(f"{where}, column {column!r}: {text!r} is not a number"
                                  f"{hint}") from None
    try:
        return labels.bin_vad_score(score, edges, score_range)
    except ValueError:
        low, high = score_range
        on_end = (f" (the range is open, so its ends are outside it: widen it, e.g. "
                  f"--csv_vad_score_range={low - (high - low) / 4:g},{high + (high - low) / 4:g})"
                  if score in score_range else "")
        raise corpora.CorpusError(
            f"{where}, column {column!r}: score {text} is outside ({low:g}, {high:g}){on_end}; if "
            f"the corpus rates on another scale, give its range and bins with "
            f"--csv_vad_score_range and --csv_vad_bin_edges") from None


def read_csv_manifest(csv_path: str, class_names=("neutral", "happy", "sad", "angry"),
                      skip_missing: bool = False, corpus_name: str | None = None,
                      vad_bin_edges=labels.PAPER_VAD_BIN_EDGES,
                      vad_score_range=labels.PAPER_VAD_SCORE_RANGE,
                      missing_vad=(), column_map=None,
                      emotion_map=None) -> corpora.CorpusListing:
    """Lists the utterances of a CSV manifest (columns in the module docstring).

    Args:
      csv_path: the manifest file.
      class_names: emotion classes; their order defines the emotion index.
      skip_missing: count and list rows whose wav is missing instead of failing.
      corpus_name: name written into the listing; default "csv:<file name>".
      vad_bin_edges, vad_score_range: how V/A/D scores are binned (`labels.bin_vad_score`).
      missing_vad: cell texts (case-insensitive; "" for an empty cell) that mark a missing
        V/A/D rating, read as MISSING_LABEL; by default none, so every cell must hold a score.
      column_map: {column the reader reads: the CSV's name for it} (case-insensitive), for a
        CSV that names columns otherwise (`csv_columns.parse_column_map` parses name=column).
      emotion_map: {the corpus' label: a class name} (case-insensitive), for labels spelled
        otherwise than the classes and their aliases (`csv_labels.label_lookup`).

    Returns:
      A `CorpusListing` with utterances sorted by id, `excluded` counting "label <raw label>"
      and "missing wav", `missing_files`, and in `notes` a line naming the columns not read.

    Raises:
      ValueError: `class_names` is empty or names one emotion twice, `emotion_map` names a
        class not in `class_names`, or the V/A/D binning is unusable
        (`labels.vad_binning_problem`), or `column_map` is (`parse_column_map`).
      CorpusError: naming the file (and row and column), for a missing file or column, a
        mapped column the header lacks, a V/A/D score under another name (`activation`), an empty
        required cell, an empty or invalid V/A/D cell, a duplicate utterance id, a wav file
        listed by two rows (the same file after resolving `..` and links), a speaker in two
        sessions, or a missing wav (unless `skip_missing`).
    """
    class_names = tuple(class_names)
    class_of = csv_labels.label_lookup(class_names, emotion_map)
    vad_bin_edges, vad_score_range = tuple(vad_bin_edges), tuple(vad_score_range)
    problem = labels.vad_binning_problem(vad_bin_edges, vad_score_range)
    if problem:
        raise ValueError(f"V/A/D binning: {problem}")
    csv_path = os.path.abspath(csv_path)
    csv_dir = os.path.dirname(csv_path)
    column_map = csv_columns.parse_column_map(
        f"{name}={column}" for name, column in (column_map or {}).items())
    columns, rows = _read_rows(csv_path, column_map)
    aux_columns = [task for task in corpora.AUX_TASKS if task in columns]
    missing_marks = frozenset(mark.strip().lower() for mark in missing_vad)
    listing = corpora.CorpusListing(
        corpus=corpus_name or f"csv:{os.path.basename(csv_path)}", class_names=class_names,
        utterances=[])
    ignored = csv_columns.ignored_columns(columns)
    if ignored:
        listing.notes.append(f"{csv_path}: columns not read: {', '.join(ignored)}")
    id_rows, speaker_rows, file_rows = {}, {}, {}
    scores = {task: [] for task in aux_columns}  # (score, bin) of each listed utterance
    for row_number, row in rows:
        where = f"{csv_path}: row {row_number}"
        path_cell, speaker, session, emotion = (
            _cell(row, column, where) for column in REQUIRED_COLUMNS)
        problem = corpora.speaker_id_problem(speaker)
        if problem:
            raise corpora.CorpusError(f"{where}, column 'speaker': {problem}")
        aux = {task: _aux_label(row, task, where, vad_bin_edges, vad_score_range, missing_marks)
               for task in aux_columns}
        wav_path = csv_paths.wav_path(csv_dir, path_cell, where)
        if ID_COLUMN in columns:
            utterance_id = _cell(row, ID_COLUMN, where)
        else:
            relative = os.path.relpath(wav_path, csv_dir).replace(os.sep, "/")
            utterance_id = os.path.splitext(relative)[0]
            if utterance_id in id_rows and id_rows[utterance_id][1] != wav_path:
                utterance_id = relative  # same name, other extension: keep the extension
        if utterance_id in id_rows:
            raise corpora.CorpusError(f"{where}: utterance id {utterance_id!r} is already used "
                                      f"by row {id_rows[utterance_id][0]}")
        id_rows[utterance_id] = (row_number, wav_path)
        # one audio under two ids could land in both training and test data
        same_file = os.path.normcase(os.path.realpath(wav_path))
        if same_file in file_rows:
            first_row, first_path = file_rows[same_file]
            spelled = "" if first_path == wav_path else f" as {first_path}"
            raise corpora.CorpusError(
                f"{where}: wav file {wav_path} is already listed by row {first_row}{spelled} "
                f"(under another utterance id); an audio file may appear in one row only, "
                f"remove one of the two rows")
        file_rows[same_file] = (row_number, wav_path)
        first_row, first_session = speaker_rows.setdefault(speaker, (row_number, session))
        if first_session != session:
            raise corpora.CorpusError(
                f"{where}: speaker {speaker!r} is in session {session!r}, but row {first_row} "
                f"puts it in session {first_session!r}; a speaker must belong to one session")

        emotion_index = class_of(emotion)
        if emotion_index is None:
            listing.excluded[f"label {emotion}"] += 1
            continue
        if not listing.wav_present(wav_path, skip_missing, where):
            continue
        for task in aux_columns:
            if aux[task] != corpora.MISSING_LABEL:
                scores[task].append((float(row[task]), aux[task]))
        listing.utterances.append(corpora.Utterance(
            utterance_id=utterance_id, path=wav_path, speaker=speaker, session=session,
            emotion=emotion_index, **aux))
    listing.utterances.sort(key=lambda utterance: utterance.utterance_id)
    listing.notes.extend(_one_bin_warnings(csv_path, scores, vad_bin_edges, vad_score_range))
    return listing


def _one_bin_warnings(csv_path, scores, edges, score_range) -> list:
    """A warning per V/A/D column whose scores (two or more) all fall in one bin: a scale other
    than the binning's (0-1 ratings binned by the paper's edges 2, 3, 4 all land in bin 0)."""
    warnings = []
    for task, pairs in scores.items():
        if len(pairs) > 1 and len({bin_index for _, bin_index in pairs}) == 1:
            values = [score for score, _ in pairs]
            warnings.append(
                f"{csv_path}: warning: all {len(pairs)} {task} scores ({min(values):g} to "
                f"{max(values):g}) fall in bin {pairs[0][1]} of the edges "
                f"{', '.join(f'{edge:g}' for edge in edges)} in ({score_range[0]:g}, "
                f"{score_range[1]:g}), so the {task} task has a single label; if the corpus "
                f"rates on another scale, give its range and bins with --csv_vad_score_range and "
                f"--csv_vad_bin_edges")
    return warnings
