"""Herald's delivery side: sender jobs that read the frozen send lists dbt materializes.

Nothing here yet reads anything but the published warehouse (``herald.warehouse``); the senders, their
ledger and providers arrive with the campaigns and delivery capabilities.
"""
