"""Reference apps the benchmark serves next to the generated projects.

They run in a baked project's venv (FastAPI, SQLAlchemy, asyncpg and pwdlib are there)
against a database migrated by that project, and read `BENCH_DATABASE_URL`.
"""
