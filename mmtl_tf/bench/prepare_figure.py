"""prepare_speedup as users get it: measured in a process with the prepare command's threads.

`python -m mmtl_tf.prepare` starts TensorFlow with one intra-op thread
(`quiet_start.command_threads`), which cannot be changed once TensorFlow has started; the bench
process runs with the default pool, which its training figures need. So the two preparation
figures (`data_figures.prepare_speedup`, 2 cores and one core) run in a child
(`python -m mmtl_tf.bench --figure=prepare_speedup`, `child_process`) whose environment gets
the same settings from `quiet_start.prepare_threads`. The child reads the synthetic corpus
the bench generated in the same work directory and warms up with one untimed preparation.
"""

import os

from mmtl_tf import quiet_start
from mmtl_tf.bench import child_process
from mmtl_tf.bench import data_figures


def prepare_speedup(preset: str, quick: bool, work_dir: str) -> dict:
    """Runs `measure` in a child process under the prepare command's threads; its record.

    Args:
      preset, quick: the bench's --preset and --quick (the child makes the same plan).
      work_dir: the bench's scratch directory, holding the synthetic corpus.
    """
    environment = dict(os.environ)
    quiet_start.prepare_threads(environment)
    arguments = [f"--preset={preset}", f"--work_dir={work_dir}"] + (["--quick"] if quick else [])
    return child_process.finish_figure(
        child_process.start_figure("prepare_speedup", arguments, environment), "prepare_speedup")


def measure(plan, work_dir: str) -> dict:
    """In the child: `data_figures.prepare_speedup` on the bench's corpus, with the threads seen.

    Args:
      plan: the bench plan (corpus size, rounds, profiles, features).
      work_dir: the parent's scratch directory (`synthetic_corpus` finds the corpus made).
    """
    listing, _, _ = data_figures.synthetic_corpus(work_dir, plan.corpus_utterances,
                                                  plan.corpus_max_seconds, plan.feature_config)
    record = data_figures.prepare_speedup(listing, plan.feature_config, work_dir,
                                          plan.prepare_rounds, plan.profiles,
                                          warm_up=("prepare_corpus",))
    record["threads"] = {name: os.environ.get(name) for name in quiet_start.PREPARE_THREADS}
    return record
