"""Usage mining: which framework functions code calls, how often, and the sample drawn from it."""
