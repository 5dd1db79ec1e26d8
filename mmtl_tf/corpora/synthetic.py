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

1. Latent valence/arousal/dominance are drawn around the emotion's means, shrunk toward neutral
   by a random expressiveness; 2-3 evaluators score them as integers, and the label file gets
   their means (2.5000, 3.6667).
2. A syllable plan (150-300 ms syllables in phrases, pauses) gives a raised-sine envelope and
   vowel formant targets, scaled by the speaker's vocal-tract length.
3. An F0 contour (the speaker's base F0; emotion and arousal set level and range; accents,
   declination, jitter) drives a glottal pulse train plus aspiration noise (breathiness).
4. The source is filtered by overlap-add through five formant resonances and a spectral tilt
   (brighter when aroused or angry, coloured by the session's microphone).
5. Fricative onsets, coloured background noise at a random SNR (8-35 dB) and a random recording
   gain are added; the peak stays below 0.9, written as mono 16-bit PCM.

Every random draw comes from `np.random.default_rng([seed, stream, session, index])`, so files are
byte-identical for a seed and independent of generation order. The stamp `synthetic_corpus.json`
(parameters, version, file list) is written last: a finished corpus is never rewritten, and a
request with other parameters for the same folder is refused.
"""

import json
import os

import numpy as np
import scipy.fft

from mmtl_tf import atomic_files
from mmtl_tf import audio
from mmtl_tf.corpora import iemocap

GENERATOR_VERSION = 1
STAMP_NAME = "synthetic_corpus.json"
_PARTIAL_NAME = "synthetic_corpus.partial.json"
_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]"
_CLASSES = ("neu", "hap", "sad", "ang")
_CLASS_SHARE = (0.45, 0.12, 0.30, 0.13)  # IEMOCAP improvised: 2016/525/1306/585 segments
_PLAN, _SPEAKER, _SESSION, _UTTERANCE = 1, 2, 3, 4  # random streams
# Per label: V, A, D means; pitch shift (semitones); pitch range factor; level (dB); speaking
# rate factor; tilt change (dB/octave, + is brighter); breathiness change (dB); pause factor.
_EMOTIONS = {
    "neu": (2.9, 2.6, 2.8, 0.0, 1.00, 0.0, 1.00, 0.0, 0.0, 1.0),
    "hap": (3.9, 3.4, 3.0, 2.0, 1.40, 2.0, 1.08, 1.5, 1.0, 0.9),
    "sad": (2.0, 2.2, 2.3, -1.5, 0.65, -4.0, 0.82, -2.0, 5.0, 1.6),
    "ang": (1.9, 3.8, 3.8, 1.5, 1.30, 5.0, 1.10, 3.5, -2.0, 0.8),
    "exc": (3.8, 3.7, 3.3, 2.5, 1.50, 3.0, 1.12, 2.0, 0.0, 0.8),
    "fru": (2.0, 3.1, 3.1, 0.8, 1.10, 2.0, 1.00, 1.5, 1.0, 1.0),
}
_EVALUATOR_WORDS = {"neu": "Neutral", "hap": "Happiness", "sad": "Sadness", "ang": "Anger",
                    "exc": "Excited", "fru": "Frustration"}
_VOWELS = np.array([[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240],  # a i u
                    [530, 1840, 2480], [570, 840, 2410], [660, 1720, 2410]])  # e o ae
_APPLE_DOUBLE = (b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x02\x00\x00\x00\x09"
                 b"\x00\x00\x00\x32\x00\x00\x0e\xb0" + bytes(64))


def _speaker_profile(seed, session, sex):
    """Voice of speaker `sex` (0 F, 1 M): base F0, tract scale, rate, tilt, breath, gain."""
    rng = np.random.default_rng([seed, _SPEAKER, session, sex])
    return {"f0": (205.0, 115.0)[sex] * np.exp(rng.normal(0, 0.09)),
            "tract": (1.17, 1.0)[sex] * np.exp(rng.normal(0, 0.03)),
            "rate": 4.6 * np.exp(rng.normal(0, 0.1)), "range": 2.0 * np.exp(rng.normal(0, 0.2)),
            "tilt": rng.normal(0, 1.5), "breath": rng.normal(0, 3), "gain": rng.normal(0, 3),
            "expressive": np.exp(rng.normal(0, 0.25)),
            "jitter": 0.008 * np.exp(rng.normal(0, 0.2))}


def _utterance_labels(seed, session, index, label, parameters):
    """Duration, expressiveness, latent V/A/D and evaluators' integer scores of an utterance."""
    rng = np.random.default_rng([seed, _UTTERANCE, session, index])
    source = str(rng.choice(_CLASSES)) if label == "xxx" else label
    expressive = rng.uniform(0.25, 1.0)
    neutral, target = np.array(_EMOTIONS["neu"][:3]), np.array(_EMOTIONS[source][:3])
    latent = np.clip(neutral + expressive * (target - neutral) + rng.normal(0, 0.45, 3), 1, 5)
    scores = np.clip(np.rint(latent + rng.normal(0, 0.6, (rng.integers(2, 4), 3))), 1, 5)
    shortest, longest = parameters["min_seconds"], parameters["max_seconds"]
    seconds = shortest + rng.beta(1.2, 1.6) * (longest - shortest)  # mostly short, as IEMOCAP
    return {"source": source, "expressive": expressive, "latent": latent, "rng": rng,
            "scores": scores.astype(int), "samples": round(seconds * parameters["sample_rate"])}


def _syllable_plan(rng, num_samples, sample_rate, rate, pause_factor):
    """Returns (starts, lengths, voiced) of syllables and pauses filling `num_samples`."""
    lead, end = int(rng.uniform(0.05, 0.3) * sample_rate), num_samples - int(0.1 * sample_rate)
    starts, lengths, voiced, time = [0], [lead], [0], lead
    while time < end:
        for _ in range(rng.integers(2, 9)):
            length = int(np.clip(rng.lognormal(0, 0.25) / rate, 0.09, 0.45) * sample_rate)
            starts.append(time), lengths.append(min(length, max(end - time, 1))), voiced.append(1)
            time += length
            if time >= end:
                break
        pause = int(max(0.08, rng.exponential(0.25 * pause_factor)) * sample_rate)
        starts.append(time), lengths.append(pause), voiced.append(0)
        time += pause
    return np.array(starts), np.array(lengths), np.array(voiced)


def _overlap_add_filter(source, gains, window_length, hop, fft_length):
    """Filters `source` with a time-varying gain [frames, bins] by windowed overlap-add."""
    padded = np.concatenate([np.zeros(window_length), source,
                             np.zeros(window_length + fft_length)])
    frames = np.lib.stride_tricks.sliding_window_view(padded, window_length)[::hop][:len(gains)]
    window = np.hanning(window_length + 1)[:-1]
    filtered = np.fft.irfft(np.fft.rfft(frames * window, fft_length) * gains, fft_length)
    chunks = np.zeros((len(gains) + fft_length // hop, hop))
    pieces = filtered.reshape(len(gains), fft_length // hop, hop)
    for offset in range(fft_length // hop):
        chunks[offset:offset + len(gains)] += pieces[:, offset]
    output = chunks.reshape(-1) * hop / window.sum()
    return output[window_length:window_length + len(source)]


def _resonances(frequency, formants, half_bandwidths):
    """Magnitude of second-order resonances at `frequency`, multiplied over the last axis."""
    squared = (formants ** 2 + half_bandwidths ** 2) ** 2 / (
        ((frequency - formants) ** 2 + half_bandwidths ** 2)
        * ((frequency + formants) ** 2 + half_bandwidths ** 2))
    return np.sqrt(np.prod(squared, axis=-1))


def _vocal_tract(starts, lengths, num_frames, hop, speaker, tilt, breath, valence, rng, rate):
    """Gain [frames, bins] of five formant resonances (vowel targets per syllable) and tilt."""
    vowels = _VOWELS[rng.integers(0, len(_VOWELS), len(starts))] * speaker["tract"]
    vowels *= 1 + 0.015 * valence + rng.normal(0, 0.04, (len(starts), 1))  # smiling: shorter tract
    frame_centers = np.arange(num_frames) * hop - hop
    formants = np.stack([np.interp(frame_centers, starts + lengths / 2, vowels[:, k])
                         for k in range(3)], axis=1).astype(np.float32)
    half = np.array([40.0, 50.0, 75.0, 100.0, 125.0]) * (1 + 0.02 * max(breath + 24, 0))
    frequency = np.fft.rfftfreq(4 * hop, 1 / rate)
    fixed = (_resonances(frequency[:, None], np.array([3500.0, 4500.0]) * speaker["tract"],
                         half[3:]) * (1 + (frequency / 200) ** 2) ** (tilt / 12.04)  # dB/octave
             / (1 + (frequency / (0.45 * rate)) ** 8))
    moving = _resonances(frequency[:, None].astype(np.float32), formants[:, None],
                         half[:3].astype(np.float32))
    return moving * fixed.astype(np.float32)


def _synthesize(utterance, speaker, channel, sample_rate):
    """Renders one utterance (see the module docstring) as float64 samples with peak < 0.9."""
    rng, num_samples = utterance["rng"], utterance["samples"]
    strength = utterance["expressive"] * speaker["expressive"]
    pitch, spread, level, rate, tilt, breath, pause = (
        strength * np.array(_EMOTIONS[utterance["source"]][3:])
        + (1 - strength) * np.array(_EMOTIONS["neu"][3:]))
    valence, arousal, dominance = utterance["latent"] - np.array(_EMOTIONS["neu"][:3])
    pitch += 1.2 * arousal + 0.4 * valence - 0.4 * dominance + rng.normal(0, 1.2)
    spread *= speaker["range"] * np.exp(0.2 * arousal + rng.normal(0, 0.25))
    level += 2.5 * arousal + 1.0 * dominance + rng.normal(0, 2)
    rate *= speaker["rate"] * np.exp(0.06 * arousal + rng.normal(0, 0.1))
    tilt += -6.0 + 1.5 * arousal + speaker["tilt"] + channel["tilt"] + rng.normal(0, 1)
    breath += -24.0 - 2.0 * arousal + speaker["breath"] + rng.normal(0, 3)
    starts, lengths, voiced = _syllable_plan(rng, num_samples, sample_rate, rate, pause)
    time = np.arange(num_samples)
    owner = np.minimum(np.searchsorted(starts, time, side="right") - 1, len(starts) - 1)
    position = np.clip((time - starts[owner]) / lengths[owner], 0, 1)
    accents = rng.normal(0, 1, len(starts))  # stressed syllables: louder and higher
    envelope = np.sin(np.pi * position) ** 0.7 * (np.exp(0.3 * accents) * voiced)[owner]
    contour = 0.6 * np.interp(time, starts + lengths / 2, accents) + np.interp(
        time, np.linspace(0, num_samples, 12), rng.normal(0, 0.5, 12))
    phrase_start = np.maximum.accumulate(np.where(voiced[owner] == 0, time, 0))
    decline = -(1.5 - 0.5 * valence) * (time - phrase_start) / sample_rate  # resets at pauses
    f0 = np.clip(speaker["f0"] * 2 ** ((pitch + spread * contour + decline) / 12), 60, 500)
    phase = np.cumsum(f0) / sample_rate
    pulses = np.flatnonzero(np.diff(np.floor(phase))) + 1
    pulses = pulses[envelope[pulses] > 0]
    jitter = rng.normal(0, speaker["jitter"] * (1 + 0.5 * arousal), len(pulses))
    pulses = np.clip(pulses + np.rint(jitter * sample_rate / f0[pulses]).astype(int), 0,
                     num_samples - 1)
    excitation = np.bincount(pulses, envelope[pulses] * rng.lognormal(0, 0.08, len(pulses)),
                             minlength=num_samples)
    excitation += (rng.normal(0, 1, num_samples) * envelope * np.sqrt(f0 / sample_rate)
                   * 10 ** (breath / 20) * (0.6 + 0.4 * np.cos(2 * np.pi * phase)))  # aspiration
    hop = 256 * sample_rate // 16000
    gains = _vocal_tract(starts, lengths, (num_samples + 2 * hop) // hop + 1, hop, speaker, tilt,
                         breath, valence, rng, sample_rate)
    speech = _overlap_add_filter(excitation, gains, 2 * hop, hop, 4 * hop)
    bursts = np.exp(-(time - starts[owner]) / (0.02 * sample_rate)) * voiced[owner]
    speech += (np.diff(rng.normal(0, 1, num_samples + 1)) * bursts  # fricative onsets
               * rng.uniform(0.05, 0.3) * np.sqrt(np.mean(speech ** 2)))
    active = envelope > 0.1
    speech *= 10 ** ((-32 + level + speaker["gain"] + rng.normal(0, 3)) / 20) / np.sqrt(
        np.mean(speech[active] ** 2) + 1e-12)
    fast_length = scipy.fft.next_fast_len(num_samples, real=True)  # shaped in one long FFT
    spectrum = np.fft.rfft(rng.normal(0, 1, fast_length)) / np.maximum(
        np.fft.rfftfreq(fast_length, 1 / sample_rate), 50) ** (channel["color"] / 2)
    noise = np.fft.irfft(spectrum, fast_length)[:num_samples]
    noise = noise / np.std(noise) + channel["hum"] * np.sin(2 * np.pi * 60 * time / sample_rate)
    snr = np.clip(rng.uniform(12, 28) + 0.7 * level, 8, 35)  # louder speech, higher SNR
    waveform = speech + noise * np.sqrt(np.mean(speech[active] ** 2) / 10 ** (snr / 10)
                                        / np.mean(noise ** 2))
    return waveform * min(1.0, 0.89 / np.max(np.abs(waveform)))


def _session_channel(seed, session):
    """Microphone tilt (dB/octave), background noise colour (spectral exponent) and hum level."""
    rng = np.random.default_rng([seed, _SESSION, session, 0])
    return {"tilt": rng.normal(0, 1.5), "color": rng.uniform(0, 1.5),
            "hum": rng.uniform(0.5, 2.0) * (rng.random() < 0.4)}


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
    rng = np.random.default_rng([seed, _PLAN, session, 0])
    num_dialogs = min(4, max(2, per_speaker // 12))
    groups = [[[] for _ in range(num_dialogs)] for _ in range(2)]
    for sex in range(2):  # one of each class, the rest drawn with IEMOCAP's imbalance
        labels = list(_CLASSES) + list(rng.choice(_CLASSES, per_speaker - 4, p=_CLASS_SHARE))
        for dialog, part in enumerate(np.array_split(rng.permutation(labels), num_dialogs)):
            groups[sex][dialog].extend(part)
    for label in ("xxx", "fru", "exc"):
        groups[rng.integers(2)][rng.integers(num_dialogs)].append(label)
    dialogs = []
    for dialog in range(num_dialogs):  # the marker letter alternates; Session 3 has a lettered one
        suffix = "a" if session == 3 and dialog == num_dialogs - 1 else ""
        name = f"Ses0{session}{'FM'[(session + dialog) % 2]}_impro{dialog + 1:02d}{suffix}"
        dialogs.append((name, _interleave(rng, name, groups[0][dialog], groups[1][dialog])))
    scripted, name = rng.choice(_CLASSES, 4, p=_CLASS_SHARE), f"Ses0{session}F_script01_1"
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
    speakers = [_speaker_profile(seed, session, sex) for sex in range(2)]
    label_dir = os.path.join(root, f"Session{session}", "dialog", "EmoEvaluation")
    os.makedirs(os.path.join(label_dir, "Categorical"), exist_ok=True)
    written, index = [], 0
    plan = _session_plan(seed, session, parameters["utterances_per_speaker"])
    for dialog_number, (dialog, turns) in enumerate(plan):
        wav_dir = os.path.join(root, f"Session{session}", "sentences", "wav", dialog)
        os.makedirs(wav_dir, exist_ok=True)
        rng = np.random.default_rng([seed, _PLAN, session, 1 + dialog_number])
        lines, clock, categorical = [_HEADER, ""], rng.uniform(2, 8), []
        for utterance_id, label in turns:
            utterance = _utterance_labels(seed, session, index, label, parameters)
            waveform = _synthesize(utterance, speakers["FM".index(utterance_id[-4])],
                                   _session_channel(seed, session), sample_rate)
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
                   class_names=_CLASSES, merge_excited: bool = False):
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
