"""The tutorial's crud module: one function per query, on the ORM session it is given."""

import uuid

from sqlalchemy.orm import Session

from bench.apps.flat import models, schemas


def get_student(db: Session, student_id: uuid.UUID) -> models.Student | None:
    return db.query(models.Student).filter(models.Student.id == student_id).first()


def get_student_by_email(db: Session, email: str) -> models.Student | None:
    return db.query(models.Student).filter(models.Student.email == email).first()


def get_students(db: Session, skip: int = 0, limit: int = 100) -> list[models.Student]:
    # The tutorial's query plus an ORDER BY, so that pages are stable and hold the same rows as
    # the other apps' pages (creation order, which the UUIDv7 primary key follows).
    return db.query(models.Student).order_by(models.Student.id).offset(skip).limit(limit).all()


def create_student(db: Session, student: schemas.StudentCreate) -> models.Student:
    db_student = models.Student(
        name=student.name,
        name_folded=student.name.casefold(),
        email=student.email.lower(),
        department=student.department.upper(),
        cgpa=student.cgpa,
    )
    db.add(db_student)
    db.commit()
    db.refresh(db_student)
    return db_student


def update_student(db: Session, db_student: models.Student, student: schemas.StudentUpdate) -> models.Student:
    # The tutorial's update: copy the fields the client sent onto the row, commit, refresh.
    for field, value in student.model_dump(exclude_unset=True).items():
        setattr(db_student, field, value)
    db_student.version += 1
    db_student.updated_at = models.now()
    db.commit()
    db.refresh(db_student)
    return db_student
