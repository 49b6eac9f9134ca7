"""PyTorch datasets over facegen shards and real 300-W folders."""
