"""Repositories: typed records over the ``ObjectStore`` port.

Each repository owns one kind of object of the store (its keys, from
``ragops.domain.keys``, and its JSON codec), so services read and write records, never
keys and bytes. They sit between services and the domain: they import the domain, the
ports and the errors, never services, adapters, settings or entrypoints. Tests run them
over ``tests.fakes.MemoryObjectStore``; the object store's own behaviour suite
(``tests/unit/test_object_stores.py``) holds that fake to the same contract as the local
folder and S3.
"""
