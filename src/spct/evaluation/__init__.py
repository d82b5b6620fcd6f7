"""The evaluation: each benchmark declared once, its official metric, the inference-time scaling sweep (Greedy,
Voting@k, MetaRM@k) with intervals and diagnostics, the report and the paper's numbers."""
