"""Reference: FastAPI answering every request with one constant JSON object (no I/O)."""

from typing import Any

from fastapi import FastAPI, status

app = FastAPI()

USER = {
    "id": 1,
    "username": "constant",
    "email": "constant@example.com",
    "full_name": None,
    "bio": None,
    "is_active": True,
    "is_verified": False,
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-01T00:00:00Z",
}


@app.get("/{path:path}")
async def read(path: str) -> dict[str, Any]:
    return USER


@app.post("/{path:path}", status_code=status.HTTP_201_CREATED)
async def write(path: str) -> dict[str, Any]:
    return USER
