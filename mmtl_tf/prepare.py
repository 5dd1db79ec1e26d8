"""Prepares a corpus: spectrogram segments into per-speaker TFRecord shards plus manifest.json.

Usage:

    python -m mmtl_tf.prepare                                   # the synthetic corpus
    python -m mmtl_tf.prepare --corpus=iemocap --corpus_dir=/data/IEMOCAP_full_release
    python -m mmtl_tf.prepare --corpus=csv --csv=my_corpus.csv --tfrecord_dir=tfrecords/mine

Flags -> `FeatureConfig` and a `CorpusListing` -> `preparation.prepare_corpus`. The output goes
to --tfrecord_dir (default: `cli_flags.default_tfrecord_dir`, e.g. tfrecords/iemocap), with the
resolved flags in <generation>/prepare_flags.txt (layout in `mmtl_tf/tfrecord_dir.py`). Rerunning
with the same flags skips the speakers already done; other feature settings, corpus or classes
are refused unless --overwrite. Bad input (a corpus file, a wav, a flag value) ends with
"error: <message>" on stderr and exit status 1; pass --verbosity=1 to see the traceback instead.
"""

from absl import app
from absl import flags

from mmtl_tf import audio
from mmtl_tf import cli_flags
from mmtl_tf import corpora
from mmtl_tf import directory_lock
from mmtl_tf import preparation

cli_flags.define_feature_flags()
cli_flags.define_corpus_flags()
cli_flags.define_once(flags.DEFINE_string, "tfrecord_dir", None,
                      "Output directory of the shards and manifest (default tfrecords/<corpus>).")
cli_flags.define_once(flags.DEFINE_integer, "segments_per_shard", 2000,
                      "Maximum segments per TFRecord shard.")
cli_flags.define_once(flags.DEFINE_boolean, "progress", True, "Show a progress bar.")
cli_flags.define_once(flags.DEFINE_boolean, "overwrite", False,
                      "Replace a preparation made with other feature settings, corpus or classes "
                      "(it stays in place until the new one is complete).")

FLAGS = flags.FLAGS


def run() -> dict:
    """Resolves the flags, records them, and prepares the corpus; returns the manifest."""
    feature_config = cli_flags.feature_config_from_flags(FLAGS)
    if not FLAGS.tfrecord_dir:
        FLAGS.tfrecord_dir = cli_flags.default_tfrecord_dir(FLAGS)
    listing = cli_flags.read_corpus_from_flags(FLAGS)
    return preparation.prepare_corpus(listing, feature_config, FLAGS.tfrecord_dir,
                                      segments_per_shard=FLAGS.segments_per_shard,
                                      show_progress=FLAGS.progress, overwrite=FLAGS.overwrite,
                                      prepare_flags=FLAGS.flags_into_string())


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    cli_flags.run_reporting_errors(run, (corpora.CorpusError, audio.AudioError, ValueError,
                                         directory_lock.DirectoryInUseError))


if __name__ == "__main__":
    app.run(main)
