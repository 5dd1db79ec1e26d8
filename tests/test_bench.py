"""The benchmark package (mmtl_tf.bench): every figure is reported, and its pieces do what they say.

No timing is asserted (these machines are shared and noisy). `python -m mmtl_tf.bench --quick`
must finish with status 0 and give every figure a number, except the XLA figure (skipped by
--quick) and the librosa figures when librosa is missing: any other failing figure fails it.
"""

import json
import math
import os
import platform
import subprocess

import numpy as np
import pytest

from conftest import REPO, python_command
from mmtl_tf import config as config_lib
from mmtl_tf import episodes
from mmtl_tf import folds
from mmtl_tf import tfrecords
from mmtl_tf.bench import child_process
from mmtl_tf.bench import corpus_scale
from mmtl_tf.bench import plan
from mmtl_tf.bench import random_shards
from mmtl_tf.bench import run

# The figures the benchmark promises (BUILD.md, "Benchmarks"), in its order.
FIGURES = ("step_overhead", "step_overhead_xla", "vs_reference_schedule", "input_headroom",
           "prepare_speedup", "prepare_speedup_one_core", "serving_rtf", "replica_ratio",
           "scaling", "rss_growth", "scale_prepare", "scale_step", "scale_pipeline_memory",
           "scale_open_files", "scale_epoch_start")
LIBROSA_FIGURES = ("prepare_speedup", "prepare_speedup_one_core")


def test_quick_benchmark_reports_every_figure(tmp_path):
    output = tmp_path / "bench.json"
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    # The timeout only guards against a hang; on an idle 2-core machine the run takes ~3 min.
    completed = subprocess.run(
        python_command("mmtl_tf.bench", "--quick", "--preset=smoke", f"--output={output}",
                       f"--work_dir={tmp_path / 'work'}", "--scale_speakers=2,4"),
        cwd=REPO, capture_output=True, text=True, timeout=3000, env=environment)
    assert completed.returncode == 0, completed.stderr[-3000:]
    for noise in ("INFO:tensorflow", "functional_saver.py", "builder_impl.py"):  # a quiet command
        assert noise not in completed.stderr, completed.stderr[-3000:]
    results = json.loads(output.read_text())
    figures = results["figures"]
    assert tuple(figures) == FIGURES
    for name, record in figures.items():
        assert "failed" not in record, (name, record)
        value = record["value"]
        if name == "step_overhead_xla":
            assert value is None and "--quick" in record["skipped"]
        elif value is None:
            assert name in LIBROSA_FIGURES and "librosa" in record["unavailable"], (name, record)
        else:
            assert isinstance(value, (int, float)) and math.isfinite(value), (name, value)
            assert isinstance(record["met"], bool), name
        assert record["target"].startswith(("<=", ">=")), name
    assert results["plan"]["preset"] == "smoke"
    memory = figures["rss_growth"]
    assert sorted(memory["kilobytes"], key=int) == ["2", "5", "10"]
    assert memory["traces"] == 1  # 10 steps over one run-long dataset, one trace
    kilobytes, allocator = memory["kilobytes"], memory["allocator_kilobytes"]
    assert memory["growth_kilobytes"]["VmHWM"] == kilobytes["10"]["VmHWM"] - kilobytes["2"]["VmHWM"]
    assert sorted(allocator, key=int) == ["2", "5", "10"]
    for reading in allocator.values():  # TensorFlow's CPU allocator keeps these statistics
        assert 0 < reading["in_use"] <= reading["peak"]
    assert allocator["2"]["peak"] <= allocator["10"]["peak"]  # a peak never falls
    assert memory["growth_kilobytes"]["allocator_peak"] == (allocator["10"]["peak"]
                                                            - allocator["2"]["peak"])
    heap = memory["malloc_kilobytes"]
    assert sorted(heap, key=int) == ["2", "5", "10"]
    libc, version = platform.libc_ver()
    if libc == "glibc" and tuple(map(int, version.split("."))) >= (2, 33):  # has mallinfo2
        assert all(0 < reading["heap_in_use"] <= reading["heap"] for reading in heap.values())
        assert memory["growth_kilobytes"]["malloc_heap"] == heap["10"]["heap"] - heap["2"]["heap"]
    else:
        assert all(reading is None for reading in heap.values())
    scale = figures["scale_step"]
    assert [row["speakers"] for row in scale["table"]] == [2, 4]
    for row in scale["table"]:
        assert row["prepare_seconds_per_audio_second"] > 0 and row["step_seconds"] > 0
        assert len(row["prepare_seconds"]) == 1  # --quick: one round of each size
        assert row["epoch_start_seconds"] > 0
        by_kind = row["pipeline_megabytes_by_kind"]  # Linux: VmRSS is the sum of the kinds
        assert sorted(by_kind) == ["RssAnon", "RssFile", "RssShmem"]
        assert sum(by_kind.values()) == pytest.approx(row["pipeline_megabytes"], abs=0.01)
    assert sorted(figures["serving_rtf"]["per_batch_size"]) == ["1", "32"]
    # Measured in a child process with the prepare command's threads (`bench/prepare_figure`).
    assert figures["prepare_speedup"]["threads"] == {
        "TF_NUM_INTRAOP_THREADS": os.environ.get("TF_NUM_INTRAOP_THREADS", "1")}
    table = completed.stdout.split("mmtl_tf.bench, preset smoke")[-1]
    for name in FIGURES:
        assert name in table, name


def test_a_failing_figure_subprocess_is_an_error_naming_it_and_quoting_its_error():
    process = child_process.start_figure("prepare_speedup", ["--preset=smoke"])  # no --work_dir
    with pytest.raises(RuntimeError, match=r"(?s)prepare_speedup subprocess failed \(status 1\)"
                                           r".*reads the corpus of --work_dir"):
        child_process.finish_figure(process, "prepare_speedup")


def test_a_figure_that_raises_is_failed_not_unavailable(capsys):
    def broken():
        raise KeyError("renamed_field")

    record = run.guarded("scaling", broken)
    assert record["value"] is None and "renamed_field" in record["failed"]
    judged = plan.judge("scaling", record)
    assert judged["met"] is None
    assert "failed: KeyError" in plan.format_table({"scaling": judged})
    assert "[bench] scaling: KeyError" in capsys.readouterr().err


def test_figure_records_survive_json():
    judged = plan.judge("serving_rtf", {"value": 0.004, "per_batch_size": {"1": 0.004}})
    assert judged["met"] is True and judged["target"] == "<= 0.01"
    missing = plan.judge("prepare_speedup", plan.unavailable("librosa is not installed"))
    assert missing["met"] is None and missing["unavailable"] == "librosa is not installed"
    assert json.loads(json.dumps([judged, missing])) == [judged, missing]


def test_presets_are_read_from_the_flagfiles():
    from mmtl_tf.bench import __main__ as bench_cli

    demo, demo_segments, demo_features = bench_cli.preset_sizes("demo")
    assert demo == config_lib.ModelConfig(conv_filters=(8, 12, 16),
                                          conv_kernels=((6, 8), (4, 6), (3, 4)),
                                          lstm_units=32, fc_units=32)
    assert (demo_segments, demo_features) == (16, config_lib.FeatureConfig())
    assert bench_cli.preset_sizes("paper") == (config_lib.ModelConfig(), 32,
                                                config_lib.FeatureConfig())
    smoke, _, smoke_features = bench_cli.preset_sizes("smoke")
    assert smoke_features.max_frames < 300  # the smoke preset's own features, not the defaults
    assert (smoke.num_frames, smoke.num_bins) == (smoke_features.max_frames,
                                                  smoke_features.num_bins)
    with pytest.raises(Exception, match="--preset='tiny'"):
        bench_cli.preset_sizes("tiny")


def test_help_lists_the_benchs_flags_and_a_flag_fault_is_one_error_line(capsys):
    from mmtl_tf.bench import __main__ as bench_cli

    with pytest.raises(SystemExit) as exited:
        bench_cli.parse_flags(["bench", "--help"])
    text = capsys.readouterr().out
    assert exited.value.code == 0 and text.startswith("usage: python -m mmtl_tf.bench")
    for name in ("quick", "preset", "output", "xla", "scale_speakers", "work_dir"):
        assert f"--{name}:" in text or f"--[no]{name}:" in text, name
    with pytest.raises(SystemExit) as exited:
        bench_cli.parse_flags(["bench", "--bogus"])
    assert exited.value.code == 1
    assert capsys.readouterr().err.startswith("error: Unknown command line flag 'bogus'")


def test_random_shards_are_read_by_the_episode_pipeline(tmp_path):
    feature_config = config_lib.FeatureConfig(max_frames=300, num_bins=20, fft_length=800)
    manifest = random_shards.write_random_shards(str(tmp_path), 6, 8, feature_config)
    assert tfrecords.load_manifest(str(tmp_path), feature_config) == manifest
    assert folds.fold_split(manifest, 1).test[0] in manifest["speakers"]
    speaker = sorted(manifest["speakers"])[3]
    segments = episodes.speaker_segments(str(tmp_path), manifest, speaker, feature_config)
    assert segments["spectrogram"].shape == (8, 300, 20)
    for column, task in enumerate(("emotion", "valence", "arousal", "dominance")):
        counts = np.bincount(segments["labels"][:, column], minlength=4).tolist()
        assert counts == manifest["speakers"][speaker]["histograms"][task]
    dataset = episodes.episode_dataset(str(tmp_path), manifest, sorted(manifest["speakers"]), 4,
                                       feature_config, plan.NUM_CLASSES, seed=0, epoch=0,
                                       speakers_per_episode=3)
    shapes = [tuple(episode["spectrogram"].shape) for episode in dataset]
    assert shapes == [(3, 4, 300, 20)] * 2


def test_spread_listing_deals_the_utterances_to_new_speakers():
    from mmtl_tf import corpora

    source = corpora.CorpusListing("c", ("a", "b"), [
        corpora.Utterance(f"x{index}", f"/w{index}.wav", "1F", "1", index % 2)
        for index in range(3)])
    spread = corpus_scale.spread_listing(source, 4, 10)
    assert len({u.utterance_id for u in spread.utterances}) == 10
    speakers = [u.speaker for u in spread.utterances]
    assert speakers[:4] == [random_shards.speaker_name(index) for index in range(4)]
    assert {u.speaker: u.session for u in spread.utterances} == {
        random_shards.speaker_name(index): str(index // 2 + 1) for index in range(4)}
    assert [u.path for u in spread.utterances] == [f"/w{index % 3}.wav" for index in range(10)]
    assert [u.emotion for u in spread.utterances] == [index % 3 % 2 for index in range(10)]


def test_corpus_sizes_take_turns_at_preparing_after_one_untimed_preparation(monkeypatch, tmp_path):
    """(a) of the corpus-size table: a warm-up, then every size once per round, the order
    rotating, so no size always goes first or last."""
    from mmtl_tf import corpora, preparation

    source = corpora.CorpusListing("c", ("a", "b"), [
        corpora.Utterance(f"x{index}", f"/w{index}.wav", "1F", "1", index % 2)
        for index in range(4)])
    order = []

    def fake_prepare(listing, feature_config, output_dir, show_progress):
        order.append((len({u.speaker for u in listing.utterances}), os.path.basename(output_dir)))
        os.makedirs(output_dir)

    monkeypatch.setattr(preparation, "prepare_corpus", fake_prepare)
    seconds = corpus_scale._prepare_seconds(  # pylint: disable=protected-access
        source, [2, 4, 8], 8, None, str(tmp_path), rounds=4)
    assert order[0] == (2, "scale-prepared-warm-up")
    assert [count for count, _ in order[1:]] == [2, 4, 8, 4, 8, 2, 8, 2, 4, 2, 4, 8]
    assert sorted(seconds) == [2, 4, 8] and all(len(v) == 4 and min(v) >= 0 for v in seconds.values())
    assert not os.listdir(tmp_path)  # every preparation removed after timing


def test_serving_real_time_factor_is_the_fastest_call_per_audio_second(monkeypatch):
    import types

    import trained_run
    from mmtl_tf.bench import serving

    # Each timed call "takes" the listed seconds on a fake clock: 3 repeats per batch size.
    durations = iter([0.30, 0.12, 0.20, 1.00, 0.96, 1.20])
    clock = {"now": 100.0, "started": None}

    def perf_counter():
        if clock["started"] is None:
            clock["started"] = clock["now"]
        else:
            clock["now"] += next(durations)
            clock["started"] = None
        return clock["now"]

    monkeypatch.setattr(serving, "time", types.SimpleNamespace(perf_counter=perf_counter))
    factors = serving.serving_real_time_factor(trained_run.version_dir(), batch_sizes=(1, 32),
                                               seconds=3.0)
    assert factors[1] == pytest.approx(0.12 / (1 * 3.0))
    assert factors[32] == pytest.approx(0.96 / (32 * 3.0))
    assert next(durations, None) is None  # every repeat was timed
