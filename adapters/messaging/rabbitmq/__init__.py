"""RabbitMQ delivery through pika: topology, confirming publisher, consumer, dead letters."""
