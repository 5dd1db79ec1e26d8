"""Exports a trained run for TF Serving: `python -m mmtl_tf.export --run_dir=RUN`.

Flags -> `export.export_run`, which writes the selected checkpoint as a SavedModel under
--export_dir (default RUN/export) in a new numbered version directory, and prints its path.
`mmtl_tf.export` runs this module's `run_main` when executed, so both
`python -m mmtl_tf.export` and `python -m mmtl_tf.export_cli` work. A bad run directory or an
existing version ends with "error: <message>" on stderr and exit status 1 (--verbosity=1 shows
the traceback instead).
"""


from absl import app
from absl import flags

from mmtl_tf import cli_flags
from mmtl_tf import run_dir as run_dir_lib

cli_flags.define_once(flags.DEFINE_string, "run_dir", None,
                      "The run directory of a `python -m mmtl_tf.main` run (required).")
cli_flags.define_once(flags.DEFINE_string, "export_dir", None,
                      "Model base path TF Serving watches; default <run_dir>/export.")
cli_flags.define_once(flags.DEFINE_integer, "version", None,
                      "Version directory to write; default one more than the highest existing.")
cli_flags.define_once(flags.DEFINE_boolean, "overwrite", False,
                      "Replace an existing version directory instead of refusing.")
for _name in ("run_dir", "export_dir", "version", "overwrite"):
    flags.declare_key_flag(_name)  # listed by --help (define_once defines them in cli_flags)
FLAGS = flags.FLAGS


def main(argv):
    """Exports --run_dir; prints the version directory."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if not FLAGS.run_dir:
        raise app.UsageError("--run_dir is required (the directory of a trained run)")
    import tensorflow as tf  # pylint: disable=import-outside-toplevel (keeps --help fast)
    from mmtl_tf import export  # pylint: disable=import-outside-toplevel
    path = cli_flags.run_reporting_errors(
        lambda: export.export_run(FLAGS.run_dir, export_dir=FLAGS.export_dir,
                                  version=FLAGS.version, overwrite=FLAGS.overwrite),
        (ValueError, OSError, run_dir_lib.RunDirError, tf.errors.OpError))
    print(f"exported {FLAGS.run_dir} -> {path}")


def run_main():
    """Parses the flags and runs `main` (the entry point of both module names)."""
    app.run(main)


if __name__ == "__main__":
    run_main()
