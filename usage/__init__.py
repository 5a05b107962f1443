"""
The ledger every API call writes, whatever its kind: prices, usage records
and day totals, quotas and top-ups, the send rate; the user's Usage page and
the admin's dashboard. ``usage.metering`` is the one seam every feature goes
through: ``admit`` before a call, ``record`` after it. This app knows no feature.
"""
