"""Performance figures of mmtl_tf: `python -m mmtl_tf.bench [--quick] [--preset=paper|demo|smoke]`.

Every figure is a ratio of timings (or a reading) taken in the same run, the compared variants
alternating round by round and summarised by medians, so a shared, noisy machine cancels out
as far as it can. The output is JSON (`--output=FILE` also writes it), then a table of each
figure, its target and whether it is met, then the profile of every figure that missed. Only a
missing optional package (librosa) makes a figure "unavailable"; a figure that fails makes
the command exit with status 1. BUILD.md ("Benchmarks") says what each figure measures.

The model and B come from the preset's flagfile (`flags/<preset>.cfg`, read with absl like
`--flagfile`), and the long-run and corpus-size figures use the demo preset's. `--quick` (smoke
model, one round, no XLA, tiny sizes) is for CI: its numbers mean nothing.
"""

import json
import shutil
import sys
import tempfile

from absl import app
from absl import flags
from absl import logging

from mmtl_tf import atomic_files
from mmtl_tf import cli_app
from mmtl_tf import cli_flags
from mmtl_tf import config as config_lib
from mmtl_tf.bench import plan as plan_lib
from mmtl_tf.bench import prepare_figure
from mmtl_tf.bench import replicas
from mmtl_tf.bench import run
from mmtl_tf.bench import timing

PRESETS = ("paper", "demo", "smoke")

# Flags shared by name with `mmtl_tf.main` (preset, num_cpu_devices, segments_per_speaker) keep
# its types and defaults, so importing both CLIs into one process changes neither.
_define = cli_flags.define_once
_define(flags.DEFINE_boolean, "quick", False,
        "A short run for CI (the smoke model unless --preset; one round; tiny sizes; no XLA).")
_define(flags.DEFINE_string, "preset", "paper",
        "Model sizes and B from flags/<preset>.cfg: paper, demo or smoke (--quick: smoke unless "
        "given).")
_define(flags.DEFINE_string, "output", None, "Also write the JSON results to this file.")
_define(flags.DEFINE_boolean, "xla", True,
        "Also time the outer step with jit_compile=True (XLA), beside the default graph step.")
_define(flags.DEFINE_enum, "figure", "all", ["all", "replica_step", "prepare_speedup"],
        "all: every figure. replica_step, prepare_speedup: that measurement alone, one JSON "
        "line (the bench runs each in a subprocess; prepare_speedup reads --work_dir's corpus).")
_define(flags.DEFINE_integer, "num_cpu_devices", 0,
        "--figure=replica_step: logical CPU devices (0 means 2).")
_define(flags.DEFINE_integer, "speakers", None, "m of the step figures (default 2).")
_define(flags.DEFINE_integer, "segments_per_speaker",
        config_lib.TrainConfig().segments_per_speaker,
        "B of the step figures, when given (default: the preset's).")
_define(flags.DEFINE_integer, "rounds", None, "Timed rounds per comparison (default 3, --quick 1).")
_define(flags.DEFINE_list, "scale_speakers", None,
        "Corpus sizes (speakers) of the corpus-size figures (default 10,100,1000; --quick 2,4).")
_define(flags.DEFINE_boolean, "mixed_precision", False,
        "bfloat16 compute with float32 weights on GPU/TPU (refused on a CPU-only machine), as "
        "`mmtl_tf.main --mixed_precision`; every figure but the replica subprocess uses it.")
_define(flags.DEFINE_string, "work_dir", None,
        "Scratch directory (default: a temporary one, removed at the end).")
FLAGS = flags.FLAGS
COMMAND = cli_flags.Command("mmtl_tf.bench", ())
_FLAG_NAMES = ("quick", "preset", "output", "xla", "figure", "num_cpu_devices", "speakers",
               "segments_per_speaker", "rounds", "scale_speakers", "mixed_precision", "work_dir")


def help_text(flag_values=FLAGS) -> str:
    """`--help`: the usage line, the docstring's first paragraph and the bench's flags."""
    return cli_app.help_text(COMMAND, flag_values, __doc__.strip().split("\n\n")[0],
                             groups=[("Benchmark", _FLAG_NAMES)])


def parse_flags(argv: list, flag_values=FLAGS) -> list:
    """absl's parsing, with the commands' `--help` (exit status 0) and `error:` lines (status 1)."""
    cli_app.install_help(lambda: help_text(flag_values), flag_values)
    try:
        return flag_values(argv)
    except flags.Error as error:
        cli_app.print_error(cli_app.describe_flag_error(error, COMMAND))
        sys.exit(1)


def _main_or_exit(argv):
    """`main`, with a usage fault as one `error:` line and exit status 1, as every command."""
    try:
        main(argv)
    except app.UsageError as error:
        cli_app.print_error(str(error))
        sys.exit(1)


def preset_sizes(preset: str):
    """The model and B of a preset, read as `python -m mmtl_tf.main --preset=<preset>` reads it.

    The preset is parsed into fresh flags of `mmtl_tf.main` (`cli_app.parse`) and the model is
    built by the flag layer's own `flag_configs.model_config_from_flags`.

    Args:
      preset: "paper", "demo" or "smoke".

    Returns:
      (config.ModelConfig, segments_per_speaker, config.FeatureConfig).

    Raises:
      app.UsageError: an unknown preset or a missing flagfile, naming --preset.
    """
    from mmtl_tf import cli_app, flag_configs  # pylint: disable=import-outside-toplevel

    if preset not in PRESETS:
        raise app.UsageError(f"--preset={preset!r}: choose one of {', '.join(PRESETS)}")
    values = flags.FlagValues()
    cli_app.parse([sys.argv[0], f"--preset={preset}"], cli_flags.MAIN, values)
    return (flag_configs.model_config_from_flags(values), values["segments_per_speaker"].value,
            flag_configs.feature_config_from_flags(values))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if FLAGS.verbosity < 1:  # as in every command: TensorFlow's INFO lines drown the figures
        logging.set_verbosity(logging.WARNING)
    preset = "smoke" if FLAGS.quick and not FLAGS["preset"].present else FLAGS.preset
    model_config, segments, features = preset_sizes(preset)
    if FLAGS["segments_per_speaker"].present:
        segments = FLAGS.segments_per_speaker
    small_model_config, small_segments, small_features = preset_sizes("demo")
    try:
        scale_speakers = [int(count) for count in FLAGS.scale_speakers or ()]
        plan = plan_lib.make_plan(preset, model_config, segments, small_model_config,
                                  small_segments, features, small_features, FLAGS.quick,
                                  FLAGS.speakers, FLAGS.rounds, FLAGS.xla, scale_speakers)
    except ValueError as error:
        raise app.UsageError(f"--scale_speakers/--speakers/--rounds: {error}") from None
    if FLAGS.mixed_precision:
        from mmtl_tf import distribution  # pylint: disable=import-outside-toplevel
        try:
            distribution.enable_mixed_precision()
        except ValueError as error:
            raise app.UsageError(str(error)) from None
    if FLAGS.figure == "replica_step":
        record = replicas.replica_step(plan.model_config, plan.speakers,
                                       plan.segments_per_speaker, FLAGS.num_cpu_devices or 2,
                                       plan.rounds)
        print(json.dumps(timing.rounded(record)), flush=True)
        return
    if FLAGS.figure == "prepare_speedup":
        if not FLAGS.work_dir:
            raise app.UsageError("--figure=prepare_speedup reads the corpus of --work_dir; "
                                 "give the bench's scratch directory")
        print(json.dumps(timing.rounded(prepare_figure.measure(plan, FLAGS.work_dir))),
              flush=True)
        return
    work_dir = FLAGS.work_dir or tempfile.mkdtemp(prefix="mmtl_bench_")
    try:
        results = run.run_benchmark(plan, work_dir, preset, FLAGS.quick)
    finally:
        if not FLAGS.work_dir:
            shutil.rmtree(work_dir, ignore_errors=True)
    text = json.dumps(results, indent=2)
    if FLAGS.output:
        atomic_files.write_text(FLAGS.output, text + "\n")
    print(text)
    print(f"\nmmtl_tf.bench, preset {plan.preset}{' (--quick)' if FLAGS.quick else ''}, "
          f"{results['total_seconds']:.0f} s")
    print(plan_lib.format_table(results["figures"]))
    for name, record in results["figures"].items():
        if record["met"] is False:
            shown = {key: value for key, value in record.items()
                     if key not in ("value", "target", "met", "meaning")}
            print(f"\nprofile of {name} (missed {record['target']}): "
                  f"{json.dumps(shown.get('profile', shown))}")
    failed = [name for name, record in results["figures"].items() if "failed" in record]
    if failed:
        print(f"\nerror: figure(s) failed: {', '.join(failed)} (tracebacks above)",
              file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    app.run(_main_or_exit, flags_parser=parse_flags)
