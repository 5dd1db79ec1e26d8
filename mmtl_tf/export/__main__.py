"""`python -m mmtl_tf.export --run_dir=RUN`: the export CLI (flags and errors in `mmtl_tf.export_cli`)."""

from absl import flags

from mmtl_tf import export_cli

if __name__ == "__main__":
    flags.adopt_module_key_flags(export_cli)  # so --help lists the export flags
    export_cli.run_main()
