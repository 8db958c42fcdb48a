"""Herald: warehouse-native, cross-channel campaign orchestration.

``herald`` is the core library the analyst's app (``app/``) and the delivery side (``senders/``) both build on:
the raw landing zone, imports and exports, the demo and scale data generator, dbt builds and the published
read-only warehouse.
"""

__version__ = "0.1.0"
