"""What a manager reads: the shop's figures for a period, defined once for the dashboard, the
PDF reports and their spreadsheets alike (issue 13).

period.py (the days a figure covers), filters.py (whose figures), key.py (the key figures and
their definitions), breakdowns.py (by lifecycle stage, tier, pipeline stage and person),
sql.py (what their SQL shares).
"""
