"""The 差评 ledger: an entry for every rating of level 1 or 2, its deadline and workflow
(`entries`), and appeals against malicious 差评 (`appeals`)."""
