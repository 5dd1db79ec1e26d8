"""The baseline of `prepare_speedup`: the same features with librosa, in one plain Python loop.

Same segmenting, Hamming window, hop, DFT, log power, normalisation and padding as
`features.waveform_features`, then the same records, one utterance after another in one
process: what a user would write without TensorFlow. librosa is optional (`pip install -e
'.[bench]'`); callers pass the imported module.
"""

import os

import numpy as np
import tensorflow as tf

from mmtl_tf import tfrecords


def librosa_features(waveform: np.ndarray, feature_config, librosa_module) -> list:
    """The spectrogram segments of one utterance with librosa (figure 4's baseline path).

    Same segmenting, Hamming window, hop, DFT, log power, normalisation and padding as
    `features.waveform_features`: the waveform is padded by (fft_length - window)/2 on each side
    so librosa's window, centred in its DFT frame, covers the same samples as TensorFlow's.

    Args:
      waveform: float32 [samples] at `feature_config.sample_rate`.
      feature_config: the analysis parameters.
      librosa_module: the imported librosa.

    Returns:
      list of (spectrogram float32 [max_frames, num_bins], num_frames), one per segment.
    """
    cfg = feature_config
    count = max(1, -(-len(waveform) // cfg.segment_samples))
    margin = (cfg.fft_length - cfg.window_samples) // 2
    outputs = []
    for index in range(count):
        segment = waveform[index * len(waveform) // count:(index + 1) * len(waveform) // count]
        num_frames = cfg.frames_for(len(segment))
        padded = np.pad(segment, (margin, cfg.fft_length - cfg.window_samples - margin))
        spectrum = librosa_module.stft(padded, n_fft=cfg.fft_length, hop_length=cfg.hop_samples,
                                       win_length=cfg.window_samples, window="hamming",
                                       center=False)[:cfg.num_bins, :num_frames]
        log_power = np.log(np.abs(spectrum) ** 2 + cfg.log_floor).T
        mean = log_power.mean()
        normalised = (log_power - mean) / (np.sqrt(np.mean((log_power - mean) ** 2)) + 1e-5)
        spectrogram = np.zeros((cfg.max_frames, cfg.num_bins), np.float32)
        spectrogram[:num_frames] = normalised
        outputs.append((spectrogram, num_frames))
    return outputs


def librosa_prepare(listing, feature_config, output_dir: str, librosa_module,
                    segments_per_shard: int = 2000) -> int:
    """Writes every speaker's segment TFRecords with librosa features, in one plain loop.

    Args:
      listing: the corpus (wavs are read with `librosa.load`).
      feature_config: the analysis parameters.
      output_dir: where the shards go.
      librosa_module: the imported librosa.
      segments_per_shard: as for `preparation.prepare_corpus`.

    Returns:
      Segments written.
    """
    os.makedirs(output_dir, exist_ok=True)
    by_speaker = {}
    for utterance in listing.utterances:
        by_speaker.setdefault(utterance.speaker, []).append(utterance)
    written = 0
    for speaker in sorted(by_speaker):
        segments = []
        for utterance in by_speaker[speaker]:
            waveform, _ = librosa_module.load(utterance.path, sr=feature_config.sample_rate,
                                              mono=True)
            for index, (spectrogram, frames) in enumerate(
                    librosa_features(waveform, feature_config, librosa_module)):
                segments.append(tfrecords.serialize_segment(utterance, index, spectrogram, frames))
        count = max(1, -(-len(segments) // segments_per_shard))
        for shard in range(count):
            path = os.path.join(output_dir, tfrecords.shard_name(speaker, shard, count))
            with tf.io.TFRecordWriter(path) as writer:
                for record in segments[shard * segments_per_shard:(shard + 1) * segments_per_shard]:
                    writer.write(record)
        written += len(segments)
    return written


