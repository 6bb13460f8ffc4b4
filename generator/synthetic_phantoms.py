"""Synthetic T1-weighted abdominal MRI volumes with a pancreas label: the demo dataset.

Usage:
    python generator/synthetic_phantoms.py OUTPUT_DIR [--count 36] [--seed 137] [--kidneys]

Writes `OUTPUT_DIR/imagesTr/phantom_NNN_0000.nii.gz` (float32, roughly 0-1500)
and `OUTPUT_DIR/labelsTr/phantom_NNN.nii.gz` (uint8, 1 = pancreas), the layout
`ImageMaskDatasetGenerator.py` reads. Volume NNN depends only on (seed, NNN).
`--kidneys` adds a second class, 2 = kidneys (cortex, medulla and sinus fat),
for multi-class work; the images, and the default labels, stay byte for byte
the same.

Each axial slice is drawn in a display frame D (rows anterior -> posterior,
columns patient's left -> right, so the liver is on the right of the image),
slices superior -> inferior. Volumes are stored L-P-I (`array[:, :, k] =
rot90(D_k)`, affine diag(-sx, -sy, -sz)) except every 4th (NNN % 4 == 3), stored
R-A-S (all axes flipped, affine diag(sx, sy, sz)) to exercise reorientation.

Anatomy is drawn in "model millimetres" of a 307.2 mm field of view and a
112 mm slab, scaled to the requested shape: body wall (bright subcutaneous fat,
muscle), liver, gallbladder, spleen, stomach with an air-fluid level, bowel
loops of mixed content, duodenum, kidneys (cortex, medulla, sinus fat), spine,
psoas and paraspinal muscles, aorta, IVC, SMA, SMV/portal and splenic veins.
The pancreas is a swept, lobulated tube (tail superior-left at the splenic
hilum, neck anterior to the SMV/SMA, head inferior-right beside the duodenum,
uncinate process behind the SMV), as bright as the liver and the bright bowel
loops; other organs keep a thin fat gap from it, and some volumes have a dark
chemical-shift rim around it. Then: smooth texture, a bias field, global
scaling, in-plane Gaussian blur and Rician noise.
"""

import argparse
import os
import sys
import time
from types import SimpleNamespace

import cv2
import nibabel as nib
import numpy as np
from scipy.interpolate import CubicSpline, PchipInterpolator

REF_FOV_MM = 307.2  # model in-plane field of view (192 px x 1.6 mm)
REF_SLAB_MM = 112.0  # model slab thickness (28 slices x 4 mm)
_BITS = 4  # sub-pixel bits for cv2 drawing
_NAMES = ("air subcutaneous_fat muscle visceral_fat liver gallbladder spleen kidney_cortex kidney_medulla "
          "renal_sinus marrow cortical_bone disc csf aorta sma ivc vein stomach_wall stomach_content gas "
          "bowel_wall duodenum fat_plane pancreas").split()
TISSUES = {name: code for code, name in enumerate(_NAMES)}  # tissue map codes; bowel loop j is BOWEL0 + j
BOWEL0 = 32
_T = SimpleNamespace(**TISSUES)
_SOFT = np.zeros(256, bool)  # organs that keep a fat gap from the pancreas
_SOFT[[_T.liver, _T.gallbladder, _T.spleen, _T.kidney_cortex, _T.kidney_medulla, _T.renal_sinus,
       _T.stomach_wall, _T.stomach_content, _T.gas, _T.bowel_wall, _T.duodenum]] = True
_SOFT[BOWEL0:] = True
_KIDNEY = [_T.kidney_cortex, _T.kidney_medulla, _T.renal_sinus]  # label 2 with `kidneys`


def _u(rng, low, high):
    return float(rng.uniform(low, high))


def _harmonics(rng, amplitude):
    """Random low-order radial wobble: (orders, amplitudes, phases)."""
    orders = np.arange(2, 6)
    return orders, rng.uniform(0, amplitude, 4) / np.sqrt(orders - 1), rng.uniform(0, 2 * np.pi, 4)


def _blob(cu, cv, ru, rv, angle=0.0, wobble=None, n=72):
    """Polygon (u, v) of a rotated ellipse with an optional radial wobble."""
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    radius = np.ones(n)
    if wobble is not None:
        orders, amps, phases = wobble
        radius += (amps[:, None] * np.cos(orders[:, None] * theta + phases[:, None])).sum(0)
    x, y = ru * radius * np.cos(theta), rv * radius * np.sin(theta)
    c, s = np.cos(angle), np.sin(angle)
    return cu + x * c - y * s, cv + x * s + y * c


def _superellipse(cu, cv, a, b_ant, b_post, exponent, n=128):
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    c, s = np.cos(theta), np.sin(theta)
    b = np.where(s < 0, b_ant, b_post)
    return (cu + a * np.sign(c) * np.abs(c) ** (2 / exponent),
            cv + b * np.sign(s) * np.abs(s) ** (2 / exponent))


def _ellipsoid(z, zc, half, power=0.5):
    """Cross-section scale of an ellipsoid-like organ at z (0 outside)."""
    w = 1.0 - ((z - zc) / half) ** 2
    return max(w, 0.0) ** power


class _Canvas:
    """Maps model millimetres (u: patient's right +, v: posterior +) to display pixels."""

    def __init__(self, shape, spacing, rotation):
        (self.W, self.H, nz), (sx, sy, _) = shape, spacing
        scale = min(self.W * sx, self.H * sy) / REF_FOV_MM  # physical mm per model mm
        self.cpm, self.rpm = scale / sx, scale / sy
        self.cos, self.sin = np.cos(rotation), np.sin(rotation)
        self.z = (np.arange(nz) + 0.5) * REF_SLAB_MM / nz

    def px(self, u, v):
        u, v = np.asarray(u, float), np.asarray(v, float)
        x = (self.W - 1) / 2 + (u * self.cos - v * self.sin) * self.cpm
        y = (self.H - 1) / 2 + (u * self.sin + v * self.cos) * self.rpm
        return x, y

    def poly(self, img, uv, value):
        x, y = self.px(*uv)
        points = np.round(np.stack([x, y], -1) * (1 << _BITS)).astype(np.int32)
        cv2.fillPoly(img, [points], int(value), cv2.LINE_8, _BITS)

    def discs(self, img, u, v, rho, value):
        """Filled circles of radius rho (model mm), skipping sub-pixel ones."""
        x, y = self.px(u, v)
        one = 1 << _BITS
        keep = rho * min(self.cpm, self.rpm) >= 0.5
        for xi, yi, r in zip(np.round(x[keep] * one), np.round(y[keep] * one), rho[keep]):
            axes = (int(round(r * self.cpm * one)), int(round(r * self.rpm * one)))
            if axes[0] == axes[1]:
                cv2.circle(img, (int(xi), int(yi)), axes[0], int(value), -1, cv2.LINE_8, _BITS)
            else:
                cv2.ellipse(img, (int(xi), int(yi)), axes, 0, 0, 360, int(value), -1, cv2.LINE_8, _BITS)


def _sample_body(rng):
    """Body outline, spine, muscles and great vessels (model mm)."""
    b = SimpleNamespace(rot=np.deg2rad(_u(rng, -6, 6)), cu=_u(rng, -5, 5), cv=_u(rng, -6, 6))
    b.a, b.b_ant, b.b_post, b.exp = _u(rng, 123, 136), _u(rng, 86, 100), _u(rng, 78, 90), _u(rng, 2.2, 2.8)
    b.fat_ant = _u(rng, 8, 24)
    b.fat_lat, b.fat_post, b.muscle = b.fat_ant * _u(rng, 0.8, 1.3), _u(rng, 8, 16), _u(rng, 6, 10)
    b.grow = _u(rng, -0.05, 0.05)  # relative size change from top to bottom of the slab
    # Spine, muscles and the great vessels, relative to the vertebral body.
    b.vb_u, b.vb_v = b.cu + _u(rng, -3, 3), b.cv + b.b_post - _u(rng, 56, 64)
    b.vb_ru, b.vb_rv = _u(rng, 19, 23), _u(rng, 15, 18)
    b.disc_period, b.disc_thick = _u(rng, 30, 34), _u(rng, 7, 9)
    b.disc_phase = _u(rng, 0, b.disc_period)
    b.canal_r = _u(rng, 6.5, 8.5)
    b.canal_v = b.vb_v + b.vb_rv + 3 + b.canal_r
    b.para = (_u(rng, 24, 30), b.canal_v + _u(rng, 6, 10), _u(rng, 20, 25), _u(rng, 15, 19))
    b.psoas_r, b.psoas_z0 = _u(rng, 14, 19), _u(rng, 0.3, 0.5) * REF_SLAB_MM
    b.r_ao = _u(rng, 9, 12)
    b.ao = (b.vb_u - _u(rng, 10, 16), b.vb_v - b.vb_rv - _u(rng, 0.5, 3) - b.r_ao)
    b.ivc_r = (_u(rng, 11, 14), _u(rng, 7, 10), np.deg2rad(_u(rng, -20, 5)))
    b.ivc = (b.vb_u + _u(rng, 18, 28), b.vb_v - b.vb_rv - _u(rng, 0, 5) - b.ivc_r[1])
    b.r_sma = _u(rng, 3, 4)
    b.sma = (b.ao[0] + _u(rng, 0, 5), b.ao[1] - b.r_ao - _u(rng, 5, 9) - b.r_sma)
    b.r_smv = _u(rng, 4.5, 6.5)
    b.smv = (b.sma[0] + _u(rng, 9, 13), b.sma[1] - _u(rng, 0, 4))
    return b


def _push(point, radius, obstacles, gap=2.5):
    """Moves a circle (point, radius) out of circles (centre, radius), keeping a gap."""
    p = np.array(point, float)
    for _ in range(3):
        for centre, r in obstacles:
            d = p - centre
            dist = np.hypot(*d) + 1e-9
            if dist < r + radius + gap:
                p = centre + d / dist * (r + radius + gap)
    return p


def _sample_pancreas(rng, b):
    """Centreline samples (u, v, z, r, h) of the pancreas, tail to uncinate, plus lobules."""
    r = [_u(rng, 3.8, 5.5), _u(rng, 4.5, 7), _u(rng, 5, 8), _u(rng, 4.2, 6), _u(rng, 7.5, 10), _u(rng, 5, 7)]
    h = [_u(rng, 6.5, 8.5), _u(rng, 7, 9.5), _u(rng, 8, 10.5), _u(rng, 8, 10), _u(rng, 11, 14), _u(rng, 8, 10)]
    smv, sma, ao, ivc = np.array(b.smv), np.array(b.sma), np.array(b.ao), np.array(b.ivc)
    vessels = [(smv, b.r_smv), (sma, b.r_sma), (ao, b.r_ao), (ivc, max(b.ivc_r[:2]))]
    neck = _push((smv[0] - _u(rng, 0, 6), smv[1] - b.r_smv - _u(rng, 2.5, 5) - r[3]), r[3], vessels)
    head = _push((smv[0] + b.r_smv + _u(rng, 2.5, 5) + r[4], smv[1] + _u(rng, -6, 4)), r[4], vessels, 3.5)
    unc = _push((smv[0] + _u(rng, 2, 6), smv[1] + b.r_smv + _u(rng, 2, 4) + r[5]), r[5], vessels)
    body = _push((sma[0] - _u(rng, 22, 35), sma[1] - _u(rng, -2, 10)), r[2], vessels)
    tail = np.array((body[0] - _u(rng, 35, 50), body[1] + _u(rng, 10, 28)))
    tail[0] = max(tail[0], b.cu - b.a + b.fat_lat + b.muscle + 22)
    mid = (tail + body) / 2 + np.array((_u(rng, -4, 4), _u(rng, -8, 8)))  # curvature varies
    points = np.array([tail, mid, body, neck, head, unc])
    dz = [0, _u(rng, 1, 5), _u(rng, 2, 5), _u(rng, 5, 11), _u(rng, 8, 13), _u(rng, 12, 15)]
    z_rel = np.cumsum(dz)
    top, bottom = 0.15 * REF_SLAB_MM + h[0], 0.88 * REF_SLAB_MM - z_rel[-1] - h[-1]
    z_key = z_rel + _u(rng, top, max(top, bottom))
    chord = np.r_[0, np.cumsum(np.hypot(*np.diff(points, axis=0).T))]
    s = np.linspace(0, chord[-1], 160)
    centre = CubicSpline(chord, points, bc_type="natural")(s)
    radius = PchipInterpolator(chord, r)(s) * (1 + 0.12 * np.sin(s / _u(rng, 6, 12) + _u(rng, 0, 6)))
    p = SimpleNamespace(u=centre[:, 0], v=centre[:, 1], z=PchipInterpolator(chord, z_key)(s),
                        r=radius, h=PchipInterpolator(chord, h)(s), neck_z=z_key[3])
    tangent = np.gradient(centre, axis=0)
    p.normal = np.stack([-tangent[:, 1], tangent[:, 0]], 1) / np.hypot(*tangent.T)[:, None]
    p.normal *= np.sign(p.normal[:, 1:2] + 1e-9)  # points posteriorly
    return _add_lobules(rng, p)


def _add_lobules(rng, p):
    """Adds lobules (small tubes beside the centreline) and the splenic vein to the pancreas `p`."""
    n = int(rng.integers(14, 28))
    j = rng.integers(0, p.u.size, n)
    offset = rng.choice([-1, 1], n) * rng.uniform(0.5, 0.85, n) * p.r[j]
    p.lobules = SimpleNamespace(u=p.u[j] + offset * p.normal[j, 0], v=p.v[j] + offset * p.normal[j, 1], z=p.z[j],
                                r=rng.uniform(0.35, 0.55, n) * p.r[j], h=rng.uniform(0.6, 0.9, n) * p.h[j])
    # The splenic vein runs along the posterior surface of the body and tail.
    sel = slice(6, int(0.55 * p.u.size))
    r_sv = _u(rng, 3, 4.5)
    shift = p.r[sel] * 1.15 + _u(rng, 1.5, 3) + r_sv
    p.splenic = SimpleNamespace(u=p.u[sel] + shift * p.normal[sel, 0], v=p.v[sel] + shift * p.normal[sel, 1],
                                z=p.z[sel] + _u(rng, 0, 3), r=np.full(shift.size, r_sv),
                                h=np.full(shift.size, 4.5))
    return p


def _tube_section(t, z, grow=0.0, dz_grow=0.0, minimum=0.0):
    """(u, v, rho) of the discs where a swept tube meets slice z (rho: disc radius)."""
    w = 1 - ((z - t.z) / (t.h + dz_grow)) ** 2
    sel = w > 0
    rho = (t.r[sel] + grow) * np.sqrt(w[sel])
    keep = rho > minimum
    return t.u[sel][keep], t.v[sel][keep], rho[keep]


def _sample_organs(rng, b, p):
    """Liver, gallbladder, spleen, stomach, duodenum, kidneys and bowel loops (model mm)."""
    o = SimpleNamespace()
    o.liver = (b.cu + _u(rng, 50, 62), b.cv + _u(rng, -15, 0), _u(rng, 58, 72), _u(rng, 62, 78),
               _harmonics(rng, 0.08), _u(rng, 0.85, 1.25))
    o.gallbladder = (rng.random() < 0.6, o.liver[0] - _u(rng, 10, 25), b.cv - _u(rng, 35, 50),
                     _u(rng, 9, 14), _u(rng, 13, 20), _u(rng, 0.45, 0.7) * REF_SLAB_MM, _u(rng, 15, 25))
    o.spleen = (b.cu - _u(rng, 86, 98), b.vb_v + _u(rng, -5, 15), _u(rng, 22, 30), _u(rng, 40, 50),
                np.deg2rad(_u(rng, 20, 40)), _u(rng, 0, 0.15) * REF_SLAB_MM, _u(rng, 0.35, 0.5) * REF_SLAB_MM,
                _harmonics(rng, 0.08))
    o.stomach = (b.cu - _u(rng, 35, 55), b.cv - _u(rng, 40, 55), _u(rng, 30, 42), _u(rng, 22, 30),
                 _u(rng, 0, 0.2) * REF_SLAB_MM, _u(rng, 0.45, 0.65) * REF_SLAB_MM, _harmonics(rng, 0.1),
                 _u(rng, 3, 4), _u(rng, -0.8, 0.2))  # ..., wall, gas level (fraction of the lumen radius)
    head = int(0.8 * p.u.size)
    r_d = _u(rng, 8, 11)
    o.duodenum = (p.u[head] + p.r[head] * 1.3 + _u(rng, 2.5, 5) + r_d, p.v[head] + _u(rng, -5, 5), r_d,
                  p.z[head] - 12, p.z[-1] + _u(rng, 10, 20))
    # Kidneys: (side, z centre, u offset, v offset, radii, tilt, half length, cortex); the right one is lower.
    z0 = p.z[0] - _u(rng, 5, 10)
    o.kidneys = [(side, z0 + _u(rng, 35, 50) + (side > 0) * _u(rng, 8, 18), _u(rng, 55, 65), _u(rng, 0, 12),
                  _u(rng, 20, 25), _u(rng, 27, 33), np.deg2rad(_u(rng, 25, 45)), _u(rng, 45, 55), _u(rng, 5, 7))
                 for side in (-1, 1)]
    o.loops = _sample_loops(rng, b, p, o)
    return o


def _liver_section(liver, z):
    """(u, v, ru, rv) of the liver at z, or None below it."""
    lu, lv, lru, lrv, _, end = liver
    zeta = z / REF_SLAB_MM
    if zeta >= end:
        return None
    f = (1 - 0.45 * zeta ** 1.5) * np.sqrt(1 - (zeta / end) ** 4)
    return lu + 25 * zeta, lv + 5 * zeta, lru * f, lrv * f


def _sample_loops(rng, b, p, o):
    """Bowel loops (u, v, z, radius, half length, drift u, drift v, aspect) clear of the
    pancreas, liver, kidneys and the retroperitoneal midline."""
    loops, wanted = [], int(rng.integers(14, 22))
    for _ in range(400):
        if len(loops) >= wanted:
            break
        u, v = _u(rng, -100, 100) + b.cu, _u(rng, -80, 30) + b.cv
        z, radius, half = _u(rng, 0.15, 1.05) * REF_SLAB_MM, _u(rng, 7, 15), _u(rng, 12, 30)
        near_pancreas = (np.abs(p.z - z) < half + p.h) & (np.hypot(p.u - u, p.v - v) < radius + 1.4 * p.r + 6)
        inside = ((u - b.cu) / (b.a - 30)) ** 2 + ((v - b.cv) / (min(b.b_ant, b.b_post) - 25)) ** 2 < 1
        liver = _liver_section(o.liver, z)
        in_liver = liver is not None and ((u - liver[0]) / liver[2]) ** 2 + ((v - liver[1]) / liver[3]) ** 2 < 1.1
        retro = v > b.ao[1] - 12 - radius if abs(u - b.vb_u) < 50 else v > b.vb_v - 25 - radius
        if inside and not near_pancreas.any() and not in_liver and not retro:
            loops.append((u, v, z, radius, half, _u(rng, -0.4, 0.4), _u(rng, -0.4, 0.4), _u(rng, 0.6, 1.0)))
    return loops


def _content(rng, pancreas, liver, weights):
    """Lumen intensity: as bright as the pancreas, intermediate, fluid or gas (weights: their odds)."""
    options = (pancreas * _u(rng, 0.92, 1.08), liver * _u(rng, 0.6, 0.85), _u(rng, 200, 320), _u(rng, 5, 25))
    return options[rng.choice(len(weights), p=weights)]


def _intensities(rng, n_loops):
    """Base T1 intensity per tissue code (before texture, bias, scaling and noise)."""
    liver = 760 * _u(rng, 0.92, 1.08)
    pancreas = liver * _u(rng, 0.92, 1.08)
    fat = max(liver, pancreas) * _u(rng, 1.2, 1.4)  # visceral fat: T1-bright, around the pancreas
    values = dict(subcutaneous_fat=fat * _u(rng, 1.03, 1.1), visceral_fat=fat, renal_sinus=fat,
                  fat_plane=fat * _u(rng, 0.6, 0.75), muscle=380 * _u(rng, 0.85, 1.15), liver=liver,
                  pancreas=pancreas, gallbladder=_u(rng, 200, 320), spleen=liver * _u(rng, 0.75, 0.85),
                  kidney_cortex=liver * _u(rng, 0.88, 0.98), kidney_medulla=liver * _u(rng, 0.6, 0.72),
                  marrow=_u(rng, 800, 950), cortical_bone=_u(rng, 180, 260), disc=_u(rng, 420, 520),
                  csf=_u(rng, 150, 250), aorta=_u(rng, 1050, 1200), ivc=_u(rng, 850, 1000),
                  vein=_u(rng, 900, 1050), stomach_wall=liver * _u(rng, 0.8, 0.9),
                  bowel_wall=liver * _u(rng, 0.8, 0.9), gas=_u(rng, 5, 25),
                  stomach_content=_content(rng, pancreas, liver, (0.35, 0.4, 0.25)),
                  duodenum=_content(rng, pancreas, liver, (0.5, 0.3, 0.2)))
    values["sma"] = values["aorta"] * 0.95
    lut = np.zeros(256, np.float32)
    for name, value in values.items():
        lut[TISSUES[name]] = value
    lut[BOWEL0:BOWEL0 + n_loops] = [_content(rng, pancreas, liver, (0.4, 0.3, 0.18, 0.12)) for _ in range(n_loops)]
    return lut


def _draw_wall(c, b, z):
    """Body outline layers; returns (wall tissue map, visceral cavity mask)."""
    g = 1 + b.grow * (z / REF_SLAB_MM - 0.5)
    wall = np.zeros((c.H, c.W), np.uint8)
    layers = [(0, 0, 0, _T.subcutaneous_fat), (b.fat_lat, b.fat_ant, b.fat_post, _T.muscle)]
    for dl, da, dp, value in layers:
        c.poly(wall, _superellipse(b.cu, b.cv, b.a * g - dl, b.b_ant * g - da, b.b_post * g - dp, b.exp), value)
    cavity = np.zeros_like(wall)
    m = b.muscle
    c.poly(cavity, _superellipse(b.cu, b.cv, b.a * g - b.fat_lat - m, b.b_ant * g - b.fat_ant - m,
                                 b.b_post * g - b.fat_post - m, b.exp), 1)
    return wall, cavity.astype(bool)


def _draw_viscera(c, b, o, z, img):
    """Liver, gallbladder, spleen, stomach, bowel, duodenum and kidneys of slice z."""
    if (liver := _liver_section(o.liver, z)) is not None:
        c.poly(img, _blob(*liver, 0, o.liver[4]), _T.liver)
    present, gu, gv, gru, grv, gz, ghalf = o.gallbladder
    if present and (s := _ellipsoid(z, gz, ghalf)) > 0.2:
        c.poly(img, _blob(gu, gv, gru * s, grv * s, 0.5), _T.gallbladder)
    su, sv, sru, srv, sang, sz, shalf, swob = o.spleen
    if (s := _ellipsoid(z, sz, shalf)) > 0.15:
        c.poly(img, _blob(su, sv, sru * s, srv * s, sang, swob), _T.spleen)
    _draw_stomach(c, o.stomach, z, img)
    for j, (u, v, zc, radius, half, du, dv, aspect) in enumerate(o.loops):
        if (s := _ellipsoid(z, zc, half, 0.3)) * radius * aspect > 3:
            cu, cv, ru, rv = u + du * (z - zc), v + dv * (z - zc), radius * s, radius * s * aspect
            c.poly(img, _blob(cu, cv, ru, rv, j), _T.bowel_wall)
            c.poly(img, _blob(cu, cv, ru - 2, rv - 2, j), BOWEL0 + j)
    du, dv, r_d, z_top, z_bottom = o.duodenum
    if z_top < z < z_bottom:
        c.poly(img, _blob(du, dv, r_d, r_d * 1.1), _T.bowel_wall)
        c.poly(img, _blob(du, dv, r_d - 2, r_d * 1.1 - 2), _T.duodenum)
    for kidney in o.kidneys:
        _draw_kidney(c, b, kidney, z, img)


def _draw_kidney(c, b, kidney, z, img):
    """Cortex, medulla and (mid-kidney) hilar sinus fat facing the spine."""
    side, kz, ku, kv, kru, krv, kang, khalf, cortex = kidney
    if (s := _ellipsoid(z, kz, khalf, 0.35)) * kru <= 3:
        return
    cu, cv, ang = b.vb_u + side * ku, b.vb_v + kv, -side * kang
    c.poly(img, _blob(cu, cv, kru * s, krv * s, ang), _T.kidney_cortex)
    if kru * s > cortex + 3:
        c.poly(img, _blob(cu, cv, kru * s - cortex, krv * s - cortex, ang), _T.kidney_medulla)
    if abs(z - kz) < 0.5 * khalf:
        c.poly(img, _blob(cu - side * 0.6 * kru * s, cv - 3, 0.3 * kru * s, 0.35 * krv * s, ang), _T.renal_sinus)


def _draw_stomach(c, stomach, z, img):
    u, v, ru, rv, zc, half, wob, wall, level = stomach
    if (s := _ellipsoid(z, zc, half, 0.4)) * ru < 6:
        return
    c.poly(img, _blob(u, v, ru * s, rv * s, 0, wob), _T.stomach_wall)
    lumen = np.zeros_like(img)
    c.poly(lumen, _blob(u, v, ru * s - wall, rv * s - wall, 0, wob), 1)
    _, level_row = c.px(u, v + level * rv * s)  # air-fluid level: horizontal, gas anterior (supine)
    gas = (lumen > 0) & (np.arange(c.H)[:, None] < level_row)
    img[lumen > 0] = _T.stomach_content
    img[gas] = _T.gas


def _draw_spine_and_vessels(c, b, p, z, img):
    zeta_psoas = np.clip((z - b.psoas_z0) / (REF_SLAB_MM - b.psoas_z0), 0, 1) ** 0.7
    du, pv, pru, prv = b.para
    for side in (-1, 1):
        c.poly(img, _blob(b.vb_u + side * du, pv, pru, prv, side * 0.3), _T.muscle)
        if zeta_psoas * b.psoas_r > 3:
            r = zeta_psoas * b.psoas_r
            c.poly(img, _blob(b.vb_u + side * (b.vb_ru + 0.7 * r), b.vb_v - 2, r, r * 0.9), _T.muscle)
    arch = b.canal_r + 6
    c.poly(img, _blob(b.vb_u, b.canal_v + 2, arch + 2, arch, 0), _T.cortical_bone)
    c.poly(img, _blob(b.vb_u, b.canal_v + 2, arch, arch - 2, 0), _T.marrow)
    c.poly(img, _blob(b.vb_u, b.canal_v + arch + 8, 4, 11), _T.marrow)
    c.poly(img, _blob(b.vb_u, b.canal_v, b.canal_r, b.canal_r * 0.9), _T.csf)
    disc = (z - b.disc_phase) % b.disc_period < b.disc_thick
    c.poly(img, _blob(b.vb_u, b.vb_v, b.vb_ru, b.vb_rv), _T.disc if disc else _T.cortical_bone)
    if not disc:
        c.poly(img, _blob(b.vb_u, b.vb_v, b.vb_ru - 2.5, b.vb_rv - 2.5), _T.marrow)
    c.poly(img, _blob(*b.ao, b.r_ao, b.r_ao), _T.aorta)
    c.poly(img, _blob(*b.ivc, *b.ivc_r), _T.ivc)
    if z > p.neck_z - 4:
        c.poly(img, _blob(b.sma[0], b.sma[1] - 0.08 * (z - p.neck_z), b.r_sma, b.r_sma), _T.sma)
    if z > p.neck_z - 2:
        c.poly(img, _blob(*b.smv, b.r_smv, b.r_smv), _T.vein)
    elif z > p.neck_z - 30:  # the portal vein heads up and right to the liver hilum
        f = (p.neck_z - z) / 25
        c.poly(img, _blob(b.smv[0] + 28 * f, b.smv[1] - 4 * f, 6.5, 5.5, 0.6), _T.vein)


def _draw_pancreas(c, p, z, img, gap, rim):
    """Clears a fat gap around the pancreas, draws the rim, splenic vein and pancreas.

    Returns the pancreas mask of this slice."""
    def stamp(tube, grow=0.0, dz_grow=0.0, minimum=0.0):
        mask = np.zeros_like(img)
        for t in (tube, tube.lobules) if hasattr(tube, "lobules") else (tube,):
            c.discs(mask, *_tube_section(t, z, grow, dz_grow, minimum), 1)
        return mask > 0

    img[stamp(p, gap, 2.0) & _SOFT[img]] = _T.visceral_fat
    if rim:  # only where the pancreas itself is in this slice
        img[stamp(p, rim, 0.0, rim + 0.3) & (img == _T.visceral_fat)] = _T.fat_plane
    img[stamp(p.splenic)] = _T.vein
    pancreas = stamp(p)
    img[pancreas] = _T.pancreas
    return pancreas


def render_tissues(seed: int, index: int, shape=(192, 192, 28), spacing=(1.6, 1.6, 4.0)):
    """Tissue-code map (H, W, nz uint8, display frame), intensity table and the rng to finish with."""
    rng = np.random.default_rng([seed, index])
    b = _sample_body(rng)
    p = _sample_pancreas(rng, b)
    o = _sample_organs(rng, b, p)
    lut = _intensities(rng, len(o.loops))
    gap, rim = _u(rng, 1.5, 4.5), (_u(rng, 1.2, 2.2) if rng.random() < 0.5 else 0.0)
    c = _Canvas(shape, spacing, b.rot)
    tissues = np.zeros((c.H, c.W, c.z.size), np.uint8)
    for k, z in enumerate(c.z):
        wall, cavity = _draw_wall(c, b, z)
        inner = np.full_like(wall, _T.visceral_fat)
        _draw_viscera(c, b, o, z, inner)
        _draw_spine_and_vessels(c, b, p, z, inner)
        _draw_pancreas(c, p, z, inner, gap, min(rim, gap))
        tissues[:, :, k] = np.where(cavity, inner, wall)
    return tissues, lut, rng


def _smooth_field(rng, coarse, shape):
    """Smooth random field of `shape` (H, W, nz) from a coarse (ny, nx, nzc) normal grid."""
    grid = rng.standard_normal(coarse).astype(np.float32)
    pos = np.linspace(0, coarse[2] - 1, shape[2])
    i0 = np.floor(pos).astype(int)
    i1, f = np.minimum(i0 + 1, coarse[2] - 1), (pos - i0).astype(np.float32)
    grid = grid[:, :, i0] * (1 - f) + grid[:, :, i1] * f
    out = np.empty(shape, np.float32)
    for k in range(0, shape[2], 256):  # cv2 handles at most 512 channels
        out[:, :, k:k + 256] = cv2.resize(grid[:, :, k:k + 256], shape[1::-1], interpolation=cv2.INTER_CUBIC
                                          ).reshape(shape[0], shape[1], -1)
    return out


def _finish(tissues, lut, rng):
    """Intensities from tissue codes, then texture, bias field, scaling, blur and Rician noise."""
    texture_amp = np.full(256, 0.04, np.float32)
    texture_amp[[_T.visceral_fat, _T.subcutaneous_fat]] = 0.08
    texture_amp[_T.air] = 0
    texture = _smooth_field(rng, (24, 24, max(2, tissues.shape[2] // 3)), tissues.shape)
    bias = _smooth_field(rng, (3, 3, 3), tissues.shape)
    bias *= _u(rng, 0.2, 0.3) / np.abs(bias).max()
    image = lut[tissues] * (1 + texture_amp[tissues] * texture) * (1 + bias) * _u(rng, 0.7, 1.4)
    sigma = _u(rng, 0.7, 1.0)
    for k in range(0, image.shape[2], 256):
        image[:, :, k:k + 256] = cv2.GaussianBlur(image[:, :, k:k + 256], (0, 0), sigma).reshape(
            image.shape[0], image.shape[1], -1)
    noise = np.median(image[tissues == _T.liver]) if (tissues == _T.liver).any() else image.mean()
    noise /= _u(rng, 15, 30)
    real = image + noise * rng.standard_normal(image.shape, np.float32)
    imaginary = noise * rng.standard_normal(image.shape, np.float32)
    # Whole numbers, as scanners store them: halves the gzip size and time.
    return np.round(np.sqrt(real * real + imaginary * imaginary)).astype(np.float32)


def render_phantom(seed: int, index: int, shape=(192, 192, 28), spacing=(1.6, 1.6, 4.0), kidneys=False):
    """(image float32, label uint8, tissue map uint8), each (H, W, nz) in the display frame.

    `image[:, :, k]` is slice k (superior first) with anterior at the top and
    the patient's left at column 0; shape is (W, H, nz) in voxels. The label
    is 1 = pancreas, and 2 = kidneys with `kidneys`."""
    tissues, lut, rng = render_tissues(seed, index, shape, spacing)
    label = (tissues == _T.pancreas).astype(np.uint8)
    if kidneys:
        # Tissue codes are exclusive, so the kidneys never overlap the pancreas.
        label[np.isin(tissues, _KIDNEY)] = 2
    return _finish(tissues, lut, rng), label, tissues


def phantom_lpi(seed: int, index: int, shape=(192, 192, 28), spacing=(1.6, 1.6, 4.0), kidneys=False):
    """(image, label) arrays of shape `shape` in L-P-I voxel orientation."""
    image, label, _ = render_phantom(seed, index, shape, spacing, kidneys)
    return tuple(np.ascontiguousarray(np.rot90(a, k=1, axes=(0, 1))) for a in (image, label))


def stored_arrays(seed: int, index: int, shape=(192, 192, 28), spacing=(1.6, 1.6, 4.0), kidneys=False):
    """(image, label, affine) exactly as volume `index` is stored (R-A-S when index % 4 == 3)."""
    image, label = phantom_lpi(seed, index, shape, spacing, kidneys)
    sx, sy, sz = (float(s) for s in spacing)
    if index % 4 == 3:
        flip = (slice(None, None, -1),) * 3
        return np.ascontiguousarray(image[flip]), np.ascontiguousarray(label[flip]), np.diag([sx, sy, sz, 1.0])
    return image, label, np.diag([-sx, -sy, -sz, 1.0])


def _save(array, affine, path, description):
    img = nib.Nifti1Image(array, affine)
    img.header.set_xyzt_units("mm")
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    img.header["descrip"] = description.encode()[:79]
    nib.save(img, path)


def write_phantoms(output_dir: str, count: int = 36, seed: int = 137,
                   shape: tuple[int, int, int] = (192, 192, 28),
                   spacing: tuple[float, float, float] = (1.6, 1.6, 4.0),
                   kidneys: bool = False) -> list[tuple[str, str]]:
    """Writes `count` phantom image/label NIfTI pairs; returns their (image, label) paths in order.

    With `kidneys` the labels also hold 2 = kidneys; the images do not change.

    Raises:
        FileExistsError: `imagesTr` or `labelsTr` under `output_dir` already holds files.
        ValueError: count < 0, or a shape side too small to draw on.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0. Received: count={count}")
    if len(shape) != 3 or min(shape[:2]) < 16 or shape[2] < 1:
        raise ValueError(f"shape must be (W >= 16, H >= 16, slices >= 1). Received: shape={shape}")
    folders = [os.path.join(output_dir, name) for name in ("imagesTr", "labelsTr")]
    for folder in folders:
        if os.path.isdir(folder) and os.listdir(folder):
            raise FileExistsError(f"{folder} already contains files; refusing to overwrite phantoms there. "
                                  "Choose a new or empty output folder.")
    for folder in folders:
        os.makedirs(folder, exist_ok=True)
    pairs = []
    for index in range(count):
        image, label, affine = stored_arrays(seed, index, shape, spacing, kidneys)
        paths = (os.path.join(folders[0], f"phantom_{index:03d}_0000.nii.gz"),
                 os.path.join(folders[1], f"phantom_{index:03d}.nii.gz"))
        tag = f"synthetic pancreas phantom seed={seed} index={index}"
        _save(image, affine, paths[0], tag)
        _save(label, affine, paths[1], tag + (" label 1=pancreas 2=kidneys" if kidneys else " label"))
        pairs.append(paths)
    return pairs


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description="Write synthetic T1 abdominal MRI volumes with pancreas labels (the offline demo dataset).",
        epilog="Example: python generator/synthetic_phantoms.py dataset/Pancreas-T1-phantoms",
    )
    parser.add_argument("output_dir", help="folder for imagesTr/ and labelsTr/ (created; must be empty)")
    parser.add_argument("--count", type=int, default=36, help="number of volumes (default 36)")
    parser.add_argument("--seed", type=int, default=137, help="random seed (default 137)")
    parser.add_argument("--kidneys", action="store_true",
                        help="also label the kidneys, as 2 (pancreas stays 1); the images do not change")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        write_phantoms(args.output_dir, args.count, args.seed, kidneys=args.kidneys)
    except (FileExistsError, ValueError, OSError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    volumes = f"{args.count} phantom volume{'s' * (args.count != 1)}"
    labels = ", labels 1 = pancreas and 2 = kidneys" if args.kidneys else ""
    print(f"wrote {volumes} (192x192x28 voxels, 1.6x1.6x4.0 mm, seed {args.seed}{labels}) to {args.output_dir} "
          f"in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
