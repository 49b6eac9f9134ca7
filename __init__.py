"""facegen: synthetic face datasets with dense, editable landmarks.

Importing facegen imports neither bpy, pyrender nor torch; see README for the package map.
"""

__version__ = "0.1.0"
