"""Seeds as a distribution: one scenario over many seeds, judged over all of them."""
