"""Swin-UNet (Cao et al. 2021) as the original built it from keras_unet_collection (see [model] in docs/config.md).

The image is cut into p×p patches, embedded to `filter_num_begin` channels,
and passed through `depth` levels of Swin Transformer stacks; each level
below the first halves the patch grid and doubles the channels (patch
merging). The decoder grows the grid back (patch expanding), concatenates
the encoder's tokens of the same level, projects them and runs another
stack; a last expanding by p gives an H×W map of filter_num_begin/p
channels, and a bias-free 1×1 convolution the output. For the same config
the weights, their shapes and order and the parameter count are the
original's, so its Keras-2 weight files load by layer order. Where it
departs from the original: docs/differences.md, M45–M47.
"""

import keras

from blocks.heads import head
from blocks.swin import (
    SwinPatchEmbedding,
    SwinPatchExpanding,
    SwinPatchExtract,
    SwinPatchMerging,
    effective_window,
    swin_stack,
)
from ConfigParser import ConfigParser
from TensorflowModel import TensorflowModel


class TensorflowSwinUNet(TensorflowModel):
    """Swin-UNet over `[model]` filter_num_begin, depth, stack_num_down, stack_num_up, patch_size,
    num_heads, window_size, num_mlp, shift_window and mirror_decoder.

    Decoder level i (counted from the bottom) takes its heads and window, as keras_unet_collection
    did, from the reversed lists: the settings of the encoder level one deeper than itself;
    `mirror_decoder = True` gives it those of the encoder level of its own resolution.

    Example:
        model = TensorflowSwinUNet("./train_eval_infer.config").model
    """

    def create(self) -> keras.Model:
        # === Config ===
        height = self.model_key("image_height")
        width = self.model_key("image_width")
        channels = self.model_key("image_channels")
        self.embed_dim = self.model_key("filter_num_begin")
        self.depth = self.model_key("depth")
        self.stack_down = self.model_key("stack_num_down")
        self.stack_up = self.model_key("stack_num_up")
        self.num_mlp = self.model_key("num_mlp")
        self.shift = bool(self.model_key("shift_window"))  # None (unset) is False, as in the original
        self.patch = self._patch_size()
        self.heads = self._per_level("num_heads")
        self.windows = self._per_level("window_size")
        grid = self._grid(height, width)
        self._check_levels(grid)

        # === Functional Model ===
        inputs = keras.Input((height, width, channels))
        x = SwinPatchExtract(self.patch)(inputs)
        x = SwinPatchEmbedding(grid[0] * grid[1], self.embed_dim)(x)
        skips = []
        for level in range(self.depth):
            if level:
                x = SwinPatchMerging(self._grid_at(grid, level - 1), self._dim(level - 1))(x)
            x = swin_stack(x, self.stack_down, self._dim(level), self._grid_at(grid, level), self.heads[level],
                           self.windows[level], self.num_mlp, self.shift)
            skips.append(x)
        for level in reversed(range(self.depth - 1)):
            x = SwinPatchExpanding(self._grid_at(grid, level + 1), self._dim(level + 1), 2)(x)
            x = keras.layers.concatenate([x, skips[level]], axis=-1)
            x = keras.layers.Dense(self._dim(level), use_bias=False)(x)
            heads, window = self._decoder_settings(level)
            x = swin_stack(x, self.stack_up, self._dim(level), self._grid_at(grid, level), heads, window,
                           self.num_mlp, self.shift)
        x = SwinPatchExpanding(grid, self.embed_dim, self.patch, return_vector=False)(x)
        outputs = head(x, self.num_classes, self.final_activation(), use_bias=False)
        return keras.Model(inputs, outputs, name="SwinNet")

    # === Levels ===

    def _dim(self, level: int) -> int:
        return self.embed_dim * 2**level

    @staticmethod
    def _grid_at(grid, level: int) -> tuple[int, int]:
        return grid[0] // 2**level, grid[1] // 2**level

    def _decoder_settings(self, level: int) -> tuple[int, int]:
        """(heads, window) of the decoder stack at `level` (0 = the top)."""
        source = level if self.model_key("mirror_decoder") else level + 1
        return self.heads[source], self.windows[source]

    def _stacks(self):
        """(channels, level, heads, window) of every stack, encoder then decoder."""
        for level in range(self.depth):
            yield self._dim(level), level, self.heads[level], self.windows[level]
        for level in range(self.depth - 1):
            yield (self._dim(level), level) + self._decoder_settings(level)

    # === Checks ===

    def _patch_size(self) -> int:
        # The original cut patch_size[0]-sized patches but counted them with patch_size[1].
        p0, p1 = self.model_key("patch_size")
        if p0 != p1:
            raise self.config.error(ConfigParser.MODEL, "patch_size",
                                    "expected two equal sizes, e.g. (4, 4): patches are square")
        return p0

    def _per_level(self, key: str) -> list[int]:
        values = self.model_key(key)
        if len(values) != self.depth:
            raise self.config.error(ConfigParser.MODEL, key,
                                    f"expected one value per level: {self.depth} (depth), not {len(values)}")
        return list(values)

    def _grid(self, height: int, width: int) -> tuple[int, int]:
        p = self.patch
        if height % p or width % p:
            raise self.config.error(ConfigParser.MODEL, "patch_size",
                                    f"image_width and image_height ({width}, {height}) must be multiples of {p}")
        grid = (height // p, width // p)
        factor = 2 ** (self.depth - 1)
        if grid[0] % factor or grid[1] % factor:
            raise self.config.error(
                ConfigParser.MODEL, "depth",
                f"{self.depth} levels halve the {grid[1]}×{grid[0]} patch grid {self.depth - 1} times: "
                f"image_width and image_height must be multiples of patch_size·2**(depth-1) = {p * factor}",
            )
        return grid

    def _check_levels(self, grid) -> None:
        if self.embed_dim % self.patch:
            raise self.config.error(
                ConfigParser.MODEL, "filter_num_begin",
                f"the last patch expanding spreads filter_num_begin·{self.patch} channels over "
                f"{self.patch}×{self.patch} pixels: filter_num_begin must be a multiple of {self.patch}",
            )
        for dim, level, heads, window in self._stacks():
            if dim % heads:
                raise self.config.error(ConfigParser.MODEL, "num_heads",
                                        f"{heads} heads do not divide the {dim} channels of level {level}")
            cells = self._grid_at(grid, level)
            used, _ = effective_window(cells, window, 0)
            if cells[0] % used or cells[1] % used:
                raise self.config.error(
                    ConfigParser.MODEL, "window_size",
                    f"a window of {window} does not tile the {cells[1]}×{cells[0]} patch grid of level {level}",
                )
