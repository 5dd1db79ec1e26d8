"""The one training and evaluation loop shared by MMTL and the baselines.

`train_and_evaluate` runs a fold from prepared TFRecords to results.json:
1. Check the data: manifest feature settings, fold speakers, auxiliary labels present.
2. Build the algorithm's networks and optimizers; restore the latest checkpoint of the run
   directory if there is one (a rerun resumes where an interrupted run stopped, bit for bit:
   episodes depend only on (seed, epoch), and every epoch ends with a checkpoint).
3. Each epoch: one `tf.function` outer step per episode (traced once: fixed shapes), a step
   whose loss or gradient is not finite is not applied and stops the run with the step and
   speaker (or is skipped with `skip_nonfinite`); then meta-test on the validation speaker,
   a `best` checkpoint when its UA improves, a `latest` checkpoint, TensorBoard summaries.
4. Restore the best checkpoint, meta-test the test speaker with and without adaptation, write
   results.json, a confusion-matrix PNG and TensorBoard's HParams and confusion image.
"""

import dataclasses
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from mmtl_tf import distribution, episodes, evaluation, run_dir as run_dir_lib, tfrecords
from mmtl_tf import config as config_lib
from mmtl_tf.algorithms import build_algorithm, common

SYNTHETIC_NOTE = ("corpus: synthetic. These numbers come from the generated synthetic corpus "
                  "and are not IEMOCAP results.")


class NonFiniteLossError(RuntimeError):
    """An outer step produced NaN/inf; the message names the epoch, step and speaker."""


def check_data(experiment: config_lib.ExperimentConfig):
    """Validates the prepared data against the experiment before any training work.

    Returns:
      (manifest, fold split).

    Raises:
      FileNotFoundError/ValueError: naming the flag or file at fault.
    """
    manifest = tfrecords.load_manifest(experiment.tfrecord_dir, experiment.features)
    split = episodes.fold_split(manifest, experiment.fold, experiment.val_speaker)
    if experiment.train.model != "cnn_lstm":
        for task in experiment.train.aux_tasks:
            if not manifest["aux_available"].get(task, False):
                raise ValueError(f"--aux asks for {task}, but {manifest['corpus']} has no {task} "
                                 f"labels (-1 in {experiment.tfrecord_dir}); drop it from --aux")
    return manifest, split


def build_training(experiment, num_classes):
    """Seeds, the algorithm, its optimizers (built, so checkpoints restore into them) and a checkpoint."""
    keras.utils.set_random_seed(experiment.train.seed)
    algorithm = build_algorithm(experiment.model, experiment.train, num_classes)
    optimizers = algorithm.build_optimizers()
    for name, optimizer in optimizers.items():
        optimizer.build(algorithm.optimizer_variables(name))
    state = {"epoch": tf.Variable(0, dtype=tf.int64), "step": tf.Variable(0, dtype=tf.int64),
             "best_val_ua": tf.Variable(-1.0, dtype=tf.float64),
             "best_epoch": tf.Variable(-1, dtype=tf.int64)}
    checkpoint = tf.train.Checkpoint(**run_dir_lib.network_trackables(algorithm), **state,
                                     **{f"optimizer_{n}": o for n, o in optimizers.items()})
    return algorithm, optimizers, state, checkpoint


def make_train_step(algorithm, optimizers, total_speakers: int, jit_compile: bool = False,
                    strategy=None):
    """The outer step as a tf.function: updates are applied only when all are finite.

    Args:
      algorithm, optimizers: from `build_training` (built under `strategy.scope()`).
      total_speakers: m, speakers of a whole episode (the divisor of the mean over speakers).
      jit_compile: compile with XLA.
      strategy: a `tf.distribute.Strategy`; with several replicas each runs its share of the
        speakers (`distribution.split_speakers`) and the optimizers sum their gradients.

    Returns:
      step(episode) -> (losses dict of per-speaker [m] tensors, finite bool tensor).
    """
    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    missing = {}  # update name -> positions without a gradient (static, found while tracing)

    def replica_step(episode):
        updates, losses = algorithm.step_updates(
            algorithm.meta_weights(), algorithm.head_weights(), episode, episode["class_weights"],
            total_speakers)
        for name, gradients in updates.items():
            missing[name] = [index for index, g in enumerate(gradients) if g is None]
        present = {name: [g for g in gradients if g is not None] for name, gradients in updates.items()}
        return present, losses

    @tf.function(jit_compile=jit_compile)
    def step(per_replica_episode):
        present, losses = strategy.run(replica_step, args=(per_replica_episode,))
        # Each replica's gradients are its speakers' sum / m, so the SUM over replicas is the mean.
        updates = {}
        for name, gradients in present.items():
            reduced = iter([strategy.reduce(tf.distribute.ReduceOp.SUM, g, axis=None) for g in gradients])
            size = len(gradients) + len(missing[name])
            updates[name] = [None if index in missing[name] else next(reduced) for index in range(size)]
        if replicas > 1:
            losses = {name: strategy.gather(value, axis=0) for name, value in losses.items()}
        all_gradients = [g for gradients in updates.values() for g in gradients if g is not None]
        finite = tf.logical_and(common.all_finite(all_gradients), common.all_finite(list(losses.values())))
        if finite:
            algorithm.apply_updates(optimizers, updates)
        return losses, finite

    def run_step(episode):
        return step(distribution.split_speakers(strategy, episode))
    run_step.traced_function = step  # exposes tracing counts to tests and the benchmark
    return run_step


def _speaker_failing(losses) -> int:
    stacked = np.stack([np.asarray(v) for v in losses.values()])
    bad = np.where(~np.isfinite(stacked).all(axis=0))[0]
    return int(bad[0]) if len(bad) else -1


def _train_epoch(experiment, epoch, manifest, split, num_classes, step_fn, state, writer):
    """Runs one epoch of outer steps; returns the mean of each loss."""
    train = experiment.train
    dataset = episodes.episode_dataset(
        experiment.tfrecord_dir, manifest, split.train, train.segments_per_speaker,
        experiment.features, num_classes, train.seed, epoch, train.speakers_per_episode)
    steps = episodes.steps_per_epoch(manifest, split.train, train.segments_per_speaker)
    # In a log file (not a terminal) print one line per epoch instead of a redrawn bar.
    progress = keras.utils.Progbar(steps, verbose=1 if sys.stdout.isatty() else 2, unit_name="step")
    totals = {}
    chosen_speakers = list(split.train)
    iterator = iter(dataset)
    for index in range(steps):
        try:
            episode = next(iterator)
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
            raise episodes.damaged_shard_error(experiment.tfrecord_dir, manifest, split.train,
                                               experiment.features, error) from None
        losses, finite = step_fn(episode)
        means = {name: float(np.mean(value)) for name, value in losses.items()}
        if not bool(finite):
            speaker = _speaker_failing(losses)
            where = (f"epoch {epoch + 1}, step {index + 1}, speaker "
                     f"{chosen_speakers[speaker] if 0 <= speaker < len(chosen_speakers) and not train.speakers_per_episode else speaker}")
            if not experiment.skip_nonfinite:
                raise NonFiniteLossError(
                    f"non-finite loss or gradient at {where}; the step was not applied and "
                    f"{experiment.run_dir}/checkpoints/latest keeps the last good epoch. Lower the "
                    f"learning rates, check the data, or pass --skip_nonfinite to skip such steps.")
            print(f"warning: skipped a non-finite step at {where}")
            continue
        state["step"].assign_add(1)
        with writer.as_default(step=int(state["step"].numpy())):
            for name, value in means.items():
                tf.summary.scalar(f"train_step/{name}", value)
        for name, value in means.items():
            totals.setdefault(name, []).append(value)
        progress.update(index + 1, values=list(means.items()))
    return {name: float(np.mean(values)) for name, values in totals.items()}


def train_and_evaluate(experiment: config_lib.ExperimentConfig) -> dict:
    """Trains and evaluates one fold (see the module docstring).

    Returns:
      The results dict also written to run_dir/results.json.
    """
    started = time.time()
    manifest, split = check_data(experiment)
    strategy = distribution.build_strategy(experiment.strategy, experiment.num_cpu_devices)
    distribution.check_divisible(strategy, _episode_speakers(experiment, split))
    if not distribution.is_chief():
        # Non-chief workers save into a scratch directory of their own (TensorFlow's pattern
        # for multi-worker checkpoints); only the chief's run_dir is the run.
        worker = os.path.join(experiment.run_dir, "workers", str(os.getpid()))
        experiment = dataclasses.replace(experiment, run_dir=worker, export=False)
    os.makedirs(experiment.run_dir, exist_ok=True)
    with run_dir_lib.RunLock(experiment.run_dir):
        record = run_dir_lib.record_config(experiment, manifest, split)
        class_names = list(manifest["class_names"])
        with strategy.scope():
            algorithm, optimizers, state, checkpoint = build_training(experiment, len(class_names))
        checkpoints = os.path.join(experiment.run_dir, "checkpoints")
        latest = tf.train.CheckpointManager(checkpoint, os.path.join(checkpoints, "latest"), 2)
        best = tf.train.CheckpointManager(checkpoint, os.path.join(checkpoints, "best"), 1)
        if latest.latest_checkpoint:
            checkpoint.restore(latest.latest_checkpoint).assert_existing_objects_matched()
            print(f"resuming {experiment.run_dir} after epoch {int(state['epoch'].numpy())}")
        writer = tf.summary.create_file_writer(os.path.join(experiment.run_dir, "tensorboard"))
        step_fn = make_train_step(algorithm, optimizers, _episode_speakers(experiment, split),
                                  experiment.train.jit_compile, strategy)
        evaluator = evaluation.SpeakerEvaluator(
            algorithm, experiment.train.outer_learning_rate, experiment.train.test_adapt_steps,
            experiment.train.segments_per_speaker, experiment.train.seed,
            experiment.train.test_adapt_optimizer)
        validation = _held_out(experiment, manifest, split.validation, len(class_names))

        for epoch in range(int(state["epoch"].numpy()), experiment.train.epochs):
            print(f"epoch {epoch + 1}/{experiment.train.epochs} [{record['corpus']}, fold "
                  f"{experiment.fold}, {experiment.train.model}]")
            losses = _train_epoch(experiment, epoch, manifest, split, len(class_names), step_fn,
                                  state, writer)
            scores = evaluator.evaluate(*validation, class_names)
            state["epoch"].assign(epoch + 1)
            val_ua = scores["adapted"]["ua"]
            if val_ua > float(state["best_val_ua"].numpy()):
                state["best_val_ua"].assign(val_ua)
                state["best_epoch"].assign(epoch + 1)
                best.save(checkpoint_number=epoch + 1)
            latest.save(checkpoint_number=epoch + 1)
            with writer.as_default(step=epoch + 1):
                for name, value in losses.items():
                    tf.summary.scalar(f"loss/{name}", value)
                for mode in ("adapted", "no_adapt"):
                    tf.summary.scalar(f"validation/ua_{mode}", scores[mode]["ua"])
                    tf.summary.scalar(f"validation/wa_{mode}", scores[mode]["wa"])
            writer.flush()
            print(f"  validation {split.validation}: UA {val_ua:.4f} WA {scores['adapted']['wa']:.4f}"
                  f" (no adaptation: UA {scores['no_adapt']['ua']:.4f})")

        if best.latest_checkpoint:
            checkpoint.restore(best.latest_checkpoint).assert_existing_objects_matched()
        test = evaluator.evaluate(*_held_out(experiment, manifest, split.test, len(class_names)),
                                  class_names)
        results = _results(experiment, record, state, test, started)
        _write_outputs(experiment, results, writer)
    return results


def _episode_speakers(experiment, split) -> int:
    wanted = experiment.train.speakers_per_episode
    return wanted if 0 < wanted < len(split.train) else len(split.train)


def _held_out(experiment, manifest, speaker, num_classes):
    segments = episodes.speaker_segments(experiment.tfrecord_dir, manifest, speaker,
                                         experiment.features)
    return segments, episodes.class_weights(manifest, [speaker], num_classes)[0]


def _results(experiment, record, state, test, started) -> dict:
    adapted, plain = test["adapted"], test["no_adapt"]
    results = {
        "corpus": record["corpus"], "fold": experiment.fold,
        "aux": ("-" if experiment.train.model == "cnn_lstm"
                else "".join(task[0] for task in experiment.train.aux_tasks)),
        "model": experiment.train.model, "outer_update": experiment.train.outer_update,
        "preset": experiment.preset, "seed": experiment.train.seed,
        "val_speaker": record["val_speaker"], "test_speaker": record["test_speaker"],
        "ua": adapted["ua"], "wa": adapted["wa"], "ua_no_adapt": plain["ua"], "wa_no_adapt": plain["wa"],
        "confusion": adapted["confusion"], "confusion_no_adapt": plain["confusion"],
        "per_class_recall": adapted["per_class_recall"], "class_names": record["class_names"],
        "test_utterances": adapted["utterances"], "epochs": experiment.train.epochs,
        "best_epoch": int(state["best_epoch"].numpy()),
        "best_val_ua": float(state["best_val_ua"].numpy()),
        "seconds": round(time.time() - started, 1), "run_dir": experiment.run_dir,
    }
    if record["corpus"] == "synthetic":
        results["note"] = SYNTHETIC_NOTE
    return results


def _write_outputs(experiment, results, writer):
    title = (f"{results['model']} fold {results['fold']} aux {results['aux']} "
             f"[corpus: {results['corpus']}]")
    png = evaluation.confusion_matrix_png(results["confusion"], results["class_names"], title)
    with open(os.path.join(experiment.run_dir, "confusion_matrix.png"), "wb") as handle:
        handle.write(png)
    from tensorboard.plugins.hparams import api as hparams_api
    with writer.as_default(step=max(results["epochs"], 1)):
        tf.summary.image("test/confusion_matrix", tf.image.decode_png(png)[tf.newaxis])
        tf.summary.scalar("test/ua", results["ua"])
        tf.summary.scalar("test/wa", results["wa"])
        tf.summary.scalar("test/ua_no_adapt", results["ua_no_adapt"])
        tf.summary.scalar("test/wa_no_adapt", results["wa_no_adapt"])
        hparams_api.hparams({"model": results["model"], "aux": results["aux"],
                             "fold": results["fold"], "corpus": results["corpus"],
                             "outer_update": results["outer_update"], "preset": results["preset"],
                             "seed": results["seed"]})
    writer.flush()
    run_dir_lib.write_json(os.path.join(experiment.run_dir, "results.json"), results)


def corpus_label(corpus: str) -> str:
    """`corpus: NAME` with the synthetic caveat where it applies, for every printed summary."""
    return SYNTHETIC_NOTE if corpus == "synthetic" else f"corpus: {corpus}"
