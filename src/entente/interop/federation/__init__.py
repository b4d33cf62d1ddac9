"""Federation between Entente hubs: a regional hub and the global hub sync events both ways.

Events travel as Entente's own MISP JSON (`interop.misp`: UUIDs, timestamps, TLP,
distribution and sharing groups kept) with a `Federation` envelope beside each `Event`
(origin hub, the chain of hubs it passed through, the original owner organisation). Rooms:
`models` (peers, the hub's identity, federated events, remote organisations), `schemas`,
`identity` (this hub's stable id), `agreement` (the rules: max TLP, filter, loop prevention),
`outgoing` (what leaves for a peer), `incoming` (what is accepted from one), `remote` (HTTP
to a peer), `service` (peers), `sync` (pull and push), `api`, `cli`. docs/federation.md.
"""
