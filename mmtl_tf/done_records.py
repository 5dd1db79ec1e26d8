"""Done-records: what each unit of speakers in a generation folder was computed from.

A unit of speakers (`shard_writer.pack_units`) is written together and named after its first
speaker, its head: shards `<head>-00000-of-0000N.tfrecord` and, once they are in place, the
done-record `<head>.done.json`. A rerun of prepare reuses a speaker when a done-record holds the
digest of what its segments must be computed from and its shards have the recorded sizes
(`finished_speakers`); before recomputing speakers it removes every file named after them
(`remove_speakers_files`), so no old record can vouch for a half-written unit.

This module imports no TensorFlow (`tfrecord_dir` reads the names of generation files with it).
"""

import os
import re

from mmtl_tf import atomic_files

DONE_SUFFIX = ".done.json"
# A speaker's files: shards, done-record, and their temporary files. The speaker is the longest
# prefix before a fixed suffix, so a name is read the same whatever characters a speaker id has.
_SPEAKER_FILE = re.compile(r"^(?P<speaker>.+)(-\d{5}-of-\d{5}\.tfrecord|\.done\.json)(\.tmp-\d+)?$")


def done_name(head: str) -> str:
    """File name of the done-record of the unit of speakers headed by `head`: `1F.done.json`."""
    return f"{head}{DONE_SUFFIX}"


def finished_speakers(folder: str, digests: dict) -> dict:
    """The speakers of `digests` a done-record of `folder` vouches for, with intact shards.

    A done-record `<head>.done.json` describes one unit of speakers written together (its first
    speaker names it and its shards): {"shard_bytes": {shard name: size}, "speakers": {speaker:
    {"hash": digest of what its segments were computed from, "entry": its manifest entry}}}.
    Format 1 records (one speaker, {"hash", "shard_bytes", "entry"}) are read too. A speaker is
    finished when a record holds its current digest and every shard of its entry has the
    recorded size.

    Args:
      folder: a generation folder.
      digests: speaker -> the digest of what its segments must be computed from.

    Returns:
      {speaker: (manifest entry with `shard_bytes`, a size per shard; done-record file name)}.
    """
    found, sizes = {}, {}

    def intact(name, size):
        if name not in sizes:
            path = os.path.join(folder, name)
            sizes[name] = os.path.getsize(path) if os.path.isfile(path) else None
        return sizes[name] == size

    for name in sorted(os.listdir(folder)):
        if not name.endswith(DONE_SUFFIX):
            continue
        try:
            done = atomic_files.read_json(os.path.join(folder, name))
            vouched = done.get("speakers") or {name[:-len(DONE_SUFFIX)]: done}
            for speaker, record in vouched.items():
                if speaker in found or digests.get(speaker) != record["hash"]:
                    continue
                entry = dict(record["entry"])
                entry["shard_bytes"] = [done["shard_bytes"][shard] for shard in entry["shards"]]
                if all(intact(*pair) for pair in zip(entry["shards"], entry["shard_bytes"])):
                    found[speaker] = (entry, name)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # an unreadable record vouches for nothing: its speakers are recomputed
    return found


def write_done(folder: str, head: str, speakers: dict, shard_bytes: dict) -> dict:
    """Writes the done-record of a unit headed by `head` (see `finished_speakers`) once its
    shards are in place.

    Args:
      folder: the staging folder.
      head: the unit's first speaker (names the record and the shards).
      speakers: speaker -> (digest, manifest entry) of every speaker of the unit.
      shard_bytes: shard name -> size of the unit's shards.

    Returns:
      {speaker: manifest entry with `shard_bytes`}, as `finished_speakers` will return them.
    """
    # Not fsynced one by one (a flush per done-record dominated preparing 1,000 small speakers
    # when each had its own):
    # the rename is atomic against a kill, and `commit` syncs the generation before naming it.
    atomic_files.write_json(
        os.path.join(folder, done_name(head)),
        {"shard_bytes": shard_bytes,
         "speakers": {speaker: {"hash": digest, "entry": entry}
                      for speaker, (digest, entry) in speakers.items()}},
        durable=False, indent=None)  # read by prepare only
    return {speaker: {**entry, "shard_bytes": [shard_bytes[name] for name in entry["shards"]]}
            for speaker, (_, entry) in speakers.items()}


def remove_speakers_files(folder: str, speakers) -> None:
    """Deletes the done-records, shards and leftover temporary files of `speakers` from `folder`.

    The folder is listed once, whatever the number of speakers (one listing per speaker made
    preparing thousands of speakers quadratic).
    """
    wanted = set(speakers)
    for name in sorted(os.listdir(folder)):
        if file_speaker(name) in wanted:
            os.remove(os.path.join(folder, name))


def file_speaker(name: str):
    """The speaker a shard or done-record file is named after (its unit's head), or None."""
    match = _SPEAKER_FILE.match(name)
    return match.group("speaker") if match else None
