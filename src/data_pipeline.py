"""From a list of (image, mask) paths to batches, streaming through tf.data.

Only the file names are held in memory; images are decoded and resized in
parallel as the model consumes them (`num_parallel_calls=AUTOTUNE`), the
order is reshuffled every epoch from a seed, and the next batches are
prepared while the current one trains (`prefetch`). Peak memory therefore
does not grow with the number of images. `make_dataset` gives one pass over
a list of pairs; `make_stream` the endless augmented stream of generator
mode; `make_epochs` the training epochs of a run, each one seeded pass.

Under `multi_worker` every worker reads its own shard (`Shard`): of each
global order, worker w takes elements w, w + W, ..., so the union of the
workers' batch k is the single-process batch k.
"""

import contextlib
import functools
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from errors import DataError
from ImageMaskDataset import ImageMaskDataset


class Shard(NamedTuple):
    """Worker `index` of `count` reads elements index, index + count, ..."""

    index: int = 0
    count: int = 1


class PairReader:
    """Reads one pair inside tf.data, remembering the first user error.

    TensorFlow wraps exceptions raised in `numpy_function` into its own
    errors; `reraise_data_errors` turns them back into the DataError that
    names the file.
    """

    def __init__(self, dataset: ImageMaskDataset, pairs=(), cache=None):
        self.dataset = dataset
        self.pairs = pairs
        self.cache = cache  # a pair_cache.PairCache over `pairs`, or None
        self.error: DataError | None = None

    def __call__(self, image_path: bytes, mask_path: bytes):
        return self.read(image_path.decode(), mask_path.decode())

    def read_at(self, index: int, normalize: bool = True):
        """Pair `index` of `pairs`; with a cache, decoded once and kept as uint8 (`[train] cache`)."""
        if self.cache is None:
            return self.read(*self.pairs[index], normalize)
        image, mask = self.cache.get(index, lambda i: self.read(*self.pairs[i], normalize=False))
        return (self.dataset.preprocessor.finish(image) if normalize else image), mask

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
    shard: Shard = Shard(),
) -> tf.data.Dataset:
    """Batches of (float32 image, float32 0/1 mask) for `model.fit`/`evaluate`;
    with `shard`, only that worker's pairs."""
    images, masks = zip(*pairs[shard.index::shard.count])
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
                 augment: bool = True, debug_writer=None, cache=None):
        super().__init__(dataset, pairs, cache)
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
        index = self.order(cycle)[position]
        image_path, mask_path = self.pairs[index]
        image, mask = self.read_at(index, normalize=False)
        rng = np.random.default_rng([self.seed, 1, sample])
        choice = self.augmentor.draw(rng) if self.augment else 0
        image, mask, prefix = self.augmentor.augment(image, mask, choice, rng)
        if self.debug_writer is not None and self.debug_writer.wants(sample):
            self.debug_writer.write(sample, prefix, image, mask, image_path, mask_path)
        return self.dataset.preprocessor.finish(image), mask


def make_stream(reader: AugmentedPairReader, batch_size: int, first_sample: int = 0,
                shard: Shard = Shard()) -> tf.data.Dataset:
    """Endless batches from sample `first_sample` on (use with `steps_per_epoch`).

    `batch_size` is this worker's: the global batch divided by `shard.count`.
    """
    ds = tf.data.Dataset.counter(first_sample + shard.index, shard.count)
    ds = ds.map(_loader(reader), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


class EpochPairReader(PairReader):
    """Position p of epoch e: the pairs visited in a new seeded order every epoch.

    The order of epoch e is a pure function of (seed, e), so a resumed run
    continues with the order the uninterrupted run would have used, and every
    worker of a cluster computes the same global order.
    """

    def __init__(self, dataset: ImageMaskDataset, pairs, seed: int, cache=None):
        super().__init__(dataset, pairs, cache)
        self.seed = seed

    @functools.lru_cache(maxsize=4)
    def order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, 2, epoch]).permutation(len(self.pairs))

    def __call__(self, epoch, position):
        return self.read_at(self.order(int(epoch))[int(position)])


def make_epochs(reader: EpochPairReader, batch_size: int, first_epoch: int, epochs: int,
                shard: Shard = Shard(), length: int | None = None) -> tf.data.Dataset:
    """Epochs `first_epoch`..`epochs` - 1, each a pass over the first `length` positions
    of that epoch's order (all by default), this worker's shard, in batches of `batch_size`.

    Use with `steps_per_epoch` = the batches of one epoch: the batches of an
    epoch never mix with the next one's.
    """
    length = len(reader.pairs) if length is None else length
    load = _loader(reader)

    def one_epoch(epoch):
        positions = tf.data.Dataset.range(shard.index, length, shard.count)
        ds = positions.map(lambda position: (epoch, position))
        return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size)

    return tf.data.Dataset.range(first_epoch, epochs).flat_map(one_epoch).prefetch(tf.data.AUTOTUNE)
