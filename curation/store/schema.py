"""The database schema as an ordered list of migrations.

A migration is applied once, in order, inside one transaction with the row that records it,
so a project opened by a newer version is brought up to date and never half-migrated.
Ids are assigned by the store (max + 1 under its write lock) rather than by sequences, so that
a killed and repeated ingest leaves exactly the ids an uninterrupted one leaves.
"""

from __future__ import annotations

from ..project import ProjectError

# A step is SQL, or "python:NAME" for a function NAME(cur, now) in store/renames.py.
MIGRATIONS: list[tuple[str, str]] = [
    (
        "initial schema",
        """
        CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
        CREATE TABLE images (
            id BIGINT PRIMARY KEY,
            sha256 VARCHAR NOT NULL UNIQUE,
            status VARCHAR NOT NULL,
            reason VARCHAR,
            detail VARCHAR,
            format VARCHAR,
            ext VARCHAR,
            width INTEGER,
            height INTEGER,
            mode VARCHAR,
            frames INTEGER,
            normalised VARCHAR,
            phash UBIGINT,
            near_group BIGINT,
            label VARCHAR,
            bytes BIGINT,
            added_at TIMESTAMP NOT NULL
        );
        CREATE TABLE sources (
            source VARCHAR PRIMARY KEY,
            image_id BIGINT NOT NULL,
            label_hint VARCHAR,
            provider VARCHAR,
            query VARCHAR,
            rank INTEGER,
            url VARCHAR,
            page_url VARCHAR,
            title VARCHAR,
            creator VARCHAR,
            license VARCHAR,
            attribution VARCHAR,
            added_at TIMESTAMP NOT NULL
        );
        CREATE INDEX sources_image ON sources (image_id);
        CREATE TABLE labels (name VARCHAR PRIMARY KEY, created_at TIMESTAMP NOT NULL);
        CREATE TABLE flags (
            id BIGINT PRIMARY KEY,
            image_id BIGINT NOT NULL,
            kind VARCHAR NOT NULL,
            note VARCHAR,
            active BOOLEAN NOT NULL,
            created_by VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL
        );
        CREATE TABLE events (
            id BIGINT PRIMARY KEY,
            happened_at TIMESTAMP NOT NULL,
            actor VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            image_id BIGINT,
            before JSON,
            after JSON,
            batch VARCHAR NOT NULL,
            undoes BIGINT
        );
        CREATE TABLE jobs (
            id BIGINT PRIMARY KEY,
            kind VARCHAR NOT NULL,
            params JSON,
            status VARCHAR NOT NULL,
            done BIGINT NOT NULL DEFAULT 0,
            total BIGINT,
            message VARCHAR,
            error VARCHAR,
            created_by VARCHAR,
            pid INTEGER,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP
        );
        """,
    ),
    (
        "training runs",
        """
        CREATE TABLE dataset_versions (
            id VARCHAR PRIMARY KEY,
            created_at TIMESTAMP NOT NULL,
            images INTEGER NOT NULL,
            labels JSON NOT NULL,
            left_out JSON NOT NULL,
            path VARCHAR NOT NULL
        );
        CREATE TABLE runs (
            id BIGINT PRIMARY KEY,
            arch VARCHAR NOT NULL,
            dataset_version VARCHAR NOT NULL,
            params JSON NOT NULL,
            status VARCHAR NOT NULL,
            job_id BIGINT,
            device VARCHAR,
            weights VARCHAR,
            metrics JSON,
            model_path VARCHAR,
            torchscript_path VARCHAR,
            error VARCHAR,
            created_by VARCHAR,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP
        );
        CREATE TABLE run_epochs (
            run_id BIGINT NOT NULL,
            epoch INTEGER NOT NULL,
            train_loss DOUBLE,
            train_accuracy DOUBLE,
            val_loss DOUBLE,
            val_accuracy DOUBLE,
            seconds DOUBLE,
            PRIMARY KEY (run_id, epoch)
        );
        CREATE TABLE predictions (
            run_id BIGINT NOT NULL,
            image_id BIGINT NOT NULL,
            label VARCHAR NOT NULL,
            predicted VARCHAR NOT NULL,
            confidence DOUBLE NOT NULL,
            loss DOUBLE NOT NULL,
            split VARCHAR NOT NULL
        );
        """,
    ),
    (
        "gather: search hits and downloads",
        """
        ALTER TABLE sources ADD COLUMN listed_width INTEGER;
        ALTER TABLE sources ADD COLUMN listed_height INTEGER;
        ALTER TABLE sources ADD COLUMN listed_bytes BIGINT;
        CREATE TABLE gather_queries (
            job_id BIGINT NOT NULL,
            position INTEGER NOT NULL,
            provider VARCHAR NOT NULL,
            query VARCHAR NOT NULL,
            label VARCHAR NOT NULL,
            wanted INTEGER NOT NULL,
            found INTEGER,
            error VARCHAR,
            PRIMARY KEY (job_id, position)
        );
        CREATE TABLE downloads (
            id BIGINT PRIMARY KEY,
            job_id BIGINT NOT NULL,
            provider VARCHAR NOT NULL,
            query VARCHAR NOT NULL,
            label VARCHAR NOT NULL,
            rank INTEGER NOT NULL,
            url VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            reason VARCHAR,
            detail VARCHAR,
            image_id BIGINT,
            bytes BIGINT,
            attempts INTEGER NOT NULL,
            seconds DOUBLE,
            finished_at TIMESTAMP NOT NULL
        );
        CREATE INDEX downloads_url ON downloads (url);
        CREATE INDEX downloads_job ON downloads (job_id);
        """,
    ),
    (
        "faces and embeddings",
        """
        CREATE TABLE face_scans (
            image_id BIGINT PRIMARY KEY,
            faces INTEGER,
            error VARCHAR,
            detector VARCHAR NOT NULL,
            scanned_at TIMESTAMP NOT NULL
        );
        CREATE TABLE faces (
            id BIGINT PRIMARY KEY,
            image_id BIGINT NOT NULL,
            face INTEGER NOT NULL,
            x1 FLOAT NOT NULL,
            y1 FLOAT NOT NULL,
            x2 FLOAT NOT NULL,
            y2 FLOAT NOT NULL,
            prob FLOAT NOT NULL,
            landmarks FLOAT[10] NOT NULL,
            chip_landmarks FLOAT[10] NOT NULL,
            chip VARCHAR NOT NULL,
            UNIQUE (image_id, face)
        );
        CREATE TABLE face_embeddings (
            face_id BIGINT NOT NULL,
            model VARCHAR NOT NULL,
            vector FLOAT[] NOT NULL,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (face_id, model)
        );
        CREATE TABLE image_embeddings (
            image_id BIGINT NOT NULL,
            model VARCHAR NOT NULL,
            vector FLOAT[] NOT NULL,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (image_id, model)
        );
        """,
    ),
    (
        "cleaning and attributes",
        """
        CREATE TABLE clean_runs (
            id BIGINT PRIMARY KEY,
            job_id BIGINT,
            model VARCHAR NOT NULL,
            subject VARCHAR NOT NULL,
            labels VARCHAR[],
            same_person DOUBLE NOT NULL,
            same_person_source VARCHAR NOT NULL,
            summary JSON,
            created_by VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL
        );
        CREATE TABLE suggestions (
            id BIGINT PRIMARY KEY,
            run_id BIGINT NOT NULL,
            image_id BIGINT,
            face_id BIGINT,
            label VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            target_label VARCHAR,
            score DOUBLE NOT NULL,
            match DOUBLE,
            status VARCHAR NOT NULL,
            decided_by VARCHAR,
            decided_at TIMESTAMP
        );
        CREATE INDEX suggestions_run ON suggestions (run_id);
        CREATE INDEX suggestions_label ON suggestions (label);
        CREATE TABLE attributes (
            name VARCHAR PRIMARY KEY,
            allowed VARCHAR[] NOT NULL,
            created_at TIMESTAMP NOT NULL
        );
        CREATE TABLE image_attributes (
            image_id BIGINT NOT NULL,
            name VARCHAR NOT NULL,
            value VARCHAR,
            PRIMARY KEY (image_id, name)
        );
        """,
    ),
    (
        "accounts",
        """
        CREATE TABLE users (
            name VARCHAR PRIMARY KEY,
            role VARCHAR NOT NULL,
            password_hash VARCHAR NOT NULL,
            active BOOLEAN NOT NULL,
            created_by VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL
        );
        CREATE TABLE sessions (
            token_digest VARCHAR PRIMARY KEY,
            user_name VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            expires_at TIMESTAMP NOT NULL,
            revoked BOOLEAN NOT NULL
        );
        CREATE TABLE sign_ins (
            id BIGINT PRIMARY KEY,
            user_name VARCHAR NOT NULL,
            ok BOOLEAN NOT NULL,
            reason VARCHAR,
            happened_at TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        "api tokens",
        """
        CREATE TABLE api_tokens (
            token_digest VARCHAR PRIMARY KEY,
            id BIGINT NOT NULL UNIQUE,
            user_name VARCHAR NOT NULL,
            note VARCHAR,
            created_by VARCHAR,
            created_at TIMESTAMP NOT NULL,
            revoked_at TIMESTAMP
        );
        """,
    ),
    ("rename labels that break the name rule", "python:rename_unusable_labels"),
    ("sign-ins: the client address", "ALTER TABLE sign_ins ADD COLUMN client VARCHAR;"),
    (
        "identity candidates: the readings of an ambiguous identity, one row per face and reading",
        """
        CREATE TABLE identity_candidates (
            run_id BIGINT NOT NULL,
            label VARCHAR NOT NULL,
            candidate INTEGER NOT NULL,
            suggestion_id BIGINT NOT NULL,
            member BOOLEAN NOT NULL,
            action VARCHAR NOT NULL,
            target_label VARCHAR,
            score DOUBLE NOT NULL,
            match DOUBLE,
            status VARCHAR NOT NULL,
            PRIMARY KEY (suggestion_id, candidate)
        );
        CREATE INDEX identity_candidates_label ON identity_candidates (run_id, label);
        """,
    ),
    (
        "annotator agreement: blind labels on overlap images, gold labels, adjudications",
        """
        CREATE TABLE blind_labels (
            image_id BIGINT NOT NULL,
            annotator VARCHAR NOT NULL,
            label VARCHAR,
            labelled_at TIMESTAMP NOT NULL,
            PRIMARY KEY (image_id, annotator)
        );
        CREATE TABLE gold_labels (
            image_id BIGINT PRIMARY KEY,
            label VARCHAR,
            marked_by VARCHAR NOT NULL,
            marked_at TIMESTAMP NOT NULL
        );
        CREATE TABLE adjudications (
            id BIGINT PRIMARY KEY,
            image_id BIGINT NOT NULL,
            label VARCHAR NOT NULL,
            decided_by VARCHAR NOT NULL,
            decided_at TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        "quality scores",
        """
        CREATE TABLE quality_scores (
            image_id BIGINT NOT NULL,
            "check" VARCHAR NOT NULL,
            score DOUBLE NOT NULL,
            suspect BOOLEAN NOT NULL,
            threshold DOUBLE NOT NULL,
            model VARCHAR,
            job_id BIGINT,
            scored_at TIMESTAMP NOT NULL,
            PRIMARY KEY (image_id, "check")
        );
        """,
    ),
    (
        "discovered identities",
        """
        CREATE TABLE discover_runs (
            id BIGINT PRIMARY KEY,
            job_id BIGINT,
            model VARCHAR NOT NULL,
            cut DOUBLE NOT NULL,
            faces INTEGER NOT NULL,
            groups INTEGER NOT NULL,
            created_by VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL
        );
        CREATE TABLE discovered (
            run_id BIGINT NOT NULL,
            face_id BIGINT NOT NULL,
            image_id BIGINT NOT NULL,
            grp INTEGER NOT NULL,
            distance DOUBLE NOT NULL,
            PRIMARY KEY (run_id, face_id)
        );
        """,
    ),
    (
        "attribute proposals",
        """
        CREATE TABLE attribute_proposals (
            image_id BIGINT NOT NULL,
            name VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            confidence DOUBLE NOT NULL,
            model VARCHAR NOT NULL,
            job_id BIGINT,
            proposed_at TIMESTAMP NOT NULL,
            PRIMARY KEY (image_id, name)
        );
        """,
    ),
    (
        "deploy: bundles, production feedback and traffic",
        """
        CREATE TABLE bundles (
            id BIGINT PRIMARY KEY,
            run_id BIGINT NOT NULL,
            path VARCHAR NOT NULL,
            card JSON NOT NULL,
            created_by VARCHAR,
            created_at TIMESTAMP NOT NULL
        );
        CREATE TABLE production_feedback (
            sha256 VARCHAR PRIMARY KEY,
            image_id BIGINT,
            run_id BIGINT,
            bundle VARCHAR,
            predicted VARCHAR,
            confidence DOUBLE,
            ood BOOLEAN NOT NULL,
            ood_score DOUBLE,
            logged_at TIMESTAMP NOT NULL,
            ingested_at TIMESTAMP NOT NULL
        );
        CREATE TABLE production_traffic (
            bundle VARCHAR NOT NULL,
            hour TIMESTAMP NOT NULL,
            run_id BIGINT,
            requests BIGINT NOT NULL,
            ood BIGINT NOT NULL,
            low_confidence BIGINT NOT NULL,
            PRIMARY KEY (bundle, hour)
        );
        """,
    ),
]

SCHEMA_VERSION = len(MIGRATIONS)


def current_version(cur) -> int:
    exists = cur.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
    ).fetchall()[0][0]
    if not exists:
        return 0
    return cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchall()[0][0]


def run_migration(cur, step: str, now) -> None:
    """A migration's SQL, or (`python:NAME`) a function of `store.renames` for what SQL cannot say."""
    if step.startswith("python:"):
        from . import renames

        getattr(renames, step.removeprefix("python:"))(cur, now)
    else:
        cur.execute(step)


def migrate(cur, now) -> int:
    """Apply the migrations this database lacks; return the schema version it ends at."""
    cur.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    version = current_version(cur)
    if version > SCHEMA_VERSION:
        raise ProjectError(
            f"This project was written by a newer Curation Studio (schema {version}, "
            f"this one knows {SCHEMA_VERSION}): upgrade before opening it."
        )
    for number, (name, sql) in enumerate(MIGRATIONS[version:], start=version + 1):
        cur.begin()
        try:
            run_migration(cur, sql, now)
            cur.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [number, name, now])
            cur.commit()
        except BaseException:
            cur.rollback()
            raise
    return SCHEMA_VERSION
