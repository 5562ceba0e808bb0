"""What the WhatsApp and WeChat channels share: durable inbox and outbox, per-customer ordering,
retries with backoff, message splitting, numbered options and the rate limit."""
