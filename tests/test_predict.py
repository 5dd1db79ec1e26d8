"""Invariants of `python -m mmtl_tf.predict` on an exported model (mmtl_tf.predict).

The tiny run of tests/trained_run.py is exported once. Predictions must accept any sample rate,
channel count and length, equal a direct call of the `serving_default` signature, mark clips
too short to judge, carry the model's metadata, and every unusable input (file or model) must
get one error line naming it, with no traceback and a non-zero exit.
"""

import json
import os
import struct
import sys

import numpy as np
import pytest
import tensorflow as tf

import trained_run
from conftest import completed_in_process
from mmtl_tf import audio, export_format, predict

CLASS_NAMES = ["neu", "hap", "sad", "ang"]


def _float_wav(path, samples, sample_rate):
    """Writes mono 32-bit IEEE-float wav bytes (NaN allowed, unlike `audio.write_wav`)."""
    data = np.asarray(samples, "<f4").tobytes()
    header = (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE" + b"fmt "
              + struct.pack("<IHHIIHH", 16, 3, 1, sample_rate, sample_rate * 4, 4, 32)
              + b"data" + struct.pack("<I", len(data)))
    with open(path, "wb") as handle:
        handle.write(header + data)


@pytest.fixture(scope="module")
def wavs(tmp_path_factory):
    """Paths of two good files and of one file per kind of bad input."""
    root = tmp_path_factory.mktemp("wavs")
    paths = {"stereo_44k": str(root / "stereo_44k.wav"), "mono_7s": str(root / "mono_7s.wav"),
             "short_0.2s": str(root / "short_0.2s.wav")}
    audio.write_wav(paths["stereo_44k"], trained_run.noisy_tone(2.5, 44100, 3, channels=2), 44100)
    audio.write_wav(paths["mono_7s"], trained_run.noisy_tone(7.0, 16000, 4), 16000)
    audio.write_wav(paths["short_0.2s"], trained_run.noisy_tone(0.2, 16000, 6), 16000)
    bad = {name: str(root / f"{name}.wav") for name in
           ("missing", "not_a_wav", "corrupt_header", "empty", "no_samples", "too_short", "nan",
            "directory")}
    with open(bad["not_a_wav"], "w", encoding="utf-8") as handle:
        handle.write("transcript: this is a text file named .wav, not audio\n" * 4)
    with open(paths["mono_7s"], "rb") as handle:
        good_bytes = handle.read()
    with open(bad["corrupt_header"], "wb") as handle:  # data chunk claims 2 GB
        handle.write(good_bytes[:40] + struct.pack("<I", 0x7FFFFFFF) + good_bytes[44:4000])
    open(bad["empty"], "wb").close()
    _float_wav(bad["no_samples"], [], 16000)
    audio.write_wav(bad["too_short"], trained_run.noisy_tone(0.035, 8000, 5), 8000)  # 35 ms < 40 ms
    _float_wav(bad["nan"], np.where(np.arange(8000) % 100 == 0, np.nan, 0.1), 16000)
    os.makedirs(bad["directory"])
    return paths, bad


@pytest.fixture(scope="module")
def stored_feature_config():
    """The FeatureConfig stored in the export (what predict reads the window length from)."""
    return predict.load_export(trained_run.version_dir())[2]["feature_config"]


def _predict_command(*arguments):
    return [sys.executable, "-m", "mmtl_tf.predict", *arguments]


@pytest.fixture(scope="module")
def children(wavs, tmp_path_factory):
    """The predict runs of this file: the table in a process of its own (the command end to
    end, started from the shell's view: `python -m mmtl_tf.predict`); JSON, good plus bad
    files, and a run directory given as the model, in this process (`completed_in_process`:
    predict's `run` inside its error guard, as the command runs it)."""
    paths, bad = wavs
    export_dir = os.path.dirname(trained_run.version_dir())  # highest version is picked
    good = [paths["stereo_44k"], paths["mono_7s"]]
    table = trained_run.run_in_parallel({
        "table": _predict_command(f"--model_dir={export_dir}", *good),
    }, str(tmp_path_factory.mktemp("predict_children")))
    return {**table,
            "json": completed_in_process("predict", f"--model_dir={export_dir}", "--json", *good),
            "bad": completed_in_process("predict", f"--model_dir={trained_run.version_dir()}",
                                        paths["mono_7s"], *bad.values()),
            "not_an_export": completed_in_process("predict",
                                                  f"--model_dir={trained_run.run_dir()}",
                                                  paths["mono_7s"])}


def _direct(version_dir, paths):
    """serving_default called directly on the files, zero-padded into one batch."""
    model = tf.saved_model.load(version_dir)
    waveforms = [audio.read_wav(path, 16000) for path in paths]
    lengths = np.array([len(w) for w in waveforms], np.int32)
    batch = np.zeros((len(waveforms), lengths.max()), np.float32)
    for row, waveform in enumerate(waveforms):
        batch[row, :len(waveform)] = waveform
    outputs = model.signatures["serving_default"](waveform=tf.constant(batch),
                                                  num_samples=tf.constant(lengths))
    return outputs["probabilities"].numpy()


def test_table_and_json_match_the_signature(wavs, children):
    paths, _ = wavs
    files = [paths["stereo_44k"], paths["mono_7s"]]
    for name in ("table", "json"):
        assert children[name].returncode == 0, children[name].stderr
    table, document = children["table"].stdout, children["json"].stdout

    lines = table.strip().splitlines()
    assert lines[0].startswith("# model ") and "corpus: synthetic" in lines[0]
    assert lines[1] == ("# audio is converted to 16000 Hz mono; clips shorter than 1.00 s are "
                        "too short to judge")
    assert lines[2].split() == ["file", "seconds", "class", *CLASS_NAMES, "note"]
    for path, seconds, line in zip(files, (2.5, 7.0), lines[3:]):
        fields = line.split()
        assert fields[0] == path and float(fields[1]) == seconds and fields[2] in CLASS_NAMES
        assert sum(float(value) for value in fields[3:]) == pytest.approx(1.0, abs=1e-3)

    prediction = json.loads(document)
    assert prediction["model_dir"] == trained_run.version_dir()
    assert prediction["metadata"] == {"corpus": "synthetic", "class_names": CLASS_NAMES,
                                      "sample_rate_hz": 16000, "segment_seconds": 3.0,
                                      "min_clip_seconds": pytest.approx(1.0)}
    assert prediction["errors"] == []
    assert [result["file"] for result in prediction["results"]] == files
    assert [result["seconds"] for result in prediction["results"]] == [2.5, 7.0]
    assert [result["too_short"] for result in prediction["results"]] == [False, False]
    served = np.array([[r["probabilities"][n] for n in CLASS_NAMES] for r in prediction["results"]])
    np.testing.assert_allclose(served, _direct(trained_run.version_dir(), files), atol=1e-6, rtol=0)
    for result, row in zip(prediction["results"], served):
        assert result["class_index"] == int(row.argmax())
        assert result["class_name"] == CLASS_NAMES[result["class_index"]]


@pytest.mark.parametrize("case, message", [
    ("missing", "file not found"), ("not_a_wav", "not a RIFF/WAVE file"),
    ("corrupt_header", "truncated file"), ("empty", "the file is empty"),
    ("no_samples", "holds no samples"), ("too_short", "shorter than one analysis window"),
    ("nan", "NaN"), ("directory", "not a regular file"),
])
def test_each_bad_input_is_named(wavs, stored_feature_config, case, message):
    _, bad = wavs
    waveforms, errors = predict.read_audio([bad[case]], stored_feature_config)
    assert waveforms == {}
    assert list(errors) == [bad[case]]
    assert errors[bad[case]].startswith(bad[case]) and message in errors[bad[case]]
    if case == "too_short":
        assert f"({stored_feature_config.window_ms} ms)" in errors[bad[case]]


def test_cli_reports_bad_files_and_keeps_the_good_ones(wavs, children):
    paths, bad = wavs
    completed = children["bad"]
    assert completed.returncode != 0
    assert "Traceback" not in completed.stderr
    error_lines = [line for line in completed.stderr.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == len(bad)
    for path, line in zip(bad.values(), error_lines):
        assert line.startswith(f"error: {path}")
    results = completed.stdout.strip().splitlines()[3:]
    assert len(results) == 1 and results[0].startswith(paths["mono_7s"])


def test_a_clip_shorter_than_the_model_judges_is_marked(wavs):
    paths, _ = wavs
    files = [paths["short_0.2s"], paths["stereo_44k"]]
    prediction = predict.predict_files(trained_run.version_dir(), files)
    short, long = prediction["results"]
    assert (short["seconds"], short["too_short"]) == (0.2, True)
    assert (long["seconds"], long["too_short"]) == (2.5, False)
    assert short["class_name"] in CLASS_NAMES  # still predicted, but marked
    served = _direct(trained_run.version_dir(), files)
    np.testing.assert_allclose([[r["probabilities"][n] for n in CLASS_NAMES]
                                for r in prediction["results"]], served, atol=1e-6, rtol=0)
    rows = predict.format_table(prediction).splitlines()[3:]
    assert rows[0].startswith(paths["short_0.2s"]) and rows[0].endswith(
        "too short to judge (< 1.00 s)")
    assert rows[1].startswith(paths["stereo_44k"]) and "too short" not in rows[1]


def test_digital_silence_is_marked(wavs, tmp_path):
    paths, _ = wavs
    silent = str(tmp_path / "silent.wav")
    rate = trained_run.FEATURE_CONFIG.sample_rate
    audio.write_wav(silent, np.zeros(2 * rate, np.float32), rate)
    prediction = predict.predict_files(trained_run.version_dir(), [silent, paths["stereo_44k"]])
    assert [result["silent"] for result in prediction["results"]] == [True, False]
    rows = predict.format_table(prediction).splitlines()[3:]
    assert rows[0].endswith("digital silence") and "silence" not in rows[1]


class _Half(tf.Module):
    """A SavedModel with a serving_default signature and some of mmtl_tf's metadata."""

    def __init__(self, feature_config_json):
        super().__init__()
        self.class_names = tf.Variable(CLASS_NAMES)
        self.feature_config_json = tf.Variable(feature_config_json)
        self.serve = tf.function(lambda x: {"y": x},
                                 input_signature=[tf.TensorSpec([None], tf.float32)])


def test_not_an_export_is_a_clear_error(tmp_path, children):
    completed = children["not_an_export"]
    assert completed.returncode != 0 and "Traceback" not in completed.stderr
    assert f"error: {trained_run.run_dir()} is not an export" in completed.stderr

    with pytest.raises(export_format.ExportError, match="model directory not found"):
        export_format.resolve_version_dir(str(tmp_path / "absent"))
    # RUN/export of a run trained with --noexport (the smoke preset): say how to export it
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    with pytest.raises(export_format.ExportError) as raised:
        export_format.resolve_version_dir(str(tmp_path / "run" / "export"))
    assert str(raised.value) == (
        f"{tmp_path / 'run' / 'export'}: not found: the run {tmp_path / 'run'} has no export "
        f"(trained with --export=false?); export it with `python -m mmtl_tf.export "
        f"--run_dir={tmp_path / 'run'}`")
    other = tmp_path / "other_saved_model"
    tf.saved_model.save(tf.Module(), str(other))
    with pytest.raises(export_format.ExportError, match="not an mmtl_tf export .* "
                                                        "serving_default signature"):
        predict.load_export(str(other))
    for name, feature_config_json, message in (
            ("no_corpus", "{}", "not an mmtl_tf export (it has no corpus)"),
            ("damaged", "{not json", "stored class names or feature config are damaged")):
        module = _Half(feature_config_json)
        if name == "damaged":
            module.corpus = tf.Variable("synthetic")
        tf.saved_model.save(module, str(tmp_path / name),
                            signatures={"serving_default": module.serve.get_concrete_function()})
        with pytest.raises(export_format.ExportError) as raised:
            predict.load_export(str(tmp_path / name))
        assert str(raised.value).startswith(str(tmp_path / name)) and message in str(raised.value)


def test_model_dir_resolves_to_the_highest_version(tmp_path):
    for version in ("2", "10", "9"):
        os.makedirs(tmp_path / version)
        (tmp_path / version / "saved_model.pb").write_bytes(b"")
    os.makedirs(tmp_path / "11")  # no saved_model.pb: not a version
    assert export_format.resolve_version_dir(str(tmp_path)) == str(tmp_path / "10")
    assert export_format.resolve_version_dir(str(tmp_path / "9")) == str(tmp_path / "9")
    assert export_format.existing_versions(str(tmp_path)) == [2, 9, 10, 11]
    assert export_format.existing_versions(str(tmp_path), complete_only=True) == [2, 9, 10]
