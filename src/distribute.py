"""Where training runs: the tf.distribute strategy, this process's place in the
cluster, and the precision policy (`[train] strategy`, `cpu_devices`,
`mixed_precision`; docs/config.md).

TensorFlow fixes its devices and collective ops when its runtime starts, so
`create_placement` must be the first TensorFlow call of a run. Only the
trainer imports this module; models build without TensorFlow.
"""

import contextlib
import faulthandler
import json
import os
from dataclasses import dataclass

import keras

from ConfigParser import ConfigParser
from errors import ConfigError

# How long a worker of `multi_worker` waits for the others of TF_CONFIG before it
# gives up (TOOLKIT_WORKER_WAIT_S overrides it): MultiWorkerMirroredStrategy itself
# waits forever, and ignores SIGTERM.
WORKER_WAIT_S = 600.0


def worker_wait_s() -> float:
    return float(os.environ.get("TOOLKIT_WORKER_WAIT_S", WORKER_WAIT_S))


@dataclass(frozen=True)
class Placement:
    """The strategy of a run and this process's place in it."""

    strategy: object  # tf.distribute.Strategy
    name: str  # "default", "mirrored" or "multi_worker"
    workers: int = 1
    worker: int = 0  # this process's index among the workers

    @property
    def is_chief(self) -> bool:
        """Worker 0, the only process that writes files."""
        return self.worker == 0

    @property
    def replicas(self) -> int:
        return self.strategy.num_replicas_in_sync

    @property
    def custom_loop(self) -> bool:
        """Keras 3's `fit` fails under MultiWorkerMirroredStrategy ("Attempt to convert a value
        (PerReplica...) to a Tensor"), so multi_worker trains with distributed_fit.fit; this is
        the one place to switch back once a Keras release fixes it."""
        return self.name == "multi_worker"

    def describe(self, global_batch: int) -> str:
        return (f"=== strategy {self.name}: {self.replicas} replicas, global batch {global_batch}, "
                f"per-replica batch {global_batch // self.replicas}")

    def check_batch(self, config: ConfigParser, global_batch: int) -> None:
        if global_batch % self.replicas:
            raise config.error(ConfigParser.TRAIN, "batch_size",
                               f"the global batch {global_batch} does not divide among {self.replicas} replicas "
                               f"of [train] strategy = {self.name!r}; use a multiple of {self.replicas}")


def single_process() -> Placement:
    """The default strategy in this process alone."""
    import tensorflow as tf

    return Placement(tf.distribute.get_strategy(), "default")


def create_placement(config: ConfigParser) -> Placement:
    """The strategy `[train] strategy` names, created before any other TensorFlow call."""
    name = config.get(ConfigParser.TRAIN, "strategy")
    import tensorflow as tf

    if name == "default":
        return single_process()
    if name == "mirrored":
        return Placement(_mirrored(config, tf), name)
    return _multi_worker(config, tf)


def _mirrored(config: ConfigParser, tf):
    if tf.config.list_physical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    count = config.get(ConfigParser.TRAIN, "cpu_devices")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:  # the runtime already started (a second run in one process)
        if len(tf.config.list_logical_devices("CPU")) != count:
            raise config.error(ConfigParser.TRAIN, "cpu_devices",
                               "TensorFlow started before the strategy was created and has "
                               f"{len(tf.config.list_logical_devices('CPU'))} logical CPU devices; "
                               "run the trainer in a fresh process") from None
    devices = [device.name for device in tf.config.list_logical_devices("CPU")]
    print(f"=== strategy mirrored: no GPU, mirroring over {count} logical CPU device(s) "
          "([train] cpu_devices)", flush=True)
    return tf.distribute.MirroredStrategy(devices, cross_device_ops=tf.distribute.ReductionToOneDevice())


def cluster_of(config: ConfigParser) -> tuple[int, int]:
    """(workers, this worker's index) from TF_CONFIG, checked."""
    where = config.where(ConfigParser.TRAIN, "strategy")
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise ConfigError(f"{where}: [train] strategy = \"multi_worker\" needs the TF_CONFIG environment variable "
                          "(the cluster and this task, as TensorFlow documents it)")
    try:
        tf_config = json.loads(text)
        workers = list(tf_config["cluster"]["worker"])
        task = tf_config["task"]
        index = int(task["index"])
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{where}: TF_CONFIG is not a cluster with \"worker\" addresses and a \"task\" "
                          f"index ({e!r})") from None
    if task.get("type") != "worker" or not 0 <= index < len(workers) or set(tf_config["cluster"]) - {"worker"}:
        raise ConfigError(f"{where}: TF_CONFIG must list only \"worker\" tasks and name this one by an index "
                          f"from 0 to {len(workers) - 1}; it is {task!r}")
    return len(workers), index


def _multi_worker(config: ConfigParser, tf) -> Placement:
    workers, index = cluster_of(config)
    wait_s = worker_wait_s()
    print(f"=== strategy multi_worker: worker {index} of {workers}, waiting for the other workers of TF_CONFIG; "
          f"if they have not all started within {wait_s:.0f} s, this one exits with status 1", flush=True)
    # The strategy's constructor waits for every worker while holding the GIL, so no Python
    # thread or signal handler can end the wait: faulthandler's watchdog is a C thread.
    # Its traceback goes to os.devnull: the line above says what happened.
    quiet = open(os.devnull, "w")
    faulthandler.dump_traceback_later(wait_s, exit=True, file=quiet)
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    finally:
        faulthandler.cancel_dump_traceback_later()
        quiet.close()
    return Placement(strategy, "multi_worker", workers, index)


@contextlib.contextmanager
def precision(config: ConfigParser):
    """Sets `[train] mixed_precision` as the Keras policy for the run, and restores the previous one.

    Keras wraps the optimizer in a LossScaleOptimizer itself under mixed_float16;
    every family's output layer and every loss compute in float32.
    """
    name = config.get(ConfigParser.TRAIN, "mixed_precision")
    if name is None:
        yield
        return
    if name == "mixed_float16" and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            raise config.error(ConfigParser.TRAIN, "mixed_precision",
                               "\"mixed_float16\" needs a GPU and this machine has none (float16 on a CPU is "
                               "emulated, slow and unstable); use \"mixed_bfloat16\" or leave it unset")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    print(f"=== mixed precision {name}: float32 weights, output layer and losses", flush=True)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
