"""What an mmtl_tf export holds and how its directory is laid out (no TensorFlow).

    <export_dir>/                 the model base path TF Serving watches (default RUN/export)
      <version>/                  an integer; TF Serving loads the highest
        saved_model.pb, variables/
        assets/mmtl_metadata.json corpus, class names, sample rate, feature and experiment config
        assets/flags.txt          the CLI flags of the run, when it has them

`mmtl_tf.export` writes exports and `mmtl_tf.predict` reads them; both take the names, the
version lookup and the shortest clip the model can judge from here.
"""

import os
import re

METADATA_NAME = "mmtl_metadata.json"
FLAGS_NAME = "flags.txt"
SAVED_MODEL_NAME = "saved_model.pb"
# Signatures of an export: waveform in (the default), precomputed spectrogram segments in, and
# the constants a client needs (sample rate, class names, shortest clip judged).
SIGNATURES = {
    "serving_default": "waveform, num_samples -> probabilities, class_index, class_name",
    "spectrogram": "spectrogram -> probabilities",
    "metadata": "(no input) -> sample_rate_hz, class_names, corpus, segment_seconds, "
                "min_clip_seconds, feature_config_json",
}
# Segments per network call inside the signatures (and the padded samples `predict` sends at
# once): memory stays bounded whatever the audio's length.
CHUNK_SEGMENTS = 64
# A clip shorter than this fraction of a segment is reported as too short to judge.
MIN_CLIP_FRACTION_OF_SEGMENT = 1 / 3
_VERSION = re.compile(r"^[0-9]+$")


class ExportError(ValueError):
    """An export cannot be written or read; the message names the directory and what to do."""


def min_clip_seconds(feature_config) -> float:
    """The shortest clip whose prediction means something: a third of a segment (1 s by default).

    The network reads `max_frames` frames per segment (3 s at the defaults); a shorter segment
    is normalised over its own frames and zero padded. Below a third of a segment, padding
    fills most of what the network reads, so its posteriors approach what it gives an empty
    segment while still naming a class. Such clips are predicted, but marked as too short to
    judge.

    Args:
      feature_config: the model's `config.FeatureConfig`.
    """
    return feature_config.segment_seconds * MIN_CLIP_FRACTION_OF_SEGMENT


def existing_versions(export_dir: str, complete_only: bool = False) -> list:
    """Sorted integer versions that are directories of `export_dir` (empty when it is absent).

    Args:
      export_dir: the model base path.
      complete_only: count only versions holding a saved_model.pb (the ones a client can load).
    """
    if not os.path.isdir(export_dir):
        return []
    return sorted(int(name) for name in os.listdir(export_dir)
                  if _VERSION.match(name) and os.path.isdir(os.path.join(export_dir, name))
                  and (not complete_only
                       or os.path.isfile(os.path.join(export_dir, name, SAVED_MODEL_NAME))))


def resolve_version_dir(model_dir: str) -> str:
    """Resolves a --model_dir to a SavedModel directory.

    Args:
      model_dir: a version directory (holding saved_model.pb) or an export directory holding
        numbered version directories.

    Returns:
      `model_dir` itself, or its highest-numbered version that holds a saved_model.pb.

    Raises:
      ExportError: naming `model_dir`, when it is neither.
    """
    run = os.path.dirname(os.path.normpath(model_dir))
    if not os.path.isdir(model_dir) and os.path.isfile(os.path.join(run, "config.json")):
        # RUN/export of a run trained with --noexport (the smoke preset's default)
        raise ExportError(f"{model_dir}: not found: the run {run} has no export (trained with "
                          f"--export=false?); export it with `python -m mmtl_tf.export "
                          f"--run_dir={run}`")
    if not os.path.isdir(model_dir):
        raise ExportError(f"{model_dir}: model directory not found; pass an export directory "
                          f"(RUN/export) or one of its version directories")
    if os.path.isfile(os.path.join(model_dir, SAVED_MODEL_NAME)):
        return model_dir
    versions = existing_versions(model_dir, complete_only=True)
    if not versions:
        raise ExportError(f"{model_dir} is not an export: it holds no {SAVED_MODEL_NAME} and no "
                          f"numbered version directory; export a run with "
                          f"`python -m mmtl_tf.export --run_dir=RUN`")
    return os.path.join(model_dir, str(versions[-1]))
