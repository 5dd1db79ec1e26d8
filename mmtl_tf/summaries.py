"""What a run reports: TensorBoard scalars and HParams, console progress, results.json.

Scalar names are alike for validation and test (`validation/ua`, `test/ua`, with `_no_adapt`
for the unadapted model), each with a description TensorBoard shows. The HParams session is
written when training starts, so unfinished runs are listed in TensorBoard's HParams table too.
"""

import os
import time

import tensorflow as tf

from mmtl_tf import atomic_files, confusion_plot, folds, labels, results_file
from mmtl_tf.corpus_notes import SYNTHETIC_NOTE, corpus_label  # noqa: F401 (re-exported)

_DESCRIPTIONS = {
    "ua": "Unweighted accuracy (mean per-class recall over utterances) after meta-test "
          "adaptation on the speaker's auxiliary tasks (paper sections 2.4, 3.1.2).",
    "wa": "Weighted accuracy (utterance accuracy) after meta-test adaptation.",
    "ua_no_adapt": "Unweighted accuracy of the trained model without adaptation.",
    "wa_no_adapt": "Weighted accuracy of the trained model without adaptation.",
    "ua_smoothed": "Model-selection score: mean validation UA over the last "
                   "--selection_smoothing evaluations.",
}


def aux_letters(train) -> str:
    """The run's auxiliary-task letters ("vad"), or "-" for cnn_lstm, which has none."""
    return "-" if train.model == "cnn_lstm" else labels.letters_of(train.aux_tasks)


def hparams_of(experiment, corpus: str) -> dict:
    """The HParams of a run (one session per run in TensorBoard's HParams table)."""
    train = experiment.train
    return {"model": train.model, "aux": aux_letters(train),
            "fold": experiment.fold, "corpus": corpus, "outer_update": train.outer_update,
            "preset": experiment.preset, "seed": train.seed}


def write_hparams(writer, experiment, corpus: str) -> None:
    """Writes the run's HParams session start (done before training)."""
    from tensorboard.plugins.hparams import api as hparams_api
    with writer.as_default(step=0):
        hparams_api.hparams(hparams_of(experiment, corpus))
    writer.flush()


def write_scores(writer, step: int, prefix: str, scores: dict, extra=None) -> None:
    """Writes `<prefix>/ua`, `/wa`, `/ua_no_adapt`, `/wa_no_adapt` (and `extra` {name: value})."""
    values = {"ua": scores["adapted"]["ua"], "wa": scores["adapted"]["wa"],
              "ua_no_adapt": scores["no_adapt"]["ua"], "wa_no_adapt": scores["no_adapt"]["wa"]}
    values.update(extra or {})
    with writer.as_default(step=step):
        for name, value in values.items():
            tf.summary.scalar(f"{prefix}/{name}", value, description=_DESCRIPTIONS.get(name))
    writer.flush()


def write_losses(writer, step: int, losses: dict, prefix: str = "loss") -> None:
    """Writes mean losses of the last steps (Eq. 4: support_loss, Eq. 5: transfer_loss,
    Eq. 6-7: query_loss)."""
    with writer.as_default(step=step):
        for name, value in losses.items():
            tf.summary.scalar(f"{prefix}/{name}", value)


class Progress:
    """Console progress: the plan after the first timed step, then a line per evaluation with ETA."""

    def __init__(self, schedule, start_step: int, preset: str, log=print):
        self.schedule = schedule
        self.start_step = start_step
        self.preset = preset
        self.log = log
        self.started = time.time()
        self.first_step_done = None
        self.planned = False

    def step_done(self, step: int) -> None:
        """Call after each outer step (1-based `step` completed); prints the plan once."""
        now = time.time()
        if self.first_step_done is None:
            self.first_step_done = now  # the first step includes tracing: time from the second
            return
        if self.planned:
            return
        self.planned = True
        per_step = now - self.first_step_done
        left = self.schedule.total_steps - step
        self.log(f"plan: {self.schedule.total_steps} outer steps ({self.schedule.steps_per_epoch} "
                 f"per epoch, {self.schedule.epochs:.1f} epochs), validation every "
                 f"{self.schedule.eval_every} steps; {per_step:.2f} s per step here, about "
                 f"{_duration(left * per_step)} of training left (plus validations)")
        if self.preset == "paper" and not tf.config.list_physical_devices("GPU"):
            self.log("  no GPU: the paper preset (Table 1 network) is slow on a CPU; "
                     "--flagfile=flags/demo.cfg runs the same algorithm with a smaller network")

    def line(self, step: int) -> str:
        """`step 120/400 (30%), 2m10s elapsed, ETA 5m03s` for the steps done in this process."""
        total = self.schedule.total_steps
        elapsed = time.time() - self.started
        done_here = max(step - self.start_step, 1)
        eta = elapsed / done_here * (total - step)
        return (f"step {step}/{total} ({100 * step / max(total, 1):.0f}%), "
                f"{_duration(elapsed)} elapsed, ETA {_duration(eta)}")


    def validation_report(self, step: int, header: str, means: dict, speaker: str, scores: dict,
                          class_names, smoothed: float, selection) -> str:
        """The lines printed after a validation: progress, mean losses, the validation scores
        (naming a collapse to one class) and the model selection (`schedule.select`'s)."""
        best = selection.best_index
        best_step = self.schedule.evaluation_step(best) if best >= 0 else "-"
        return (f"{self.line(step)} [{header}]"
                f"\n  losses: " + ", ".join(f"{n} {v:.4f}" for n, v in means.items())
                + f"\n  validation {speaker}: UA {scores['adapted']['ua']:.4f} WA "
                f"{scores['adapted']['wa']:.4f}{_one_class(scores['adapted'], class_names)} "
                f"(no adaptation: UA {scores['no_adapt']['ua']:.4f})"
                f"; selection score {smoothed:.4f}, best {selection.best_score:.4f} at step "
                f"{best_step}" + ("; stopping early (--patience)" if selection.stop else ""))


def _one_class(metrics, class_names) -> str:
    """", every utterance predicted <class>" when the validation predictions collapsed."""
    name = results_file.single_predicted_class(metrics["confusion"], class_names)
    return f", every utterance predicted {name}" if name else ""


def _duration(seconds: float) -> str:
    seconds = int(round(max(seconds, 0)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def results_dict(experiment, record, selection, schedule, test, started, stopped_at: int,
                 skipped_steps: int) -> dict:
    """The results.json of a run (test scores of the selected checkpoint, corpus named); `test`
    is `evaluation.SpeakerEvaluator.evaluate_speakers` over the fold's test speakers."""
    adapted, plain = test["adapted"], test["no_adapt"]
    train = experiment.train
    best_step = schedule.evaluation_step(selection.best_index)
    results = {
        "corpus": record["corpus"], "fold": experiment.fold,
        "aux": aux_letters(train),
        "model": train.model, "outer_update": train.outer_update,
        "preset": experiment.preset, "seed": train.seed,
        "val_speaker": record["val_speaker"], "test_speaker": record["test_speaker"],
        "ua": adapted["ua"], "wa": adapted["wa"], "ua_no_adapt": plain["ua"], "wa_no_adapt": plain["wa"],
        "confusion": adapted["confusion"], "confusion_no_adapt": plain["confusion"],
        "per_class_recall": adapted["per_class_recall"], "class_names": record["class_names"],
        "test_utterances": adapted["utterances"], "epochs": train.epochs,
        "train_steps": schedule.total_steps, "steps_trained": stopped_at,
        "skipped_steps": skipped_steps, "best_step": best_step,
        "best_epoch": -(-best_step // schedule.steps_per_epoch) if selection.best_index >= 0 else -1,
        "best_val_score": selection.best_score,
        "seconds": round(time.time() - started, 1), "run_dir": experiment.run_dir,
        # Each test speaker alone (the scores above are over all of them together).
        "test_per_speaker": {
            speaker: {"ua": scores["adapted"]["ua"], "wa": scores["adapted"]["wa"],
                      "ua_no_adapt": scores["no_adapt"]["ua"],
                      "wa_no_adapt": scores["no_adapt"]["wa"],
                      "utterances": scores["adapted"]["utterances"]}
            for speaker, scores in zip(folds.recorded_test_speakers(record), test["per_speaker"])},
    }
    if record["corpus"] == "synthetic":
        results["note"] = SYNTHETIC_NOTE
    return results


def write_outputs(experiment, results, writer) -> None:
    """Writes the test summaries, confusion_matrix.png and results.json (last, atomically)."""
    title = (f"{results['model']} fold {results['fold']} aux {results['aux']} "
             f"[corpus: {results['corpus']}]")
    png = confusion_plot.confusion_matrix_png(results["confusion"], results["class_names"], title)
    atomic_files.write_bytes(os.path.join(experiment.run_dir, "confusion_matrix.png"), png)
    step = max(results["steps_trained"], 1)
    with writer.as_default(step=step):
        tf.summary.image("test/confusion_matrix", tf.image.decode_png(png)[tf.newaxis],
                         description="Test speaker's confusion matrix after adaptation "
                                     "(rows true, columns predicted; utterance counts).")
    scores = {"adapted": {"ua": results["ua"], "wa": results["wa"]},
              "no_adapt": {"ua": results["ua_no_adapt"], "wa": results["wa_no_adapt"]}}
    write_scores(writer, step, "test", scores)
    atomic_files.write_json(os.path.join(experiment.run_dir, "results.json"), results)
