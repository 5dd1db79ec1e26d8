"""Reads the RAVDESS release layout into a `CorpusListing` (real acted emotional speech).

RAVDESS (Livingstone & Russo, PLoS ONE 2018) has 24 actors (odd id male, even id female); its
audio-only speech release unpacks to

    <root>/Actor_NN/MM-VV-EE-II-SS-RR-NN.wav

with modality MM (01 audio-video, 02 video, 03 audio), vocal channel VV (01 speech, 02 song),
emotion EE (01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust,
08 surprised), intensity II (01 normal, 02 strong; neutral has normal only), statement SS,
repetition RR and actor NN. The release is 48 kHz; any rate works (`mmtl_tf.audio` resamples).

The steps:

1. Every `Actor_NN` folder of `root` is read; a folder named almost so (`Actor_1`,
   `actor_14`) is an error naming it and the expected name, other entries of `root` are
   ignored; in the actor folders, dot-files
   (macOS AppleDouble `._*` copies) and non-wav files are skipped. A wav whose name is not the
   seven-field pattern, or whose actor field disagrees with its folder, is an error naming it.
2. Song files (vocal channel 02) are excluded and counted ("song file"); speech files of any
   modality are kept (the audio-only release holds modality 03 only).
3. Emotions are matched to `class_names` by RAVDESS name; with `merge_calm`, calm counts as
   neutral. Other emotions are counted as "label <name>".
4. Intensity is the one dimensional label RAVDESS has; it becomes the arousal auxiliary label,
   binned by `intensity_bins` (default normal -> 2, strong -> 3: the paper's bins [3, 4) and
   [4, 6)). It rates the actor's performance, not the perceived emotion; valence and dominance
   are absent (-1). No auxiliary label is ever derived from the emotion class.
5. Actors pair into sessions (1, 2), (3, 4), ... so that every session holds one male and one
   female speaker, as IEMOCAP's sessions do; speaker ids read `actor11M`, session ids
   `actors11-12`. An actor whose partner is absent cannot form a fold: its files are excluded
   and counted ("unpaired actor NN").
"""

import collections
import os
import re

from mmtl_tf import corpora, labels

EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
            "06": "fearful", "07": "disgust", "08": "surprised"}
INTENSITIES = ("normal", "strong")
DEFAULT_INTENSITY_BINS = (2, 3)

_ACTOR_FOLDER = re.compile(r"^Actor_(?P<actor>\d{2})$")
_FILE_NAME = re.compile(r"^(?P<modality>0[123])-(?P<channel>0[12])-(?P<emotion>0[1-8])-"
                        r"(?P<intensity>0[12])-(?P<statement>0[12])-(?P<repetition>0[12])-"
                        r"(?P<actor>\d{2})\.wav$", re.IGNORECASE)
_LAYOUT = ("expected the RAVDESS release folder holding Actor_01..Actor_24, each with "
           "MM-VV-EE-II-SS-RR-NN.wav files (e.g. Actor_01/03-01-05-02-01-01-01.wav)")


def speaker_id(actor: int) -> str:
    """`actor11M`: the actor number and gender (odd ids are male in RAVDESS)."""
    return f"actor{actor:02d}{'M' if actor % 2 else 'F'}"


def session_id(actor: int) -> str:
    """`actors11-12`: the session of an actor and its partner (1-2, 3-4, ...)."""
    first = actor if actor % 2 else actor - 1
    return f"actors{first:02d}-{first + 1:02d}"


def _check_arguments(class_names, merge_calm, intensity_bins):
    """Raises ValueError for a bad class list, calm merge or intensity binning."""
    if not class_names:
        raise ValueError("--classes is empty; give RAVDESS emotions such as "
                         "neutral,happy,sad,angry")
    unknown = [name for name in class_names if name not in EMOTIONS.values()]
    if unknown:
        raise ValueError(f"--classes: {', '.join(unknown)} is not a RAVDESS emotion "
                         f"({', '.join(EMOTIONS.values())})")
    if len(set(class_names)) != len(class_names):
        raise ValueError(f"--classes {','.join(class_names)} lists an emotion twice")
    if merge_calm and ("calm" in class_names or "neutral" not in class_names):
        raise ValueError("--merge_calm labels calm as neutral: --classes must hold neutral "
                         "and not calm")
    if len(intensity_bins) != 2 or any(not 0 <= b < labels.NUM_VAD_BINS for b in intensity_bins):
        raise ValueError(f"--ravdess_intensity_bins={','.join(map(str, intensity_bins))}: give "
                         f"two bins (normal, strong) in 0..{labels.NUM_VAD_BINS - 1}")
    if intensity_bins[0] == intensity_bins[1]:
        raise ValueError("--ravdess_intensity_bins: normal and strong must differ, or the "
                         "arousal task has one class")


def _actor_folders(root):
    """Returns {actor number: folder path} for the `Actor_NN` folders of `root`; CorpusError
    for a misnamed actor folder (`Actor_1`, `actor_14`)."""
    if not os.path.isdir(root):
        raise corpora.CorpusError(f"{root}: RAVDESS folder not found; {_LAYOUT}")
    folders = {}
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if name.startswith(".") or not os.path.isdir(path):
            continue
        match = _ACTOR_FOLDER.match(name)
        if match:
            folders[int(match["actor"])] = path
            continue
        number = corpora.near_miss_number(name, "actor")
        if number is not None:  # skipping it would drop an actor and its partner's session
            raise corpora.CorpusError(
                f"{path}: looks like an actor folder but is not named as the release names it "
                f"(expected Actor_{number:02d}); rename it to Actor_{number:02d}, or move it "
                f"out of {root}: its utterances would be left out")
    if not folders:
        raise corpora.CorpusError(f"{root}: no Actor_NN folder; {_LAYOUT}")
    return folders


def read_ravdess(root: str, class_names=("neutral", "happy", "sad", "angry"),
                 merge_calm: bool = False,
                 intensity_bins=DEFAULT_INTENSITY_BINS) -> corpora.CorpusListing:
    """Lists the speech utterances of a RAVDESS release (steps in the module docstring).

    Args:
      root: the folder holding `Actor_NN` folders.
      class_names: RAVDESS emotion names, in label order.
      merge_calm: label calm utterances as neutral.
      intensity_bins: arousal bins of (normal, strong) intensity.

    Returns:
      A `CorpusListing` named "ravdess", utterances sorted by id, exclusions counted by reason.

    Raises:
      ValueError: bad arguments (naming the flag).
      CorpusError: `root` is not a RAVDESS folder, a wav name is malformed or in the wrong
        actor folder, or no utterance is left.
    """
    class_names = tuple(class_names)
    _check_arguments(class_names, merge_calm, tuple(intensity_bins))
    folders = _actor_folders(root)
    listing = corpora.CorpusListing(corpus="ravdess", class_names=class_names, utterances=[])
    per_actor = collections.defaultdict(list)
    for actor, folder in folders.items():
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if name.startswith(".") or not name.lower().endswith(".wav"):
                if name.startswith("._"):
                    listing.excluded["AppleDouble file"] += 1
                continue
            match = _FILE_NAME.match(name)
            if not match:
                raise corpora.CorpusError(f"{path}: not a RAVDESS file name (MM-VV-EE-II-SS-RR-NN"
                                          f".wav); rename or remove it")
            if int(match["actor"]) != actor:
                raise corpora.CorpusError(f"{path}: the file names actor {match['actor']} but "
                                          f"lies in Actor_{actor:02d}; move it to its actor's folder")
            if not os.path.isfile(path):
                raise corpora.CorpusError(f"{path}: not a regular file")
            if match["channel"] == "02":
                listing.excluded["song file"] += 1
                continue
            emotion = EMOTIONS[match["emotion"]]
            if merge_calm and emotion == "calm":
                emotion = "neutral"
            if emotion not in class_names:
                listing.excluded[f"label {emotion}"] += 1
                continue
            per_actor[actor].append(corpora.Utterance(
                utterance_id=name[:-4], path=path, speaker=speaker_id(actor),
                session=session_id(actor), emotion=class_names.index(emotion),
                arousal=int(intensity_bins[int(match["intensity"]) - 1])))
    for actor, utterances in per_actor.items():
        partner = actor + 1 if actor % 2 else actor - 1
        if partner in per_actor:
            listing.utterances.extend(utterances)
        else:
            listing.excluded[f"unpaired actor {actor:02d}"] += len(utterances)
    if not listing.utterances:
        raise corpora.CorpusError(f"{root}: no speech utterance of the classes "
                                  f"{', '.join(class_names)} in a complete actor pair; {_LAYOUT}")
    listing.utterances.sort(key=lambda utterance: utterance.utterance_id)
    return listing
