"""The compiler: model → intermediate form (``ir``), in named stages, then static checks.

``compile`` resolves every name, type and per-unit parameter into ``ir`` atoms
both engines evaluate; ``checks`` proves what can be proved before anything is
served (unreachable rules, gaps, overlaps, declared monotonicity).
"""
