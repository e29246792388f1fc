"""Event delivery: in-process, RabbitMQ through pika, and the outbox relay."""
