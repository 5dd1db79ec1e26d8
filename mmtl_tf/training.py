"""The one training and evaluation loop shared by MMTL and the baselines.

`train_and_evaluate` runs a fold from prepared TFRecords to results.json:
1. Check the data: manifest feature settings, fold speakers, auxiliary labels present.
2. Build the algorithm's networks and optimizers; restore the latest checkpoint of the run
   directory if there is one (a rerun resumes where an interrupted run stopped, bit for bit:
   episodes depend only on (seed, epoch, position), and every validation ends with a checkpoint).
3. Outer steps (`mmtl_tf.schedule`: `train_steps`, or `epochs` passes over the largest
   speaker), one `tf.function` step per episode (traced once: fixed shapes). A step whose loss
   or gradient is not finite is not applied and stops the run naming the step and speaker (or
   is skipped with `skip_nonfinite`). Every `eval_every` steps: meta-test on the validation
   speaker, a `best` checkpoint when the smoothed validation UA improves, a `latest` checkpoint,
   TensorBoard summaries, a progress line with ETA; early stop after `patience` evaluations
   without improvement.
4. Restore the best checkpoint, meta-test the test speaker with and without adaptation, write
   results.json, a confusion-matrix PNG and TensorBoard's test scalars and confusion image.
"""

import dataclasses
import os
import time

import keras
import numpy as np
import tensorflow as tf

from mmtl_tf import checkpoints as checkpoints_lib
from mmtl_tf import distribution, episodes, evaluation, run_dir as run_dir_lib, summaries
from mmtl_tf import folds, results_file, shard_reader, tfrecords
from mmtl_tf import config as config_lib
from mmtl_tf import schedule as schedule_lib
from mmtl_tf.algorithms import build_algorithm, common


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
    split = folds.fold_split(manifest, experiment.fold, experiment.val_speaker)
    if experiment.train.model != "cnn_lstm":
        for task in experiment.train.aux_tasks:
            if not manifest["aux_available"].get(task, False):
                raise ValueError(f"--aux asks for {task}, but {manifest['corpus']} has no {task} "
                                 f"labels (-1 in {experiment.tfrecord_dir}); drop it from --aux")
    return manifest, split


def build_training(experiment, num_classes, num_evaluations: int = 1):
    """Seeds, the algorithm, its optimizers (built, so checkpoints restore into them) and a checkpoint.

    Args:
      experiment: the run's ExperimentConfig.
      num_classes: emotion classes.
      num_evaluations: validations in the whole run (the size of the checkpointed history).

    Returns:
      (algorithm, optimizers, state, checkpoint); `state` holds the checkpointed counters:
      `step` (outer steps done), `skipped_steps`, `evaluations`, `val_history` (validation
      UAs, float64 [num_evaluations]) and `elapsed_seconds` (training time of the processes
      that ran the run up to its last checkpoint, so a resumed run reports its whole time).
    """
    keras.utils.set_random_seed(experiment.train.seed)
    algorithm = build_algorithm(experiment.model, experiment.train, num_classes)
    optimizers = algorithm.build_optimizers()
    for name, optimizer in optimizers.items():
        optimizer.build(algorithm.optimizer_variables(name))
    state = {"step": tf.Variable(0, dtype=tf.int64), "skipped_steps": tf.Variable(0, dtype=tf.int64),
             "evaluations": tf.Variable(0, dtype=tf.int64),
             "val_history": tf.Variable(tf.zeros([max(num_evaluations, 1)], tf.float64)),
             checkpoints_lib.ELAPSED: tf.Variable(0.0, dtype=tf.float64)}
    return algorithm, optimizers, state, checkpoints_lib.run_checkpoint(algorithm, optimizers, state)


def make_train_step(algorithm, optimizers, total_speakers: int, jit_compile: bool = False,
                    strategy=None):
    """The outer step as a tf.function: updates are applied only when all are finite.

    Args:
      algorithm, optimizers: from `build_training` (built under `strategy.scope()`).
      total_speakers: m, speakers of a whole episode (the divisor of the mean over speakers).
      jit_compile: compile with XLA.
      strategy: a `tf.distribute.Strategy`; with several replicas each runs its share of the
        speakers (`distribution.split_speakers`), and the step sums their gradients with
        `strategy.reduce` before the optimizers apply them.

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

    # Plain graph code (tf.cond below): no AutoGraph conversion to pay per process.
    @tf.function(jit_compile=jit_compile, autograph=False)
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

        def apply():
            algorithm.apply_updates(optimizers, updates)
            return tf.constant(True)

        tf.cond(finite, apply, lambda: tf.constant(False))
        return losses, finite

    def run_step(episode):
        return step(distribution.split_speakers(strategy, episode))
    run_step.traced_function = step  # exposes tracing counts to tests and the benchmark
    return run_step


def failing_speaker(losses) -> int:
    """Index (in the episode) of the first speaker with a non-finite loss, or -1 if none.

    Args:
      losses: the per-speaker losses of an outer step, {name: [m] tensor}.
    """
    stacked = np.stack([np.asarray(v) for v in losses.values()])
    bad = np.where(~np.isfinite(stacked).all(axis=0))[0]
    return int(bad[0]) if len(bad) else -1


def _episode_stream(experiment, manifest, split, num_classes, schedule, start_step):
    """Yields the episodes of outer steps `start_step`, `start_step + 1`, ... epoch after epoch.

    Step s is episode `s % steps_per_epoch` of epoch `s // steps_per_epoch`, so a resumed run
    skips into the epoch it stopped in and sees exactly the episodes an uninterrupted run sees.
    One `episodes.run_episode_dataset` and one iterator serve the whole run (issue 17.2: a
    fresh pipeline per epoch made the peak resident memory creep up).
    """
    train = experiment.train
    epoch, index = schedule.epoch_and_index(start_step)
    iterator = iter(episodes.run_episode_dataset(
        experiment.tfrecord_dir, manifest, split.train, train.segments_per_speaker,
        experiment.features, num_classes, train.seed, epoch, train.speakers_per_episode,
        start_index=index, read_parallelism=train.parallel_episode_reads))
    while True:
        try:
            episode = next(iterator)
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
            raise shard_reader.damaged_shard_error(experiment.tfrecord_dir, manifest, split.train,
                                                   experiment.features, error) from None
        yield episode


def _nonfinite_step(experiment, split, losses, step, schedule):
    """Raises NonFiniteLossError naming the step and speaker, or warns under skip_nonfinite."""
    speaker = failing_speaker(losses)
    named = (split.train[speaker] if 0 <= speaker < len(split.train)
             and not experiment.train.speakers_per_episode else speaker)
    epoch = schedule.epoch_and_index(step - 1)[0] + 1
    where = f"epoch {epoch}, step {step}, speaker {named}"
    if not experiment.skip_nonfinite:
        kept = (f"{experiment.run_dir}/checkpoints/latest keeps the last validated step"
                if step > schedule.eval_every else "no step was validated yet")
        raise NonFiniteLossError(
            f"non-finite loss or gradient at {where}; the step was not applied and {kept}. "
            f"Check the data, or train again with lower learning rates (--rerun, or another "
            f"--run_dir: a resumed run keeps its settings), or pass --skip_nonfinite to skip "
            f"such steps.")
    print(f"warning: skipped a non-finite step at {where}")


def train_and_evaluate(experiment: config_lib.ExperimentConfig, restore: bool = True) -> dict:
    """Trains and evaluates one fold (see the module docstring).

    Under --strategy=multi_worker every worker trains, but only the chief writes the run
    directory; the others save their (collective) checkpoints to a scratch directory they
    remove at the end, resume from the chief's checkpoints, and write no results.

    Args:
      experiment: the fold's ExperimentConfig.
      restore: resume from the run directory's checkpoints (False: a --rerun, whose chief
        clears them, which a worker must not race to read).

    Returns:
      The results dict, also written to run_dir/results.json by the chief.
    """
    started = time.time()
    train = experiment.train
    manifest, split = check_data(experiment)
    strategy = distribution.build_strategy(experiment.strategy, experiment.num_cpu_devices)
    distribution.check_divisible(strategy, episode_speakers(experiment, split))
    chief, run_dir = distribution.is_chief(experiment.strategy), experiment.run_dir
    if not chief:  # saves into a scratch directory; resumes from the chief's checkpoints
        scratch = distribution.scratch_dir(os.path.join(run_dir, results_file.SCRATCH_FOLDER))
        experiment = dataclasses.replace(experiment, run_dir=scratch, export=False)
        distribution.remove_scratch_dir(experiment.run_dir)  # a killed predecessor's
    schedule = schedule_lib.run_schedule(train, manifest, split.train)
    os.makedirs(experiment.run_dir, exist_ok=True)
    with run_dir_lib.RunLock(experiment.run_dir):
        record = run_dir_lib.record_config(experiment, manifest, split)
        class_names = list(manifest["class_names"])
        with strategy.scope():
            algorithm, optimizers, state, checkpoint = build_training(
                experiment, len(class_names), schedule.num_evaluations)
        latest = tf.train.CheckpointManager(checkpoint, checkpoints_lib.checkpoint_dir(
            experiment.run_dir, checkpoints_lib.LATEST), 2)
        best = tf.train.CheckpointManager(checkpoint, checkpoints_lib.checkpoint_dir(
            experiment.run_dir, checkpoints_lib.BEST), 1)
        chief_best = checkpoints_lib.resume_run(algorithm, optimizers, state, checkpoint,
                                                run_dir, restore)
        # The time of earlier processes of this run (up to their last checkpoint), then ours.
        started -= float(state[checkpoints_lib.ELAPSED].numpy())
        writer = tf.summary.create_file_writer(os.path.join(experiment.run_dir, "tensorboard"))
        summaries.write_hparams(writer, experiment, record["corpus"])
        step_fn = make_train_step(algorithm, optimizers, episode_speakers(experiment, split),
                                  train.jit_compile, strategy)
        evaluator = evaluation.SpeakerEvaluator(
            algorithm, train.adapt_learning_rate, train.test_adapt_steps,
            train.segments_per_speaker, train.seed, train.test_adapt_optimizer)
        validation = _held_out(experiment, manifest, split.validation, len(class_names))

        step = int(state["step"].numpy())
        history = [float(v) for v in state["val_history"].numpy()[:int(state["evaluations"].numpy())]]
        selection = schedule_lib.select(history, train.selection_smoothing, train.patience)
        progress = summaries.Progress(schedule, step, experiment.preset)
        stream = _episode_stream(experiment, manifest, split, len(class_names), schedule, step)
        losses_since_eval = {}
        while step < schedule.total_steps and not selection.stop:
            losses, finite = step_fn(next(stream))
            step += 1
            state["step"].assign(step)
            if bool(finite):
                for name, value in losses.items():
                    losses_since_eval.setdefault(name, []).append(float(np.mean(value)))
            else:
                _nonfinite_step(experiment, split, losses, step, schedule)
                state["skipped_steps"].assign_add(1)
            progress.step_done(step)
            if step % schedule.eval_every and step < schedule.total_steps:
                continue
            # Validation (model selection only; the test speaker plays no part).
            scores = evaluator.evaluate(*validation, class_names)
            history.append(scores["adapted"]["ua"])
            state["val_history"][len(history) - 1].assign(history[-1])
            state["evaluations"].assign(len(history))
            selection = schedule_lib.select(history, train.selection_smoothing, train.patience)
            state[checkpoints_lib.ELAPSED].assign(time.time() - started)
            if selection.best_index == len(history) - 1:
                best.save(checkpoint_number=step)
            latest.save(checkpoint_number=step)
            means = {name: float(np.mean(values)) for name, values in losses_since_eval.items()}
            losses_since_eval = {}
            summaries.write_losses(writer, step, means)
            smoothed = schedule_lib.smoothed_scores(history, train.selection_smoothing)[-1]
            summaries.write_scores(writer, step, "validation", scores, {"ua_smoothed": smoothed})
            print(progress.validation_report(
                step, f"{record['corpus']}, fold {experiment.fold}, {train.model}", means,
                split.validation, scores, class_names, smoothed, selection), flush=True)

        skipped = int(state["skipped_steps"].numpy())  # the run's: restoring best rewinds it
        selected = best.latest_checkpoint or (None if chief else chief_best)
        if selected:
            checkpoints_lib.restore_run(algorithm, optimizers, state, checkpoint, selected)
        test = evaluator.evaluate_speakers(
            [_held_out(experiment, manifest, speaker, len(class_names)) for speaker in split.test],
            class_names)
        results = summaries.results_dict(experiment, record, selection, schedule, test, started,
                                         step, skipped)
        if chief:
            summaries.write_outputs(experiment, results, writer)
    if not chief:  # its results are the chief's; its scratch checkpoints are nobody's
        distribution.remove_scratch_dir(experiment.run_dir)
    return results


def episode_speakers(experiment, split) -> int:
    """m: the speakers of a fold's episodes (--speakers_per_episode, or every training speaker)."""
    wanted = experiment.train.speakers_per_episode
    return wanted if 0 < wanted < len(split.train) else len(split.train)


def _held_out(experiment, manifest, speaker, num_classes):
    segments = episodes.speaker_segments(experiment.tfrecord_dir, manifest, speaker,
                                         experiment.features)
    return segments, episodes.class_weights(manifest, [speaker], num_classes)[0]
