"""Versioned artifacts in object storage (file:// and gs://), provenance records and lineage audits.

Modules: `backends` (file and GCS object access with GCS precondition semantics, retries), `store`
(named immutable versions, the latest pointer, manifests), `provenance` (content hashes and the record
every stage output carries), `lineage` (`o3v lineage`), `stages` (what the KFP components call), `cli`.
"""
