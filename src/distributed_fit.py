"""`model.fit` for MultiWorkerMirroredStrategy, and the collectives a run needs.

Keras 3's `fit` fails under MultiWorkerMirroredStrategy ("Attempt to convert
a value (PerReplica...) to a Tensor"); Keras's own `train_step` and
`test_step` run fine inside `strategy.run`. `fit` here drives them and the
same callbacks in the same order as Keras's `fit`, and logs the same keys:
the metric variables are sync-on-read, so their results are reduced across
every replica of every worker. Placement.custom_loop chooses it.
"""

import json

import keras
import numpy as np
import tensorflow as tf


def fit(model: keras.Model, strategy, train, valid, epochs: int, initial_epoch: int, steps: int,
        validation_steps: int, callbacks: list, verbose: int = 2) -> keras.callbacks.History:
    """Trains like `model.fit(train, validation_data=valid, ...)`.

    Args:
        train, valid: distributed datasets (`strategy.distribute_datasets_from_function`);
            `train` runs across epochs, `valid` is iterated afresh each epoch.
        steps, validation_steps: batches of an epoch; the same on every worker.
    """
    callback_list = keras.callbacks.CallbackList(
        callbacks, add_history=True, add_progbar=verbose != 0, model=model,
        verbose=verbose, epochs=epochs, steps=steps,
    )

    @tf.function
    def train_step(iterator):
        strategy.run(model.train_step, args=(next(iterator),))

    @tf.function
    def test_step(iterator):
        strategy.run(model.test_step, args=(next(iterator),))

    def results(prefix: str = "") -> dict:
        return {prefix + k: float(v) for k, v in model.get_metrics_result().items()}

    model.stop_training = False
    train_iterator = iter(train)
    logs = {}
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        for step in range(steps):
            callback_list.on_train_batch_begin(step)
            train_step(train_iterator)
            # Reading the metrics is a collective: once an epoch, as the progress line needs it.
            callback_list.on_train_batch_end(step, results() if step == steps - 1 else None)
        logs = results()
        model.reset_metrics()
        valid_iterator = iter(valid)
        for _ in range(validation_steps):
            test_step(valid_iterator)
        logs.update(results("val_"))
        callback_list.on_epoch_end(epoch, logs)
        # A stop asked on any worker (early stopping, ./break_training, Ctrl-C) stops them all.
        model.stop_training = any_worker(strategy, model.stop_training)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    return model.history


def _sum_over_workers(strategy, values: list[np.ndarray], contribute: bool) -> list[np.ndarray]:
    """The sum over workers of `values` from the workers that contribute (replica 0 of each)."""

    # Replicas are numbered worker by worker, so this is each worker's first local replica.
    local_replicas = strategy.num_replicas_in_sync // strategy.cluster_resolver.cluster_spec().num_tasks("worker")

    @tf.function
    def reduce(tensors):
        context = tf.distribute.get_replica_context()
        first = tf.equal(context.replica_id_in_sync_group % local_replicas, 0)
        return [context.all_reduce(tf.distribute.ReduceOp.SUM, t * tf.cast(first, t.dtype)) for t in tensors]

    tensors = [tf.constant(v if contribute else np.zeros_like(v)) for v in values]
    outputs = strategy.run(reduce, args=(tensors,))
    return [strategy.experimental_local_results(o)[0].numpy() for o in outputs]


def any_worker(strategy, flag: bool) -> bool:
    """True on every worker when any worker's flag is True."""
    return bool(_sum_over_workers(strategy, [np.array(float(flag))], True)[0] > 0)


def barrier(strategy) -> None:
    """Returns on each worker once every worker has reached it."""
    any_worker(strategy, False)


def broadcast_arrays(strategy, arrays: list[np.ndarray], is_chief: bool) -> list[np.ndarray]:
    """The chief's arrays on every worker; the others pass arrays of the same shapes and dtypes."""
    return _sum_over_workers(strategy, arrays, is_chief)


def broadcast_json(strategy, document, is_chief: bool):
    """The chief's JSON-able document on every worker."""
    data = np.frombuffer(json.dumps(document).encode(), np.uint8).astype(np.int32) if is_chief else np.zeros(0)
    (length,) = broadcast_arrays(strategy, [np.array(len(data), np.int64)], is_chief)
    (received,) = broadcast_arrays(strategy, [data if is_chief else np.zeros(int(length), np.int32)], is_chief)
    return json.loads(received.astype(np.uint8).tobytes().decode())
