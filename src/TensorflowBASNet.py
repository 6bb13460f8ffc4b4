"""BASNet, the boundary-aware predict-and-refine network of the Keras example (see [model] in docs/config.md).

A prediction module (an input convolution, the four ResNet-34 stages, two
stages of three residual blocks, a dilated bridge and six decoder stages,
each with a side head resized to the input) and a residual refinement module
on the first head. The model has 1 + 7 outputs, all through the final
activation: output 0 is the refined map, the one inference and evaluation
use (`inference_model`); training applies the loss to every output and sums
them. The image size must be divisible by 32. With the default
basnet_filters = 64 the layers, their order and the parameter count equal the
original's, so its Keras-2 weight files load by layer order. Departures:
docs/differences.md M73–M76.
"""

import keras

from blocks.basnet import DeeplySupervisedModel, prediction_module, refinement_module
from ConfigParser import ConfigParser
from TensorflowModel import TensorflowModel, first_output

STRIDE = 32  # the prediction module's deepest stage is 1/32 of the input


class TensorflowBASNet(TensorflowModel):
    """BASNet with a ResNet-34 encoder written here (no keras_cv, no pretrained weights).

    Reads `[model]`: image_width, image_height, image_channels, num_classes,
    basnet_filters, final_activation (sigmoid for one class, as the original).

    Example:
        builder = TensorflowBASNet("./train_eval_infer.config")
        builder.model            # 8 outputs, for training
        builder.inference_model  # the refined output alone
    """

    def create(self) -> keras.Model:
        height = self.model_key("image_height")
        width = self.model_key("image_width")
        channels = self.model_key("image_channels")
        filters = self.model_key("basnet_filters")
        self._check_size(height, width)

        inputs = keras.Input((height, width, channels))
        sides = prediction_module(inputs, self.num_classes, filters)
        refined = refinement_module(sides[0], self.num_classes, filters)
        activation = self.final_activation()
        # Named outputs: the training logs show refined_loss, side_1_loss ... side_7_loss.
        names = ["refined"] + [f"side_{i}" for i in range(1, len(sides) + 1)]
        outputs = [keras.layers.Activation(activation, dtype="float32", name=name)(x)
                   for name, x in zip(names, [refined] + sides)]
        return DeeplySupervisedModel(inputs, outputs, name="BASNet")

    @property
    def inference_model(self) -> keras.Model:
        """The refined output alone, sharing the trained layers (what inference and evaluation use)."""
        return first_output(self.model)

    def _check_size(self, height: int, width: int) -> None:
        for key, size in (("image_width", width), ("image_height", height)):
            if size % STRIDE:
                raise self.config.error(
                    ConfigParser.MODEL, key,
                    f"BASNet needs a size divisible by {STRIDE} (its encoder's stride); it is {size}",
                )
