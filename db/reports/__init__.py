"""Generated report files (kept 7 days), subscriptions to scheduled reports and their
deliveries: the tables and the rules beside them. The reports themselves are reports/'s."""
