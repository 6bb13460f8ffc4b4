"""TensorflowTransUNet: the original's size, weight layout, keys and errors."""

import socket
import warnings

import keras
import numpy as np
import pytest
from conftest import config_text, small_model_section, write_keras2_weights

from blocks import encoders
from blocks.trans_backbones import BACKBONES as BLOCK_BACKBONES
from blocks.vit import GELU, Snake
from config_schema.families.trans_unet import BACKBONES as SCHEMA_BACKBONES
from ConfigParser import ConfigParser
from errors import ConfigError
from ModelRegistry import create_model
from TensorflowModelLoader import load_best_weights

SMALL: dict = {
    key: value
    for key, value in small_model_section(
        64, model="TensorflowTransUNet", filter_num=[8, 16, 32], embed_dim=32, num_mlp=64, num_heads=2,
        num_transformer=1,
    ).items()
    if key not in ("base_filters", "num_layers", "dropout_rate")  # TensorflowUNet's keys
}

# The [model] section of the original's projects/TensorflowTransUNet/MultipleMyeloma config, as measured.
REFERENCE = """
[model]
model          = "TensorflowTransUNet"
image_width    = 384
image_height   = 384
optimizer      = "Adam"
image_channels = 3
num_classes    = 1
filter_num     =  [32, 64, 128, 256]
stack_num_down = 2
stack_num_up   = 2
embed_dim      = 256
num_mlp        = 512
num_heads      = 4
num_transformer= 4
self.activation= 'ReLU'
mlp_activation = 'GELU'
batch_norm     = False
backbone       = None
weights        = 'imagenet'
freeze_backbone= True
freeze_batch_norm=True
learning_rate  = 0.0001
clipvalue      = 0.5
loss           = "bce_dice_loss"
metrics        = ["binary_accuracy"]
show_summary   = False
"""


def config(sections=None, **overrides) -> ConfigParser:
    sections = dict(sections or {})
    sections["model"] = {**SMALL, **overrides}
    return ConfigParser.from_string(config_text(sections), "m.config")


def build(**overrides) -> keras.Model:
    return create_model(config(**overrides)).model


def images(n=2, size=64):
    return np.random.default_rng(0).uniform(0, 255, (n, size, size, 3)).astype(np.float32)


def test_the_multiple_myeloma_config_has_the_originals_size():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every key of the original's config is known
        parsed = ConfigParser.from_string(REFERENCE, "MultipleMyeloma.config")
    model = create_model(parsed).model
    assert model.count_params() == 8_190_689
    assert model.output_shape == (None, 384, 384, 1)
    assert model.name == "transunet_model"


def test_small_model_layout_and_its_count():
    model = build()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("MultiHeadAttention") == 1 and kinds.count("PatchEmbedding") == 1
    assert kinds.count("GELU") == 2 and "UpSampling2D" in kinds and "Conv2DTranspose" not in kinds
    assert model.layers[-1].get_config()["activation"] == "sigmoid"
    # The count rule of the original's layout: 3x3 stacks, the ViT bottleneck, the decoder, the head.
    conv = lambda cin, cout, k=3, bias=True: k * k * cin * cout + (cout if bias else 0)  # noqa: E731
    encoder = conv(3, 8) + conv(8, 8) + conv(8, 16) + conv(16, 16) + conv(16, 32) + conv(32, 32)
    embed, patches = 32, (64 // 4) ** 2
    vit = 2 * 2 * embed + 3 * (embed * 2 * embed + 2 * embed) + (2 * embed * embed + embed)
    vit += (embed * 64 + 64) + (64 * embed + embed)
    bottleneck = 2 * conv(32, 32, 1, False) + (32 * embed + embed) + patches * embed + vit
    decoder = conv(32, 16) + conv(32, 16) + conv(16, 16) + conv(16, 8) + conv(16, 8) + conv(8, 8)
    assert model.count_params() == encoder + bottleneck + decoder + conv(8, 1, 1)


def test_unpool_follows_pool_unless_set():
    base = build().count_params()
    # Strided convolutions already give a level's width, so the convolution after each has more inputs;
    # transposed convolutions halve the channels, so the convolution after each has fewer.
    strided_down = (2 * 2 * 8 * 16 + 16) + (2 * 2 * 16 * 32 + 32) + 9 * (16 - 8) * 16 + 9 * (32 - 16) * 32
    transposed_up = (9 * 32 * 16 + 16) + (9 * 16 * 8 + 8) - 9 * (32 - 16) * 16 - 9 * (16 - 8) * 8
    assert build(pool=False).count_params() == base + strided_down + transposed_up  # the original's graph
    assert build(pool=False, unpool=True).count_params() == base + strided_down
    assert build(pool=True, unpool=False).count_params() == base + transposed_up
    nearest = build(pool="ave", unpool="nearest")  # "ave" crashed the original's decoder
    upsampling = [la for la in nearest.layers if type(la).__name__ == "UpSampling2D"]
    assert {la.interpolation for la in upsampling} == {"nearest"}
    assert nearest.count_params() == base


def test_batch_norm_drops_the_convolution_bias():
    plain, normalized = build(), build(batch_norm=True)
    convs = [la for la in normalized.layers if type(la).__name__ == "Conv2D"][:-1]
    assert not any(c.use_bias for c in convs)
    assert sum(type(la).__name__ == "BatchNormalization" for la in normalized.layers) == 12
    assert normalized.count_params() > plain.count_params()


@pytest.mark.parametrize("name, layer", [("ReLU", "ReLU"), ("LeakyReLU", "LeakyReLU"), ("relu", "Activation"),
                                         ("mish", "Activation"), ("ELU", "ELU")])
def test_activation_takes_layer_names_and_keras_names(name, layer):
    model = build(activation=name)
    after_first_conv = model.layers[2]
    assert type(after_first_conv).__name__ == layer


def test_gelu_is_the_tanh_approximation_and_snake_its_formula():
    x = np.linspace(-4, 4, 41).astype(np.float32)
    expected = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(GELU()(x)), expected, rtol=1e-5, atol=1e-6)
    snake = Snake()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(snake(x)), x + np.sin(0.5 * x) ** 2 / 0.5, atol=1e-5)
    assert snake.count_params() == 1 and snake.trainable_weights == []
    assert Snake.from_config(snake.get_config()).get_config() == snake.get_config()
    # One β per Snake layer, after each of the 12 stacked convolutions.
    assert build(activation="Snake", mlp_activation="gelu").count_params() == build().count_params() + 12


def test_one_level_is_a_transformer_at_full_size():
    model = build(filter_num=[4], image_width=16, image_height=16)
    embedding = next(la for la in model.layers if type(la).__name__ == "PatchEmbedding")
    assert embedding.num_patches == 16 * 16
    assert model.output_shape == (None, 16, 16, 1)


def test_several_classes_get_a_softmax_head():
    model = build(num_classes=3, loss="categorical_crossentropy")
    assert model.output_shape == (None, 64, 64, 3)
    np.testing.assert_allclose(model.predict(images(), verbose=0).sum(axis=-1), 1, atol=1e-5)


def test_keras2_weights_of_the_original_layout_load_by_layer_order(tmp_path):
    parsed = config({"train": {"model_dir": str(tmp_path)}})
    trained = create_model(parsed).model
    write_keras2_weights(tmp_path / "best_model.h5", trained)
    fresh = create_model(parsed).model
    assert load_best_weights(fresh, parsed).endswith("best_model.h5")
    np.testing.assert_allclose(fresh.predict(images(), verbose=0), trained.predict(images(), verbose=0), atol=1e-5)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"image_width": 62}, r"\[model\] filter_num = \[8, 16, 32\]: 3 levels need .* they are 62 and 64"),
        ({"filter_num": []}, r"\[model\] filter_num = \[\]: needs at least one level"),
        ({"filter_num": [8], "backbone": "ResNet50", "weights": None},
         r"\[model\] filter_num = \[8\]: needs at least two levels with backbone ResNet50"),
        ({"activation": "Relu"}, r"\[model\] activation = 'Relu': expected a Keras layer name \(ReLU, "),
        ({"mlp_activation": "gelux"}, r"\[model\] mlp_activation = 'gelux': expected a Keras layer name"),
        ({"backbone": "VGG16", "image_channels": 1}, r"\[model\] weights \(not set\): ImageNet weights of VGG16 need"),
        ({"pool": "min"}, r"\[model\] pool = 'min': expected True or False or one of 'max', 'ave'"),
        ({"backbone": "ResNet49"}, r"\[model\] backbone = 'ResNet49': expected one of 'VGG16'"),
    ],
)
def test_bad_values_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build(**overrides)


def test_a_failed_download_of_imagenet_weights_is_one_line_naming_weights(monkeypatch):
    seen = []

    def no_network(fname, origin=None, **kwargs):
        seen.append(socket.getdefaulttimeout())
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("keras.src.utils.file_utils.get_file", no_network)  # what keras.applications calls
    before = socket.getdefaulttimeout()
    with pytest.raises(ConfigError) as error:
        build(backbone="VGG16")
    message = str(error.value)
    assert "\n" not in message
    assert "[model] weights (not set): the ImageNet weights of VGG16 are not in the Keras cache and cannot be " \
           "downloaded (URL fetch failure on https://" in message
    assert "set weights = None to train from scratch, give the path of a local weights file, or put " \
           "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 in " in message
    assert seen == [encoders.DOWNLOAD_TIMEOUT] and socket.getdefaulttimeout() == before  # it cannot hang


def test_a_missing_weights_file_is_an_error_naming_weights(tmp_path):
    missing = str(tmp_path / "nothing.h5")
    with pytest.raises(ConfigError, match=rf"\[model\] weights = '{missing}': no weights file {missing}; "):
        build(backbone="VGG16", weights=missing)


def test_vgg16_backbone_gives_every_level_and_is_frozen():
    model = build(backbone="VGG16", weights=None)
    backbone = model.get_layer("VGG16_backbone")
    # VGG16's first three blocks (up to block3_conv3), as the original took them for three levels.
    assert backbone.count_params() == 1792 + 36928 + 73856 + 147584 + 295168 + 590080 + 590080
    assert backbone.trainable_weights == []
    assert model.output_shape == (None, 64, 64, 1)


def test_resnet50_backbone_starts_at_half_size_and_may_train_its_batch_norm():
    model = build(backbone="ResNet50", weights=None, freeze_batch_norm=False)
    backbone = model.get_layer("ResNet50_backbone")
    assert [tuple(o.shape[1:]) for o in backbone.outputs] == [(32, 32, 64), (16, 16, 256)]
    trainable = {type(la).__name__ for la in backbone.layers if la.trainable_weights}
    assert trainable == {"BatchNormalization"}
    assert model.output_shape == (None, 64, 64, 1)


def test_the_schema_lists_the_backbones_the_block_knows():
    assert SCHEMA_BACKBONES == BLOCK_BACKBONES


def test_older_transunet_configs_of_the_original_parse_without_warnings():
    text = config_text({"model": SMALL}) + "patch_size = 16\nhybrid = True\ngrid = (14, 14)\nhidden_size = 612\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ConfigParser.from_string(text, "old.config")
