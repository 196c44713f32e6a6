"""Synthetic depth + thermal posture classification (the default multimodal demo).

Six classes: standing, sitting, lying (on a bed), bending, fallen (on the floor), empty room.

Scene
    A rectangular room (4-6 m wide, 5-6.5 m deep, 2.4-2.8 m high) with a bed (under the lying
    person; otherwise right beside the person's spot or the spot the sensor looks at in half of
    the rooms, against a wall in the rest), optionally a table (with a laptop and a hot drink on
    it), an empty chair, a radiator on a wall and a pet on the floor. Furniture is axis-aligned
    boxes; people, the pet, the drink, a blanket fold and the chair's backrest are capsules
    (segments with a radius). Furniture is never placed between the sensor and the person.

Person
    An articulated body of 11 capsules (two for the torso so that it is wider than deep, head,
    upper arms, forearms, thighs, shins) scaled by a random height (1.50-1.95 m). Each posture sets
    joint angles (trunk pitch and twist, hip, knee, shoulder and elbow flexion, abduction) from
    ranges plus random variation, and a random heading; the body is centred on a floor spot
    2.3-3.5 m from the sensor and lowered onto its support (floor, chair seat or mattress).
    standing: upright, arms free; sitting: on a chair (seat 0.40-0.48 m), trunk within 20 degrees
    of upright; lying: on the bed along its length, on the back or a side, head on the pillow,
    covered by a blanket 60 % of the time; bending: trunk 75-110 degrees forward, legs straight,
    arms hanging; fallen: on the floor prone, supine or on a side with limbs anywhere, or (10 %)
    slumped sitting on the floor; empty: nobody (the pet and the warm objects still appear).

Sensors (co-located on the wall at 1.9-2.4 m, aimed at a point 0.6 m above the spot, +-4 degrees
of tilt and +-10 degrees of pan; the same aim rule applies to empty rooms)
    * depth: an 8x8-zone time-of-flight sensor like the VL53L5CX, 45x45 degree field of view. Each
      zone casts 3x3 rays and reports the second-nearest distance (the nearest target that covers
      at least two ninths of the zone), plus range noise (1 cm + 2 % of range). Beyond 4 m it
      reports its maximum range (4 m); up to 8 % of the zones per frame have no valid return and
      read 0. Modality ``depth``, shape (8, 8, 1), value = distance / 2 m - 1 (0..4 m -> -1..1).
    * thermal: a 32x24 thermopile array like the MLX90640 (55x35 degree variant). Each pixel sees the
      temperature of the first surface its ray hits: walls, floor and furniture near the ambient
      temperature (20-26 C; the bed as warm as the floor), clothing 2-9 C above ambient, skin
      31-35 C, a radiator (on or off), laptop, pet or hot drink when present. The image is blurred
      by the optics (Gaussian, sigma 0.8-1.1 pixel), gets pixel noise (sigma 0.15-0.4 C) and the
      sensor's checkerboard pattern offset. Modality ``thermal``, shape (24, 32, 1),
      value = (T - median(T of the frame)) / 10 C, clipped to [-1, 2]: the frame median is the
      ambient estimate a real pipeline subtracts (body surfaces land at about 0.2-1.2).

Why fusion wins
    Thermal sees shape in angles, not in metres: a person lying on a bed and one fallen on the
    floor are both a horizontal warm blob, a person under a blanket is barely warmer than the bed,
    sitting and bending can look alike from the front. Depth sees heights and distances but at
    8x8 zones: a person lying on a bed is a small bump on the bed (as pillows and blanket folds
    are), a pet or a fallen person is a small bump on the floor, sitting and bending are both a
    mass about a metre high. Together they resolve most of these pairs.

Everything is vectorised over samples (NumPy ray casting against capsules and boxes); the
generator is seeded and deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dataset import Dataset
from .store import build_dataset, stratified_split

CLASS_NAMES = ["standing", "sitting", "lying", "bending", "fallen", "empty"]
STANDING, SITTING, LYING, BENDING, FALLEN, EMPTY = range(6)
GENERATOR_VERSION = 3

DEPTH_SHAPE = (8, 8, 1)
THERMAL_SHAPE = (24, 32, 1)
DEPTH_MAX_RANGE = 4.0  # metres
_SUB = 3  # depth sub-rays per zone and axis


@dataclass(frozen=True)
class PostureConfig:
    """Knobs of the generator (the defaults set the demo's difficulty)."""

    depth_noise_base: float = 0.01  # m
    depth_noise_rel: float = 0.02  # fraction of range
    depth_dropout: tuple[float, float] = (0.0, 0.08)  # per-frame fraction of zones with no return
    thermal_noise: tuple[float, float] = (0.15, 0.4)  # C, per-pixel sigma range
    thermal_blur: tuple[float, float] = (0.8, 1.1)  # pixels, Gaussian sigma range
    p_pet: float = 0.35
    p_table: float = 0.5
    p_laptop: float = 0.6  # given a table
    p_drink: float = 0.5  # given a table
    p_radiator_on: float = 0.5
    p_spare_chair: float = 0.4
    p_blanket: float = 0.6  # lying people covered by a blanket


# ----------------------------------------------------------------------------------------------
# Rotations (batched, angles in radians, shape [N])


def _rx(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _ry(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rz(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def _mv(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Batched matrix @ vector: m [N,3,3], v [N,3] or [3]."""
    return np.einsum("nij,nj->ni", m, np.broadcast_to(v, (m.shape[0], 3)))


# ----------------------------------------------------------------------------------------------
# Bodies

# Capsule slots of a person, in order.
_BODY = ["torso_l", "torso_r", "head", "uarm_l", "uarm_r", "farm_l", "farm_r", "thigh_l", "thigh_r",
         "shin_l", "shin_r"]
N_BODY = len(_BODY)


@dataclass
class _Pose:
    """Joint angles (degrees) of N bodies; legs and arms per side [N, 2]."""

    pitch: np.ndarray  # trunk forward pitch from vertical (90 = face down, -90 = on the back)
    twist: np.ndarray  # rotation about the trunk axis
    neck: np.ndarray  # head forward flexion
    hip: np.ndarray  # [N,2] thigh forward flexion relative to the trunk
    hip_abd: np.ndarray  # [N,2] thigh abduction
    knee: np.ndarray  # [N,2]
    shoulder: np.ndarray  # [N,2] arm forward flexion relative to the trunk
    shoulder_abd: np.ndarray  # [N,2]
    elbow: np.ndarray  # [N,2]


def _u(rng: np.random.Generator, lo: float, hi: float, shape) -> np.ndarray:
    return rng.uniform(lo, hi, shape)


def _sample_pose(cls: int, n: int, rng: np.random.Generator) -> _Pose:
    """Joint angles for ``n`` bodies of posture class ``cls`` (any class but EMPTY)."""
    two = (n, 2)
    if cls == STANDING:
        pitch = _u(rng, -6, 8, n)
        hip = pitch[:, None] + _u(rng, -15, 20, two)
        knee = _u(rng, 0, 12, two)
        shoulder = pitch[:, None] + _u(rng, -20, 60, two)
        elbow = _u(rng, 0, 110, two)
        twist = _u(rng, -10, 10, n)
        neck = _u(rng, -10, 30, n)
    elif cls == SITTING:
        pitch = _u(rng, -20, 15, n)
        hip = (90 + pitch)[:, None] + _u(rng, -12, 12, two)
        knee = np.clip(hip + _u(rng, -25, 25, two), 30, 150)  # shins roughly vertical
        shoulder = pitch[:, None] + _u(rng, 0, 70, two)
        elbow = _u(rng, 20, 110, two)
        twist = _u(rng, -15, 15, n)
        neck = _u(rng, -10, 35, n)
    elif cls == BENDING:
        pitch = _u(rng, 75, 110, n)
        hip = pitch[:, None] + _u(rng, -10, 10, two)
        knee = _u(rng, 0, 25, two)
        shoulder = pitch[:, None] + _u(rng, -30, 30, two)
        elbow = _u(rng, 0, 60, two)
        twist = _u(rng, -15, 15, n)
        neck = _u(rng, -30, 20, n)
    elif cls == LYING:
        side = rng.integers(0, 4, n)  # 0,1 on the back, 2 on the left side, 3 on the right side
        pitch = np.full(n, -90.0) + _u(rng, -8, 8, n)
        twist = np.select([side == 2, side == 3], [90.0, -90.0], 0.0) + _u(rng, -15, 15, n)
        hip = _u(rng, -5, 40, two)
        knee = np.clip(hip * _u(rng, 0.5, 2.0, two), 0, 90)
        shoulder = _u(rng, -20, 60, two)
        elbow = _u(rng, 0, 100, two)
        neck = _u(rng, -20, 20, n)
    elif cls == FALLEN:
        # prone, supine, on either side, or (10 %) sitting slumped on the floor
        kind = rng.choice(5, n, p=[0.25, 0.25, 0.2, 0.2, 0.1])
        slumped, prone, supine = kind == 4, kind == 0, kind == 1
        pitch = np.select([slumped, prone], [_u(rng, -40, 30, n), _u(rng, 70, 110, n)], _u(rng, -110, -70, n))
        twist = np.select([kind == 2, kind == 3], [90.0, -90.0], 0.0) + _u(rng, -25, 25, n)
        hip = np.select(
            [slumped[:, None], prone[:, None], supine[:, None]],
            [(90 + pitch)[:, None] + _u(rng, -20, 20, two), _u(rng, -20, 25, two), _u(rng, -15, 45, two)],
            _u(rng, -20, 110, two),
        )
        knee = np.where(supine[:, None], np.clip(hip * _u(rng, 0.5, 2.0, two), 0, 100), _u(rng, 0, 120, two))
        shoulder = _u(rng, -60, 180, two)
        elbow = _u(rng, 0, 130, two)
        neck = _u(rng, -40, 40, n)
    else:
        raise ValueError(f"no body for class {cls}")
    hip_abd = _u(rng, -5, 25, two) if cls != FALLEN else _u(rng, -10, 50, two)
    shoulder_abd = _u(rng, 5, 30, two) if cls != FALLEN else _u(rng, 0, 100, two)
    return _Pose(pitch, twist, neck, hip, hip_abd, knee, shoulder, shoulder_abd, elbow)


def _body_capsules(pose: _Pose, height: np.ndarray, yaw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward kinematics: capsule endpoints [N, 11, 2, 3] (pelvis at the origin) and radii [N, 11].

    The root rotation is yaw (about the vertical) * pitch (about the body's right axis) * twist
    (about the trunk axis). A limb is a segment pointing down the local -z axis, rotated by its
    joint angles: flexion about the local x axis, abduction about the local y axis, so e.g. the
    shin direction is root * Rx(hip) * Ry(side*abd) * Rx(-knee) * (0, 0, -1).
    """
    n = height.shape[0]
    s = height / 1.75
    rad = np.deg2rad
    root = _rz(yaw) @ _rx(rad(-pose.pitch)) @ _rz(rad(pose.twist))
    down = np.array([0.0, 0.0, -1.0])
    up = np.array([0.0, 0.0, 1.0])
    ex = np.array([1.0, 0.0, 0.0])

    caps = np.zeros((n, N_BODY, 2, 3))
    radii = np.zeros((n, N_BODY))
    pelvis = np.zeros((n, 3))
    trunk = _mv(root, up)
    right = _mv(root, ex)
    neck = pelvis + trunk * (0.52 * s)[:, None]
    for k, side in enumerate((-1.0, 1.0)):
        off = right * (side * 0.08 * s)[:, None]
        caps[:, k, 0] = pelvis + off + trunk * (0.06 * s)[:, None]
        caps[:, k, 1] = neck + off - trunk * (0.06 * s)[:, None]
        radii[:, k] = 0.11 * s
    head_dir = _mv(root @ _rx(rad(-pose.neck)), up)
    caps[:, 2, 0] = caps[:, 2, 1] = neck + head_dir * (0.17 * s)[:, None]
    radii[:, 2] = 0.10 * s
    for k, side in enumerate((-1.0, 1.0)):
        shoulder = neck - trunk * (0.04 * s)[:, None] + right * (side * 0.19 * s)[:, None]
        r_arm = root @ _rx(rad(pose.shoulder[:, k])) @ _ry(rad(side * pose.shoulder_abd[:, k]))
        elbow = shoulder + _mv(r_arm, down) * (0.30 * s)[:, None]
        hand = elbow + _mv(r_arm @ _rx(rad(pose.elbow[:, k])), down) * (0.28 * s)[:, None]
        caps[:, 3 + k] = np.stack([shoulder, elbow], 1)
        caps[:, 5 + k] = np.stack([elbow, hand], 1)
        radii[:, 3 + k] = 0.045 * s
        radii[:, 5 + k] = 0.038 * s
        hip = pelvis + right * (side * 0.09 * s)[:, None]
        r_leg = root @ _rx(rad(pose.hip[:, k])) @ _ry(rad(side * pose.hip_abd[:, k]))
        knee = hip + _mv(r_leg, down) * (0.45 * s)[:, None]
        foot = knee + _mv(r_leg @ _rx(rad(-pose.knee[:, k])), down) * (0.45 * s)[:, None]
        caps[:, 7 + k] = np.stack([hip, knee], 1)
        caps[:, 9 + k] = np.stack([knee, foot], 1)
        radii[:, 7 + k] = 0.075 * s
        radii[:, 9 + k] = 0.055 * s
    return caps, radii


# ----------------------------------------------------------------------------------------------
# Ray casting


def _capsule_hits(o, d, a, b, r) -> np.ndarray:
    """First positive hit distance of P rays against P capsules (inf where missed), all [P, ...].

    A capsule is the union of a finite cylinder (axis a->b, radius r) and two spheres at a and b;
    its first hit is the smallest valid hit of the three. For the cylinder, with unit ray
    direction d from o, oa = o - a and ba = b - a, the quadratic A t^2 + 2 B t + C = 0 has
    A = |ba|^2 - (ba.d)^2, B = |ba|^2 (d.oa) - (ba.oa)(ba.d), C = |ba|^2 |oa|^2 - (ba.oa)^2 - r^2 |ba|^2;
    the hit is valid when its projection on the axis lies between a and b.
    """
    ba, oa = b - a, o - a
    baba = np.einsum("pi,pi->p", ba, ba)
    baoa = np.einsum("pi,pi->p", ba, oa)
    oaoa = np.einsum("pi,pi->p", oa, oa)
    bard = np.einsum("pi,pi->p", ba, d)
    rdoa = np.einsum("pi,pi->p", oa, d)
    rr = r * r
    inf = np.float32(np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        ca = baba - bard * bard
        cb = baba * rdoa - baoa * bard
        cc = baba * oaoa - baoa * baoa - rr * baba
        h = cb * cb - ca * cc
        t = (-cb - np.sqrt(np.maximum(h, 0))) / ca
        y = baoa + t * bard
        best = np.where((h >= 0) & (ca > 1e-12) & (y > 0) & (y < baba) & (t > 0), t, inf)
        # end spheres: |oa + t d|^2 = r^2 and |ob + t d|^2 = r^2 with ob = oa - ba
        obob = oaoa - 2 * baoa + baba
        for proj, dist2 in ((rdoa, oaoa), (rdoa - bard, obob)):
            hs = proj * proj - (dist2 - rr)
            ts = -proj - np.sqrt(np.maximum(hs, 0))
            best = np.minimum(best, np.where((hs >= 0) & (ts > 0), ts, inf))
    return best


def _candidates(o, d, centre, rho, active):
    """(sample, ray, object) index arrays of pairs whose ray can meet the object's bounding sphere.

    A ray from o can only meet a sphere (centre c, radius rho) if its angle to the direction of c
    is at most asin(rho / |c - o|); a camera inside the sphere keeps every ray.
    """
    rel = centre - o[:, None, :]
    dist = np.linalg.norm(rel, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos_lim = np.where(dist > rho, np.sqrt(np.clip(1 - (rho / dist) ** 2, 0, 1)) - 1e-4, -2.0)
        unit = (rel / np.maximum(dist, 1e-9)[..., None]).astype(d.dtype)
    cosang = d @ unit.transpose(0, 2, 1)  # [N,R,K]
    return np.nonzero((cosang >= cos_lim[:, None, :]) & active[:, None, :])


def _cast_capsules(o, d, a, b, r, active) -> np.ndarray:
    """Nearest positive hit distance of rays against capsules, [N, R, K] (inf where missed).

    Most rays pass far from most capsules, so each (ray, capsule) pair is first tested against the
    capsule's bounding sphere (centre (a + b) / 2, radius |b - a| / 2 + r, see :func:`_candidates`);
    the exact test (:func:`_capsule_hits`) runs on the remaining pairs only.
    o [N,3], d [N,R,3], a, b [N,K,3], r [N,K], active [N,K] bool.
    """
    ni, ri, ki = _candidates(o, d, (a + b) / 2, np.linalg.norm(b - a, axis=-1) / 2 + r, active)
    out = np.full((d.shape[0], d.shape[1], a.shape[1]), np.inf, dtype=np.float32)
    out[ni, ri, ki] = _capsule_hits(o[ni], d[ni, ri], a[ni, ki], b[ni, ki], r[ni, ki])
    return out


def _cast_boxes(o, d, lo, hi, active) -> np.ndarray:
    """Nearest positive hit distance of rays against axis-aligned boxes (slab test), [N, R, B].

    Pairs are culled by the boxes' bounding spheres first. Per axis the ray is inside the slab
    between t1 and t2; it hits the box when the latest entry is before the earliest exit (NaNs from
    rays parallel to a face are ignored by fmax / fmin).
    """
    ni, ri, bi = _candidates(o, d, (lo + hi) / 2, np.linalg.norm(hi - lo, axis=-1) / 2, active)
    dd, oo = d[ni, ri], o[ni]
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / dd
        t1 = (lo[ni, bi] - oo) * inv
        t2 = (hi[ni, bi] - oo) * inv
    near, far = np.minimum(t1, t2), np.maximum(t1, t2)
    tmin = np.fmax(np.fmax(near[:, 0], near[:, 1]), near[:, 2])
    tmax = np.fmin(np.fmin(far[:, 0], far[:, 1]), far[:, 2])
    out = np.full((d.shape[0], d.shape[1], lo.shape[1]), np.inf, dtype=np.float32)
    out[ni, ri, bi] = np.where((tmax >= tmin) & (tmin > 0), tmin, np.inf)
    return out


def _cast_room(o, d, room) -> tuple[np.ndarray, np.ndarray]:
    """Distance to the room's inside surface [N,R] and which one: 0 floor, 1 ceiling, 2 wall."""
    with np.errstate(divide="ignore"):
        hi = np.where(d > 0, (room[:, None, :] - o[:, None, :]) / d, np.inf)
        lo = np.where(d < 0, (0 - o[:, None, :]) / d, np.inf)
    t_axis = np.minimum(hi, lo)  # [N,R,3]
    axis = np.argmin(t_axis, axis=-1)
    t = np.min(t_axis, axis=-1)
    surface = np.where(axis == 2, np.where(d[..., 2] < 0, 0, 1), 2)
    return t, surface


# ----------------------------------------------------------------------------------------------
# Scenes


@dataclass
class _Scene:
    room: np.ndarray  # [N,3] width, depth, height
    cam_pos: np.ndarray  # [N,3]
    cam_rot: np.ndarray  # [N,3,3] camera frame (x right, y forward, z up) -> world
    cap_a: np.ndarray  # [N,K,3]
    cap_b: np.ndarray
    cap_r: np.ndarray  # [N,K]
    cap_on: np.ndarray  # [N,K] bool
    cap_temp: np.ndarray  # [N,K] C
    box_lo: np.ndarray  # [N,B,3]
    box_hi: np.ndarray
    box_on: np.ndarray
    box_temp: np.ndarray
    ambient: np.ndarray  # [N]
    floor_temp: np.ndarray
    wall_temp: np.ndarray
    ceil_temp: np.ndarray


# Extra capsule slots after the body: pet, drink, blanket fold, chair backrest.
_PET, _DRINK, _FOLD, _BACKREST = N_BODY, N_BODY + 1, N_BODY + 2, N_BODY + 3
N_CAPS = N_BODY + 4
# Box slots: bed, pillow, chair seat, table, laptop, radiator.
_BED, _PILLOW, _SEAT, _TABLE, _LAPTOP, _RADIATOR = range(6)
N_BOXES = 6


def _overlap(lo: np.ndarray, hi: np.ndarray, cx: np.ndarray, cy: np.ndarray, rad: np.ndarray) -> np.ndarray:
    """Whether the box footprints [N,2] come within ``rad`` of the points (cx, cy)."""
    dx = np.maximum(np.maximum(lo[:, 0] - cx, cx - hi[:, 0]), 0)
    dy = np.maximum(np.maximum(lo[:, 1] - cy, cy - hi[:, 1]), 0)
    return dx * dx + dy * dy < rad * rad


def _blocks(lo, hi, cam, px, py, rad) -> np.ndarray:
    """Whether box footprints come within ``rad`` of the person's spot or of the camera's line of sight to it."""
    hit = np.zeros(px.shape[0], dtype=bool)
    for f in np.linspace(0.35, 1.0, 8):
        r = np.where(f < 1.0, 0.35, rad)
        hit |= _overlap(lo, hi, cam[:, 0] + f * (px - cam[:, 0]), cam[:, 1] + f * (py - cam[:, 1]), r)
    return hit


def _make_scenes(y: np.ndarray, rng: np.random.Generator, cfg: PostureConfig) -> _Scene:
    n = y.shape[0]
    u = rng.uniform
    room = np.stack([u(4.0, 6.0, n), u(5.0, 6.5, n), u(2.4, 2.8, n)], -1)
    cam_pos = np.stack([room[:, 0] / 2 + u(-0.8, 0.8, n), np.full(n, 0.05), u(1.9, 2.4, n)], -1)

    # Where the person (or, in an empty room, nobody) is: a floor spot 2.3-3.5 m away; the sensor is
    # aimed roughly at a point 0.6 m above that spot (the area an installer would cover).
    dist = u(2.3, 3.5, n)
    bearing = np.deg2rad(u(-35, 35, n))
    px = np.clip(cam_pos[:, 0] + dist * np.sin(bearing), 0.6, room[:, 0] - 0.6)
    py = np.clip(cam_pos[:, 1] + dist * np.cos(bearing), 1.0, room[:, 1] - 0.6)
    flat = np.hypot(px - cam_pos[:, 0], py - cam_pos[:, 1])
    cam_yaw = -np.arctan2(px - cam_pos[:, 0], py - cam_pos[:, 1]) + np.deg2rad(u(-10, 10, n))
    cam_pitch = np.arctan2(cam_pos[:, 2] - 0.6, flat) + np.deg2rad(u(-4, 4, n))
    cam_rot = _rz(cam_yaw) @ _rx(-cam_pitch)
    fwd = np.stack([-np.sin(cam_yaw), np.cos(cam_yaw)], -1)
    side = np.stack([np.cos(cam_yaw), np.sin(cam_yaw)], -1)
    person = y != EMPTY

    ambient = u(20.0, 26.0, n)
    floor_temp = ambient - u(0.3, 1.5, n)
    cap_a = np.zeros((n, N_CAPS, 3))
    cap_b = np.zeros((n, N_CAPS, 3))
    cap_r = np.zeros((n, N_CAPS))
    cap_on = np.zeros((n, N_CAPS), dtype=bool)
    cap_temp = np.repeat(ambient[:, None], N_CAPS, 1)
    box_lo = np.zeros((n, N_BOXES, 3))
    box_hi = np.zeros((n, N_BOXES, 3))
    box_on = np.zeros((n, N_BOXES), dtype=bool)
    box_temp = np.repeat(ambient[:, None], N_BOXES, 1)

    # --- bed (every room has one); the lying person's bed is under them
    bed_len, bed_wid, bed_h = u(1.9, 2.1, n), u(0.9, 1.6, n), u(0.42, 0.6, n)
    along_x = rng.random(n) < 0.5
    bx, by = np.where(along_x, bed_len, bed_wid), np.where(along_x, bed_wid, bed_len)
    lying = y == LYING
    cx = np.where(lying, px + u(-0.2, 0.2, n), 0.0)
    cy = np.where(lying, py + u(-0.2, 0.2, n), 0.0)
    # others: half of them right beside the person's spot (in an empty room: where the sensor looks),
    # the rest (and any that would cover the person or hide them from the sensor) against a wall
    near = ~lying & (rng.random(n) < 0.5)
    gap = np.select([y == EMPTY, y == FALLEN], [-1.0, 1.0], 0.45)
    beside = rng.integers(0, 4, n)
    off_x = np.select([beside == 0, beside == 1], [-(bx / 2 + gap), bx / 2 + gap], u(-0.5, 0.5, n) * bx)
    off_y = np.select([beside == 2, beside == 3], [-(by / 2 + gap), by / 2 + gap], u(-0.5, 0.5, n) * by)
    empty_room = y == EMPTY
    off_x = np.where(empty_room, u(-0.3, 0.3, n), off_x)
    off_y = np.where(empty_room, u(-0.3, 0.3, n), off_y)
    cx = np.where(near, px + off_x, cx)
    cy = np.where(near, py + off_y, cy)
    todo = ~lying & ~near
    for _ in range(30):
        if todo.any():
            m = int(todo.sum())
            wall = rng.integers(0, 3, m)  # left, right, back
            W, D = room[todo, 0], room[todo, 1]
            hx, hy = bx[todo] / 2, by[todo] / 2
            rx = rng.uniform(hx, W - hx)
            ry = rng.uniform(np.minimum(1.2 + hy, D - hy), D - hy)
            cx[todo] = np.select([wall == 0, wall == 1], [hx, W - hx], rx)
            cy[todo] = np.where(wall == 2, D - hy, ry)
        cx, cy = np.clip(cx, bx / 2, room[:, 0] - bx / 2), np.clip(cy, by / 2, room[:, 1] - by / 2)
        lo2 = np.stack([cx - bx / 2, cy - by / 2], -1)
        hi2 = np.stack([cx + bx / 2, cy + by / 2], -1)
        clash = _blocks(lo2, hi2, cam_pos, px, py, np.where(y == FALLEN, 1.1, 0.6)) & person & ~lying
        todo = clash
        if not todo.any():
            break
    cx, cy = np.clip(cx, bx / 2, room[:, 0] - bx / 2), np.clip(cy, by / 2, room[:, 1] - by / 2)
    box_lo[:, _BED] = np.stack([cx - bx / 2, cy - by / 2, np.zeros(n)], -1)
    box_hi[:, _BED] = np.stack([cx + bx / 2, cy + by / 2, bed_h], -1)
    box_on[:, _BED] = ~todo
    box_temp[:, _BED] = floor_temp + u(-0.4, 0.6, n)
    # pillow at one end of the bed, a blanket fold somewhere on it
    head_end = rng.random(n) < 0.5
    pl = np.where(along_x, np.where(head_end, cx - bx / 2 + 0.05, cx + bx / 2 - 0.55), cx - u(0.3, 0.5, n))
    pw = np.where(along_x, cy - u(0.3, 0.5, n), np.where(head_end, cy - by / 2 + 0.05, cy + by / 2 - 0.4))
    box_lo[:, _PILLOW] = np.stack([pl, pw, bed_h], -1)
    box_hi[:, _PILLOW] = np.stack(
        [pl + np.where(along_x, 0.5, u(0.6, 1.0, n)), pw + np.where(along_x, u(0.6, 1.0, n), 0.35),
         bed_h + u(0.06, 0.16, n)], -1)
    box_on[:, _PILLOW] = box_on[:, _BED] & (rng.random(n) < 0.8)
    box_temp[:, _PILLOW] = box_temp[:, _BED]
    fold_r = u(0.05, 0.14, n)
    f0 = np.stack([cx + u(-0.6, 0.6, n) * bx / 2, cy + u(-0.6, 0.6, n) * by / 2, bed_h + fold_r], -1)
    fang = u(0, np.pi, n)
    flen = u(0.3, 1.0, n)
    f1 = f0 + np.stack([np.cos(fang) * flen, np.sin(fang) * flen, np.zeros(n)], -1)
    cap_a[:, _FOLD], cap_b[:, _FOLD], cap_r[:, _FOLD] = f0, f1, fold_r
    cap_on[:, _FOLD] = box_on[:, _BED] & (rng.random(n) < 0.6) & ~lying
    cap_temp[:, _FOLD] = box_temp[:, _BED]

    # --- the person
    height = u(1.50, 1.95, n)
    yaw = u(-np.pi, np.pi, n)
    # lying people lie along the bed
    bed_yaw = np.where(along_x, np.pi / 2, 0.0) + rng.choice([0.0, np.pi], n)
    yaw = np.where(lying, bed_yaw + np.deg2rad(u(-10, 10, n)), yaw)
    seat_h = u(0.40, 0.48, n)
    for cls in (STANDING, SITTING, LYING, BENDING, FALLEN):
        idx = np.flatnonzero(y == cls)
        if idx.size == 0:
            continue
        pose = _sample_pose(cls, idx.size, rng)
        caps, radii = _body_capsules(pose, height[idx], yaw[idx])
        if cls in (STANDING, BENDING):
            low = (caps[:, 9:11, 1, 2] - radii[:, 9:11]).min(1)
            support = np.zeros(idx.size)
        elif cls == SITTING:
            low = (caps[:, 7:9, :, 2] - radii[:, 7:9, None]).min((1, 2))
            support = seat_h[idx]
        else:
            # lying on a surface: torso, head and thighs rest on it, arms and shins may not
            low = (caps[:, :9, :, 2] - radii[:, :9, None]).min((1, 2))
            support = bed_h[idx] if cls == LYING else np.zeros(idx.size)
        centre = caps[..., :2].mean((1, 2))
        shift = np.stack([px[idx] - centre[:, 0], py[idx] - centre[:, 1], support - low], -1)
        if cls == SITTING:  # the seat is under the hips, not under the body's centre
            hips = caps[:, 7:9, 0, :2].mean(1)
            seat_xy = hips + shift[:, :2]
            box_lo[idx, _SEAT] = np.concatenate([seat_xy - 0.23, np.zeros((idx.size, 1))], -1)
            box_hi[idx, _SEAT] = np.concatenate([seat_xy + 0.23, (seat_h[idx] - 0.01)[:, None]], -1)
            box_on[idx, _SEAT] = True
            back = -np.stack([-np.sin(yaw[idx]), np.cos(yaw[idx])], -1)  # behind the person
            perp = np.stack([back[:, 1], -back[:, 0]], -1)
            mid = seat_xy + back * 0.25
            z_back = seat_h[idx] + u(0.3, 0.45, idx.size)
            has_back = rng.random(idx.size) < 0.8
            cap_a[idx, _BACKREST] = np.concatenate([mid - perp * 0.18, z_back[:, None]], -1)
            cap_b[idx, _BACKREST] = np.concatenate([mid + perp * 0.18, z_back[:, None]], -1)
            cap_r[idx, _BACKREST] = 0.07
            cap_on[idx, _BACKREST] = has_back
        cap_a[idx, :N_BODY] = caps[:, :, 0] + shift[:, None, :]
        cap_b[idx, :N_BODY] = caps[:, :, 1] + shift[:, None, :]
        cap_r[idx, :N_BODY] = radii
        cap_on[idx, :N_BODY] = True

    # a lying person's head rests on the pillow (the pillow is moved under the head, below its surface)
    head = cap_a[:, 2]
    ext_x = np.where(along_x, 0.25, (box_hi[:, _PILLOW, 0] - box_lo[:, _PILLOW, 0]) / 2)
    ext_y = np.where(along_x, (box_hi[:, _PILLOW, 1] - box_lo[:, _PILLOW, 1]) / 2, 0.18)
    top = np.clip(head[:, 2] - cap_r[:, 2], bed_h + 0.02, box_hi[:, _PILLOW, 2])
    pillow_lo = np.stack([head[:, 0] - ext_x, head[:, 1] - ext_y, bed_h], -1)
    pillow_hi = np.stack([head[:, 0] + ext_x, head[:, 1] + ext_y, top], -1)
    box_lo[lying, _PILLOW] = pillow_lo[lying]
    box_hi[lying, _PILLOW] = pillow_hi[lying]

    # body surface temperatures: clothing on torso and legs, skin or sleeves on arms, face/hair
    torso_t = ambient + u(2.5, 9.0, n)
    legs_t = ambient + u(2.0, 8.0, n)
    arms_t = np.where(rng.random(n) < 0.5, u(31.0, 34.0, n), ambient + u(4.0, 8.0, n))
    head_t = u(31.0, 35.0, n)
    covered = lying & (rng.random(n) < cfg.p_blanket)
    torso_t = np.where(covered, ambient + u(1.0, 3.0, n), torso_t)
    legs_t = np.where(covered, ambient + u(0.5, 2.5, n), legs_t)
    arms_t = np.where(covered & (rng.random(n) < 0.6), ambient + u(1.0, 3.0, n), arms_t)
    cap_temp[:, 0:2] = torso_t[:, None]
    cap_temp[:, 2] = head_t
    cap_temp[:, 3:7] = arms_t[:, None]
    cap_temp[:, 7:11] = legs_t[:, None]
    cap_temp[:, _BACKREST] = ambient + u(0.0, 1.5, n)
    box_temp[:, _SEAT] = ambient + u(0.0, 1.5, n)

    # --- a spare chair (seat box) in some rooms without a sitting person
    spare = (rng.random(n) < cfg.p_spare_chair) & (y != SITTING)
    sx, sy = u(0.4, 1, n) * room[:, 0], u(0.3, 0.95, n) * room[:, 1]
    ok = ~_blocks(np.stack([sx - 0.25, sy - 0.25], -1), np.stack([sx + 0.25, sy + 0.25], -1), cam_pos, px, py,
                  np.where(person, 0.9, 0.0)) | ~person
    spare &= ok
    sh = u(0.42, 0.52, n)
    box_lo[spare, _SEAT] = np.stack([sx - 0.22, sy - 0.22, np.zeros(n)], -1)[spare]
    box_hi[spare, _SEAT] = np.stack([sx + 0.22, sy + 0.22, sh], -1)[spare]
    box_on[spare, _SEAT] = True

    # --- a table with a laptop and a hot drink on it
    table = rng.random(n) < cfg.p_table
    tw, td, th = u(0.6, 1.4, n), u(0.6, 0.9, n), u(0.70, 0.78, n)
    tx, ty = u(0.1, 0.9, n) * (room[:, 0] - tw), u(0.25, 0.95, n) * (room[:, 1] - td)
    clash = _blocks(np.stack([tx, ty], -1), np.stack([tx + tw, ty + td], -1), cam_pos, px, py,
                    np.where(y == FALLEN, 1.1, 0.7)) & person
    table &= ~clash
    table &= ~_overlap(box_lo[:, _BED, :2], box_hi[:, _BED, :2], tx + tw / 2, ty + td / 2, tw / 2 + 0.3)
    box_lo[:, _TABLE] = np.stack([tx, ty, th - 0.05], -1)  # table top; legs are too thin to see
    box_hi[:, _TABLE] = np.stack([tx + tw, ty + td, th], -1)
    box_on[:, _TABLE] = table
    box_temp[:, _TABLE] = ambient + u(-0.5, 0.5, n)
    laptop = table & (rng.random(n) < cfg.p_laptop)
    lx, ly = tx + u(0.05, 0.5, n) * (tw - 0.35), ty + u(0.05, 0.5, n) * (td - 0.25)
    box_lo[:, _LAPTOP] = np.stack([lx, ly, th], -1)
    box_hi[:, _LAPTOP] = np.stack([lx + 0.34, ly + 0.24, th + u(0.02, 0.22, n)], -1)
    box_on[:, _LAPTOP] = laptop
    box_temp[:, _LAPTOP] = ambient + u(6.0, 15.0, n)
    drink = table & (rng.random(n) < cfg.p_drink)
    dx, dy = tx + u(0.1, 0.9, n) * tw, ty + u(0.1, 0.9, n) * td
    cap_a[:, _DRINK] = np.stack([dx, dy, th + 0.04], -1)
    cap_b[:, _DRINK] = np.stack([dx, dy, th + 0.08], -1)
    cap_r[:, _DRINK] = 0.04
    cap_on[:, _DRINK] = drink
    cap_temp[:, _DRINK] = u(45.0, 70.0, n)

    # --- radiator on a side or back wall, on or off
    rw = u(0.6, 1.4, n)
    rwall = rng.integers(0, 3, n)
    along = u(0.1, 0.9, n)
    r0x = np.select([rwall == 0, rwall == 1], [np.zeros(n), room[:, 0] - 0.1], along * (room[:, 0] - rw))
    r0y = np.where(rwall == 2, room[:, 1] - 0.1, 1.0 + along * (room[:, 1] - 1.0 - rw))
    r1x = np.where(rwall == 2, r0x + rw, r0x + 0.1)
    r1y = np.where(rwall == 2, r0y + 0.1, r0y + rw)
    rz = u(0.1, 0.2, n)
    box_lo[:, _RADIATOR] = np.stack([r0x, r0y, rz], -1)
    box_hi[:, _RADIATOR] = np.stack([r1x, r1y, rz + u(0.4, 0.6, n)], -1)
    box_on[:, _RADIATOR] = True
    box_temp[:, _RADIATOR] = ambient + np.where(rng.random(n) < cfg.p_radiator_on, u(8.0, 30.0, n),
                                                u(0.0, 1.0, n))

    # --- a pet lying or walking on the floor, not inside the person
    pet = rng.random(n) < cfg.p_pet
    pdist, plat = u(2.0, 4.0, n), u(-0.35, 0.35, n)
    qx = np.clip(cam_pos[:, 0] + fwd[:, 0] * pdist + side[:, 0] * plat * pdist, 0.3, room[:, 0] - 0.3)
    qy = np.clip(cam_pos[:, 1] + fwd[:, 1] * pdist + side[:, 1] * plat * pdist, 0.5, room[:, 1] - 0.3)
    far = (qx - px) ** 2 + (qy - py) ** 2 > np.where(person, 1.2, 0.0) ** 2
    pet &= far & ~_overlap(box_lo[:, _BED, :2], box_hi[:, _BED, :2], qx, qy, np.full(n, 0.3))
    pr = u(0.08, 0.15, n)
    pl_ = u(0.15, 0.45, n)
    pang = u(0, 2 * np.pi, n)
    pz = pr + np.where(rng.random(n) < 0.5, 0.0, u(0.1, 0.25, n))  # curled up or standing
    cap_a[:, _PET] = np.stack([qx, qy, pz], -1)
    cap_b[:, _PET] = np.stack([qx + np.cos(pang) * pl_, qy + np.sin(pang) * pl_, pz], -1)
    cap_r[:, _PET] = pr
    cap_on[:, _PET] = pet
    cap_temp[:, _PET] = ambient + u(5.0, 11.0, n)

    return _Scene(
        room=room, cam_pos=cam_pos, cam_rot=cam_rot, cap_a=cap_a, cap_b=cap_b, cap_r=cap_r, cap_on=cap_on,
        cap_temp=cap_temp, box_lo=box_lo, box_hi=box_hi, box_on=box_on, box_temp=box_temp, ambient=ambient,
        floor_temp=floor_temp, wall_temp=ambient + u(-0.5, 0.5, n), ceil_temp=ambient + u(0.0, 1.0, n),
    )


# ----------------------------------------------------------------------------------------------
# Sensors


def _ray_grid(cols: int, rows: int, fov_x_deg: float, fov_y_deg: float) -> np.ndarray:
    """Unit ray directions in the camera frame (x right, y forward, z up), row 0 at the top, [rows*cols, 3]."""
    tx = np.tan(np.deg2rad(fov_x_deg) / 2) * ((np.arange(cols) + 0.5) / cols * 2 - 1)
    ty = np.tan(np.deg2rad(fov_y_deg) / 2) * (1 - (np.arange(rows) + 0.5) / rows * 2)
    gx, gy = np.meshgrid(tx, ty)
    d = np.stack([gx, np.ones_like(gx), gy], -1).reshape(-1, 3)
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


_DEPTH_RAYS = _ray_grid(8 * _SUB, 8 * _SUB, 45.0, 45.0)
_THERMAL_RAYS = _ray_grid(32, 24, 55.0, 35.0)


def _render(scene: _Scene, sl: slice) -> tuple[np.ndarray, np.ndarray]:
    """Ray-cast one chunk of scenes: depth sub-ray distances [n, 576] and thermal temperatures [n, 768]."""
    rot = scene.cam_rot[sl]
    local = np.concatenate([_DEPTH_RAYS, _THERMAL_RAYS], 0)
    d = np.einsum("nij,rj->nri", rot, local).astype(np.float32)
    o = scene.cam_pos[sl].astype(np.float32)
    t_room, surface = _cast_room(o, d, scene.room[sl].astype(np.float32))
    t_caps = _cast_capsules(o, d, scene.cap_a[sl].astype(np.float32), scene.cap_b[sl].astype(np.float32),
                            scene.cap_r[sl].astype(np.float32), scene.cap_on[sl])
    t_box = _cast_boxes(o, d, scene.box_lo[sl].astype(np.float32), scene.box_hi[sl].astype(np.float32),
                        scene.box_on[sl])
    t_all = np.concatenate([t_room[..., None], t_caps, t_box], -1)
    which = np.argmin(t_all, -1)
    t = np.take_along_axis(t_all, which[..., None], -1)[..., 0]
    n = t.shape[0]
    room_t = np.stack([scene.floor_temp[sl], scene.ceil_temp[sl], scene.wall_temp[sl]], -1)
    obj_t = np.concatenate([scene.cap_temp[sl], scene.box_temp[sl]], -1)  # [n, K+B]
    rows = np.arange(n)[:, None]
    temp = np.where(which == 0, room_t[rows, surface], obj_t[rows, np.maximum(which - 1, 0)])
    nd = _DEPTH_RAYS.shape[0]
    return t[:, :nd], temp[:, nd:]


def _gauss_blur(img: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Separable Gaussian blur with a per-image sigma, edge-replicated, img [N, H, W]."""
    k = np.arange(-3, 4, dtype=np.float64)
    w = np.exp(-0.5 * (k[None, :] / sigma[:, None]) ** 2)
    w /= w.sum(1, keepdims=True)
    pad = np.pad(img, ((0, 0), (3, 3), (3, 3)), mode="edge")
    h = sum(w[:, i, None, None] * pad[:, :, i : i + img.shape[2]] for i in range(7))
    v = sum(w[:, i, None, None] * h[:, i : i + img.shape[1], :] for i in range(7))
    return v


def _depth_sensor(sub: np.ndarray, rng: np.random.Generator, cfg: PostureConfig) -> np.ndarray:
    """Zone distances from 3x3 sub-rays per zone: second nearest, noise, max range, dropouts -> [N,8,8]."""
    n = sub.shape[0]
    g = sub.reshape(n, 8, _SUB, 8, _SUB).transpose(0, 1, 3, 2, 4).reshape(n, 8, 8, _SUB * _SUB)
    z = np.sort(g, -1)[..., 1]
    z = z + rng.normal(0, 1, z.shape) * (cfg.depth_noise_base + cfg.depth_noise_rel * z)
    z = np.clip(z, 0.02, DEPTH_MAX_RANGE)
    rate = rng.uniform(*cfg.depth_dropout, (n, 1, 1))
    return np.where(rng.random(z.shape) < rate, 0.0, z)


def _thermal_sensor(temp: np.ndarray, rng: np.random.Generator, cfg: PostureConfig) -> np.ndarray:
    """Blur, pixel noise and the checkerboard pattern offset -> temperatures [N,24,32]."""
    n = temp.shape[0]
    img = _gauss_blur(temp.reshape(n, 24, 32), rng.uniform(*cfg.thermal_blur, n))
    chess = (np.add.outer(np.arange(24), np.arange(32)) % 2 * 2 - 1)[None]
    img = img + chess * rng.uniform(-0.15, 0.15, (n, 1, 1))
    return img + rng.normal(0, 1, img.shape) * rng.uniform(*cfg.thermal_noise, (n, 1, 1))


def generate(n: int, seed: int, cfg: PostureConfig | None = None, chunk: int = 96):
    """``n`` samples: (depth [n,8,8,1], thermal [n,24,32,1], labels [n]) in the documented scales.

    Classes are balanced (n // 6 each, the remainder spread over the first classes) and shuffled.
    """
    cfg = cfg or PostureConfig()
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x905]))
    y = rng.permutation(np.arange(n) % len(CLASS_NAMES)).astype(np.int64)
    scene = _make_scenes(y, rng, cfg)
    depth_sub = np.empty((n, _DEPTH_RAYS.shape[0]), np.float32)
    temp = np.empty((n, _THERMAL_RAYS.shape[0]), np.float32)
    for start in range(0, n, chunk):
        sl = slice(start, min(start + chunk, n))
        depth_sub[sl], temp[sl] = _render(scene, sl)
    depth = _depth_sensor(depth_sub.astype(np.float64), rng, cfg)
    therm = _thermal_sensor(temp.astype(np.float64), rng, cfg)
    med = np.median(therm.reshape(n, -1), axis=1)
    therm = np.clip((therm - med[:, None, None]) / 10.0, -1.0, 2.0)
    depth = depth / (DEPTH_MAX_RANGE / 2) - 1.0
    return depth[..., None].astype(np.float32), therm[..., None].astype(np.float32), y


def build(seed: int = 0, quick: bool = False) -> Dataset:
    """The posture dataset: 6000 samples (quick: 480), stratified 70/15/15 split."""
    n = 480 if quick else 6000
    depth, thermal, y = generate(n, seed)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5B1]))
    return build_dataset("posture", {"depth": depth, "thermal": thermal}, y, CLASS_NAMES, seed,
                         stratified_split(y, rng))
