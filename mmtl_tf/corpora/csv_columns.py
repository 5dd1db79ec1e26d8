"""The header of a CSV manifest: the columns `csv_manifest` reads, renamed ones, ignored ones.

A corpus whose CSV names a column otherwise (`utt_id`, IEMOCAP's `activation`) maps it with
`--csv_columns=utterance_id=utt_id,arousal=activation` (`parse_column_map`). Columns the reader
does not know (transcripts, gender, ...) are fine and listed (`ignored_columns`), except a
known other name of a V/A/D score (`SYNONYMS`) where that score's column is absent: reading on
without it would leave the task unlabelled, so the header is refused naming the column.
"""

from mmtl_tf import corpora

REQUIRED_COLUMNS = ("path", "speaker", "session", "emotion")
ID_COLUMN = "utterance_id"
KNOWN_COLUMNS = REQUIRED_COLUMNS + tuple(corpora.AUX_TASKS) + (ID_COLUMN,)
# Other names of the V/A/D scores (IEMOCAP calls arousal "activation" and writes val/act/dom).
SYNONYMS = {"activation": "arousal", "act": "arousal", "val": "valence", "dom": "dominance"}


def parse_column_map(entries) -> dict:
    """{column the reader knows: the CSV's own column name, lower-cased} of `name=column` entries.

    Raises:
      ValueError: naming --csv_columns and the entry, for an entry that is not `name=column`,
        names a column the reader does not know or names one twice, or two names given the
        same CSV column.
    """
    mapping = {}
    for entry in entries:
        name, equals, column = (part.strip().lower() for part in entry.partition("="))
        flag = f"--csv_columns={entry.strip()}"
        if not equals or not name or not column:
            raise ValueError(f"{flag}: not name=column (e.g. arousal=activation)")
        if name not in KNOWN_COLUMNS:
            raise ValueError(f"{flag}: {name!r} is not a column the reader reads "
                             f"({', '.join(KNOWN_COLUMNS)})")
        if name in mapping:
            raise ValueError(f"{flag}: {name!r} is mapped twice")
        if column in mapping.values():
            raise ValueError(f"{flag}: column {column!r} is given to two names")
        mapping[name] = column
    return mapping


def expected_names(mapping: dict) -> set:
    """The header names of the required columns under `mapping` (to recognise the delimiter)."""
    return {mapping.get(column, column) for column in REQUIRED_COLUMNS}


def header_columns(header, mapping: dict, csv_path: str) -> list:
    """The header's column names, lower-cased, those in `mapping` renamed to the reader's names.

    Raises:
      corpora.CorpusError: naming the file, for a column that appears twice, a mapped column
        the header lacks, a required column missing, or a V/A/D score under another name.
    """
    columns = [name.strip().lower() for name in header]
    repeated = sorted({name for name in columns if name and columns.count(name) > 1})
    if repeated:
        raise corpora.CorpusError(f"{csv_path}: column(s) {', '.join(repeated)} appear "
                                  f"more than once in the header")
    for name, column in mapping.items():
        if column not in columns:
            raise corpora.CorpusError(
                f"{csv_path}: --csv_columns maps {name} to column {column!r}, which the header "
                f"lacks (found: {', '.join(columns)})")
        if name in columns and name != column:
            raise corpora.CorpusError(
                f"{csv_path}: --csv_columns maps {name} to column {column!r}, but the header "
                f"has a column {name!r} too; drop the mapping, or rename one column")
    renamed = {column: name for name, column in mapping.items()}
    columns = [renamed.get(name, name) for name in columns]
    for column in REQUIRED_COLUMNS:  # header faults first, before any row's
        if column not in columns:
            raise corpora.CorpusError(f"{csv_path}: required column {column!r} is missing "
                                      f"(found: {', '.join(columns)}); if the CSV names it "
                                      f"otherwise, map it with --csv_columns={column}=<name>")
    for synonym, task in SYNONYMS.items():
        if synonym in columns and task not in columns:
            raise corpora.CorpusError(
                f"{csv_path}: column {synonym!r} looks like the {task} score, but the reader "
                f"reads it only from a column named {task!r}; rename the column to {task}, or "
                f"pass --csv_columns={task}={synonym} (if it holds something else, rename it "
                f"to a name the reader does not read)")
    return columns


def ignored_columns(columns) -> list:
    """The named columns the reader does not read, in header order."""
    return [name for name in columns if name and name not in KNOWN_COLUMNS]
