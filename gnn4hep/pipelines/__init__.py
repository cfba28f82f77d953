"""End-to-end pipelines assembled from runner stages (each module registers its stages)."""
