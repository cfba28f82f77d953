"""Neural-network layers (one per file): message-passing layers for hit graphs and point clouds."""
