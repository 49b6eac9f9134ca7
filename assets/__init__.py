"""Data files (the head model) and the script that rebuilds them; see MANIFEST.json."""
