-- Core schema for ttpstore on MySQL and MariaDB.
--
-- Every text column is utf8mb4 with a binary, no-pad collation so that ids
-- compare byte for byte, exactly as SQLite compares them ('x' and 'x ' are
-- different ids on both backends). VARCHAR limits count characters, like
-- SQLite's length(), and match the CHECKs in migrations/sqlite.
-- created_at is DATETIME(6): microseconds, no time zone; the library always
-- writes and reads it as UTC. confidence is DOUBLE, never FLOAT, so 0.85
-- reads back as 0.85.

-- +goose Up
CREATE TABLE campaigns (
    uuid VARCHAR(64) NOT NULL PRIMARY KEY CHECK (uuid <> '')
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 /*M! COLLATE = utf8mb4_nopad_bin */;

CREATE TABLE attacker_identities (
    uuid        VARCHAR(64) NOT NULL PRIMARY KEY CHECK (uuid <> ''),
    campaign_id VARCHAR(64) NULL,
    -- Serves: campaign rollups (identities of a campaign).
    INDEX attacker_identities_campaign (campaign_id),
    CONSTRAINT attacker_identities_campaign_fk FOREIGN KEY (campaign_id)
        REFERENCES campaigns (uuid) ON DELETE SET NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 /*M! COLLATE = utf8mb4_nopad_bin */;

CREATE TABLE attackers (
    uuid        VARCHAR(64) NOT NULL PRIMARY KEY CHECK (uuid <> ''),
    ip          VARCHAR(64) NOT NULL,
    identity_id VARCHAR(64) NULL,
    -- Serves: identity and campaign rollups (attackers of an identity).
    INDEX attackers_identity (identity_id),
    CONSTRAINT attackers_identity_fk FOREIGN KEY (identity_id)
        REFERENCES attacker_identities (uuid) ON DELETE SET NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 /*M! COLLATE = utf8mb4_nopad_bin */;

-- InnoDB stores rows in primary key order and copies the primary key into
-- every secondary index entry. A random uuid as that key would put each
-- insert on a random page of the whole table (page splits, and buffer pool
-- misses once the table outgrows memory) and widen every index by up to 64
-- characters; seq appends rows in arrival order with an 8-byte key, as
-- SQLite's rowid does. No query reads seq: tags are still identified, and
-- replays still skipped, by the uuid unique key.
CREATE TABLE ttp_tag (
    seq              BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uuid             VARCHAR(64)  NOT NULL CHECK (uuid <> ''),
    source_kind      VARCHAR(64)  NOT NULL CHECK (source_kind <> ''),
    source_id        VARCHAR(512) NOT NULL,
    attacker_uuid    VARCHAR(64)  NULL,
    identity_uuid    VARCHAR(64)  NULL,
    session_id       VARCHAR(128) NULL,
    decky_id         VARCHAR(128) NULL,
    tactic           VARCHAR(16)  NOT NULL,
    technique_id     VARCHAR(16)  NOT NULL,
    sub_technique_id VARCHAR(16)  NULL,
    confidence       DOUBLE       NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    rule_id          VARCHAR(64)  NOT NULL CHECK (rule_id <> ''),
    rule_version     INT          NOT NULL CHECK (rule_version >= 0),
    evidence         LONGTEXT     NOT NULL CHECK (JSON_VALID(evidence) AND JSON_TYPE(evidence) = 'OBJECT'),
    attack_release   VARCHAR(32)  NOT NULL,
    mitre_url        VARCHAR(512) NOT NULL,
    created_at       DATETIME(6)  NOT NULL,
    CONSTRAINT ttp_tag_anchor CHECK (attacker_uuid IS NOT NULL OR identity_uuid IS NOT NULL),
    -- Serves: GetTagByUUID and TagExists, and it is what makes a replayed
    -- id a duplicate for InsertTag's ON DUPLICATE KEY UPDATE. The only
    -- unique keys are this one and seq, which the insert never sets, so a
    -- duplicate can only ever be a replayed uuid.
    UNIQUE KEY ttp_tag_uuid (uuid),
    -- Serves: ListTechniquesByIdentity, ListDeckyPhasesByIdentity,
    -- ListIdentityTechniqueTagsPage and NavigatorByIdentity (tags anchored on
    -- the identity), and the identity half of the campaign queries.
    -- The columns after created_at make the index covering for the
    -- identity and campaign rollups (seq rides along in every InnoDB
    -- index): they then read index pages only, never the rows, whose
    -- pages are spread over the whole table and miss the buffer pool once
    -- it is larger than memory.
    INDEX ttp_tag_identity (identity_uuid, created_at, technique_id, sub_technique_id, tactic, confidence),
    -- Serves: ListTechniquesByAttacker, the attacker half of the identity
    -- and campaign scopes, and the attacker's newest-first tag pages.
    -- Covering for the same rollups as ttp_tag_identity; identity_uuid is
    -- there for their "not already counted" filter.
    INDEX ttp_tag_attacker (attacker_uuid, created_at, technique_id, sub_technique_id, tactic, confidence, identity_uuid),
    -- Serves: ListTechniquesBySession, ListSessionTechniqueTagsPage and
    -- NavigatorBySession.
    INDEX ttp_tag_session (session_id, created_at),
    -- Serves: the delete trigger's recomputation of a technique's
    -- last_seen, and fleet-wide drill-down by technique.
    INDEX ttp_tag_technique (technique_id, sub_technique_id, tactic, created_at),
    -- Serves: CountTagsBefore and DeleteTagsBeforeBatch (retention walks the
    -- oldest tags first).
    INDEX ttp_tag_created (created_at),
    CONSTRAINT ttp_tag_attacker_fk FOREIGN KEY (attacker_uuid)
        REFERENCES attackers (uuid) ON DELETE CASCADE,
    CONSTRAINT ttp_tag_identity_fk FOREIGN KEY (identity_uuid)
        REFERENCES attacker_identities (uuid) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 /*M! COLLATE = utf8mb4_nopad_bin */;

-- Fleet-wide technique counts, kept exact by the triggers below so that
-- ListDistinctTechniques reads a few hundred rows instead of the tag table.
-- '' stands for "no sub-technique": a primary key column cannot be NULL.
CREATE TABLE ttp_technique_stats (
    technique_id     VARCHAR(16) NOT NULL,
    sub_technique_id VARCHAR(16) NOT NULL,
    tactic           VARCHAR(16) NOT NULL,
    tag_count        BIGINT      NOT NULL,
    last_seen        DATETIME(6) NOT NULL,
    PRIMARY KEY (technique_id, sub_technique_id, tactic)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 /*M! COLLATE = utf8mb4_nopad_bin */;

-- +goose Down
DROP TABLE ttp_technique_stats;
DROP TABLE ttp_tag;
DROP TABLE attackers;
DROP TABLE attacker_identities;
DROP TABLE campaigns;
