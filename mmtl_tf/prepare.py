"""Prepares a corpus: spectrogram segments into per-speaker TFRecord shards plus manifest.json.

Usage:

    python -m mmtl_tf.prepare                                   # the synthetic corpus
    python -m mmtl_tf.prepare --corpus=iemocap --corpus_dir=/data/IEMOCAP_full_release
    python -m mmtl_tf.prepare --corpus=csv --csv=my_corpus.csv --tfrecord_dir=tfrecords/mine

Flags -> `FeatureConfig` and a `CorpusListing` -> `preparation.prepare_corpus`. The output goes
to --tfrecord_dir (default: `flag_configs.default_tfrecord_dir`, e.g. tfrecords/iemocap), with
the command's flags in <generation>/prepare_flags.txt (layout in `mmtl_tf/tfrecord_dir.py`).
Rerunning with the same flags skips the speakers already done; other feature settings, corpus,
classes, source (the --csv file or --corpus_dir) or label flags (--merge_excited,
--csv_vad_bin_edges, ...: `label_flags.LABEL_FLAGS`) are refused unless --overwrite. Bad input (a
corpus file, a wav, a flag value) ends with "error: <message>" on stderr and exit status 1; pass
--verbosity=1 to see the traceback too.
"""

from absl import flags

from mmtl_tf import cli_app, cli_flags, flag_configs, label_flags

COMMAND = cli_flags.define_command(cli_flags.PREPARE)
FLAGS = flags.FLAGS


def run(flag_values=FLAGS) -> dict:
    """Reads the corpus and prepares it (the flags are recorded with it); returns the manifest."""
    # pylint: disable=import-outside-toplevel (TensorFlow loads after the flags are checked)
    from mmtl_tf import preparation
    feature_config = flag_configs.feature_config_from_flags(flag_values)
    choice = flag_configs.corpus_choice_from_flags(flag_values)
    tfrecord_dir = flag_values["tfrecord_dir"].value or flag_configs.default_tfrecord_dir(choice)
    listing = flag_configs.read_corpus(choice)
    return preparation.prepare_corpus(
        listing, feature_config, tfrecord_dir,
        segments_per_shard=flag_values["segments_per_shard"].value,
        show_progress=flag_values["progress"].value, overwrite=flag_values["overwrite"].value,
        prepare_flags=cli_flags.flags_text(COMMAND, flag_values),
        source=flag_configs.corpus_source(choice), labelling=label_flags.labelling(choice))


def main(argv):
    """Runs `run` (the flags are parsed and checked by `cli_app.run`)."""
    del argv  # prepare takes flags only
    run()


if __name__ == "__main__":
    cli_app.run(main, COMMAND, __doc__)
