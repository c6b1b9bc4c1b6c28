"""The tutorial's main module: the routes, each with a session per request through Depends."""

import uuid
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy.orm import Session

from bench.apps.flat import crud, models, schemas
from bench.apps.flat.database import SessionLocal

# The tutorial calls models.Base.metadata.create_all() here; the benchmark's database is created by
# the service's own migrations instead.
app = FastAPI()


def get_db() -> Iterator[Session]:
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


SessionDep = Annotated[Session, Depends(get_db)]


@app.post("/students", response_model=schemas.Student, status_code=201)
def create_student(student: schemas.StudentCreate, db: SessionDep) -> models.Student:
    db_student = crud.get_student_by_email(db, email=student.email.lower())
    if db_student:
        raise HTTPException(status_code=400, detail="Email already registered")
    return crud.create_student(db=db, student=student)


@app.get("/students", response_model=schemas.StudentPage)
def read_students(db: SessionDep, skip: int = 0, limit: int = 100) -> dict[str, Any]:
    students = crud.get_students(db, skip=skip, limit=limit)
    next_skip = str(skip + limit) if len(students) == limit else None
    return {"items": students, "next_cursor": next_skip}


@app.get("/students/{student_id}", response_model=schemas.Student)
def read_student(student_id: uuid.UUID, db: SessionDep) -> models.Student:
    db_student = crud.get_student(db, student_id=student_id)
    if db_student is None:
        raise HTTPException(status_code=404, detail="Student not found")
    return db_student


@app.patch("/students/{student_id}", response_model=schemas.Student)
def update_student(student_id: uuid.UUID, student: schemas.StudentUpdate, db: SessionDep) -> models.Student:
    db_student = crud.get_student(db, student_id=student_id)
    if db_student is None:
        raise HTTPException(status_code=404, detail="Student not found")
    return crud.update_student(db, db_student=db_student, student=student)
