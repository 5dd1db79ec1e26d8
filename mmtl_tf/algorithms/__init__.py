"""Training algorithms sharing one loop (`mmtl_tf.training`): MMTL and the Table 2 baselines.

Each algorithm owns two weight groups and says how to move them:
  meta weights (theta): the part fine-tuned on a target speaker's auxiliary tasks at meta-test
    (MMTL's meta learner, MTL's shared CNN, the whole CNN-LSTM);
  head weights (phi): the rest (MMTL's transfer learner, MTL's task heads; none for CNN-LSTM).
An algorithm computes, from an episode, the updates to apply (`step_updates`); the loop applies
them with the optimizers the algorithm declares, saves checkpoints and logs.
"""

from mmtl_tf import config as config_lib


def build_algorithm(model_config: config_lib.ModelConfig, train_config: config_lib.TrainConfig,
                    num_classes: int):
    """Builds the algorithm named by `train_config.model` ("mmtl", "mtl" or "cnn_lstm")."""
    from mmtl_tf.algorithms import cnn_lstm, mmtl, mtl
    builders = {"mmtl": mmtl.MetaMultiTask, "mtl": mtl.MultiTaskBaseline,
                "cnn_lstm": cnn_lstm.CnnLstmBaseline}
    return builders[train_config.model](model_config, train_config, num_classes)
