"""A tiny shared key-value store with expiry, for state all instances must share (WeChat's
access_token). Backed by the product database by default, Redis when ``SMO_REDIS_URL`` is set.
Implements wechatpy's ``SessionStorage`` interface (get / set / delete)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from sqlalchemy import Column, Float, String, Text, delete, select

from bot.db import Base, engine, session


class KeyValue(Base):
    """One shared value and when it expires (epoch seconds, 0 = never)."""

    __tablename__ = "shared_kv"
    key = Column(String(200), primary_key=True)
    value = Column(Text, nullable=False)
    expires_at = Column(Float, nullable=False, default=0)


class DatabaseStorage:
    """wechatpy session storage in the product database (shared by every process using it)."""

    def __init__(self, prefix: str = "wechatpy") -> None:
        self.prefix = prefix
        Base.metadata.create_all(engine())

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def get(self, key: str, default: Any = None) -> Any:
        with session() as db:
            row = db.get(KeyValue, self._key(key))
            if row is None or (row.expires_at and row.expires_at < time.time()):
                return default
            return json.loads(row.value)

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        if value is None:
            return
        with session() as db:
            row = db.get(KeyValue, self._key(key))
            expires = time.time() + ttl if ttl else 0
            if row is None:
                db.add(KeyValue(key=self._key(key), value=json.dumps(value), expires_at=expires))
            else:
                row.value, row.expires_at = json.dumps(value), expires

    def delete(self, key: str) -> None:
        with session() as db:
            db.execute(delete(KeyValue).where(KeyValue.key == self._key(key)))

    def keys(self) -> list[str]:
        """All keys (for tests and operations)."""
        with session() as db:
            return list(db.execute(select(KeyValue.key)).scalars())

    __getitem__ = get
    __setitem__ = set
    __delitem__ = delete


def shared_storage(prefix: str = "wechatpy") -> Any:
    """Redis when ``SMO_REDIS_URL`` is set (scale-out), else the product database."""
    url = os.environ.get("SMO_REDIS_URL")
    if url:
        import redis
        from wechatpy.session.redisstorage import RedisStorage

        return RedisStorage(redis.Redis.from_url(url), prefix=prefix)
    return DatabaseStorage(prefix)
