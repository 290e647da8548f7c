"""make report: every concurrency model of `duct serve` measured with `duct bench`, written
as a self-contained HTML page, a Markdown summary and the raw JSON. See bench/report.py."""
