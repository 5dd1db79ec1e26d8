"""A seeded synthetic corpus in IEMOCAP's release layout: the embedded default corpus.

IEMOCAP is licensed, so the project cannot ship it. To let every command run out of the box, this
module writes a small speech-like corpus *in IEMOCAP's own layout* (`shared/iemocap_release.md`)
and lists it with the very same reader, `iemocap.read_iemocap`. The sounds are not speech, but
they are built like speech, so emotion is learnable from them without being trivial.

## Layout

Sessions 1-5, each with speakers F and M (`1F`..`5M`) who share a few improvised dialogs
`Ses0<S><F|M>_impro<NN>` (the marker letter alternates; every dialog has turns `<dialog>_<F|M><NNN>`
of both) and a scripted `Ses0<S>F_script01_1`. Each speaker gets exactly `utterances_per_speaker`
improvised neu/hap/sad/ang utterances (one of each, the rest with IEMOCAP's imbalance), each
session one xxx, fru and exc. Real copies' traps are planted: an AppleDouble `._<dialog>.txt`, a
`Categorical/` per-evaluator file, a lettered dialog (`Ses03F_impro04a`), scripted turns.

## Signal model

Each utterance's labels and waveform come from `synthetic_speech` (its docstring gives the model
step by step); the label file gets the evaluators' mean scores (2.5000, 3.6667), and each
waveform is written as mono 16-bit PCM.

Every random draw comes from `np.random.default_rng([seed, stream, session, index])`, so files are
byte-identical for a seed and independent of generation order. The stamp `synthetic_corpus.json`
(parameters, version, file list) is written last: a finished corpus is never rewritten, and a
request with other parameters for the same folder is refused.
"""

import json
import os

import numpy as np

from mmtl_tf import atomic_files
from mmtl_tf import audio
from mmtl_tf import corpus_notes
from mmtl_tf.corpora import iemocap
from mmtl_tf.corpora import synthetic_speech

GENERATOR_VERSION = 1
STAMP_NAME, _PARTIAL_NAME = corpus_notes.SYNTHETIC_STAMPS
_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]"
_CLASS_SHARE = (0.45, 0.12, 0.30, 0.13)  # IEMOCAP improvised: 2016/525/1306/585 segments
_EVALUATOR_WORDS = {"neu": "Neutral", "hap": "Happiness", "sad": "Sadness", "ang": "Anger",
                    "exc": "Excited", "fru": "Frustration"}
_APPLE_DOUBLE = (b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x02\x00\x00\x00\x09"
                 b"\x00\x00\x00\x32\x00\x00\x0e\xb0" + bytes(64))


def _interleave(rng, dialog, female_labels, male_labels):
    """Orders both speakers' turns like a conversation: [(utterance id, label)]."""
    queues = [list(rng.permutation(female_labels)), list(rng.permutation(male_labels))]
    turns, counts, speaker = [], [0, 0], int(rng.integers(2))
    while queues[0] or queues[1]:
        if queues[1 - speaker] and (not queues[speaker] or rng.random() < 0.8):
            speaker = 1 - speaker
        turns.append((f"{dialog}_{'FM'[speaker]}{counts[speaker]:03d}",
                      str(queues[speaker].pop(0))))
        counts[speaker] += 1
    return turns


def _session_plan(seed, session, per_speaker):
    """Dialogs of one session, [(dialog, [(utterance id, label)])], the scripted one last."""
    rng = np.random.default_rng([seed, synthetic_speech.PLAN_STREAM, session, 0])
    num_dialogs = min(4, max(2, per_speaker // 12))
    groups = [[[] for _ in range(num_dialogs)] for _ in range(2)]
    for sex in range(2):  # one of each class, the rest drawn with IEMOCAP's imbalance
        labels = list(synthetic_speech.CLASSES) + list(
            rng.choice(synthetic_speech.CLASSES, per_speaker - 4, p=_CLASS_SHARE))
        for dialog, part in enumerate(np.array_split(rng.permutation(labels), num_dialogs)):
            groups[sex][dialog].extend(part)
    for label in ("xxx", "fru", "exc"):
        groups[rng.integers(2)][rng.integers(num_dialogs)].append(label)
    dialogs = []
    for dialog in range(num_dialogs):  # the marker letter alternates; Session 3 has a lettered one
        suffix = "a" if session == 3 and dialog == num_dialogs - 1 else ""
        name = f"Ses0{session}{'FM'[(session + dialog) % 2]}_impro{dialog + 1:02d}{suffix}"
        dialogs.append((name, _interleave(rng, name, groups[0][dialog], groups[1][dialog])))
    scripted = rng.choice(synthetic_speech.CLASSES, 4, p=_CLASS_SHARE)
    name = f"Ses0{session}F_script01_1"
    return dialogs + [(name, _interleave(rng, name, scripted[:2], scripted[2:]))]


def _label_block(rng, start, end, utterance_id, label, scores):
    """One utterance's summary line and per-evaluator lines (categorical, then attribute)."""
    words = list(_EVALUATOR_WORDS.values())
    chosen = (list(rng.choice(words, 3, replace=False)) if label == "xxx"
              else [_EVALUATOR_WORDS[label]] * 2 + [str(rng.choice(words))])
    evaluators = sorted(rng.choice(np.arange(1, 7), 3, replace=False))
    means = ", ".join(f"{value:.4f}" for value in scores.mean(axis=0))
    return ([f"[{start:.4f} - {end:.4f}]\t{utterance_id}\t{label}\t[{means}]"]
            + [f"C-E{number}:\t{word};\t()" for number, word in zip(evaluators, chosen)]
            + [f"A-E{number}:\tval {v}; act {a}; dom  {d};\t()"
               for number, (v, a, d) in zip(evaluators, scores)] + [""])


def _write_session(root, session, parameters):
    """Writes one session's wavs, label files and traps; returns their paths relative to root."""
    seed, sample_rate = parameters["seed"], parameters["sample_rate"]
    speakers = [synthetic_speech.speaker_profile(seed, session, sex) for sex in range(2)]
    label_dir = os.path.join(root, f"Session{session}", "dialog", "EmoEvaluation")
    os.makedirs(os.path.join(label_dir, "Categorical"), exist_ok=True)
    written, index = [], 0
    plan = _session_plan(seed, session, parameters["utterances_per_speaker"])
    for dialog_number, (dialog, turns) in enumerate(plan):
        wav_dir = os.path.join(root, f"Session{session}", "sentences", "wav", dialog)
        os.makedirs(wav_dir, exist_ok=True)
        rng = np.random.default_rng([seed, synthetic_speech.PLAN_STREAM, session,
                                     1 + dialog_number])
        lines, clock, categorical = [_HEADER, ""], rng.uniform(2, 8), []
        for utterance_id, label in turns:
            utterance = synthetic_speech.utterance_labels(seed, session, index, label, parameters)
            waveform = synthetic_speech.synthesize(
                utterance, speakers["FM".index(utterance_id[-4])],
                synthetic_speech.session_channel(seed, session), sample_rate)
            written.append(os.path.join(wav_dir, f"{utterance_id}.wav"))
            audio.write_wav(written[-1], waveform.astype(np.float32), sample_rate)
            end = clock + utterance["samples"] / sample_rate
            lines += _label_block(rng, clock, end, utterance_id, label, utterance["scores"])
            word = _EVALUATOR_WORDS.get(label, "Other").replace("Neutral", "Neutral state")
            categorical.append(f"{utterance_id} :{word}; ()")
            clock, index = end + rng.uniform(0.2, 2.0), index + 1
        written.append(os.path.join(label_dir, f"{dialog}.txt"))
        atomic_files.write_text(written[-1], "\n".join(lines) + "\n")
        if dialog_number == 0:  # traps: a per-evaluator file and a macOS AppleDouble file
            written.append(os.path.join(label_dir, "Categorical", f"{dialog}_e2_cat.txt"))
            atomic_files.write_text(written[-1], "\n".join(categorical) + "\n")
            written.append(os.path.join(label_dir, f"._{dialog}.txt"))
            atomic_files.write_bytes(written[-1], _APPLE_DOUBLE)
    return [os.path.relpath(path, root) for path in written]


def _check_parameters(utterances_per_speaker, seed, min_seconds, max_seconds, sample_rate):
    """Validates the generator's parameters and returns them as a JSON-ready dict."""
    for name, value, valid, need in (
            ("utterances_per_speaker", utterances_per_speaker, utterances_per_speaker >= 4,
             "an integer >= 4 (one of each class per speaker)"),
            ("seed", seed, seed >= 0, "a non-negative integer"),
            ("sample_rate", sample_rate, sample_rate >= 8000, "an integer >= 8000 (Hz)"),
            ("min_seconds", min_seconds, 0.5 <= min_seconds <= max_seconds <= 60,
             f"0.5 <= min_seconds <= max_seconds <= 60 (max_seconds={max_seconds!r})")):
        if not valid or (name != "min_seconds" and int(value) != value):
            raise ValueError(f"{name}={value!r}: need {need}")
    return {"utterances_per_speaker": int(utterances_per_speaker), "seed": int(seed),
            "min_seconds": float(min_seconds), "max_seconds": float(max_seconds),
            "sample_rate": int(sample_rate), "generator_version": GENERATOR_VERSION}


def _stamp_is_complete(root, stamp_path, parameters):
    """True if the stamp matches `parameters` and its files exist; ValueError if it differs."""
    try:
        with open(stamp_path, encoding="utf-8") as handle:
            stamp = json.load(handle)
    except ValueError as error:  # the stamp is written atomically, so this is not ours
        raise ValueError(f"{stamp_path}: unreadable stamp ({error}); pick another directory, "
                         f"or delete this one") from None
    differ = [f"{name}={stamp['parameters'].get(name)!r} there but {value!r} asked"
              for name, value in parameters.items() if stamp["parameters"].get(name) != value]
    if differ:
        raise ValueError(f"{root} already holds a synthetic corpus generated with other "
                         f"parameters ({'; '.join(differ)}; see {stamp_path}); pick another "
                         f"directory for these parameters, or delete this one")
    return all(os.path.isfile(os.path.join(root, name)) for name in stamp["files"])


def generate_synthetic_corpus(root: str, utterances_per_speaker: int = 48, seed: int = 0,
                              min_seconds: float = 1.0, max_seconds: float = 10.0,
                              sample_rate: int = 16000) -> str:
    """Writes, once, a seeded synthetic corpus in IEMOCAP's release layout.

    Args:
      root: folder to write; it becomes the release folder (root/Session1..Session5). It must be
        new, empty, or written by this function (an interrupted run is regenerated).
      utterances_per_speaker: improvised neu/hap/sad/ang utterances per speaker (>= 4); each
        session also gets one xxx, one fru and one exc utterance and a scripted dialog of four.
      seed: the corpus seed; the same parameters always give byte-identical files.
      min_seconds: shortest utterance duration.
      max_seconds: longest utterance duration.
      sample_rate: Hz of the 16-bit mono wavs (IEMOCAP's is 16000).

    Returns:
      The absolute path of the release folder (`root`).

    Raises:
      ValueError: a bad parameter; `root` holds a corpus generated with other parameters (the
        message names them) or files that are not a synthetic corpus.
    """
    parameters = _check_parameters(utterances_per_speaker, seed, min_seconds, max_seconds,
                                   sample_rate)
    root = os.path.abspath(root)
    stamp_path, partial_path = os.path.join(root, STAMP_NAME), os.path.join(root, _PARTIAL_NAME)
    if os.path.isfile(stamp_path):
        if _stamp_is_complete(root, stamp_path, parameters):
            return root
    elif os.path.isdir(root) and os.listdir(root) and not os.path.isfile(partial_path):
        raise ValueError(f"{root} is not empty and holds no synthetic corpus ({STAMP_NAME}); "
                         f"pick a new or empty directory")
    os.makedirs(root, exist_ok=True)
    atomic_files.write_text(partial_path, json.dumps({"parameters": parameters}))
    files = sorted(name for session in range(1, 6)
                   for name in _write_session(root, session, parameters))
    kept = set(files)
    for folder, _, names in os.walk(root):  # leftovers of an interrupted run of other parameters
        for relative in (os.path.relpath(os.path.join(folder, name), root) for name in names):
            if relative.startswith("Session") and relative not in kept:
                os.remove(os.path.join(root, relative))
    atomic_files.write_text(stamp_path, json.dumps({"generator": __name__, "parameters": parameters,
                                        "num_files": len(files), "files": files}, indent=1))
    os.remove(partial_path)
    return root


def read_synthetic(root: str, utterances_per_speaker: int = 48, seed: int = 0,
                   min_seconds: float = 1.0, max_seconds: float = 10.0, sample_rate: int = 16000,
                   class_names=synthetic_speech.CLASSES, merge_excited: bool = False):
    """Generates the synthetic corpus if needed and lists it with the IEMOCAP reader.

    Args:
      root, utterances_per_speaker, seed, min_seconds, max_seconds, sample_rate: as for
        `generate_synthetic_corpus`.
      class_names: IEMOCAP labels kept as classes, in label order.
      merge_excited: map exc to hap before the class filter (off in the paper).

    Returns:
      The `CorpusListing` of the improvised dialogs, named "synthetic".
    """
    release = generate_synthetic_corpus(root, utterances_per_speaker, seed, min_seconds,
                                        max_seconds, sample_rate)
    return iemocap.read_iemocap(release, scripts="improvised", class_names=class_names,
                                merge_excited=merge_excited, corpus_name="synthetic")
