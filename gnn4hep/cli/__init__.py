"""The ``gnn4hep`` command line."""
