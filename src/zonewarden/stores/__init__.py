"""Store adapters: memory (the reference model), SQLite (one machine), etcd (cluster)."""
