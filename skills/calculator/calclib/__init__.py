"""The calculator's reader and evaluator, shared with the datetime skill.

``phrasing`` turns everyday wording into the calculator's expression language, ``evaluator``
computes that language exactly over an ``ast`` whitelist, and ``units`` resolves unit names
through pint without handing user text to pint's own expression parser.
"""
