"""ImageNet encoders from `keras.applications` as multi-scale feature extractors (TransUNet).

`backbone_features` builds the application without its top, takes the
feature maps the original took from it (one per scale, shallowest first),
wraps them in one nested model named `<Name>_backbone`, as the original
did, and optionally freezes it.
"""

import keras

from blocks import encoders

# Per backbone: the layer whose output is taken at each scale. VGG's first
# map is at full size, every other's at 1/2; each next one halves it.
FEATURE_LAYERS = {
    "VGG16": ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"),
    "VGG19": ("block1_conv2", "block2_conv2", "block3_conv4", "block4_conv4", "block5_conv4"),
    "ResNet50": ("conv1_relu", "conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out"),
    "ResNet101": ("conv1_relu", "conv2_block3_out", "conv3_block4_out", "conv4_block23_out", "conv5_block3_out"),
    "ResNet152": ("conv1_relu", "conv2_block3_out", "conv3_block8_out", "conv4_block36_out", "conv5_block3_out"),
    "ResNet50V2": ("conv1_conv", "conv2_block3_1_relu", "conv3_block4_1_relu", "conv4_block6_1_relu", "post_relu"),
    "ResNet101V2": ("conv1_conv", "conv2_block3_1_relu", "conv3_block4_1_relu", "conv4_block23_1_relu",
                    "post_relu"),
    "ResNet152V2": ("conv1_conv", "conv2_block3_1_relu", "conv3_block8_1_relu", "conv4_block36_1_relu",
                    "post_relu"),
    # Keras 2 named DenseNet's first activation "conv1/relu"; Keras 3 forbids "/" in names.
    **{f"DenseNet{n}": ("conv1_relu", "pool2_conv", "pool3_conv", "pool4_conv", "relu") for n in (121, 169, 201)},
    **{f"EfficientNetB{n}": ("block2a_expand_activation", "block3a_expand_activation", "block4a_expand_activation",
                             "block6a_expand_activation", "top_activation") for n in range(8)},
}
BACKBONES = tuple(FEATURE_LAYERS)


def full_size_first(name: str) -> bool:
    """True when the backbone's first feature map has the input's size (VGG), else it has half."""
    return name.startswith("VGG")


def backbone_features(inputs, name: str, levels: int, weights="imagenet", freeze: bool = True,
                      freeze_batch_norm: bool = True) -> list:
    """The first `levels` feature maps (at most 5) of backbone `name` applied to `inputs`.

    `weights`: "imagenet", None (random) or a weights file, as keras.applications
    takes it. `freeze`: the backbone's layers do not train; with
    `freeze_batch_norm` False its BatchNormalization layers still do.

    Raises:
        PretrainedWeightsError: the ImageNet weights are not cached and cannot be downloaded, or the
            weights file is missing or does not fit; the message says how to proceed.
        ValueError: keras.applications refused the input (size, channels).
    """
    layers = FEATURE_LAYERS[name][:levels]
    application = encoders.application(name, weights, input_shape=tuple(inputs.shape[1:]))
    outputs = [application.get_layer(layer).output for layer in layers]
    backbone = keras.Model(application.input, outputs, name=f"{name}_backbone")
    if freeze:
        for layer in backbone.layers:
            layer.trainable = not freeze_batch_norm and isinstance(layer, keras.layers.BatchNormalization)
    features = backbone(inputs)
    return list(features) if isinstance(features, (list, tuple)) else [features]
