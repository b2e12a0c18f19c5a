"""Log storage: ClickHouse client and migrations, durable spool and batch writer."""
