"""pair_cache.PairCache: `[train] cache` in memory and in a file."""

import os
import threading
import time

import numpy as np
import pytest

import pair_cache
from errors import ConfigError
from pair_cache import PairCache, estimate_bytes

IMAGE, MASK = (6, 5, 3), (6, 5, 1)
WHERE = "project/train_eval_infer.config:12"


class Loader:
    """load(i): a pair whose pixels are i, counting the calls per index."""

    def __init__(self, dtype=np.float32, delay=0.0):
        self.dtype, self.delay = dtype, delay
        self.calls: dict[int, int] = {}
        self.lock = threading.Lock()

    def __call__(self, i):
        with self.lock:
            self.calls[i] = self.calls.get(i, 0) + 1
        time.sleep(self.delay)  # widens the window in which other threads ask for the same index
        return np.full(IMAGE, i / 10, self.dtype), np.full(MASK, i % 2, np.uint8)


def create(setting, count=4, key="digest-1", dtype="float32", image=IMAGE):
    return PairCache.create(setting, count, image, dtype, MASK, key=key, where=WHERE)


@pytest.fixture(params=["memory", "file"])
def cache(request, tmp_path):
    setting = "memory" if request.param == "memory" else str(tmp_path / "pairs.cache")
    with create(setting) as c:
        yield c


def test_load_is_called_once_per_index_across_two_passes(cache):
    load = Loader()
    for _ in range(2):
        for i in range(4):
            image, mask = cache.get(i, load)
            assert image.dtype == np.float32 and image.shape == IMAGE and mask.dtype == np.uint8
            assert np.all(image == np.float32(i / 10)) and np.all(mask == i % 2)
    assert load.calls == {0: 1, 1: 1, 2: 1, 3: 1}
    assert cache.filled_count == 4


def test_returned_arrays_are_independent_copies(cache):
    image, mask = cache.get(1, Loader())
    image[:] = 99
    mask[:] = 7
    again, again_mask = cache.get(1, Loader())
    assert np.all(again == np.float32(0.1)) and np.all(again_mask == 1)
    assert again.flags.writeable and not np.shares_memory(again, cache.images)


def test_threads_asking_for_the_same_indexes_load_each_once(cache):
    load = Loader(delay=0.01)
    barrier = threading.Barrier(8)

    def read():
        barrier.wait()
        for i in (0, 1, 2, 3, 0, 1):
            assert np.all(cache.get(i, load)[0] == np.float32(i / 10))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert load.calls == {0: 1, 1: 1, 2: 1, 3: 1}


def test_a_file_cache_is_reused_by_a_second_run(tmp_path, capsys):
    path = str(tmp_path / "sub" / "pairs.cache")  # its folder is made
    with create(path) as first:
        for i in range(4):
            first.get(i, Loader())
    assert f"=== cache: 4 pairs, 0.0 GiB in {path}" in capsys.readouterr().out

    def never(i):
        raise AssertionError(f"load({i}) called on a filled file cache")

    with create(path) as second:
        assert "(4 already filled)" in capsys.readouterr().out
        for i in range(4):
            assert np.all(second.get(i, never)[0] == np.float32(i / 10))


def test_a_partly_filled_file_loads_only_the_rest(tmp_path):
    path = str(tmp_path / "pairs.cache")
    with create(path) as first:
        first.get(2, Loader())
    load = Loader()
    with create(path) as second:
        for i in range(4):
            second.get(i, load)
    assert load.calls == {0: 1, 1: 1, 3: 1}


@pytest.mark.parametrize("change", [{"key": "digest-2"}, {"count": 5}, {"image": (8, 8, 3)},
                                    {"dtype": "uint8"}])
def test_a_file_made_for_other_data_is_refused_and_kept(tmp_path, change):
    path = str(tmp_path / "pairs.cache")
    with create(path) as first:
        first.get(0, Loader())
    before = open(path, "rb").read()
    with pytest.raises(ConfigError) as e:
        create(path, **change)
    message = str(e.value)
    assert message.startswith(f"{WHERE}: [train] cache = {path!r}: {path} was made for other data or settings")
    assert message.endswith("delete it or name another file")
    assert open(path, "rb").read() == before


def test_a_file_that_is_not_a_cache_is_refused_and_kept(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("my notes")
    with pytest.raises(ConfigError, match=r"\[train\] cache = .*notes.txt exists and is not a pair cache"):
        create(str(path))
    assert path.read_text() == "my notes"


def test_a_killed_write_leaves_the_flag_unset(tmp_path):
    path = str(tmp_path / "pairs.cache")

    def dies(i):
        raise KeyboardInterrupt

    with create(path) as first:
        with pytest.raises(KeyboardInterrupt):
            first.get(1, dies)
    with create(path) as second:
        assert second.filled_count == 0


@pytest.mark.parametrize("setting", [True, "", "  ", 3])
def test_invalid_settings_are_refused(setting):
    with pytest.raises(ConfigError) as e:
        create(setting)
    assert str(e.value).startswith(f"{WHERE}: [train] cache = {setting!r}: ")
    assert 'use "memory" or a file path' in str(e.value)


def test_false_means_no_cache():
    assert create(False) is None


def test_a_memory_cache_larger_than_available_memory_is_refused(monkeypatch):
    monkeypatch.setattr(pair_cache, "available_memory_bytes", lambda: 3 * 1024**3)
    count = 1000  # 1000 x 512 x 512 x 3 float32: 2.9 GiB, more than 3 GiB less the 2 GiB margin
    with pytest.raises(ConfigError, match=r"\[train\] cache = 'memory': 1000 pairs take 3\.2 GiB but this "
                                          r"machine has 3\.0 GiB available, of which the cache may use 1\.0 GiB"):
        PairCache.create("memory", count, (512, 512, 3), "float32", (512, 512, 1), "k", WHERE)
    with PairCache.create("memory", 100, (512, 512, 3), "float32", (512, 512, 1), "k", WHERE) as fits:
        assert fits.images.shape == (100, 512, 512, 3)


def test_a_file_cache_larger_than_the_free_disk_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(pair_cache, "free_disk_bytes", lambda folder: 10_000)
    path = str(tmp_path / "pairs.cache")
    with pytest.raises(ConfigError, match=r"4 pairs take .* free"):
        PairCache.create(path, 4, (64, 64, 3), "float32", MASK, "k", WHERE)
    assert not os.path.exists(path)


def test_estimate_is_images_masks_and_flags():
    # 512 x 512 x 3 float32 images (3 MiB), 512 x 512 uint8 masks (256 KiB), one flag byte each
    assert estimate_bytes(2000, (512, 512, 3), "float32", (512, 512, 1)) == 2000 * (3 * 2**20 + 2**18 + 1)
    assert estimate_bytes(10, (256, 256, 3), np.uint8, (256, 256, 1)) == 10 * (196608 + 65536 + 1)


def test_the_printed_line_gives_count_size_and_place(capsys, monkeypatch):
    monkeypatch.setattr(pair_cache, "available_memory_bytes", lambda: None)  # whatever this machine has
    with PairCache.create("memory", 2000, (512, 512, 3), "float32", (512, 512, 1), "k", WHERE):
        pass
    assert capsys.readouterr().out == "=== cache: 2000 pairs, 6.3 GiB in memory\n"


def test_a_memory_cache_takes_memory_as_it_fills(monkeypatch):
    monkeypatch.setattr(pair_cache, "available_memory_bytes", lambda: None)
    before = rss_mib()
    with PairCache.create("memory", 2000, (512, 512, 3), "float32", (512, 512, 1), "k", WHERE) as c:
        assert c.filled_count == 0
        if before is not None:  # 6.3 GiB reserved, untouched: resident memory barely moves
            assert rss_mib() - before < 100
            for i in range(20):
                c.get(i, lambda i: (np.ones((512, 512, 3), np.float32), np.ones((512, 512, 1), np.uint8)))
            assert 60 < rss_mib() - before < 200  # 20 pairs of 3.25 MiB, and the copies returned


def rss_mib() -> float | None:
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))
    except OSError:
        return None


def test_a_load_giving_the_wrong_shape_is_a_bug(cache):
    with pytest.raises(ValueError, match=r"load\(0\) gave the image as float32\(2, 2, 3\)"):
        cache.get(0, lambda i: (np.zeros((2, 2, 3), np.float32), np.zeros(MASK, np.uint8)))
    assert cache.filled_count == 0
