"""TransUNet (keras_unet_collection's layout): a U-Net whose bottleneck is a stack of ViT blocks.

Encoder: `len(filter_num)` levels of convolution stacks (or an ImageNet
backbone's feature maps), each halving the size. The deepest map becomes
one-pixel patches → Dense(embed_dim) + position embedding → num_transformer
ViT blocks → back to a map; the decoder upsamples and concatenates the
skips. For the same config the weights have the original's shapes, order
and count, so its Keras-2 weight files load by layer order. Departures:
docs/differences.md, M50–M53.
"""

import keras

from blocks.encoders import PretrainedWeightsError
from blocks.heads import head
from blocks.trans_backbones import backbone_features, full_size_first
from blocks.unet_stacks import conv_stack, unet_left, unet_right
from blocks.vit import LAYER_ACTIVATIONS, patch_embedding, vit_block
from ConfigParser import ConfigParser
from errors import ConfigError
from TensorflowModel import ACTIVATIONS, TensorflowModel


class TensorflowTransUNet(TensorflowModel):
    """TransUNet over `[model]` filter_num, stack_num_down/up, embed_dim, num_mlp, num_heads,
    num_transformer, activation, mlp_activation, batch_norm, pool, unpool, backbone, weights,
    freeze_backbone and freeze_batch_norm (docs/config.md).

    Example:
        model = TensorflowTransUNet("./train_eval_infer.config").model
    """

    def create(self) -> keras.Model:
        # === Config ===
        height = self.model_key("image_height")
        width = self.model_key("image_width")
        channels = self.model_key("image_channels")
        self.filters = self.model_key("filter_num")
        self.act = self._layer_activation("activation")
        self.mlp_act = self._layer_activation("mlp_activation")
        self.batch_norm = bool(self.model_key("batch_norm"))
        self.pool = self.model_key("pool")
        self.unpool = self._unpool()
        self.backbone = self.model_key("backbone")
        self._check_size(height, width, channels)

        # === Functional Model ===
        inputs = keras.Input((height, width, channels))
        skips = self._encoder(inputs)
        x = self._transformer(skips.pop())
        x = self._decoder(x, skips)
        outputs = head(x, self.num_classes, self.final_activation())
        return keras.Model(inputs, outputs, name="transunet_model")

    # === Layers ===

    def _encoder(self, inputs) -> list:
        """The map of each level, level i at 1/2**i of the input size (None: a backbone has no
        full-size map); the last is the transformer's input."""
        depth = len(self.filters)
        stack_num = self.model_key("stack_num_down")
        if self.backbone is None:
            skips = [conv_stack(inputs, self.filters[0], stack_num, activation=self.act, batch_norm=self.batch_norm)]
        elif full_size_first(self.backbone):
            skips = self._backbone(inputs, depth)
        else:
            skips = [None, *self._backbone(inputs, depth - 1)]
        # The levels below a backbone's deepest map (all but the first without one) are encoder stacks.
        for level in range(len(skips), depth):
            skips.append(unet_left(skips[-1], self.filters[level], stack_num, self.act, self.pool, self.batch_norm))
        return skips

    def _backbone(self, inputs, levels: int) -> list:
        try:
            return backbone_features(
                inputs, self.backbone, levels, weights=self.model_key("weights"),
                freeze=bool(self.model_key("freeze_backbone")),
                freeze_batch_norm=bool(self.model_key("freeze_batch_norm")),
            )
        except PretrainedWeightsError as e:
            raise self.config.error(ConfigParser.MODEL, "weights", str(e)) from None
        except ValueError as e:
            raise self.config.error(ConfigParser.MODEL, "backbone", f"keras.applications refused it: {e}") from None

    def _transformer(self, x):
        """Conv1×1 → one-pixel patch embedding → ViT blocks → map → Conv1×1, at the deepest level."""
        height, width = x.shape[1], x.shape[2]
        embed_dim = self.model_key("embed_dim")
        mlp_units = [self.model_key("num_mlp"), embed_dim]
        x = keras.layers.Conv2D(self.filters[-1], 1, padding="valid", use_bias=False)(x)
        x = patch_embedding(x, embed_dim)
        for _ in range(self.model_key("num_transformer")):
            # key_dim = embed_dim per head, as the original's
            x = vit_block(x, self.model_key("num_heads"), embed_dim, mlp_units, self.mlp_act)
        x = keras.layers.Reshape((height, width, embed_dim))(x)
        return keras.layers.Conv2D(self.filters[-1], 1, padding="valid", use_bias=False)(x)

    def _decoder(self, x, skips: list):
        """One `unet_right` per level above the transformer, concatenating that level's map if any."""
        stack_num = self.model_key("stack_num_up")
        for level in reversed(range(len(self.filters) - 1)):
            skip = [] if skips[level] is None else [skips[level]]
            x = unet_right(x, skip, self.filters[level], stack_num, self.act, self.unpool, self.batch_norm)
        return x

    # === Checks ===

    def _layer_activation(self, key: str) -> str:
        """A layer-class name (ReLU, GELU, ...) as the original took, or a Keras activation name."""
        name = self.model_key(key)
        if name in LAYER_ACTIVATIONS:
            return name
        try:
            return self.activation(key)
        except ConfigError:
            raise self.config.error(
                ConfigParser.MODEL, key,
                f"expected a Keras layer name ({', '.join(LAYER_ACTIVATIONS)}) or an activation name "
                f"({', '.join(ACTIVATIONS)})",
            ) from None

    def _unpool(self):
        """The decoder's upsampling: `unpool` when set, else what the original did: follow `pool`."""
        unpool = self.model_key("unpool")
        if unpool is not None:
            return unpool
        return self.pool is not False  # True, "max", "ave": bilinear; False: transposed convolution

    def _check_size(self, height: int, width: int, channels: int) -> None:
        half_size_first = self.backbone is not None and not full_size_first(self.backbone)
        if len(self.filters) < 1 + half_size_first:
            needs = f"two levels with backbone {self.backbone}" if half_size_first else "one level"
            raise self.config.error(ConfigParser.MODEL, "filter_num", f"needs at least {needs}")
        factor = 2 ** (len(self.filters) - 1)
        if height % factor or width % factor:
            raise self.config.error(
                ConfigParser.MODEL, "filter_num",
                f"{len(self.filters)} levels need image_width and image_height divisible by {factor} "
                f"(2**(len(filter_num)-1)); they are {width} and {height}",
            )
        if self.backbone is not None and self.model_key("weights") == "imagenet" and channels != 3:
            raise self.config.error(
                ConfigParser.MODEL, "weights",
                f"ImageNet weights of {self.backbone} need image_channels = 3 (it is {channels}); "
                "set weights = None to train the backbone from scratch",
            )
