"""What a manager reads: the shop's figures for a period, defined once for the dashboard, the
PDF reports and their spreadsheets alike (issue 13)."""
