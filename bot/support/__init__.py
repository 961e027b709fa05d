"""Talk to a person (issue 12): a citizen's free message reaches the centre's staff chat as
a card, staff answer by replying to it, the answer goes back through the outbox.

By concern: ``scope`` (which staff chat serves a centre, which staff may see it: the one
seam the centre boundary plugs into), ``names`` (search folding of names and phones),
``cards`` (what staff see), ``delivery`` (answers through the outbox and their outcomes;
the runner registers it), ``service`` (a citizen's message in), ``digest``.
"""
