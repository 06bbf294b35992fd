"""Use cases. Each takes ports as arguments; none knows about HTTP, events or boto3."""
