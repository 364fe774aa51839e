"""Deterministic sample Shopify store for AEP Local (Parquet-backed, grows over emulated time)."""
from .gen import (
                  COUNTRY_LOWERCASE_SHARE,
                  EMAIL_MALFORMED_SHARE,
                  EMAIL_NULL_SHARE,
                  PHONE_NULL_SHARE,
                  PHONE_ODD_SHARE,
)
from .store import (
                  DEFAULT_ORDERS,
                  DEFAULT_SEED,
                  DEFAULT_START,
                  TABLES,
                  ShopStore,
                  StoreNotGenerated,
                  default_store,
                  store_command,
)

__all__ = [
                  "COUNTRY_LOWERCASE_SHARE",
                  "DEFAULT_ORDERS",
                  "DEFAULT_SEED",
                  "DEFAULT_START",
                  "EMAIL_MALFORMED_SHARE",
                  "EMAIL_NULL_SHARE",
                  "PHONE_NULL_SHARE",
                  "PHONE_ODD_SHARE",
                  "TABLES",
                  "ShopStore",
                  "StoreNotGenerated",
                  "default_store",
                  "store_command",
]
