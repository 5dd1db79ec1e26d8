"""Table 1 networks: shapes and parameter counts computed independently from the layer sizes."""

from mmtl_tf import config, models


def _conv(kernel, inputs, filters):
    return kernel[0] * kernel[1] * inputs * filters + filters


def _bilstm(units, inputs):
    return 2 * 4 * (units * (inputs + units) + units)


def test_paper_meta_learner_matches_table_1():
    model = models.build_meta_learner(config.ModelConfig())
    layers = {layer.name: layer for layer in model.layers}
    assert model.input_shape == (None, 300, 200)
    assert model.output_shape == (None, 4)
    # Three 2x2 poolings: 300x200 -> 37x25 with 32 channels -> 37 steps of 800 features.
    assert layers["to_sequence"].output.shape[1:] == (37, 800)
    assert layers["bilstm"].output.shape[1:] == (37, 256)
    expected = (_conv((12, 16), 1, 16) + _conv((8, 12), 16, 24) + _conv((5, 7), 24, 32)
                + _bilstm(128, 800) + (256 * 64 + 64) + (64 * 4 + 4))
    assert model.count_params() == expected == 1_034_892


def test_transfer_learner_is_one_fc_from_four_outputs():
    model = models.build_transfer_learner(num_classes=5)
    assert model.input_shape == (None, 4)
    assert model.output_shape == (None, 5)
    assert model.count_params() == 4 * 5 + 5


def test_mtl_shares_cnn_and_has_a_head_per_task():
    model_config = config.ModelConfig(conv_filters=(4, 4), conv_kernels=((3, 3), (3, 3)),
                                      lstm_units=6, fc_units=5, num_frames=40, num_bins=24)
    shared, heads = models.build_mtl_networks(model_config, 4, ("valence", "dominance"))
    assert shared.output_shape == (None, 10, 6 * 4)
    assert sorted(heads.output) == ["dominance", "emotion", "valence"]
    assert [heads.output[t].shape[-1] for t in ("emotion", "valence", "dominance")] == [4, 4, 4]
    head_params = _bilstm(6, 24) + (12 * 5 + 5)
    assert heads.count_params() == 3 * head_params + (5 * 4 + 4) * 3
