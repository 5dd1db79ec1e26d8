"""One tiny trained run and its export, shared by tests/test_export.py, tests/test_predict.py,
tests/test_evaluation.py, tests/test_bench.py and tests/test_ablation.py.

Built once per test session: a seeded synthetic corpus of 4 utterances per speaker (at most 4 s),
prepared with the smoke preset's features, then one epoch of MMTL on a model with 4-filter
convolutions, 8 LSTM units and 8 FC units, then one export. About 30 s on two CPU cores. The
pytest-xdist workers share it through the folder conftest.py names in SHARED_DIR_VARIABLE: the
first worker to need it builds it under a file lock and marks it done; the others wait for the
lock and reuse it (without that variable, as when this module is imported outside pytest, the
run lives in a temporary folder of this process, removed at exit). Tests only read the run and
its export; they export again only into folders of their own.
"""

import atexit
import contextlib
import fcntl
import os
import shutil
import tempfile

import numpy as np

from conftest import SHARED_DIR_VARIABLE, smoke_features
from mmtl_tf import config as config_lib

FEATURE_CONFIG = smoke_features()
MODEL_CONFIG = config_lib.ModelConfig(conv_filters=(4, 4, 4), conv_kernels=((5, 5), (3, 3), (3, 3)),
                                      lstm_units=8, fc_units=8,
                                      num_frames=FEATURE_CONFIG.max_frames,
                                      num_bins=FEATURE_CONFIG.num_bins)
FLAGS_TEXT = "--fold=2\n--aux=vad\n--preset=test\n"
_CACHE = {}


def _root() -> str:
    if "root" not in _CACHE:
        shared = os.environ.get(SHARED_DIR_VARIABLE)
        if shared:
            _CACHE["root"] = os.path.join(shared, "trained_run")
            os.makedirs(_CACHE["root"], exist_ok=True)
        else:
            _CACHE["root"] = tempfile.mkdtemp(prefix="mmtl_trained_run_")
            atexit.register(shutil.rmtree, _CACHE["root"], True)
    return _CACHE["root"]


@contextlib.contextmanager
def _locked():
    """Holds the run's file lock: one process builds, the others wait and then reuse."""
    with open(os.path.join(_root(), "lock"), "w", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_run(root: str) -> str:
    from mmtl_tf import preparation, training  # pylint: disable=import-outside-toplevel
    from mmtl_tf.corpora import synthetic  # pylint: disable=import-outside-toplevel

    listing = synthetic.read_synthetic(os.path.join(root, "corpus"), utterances_per_speaker=4,
                                       max_seconds=4.0)
    tfrecord_dir = os.path.join(root, "tfrecords")
    preparation.prepare_corpus(listing, FEATURE_CONFIG, tfrecord_dir, show_progress=False)
    experiment = config_lib.ExperimentConfig(
        features=FEATURE_CONFIG, model=MODEL_CONFIG,
        train=config_lib.TrainConfig(epochs=1, segments_per_speaker=4, test_adapt_steps=1),
        tfrecord_dir=tfrecord_dir, run_dir=os.path.join(root, "run"), export=False)
    training.train_and_evaluate(experiment)
    with open(os.path.join(experiment.run_dir, "flags.txt"), "w", encoding="utf-8") as handle:
        handle.write(FLAGS_TEXT)  # as the CLI writes it
    return experiment.run_dir


def run_dir() -> str:
    """A finished run directory (config.json, checkpoints, results.json, a flags.txt)."""
    if "run_dir" not in _CACHE:
        root = _root()
        done = os.path.join(root, "run.done")
        with _locked():
            if not os.path.exists(done):
                shutil.rmtree(os.path.join(root, "run"), ignore_errors=True)  # a killed build's
                shutil.rmtree(os.path.join(root, "tfrecords"), ignore_errors=True)
                _build_run(root)
                with open(done, "w", encoding="utf-8"):
                    pass
        _CACHE["run_dir"] = os.path.join(root, "run")
    return _CACHE["run_dir"]


def version_dir() -> str:
    """The run exported once into run_dir/export/1."""
    if "version_dir" not in _CACHE:
        from mmtl_tf import export  # pylint: disable=import-outside-toplevel

        trained = run_dir()
        exported = os.path.join(trained, "export", "1")
        with _locked():
            if not os.path.exists(os.path.join(exported, "saved_model.pb")):
                assert export.export_run(trained) == exported
        _CACHE["version_dir"] = exported
    return _CACHE["version_dir"]


def noisy_tone(seconds: float, sample_rate: int, seed: int, channels: int = 1) -> np.ndarray:
    """A seeded noisy harmonic tone, float32 [samples] or [samples, channels]."""
    rng = np.random.default_rng(seed)
    time = np.arange(int(round(seconds * sample_rate))) / sample_rate
    envelope = 1 + 0.5 * np.sin(2 * np.pi * 3 * time)
    tone = 0.3 * np.sin(2 * np.pi * (140 + 30 * seed) * time) * envelope
    columns = [tone + 0.05 * rng.standard_normal(time.shape) for _ in range(channels)]
    samples = np.stack(columns, axis=1) if channels > 1 else columns[0]
    return samples.astype(np.float32)


def two_utterances(sample_rate: int = None) -> list:
    """Two noisy tones: 4.5 s (two segments of <= 3 s) and 1.7 s (one segment)."""
    rate = sample_rate or FEATURE_CONFIG.sample_rate
    return [noisy_tone(4.5, rate, seed=1), noisy_tone(1.7, rate, seed=2)]


def padded(waveforms):
    """(batch float32 [n, longest] zero padded, lengths int32 [n]): a serving request."""
    lengths = np.array([len(waveform) for waveform in waveforms], np.int32)
    batch = np.zeros((len(waveforms), lengths.max()), np.float32)
    for row, waveform in enumerate(waveforms):
        batch[row, :len(waveform)] = waveform
    return batch, lengths


def save_request(folder) -> None:
    """Writes `two_utterances` as a serving request for child processes: folder/waveform.npy
    and folder/num_samples.npy (`padded`)."""
    batch, lengths = padded(two_utterances())
    np.save(os.path.join(folder, "waveform.npy"), batch)
    np.save(os.path.join(folder, "num_samples.npy"), lengths)


def trained_algorithm():
    """The run's algorithm restored by `trained_model.load_trained` (the library's view)."""
    if "algorithm" not in _CACHE:
        from mmtl_tf import trained_model  # pylint: disable=import-outside-toplevel

        trained = run_dir()
        _CACHE["algorithm"], _ = trained_model.load_trained(trained)
    return _CACHE["algorithm"]


def reference_probabilities(waveforms) -> np.ndarray:
    """Utterance posteriors computed with the library, not the export.

    `trained_model.load_trained`, `features.waveform_features`, `algorithm.emotion_logits`, a softmax
    per segment, and the mean over each utterance's segments (in numpy).

    Args:
      waveforms: list of float32 [samples] arrays at 16 kHz.

    Returns:
      float32 [len(waveforms), classes].
    """
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from mmtl_tf import features  # pylint: disable=import-outside-toplevel

    algorithm = trained_algorithm()
    lengths = np.array([len(waveform) for waveform in waveforms], np.int32)
    batch = np.zeros((len(waveforms), lengths.max()), np.float32)
    for row, waveform in enumerate(waveforms):
        batch[row, :len(waveform)] = waveform
    segments = features.waveform_features(tf.constant(batch), tf.constant(lengths), FEATURE_CONFIG)
    logits = algorithm.emotion_logits(algorithm.meta_weights(), algorithm.head_weights(),
                                      segments["spectrogram"])
    segment_probabilities = tf.nn.softmax(logits).numpy()
    utterance_index = segments["utterance_index"].numpy()
    return np.stack([segment_probabilities[utterance_index == row].mean(axis=0)
                     for row in range(len(waveforms))])


def subprocess_environment() -> dict:
    """The environment for child processes: quiet TensorFlow logging."""
    environment = dict(os.environ)
    environment["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return environment


def run_in_parallel(commands: dict, cwd: str) -> dict:
    """Runs child processes at the same time (each spends seconds importing TensorFlow).

    Args:
      commands: dict name -> argv.
      cwd: working directory of every child.

    Returns:
      dict name -> subprocess.CompletedProcess with text stdout and stderr.
    """
    import subprocess  # pylint: disable=import-outside-toplevel

    started = {name: subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, cwd=cwd, env=subprocess_environment())
               for name, argv in commands.items()}
    finished = {}
    for name, process in started.items():
        stdout, stderr = process.communicate(timeout=600)
        finished[name] = subprocess.CompletedProcess(process.args, process.returncode, stdout,
                                                     stderr)
    return finished
