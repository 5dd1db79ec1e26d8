"""Cost as corpora grow: the same measurements at 10, 100 and 1,000 speakers.

At every corpus size:
(a) prepare seconds per audio second: the same synthetic utterances (a fixed number of them)
    are handed to `preparation.prepare_corpus` spread over that many speakers, so only the
    per-speaker cost (hashes, manifest entries; small speakers share shard files and
    done-records) differs between sizes; after one untimed preparation (it traces the feature
    function) the sizes take turns round by round, the order rotating, and each size's median
    counts, so a slow spell of the machine does not land on one size;
(b) outer-step seconds with m = 8 speakers per episode, including the wait for the episode;
(c) the input pipeline's resident memory and open files after a few episodes;
(d) epoch start-up: seconds from `episodes.episode_dataset` to its first episode.
(b)-(d) read random-feature shards (`random_shards`) through the public episode API, so they
measure whatever `episodes` does.
"""

import contextlib
import dataclasses
import gc
import io
import os
import resource
import shutil
import statistics
import sys
import time

from mmtl_tf import audio
from mmtl_tf import corpora
from mmtl_tf import episodes
from mmtl_tf import preparation
from mmtl_tf import training
from mmtl_tf.bench import outer_step as outer_step_lib
from mmtl_tf.bench import plan as plan_lib
from mmtl_tf.bench import random_shards
from mmtl_tf.bench import timing

SPEAKERS_PER_EPISODE = 8


def spread_listing(listing, num_speakers: int, num_utterances: int):
    """`num_utterances` utterances of `listing` (cycled) dealt to `num_speakers` new speakers.

    Args:
      listing: a corpus listing whose wavs and labels are reused.
      num_speakers: speakers of the new listing (two per session).
      num_utterances: utterances in total, dealt round-robin.

    Returns:
      A `corpora.CorpusListing` with unique utterance ids.
    """
    source = listing.utterances
    utterances = []
    for index in range(num_utterances):
        original = source[index % len(source)]
        speaker = index % num_speakers
        utterances.append(dataclasses.replace(
            original, utterance_id=f"u{index:06d}", speaker=random_shards.speaker_name(speaker),
            session=str(speaker // 2 + 1)))
    return corpora.CorpusListing("spread", listing.class_names, utterances)


def corpus_scale(listing, work_dir: str, speaker_counts, num_utterances: int, model_config,
                 segments_per_speaker: int, steps: int, feature_config,
                 prepare_rounds: int = 5) -> dict:
    """The corpus-size table: (a)-(d) of the module docstring at every size.

    Args:
      listing: the synthetic corpus whose utterances (a) prepares.
      work_dir: scratch space (each size's data is removed after use).
      speaker_counts: corpus sizes in speakers.
      num_utterances: utterances prepared at every size.
      model_config, segments_per_speaker: the step's model and B; each random speaker has
        2 * B segments.
      steps: timed epochs (two outer steps each) per size, after one untimed epoch.
      feature_config: the features (a) prepares and (b)-(d) read (the model's preset's).
      prepare_rounds: timed preparations of every size (a).

    Returns:
      dict: `table`, one row per size: speakers, prepare_seconds_per_audio_second (the median
      round), prepare_seconds (every round), step_seconds (steady),
      step_seconds_with_epoch_start, pipeline_megabytes (VmRSS added) and
      pipeline_megabytes_by_kind (the same by `timing.RESIDENT_KINDS`), open_files,
      epoch_start_seconds; and the sizes used.
    """
    audio_seconds = sum(info["num_frames"] / info["sample_rate"] for info in
                        (audio.inspect_wav(u.path) for u in listing.utterances[:num_utterances]))
    audio_seconds *= num_utterances / min(num_utterances, len(listing.utterances))
    experiment = outer_step_lib.experiment_config(model_config, segments_per_speaker,
                                                  feature_config=feature_config)
    algorithm, optimizers, _, _ = training.build_training(experiment, plan_lib.NUM_CLASSES)
    step = training.make_train_step(algorithm, optimizers, SPEAKERS_PER_EPISODE)
    prepare_seconds = _prepare_seconds(listing, list(speaker_counts), num_utterances,
                                       experiment.features, work_dir, prepare_rounds)
    table, shards_of = [], {}
    for count in speaker_counts:
        row = {"speakers": count, "prepare_seconds_per_audio_second":
               statistics.median(prepare_seconds[count]) / audio_seconds,
               "prepare_seconds": prepare_seconds[count]}
        shards = os.path.join(work_dir, f"scale-random-{count}")
        manifest = random_shards.write_random_shards(shards, count, 2 * segments_per_speaker,
                                                     experiment.features)
        row.update(_pipeline_cost(shards, manifest, experiment.features, segments_per_speaker))
        shards_of[count] = (shards, manifest)
        table.append(row)
    timed = _interleaved_step_seconds(step, shards_of, experiment.features,
                                      segments_per_speaker, steps)
    for row in table:
        row.update(timed[row["speakers"]])
        shutil.rmtree(shards_of[row["speakers"]][0])
        print(f"[bench] corpus_scale at {row['speakers']} speakers: {timing.rounded(row)}",
              file=sys.stderr, flush=True)  # the whole table comes only at the end
    return {"table": table, "speakers_per_episode": SPEAKERS_PER_EPISODE,
            "segments_per_speaker": segments_per_speaker, "utterances_prepared": num_utterances,
            "audio_seconds_prepared": audio_seconds}


def _prepare_seconds(listing, speaker_counts: list, num_utterances: int, feature_config,
                     work_dir: str, rounds: int) -> dict:
    """{speakers: [seconds of each round]} of (a): one untimed preparation, then the sizes in
    turn, round by round, the order rotating."""
    spreads = {count: spread_listing(listing, count, num_utterances) for count in speaker_counts}

    def prepare(count, name) -> float:
        prepared = os.path.join(work_dir, f"scale-prepared-{name}")
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            preparation.prepare_corpus(spreads[count], feature_config, prepared,
                                       show_progress=False)
        elapsed = time.perf_counter() - started
        shutil.rmtree(prepared)
        return elapsed

    prepare(speaker_counts[0], "warm-up")
    seconds = {count: [] for count in speaker_counts}
    for round_index in range(rounds):
        shift = round_index % len(speaker_counts)
        for count in speaker_counts[shift:] + speaker_counts[:shift]:
            seconds[count].append(prepare(count, count))
    return seconds


def _dataset(shards, manifest, feature_config, segments_per_speaker, epoch):
    return episodes.episode_dataset(shards, manifest, sorted(manifest["speakers"]),
                                    segments_per_speaker, feature_config, plan_lib.NUM_CLASSES,
                                    seed=0, epoch=epoch,
                                    speakers_per_episode=SPEAKERS_PER_EPISODE)


def _pipeline_cost(shards, manifest, feature_config, segments_per_speaker):
    """(c) and (d): memory and open files after an epoch's two episodes; time to the first."""
    gc.collect()
    memory_before, files_before = timing.memory_kilobytes(), timing.open_files()
    started = time.perf_counter()
    iterator = iter(_dataset(shards, manifest, feature_config, segments_per_speaker, 0))
    next(iterator)
    start_seconds = time.perf_counter() - started
    next(iterator, None)  # an epoch is two episodes
    memory_after = timing.memory_kilobytes()
    added = {kind: (memory_after[kind] - memory_before[kind]) / 1024
             for kind in ("VmRSS",) + timing.RESIDENT_KINDS if kind in memory_before}
    # By kind too: VmRSS once fell 45 MB across this interval (BUILD.md "Measured"), memory
    # something else released; the kinds say which (anonymous buffers, or mapped files).
    cost = {"epoch_start_seconds": start_seconds, "pipeline_megabytes": added.pop("VmRSS"),
            "pipeline_megabytes_by_kind": added,
            "open_files": timing.open_files() - files_before}
    del iterator
    gc.collect()
    return cost


def _interleaved_step_seconds(step, shards_of: dict, feature_config, segments_per_speaker,
                              epochs) -> dict:
    """(b) at every size: seconds of an outer step plus the wait for its episode.

    Every random speaker has 2B segments, so an epoch is two steps: the first includes the
    epoch's start, the second is the steady cost (the figure). After one untimed epoch per size,
    the sizes take turns epoch by epoch, in an order rotated every round, so a slow spell of a
    shared machine falls on every size alike rather than on whichever ran last.

    Args:
      step: the built training step (m = SPEAKERS_PER_EPISODE).
      shards_of: {speakers: (shard directory, manifest)}.
      feature_config, segments_per_speaker: the shards' features and B.
      epochs: timed epochs per size.

    Returns:
      {speakers: {"step_seconds": median steady step, "step_seconds_with_epoch_start": mean
      over every timed step}}.
    """
    sizes = sorted(shards_of)
    steady, every = ({count: [] for count in sizes} for _ in range(2))
    for epoch in range(epochs + 1):
        for count in sizes[epoch % len(sizes):] + sizes[:epoch % len(sizes)]:
            shards, manifest = shards_of[count]
            started = time.perf_counter()
            for index, episode in enumerate(_dataset(shards, manifest, feature_config,
                                                     segments_per_speaker, epoch)):
                if not bool(step(episode)[1]):
                    raise RuntimeError(f"corpus_scale: non-finite outer step at {count} speakers")
                finished = time.perf_counter()
                if epoch:
                    every[count].append(finished - started)
                    if index:
                        steady[count].append(finished - started)
                started = finished
    return {count: {"step_seconds": statistics.median(steady[count]),
                    "step_seconds_with_epoch_start": statistics.mean(every[count])}
            for count in sizes}


def open_shards() -> int:
    """TFRecord files this process has open now (None where /proc is not available)."""
    try:
        descriptors = os.listdir("/proc/self/fd")
    except OSError:
        return None
    count = 0
    for descriptor in descriptors:
        try:
            count += os.readlink(f"/proc/self/fd/{descriptor}").endswith(".tfrecord")
        except OSError:  # closed since the listing
            pass
    return count


def pipeline_footprint(directory: str, manifest: dict, speakers, segments_per_speaker: int,
                       feature_config, num_classes: int, speakers_per_episode: int,
                       steps: int = 5, seed: int = 0) -> dict:
    """What the episode pipeline costs to start and to run (tests/test_episodes.py bounds it).

    Builds epoch 0's `episodes.episode_dataset` and reads `steps` episodes from it.

    Returns:
      {"startup_seconds": from the call to the first episode, "open_shards_peak": most shard
      files open after an episode (None without /proc), "peak_rss_growth_bytes": growth of the
      process's peak resident memory, "steps": episodes read}.
    """
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kB
    start = time.perf_counter()
    dataset = episodes.episode_dataset(directory, manifest, speakers, segments_per_speaker,
                                       feature_config, num_classes, seed, 0,
                                       speakers_per_episode)
    iterator = iter(dataset)
    next(iterator)
    startup = time.perf_counter() - start
    open_counts, read = [open_shards()], 1
    for _ in range(steps - 1):
        if next(iterator, None) is None:
            break
        open_counts.append(open_shards())
        read += 1
    peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"startup_seconds": startup,
            "open_shards_peak": None if None in open_counts else max(open_counts),
            "peak_rss_growth_bytes": peak_after - peak_before, "steps": read}
