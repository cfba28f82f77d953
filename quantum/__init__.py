"""gnn4hep.quantum: track finding as a QUBO, solved with D-Wave Ocean samplers."""
