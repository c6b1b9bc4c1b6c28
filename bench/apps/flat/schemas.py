"""The tutorial's schemas module: Pydantic models with from_attributes for the ORM rows."""

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class StudentBase(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    email: str = Field(max_length=254)
    department: str = Field(min_length=2, max_length=10)


class StudentCreate(StudentBase):
    cgpa: Decimal = Field(ge=0, le=10, decimal_places=2)


class StudentUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=100)
    email: str | None = Field(None, max_length=254)
    department: str | None = Field(None, min_length=2, max_length=10)
    cgpa: Decimal | None = Field(None, ge=0, le=10, decimal_places=2)


class Student(StudentBase):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    cgpa: float
    created_at: datetime
    updated_at: datetime
    version: int


class StudentPage(BaseModel):
    items: list[Student]
    # The service's page shape; here it carries the next ``skip`` rather than a keyset cursor.
    next_cursor: str | None = None
