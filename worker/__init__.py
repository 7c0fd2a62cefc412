"""Runtime plumbing shared by every process: settings, broker, middleware, outbox."""
