"""U²-Net (Qin et al. 2020) in keras_unet_collection's layout, as the original configured it.

Encoder: `num_layers` RSU blocks with `base_filters·2**i` output and a
quarter of that as middle filters, of decreasing depth (num_layers+1
down/upsamplings at the first level, then num_layers, …, 2), each level
max-pooled; then two RSU-4F blocks of the last width. The decoder mirrors
it with bilinear upsampling and skip concatenations. Each decoder level
(and the bottom) gives a side output at full size; their concatenation
→ Conv1×1 is the head. ReLU, no batch norm: the original's fixed choices.
For the same config the weights have the original's shapes, order and
count. Departures: docs/differences.md, M54.
"""

import keras

from blocks.heads import head
from blocks.rsu import rsu, rsu4f, side_outputs
from blocks.unet_stacks import decode, encode
from ConfigParser import ConfigParser
from TensorflowModel import TensorflowModel

# The original's fixed settings (none of them is a config key there).
ACTIVATION = "ReLU"
BATCH_NORM = False
POOL = True  # max-pooling
UNPOOL = True  # bilinear upsampling


class TensorflowU2Net(TensorflowModel):
    """U²-Net over `[model]` base_filters and num_layers (docs/config.md).

    Example:
        model = TensorflowU2Net("./train_eval_infer.config").model
    """

    def create(self) -> keras.Model:
        # === Config ===
        height = self.model_key("image_height")
        width = self.model_key("image_width")
        channels = self.model_key("image_channels")
        num_layers = self.model_key("num_layers")
        base_filters = self.model_key("base_filters")
        self._check_size(height, width, num_layers)
        filters = [base_filters * 2**i for i in range(num_layers)]
        mid = [f // 4 for f in filters]
        # RSU down/upsamplings per level: num_layers + 1 at the first, then num_layers, ..., 2.
        depths = [num_layers + 1] + [num_layers - i for i in range(num_layers - 1)]
        bottom, bottom_mid = filters[-1], filters[-1] // 2

        # === Functional Model ===
        inputs = keras.Input((height, width, channels))
        x, skips = inputs, []
        for level, (f, m, depth) in enumerate(zip(filters, mid, depths)):
            if level:
                x = encode(x, f, POOL, ACTIVATION, BATCH_NORM)
            x = rsu(x, m, f, depth, ACTIVATION, BATCH_NORM, POOL, UNPOOL)
            skips.append(x)
        for _ in range(2):
            x = encode(x, bottom, POOL, ACTIVATION, BATCH_NORM)
            x = rsu4f(x, bottom_mid, bottom, activation=ACTIVATION, batch_norm=BATCH_NORM)
            skips.append(x)
        skips.pop()  # the bottom itself
        decoded = [x]
        x = self._up(x, skips.pop())
        x = rsu4f(x, bottom_mid, bottom, activation=ACTIVATION, batch_norm=BATCH_NORM)
        decoded.append(x)
        for f, m, depth in reversed(list(zip(filters, mid, depths))):
            x = self._up(x, skips.pop())
            x = rsu(x, m, f, depth, ACTIVATION, BATCH_NORM, POOL, UNPOOL)
            decoded.append(x)

        sides = side_outputs(decoded[::-1], self.num_classes, UNPOOL)
        x = keras.layers.Concatenate(axis=-1)(sides)
        outputs = head(x, self.num_classes, self.final_activation())
        return keras.Model(inputs, outputs, name="u2net_model")

    @staticmethod
    def _up(x, skip):
        x = decode(x, skip.shape[-1], UNPOOL, ACTIVATION, BATCH_NORM)
        return keras.layers.Concatenate(axis=-1)([x, skip])

    def _check_size(self, height: int, width: int, num_layers: int) -> None:
        factor = 2 ** (num_layers + 1)
        if height % factor or width % factor:
            raise self.config.error(
                ConfigParser.MODEL, "num_layers",
                f"needs image_width and image_height divisible by {factor} (2**(num_layers+1)); "
                f"they are {width} and {height}",
            )
