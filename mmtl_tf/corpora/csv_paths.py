"""Where a CSV manifest's path cell points (`csv_manifest` reads the cells, this finds the file).

Paths are relative to the CSV's folder, the folder a user ships the CSV in beside its wavs, or
absolute. A path written on Windows (wavs\\a.wav) and a name in another Unicode form than the
disk's (a CSV typed with "ä" for files copied from macOS, which stores "a" and a combining
diaeresis) reach their file; a path found only relative to the current directory is refused
naming both folders, rather than calling every wav missing.
"""

import os
import unicodedata

from mmtl_tf import corpora


def wav_path(csv_dir, path_cell, where) -> str:
    """The wav a path cell names (the module docstring says how it is found).

    Args:
      csv_dir: the CSV's folder, absolute.
      path_cell: the stripped `path` cell.
      where: "<csv>: row N", for the message.

    Returns:
      The normalised path of the file found, or (when none is) the path relative to `csv_dir`,
      which the reader then reports as missing (or counts, with --skip_missing).

    Raises:
      corpora.CorpusError: the file is found only relative to the current directory.
    """
    candidates = [path_cell]
    if "\\" in path_cell and os.sep == "/":
        candidates.append(path_cell.replace("\\", "/"))
    candidates += [unicodedata.normalize(form, cell) for cell in list(candidates)
                   for form in ("NFC", "NFD")]
    paths = [os.path.normpath(os.path.join(csv_dir, cell)) for cell in candidates]
    found = next((path for path in paths if os.path.lexists(path)), None)
    if found:
        return found
    if not os.path.isabs(path_cell) and os.path.isfile(path_cell):
        raise corpora.CorpusError(
            f"{where}: wav file {paths[0]} is missing, but {os.path.abspath(path_cell)} exists: "
            f"paths are read relative to the CSV's folder ({csv_dir}), not the current "
            f"directory; write them relative to the CSV's folder, or absolute")
    return paths[0]
