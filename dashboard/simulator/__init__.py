"""A stand-in Synapse PBX for demos, tests and benchmarks."""
