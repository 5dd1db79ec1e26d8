"""The seeded signal model of the synthetic corpus: speaker voices, utterance labels, waveforms.

`synthetic` writes the corpus in IEMOCAP's release layout and calls this module for each
utterance: `speaker_profile` and `session_channel` draw a speaker's voice and a session's
microphone, `utterance_labels` draws an utterance's latent V/A/D, evaluator scores and duration,
and `synthesize` renders its waveform. The sounds are not speech, but they are built like
speech, so emotion is learnable from them without being trivial:

1. Latent valence/arousal/dominance are drawn around the emotion's means, shrunk toward neutral
   by a random expressiveness; 2-3 evaluators score them as integers.
2. A syllable plan (150-300 ms syllables in phrases, pauses) gives a raised-sine envelope and
   vowel formant targets, scaled by the speaker's vocal-tract length.
3. An F0 contour (the speaker's base F0; emotion and arousal set level and range; accents,
   declination, jitter) drives a glottal pulse train plus aspiration noise (breathiness).
4. The source is filtered by overlap-add through five formant resonances and a spectral tilt
   (brighter when aroused or angry, coloured by the session's microphone).
5. Fricative onsets, coloured background noise at a random SNR (8-35 dB) and a random recording
   gain are added; the peak stays below 0.9.

Every random draw comes from `np.random.default_rng([seed, stream, session, index])`, so a
waveform depends only on its seed and place, never on the order of generation.
"""

import numpy as np
import scipy.fft

CLASSES = ("neu", "hap", "sad", "ang")
# Random streams (the first number after the seed); the layout's own draws use PLAN_STREAM.
PLAN_STREAM, _SPEAKER, _SESSION, _UTTERANCE = 1, 2, 3, 4
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
_VOWELS = np.array([[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240],  # a i u
                    [530, 1840, 2480], [570, 840, 2410], [660, 1720, 2410]])  # e o ae


def speaker_profile(seed, session, sex):
    """Voice of speaker `sex` (0 F, 1 M): base F0, tract scale, rate, tilt, breath, gain."""
    rng = np.random.default_rng([seed, _SPEAKER, session, sex])
    return {"f0": (205.0, 115.0)[sex] * np.exp(rng.normal(0, 0.09)),
            "tract": (1.17, 1.0)[sex] * np.exp(rng.normal(0, 0.03)),
            "rate": 4.6 * np.exp(rng.normal(0, 0.1)), "range": 2.0 * np.exp(rng.normal(0, 0.2)),
            "tilt": rng.normal(0, 1.5), "breath": rng.normal(0, 3), "gain": rng.normal(0, 3),
            "expressive": np.exp(rng.normal(0, 0.25)),
            "jitter": 0.008 * np.exp(rng.normal(0, 0.2))}


def utterance_labels(seed, session, index, label, parameters):
    """Duration, expressiveness, latent V/A/D and evaluators' integer scores of an utterance."""
    rng = np.random.default_rng([seed, _UTTERANCE, session, index])
    source = str(rng.choice(CLASSES)) if label == "xxx" else label
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


def synthesize(utterance, speaker, channel, sample_rate):
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


def session_channel(seed, session):
    """Microphone tilt (dB/octave), background noise colour (spectral exponent) and hum level."""
    rng = np.random.default_rng([seed, _SESSION, session, 0])
    return {"tilt": rng.normal(0, 1.5), "color": rng.uniform(0, 1.5),
            "hum": rng.uniform(0.5, 2.0) * (rng.random() < 0.4)}
