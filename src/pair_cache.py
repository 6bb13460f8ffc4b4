"""`[train] cache`: the decoded, resized, un-augmented (image, mask) pairs, kept across epochs.

Readers ask for pair i (0…N−1) with `cache.get(i, load)`; the first request
calls `load(i)` and stores its result, later ones answer from the store.
`"memory"` keeps the pairs in preallocated NumPy arrays; a file path keeps
them in one memory-mapped file that a later run with the same `key` (the
caller's digest of the pair list and preprocessing settings) reuses, so its
first epoch reads nothing from the image folders either.

Memory grows only as pairs are filled: the arrays are allocated once, with
`np.empty`, and the file is mapped, so untouched pages cost nothing.

File layout (little-endian, every region starts at a multiple of 4 KiB):
`MAGIC`, a 4-byte header length, the JSON header (shapes, dtype, key,
offsets), then N one-byte "filled" flags, the N images and the N masks.
A pair is written, flushed to the file, and only then is its flag set and
flushed: a killed run leaves flags set for completely written pairs only.
"""

import json
import mmap
import os
import shutil
import struct
import threading

import numpy as np

from errors import ConfigError

MAGIC = b"\x93PAIRCACHE\n"
VERSION = 1
ALIGN = 4096
GIB = 1024**3
# A memory cache may take what is available less this much, which TensorFlow, the model, the
# prefetched batches and augmentation need beside it (the 512 px Pancreas-T1 run peaks at 2-3 GiB
# RSS without a cache), or less 20 % of what is available, whichever is more: other processes and
# the page cache grow too, and an oversized cache would end in the OOM killer, not in a message.
MEMORY_MARGIN_BYTES = 2 * GIB
MEMORY_MARGIN_FRACTION = 0.2
_LOCK_STRIPES = 256  # per-index fill locks, hashed: enough that reader threads rarely share one


def estimate_bytes(count: int, image_shape, image_dtype, mask_shape) -> int:
    """The cache's data bytes: N images, N uint8 masks and N one-byte flags (a file adds its header)."""
    image = int(np.prod(image_shape, dtype=np.int64)) * np.dtype(image_dtype).itemsize
    mask = int(np.prod(mask_shape, dtype=np.int64))
    return count * (image + mask + 1)


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _stat(path: str, name: str) -> int | None:
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == name:
                    return int(value)
    except (OSError, ValueError):
        pass
    return None


def _cgroup_available() -> int | None:
    """What the memory cgroup (a container's limit) still allows, or None without a limit.

    /proc/meminfo shows the host's memory, not a container's limit. The reclaimable page
    cache (inactive files) is counted as free, as the kernel would reclaim it before OOM.
    """
    for limit_file, usage_file, stat_file, inactive in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current", "/sys/fs/cgroup/memory.stat",
         "inactive_file"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes",
         "/sys/fs/cgroup/memory/memory.stat", "total_inactive_file"),
    ):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is None or usage is None or limit >= 2**60:  # "max" or the v1 "unlimited" sentinel
            continue
        return max(0, limit - usage + (_stat(stat_file, inactive) or 0))
    return None


def available_memory_bytes() -> int | None:
    """Bytes a new allocation can take without swapping, or None where this cannot be told."""
    available = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        pass
    if available is None:
        try:  # other Unixes; free pages only, so an underestimate (macOS has no SC_AVPHYS_PAGES)
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            return None  # Windows: no check, as the brief's own fallback allows
    limited = _cgroup_available()
    return available if limited is None else min(available, limited)


def free_disk_bytes(folder: str) -> int:
    return shutil.disk_usage(folder).free


def _gib(n: int) -> str:
    return f"{n / GIB:.1f} GiB"


def _aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


class PairCache:
    """N (image, mask) pairs, each filled once by `load(i)` and then read back.

    Use `PairCache.create`. Thread-safe: tf.data calls readers from several
    threads; a lock guards the fill of one index, and reads of filled pairs
    take none (the flag is set only after the pair is stored).
    """

    def __init__(self, images: np.ndarray, masks: np.ndarray, filled: np.ndarray, where_stored: str):
        self.images, self.masks, self.filled = images, masks, filled
        self.where_stored = where_stored  # "in memory" or "in <path>"
        self.count = len(filled)
        self._locks = [threading.Lock() for _ in range(min(_LOCK_STRIPES, max(self.count, 1)))]

    @classmethod
    def create(cls, setting, count: int, image_shape, image_dtype, mask_shape, key: str,
               where: str) -> "PairCache | None":
        """The cache `[train] cache = setting` asks for, or None for False; prints its size.

        Args:
            setting: False, "memory", or a file path.
            count: the number of pairs.
            image_shape, image_dtype, mask_shape: of one pair (masks are uint8).
            key: a digest of the pairs and preprocessing settings; a file made under another is refused.
            where: "file:line" of the key, for messages.

        Raises:
            ConfigError: an invalid setting, a cache that would not fit in memory or on disk,
                or a file that is not this data's cache.
        """
        if setting is False or setting is None:
            return None

        def error(problem: str) -> ConfigError:
            return ConfigError(f"{where}: [train] cache = {setting!r}: {problem}")

        if not isinstance(setting, str) or not setting.strip():
            raise error('use "memory" or a file path (False: no cache)')
        image_shape, mask_shape = tuple(int(n) for n in image_shape), tuple(int(n) for n in mask_shape)
        size = estimate_bytes(count, image_shape, image_dtype, mask_shape)
        if setting.strip().lower() == "memory":
            cache = cls._in_memory(count, image_shape, image_dtype, mask_shape, size, error)
        else:
            cache = _FileStore.open(setting, count, image_shape, image_dtype, mask_shape, key, size, error)
        print(cache.describe(size), flush=True)
        return cache

    @classmethod
    def _in_memory(cls, count, image_shape, image_dtype, mask_shape, size, error) -> "PairCache":
        available = available_memory_bytes()
        if available is not None:
            limit = available - max(MEMORY_MARGIN_BYTES, int(MEMORY_MARGIN_FRACTION * available))
            if size > limit:
                raise error(
                    f"{count} pairs take {_gib(size)} but this machine has {_gib(available)} available, "
                    f"of which the cache may use {_gib(max(limit, 0))} (the rest is kept for training); "
                    "use a file path, smaller images, or False")
        # np.empty maps fresh pages lazily: memory is taken as pairs are filled, not now.
        return cls(np.empty((count, *image_shape), image_dtype), np.empty((count, *mask_shape), np.uint8),
                   np.zeros(count, bool), "in memory")

    def describe(self, size: int | None = None) -> str:
        """`=== cache: N pairs, X.X GiB in memory|in <path>` (and how many a reused file holds)."""
        size = size if size is not None else estimate_bytes(
            self.count, self.images.shape[1:], self.images.dtype, self.masks.shape[1:])
        line = f"=== cache: {self.count} pairs, {_gib(size)} {self.where_stored}"
        done = self.filled_count
        return line + (f" ({done} already filled)" if done else "")

    @property
    def filled_count(self) -> int:
        return int(np.count_nonzero(self.filled))

    def __len__(self) -> int:
        return self.count

    def get(self, i: int, load) -> tuple[np.ndarray, np.ndarray]:
        """Pair i as new arrays: stored, or `load(i)` (called once per index) stored first.

        Copies, not views: augmentation and normalisation may change their
        arrays in place, and a view would carry that change into every later
        epoch silently (a read-only view would make such code fail instead).
        A copy costs one memcpy, a small fraction of the decode it saves.
        """
        if not 0 <= i < self.count:
            raise IndexError(f"pair {i} of a cache of {self.count}")
        if not self.filled[i]:
            with self._locks[i % len(self._locks)]:
                if not self.filled[i]:  # another thread may have filled it meanwhile
                    self._store(i, *load(i))
        return self.images[i].copy(), self.masks[i].copy()

    def _store(self, i: int, image, mask) -> None:
        for name, array, store in (("image", image, self.images), ("mask", mask, self.masks)):
            array = np.asarray(array)
            if array.shape != store.shape[1:] or array.dtype != store.dtype:
                raise ValueError(f"load({i}) gave the {name} as {array.dtype}{array.shape}; "
                                 f"the cache holds {store.dtype}{store.shape[1:]}")
            store[i] = array
        self._persist(i)
        self.filled[i] = True
        self._persist_flag(i)

    def _persist(self, i: int) -> None:
        """Makes pair i durable before its flag is set (files only)."""

    def _persist_flag(self, i: int) -> None:
        """Makes flag i durable (files only)."""

    def close(self) -> None:
        """Releases the store; the cache is unusable afterwards."""
        self.images = self.masks = self.filled = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _FileStore(PairCache):
    """A PairCache in one memory-mapped file (layout in the module docstring)."""

    def __init__(self, path: str, mapping: mmap.mmap, file, header: dict):
        self.path, self._mmap, self._file, self.header = path, mapping, file, header
        n, offsets = header["count"], header["offsets"]

        def view(offset, dtype, shape):
            return np.frombuffer(mapping, dtype, int(np.prod(shape, dtype=np.int64)), offset).reshape(shape)

        self._image_bytes = int(np.prod(header["image_shape"])) * np.dtype(header["image_dtype"]).itemsize
        self._mask_bytes = int(np.prod(header["mask_shape"]))
        super().__init__(
            view(offsets["images"], header["image_dtype"], (n, *header["image_shape"])),
            view(offsets["masks"], np.uint8, (n, *header["mask_shape"])),
            view(offsets["filled"], np.bool_, (n,)),
            f"in {path}",
        )

    @staticmethod
    def layout(count, image_shape, image_dtype, mask_shape, key) -> tuple[dict, bytes]:
        header = {"format": "pair_cache", "version": VERSION, "key": key, "count": count,
                  "image_shape": list(image_shape), "image_dtype": np.dtype(image_dtype).str,
                  "mask_shape": list(mask_shape), "mask_dtype": "|u1"}
        # The offsets depend on the header's length, which the offsets lengthen: room for 20 digits each.
        header["offsets"] = {"filled": 0, "images": 0, "masks": 0, "end": 0}
        start = _aligned(len(MAGIC) + 4 + len(json.dumps(header)) + 4 * 20)
        image_bytes = count * int(np.prod(image_shape, dtype=np.int64)) * np.dtype(image_dtype).itemsize
        mask_bytes = count * int(np.prod(mask_shape, dtype=np.int64))
        images = start + _aligned(count)
        masks = images + _aligned(image_bytes)
        header["offsets"] = {"filled": start, "images": images, "masks": masks, "end": masks + mask_bytes}
        text = json.dumps(header).encode()
        prefix = MAGIC + struct.pack("<I", len(text)) + text
        assert len(prefix) <= start
        return header, prefix

    @staticmethod
    def read_header(path: str) -> dict | None:
        """The header of a pair cache file, or None when the file is not one."""
        with open(path, "rb") as f:
            if f.read(len(MAGIC)) != MAGIC:
                return None
            (length,) = struct.unpack("<I", f.read(4))
            try:
                return json.loads(f.read(length))
            except ValueError:
                return None

    @classmethod
    def open(cls, setting, count, image_shape, image_dtype, mask_shape, key, size, error) -> "_FileStore":
        path = os.path.abspath(os.path.expanduser(setting.strip()))
        header, prefix = cls.layout(count, image_shape, image_dtype, mask_shape, key)
        total = header["offsets"]["end"]
        if os.path.isdir(path):
            raise error(f"{path} is a folder; name a file in it")
        if os.path.exists(path):
            cls.check_existing(path, header, total, error)
        folder = os.path.dirname(path)
        existing = folder
        while not os.path.isdir(existing):
            existing = os.path.dirname(existing)
        allocated = 0
        if os.path.exists(path):
            allocated = getattr(os.stat(path), "st_blocks", 0) * 512  # a sparse file takes only what is filled
        free = free_disk_bytes(existing)
        if total - allocated > free:
            raise error(f"{count} pairs take {_gib(total)} but {existing} has {_gib(free)} free; "
                        'free some space, name a file on another disk, or use "memory" or False')
        if not os.path.exists(path):
            os.makedirs(folder, exist_ok=True)
            cls.write_new(path, prefix, total)
        file = open(path, "r+b")
        try:
            mapping = mmap.mmap(file.fileno(), total)
        except (OSError, ValueError) as e:
            file.close()
            raise error(f"{path} cannot be mapped into memory ({e})") from None
        return cls(path, mapping, file, header)

    @staticmethod
    def check_existing(path: str, header: dict, total: int, error) -> None:
        """Refuses a file that is not this data's cache; it is never overwritten."""
        try:
            found = _FileStore.read_header(path)
            length = os.path.getsize(path)
        except (OSError, struct.error) as e:
            raise error(f"{path} cannot be read ({e}); delete it or name another file") from None
        if found is None or found.get("format") != "pair_cache":
            raise error(f"{path} exists and is not a pair cache; name another file")
        for name in ("version", "count", "image_shape", "image_dtype", "mask_shape", "key"):
            if found.get(name) != header[name]:
                what = "data or settings" if name == "key" else f"{name} {found.get(name)}, not {header[name]}"
                raise error(f"{path} was made for other data or settings ({what}); "
                            "delete it or name another file")
        if found.get("offsets") != header["offsets"] or length < total:
            raise error(f"{path} is damaged (its size or layout is not what its header says); delete it")

    @staticmethod
    def write_new(path: str, prefix: bytes, total: int) -> None:
        """Writes an empty cache file (sparse: disk is taken as pairs are filled), atomically."""
        temporary = f"{path}.{os.getpid()}.tmp"
        try:
            with open(temporary, "wb") as f:
                f.write(prefix)
                f.truncate(total)  # zero-filled, so every flag reads "not filled"
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)

    def _flush(self, offset: int, length: int) -> None:
        start = offset - offset % mmap.ALLOCATIONGRANULARITY  # mmap.flush needs an aligned offset
        self._mmap.flush(start, offset + length - start)

    def _persist(self, i: int) -> None:
        offsets = self.header["offsets"]
        self._flush(offsets["images"] + i * self._image_bytes, self._image_bytes)
        self._flush(offsets["masks"] + i * self._mask_bytes, self._mask_bytes)

    def _persist_flag(self, i: int) -> None:
        self._flush(self.header["offsets"]["filled"] + i, 1)

    def close(self) -> None:
        if self._mmap is None:
            return
        super().close()  # the NumPy views hold the mapping's buffer: drop them first
        try:
            self._mmap.close()
        except BufferError:  # a caller still holds a view; the mapping closes when that goes
            pass
        self._file.close()
        self._mmap = None
