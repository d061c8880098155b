"""The pieces of bench/truth.py: held-out data, training to a target loss, the noise scale at a checkpoint."""
