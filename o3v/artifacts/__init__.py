"""Versioned artifacts in object storage (file:// and gs://) and lineage audits."""
