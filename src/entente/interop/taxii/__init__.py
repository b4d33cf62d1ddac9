"""TAXII 2.1 server at `/taxii2/`: collections as filtered, access-checked views of the
sharing space (docs/taxii.md; OASIS TAXII 2.1, https://docs.oasis-open.org/cti/taxii/v2.1/).

    media.py        media types, content negotiation, the TAXII error body and route class
    auth.py         Bearer API tokens and HTTP Basic with a token as the password
    models.py       collections, their per-organisation permissions, inboxes, status resources
    schemas.py      admin API shapes (create, update, public)
    collections.py  collection service: CRUD, who may read or write, the collection's scope
    objects.py      reading objects a page at a time (keyset on date_added), filters
    envelopes.py    writing an envelope through the STIX import, the status resource
    removal.py      deleting an object where the caller's organisation owns it
    api.py          the TAXII routes and the admin routes
    cli.py          `entente taxii collection add/list/remove`
"""
