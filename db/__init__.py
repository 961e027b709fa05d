"""Database layer: SQLAlchemy 2 async models, migrations and repositories."""
