"""One benchmark run: every figure of `plan.TARGETS` in a fixed order, judged, with profiles.

The long-run memory figure runs first, so the process's peak memory is the training loop's own.
A figure that misses its target gets a short profile (with `plan.profiles`); one that raises is
recorded as `failed` with its error, the others still run, and the command exits with status 1.
"""

import dataclasses
import os
import sys
import time
import traceback

import keras
import tensorflow as tf

from mmtl_tf import config as config_lib
from mmtl_tf import quiet_start
from mmtl_tf.bench import corpus_scale
from mmtl_tf.bench import data_figures
from mmtl_tf.bench import memory
from mmtl_tf.bench import outer_step as outer_step_lib
from mmtl_tf.bench import plan as plan_lib
from mmtl_tf.bench import prepare_figure
from mmtl_tf.bench import random_shards
from mmtl_tf.bench import reference
from mmtl_tf.bench import replicas
from mmtl_tf.bench import serving
from mmtl_tf.bench import step_figures
from mmtl_tf.bench import step_profiles
from mmtl_tf.bench import timing

MEMORY_SPEAKERS = 8  # random speakers the long-run memory loop samples its episodes from


def guarded(name: str, function) -> dict:
    """Runs one figure; an exception becomes a `failed` record (traceback on stderr).

    Args:
      name: the figure, for the progress line.
      function: computes the figure's record.

    Returns:
      The record, with `wall_seconds`.
    """
    started = time.perf_counter()
    try:
        record = function()
    except Exception as error:  # pylint: disable=broad-except; reported, and the run fails
        traceback.print_exc()
        record = {"value": None, "failed": f"{type(error).__name__}: {error}"}
    record["wall_seconds"] = time.perf_counter() - started
    shown = record.get("value", "done")
    if shown is None:
        shown = next(record[key] for key in ("failed", "unavailable", "skipped") if key in record)
    print(f"[bench] {name}: {shown} ({record['wall_seconds']:.0f} s)", file=sys.stderr,
          flush=True)
    return record


def run_benchmark(plan: plan_lib.BenchPlan, work_dir: str, preset_of_replicas: str,
                  quick: bool = False) -> dict:
    """Measures every figure of `plan.TARGETS`.

    Args:
      plan: the sizes (`plan.make_plan`).
      work_dir: a scratch directory for corpora, shards and the export.
      preset_of_replicas: the preset flagfile the replica subprocess reads its model from.
      quick: the plan is --quick's (the preparation figures' subprocess makes the same plan).

    Returns:
      dict with `figures` (name -> judged record), `plan`, `environment` and `total_seconds`.
    """
    started = time.perf_counter()
    m, b, model_config = plan.speakers, plan.segments_per_speaker, plan.model_config
    records, steps = {}, {}
    replica_process = (replicas.start_replica_step(preset_of_replicas, m, b, plan.rounds)
                       if plan.overlap_replicas else None)

    def outer_step(segments):
        if segments not in steps:
            steps[segments] = outer_step_lib.build_outer_step(model_config, m, segments)
        return steps[segments]

    def profile_if_missed(name, function):
        if plan.profiles and plan_lib.judge(name, records[name])["met"] is False:
            records[name]["profile"] = guarded(f"{name} profile", function)

    small_b = plan.small_segments_per_speaker
    memory_dir = os.path.join(work_dir, "memory-shards")
    records["rss_growth"] = guarded("rss_growth", lambda: memory.rss_growth(
        memory_dir, random_shards.write_random_shards(
            memory_dir, MEMORY_SPEAKERS, 4 * small_b,
            outer_step_lib.experiment_config(plan.small_model_config, small_b).features),
        plan.small_model_config, small_b, m, plan.memory_steps))
    keras.backend.clear_session()
    records["step_overhead"] = guarded("step_overhead", lambda: step_figures.step_overhead(
        model_config, m, b, plan.rounds, outer_step=outer_step(b)))
    profile_if_missed("step_overhead",
                      lambda: step_profiles.step_breakdown(outer_step(b), plan.rounds))
    if plan.with_xla:
        records["step_overhead_xla"] = guarded("step_overhead_xla", lambda: (
            step_figures.step_overhead_xla(model_config, m, plan.xla_segments_per_speaker,
                                           plan.xla_rounds, plan.profiles)))
    else:
        records["step_overhead_xla"] = plan_lib.skipped("--quick or --noxla")
    records["vs_reference_schedule"] = guarded("vs_reference_schedule", lambda: (
        reference.vs_reference_schedule(model_config, m, b, plan.rounds,
                                        outer_step=outer_step(b))))
    profile_if_missed("vs_reference_schedule", lambda: reference.vs_reference_schedule(
        model_config, m, b, plan.rounds, with_graph=True, with_eager=False,
        outer_step=outer_step(b)))
    steps.clear()
    records["scaling"] = guarded("scaling", lambda: step_figures.scaling(
        model_config, plan.scaling_speakers, plan.scaling_segments, plan.scaling_rounds))

    feature_config = plan.feature_config
    corpus = {}

    def corpus_parts():
        if not corpus:
            corpus["parts"] = data_figures.synthetic_corpus(
                work_dir, plan.corpus_utterances, plan.corpus_max_seconds, feature_config)
        return corpus["parts"]

    step_seconds = records["step_overhead"].get("step_seconds")
    records["input_headroom"] = guarded("input_headroom", lambda: data_figures.input_headroom(
        corpus_parts()[1], corpus_parts()[2], feature_config, b, m * b / step_seconds,
        plan.pipeline_epochs))
    records["prepare_speedup"] = guarded("prepare_speedup", lambda: (
        corpus_parts(), prepare_figure.prepare_speedup(plan.preset, quick, work_dir))[1])
    one_core = records["prepare_speedup"].get("one_core")
    records["prepare_speedup_one_core"] = (dict(one_core) if one_core is not None else
                                           _follows(records["prepare_speedup"]))
    records["serving_rtf"] = guarded("serving_rtf", lambda: serving.serving_rtf(
        model_config, feature_config, work_dir, plan.serving_batch_sizes, plan.serving_seconds,
        plan.profiles))
    keras.backend.clear_session()
    scale = guarded("corpus_scale", lambda: corpus_scale.corpus_scale(
        corpus_parts()[0], work_dir, plan.scale_speakers, plan.scale_utterances,
        plan.small_model_config, plan.scale_segments_per_speaker, plan.scale_steps,
        plan.small_features, plan.scale_prepare_rounds))
    records.update(_scale_records(scale))
    if replica_process is None:
        records["replica_ratio"] = guarded("replica_ratio", lambda: replicas.replica_ratio(
            preset_of_replicas, m, b, plan.rounds))
    else:
        records["replica_ratio"] = guarded("replica_ratio",
                                           lambda: replicas.finish_replica_step(replica_process))
        records["replica_ratio"]["note"] = ("--quick: measured while the other figures ran, "
                                            "so the number means nothing")

    return {"figures": {name: timing.rounded(plan_lib.judge(name, records[name]))
                        for name in plan_lib.FIGURES},
            "plan": config_lib.json_ready(dataclasses.asdict(plan)),
            "environment": {"tensorflow": tf.__version__, "keras": keras.__version__,
                            "cpu_count": os.cpu_count(),
                            "cpu_allocator": quiet_start.host_allocator(),
                            "load_average": [round(x, 2) for x in os.getloadavg()],
                            "python": sys.version.split()[0]},
            "total_seconds": round(time.perf_counter() - started, 1)}


def _follows(record: dict) -> dict:
    """The record of a figure measured inside another that has no value (failed, unavailable)."""
    return {key: record[key] for key in ("value", "failed", "unavailable", "skipped")
            if key in record}


def _scale_records(scale: dict) -> dict:
    """The five corpus-size figures from one `corpus_scale` table (each carries the table)."""
    if "table" not in scale:  # the measurement failed: so do its figures
        return {name: _follows(scale) for name in plan_lib.FIGURES if name.startswith("scale_")}
    table = scale["table"]
    largest = max(table, key=lambda row: row["speakers"])

    def spread(column):
        values = [row[column] for row in table]
        return max(values) / min(values)

    values = {"scale_prepare": spread("prepare_seconds_per_audio_second"),
              "scale_step": spread("step_seconds"),
              "scale_pipeline_memory": largest["pipeline_megabytes"],
              "scale_open_files": float(largest["open_files"]),
              "scale_epoch_start": largest["epoch_start_seconds"]}
    return {name: {"value": value, **scale} for name, value in values.items()}
