"""Entry-point behaviour in-process (mmtl_tf.cli_app, experiment_setup, quiet_start): one error
guard for every CLI, nothing written before the settings are accepted, a quiet start."""

import errno
import json
import os
import subprocess
import sys

import pytest
from absl import app
from absl import flags

from mmtl_tf import cli_app, cli_flags, experiment_setup, flag_configs, quiet_start
from mmtl_tf import run_dir as run_dir_lib


def parsed(command, *arguments):
    flag_values = flags.FlagValues()
    flags.DEFINE_integer("verbosity", 0, "absl's", flag_values=flag_values)
    cli_app.parse(["prog", *arguments], command, flag_values)
    return flag_values


def guarded_error(function, flag_values, command=cli_flags.MAIN, capsys=None):
    """Runs `function` in the guard; returns the stderr lines it printed before exiting 1."""
    with pytest.raises(SystemExit) as exited:
        cli_app.guard(function, command, flag_values)
    assert exited.value.code == 1
    return capsys.readouterr().err.splitlines()


def _raise(error):
    def function():
        raise error
    return function


@pytest.mark.parametrize("error, expected", [
    (app.UsageError("--run_dir is required"), "error: --run_dir is required"),
    (json.JSONDecodeError("Expecting value", "", 0), "error: Expecting value: line 1 column 1"),
    (run_dir_lib.RunDirError("r holds a run with other settings"), "error: r holds a run"),
    (ValueError("--fold=7: synthetic has 5 sessions"), "error: --fold=7: synthetic has 5"),
    (flags.IllegalFlagValueError("flag --aux=x: bad"), "error: --aux=x: bad"),
])
def test_every_user_fault_is_one_error_line(error, expected, capsys):
    lines = guarded_error(_raise(error), parsed(cli_flags.MAIN), capsys=capsys)
    assert len(lines) == 1 and lines[0].startswith(expected)


@pytest.mark.parametrize("error_class, code, advice", [
    (PermissionError, errno.EACCES, "check its permissions or choose another --run_dir"),
    (OSError, errno.EROFS, "read-only: choose another --run_dir"),
    (FileExistsError, errno.EEXIST, "a file is in the way"),
    (NotADirectoryError, errno.ENOTDIR, "a file is in the way"),
])
def test_os_errors_name_the_path_the_flag_and_what_to_do(error_class, code, advice, tmp_path,
                                                         capsys):
    run_dir = str(tmp_path / "runs" / "mine")
    flag_values = parsed(cli_flags.MAIN, f"--run_dir={run_dir}")
    inside = os.path.join(run_dir, "flags.txt")
    error = error_class(code, os.strerror(code), inside)
    lines = guarded_error(_raise(error), flag_values, capsys=capsys)
    assert len(lines) == 1 and lines[0].startswith(f"error: {inside}: ")
    assert f"(--run_dir={run_dir})" in lines[0] and advice in lines[0]


def test_real_os_faults_of_a_run_dir_are_guarded(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    for run_dir in (tmp_path / "file", tmp_path / "file" / "below"):
        flag_values = parsed(cli_flags.MAIN, f"--run_dir={run_dir}")
        write = lambda: experiment_setup.write_flags_file(  # pylint: disable=cell-var-from-loop
            str(run_dir), cli_flags.MAIN, flag_values)
        lines = guarded_error(write, flag_values, capsys=capsys)
        assert len(lines) == 1 and f"(--run_dir={run_dir})" in lines[0]
        assert "a file is in the way" in lines[0]
    if os.geteuid() != 0:  # root writes anywhere
        read_only = tmp_path / "read_only"
        read_only.mkdir(mode=0o555)
        flag_values = parsed(cli_flags.MAIN, f"--run_dir={read_only / 'run'}")
        lines = guarded_error(lambda: experiment_setup.write_flags_file(
            str(read_only / "run"), cli_flags.MAIN, flag_values), flag_values, capsys=capsys)
        assert "permission denied" in lines[0] and "--run_dir=" in lines[0]


def test_verbosity_1_adds_the_traceback_and_bugs_keep_theirs(capsys):
    verbose = parsed(cli_flags.MAIN, "--verbosity=1")
    lines = guarded_error(_raise(ValueError("bad --aux")), verbose, capsys=capsys)
    assert lines[0].startswith("Traceback") and lines[-1] == "error: bad --aux"
    with pytest.raises(KeyError):  # not a user fault: a bug, with its traceback
        cli_app.guard(_raise(KeyError("speakers")), cli_flags.MAIN, parsed(cli_flags.MAIN))
    assert cli_app.guard(lambda: 5, cli_flags.MAIN, parsed(cli_flags.MAIN)) == 5


def _snapshot(directory) -> dict:
    return {os.path.relpath(os.path.join(root, name), directory):
            open(os.path.join(root, name), "rb").read()
            for root, _, names in os.walk(directory) for name in names}


def test_a_refused_resume_leaves_the_run_dir_byte_identical(synthetic_shards, tmp_path):
    tfrecord_dir, _, manifest = synthetic_shards
    run_dir = tmp_path / "run"
    common = ("--preset=smoke", f"--tfrecord_dir={tfrecord_dir}", f"--run_dir={run_dir}")
    first = parsed(cli_flags.MAIN, *common)
    experiment, _ = experiment_setup.prepare_experiment(cli_flags.MAIN, first)
    from mmtl_tf import folds
    run_dir_lib.record_config(experiment, manifest, folds.fold_split(manifest, 2, "F"))
    (run_dir / "results.json").write_text("{}")
    before = _snapshot(run_dir)
    assert set(before) == {"flags.txt", "config.json", "results.json"}
    for change in ("--seed=1", "--lstm_units=16", "--aux=va"):
        with pytest.raises(run_dir_lib.RunDirError, match="other settings"):
            experiment_setup.prepare_experiment(cli_flags.MAIN,
                                                parsed(cli_flags.MAIN, *common, change))
        assert _snapshot(run_dir) == before, change
    with pytest.raises(ValueError, match="--fold=7"):
        experiment_setup.prepare_experiment(cli_flags.MAIN, parsed(
            cli_flags.MAIN, *common[:2], f"--run_dir={tmp_path / 'other'}", "--fold=7"))
    assert not (tmp_path / "other").exists()
    # An episode the replicas cannot share is refused before anything is written (it failed
    # inside training, after flags.txt; with --fold=all, after the folds before it had trained).
    with pytest.raises(ValueError, match="3 speakers per episode cannot be split evenly over 2"):
        experiment_setup.prepare_experiment(cli_flags.MAIN, parsed(
            cli_flags.MAIN, *common[:2], f"--run_dir={tmp_path / 'other'}", "--fold=all",
            "--strategy=mirrored", "--num_cpu_devices=2", "--speakers_per_episode=3"))
    assert not (tmp_path / "other").exists()
    rerun = parsed(cli_flags.MAIN, *common, "--seed=1", "--rerun")  # --rerun clears: accepted
    experiment_setup.prepare_experiment(cli_flags.MAIN, rerun)
    assert "--seed=1" in (run_dir / "flags.txt").read_text()


def test_default_run_dir_names_corpus_fold_aux_and_model(synthetic_shards, tmp_path):
    flag_values = parsed(cli_flags.MAIN, "--fold=all", "--model=cnn_lstm")
    experiment = experiment_setup.build_experiment(flag_values, "unused", "csv:my corpus")
    assert os.path.basename(experiment.run_dir).startswith("csv_my_corpus-foldall---cnn_lstm-")
    assert experiment.fold == 1 and experiment.preset == "paper"
    sweep = parsed(cli_flags.SWEEP, "--fold=3")
    named = experiment_setup.build_experiment(sweep, "unused", "synthetic", name="sweep")
    assert os.path.basename(named.run_dir).startswith("synthetic-sweep-mmtl-") and named.fold == 3
    assert named.features == flag_configs.feature_config_from_flags(sweep)


@pytest.mark.parametrize("orig_argv, environ, chosen", [
    (["python", "-m", "mmtl_tf.main", "--fold=2"], {}, "true"),
    (["python", "-m", "mmtl_tf.bench", "--verbosity=1"], {}, "true"),
    (["python", "-m", "mmtl_tf.main"], {"TF_CPU_ALLOCATOR_USE_BFC": "false"}, "false"),
    (["python", "-m", "pytest", "-q"], {}, None),
    (["python", "-c", "import mmtl_tf"], {}, None),
])
def test_a_command_gets_the_bfc_host_allocator_unless_the_user_chose(orig_argv, environ, chosen):
    environment = dict(environ)
    changed = quiet_start.command_allocator(orig_argv, environment)
    assert changed is (chosen is not None and not environ)
    assert environment.get("TF_CPU_ALLOCATOR_USE_BFC") == chosen
    assert quiet_start.host_allocator(environment) == ("bfc" if chosen == "true" else "malloc")


def test_importing_mmtl_tf_sets_the_allocator_for_a_command_only():
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPU_ALLOCATOR_USE_BFC"}
    report = "import mmtl_tf, os; print(os.environ.get('TF_CPU_ALLOCATOR_USE_BFC'))"
    as_command = "import sys; sys.orig_argv = ['python', '-m', 'mmtl_tf.main']; " + report
    seen = [subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                           env=environment, check=True).stdout.strip()
            for program in (report, as_command)]
    assert seen == ["None", "true"]


@pytest.mark.parametrize("orig_argv, environ, threads", [
    (["python", "-m", "mmtl_tf.prepare", "--corpus=csv"], {}, "1"),
    (["python", "-u", "-m", "mmtl_tf.prepare"], {}, "1"),
    (["python", "-m", "mmtl_tf.prepare"], {"TF_NUM_INTRAOP_THREADS": "4"}, "4"),  # the user's
    (["python", "-m", "mmtl_tf.main", "--fold=2"], {}, None),  # prepares, then trains
    (["python", "-m", "mmtl_tf.bench"], {}, None),
    (["python", "-m", "mmtl_tf.prepare_cli"], {}, None),
    (["python", "-c", "import mmtl_tf"], {}, None),
    (["python", "script.py", "-m", "mmtl_tf.prepare"], {}, None),
])
def test_only_the_prepare_command_gets_one_intra_op_thread(orig_argv, environ, threads):
    environment = dict(environ)
    changed = quiet_start.command_threads(orig_argv, environment)
    assert changed is (threads == "1")
    assert environment.get("TF_NUM_INTRAOP_THREADS") == threads


def test_importing_mmtl_tf_sets_the_prepare_threads_before_tensorflow_starts():
    """The setting reaches TensorFlow: in the prepare command a matmul loop keeps at most one
    core busy (one thread cannot keep more); the variable is left unset for `main`."""
    environment = {k: v for k, v in os.environ.items() if k != "TF_NUM_INTRAOP_THREADS"}
    program = ("import sys; sys.orig_argv = ['python', '-m', 'mmtl_tf.{}']; import mmtl_tf, os; "
               "import time, tensorflow as tf; a = tf.random.normal([1500, 1500]); "
               "tf.linalg.matmul(a, a); wall, cpu = time.perf_counter(), time.process_time(); "
               "[tf.linalg.matmul(a, a).numpy() for _ in range(15)]; "
               "print(os.environ.get('TF_NUM_INTRAOP_THREADS'), "
               "(time.process_time() - cpu) / (time.perf_counter() - wall))")
    seen = {command: subprocess.run([sys.executable, "-c", program.format(command)],
                                    capture_output=True, text=True, env=environment,
                                    check=True).stdout.split()
            for command in ("prepare", "main")}
    assert seen["prepare"][0] == "1" and float(seen["prepare"][1]) < 1.3
    assert seen["main"][0] == "None"


@pytest.mark.parametrize("orig_argv, environ, quiet", [
    (["python", "-m", "mmtl_tf.main", "--fold=2"], {}, True),
    (["python", "-u", "-W", "ignore", "-m", "mmtl_tf.prepare"], {}, True),
    (["python", "-m", "mmtl_tf.main", "--verbosity=1"], {}, False),
    (["python", "-m", "mmtl_tf.main", "-v", "2"], {}, False),
    (["python", "-m", "mmtl_tf.main", "--verbosity=0"], {}, True),
    (["python", "-m", "mmtl_tf.main"], {"TF_CPP_MIN_LOG_LEVEL": "0"}, False),
    (["python", "-m", "pytest", "-q"], {}, False),
    (["python", "script.py", "-m", "mmtl_tf.main"], {}, False),
    (["python", "-c", "import mmtl_tf"], {}, False),
])
def test_only_a_command_started_without_verbosity_is_quieted(orig_argv, environ, quiet):
    import tensorflow  # pylint: disable=unused-import (loaded: no import hook in this process)
    assert quiet_start.should_quiet(orig_argv, environ) is quiet
    environment = dict(environ)
    assert quiet_start.quiet_command(orig_argv, environment) is quiet
    assert environment.get("TF_CPP_MIN_LOG_LEVEL") == ("3" if quiet else environ.get(
        "TF_CPP_MIN_LOG_LEVEL"))


def test_faults_training_met_after_flags_txt_are_refused_before_anything_is_written(
        synthetic_shards, tmp_path, capsys):
    """The step plan and a run_dir held by a live run were checked inside training, after
    flags.txt (and, for the plan, the run directory) had been written."""
    tfrecord_dir, _, _ = synthetic_shards
    run_dir = tmp_path / "run"
    common = ("--preset=smoke", f"--tfrecord_dir={tfrecord_dir}", f"--run_dir={run_dir}")
    too_many = parsed(cli_flags.MAIN, *common, "--train_steps=1000001", "--eval_every=1")
    lines = guarded_error(lambda: experiment_setup.prepare_experiment(cli_flags.MAIN, too_many),
                          too_many, capsys=capsys)
    assert len(lines) == 1 and lines[0].startswith("error: --train_steps=1000001 ")
    assert "--eval_every=1 plan 1,000,001 validations" in lines[0]
    assert "validate less often (--eval_every) or train fewer steps" in lines[0]
    assert not run_dir.exists()
    held = parsed(cli_flags.MAIN, *common, "--fold=all")
    with run_dir_lib.RunLock(str(run_dir / "fold3")):  # a run training fold 3 there
        with pytest.raises(run_dir_lib.RunDirError, match="fold3 is in use by another run"):
            experiment_setup.prepare_experiment(cli_flags.MAIN, held)
    assert _snapshot(run_dir) == {"fold3/.lock": b""}  # no flags.txt beside the live run
    experiment_setup.prepare_experiment(cli_flags.MAIN, held)  # the lock is free again
    assert (run_dir / "flags.txt").is_file()


def test_a_small_validation_speaker_is_warned_of_once_naming_it(synthetic_shards, tmp_path,
                                                                  capsys):
    _, _, manifest = synthetic_shards
    tfrecord_dir = tmp_path / "shards"  # check_planned_runs reads the manifest only
    tfrecord_dir.mkdir()
    changed = json.loads(json.dumps(manifest))
    changed["speakers"]["2F"]["num_utterances"] = 1
    (tfrecord_dir / "manifest.json").write_text(json.dumps(changed))
    flag_values = parsed(cli_flags.SWEEP, "--preset=smoke", f"--tfrecord_dir={tfrecord_dir}",
                         f"--run_dir={tmp_path / 'sweep'}", "--fold=all")
    capsys.readouterr()
    experiment_setup.prepare_experiment(cli_flags.SWEEP, flag_values, name="sweep",
                                        combinations=("v", "va", "vad"))
    warnings = [line for line in capsys.readouterr().out.splitlines() if "warning" in line]
    assert len(warnings) == 1, warnings  # fold 2 of three combinations: once
    assert warnings[0].startswith("warning: --val_speaker picks 2F (fold 2), which has 1 "
                                  "utterance(s)")
    assert "--val_speaker=<id>: 2M" in warnings[0]
