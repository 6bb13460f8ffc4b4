"""Building blocks the model families share, as plain functions over Keras tensors.

Each family file (`src/Tensorflow<Name>.py`) reads its `[model]` keys, then
composes these blocks; a block takes every setting as an explicit argument
and reads no config. Blocks use `keras` and `keras.ops` only, never
`tensorflow` directly, so that every model builds under any Keras 3 backend.

- `heads`: the output layer (always float32).
- `conv`: convolution + batch-norm + activation stacks.
One module per kind of block (attention gates, MultiRes blocks, Swin and ViT
layers, encoders over keras.applications, ...), named for what it holds.
"""
