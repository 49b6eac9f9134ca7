"""Scene sampling, the head model, projection, shard writing and the facegen CLI."""
