"""Per-image and per-volume metrics of `2.evaluate`, what a paper reports (docs/differences.md, I15–I19).

`evaluation.csv` stays the original's (batch-level Keras numbers). Next to it
this writes, from one batched prediction pass over the evaluated split:

  evaluation_per_image.csv   one row per image: counts, overlap scores, HD95
                             and ASSD in pixels (and mm when the spacing is known)
  evaluation_per_volume.csv  slices grouped by volume id, ordered by slice
                             index: summed counts, Dice, IoU, 3-D HD95/ASSD
  evaluation_summary.json    mean, median, SD and a seeded 95 % bootstrap
                             interval of every metric over images and volumes
  evaluation_worst/          the most-wrong slice of the worst volumes, outlined

Metrics are taken at the ground-truth mask's own size: the probability map
is resized bicubically (as the inferencer writes masks) and thresholded at
`[eval] threshold`. Conventions: both masks empty → Dice 1, distances 0;
one empty → Dice 0, distances undefined (empty cells). With `[model]
num_classes = N > 1` each foreground class k is scored on its own (the most
likely class, resized nearest as the inferencer writes label maps, against
truth == k): the CSVs get a `class` column and the summary one entry per class.
With `[infer] largest_component` (new) every number is taken after keeping
the largest connected component of each (class's) prediction
(src/postprocess.py): in 3-D over a volume's stacked slices when they are
contiguous, else per image; `largest_component` in the summary says which.
The threshold sweep's counts are taken without it. With `[infer] mirror`
(new) each prediction is the mean over the image and its three mirrorings, as
3.infer writes it; `mirror` in the summary says so. evaluation.csv's batch
numbers stay the plain model's.
"""

import csv
import io
import json
import os
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

import file_digest
from atomic import write_image, write_text
from ConfigParser import ConfigParser
from ImageMaskDataset import ImageMaskDataset
from ImagePreprocessor import read_file
from mirroring import mirrored, warn_if_untrained
from postprocess import largest_component, neighbours
from segmentation_metrics import confusion, describe, overlap_scores, surface_distances
from slice_manifest import find_manifest, slice_spacings
from TensorflowModel import first_output
from version import __version__
from volume_ids import grouping, slice_index, split_by_volume, volume_id

PER_IMAGE_FILE = "./evaluation_per_image.csv"
PER_VOLUME_FILE = "./evaluation_per_volume.csv"
SUMMARY_FILE = "./evaluation_summary.json"
WORST_DIR = "./evaluation_worst"
SWEEP = tuple(round(0.1 * k, 1) for k in range(1, 10))
IMAGE_COLUMNS = ["image", "volume", "foreground_pixels", "tp", "fp", "fn", "dice", "iou", "sensitivity",
                 "specificity", "precision", "hd95_px", "assd_px"]
MM_COLUMNS = ["hd95_mm", "assd_mm"]
VOLUME_COLUMNS = ["volume", "slices", "tp", "fp", "fn", "dice", "iou", "hd95", "assd", "note"]
TRUTH_GREEN, PREDICTION_RED = (0, 255, 0), (0, 0, 255)  # BGR
THREE_D, TWO_D = "3-D per volume", "2-D per image"  # how largest_component was applied


@dataclass
class ImageResult:
    """One image's counts and scores, and its masks bit-packed for the volume and worst-case steps."""

    path: str
    image: str  # the file name
    volume: str
    cls: int  # the foreground class scored (1 for one-class models)
    shape: tuple[int, int]
    counts: tuple[int, int, int, int]  # tp, fp, fn, tn
    scores: dict = field(default_factory=dict)
    distances_px: tuple = (None, None)
    distances_mm: tuple = (None, None)
    spacing: tuple | None = None  # (row mm, column mm, slice mm or None)
    sweep: np.ndarray | None = None  # (len(SWEEP), 3) tp, fp, fn
    prediction: np.ndarray | None = None
    truth: np.ndarray | None = None

    def mask(self, which: str) -> np.ndarray:
        packed = getattr(self, which)
        return np.unpackbits(packed, count=self.shape[0] * self.shape[1]).reshape(self.shape).astype(bool)


@dataclass
class VolumeResult:
    volume: str
    cls: int
    slices: list  # ImageResults ordered by slice index
    counts: tuple[int, int, int]
    distances: tuple = (None, None)  # in the summary's volume unit; None when undefined or not stackable
    note: str = ""
    postprocessed: str = ""  # with largest_component: THREE_D or TWO_D

    @property
    def dice(self) -> float:
        tp, fp, fn = self.counts
        return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0

    @property
    def iou(self) -> float:
        tp, fp, fn = self.counts
        return tp / (tp + fp + fn) if tp + fp + fn else 1.0


def probability_at(prediction: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A (h, w[, 1]) probability map resized bicubically (PIL, as GrayScaleImageWriter) to `shape`, in [0, 1]."""
    p = np.asarray(prediction, np.float32)
    p = p[..., 0] if p.ndim == 3 else p
    if p.shape != tuple(shape):
        p = np.asarray(Image.fromarray(p).resize((shape[1], shape[0]), Image.BICUBIC))
    return np.clip(p, 0, 1)


def volume_dice(counts) -> float:
    """2Σtp / (2Σtp + Σfp + Σfn) of summed (tp, fp, fn), 1 when all are 0."""
    tp, fp, fn = (int(c) for c in counts)
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0


class CaseEvaluator:
    """Per-image and per-volume evaluation of one split.

    Args:
        config: the parsed config.
        dataset: the ImageMaskDataset that reads the pairs (training's rules).
        model: anything with `predict_on_batch` (output 0 of a multi-output model is used).
        section: the evaluated section, `[model] evaluation`.

    Raises:
        ConfigError: `[eval] manifest` does not exist, or it cannot be read.
    """

    def __init__(self, config: ConfigParser, dataset: ImageMaskDataset, model, section: str):
        E = ConfigParser.EVAL
        self.config, self.dataset, self.section = config, dataset, section
        self.model = first_output(model)
        self.threshold = float(config.get(E, "threshold"))
        self.batch_size = config.get(E, "batch_size")
        self.seed = config.get(ConfigParser.TRAIN, "seed")
        self.sweep = bool(config.get(E, "threshold_sweep"))
        self.worst_cases = config.get(E, "worst_cases")
        self.num_classes = config.get(ConfigParser.MODEL, "num_classes")
        self.largest = bool(config.get(ConfigParser.INFER, "largest_component"))
        self.mirror = bool(config.get(ConfigParser.INFER, "mirror"))
        warn_if_untrained(config)
        self.manifest, self.spacings = None, {}
        self.worst_paths: list[str] = []  # what the last `evaluate` wrote in WORST_DIR (the report shows these)
        self.fixed_spacing = self._fixed_spacing()
        if self.fixed_spacing is None:
            self._read_manifest()

    # --- the whole step -------------------------------------------------------------------------------

    def evaluate(self, pairs: list[tuple[str, str]]) -> dict | None:
        """Writes the per-image and per-volume CSVs, the summary and the worst cases; returns the summary."""
        how = f"at threshold {self.threshold}" if self.num_classes == 1 else f"per class 1..{self.num_classes - 1}"
        if self.mirror:
            how += ", predictions averaged over mirrorings ([infer] mirror)"
        if self.largest:
            how += ", largest connected component only ([infer] largest_component)"
        print(f"=== per-image evaluation [{self.section}] {len(pairs)} images {how}{self._spacing_note()}")
        if self.sweep and self.num_classes > 1:
            print(f"=== [eval] threshold_sweep is for one-class models (num_classes = {self.num_classes} takes the "
                  "most likely class): no sweep")
        unit = self.volume_unit([os.path.basename(image) for image, _ in pairs])
        images, scored_volumes = self.score(pairs, full=True, unit=unit)
        if scored_volumes is None:  # no volume ids: every image its own unit
            scored_volumes = self.group(images)
            for volume in scored_volumes:
                self.volume_distances(volume, unit)
        classes = range(1, max(2, self.num_classes))
        by_class = {}
        for k in classes:
            volumes = sorted((v for v in scored_volumes if v.cls == k), key=lambda v: v.volume)
            by_class[k] = ([r for r in images if r.cls == k], volumes)
        all_volumes = [v for _, volumes in by_class.values() for v in volumes]
        write_text(PER_IMAGE_FILE, _csv(self.image_rows(images)))
        write_text(PER_VOLUME_FILE, _csv(self.volume_rows(all_volumes)))
        if self.num_classes == 1:
            summary = self.statistics(*by_class[1], unit)
            if self.sweep:
                summary["threshold_sweep"] = self.threshold_sweep(by_class[1][1])
        else:
            summary = {"classes": {str(k): self.statistics(*by_class[k], unit) for k in classes}}
        summary["largest_component"] = self.postprocessing(all_volumes)
        summary["mirror"] = self.mirror
        summary.update(self.provenance(unit))
        write_text(SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
        for path in (PER_IMAGE_FILE, PER_VOLUME_FILE, SUMMARY_FILE):
            print(f"--- Saved {path}")
        for k, (of_class, volumes) in by_class.items():
            stats = summary if self.num_classes == 1 else summary["classes"][str(k)]
            dice = stats["images"]["dice"]["mean"], stats["volumes"]["dice"]["mean"]
            label = "" if self.num_classes == 1 else f" class {k}"
            print(f"--- Dice{label}: mean over {len(of_class)} images {dice[0]:.4f}, "
                  f"over {len(volumes)} volumes {dice[1]:.4f}")
        self.worst_paths = self.write_worst_cases(all_volumes)
        return summary

    # --- prediction and per-image metrics -------------------------------------------------------------

    def score(self, pairs, full: bool = True, sweep: bool | None = None, unit: str | None = None):
        """ImageResults of `pairs`, in order, from one batched prediction pass, and with `unit` the
        VolumeResults (None when the names carry no volume ids: `group` makes them).

        Files are read and metrics computed in a thread pool while the model predicts the next batch; a
        volume's 3-D distances are computed there as soon as its last image is scored. `full` False keeps
        only the sweep's counts (the validation split). With `largest_component` and volume ids, an
        image's metrics wait for its volume (`postprocess`); without ids, each image is post-processed alone.
        """
        sweep = self.sweep if sweep is None else sweep
        batches = [pairs[i : i + self.batch_size] for i in range(0, len(pairs), self.batch_size)]
        names = [os.path.basename(image) for image, _ in pairs]
        by_volume = unit is not None and bool(names) and grouping(names) == "volume"
        defer = self.largest and by_volume and full
        remaining = Counter(volume_id(name) for name in names)
        collected, volume_jobs, results = defaultdict(list), [], []
        scanned = 0
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            def read(batch):
                return [pool.submit(self._read, *pair) for pair in batch]

            def collect(wait: bool = False) -> None:
                nonlocal scanned
                while scanned < len(results) and (wait or results[scanned].done()):
                    scored = results[scanned].result()
                    scanned += 1
                    if by_volume:
                        name = scored[0].volume
                        collected[name] += scored
                        remaining[name] -= 1
                        if not remaining[name]:
                            volume_jobs.append(pool.submit(self._volumes, name, collected.pop(name), unit))

            pending = read(batches[0]) if batches else []
            for number, batch in enumerate(batches):
                loaded = [future.result() for future in pending]
                pending = read(batches[number + 1]) if number + 1 < len(batches) else []
                if number >= 2:  # bounded: at most two batches of maps wait for their metrics
                    for future in results[(number - 2) * self.batch_size : (number - 1) * self.batch_size]:
                        future.result()
                x = np.stack([x for x, _ in loaded])
                maps = (mirrored(self.model.predict_on_batch, x) if self.mirror else
                        np.asarray(self.model.predict_on_batch(x), np.float32))
                results += [pool.submit(self._measure, image, truth, p, full, sweep, defer)
                            for (image, _), (_, truth), p in zip(batch, loaded, maps)]
                collect()
            collect(wait=True)
            volumes = [volume for job in volume_jobs for volume in job.result()] if by_volume else None
            return [result for future in results for result in future.result()], volumes

    def _volumes(self, name: str, results: list[ImageResult], unit: str) -> list[VolumeResult]:
        """The VolumeResults (one per class) of one volume's scored images, with their distances."""
        volumes = []
        for cls in sorted({r.cls for r in results}):
            volume = self.volume(name, [r for r in results if r.cls == cls])
            if self.largest:
                self.postprocess(volume)
            self.volume_distances(volume, unit)
            volumes.append(volume)
        return volumes

    def _read(self, image_path: str, mask_path: str):
        image, _ = self.dataset.preprocessor.load(image_path)
        labels, _, _ = self.dataset.codec.read(mask_path, None)  # training's rules, at the file's own size
        return self.dataset.preprocessor.finish(image), labels

    def _measure(self, image: str, labels: np.ndarray, prediction: np.ndarray, full: bool, sweep: bool,
                 defer: bool = False):
        """The ImageResults of one image: one, or one per foreground class (`defer`: masks only)."""
        if self.num_classes == 1:
            p = probability_at(prediction, labels.shape)
            return [self._measure_class(image, 1, p >= self.threshold, labels > 0, full, sweep, p, defer)]
        # As MaskColorizedWriter writes label maps: the most likely class, resized nearest.
        classes = np.asarray(prediction).argmax(axis=-1).astype(np.uint8)
        classes = np.asarray(Image.fromarray(classes).resize(labels.shape[::-1], Image.NEAREST))
        return [self._measure_class(image, k, classes == k, labels == k, full, False, None, defer)
                for k in range(1, self.num_classes)]

    def _measure_class(self, image, cls, binary, truth, full, sweep, p=None, defer=False) -> ImageResult:
        """One class's ImageResult; `defer`: only the packed masks, scored by `postprocess` with the volume."""
        if self.largest and full and not defer:  # (the sweep's counts are taken without it)
            binary = largest_component(binary)
        name = os.path.basename(image)
        result = ImageResult(image, name, volume_id(name), cls, truth.shape, confusion(binary, truth))
        if sweep:
            result.sweep = np.array([confusion(p >= t, truth)[:3] for t in SWEEP], np.int64)
        if defer:
            result.prediction, result.truth = np.packbits(binary), np.packbits(truth)
        elif full:
            self._score(result, binary, truth)
        return result

    def _score(self, result: ImageResult, binary: np.ndarray, truth: np.ndarray) -> None:
        """An ImageResult's counts, scores and distances from its (final) prediction and truth masks."""
        result.counts = confusion(binary, truth)
        result.scores = overlap_scores(*result.counts)
        result.distances_px = surface_distances(binary, truth)
        result.spacing = self.spacing_of(result.image, truth.shape)
        if result.spacing is not None:
            result.distances_mm = surface_distances(binary, truth, result.spacing[:2])
        result.prediction, result.truth = np.packbits(binary), np.packbits(truth)

    def postprocess(self, volume: VolumeResult) -> None:
        """`largest_component` on a volume's deferred slices, in 3-D when they stack (several contiguous
        slices of one size), else slice by slice; then each slice is scored and the volume's counts summed."""
        predictions = [r.mask("prediction") for r in volume.slices]
        if len(predictions) > 1 and not self.stack_note(volume):
            kept = list(largest_component(np.stack(predictions)))
            volume.postprocessed = THREE_D
        else:
            kept = [largest_component(p) for p in predictions]
            volume.postprocessed = TWO_D
        for result, binary in zip(volume.slices, kept):
            self._score(result, binary, result.mask("truth"))
        volume.counts = tuple(int(sum(r.counts[k] for r in volume.slices)) for k in range(3))

    def postprocessing(self, volumes: list[VolumeResult]) -> dict | bool:
        """The summary's `largest_component`: False, or how it was applied (and to how many volumes)."""
        if not self.largest:
            return False
        stacked = sorted({v.volume for v in volumes if v.postprocessed == THREE_D})
        others = sorted({v.volume for v in volumes if v.postprocessed != THREE_D})
        how = THREE_D if not others else TWO_D if not stacked else f"{THREE_D} where contiguous, else {TWO_D}"
        described = {"how": how, "connectivity": {"2-D": neighbours(2), "3-D": neighbours(3)},
                     "volumes_3d": len(stacked), "volumes_2d": len(others)}
        if self.sweep:
            described["threshold_sweep"] = "counted without it"
        return described

    # --- spacing --------------------------------------------------------------------------------------

    def _fixed_spacing(self):
        value = self.config.get(ConfigParser.EVAL, "pixel_spacing")
        if value is None:
            return None
        if isinstance(value, (int, float)):
            return float(value), float(value), None
        values = [float(v) for v in value]
        return values[0], values[1], (values[2] if len(values) == 3 else None)

    def _read_manifest(self) -> None:
        E = ConfigParser.EVAL
        explicit = self.config.get(E, "manifest")
        if explicit is not None and not os.path.isfile(explicit):
            raise self.config.error(E, "manifest", f"{explicit} does not exist")
        image_dir = self.config.get(self.section, "image_datapath")
        self.manifest = explicit or (find_manifest(image_dir) if image_dir else None)
        if self.manifest is not None:
            self.spacings = slice_spacings(self.manifest)

    def volume_unit(self, names: list[str]) -> str:
        """"mm" when every image's slice spacing is known too, else "px"."""
        if self.fixed_spacing is not None:
            return "mm" if self.fixed_spacing[2] else "px"
        known = all(name in self.spacings and self.spacings[name][2] for name in names)
        return "mm" if names and known else "px"

    def spacing_of(self, name: str, shape: tuple[int, int]) -> tuple | None:
        """(row mm, column mm, slice mm or None) of an image file at its own size, or None when unknown."""
        if self.fixed_spacing is not None:
            return self.fixed_spacing
        found = self.spacings.get(name)
        if found is None:
            return None
        rows_mm, cols_mm, slice_mm, size = found
        # The manifest's spacing is at the converter's `size`; a file resized since spans the same field.
        return rows_mm * size / shape[0], cols_mm * size / shape[1], slice_mm

    def _spacing_note(self) -> str:
        if self.fixed_spacing is not None:
            return f"; pixel spacing {self.fixed_spacing[:2]} mm ([eval] pixel_spacing)"
        if self.manifest is None:
            return "; no manifest.csv found ([eval] manifest, pixel_spacing): distances in pixels only"
        if not self.spacings:
            return f"; {self.manifest} records no square_side or spacing: distances in pixels only"
        return f"; pixel spacing from {self.manifest}"

    # --- volumes --------------------------------------------------------------------------------------

    def group(self, images: list[ImageResult]) -> list[VolumeResult]:
        """Images grouped by volume id and ordered by slice index; every image its own volume when the
        names carry no volume ids."""
        if not images:
            return []
        if grouping(sorted({r.image for r in images})) == "file":  # one row per class: each name once
            how = TWO_D if self.largest else ""  # post-processed by `_measure_class`
            return [VolumeResult(os.path.splitext(r.image)[0], r.cls, [r], r.counts[:3], note="no volume ids",
                                 postprocessed=how) for r in images]
        members = defaultdict(list)
        for result in images:
            members[result.volume, result.cls].append(result)
        return [self.volume(name, members[name, cls]) for name, cls in sorted(members)]

    @staticmethod
    def volume(name: str, members: list[ImageResult]) -> VolumeResult:
        """One volume's (one class's) images as a VolumeResult, ordered by slice index."""
        slices = sorted(members, key=lambda r: (slice_index(r.image) is None, slice_index(r.image) or 0, r.image))
        counts = tuple(int(sum(r.counts[k] for r in slices)) for k in range(3))
        return VolumeResult(name, slices[0].cls, slices, counts)

    def volume_distances(self, volume: VolumeResult, unit: str) -> None:
        """3-D HD95 and ASSD over the stacked slices (z = slice index × slice spacing) when they are
        contiguous and of one size; one slice's 2-D ones; else a note and no distances."""
        if len(volume.slices) == 1:
            # 2-D distances: a one-slice stack would count its whole area as surface.
            volume.note = volume.note or "one slice"
            only = volume.slices[0]
            volume.distances = only.distances_mm if unit == "mm" else only.distances_px
            return
        volume.note = self.stack_note(volume) or volume.note
        if not self.stacked(volume):
            return
        prediction = np.stack([r.mask("prediction") for r in volume.slices])
        truth = np.stack([r.mask("truth") for r in volume.slices])
        spacing = None
        if unit == "mm":
            rows_mm, cols_mm, slice_mm = volume.slices[0].spacing
            spacing = (slice_mm, rows_mm, cols_mm)
        volume.distances = surface_distances(prediction, truth, spacing)

    @staticmethod
    def stack_note(volume: VolumeResult) -> str:
        """Why a volume's slices do not stack in 3-D ("slice numbers unknown", "sparse", "slice sizes
        differ"), or "" when their indices are contiguous and their sizes one."""
        indices = [slice_index(r.image) for r in volume.slices]
        if None in indices:
            return "slice numbers unknown"
        if indices != list(range(indices[0], indices[0] + len(indices))):
            return "sparse"
        if len({r.shape for r in volume.slices}) > 1:
            return "slice sizes differ"
        return ""

    @staticmethod
    def stacked(volume: VolumeResult) -> bool:
        """Whether the volume's distances are its own: a 3-D stack (contiguous indices, one size) or one slice."""
        return volume.note in ("", "no volume ids", "one slice")

    def summary_distances(self, volume: VolumeResult, unit: str) -> tuple:
        """The volume's distances for the summary: 3-D, or for a non-stackable one the mean per-slice ones."""
        if self.stacked(volume):
            return volume.distances
        per_slice = [r.distances_mm if unit == "mm" else r.distances_px for r in volume.slices]
        return tuple(_mean([d[k] for d in per_slice]) for k in range(2))

    # --- outputs --------------------------------------------------------------------------------------

    def image_rows(self, images: list[ImageResult]) -> list[list]:
        mm = any(r.spacing is not None for r in images)
        rows = [self._with_class(IMAGE_COLUMNS + (MM_COLUMNS if mm else []), "class")]
        for r in images:
            tp, fp, fn, _ = r.counts
            row = [r.image, r.volume, tp + fn, tp, fp, fn] + [r.scores[k] for k in IMAGE_COLUMNS[6:11]]
            row += list(r.distances_px) + (list(r.distances_mm) if mm else [])
            rows.append(self._with_class(row, r.cls))
        return rows

    def _with_class(self, row: list, cls) -> list:
        """A per-image row with N classes: `class` after image and volume."""
        return row if self.num_classes == 1 else row[:2] + [cls] + row[2:]

    def volume_rows(self, volumes: list[VolumeResult]) -> list[list]:
        rows = [VOLUME_COLUMNS if self.num_classes == 1 else VOLUME_COLUMNS[:1] + ["class"] + VOLUME_COLUMNS[1:]]
        for v in volumes:
            row = [v.volume, len(v.slices), *v.counts, v.dice, v.iou, *v.distances, v.note]
            rows.append(row if self.num_classes == 1 else row[:1] + [v.cls] + row[1:])
        return rows

    def statistics(self, images: list[ImageResult], volumes: list[VolumeResult], unit: str) -> dict:
        """Statistics over images and volumes (of one class), and the counts of empty cases."""
        image_metrics = {k: [r.scores[k] for r in images] for k in IMAGE_COLUMNS[6:11]}
        image_metrics["hd95_px"] = [r.distances_px[0] for r in images]
        image_metrics["assd_px"] = [r.distances_px[1] for r in images]
        if any(r.spacing is not None for r in images):
            image_metrics["hd95_mm"] = [r.distances_mm[0] for r in images]
            image_metrics["assd_mm"] = [r.distances_mm[1] for r in images]
        distances = [self.summary_distances(v, unit) for v in volumes]
        volume_metrics = {"dice": [v.dice for v in volumes], "iou": [v.iou for v in volumes],
                          "hd95": [d[0] for d in distances], "assd": [d[1] for d in distances]}
        truth_empty = sum(r.counts[0] + r.counts[2] == 0 < r.counts[1] for r in images)
        prediction_empty = sum(r.counts[0] + r.counts[1] == 0 < r.counts[2] for r in images)
        return {
            "images": {k: describe(v, self.seed) for k, v in image_metrics.items()},
            "volumes": {k: describe(v, self.seed) for k, v in volume_metrics.items()},
            "counts": {
                "images": len(images), "volumes": len(volumes),
                "both_empty": sum(sum(r.counts[:3]) == 0 for r in images),
                "truth_empty": truth_empty, "prediction_empty": prediction_empty,
                "volumes_one_empty": sum((v.counts[0] + v.counts[2] == 0) != (v.counts[0] + v.counts[1] == 0)
                                         for v in volumes),
                "volumes_sparse": sum(not self.stacked(v) for v in volumes),
            },
        }

    def provenance(self, unit: str) -> dict:
        """What produced the numbers: split, threshold, seed, model, config hash, toolkit version."""
        return {
            "volume_distance_unit": unit,
            "section": self.section,
            "threshold": self.threshold if self.num_classes == 1 else None,  # N classes: the most likely one
            "seed": self.seed,
            "model": self.config.get(ConfigParser.MODEL, "model"),
            "config_sha256": file_digest.sha256(self.config.path),
            "toolkit": __version__,
        }

    def threshold_sweep(self, volumes: list[VolumeResult]) -> dict:
        """The threshold of best mean per-volume Dice on the validation split, and the evaluated split's Dice
        at it; the evaluated split never chooses."""
        where, pairs = self.validation_pairs()
        valid = self.group(self.score(pairs, full=False, sweep=True)[0])
        by_threshold = {t: float(np.mean([volume_dice(sum(r.sweep[k] for r in v.slices)) for v in valid]))
                        for k, t in enumerate(SWEEP)}
        best = max(SWEEP, key=lambda t: (by_threshold[t], -abs(t - 0.5)))  # ties: nearer 0.5
        k = SWEEP.index(best)
        evaluated = float(np.mean([volume_dice(sum(r.sweep[k] for r in v.slices)) for v in volumes]))
        print(f"=== threshold sweep on the validation split ({where}, {len(pairs)} images): best threshold {best} "
              f"(mean per-volume Dice {by_threshold[best]:.4f}); [{self.section}] at it: {evaluated:.4f}")
        return {"validation": {str(t): d for t, d in by_threshold.items()}, "validation_split": where,
                "best": best, "test_dice_at_best": evaluated}

    def validation_pairs(self) -> tuple[str, list]:
        """The trainer's validation split: `[eval]`, else the held-out training volumes."""
        if self.dataset.exists(ConfigParser.EVAL):
            return "[eval]", self.dataset.pairs(ConfigParser.EVAL)
        return "held-out [train] volumes", split_by_volume(self.dataset.pairs(ConfigParser.TRAIN))[1]

    def write_worst_cases(self, volumes: list[VolumeResult]) -> list[str]:
        """The most-wrong slice (largest fp + fn) of each of the `[eval] worst_cases` lowest-Dice volumes,
        outlined on its image; the folder is written into, never emptied."""
        wrong = [v for v in volumes if v.counts[1] + v.counts[2] > 0]
        chosen = sorted(wrong, key=lambda v: (v.dice, v.volume))[: self.worst_cases]
        if not chosen:
            return []
        os.makedirs(WORST_DIR, exist_ok=True)
        written = []
        for volume in chosen:
            worst = max(volume.slices, key=lambda r: r.counts[1] + r.counts[2])
            picture = read_file(worst.path)
            for which, colour in (("truth", TRUTH_GREEN), ("prediction", PREDICTION_RED)):
                contours, _ = cv2.findContours(worst.mask(which).astype(np.uint8), cv2.RETR_LIST,
                                               cv2.CHAIN_APPROX_NONE)
                cv2.drawContours(picture, contours, -1, colour, 1)
            suffix = "" if self.num_classes == 1 else f"_class{volume.cls}"
            path = os.path.join(WORST_DIR, f"{volume.volume}_{os.path.splitext(worst.image)[0]}{suffix}.png")
            write_image(path, picture)
            written.append(path)
        print(f"--- Saved {len(written)} worst cases (ground truth green, prediction red) in {WORST_DIR}")
        return written


def _mean(values) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)


def _csv(rows: list[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()
