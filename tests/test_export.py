"""Invariants of the SavedModel export (mmtl_tf.export, mmtl_tf.export_cli).

One tiny run is trained and exported once (tests/trained_run.py). The export must list its
signatures to `saved_model_cli`, load in a process that imports nothing but TensorFlow and give
the library's utterance posteriors there, answer a TF Serving REST row-format request, hold the
weights as variables, carry its metadata (asset, variables and the `metadata` signature), never
leave a half-written version, and refuse to overwrite unless asked. The child processes (each
spends seconds importing TensorFlow) run at the same time, from one module fixture.
"""

import glob
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow as tf

import trained_run
from conftest import run_command_in_process
from mmtl_tf import export, run_dir as run_dir_lib

SAVED_MODEL_CLI = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
RATE = trained_run.FEATURE_CONFIG.sample_rate
CLASS_NAMES = ["neu", "hap", "sad", "ang"]


_FRESH_PROCESS_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    model = tf.saved_model.load(sys.argv[1])
    outputs = model.signatures["serving_default"](
        waveform=tf.constant(np.load(sys.argv[2])), num_samples=tf.constant(np.load(sys.argv[3])))
    print(json.dumps({"loaded_mmtl": any(m.startswith("mmtl_tf") for m in sys.modules),
                      "probabilities": outputs["probabilities"].numpy().tolist(),
                      "class_index": outputs["class_index"].numpy().tolist(),
                      "class_name": [n.decode() for n in outputs["class_name"].numpy()]}))
""")


@pytest.fixture(scope="module")
def children(tmp_path_factory):
    """The child processes of this file, run at the same time: (their results, work folder)."""
    folder = tmp_path_factory.mktemp("children")
    trained_run.save_request(folder)
    version_dir = trained_run.version_dir()
    commands = {
        "show": [SAVED_MODEL_CLI, "show", "--all", "--dir", version_dir],
        "fresh": [sys.executable, "-c", _FRESH_PROCESS_SCRIPT, version_dir,
                  str(folder / "waveform.npy"), str(folder / "num_samples.npy")],
        "cli": [sys.executable, "-m", "mmtl_tf.export", f"--run_dir={trained_run.run_dir()}",
                f"--export_dir={folder / 'served'}", "--version=7"],
    }
    return trained_run.run_in_parallel(commands, str(folder)), folder


def test_saved_model_cli_lists_the_signatures(children):
    shown = children[0]["show"]
    assert shown.returncode == 0, shown.stderr
    for signature in ("serving_default", "spectrogram", "metadata"):
        assert f"signature_def['{signature}']" in shown.stdout
    for name in ("inputs['waveform']", "inputs['num_samples']", "outputs['probabilities']",
                 "outputs['class_index']", "outputs['class_name']", "inputs['spectrogram']",
                 "outputs['sample_rate_hz']", "outputs['min_clip_seconds']"):
        assert name in shown.stdout


def test_fresh_process_export_matches_library(children):
    completed = children[0]["fresh"]
    assert completed.returncode == 0, completed.stderr
    served = json.loads(completed.stdout.strip().splitlines()[-1])
    assert not served["loaded_mmtl"]
    expected = trained_run.reference_probabilities(trained_run.two_utterances())
    assert expected.shape == (2, 4)
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-5, rtol=0)
    assert served["class_index"] == expected.argmax(axis=1).tolist()
    assert served["class_name"] == [CLASS_NAMES[i] for i in served["class_index"]]


def test_spectrogram_signature_gives_segment_posteriors():
    model = tf.saved_model.load(trained_run.version_dir())
    rng = np.random.default_rng(0)
    features = trained_run.FEATURE_CONFIG
    spectrogram = rng.standard_normal((3, features.max_frames, features.num_bins))
    spectrogram = spectrogram.astype(np.float32)
    served = model.signatures["spectrogram"](spectrogram=tf.constant(spectrogram))["probabilities"]
    algorithm = trained_run.trained_algorithm()
    expected = tf.nn.softmax(algorithm.emotion_logits(
        algorithm.meta_weights(), algorithm.head_weights(), tf.constant(spectrogram)))
    np.testing.assert_allclose(served.numpy(), expected.numpy(), atol=1e-5, rtol=0)


def test_rest_row_format_request_round_trip():
    waveforms = trained_run.two_utterances()
    batch, lengths = trained_run.padded(waveforms)  # row format: every instance has the same shape
    request = json.dumps({"signature_name": "serving_default", "instances": [
        {"waveform": row.tolist(), "num_samples": int(length)}
        for row, length in zip(batch, lengths)]})

    # What the server does with the row format: stack each named input across instances.
    body = json.loads(request)
    model = tf.saved_model.load(trained_run.version_dir())
    signature = model.signatures[body["signature_name"]]
    specs = signature.structured_input_signature[1]
    inputs = {name: tf.constant(np.array([instance[name] for instance in body["instances"]]),
                                dtype=specs[name].dtype) for name in specs}
    outputs = {name: value.numpy() for name, value in signature(**inputs).items()}
    predictions = [{name: (value[row].decode() if value.dtype == object else value[row].tolist())
                    for name, value in outputs.items()} for row in range(len(body["instances"]))]
    response = json.loads(json.dumps({"predictions": predictions}))

    assert len(response["predictions"]) == 2
    for prediction in response["predictions"]:
        assert set(prediction) == {"probabilities", "class_index", "class_name"}
        assert len(prediction["probabilities"]) == 4
        assert sum(prediction["probabilities"]) == pytest.approx(1.0, abs=1e-5)
        assert prediction["class_name"] == CLASS_NAMES[prediction["class_index"]]
    np.testing.assert_allclose([p["probabilities"] for p in response["predictions"]],
                               trained_run.reference_probabilities(waveforms), atol=1e-5, rtol=0)


def test_export_carries_metadata_and_flags():
    version_dir = trained_run.version_dir()
    assets = os.path.join(version_dir, "assets")
    with open(os.path.join(assets, export.METADATA_NAME), encoding="utf-8") as handle:
        metadata = json.load(handle)
    assert metadata["corpus"] == "synthetic"
    assert metadata["class_names"] == CLASS_NAMES
    assert metadata["feature_config"] == trained_run.FEATURE_CONFIG.to_dict()
    assert metadata["experiment"]["model"]["lstm_units"] == 8
    with open(os.path.join(assets, "flags.txt"), encoding="utf-8") as handle:
        assert handle.read() == trained_run.FLAGS_TEXT
    assert (metadata["sample_rate_hz"], metadata["segment_seconds"]) == (RATE, 3.0)
    assert metadata["min_clip_seconds"] == pytest.approx(1.0)
    assert set(metadata["signatures"]) == {"serving_default", "spectrogram", "metadata"}
    model = tf.saved_model.load(version_dir)
    assert [n.decode() for n in model.class_names.numpy()] == CLASS_NAMES
    assert model.corpus.numpy() == b"synthetic"
    assert json.loads(model.feature_config_json.numpy()) == trained_run.FEATURE_CONFIG.to_dict()
    assert json.loads(model.experiment_json.numpy())["train"]["epochs"] == 1
    constants = {name: value.numpy() for name, value in model.signatures["metadata"]().items()}
    assert constants["sample_rate_hz"] == RATE and constants["corpus"] == b"synthetic"
    assert [n.decode() for n in constants["class_names"]] == CLASS_NAMES
    assert constants["min_clip_seconds"] == pytest.approx(metadata["min_clip_seconds"])
    assert json.loads(constants["feature_config_json"]) == metadata["feature_config"]


def test_weights_are_saved_as_variables_once():
    stored = dict(tf.train.list_variables(
        os.path.join(trained_run.version_dir(), "variables", "variables")))
    algorithm = trained_run.trained_algorithm()
    expected = {f"network_variables/{network}/{index}/.ATTRIBUTES/VARIABLE_VALUE": list(w.shape)
                for network, model in algorithm.networks().items()
                for index, w in enumerate(model.weights)}
    assert len(expected) == sum(len(model.trainable_variables)
                                for model in algorithm.networks().values())
    assert {name: shape for name, shape in stored.items() if name in expected} == expected
    metadata = {"class_names", "corpus", "experiment_json", "feature_config_json"}
    assert set(stored) - set(expected) == {"_CHECKPOINTABLE_OBJECT_GRAPH"} | {
        f"{name}/.ATTRIBUTES/VARIABLE_VALUE" for name in metadata}  # no second copy


def test_versions_default_refuse_and_overwrite(tmp_path, caplog):
    export_dir = tmp_path / "export"
    os.makedirs(export_dir / "3")
    os.makedirs(export_dir / "notes")
    with caplog.at_level(logging.INFO):
        path = export.export_run(trained_run.run_dir(), export_dir=str(export_dir))
    assert path == str(export_dir / "4")
    assert "Assets written to" in caplog.text  # TensorFlow's INFO lines are captured here...
    assert "renamed" not in caplog.text  # ...but none about renamed input names
    with pytest.raises(export.ExportError, match="already exists"):
        export.export_run(trained_run.run_dir(), export_dir=str(export_dir), version=4)
    with open(os.path.join(path, "marker"), "w", encoding="utf-8") as handle:
        handle.write("old")
    assert export.export_run(trained_run.run_dir(), export_dir=str(export_dir), version=4,
                             overwrite=True) == path
    assert not os.path.exists(os.path.join(path, "marker"))
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))
    assert sorted(os.listdir(export_dir)) == ["3", "4", "notes"]  # no staging left behind


def test_failed_export_leaves_no_version(tmp_path, monkeypatch):
    def half_written(module, directory, signatures=None):
        os.makedirs(os.path.join(directory, "variables"))
        with open(os.path.join(directory, "saved_model.pb"), "wb") as handle:
            handle.write(b"partial")
        raise KeyboardInterrupt("killed mid-save")

    monkeypatch.setattr(export.tf.saved_model, "save", half_written)
    with pytest.raises(KeyboardInterrupt):
        export.export_run(trained_run.run_dir(), export_dir=str(tmp_path), version=1)
    assert os.listdir(tmp_path) == []
    with pytest.raises(export.ExportError, match="positive integer"):
        export.export_run(trained_run.run_dir(), export_dir=str(tmp_path), version=0)


def test_cli_exports_and_reports_a_bad_run_dir_in_one_line(children, tmp_path, capsys):
    results, folder = children
    completed = results["cli"]
    assert completed.returncode == 0, completed.stderr
    assert str(folder / "served" / "7") in completed.stdout
    assert os.path.isfile(folder / "served" / "7" / "saved_model.pb")

    capsys.readouterr()  # the bad run directory: the command's body, in this process
    with pytest.raises(SystemExit) as exit_info:
        run_command_in_process("export_cli", f"--run_dir={tmp_path / 'no_such_run'}")
    assert exit_info.value.code == 1
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert str(tmp_path / "no_such_run") in errors[0] and "not a run directory" in errors[0]


def test_a_bad_run_dir_is_a_run_dir_error_and_export_errors_are_value_errors(tmp_path):
    assert issubclass(export.ExportError, ValueError)
    assert not issubclass(export.ExportError, run_dir_lib.RunDirError)
    (tmp_path / "config.json").write_text(json.dumps({"experiment": {"features": {}}}))
    with pytest.raises(run_dir_lib.RunDirError, match="config.json: not a config.json this "
                                                      "version of mmtl_tf can read"):
        export.export_run(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["config.json"]


def _wait_for(condition, process, timeout=300.0):
    """Polls until `condition()` holds; False when the process ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if process.poll() is not None:
            return condition()
        time.sleep(0.02)
    raise TimeoutError("the export made no progress")


def test_export_killed_mid_write_then_rerun_equals_clean_export(tmp_path):
    """SIGKILL `python -m mmtl_tf.export` once staging starts and once the SavedModel is half
    written; a version directory is never partial, and a rerun (`export.export_run`, in this
    process) equals a clean export."""
    run = trained_run.run_dir()
    target = tmp_path / "served"
    command = [sys.executable, "-m", "mmtl_tf.export", f"--run_dir={run}", f"--export_dir={target}",
               "--version=1"]

    def staging(*parts):
        return lambda: any(os.path.exists(os.path.join(folder, *parts))
                           for folder in glob.glob(str(target / ".export-*")))

    kills = 0
    for marker in (staging(), staging("saved_model", "variables")):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   env=trained_run.subprocess_environment())
        assert _wait_for(marker, process), "the export ended before writing anything"
        process.send_signal(signal.SIGKILL)
        if process.wait() == -signal.SIGKILL:
            kills += 1
            assert not (target / "1").exists()
        else:  # it finished between the marker and the kill: whole, then
            assert (target / "1" / "saved_model.pb").is_file()
            shutil.rmtree(target / "1")
    assert kills and glob.glob(str(target / ".export-*"))  # what the killed exports left behind
    # The rerun in-process: the CLI's own run is checked by `children` ("cli").
    assert export.export_run(run, export_dir=str(target), version=1) == str(target / "1")
    assert sorted(os.listdir(target)) == ["1"]  # abandoned staging folders were swept
    waveform = np.random.default_rng(0).normal(scale=0.1, size=(1, 40000)).astype("float32")
    outputs = [tf.saved_model.load(path).signatures["serving_default"](
        waveform=tf.constant(waveform), num_samples=tf.constant([40000], tf.int32))["probabilities"].numpy()
        for path in (str(target / "1"), trained_run.version_dir())]
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-6)
