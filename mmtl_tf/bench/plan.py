"""What a benchmark run measures: the figures and their targets, the sizes, and judging a record."""

import dataclasses

import numpy as np

from mmtl_tf import config as config_lib

NUM_CLASSES = 4
CLASS_NAMES = ("neu", "hap", "sad", "ang")

# Figure name -> (comparison, threshold, what the value is), in the order they are reported.
TARGETS = {
    "step_overhead": ("<=", 1.15, "outer step / 2m plain fwd+bwd passes"),
    "step_overhead_xla": ("<=", 1.15, "the same, both with jit_compile=True"),
    "vs_reference_schedule": (">=", 2.0, "authors' schedule (eager Keras) / our outer step"),
    "input_headroom": (">=", 5.0, "pipeline segments/s / step segments/s"),
    "prepare_speedup": (">=", 1.8, "prepare_corpus audio s/s / librosa loop audio s/s"),
    "prepare_speedup_one_core": (">=", 0.9, "the same, every thread on one core"),
    "serving_rtf": ("<=", 0.01, "serving s per audio s, worst of batch 1 and 32"),
    "replica_ratio": ("<=", 1.0, "MirroredStrategy 2 CPU devices / 1 device step time"),
    "scaling": ("<=", 1.5, "max/min step s per segment over m=2,4,8 x B=8,16,32"),
    "rss_growth": ("<=", 0.01, "peak RSS growth of the training loop, step 25 -> 200"),
    "scale_prepare": ("<=", 1.1, "max/min prepare s per audio s over corpus sizes"),
    "scale_step": ("<=", 1.1, "max/min outer-step s (m=8) over corpus sizes"),
    "scale_pipeline_memory": ("<=", 512.0, "input pipeline resident MB, largest corpus"),
    "scale_open_files": ("<=", 64.0, "files the input pipeline holds open, largest corpus"),
    "scale_epoch_start": ("<=", 5.0, "s to an epoch's first episode, largest corpus"),
}
FIGURES = tuple(TARGETS)


@dataclasses.dataclass(frozen=True)
class BenchPlan:
    """Sizes of one benchmark run.

    Attributes:
      preset: the preset whose flagfile gave `model_config` and `segments_per_speaker`.
      model_config: the meta learner's sizes.
      segments_per_speaker: B of the step figures, the pipeline and the replicas.
      small_model_config, small_segments_per_speaker: the demo preset's model and B, for the
        long-run memory figure and the corpus-size figures (many steps).
      features, small_features: the FeatureConfigs of those two presets (data figures prepare
        and read these; the step figures feed random tensors of the model's shape).
      speakers: m of the step figures and the replicas.
      rounds: timed rounds of each alternated comparison.
      with_xla: also time the step with jit_compile=True.
      xla_segments_per_speaker, xla_rounds: B and rounds of the XLA comparison (small: XLA:CPU
        runs the convolutions inside the speaker loop far slower).
      profiles: profile a figure that misses its target.
      overlap_replicas: run the replica subprocess alongside the others (quick, meaningless).
      scaling_speakers, scaling_segments: the m x B grid of `scaling`.
      scaling_rounds: timed rounds per grid point.
      prepare_rounds: timed rounds of `prepare_speedup`.
      memory_steps: outer steps after which peak RSS is read; the last is the run's length.
      corpus_utterances, corpus_max_seconds: the synthetic corpus (utterances per speaker,
        longest utterance) of `input_headroom` and `prepare_speedup`.
      pipeline_epochs: timed epochs of `input_headroom`.
      serving_batch_sizes, serving_seconds: `serving_rtf`.
      scale_speakers: corpus sizes (speakers) of the corpus-size figures.
      scale_utterances: utterances prepared at every corpus size (the same audio, spread over
        the speakers).
      scale_steps: timed epochs (two outer steps each) per corpus size, the sizes taking turns
        (25: where a step takes ~0.3 s, single steps of one size spread from 0.22 to 0.38 s,
        and medians of 7 differed by up to 18% between sizes with no cost behind it; BUILD.md
        "Cost as corpora grow").
      scale_prepare_rounds: timed preparations of every corpus size, the sizes taking turns
        (11: one round of a size varies by about 10% on a quiet 2-core machine, as much as
        the figure's aim; the medians of 11 agree within 2-3%).
      scale_segments_per_speaker: B of the corpus-size figures (small: the episode pipeline
        may hold every speaker's batch at once, 1,000 of them).
    """

    preset: str
    model_config: config_lib.ModelConfig
    segments_per_speaker: int
    small_model_config: config_lib.ModelConfig
    small_segments_per_speaker: int
    features: config_lib.FeatureConfig
    small_features: config_lib.FeatureConfig
    speakers: int = 2
    rounds: int = 3
    with_xla: bool = True
    xla_segments_per_speaker: int = 4
    xla_rounds: int = 2
    profiles: bool = True
    overlap_replicas: bool = False
    scaling_speakers: tuple = (2, 4, 8)
    scaling_segments: tuple = (8, 16, 32)
    scaling_rounds: int = 2
    prepare_rounds: int = 5
    memory_steps: tuple = (25, 100, 200)
    corpus_utterances: int = 48
    corpus_max_seconds: float = 10.0
    pipeline_epochs: int = 4
    serving_batch_sizes: tuple = (1, 32)
    serving_seconds: float = 3.0
    scale_speakers: tuple = (10, 100, 1000)
    scale_utterances: int = 1000
    scale_steps: int = 25
    scale_prepare_rounds: int = 11
    scale_segments_per_speaker: int = 4

    @property
    def feature_config(self) -> config_lib.FeatureConfig:
        """The features the data figures compute: the preset's own."""
        return self.features


def make_plan(preset: str, model_config, segments_per_speaker: int, small_model_config,
              small_segments_per_speaker: int, features, small_features, quick: bool = False,
              speakers: int = None, rounds: int = None, with_xla: bool = True,
              scale_speakers=None) -> BenchPlan:
    """The sizes of a full run, or of a `--quick` one (for CI: its numbers mean nothing).

    --quick: the small model is the preset's own, one round, no XLA and no profiles, memory
    read after steps 2, 5 and 10, a scaling grid of m=2,4 x B=2,4, 1 s serving clips, a corpus
    of 4 utterances (<= 4 s) per speaker, corpus sizes of 2 and 4 speakers, and the replica
    subprocess alongside the others.

    Args:
      preset: the preset name (recorded).
      model_config, segments_per_speaker: the preset's model and B.
      small_model_config, small_segments_per_speaker: the demo preset's.
      features, small_features: the two presets' FeatureConfigs.
      quick: a CI-sized run.
      speakers: m of the step figures (default 2).
      rounds: timed rounds (default 3, 1 with `quick`).
      with_xla: time the XLA step.
      scale_speakers: corpus sizes of the corpus-size figures (default 10, 100, 1000).
    """
    sizes = {"preset": preset, "model_config": model_config,
             "segments_per_speaker": segments_per_speaker,
             "small_model_config": small_model_config,
             "small_segments_per_speaker": small_segments_per_speaker,
             "features": features, "small_features": small_features,
             "speakers": speakers or 2, "with_xla": with_xla}
    if quick:
        sizes.update(small_model_config=model_config, small_features=features,
                     small_segments_per_speaker=segments_per_speaker, rounds=1, with_xla=False,
                     profiles=False, overlap_replicas=True, scaling_speakers=(2, 4),
                     scaling_segments=(2, 4), scaling_rounds=1, prepare_rounds=1,
                     memory_steps=(2, 5, 10), corpus_utterances=4, corpus_max_seconds=4.0,
                     pipeline_epochs=2, serving_seconds=1.0, scale_speakers=(2, 4),
                     scale_utterances=8,
                     scale_steps=1, scale_prepare_rounds=1)
    if rounds:
        sizes["rounds"] = rounds
    if scale_speakers:
        sizes["scale_speakers"] = tuple(scale_speakers)
    return BenchPlan(**sizes)


def unavailable(reason: str) -> dict:
    """The record of a figure that cannot be measured here (a missing optional package)."""
    return {"value": None, "unavailable": reason}


def skipped(reason: str) -> dict:
    """The record of a figure the plan leaves out (--quick, --noxla)."""
    return {"value": None, "skipped": reason}


def judge(name: str, record: dict) -> dict:
    """Adds the target and whether the figure meets it (None when it has no value)."""
    comparison, threshold, meaning = TARGETS[name]
    value = record.get("value")
    met = None
    if isinstance(value, (int, float)) and np.isfinite(value):
        met = bool(value <= threshold) if comparison == "<=" else bool(value >= threshold)
    return {"value": value, "target": f"{comparison} {threshold:g}", "met": met,
            "meaning": meaning, **{k: v for k, v in record.items() if k != "value"}}


def format_table(figures: dict) -> str:
    """The readable table of judged records: figure, value, target, met / NOT met / why none."""
    rows = [("figure", "value", "target", "status")]
    for name, record in figures.items():
        value = record.get("value")
        if value is None:
            reason = next(f"{key}: {record[key]}" for key in ("failed", "unavailable", "skipped")
                          if key in record)
            status, shown = reason, "-"
        else:
            status, shown = ("met" if record["met"] else "NOT met"), f"{value:.4g}"
        rows.append((name, shown, record["target"], status))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return "\n".join(f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}"
                     for row in rows)
