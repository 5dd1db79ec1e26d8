"""Frozen configuration records shared by the library.

Only the CLI modules read absl FLAGS; they turn them into these small frozen dataclasses and
pass them to library functions, so every library function is testable with plain arguments.
Each record validates itself once, in `__post_init__`, and raises `ValueError` naming the field.
"""

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """Spectrogram features of paper section 3.1.1.

    Attributes:
      sample_rate: Hz every waveform is converted to before analysis.
      segment_seconds: upper bound on a segment's duration; an utterance of duration T becomes
        ceil(T / segment_seconds) segments of equal length (within one sample).
      window_ms: Hamming window length. The paper's text says 200 ms, which cannot fit its DFT of
        800 samples at 16 kHz; the authors' code uses 40 ms (640 samples), the default here.
      hop_ms: frame shift ("frame size of 10 ms" in the paper).
      fft_length: DFT length (800 in the paper: 20 Hz bins at 16 kHz).
      num_bins: lowest DFT bins kept (200 bins = 0 to 4 kHz at 20 Hz per bin).
      max_frames: time frames after zero padding (N = 300 in the paper).
      log_floor: added to the power before the log, so silence gives a finite value.
    """

    sample_rate: int = 16000
    segment_seconds: float = 3.0
    window_ms: float = 40.0
    hop_ms: float = 10.0
    fft_length: int = 800
    num_bins: int = 200
    max_frames: int = 300
    log_floor: float = 1e-10

    def __post_init__(self):
        for name in ("sample_rate", "segment_seconds", "window_ms", "hop_ms", "fft_length",
                     "num_bins", "max_frames"):
            if not getattr(self, name) > 0:  # also refuses NaN
                raise ValueError(f"--{name}={getattr(self, name)} must be > 0")
        if self.window_samples > self.fft_length:
            raise ValueError(
                f"--window_ms={self.window_ms} gives {self.window_samples} samples, more than "
                f"--fft_length={self.fft_length}: raise --fft_length or lower --window_ms")
        if self.num_bins > self.fft_length // 2 + 1:
            raise ValueError(f"--num_bins={self.num_bins} exceeds the {self.fft_length // 2 + 1} "
                             f"bins of --fft_length={self.fft_length}: lower --num_bins or raise "
                             f"--fft_length")
        if self.hop_samples < 1:
            raise ValueError(f"--hop_ms={self.hop_ms} is shorter than one sample at "
                             f"--sample_rate={self.sample_rate}")
        if self.segment_samples < self.window_samples:
            raise ValueError(
                f"--segment_seconds={self.segment_seconds} gives {self.segment_samples} samples, "
                f"fewer than one --window_ms={self.window_ms} window ({self.window_samples} "
                f"samples): raise --segment_seconds")
        if self.frames_for(self.segment_samples) > self.max_frames:
            raise ValueError(
                f"--max_frames={self.max_frames} is fewer than the "
                f"{self.frames_for(self.segment_samples)} frames of a --segment_seconds="
                f"{self.segment_seconds} segment: raise --max_frames or lower --segment_seconds")

    @property
    def window_samples(self) -> int:
        """Window length in samples (640 by default)."""
        return int(round(self.window_ms * self.sample_rate / 1000.0))

    @property
    def hop_samples(self) -> int:
        """Frame shift in samples (160 by default)."""
        return int(round(self.hop_ms * self.sample_rate / 1000.0))

    @property
    def segment_samples(self) -> int:
        """Maximum segment length in samples (48000 by default)."""
        return int(math.floor(self.segment_seconds * self.sample_rate))

    def frames_for(self, num_samples: int) -> int:
        """Number of full analysis frames in `num_samples` samples (0 when shorter than a window)."""
        if num_samples < self.window_samples:
            return 0
        return 1 + (num_samples - self.window_samples) // self.hop_samples

    def to_dict(self) -> dict:
        """JSON-ready dict; the manifest stores it and readers compare it field by field."""
        return dataclasses.asdict(self)


def describe_mismatch(expected: dict, found: dict) -> list:
    """Lists the fields whose values differ between two config dicts, as readable strings.

    Args:
      expected: the config the caller asked for (e.g. from flags).
      found: the config stored with the data (e.g. in manifest.json).

    Returns:
      A list like ["window_ms: requested 40.0, stored 25.0"]; empty when they agree.
    """
    keys = sorted(set(expected) | set(found))
    return [f"{key}: requested {expected.get(key)!r}, stored {found.get(key)!r}"
            for key in keys if expected.get(key) != found.get(key)]


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Layer sizes of the meta learner (Table 1 in the `paper` preset).

    Attributes:
      conv_filters: filters of Conv_1..Conv_3 (16, 24, 32).
      conv_kernels: (time, frequency) kernel of each conv ((12, 16), (8, 12), (5, 7)).
      lstm_units: units per direction of the BiLSTM (128).
      fc_units: width of FC_1 (64).
      num_frames, num_bins: input spectrogram shape (from the feature config).
    """

    conv_filters: tuple = (16, 24, 32)
    conv_kernels: tuple = ((12, 16), (8, 12), (5, 7))
    lstm_units: int = 128
    fc_units: int = 64
    num_frames: int = 300
    num_bins: int = 200

    def __post_init__(self):
        if len(self.conv_filters) != len(self.conv_kernels) or not self.conv_filters:
            raise ValueError("--conv_filters and --conv_kernels must list the same number (>= 1) "
                             f"of layers, got {self.conv_filters} and {self.conv_kernels}")
        if (min(self.conv_filters) < 1 or min(min(k) for k in self.conv_kernels) < 1
                or self.lstm_units < 1 or self.fc_units < 1):
            raise ValueError("layer sizes and conv kernels must be positive")
        if self.num_frames >> len(self.conv_filters) < 1 or self.num_bins >> len(self.conv_filters) < 1:
            raise ValueError(f"{len(self.conv_filters)} conv layers halve the input "
                             f"{self.num_frames} x {self.num_bins} (--max_frames x --num_bins) "
                             f"to nothing: use fewer --conv_filters/--conv_kernels")


MODELS = ("mmtl", "mtl", "cnn_lstm")
OUTER_UPDATES = ("first_order", "reptile", "reference")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How a model is trained and evaluated (paper sections 2 and 3.1.3).

    Attributes:
      model: "mmtl", or a baseline of Table 2: "mtl" (CNN-LSTM+MTL), "cnn_lstm".
      aux_tasks: auxiliary tasks in V, A, D order, e.g. ("valence", "arousal").
      outer_update: "first_order" (Eq. 6-7 with first-order gradients), "reptile", "reference".
      meta_learning_rate: alpha of Eq. 4 (0.01).
      transfer_learning_rate: beta of Eq. 5 (0.01).
      outer_learning_rate: gamma of Eq. 6-7 and of meta-test fine-tuning (0.001); the
        baselines' Adam learning rate.
      reptile_inner_learning_rate: SGD step on L^Q_i taken from (theta'_i, phi'_i) by `reptile`.
      reptile_step_size: epsilon of Reptile's interpolation theta += epsilon * (mean - theta).
      segments_per_speaker: B, segments of each speaker in an episode.
      speakers_per_episode: m; 0 means every training speaker of the fold.
      epochs: passes over the largest training speaker; the length when `train_steps` is 0.
      train_steps: outer steps to train; 0 means `epochs` passes (`mmtl_tf.schedule`).
      eval_every: outer steps between validations; 0 means once per epoch.
      selection_smoothing: model selection keeps the checkpoint with the best mean validation
        UA over this many consecutive evaluations (1 = the raw UA).
      patience: stop after this many evaluations without a better smoothed score; 0 never.
      test_adapt_steps: meta-test fine-tuning steps on the target speaker's auxiliary tasks.
      test_adapt_optimizer: "sgd" (plain gradient steps, Eq. 4's inner step, which meta-training
        prepares theta for) or "adam".
      test_adapt_learning_rate: the meta-test step size; 0 means alpha for "sgd" (Eq. 4's step)
        and gamma for "adam".
      seed: seeds initialisation, episode sampling and adaptation batches.
      jit_compile: compile the step with XLA.
      parallel_speakers: MMTL speakers of an outer step whose passes may run at once (the
        speaker loop's `parallel_iterations`); 1 holds one speaker's activations at a time:
        a lower peak memory, and slower on CPUs for small models (none on the paper model;
        BUILD.md "Memory over a long run"). The results are the same.
      parallel_episode_reads: episodes the input pipeline reads at once, ahead of the two it
        keeps prefetched; 0 lets tf.data tune it during the run (the count then changes at
        moments set by timing, and with it the memory held between steps: BUILD.md "Memory
        over a long run"). The episodes are the same.
    """

    model: str = "mmtl"
    aux_tasks: tuple = ("valence", "arousal", "dominance")
    outer_update: str = "first_order"
    meta_learning_rate: float = 0.01
    transfer_learning_rate: float = 0.01
    outer_learning_rate: float = 0.001
    reptile_inner_learning_rate: float = 0.01
    reptile_step_size: float = 1.0
    segments_per_speaker: int = 32
    speakers_per_episode: int = 0
    epochs: int = 30
    train_steps: int = 0
    eval_every: int = 0
    selection_smoothing: int = 3
    patience: int = 0
    test_adapt_steps: int = 10
    test_adapt_optimizer: str = "sgd"
    test_adapt_learning_rate: float = 0.0
    seed: int = 0
    jit_compile: bool = False
    parallel_speakers: int = 10
    parallel_episode_reads: int = 1

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"--model={self.model!r}: choose one of {', '.join(MODELS)}")
        if self.outer_update not in OUTER_UPDATES:
            raise ValueError(f"--outer_update={self.outer_update!r}: choose one of "
                             f"{', '.join(OUTER_UPDATES)}")
        if not self.aux_tasks and self.model != "cnn_lstm":
            raise ValueError("--aux must name at least one of v, a, d")
        if self.test_adapt_optimizer not in ("sgd", "adam"):
            raise ValueError(f"--test_adapt_optimizer={self.test_adapt_optimizer!r}: sgd or adam")
        if self.parallel_speakers < 1:
            raise ValueError(f"--parallel_speakers={self.parallel_speakers}: must be >= 1")
        if self.parallel_episode_reads < 0:
            raise ValueError(f"--parallel_episode_reads={self.parallel_episode_reads}: must be "
                             f">= 0 (0: tuned by tf.data)")
        if self.segments_per_speaker < 1 or self.epochs < 0 or self.test_adapt_steps < 0:
            raise ValueError("--segments_per_speaker must be >= 1, --epochs and "
                             "--test_adapt_steps >= 0")
        if min(self.train_steps, self.eval_every, self.patience) < 0:
            raise ValueError("--train_steps, --eval_every and --patience must be >= 0")
        if self.train_steps == 0 and self.epochs == 0:
            raise ValueError("--train_steps=0 and --epochs=0 leave nothing to train")
        if self.selection_smoothing < 1:
            raise ValueError("--selection_smoothing must be >= 1")
        if self.test_adapt_learning_rate < 0:
            raise ValueError("--test_adapt_learning_rate must be >= 0 (0: alpha for sgd, gamma "
                             "for adam)")

    @property
    def adapt_learning_rate(self) -> float:
        """The meta-test step size: the flag, else alpha (sgd, as Eq. 4) or gamma (adam)."""
        if self.test_adapt_learning_rate:
            return self.test_adapt_learning_rate
        return self.meta_learning_rate if self.test_adapt_optimizer == "sgd" else self.outer_learning_rate


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """One training run: what to train, on which prepared data and fold, and where to write.

    Attributes:
      features, model, train: the configs above.
      tfrecord_dir: prepared shards and manifest.json.
      run_dir: output directory (checkpoints, TensorBoard, results.json); rerun resumes it.
      fold: 1-based held-out session.
      val_speaker: "F", "M" or a speaker id (see `folds.fold_split`).
      preset: name of the flag preset, recorded in results ("paper", "demo", "smoke", "custom").
      skip_nonfinite: skip an outer step whose loss or gradient is NaN/inf instead of stopping.
      export: write a SavedModel into run_dir/export after training.
      strategy: "default", "mirrored" or "multi_worker" (`mmtl_tf.distribution`).
      num_cpu_devices: logical CPU devices for "mirrored" on a machine without GPU.
    """

    features: FeatureConfig
    model: ModelConfig
    train: TrainConfig
    tfrecord_dir: str
    run_dir: str
    fold: int = 2
    val_speaker: str = "F"
    preset: str = "custom"
    skip_nonfinite: bool = False
    export: bool = True
    strategy: str = "default"
    num_cpu_devices: int = 0

    def to_dict(self) -> dict:
        """JSON-ready dict (tuples become lists)."""
        return json_ready(dataclasses.asdict(self))


def json_ready(value):
    """Converts tuples to lists recursively, so a config dict compares equal to its JSON copy."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value
