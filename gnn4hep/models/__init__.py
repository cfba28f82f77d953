"""Models: pure nn.Modules (one class per file) for edge classification and jet tagging.

Submodules are imported on demand, not eagerly."""
