"""What the workers of one installation share through Redis (`FIELDSTATION_REDIS_URL`): rate limits
(`ratelimit`), the event bus (`events`) and the change signals of the caches (`signals`). Each implements
an interface of the core, which knows nothing of Redis."""
