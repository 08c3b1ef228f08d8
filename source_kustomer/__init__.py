"""Airbyte source connector for Kustomer."""

from source_kustomer.source import SourceKustomer

__all__ = ["SourceKustomer"]
