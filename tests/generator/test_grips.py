"""A hand grips the objects people hold (occluders.GRIPS, samplers.sample_hands)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from facegen.generator import occluders
from facegen.generator.config import load_scene_config
from facegen.generator.head_model import fit_rotation, rotation_matrix
from facegen.generator.samplers import sample_hands, sample_scene, scene_rngs
from facegen.generator.scene import HandParams


@pytest.fixture(scope="module")
def layout(model):
    return occluders.OccluderLayout(model)


def _holds_at(thing: str, anchor: str) -> list[tuple]:
    """The unjittered (anchor, shift, turn) of ``thing``'s holds at ``anchor``."""
    picks = (occluders.hold(thing, pick, np.zeros(6)) for pick in np.linspace(0.0, 0.999, 40))
    return sorted({p for p in picks if p[0] == anchor})


@pytest.mark.parametrize("key", sorted(occluders.GRIPS))
def test_the_palm_rests_on_the_object_facing_the_grips_way(layout, key):
    """For every grip, hand and roll: the palm faces the grip's way (within 35 degrees: the roll
    and the lean of the fingertips tilt a palm turned to the side), its skin touches the object's
    surface on that side (within 2 mm), and the forearm comes from below or the side, not from
    above (its cut at the elbow is at most 3 cm higher than the palm: level when the fingers lie
    across the face)."""
    thing, anchor = key
    pose, _, _, facing = occluders.GRIPS[key]
    holds = _holds_at(thing, anchor)
    assert holds, key
    rest = layout.rest
    centre = rest[layout.anchors[anchor]].mean(axis=0)  # the rest head: its frame is the world's
    hand_rest = occluders.load_hands()[0][pose]
    near = (np.abs(hand_rest[:, 0]) < 0.015) & (np.abs(hand_rest[:, 1]) < 0.015)
    palm_skin = near & (hand_rest[:, 2] > 0)
    for _, shift, turn in holds:
        obj = occluders.load_objects()[thing][0] @ rotation_matrix(*turn).T + centre + np.asarray(shift)
        for side_pick in (0.2, 0.8):
            for roll_pick in (0.0, 1.0):
                for tilt in (-16.0, 16.0):
                    fields = occluders.grip(thing, anchor, shift, turn, 1.0, side_pick, roll_pick, tilt, 1.0)
                    v, _ = occluders.hand_mesh(layout, rest, HandParams(**fields))
                    palm = v[palm_skin].mean(axis=0)
                    mirrored = hand_rest * ([-1.0, 1.0, 1.0] if fields["hand"] == "left" else 1.0)
                    normal = fit_rotation(mirrored, v)[:, 2]  # the hand's +z: out of the palm
                    wrist_end = v[np.argmin(hand_rest[:, 1])]  # the forearm's cut, at the elbow
                    label = (key, side_pick, roll_pick, tilt)
                    assert normal @ np.asarray(facing) > np.cos(np.radians(35.0)), label
                    gap = (obj @ normal).min() - (v[palm_skin] @ normal).max()  # object's near side - palm skin
                    assert abs(gap) < 0.002, (label, gap)
                    assert wrist_end[2] < palm[2] + 0.03, label  # from below or the side, never from above


def test_a_held_object_is_gripped_in_place_of_the_other_hand_and_nothing_else_moves(tmp_path):
    """With every object held as people hold it: ``object_grip_probability`` 1 gives the objects
    with a grip a hand at their anchor, 0 gives the hand the section draws alone (as without an
    object), and every other section is the same either way: the grip's draws come last."""
    path = tmp_path / "held.yaml"
    head = "occluders:\n  object_probability: 1\n  object_hold_probability: 1\n"
    path.write_text(head + "hands:\n  object_grip_probability: 1\n")
    gripped = load_scene_config(path)
    path.write_text(head + "hands:\n  object_grip_probability: 0\n")
    free = load_scene_config(path)
    seen = set()
    for i in range(120):
        a, b = sample_scene(gripped, 3, i), sample_scene(free, 3, i)
        assert dataclasses.replace(a, hands=b.hands) == b
        assert b.hands == sample_hands(free.hands, scene_rngs(3, i)["hands"])
        assert a.occluders.object_held
        key = (a.occluders.object, a.occluders.object_anchor)
        if key in occluders.GRIPS:
            seen.add(key)
            assert a.hands.hand in ("left", "right") and a.hands.anchor == a.occluders.object_anchor
            assert a.hands.pose == occluders.GRIPS[key][0]
        else:
            assert a.hands == b.hands
    assert len(seen) >= 5


def test_objects_floating_anywhere_are_not_gripped(tmp_path):
    """An object placed anywhere in front of the face (not by a hold) gets no grip: its turn is
    random, so no hand would fit it."""
    path = tmp_path / "anywhere.yaml"
    path.write_text("occluders:\n  object_probability: 1\n  object_hold_probability: 0\n"
                    "hands:\n  object_grip_probability: 1\n  hand_probability: 0\n")
    cfg = load_scene_config(path)
    for i in range(60):
        scene = sample_scene(cfg, 2, i)
        assert not scene.occluders.object_held and scene.hands.hand == "none"
