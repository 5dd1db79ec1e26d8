"""The flag layer in-process (mmtl_tf.cli_flag_groups, cli_flags, flag_configs, cli_app.parse):
ranges and relations checked at parse time naming the flag, presets, --help, flags.txt, corpus
choice."""

import os
import subprocess
import sys

import pytest
from absl import app
from absl import flags

from conftest import REPO
from mmtl_tf import cli_app, cli_flag_groups, cli_flags, config, flag_configs, presets


def parse(command, *arguments, extra_flags=()):
    """Parses `arguments` for `command` into a fresh FlagValues (plus foreign `extra_flags`)."""
    flag_values = flags.FlagValues()
    for name in extra_flags:  # as importing TensorFlow registers absltest's flags
        flags.DEFINE_string(name, "x", "foreign", flag_values=flag_values)
    cli_app.parse(["prog", *arguments], command, flag_values)
    return flag_values


def usage_error(command, *arguments) -> str:
    with pytest.raises(app.UsageError) as raised:
        parse(command, *arguments)
    return str(raised.value)


@pytest.mark.parametrize("argument, flag, expected", [
    ("--num_bins=0", "--num_bins=0", ">= 1"),
    ("--segment_seconds=0", "--segment_seconds=0", "> 0"),
    ("--segment_seconds=0.01", "--segment_seconds=0.01", "fewer than one --window_ms"),
    ("--sample_rate=0", "--sample_rate=0", "4000..192000"),
    ("--speakers_per_episode=-3", "--speakers_per_episode=-3", ">= 0"),
    ("--meta_learning_rate=-0.01", "--meta_learning_rate=-0.01", "> 0"),
    ("--transfer_learning_rate=0", "--transfer_learning_rate=0", "> 0"),
    ("--outer_learning_rate=nan", "--outer_learning_rate=nan", "> 0"),
    ("--conv_kernels=0x0", "--conv_kernels=0x0", "TIMExFREQ"),
    ("--conv_filters=4,0,4", "--conv_filters=4,0,4", "'0' is not a positive integer"),
    ("--lstm_units=0", "--lstm_units=0", ">= 1"),
    ("--num_bins=402", "--num_bins=402", "401 bins of --fft_length=800"),
    ("--window_ms=60", "--window_ms=60", "more than --fft_length=800"),
    ("--max_frames=100", "--max_frames=100", "--segment_seconds"),
    ("--aux=xyz", "--aux=xyz", "unknown letter"),
    ("--aux=vav", "--aux=vav", "repeats"),
    ("--aux=", "--aux=", "empty"),
    ("--fold=0", "--fold=0", "session number"),
    ("--fold=x", "--fold=x", "session number"),
    ("--classes=a,,b", "--classes=a,,b", "empty class name"),
    ("--classes=neutral", "--classes=neutral", "at least two classes"),
    ("--classes=a,b,a", "--classes=a,b,a", "names a class twice"),
    ("--corpus=csv", "--corpus=csv", "--csv="),
    ("--train_steps=-1", "--train_steps=-1", ">= 0"),
    ("--parallel_episode_reads=-1", "--parallel_episode_reads=-1", ">= 0"),
    ("--selection_smoothing=0", "--selection_smoothing=0", ">= 1"),
    ("--test_adapt_learning_rate=-1", "--test_adapt_learning_rate=-1", ">= 0"),
    ("--ravdess_intensity_bins=2,9", "--ravdess_intensity_bins=2,9", "0..3"),
    ("--merge_calm", "--merge_calm", "only to --corpus=ravdess"),
    ("--csv_vad_bin_edges=2,x", "--csv_vad_bin_edges=2,x", "not a list of numbers"),
    ("--csv_vad_score_range=0,inf", "--csv_vad_score_range=0,inf", "finite numbers"),
    ("--csv_vad_bin_edges=3", "--csv_vad_bin_edges", "only to --corpus=csv"),
    ("--csv_missing_vad=NA", "--csv_missing_vad", "only to --corpus=csv"),
    # failed inside training with "GPU MaxPool gradient ops do not yet have a deterministic XLA
    # implementation" on a CPU, after the run directory was written
    ("--jit_compile", "--jit_compile", "no deterministic MaxPool gradient, on a CPU too"),
    ("--num_cpu_devices=2", "--num_cpu_devices=2", "only with --strategy=mirrored"),  # was ignored
])
def test_bad_flag_is_one_line_naming_the_flag_before_any_work(argument, flag, expected, tmp_path):
    message = usage_error(cli_flags.MAIN, argument, "--preset=smoke")
    assert message.startswith(flag.split("=")[0]) and flag in message and expected in message
    assert "\n" not in message and message.count(flag.split("=")[0] + "=") <= 1  # named once


def test_relations_between_layers_and_input_name_the_flags():
    assert "--conv_filters and --conv_kernels" in usage_error(
        cli_flags.MAIN, "--conv_filters=4,4", "--conv_kernels=3x3")
    assert "--max_frames x --num_bins" in usage_error(
        cli_flags.MAIN, "--conv_filters=" + ",".join(["2"] * 9),
        "--conv_kernels=" + ",".join(["1x1"] * 9))
    assert "nothing to train" in usage_error(cli_flags.MAIN, "--train_steps=0", "--epochs=0")
    assert "unexpected arguments: extra" in usage_error(cli_flags.MAIN, "extra")
    assert usage_error(cli_flags.ABLATION, "--steps=1,x").startswith("--steps=1,x: ")
    assert "Unknown command line flag 'fold'" in usage_error(cli_flags.PREPARE, "--fold=2")


def test_good_flags_build_the_configs_they_name():
    flag_values = parse(cli_flags.MAIN, "--aux=AD", "--window_ms=25", "--conv_filters=3,5",
                        "--conv_kernels=2x4,6X8", "--num_bins=100", "--seed=7",
                        "--parallel_episode_reads=0")
    features = flag_configs.feature_config_from_flags(flag_values)
    assert features == config.FeatureConfig(window_ms=25.0, num_bins=100)
    assert flag_configs.model_config_from_flags(flag_values) == config.ModelConfig(
        conv_filters=(3, 5), conv_kernels=((2, 4), (6, 8)), num_bins=100)
    train = flag_configs.train_config_from_flags(flag_values)
    assert train == config.TrainConfig(aux_tasks=("arousal", "dominance"), seed=7,
                                       parallel_episode_reads=0)
    assert config.TrainConfig().parallel_episode_reads == 1  # a fixed count: flat peak memory
    for letters, tasks in (("v", ("valence",)), ("dv", ("valence", "dominance")),
                           ("adv", ("valence", "arousal", "dominance"))):
        assert flag_configs.aux_tasks_from_flags(parse(cli_flags.MAIN, f"--aux={letters}")) == tasks
    assert flag_configs.aux_tasks_from_flags(parse(cli_flags.MAIN, "--model=cnn_lstm")) == ()


def test_sweep_combinations_are_checked_at_parse_time():
    for bad, expected in ((["v", "q"], "unknown letter"), (["v", "vv"], "repeats"),
                          (["va", "av"], "twice")):
        message = usage_error(cli_flags.SWEEP, f"--aux_combinations={','.join(bad)}")
        assert message.startswith("--aux_combinations=") and expected in message
    assert "cnn_lstm" in usage_error(cli_flags.SWEEP, "--model=cnn_lstm")
    from mmtl_tf import sweep
    flag_values = parse(cli_flags.SWEEP, "--aux_combinations=dv,a")
    assert sweep.combinations_from_flags(flag_values) == ["vd", "a"]


def _preset_values(name) -> dict:
    """flag -> value text, read straight from flags/<name>.cfg."""
    with open(os.path.join(REPO, "flags", f"{name}.cfg"), encoding="utf-8") as handle:
        lines = [line.strip() for line in handle if line.startswith("--")]
    return dict(line[2:].split("=", 1) for line in lines)


@pytest.mark.parametrize("name", ["demo", "smoke", "paper", "ravdess"])
def test_preset_flag_loads_its_flagfile(name):
    flag_values = parse(cli_flags.MAIN, f"--preset={name}")
    for flag, text in _preset_values(name).items():
        assert flag_values[flag].value == flag_values[flag].parser.parse(text), flag
    assert flag_values.preset == name


def test_other_flags_override_the_preset_wherever_they_stand():
    assert parse(cli_flags.MAIN, "--lstm_units=64", "--preset=demo").lstm_units == 64
    assert parse(cli_flags.MAIN, "--preset=demo", "--lstm_units=64").lstm_units == 64
    smoke = os.path.join(REPO, "flags", "smoke.cfg")
    from_file = parse(cli_flags.MAIN, f"--flagfile={smoke}", "--epochs=5")
    assert (from_file.preset, from_file.epochs, from_file.lstm_units) == ("smoke", 5, 8)
    assert parse(cli_flags.MAIN).lstm_units == int(_preset_values("paper")["lstm_units"])


def test_a_preset_mismatch_is_refused():
    demo = os.path.join(REPO, "flags", "demo.cfg")
    assert "demo and paper" in usage_error(cli_flags.MAIN, f"--flagfile={demo}", "--preset=paper")
    message = usage_error(cli_flags.MAIN, "--preset=tiny")
    assert "--preset=tiny" in message and ", ".join(presets.available_presets()) in message
    assert {"demo", "paper", "smoke"} <= set(presets.available_presets())


def test_presets_ship_with_the_installed_package(tmp_path):
    """setup.py puts flags/*.cfg into the package; an installed copy finds them there."""
    build = tmp_path / "build"
    subprocess.run([sys.executable, "setup.py", "-q", "build_py", f"--build-lib={build}"],
                   cwd=REPO, check=True, capture_output=True)
    found = subprocess.run(
        [sys.executable, "-c", "from mmtl_tf import presets; print(presets.preset_path('demo'))"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(build)}, capture_output=True,
        text=True, check=True).stdout.strip()
    assert found == str(build / "mmtl_tf" / "flags" / "demo.cfg")
    with open(found, encoding="utf-8") as copy, open(os.path.join(REPO, "flags", "demo.cfg"),
                                                     encoding="utf-8") as source:
        assert copy.read() == source.read()


def test_help_lists_the_commands_own_flags_by_group(capsys):
    with pytest.raises(SystemExit) as exited:
        parse(cli_flags.PREPARE, "--help", extra_flags=("test_tmpdir",))
    text = capsys.readouterr().out
    assert exited.value.code == 0 and text.startswith("usage: python -m mmtl_tf.prepare")
    titles = [cli_flag_groups.GROUPS[group][0] + ":" for group in cli_flags.PREPARE.groups]
    positions = [text.index(f"\n{title}\n") for title in titles]
    assert positions == sorted(positions)
    for name in cli_flags.PREPARE.flag_names():
        assert f"--{name}:" in text or f"--[no]{name}:" in text, name
    assert "test_tmpdir" not in text and "--fold" not in text


def test_flags_text_holds_only_the_commands_flags_and_reruns_it(tmp_path):
    flag_values = parse(cli_flags.MAIN, "--preset=demo", "--aux=va", "--classes=x,y",
                        extra_flags=("test_tmpdir", "test_random_seed"))
    text = cli_flags.flags_text(cli_flags.MAIN, flag_values)
    names = [line[2:].split("=")[0] for line in text.splitlines()]
    assert "test_tmpdir" not in text and set(names) <= set(cli_flags.MAIN.flag_names()) | {
        "no" + name for name in cli_flags.MAIN.flag_names()}
    (tmp_path / "flags.txt").write_text(text)
    again = parse(cli_flags.MAIN, f"--flagfile={tmp_path / 'flags.txt'}")
    for name in cli_flags.MAIN.flag_names():
        assert again[name].value == flag_values[name].value, name


def test_corpus_choice_fills_defaults_without_writing_flags():
    flag_values = parse(cli_flags.PREPARE, "--corpus=csv", "--csv=dir/x.csv")
    choice = flag_configs.corpus_choice_from_flags(flag_values)
    assert choice.class_names == ("neutral", "happy", "sad", "angry")
    assert flag_values.classes is None and flag_values.corpus_dir is None
    assert flag_configs.default_tfrecord_dir(choice) == os.path.join("tfrecords", "x")
    synthetic = flag_configs.corpus_choice_from_flags(parse(cli_flags.PREPARE,
                                                            "--synthetic_seed=3"))
    assert synthetic.corpus_dir == "tfrecords/synthetic/corpus-u48-seed3"
    assert synthetic.class_names == ("neu", "hap", "sad", "ang")
    assert flag_configs.default_tfrecord_dir(synthetic) == "tfrecords/synthetic/shards-u48-seed3"
    ravdess = flag_configs.corpus_choice_from_flags(parse(
        cli_flags.PREPARE, "--corpus=ravdess", "--corpus_dir=r", "--ravdess_intensity_bins=1,3"))
    assert (ravdess.ravdess_intensity_bins, ravdess.corpus_dir) == ((1, 3), "r")
    rated_1_to_7 = flag_configs.corpus_choice_from_flags(parse(
        cli_flags.PREPARE, "--corpus=csv", "--csv=x.csv", "--csv_vad_bin_edges=3,4.5,6",
        "--csv_vad_score_range=0.5,7.5"))
    assert (rated_1_to_7.csv_vad_bin_edges, rated_1_to_7.csv_vad_score_range) == (
        (3.0, 4.5, 6.0), (0.5, 7.5))
    assert (choice.csv_vad_bin_edges, choice.csv_vad_score_range) == ((2.0, 3.0, 4.0), (0.0, 6.0))
    assert "must increase strictly" in usage_error(
        cli_flags.PREPARE, "--corpus=csv", "--csv=x.csv", "--csv_vad_bin_edges=3,2")
    assert flag_configs.default_tfrecord_dir(ravdess) == os.path.join("tfrecords", "ravdess")
    for arguments, flag in ((["--corpus=iemocap"], "--corpus_dir"),
                            (["--corpus=ravdess"], "--corpus_dir"),
                            (["--corpus=ravdess", "--corpus_dir=r", "--merge_excited"],
                             "--merge_excited"),
                            (["--corpus=synthetic", "--scripts=all"], "--scripts"),
                            (["--csv=a.csv"], "--csv"),
                            (["--corpus=csv", "--csv=a.csv", "--merge_excited"],
                             "--merge_excited")):
        message = usage_error(cli_flags.PREPARE, *arguments)
        assert message.startswith("--") and flag in message


def test_prepare_takes_the_feature_flags_of_a_preset_and_main_all_of_them():
    ravdess = _preset_values("ravdess")
    prepared = parse(cli_flags.PREPARE, "--preset=ravdess", "--corpus=ravdess", "--corpus_dir=x")
    trained = parse(cli_flags.MAIN, "--preset=ravdess")
    for flag in ("segment_seconds", "max_frames"):
        expected = prepared[flag].parser.parse(ravdess[flag])
        assert prepared[flag].value == trained[flag].value == expected != prepared[flag].default
    assert "conv_filters" not in prepared and trained.conv_filters == ["8", "12", "16"]
    assert flag_configs.feature_config_from_flags(prepared) == flag_configs.feature_config_from_flags(trained)
    with pytest.raises(app.UsageError, match="Unknown command line flag 'conv_filters'"):
        parse(cli_flags.PREPARE, "--preset=ravdess", "--conv_filters=8")


def test_a_flagfile_of_a_preset_is_that_preset_for_every_command(tmp_path):
    """`prepare --flagfile=flags/smoke.cfg` (as tests and main take the smoke preset) failed
    with "Unknown command line flag 'conv_filters'"; it now takes the preset's feature flags."""
    smoke = os.path.join(REPO, "flags", "smoke.cfg")
    prepared = parse(cli_flags.PREPARE, f"--flagfile={smoke}", "--num_bins=50")
    assert (prepared.preset, prepared.max_frames, prepared.num_bins) == ("smoke", 150, 50)
    assert parse(cli_flags.MAIN, f"--flagfile={smoke}").conv_filters == ["4", "4", "4"]
    copy = tmp_path / "mine.cfg"  # a flagfile of the user's own stays a flagfile
    copy.write_text("--preset=smoke\n--conv_filters=4,4,4\n")
    with pytest.raises(app.UsageError, match="Unknown command line flag 'conv_filters'"):
        parse(cli_flags.PREPARE, f"--flagfile={copy}")


def test_csv_vad_flags_reach_the_csv_reader(tmp_path):
    """--csv_vad_bin_edges and --csv_vad_score_range bin a 1-7 rated CSV corpus as they say."""
    import numpy as np

    from mmtl_tf import audio

    audio.write_wav(str(tmp_path / "a.wav"), np.zeros(1600, np.float32), 16000)
    (tmp_path / "c.csv").write_text("path,speaker,session,emotion,arousal\n"
                                    "a.wav,s1,1,angry,6.5\n", encoding="utf-8")
    choice = flag_configs.corpus_choice_from_flags(parse(
        cli_flags.PREPARE, "--corpus=csv", f"--csv={tmp_path / 'c.csv'}",
        "--csv_vad_bin_edges=3,4.5,6", "--csv_vad_score_range=0.5,7.5"))
    (utterance,) = flag_configs.read_corpus(choice).utterances
    assert (utterance.arousal, utterance.valence) == (3, -1)
    (tmp_path / "c.csv").write_text("path,speaker,session,emotion,arousal\n"
                                    "a.wav,s1,1,angry,NA\n", encoding="utf-8")
    marked = flag_configs.corpus_choice_from_flags(parse(
        cli_flags.PREPARE, "--corpus=csv", f"--csv={tmp_path / 'c.csv'}", "--csv_missing_vad=na,"))
    assert marked.csv_missing_vad == ("na", "")
    (utterance,) = flag_configs.read_corpus(marked).utterances
    assert utterance.arousal == -1
