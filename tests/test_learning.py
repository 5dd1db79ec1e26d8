"""A short smoke-network run of `main` learns the synthetic task: held-out UA beats chance.

The run (main's body, in this process): 24 outer steps (3 epochs of 8 steps at B = 8), the
cheapest length measured that passes with margin. The margin: any constant predictor scores
UA = 0.25 exactly (one class recalled fully, the others not at all), which is what a run that
learned nothing converges to. Random guessing over the 48 utterances of session 2's two held-out
speakers has a standard deviation of about 0.075 in UA. Measured pooled UA (one 2-core
development machine; runs are bit-deterministic on a machine, so these are not luck of the
draw): 0.392 after 24 steps, 0.365 after 32, 0.434 after 48 (the former 6 epochs; 0.385 on
another machine), and 0.250, a collapse, after 24 or 36 steps at B = 4. The test asserts > 0.30,
which a collapse to a constant or chance-level predictor fails, and leaves 0.092 for the numeric
differences between machines (other CPUs take other oneDNN code paths).
"""

import json
import os

import numpy as np
import pytest

from conftest import run_main_in_process


# The paper's features, not the smoke preset's smaller ones: with 150 x 100 spectrograms the same
# 24 steps collapsed to one class (measured), so this test keeps what it measured above.
PAPER_FEATURES = ("--hop_ms=10", "--max_frames=300", "--num_bins=200")


@pytest.fixture(scope="module")
def larger_shards(tmp_path_factory):
    from mmtl_tf import config, preparation
    from mmtl_tf.corpora import synthetic

    root = tmp_path_factory.mktemp("synthetic24")
    listing = synthetic.read_synthetic(str(root / "corpus"), utterances_per_speaker=24, seed=0)
    preparation.prepare_corpus(listing, config.FeatureConfig(), str(root / "shards"), show_progress=False)
    return str(root / "shards")


def test_smoke_run_beats_chance_on_held_out_speakers(larger_shards, tmp_path):
    from mmtl_tf import episodes, evaluation, run_dir as run_dir_lib, tfrecords, trained_model

    run_dir = str(tmp_path / "run")
    run_main_in_process(f"--tfrecord_dir={larger_shards}", f"--run_dir={run_dir}", "--fold=2",
                        "--aux=vad", "--train_steps=24", "--segments_per_speaker=8", *PAPER_FEATURES)
    results = json.load(open(os.path.join(run_dir, "results.json")))

    algorithm, record = trained_model.load_trained(run_dir)
    experiment = run_dir_lib.experiment_from_record(record)
    manifest = tfrecords.load_manifest(larger_shards, experiment.features)
    evaluator = evaluation.SpeakerEvaluator(algorithm, 0.001, 0, 8, 0)
    truth, predicted = [], []
    for speaker in (record["val_speaker"], record["test_speaker"]):
        segments = episodes.speaker_segments(larger_shards, manifest, speaker, experiment.features)
        probabilities = evaluator.segment_probabilities(algorithm.meta_weights(), algorithm.head_weights(),
                                                        segments["spectrogram"])
        ids, inverse = np.unique(segments["utterance_id"], return_inverse=True)
        sums = np.zeros((len(ids), probabilities.shape[1]))
        np.add.at(sums, inverse, probabilities)
        labels = np.zeros(len(ids), int)
        labels[inverse] = segments["labels"][:, 0]
        truth.extend(labels)
        predicted.extend(sums.argmax(axis=1))
    pooled = evaluation.classification_metrics(truth, predicted, record["class_names"])
    assert pooled["utterances"] >= 40
    print(f"pooled held-out UA without adaptation: {pooled['ua']:.3f} over {pooled['utterances']} utterances")
    assert pooled["ua"] > 0.30, (pooled, results["ua_no_adapt"])
