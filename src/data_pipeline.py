"""From a list of (image, mask) paths to batches, streaming through tf.data.

Only the file names are held in memory; images are decoded and resized in
parallel as the model consumes them (`num_parallel_calls=AUTOTUNE`), the
order is reshuffled every epoch from a seed, and the next batches are
prepared while the current one trains (`prefetch`). Peak memory therefore
does not grow with the number of images.
"""

import contextlib

import tensorflow as tf

from errors import DataError
from ImageMaskDataset import ImageMaskDataset


class PairReader:
    """Reads one pair inside tf.data, remembering the first user error.

    TensorFlow wraps exceptions raised in `numpy_function` into its own
    errors; `reraise_data_errors` turns them back into the DataError that
    names the file.
    """

    def __init__(self, dataset: ImageMaskDataset):
        self.dataset = dataset
        self.error: DataError | None = None

    def __call__(self, image_path: bytes, mask_path: bytes):
        try:
            return self.dataset.read_pair(image_path.decode(), mask_path.decode())
        except DataError as e:
            self.error = self.error or e
            raise


def make_dataset(
    pairs: list[tuple[str, str]],
    reader: PairReader,
    batch_size: int,
    shuffle: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """Batches of (float32 image, float32 0/1 mask) for `model.fit`/`evaluate`."""
    preprocessor = reader.dataset.preprocessor
    image_shape = (preprocessor.height, preprocessor.width, preprocessor.channels)
    mask_shape = (preprocessor.height, preprocessor.width, 1)
    image_dtype = tf.as_dtype(preprocessor.dtype)

    def load(image_path, mask_path):
        image, mask = tf.numpy_function(
            reader, [image_path, mask_path], (image_dtype, tf.uint8), stateful=False
        )
        image.set_shape(image_shape)
        mask.set_shape(mask_shape)
        return tf.cast(image, tf.float32), tf.cast(mask, tf.float32)

    images, masks = zip(*pairs)
    ds = tf.data.Dataset.from_tensor_slices((list(images), list(masks)))
    if shuffle:
        ds = ds.shuffle(len(pairs), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


@contextlib.contextmanager
def reraise_data_errors(*readers: PairReader):
    """Re-raises a reader's DataError in place of TensorFlow's wrapper."""
    try:
        yield
    except tf.errors.OpError:
        for reader in readers:
            if reader.error is not None:
                raise reader.error from None
        raise
