"""The original's online augmentation, configured by `[augmentor]` and the
sections of each augmentation (see [augmentor] in docs/config.md), with its defects fixed.

The enabled augmentations define a list of *variants*, in the original's
order: hflip, vflip, one rotation per `angles`, one shrink per `shrinks`,
per `shears` a shear and its flipped copies, one elastic deformation per
`[deformation] sigmoids`, one distortion per `[distortion] distortions`, one
barrel and one pincushion distortion per centre, sharpening, brightening.
The original computed every variant of every sampled image; here each
training sample is one draw from {the original image, each variant}, which
is the same distribution without the work of the variants not used.

Fixed (docs/differences.md, A4–A9): image and mask share each random field; masks are warped
nearest-neighbour; sharpening and brightening leave masks alone; barrel and
pincushion variants hold one distortion each (the original accumulated
them); `[brightening] alpha` no longer overwrites `[deformation] alpah`;
distortion displacements are bounded by their nominal size.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np

import augmentations as aug
from ConfigParser import ConfigParser
from errors import ConfigError


@dataclass(frozen=True)
class Variant:
    """One augmentation with its parameters, and its debug file-name prefix."""

    prefix: str
    apply: Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]


def _label(value) -> str:
    return str(value).replace(".", "_")


class ImageMaskAugmentor:
    """The variants a config enables, and a way to apply one.

    Args:
        config: the parsed config.

    Example:
        augmentor = ImageMaskAugmentor(config)
        image, mask, prefix = augmentor.augment(image, mask, augmentor.draw(rng), rng)
    """

    def __init__(self, config: ConfigParser):
        self.config = config
        self.variants: list[Variant] = []
        for add in (self._flips, self._rotations, self._shrinks, self._shears, self._deformations,
                    self._distortions, self._radial, self._intensity):
            add()

    def _switch(self, key: str) -> bool:
        return bool(self.config.get(ConfigParser.AUGMENTOR, key))

    def _add(self, prefix: str, apply) -> None:
        self.variants.append(Variant(prefix, apply))

    # === Variants, in the original's order ===

    def _flips(self):
        self.hflip, self.vflip = self._switch("hflip"), self._switch("vflip")
        if self.hflip:
            self._add("hfliped_", lambda i, m, r: aug.hflip(i, m))
        if self.vflip:
            self._add("vfliped_", lambda i, m, r: aug.vflip(i, m))

    def _rotations(self):
        if self._switch("rotation"):
            for angle in self.config.get(ConfigParser.AUGMENTOR, "angles"):
                self._add(f"rotated_{angle}_", lambda i, m, r, a=angle: aug.rotate(i, m, a))

    def _shrinks(self):
        for scale in self.config.get(ConfigParser.AUGMENTOR, "shrinks"):
            self._add(f"shrinked_{_label(scale)}_", lambda i, m, r, s=scale: aug.shrink(i, m, s))

    def _shears(self):
        for factor in self.config.get(ConfigParser.AUGMENTOR, "shears"):
            label = _label(factor)
            sheared = lambda i, m, f=factor: aug.shear(i, m, f)  # noqa: E731
            self._add(f"sheared_{label}_", lambda i, m, r, s=sheared: s(i, m))
            if self.hflip:
                self._add(f"hflipped_sheared_{label}_", lambda i, m, r, s=sheared: aug.hflip(*s(i, m)))
            if self.vflip:
                self._add(f"vflipped_sheared_{label}_", lambda i, m, r, s=sheared: aug.vflip(*s(i, m)))
            if self.hflip and self.vflip:
                self._add(f"hvflipped_sheared_{label}_",
                          lambda i, m, r, s=sheared: aug.vflip(*aug.hflip(*s(i, m))))

    def _deformations(self):
        if not self._switch("deformation"):
            return
        section = ConfigParser.DEFORMATION
        alpha = self.config.get(section, "alpah")
        sigmas = self.config.get(section, "sigmoids") or [self.config.get(section, "sigmoid")]
        for sigma in sigmas:
            self._add(f"deformed_alpha_{alpha}_sigmoid_{int(sigma)}_",
                      lambda i, m, r, s=int(sigma): aug.elastic(i, m, alpha, s, r))

    def _distortions(self):
        if not self._switch("distortion"):
            return
        section = ConfigParser.DISTORTION
        rsigma = self.config.get(section, "gaussian_filter_rsigma")
        sigma = self.config.get(section, "gaussian_filter_sigma")  # has no effect, as in the original
        for size in self.config.get(section, "distortions"):
            self._add(f"distorted_{size}_rsigma{sigma}_sigma{rsigma}_",
                      lambda i, m, r, s=size: aug.distort(i, m, s, rsigma, r))

    def _radial(self):
        for kind in ("barrdistortion", "pincdistortion"):
            if not self._switch(kind):
                continue
            radius = self.config.get(kind, "radius")
            amount = self.config.get(kind, "amount")
            for index, center in enumerate(self.config.get(kind, "centers"), start=101):
                # Bound now: the pincushion pass rebinds radius and amount.
                self._add(f"{kind[:4]}distorted_{index}_{radius}_{amount}_",
                          lambda i, m, r, c=tuple(center), radius=radius, amount=amount:
                          aug.radial(i, m, c, radius, amount))

    def _intensity(self):
        if self._switch("sharpening"):
            k = self.config.get(ConfigParser.SHARPENING, "k")
            self._add(f"sharpened_{k}_", lambda i, m, r: aug.sharpening(i, m, k))
        if self._switch("brightening"):
            alpha = self.config.get(ConfigParser.BRIGHTENING, "alpha")
            beta = self.config.get(ConfigParser.BRIGHTENING, "beta")
            # No separator before the file name, as in the original.
            self._add(f"brightened_{alpha}_{beta}", lambda i, m, r: aug.brightening(i, m, alpha, beta))

    def check(self) -> None:
        """Applies every variant to a small test pair, so that settings that
        cannot work fail before training rather than in its first batches.

        Raises:
            ConfigError: naming the variant that failed.
        """
        image = np.zeros((32, 32, 3), np.uint8)
        mask = np.zeros((32, 32, 1), np.uint8)
        for variant in self.variants:
            try:
                variant.apply(image, mask, np.random.default_rng(0))
            except Exception as e:  # noqa: BLE001 - any failure here is a settings problem
                raise ConfigError(
                    f"{self.config.path}: the augmentation '{variant.prefix.rstrip('_')}' fails with its "
                    f"[augmentor] and section settings: {e}"
                ) from None

    # === Use ===

    @property
    def choices(self) -> int:
        """How many outcomes a draw has: the original image and each variant."""
        return 1 + len(self.variants)

    def draw(self, rng: np.random.Generator) -> int:
        """A uniform choice: 0 is the original image, k the k-th variant."""
        return int(rng.integers(self.choices))

    def augment(self, image, mask, choice: int, rng: np.random.Generator):
        """The pair under outcome `choice`, and its debug file-name prefix."""
        if choice == 0:
            return image, mask, ""
        variant = self.variants[choice - 1]
        image, mask = variant.apply(image, mask, rng)
        return image, mask, variant.prefix
