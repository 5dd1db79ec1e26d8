"""Data figures: the input pipeline's headroom over the step, and preparation against librosa.

Both read a small synthetic corpus generated into the run's scratch directory and prepared with
`preparation.prepare_corpus`, as a user's corpus would be.
"""

import contextlib
import io
import os
import shutil
import statistics
import time

import numpy as np
import tensorflow as tf

from mmtl_tf import audio
from mmtl_tf import config as config_lib
from mmtl_tf import episode_plan
from mmtl_tf import episodes
from mmtl_tf import features
from mmtl_tf import folds
from mmtl_tf import preparation
from mmtl_tf import preparation_stream
from mmtl_tf import tfrecords
from mmtl_tf.bench import librosa_baseline
from mmtl_tf.bench import plan as plan_lib
from mmtl_tf.bench import timing


def synthetic_corpus(work_dir: str, utterances_per_speaker: int, max_seconds: float,
                     feature_config: config_lib.FeatureConfig):
    """Generates and prepares a small synthetic corpus (its printed summary is swallowed).

    Args:
      work_dir: where `corpus/` and `shards/` go.
      utterances_per_speaker, max_seconds: the corpus size (10 speakers).
      feature_config: the features to prepare.

    Returns:
      (listing, tfrecord_dir, manifest).
    """
    from mmtl_tf.corpora import synthetic  # pylint: disable=import-outside-toplevel

    listing = synthetic.read_synthetic(os.path.join(work_dir, "corpus"),
                                       utterances_per_speaker=utterances_per_speaker,
                                       max_seconds=max_seconds)
    tfrecord_dir = os.path.join(work_dir, "shards")
    with contextlib.redirect_stdout(io.StringIO()):
        manifest = preparation.prepare_corpus(listing, feature_config, tfrecord_dir,
                                              show_progress=False)
    return listing, tfrecord_dir, manifest


def input_headroom(tfrecord_dir: str, manifest: dict, feature_config, segments_per_speaker: int,
                   step_segments_per_second: float, epochs: int, fold: int = 2) -> dict:
    """input_headroom: segments/s the episode pipeline delivers alone / segments/s the step uses.

    The pipeline serves every training speaker of `fold` (m = all, as the paper preset), one
    fresh `episode_dataset` per epoch (training reads one `run_episode_dataset` per run since
    issue 17.2; a fresh one times each epoch's start); epoch 0 is an untimed warm-up. The
    value is the steady rate (from each epoch's first episode to its end); the details add the
    wait for an epoch's first episode and the rate with those waits included.

    Args:
      tfrecord_dir, manifest: prepared shards.
      feature_config: their features.
      segments_per_speaker: B.
      step_segments_per_second: m*B / outer-step seconds (from `step_overhead`).
      epochs: timed epochs.
      fold: the fold whose training speakers are served.

    Raises:
      ValueError: every epoch is a single episode (no steady rate to measure).
    """
    split = folds.fold_split(manifest, fold)
    steady_segments, steady_seconds, all_segments, all_seconds, first_waits = 0, 0.0, 0, 0.0, []
    for epoch in range(epochs + 1):
        started = time.perf_counter()
        dataset = episodes.episode_dataset(tfrecord_dir, manifest, split.train,
                                           segments_per_speaker, feature_config, plan_lib.NUM_CLASSES,
                                           seed=0, epoch=epoch)
        first_arrival, segments = None, 0
        for episode in dataset:
            count = int(np.prod(episode["spectrogram"].shape[:2]))
            if first_arrival is None:
                first_arrival = time.perf_counter()
            else:
                steady_segments += count if epoch else 0
            segments += count
        finished = time.perf_counter()
        if epoch:
            steady_seconds += finished - first_arrival
            all_segments += segments
            all_seconds += finished - started
            first_waits.append(first_arrival - started)
    if not steady_segments:
        raise ValueError("input_headroom: every epoch has a single episode; use a larger corpus")
    steady = steady_segments / steady_seconds
    return {"value": steady / step_segments_per_second,
            "pipeline_segments_per_second": steady,
            "step_segments_per_second": step_segments_per_second,
            "with_epoch_start": (all_segments / all_seconds) / step_segments_per_second,
            "epoch_first_episode_seconds": statistics.median(first_waits),
            "speakers": len(split.train), "segments_per_speaker": segments_per_speaker,
            "steps_per_epoch": episode_plan.steps_per_epoch(manifest, split.train,
                                                            segments_per_speaker),
            "timed_epochs": epochs}


def prepare_speedup(listing, feature_config, work_dir: str, rounds: int,
                    profile: bool = False, warm_up=()) -> dict:
    """prepare_speedup: prepare_corpus audio seconds/s / the single-process librosa loop's.

    Both write into a fresh directory every call (prepare_corpus would otherwise skip finished
    speakers); the calls alternate. Neither needs a full warm-up: the process has prepared the
    corpus once already (else `warm_up` names it), and librosa's one-off compilation is
    triggered on a short input first.
    The same comparison is then repeated with every thread of the process on one core
    (`one_core`, the value of `prepare_speedup_one_core`).

    Args:
      listing: the corpus to prepare.
      feature_config: the analysis parameters.
      work_dir: scratch space for the outputs.
      rounds: alternated timed rounds (the one-core comparison takes as many).
      profile: add `profile` (`prepare_profile`): where each path spends its time.
      warm_up: the calls ("prepare_corpus", "librosa") to warm up first (`timing`), for a
        process that has not prepared before (`prepare_figure`).

    Returns:
      The record, or `unavailable` when librosa is not installed.
    """
    try:
        import librosa  # pylint: disable=import-outside-toplevel
    except ImportError as error:
        return plan_lib.unavailable(f"librosa is not installed ({error}); "
                                    f"pip install -e '.[bench]'")
    headers = [audio.inspect_wav(utterance.path) for utterance in listing.utterances]
    audio_seconds = sum(header["num_frames"] / header["sample_rate"] for header in headers)
    counter = iter(range(10 ** 6))
    first = listing.utterances[0]
    waveform, _ = librosa.load(first.path, sr=feature_config.sample_rate, mono=True)
    theirs = np.stack([spectrogram for spectrogram, _ in
                       librosa_baseline.librosa_features(waveform, feature_config, librosa)])

    def fresh(name):
        return os.path.join(work_dir, f"{name}-{next(counter)}")

    def run_prepare():
        path = fresh("prepare")
        with contextlib.redirect_stdout(io.StringIO()):
            preparation.prepare_corpus(listing, feature_config, path, show_progress=False)
        shutil.rmtree(path)

    def run_librosa():
        path = fresh("librosa")
        librosa_baseline.librosa_prepare(listing, feature_config, path, librosa)
        shutil.rmtree(path)

    calls = {"prepare_corpus": run_prepare, "librosa": run_librosa}
    timed = timing.time_alternating(calls, rounds, warm_up=warm_up)
    with one_core():
        on_one_core = timing.time_alternating(calls, rounds, warm_up=())
    ours = features.waveform_features(waveform[np.newaxis], [len(waveform)], feature_config)
    result = {"value": timed["librosa"]["median"] / timed["prepare_corpus"]["median"],
              "prepare_audio_seconds_per_second":
                  audio_seconds / timed["prepare_corpus"]["median"],
              "librosa_audio_seconds_per_second": audio_seconds / timed["librosa"]["median"],
              "audio_seconds": audio_seconds, "utterances": len(listing.utterances),
              "rounds": {name: value["seconds"] for name, value in timed.items()},
              "cpu_per_wall": {name: value["cpu_per_wall"] for name, value in timed.items()},
              # CPU seconds (all threads) per audio second: the cost without the machine's load.
              "cpu_seconds_per_audio_second": {
                  name: value["median"] * value["cpu_per_wall"] / audio_seconds
                  for name, value in timed.items()},
              "max_abs_difference": float(np.max(np.abs(ours["spectrogram"].numpy() - theirs))),
              "librosa_version": librosa.__version__,
              "one_core": {"value": on_one_core["librosa"]["median"]
                                    / on_one_core["prepare_corpus"]["median"],
                           "seconds": {name: value["median"]
                                       for name, value in on_one_core.items()},
                           "cpu_per_wall": {name: value["cpu_per_wall"]
                                            for name, value in on_one_core.items()}}}
    if profile:
        result["profile"] = prepare_profile(listing, feature_config, work_dir, librosa)
    return result


def prepare_profile(listing, feature_config, work_dir: str, librosa_module) -> dict:
    """Seconds of each part of the two preparation paths over the whole listing.

    TensorFlow path: the wav header checks (`preparation_stream.expected_lengths`), the feature stream
    alone (`preparation_stream.feature_stream`: reads and features on a pool of threads, several
    utterances per feature call) and with one utterance per call, the feature function alone one
    utterance at a time in memory, and serialising and writing the records. Librosa path: loading, features.

    Args:
      listing, feature_config: what `prepare_speedup` prepares.
      work_dir: scratch space for the records.
      librosa_module: the imported librosa.

    Returns:
      dict: `seconds` per part, `cpu_per_wall` of the stream, `segments`.
    """
    seconds = {}
    started = time.perf_counter()
    lengths = preparation_stream.expected_lengths(listing.utterances, feature_config)
    seconds["tf_header_checks"] = time.perf_counter() - started
    utterances = list(listing.utterances)
    cpu_before, started = timing.cpu_seconds(), time.perf_counter()
    computed = list(preparation_stream.feature_stream(utterances, lengths, feature_config))
    seconds["tf_feature_stream"] = time.perf_counter() - started
    stream_cores = (timing.cpu_seconds() - cpu_before) / seconds["tf_feature_stream"]
    started = time.perf_counter()
    for _ in preparation_stream.feature_stream(utterances, lengths, feature_config, 1):
        pass
    seconds["tf_feature_stream_one_utterance_per_call"] = time.perf_counter() - started
    waveforms = [audio.read_wav(u.path, feature_config.sample_rate) for u in utterances]
    compute = tf.function(lambda waveform: features.waveform_features(
        waveform[tf.newaxis], tf.shape(waveform)[:1], feature_config)["spectrogram"],
        input_signature=[tf.TensorSpec([None], tf.float32)])
    compute(waveforms[0])
    started = time.perf_counter()
    for waveform in waveforms:
        compute(waveform).numpy()
    seconds["tf_features_sequential_in_memory"] = time.perf_counter() - started
    path = os.path.join(work_dir, "profile.tfrecord")
    started = time.perf_counter()
    with tf.io.TFRecordWriter(path) as writer:
        for utterance, values in computed:
            for row, index in enumerate(values["segment_index"]):
                writer.write(tfrecords.serialize_segment(utterance, int(index),
                                                         values["spectrogram"][row],
                                                         int(values["num_frames"][row])))
    seconds["serialize_and_write"] = time.perf_counter() - started
    os.remove(path)
    started = time.perf_counter()
    waveforms = [librosa_module.load(u.path, sr=feature_config.sample_rate, mono=True)[0]
                 for u in utterances]
    seconds["librosa_load"] = time.perf_counter() - started
    started = time.perf_counter()
    for waveform in waveforms:
        librosa_baseline.librosa_features(waveform, feature_config, librosa_module)
    seconds["librosa_features"] = time.perf_counter() - started
    return {"seconds": seconds, "stream_cpu_per_wall": stream_cores,
            "segments": sum(len(values["segment_index"]) for _, values in computed)}


@contextlib.contextmanager
def one_core():
    """Runs the block with every thread of this process (and any it starts) on one CPU."""
    every_cpu = os.sched_getaffinity(0)
    _pin_threads({min(every_cpu)})
    try:
        yield
    finally:
        _pin_threads(every_cpu)  # also threads started inside the block


def _pin_threads(cpus) -> None:
    """Sets the CPU affinity of every thread of this process (threads that end meanwhile are skipped)."""
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except OSError:  # ProcessLookupError included: the thread has ended
            pass
