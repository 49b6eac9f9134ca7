"""Blender hair curves for the Cycles backend: scalp hair, eyebrows, eyelashes and beards.

Strand shapes come from ``generator/hair.py`` (numpy). Scalp hair is grown by Blender's bundled
CC0 hair node groups (``datafiles/assets/nodes/procedural_hair_node_assets.blend`` in the bpy
wheel, licence ``datafiles/assets/LICENSE``), one geometry-nodes modifier each, on the guide
curves: Interpolate Hair Curves (children on the head surface, density x the ``scalp_density``
vertex attribute), Clump, Curl (curly styles), Frizz, Hair Curves Noise and Set Hair Curve Profile.
That object is evaluated here and hidden from the camera: the strands it grows that stay off the
face (``hair.strands_off_face``) are copied as plain curves into the ``scalp_grown`` object, which
is rendered.
All hair uses the Principled Hair BSDF (Chiang) with melanin, redness and grey from the scene
(brows and lashes darker: ``appearance.brow_hair``),
and writes 1 to the ``hair`` AOV, from which the backend reads the hair's coverage of each pixel.
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np

from facegen.generator import hair as hairlib
from facegen.generator.appearance import brow_hair

NODE_ASSETS = Path(bpy.utils.system_resource("DATAFILES", path="assets/nodes")) / "procedural_hair_node_assets.blend"
# Node groups used, in modifier order on the scalp curves.
SCALP_GROUPS = ("Interpolate Hair Curves", "Clump Hair Curves", "Curl Hair Curves", "Frizz Hair Curves",
                "Hair Curves Noise", "Set Hair Curve Profile")
HAIR_RADIUS_M = 8e-5  # scalp strand radius at the root (a real hair is ~35 um; fewer, thicker here)
LOCK_M = 0.01  # spacing of the clump and curl guides: the width of a lock of hair
SYSTEMS = ("scalp", "brows", "lashes", "beard")


def load_node_groups() -> dict:
    """The bundled hair node groups by name (appended once per Blender session)."""
    missing = [g for g in SCALP_GROUPS if g not in bpy.data.node_groups]
    if missing:
        with bpy.data.libraries.load(str(NODE_ASSETS), link=False) as (src, dst):
            dst.node_groups = [g for g in src.node_groups if g in missing]
    return {g: bpy.data.node_groups[g] for g in SCALP_GROUPS}


def _socket(group, name: str) -> str:
    """The modifier key of input ``name`` of a node group (not its Geometry input: "Surface" names
    both a Geometry and an Object input)."""
    for item in group.interface.items_tree:
        if (item.item_type == "SOCKET" and item.in_out == "INPUT" and item.name == name
                and item.socket_type != "NodeSocketGeometry"):
            return item.identifier
    raise KeyError(f"{group.name} has no input {name!r}")


def aov_output(tree, aov: str):
    """An AOV Output node in material ``tree`` writing 1 to value AOV ``aov`` (the backend's cover
    passes); its ``Value`` input can be changed per sample."""
    node = tree.nodes.new("ShaderNodeOutputAOV")
    node.aov_name = aov
    node.inputs["Value"].default_value = 1.0
    return node


def hair_material(name: str, aov: str | None):
    mat = bpy.data.materials.new(name)
    tree = mat.node_tree
    tree.nodes.clear()
    bsdf = tree.nodes.new("ShaderNodeBsdfHairPrincipled")
    bsdf.parametrization = "MELANIN"
    out = tree.nodes.new("ShaderNodeOutputMaterial")
    tree.links.new(bsdf.outputs[0], out.inputs["Surface"])
    if aov:
        aov_output(tree, aov)
    return mat


class HairSystems:
    """The four hair systems of a Cycles scene, rebuilt per sample from ``generator/hair.py``."""

    def __init__(self, scene, head, layout: hairlib.HairLayout):
        self.scene, self.head, self.layout = scene, head, layout
        self.groups = load_node_groups()
        self.material = hair_material("strands", "hair")  # scalp hair: counts as an occluder
        self.facial = hair_material("facial_hair", None)  # beard: part of the face
        self.brows = hair_material("brow_hair", None)  # brows and lashes: part of the face, darker
        self.objects = {}
        for name in SYSTEMS + ("scalp_grown",):
            data = bpy.data.hair_curves.new(name)
            obj = bpy.data.objects.new(name, data)
            scene.collection.objects.link(obj)
            self.objects[name] = obj
        scalp = self.objects["scalp"]
        self.modifiers = {}
        for g in SCALP_GROUPS:
            mod = scalp.modifiers.new(g, "NODES")
            mod.node_group = self.groups[g]
            self.modifiers[g] = mod
        self._set("Interpolate Hair Curves", "Surface", head)
        self._attribute("Interpolate Hair Curves", "Surface UV Map", "uv")
        self._attribute("Interpolate Hair Curves", "Density Mask", "scalp_density")
        self._set("Interpolate Hair Curves", "Part by Mesh Islands", False)  # guides have no UV island
        for group in ("Clump Hair Curves", "Curl Hair Curves"):  # locks ~1 cm across (default 10 cm:
            self._set(group, "Guide Distance", LOCK_M)          # a few locks for the whole head)
        head.data.attributes.new("scalp_density", "FLOAT", "POINT")

    def _set(self, group: str, name: str, value) -> None:
        self.modifiers[group][_socket(self.groups[group], name)] = value

    def _attribute(self, group: str, name: str, attribute: str) -> None:
        key = _socket(self.groups[group], name)
        mod = self.modifiers[group]
        mod[key + "_use_attribute"] = True
        mod[key + "_attribute_name"] = attribute

    def _replace(self, name: str, sizes: np.ndarray, points: np.ndarray, radii: np.ndarray):
        """Give object ``name`` new curves data: ``sizes`` (C,) points per curve, ``points``
        (N, 3) and ``radii`` (N,) in curve order; the old data is removed."""
        obj = self.objects[name]
        old = obj.data
        data = bpy.data.hair_curves.new(name)
        data.materials.append({"scalp": self.material, "scalp_grown": self.material,
                               "beard": self.facial}.get(name, self.brows))
        if len(sizes):
            data.add_curves(np.asarray(sizes).tolist())
            data.position_data.foreach_set("vector", np.asarray(points, np.float32).ravel())
            data.attributes.new("radius", "FLOAT", "POINT").data.foreach_set("value", np.asarray(radii, np.float32))
        if name == "scalp":
            data.surface = self.head
            data.surface_uv_map = "uv"
        obj.data = data
        bpy.data.hair_curves.remove(old)

    def _curves(self, name: str, points: np.ndarray, radius: float):
        """Replace the curves of system ``name`` with ``points`` (N, K, 3), tapering to the tips."""
        n, k = points.shape[:2]
        taper = radius * np.linspace(1.0, 0.25, k, dtype=np.float32)
        self._replace(name, np.full(n, k), points.reshape(-1, 3), np.tile(taper, n))

    def _grow_scalp(self, posed: np.ndarray) -> None:
        """Evaluate the scalp's node groups on the guides and keep the strands they grow that stay
        off the face as the plain curves of ``scalp_grown`` (positions and radii). The objects sit
        at the origin unrotated: curve positions are world positions."""
        grown = self.objects["scalp"].evaluated_get(bpy.context.evaluated_depsgraph_get()).data
        n, c = len(grown.points), len(grown.curves)
        pos = np.empty(3 * n, np.float32)
        grown.points.foreach_get("position", pos)
        offsets = np.empty(c + 1, np.int32)
        grown.curve_offset_data.foreach_get("value", offsets)
        radius = np.empty(n, np.float32)
        grown.attributes["radius"].data.foreach_get("value", radius)
        keep = hairlib.strands_off_face(self.layout, posed, pos.reshape(-1, 3), offsets)
        sizes = np.diff(offsets)
        kept = np.repeat(keep, sizes)
        self._replace("scalp_grown", sizes[keep], pos.reshape(-1, 3)[kept], radius[kept])

    def update(self, scene, posed: np.ndarray) -> None:
        """Grow ``scene``'s hair on the posed head (the head mesh already holds ``posed``); none
        for scenes without strands (``strands.style == ""``)."""
        p, h = scene.strands, scene.hair
        for obj in self.objects.values():
            obj.hide_render = not p.style
        if not p.style:
            return
        rng = np.random.default_rng(p.seed)
        bald = p.style == "bald" or not h.scalp_hair
        self.objects["scalp_grown"].hide_render = bald
        if not bald:
            self.head.data.attributes["scalp_density"].data.foreach_set("value", self.layout.scalp_weights(p.hairline_recession_m)
                                           .astype(np.float32))
            self._curves("scalp", hairlib.grow_guides(self.layout, posed, p, rng), HAIR_RADIUS_M)
            self._set("Interpolate Hair Curves", "Density", p.density_per_cm2 * 1e4)
            self._set("Interpolate Hair Curves", "Seed", p.seed % 2 ** 31)
            self._set("Clump Hair Curves", "Factor", p.clumping)
            self._set("Clump Hair Curves", "Seed", p.seed % 2 ** 31)
            curly = p.style == "curly"
            self.modifiers["Curl Hair Curves"].show_render = self.modifiers["Curl Hair Curves"].show_viewport = curly
            self._set("Curl Hair Curves", "Factor", 1.0 if curly else 0.0)
            self._set("Curl Hair Curves", "Radius", p.curl_radius_m)
            self._set("Curl Hair Curves", "Frequency", 1.0 / max(p.curl_radius_m * 25, 0.05))
            self._set("Frizz Hair Curves", "Distance", p.frizz * 0.004)
            self._set("Frizz Hair Curves", "Seed", p.seed % 2 ** 31)
            self._set("Hair Curves Noise", "Distance", 0.003)
            self._set("Hair Curves Noise", "Scale", 40.0)
            self._set("Set Hair Curve Profile", "Radius", HAIR_RADIUS_M)
            self._grow_scalp(posed)
        self.objects["scalp"].hide_render = True  # the generator; scalp_grown is what is seen
        for s in hairlib.face_strands(self.layout, posed, scene, rng):
            self._curves(s.name, s.points, s.radius)
        for mat, colour in ((self.material, h), (self.facial, h), (self.brows, brow_hair(h))):
            bsdf = mat.node_tree.nodes["Principled Hair BSDF"]
            bsdf.inputs["Melanin"].default_value = colour.melanin
            bsdf.inputs["Melanin Redness"].default_value = h.redness
            bsdf.inputs["Random Color"].default_value = 0.15 + 0.5 * h.grey  # grey: lighter hairs among dark
            bsdf.inputs["Roughness"].default_value = 0.3
            bsdf.inputs["Random Roughness"].default_value = 0.2
