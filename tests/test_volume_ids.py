"""volume_ids: which files form a volume, and the trainer's validation hold-out."""

import pytest

from errors import DataError
from volume_ids import grouping, split_by_volume


def pairs_of(names):
    return [(f"/data/train/images/{n}.jpg", f"/data/train/masks/{n}.png") for n in names]


@pytest.mark.parametrize(
    "names, expected",
    [
        (["10003_21.jpg", "10003_22.jpg", "10004_1.jpg"], "volume"),
        (["PANCREAS_0001-1106.jpg", "PANCREAS_0001-1107.jpg", "PANCREAS_0002-7.jpg"], "volume"),
        (["ISIC_0000001.jpg", "ISIC_0000002.jpg", "ISIC_0000003.jpg"], "file"),  # one id: ISIC
        (["scan.jpg", "photo.jpg", "x.png"], "file"),  # a different id for every file
        (["10003_21.jpg", "10004_21.jpg"], "file"),  # one slice per volume: each file its own id
        (["only_1.jpg"], "file"),
    ],
)
def test_grouping(names, expected):
    assert grouping(names) == expected


def test_mixed_names_are_an_error_naming_three_examples_of_each():
    numbered = [f"a_{i}.jpg" for i in range(1, 6)]
    plain = ["scan.jpg", "photo.jpg", "liver.jpg", "zebra.jpg"]
    with pytest.raises(DataError) as error:
        grouping([f"/data/images/{n}" for n in numbered + plain])
    message = str(error.value)
    assert "in /data/images" in message and "5 end in a slice number" in message and "4 do not" in message
    assert "e.g. a_1.jpg, a_2.jpg, a_3.jpg," in message and "a_4.jpg" not in message
    assert "e.g. liver.jpg, photo.jpg, scan.jpg." in message and "zebra.jpg" not in message
    assert "Rename the files" in message
    with pytest.raises(DataError, match=r"e.g. a_1.jpg, a_2.jpg, and 1 do not, e.g. scan.jpg"):
        grouping(["a_1.jpg", "a_2.jpg", "scan.jpg"])


def test_names_without_volume_ids_hold_out_the_last_files(capsys):
    names = [f"ISIC_{i:07d}" for i in range(10, 0, -1)]  # unsorted on purpose
    train, valid = split_by_volume(pairs_of(names))
    assert [p[0].rsplit("/", 1)[1] for p in valid] == ["ISIC_0000009.jpg", "ISIC_0000010.jpg"]
    assert len(train) == 8 and not set(train) & set(valid)
    assert all(image.replace("images", "masks")[:-4] == mask[:-4] for image, mask in train + valid)
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["=== [eval] has no folders and the file names carry no volume ids (all 10 give the one id "
                   "'ISIC'): validating on the last 2 of 10 files, split by file; training on 8 files"]


def test_distinct_ids_and_tiny_datasets(capsys):
    train, valid = split_by_volume(pairs_of(["b", "a"]))
    assert [p[0][-5:] for p in train + valid] == ["a.jpg", "b.jpg"]  # max(1, round(0.4)) = 1 validates
    assert "(each of the 2 gives its own id)" in capsys.readouterr().out
    with pytest.raises(DataError, match="holds 1 image: at least 2 are needed"):
        split_by_volume(pairs_of(["ISIC_0000001"]))


def test_volumes_keep_the_volume_message(capsys):
    names = [f"{v}_{s}" for v in (1000, 1001, 1002) for s in range(4)]
    train, valid = split_by_volume(pairs_of(names))
    assert {p[0].rsplit("/", 1)[1].split("_")[0] for p in valid} == {"1002"} and len(train) == 8
    assert capsys.readouterr().out.strip() == (
        "=== [eval] has no folders: validating on the last 1 of 3 volumes (4 images): 1002; "
        "training on 2 volumes (8 images)")
