"""Exports a trained run for TF Serving: `python -m mmtl_tf.export --run_dir=RUN`.

Flags -> `export.export_run`, which writes the selected checkpoint as a SavedModel under
--export_dir (default RUN/export) in a new numbered version directory, and prints its path and
the corpus it was trained on.
`mmtl_tf.export` runs this module's `run_main` when executed, so both
`python -m mmtl_tf.export` and `python -m mmtl_tf.export_cli` work. A bad run directory or an
existing version ends with "error: <message>" on stderr and exit status 1 (--verbosity=1 shows
the traceback too).
"""

import os

from absl import app
from absl import flags

from mmtl_tf import atomic_files, cli_app, cli_flags

COMMAND = cli_flags.define_command(cli_flags.EXPORT)
FLAGS = flags.FLAGS


def run(flag_values=FLAGS) -> str:
    """Exports --run_dir as a new version; prints and returns the version directory."""
    if not flag_values.run_dir:
        raise app.UsageError("--run_dir is required (the directory of a trained run)")
    from mmtl_tf import export  # pylint: disable=import-outside-toplevel (TensorFlow)
    path = export.export_run(flag_values.run_dir, export_dir=flag_values.export_dir,
                             version=flag_values.version, overwrite=flag_values.overwrite)
    metadata = atomic_files.read_json(os.path.join(path, "assets", export.METADATA_NAME))
    print(f"exported {flag_values.run_dir} -> {path} (trained on corpus: {metadata['corpus']})")
    return path


def main(argv):
    """Runs `run` (the flags are parsed and checked by `cli_app.run`)."""
    del argv  # export takes flags only
    run(FLAGS)


def run_main():
    """Parses the flags and runs `main` (the entry point of both module names)."""
    cli_app.run(main, COMMAND, __doc__)


if __name__ == "__main__":
    run_main()
