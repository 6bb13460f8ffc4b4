"""From a list of (image, mask) paths to batches, streaming through tf.data.

Only the file names are held in memory; images are decoded and resized in
parallel as the model consumes them (`num_parallel_calls=AUTOTUNE`), the
order is reshuffled every epoch from a seed, and the next batches are
prepared while the current one trains (`prefetch`). Peak memory therefore
does not grow with the number of images. `make_dataset` gives one pass over
a list of pairs; `make_stream` the endless augmented stream of generator
mode.
"""

import contextlib
import functools

import numpy as np
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
        return self.read(image_path.decode(), mask_path.decode())

    def read(self, image_path: str, mask_path: str, normalize: bool = True):
        try:
            return self.dataset.read_pair(image_path, mask_path, normalize)
        except DataError as e:
            self.error = self.error or e
            raise


def _loader(reader):
    """A tf.data map function calling `reader` and giving model-ready tensors."""
    preprocessor = reader.dataset.preprocessor
    image_shape = (preprocessor.height, preprocessor.width, preprocessor.channels)
    mask_shape = (preprocessor.height, preprocessor.width, 1)
    image_dtype = tf.as_dtype(preprocessor.dtype)

    def load(*arguments):
        image, mask = tf.numpy_function(reader, list(arguments), (image_dtype, tf.uint8), stateful=False)
        image.set_shape(image_shape)
        mask.set_shape(mask_shape)
        return tf.cast(image, tf.float32), tf.cast(mask, tf.float32)

    return load


def make_dataset(
    pairs: list[tuple[str, str]],
    reader: PairReader,
    batch_size: int,
    shuffle: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """Batches of (float32 image, float32 0/1 mask) for `model.fit`/`evaluate`."""
    images, masks = zip(*pairs)
    ds = tf.data.Dataset.from_tensor_slices((list(images), list(masks)))
    if shuffle:
        ds = ds.shuffle(len(pairs), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(_loader(reader), num_parallel_calls=tf.data.AUTOTUNE)
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


class AugmentedPairReader(PairReader):
    """Sample number n of the endless, augmented training stream.

    The stream visits the pairs in a new seeded order every len(pairs)
    samples, and sample n is augmented with a generator seeded from
    (seed, n). The stream is therefore a pure function of the seed: the same
    config gives the same sequence, whatever the number of threads, and a
    resumed run continues it from its first unseen sample.
    """

    def __init__(self, dataset: ImageMaskDataset, pairs, augmentor, seed: int,
                 augment: bool = True, debug_writer=None):
        super().__init__(dataset)
        self.pairs = pairs
        self.augmentor = augmentor
        self.seed = seed
        self.augment = augment
        self.debug_writer = debug_writer

    @functools.lru_cache(maxsize=4)
    def order(self, cycle: int) -> np.ndarray:
        return np.random.default_rng([self.seed, cycle]).permutation(len(self.pairs))

    def __call__(self, sample):
        sample = int(sample)
        cycle, position = divmod(sample, len(self.pairs))
        image_path, mask_path = self.pairs[self.order(cycle)[position]]
        image, mask = self.read(image_path, mask_path, normalize=False)
        rng = np.random.default_rng([self.seed, 1, sample])
        choice = self.augmentor.draw(rng) if self.augment else 0
        image, mask, prefix = self.augmentor.augment(image, mask, choice, rng)
        if self.debug_writer is not None and self.debug_writer.wants(sample):
            self.debug_writer.write(sample, prefix, image, mask, image_path, mask_path)
        return self.dataset.preprocessor.finish(image), mask


def make_stream(reader: AugmentedPairReader, batch_size: int, first_sample: int = 0) -> tf.data.Dataset:
    """Endless batches from sample `first_sample` on (use with `steps_per_epoch`)."""
    ds = tf.data.Dataset.counter(first_sample).map(_loader(reader), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
