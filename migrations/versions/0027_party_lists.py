"""三张清单 and 微心愿: ``party_need`` (需求: a resident's need, from a visit or a request or
recorded directly, its household and exact point kept, never published), ``party_resource``
(资源: what a unit or member offers), ``party_match`` (服务项目: a need matched with a provider,
proposed by either side, confirmed by the community, done with a result; one live match per
need), ``small_wish`` (微心愿: recorded with consent, claimed by one member or unit, fulfilled
with proof, confirmed) and ``party_photo`` (photos of a project's result or a wish's proof).

Grants of the application's role: SELECT, INSERT and UPDATE on all of them.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-05 00:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

ENVELOPE = "ST_MakeEnvelope(73.0, 3.0, 136.0, 54.0, 4490)"
TABLES = ("party_need", "party_resource", "party_match", "small_wish", "party_photo")
SEQUENCES = (
    "party_need_id_seq",
    "party_resource_id_seq",
    "party_match_id_seq",
    "small_wish_id_seq",
)
DDL = (
    f"""
CREATE TABLE party_need (
    id BIGSERIAL NOT NULL,
    community_id INTEGER NOT NULL,
    kind VARCHAR(20) NOT NULL,
    title TEXT NOT NULL,
    detail TEXT DEFAULT '' NOT NULL,
    source VARCHAR(10) NOT NULL,
    household_id BIGINT,
    visit_id BIGINT,
    request_id BIGINT,
    place geometry(POINT,4490) NOT NULL,
    state VARCHAR(10) DEFAULT 'open' NOT NULL,
    recorded_by INTEGER NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    revision INTEGER DEFAULT 1 NOT NULL,
    CONSTRAINT pk_party_need PRIMARY KEY (id),
    CONSTRAINT ck_party_need_kind_known CHECK (kind IN ('care', 'repair', 'errand', 'companion', 'learning', 'health', 'other')),
    CONSTRAINT ck_party_need_source_known CHECK (source IN ('resident', 'visit', 'request')),
    CONSTRAINT ck_party_need_state_known CHECK (state IN ('open', 'matched', 'done', 'closed')),
    CONSTRAINT ck_party_need_title_length CHECK (char_length(title) BETWEEN 1 AND 60),
    CONSTRAINT ck_party_need_detail_length CHECK (char_length(detail) BETWEEN 0 AND 500),
    CONSTRAINT ck_party_need_place_in_china CHECK (ST_CoveredBy(place, {ENVELOPE})),
    CONSTRAINT ck_party_need_visit_source CHECK ((source = 'visit') = (visit_id IS NOT NULL)),
    CONSTRAINT ck_party_need_request_source CHECK ((source = 'request') = (request_id IS NOT NULL)),
    CONSTRAINT fk_party_need_community_id_grid FOREIGN KEY(community_id) REFERENCES grid (id),
    CONSTRAINT fk_party_need_household_id_household FOREIGN KEY(household_id) REFERENCES household (id),
    CONSTRAINT uq_party_need_visit_id UNIQUE (visit_id),
    CONSTRAINT fk_party_need_visit_id_household_visit FOREIGN KEY(visit_id) REFERENCES household_visit (id),
    CONSTRAINT uq_party_need_request_id UNIQUE (request_id),
    CONSTRAINT fk_party_need_request_id_resident_request FOREIGN KEY(request_id) REFERENCES resident_request (id),
    CONSTRAINT fk_party_need_recorded_by_app_user FOREIGN KEY(recorded_by) REFERENCES app_user (id)
)
""",
    """
CREATE INDEX ix_party_need_community_id_state ON party_need (community_id, state)
""",
    """
CREATE INDEX ix_party_need_household_id ON party_need (household_id)
""",
    f"""
CREATE TABLE party_resource (
    id BIGSERIAL NOT NULL,
    community_id INTEGER NOT NULL,
    kind VARCHAR(10) NOT NULL,
    title TEXT NOT NULL,
    detail TEXT DEFAULT '' NOT NULL,
    unit_id INTEGER,
    person_id INTEGER,
    place geometry(POINT,4490),
    available BOOLEAN DEFAULT true NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT pk_party_resource PRIMARY KEY (id),
    CONSTRAINT ck_party_resource_kind_known CHECK (kind IN ('room', 'skill', 'vehicle', 'money', 'time')),
    CONSTRAINT ck_party_resource_one_provider CHECK ((unit_id IS NULL) <> (person_id IS NULL)),
    CONSTRAINT ck_party_resource_title_length CHECK (char_length(title) BETWEEN 1 AND 60),
    CONSTRAINT ck_party_resource_detail_length CHECK (char_length(detail) BETWEEN 0 AND 500),
    CONSTRAINT ck_party_resource_place_in_china CHECK (place IS NULL OR ST_CoveredBy(place, {ENVELOPE})),
    CONSTRAINT fk_party_resource_community_id_grid FOREIGN KEY(community_id) REFERENCES grid (id),
    CONSTRAINT fk_party_resource_unit_id_party_unit FOREIGN KEY(unit_id) REFERENCES party_unit (id),
    CONSTRAINT fk_party_resource_person_id_person FOREIGN KEY(person_id) REFERENCES person (id)
)
""",
    """
CREATE INDEX ix_party_resource_community_id ON party_resource (community_id)
""",
    """
CREATE INDEX ix_party_resource_person_id ON party_resource (person_id)
""",
    """
CREATE INDEX ix_party_resource_unit_id ON party_resource (unit_id)
""",
    """
CREATE TABLE party_match (
    id BIGSERIAL NOT NULL,
    need_id BIGINT NOT NULL,
    resource_id BIGINT,
    unit_id INTEGER,
    person_id INTEGER,
    proposed_by VARCHAR(10) NOT NULL,
    proposed_at TIMESTAMP WITH TIME ZONE NOT NULL,
    state VARCHAR(10) DEFAULT 'proposed' NOT NULL,
    confirmed_by INTEGER,
    confirmed_at TIMESTAMP WITH TIME ZONE,
    completed_at TIMESTAMP WITH TIME ZONE,
    result TEXT,
    revision INTEGER DEFAULT 1 NOT NULL,
    CONSTRAINT pk_party_match PRIMARY KEY (id),
    CONSTRAINT ck_party_match_state_known CHECK (state IN ('proposed', 'confirmed', 'done', 'declined')),
    CONSTRAINT ck_party_match_proposer_known CHECK (proposed_by IN ('provider', 'community')),
    CONSTRAINT ck_party_match_one_provider CHECK ((unit_id IS NULL) <> (person_id IS NULL)),
    CONSTRAINT ck_party_match_result_length CHECK (result IS NULL OR char_length(result) <= 1000),
    CONSTRAINT ck_party_match_done_completed CHECK ((state = 'done') = (completed_at IS NOT NULL)),
    CONSTRAINT fk_party_match_need_id_party_need FOREIGN KEY(need_id) REFERENCES party_need (id),
    CONSTRAINT fk_party_match_resource_id_party_resource FOREIGN KEY(resource_id) REFERENCES party_resource (id),
    CONSTRAINT fk_party_match_unit_id_party_unit FOREIGN KEY(unit_id) REFERENCES party_unit (id),
    CONSTRAINT fk_party_match_person_id_person FOREIGN KEY(person_id) REFERENCES person (id),
    CONSTRAINT fk_party_match_confirmed_by_app_user FOREIGN KEY(confirmed_by) REFERENCES app_user (id)
)
""",
    """
CREATE INDEX ix_party_match_need_id ON party_match (need_id)
""",
    """
CREATE INDEX ix_party_match_person_id ON party_match (person_id)
""",
    """
CREATE INDEX ix_party_match_resource_id ON party_match (resource_id)
""",
    """
CREATE INDEX ix_party_match_unit_id ON party_match (unit_id)
""",
    """
CREATE UNIQUE INDEX uq_party_match_need_id_live ON party_match (need_id) WHERE state <> 'declined'
""",
    f"""
CREATE TABLE small_wish (
    id BIGSERIAL NOT NULL,
    community_id INTEGER NOT NULL,
    household_id BIGINT,
    title TEXT NOT NULL,
    detail TEXT DEFAULT '' NOT NULL,
    place geometry(POINT,4490) NOT NULL,
    consent_at TIMESTAMP WITH TIME ZONE NOT NULL,
    recorded_by INTEGER NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    state VARCHAR(10) DEFAULT 'open' NOT NULL,
    unit_id INTEGER,
    person_id INTEGER,
    claimed_at TIMESTAMP WITH TIME ZONE,
    fulfilled_at TIMESTAMP WITH TIME ZONE,
    fulfilment TEXT,
    confirmed_at TIMESTAMP WITH TIME ZONE,
    confirmed_by INTEGER,
    confirmed_how VARCHAR(10),
    revision INTEGER DEFAULT 1 NOT NULL,
    CONSTRAINT pk_small_wish PRIMARY KEY (id),
    CONSTRAINT ck_small_wish_state_known CHECK (state IN ('open', 'claimed', 'fulfilled', 'confirmed', 'withdrawn')),
    CONSTRAINT ck_small_wish_confirmer_known CHECK (confirmed_how IS NULL OR confirmed_how IN ('resident', 'worker')),
    CONSTRAINT ck_small_wish_title_length CHECK (char_length(title) BETWEEN 1 AND 60),
    CONSTRAINT ck_small_wish_detail_length CHECK (char_length(detail) BETWEEN 0 AND 300),
    CONSTRAINT ck_small_wish_place_in_china CHECK (ST_CoveredBy(place, {ENVELOPE})),
    CONSTRAINT ck_small_wish_claimed_has_claimant CHECK ((state IN ('open', 'withdrawn')) = (unit_id IS NULL AND person_id IS NULL)),
    CONSTRAINT ck_small_wish_one_claimant CHECK (unit_id IS NULL OR person_id IS NULL),
    CONSTRAINT fk_small_wish_community_id_grid FOREIGN KEY(community_id) REFERENCES grid (id),
    CONSTRAINT fk_small_wish_household_id_household FOREIGN KEY(household_id) REFERENCES household (id),
    CONSTRAINT fk_small_wish_recorded_by_app_user FOREIGN KEY(recorded_by) REFERENCES app_user (id),
    CONSTRAINT fk_small_wish_unit_id_party_unit FOREIGN KEY(unit_id) REFERENCES party_unit (id),
    CONSTRAINT fk_small_wish_person_id_person FOREIGN KEY(person_id) REFERENCES person (id),
    CONSTRAINT fk_small_wish_confirmed_by_app_user FOREIGN KEY(confirmed_by) REFERENCES app_user (id)
)
""",
    """
CREATE INDEX ix_small_wish_community_id_state ON small_wish (community_id, state)
""",
    """
CREATE INDEX ix_small_wish_household_id ON small_wish (household_id)
""",
    """
CREATE INDEX ix_small_wish_person_id ON small_wish (person_id)
""",
    """
CREATE INDEX ix_small_wish_unit_id ON small_wish (unit_id)
""",
    """
CREATE TABLE party_photo (
    file_id VARCHAR(40) NOT NULL,
    match_id BIGINT,
    wish_id BIGINT,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    CONSTRAINT pk_party_photo PRIMARY KEY (file_id),
    CONSTRAINT ck_party_photo_one_owner CHECK ((match_id IS NULL) <> (wish_id IS NULL)),
    CONSTRAINT fk_party_photo_file_id_stored_file FOREIGN KEY(file_id) REFERENCES stored_file (id),
    CONSTRAINT fk_party_photo_match_id_party_match FOREIGN KEY(match_id) REFERENCES party_match (id),
    CONSTRAINT fk_party_photo_wish_id_small_wish FOREIGN KEY(wish_id) REFERENCES small_wish (id)
)
""",
    """
CREATE INDEX ix_party_photo_match_id ON party_photo (match_id)
""",
    """
CREATE INDEX ix_party_photo_wish_id ON party_photo (wish_id)
""",
)
GRANTS_SQL = "\n".join(
    [
        *(f"GRANT SELECT, INSERT, UPDATE ON {t} TO gridmap_app;" for t in TABLES),
        *(f"GRANT USAGE ON SEQUENCE {s} TO gridmap_app;" for s in SEQUENCES),
    ]
)


def upgrade() -> None:
    for statement in DDL:
        op.execute(statement)
    op.execute(GRANTS_SQL)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
