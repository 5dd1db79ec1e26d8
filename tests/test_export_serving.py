"""The export under TF Serving's loader and on awkward requests (mmtl_tf.export).

Every signature must run through the TF1 session loader of TF Serving (the loader `saved_model_cli
run` uses too) as `tf.saved_model.load` and the library compute it; fewer samples than one analysis
window (even a zero-width row) is an InvalidArgumentError naming num_samples, never a crash;
the network runs over chunks of segments with the values of one call; an unfinished run is
exported with a warning its metadata records; --version=0 is refused at parse time.
"""

import json
import os
import shutil
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from absl import app, flags

import trained_run
from conftest import run_command_in_process
from mmtl_tf import cli_app, export, export_cli, features, predict, run_dir as run_dir_lib

FEATURES = trained_run.FEATURE_CONFIG
RATE = FEATURES.sample_rate

# TF Serving's path: a TF1 Session, the SavedModel loader, tensors named by the SignatureDefs.
_SESSION_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    version_dir, folder = sys.argv[1], sys.argv[2]
    feeds = {"serving_default": {"waveform": np.load(folder + "/waveform.npy"),
                                 "num_samples": np.load(folder + "/num_samples.npy")},
             "spectrogram": {"spectrogram": np.load(folder + "/spectrogram.npy")},
             "metadata": {}}
    empty = {"waveform": np.zeros((1, 0), np.float32), "num_samples": np.zeros((1,), np.int32)}
    results = {}
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], version_dir)
        def run(name, values):
            signature = meta_graph.signature_def[name]
            fetches = {key: info.name for key, info in signature.outputs.items()}
            feed = {signature.inputs[key].name: value for key, value in values.items()}
            return session.run(fetches, feed_dict=feed)
        for name, values in feeds.items():
            outputs = {key: np.asarray(value) for key, value in run(name, values).items()}
            results[name] = {key: ([v.decode() for v in np.ravel(value)]
                                   if value.dtype.kind in "OS" else value.tolist())
                             for key, value in outputs.items()}
        try:
            run("serving_default", empty)
            results["empty_error"] = None
        except tf.errors.InvalidArgumentError as error:
            results["empty_error"] = error.message
    print(json.dumps(results))
""")

def _spectrogram(segments=3):
    return np.random.default_rng(0).standard_normal(
        (segments, FEATURES.max_frames, FEATURES.num_bins)).astype(np.float32)


def _library_segment_probabilities(spectrogram):
    algorithm = trained_run.trained_algorithm()
    return tf.nn.softmax(algorithm.emotion_logits(
        algorithm.meta_weights(), algorithm.head_weights(), tf.constant(spectrogram))).numpy()


@pytest.fixture(scope="module")
def children(tmp_path_factory):
    """The child processes of this file, run at the same time: (results, work folder)."""
    folder = tmp_path_factory.mktemp("serving_children")
    trained_run.save_request(folder)
    np.save(folder / "spectrogram.npy", _spectrogram())
    version_dir = trained_run.version_dir()
    # One child: a zero-width request used to kill the process (exit 139).
    commands = {"session": [sys.executable, "-c", _SESSION_SCRIPT, version_dir, str(folder)]}
    return trained_run.run_in_parallel(commands, str(folder)), folder


def test_every_signature_serves_through_the_session_loader(children):
    completed = children[0]["session"]
    assert completed.returncode == 0, completed.stderr
    served = json.loads(completed.stdout.strip().splitlines()[-1])
    loaded = tf.saved_model.load(trained_run.version_dir())
    batch, lengths = trained_run.padded(trained_run.two_utterances())
    eager = loaded.signatures["serving_default"](waveform=tf.constant(batch),
                                                 num_samples=tf.constant(lengths))
    expected = trained_run.reference_probabilities(trained_run.two_utterances())
    probabilities = np.array(served["serving_default"]["probabilities"])
    np.testing.assert_allclose(probabilities, eager["probabilities"].numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5, rtol=0)
    assert served["serving_default"]["class_index"] == expected.argmax(axis=1).tolist()
    assert served["serving_default"]["class_name"] == [
        name.decode() for name in eager["class_name"].numpy()]

    segment = np.array(served["spectrogram"]["probabilities"])
    eager_segment = loaded.signatures["spectrogram"](spectrogram=tf.constant(_spectrogram()))
    np.testing.assert_allclose(segment, eager_segment["probabilities"].numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(segment, _library_segment_probabilities(_spectrogram()),
                               atol=1e-5, rtol=0)

    metadata = served["metadata"]
    assert metadata["class_names"] == ["neu", "hap", "sad", "ang"]
    assert metadata["sample_rate_hz"] == RATE and metadata["corpus"] == ["synthetic"]
    assert served["empty_error"] and "num_samples" in served["empty_error"]
    assert f">= {FEATURES.window_samples}" in served["empty_error"]


def test_a_zero_width_request_is_an_error_not_a_crash(children):
    completed = children[0]["session"]  # it sends a zero-width request last
    assert completed.returncode == 0, f"exit {completed.returncode}: {completed.stderr[-2000:]}"
    error = json.loads(completed.stdout.strip().splitlines()[-1])["empty_error"]
    assert "num_samples" in error and f">= {FEATURES.window_samples}" in error
    # The feature path itself never reads past a row, whatever the lengths say.
    samples, lengths = features._concatenate_rows(  # pylint: disable=protected-access
        tf.ones([2, 3]), tf.constant([7, 0]))
    assert lengths.numpy().tolist() == [3, 1] and samples.numpy().tolist() == [1.0] * 4
    samples, lengths = features._concatenate_rows(  # pylint: disable=protected-access
        tf.zeros([1, 0]), tf.constant([0]))
    assert lengths.numpy().tolist() == [0] and samples.shape == (0,)


@pytest.mark.parametrize("lengths", [[0], [-5], [FEATURES.window_samples - 1],
                                     [RATE, FEATURES.window_samples - 1]])
def test_fewer_samples_than_one_window_is_an_invalid_argument(lengths):
    serve = tf.saved_model.load(trained_run.version_dir()).signatures["serving_default"]
    waveform = np.stack([trained_run.noisy_tone(1.0, RATE, seed=row)
                         for row in range(len(lengths))])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=f"num_samples .* must be >= {FEATURES.window_samples}"):
        serve(waveform=tf.constant(waveform), num_samples=tf.constant(lengths, tf.int32))


def test_one_window_is_enough_and_lengths_past_the_row_are_clipped():
    serve = tf.saved_model.load(trained_run.version_dir()).signatures["serving_default"]
    tone = trained_run.noisy_tone(1.0, RATE, seed=3)
    window = tone[:FEATURES.window_samples]
    outputs = serve(waveform=tf.constant(window[np.newaxis]),
                    num_samples=tf.constant([FEATURES.window_samples]))
    np.testing.assert_allclose(outputs["probabilities"].numpy(),
                               trained_run.reference_probabilities([window]), atol=1e-5, rtol=0)
    clipped = serve(waveform=tf.constant(tone[np.newaxis]), num_samples=tf.constant([10 * RATE]))
    np.testing.assert_allclose(clipped["probabilities"].numpy(),
                               trained_run.reference_probabilities([tone]), atol=1e-5, rtol=0)


def _module(chunk_segments, tmp_path):
    run = trained_run.run_dir()
    record = run_dir_lib.read_record(run)
    metadata = export.export_metadata(record)
    path = tmp_path / "metadata.json"
    path.write_text(json.dumps(metadata))
    return export.ServingModule(trained_run.trained_algorithm(), record, metadata, str(path),
                                chunk_segments=chunk_segments)


def test_the_network_runs_over_chunks_with_the_values_of_one_call(tmp_path):
    module = _module(4, tmp_path)
    calls = []
    single_call = module._segment_probabilities  # pylint: disable=protected-access

    def recorded(spectrogram):
        calls.append(int(spectrogram.shape[0]))
        return single_call(spectrogram)

    module._segment_probabilities = recorded  # pylint: disable=protected-access
    waveforms = [trained_run.noisy_tone(10.5, RATE, seed=4), trained_run.noisy_tone(4.5, RATE, seed=5)]
    batch, lengths = trained_run.padded(waveforms)  # 4 + 2 segments: chunks of 4 and 2
    tf.config.run_functions_eagerly(True)  # the loop body runs once per chunk, so calls show
    try:
        eager = module.serve_waveform(tf.constant(batch), tf.constant(lengths))
    finally:
        tf.config.run_functions_eagerly(False)
    assert calls == [4, 2]
    expected = trained_run.reference_probabilities(waveforms)  # one call over all 6 segments
    np.testing.assert_allclose(eager["probabilities"].numpy(), expected, atol=1e-6, rtol=0)
    traced = _module(4, tmp_path).serve_waveform(tf.constant(batch), tf.constant(lengths))
    np.testing.assert_allclose(traced["probabilities"].numpy(), expected, atol=1e-6, rtol=0)

    spectrogram = _spectrogram(7)  # chunks of 4 and 3
    chunked = _module(4, tmp_path).serve_spectrogram(tf.constant(spectrogram))["probabilities"]
    np.testing.assert_allclose(chunked.numpy(), _library_segment_probabilities(spectrogram),
                               atol=1e-6, rtol=0)


def test_predict_bounds_each_call_and_keeps_the_values():
    assert predict.batches([10, 200, 10, 10, 30], 16, 60) == [(0, 1), (1, 2), (2, 4), (4, 5)]
    assert predict.batches([5] * 5, 2) == [(0, 2), (2, 4), (4, 5)]
    _, model, _ = predict.load_export(trained_run.version_dir())
    waveforms = [trained_run.noisy_tone(seconds, RATE, seed) for seed, seconds
                 in enumerate([1.2, 4.5, 0.5, 2.0])]
    shapes = []
    serve = model.signatures["serving_default"]

    class Recording:  # pylint: disable=too-few-public-methods
        signatures = {"serving_default": lambda **inputs: shapes.append(
            tuple(inputs["waveform"].shape)) or serve(**inputs)}

    outputs = predict.predict_waveforms(Recording(), waveforms, max_batch_samples=4 * RATE)
    assert shapes == [(1, 1.2 * RATE), (1, 4.5 * RATE), (2, 2 * RATE)]  # [1.2], [4.5], [0.5, 2]
    np.testing.assert_allclose(outputs["probabilities"],
                               trained_run.reference_probabilities(waveforms), atol=1e-6, rtol=0)


def _interrupted_copy(tmp_path, train_steps=None):
    """A copy of the trained run without results.json (as a run stopped early leaves it)."""
    copy = tmp_path / "interrupted"
    shutil.copytree(trained_run.run_dir(), copy, ignore=shutil.ignore_patterns("export"))
    os.remove(copy / "results.json")
    if train_steps is not None:
        record = json.loads((copy / "config.json").read_text())
        record["experiment"]["train"]["train_steps"] = train_steps
        (copy / "config.json").write_text(json.dumps(record))
    return str(copy)


def test_an_unfinished_run_is_exported_with_a_warning(tmp_path, capsys):
    with open(os.path.join(trained_run.run_dir(), "results.json"), encoding="utf-8") as handle:
        results = json.load(handle)
    copy = _interrupted_copy(tmp_path / "by_epochs")
    status = export.training_status(copy, run_dir_lib.read_record(copy))
    assert status == {"finished": False, "step_reached": results["steps_trained"],
                      "exported_step": results["best_step"],
                      "planned_steps": results["train_steps"]}

    copy = _interrupted_copy(tmp_path / "by_steps", train_steps=6)
    capsys.readouterr()
    path = export.export_run(copy, chunk_segments=2)
    warnings = [line for line in capsys.readouterr().out.splitlines()
                if line.startswith("warning:")]
    assert len(warnings) == 1 and copy in warnings[0]
    assert f"stopped at step {results['steps_trained']} of 6 planned steps" in warnings[0]
    with open(os.path.join(path, "assets", export.METADATA_NAME), encoding="utf-8") as handle:
        training = json.load(handle)["training"]
    assert training == {"finished": False, "step_reached": results["steps_trained"],
                        "exported_step": results["best_step"], "planned_steps": 6}
    waveforms = [trained_run.noisy_tone(7.0, RATE, seed=6)]  # 3 segments: chunks of 2 and 1
    served = tf.saved_model.load(path).signatures["serving_default"](
        waveform=tf.constant(waveforms[0][np.newaxis]), num_samples=tf.constant([len(waveforms[0])]))
    np.testing.assert_allclose(served["probabilities"].numpy(),
                               trained_run.reference_probabilities(waveforms), atol=1e-5, rtol=0)

    with open(os.path.join(trained_run.version_dir(), "assets", export.METADATA_NAME),
              encoding="utf-8") as handle:
        assert json.load(handle)["training"]["finished"] is True
    # the command's line names the corpus, as predict's header does
    path = run_command_in_process("export_cli", f"--run_dir={copy}")
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"exported {copy} -> {path} (trained on corpus: {results['corpus']})")


def test_version_zero_is_refused_by_the_flag_and_by_export_run(tmp_path):
    with pytest.raises(app.UsageError, match="--version=0: must be >= 1"):
        run_command_in_process("export_cli", f"--run_dir={trained_run.run_dir()}",
                               f"--export_dir={tmp_path}", "--version=0")
    parsed = flags.FlagValues()
    cli_app.parse(["export_cli", "--run_dir=r", "--version=1"], export_cli.COMMAND, parsed)
    assert parsed.version == 1
    with pytest.raises(export.ExportError, match="positive integer"):
        export.export_run(trained_run.run_dir(), export_dir=str(tmp_path), version=0)
