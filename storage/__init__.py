"""Storage: SQLModel tables and the queries the rituals need."""
